/*
 * Public entry points of the metadata store: thin dispatchers to the back
 * end's struct meta_ops (store_int.h), the back-end-independent _clear
 * helpers, and the start-up sweep that joins metadata and blobs.
 *
 * Dispatchers zero every output first, so a caller may run the matching
 * _clear on an output whatever the call returned.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/err.h"

/* Close the store and free m; NULL is fine. */
void
meta_close(struct meta *m)
{
    if (m != NULL)
        m->ops->close(m);
}

/* Arm the writing-transaction fault hook (tests only). */
void
meta_fail_nth(struct meta *m, int n)
{
    m->ops->fail_nth(m, n);
}

/* ---- Settings and secrets --------------------------------------------- */

/* Read a setting into value; CERR_NO_SUCH_KEY when unset. */
int
meta_setting_get(struct meta *m, const char *name, char *value, size_t cap)
{
    if (cap > 0)
        value[0] = '\0';
    return m->ops->setting_get(m, name, value, cap);
}

/* Insert or overwrite a setting. */
int
meta_setting_put(struct meta *m, const char *name, const char *value)
{
    return m->ops->setting_put(m, name, value);
}

/* Read a wrapped secret; CERR_NO_SUCH_KEY when absent. */
int
meta_secret_get(struct meta *m, const char *name, uint8_t *wrapped,
                size_t cap, size_t *len)
{
    *len = 0;
    return m->ops->secret_get(m, name, wrapped, cap, len);
}

/* Store a wrapped secret once; CERR_KMS_ALREADY_EXISTS when present. */
int
meta_secret_put_new(struct meta *m, const char *name, const uint8_t *wrapped,
                    size_t len)
{
    return m->ops->secret_put_new(m, name, wrapped, len);
}

/* ---- Buckets ---------------------------------------------------------- */

/* Create a bucket; CERR_BUCKET_OWNED when the name is taken. */
int
meta_bucket_create(struct meta *m, const struct meta_bucket *b)
{
    return m->ops->bucket_create(m, b);
}

/* Read one bucket; CERR_NO_SUCH_BUCKET.  Free with meta_bucket_clear. */
int
meta_bucket_get(struct meta *m, const char *name, struct meta_bucket *out)
{
    memset(out, 0, sizeof(*out));
    return m->ops->bucket_get(m, name, out);
}

/* All buckets by name; free with meta_bucket_list_free. */
int
meta_bucket_list(struct meta *m, struct meta_bucket **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return m->ops->bucket_list(m, out, n);
}

/* Delete an empty bucket; CERR_NO_SUCH_BUCKET, CERR_BUCKET_NOT_EMPTY. */
int
meta_bucket_delete(struct meta *m, const char *name)
{
    return m->ops->bucket_delete(m, name);
}

/* Store or (alg NULL) delete the default encryption rule. */
int
meta_bucket_set_encryption(struct meta *m, const char *name, const char *alg,
                           const char *kms_key_id, bool bucket_key)
{
    return m->ops->bucket_set_encryption(m, name, alg, kms_key_id,
                                         bucket_key);
}

/* Store or (NULL) delete the bucket policy text. */
int
meta_bucket_set_policy(struct meta *m, const char *name, const char *policy)
{
    return m->ops->bucket_set_text(m, name, "policy", policy);
}

/* Store or (NULL) delete the tagging or public-access-block text. */
int
meta_bucket_set_config(struct meta *m, const char *name, const char *which,
                       const char *text)
{
    if (strcmp(which, "tagging") != 0 &&
        strcmp(which, "public_access_block") != 0)
        return CERR_INVALID_ARGUMENT;
    return m->ops->bucket_set_text(m, name, which, text);
}

/* Free a bucket's texts and zero it. */
void
meta_bucket_clear(struct meta_bucket *b)
{
    if (b == NULL)
        return;
    free(b->policy);
    free(b->tagging);
    free(b->public_access_block);
    memset(b, 0, sizeof(*b));
}

/* Free a bucket list. */
void
meta_bucket_list_free(struct meta_bucket *v, size_t n)
{
    size_t i;

    for (i = 0; v != NULL && i < n; i++)
        meta_bucket_clear(&v[i]);
    free(v);
}

/* ---- Garbage ---------------------------------------------------------- */

/* Free the id list and zero g; NULL is fine. */
void
meta_garbage_clear(struct meta_garbage *g)
{
    if (g == NULL)
        return;
    free(g->ids);
    g->ids = NULL;
    g->n = 0;
}

/* Drop removed blob ids from the garbage table. */
int
meta_garbage_forget(struct meta *m, const struct meta_garbage *g)
{
    if (g == NULL || g->n == 0)
        return 0;
    return m->ops->garbage_forget(m, g);
}

/* Every id waiting in the garbage table; free with meta_garbage_clear. */
int
meta_garbage_pending(struct meta *m, struct meta_garbage *g)
{
    g->ids = NULL;
    g->n = 0;
    return m->ops->garbage_pending(m, g);
}

/* Whether any object body or part row names blob id. */
int
meta_blob_referenced(struct meta *m, const char *id, bool *yes)
{
    *yes = false;
    return m->ops->blob_referenced(m, id, yes);
}

/* ---- Objects ---------------------------------------------------------- */

/* Zero a garbage output the caller passed (it may be NULL). */
static void
garbage_init(struct meta_garbage *g)
{
    if (g != NULL) {
        g->ids = NULL;
        g->n = 0;
    }
}

/* Insert or replace an object; released blob ids go to *old. */
int
meta_object_put(struct meta *m, const struct meta_object *o,
                struct meta_garbage *old)
{
    garbage_init(old);
    return m->ops->object_put(m, o, old);
}

/* Read one object with its bodies; free with meta_object_clear. */
int
meta_object_get(struct meta *m, const char *bucket, const char *key,
                struct meta_object *out)
{
    memset(out, 0, sizeof(*out));
    return m->ops->object_get(m, bucket, key, out);
}

/* Delete one object; released blob ids go to *old. */
int
meta_object_delete(struct meta *m, const char *bucket, const char *key,
                   struct meta_garbage *old)
{
    garbage_init(old);
    return m->ops->object_delete(m, bucket, key, old);
}

/* One page of a bucket's objects; free with meta_object_list_free. */
int
meta_object_list(struct meta *m, const char *bucket, const char *prefix,
                 const char *after, size_t limit, struct meta_object **out,
                 size_t *n)
{
    *out = NULL;
    *n = 0;
    return m->ops->object_list(m, bucket, prefix ? prefix : "",
                               after ? after : "", limit, out, n);
}

/* Replace an object's tagging text; NULL or "" removes it. */
int
meta_object_set_tagging(struct meta *m, const char *bucket, const char *key,
                        const char *tagging)
{
    return m->ops->object_set_tagging(m, bucket, key, tagging);
}

/* Free an object's texts and bodies and zero it; NULL is fine.  The
 * wrapped key is wiped: it is sealed, but still key material. */
void
meta_object_clear(struct meta_object *o)
{
    if (o == NULL)
        return;
    free(o->headers);
    free(o->tagging);
    free(o->bodies);
    crypto_wipe(o, sizeof(*o));
}

/* Free an object list. */
void
meta_object_list_free(struct meta_object *v, size_t n)
{
    size_t i;

    for (i = 0; v != NULL && i < n; i++)
        meta_object_clear(&v[i]);
    free(v);
}

/* ---- Multipart uploads ------------------------------------------------ */

/* Record a new upload; CERR_NO_SUCH_BUCKET. */
int
meta_upload_create(struct meta *m, const struct meta_upload *u)
{
    return m->ops->upload_create(m, u);
}

/* Read one upload of bucket/key; CERR_NO_SUCH_UPLOAD. */
int
meta_upload_get(struct meta *m, const char *bucket, const char *key,
                const char *upload_id, struct meta_upload *out)
{
    memset(out, 0, sizeof(*out));
    return m->ops->upload_get(m, bucket, key, upload_id, out);
}

/* One page of a bucket's open uploads; free with meta_upload_list_free. */
int
meta_upload_list(struct meta *m, const char *bucket, const char *prefix,
                 const char *key_marker, const char *id_marker, size_t limit,
                 struct meta_upload **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return m->ops->upload_list(m, bucket, prefix ? prefix : "",
                               key_marker ? key_marker : "",
                               id_marker ? id_marker : "", limit, out, n);
}

/* Free an upload's texts and zero it; NULL is fine. */
void
meta_upload_clear(struct meta_upload *u)
{
    if (u == NULL)
        return;
    free(u->headers);
    free(u->tagging);
    crypto_wipe(u, sizeof(*u));
}

/* Free an upload list. */
void
meta_upload_list_free(struct meta_upload *v, size_t n)
{
    size_t i;

    for (i = 0; v != NULL && i < n; i++)
        meta_upload_clear(&v[i]);
    free(v);
}

/* Add or replace a part; a replaced blob id goes to *old. */
int
meta_part_put(struct meta *m, const char *upload_id,
              const struct meta_body *part, struct meta_garbage *old)
{
    garbage_init(old);
    return m->ops->part_put(m, upload_id, part, old);
}

/* One page of an upload's parts; *out is plain malloc'd. */
int
meta_part_list(struct meta *m, const char *upload_id, int after_part,
               size_t limit, struct meta_body **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return m->ops->part_list(m, upload_id, after_part, limit, out, n);
}

/* Turn an upload into its object; see meta.h. */
int
meta_upload_complete(struct meta *m, const char *upload_id,
                     const struct meta_object *o,
                     struct meta_garbage *garbage)
{
    garbage_init(garbage);
    return m->ops->upload_complete(m, upload_id, o, garbage);
}

/* Drop an upload; its part blobs go to *garbage. */
int
meta_upload_abort(struct meta *m, const char *upload_id,
                  struct meta_garbage *garbage)
{
    garbage_init(garbage);
    return m->ops->upload_abort(m, upload_id, garbage);
}

/* ---- S3 bucket keys --------------------------------------------------- */

/* Store a bucket key and set k->id. */
int
meta_bucket_key_add(struct meta *m, struct meta_bucket_key *k)
{
    return m->ops->bucket_key_add(m, k);
}

/* Read a bucket key by id; CERR_NO_SUCH_KEY. */
int
meta_bucket_key_get(struct meta *m, int64_t id, struct meta_bucket_key *out)
{
    memset(out, 0, sizeof(*out));
    return m->ops->bucket_key_get(m, id, out);
}

/* The newest usable bucket key; CERR_NO_SUCH_KEY. */
int
meta_bucket_key_latest(struct meta *m, const char *bucket,
                       const char *kms_key_arn, int64_t not_before_ms,
                       struct meta_bucket_key *out)
{
    memset(out, 0, sizeof(*out));
    return m->ops->bucket_key_latest(m, bucket, kms_key_arn, not_before_ms,
                                     out);
}

/* ---- KMS -------------------------------------------------------------- */

/* Create a key with its first material and tags. */
int
meta_kms_key_create(struct meta *m, const struct meta_kms_key *k,
                    const struct meta_kms_material *mat,
                    const struct meta_kms_tag *tags, size_t ntags)
{
    return m->ops->kms_key_create(m, k, mat, tags, ntags);
}

/* Read a key; CERR_KMS_NOT_FOUND.  Free with meta_kms_key_clear. */
int
meta_kms_key_get(struct meta *m, const char *key_id, struct meta_kms_key *out)
{
    memset(out, 0, sizeof(*out));
    return m->ops->kms_key_get(m, key_id, out);
}

/* Store a key's mutable fields; CERR_KMS_NOT_FOUND. */
int
meta_kms_key_update(struct meta *m, const struct meta_kms_key *k)
{
    return m->ops->kms_key_update(m, k);
}

/* One page of keys in creation order; free with meta_kms_key_list_free. */
int
meta_kms_key_list(struct meta *m, const char *after_key_id, size_t limit,
                  struct meta_kms_key **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return m->ops->kms_key_list(m, after_key_id ? after_key_id : "", limit,
                                out, n);
}

/* Remove a key and everything hanging off it; CERR_KMS_NOT_FOUND. */
int
meta_kms_key_delete(struct meta *m, const char *key_id)
{
    return m->ops->kms_key_delete(m, key_id);
}

/* Free a key's texts and zero it; NULL is fine. */
void
meta_kms_key_clear(struct meta_kms_key *k)
{
    if (k == NULL)
        return;
    free(k->description);
    free(k->policy);
    memset(k, 0, sizeof(*k));
}

/* Free a key list. */
void
meta_kms_key_list_free(struct meta_kms_key *v, size_t n)
{
    size_t i;

    for (i = 0; v != NULL && i < n; i++)
        meta_kms_key_clear(&v[i]);
    free(v);
}

/* Add a material, optionally making it current. */
int
meta_kms_material_add(struct meta *m, const struct meta_kms_material *mat,
                      const char *make_current)
{
    return m->ops->kms_material_add(m, mat, make_current);
}

/* Read one material; CERR_KMS_NOT_FOUND. */
int
meta_kms_material_get(struct meta *m, const char *key_id,
                      const char *material_id, struct meta_kms_material *out)
{
    memset(out, 0, sizeof(*out));
    return m->ops->kms_material_get(m, key_id, material_id, out);
}

/* A key's materials, oldest first; *out plain malloc'd. */
int
meta_kms_material_list(struct meta *m, const char *key_id,
                       struct meta_kms_material **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return m->ops->kms_material_list(m, key_id, out, n);
}

/* Create an alias; CERR_KMS_ALREADY_EXISTS, CERR_KMS_NOT_FOUND. */
int
meta_kms_alias_create(struct meta *m, const struct meta_kms_alias *a)
{
    return m->ops->kms_alias_create(m, a);
}

/* Read an alias; CERR_KMS_NOT_FOUND. */
int
meta_kms_alias_get(struct meta *m, const char *name,
                   struct meta_kms_alias *out)
{
    memset(out, 0, sizeof(*out));
    return m->ops->kms_alias_get(m, name, out);
}

/* Repoint an alias; CERR_KMS_NOT_FOUND. */
int
meta_kms_alias_update(struct meta *m, const char *name, const char *key_id,
                      int64_t now_ms)
{
    return m->ops->kms_alias_update(m, name, key_id, now_ms);
}

/* Delete an alias; CERR_KMS_NOT_FOUND. */
int
meta_kms_alias_delete(struct meta *m, const char *name)
{
    return m->ops->kms_alias_delete(m, name);
}

/* One page of aliases by name; *out plain malloc'd. */
int
meta_kms_alias_list(struct meta *m, const char *key_id,
                    const char *after_name, size_t limit,
                    struct meta_kms_alias **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return m->ops->kms_alias_list(m, key_id, after_name ? after_name : "",
                                  limit, out, n);
}

/* A key's tags by tag key; *out plain malloc'd. */
int
meta_kms_tags_get(struct meta *m, const char *key_id,
                  struct meta_kms_tag **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return m->ops->kms_tags_get(m, key_id, out, n);
}

/* Insert or overwrite tags of a key. */
int
meta_kms_tags_put(struct meta *m, const char *key_id,
                  const struct meta_kms_tag *t, size_t n)
{
    return m->ops->kms_tags_put(m, key_id, t, n);
}

/* Remove tags of a key by tag key. */
int
meta_kms_tags_delete(struct meta *m, const char *key_id,
                     const char *const *keys, size_t n)
{
    return m->ops->kms_tags_delete(m, key_id, keys, n);
}
