/*
 * Server-side encryption: which of SSE-S3, SSE-KMS, DSSE-KMS or SSE-C a
 * request asks for, the KMS calls and bucket keys behind it, and the
 * segmented AES-256-GCM format every object body is stored in.
 *
 * s3/ parses a request's headers with sse_parse_request, picks and sets
 * up a new object's encryption with sse_new_object (or recovers a stored
 * one's with sse_open_object), derives one data key per body with
 * sse_body_key, and streams bodies through sse_writer / sse_reader.
 * Nothing here logs; failures are coffer codes with AWS wording in the
 * caller's err_detail.
 */
#ifndef COFFER_SSE_SSE_H
#define COFFER_SSE_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/err.h"
#include "util/headers.h"

struct meta;
struct meta_bucket;
struct meta_sse;
struct kms;
struct kms_client;
struct kms_caller;
struct blob_store;
struct blob_writer;

enum sse_mode {
    SSE_MODE_S3 = 1,
    SSE_MODE_KMS = 2,
    SSE_MODE_KMS_DSSE = 3,
    SSE_MODE_C = 4,
};

enum sse_op {
    SSE_OP_WRITE,       /* PutObject, CreateMultipartUpload, CopyObject dest */
    SSE_OP_PART,        /* UploadPart, UploadPartCopy: SSE/KID/CTX/BK → 400 */
    SSE_OP_COMPLETE,    /* CompleteMultipartUpload: SSE-C trio optional */
    SSE_OP_READ,        /* GetObject, HeadObject: SSE/KID/CTX/BK → 400 */
    SSE_OP_COPY_SOURCE, /* the x-amz-copy-source-...-customer-* trio */
};

/* What a request's headers ask for, validated (sse.md §1, §2, §7, §10). */
struct sse_request {
    bool has_sse;               /* x-amz-server-side-encryption present */
    char algorithm[16];         /* as sent: "AES256", "aws:kms", ... */
    bool has_kms_key_id;
    char kms_key_id[2049];      /* as sent */
    json_t *context;            /* user's pairs from the context header */
    char context_b64[4096];     /* as sent, echoed back */
    int bucket_key;             /* -1 not sent, 0 false, 1 true */
    bool has_ssec;              /* customer key given */
    uint8_t ssec_key[32];       /* wiped by sse_request_clear */
    char ssec_key_md5[32];      /* base64 as sent */
};

/*
 * Parse and validate the encryption headers of one request for `op`
 * into *out (always initialised, so sse_request_clear is always safe).
 * secure: the request came over TLS; allow_plain_ssec: the server option
 * that lets SSE-C through on plain HTTP (off: 400 InvalidRequest).
 * Returns 0 or CERR_INVALID_ARGUMENT / CERR_INVALID_REQUEST /
 * CERR_INVALID_ENC_ALGORITHM with the AWS message in d.
 */
int sse_parse_request(const struct headers *h, enum sse_op op, bool secure,
                      bool allow_plain_ssec, struct sse_request *out,
                      struct err_detail *d);

/* Free the context and wipe the customer key. */
void sse_request_clear(struct sse_request *r);

/* True when the request named any encryption header (CopyObject onto
 * itself counts that as a change, sse.md §6). */
bool sse_request_any(const struct sse_request *r);

struct sse_config {
    const char *region;
    const char *account;
    int64_t bucket_key_ttl_ms;  /* 0 = the default, 10 minutes */
};

/* Thread-safe; holds the bucket-key cache. */
struct sse;

/*
 * Open the SSE service over meta (bucket keys), k (internal sealing for
 * SSE-S3 and SSE-C) and kc (data keys).  All three must outlive it; cfg
 * strings are copied.  0, CERR_NOMEM or CERR_INTERNAL.  Free with
 * sse_close.
 */
int sse_open(const struct sse_config *cfg, struct meta *m, struct kms *k,
             const struct kms_client *kc, struct sse **out);

/* Wipe the bucket-key cache and free s (NULL is fine). */
void sse_close(struct sse *s);

/* The key an object's bodies are derived from; wiped by sse_key_wipe. */
struct sse_key {
    uint8_t bytes[32];
};

void sse_key_wipe(struct sse_key *k);

/*
 * Choose and set up the encryption of a new object or multipart upload
 * (sse.md §4: request headers win, else the bucket rule, else AES256;
 * aws:kms without a key id = alias/aws/s3; bucket-key flag from the
 * request, else the rule), make the KMS calls (GenerateDataKey with
 * context aws:s3:arn = object ARN, or the bucket key for (bucket, key
 * ARN) from cache / meta / a new GenerateDataKey with the bucket ARN,
 * authorizing `c` for kms:GenerateDataKey each time a cached key is
 * reused), fill the record to persist and the object key.  rule is the
 * bucket's stored default (may have has_encryption false, or be NULL).
 * KMS errors come back as CERR_KMS_* with AWS messages (S3 maps them to
 * KMS.* codes).  On failure *rec and *okey hold nothing useful.
 */
int sse_new_object(struct sse *s, const struct kms_caller *c,
                   const char *bucket, const char *key,
                   const struct sse_request *req,
                   const struct meta_bucket *rule, struct meta_sse *rec,
                   struct sse_key *okey, struct err_detail *d);

/*
 * Recover the object key of a stored object for reading it (GET, HEAD
 * with a body check, a copy source: then req is the parsed copy-source
 * trio): KMS Decrypt (or the bucket-key cache, authorizing kms:Decrypt),
 * SSE-S3 unwrap, SSE-C check of req's key (missing → 400 InvalidRequest,
 * wrong → 403 AccessDenied, given for a non-SSE-C object → 400
 * InvalidRequest: sse.md §10).  req may be NULL (no headers).  okey
 * NULL: the customer-key checks alone, no KMS call and no key (HeadObject,
 * sse.md §7).
 */
int sse_open_object(struct sse *s, const struct kms_caller *c,
                    const char *bucket, const char *key,
                    const struct meta_sse *rec,
                    const struct sse_request *req, struct sse_key *okey,
                    struct err_detail *d);

/*
 * The same for an open multipart upload, op SSE_OP_PART (UploadPart,
 * UploadPartCopy) or SSE_OP_COMPLETE, with the multipart wording of
 * sse.md §10: trio missing on an SSE-C upload, or sent for another mode
 * → 400 InvalidRequest; another key → 400 InvalidRequest.  Complete may
 * omit the trio of an SSE-C upload: then 0 and *okey is zeroed (Complete
 * writes no body).
 */
int sse_open_upload(struct sse *s, const struct kms_caller *c,
                    const char *bucket, const char *key,
                    const struct meta_sse *rec,
                    const struct sse_request *req, enum sse_op op,
                    struct sse_key *okey, struct err_detail *d);

/*
 * Per-body data key (ruling 13): HKDF-SHA256 of okey with salt and the
 * info "coffer bucket key v1" then, each length-prefixed, bucket, object
 * key, upload id ("" or NULL for a single PUT), part number as decimal
 * ("" for part_number 0) and the canonical context of rec.  Every mode
 * uses it.  0 or CERR_INTERNAL / CERR_NOMEM / CERR_CORRUPT (a stored
 * context that does not parse).
 */
int sse_body_key(const struct sse_key *okey, const struct meta_sse *rec,
                 const char *bucket, const char *key, const char *upload_id,
                 int part_number, const uint8_t salt[32], uint8_t out[32]);

/*
 * Response headers for an object or upload record (sse.md §3): calls
 * add(ctx, name, value) for x-amz-server-side-encryption, ...-aws-kms-
 * key-id (the ARN), ...-bucket-key-enabled ("true" only), ...-context
 * (WRITE only, when the request sent one), and the SSE-C algorithm and
 * key MD5 (not on COMPLETE; on READ only when the key was given).
 */
void sse_response_headers(const struct meta_sse *rec,
                          const struct sse_request *req, enum sse_op op,
                          void (*add)(void *ctx, const char *name,
                                      const char *value),
                          void *ctx);

/*
 * Validate a bucket rule for PutBucketEncryption (sse.md §5 table):
 * algorithm not one of the three → CERR_MALFORMED_XML; a key id with
 * AES256, or an empty key id with aws:kms → CERR_INVALID_ARGUMENT.
 * kms_key_id NULL = element absent.
 */
int sse_validate_rule(const char *algorithm, const char *kms_key_id,
                      struct err_detail *d);

/*
 * The encrypted body format: a 20-byte header (magic "CFB1", version,
 * cipher, segment size 64 KiB, 8-byte random nonce prefix), then
 * segments of 64 KiB plaintext sealed with AES-256-GCM, nonce = prefix |
 * segment index (31 bits) | last-segment flag (1 bit), AAD = the header;
 * an empty body is one empty last segment.  Reordering, dropping,
 * truncating or appending is detected (CERR_CORRUPT).
 */
#define SSE_SEGMENT_SIZE 65536
#define SSE_HEADER_SIZE 20

struct sse_writer;

/* Start a body into bw (which the caller commits or aborts after
 * sse_writer_finish).  key is copied.  0, CERR_NOMEM, or bw's error. */
int sse_writer_new(struct blob_writer *bw, const uint8_t key[32],
                   struct sse_writer **out);
int sse_writer_write(struct sse_writer *w, const void *data, size_t len);

/* Seal the last segment; w stays until sse_writer_free. */
int sse_writer_finish(struct sse_writer *w);

/* Wipe the key and free; does not touch the blob writer. */
void sse_writer_free(struct sse_writer *w);

/* Plaintext bytes written so far. */
uint64_t sse_writer_size(const struct sse_writer *w);

/* Random access, pull-based. */
struct sse_reader;

/*
 * Open blob_id for reading plain_size plaintext bytes under key (copied).
 * CERR_CORRUPT for a bad header or a stored size that does not match.
 */
int sse_reader_open(struct blob_store *bs, const char *blob_id,
                    const uint8_t key[32], uint64_t plain_size,
                    struct sse_reader **out);

/*
 * Copy up to cap plaintext bytes starting at plain offset off into buf;
 * *got is 0 at or past the end.  Decrypts only the segments it needs
 * (one cached: sequential reads decrypt each segment once).
 */
int sse_reader_read(struct sse_reader *r, uint64_t off, void *buf,
                    size_t cap, size_t *got);

/* Reads will end before plain offset end: read no further ahead. */
void sse_reader_limit(struct sse_reader *r, uint64_t end);
void sse_reader_close(struct sse_reader *r);

/* Encrypted size for a plaintext size (for checks and tests). */
uint64_t sse_stored_size(uint64_t plain_size);

#endif
