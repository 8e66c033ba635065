/*
 * The request body pipeline: raw bytes in, decoded bytes out to the
 * caller's sink, every integrity claim of the request checked on the way.
 *
 *     raw --> aws-chunked decoder (x-amz-content-sha256 STREAMING-*)
 *              |  chunk signatures chained from the request's signature
 *              v
 *           decoded --> SHA-256 (hex x-amz-content-sha256)
 *                   --> MD5 (Content-MD5, or asked for the ETag)
 *                   --> the one x-amz-checksum-* (header or trailer)
 *                   --> sink
 *
 * Header-level checks happen in auth_body_new, before any body is read;
 * chunk signatures fail at the chunk's end; everything else at finish.
 * At most one x-amz-checksum-* may be sent (header or trailer), as S3
 * requires, so the signed trailer holds at most that one line and the
 * signature line.
 */
#include "auth/auth_int.h"
#include "crypto/crypto.h"
#include "util/codec.h"
#include "util/err.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct auth_body {
    bool chunked;
    bool signed_chunks;
    bool signed_trailer;
    bool trailer_allowed;
    struct chunked dec;
    int err;                    /* sticky failure */
    bool finished;

    /* Chunk signatures. */
    uint8_t key[32];
    char amz_date[17];
    char scope[128];
    char prev_sig[65];
    char chunk_sig[65];
    struct crypto_hash *chunk_hash;

    /* The trailer, for its signature. */
    char trailer_line[CHUNKED_LINE_MAX + 2];
    char trailer_sig[65];
    bool have_trailer_sig;

    /* Digests of the decoded body. */
    struct crypto_hash *sha256;
    uint8_t want_sha256[32];
    struct crypto_hash *md5;
    bool md5_sent;
    bool md5_done;
    uint8_t want_md5[16];
    uint8_t md5_out[16];

    /* The one flexible checksum. */
    int ck_alg;                 /* -1 when none */
    bool ck_in_trailer;
    bool ck_sdk_named;          /* x-amz-sdk-checksum-algorithm asked */
    bool ck_have;
    char ck_value[AUTH_CHECKSUM_B64_MAX];
    struct auth_checksum *ck;

    uint64_t decoded;
    int64_t expected;

    int (*sink)(void *, const void *, size_t);
    void *sink_ctx;
    struct err_detail *d;
};

/*
 * Header value with leading and trailing blanks dropped, into out; a
 * value too long for out becomes "", which every caller refuses.  False
 * when the header is absent.
 */
static bool
header_trimmed(const struct headers *h, const char *name, char *out,
               size_t cap)
{
    const char *v = headers_get(h, name);
    size_t n;

    if (v == NULL)
        return false;
    while (*v == ' ' || *v == '\t')
        v++;
    n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= cap)
        n = 0;
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

/* Parse a decimal length; -1 when it is not one. */
static int64_t
parse_length(const char *s)
{
    int64_t v = 0;
    int i;

    for (i = 0; s[i]; i++) {
        if (!isdigit((unsigned char)s[i]) || i >= 18)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return i == 0 ? -1 : v;
}

/* True when `value` is base64 of exactly the algorithm's digest length. */
static bool
checksum_value_ok(int alg, const char *value)
{
    uint8_t raw[32];
    size_t n;

    return base64_decode(value, strlen(value), raw, sizeof(raw), &n) == 0 &&
           n == cksum_digest_len(alg);
}

/* Record the checksum a header or trailer announces; one at most. */
static int
claim_checksum(struct auth_body *b, int alg, bool trailer,
               struct err_detail *d)
{
    if (b->ck_alg >= 0)
        return err_set(d, CERR_INVALID_REQUEST, "Expecting a single "
                       "x-amz-checksum- header. Multiple checksum Types "
                       "are not allowed.");
    b->ck_alg = alg;
    b->ck_in_trailer = trailer;
    return 0;
}

/* The x-amz-checksum-* headers: at most one, of a known kind, well formed. */
static int
scan_checksum_headers(struct auth_body *b, const struct headers *h,
                      struct err_detail *d)
{
    size_t i;
    int alg, rc;

    for (i = 0; i < h->n; i++) {
        const char *name = h->v[i].name;

        if (strncmp(name, "x-amz-checksum-", 15) != 0 ||
            strcmp(name + 15, "algorithm") == 0 ||
            strcmp(name + 15, "mode") == 0 || strcmp(name + 15, "type") == 0)
            continue;
        alg = cksum_alg_by_header(name);
        /* XXX: no sha512, md5 or xxhash checksums; those get 400. */
        if (alg < 0)
            return err_set(d, CERR_INVALID_REQUEST, "The %s checksum is "
                           "not supported.", name + 15);
        rc = claim_checksum(b, alg, false, d);
        if (rc != 0)
            return rc;

        header_trimmed(h, name, b->ck_value, sizeof(b->ck_value));
        if (!checksum_value_ok(alg, b->ck_value))
            return err_set(d, CERR_INVALID_REQUEST, "Value for %s header "
                           "is invalid.", name);
        b->ck_have = true;
    }
    return 0;
}

/* x-amz-trailer: a ','-list naming the checksum the trailer will carry. */
static int
scan_trailer_header(struct auth_body *b, const struct headers *h,
                    struct err_detail *d)
{
    char list[512], *tok, *save = NULL, *p;
    int alg, rc;

    if (!header_trimmed(h, "x-amz-trailer", list, sizeof(list)))
        return 0;
    if (!b->trailer_allowed)
        return err_set(d, CERR_INVALID_REQUEST, "x-amz-trailer needs a "
                       "STREAMING-*-TRAILER x-amz-content-sha256.");

    for (tok = strtok_r(list, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        tok[strcspn(tok, " \t")] = '\0';
        for (p = tok; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (*tok == '\0')
            continue;
        alg = cksum_alg_by_header(tok);
        if (alg < 0)
            return err_set(d, CERR_INVALID_REQUEST, "The trailer %s is not "
                           "supported.", tok);
        rc = claim_checksum(b, alg, true, d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* x-amz-sdk-checksum-algorithm must name the checksum that was sent. */
static int
scan_sdk_algorithm(struct auth_body *b, const struct headers *h,
                   struct err_detail *d)
{
    char v[64];
    int alg;

    if (!header_trimmed(h, "x-amz-sdk-checksum-algorithm", v, sizeof(v)))
        return 0;
    alg = cksum_alg_by_name(v);
    /* XXX: no SHA512, MD5 or XXHASH algorithms; those get 400. */
    if (alg < 0)
        return err_set(d, CERR_INVALID_REQUEST, "Checksum algorithm %s is "
                       "not supported.", v);
    if (b->ck_alg < 0)
        return err_set(d, CERR_INVALID_REQUEST, "x-amz-sdk-checksum-"
                       "algorithm specified, but no corresponding "
                       "x-amz-checksum-* or x-amz-trailer headers were "
                       "found.");
    if (b->ck_alg != alg)
        return err_set(d, CERR_INVALID_REQUEST, "Value for "
                       "x-amz-sdk-checksum-algorithm header is invalid.");
    b->ck_sdk_named = true;
    return 0;
}

/* Content-MD5: base64 of 16 bytes. */
static int
scan_content_md5(struct auth_body *b, const struct headers *h,
                 struct err_detail *d)
{
    char v[64];
    size_t n;

    if (!header_trimmed(h, "content-md5", v, sizeof(v)))
        return 0;
    if (base64_decode(v, strlen(v), b->want_md5, sizeof(b->want_md5),
                      &n) != 0 || n != 16)
        return err_set(d, CERR_INVALID_DIGEST, "The Content-MD5 you "
                       "specified is not valid.");
    b->md5_sent = true;
    return 0;
}

/* The payload mode and its signing material. */
static int
setup_payload(struct auth_body *b, const struct headers *h,
              const struct sigv4_auth *a, struct err_detail *d)
{
    enum auth_payload kind = AUTH_PAYLOAD_UNSIGNED;
    const char *hash = NULL, *v;
    int rc;

    if (a != NULL) {
        kind = a->payload;
        hash = a->payload_hash;
    } else if ((v = headers_get(h, "x-amz-content-sha256")) != NULL) {
        rc = sigv4_payload_kind(v, &kind, d);
        if (rc != 0)
            return rc;
        hash = v;
    }

    b->chunked = kind != AUTH_PAYLOAD_HASHED &&
                 kind != AUTH_PAYLOAD_UNSIGNED;
    b->signed_chunks = kind == AUTH_PAYLOAD_STREAMING_SIGNED ||
                       kind == AUTH_PAYLOAD_STREAMING_SIGNED_TRAILER;
    b->signed_trailer = kind == AUTH_PAYLOAD_STREAMING_SIGNED_TRAILER;
    b->trailer_allowed = b->signed_trailer ||
                         kind == AUTH_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    if (b->signed_chunks && (a == NULL || a->anonymous))
        return err_set(d, CERR_MISSING_AUTH, "A signed streaming payload "
                       "needs a signed request.");
    if (b->signed_chunks) {
        memcpy(b->key, a->signing_key, sizeof(b->key));
        memcpy(b->amz_date, a->amz_date, sizeof(b->amz_date));
        memcpy(b->scope, a->scope, sizeof(b->scope));
        memcpy(b->prev_sig, a->signature, sizeof(b->prev_sig));
    }

    if (kind == AUTH_PAYLOAD_HASHED) {
        if (hash == NULL || hex_decode(hash, b->want_sha256, 32) != 0)
            return err_set(d, CERR_INVALID_ARGUMENT, "x-amz-content-sha256 "
                           "is not a valid sha256 value.");
        b->sha256 = crypto_hash_new(CRYPTO_HASH_SHA256);
        if (b->sha256 == NULL)
            return CERR_NOMEM;
    }
    return 0;
}

/* The decoded length the headers announce. */
static int
setup_length(struct auth_body *b, const struct headers *h,
             struct err_detail *d)
{
    char v[32];

    b->expected = -1;
    if (b->chunked) {
        if (!header_trimmed(h, "x-amz-decoded-content-length", v,
                            sizeof(v)))
            return 0;
        b->expected = parse_length(v);
        if (b->expected < 0)
            return err_set(d, CERR_INVALID_ARGUMENT, "x-amz-decoded-"
                           "content-length is not a valid length.");
        return 0;
    }
    if (header_trimmed(h, "content-length", v, sizeof(v)))
        b->expected = parse_length(v);
    return 0;
}

/* Check the body's headers and set up the pipeline; see auth.h. */
int
auth_body_new(const struct headers *h, const struct sigv4_auth *a,
              struct auth_body **out, struct err_detail *d)
{
    struct auth_body *b = calloc(1, sizeof(*b));
    int rc;

    *out = NULL;
    if (b == NULL)
        return CERR_NOMEM;
    b->ck_alg = -1;
    chunked_init(&b->dec);

    rc = setup_payload(b, h, a, d);
    if (rc == 0)
        rc = setup_length(b, h, d);
    if (rc == 0)
        rc = scan_content_md5(b, h, d);
    if (rc == 0)
        rc = scan_checksum_headers(b, h, d);
    if (rc == 0)
        rc = scan_trailer_header(b, h, d);
    if (rc == 0)
        rc = scan_sdk_algorithm(b, h, d);

    if (rc == 0 && b->md5_sent)
        auth_body_want_md5(b);
    if (rc == 0 && b->ck_alg >= 0 && (b->ck = cksum_new(b->ck_alg)) == NULL)
        rc = CERR_NOMEM;
    if (rc == 0 && b->md5_sent && b->md5 == NULL)
        rc = CERR_NOMEM;
    if (rc != 0) {
        auth_body_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* Also compute the MD5 of the decoded body. */
void
auth_body_want_md5(struct auth_body *b)
{
    if (b->md5 == NULL && !b->md5_done)
        b->md5 = crypto_hash_new(CRYPTO_HASH_MD5);
    if (b->md5 == NULL && b->err == 0)
        b->err = CERR_NOMEM;
}

/* Decoded bytes: count, digest, pass on. */
static int
take_data(struct auth_body *b, const void *p, size_t n)
{
    b->decoded += n;
    if (b->expected >= 0 && b->decoded > (uint64_t)b->expected)
        return err_set(b->d, CERR_INCOMPLETE_BODY, "The body is longer "
                       "than its announced length.");
    if (b->sha256 != NULL)
        crypto_hash_update(b->sha256, p, n);
    if (b->md5 != NULL)
        crypto_hash_update(b->md5, p, n);
    if (b->ck != NULL)
        auth_checksum_update(b->ck, p, n);
    if (b->chunk_hash != NULL)
        crypto_hash_update(b->chunk_hash, p, n);
    return b->sink != NULL ? b->sink(b->sink_ctx, p, n) : 0;
}

static int
sig_mismatch(struct auth_body *b, const char *what)
{
    return err_set(b->d, CERR_SIGNATURE_MISMATCH, "The %s signature we "
                   "calculated does not match the signature you provided.",
                   what);
}

/* Copy a 64-hex signature in lowercase; false when it is not one. */
static bool
take_sig(char out[65], const char *sig)
{
    size_t i;

    for (i = 0; i < 64; i++) {
        if (!isxdigit((unsigned char)sig[i]))
            return false;
        out[i] = (char)tolower((unsigned char)sig[i]);
    }
    out[64] = '\0';
    return sig[64] == '\0';
}

static int
on_chunk_begin(void *ctx, uint64_t size, const char *sig)
{
    struct auth_body *b = ctx;

    (void)size;
    if (!b->signed_chunks)
        return 0;
    if (sig == NULL || !take_sig(b->chunk_sig, sig))
        return sig_mismatch(b, "chunk");
    b->chunk_hash = crypto_hash_new(CRYPTO_HASH_SHA256);
    return b->chunk_hash ? 0 : CERR_NOMEM;
}

static int
on_data(void *ctx, const void *p, size_t n)
{
    return take_data(ctx, p, n);
}

/* The chunk is complete: check its signature and chain on. */
static int
on_chunk_end(void *ctx)
{
    struct auth_body *b = ctx;
    uint8_t h[32];
    char sig[65];

    if (!b->signed_chunks)
        return 0;
    crypto_hash_final(b->chunk_hash, h);
    crypto_hash_free(b->chunk_hash);
    b->chunk_hash = NULL;
    sigv4_chain_signature(b->key, "PAYLOAD", b->amz_date, b->scope,
                          b->prev_sig, h, sig);
    if (!crypto_equal(sig, b->chunk_sig, 64))
        return sig_mismatch(b, "chunk");
    memcpy(b->prev_sig, sig, sizeof(sig));
    return 0;
}

/* The signature line of a signed trailer. */
static int
on_trailer_signature(struct auth_body *b, const char *value)
{
    if (!b->signed_trailer || b->have_trailer_sig)
        return err_set(b->d, CERR_INVALID_REQUEST, "Unexpected "
                       "x-amz-trailer-signature.");
    if (!take_sig(b->trailer_sig, value))
        return sig_mismatch(b, "trailer");
    b->have_trailer_sig = true;
    return 0;
}

/* One trailer line: the announced checksum or the trailer signature. */
static int
on_trailer(void *ctx, const char *name, const char *value)
{
    struct auth_body *b = ctx;
    int alg;

    if (strcmp(name, "x-amz-trailer-signature") == 0)
        return on_trailer_signature(b, value);
    alg = cksum_alg_by_header(name);
    if (alg < 0 || !b->ck_in_trailer || alg != b->ck_alg || b->ck_have ||
        b->have_trailer_sig)
        return err_set(b->d, CERR_INVALID_REQUEST, "The trailer %s was not "
                       "announced in x-amz-trailer.", name);
    if (strlen(value) >= sizeof(b->ck_value) ||
        !checksum_value_ok(alg, value))
        return err_set(b->d, CERR_INVALID_REQUEST, "Value for %s trailer "
                       "is invalid.", name);

    snprintf(b->ck_value, sizeof(b->ck_value), "%s", value);
    b->ck_have = true;
    snprintf(b->trailer_line, sizeof(b->trailer_line), "%s:%s\n", name,
             value);
    return 0;
}

static const struct chunked_ops body_ops = {
    on_chunk_begin, on_data, on_chunk_end, on_trailer,
};

/* Feed raw bytes; see auth.h. */
int
auth_body_feed(struct auth_body *b, const void *data, size_t len,
               int (*sink)(void *ctx, const void *data, size_t len),
               void *ctx, struct err_detail *d)
{
    int rc;

    if (b->err != 0)
        return b->err;
    if (b->finished)
        return b->err = err_set(d, CERR_INTERNAL, "body already finished");
    b->sink = sink;
    b->sink_ctx = ctx;
    b->d = d;
    if (b->chunked)
        rc = chunked_feed(&b->dec, data, len, &body_ops, b, d);
    else
        rc = take_data(b, data, len);
    b->d = NULL;
    b->err = rc;
    return rc;
}

/* The trailer's signature, and the announced checksum's presence. */
static int
check_trailer(struct auth_body *b, struct err_detail *d)
{
    uint8_t h[32];
    char sig[65];

    if (b->signed_trailer) {
        if (!b->have_trailer_sig)
            return sig_mismatch(b, "trailer");
        crypto_sha256(b->trailer_line, strlen(b->trailer_line), h);
        sigv4_chain_signature(b->key, "TRAILER", b->amz_date, b->scope,
                              b->prev_sig, h, sig);
        if (!crypto_equal(sig, b->trailer_sig, 64))
            return sig_mismatch(b, "trailer");
    }
    if (b->ck_in_trailer && !b->ck_have)
        return err_set(d, b->ck_sdk_named ? CERR_INVALID_REQUEST
                                          : CERR_BAD_DIGEST,
                       "The trailer %s announced in x-amz-trailer was not "
                       "sent.", cksum_header_name(b->ck_alg));
    return 0;
}

/* The whole-body digests against what the client claimed. */
static int
check_digests(struct auth_body *b, struct err_detail *d)
{
    uint8_t h[32], want[32];
    size_t n;

    if (b->sha256 != NULL) {
        crypto_hash_final(b->sha256, h);
        if (!crypto_equal(h, b->want_sha256, 32))
            return err_set(d, CERR_SHA256_MISMATCH, "The provided "
                           "'x-amz-content-sha256' header does not match "
                           "what was computed.");
    }
    if (b->md5 != NULL) {
        crypto_hash_final(b->md5, b->md5_out);
        crypto_hash_free(b->md5);
        b->md5 = NULL;
        b->md5_done = true;
        if (b->md5_sent && !crypto_equal(b->md5_out, b->want_md5, 16))
            return err_set(d, CERR_BAD_DIGEST, "The Content-MD5 you "
                           "specified did not match what we received.");
    }
    if (b->ck != NULL && b->ck_have) {
        cksum_final_raw(b->ck, h);
        base64_decode(b->ck_value, strlen(b->ck_value), want,
                      sizeof(want), &n);
        if (!crypto_equal(h, want, cksum_digest_len(b->ck_alg)))
            return err_set(d, CERR_BAD_DIGEST, "The %s you specified did "
                           "not match the calculated checksum.",
                           cksum_header_name(b->ck_alg));
    }
    return 0;
}

/* End of input: every remaining check; see auth.h. */
int
auth_body_finish(struct auth_body *b, struct err_detail *d)
{
    int rc;

    if (b->err != 0)
        return b->err;
    if (b->finished)
        return 0;
    b->d = d;
    rc = b->chunked ? chunked_finish(&b->dec, d) : 0;
    if (rc == 0)
        rc = check_trailer(b, d);
    if (rc == 0 && b->expected >= 0 && b->decoded != (uint64_t)b->expected)
        rc = err_set(d, CERR_INCOMPLETE_BODY, "You did not provide the "
                     "number of bytes specified by the %s header.",
                     b->chunked ? "x-amz-decoded-content-length"
                                : "Content-Length");
    if (rc == 0)
        rc = check_digests(b, d);
    b->d = NULL;
    b->err = rc;
    b->finished = rc == 0;
    return rc;
}

/* Decoded bytes so far. */
uint64_t
auth_body_length(const struct auth_body *b)
{
    return b->decoded;
}

/* The announced decoded length, -1 when unknown. */
int64_t
auth_body_expected_length(const struct auth_body *b)
{
    return b->expected;
}

/* The decoded body's MD5 after a successful finish, when computed. */
bool
auth_body_md5(const struct auth_body *b, uint8_t out[16])
{
    if (!b->finished || !b->md5_done)
        return false;
    memcpy(out, b->md5_out, 16);
    return true;
}

/* The sent checksum's header name after finish, or NULL. */
const char *
auth_body_checksum_name(const struct auth_body *b)
{
    return b->finished && b->ck_have ? cksum_header_name(b->ck_alg) : NULL;
}

/* The sent checksum's base64 value after finish, or NULL. */
const char *
auth_body_checksum_value(const struct auth_body *b)
{
    return b->finished && b->ck_have ? b->ck_value : NULL;
}

/* Free the pipeline and wipe its signing key; NULL is allowed. */
void
auth_body_free(struct auth_body *b)
{
    if (b == NULL)
        return;
    crypto_hash_free(b->chunk_hash);
    crypto_hash_free(b->sha256);
    crypto_hash_free(b->md5);
    auth_checksum_free(b->ck);
    crypto_wipe(b, sizeof(*b));
    free(b);
}

/*
 * Content-Encoding without aws-chunked; see auth.h.  Members are
 * ','-separated and compared without case or surrounding blanks.
 */
bool
auth_content_encoding_strip(const char *ce, char *out, size_t cap)
{
    size_t used = 0;

    if (cap == 0)
        return false;
    out[0] = '\0';
    while (*ce != '\0') {
        const char *s = ce, *e;
        size_t n;

        ce += strcspn(ce, ",");
        e = ce;
        if (*ce == ',')
            ce++;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        n = (size_t)(e - s);
        if (n == 0 || (n == 11 && strncasecmp(s, "aws-chunked", 11) == 0))
            continue;

        if (used + n + (used > 0) >= cap)
            return false;
        if (used > 0)
            out[used++] = ',';
        memcpy(out + used, s, n);
        used += n;
        out[used] = '\0';
    }
    return true;
}
