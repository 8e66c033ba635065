/*
 * The SSE service and its S3 Bucket Key cache (sse.md §8, DESIGN.md
 * "Keys, from the top").
 *
 * A bucket key is one KMS data key per (bucket, KMS key) made with the
 * context {"aws:s3:arn": "arn:aws:s3:::BUCKET"}, stored in the metadata
 * as the KMS ciphertext blob and held unwrapped in memory.  New objects
 * reuse it for ttl_ms after KMS made it; after that the next write makes
 * a new one, and objects keep the one they were written with.  Reading
 * an object finds its bucket key by row id, in the cache or with one
 * Decrypt.  Every reuse of a cached key first asks KMS whether this
 * caller may use the key (ruling 14: not a KMS call), so a cached key
 * never lets through someone the key policy would refuse.
 *
 * The cache is a small array under one mutex held only for lookups; KMS
 * and metadata calls run outside it.  A second mutex serialises misses,
 * so concurrent first writes to a bucket make one bucket key, not many,
 * and concurrent first reads of it cost one Decrypt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "sse/sse_int.h"
#include "store/meta.h"
#include "util/timefmt.h"

#define DEFAULT_TTL_MS (10 * 60 * 1000)

/*
 * Open the service.  The strings of cfg are copied; m, k and kc must
 * outlive it.  0 or CERR_NOMEM / CERR_INTERNAL; free with sse_close.
 */
int
sse_open(const struct sse_config *cfg, struct meta *m, struct kms *k,
         const struct kms_client *kc, struct sse **out)
{
    struct sse *s;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return CERR_NOMEM;
    snprintf(s->region, sizeof(s->region), "%s", cfg->region);
    snprintf(s->account, sizeof(s->account), "%s", cfg->account);
    snprintf(s->via, sizeof(s->via), "s3.%s.amazonaws.com", cfg->region);
    s->ttl_ms = cfg->bucket_key_ttl_ms > 0 ? cfg->bucket_key_ttl_ms
        : DEFAULT_TTL_MS;
    s->meta = m;
    s->kms = k;
    s->kc = *kc;

    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return CERR_INTERNAL;
    }
    if (pthread_mutex_init(&s->fill, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        free(s);
        return CERR_INTERNAL;
    }
    *out = s;
    return 0;
}

/* Wipe every cached bucket key and free s (NULL is fine). */
void
sse_close(struct sse *s)
{
    if (s == NULL)
        return;
    crypto_wipe(s->cache, sizeof(s->cache));
    pthread_mutex_destroy(&s->fill);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Wipe an object key. */
void
sse_key_wipe(struct sse_key *k)
{
    crypto_wipe(k->bytes, sizeof(k->bytes));
}

/* The newest cached key for (bucket, arn) still young enough for writes. */
static bool
cache_find_write(struct sse *s, const char *bucket, const char *arn,
                 int64_t now, uint8_t key[32], int64_t *id)
{
    struct sse_bk_entry *e, *best = NULL;
    size_t i;

    pthread_mutex_lock(&s->lock);
    for (i = 0; i < s->ncache; i++) {
        e = &s->cache[i];
        if (e->created_ms + s->ttl_ms > now &&
            strcmp(e->bucket, bucket) == 0 && strcmp(e->arn, arn) == 0 &&
            (best == NULL || e->created_ms > best->created_ms))
            best = e;
    }
    if (best != NULL) {
        memcpy(key, best->key, 32);
        *id = best->id;
        best->used_ms = now;
    }
    pthread_mutex_unlock(&s->lock);
    return best != NULL;
}

/* Row id's key if cached within the TTL and it belongs to (bucket, arn). */
static bool
cache_find_read(struct sse *s, int64_t id, const char *bucket,
                const char *arn, int64_t now, uint8_t key[32])
{
    struct sse_bk_entry *e;
    bool found = false;
    size_t i;

    pthread_mutex_lock(&s->lock);
    for (i = 0; i < s->ncache && !found; i++) {
        e = &s->cache[i];
        if (e->id == id && e->loaded_ms + s->ttl_ms > now &&
            strcmp(e->bucket, bucket) == 0 && strcmp(e->arn, arn) == 0) {
            memcpy(key, e->key, 32);
            e->used_ms = now;
            found = true;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* Add a key, replacing its own row, a free slot or the least recently
 * used entry. */
static void
cache_insert(struct sse *s, const struct meta_bucket_key *row,
             const uint8_t key[32], int64_t now)
{
    struct sse_bk_entry *e = NULL;
    size_t i;

    pthread_mutex_lock(&s->lock);
    for (i = 0; i < s->ncache && e == NULL; i++)
        if (s->cache[i].id == row->id)
            e = &s->cache[i];
    if (e == NULL && s->ncache < SSE_BK_CACHE_MAX)
        e = &s->cache[s->ncache++];
    if (e == NULL) {
        e = &s->cache[0];
        for (i = 1; i < s->ncache; i++)
            if (s->cache[i].used_ms < e->used_ms)
                e = &s->cache[i];
    }

    e->id = row->id;
    snprintf(e->bucket, sizeof(e->bucket), "%s", row->bucket);
    snprintf(e->arn, sizeof(e->arn), "%s", row->kms_key_arn);
    memcpy(e->key, key, 32);
    e->created_ms = row->created_ms;
    e->loaded_ms = e->used_ms = now;
    pthread_mutex_unlock(&s->lock);
}

/*
 * The caller as KMS sees it when S3 acts for it: the same principal with
 * kms:ViaService set, unless the caller set it already.
 */
struct kms_caller
sse_via_s3(const struct sse *s, const struct kms_caller *c)
{
    struct kms_caller v = *c;

    if (v.via_service == NULL)
        v.via_service = s->via;
    return v;
}

/* Decrypt a stored bucket key row into key (one KMS Decrypt); a blob
 * of another KMS key than the row names is damage. */
static int
unwrap_row(struct sse *s, const struct kms_caller *c,
           const struct meta_bucket_key *row, const json_t *ctx,
           uint8_t key[32], struct err_detail *d)
{
    uint8_t plain[64];
    size_t len = sizeof(plain);
    char arn[KMS_ARN_MAX];
    int rc;

    rc = s->kc.ops->decrypt(s->kc.impl, c, row->blob, row->blob_len, ctx,
                            plain, &len, arn, d);
    if (rc == 0 && (len != 32 || strcmp(arn, row->kms_key_arn) != 0))
        rc = CERR_CORRUPT;
    if (rc == 0)
        memcpy(key, plain, 32);
    crypto_wipe(plain, sizeof(plain));
    return rc;
}

/* Make and store a new bucket key (one KMS GenerateDataKey). */
static int
make_row(struct sse *s, const struct kms_caller *c,
         struct meta_bucket_key *row, const json_t *ctx, uint8_t key[32],
         struct err_detail *d)
{
    char arn[KMS_ARN_MAX];
    int rc;

    row->blob_len = sizeof(row->blob);
    rc = s->kc.ops->generate_data_key(s->kc.impl, c, row->kms_key_arn, ctx,
                                      key, row->blob, &row->blob_len, arn,
                                      d);
    if (rc != 0)
        return rc;
    row->created_ms = time_now_ms();
    rc = meta_bucket_key_add(s->meta, row);
    if (rc != 0)
        crypto_wipe(key, 32);
    return rc;
}

/*
 * A cache miss for writes: under the fill lock, look again (another
 * thread may just have filled it), then reuse the newest stored key
 * still within the TTL, or make one.  *fresh tells whether KMS made the
 * key for this very call (then no separate authorization is needed).
 */
static int
fill_for_write(struct sse *s, const struct kms_caller *c,
               const char *bucket, const char *arn, const json_t *ctx,
               uint8_t key[32], int64_t *id, bool *fresh,
               struct err_detail *d)
{
    struct meta_bucket_key row;
    int64_t now = time_now_ms();
    int rc;

    *fresh = false;
    if (cache_find_write(s, bucket, arn, now, key, id))
        return 0;

    memset(&row, 0, sizeof(row));
    rc = meta_bucket_key_latest(s->meta, bucket, arn, now - s->ttl_ms, &row);
    if (rc == 0) {
        rc = unwrap_row(s, c, &row, ctx, key, d);
    } else if (rc == CERR_NO_SUCH_KEY) {
        snprintf(row.bucket, sizeof(row.bucket), "%s", bucket);
        snprintf(row.kms_key_arn, sizeof(row.kms_key_arn), "%s", arn);
        rc = make_row(s, c, &row, ctx, key, d);
        *fresh = rc == 0;
    }

    if (rc == 0) {
        cache_insert(s, &row, key, now);
        *id = row.id;
    }
    return rc;
}

/*
 * The bucket key for a new object under (bucket, arn); see sse_int.h.
 * On failure key is wiped.
 */
int
sse_bk_for_write(struct sse *s, const struct kms_caller *c,
                 const char *bucket, const char *arn, const json_t *ctx,
                 uint8_t key[32], int64_t *id, struct err_detail *d)
{
    struct kms_caller v = sse_via_s3(s, c);
    bool fresh = false;
    int rc = 0;

    if (!cache_find_write(s, bucket, arn, time_now_ms(), key, id)) {
        pthread_mutex_lock(&s->fill);
        rc = fill_for_write(s, &v, bucket, arn, ctx, key, id, &fresh, d);
        pthread_mutex_unlock(&s->fill);
    }

    /* A reused key (cached, or stored and just decrypted) needs the
     * caller's own right to make data keys under the KMS key. */
    if (rc == 0 && !fresh)
        rc = s->kc.ops->authorize(s->kc.impl, &v, arn,
                                  "kms:GenerateDataKey", ctx, d);
    if (rc != 0)
        crypto_wipe(key, 32);
    return rc;
}

/* Load row id, check it belongs to (bucket, arn), unwrap and cache it
 * (one Decrypt).  A row that is missing or belongs elsewhere is damage:
 * CERR_CORRUPT. */
static int
fill_for_read(struct sse *s, const struct kms_caller *c,
              const char *bucket, const char *arn, int64_t id,
              const json_t *ctx, uint8_t key[32], struct err_detail *d)
{
    struct meta_bucket_key row;
    int rc;

    rc = meta_bucket_key_get(s->meta, id, &row);
    if (rc == CERR_NO_SUCH_KEY)
        return CERR_CORRUPT;
    if (rc != 0)
        return rc;
    if (strcmp(row.bucket, bucket) != 0 || strcmp(row.kms_key_arn, arn) != 0)
        return CERR_CORRUPT;

    rc = unwrap_row(s, c, &row, ctx, key, d);
    if (rc == 0)
        cache_insert(s, &row, key, time_now_ms());
    return rc;
}

/*
 * The bucket key row id of a stored object; see sse_int.h.  A miss is
 * filled under the fill lock after looking again, so readers that miss
 * together (after a restart, say) cost one Decrypt between them, not
 * one each.  On failure key is wiped.
 */
int
sse_bk_for_read(struct sse *s, const struct kms_caller *c,
                const char *bucket, const char *arn, int64_t id,
                const json_t *ctx, uint8_t key[32], struct err_detail *d)
{
    struct kms_caller v = sse_via_s3(s, c);
    bool cached;
    int rc = 0;

    cached = cache_find_read(s, id, bucket, arn, time_now_ms(), key);
    if (!cached) {
        pthread_mutex_lock(&s->fill);
        cached = cache_find_read(s, id, bucket, arn, time_now_ms(), key);
        if (!cached)
            rc = fill_for_read(s, &v, bucket, arn, id, ctx, key, d);
        pthread_mutex_unlock(&s->fill);
    }

    /* A cached key needs the caller's own right to decrypt under the
     * KMS key; a fresh Decrypt has just checked it. */
    if (rc == 0 && cached)
        rc = s->kc.ops->authorize(s->kc.impl, &v, arn, "kms:Decrypt", ctx,
                                  d);
    if (rc != 0)
        crypto_wipe(key, 32);
    return rc;
}
