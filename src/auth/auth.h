/*
 * auth: who sent a request and whether its body arrived intact.
 *
 * Three parts.  The credential store maps access key ids to secrets and
 * principals.  SigV4 verification checks an Authorization header or a
 * presigned query against those secrets.  The body pipeline undoes the
 * aws-chunked encoding (verifying chunk and trailer signatures) and checks
 * every digest the client sent: x-amz-content-sha256, Content-MD5 and the
 * x-amz-checksum-* family.  Nothing here logs; failures are coffer codes
 * with AWS wording in the err_detail.
 */
#ifndef COFFER_AUTH_AUTH_H
#define COFFER_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/headers.h"

/* Who signed the request. */
enum auth_principal_type {
    AUTH_ANONYMOUS = 0,
    AUTH_ROOT,
    AUTH_USER,
};

struct auth_principal {
    int type;                   /* enum auth_principal_type */
    char arn[256];              /* arn:aws:iam::ACCOUNT:root or :user/NAME */
    char account[13];
    char user_name[65];         /* "" for root and anonymous */
    char user_id[33];           /* root: the account id */
};

/*
 * Credential store.  Holds the root credentials; users come from a lookup
 * hook that a later module installs (auth_creds_set_user_lookup).
 */
struct auth_creds;

/*
 * Open the credential store.  The root pair comes from the environment
 * (COFFER_ROOT_ACCESS_KEY_ID and COFFER_ROOT_SECRET_ACCESS_KEY, both
 * set), else from DATA_DIR/credentials in the aws CLI's format (section
 * [default]), else a fresh pair is generated and written there with mode
 * 0600 (never overwriting a file) and *generated is set.  Only one of the
 * two variables set is an error, as is a credentials file without both
 * keys.  Returns 0, CERR_IO (detail names the file), CERR_INVALID_ARGUMENT
 * or CERR_NOMEM.  The caller frees *out with auth_creds_free.
 */
int auth_creds_open(const char *data_dir, const char *account_id,
                    struct auth_creds **out, bool *generated,
                    struct err_detail *d);

/* Wipe the secrets and free the store; NULL is allowed. */
void auth_creds_free(struct auth_creds *c);

/*
 * The secret and principal for an access key id.  0, or
 * CERR_INVALID_ACCESS_KEY when the key is unknown.  The caller wipes
 * `secret` with crypto_wipe after use.
 */
int auth_creds_lookup(struct auth_creds *c, const char *akid,
                      char secret[128], struct auth_principal *p);

/* The root access key id (never the secret). */
const char *auth_creds_root_access_key(const struct auth_creds *c);

/*
 * The hook for non-root credentials: asked for every access key that is
 * not the root's.  Returns 0 with secret and principal filled, or
 * CERR_INVALID_ACCESS_KEY, or another error to pass on.
 */
typedef int (*auth_user_lookup_fn)(void *ctx, const char *akid,
                                   char secret[128],
                                   struct auth_principal *p);

void auth_creds_set_user_lookup(struct auth_creds *c,
                                auth_user_lookup_fn fn, void *ctx);

/* The request as received. */
struct sigv4_request {
    const char *method;
    const char *raw_path;       /* target before '?', still %-encoded */
    const char *raw_query;      /* after '?', "" when none, as sent */
    const struct headers *headers;
    int64_t now_ms;
    const char *region;         /* the server's region */
    const char *service;        /* "s3" or "kms": the scope must name it */
    const char *vhost_bucket;   /* the bucket a virtual-hosted request
                                 * named in Host (SigV2 signs it), NULL */
};

enum auth_payload {
    AUTH_PAYLOAD_HASHED,        /* hex SHA-256 (given, or computed: KMS) */
    AUTH_PAYLOAD_UNSIGNED,      /* UNSIGNED-PAYLOAD (also presigned) */
    AUTH_PAYLOAD_STREAMING_SIGNED,      /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    AUTH_PAYLOAD_STREAMING_SIGNED_TRAILER,
    AUTH_PAYLOAD_STREAMING_UNSIGNED_TRAILER,
};

/* The verified result. */
struct sigv4_auth {
    bool anonymous;             /* no signature at all: not an error */
    bool presigned;
    bool sigv2;                 /* Signature Version 2, URL or header */
    char access_key[129];
    char amz_date[17];          /* 20261204T151458Z */
    char scope[128];            /* date/region/service/aws4_request */
    char signature[65];         /* seed for chunk signatures */
    uint8_t signing_key[32];    /* wiped by auth_sigv4_clear */
    enum auth_payload payload;
    char payload_hash[65];      /* hex, when HASHED */
    struct auth_principal principal;

    /*
     * access_key and scope are also set when the key is unknown or the
     * signature does not match, for the error reply.  The two below are
     * filled only when verification fails with CERR_SIGNATURE_MISMATCH,
     * for the S3 error body (<CanonicalRequest>, <StringToSign>); neither
     * holds a secret.  canonical_request is heap memory released by
     * auth_sigv4_clear.
     */
    char *canonical_request;
    char string_to_sign[256];
};

/*
 * Verify a request's SigV4 signature (Authorization header or presigned
 * query) and fill *out.  payload_hash: NULL for S3 (the
 * x-amz-content-sha256 header is used, or UNSIGNED-PAYLOAD when
 * presigned); for KMS the lowercase hex SHA-256 of the body.
 *
 * An S3 request with no signature at all returns 0 with out->anonymous
 * set (its payload still read from x-amz-content-sha256 when present).
 * Errors: CERR_MISSING_AUTH (a KMS request with no signature),
 * CERR_AUTH_HEADER_MALFORMED (garbled header or credential; an S3 scope
 * with another region or service, the detail naming the expected region),
 * CERR_KMS_INVALID_SIGNATURE (a KMS scope with another region or service,
 * per ruling 21), CERR_INCOMPLETE_SIGNATURE (an item of the header
 * missing), CERR_INVALID_ACCESS_KEY, CERR_SIGNATURE_MISMATCH,
 * CERR_TIME_SKEWED (over 15 minutes; not for presigned),
 * CERR_REQUEST_EXPIRED, CERR_AUTH_QUERY_ERROR (presigned parameters),
 * CERR_INVALID_REQUEST (S3 header auth without x-amz-content-sha256),
 * CERR_INVALID_ARGUMENT (an x-amz-content-sha256 value that means
 * nothing), CERR_NOT_IMPLEMENTED (SigV4a, SigV2 in the Authorization
 * header: S3 hands that to auth_sigv2_verify_header), CERR_NOMEM.
 *
 * An S3 URL with AWSAccessKeyId is a SigV2 presigned URL (sigv2.c):
 * out->sigv2 and out->presigned are set, the payload is unsigned, and
 * besides the codes above CERR_ACCESS_DENIED (parameters missing or
 * Expires not a number) may come back.
 *
 * Always call auth_sigv4_clear on *out afterwards, success or not.
 */
int auth_sigv4_verify(struct auth_creds *c, const struct sigv4_request *r,
                      const char *payload_hash, struct sigv4_auth *out,
                      struct err_detail *d);

/*
 * Verify an S3 request signed with Signature Version 2 in the
 * Authorization header ("AWS AccessKeyId:Signature", sigv2.c) and fill
 * *out: sigv2 set, the payload unsigned.  The caller picks this over
 * auth_sigv4_verify by the header's scheme.  Errors:
 * CERR_AUTH_HEADER_MALFORMED, CERR_ACCESS_DENIED (no valid Date or
 * x-amz-date), CERR_TIME_SKEWED, CERR_INVALID_ACCESS_KEY,
 * CERR_SIGNATURE_MISMATCH, CERR_NOMEM.  Call auth_sigv4_clear after.
 */
int auth_sigv2_verify_header(struct auth_creds *c,
                             const struct sigv4_request *r,
                             struct sigv4_auth *out, struct err_detail *d);

/* Wipe the signing key and free what verification left in *a. */
void auth_sigv4_clear(struct sigv4_auth *a);

/*
 * One request body on its way in.  It undoes aws-chunked (unsigned with
 * trailer, signed chunks, signed chunks with a signed trailer), whatever
 * the split of the bytes across calls, and checks: the payload hash when
 * the client sent a hex one (CERR_SHA256_MISMATCH), chunk and trailer
 * signatures (CERR_SIGNATURE_MISMATCH), x-amz-decoded-content-length
 * (CERR_INCOMPLETE_BODY), Content-MD5 (malformed CERR_INVALID_DIGEST,
 * mismatch CERR_BAD_DIGEST) and x-amz-checksum-* as header or trailer
 * (crc32, crc32c, crc64nvme, sha1, sha256; malformed, unknown or missing
 * where x-amz-sdk-checksum-algorithm promised one: CERR_INVALID_REQUEST;
 * mismatch CERR_BAD_DIGEST).
 *
 * Decoded bytes reach the sink before their chunk's signature is checked
 * (a chunk may be megabytes): the caller writes them somewhere temporary
 * and commits only after auth_body_finish returns 0.  Memory is bounded:
 * only a chunk header line and a small trailer are buffered.
 */
struct auth_body;

/*
 * Check the body-related headers and set up the pipeline; header-level
 * problems are found here, before any body is read.  `a` is the verified
 * result (NULL means anonymous).  Returns 0 or an error above;
 * the caller frees *out with auth_body_free.
 */
int auth_body_new(const struct headers *h, const struct sigv4_auth *a,
                  struct auth_body **out, struct err_detail *d);

/* Ask for the MD5 of the decoded body even without Content-MD5. */
void auth_body_want_md5(struct auth_body *b);

/*
 * Feed raw bytes as received; decoded bytes go to `sink` in order.  A
 * sink failure is returned as is.  After any failure every later call
 * returns the same code.
 */
int auth_body_feed(struct auth_body *b, const void *data, size_t len,
                   int (*sink)(void *ctx, const void *data, size_t len),
                   void *ctx, struct err_detail *d);

/* End of input: every check above; 0 when complete and intact. */
int auth_body_finish(struct auth_body *b, struct err_detail *d);

/* Decoded bytes so far. */
uint64_t auth_body_length(const struct auth_body *b);

/* The decoded length the headers announce, -1 when unknown. */
int64_t auth_body_expected_length(const struct auth_body *b);

/* After a successful finish: the MD5 of the decoded body, if computed. */
bool auth_body_md5(const struct auth_body *b, uint8_t out[16]);

/*
 * After finish: the checksum the client sent (header or trailer), e.g.
 * "x-amz-checksum-crc32" and its base64 value; NULL when none.  The
 * strings live as long as the body.
 */
const char *auth_body_checksum_name(const struct auth_body *b);
const char *auth_body_checksum_value(const struct auth_body *b);

void auth_body_free(struct auth_body *b);

/*
 * Content-Encoding without its aws-chunked member, into out (cap bytes):
 * "gzip,aws-chunked" gives "gzip", "aws-chunked" gives "".  Returns false
 * when the result does not fit.
 */
bool auth_content_encoding_strip(const char *ce, char *out, size_t cap);

/*
 * Checksums by S3 name: "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"
 * (any case).  One shot: writes the base64 value (NUL-ended) into b64_out;
 * 0, CERR_INVALID_REQUEST for an unknown name, CERR_INVALID_ARGUMENT when
 * cap is too small (48 bytes always suffice).
 */
#define AUTH_CHECKSUM_B64_MAX 48

int auth_checksum_compute(const char *alg, const void *data, size_t len,
                          char *b64_out, size_t cap);

/*
 * Streaming form.  auth_checksum_new returns NULL for an unknown name or
 * out of memory; final writes base64 as above and may be called once.
 */
struct auth_checksum;

struct auth_checksum *auth_checksum_new(const char *alg);
void auth_checksum_update(struct auth_checksum *k, const void *data,
                          size_t len);
int auth_checksum_final(struct auth_checksum *k, char *b64_out, size_t cap);
void auth_checksum_free(struct auth_checksum *k);

#endif
