/*
 * Internals shared by the files of the auth module (and its unit tests):
 * the credential store's layout, the SigV4 building blocks, the streaming
 * checksums by number and the aws-chunked decoder.  No other module
 * includes this file.
 */
#ifndef COFFER_AUTH_AUTH_INT_H
#define COFFER_AUTH_AUTH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "util/buf.h"

/* ---- credential store (creds.c) ---- */

#define AUTH_KEY_CACHE_SLOTS 16

/* One derived signing key; valid while `used`. */
struct key_cache_slot {
    bool used;
    uint8_t secret_hash[32];
    char date[9];
    char region[32];
    char service[16];
    uint8_t key[32];
};

struct auth_creds {
    char root_akid[129];
    char root_secret[128];
    char account[13];
    auth_user_lookup_fn user_fn;
    void *user_ctx;

    pthread_mutex_t lock;       /* guards the cache only */
    struct key_cache_slot cache[AUTH_KEY_CACHE_SLOTS];
    unsigned next_slot;
};

/* ---- SigV4 building blocks (sigv4.c) ---- */

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_EMPTY_SHA256 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/*
 * Append the canonical URI.  With reencode, the raw path is decoded once
 * and encoded again keeping '/'; returns CERR_INVALID_ARGUMENT when it
 * does not decode (nothing appended).  Without, the raw path as sent.
 */
int sigv4_canonical_uri(struct buf *b, const char *raw_path, bool reencode);

/*
 * Append the canonical query string; `skip_signature` drops
 * X-Amz-Signature (presigned).  0 or CERR_NOMEM.
 */
int sigv4_canonical_query(struct buf *b, const char *raw_query,
                          bool skip_signature);

/*
 * Append the canonical header lines for `signed_headers` (";"-separated,
 * lowercase).  CERR_SIGNATURE_MISMATCH when a signed header is absent,
 * CERR_AUTH_HEADER_MALFORMED when the list is garbled.
 */
int sigv4_canonical_headers(struct buf *b, const struct headers *h,
                            const char *signed_headers);

/* kSigning for (secret, yyyymmdd, region, service). */
void sigv4_derive_key(const char *secret, const char *date,
                      const char *region, const char *service,
                      uint8_t out[32]);

/* As sigv4_derive_key, through the store's small cache. */
void sigv4_signing_key(struct auth_creds *c, const char *secret,
                       const char *date, const char *region,
                       const char *service, uint8_t out[32]);

/*
 * The whole canonical request into `b` (reset first).  0, or an error of
 * the pieces above.
 */
int sigv4_canonical_request(struct buf *b, const char *method,
                            const char *raw_path, bool reencode,
                            const char *raw_query, bool skip_signature,
                            const struct headers *h,
                            const char *signed_headers,
                            const char *payload_hash);

/*
 * What an x-amz-content-sha256 value announces.  0, CERR_NOT_IMPLEMENTED
 * (SigV4a) or CERR_INVALID_ARGUMENT (a value that means nothing).
 */
int sigv4_payload_kind(const char *v, enum auth_payload *out,
                       struct err_detail *d);

/*
 * The decoded value of query parameter `name` (raw query text) into out
 * (cap bytes).  1 when found, 0 when absent, CERR_AUTH_QUERY_ERROR when
 * it does not decode or fit.
 */
int sigv4_query_get(const char *q, const char *name, char *out,
                    size_t cap);

/* "AWS4-HMAC-SHA256\n<date>\n<scope>\n<hex sha256(creq)>" into out. */
void sigv4_string_to_sign(const char *amz_date, const char *scope,
                          const char *creq, size_t creqlen, char *out,
                          size_t cap);

/* Lowercase hex HMAC-SHA256(key, text) into out[65]. */
void sigv4_hmac_hex(const uint8_t key[32], const char *text, size_t len,
                    char out[65]);

/*
 * Signature of a streaming chunk (kind "PAYLOAD") or trailer ("TRAILER"):
 * previous signature and the SHA-256 of what is signed.
 */
void sigv4_chain_signature(const uint8_t key[32], const char *kind,
                           const char *amz_date, const char *scope,
                           const char *prev, const uint8_t hash[32],
                           char out[65]);

/* ---- SigV2: presigned URLs and the Authorization header (sigv2.c) ---- */

/*
 * The SigV2 string to sign of a request into b (reset first), with
 * `expires` (a presigned URL's Expires, else the Date line) as sent.
 * presigned: query parameters may stand in for headers.  reencode: the
 * path decoded and encoded again instead of as sent.  0,
 * CERR_INVALID_ARGUMENT (the path does not decode), CERR_NOMEM.
 */
int sigv2_string_to_sign(struct buf *b, const struct sigv4_request *r,
                         const char *expires, bool presigned,
                         bool reencode);

/* Verify a SigV2 presigned URL; see auth_sigv4_verify in auth.h. */
int auth_sigv2_verify_query(struct auth_creds *c,
                            const struct sigv4_request *r,
                            struct sigv4_auth *out, struct err_detail *d);

/* ---- checksums (checksum.c) ---- */

enum cksum_alg {
    CKSUM_CRC32,
    CKSUM_CRC32C,
    CKSUM_CRC64NVME,
    CKSUM_SHA1,
    CKSUM_SHA256,
    CKSUM_COUNT
};

/* S3 name ("CRC32", any case) to alg, or -1. */
int cksum_alg_by_name(const char *name);

/* Header name ("x-amz-checksum-crc32", lowercase) to alg, or -1. */
int cksum_alg_by_header(const char *hname);

const char *cksum_header_name(int alg);

/* Length of the raw digest: 4, 4, 8, 20 or 32. */
size_t cksum_digest_len(int alg);

struct auth_checksum *cksum_new(int alg);

/* The raw digest (cksum_digest_len bytes) into out[32]. */
void cksum_final_raw(struct auth_checksum *k, uint8_t out[32]);

/* Raw CRC updates, no pre/post inversion: exposed for tests. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);
uint64_t crc64nvme_update(uint64_t crc, const void *data, size_t len);

/* ---- aws-chunked decoder (chunked.c) ---- */

#define CHUNKED_LINE_MAX 1024   /* one chunk header or trailer line */
#define CHUNKED_TRAILER_MAX 4096        /* all trailer lines together */

/* What the decoder reports; each callback returns 0 or an error to stop. */
struct chunked_ops {
    /* A chunk header: its size and chunk-signature (NULL when none). */
    int (*chunk_begin)(void *ctx, uint64_t size, const char *sig);
    int (*data)(void *ctx, const void *p, size_t n);
    /* After a chunk's data (at once for the final empty chunk). */
    int (*chunk_end)(void *ctx);
    /* One trailer line: name lowercased, both trimmed. */
    int (*trailer)(void *ctx, const char *name, const char *value);
};

enum chunked_state {
    CHUNKED_SIZE,               /* reading a chunk header line */
    CHUNKED_DATA,
    CHUNKED_DATA_CR,            /* the CRLF after a chunk's data */
    CHUNKED_DATA_LF,
    CHUNKED_TRAILER,            /* reading trailer lines */
    CHUNKED_DONE,               /* the empty line after the trailer */
    CHUNKED_FAILED,
};

struct chunked {
    enum chunked_state state;
    uint64_t left;              /* data bytes left in the current chunk */
    char line[CHUNKED_LINE_MAX + 1];
    size_t linelen;
    size_t trailer_bytes;
    int err;                    /* the failure, once FAILED */
};

void chunked_init(struct chunked *c);

/*
 * Decode `len` raw bytes; the callbacks see the result.  0, the first
 * callback error, or CERR_INVALID_REQUEST on broken framing.
 */
int chunked_feed(struct chunked *c, const void *data, size_t len,
                 const struct chunked_ops *ops, void *ctx,
                 struct err_detail *d);

/*
 * End of input: 0 when the body ended where it may (after the trailer's
 * empty line, or right after the final chunk with no trailer lines),
 * else CERR_INCOMPLETE_BODY.
 */
int chunked_finish(struct chunked *c, struct err_detail *d);

#endif
