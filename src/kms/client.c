/*
 * The in-process kms client that S3 uses for envelope encryption
 * (DESIGN.md "kms client").  Each call runs the same cores as the JSON
 * API, with the same authorization and the same audit line and counter,
 * so a KMS call made for S3 looks exactly like a direct one with
 * viaService set.  A remote client can later fill the same struct.
 */
#include "kms/kms_int.h"
#include "crypto/crypto.h"

#include <string.h>

static void
req_init(struct kms_req *r, struct kms *k, const struct kms_caller *c,
         const char *op, const json_t *ctx, struct err_detail *d)
{
    memset(r, 0, sizeof(*r));
    r->k = k;
    r->c = c;
    r->op = op;
    r->ctx = ctx;
    r->d = d;
}

/* Audit and count r; an unwritable trail turns success into CERR_IO. */
static int
finish(struct kms_req *r, int rc, char arn[KMS_ARN_MAX])
{
    if (kms_audit_write(&r->k->audit, r, rc) != 0 && rc == 0)
        rc = err_set(r->d, CERR_IO, "The audit trail cannot be written.");
    kms_count(r->k, r->arn, r->op);
    if (arn != NULL)
        memcpy(arn, r->arn, KMS_ARN_MAX);
    return rc;
}

/* Resolve a key reference and check it can encrypt; not audited. */
static int
local_resolve(void *impl, const char *key_ref, char arn[KMS_ARN_MAX],
              struct err_detail *d)
{
    struct meta_kms_key key;
    struct kms_req r;
    int rc;

    req_init(&r, impl, NULL, "Resolve", NULL, d);
    rc = kms_key_find(&r, key_ref, true, &key);
    if (rc == 0)
        rc = kms_key_usable(r.k, &key, d);
    if (rc == 0)
        memcpy(arn, r.arn, KMS_ARN_MAX);
    meta_kms_key_clear(&key);
    return rc;
}

/* GenerateDataKey with KeySpec AES_256 for S3. */
static int
local_generate(void *impl, const struct kms_caller *c, const char *key_ref,
               const json_t *context, uint8_t plain[32], uint8_t *blob,
               size_t *blob_len, char arn[KMS_ARN_MAX], struct err_detail *d)
{
    struct kms_req r;
    int rc;

    req_init(&r, impl, c, "GenerateDataKey", context, d);
    rc = kms_check_context(context, d, "EncryptionContext");
    if (rc == 0)
        rc = crypto_random(plain, 32);
    if (rc == 0)
        rc = kms_core_encrypt(&r, key_ref, "kms:GenerateDataKey", context,
                              plain, 32, blob, blob_len);
    rc = finish(&r, rc, arn);
    if (rc != 0)
        crypto_wipe(plain, 32);
    return rc;
}

/* Decrypt a blob for S3; *plain_len is the capacity in, length out. */
static int
local_decrypt(void *impl, const struct kms_caller *c, const uint8_t *blob,
              size_t len, const json_t *context, uint8_t *plain,
              size_t *plain_len, char arn[KMS_ARN_MAX], struct err_detail *d)
{
    struct kms_req r;
    int rc;

    req_init(&r, impl, c, "Decrypt", context, d);
    rc = kms_check_context(context, d, "EncryptionContext");
    if (rc == 0)
        rc = kms_core_decrypt(&r, NULL, "kms:Decrypt", blob, len, context,
                              plain, plain_len);
    return finish(&r, rc, arn);
}

/*
 * May c perform action on the key with this context (before S3 reuses a
 * cached bucket key)?  Audited as operation "Authorize" with the action,
 * counted under that name, not as a KMS call (ruling 14).  A key that can
 * no longer be used fails as the real call would.
 */
static int
local_authorize(void *impl, const struct kms_caller *c, const char *key_arn,
                const char *action, const json_t *context,
                struct err_detail *d)
{
    struct meta_kms_key key;
    struct kms_req r;
    int rc;

    req_init(&r, impl, c, "Authorize", context, d);
    r.action = action;
    memset(&key, 0, sizeof(key));
    rc = kms_check_context(context, d, "EncryptionContext");
    rc = rc ? rc : kms_key_find(&r, key_arn, false, &key);
    rc = rc ? rc : kms_authorize(&r, &key, NULL, action, context);
    rc = rc ? rc : kms_key_usable(r.k, &key, d);
    meta_kms_key_clear(&key);
    return finish(&r, rc, NULL);
}

static const struct kms_client_ops local_ops = {
    .resolve = local_resolve,
    .generate_data_key = local_generate,
    .decrypt = local_decrypt,
    .authorize = local_authorize,
};

/* Fill out with the in-process client over k (which must outlive it). */
void
kms_client_local(struct kms *k, struct kms_client *out)
{
    out->ops = &local_ops;
    out->impl = k;
}
