/*
 * The key service: the AWS KMS JSON 1.1 API (TrentService) for symmetric
 * keys, the in-process "kms client" that S3 uses for envelope encryption,
 * and the server-internal keys (SSE-S3, SSE-C recognition) that never leave
 * coffer.
 *
 * Key material lives in the metadata store wrapped by the root key; every
 * operation that touches key material is authorized (key policy plus
 * identity policies) and written to the hash-chained audit trail under
 * DATA/audit/.  Nothing here prints or logs a key, plaintext or blob.
 */
#ifndef COFFER_KMS_KMS_H
#define COFFER_KMS_KMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/err.h"

#define KMS_ARN_MAX 256
#define KMS_ROOT_KEY_LEN 32
#define KMS_BLOB_MAX 6144           /* largest CiphertextBlob accepted */
#define KMS_BLOB_OVERHEAD 97        /* blob bytes beyond the plaintext */
#define KMS_INTERNAL_OVERHEAD 28    /* nonce + tag of kms_internal_seal */

struct meta;
struct policy;

struct kms_config {
    const char *region;             /* "us-east-1" */
    const char *account;            /* 12 digits */
    const char *audit_dir;          /* DATA/audit; NULL = no audit file */
    uint8_t root_key[32];           /* copied in; caller wipes its copy */
};

/*
 * Load the root key into `key`: COFFER_ROOT_KEY (base64 of 32 bytes) when
 * set, else DATA_DIR/root.key (32 raw bytes, created mode 0600 from the
 * CSPRNG on first start with O_EXCL and fsync).  A malformed environment
 * value, or a file of the wrong size or mode, is an error whose message
 * says what to fix (never the key).  Returns 0 or a CERR_* code; `key` is
 * wiped on failure.
 */
int kms_root_key_load(const char *data_dir, uint8_t key[32],
                      struct err_detail *d);

/* Where a PKCS#11 token keeps the key that seals the root key. */
struct kms_pkcs11 {
    const char *module;             /* the PKCS#11 library's path */
    const char *token;              /* the token's label */
    const char *key;                /* the AES key's label on the token */
};

/*
 * Load the root key sealed under a key on a PKCS#11 token: DATA_DIR/
 * root.key.wrapped is opened on the token (made on the first start, the
 * token key too when the token has none of that label).  The user PIN
 * comes from COFFER_PKCS11_PIN.  Returns 0 or a CERR_* code whose message
 * says what to fix; `key` is wiped on failure.
 */
int kms_root_key_load_pkcs11(const char *data_dir,
                             const struct kms_pkcs11 *cfg, uint8_t key[32],
                             struct err_detail *d);

/*
 * The server's root key for a data directory whose metadata m is open:
 * from COFFER_ROOT_KEY, the token (p11 not NULL) or DATA_DIR/root.key,
 * as the two loaders above do, with two guards.  A directory a server
 * has started on before never gets a new root key: a missing root.key
 * (or root.key.wrapped) is an error.  And a key whose check value
 * differs from the one stored is refused.  Neither error writes
 * anything.  *remember is set when no check value is stored yet; the
 * caller stores it with kms_root_key_remember once the key has opened
 * the directory's secrets.  Returns 0 or CERR_* with the reason in d;
 * `key` is wiped on failure.
 */
int kms_root_key_open(const char *data_dir, const struct kms_pkcs11 *p11,
                      struct meta *m, uint8_t key[32], bool *remember,
                      struct err_detail *d);

/* Store key's check value in m (not a secret).  0 or CERR_*. */
int kms_root_key_remember(struct meta *m, const uint8_t key[32]);

struct kms;                         /* thread-safe */

/*
 * Open the key service over an open metadata store.  The store must
 * outlive the service.  *out is freed with kms_close.  0 or CERR_*.
 */
int kms_open(struct meta *m, const struct kms_config *cfg, struct kms **out,
             struct err_detail *d);

/* Wipe every cached key and free the service (NULL allowed). */
void kms_close(struct kms *k);

struct kms_caller {
    const char *principal_arn;      /* arn:aws:iam::ACCT:root or a user */
    const char *account;
    const char *user_name;          /* NULL for root */
    const char *request_id;
    const char *source_ip;
    const char *via_service;        /* "s3.<region>.amazonaws.com" or NULL */
    bool secure_transport;
    const char *user_id;            /* users' stable id ("AIDA..."), or NULL */
    /* The caller's identity policies (borrowed; NULL/0 = none). */
    const struct policy *const *identity;
    size_t nidentity;
};

/*
 * The JSON 1.1 API: `op` is the part after "TrentService." (unknown ->
 * CERR_KMS_UNKNOWN_OPERATION), body the request JSON (not an object ->
 * CERR_KMS_SERIALIZATION).  On success *out holds the response JSON (may
 * be empty for operations without output).  Errors are CERR_KMS_* with
 * the AWS message in d->message, e.g. "Invalid keyId ${KEY_ID}",
 * "Key 'arn:...' does not exist", "Alias arn:... is not found.",
 * "arn:... is disabled.".
 */
int kms_handle(struct kms *k, const struct kms_caller *c, const char *op,
               const char *body, size_t len, struct buf *out,
               struct err_detail *d);

/*
 * The small interface S3 uses: a struct of function pointers so that a
 * remote KMS can later stand behind it.  Contexts are jansson objects of
 * string -> string (NULL = empty).  Every call is authorized (key policy,
 * identity policies, grants) and audited exactly as the direct API call
 * would be, with c->via_service set.
 */
struct kms_client_ops {
    /*
     * Resolve any key reference (id, ARN, alias name, alias ARN;
     * "alias/aws/s3" creates the AWS-managed key on first use) to the key
     * ARN and check its state allows encryption (Disabled ->
     * CERR_KMS_DISABLED, PendingDeletion -> CERR_KMS_INVALID_STATE,
     * unknown -> CERR_KMS_NOT_FOUND, with the AWS messages).  Not
     * audited: no key material is used.
     */
    int (*resolve)(void *impl, const char *key_ref, char arn[KMS_ARN_MAX],
                   struct err_detail *d);
    /* GenerateDataKey with KeySpec AES_256; *blob_len is in: capacity. */
    int (*generate_data_key)(void *impl, const struct kms_caller *c,
                             const char *key_ref, const json_t *context,
                             uint8_t plain[32], uint8_t *blob,
                             size_t *blob_len, char arn[KMS_ARN_MAX],
                             struct err_detail *d);
    /* Decrypt a blob; *plain_len is in: capacity, out: length. */
    int (*decrypt)(void *impl, const struct kms_caller *c,
                   const uint8_t *blob, size_t len, const json_t *context,
                   uint8_t *plain, size_t *plain_len, char arn[KMS_ARN_MAX],
                   struct err_detail *d);
    /*
     * Is the caller allowed `action` ("kms:Decrypt", ...) on this key with
     * this context?  Used before reusing a cached bucket key: not a KMS
     * call, not counted as one, but recorded in the audit trail as an
     * authorization.
     */
    int (*authorize)(void *impl, const struct kms_caller *c,
                     const char *key_arn, const char *action,
                     const json_t *context, struct err_detail *d);
};

struct kms_client {
    const struct kms_client_ops *ops;
    void *impl;
};

/* Fill `out` with the in-process client over `k` (which must outlive it). */
void kms_client_local(struct kms *k, struct kms_client *out);

/*
 * Server-internal sealing under keys that never leave coffer: "sse-s3"
 * (the SSE-S3 key: never listed) and friends; created on first use and
 * stored wrapped by the root key.  `out` needs len + 28 bytes (nonce and
 * tag).  0 or CERR_*; open returns CERR_CORRUPT when authentication fails.
 */
int kms_internal_seal(struct kms *k, const char *purpose, const void *aad,
                      size_t aadlen, const void *pt, size_t len,
                      uint8_t *out, size_t *outlen);
int kms_internal_open(struct kms *k, const char *purpose, const void *aad,
                      size_t aadlen, const uint8_t *in, size_t inlen,
                      void *pt, size_t *ptlen);

/* HMAC-SHA256 under an internal key (SSE-C key recognition). */
int kms_internal_mac(struct kms *k, const char *purpose, const void *data,
                     size_t len, uint8_t out[32]);

/*
 * Check the hash chain of the audit trail in audit_dir (every
 * audit-YYYYMMDD.jsonl, oldest first, starting from the zero hash).
 * Returns 0 with *lines = the number of lines checked, CERR_CORRUPT with
 * the first bad file and line in d->message, or CERR_IO.
 */
int kms_audit_verify(const char *audit_dir, size_t *lines,
                     struct err_detail *d);

/*
 * Call fn on each record of the audit trail in audit_dir (a JSON object,
 * borrowed for the call), oldest first, without checking the chain.
 * Returns 0, the first non-zero value of fn, CERR_CORRUPT naming a line
 * that is not a record, or CERR_IO.
 */
int kms_audit_scan(const char *audit_dir,
                   int (*fn)(const json_t *rec, void *arg), void *arg,
                   struct err_detail *d);

/*
 * Is op (an audit record's "operation") a KMS call in the sense that is
 * counted and billed: a cryptographic operation on key material (Encrypt,
 * Decrypt, ReEncrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext)?
 * Authorizations before a cached bucket key is reused are not.
 */
bool kms_audit_is_call(const char *op);

/*
 * Counters for operators: calls per key ARN and operation, as a JSON
 * object {"<arn>": {"Decrypt": n, ...}, ...} appended to `out`.
 */
int kms_counters_json(struct kms *k, struct buf *out);

#endif
