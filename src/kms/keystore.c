/*
 * Key material: 32 random bytes per material version of a KMS key, kept in
 * the store wrapped by the root key, and the server's internal keys, kept
 * the same way as named secrets.  Wrapped form, 60 bytes:
 *
 *     nonce(12) | AES-256-GCM ciphertext of the 32 bytes | tag(16)
 *
 * with additional data binding the wrapped bytes to where they belong
 * (key id and material id, or the internal key's purpose), so a row copied
 * onto another key fails to unwrap.  Unwrapped materials are cached in a
 * small table (least recently used goes first, wiped on eviction and on
 * close); internal keys are few and stay cached.
 */
#include "kms/kms_int.h"
#include "crypto/crypto.h"
#include "util/codec.h"
#include "util/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRAP_LEN (CRYPTO_NONCE_LEN + 32 + CRYPTO_TAG_LEN)
#define MAT_AAD "coffer kms material v1"
#define INT_AAD "coffer internal key v1"
#define INT_SECRET "kms-internal/"

/* AAD = label, NUL, then each part with its NUL. */
static void
wrap_aad(struct buf *b, const char *label, const char *p1, const char *p2)
{
    buf_append(b, label, strlen(label) + 1);
    buf_append(b, p1, strlen(p1) + 1);
    if (p2 != NULL)
        buf_append(b, p2, strlen(p2) + 1);
}

static int
wrap(const struct kms *k, const struct buf *aad, const uint8_t raw[32],
     uint8_t out[WRAP_LEN])
{
    struct crypto_aead *a;
    int rc;

    if (buf_failed(aad))
        return CERR_NOMEM;
    rc = crypto_random(out, CRYPTO_NONCE_LEN);
    if (rc != 0)
        return rc;
    a = crypto_aead_new(k->root_key);
    if (a == NULL)
        return CERR_NOMEM;
    rc = crypto_aead_seal(a, out, aad->data, aad->len, raw, 32,
                          out + CRYPTO_NONCE_LEN,
                          out + CRYPTO_NONCE_LEN + 32);
    crypto_aead_free(a);
    return rc;
}

/* CERR_CORRUPT when the wrapped bytes fail to authenticate. */
static int
unwrap(const struct kms *k, const struct buf *aad, const uint8_t *in,
       size_t len, uint8_t raw[32])
{
    struct crypto_aead *a;
    int rc;

    if (buf_failed(aad))
        return CERR_NOMEM;
    if (len != WRAP_LEN)
        return CERR_CORRUPT;
    a = crypto_aead_new(k->root_key);
    if (a == NULL)
        return CERR_NOMEM;
    rc = crypto_aead_open(a, in, aad->data, aad->len, in + CRYPTO_NONCE_LEN,
                          32, in + CRYPTO_NONCE_LEN + 32, raw);
    crypto_aead_free(a);
    return rc;
}

/*
 * Make a new material for key_id: 32 random bytes into raw (the caller
 * wipes them), and the row to store into *mat.  0 or CERR_*.
 */
int
kms_material_new(struct kms *k, const char *key_id,
                 struct meta_kms_material *mat, uint8_t raw[32])
{
    uint8_t id[KMS_MAT_LEN];
    struct buf aad = BUF_INIT;
    int rc;

    memset(mat, 0, sizeof(*mat));
    rc = crypto_random(id, sizeof(id));
    if (rc == 0)
        rc = crypto_random(raw, 32);
    if (rc != 0)
        return rc;
    snprintf(mat->key_id, sizeof(mat->key_id), "%s", key_id);
    hex_encode(id, sizeof(id), mat->material_id);
    mat->created_ms = time_now_ms();

    wrap_aad(&aad, MAT_AAD, key_id, mat->material_id);
    rc = wrap(k, &aad, raw, mat->wrapped);
    buf_free(&aad);
    mat->wrapped_len = WRAP_LEN;
    return rc;
}

static bool
cache_get(struct kms *k, const char *key_id, const char *mat_id,
          uint8_t out[32])
{
    bool hit = false;
    size_t i;

    pthread_mutex_lock(&k->mu);
    for (i = 0; i < KMS_CACHE_SLOTS && !hit; i++) {
        struct kms_cached *c = &k->cache[i];

        if (c->live && strcmp(c->mat_id, mat_id) == 0 &&
            strcmp(c->key_id, key_id) == 0) {
            memcpy(out, c->key, 32);
            c->used = ++k->tick;
            hit = true;
        }
    }
    pthread_mutex_unlock(&k->mu);
    return hit;
}

/* Keep a material, evicting (and wiping) the least recently used. */
static void
cache_put(struct kms *k, const char *key_id, const char *mat_id,
          const uint8_t key[32])
{
    struct kms_cached *victim = &k->cache[0];
    size_t i;

    pthread_mutex_lock(&k->mu);
    for (i = 0; i < KMS_CACHE_SLOTS; i++) {
        struct kms_cached *c = &k->cache[i];

        if (!c->live || (strcmp(c->mat_id, mat_id) == 0 &&
                         strcmp(c->key_id, key_id) == 0)) {
            victim = c;         /* a free slot, or a racing thread's copy */
            break;
        }
        if (c->used < victim->used)
            victim = c;
    }
    crypto_wipe(victim, sizeof(*victim));
    victim->live = true;
    snprintf(victim->key_id, sizeof(victim->key_id), "%s", key_id);
    snprintf(victim->mat_id, sizeof(victim->mat_id), "%s", mat_id);
    memcpy(victim->key, key, 32);
    victim->used = ++k->tick;
    pthread_mutex_unlock(&k->mu);
}

/*
 * The unwrapped material mat_id of key_id into out (the caller wipes it).
 * Returns 0, CERR_KMS_NOT_FOUND when the store has no such material,
 * CERR_CORRUPT when it does not unwrap under the root key.
 */
int
kms_material_get(struct kms *k, const char *key_id, const char *mat_id,
                 uint8_t out[32])
{
    struct meta_kms_material mat;
    struct buf aad = BUF_INIT;
    int rc;

    if (cache_get(k, key_id, mat_id, out))
        return 0;
    rc = meta_kms_material_get(k->meta, key_id, mat_id, &mat);
    if (rc != 0)
        return rc;

    wrap_aad(&aad, MAT_AAD, key_id, mat_id);
    rc = unwrap(k, &aad, mat.wrapped, mat.wrapped_len, out);
    buf_free(&aad);
    crypto_wipe(&mat, sizeof(mat));
    if (rc == 0)
        cache_put(k, key_id, mat_id, out);
    return rc;
}

/*
 * Create a key: a fresh id (unless key->key_id is already set) and first
 * material, stored with tags.  The caller fills state, manager,
 * description, policy (and alias_hint); this fills key_id, created_ms and
 * current_material.  0 or CERR_*.
 */
int
kms_key_create(struct kms *k, struct meta_kms_key *key,
               const struct meta_kms_tag *tags, size_t ntags)
{
    struct meta_kms_material mat;
    uint8_t raw[32];
    int rc;

    rc = key->key_id[0] == '\0' ? crypto_uuid(key->key_id) : 0;
    if (rc != 0)
        return rc;
    key->created_ms = time_now_ms();
    rc = kms_material_new(k, key->key_id, &mat, raw);
    if (rc == 0) {
        memcpy(key->current_material, mat.material_id,
               sizeof(key->current_material));
        rc = meta_kms_key_create(k->meta, key, &mat, tags, ntags);
    }
    if (rc == 0)
        cache_put(k, key->key_id, mat.material_id, raw);
    crypto_wipe(raw, sizeof(raw));
    crypto_wipe(&mat, sizeof(mat));
    return rc;
}

/* Wipe every cached material and internal key. */
void
kms_cache_flush(struct kms *k)
{
    pthread_mutex_lock(&k->mu);
    crypto_wipe(k->cache, sizeof(k->cache));
    crypto_wipe(k->internal, sizeof(k->internal));
    pthread_mutex_unlock(&k->mu);
}

/* Wipe the cached materials of key_id, which no longer exists. */
void
kms_cache_drop(struct kms *k, const char *key_id)
{
    size_t i;

    pthread_mutex_lock(&k->mu);
    for (i = 0; i < KMS_CACHE_SLOTS; i++)
        if (k->cache[i].live && strcmp(k->cache[i].key_id, key_id) == 0)
            crypto_wipe(&k->cache[i], sizeof(k->cache[i]));
    pthread_mutex_unlock(&k->mu);
}

/*
 * The default key policy (spec/kms-api.md §5): the account may do
 * everything, which defers to identity policies.  malloc'd, NULL on
 * allocation failure.
 */
char *
kms_policy_default(const struct kms *k)
{
    struct buf b = BUF_INIT;

    buf_printf(&b,
        "{\n"
        "  \"Version\" : \"2012-10-17\",\n"
        "  \"Id\" : \"key-default-1\",\n"
        "  \"Statement\" : [ {\n"
        "    \"Sid\" : \"Enable IAM User Permissions\",\n"
        "    \"Effect\" : \"Allow\",\n"
        "    \"Principal\" : {\n"
        "      \"AWS\" : \"arn:aws:iam::%s:root\"\n"
        "    },\n"
        "    \"Action\" : \"kms:*\",\n"
        "    \"Resource\" : \"*\"\n"
        "  } ]\n"
        "}", k->account);
    return buf_steal(&b, NULL);
}

/*
 * The policy of the AWS-managed S3 key (spec/policy.md §9): everyone in
 * the account may use it for cryptography through S3 only; the account
 * may read its metadata directly.  malloc'd.
 */
char *
kms_policy_aws_s3(const struct kms *k)
{
    struct buf b = BUF_INIT;

    buf_printf(&b,
        "{\"Version\":\"2012-10-17\",\"Id\":\"coffer-aws-s3\","
        "\"Statement\":[{\"Sid\":\"UseThroughS3InTheAccount\","
        "\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},"
        "\"Action\":[\"kms:Encrypt\",\"kms:Decrypt\",\"kms:ReEncrypt*\","
        "\"kms:GenerateDataKey*\",\"kms:DescribeKey\"],\"Resource\":\"*\","
        "\"Condition\":{\"StringEquals\":{\"kms:CallerAccount\":\"%s\","
        "\"kms:ViaService\":\"s3.%s.amazonaws.com\"}}},"
        "{\"Sid\":\"ReadMetadataInTheAccount\",\"Effect\":\"Allow\","
        "\"Principal\":{\"AWS\":\"arn:aws:iam::%s:root\"},"
        "\"Action\":[\"kms:Describe*\",\"kms:Get*\",\"kms:List*\"],"
        "\"Resource\":\"*\"}]}", k->account, k->region, k->account);
    return buf_steal(&b, NULL);
}

/* ---- Internal keys ---------------------------------------------------- */

static bool
internal_cached(struct kms *k, const char *purpose, uint8_t out[32])
{
    bool hit = false;
    size_t i;

    pthread_mutex_lock(&k->mu);
    for (i = 0; i < KMS_INTERNAL_SLOTS && !hit; i++) {
        if (k->internal[i].live &&
            strcmp(k->internal[i].purpose, purpose) == 0) {
            memcpy(out, k->internal[i].key, 32);
            hit = true;
        }
    }
    pthread_mutex_unlock(&k->mu);
    return hit;
}

static void
internal_keep(struct kms *k, const char *purpose, const uint8_t key[32])
{
    size_t i;

    pthread_mutex_lock(&k->mu);
    for (i = 0; i < KMS_INTERNAL_SLOTS; i++) {
        if (k->internal[i].live &&
            strcmp(k->internal[i].purpose, purpose) == 0)
            break;
        if (!k->internal[i].live) {
            k->internal[i].live = true;
            snprintf(k->internal[i].purpose,
                     sizeof(k->internal[i].purpose), "%s", purpose);
            memcpy(k->internal[i].key, key, 32);
            break;
        }
    }
    pthread_mutex_unlock(&k->mu);
}

/* Read the stored internal key, or make and store it (first writer wins
 * when several nodes race). */
static int
internal_load(struct kms *k, const char *name, const struct buf *aad,
              uint8_t out[32])
{
    uint8_t wrapped[WRAP_LEN + 4];
    size_t len = 0;
    int rc;

    rc = meta_secret_get(k->meta, name, wrapped, sizeof(wrapped), &len);
    if (rc == CERR_NO_SUCH_KEY) {
        rc = crypto_random(out, 32);
        if (rc == 0)
            rc = wrap(k, aad, out, wrapped);
        if (rc == 0)
            rc = meta_secret_put_new(k->meta, name, wrapped, WRAP_LEN);
        if (rc != CERR_KMS_ALREADY_EXISTS)
            return rc;
        rc = meta_secret_get(k->meta, name, wrapped, sizeof(wrapped), &len);
    }
    if (rc == 0)
        rc = unwrap(k, aad, wrapped, len, out);
    return rc;
}

/*
 * The internal key for `purpose` ("sse-s3", ...) into out (the caller
 * wipes it); created on first use.  0, CERR_INVALID_ARGUMENT for an empty
 * or overlong purpose, CERR_CORRUPT, store errors.
 */
static int
internal_key(struct kms *k, const char *purpose, uint8_t out[32])
{
    char name[96];
    struct buf aad = BUF_INIT;
    int rc;

    if (purpose == NULL || purpose[0] == '\0' || strlen(purpose) >= 64)
        return CERR_INVALID_ARGUMENT;
    if (internal_cached(k, purpose, out))
        return 0;
    snprintf(name, sizeof(name), "%s%s", INT_SECRET, purpose);
    wrap_aad(&aad, INT_AAD, purpose, NULL);
    rc = internal_load(k, name, &aad, out);
    buf_free(&aad);
    if (rc == 0)
        internal_keep(k, purpose, out);
    return rc;
}

/*
 * Seal len bytes under the internal key of `purpose` (see kms.h): out gets
 * nonce | ciphertext | tag, len + KMS_INTERNAL_OVERHEAD bytes.  0 or CERR_*.
 */
int
kms_internal_seal(struct kms *k, const char *purpose, const void *aad,
                  size_t aadlen, const void *pt, size_t len, uint8_t *out,
                  size_t *outlen)
{
    struct crypto_aead *a;
    uint8_t key[32];
    int rc;

    rc = internal_key(k, purpose, key);
    if (rc == 0)
        rc = crypto_random(out, CRYPTO_NONCE_LEN);
    a = rc == 0 ? crypto_aead_new(key) : NULL;
    crypto_wipe(key, sizeof(key));
    if (rc != 0)
        return rc;
    if (a == NULL)
        return CERR_NOMEM;

    rc = crypto_aead_seal(a, out, aad, aadlen, pt, len,
                          out + CRYPTO_NONCE_LEN,
                          out + CRYPTO_NONCE_LEN + len);
    crypto_aead_free(a);
    if (rc == 0)
        *outlen = len + KMS_INTERNAL_OVERHEAD;
    return rc;
}

/*
 * Open what kms_internal_seal made: pt gets inlen - KMS_INTERNAL_OVERHEAD
 * bytes.  0, CERR_CORRUPT when it does not authenticate (or is shorter
 * than the overhead), other CERR_* codes.
 */
int
kms_internal_open(struct kms *k, const char *purpose, const void *aad,
                  size_t aadlen, const uint8_t *in, size_t inlen, void *pt,
                  size_t *ptlen)
{
    struct crypto_aead *a;
    uint8_t key[32];
    size_t n;
    int rc;

    if (inlen < KMS_INTERNAL_OVERHEAD)
        return CERR_CORRUPT;
    n = inlen - KMS_INTERNAL_OVERHEAD;
    rc = internal_key(k, purpose, key);
    a = rc == 0 ? crypto_aead_new(key) : NULL;
    crypto_wipe(key, sizeof(key));
    if (rc != 0)
        return rc;
    if (a == NULL)
        return CERR_NOMEM;

    rc = crypto_aead_open(a, in, aad, aadlen, in + CRYPTO_NONCE_LEN, n,
                          in + CRYPTO_NONCE_LEN + n, pt);
    crypto_aead_free(a);
    if (rc == 0)
        *ptlen = n;
    return rc;
}

/*
 * HMAC-SHA256 of data under a key derived (HKDF) from the internal key of
 * `purpose`, so that the same purpose never uses one key for two
 * primitives.  0 or CERR_*.
 */
int
kms_internal_mac(struct kms *k, const char *purpose, const void *data,
                 size_t len, uint8_t out[32])
{
    static const char info[] = "coffer internal mac v1";
    static const uint8_t salt[32];      /* RFC 5869's default: zeros */
    uint8_t key[32], mk[32];
    int rc;

    rc = internal_key(k, purpose, key);
    if (rc == 0)
        rc = crypto_hkdf_sha256(key, 32, salt, sizeof(salt), info,
                                sizeof(info) - 1, mk, 32);
    if (rc == 0)
        crypto_hmac_sha256(mk, 32, data, len, out);
    crypto_wipe(key, sizeof(key));
    crypto_wipe(mk, sizeof(mk));
    return rc;
}
