/*
 * sts_soap_poller.c - client connections between requests: accept, park, wake, expire.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * gSOAP's I/O blocks: a worker that waits on a connection for its next
 * request is lost to every other client until the bytes come or the timeout
 * ends the wait, so a few idle keep-alive clients could stall the whole pool.
 * Here one thread (the server's main thread) owns every connection while no
 * worker holds it: it accepts, keeps the connections that wait for a request
 * (new ones, and keep-alive ones between two requests) in an epoll set, and
 * queues those that become readable (or hang up) for the workers. A worker
 * serves one request and parks the connection again (sts_poller_park()) or
 * ends it (sts_poller_drop()). An idle connection costs a descriptor and one
 * sts_conn_t, never a worker. The poller also applies server.max_connections
 * and the idle timeouts (recv_timeout for a connection that has not sent a
 * request yet, keep_alive_timeout between requests).
 *
 * It speaks no HTTP and knows nothing of gSOAP: a TLS connection's SSL object
 * travels with its record untouched, except that an idle one the poller
 * closes is shut down here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4() */
#endif
#include "sts_soap_int.h"

#include "sts_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POLL_BATCH 64        /* epoll events taken per wake */
#define ACCEPT_BATCH 64      /* connections accepted per wake of the listener */
#define ACCEPT_PAUSE_MS 100  /* out of descriptors: listen again after this */
#define POLL_MAX_WAIT_MS 1000
#define FDS_OWN_USE 64       /* descriptors the process needs besides its clients */

/* A worker waiting for a connection. */
typedef struct waiter {
    pthread_cond_t cond;
    sts_conn_t *conn;    /* handed over by the poller (lock) */
    struct waiter *next; /* in the stack of idle workers */
} waiter_t;

struct sts_poller {
    pthread_mutex_t lock;
    waiter_t *waiters;         /* one per worker */
    size_t nwaiters;
    waiter_t *idle;            /* idle workers, the last one to become idle on top (lock) */
    int epfd;
    int listen_fd;
    int listen_tag;            /* its address marks the listener's events */
    sts_conn_t *conns;         /* every open connection (lock) */
    size_t nconns;             /* (lock) */
    size_t max_conns;          /* server.max_connections */
    sts_conn_t **queue;        /* readable connections for the workers: a ring of max_conns */
    size_t qhead, qcount;      /* (lock) */
    int stopping;              /* (lock) */
    long long recv_timeout_ms; /* a connection that has not sent a request yet */
    long long keep_alive_ms;   /* between two requests */
    int recv_timeout;          /* seconds, for the log */
    int keep_alive_timeout;
    int tls;                   /* every connection starts with a TLS handshake */
    unsigned long refused;     /* connections refused in this burst (poller thread) */
    long long accept_paused_until; /* monotonic ms; 0: accepting (poller thread) */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *sts_soap_peer_name(int fd, char *buf, size_t len)
{
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (getpeername(fd, (struct sockaddr *)&sa, &salen) == 0) {
        if (sa.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&sa;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
        } else if (sa.ss_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&sa;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
        }
    }
    snprintf(buf, len, "%s%s%s:%d", strchr(host, ':') ? "[" : "", host,
             strchr(host, ':') ? "]" : "", port);
    return buf;
}

/* ---- the list of connections (callers hold the lock) ----------------------- */

static void conn_link(sts_poller_t *p, sts_conn_t *c)
{
    c->prev = NULL;
    c->next = p->conns;
    if (p->conns != NULL)
        p->conns->prev = c;
    p->conns = c;
    p->nconns++;
}

static void conn_unlink(sts_poller_t *p, sts_conn_t *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    p->nconns--;
}

/* Ends a connection no worker holds: a TLS one gets a close_notify if the
 * socket takes it at once (never a wait), then the record is freed. */
static void conn_close(sts_conn_t *c)
{
    if (c->ssl != NULL) {
        int fl = fcntl(c->fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
        (void)SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    close(c->fd);
    free(c);
}

/* Waits for @c to become readable (or to hang up), once: EPOLLONESHOT, so that
 * exactly one worker gets it. Returns 0 or -1 (errno). */
static int conn_arm(sts_poller_t *p, sts_conn_t *c, int op)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.ptr = c;
    return epoll_ctl(p->epfd, op, c->fd, &ev);
}

/* Parks @c (lock held): idle from now, until the timeout of its state. */
static void conn_set_parked(sts_poller_t *p, sts_conn_t *c)
{
    c->parked = 1;
    c->idle_until = now_ms() + (c->served ? p->keep_alive_ms : p->recv_timeout_ms);
}

/* ---- accepting -------------------------------------------------------------- */

/* A connection over server.max_connections: closed at once, no byte sent
 * (an answer would cost a TLS handshake); logged once per burst. */
static void refuse_conn(sts_poller_t *p, int fd)
{
    close(fd);
    if (p->refused++ == 0)
        sts_warn("server.max_connections (%zu) reached: closing new connections until "
                 "some end",
                 p->max_conns);
}

static void admit(sts_poller_t *p, int fd)
{
    sts_conn_t *c;
    int one = 1, full;

    pthread_mutex_lock(&p->lock);
    full = p->nconns >= p->max_conns;
    pthread_mutex_unlock(&p->lock);
    if (full) {
        refuse_conn(p, fd);
        return;
    }
    if (p->refused > 0) {
        sts_notice("accepting connections again (%lu refused at server.max_connections)",
                   p->refused);
        p->refused = 0;
    }
    /* what soap_accept() would set: no Nagle delay, TCP keep-alive probes */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        sts_warn("out of memory: closing a new connection");
        close(fd);
        return;
    }
    c->fd = fd;
    pthread_mutex_lock(&p->lock);
    conn_link(p, c);
    conn_set_parked(p, c);
    pthread_mutex_unlock(&p->lock);
    if (conn_arm(p, c, EPOLL_CTL_ADD) != 0) {
        sts_warn("epoll_ctl: %s: closing a new connection", strerror(errno));
        pthread_mutex_lock(&p->lock);
        conn_unlink(p, c);
        pthread_mutex_unlock(&p->lock);
        conn_close(c);
    }
}

static void listen_enable(sts_poller_t *p, int on)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = on ? EPOLLIN : 0;
    ev.data.ptr = &p->listen_tag;
    (void)epoll_ctl(p->epfd, EPOLL_CTL_MOD, p->listen_fd, &ev);
}

static void accept_ready(sts_poller_t *p)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            admit(p, fd);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        /* EMFILE, ENFILE, ENOBUFS, ENOMEM: the pending connection stays in the
         * backlog and the listener stays readable; stop listening for a moment
         * rather than spin on it. */
        if (p->accept_paused_until == 0)
            sts_warn("accept: %s: not accepting for %d ms", strerror(errno), ACCEPT_PAUSE_MS);
        p->accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
        listen_enable(p, 0);
        return;
    }
}

/* ---- readable connections, idle timeouts ------------------------------------ */

/* A readable connection goes to the worker that became idle last (LIFO):
 * under light load the same few workers serve everything, keep their memory
 * warm and the rest never touch theirs (each worker has its own body buffer
 * and malloc arena), so the server's memory follows the load, not the pool
 * size. With no worker idle it waits in the queue. */
static void conn_ready(sts_poller_t *p, sts_conn_t *c)
{
    waiter_t *w;

    pthread_mutex_lock(&p->lock);
    c->parked = 0;
    if ((w = p->idle) != NULL) {
        p->idle = w->next;
        w->conn = c;
        pthread_cond_signal(&w->cond);
    } else {
        p->queue[(p->qhead + p->qcount) % p->max_conns] = c; /* never full: one slot each */
        p->qcount++;
    }
    pthread_mutex_unlock(&p->lock);
}

static void log_expired(const sts_poller_t *p, const sts_conn_t *c)
{
    char peer[INET6_ADDRSTRLEN + 16];

    sts_soap_peer_name(c->fd, peer, sizeof(peer));
    if (c->served)
        sts_debug("idle keep-alive connection from %s closed (server.keep_alive_timeout, %d s)",
                  peer, p->keep_alive_timeout);
    else if (p->tls && c->ssl == NULL)
        sts_info("TLS handshake with %s failed: no handshake within server.recv_timeout (%d s)",
                 peer, p->recv_timeout);
    else
        sts_info("connection from %s closed: no request within server.recv_timeout (%d s)", peer,
                 p->recv_timeout);
}

/* Closes the parked connections whose idle time is over. Returns the
 * milliseconds until the next one is due (at most POLL_MAX_WAIT_MS). Runs in
 * the poller thread after the events of a wake were handled, so no event of
 * a connection it closes is still to be handled. */
static int expire_idle(sts_poller_t *p)
{
    sts_conn_t *c, *next, *done = NULL;
    long long now = now_ms(), wait = POLL_MAX_WAIT_MS;

    pthread_mutex_lock(&p->lock);
    for (c = p->conns; c != NULL; c = next) {
        next = c->next;
        if (!c->parked)
            continue;
        if (c->idle_until <= now) {
            conn_unlink(p, c);
            c->next = done;
            done = c;
        } else if (c->idle_until - now < wait) {
            wait = c->idle_until - now;
        }
    }
    pthread_mutex_unlock(&p->lock);
    for (c = done; c != NULL; c = next) {
        next = c->next;
        log_expired(p, c);
        conn_close(c);
    }
    return (int)wait;
}

/* ---- the descriptor limit ----------------------------------------------------- */

/* max_connections client sockets plus the process's own descriptors: raise
 * the soft RLIMIT_NOFILE that far when the hard limit allows, else warn. */
static void fd_limit_check(size_t max_conns, int workers)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)max_conns + (rlim_t)workers + FDS_OWN_USE;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
        rl.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            return;
    }
    sts_warn("server.max_connections (%zu) needs about %llu open files, the limit is %llu: "
             "connections beyond it fail to be accepted (raise ulimit -n)",
             max_conns, (unsigned long long)need, (unsigned long long)rl.rlim_cur);
}

/* ---- API ---------------------------------------------------------------------- */

sts_poller_t *sts_poller_new(int listen_fd, const sts_cfg_t *cfg, int tls)
{
    sts_poller_t *p = calloc(1, sizeof(*p));
    struct epoll_event ev;
    int fl;

    if (p == NULL)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    p->epfd = -1;
    p->nwaiters = (size_t)cfg->workers;
    if ((p->waiters = calloc(p->nwaiters, sizeof(*p->waiters))) == NULL) {
        sts_poller_free(p);
        return NULL;
    }
    for (size_t i = 0; i < p->nwaiters; i++)
        pthread_cond_init(&p->waiters[i].cond, NULL);
    p->listen_fd = listen_fd;
    p->max_conns = (size_t)cfg->max_connections;
    p->recv_timeout = cfg->recv_timeout;
    p->keep_alive_timeout = cfg->keep_alive_timeout;
    p->recv_timeout_ms = 1000LL * cfg->recv_timeout;
    p->keep_alive_ms = 1000LL * cfg->keep_alive_timeout;
    p->tls = tls;
    p->queue = calloc(p->max_conns, sizeof(*p->queue));
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = &p->listen_tag;
    /* non-blocking, so that a connection that vanished between the wake and
     * accept() does not block the poller */
    fl = fcntl(listen_fd, F_GETFL);
    if (p->queue == NULL || p->epfd < 0 || fl < 0 ||
        fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        epoll_ctl(p->epfd, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
        sts_error("cannot set up the connection poller: %s", strerror(errno));
        sts_poller_free(p);
        return NULL;
    }
    fd_limit_check(p->max_conns, cfg->workers);
    return p;
}

int sts_poller_run(sts_poller_t *p, volatile sig_atomic_t *stop)
{
    struct epoll_event ev[POLL_BATCH];
    int wait = POLL_MAX_WAIT_MS;

    while (!*stop) {
        int n = epoll_wait(p->epfd, ev, POLL_BATCH, wait);
        if (n < 0 && errno != EINTR) {
            sts_error("epoll_wait: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == &p->listen_tag)
                accept_ready(p);
            else
                conn_ready(p, ev[i].data.ptr);
        }
        if (p->accept_paused_until != 0 && now_ms() >= p->accept_paused_until) {
            p->accept_paused_until = 0;
            listen_enable(p, 1);
        }
        wait = expire_idle(p);
        if (p->accept_paused_until != 0 && wait > ACCEPT_PAUSE_MS)
            wait = ACCEPT_PAUSE_MS;
    }
    return 0;
}

sts_conn_t *sts_poller_next(sts_poller_t *p, int worker)
{
    waiter_t *w = &p->waiters[worker];
    sts_conn_t *c = NULL;

    pthread_mutex_lock(&p->lock);
    if (p->qcount > 0 && !p->stopping) {
        c = p->queue[p->qhead];
        p->qhead = (p->qhead + 1) % p->max_conns;
        p->qcount--;
    } else {
        w->conn = NULL;
        w->next = p->idle;
        p->idle = w;
        while (w->conn == NULL && !p->stopping)
            pthread_cond_wait(&w->cond, &p->lock);
        /* stopping: a connection handed over meanwhile is closed by sts_poller_free() */
        c = p->stopping ? NULL : w->conn;
    }
    pthread_mutex_unlock(&p->lock);
    return c;
}

size_t sts_poller_backlog(sts_poller_t *p)
{
    size_t n;

    pthread_mutex_lock(&p->lock);
    n = p->qcount;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void sts_poller_park(sts_poller_t *p, sts_conn_t *c)
{
    pthread_mutex_lock(&p->lock);
    conn_set_parked(p, c); /* before arming: the poller may take its event at once */
    pthread_mutex_unlock(&p->lock);
    if (conn_arm(p, c, EPOLL_CTL_MOD) == 0)
        return;
    sts_warn("epoll_ctl: %s: closing a keep-alive connection", strerror(errno));
    pthread_mutex_lock(&p->lock);
    conn_unlink(p, c);
    pthread_mutex_unlock(&p->lock);
    conn_close(c);
}

void sts_poller_drop(sts_poller_t *p, sts_conn_t *c)
{
    pthread_mutex_lock(&p->lock);
    conn_unlink(p, c);
    pthread_mutex_unlock(&p->lock);
    free(c);
}

void sts_poller_stop(sts_poller_t *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    /* Workers may be reading from their connections: end those reads now
     * (answers being written still go out) instead of waiting for the
     * clients. Parked and queued connections are closed by sts_poller_free(). */
    for (sts_conn_t *c = p->conns; c != NULL; c = c->next)
        if (!c->parked)
            shutdown(c->fd, SHUT_RD);
    for (size_t i = 0; i < p->nwaiters; i++)
        pthread_cond_signal(&p->waiters[i].cond);
    pthread_mutex_unlock(&p->lock);
}

void sts_poller_free(sts_poller_t *p)
{
    sts_conn_t *c, *next;

    if (p == NULL)
        return;
    for (c = p->conns; c != NULL; c = next) {
        next = c->next;
        conn_close(c);
    }
    if (p->epfd >= 0)
        close(p->epfd);
    free(p->queue);
    for (size_t i = 0; p->waiters != NULL && i < p->nwaiters; i++)
        pthread_cond_destroy(&p->waiters[i].cond);
    free(p->waiters);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
