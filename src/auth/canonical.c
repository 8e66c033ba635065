/*
 * The SigV4 building blocks: the canonical request, the signing key (and
 * its cache), the string to sign and the chained signatures of streaming
 * bodies.  The canonical request is six lines joined by '\n':
 *
 *     METHOD
 *     canonical URI       the path, decoded once and UriEncoded keeping '/'
 *     canonical query     name=value pairs, each side decoded then
 *                         UriEncoded, sorted by name then value, '&'-joined;
 *                         a parameter without '=' becomes "name="
 *     canonical headers   "name:value\n" per signed header, values trimmed
 *                         with inner runs of blanks collapsed
 *     signed headers      the ';'-list from the request
 *     hashed payload      x-amz-content-sha256, UNSIGNED-PAYLOAD or (KMS)
 *                         the SHA-256 of the body
 *
 * The string to sign is "AWS4-HMAC-SHA256\n" DATE "\n" SCOPE "\n" and the
 * hex SHA-256 of the canonical request; the signature is its HMAC under
 *
 *     kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, yyyymmdd), region),
 *                          service), "aws4_request")
 *
 * which depends on nothing else, so it is cached per (secret, scope).
 * Streaming chunks and trailers chain: each signs the previous signature
 * and the SHA-256 of its own bytes.
 */
#include "auth/auth_int.h"
#include "crypto/crypto.h"
#include "util/codec.h"
#include "util/err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- canonical request ---- */

/*
 * Append the canonical URI; see auth_int.h.  An empty path is "/".
 */
int
sigv4_canonical_uri(struct buf *b, const char *raw_path, bool reencode)
{
    size_t n = strlen(raw_path), m;
    char *tmp;

    if (n == 0) {
        buf_putc(b, '/');
        return 0;
    }
    if (!reencode) {
        buf_puts(b, raw_path);
        return 0;
    }

    tmp = malloc(n + 1);
    if (tmp == NULL)
        return CERR_NOMEM;
    if (uri_decode(raw_path, n, tmp, &m) != 0) {
        free(tmp);
        return CERR_INVALID_ARGUMENT;
    }
    uri_encode(b, tmp, m, true);
    free(tmp);
    return 0;
}

/*
 * Append the decode-then-encode form of `len` bytes of query text.  Text
 * that does not decode (a stray '%') is encoded as it stands.
 */
static int
put_query_part(struct buf *b, const char *s, size_t len)
{
    char *tmp = malloc(len + 1);
    size_t m;

    if (tmp == NULL)
        return CERR_NOMEM;
    if (uri_decode(s, len, tmp, &m) == 0)
        uri_encode(b, tmp, m, false);
    else
        uri_encode(b, s, len, false);
    free(tmp);
    return 0;
}

struct qpair {
    const char *name;
    const char *value;
};

static int
qpair_cmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c != 0 ? c : strcmp(x->value, y->value);
}

/* True when raw query item text names X-Amz-Signature. */
static bool
is_signature_param(const char *s, size_t len)
{
    char dec[32];
    size_t m;

    if (len >= sizeof(dec) || uri_decode(s, len, dec, &m) != 0)
        return false;
    return strcmp(dec, "X-Amz-Signature") == 0;
}

/*
 * Encode every item of the raw query into `tmp` as "name\0value\0",
 * recording offsets; returns the number of pairs or a negative code.
 */
static int
split_query(struct buf *tmp, const char *q, bool skip_signature,
            size_t *offs, size_t max)
{
    int n = 0;

    while (*q != '\0') {
        const char *end = strchr(q, '&'), *eq;
        size_t len = end ? (size_t)(end - q) : strlen(q), nlen;

        eq = memchr(q, '=', len);
        nlen = eq ? (size_t)(eq - q) : len;
        if (len > 0 && !(skip_signature && is_signature_param(q, nlen))) {
            if ((size_t)n >= max)
                return CERR_INTERNAL;
            offs[2 * n] = tmp->len;
            if (put_query_part(tmp, q, nlen) != 0)
                return CERR_NOMEM;
            buf_append(tmp, "", 1);
            offs[2 * n + 1] = tmp->len;
            if (eq && put_query_part(tmp, eq + 1, len - nlen - 1) != 0)
                return CERR_NOMEM;
            buf_append(tmp, "", 1);
            n++;
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return buf_failed(tmp) ? CERR_NOMEM : n;
}

/* Append the canonical query string; see auth_int.h. */
int
sigv4_canonical_query(struct buf *b, const char *raw_query,
                      bool skip_signature)
{
    struct buf tmp = BUF_INIT;
    struct qpair *pairs = NULL;
    size_t *offs = NULL, max = 1;
    const char *p;
    int n, i, rc = CERR_NOMEM;

    for (p = raw_query; *p; p++)
        max += *p == '&';
    offs = calloc(2 * max, sizeof(*offs));
    pairs = calloc(max, sizeof(*pairs));
    if (offs == NULL || pairs == NULL)
        goto out;

    n = split_query(&tmp, raw_query, skip_signature, offs, max);
    if (n < 0) {
        rc = n;
        goto out;
    }
    for (i = 0; i < n; i++) {
        pairs[i].name = tmp.data + offs[2 * i];
        pairs[i].value = tmp.data + offs[2 * i + 1];
    }
    qsort(pairs, (size_t)n, sizeof(*pairs), qpair_cmp);

    for (i = 0; i < n; i++) {
        if (i > 0)
            buf_putc(b, '&');
        buf_puts(b, pairs[i].name);
        buf_putc(b, '=');
        buf_puts(b, pairs[i].value);
    }
    rc = buf_failed(b) ? CERR_NOMEM : 0;
out:
    free(pairs);
    free(offs);
    buf_free(&tmp);
    return rc;
}

/* Append a header value trimmed, with runs of blanks collapsed to one. */
static void
put_trimmed(struct buf *b, const char *v)
{
    bool blank = false, started = false;

    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            blank = started;
            continue;
        }
        if (blank)
            buf_putc(b, ' ');
        buf_putc(b, *v);
        blank = false;
        started = true;
    }
}

/* Append the canonical header lines; see auth_int.h. */
int
sigv4_canonical_headers(struct buf *b, const struct headers *h,
                        const char *signed_headers)
{
    const char *p = signed_headers;

    if (*p == '\0')
        return CERR_AUTH_HEADER_MALFORMED;
    while (*p != '\0') {
        const char *end = strchr(p, ';'), *v;
        size_t n = end ? (size_t)(end - p) : strlen(p), i;
        char name[128];

        if (n == 0 || n >= sizeof(name))
            return CERR_AUTH_HEADER_MALFORMED;
        for (i = 0; i < n; i++)
            name[i] = (char)tolower((unsigned char)p[i]);
        name[n] = '\0';

        /*
         * XXX: a repeated field arrives already joined, so blanks around
         * its inner values are kept; a client that signs such a field
         * gets SignatureDoesNotMatch.
         */
        v = headers_get(h, name);
        if (v == NULL)
            return CERR_SIGNATURE_MISMATCH;
        buf_puts(b, name);
        buf_putc(b, ':');
        put_trimmed(b, v);
        buf_putc(b, '\n');
        p += n + (end != NULL);
    }
    return buf_failed(b) ? CERR_NOMEM : 0;
}

/* Build the canonical request into b; see auth_int.h. */
int
sigv4_canonical_request(struct buf *b, const char *method,
                        const char *raw_path, bool reencode,
                        const char *raw_query, bool skip_signature,
                        const struct headers *h,
                        const char *signed_headers,
                        const char *payload_hash)
{
    int rc;

    buf_reset(b);
    buf_puts(b, method);
    buf_putc(b, '\n');
    rc = sigv4_canonical_uri(b, raw_path, reencode);
    if (rc != 0)
        return rc;
    buf_putc(b, '\n');

    rc = sigv4_canonical_query(b, raw_query, skip_signature);
    if (rc != 0)
        return rc;
    buf_putc(b, '\n');
    rc = sigv4_canonical_headers(b, h, signed_headers);
    if (rc != 0)
        return rc;

    buf_putc(b, '\n');
    buf_puts(b, signed_headers);
    buf_putc(b, '\n');
    buf_puts(b, payload_hash);
    return buf_failed(b) ? CERR_NOMEM : 0;
}

/* ---- keys and signatures ---- */

/* kSigning = HMAC chain over date, region, service, "aws4_request". */
void
sigv4_derive_key(const char *secret, const char *date, const char *region,
                 const char *service, uint8_t out[32])
{
    char k0[4 + 128 + 1];
    uint8_t k[32];

    snprintf(k0, sizeof(k0), "AWS4%s", secret);
    crypto_hmac_sha256(k0, strlen(k0), date, strlen(date), k);
    crypto_hmac_sha256(k, 32, region, strlen(region), k);
    crypto_hmac_sha256(k, 32, service, strlen(service), k);
    crypto_hmac_sha256(k, 32, "aws4_request", 12, out);
    crypto_wipe(k0, sizeof(k0));
    crypto_wipe(k, sizeof(k));
}

static bool
slot_matches(const struct key_cache_slot *s, const uint8_t sh[32],
             const char *date, const char *region, const char *service)
{
    return s->used && memcmp(s->secret_hash, sh, 32) == 0 &&
           strcmp(s->date, date) == 0 && strcmp(s->region, region) == 0 &&
           strcmp(s->service, service) == 0;
}

/*
 * The signing key through the store's cache, keyed by the secret's
 * SHA-256 (never the secret itself) and the scope.
 */
void
sigv4_signing_key(struct auth_creds *c, const char *secret,
                  const char *date, const char *region,
                  const char *service, uint8_t out[32])
{
    struct key_cache_slot *s;
    uint8_t sh[32];
    int i;

    if (c == NULL || strlen(date) != 8 || strlen(region) >= 32 ||
        strlen(service) >= 16) {
        sigv4_derive_key(secret, date, region, service, out);
        return;
    }
    crypto_sha256(secret, strlen(secret), sh);

    pthread_mutex_lock(&c->lock);
    for (i = 0; i < AUTH_KEY_CACHE_SLOTS; i++) {
        if (slot_matches(&c->cache[i], sh, date, region, service)) {
            memcpy(out, c->cache[i].key, 32);
            pthread_mutex_unlock(&c->lock);
            return;
        }
    }
    pthread_mutex_unlock(&c->lock);

    sigv4_derive_key(secret, date, region, service, out);
    pthread_mutex_lock(&c->lock);
    s = &c->cache[c->next_slot++ % AUTH_KEY_CACHE_SLOTS];
    s->used = true;
    memcpy(s->secret_hash, sh, 32);
    memcpy(s->date, date, 9);
    snprintf(s->region, sizeof(s->region), "%s", region);
    snprintf(s->service, sizeof(s->service), "%s", service);
    memcpy(s->key, out, 32);
    pthread_mutex_unlock(&c->lock);
}

/* The string to sign for a canonical request. */
void
sigv4_string_to_sign(const char *amz_date, const char *scope,
                     const char *creq, size_t creqlen, char *out,
                     size_t cap)
{
    uint8_t h[32];
    char hex[65];

    crypto_sha256(creq, creqlen, h);
    hex_encode(h, 32, hex);
    snprintf(out, cap, "%s\n%s\n%s\n%s", SIGV4_ALGORITHM, amz_date, scope, hex);
}

/* Hex HMAC-SHA256 of a text under a signing key. */
void
sigv4_hmac_hex(const uint8_t key[32], const char *text, size_t len,
               char out[65])
{
    uint8_t mac[32];

    crypto_hmac_sha256(key, 32, text, len, mac);
    hex_encode(mac, 32, out);
}

/* A chunk or trailer signature, chained from the previous one. */
void
sigv4_chain_signature(const uint8_t key[32], const char *kind,
                      const char *amz_date, const char *scope,
                      const char *prev, const uint8_t hash[32],
                      char out[65])
{
    char sts[512], hex[65];
    int n;

    hex_encode(hash, 32, hex);
    if (strcmp(kind, "PAYLOAD") == 0)
        n = snprintf(sts, sizeof(sts), "%s-PAYLOAD\n%s\n%s\n%s\n%s\n%s",
                     SIGV4_ALGORITHM, amz_date, scope, prev,
                     SIGV4_EMPTY_SHA256, hex);
    else
        n = snprintf(sts, sizeof(sts), "%s-%s\n%s\n%s\n%s\n%s",
                     SIGV4_ALGORITHM, kind, amz_date, scope, prev, hex);
    sigv4_hmac_hex(key, sts, (size_t)n, out);
}
