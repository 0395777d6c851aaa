/*
 * sts_vcache.c - a bounded, sharded cache of verified JWTs and SAML assertions.
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * See sts_vcache.h for the rule that keeps it honest. This file owns the
 * entries and their copies (sts_slots.c the slots and their locks); it
 * verifies nothing and logs nothing.
 */
#include "sts_vcache.h"

#include "sts_slots.h"

#include <stdlib.h>
#include <string.h>

/* Counters of the slot table. */
enum { VC_JWT_HITS, VC_JWT_MISSES, VC_SAML_HITS, VC_SAML_MISSES };

/* What an entry holds: nothing, a JWT's JSON, or a SAML assertion's facts. */
enum { VC_FREE, VC_JWT, VC_SAML };

typedef struct vc_entry {
    unsigned char digest[STS_VCACHE_DIGEST];
    int what;               /* VC_* */
    time_t expires;
    json_t *header;         /* VC_JWT: owned */
    json_t *claims;         /* VC_JWT: owned */
    sts_saml_info_t *info;  /* VC_SAML: owned */
    int saml_kind;          /* VC_SAML: STS_KIND_SAML2 or STS_KIND_SAML11 */
} vc_entry_t;

struct sts_vcache {
    sts_slots_t *slots; /* of vc_entry_t, by digest (uniform bytes) */
};

sts_vcache_t *sts_vcache_new(size_t capacity)
{
    sts_vcache_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->slots = sts_slots_new(capacity, sizeof(vc_entry_t));
    if (c->slots == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

static void entry_clear(void *entry)
{
    vc_entry_t *e = entry;

    json_decref(e->header);
    json_decref(e->claims);
    sts_saml_info_free(e->info);
    memset(e, 0, sizeof(*e));
}

static int entry_used(const void *entry) { return ((const vc_entry_t *)entry)->what != VC_FREE; }

void sts_vcache_free(sts_vcache_t *c)
{
    if (c == NULL)
        return;
    sts_slots_free(c->slots, entry_clear);
    free(c);
}

/*
 * Lock the slot of @digest. When it holds @digest as @what, not expired at
 * @now, returns it (still locked: the caller copies out and unlocks). An
 * expired match is dropped with its token. Otherwise returns NULL with *@slot
 * locked all the same.
 */
static vc_entry_t *lookup(sts_vcache_t *c, const unsigned char *digest, int what, time_t now,
                          vc_entry_t **slot)
{
    vc_entry_t *e = sts_slots_lock(c->slots, digest);

    *slot = e;
    if (e->what != what || memcmp(e->digest, digest, STS_VCACHE_DIGEST) != 0)
        return NULL;
    if (now >= e->expires) {
        /* Expired with its token; what it held is freed here, under the lock:
         * rare (once per token), and the entry must not be seen half-cleared. */
        entry_clear(e);
        return NULL;
    }
    return e;
}

/* Store a new entry into the slot of @n's digest; what it replaces is freed
 * outside the lock. Takes ownership of @n's pointers. */
static void store(sts_vcache_t *c, const vc_entry_t *n)
{
    vc_entry_t *e = sts_slots_lock(c->slots, n->digest), old = *e;

    *e = *n;
    sts_slots_unlock(c->slots, e, -1);
    entry_clear(&old);
}

int sts_vcache_get(sts_vcache_t *c, const unsigned char digest[STS_VCACHE_DIGEST], time_t now,
                   json_t **header, json_t **claims)
{
    vc_entry_t *slot, *e;
    json_t *h = NULL, *cl = NULL;

    if (c == NULL)
        return 0;
    e = lookup(c, digest, VC_JWT, now, &slot);
    if (e != NULL) {
        /* Copies: the caller may keep and change them; ours stay as verified. */
        h = json_deep_copy(e->header);
        cl = json_deep_copy(e->claims);
    }
    sts_slots_unlock(c->slots, slot, h != NULL && cl != NULL ? VC_JWT_HITS : VC_JWT_MISSES);
    if (h == NULL || cl == NULL) {
        json_decref(h);
        json_decref(cl);
        return 0;
    }
    *header = h;
    *claims = cl;
    return 1;
}

void sts_vcache_put(sts_vcache_t *c, const unsigned char digest[STS_VCACHE_DIGEST],
                    const json_t *header, const json_t *claims, time_t expires, time_t now)
{
    vc_entry_t n = {.what = VC_JWT, .expires = expires};

    if (c == NULL || expires <= now)
        return;
    memcpy(n.digest, digest, STS_VCACHE_DIGEST);
    n.header = json_deep_copy(header);
    n.claims = json_deep_copy(claims);
    if (n.header == NULL || n.claims == NULL) {
        entry_clear(&n);
        return;
    }
    store(c, &n);
}

/* A copy of the string array @a of @n entries into *@out; 0 or -1. */
static int strings_dup(char *const *a, size_t n, char ***out)
{
    *out = NULL;
    if (n == 0)
        return 0;
    if ((*out = calloc(n, sizeof(char *))) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (((*out)[i] = strdup(a[i])) == NULL)
            return -1;
    return 0;
}

/* A deep copy of @in; NULL on allocation failure. */
static sts_saml_info_t *info_dup(const sts_saml_info_t *in)
{
    sts_saml_info_t *o = calloc(1, sizeof(*o));
    int bad;

    if (o == NULL)
        return NULL;
    *o = *in;
    o->id = o->issuer = o->subject = NULL;
    o->audiences = o->delegates = NULL;
    o->naudiences = o->ndelegates = 0;
    bad = in->id == NULL || in->issuer == NULL || in->subject == NULL; /* never: required */
    bad = bad || (o->id = strdup(in->id)) == NULL || (o->issuer = strdup(in->issuer)) == NULL ||
          (o->subject = strdup(in->subject)) == NULL;
    /* counts set first: a partial array is freed whole (calloc'd, NULLs) */
    if (!bad) {
        o->naudiences = in->naudiences;
        bad = strings_dup(in->audiences, in->naudiences, &o->audiences) != 0;
        if (o->audiences == NULL)
            o->naudiences = 0;
    }
    if (!bad) {
        o->ndelegates = in->ndelegates;
        bad = strings_dup(in->delegates, in->ndelegates, &o->delegates) != 0;
        if (o->delegates == NULL)
            o->ndelegates = 0;
    }
    if (bad) {
        sts_saml_info_free(o);
        return NULL;
    }
    return o;
}

int sts_vcache_get_saml(sts_vcache_t *c, const unsigned char digest[STS_VCACHE_DIGEST],
                        time_t now, int *kind, sts_saml_info_t **info)
{
    vc_entry_t *slot, *e;
    sts_saml_info_t *copy = NULL;
    int k = 0;

    if (c == NULL)
        return 0;
    e = lookup(c, digest, VC_SAML, now, &slot);
    if (e != NULL) {
        copy = info_dup(e->info); /* the caller's to keep; ours stays as verified */
        k = e->saml_kind;
    }
    sts_slots_unlock(c->slots, slot, copy != NULL ? VC_SAML_HITS : VC_SAML_MISSES);
    if (copy == NULL)
        return 0;
    *kind = k;
    *info = copy;
    return 1;
}

void sts_vcache_put_saml(sts_vcache_t *c, const unsigned char digest[STS_VCACHE_DIGEST],
                         int kind, const sts_saml_info_t *info, time_t now)
{
    vc_entry_t n = {.what = VC_SAML, .saml_kind = kind};

    if (c == NULL || info == NULL || info->not_on_or_after <= now)
        return;
    memcpy(n.digest, digest, STS_VCACHE_DIGEST);
    n.expires = info->not_on_or_after;
    if ((n.info = info_dup(info)) == NULL)
        return;
    store(c, &n);
}

void sts_vcache_stats(sts_vcache_t *c, sts_vcache_stats_t *out)
{
    unsigned long counts[STS_SLOTS_COUNTERS];

    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return;
    sts_slots_stats(c->slots, entry_used, counts, &out->entries);
    out->hits = counts[VC_JWT_HITS];
    out->misses = counts[VC_JWT_MISSES];
    out->saml_hits = counts[VC_SAML_HITS];
    out->saml_misses = counts[VC_SAML_MISSES];
}
