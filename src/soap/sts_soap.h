/*
 * sts_soap.h - the WS-Trust SOAP face: the server loop main() calls.
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STS_SOAP_H
#define STS_SOAP_H

#include "sts_engine.h"
#include "sts_http.h"

/**
 * @brief Bind @cfg's listen address and serve until SIGTERM/SIGINT: the
 * WS-Trust face at /sts and, on the same port, the paths @face serves
 * (NULL: none), its handle() called with @engine as ctx.
 * Writes "listening on http://HOST:PORT" to the log once bound.
 * @return 0 after a clean shutdown, non-zero if the server could not start.
 */
int sts_soap_serve(sts_engine_t *engine, const sts_cfg_t *cfg, const sts_http_face_t *face);

#endif /* STS_SOAP_H */
