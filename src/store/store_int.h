/*
 * Internals shared by the store's files: the two back-end interfaces.
 *
 * A back end embeds struct blob_store / struct meta as the first member of
 * its own state and points `ops` at its table; writers and readers embed
 * struct blob_writer / struct blob_reader the same way.  blob.c and meta.c
 * only dispatch through these tables, so a new back end (RADOS, PostgreSQL)
 * is a new file that fills one of them.
 */
#ifndef COFFER_STORE_STORE_INT_H
#define COFFER_STORE_STORE_INT_H

#include "store/blob.h"
#include "store/meta.h"

struct blob_ops {
    void (*close)(struct blob_store *s);
    int (*writer_new)(struct blob_store *s, struct blob_writer **out);
    int (*writer_write)(struct blob_writer *w, const void *data, size_t len);
    int (*writer_commit)(struct blob_writer *w, char id[BLOB_ID_LEN]);
    void (*writer_abort)(struct blob_writer *w);
    int (*reader_open)(struct blob_store *s, const char *id,
                       struct blob_reader **out);
    int (*reader_pread)(struct blob_reader *r, void *buf, size_t len,
                        uint64_t off, size_t *got);
    void (*reader_close)(struct blob_reader *r);
    int (*remove)(struct blob_store *s, const char *id);
    int (*foreach)(struct blob_store *s,
                   int (*fn)(const char *id, int64_t mtime_ms, void *arg),
                   void *arg);
    void (*fail_nth)(struct blob_store *s, const char *op, int n);
};

struct blob_store {
    const struct blob_ops *ops;
};

/* The dispatcher keeps `size` current on every successful write. */
struct blob_writer {
    struct blob_store *store;
    uint64_t size;
};

/* The back end sets `size` when it opens the reader. */
struct blob_reader {
    struct blob_store *store;
    uint64_t size;
};

/* True when id is 32 lowercase hex digits, the only ids the store makes. */
bool blob_id_valid(const char *id);

struct meta_ops {
    void (*close)(struct meta *m);
    void (*fail_nth)(struct meta *m, int n);

    int (*setting_get)(struct meta *m, const char *name, char *value,
                       size_t cap);
    int (*setting_put)(struct meta *m, const char *name, const char *value);
    int (*secret_get)(struct meta *m, const char *name, uint8_t *wrapped,
                      size_t cap, size_t *len);
    int (*secret_put_new)(struct meta *m, const char *name,
                          const uint8_t *wrapped, size_t len);

    int (*bucket_create)(struct meta *m, const struct meta_bucket *b);
    int (*bucket_get)(struct meta *m, const char *name,
                      struct meta_bucket *out);
    int (*bucket_list)(struct meta *m, struct meta_bucket **out, size_t *n);
    int (*bucket_delete)(struct meta *m, const char *name);
    int (*bucket_set_encryption)(struct meta *m, const char *name,
                                 const char *alg, const char *kms_key_id,
                                 bool bucket_key);
    int (*bucket_set_text)(struct meta *m, const char *name,
                           const char *which, const char *text);

    int (*garbage_forget)(struct meta *m, const struct meta_garbage *g);
    int (*garbage_pending)(struct meta *m, struct meta_garbage *g);
    int (*blob_referenced)(struct meta *m, const char *id, bool *yes);

    int (*object_put)(struct meta *m, const struct meta_object *o,
                      struct meta_garbage *old);
    int (*object_get)(struct meta *m, const char *bucket, const char *key,
                      struct meta_object *out);
    int (*object_delete)(struct meta *m, const char *bucket,
                         const char *key, struct meta_garbage *old);
    int (*object_list)(struct meta *m, const char *bucket,
                       const char *prefix, const char *after, size_t limit,
                       struct meta_object **out, size_t *n);
    int (*object_set_tagging)(struct meta *m, const char *bucket,
                              const char *key, const char *tagging);

    int (*upload_create)(struct meta *m, const struct meta_upload *u);
    int (*upload_get)(struct meta *m, const char *bucket, const char *key,
                      const char *upload_id, struct meta_upload *out);
    int (*upload_list)(struct meta *m, const char *bucket,
                       const char *prefix, const char *key_marker,
                       const char *id_marker, size_t limit,
                       struct meta_upload **out, size_t *n);
    int (*part_put)(struct meta *m, const char *upload_id,
                    const struct meta_body *part, struct meta_garbage *old);
    int (*part_list)(struct meta *m, const char *upload_id, int after_part,
                     size_t limit, struct meta_body **out, size_t *n);
    int (*upload_complete)(struct meta *m, const char *upload_id,
                           const struct meta_object *o,
                           struct meta_garbage *garbage);
    int (*upload_abort)(struct meta *m, const char *upload_id,
                        struct meta_garbage *garbage);

    int (*bucket_key_add)(struct meta *m, struct meta_bucket_key *k);
    int (*bucket_key_get)(struct meta *m, int64_t id,
                          struct meta_bucket_key *out);
    int (*bucket_key_latest)(struct meta *m, const char *bucket,
                             const char *kms_key_arn, int64_t not_before_ms,
                             struct meta_bucket_key *out);

    int (*kms_key_create)(struct meta *m, const struct meta_kms_key *k,
                          const struct meta_kms_material *mat,
                          const struct meta_kms_tag *tags, size_t ntags);
    int (*kms_key_get)(struct meta *m, const char *key_id,
                       struct meta_kms_key *out);
    int (*kms_key_update)(struct meta *m, const struct meta_kms_key *k);
    int (*kms_key_list)(struct meta *m, const char *after_key_id,
                        size_t limit, struct meta_kms_key **out, size_t *n);
    int (*kms_key_delete)(struct meta *m, const char *key_id);
    int (*kms_material_add)(struct meta *m,
                            const struct meta_kms_material *mat,
                            const char *make_current);
    int (*kms_material_get)(struct meta *m, const char *key_id,
                            const char *material_id,
                            struct meta_kms_material *out);
    int (*kms_material_list)(struct meta *m, const char *key_id,
                             struct meta_kms_material **out, size_t *n);
    int (*kms_alias_create)(struct meta *m, const struct meta_kms_alias *a);
    int (*kms_alias_get)(struct meta *m, const char *name,
                         struct meta_kms_alias *out);
    int (*kms_alias_update)(struct meta *m, const char *name,
                            const char *key_id, int64_t now_ms);
    int (*kms_alias_delete)(struct meta *m, const char *name);
    int (*kms_alias_list)(struct meta *m, const char *key_id,
                          const char *after_name, size_t limit,
                          struct meta_kms_alias **out, size_t *n);
    int (*kms_tags_get)(struct meta *m, const char *key_id,
                        struct meta_kms_tag **out, size_t *n);
    int (*kms_tags_put)(struct meta *m, const char *key_id,
                        const struct meta_kms_tag *t, size_t n);
    int (*kms_tags_delete)(struct meta *m, const char *key_id,
                           const char *const *keys, size_t n);
    int (*kms_grant_create)(struct meta *m, const struct meta_kms_grant *g,
                            const uint8_t token_hash[32]);
    int (*kms_grant_token_add)(struct meta *m, const char *grant_id,
                               const uint8_t token_hash[32]);
    int (*kms_grant_get)(struct meta *m, const char *grant_id,
                         const uint8_t *token_hash,
                         struct meta_kms_grant *out);
    int (*kms_grant_list)(struct meta *m, const char *key_id,
                          const char *grantee, const char *retiring,
                          const char *name, const char *after_id,
                          size_t limit, struct meta_kms_grant **out,
                          size_t *n);
    int (*kms_grant_delete)(struct meta *m, const char *grant_id);
    int (*user_create)(struct meta *m, const struct meta_user *u);
    int (*user_get)(struct meta *m, const char *name, struct meta_user *out);
    int (*user_list)(struct meta *m, struct meta_user **out, size_t *n);
    int (*user_delete)(struct meta *m, const char *name, bool force);
    int (*access_key_create)(struct meta *m,
                             const struct meta_access_key *k);
    int (*access_key_get)(struct meta *m, const char *akid,
                          struct meta_access_key *out,
                          struct meta_user *user);
    int (*access_key_list)(struct meta *m, const char *user_name,
                           struct meta_access_key **out, size_t *n);
    int (*access_key_set_active)(struct meta *m, const char *akid,
                                 bool active);
    int (*access_key_delete)(struct meta *m, const char *akid);
    int (*user_policy_put)(struct meta *m, const char *user_name,
                           const char *name, const char *document,
                           int64_t now_ms);
    int (*user_policy_delete)(struct meta *m, const char *user_name,
                              const char *name);
    int (*user_policy_list)(struct meta *m, const char *user_name,
                            struct meta_user_policy **out, size_t *n);
};

struct meta {
    const struct meta_ops *ops;
};

#endif
