/*
 * Internals shared by the files of the key service: the struct behind
 * struct kms, one request in flight (struct kms_req), and the helpers each
 * file offers the others (argument parsing, key lookup, key material,
 * ciphertext blobs, authorization, the audit trail).
 */
#ifndef COFFER_KMS_KMS_INT_H
#define COFFER_KMS_KMS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kms/kms.h"
#include "store/meta.h"
#include "util/buf.h"
#include "util/err.h"

#define KMS_KEY_ID_LEN 36           /* a lowercase UUID */
#define KMS_MAT_LEN 32              /* a material id, raw bytes */
#define KMS_MAT_HEX 64              /* ... and as stored */
#define KMS_CACHE_SLOTS 64          /* unwrapped materials kept */
#define KMS_INTERNAL_SLOTS 8        /* internal keys kept */
#define KMS_ROW_SLOTS 64            /* key rows kept (cache.c) */
#define KMS_ALIAS_SLOTS 64          /* aliases kept */
#define KMS_POLICY_SLOTS 64         /* parsed key policies kept */
#define KMS_PLAIN_MAX 4096          /* largest Encrypt plaintext */
#define KMS_AWS_S3_ALIAS "alias/aws/s3"

/* One unwrapped key material in the cache. */
struct kms_cached {
    bool live;
    char key_id[KMS_KEY_ID_LEN + 1];
    char mat_id[KMS_MAT_HEX + 1];
    uint64_t used;                  /* k->tick at the last hit */
    uint8_t key[32];
};

/* One internal key (kms_internal_seal and friends). */
struct kms_internal {
    bool live;
    char purpose[64];
    uint8_t key[32];
};

/* A key row as read at store generation gen (cache.c). */
struct kms_row {
    bool live;
    int64_t gen;
    uint64_t used;                  /* k->cache_tick at the last hit */
    struct meta_kms_key key;
};

/* An alias and the key it named at generation gen. */
struct kms_alias_ent {
    bool live;
    int64_t gen;
    char name[257];
    char key_id[KMS_KEY_ID_LEN + 1];
};

struct kms_parsed;

/* Calls per (key ARN, operation), for operators. */
struct kms_counter {
    struct kms_counter *next;
    char arn[KMS_ARN_MAX];
    char op[48];
    uint64_t n;
};

/* The audit trail: DIR/audit-YYYYMMDD.jsonl, one hash-chained line each. */
struct kms_audit {
    pthread_mutex_t mu;
    char *dir;                      /* NULL: the trail is off */
    int fd;                         /* today's file, -1 none open */
    char day[9];                    /* YYYYMMDD of fd */
    char prev[65];                  /* SHA-256 hex of the last line */
    pthread_cond_t synced_cv;       /* signalled when an fsync ends */
    uint64_t written;               /* lines written since open */
    uint64_t synced;                /* of those, lines known durable */
    bool syncing;                   /* one writer is in fsync for all */
    int sync_err;                   /* an fsync failed: sticky */
};

struct kms {
    struct meta *meta;
    char region[32];
    char account[16];
    uint8_t root_key[32];
    int64_t day_ms;                 /* one day: shorter only in tests */

    pthread_mutex_t mu;             /* cache, internal, counters */
    struct kms_cached cache[KMS_CACHE_SLOTS];
    uint64_t tick;
    struct kms_internal internal[KMS_INTERNAL_SLOTS];
    struct kms_counter *counters;

    pthread_mutex_t cache_mu;       /* rows, aliases, parsed (cache.c) */
    struct kms_row rows[KMS_ROW_SLOTS];
    struct kms_alias_ent aliases[KMS_ALIAS_SLOTS];
    struct kms_parsed *parsed[KMS_POLICY_SLOTS];
    uint64_t cache_tick;
    size_t alias_next, parsed_next; /* round-robin eviction */

    pthread_mutex_t create_mu;      /* lazy creation of the aws/s3 key */
    struct kms_audit audit;
};

/*
 * One operation in flight, direct (kms_handle) or through the client.
 * What the audit line needs (key ARN, context, action) is collected here as
 * the operation proceeds.
 */
struct kms_req {
    struct kms *k;
    const struct kms_caller *c;
    const char *op;                 /* "Decrypt", "Authorize", ... */
    json_t *in;                     /* request body, NULL via the client */
    json_t *res;                    /* response members, built by the op */
    struct err_detail *d;
    char arn[KMS_ARN_MAX];          /* the key acted on, "" none */
    const json_t *ctx;              /* encryption context, NULL none */
    const char *action;             /* what an authorization checked */
    uint8_t *plain;                 /* Plaintext member, kept out of res */
    size_t plain_len;               /* so that it can be wiped; 0 none */
    bool by_grant;                  /* the last authorization held only
                                     * through a grant */
    bool by_account_grant;          /* ... one to the caller's account */
};

/* ---- args.c: request members ------------------------------------------ */

/*
 * Each reads member `name` of r->in; `wire` is its name in AWS's
 * validation messages ("keyId").  An absent optional member leaves the out
 * value alone and sets *present (when given) false.  Wrong JSON types are
 * CERR_KMS_SERIALIZATION; constraint failures CERR_KMS_VALIDATION with the
 * AWS text in r->d.
 */
int kms_arg_str(struct kms_req *r, const char *name, const char *wire,
                bool required, size_t min, size_t max, const char **out);
int kms_arg_int(struct kms_req *r, const char *name, const char *wire,
                bool required, int64_t min, int64_t max, int64_t *out,
                bool *present);
int kms_arg_bool(struct kms_req *r, const char *name, bool *out);
/* out must hold max + 2 bytes (see args.c). */
int kms_arg_blob(struct kms_req *r, const char *name, const char *wire,
                 bool required, size_t min, size_t max, uint8_t *out,
                 size_t *len, bool *present);
int kms_arg_context(struct kms_req *r, const char *name, const char *wire,
                    const json_t **out);
int kms_arg_enum(struct kms_req *r, const char *name, const char *wire,
                 const char *const *values, const char **out);
int kms_arg_limit(struct kms_req *r, int64_t max, int64_t dflt,
                  int64_t *out);
int kms_check_context(const json_t *ctx, struct err_detail *d,
                      const char *wire);
int kms_validation(struct err_detail *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Add a timestamp member (epoch seconds with milliseconds). */
int kms_json_time(json_t *obj, const char *name, int64_t ms);
/* Add a string member; CERR_NOMEM. */
int kms_json_str(json_t *obj, const char *name, const char *s);
/* Add a base64 string member; CERR_NOMEM. */
int kms_json_b64(json_t *obj, const char *name, const void *p, size_t len);

/* ---- keys.c: identifiers and lookups ---------------------------------- */

bool kms_is_key_id(const char *s);
void kms_key_arn(const struct kms *k, const char *key_id,
                 char arn[KMS_ARN_MAX]);
void kms_alias_arn(const struct kms *k, const char *name,
                   char arn[KMS_ARN_MAX]);

/*
 * Find the key a reference names.  any_form: key id, key ARN, alias name
 * or alias ARN; else key id or key ARN only (an alias is then
 * NotFoundException).  "alias/aws/s3" creates the AWS-managed key on first
 * use when any_form.  Keys whose deletion date has passed are removed
 * here and reported as absent.  Fills *key (clear with
 * meta_kms_key_clear) and r->arn.  CERR_KMS_NOT_FOUND with AWS's messages.
 */
int kms_key_find(struct kms_req *r, const char *ref, bool any_form,
                 struct meta_kms_key *key);

/* Look a key up by id; same expiry rule.  CERR_KMS_NOT_FOUND. */
int kms_key_load(struct kms *k, const char *key_id, struct meta_kms_key *key,
                 struct err_detail *d);

/* Disabled -> CERR_KMS_DISABLED, PendingDeletion ->
 * CERR_KMS_INVALID_STATE, each with AWS's message. */
int kms_key_usable(struct kms *k, const struct meta_kms_key *key,
                   struct err_detail *d);

/* ---- keystore.c: key material and new keys ---------------------------- */

/* Make fresh material for key_id: raw key in raw[], wrapped row in *mat. */
int kms_material_new(struct kms *k, const char *key_id,
                     struct meta_kms_material *mat, uint8_t raw[32]);

/* The unwrapped material (from the cache or the store) into out[32]; the
 * caller wipes it.  CERR_KMS_NOT_FOUND when absent, CERR_CORRUPT when it
 * fails to unwrap. */
int kms_material_get(struct kms *k, const char *key_id, const char *mat_id,
                     uint8_t out[32]);

/* Create a key with new material; fills key->key_id, created_ms,
 * current_material.  Other fields of *key as given. */
int kms_key_create(struct kms *k, struct meta_kms_key *key,
                   const struct meta_kms_tag *tags, size_t ntags);

/* The default key policy of the account, or of the aws/s3 key; malloc'd. */
char *kms_policy_default(const struct kms *k);
char *kms_policy_aws_s3(const struct kms *k);

/* Wipe and drop every cached material and internal key. */
void kms_cache_flush(struct kms *k);

/* Wipe and drop the cached materials of one key (it was deleted). */
void kms_cache_drop(struct kms *k, const char *key_id);

/* ---- cache.c: key rows, aliases and parsed policies ------------------- */

/* The row of key_id (clear with meta_kms_key_clear), cached while the
 * store's KMS generation is unchanged.  0, CERR_KMS_NOT_FOUND, store
 * errors. */
int kms_row_get(struct kms *k, const char *key_id, struct meta_kms_key *key);

/* The key id alias `name` names, cached the same way.  0,
 * CERR_KMS_NOT_FOUND, store errors. */
int kms_alias_key(struct kms *k, const char *name,
                  char key_id[KMS_KEY_ID_LEN + 1]);

/* key's parsed policy, shared until kms_policy_release(ref).  0,
 * CERR_NOMEM, CERR_CORRUPT when the stored text does not parse. */
struct policy;
int kms_policy_acquire(struct kms *k, const struct meta_kms_key *key,
                       const struct policy **p, struct kms_parsed **ref);
void kms_policy_release(struct kms *k, struct kms_parsed *ref);

/* Drop every cached row, alias and policy. */
void kms_rows_flush(struct kms *k);

/* ---- keys.c, deletion -------------------------------------------------- */

/* Delete every key whose deletion date has passed (at start).  0 or a
 * store error. */
int kms_keys_expire(struct kms *k);

/* ---- blob.c: ciphertext blobs and encryption contexts ------------------ */

struct kms_blob {
    char key_id[KMS_KEY_ID_LEN + 1];
    char mat_id[KMS_MAT_HEX + 1];
    const uint8_t *raw;             /* the whole blob, borrowed */
    size_t len;
};

/* The canonical bytes of an encryption context (NULL = empty). */
int kms_context_canon(const json_t *ctx, struct buf *out);

/* Seal pt under material `key` into a blob of len + KMS_BLOB_OVERHEAD
 * bytes; cap is out's size.  CERR_INVALID_ARGUMENT when it does not fit. */
int kms_blob_seal(const uint8_t key[32], const char *key_id,
                  const char *mat_id, const json_t *ctx, const void *pt,
                  size_t len, uint8_t *out, size_t cap, size_t *outlen);

/* Read a blob's header.  CERR_KMS_INVALID_CIPHERTEXT when it is not one of
 * ours. */
int kms_blob_parse(const uint8_t *raw, size_t len, struct kms_blob *b);

/* Open a parsed blob into pt (len - KMS_BLOB_OVERHEAD bytes).
 * CERR_KMS_INVALID_CIPHERTEXT when it does not authenticate. */
int kms_blob_open(const uint8_t key[32], const struct kms_blob *b,
                  const json_t *ctx, void *pt, size_t *ptlen);

/* ---- authz.c ----------------------------------------------------------- */

/*
 * May r->c perform `action` on `key` (NULL: a key-less operation, whose
 * resource is `resource`, "*" when NULL) with encryption context ctx?
 * 0, or CERR_KMS_ACCESS_DENIED with AWS's message, CERR_NOMEM, CERR_CORRUPT
 * when the stored key policy no longer parses.
 */
int kms_authorize(struct kms_req *r, const struct meta_kms_key *key,
                  const char *resource, const char *action,
                  const json_t *ctx);

/* The lockout check: would `policy_text` still let the caller call
 * kms:PutKeyPolicy on key_arn?  0 or CERR_KMS_MALFORMED_POLICY. */
int kms_policy_check(struct kms_req *r, const char *text, size_t len,
                     const char *key_arn, bool bypass);

/* ---- grants.c ---------------------------------------------------------- */

/* Operations a grant may allow (struct meta_kms_grant.ops). */
#define KMS_GRANT_DECRYPT               (1u << 0)
#define KMS_GRANT_ENCRYPT               (1u << 1)
#define KMS_GRANT_GENERATE_DATA_KEY     (1u << 2)
#define KMS_GRANT_GENERATE_DATA_KEY_NP  (1u << 3)
#define KMS_GRANT_REENCRYPT_FROM        (1u << 4)
#define KMS_GRANT_REENCRYPT_TO          (1u << 5)
#define KMS_GRANT_CREATE_GRANT          (1u << 6)
#define KMS_GRANT_RETIRE_GRANT          (1u << 7)
#define KMS_GRANT_DESCRIBE_KEY          (1u << 8)

#define KMS_GRANT_TOKEN_LEN 64          /* base64 of 48 bytes */

uint32_t kms_grant_bit(const char *action);
int kms_grant_op_parse(const char *name, uint32_t *bit,
                       struct err_detail *d);
json_t *kms_grant_ops_json(uint32_t ops);
int kms_grant_id_new(char id[65]);
bool kms_grant_id_valid(const char *s);
int kms_grant_token_new(char *text, uint8_t hash[32]);
int kms_grant_token_hash(const char *text, uint8_t hash[32],
                         struct err_detail *d);
int kms_arg_grant_tokens(struct kms_req *r);
int kms_arg_constraints(struct kms_req *r, json_t **out);
bool kms_grant_constraints_hold(const json_t *cons, const json_t *ctx);
bool kms_grant_constraints_within(const json_t *parent, const json_t *child);
int kms_grant_check(struct kms_req *r, const struct meta_kms_key *key,
                    const char *action, const json_t *ctx, bool *yes,
                    bool *to_account);
int kms_grants_held(struct kms_req *r, const char *key_id, bool account,
                    struct meta_kms_grant **v, size_t *n);

/* ---- audit.c ----------------------------------------------------------- */

int kms_audit_open(struct kms_audit *a, const char *dir,
                   struct err_detail *d);
void kms_audit_close(struct kms_audit *a);

/* Append one line for r with outcome rc, fsync'd.  0 or CERR_IO. */
int kms_audit_write(struct kms_audit *a, const struct kms_req *r, int rc);

/* Count one call of r->op on r->arn. */
void kms_count(struct kms *k, const char *arn, const char *op);

/* ---- ops_*.c ----------------------------------------------------------- */

typedef int (*kms_op_fn)(struct kms_req *r);

int kms_op_create_key(struct kms_req *r);
int kms_op_describe_key(struct kms_req *r);
int kms_op_list_keys(struct kms_req *r);
int kms_op_enable_key(struct kms_req *r);
int kms_op_disable_key(struct kms_req *r);
int kms_op_schedule_deletion(struct kms_req *r);
int kms_op_cancel_deletion(struct kms_req *r);
int kms_op_update_description(struct kms_req *r);
int kms_op_get_policy(struct kms_req *r);
int kms_op_put_policy(struct kms_req *r);
int kms_op_tag_resource(struct kms_req *r);
int kms_op_untag_resource(struct kms_req *r);
int kms_op_list_tags(struct kms_req *r);
int kms_op_list_policies(struct kms_req *r);

int kms_op_enable_rotation(struct kms_req *r);
int kms_op_disable_rotation(struct kms_req *r);
int kms_op_rotation_status(struct kms_req *r);
int kms_op_rotate_now(struct kms_req *r);
int kms_op_list_rotations(struct kms_req *r);

/* Rotate a key whose automatic rotation date has passed (ops_rotation.c);
 * key->current_material follows.  0 or a store error. */
int kms_key_rotate_due(struct kms *k, struct meta_kms_key *key);

int kms_op_create_alias(struct kms_req *r);
int kms_op_update_alias(struct kms_req *r);
int kms_op_delete_alias(struct kms_req *r);
int kms_op_list_aliases(struct kms_req *r);

int kms_op_create_grant(struct kms_req *r);
int kms_op_list_grants(struct kms_req *r);
int kms_op_list_retirable_grants(struct kms_req *r);
int kms_op_retire_grant(struct kms_req *r);
int kms_op_revoke_grant(struct kms_req *r);

int kms_op_encrypt(struct kms_req *r);
int kms_op_decrypt(struct kms_req *r);
int kms_op_reencrypt(struct kms_req *r);
int kms_op_generate_data_key(struct kms_req *r);
int kms_op_generate_data_key_np(struct kms_req *r);
int kms_op_generate_random(struct kms_req *r);

/*
 * The cryptographic cores, shared by the API and the client.  encrypt:
 * resolve ref (any form), authorize `action`, check state, seal pt under
 * the current material into blob (capacity *bloblen).  decrypt: find the
 * key in the blob (key_ref, when not NULL, must name the same key:
 * CERR_KMS_INCORRECT_KEY), authorize kms:Decrypt, check state, open.
 */
int kms_core_encrypt(struct kms_req *r, const char *ref, const char *action,
                     const json_t *ctx, const void *pt, size_t len,
                     uint8_t *blob, size_t *bloblen);
int kms_core_decrypt(struct kms_req *r, const char *ref, const char *action,
                     const uint8_t *blob, size_t bloblen, const json_t *ctx,
                     uint8_t *pt, size_t *ptlen);

#endif
