/*
 * What the files of sse/ share and nobody else sees: the service state
 * and the bucket-key cache behind it (sse.c), used by the object key
 * code (sse_object.c).
 */
#ifndef COFFER_SSE_SSE_INT_H
#define COFFER_SSE_SSE_INT_H

#include <pthread.h>

#include "kms/kms.h"
#include "sse/sse.h"

#define SSE_BK_CACHE_MAX 256

/* One unwrapped bucket key held in memory. */
struct sse_bk_entry {
    int64_t id;                 /* meta bucket-key row */
    char bucket[64];
    char arn[KMS_ARN_MAX];
    uint8_t key[32];
    int64_t created_ms;         /* when KMS made it: bounds reuse for writes */
    int64_t loaded_ms;          /* when it entered the cache: bounds reads */
    int64_t used_ms;            /* last hit: the least recent is evicted */
};

struct sse {
    char region[32];
    char account[16];
    char via[64];               /* kms:ViaService for calls made for S3 */
    int64_t ttl_ms;
    struct meta *meta;
    struct kms *kms;
    struct kms_client kc;

    pthread_mutex_t lock;       /* guards the cache, held for lookups only */
    pthread_mutex_t fill;       /* one bucket key made or loaded at a time */
    struct sse_bk_entry cache[SSE_BK_CACHE_MAX];
    size_t ncache;
};

/* c with kms:ViaService = s3.<region>.amazonaws.com unless already set. */
struct kms_caller sse_via_s3(const struct sse *s, const struct kms_caller *c);

/*
 * The bucket key to derive a new object's data keys from, for (bucket,
 * key ARN): a cached one made within the TTL (caller authorized for
 * kms:GenerateDataKey), else the newest stored one within the TTL (one
 * Decrypt), else a new one (one GenerateDataKey, stored).  ctx is the
 * bucket-ARN context.  0 or a CERR_* with d filled.
 */
int sse_bk_for_write(struct sse *s, const struct kms_caller *c,
                     const char *bucket, const char *arn, const json_t *ctx,
                     uint8_t key[32], int64_t *id, struct err_detail *d);

/*
 * The bucket key row `id` of a stored object: cached (caller authorized
 * for kms:Decrypt) or loaded and decrypted (one Decrypt).  The row must
 * belong to (bucket, arn), else CERR_CORRUPT.
 */
int sse_bk_for_read(struct sse *s, const struct kms_caller *c,
                    const char *bucket, const char *arn, int64_t id,
                    const json_t *ctx, uint8_t key[32],
                    struct err_detail *d);

#endif
