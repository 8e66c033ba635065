/*
 * The KMS ciphertext blob and the canonical encryption context.
 *
 * Blob layout (spec/kms-api.md §7), 97 bytes of overhead:
 *
 *     offset  size  field
 *          0     1  version, 0x01
 *          1    36  key id, a lowercase UUID in ASCII
 *         37    32  material id, raw (its hex is the stored id)
 *         69    12  AES-256-GCM nonce, random
 *         81     n  ciphertext of the n plaintext bytes
 *       81+n    16  GCM tag
 *
 * The additional authenticated data is the 81 header bytes followed by the
 * canonical encryption context, so neither the key named in the header nor
 * the context can be changed without the tag failing.  Decrypt needs no
 * KeyId: the header names the key and the material version, which keeps
 * old blobs readable after rotation.
 *
 * Canonical context: a 4-byte big-endian pair count, then for each pair in
 * ascending byte order of the keys, the key and then the value, each as a
 * 4-byte big-endian length and its bytes.  An absent context and {} give
 * the same bytes; member order in the request never matters.
 */
#include "kms/kms_int.h"
#include "crypto/crypto.h"
#include "util/codec.h"

#include <stdlib.h>
#include <string.h>

#define BLOB_VERSION 0x01
#define OFF_KEY 1
#define OFF_MAT (OFF_KEY + KMS_KEY_ID_LEN)
#define OFF_IV (OFF_MAT + KMS_MAT_LEN)
#define HDR_LEN (OFF_IV + CRYPTO_NONCE_LEN)

_Static_assert(HDR_LEN + CRYPTO_TAG_LEN == KMS_BLOB_OVERHEAD,
               "blob overhead");

static void
put_len(struct buf *b, size_t n)
{
    uint8_t be[4];

    be[0] = (uint8_t)(n >> 24);
    be[1] = (uint8_t)(n >> 16);
    be[2] = (uint8_t)(n >> 8);
    be[3] = (uint8_t)n;
    buf_append(b, be, 4);
}

static int
cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Append the canonical bytes of ctx (see the top of this file) to out.
 * Values that are not strings are skipped: callers validate first.
 * Returns 0 or CERR_NOMEM.
 */
int
kms_context_canon(const json_t *ctx, struct buf *out)
{
    const char **keys;
    const char *key;
    json_t *val;
    size_t n = 0, i;

    if (ctx == NULL || json_object_size(ctx) == 0) {
        put_len(out, 0);
        return buf_failed(out) ? CERR_NOMEM : 0;
    }
    keys = calloc(json_object_size(ctx), sizeof(*keys));
    if (keys == NULL)
        return CERR_NOMEM;
    json_object_foreach((json_t *)ctx, key, val)
        if (json_is_string(val))
            keys[n++] = key;

    /* UTF-8 compared bytewise sorts as the code points do. */
    qsort(keys, n, sizeof(*keys), cmp_keys);
    put_len(out, n);
    for (i = 0; i < n; i++) {
        val = json_object_get(ctx, keys[i]);
        put_len(out, strlen(keys[i]));
        buf_puts(out, keys[i]);
        put_len(out, json_string_length(val));
        buf_append(out, json_string_value(val), json_string_length(val));
    }
    free(keys);
    return buf_failed(out) ? CERR_NOMEM : 0;
}

/* The AAD of a blob: its header, then the canonical context. */
static int
make_aad(const uint8_t *hdr, const json_t *ctx, struct buf *aad)
{
    buf_append(aad, hdr, HDR_LEN);
    return kms_context_canon(ctx, aad);
}

/*
 * Seal len bytes of pt under the material `key` (id mat_id, 64 hex) of
 * key_id.  Writes len + KMS_BLOB_OVERHEAD bytes to out.  Returns 0,
 * CERR_INVALID_ARGUMENT when cap is too small or an id is malformed,
 * CERR_NOMEM, CERR_INTERNAL.
 */
int
kms_blob_seal(const uint8_t key[32], const char *key_id, const char *mat_id,
              const json_t *ctx, const void *pt, size_t len, uint8_t *out,
              size_t cap, size_t *outlen)
{
    struct buf aad = BUF_INIT;
    struct crypto_aead *a;
    int rc;

    if (cap < len + KMS_BLOB_OVERHEAD || strlen(key_id) != KMS_KEY_ID_LEN)
        return CERR_INVALID_ARGUMENT;
    out[0] = BLOB_VERSION;
    memcpy(out + OFF_KEY, key_id, KMS_KEY_ID_LEN);
    if (hex_decode(mat_id, out + OFF_MAT, KMS_MAT_LEN) != 0)
        return CERR_INVALID_ARGUMENT;
    rc = crypto_random(out + OFF_IV, CRYPTO_NONCE_LEN);
    if (rc != 0)
        return rc;

    rc = make_aad(out, ctx, &aad);
    a = rc == 0 ? crypto_aead_new(key) : NULL;
    if (rc == 0 && a == NULL)
        rc = CERR_NOMEM;
    if (rc == 0)
        rc = crypto_aead_seal(a, out + OFF_IV, aad.data, aad.len, pt, len,
                              out + HDR_LEN, out + HDR_LEN + len);
    crypto_aead_free(a);
    buf_free(&aad);
    if (rc == 0)
        *outlen = len + KMS_BLOB_OVERHEAD;
    return rc;
}

/*
 * Check a blob's framing and read its key and material ids.  Returns 0 or
 * CERR_KMS_INVALID_CIPHERTEXT (too short, unknown version, a key id that
 * is not a UUID); nothing is authenticated yet.
 */
int
kms_blob_parse(const uint8_t *raw, size_t len, struct kms_blob *b)
{
    if (len < KMS_BLOB_OVERHEAD || len > KMS_BLOB_MAX ||
        raw[0] != BLOB_VERSION)
        return CERR_KMS_INVALID_CIPHERTEXT;
    memcpy(b->key_id, raw + OFF_KEY, KMS_KEY_ID_LEN);
    b->key_id[KMS_KEY_ID_LEN] = '\0';
    if (!kms_is_key_id(b->key_id))
        return CERR_KMS_INVALID_CIPHERTEXT;
    hex_encode(raw + OFF_MAT, KMS_MAT_LEN, b->mat_id);
    b->raw = raw;
    b->len = len;
    return 0;
}

/*
 * Authenticate and decrypt a parsed blob with its material `key` and the
 * context the caller claims.  pt receives len - KMS_BLOB_OVERHEAD bytes.
 * Returns 0, CERR_KMS_INVALID_CIPHERTEXT (wrong key, context or bytes),
 * CERR_NOMEM, CERR_INTERNAL.  pt is wiped on failure.
 */
int
kms_blob_open(const uint8_t key[32], const struct kms_blob *b,
              const json_t *ctx, void *pt, size_t *ptlen)
{
    size_t n = b->len - KMS_BLOB_OVERHEAD;
    struct buf aad = BUF_INIT;
    struct crypto_aead *a;
    int rc;

    rc = make_aad(b->raw, ctx, &aad);
    a = rc == 0 ? crypto_aead_new(key) : NULL;
    if (rc == 0 && a == NULL)
        rc = CERR_NOMEM;
    if (rc == 0)
        rc = crypto_aead_open(a, b->raw + OFF_IV, aad.data, aad.len,
                              b->raw + HDR_LEN, n, b->raw + HDR_LEN + n, pt);
    crypto_aead_free(a);
    buf_free(&aad);
    if (rc == CERR_CORRUPT)
        rc = CERR_KMS_INVALID_CIPHERTEXT;
    if (rc != 0) {
        crypto_wipe(pt, n);
        return rc;
    }
    *ptlen = n;
    return 0;
}
