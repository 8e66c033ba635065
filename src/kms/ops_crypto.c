/*
 * The cryptographic operations: Encrypt, Decrypt, ReEncrypt,
 * GenerateDataKey[WithoutPlaintext] and GenerateRandom, and the two cores
 * (seal under a key's current material, open a blob) that the in-process
 * S3 client shares with them.  Each authorizes before it touches key
 * material and checks the key state after (a disabled key is
 * DisabledException only for callers who may use it).
 */
#include "kms/kms_int.h"
#include "crypto/crypto.h"

#include <string.h>

#define ALG "SYMMETRIC_DEFAULT"

static const char *const algorithms[] = {
    "SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE",
    NULL
};

static const char *const data_key_specs[] = { "AES_256", "AES_128", NULL };

/*
 * Seal pt under the current material of the key ref names (any form),
 * after authorizing `action` with ctx.  *bloblen: capacity in, length out.
 * Returns 0 or CERR_KMS_* / CERR_* with AWS's message in r->d.
 */
int
kms_core_encrypt(struct kms_req *r, const char *ref, const char *action,
                 const json_t *ctx, const void *pt, size_t len,
                 uint8_t *blob, size_t *bloblen)
{
    struct meta_kms_key key;
    uint8_t mat[32];
    int rc;

    rc = kms_key_find(r, ref, true, &key);
    if (rc == 0)
        rc = kms_authorize(r, &key, NULL, action, ctx);
    if (rc == 0)
        rc = kms_key_usable(r->k, &key, r->d);
    if (rc == 0)
        rc = kms_material_get(r->k, key.key_id, key.current_material, mat);
    if (rc == 0)
        rc = kms_blob_seal(mat, key.key_id, key.current_material, ctx, pt,
                           len, blob, *bloblen, bloblen);
    crypto_wipe(mat, sizeof(mat));
    meta_kms_key_clear(&key);
    return rc;
}

/* The key a blob names; ref, when given, must name the same key. */
static int
blob_key(struct kms_req *r, const char *ref, const struct kms_blob *b,
         struct meta_kms_key *key)
{
    int rc;

    if (ref == NULL) {
        rc = kms_key_load(r->k, b->key_id, key, r->d);
        if (rc == 0)
            kms_key_arn(r->k, key->key_id, r->arn);
        return rc;
    }
    rc = kms_key_find(r, ref, true, key);
    if (rc == 0 && strcmp(key->key_id, b->key_id) != 0) {
        meta_kms_key_clear(key);
        rc = err_set(r->d, CERR_KMS_INCORRECT_KEY, "The key ID in the "
                     "request does not identify a CMK that can perform this "
                     "operation.");
    }
    return rc;
}

/*
 * Open a blob (see kms_int.h).  pt needs bloblen - KMS_BLOB_OVERHEAD
 * bytes; *ptlen: capacity in, length out.  A blob that is not ours, was
 * altered, or is given another context is CERR_KMS_INVALID_CIPHERTEXT.
 */
int
kms_core_decrypt(struct kms_req *r, const char *ref, const char *action,
                 const uint8_t *blob, size_t bloblen, const json_t *ctx,
                 uint8_t *pt, size_t *ptlen)
{
    struct meta_kms_key key;
    struct kms_blob b;
    uint8_t mat[32];
    int rc;

    memset(&key, 0, sizeof(key));
    rc = kms_blob_parse(blob, bloblen, &b);
    if (rc == 0 && *ptlen < bloblen - KMS_BLOB_OVERHEAD)
        rc = CERR_INVALID_ARGUMENT;
    if (rc == 0)
        rc = blob_key(r, ref, &b, &key);
    if (rc == 0)
        rc = kms_authorize(r, &key, NULL, action, ctx);
    if (rc == 0)
        rc = kms_key_usable(r->k, &key, r->d);

    if (rc == 0) {
        rc = kms_material_get(r->k, b.key_id, b.mat_id, mat);
        if (rc == CERR_KMS_NOT_FOUND)
            rc = CERR_KMS_INVALID_CIPHERTEXT;
    }
    if (rc == 0)
        rc = kms_blob_open(mat, &b, ctx, pt, ptlen);
    if (rc == CERR_KMS_INVALID_CIPHERTEXT)
        err_set(r->d, rc, "%s", "");
    crypto_wipe(mat, sizeof(mat));
    meta_kms_key_clear(&key);
    return rc;
}

/* EncryptionAlgorithm: only SYMMETRIC_DEFAULT suits our keys. */
static int
check_algorithm(struct kms_req *r, const char *name, const char *wire)
{
    const char *alg = ALG;
    int rc;

    rc = kms_arg_enum(r, name, wire, algorithms, &alg);
    if (rc == 0 && strcmp(alg, ALG) != 0)
        rc = err_set(r->d, CERR_KMS_INVALID_KEY_USAGE, "The encryption "
                     "algorithm %s is not supported by symmetric keys.",
                     alg);
    return rc;
}

static int
reply_blob(struct kms_req *r, const uint8_t *blob, size_t len)
{
    int rc;

    rc = kms_json_b64(r->res, "CiphertextBlob", blob, len);
    rc = rc ? rc : kms_json_str(r->res, "KeyId", r->arn);
    return rc;
}

/* Encrypt: KeyId*, Plaintext* (1-4096 bytes), EncryptionContext. */
int
kms_op_encrypt(struct kms_req *r)
{
    uint8_t blob[KMS_PLAIN_MAX + KMS_BLOB_OVERHEAD];
    size_t len = 0, bloblen = sizeof(blob);
    const char *ref = NULL;
    int rc;

    rc = kms_arg_str(r, "KeyId", "keyId", true, 1, 2048, &ref);
    rc = rc ? rc : kms_arg_blob(r, "Plaintext", "plaintext", true, 1,
                                KMS_PLAIN_MAX, r->plain, &len, NULL);
    rc = rc ? rc : kms_arg_context(r, "EncryptionContext",
                                   "encryptionContext", &r->ctx);
    rc = rc ? rc : check_algorithm(r, "EncryptionAlgorithm",
                                   "encryptionAlgorithm");
    if (rc == 0)
        rc = kms_core_encrypt(r, ref, "kms:Encrypt", r->ctx, r->plain, len,
                              blob, &bloblen);
    crypto_wipe(r->plain, len);
    rc = rc ? rc : reply_blob(r, blob, bloblen);
    rc = rc ? rc : kms_json_str(r->res, "EncryptionAlgorithm", ALG);
    return rc;
}

/* Decrypt: CiphertextBlob*, EncryptionContext, KeyId (any form). */
int
kms_op_decrypt(struct kms_req *r)
{
    uint8_t blob[KMS_BLOB_MAX + 2];
    size_t len = 0, plen = KMS_PLAIN_MAX;
    const char *ref = NULL;
    int rc;

    rc = kms_arg_blob(r, "CiphertextBlob", "ciphertextBlob", true, 1,
                      KMS_BLOB_MAX, blob, &len, NULL);
    rc = rc ? rc : kms_arg_context(r, "EncryptionContext",
                                   "encryptionContext", &r->ctx);
    rc = rc ? rc : kms_arg_str(r, "KeyId", "keyId", false, 1, 2048, &ref);
    rc = rc ? rc : check_algorithm(r, "EncryptionAlgorithm",
                                   "encryptionAlgorithm");
    if (rc != 0)
        return rc;

    /* Our blobs never carry more than KMS_PLAIN_MAX bytes of plaintext. */
    if (len > KMS_PLAIN_MAX + KMS_BLOB_OVERHEAD)
        return err_set(r->d, CERR_KMS_INVALID_CIPHERTEXT, "%s", "");
    rc = kms_core_decrypt(r, ref, "kms:Decrypt", blob, len, r->ctx,
                          r->plain, &plen);
    if (rc != 0)
        return rc;
    r->plain_len = plen;
    rc = kms_json_str(r->res, "KeyId", r->arn);
    rc = rc ? rc : kms_json_str(r->res, "EncryptionAlgorithm", ALG);
    return rc;
}

/* ReEncrypt: open under the source key, seal under the destination. */
int
kms_op_reencrypt(struct kms_req *r)
{
    uint8_t in[KMS_BLOB_MAX + 2], out[KMS_BLOB_MAX];
    size_t len = 0, plen = KMS_PLAIN_MAX, outlen = sizeof(out);
    const char *src = NULL, *dst = NULL;
    const json_t *sctx = NULL, *dctx = NULL;
    char source_arn[KMS_ARN_MAX];
    int rc;

    rc = kms_arg_blob(r, "CiphertextBlob", "ciphertextBlob", true, 1,
                      KMS_BLOB_MAX, in, &len, NULL);
    rc = rc ? rc : kms_arg_context(r, "SourceEncryptionContext",
                                   "sourceEncryptionContext", &sctx);
    rc = rc ? rc : kms_arg_str(r, "SourceKeyId", "sourceKeyId", false, 1,
                               2048, &src);
    rc = rc ? rc : kms_arg_str(r, "DestinationKeyId", "destinationKeyId",
                               true, 1, 2048, &dst);
    rc = rc ? rc : kms_arg_context(r, "DestinationEncryptionContext",
                                   "destinationEncryptionContext", &dctx);
    rc = rc ? rc : check_algorithm(r, "SourceEncryptionAlgorithm",
                                   "sourceEncryptionAlgorithm");
    rc = rc ? rc : check_algorithm(r, "DestinationEncryptionAlgorithm",
                                   "destinationEncryptionAlgorithm");
    if (rc == 0 && len > KMS_PLAIN_MAX + KMS_BLOB_OVERHEAD)
        rc = err_set(r->d, CERR_KMS_INVALID_CIPHERTEXT, "%s", "");
    if (rc != 0)
        return rc;

    r->ctx = sctx;
    rc = kms_core_decrypt(r, src, "kms:ReEncryptFrom", in, len, sctx,
                          r->plain, &plen);
    memcpy(source_arn, r->arn, sizeof(source_arn));
    if (rc == 0) {
        r->ctx = dctx;
        rc = kms_core_encrypt(r, dst, "kms:ReEncryptTo", dctx, r->plain,
                              plen, out, &outlen);
    }
    crypto_wipe(r->plain, KMS_PLAIN_MAX);
    rc = rc ? rc : reply_blob(r, out, outlen);
    rc = rc ? rc : kms_json_str(r->res, "SourceKeyId", source_arn);
    rc = rc ? rc : kms_json_str(r->res, "SourceEncryptionAlgorithm", ALG);
    rc = rc ? rc : kms_json_str(r->res, "DestinationEncryptionAlgorithm",
                                ALG);
    return rc;
}

/* KeySpec or NumberOfBytes, exactly one: the data key's length. */
static int
data_key_len(struct kms_req *r, size_t *len)
{
    const char *spec = NULL;
    int64_t n = 0;
    bool has_n = false;
    int rc;

    rc = kms_arg_enum(r, "KeySpec", "keySpec", data_key_specs, &spec);
    rc = rc ? rc : kms_arg_int(r, "NumberOfBytes", "numberOfBytes", false,
                               1, 1024, &n, &has_n);
    if (rc != 0)
        return rc;
    if ((spec == NULL) == !has_n)
        return kms_validation(r->d, "Please specify either number of bytes "
                              "or key spec.");
    *len = spec == NULL ? (size_t)n : strcmp(spec, "AES_128") == 0 ? 16
                                                                   : 32;
    return 0;
}

/* GenerateDataKey and its twin without plaintext. */
static int
generate(struct kms_req *r, bool with_plain)
{
    uint8_t blob[1024 + KMS_BLOB_OVERHEAD];
    size_t len = 0, bloblen = sizeof(blob);
    const char *ref = NULL;
    int rc;

    rc = kms_arg_str(r, "KeyId", "keyId", true, 1, 2048, &ref);
    rc = rc ? rc : data_key_len(r, &len);
    rc = rc ? rc : kms_arg_context(r, "EncryptionContext",
                                   "encryptionContext", &r->ctx);
    rc = rc ? rc : crypto_random(r->plain, len);
    if (rc == 0)
        rc = kms_core_encrypt(r, ref, with_plain
                              ? "kms:GenerateDataKey"
                              : "kms:GenerateDataKeyWithoutPlaintext",
                              r->ctx, r->plain, len, blob, &bloblen);
    if (rc == 0 && with_plain)
        r->plain_len = len;
    else
        crypto_wipe(r->plain, len);
    rc = rc ? rc : reply_blob(r, blob, bloblen);
    return rc;
}

/* GenerateDataKey: a random data key, in the clear and sealed. */
int
kms_op_generate_data_key(struct kms_req *r)
{
    return generate(r, true);
}

/* GenerateDataKeyWithoutPlaintext: the sealed data key only. */
int
kms_op_generate_data_key_np(struct kms_req *r)
{
    return generate(r, false);
}

/* GenerateRandom: NumberOfBytes* (1-1024). */
int
kms_op_generate_random(struct kms_req *r)
{
    const char *store = NULL;
    int64_t n = 0;
    int rc;

    rc = kms_arg_int(r, "NumberOfBytes", "numberOfBytes", true, 1, 1024,
                     &n, NULL);
    rc = rc ? rc : kms_arg_str(r, "CustomKeyStoreId", "customKeyStoreId",
                               false, 1, 64, &store);
    if (rc == 0 && (store != NULL || json_object_get(r->in, "Recipient")))
        /* XXX: custom key stores and Nitro enclave recipients are not
         * supported; such calls get UnsupportedOperationException. */
        rc = err_set(r->d, CERR_KMS_UNSUPPORTED, "coffer does not support "
                     "custom key stores or recipients");
    rc = rc ? rc : kms_authorize(r, NULL, NULL, "kms:GenerateRandom", NULL);
    rc = rc ? rc : crypto_random(r->plain, (size_t)n);
    if (rc == 0)
        r->plain_len = (size_t)n;
    return rc;
}
