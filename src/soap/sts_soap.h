/*
 * sts_soap.h - the WS-Trust SOAP face: the server loop main() calls.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STS_SOAP_H
#define STS_SOAP_H

#include "sts_engine.h"

/**
 * @brief Bind @cfg's listen address and serve until SIGTERM/SIGINT.
 * Writes "listening on http://HOST:PORT" to the log once bound.
 * @return 0 after a clean shutdown, non-zero if the server could not start.
 */
int sts_soap_serve(sts_engine_t *engine, const sts_cfg_t *cfg);

#endif /* STS_SOAP_H */
