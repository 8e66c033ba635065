/*
 * Metadata: everything coffer keeps except object bodies.  Settings,
 * wrapped server secrets, buckets, objects and their bodies, multipart
 * uploads and parts, S3 bucket keys, KMS keys, materials, aliases, tags.
 *
 * struct meta is opaque and thread-safe.  Every public function is one
 * transaction: it happens entirely or not at all, and what it returned 0
 * for survives a crash.  The SQLite back end (meta_sqlite.c) is the only
 * one today; back ends fill struct meta_ops in store_int.h.
 *
 * Conventions: strings in structs are fixed-size char arrays unless marked
 * (malloc); a struct filled by a _get or _list function is released with
 * the matching _clear / _list_free, which also accept a zeroed struct.
 * Keys and names sort in byte order.  A list function returns at most
 * `limit` rows (pass SIZE_MAX for all); ask for one more than a page to
 * learn whether the listing is truncated.  A _list function's *out is
 * malloc'd (NULL when *n is 0).
 *
 * Blob ids released by a change (an overwritten or deleted object, a
 * replaced part, an aborted upload) are written to a garbage table in the
 * same transaction and handed back in a struct meta_garbage.  The caller
 * removes the files, then calls meta_garbage_forget.  A blob id still
 * referenced by another row is never reported as garbage.
 */
#ifndef COFFER_STORE_META_H
#define COFFER_STORE_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct meta;
struct blob_store;

/*
 * Open (creating when missing) the SQLite database at path and bring its
 * schema up to date.  0, CERR_NOMEM, CERR_IO, CERR_CORRUPT (not a coffer
 * database, or a newer schema).  Free with meta_close.
 */
int meta_open_sqlite(const char *path, struct meta **out);

/* Close every connection and free m; NULL is fine. */
void meta_close(struct meta *m);

/*
 * Test hook: make the nth next writing transaction (n = 1: the very next
 * one) fail just before its commit with CERR_IO and roll back, as a crash
 * there would.  Reads are not counted.  n <= 0 turns it off.
 */
void meta_fail_nth(struct meta *m, int n);

/* ---- Settings and secrets --------------------------------------------- */

/* Small named settings (account id, ...).  CERR_NO_SUCH_KEY when unset;
 * CERR_INVALID_ARGUMENT when the value does not fit cap. */
int meta_setting_get(struct meta *m, const char *name, char *value,
                     size_t cap);
int meta_setting_put(struct meta *m, const char *name, const char *value);

/*
 * Server secrets, already wrapped by the caller (the store never sees a
 * plaintext key).  get: CERR_NO_SUCH_KEY when absent, CERR_INVALID_ARGUMENT
 * when cap is too small.  put_new: CERR_KMS_ALREADY_EXISTS when present, so
 * that of two racing first starts, the first writer wins and the other
 * reads its value.
 */
int meta_secret_get(struct meta *m, const char *name, uint8_t *wrapped,
                    size_t cap, size_t *len);
int meta_secret_put_new(struct meta *m, const char *name,
                        const uint8_t *wrapped, size_t len);

/* ---- Buckets ---------------------------------------------------------- */

struct meta_bucket {
    char name[64];
    int64_t created_ms;
    char location[32];          /* "" = the server's default region */
    bool has_encryption;        /* a rule was stored (PutBucketEncryption) */
    char sse_algorithm[16];     /* "AES256", "aws:kms", "aws:kms:dsse" */
    char kms_key_id[2049];      /* verbatim as the client sent it; "" none */
    bool bucket_key_enabled;
    char *policy;               /* malloc'd JSON text or NULL */
    char *tagging;              /* malloc'd XML text or NULL */
    char *public_access_block;  /* malloc'd XML text or NULL */
};

/* CERR_BUCKET_OWNED if a bucket of that name exists.  The encryption rule
 * and the malloc'd texts of b are stored too. */
int meta_bucket_create(struct meta *m, const struct meta_bucket *b);

/* All of one bucket, texts included.  CERR_NO_SUCH_BUCKET. */
int meta_bucket_get(struct meta *m, const char *name,
                    struct meta_bucket *out);

/* Every bucket sorted by name; policy, tagging and public_access_block
 * are left NULL.  Free with meta_bucket_list_free. */
int meta_bucket_list(struct meta *m, struct meta_bucket **out, size_t *n);

/* CERR_NO_SUCH_BUCKET; CERR_BUCKET_NOT_EMPTY while it holds objects or
 * open uploads.  Its bucket keys go with it. */
int meta_bucket_delete(struct meta *m, const char *name);

/* Store the default encryption rule; alg NULL deletes it.  kms_key_id may
 * be NULL or "".  CERR_NO_SUCH_BUCKET. */
int meta_bucket_set_encryption(struct meta *m, const char *name,
                               const char *alg, const char *kms_key_id,
                               bool bucket_key);

/* Store the policy text; NULL deletes it.  CERR_NO_SUCH_BUCKET. */
int meta_bucket_set_policy(struct meta *m, const char *name,
                           const char *policy);

/* which: "tagging" or "public_access_block" (else CERR_INVALID_ARGUMENT);
 * text NULL deletes.  CERR_NO_SUCH_BUCKET. */
int meta_bucket_set_config(struct meta *m, const char *name,
                           const char *which, const char *text);

void meta_bucket_clear(struct meta_bucket *b);
void meta_bucket_list_free(struct meta_bucket *v, size_t n);

/* ---- Objects ---------------------------------------------------------- */

/* Encryption record of an object or upload: opaque to the store, meaning
 * given by sse/. */
#define META_WRAPPED_MAX 1024
struct meta_sse {
    int mode;                   /* enum sse_mode of sse/sse.h */
    char kms_key_arn[256];
    bool bucket_key;
    int64_t bucket_key_id;      /* meta bucket-key row, 0 none */
    uint8_t wrapped[META_WRAPPED_MAX];
    size_t wrapped_len;
    char context[2048];         /* user's encryption context, JSON, "" none */
    uint8_t key_check[32];      /* SSE-C: recognises the customer key */
    bool has_key_check;
};

/* One stored body: a single PUT has one, a multipart object one per part. */
struct meta_body {
    char blob_id[33];
    uint8_t salt[32];           /* per-body key derivation salt */
    int part_number;            /* 0 for a single PUT */
    int64_t size;               /* plaintext bytes */
    int64_t offset;             /* plaintext offset in the object */
    char etag[48];              /* part ETag hex (no quotes) */
    char checksum[128];         /* part checksum, base64, "" none */
    int64_t mtime_ms;
};

struct meta_object {
    char bucket[64];
    char key[1025];
    int64_t size;
    int64_t mtime_ms;
    char etag[48];              /* hex, maybe "-N" suffix, no quotes */
    char *headers;              /* malloc'd JSON object: content-type,
                                 * content-encoding, content-disposition,
                                 * cache-control, content-language,
                                 * expires, x-amz-meta-*; NULL none */
    char *tagging;              /* malloc'd "k=v&k2=v2" or NULL */
    char checksum_alg[16];      /* "CRC32" ... "" none */
    char checksum[128];         /* base64 (multipart: "...-N") */
    char checksum_type[16];     /* "FULL_OBJECT" / "COMPOSITE" / "" */
    char upload_id[128];        /* the upload it came from; "" single PUT */
    struct meta_sse sse;
    struct meta_body *bodies;   /* malloc'd, ordered by offset */
    size_t nbodies;
};

/* Blob ids released by a change; ids is malloc'd. */
struct meta_garbage {
    char (*ids)[33];
    size_t n;
};

void meta_garbage_clear(struct meta_garbage *g);

/* Drop ids from the garbage table once their files are gone.  0 or an
 * error; ids that are not listed are ignored. */
int meta_garbage_forget(struct meta *m, const struct meta_garbage *g);

/* Every id in the garbage table (left there by a crash or a failed
 * removal), for the start-up sweep.  Free with meta_garbage_clear. */
int meta_garbage_pending(struct meta *m, struct meta_garbage *g);

/*
 * Insert or replace the object o->bucket / o->key with its bodies (their
 * offsets are stored as given).  The replaced object's blob ids go to *old
 * (old may be NULL: they then wait in the garbage table).  Sets nothing in
 * o.  CERR_NO_SUCH_BUCKET.
 */
int meta_object_put(struct meta *m, const struct meta_object *o,
                    struct meta_garbage *old);

/* One object with its bodies.  CERR_NO_SUCH_BUCKET, CERR_NO_SUCH_KEY.
 * Free with meta_object_clear. */
int meta_object_get(struct meta *m, const char *bucket, const char *key,
                    struct meta_object *out);

/* Delete one object; its blob ids go to *old (may be NULL).  A missing
 * object is 0 with nothing released; CERR_NO_SUCH_BUCKET. */
int meta_object_delete(struct meta *m, const char *bucket, const char *key,
                       struct meta_garbage *old);

/*
 * Up to limit objects whose key starts with prefix (NULL or "" = all) and
 * sorts after `after` (NULL or "" = from the start), in byte order.  Bodies
 * are not loaded; headers and tagging are.  CERR_NO_SUCH_BUCKET.  Free
 * with meta_object_list_free.
 */
int meta_object_list(struct meta *m, const char *bucket, const char *prefix,
                     const char *after, size_t limit,
                     struct meta_object **out, size_t *n);

/* Replace one object's tagging ("k=v&k2=v2"; NULL or "" removes it) and
 * nothing else of it.  CERR_NO_SUCH_BUCKET, CERR_NO_SUCH_KEY. */
int meta_object_set_tagging(struct meta *m, const char *bucket,
                            const char *key, const char *tagging);

void meta_object_clear(struct meta_object *o);
void meta_object_list_free(struct meta_object *v, size_t n);

/* ---- Multipart uploads ------------------------------------------------ */

struct meta_upload {
    char upload_id[128];
    char bucket[64];
    char key[1025];
    int64_t created_ms;
    char *headers;              /* malloc'd JSON as in meta_object */
    char *tagging;              /* malloc'd or NULL */
    char checksum_alg[16];
    char checksum_type[16];
    char req_sse[32];           /* x-amz-server-side-encryption as sent
                                 * at Create, "" none */
    char req_kms_key_id[2049];  /* ...-aws-kms-key-id as sent, "" none */
    struct meta_sse sse;
};

/* CERR_NO_SUCH_BUCKET; CERR_INTERNAL if the upload id is already used. */
int meta_upload_create(struct meta *m, const struct meta_upload *u);

/* The upload, which must belong to bucket/key.  CERR_NO_SUCH_UPLOAD.
 * Free with meta_upload_clear. */
int meta_upload_get(struct meta *m, const char *bucket, const char *key,
                    const char *upload_id, struct meta_upload *out);

/*
 * Open uploads of bucket whose key starts with prefix, sorted by key then
 * upload id.  Listing starts after key_marker: with id_marker NULL or ""
 * at keys > key_marker, else also at uploads of key_marker whose id sorts
 * after id_marker (S3's rule).  CERR_NO_SUCH_BUCKET.
 */
int meta_upload_list(struct meta *m, const char *bucket, const char *prefix,
                     const char *key_marker, const char *id_marker,
                     size_t limit, struct meta_upload **out, size_t *n);

void meta_upload_clear(struct meta_upload *u);
void meta_upload_list_free(struct meta_upload *v, size_t n);

/* Add or replace part part->part_number (offset ignored); a replaced
 * part's blob id goes to *old (may be NULL).  CERR_NO_SUCH_UPLOAD. */
int meta_part_put(struct meta *m, const char *upload_id,
                  const struct meta_body *part, struct meta_garbage *old);

/* Up to limit parts numbered above after_part, in part order (offsets 0).
 * CERR_NO_SUCH_UPLOAD.  *out malloc'd, plain free(). */
int meta_part_list(struct meta *m, const char *upload_id, int after_part,
                   size_t limit, struct meta_body **out, size_t *n);

/*
 * Finish an upload atomically.  o->bodies are the chosen parts in object
 * order; each must still be a part of the upload with the same blob id
 * (else CERR_INVALID_PART: it was replaced meanwhile).  The store sets
 * each body's offset from the sizes before it and the object's size to
 * their sum; everything else of o is stored as given.  The object
 * replaces any existing one, the upload and its part rows go, and the
 * unchosen parts' blobs and the old object's blobs go to *garbage (may be
 * NULL).  CERR_NO_SUCH_UPLOAD if the upload is gone.
 */
int meta_upload_complete(struct meta *m, const char *upload_id,
                         const struct meta_object *o,
                         struct meta_garbage *garbage);

/* Drop an upload and its parts; their blobs go to *garbage (may be NULL).
 * CERR_NO_SUCH_UPLOAD. */
int meta_upload_abort(struct meta *m, const char *upload_id,
                      struct meta_garbage *garbage);

/* ---- S3 bucket keys --------------------------------------------------- */

/* A bucket key, wrapped by KMS (blob is the KMS ciphertext blob). */
struct meta_bucket_key {
    int64_t id;
    char bucket[64];
    char kms_key_arn[256];
    uint8_t blob[META_WRAPPED_MAX];
    size_t blob_len;
    int64_t created_ms;
};

/* Store a new bucket key and set k->id (> 0).  CERR_NO_SUCH_BUCKET. */
int meta_bucket_key_add(struct meta *m, struct meta_bucket_key *k);

/* CERR_NO_SUCH_KEY. */
int meta_bucket_key_get(struct meta *m, int64_t id,
                        struct meta_bucket_key *out);

/* The newest key for (bucket, arn) created at or after not_before_ms.
 * CERR_NO_SUCH_KEY. */
int meta_bucket_key_latest(struct meta *m, const char *bucket,
                           const char *kms_key_arn, int64_t not_before_ms,
                           struct meta_bucket_key *out);

/* ---- KMS -------------------------------------------------------------- */

/*
 * The setting that counts changes to KMS keys, materials and aliases: each
 * write below adds one to it in its own transaction, so a reader that
 * reads it before a row knows the row is current while it is unchanged.
 * Unset until the first such write.
 */
#define META_KMS_GENERATION "kms_generation"

struct meta_kms_key {
    char key_id[37];
    int64_t created_ms;
    char *description;          /* malloc'd, never NULL after get */
    char state[24];             /* "Enabled", "Disabled", "PendingDeletion" */
    char manager[12];           /* "CUSTOMER", "AWS" */
    char alias_hint[64];        /* "aws/s3" for the AWS-managed S3 key */
    int64_t deletion_ms;        /* when PendingDeletion */
    int pending_days;
    char *policy;               /* malloc'd JSON, may be NULL */
    bool rotation_enabled;
    int rotation_days;
    int64_t next_rotation_ms;
    char current_material[65];
};

struct meta_kms_material {
    char key_id[37];
    char material_id[65];
    int64_t created_ms;
    char rotation_type[16];     /* "" first, "AUTOMATIC" / "ON_DEMAND" */
    uint8_t wrapped[256];       /* key material wrapped by the root key */
    size_t wrapped_len;
};

struct meta_kms_tag {
    char key[129];
    char value[257];
};

struct meta_kms_alias {
    char name[257];
    char key_id[37];
    int64_t created_ms;
    int64_t updated_ms;
};

/*
 * Create a key with its first material (which becomes current whatever
 * k->current_material says; mat may be NULL for a key without material)
 * and its tags.  CERR_KMS_ALREADY_EXISTS if the key id is taken,
 * CERR_INVALID_ARGUMENT if mat->key_id is not k->key_id.
 */
int meta_kms_key_create(struct meta *m, const struct meta_kms_key *k,
                        const struct meta_kms_material *mat,
                        const struct meta_kms_tag *tags, size_t ntags);

/* CERR_KMS_NOT_FOUND.  Free with meta_kms_key_clear. */
int meta_kms_key_get(struct meta *m, const char *key_id,
                     struct meta_kms_key *out);

/* Store every mutable field of k (description, state, deletion_ms,
 * pending_days, policy, rotation_*, current_material).
 * CERR_KMS_NOT_FOUND. */
int meta_kms_key_update(struct meta *m, const struct meta_kms_key *k);

/* Keys in creation order, starting after after_key_id (NULL or "" = from
 * the start; an unknown one is CERR_KMS_INVALID_MARKER). */
int meta_kms_key_list(struct meta *m, const char *after_key_id,
                      size_t limit, struct meta_kms_key **out, size_t *n);

/* Remove a key with its materials, aliases and tags.  CERR_KMS_NOT_FOUND. */
int meta_kms_key_delete(struct meta *m, const char *key_id);

void meta_kms_key_clear(struct meta_kms_key *k);
void meta_kms_key_list_free(struct meta_kms_key *v, size_t n);

/* Add a material to its key; when make_current is not NULL the key's
 * current material becomes that id.  CERR_KMS_NOT_FOUND (no such key),
 * CERR_KMS_ALREADY_EXISTS (material id taken). */
int meta_kms_material_add(struct meta *m, const struct meta_kms_material *mat,
                          const char *make_current);

/* CERR_KMS_NOT_FOUND. */
int meta_kms_material_get(struct meta *m, const char *key_id,
                          const char *material_id,
                          struct meta_kms_material *out);

/* A key's materials, oldest first; *out malloc'd, free() it (wipe first:
 * the material is wrapped, but still key material).  CERR_KMS_NOT_FOUND. */
int meta_kms_material_list(struct meta *m, const char *key_id,
                           struct meta_kms_material **out, size_t *n);

/* CERR_KMS_ALREADY_EXISTS (name taken), CERR_KMS_NOT_FOUND (no key). */
int meta_kms_alias_create(struct meta *m, const struct meta_kms_alias *a);

/* CERR_KMS_NOT_FOUND. */
int meta_kms_alias_get(struct meta *m, const char *name,
                       struct meta_kms_alias *out);

/* Point an alias at another key.  CERR_KMS_NOT_FOUND (alias or key). */
int meta_kms_alias_update(struct meta *m, const char *name,
                          const char *key_id, int64_t now_ms);

/* CERR_KMS_NOT_FOUND. */
int meta_kms_alias_delete(struct meta *m, const char *name);

/* Aliases sorted by name, of one key (key_id NULL: all), after after_name
 * (NULL or "" = from the start).  *out malloc'd, plain free(). */
int meta_kms_alias_list(struct meta *m, const char *key_id,
                        const char *after_name, size_t limit,
                        struct meta_kms_alias **out, size_t *n);

/* A key's tags sorted by tag key; *out malloc'd, plain free().
 * CERR_KMS_NOT_FOUND. */
int meta_kms_tags_get(struct meta *m, const char *key_id,
                      struct meta_kms_tag **out, size_t *n);

/* Insert or overwrite tags.  CERR_KMS_NOT_FOUND. */
int meta_kms_tags_put(struct meta *m, const char *key_id,
                      const struct meta_kms_tag *t, size_t n);

/* Remove the named tags; absent ones are ignored.  CERR_KMS_NOT_FOUND. */
int meta_kms_tags_delete(struct meta *m, const char *key_id,
                         const char *const *keys, size_t n);

/* ---- KMS grants (meta_grants.c, meta_sqlite_grants.c) ---------------- */

/*
 * A grant on a KMS key.  The store keeps the operations as an opaque bit
 * set (kms/ gives the bits their meaning) and the constraints as JSON
 * text.  Grant tokens are never stored, only their SHA-256: one grant may
 * have several tokens (an idempotent CreateGrant hands out a new one).
 */
struct meta_kms_grant {
    char grant_id[65];
    char key_id[37];
    char name[257];             /* "" none */
    char grantee[257];
    char retiring[257];         /* "" none */
    char issuer[128];           /* IssuingAccount, an account root ARN */
    uint32_t ops;
    char *constraints;          /* malloc'd JSON object, NULL none */
    int64_t created_ms;
};

/*
 * Store a new grant with its first token hash.  CERR_KMS_NOT_FOUND (no
 * such key), CERR_KMS_ALREADY_EXISTS (grant id or token hash taken).
 */
int meta_kms_grant_create(struct meta *m, const struct meta_kms_grant *g,
                          const uint8_t token_hash[32]);

/* Add another token hash to a grant.  CERR_KMS_NOT_FOUND (no grant). */
int meta_kms_grant_token_add(struct meta *m, const char *grant_id,
                             const uint8_t token_hash[32]);

/* One grant by id, or by the hash of one of its tokens.
 * CERR_KMS_NOT_FOUND.  Free with meta_kms_grant_clear. */
int meta_kms_grant_get(struct meta *m, const char *grant_id,
                       struct meta_kms_grant *out);
int meta_kms_grant_by_token(struct meta *m, const uint8_t token_hash[32],
                            struct meta_kms_grant *out);

/*
 * Grants in creation order that match every filter given (NULL = any):
 * key, grantee principal, retiring principal, name.  The listing starts
 * after the grant after_id (NULL or "" = from the start; an id that is
 * not a grant is CERR_KMS_INVALID_MARKER).  Free with
 * meta_kms_grant_list_free.
 */
int meta_kms_grant_list(struct meta *m, const char *key_id,
                        const char *grantee, const char *retiring,
                        const char *name, const char *after_id,
                        size_t limit, struct meta_kms_grant **out,
                        size_t *n);

/* Remove a grant and its token hashes.  CERR_KMS_NOT_FOUND. */
int meta_kms_grant_delete(struct meta *m, const char *grant_id);

void meta_kms_grant_clear(struct meta_kms_grant *g);
void meta_kms_grant_list_free(struct meta_kms_grant *v, size_t n);

/* ---- IAM users (meta_users.c, meta_sqlite_users.c) -------------------- */

/*
 * Users of the account, their access keys and their inline identity
 * policies.  A secret key reaches the store already wrapped under the
 * root key (the store never sees it in the clear).  Deleting a user
 * takes its keys and policies along only when asked to (AWS refuses with
 * DeleteConflict instead).
 */
#define META_USER_NAME_MAX 64
#define META_AKID_MAX 32
#define META_POLICY_NAME_MAX 128
#define META_USER_KEYS_MAX 2            /* AWS: two access keys per user */
#define META_SECRET_WRAPPED_MAX 256

struct meta_user {
    char name[META_USER_NAME_MAX + 1];
    char user_id[33];           /* stable unique id, "AIDA..." */
    int64_t created_ms;
};

struct meta_access_key {
    char akid[META_AKID_MAX + 1];   /* "AKIA..." */
    char user_name[META_USER_NAME_MAX + 1];
    bool active;
    int64_t created_ms;
    uint8_t wrapped[META_SECRET_WRAPPED_MAX];
    size_t wrapped_len;
};

struct meta_user_policy {
    char name[META_POLICY_NAME_MAX + 1];
    char *document;             /* malloc'd JSON text */
    int64_t updated_ms;
};

/* CERR_IAM_ENTITY_EXISTS when the name or the user id is taken. */
int meta_user_create(struct meta *m, const struct meta_user *u);

/* CERR_IAM_NO_SUCH_ENTITY. */
int meta_user_get(struct meta *m, const char *name, struct meta_user *out);

/* Every user, by name; *out plain malloc'd. */
int meta_user_list(struct meta *m, struct meta_user **out, size_t *n);

/*
 * Delete a user.  CERR_IAM_NO_SUCH_ENTITY; CERR_IAM_DELETE_CONFLICT while
 * it has access keys or policies, unless `force`, which deletes them in
 * the same transaction.
 */
int meta_user_delete(struct meta *m, const char *name, bool force);

/*
 * Store a new access key for k->user_name.  CERR_IAM_NO_SUCH_ENTITY (no
 * such user), CERR_IAM_ENTITY_EXISTS (key id taken),
 * CERR_IAM_LIMIT_EXCEEDED (the user has META_USER_KEYS_MAX keys).
 */
int meta_access_key_create(struct meta *m, const struct meta_access_key *k);

/*
 * One access key and its user in one read, for authentication.
 * CERR_IAM_NO_SUCH_ENTITY.  `user` may be NULL.
 */
int meta_access_key_get(struct meta *m, const char *akid,
                        struct meta_access_key *out,
                        struct meta_user *user);

/* A user's keys, oldest first; *out plain malloc'd (wipe: wrapped
 * secrets).  CERR_IAM_NO_SUCH_ENTITY. */
int meta_access_key_list(struct meta *m, const char *user_name,
                         struct meta_access_key **out, size_t *n);

/* Activate or deactivate a key.  CERR_IAM_NO_SUCH_ENTITY. */
int meta_access_key_set_active(struct meta *m, const char *akid,
                               bool active);

/* CERR_IAM_NO_SUCH_ENTITY. */
int meta_access_key_delete(struct meta *m, const char *akid);

/* Attach (or replace) a user's policy `name`.  CERR_IAM_NO_SUCH_ENTITY
 * (no such user). */
int meta_user_policy_put(struct meta *m, const char *user_name,
                         const char *name, const char *document,
                         int64_t now_ms);

/* CERR_IAM_NO_SUCH_ENTITY (no such user or policy). */
int meta_user_policy_delete(struct meta *m, const char *user_name,
                            const char *name);

/* A user's policies with their documents, by name.  Free with
 * meta_user_policy_list_free.  CERR_IAM_NO_SUCH_ENTITY. */
int meta_user_policy_list(struct meta *m, const char *user_name,
                          struct meta_user_policy **out, size_t *n);

void meta_user_policy_list_free(struct meta_user_policy *v, size_t n);

/* ---- Sweeping --------------------------------------------------------- */

/* *yes = whether any object body or part still references blob id. */
int meta_blob_referenced(struct meta *m, const char *id, bool *yes);

/*
 * Start-up clean-up.  Remove the blobs the garbage table lists and forget
 * them; then remove every committed blob that no row references and whose
 * file is older than min_age_ms (a body whose row is still being written
 * is younger).  *removed (may be NULL) counts files removed.  0 or the
 * first error; what failed stays for the next sweep.
 */
int meta_sweep(struct meta *m, struct blob_store *bs, int64_t min_age_ms,
               size_t *removed);

#endif
