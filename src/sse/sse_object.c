/*
 * Object keys: choosing a new object's encryption (sse.md §4), making its
 * key and the record that lets it be found again, recovering that key
 * for reads and parts, and deriving each body's own data key from it
 * (ruling 13).
 *
 * What the record's `wrapped` holds, per mode:
 *   SSE-S3    the object key sealed by kms_internal_seal("sse-s3") with
 *             AAD "BUCKET/KEY" (a bucket name has no '/', so the split
 *             is unambiguous)
 *   SSE-KMS   the KMS ciphertext blob of GenerateDataKey under context
 *             {"aws:s3:arn": "arn:aws:s3:::BUCKET/KEY"} plus the user's
 *             pairs; empty with a bucket key, which is found by its row
 *   SSE-C     nonce (12) | object key sealed with AES-256-GCM under the
 *             customer key (32) | tag (16), AAD "BUCKET/KEY"; key_check
 *             is kms_internal_mac("sse-c", customer key), so the customer
 *             key is recognised without being stored
 * `context` keeps the user's pairs as compact JSON with sorted keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "sse/sse_int.h"
#include "store/meta.h"
#include "util/buf.h"

#define NAME_MAX_LEN 1152       /* "arn:aws:s3:::" + bucket + "/" + key */
#define SSEC_WRAPPED_LEN (CRYPTO_NONCE_LEN + 32 + CRYPTO_TAG_LEN)
#define AWS_S3_KEY "alias/aws/s3"
#define CTX_ARN "aws:s3:arn"

#define MSG_NEED_KEY "The object was stored using a form of Server Side " \
    "Encryption. The correct parameters must be provided to retrieve the " \
    "object."
#define MSG_PART_NEED_KEY "The multipart upload initiate requested " \
    "encryption. Subsequent part requests must include the appropriate " \
    "encryption parameters."

/* What §4 picks for a new object. */
struct choice {
    int mode;
    const char *key_ref;        /* KMS modes: the key as named */
    bool bucket_key;
};

static int
mode_of(const char *alg)
{
    if (strcmp(alg, "AES256") == 0)
        return SSE_MODE_S3;
    if (strcmp(alg, "aws:kms") == 0)
        return SSE_MODE_KMS;
    /* XXX: DSSE-KMS bodies get the one layer of AES-256-GCM that SSE-KMS
     * bodies get, not AWS's two; the client sees aws:kms:dsse echoed and
     * cannot tell. */
    if (strcmp(alg, "aws:kms:dsse") == 0)
        return SSE_MODE_KMS_DSSE;
    return 0;
}

/*
 * Request headers win, else the bucket rule, else AES256.  A request
 * that names aws:kms without a key gets aws/s3 even under a rule naming
 * a key; the bucket-key flag comes from the request, else the rule.
 */
static int
choose(const struct sse_request *req, const struct meta_bucket *rule,
       struct choice *ch)
{
    bool ruled = rule != NULL && rule->has_encryption;
    const char *alg = "AES256", *kid = NULL;
    bool bk = ruled && rule->bucket_key_enabled;

    memset(ch, 0, sizeof(*ch));
    if (req != NULL && req->has_ssec) {
        ch->mode = SSE_MODE_C;
        return 0;
    }
    if (req != NULL && req->has_sse) {
        alg = req->algorithm;
        kid = req->has_kms_key_id ? req->kms_key_id : NULL;
    } else if (ruled) {
        alg = rule->sse_algorithm;
        kid = rule->kms_key_id[0] != '\0' ? rule->kms_key_id : NULL;
    }
    if (req != NULL && req->bucket_key != -1)
        bk = req->bucket_key == 1;

    ch->mode = mode_of(alg);
    ch->key_ref = kid != NULL ? kid : AWS_S3_KEY;
    ch->bucket_key = ch->mode == SSE_MODE_KMS && bk;
    return ch->mode != 0 ? 0 : CERR_INTERNAL;
}

/* "BUCKET/KEY" (with prefix "" or "arn:aws:s3:::") into out. */
static int
object_name(const char *prefix, const char *bucket, const char *key,
            char out[NAME_MAX_LEN])
{
    int n = snprintf(out, NAME_MAX_LEN, "%s%s/%s", prefix, bucket, key);

    return n >= 0 && n < NAME_MAX_LEN ? 0 : CERR_KEY_TOO_LONG;
}

/*
 * Keep the user's context pairs in rec after checking that an
 * aws:s3:arn among them names what S3 itself puts there (arn).
 */
static int
keep_user_context(const json_t *user, const char *arn, struct meta_sse *rec,
                  struct err_detail *d)
{
    const json_t *v;
    char *text;
    int rc = 0;

    if (user == NULL || json_object_size(user) == 0)
        return 0;
    v = json_object_get(user, CTX_ARN);
    if (v != NULL && strcmp(json_string_value(v), arn) != 0) {
        err_set_argument(d, "x-amz-server-side-encryption-context", NULL);
        return err_set(d, CERR_INVALID_ARGUMENT, "The encryption context "
                       "key aws:s3:arn must be %s", arn);
    }

    text = json_dumps(user, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return CERR_NOMEM;
    /* XXX: a context over 2047 bytes of JSON does not fit the stored
     * record; the client gets 400 InvalidArgument. */
    if (strlen(text) >= sizeof(rec->context))
        rc = err_set(d, CERR_INVALID_ARGUMENT, "The encryption context is "
                     "too large.");
    else
        memcpy(rec->context, text, strlen(text) + 1);
    free(text);
    return rc;
}

/* The KMS context: the stored user pairs plus aws:s3:arn = arn. */
static json_t *
kms_context(const char *user, const char *arn)
{
    json_t *ctx;

    ctx = user[0] != '\0' ? json_loads(user, 0, NULL) : json_object();
    if (ctx != NULL && (!json_is_object(ctx) ||
                        json_object_set_new(ctx, CTX_ARN,
                                            json_string(arn)) != 0)) {
        json_decref(ctx);
        ctx = NULL;
    }
    return ctx;
}

static int
new_s3(struct sse *s, const char *name, struct meta_sse *rec,
       struct sse_key *okey)
{
    size_t len = sizeof(rec->wrapped);
    int rc;

    rec->mode = SSE_MODE_S3;
    rc = crypto_random(okey->bytes, sizeof(okey->bytes));
    if (rc == 0)
        rc = kms_internal_seal(s->kms, "sse-s3", name, strlen(name),
                               okey->bytes, sizeof(okey->bytes),
                               rec->wrapped, &len);
    rec->wrapped_len = len;
    return rc;
}

/* Seal okey under the customer key into rec->wrapped. */
static int
wrap_ssec(const uint8_t ckey[32], const char *name, const struct sse_key *okey,
          struct meta_sse *rec)
{
    struct crypto_aead *a;
    uint8_t *w = rec->wrapped;
    int rc;

    a = crypto_aead_new(ckey);
    if (a == NULL)
        return CERR_NOMEM;
    rc = crypto_random(w, CRYPTO_NONCE_LEN);
    if (rc == 0)
        rc = crypto_aead_seal(a, w, name, strlen(name), okey->bytes, 32,
                              w + CRYPTO_NONCE_LEN,
                              w + CRYPTO_NONCE_LEN + 32);
    crypto_aead_free(a);
    rec->wrapped_len = SSEC_WRAPPED_LEN;
    return rc;
}

static int
unwrap_ssec(const uint8_t ckey[32], const char *name,
            const struct meta_sse *rec, struct sse_key *okey)
{
    const uint8_t *w = rec->wrapped;
    struct crypto_aead *a;
    int rc;

    if (rec->wrapped_len != SSEC_WRAPPED_LEN)
        return CERR_CORRUPT;
    a = crypto_aead_new(ckey);
    if (a == NULL)
        return CERR_NOMEM;
    rc = crypto_aead_open(a, w, name, strlen(name), w + CRYPTO_NONCE_LEN, 32,
                          w + CRYPTO_NONCE_LEN + 32, okey->bytes);
    crypto_aead_free(a);
    return rc;
}

static int
new_ssec(struct sse *s, const char *name, const struct sse_request *req,
         struct meta_sse *rec, struct sse_key *okey)
{
    int rc;

    rec->mode = SSE_MODE_C;
    rec->has_key_check = true;
    rc = kms_internal_mac(s->kms, "sse-c", req->ssec_key,
                          sizeof(req->ssec_key), rec->key_check);
    if (rc == 0)
        rc = crypto_random(okey->bytes, sizeof(okey->bytes));
    if (rc == 0)
        rc = wrap_ssec(req->ssec_key, name, okey, rec);
    return rc;
}

/* SSE-KMS with a bucket key: resolve the key, then the shared key. */
static int
new_kms_bucket_key(struct sse *s, const struct kms_caller *c,
                   const char *bucket, const struct choice *ch,
                   struct meta_sse *rec, struct sse_key *okey,
                   struct err_detail *d)
{
    char barn[NAME_MAX_LEN];
    json_t *ctx;
    int rc;

    rc = s->kc.ops->resolve(s->kc.impl, ch->key_ref, rec->kms_key_arn, d);
    if (rc != 0)
        return rc;
    snprintf(barn, sizeof(barn), "arn:aws:s3:::%s", bucket);
    ctx = kms_context("", barn);
    if (ctx == NULL)
        return CERR_NOMEM;
    rc = sse_bk_for_write(s, c, bucket, rec->kms_key_arn, ctx, okey->bytes,
                          &rec->bucket_key_id, d);
    json_decref(ctx);
    return rc;
}

/* SSE-KMS or DSSE-KMS: one GenerateDataKey, or a bucket key. */
static int
new_kms(struct sse *s, const struct kms_caller *c, const char *bucket,
        const char *key, const struct choice *ch, const json_t *user,
        struct meta_sse *rec, struct sse_key *okey, struct err_detail *d)
{
    struct kms_caller v = sse_via_s3(s, c);
    char arn[NAME_MAX_LEN];
    size_t len = sizeof(rec->wrapped);
    json_t *ctx;
    int rc;

    rec->mode = ch->mode;
    rec->bucket_key = ch->bucket_key;
    if (ch->bucket_key)
        snprintf(arn, sizeof(arn), "arn:aws:s3:::%s", bucket);
    else if ((rc = object_name("arn:aws:s3:::", bucket, key, arn)) != 0)
        return rc;
    rc = keep_user_context(user, arn, rec, d);
    if (rc != 0 || ch->bucket_key)
        return rc != 0 ? rc
            : new_kms_bucket_key(s, c, bucket, ch, rec, okey, d);

    ctx = kms_context(rec->context, arn);
    if (ctx == NULL)
        return CERR_NOMEM;
    rc = s->kc.ops->generate_data_key(s->kc.impl, &v, ch->key_ref, ctx,
                                      okey->bytes, rec->wrapped, &len,
                                      rec->kms_key_arn, d);
    json_decref(ctx);
    rec->wrapped_len = len;
    return rc;
}

/*
 * Choose and set up a new object's encryption (sse.md §4, §7, §8).
 * See sse.h.  On failure rec is zeroed and okey wiped.
 */
int
sse_new_object(struct sse *s, const struct kms_caller *c,
               const char *bucket, const char *key,
               const struct sse_request *req,
               const struct meta_bucket *rule, struct meta_sse *rec,
               struct sse_key *okey, struct err_detail *d)
{
    char name[NAME_MAX_LEN];
    struct choice ch;
    int rc;

    memset(rec, 0, sizeof(*rec));
    memset(okey, 0, sizeof(*okey));
    rc = choose(req, rule, &ch);
    if (rc == 0)
        rc = object_name("", bucket, key, name);
    if (rc != 0)
        return rc;

    if (ch.mode == SSE_MODE_S3)
        rc = new_s3(s, name, rec, okey);
    else if (ch.mode == SSE_MODE_C)
        rc = new_ssec(s, name, req, rec, okey);
    else
        rc = new_kms(s, c, bucket, key, &ch, req != NULL ? req->context
                     : NULL, rec, okey, d);

    if (rc != 0) {
        memset(rec, 0, sizeof(*rec));
        sse_key_wipe(okey);
    }
    return rc;
}

/*
 * Recover the key of a stored SSE-KMS object: bucket key or Decrypt.
 * Both check the KMS key's state (disabled, pending deletion, gone), the
 * cached bucket key through its authorization.
 */
static int
open_kms(struct sse *s, const struct kms_caller *c, const char *bucket,
         const char *key, const struct meta_sse *rec, struct sse_key *okey,
         struct err_detail *d)
{
    struct kms_caller v = sse_via_s3(s, c);
    char arn[NAME_MAX_LEN], karn[KMS_ARN_MAX];
    uint8_t plain[64];
    size_t len = sizeof(plain);
    json_t *ctx;
    int rc;

    if (rec->bucket_key)
        snprintf(arn, sizeof(arn), "arn:aws:s3:::%s", bucket);
    else if ((rc = object_name("arn:aws:s3:::", bucket, key, arn)) != 0)
        return rc;
    ctx = kms_context(rec->bucket_key ? "" : rec->context, arn);
    if (ctx == NULL)
        return CERR_CORRUPT;
    if (rec->bucket_key) {
        rc = sse_bk_for_read(s, c, bucket, rec->kms_key_arn,
                             rec->bucket_key_id, ctx, okey->bytes, d);
        json_decref(ctx);
        return rc;
    }

    rc = s->kc.ops->decrypt(s->kc.impl, &v, rec->wrapped, rec->wrapped_len,
                            ctx, plain, &len, karn, d);
    json_decref(ctx);
    if (rc == 0 && (len != 32 || strcmp(karn, rec->kms_key_arn) != 0))
        rc = CERR_CORRUPT;
    if (rc == 0)
        memcpy(okey->bytes, plain, 32);
    crypto_wipe(plain, sizeof(plain));
    return rc;
}

/* Unwrap the object key once the SSE-C checks have passed. */
static int
open_key(struct sse *s, const struct kms_caller *c, const char *bucket,
         const char *key, const struct meta_sse *rec,
         const struct sse_request *req, struct sse_key *okey,
         struct err_detail *d)
{
    char name[NAME_MAX_LEN];
    size_t len = sizeof(okey->bytes);
    int rc;

    rc = object_name("", bucket, key, name);
    if (rc != 0)
        return rc;
    switch (rec->mode) {
    case SSE_MODE_S3:
        rc = kms_internal_open(s->kms, "sse-s3", name, strlen(name),
                               rec->wrapped, rec->wrapped_len, okey->bytes,
                               &len);
        return rc == 0 && len != 32 ? CERR_CORRUPT : rc;
    case SSE_MODE_C:
        return unwrap_ssec(req->ssec_key, name, rec, okey);
    case SSE_MODE_KMS:
    case SSE_MODE_KMS_DSSE:
        return open_kms(s, c, bucket, key, rec, okey, d);
    default:
        return CERR_CORRUPT;
    }
}

/* Whether req's customer key is the one rec was written with. */
static int
ssec_matches(struct sse *s, const struct meta_sse *rec,
             const struct sse_request *req, bool *ok)
{
    uint8_t mac[32];
    int rc;

    *ok = false;
    if (!rec->has_key_check)
        return CERR_CORRUPT;
    rc = kms_internal_mac(s->kms, "sse-c", req->ssec_key,
                          sizeof(req->ssec_key), mac);
    if (rc == 0)
        *ok = crypto_equal(mac, rec->key_check, sizeof(mac));
    return rc;
}

/*
 * Recover a stored object's key for reading (sse.md §10 answers for a
 * missing, wrong or needless customer key).  See sse.h.  On failure okey
 * is wiped; with okey NULL only the customer-key checks run.
 */
int
sse_open_object(struct sse *s, const struct kms_caller *c,
                const char *bucket, const char *key,
                const struct meta_sse *rec, const struct sse_request *req,
                struct sse_key *okey, struct err_detail *d)
{
    bool given = req != NULL && req->has_ssec;
    bool ok = true;
    int rc = 0;

    if (okey != NULL)
        memset(okey, 0, sizeof(*okey));
    if (rec->mode == SSE_MODE_C && !given)
        return err_set(d, CERR_INVALID_REQUEST, MSG_NEED_KEY);
    if (rec->mode != SSE_MODE_C && given)
        return err_set(d, CERR_INVALID_REQUEST, "The encryption parameters "
                       "are not applicable to this object.");
    if (rec->mode == SSE_MODE_C)
        rc = ssec_matches(s, rec, req, &ok);
    if (rc == 0 && !ok)
        return err_set(d, CERR_ACCESS_DENIED, "Requests specifying Server "
                       "Side Encryption with Customer provided keys must "
                       "provide the correct secret key.");

    if (rc == 0 && okey != NULL)
        rc = open_key(s, c, bucket, key, rec, req, okey, d);
    if (rc != 0 && okey != NULL)
        sse_key_wipe(okey);
    return rc;
}

/*
 * Recover an open upload's key for a part or for Complete, with the
 * multipart answers of sse.md §10.  See sse.h.  On failure okey is
 * wiped.
 */
int
sse_open_upload(struct sse *s, const struct kms_caller *c,
                const char *bucket, const char *key,
                const struct meta_sse *rec, const struct sse_request *req,
                enum sse_op op, struct sse_key *okey, struct err_detail *d)
{
    bool given = req != NULL && req->has_ssec;
    bool ok = true;
    int rc = 0;

    memset(okey, 0, sizeof(*okey));
    if (rec->mode == SSE_MODE_C && !given && op == SSE_OP_COMPLETE)
        return 0;
    if ((rec->mode == SSE_MODE_C) != given)
        return err_set(d, CERR_INVALID_REQUEST, MSG_PART_NEED_KEY);
    if (rec->mode == SSE_MODE_C)
        rc = ssec_matches(s, rec, req, &ok);
    if (rc == 0 && !ok)
        return err_set(d, CERR_INVALID_REQUEST, "The provided encryption "
                       "parameters did not match the ones used originally.");

    if (rc == 0)
        rc = open_key(s, c, bucket, key, rec, req, okey, d);
    if (rc != 0)
        sse_key_wipe(okey);
    return rc;
}

/* Append a 4-byte big-endian length, then the bytes. */
static void
put_field(struct buf *b, const void *p, size_t len)
{
    uint8_t n[4] = { len >> 24, len >> 16, len >> 8, len };

    buf_append(b, n, sizeof(n));
    buf_append(b, p, len);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The canonical form of a stored context: its pairs sorted by key bytes,
 * each key and value length-prefixed.  Empty for "".
 */
static int
canonical_context(const char *text, struct buf *out)
{
    const char **keys;
    const char *k;
    json_t *obj, *v;
    size_t n, i = 0;
    int rc = 0;

    if (text[0] == '\0')
        return 0;
    obj = json_loads(text, 0, NULL);
    if (obj == NULL || !json_is_object(obj)) {
        json_decref(obj);
        return CERR_CORRUPT;
    }
    n = json_object_size(obj);
    keys = calloc(n + 1, sizeof(*keys));
    if (keys == NULL) {
        json_decref(obj);
        return CERR_NOMEM;
    }

    json_object_foreach(obj, k, v)
        keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (i = 0; i < n && rc == 0; i++) {
        v = json_object_get(obj, keys[i]);
        if (!json_is_string(v))
            rc = CERR_CORRUPT;
        else {
            put_field(out, keys[i], strlen(keys[i]));
            put_field(out, json_string_value(v), json_string_length(v));
        }
    }
    free(keys);
    json_decref(obj);
    return rc;
}

/*
 * A body's data key (ruling 13).  The info string binds the key to where
 * the body belongs, so a body moved to another object, upload or part
 * number no longer decrypts.  See sse.h.
 */
int
sse_body_key(const struct sse_key *okey, const struct meta_sse *rec,
             const char *bucket, const char *key, const char *upload_id,
             int part_number, const uint8_t salt[32], uint8_t out[32])
{
    struct buf info = BUF_INIT, ctx = BUF_INIT;
    char part[16] = "";
    int rc;

    if (upload_id == NULL)
        upload_id = "";
    if (part_number > 0)
        snprintf(part, sizeof(part), "%d", part_number);
    rc = canonical_context(rec->context, &ctx);

    buf_puts(&info, "coffer bucket key v1");
    put_field(&info, bucket, strlen(bucket));
    put_field(&info, key, strlen(key));
    put_field(&info, upload_id, strlen(upload_id));
    put_field(&info, part, strlen(part));
    put_field(&info, ctx.data, ctx.len);
    if (rc == 0 && (buf_failed(&info) || buf_failed(&ctx)))
        rc = CERR_NOMEM;

    if (rc == 0)
        rc = crypto_hkdf_sha256_key(okey->bytes, sizeof(okey->bytes), salt,
                                    info.data, info.len, out);
    buf_free(&info);
    buf_free(&ctx);
    return rc;
}
