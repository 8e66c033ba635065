/*
 * The wire side of server-side encryption: which request headers each
 * operation takes and how they are checked (sse.md §2, §7, §10), the
 * headers a reply carries (§3), and the checks on a bucket's default
 * rule (§5).  The order of the checks is part of the contract: the
 * first failing check names the error a client sees.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "crypto/crypto.h"
#include "sse/sse.h"
#include "store/meta.h"
#include "util/codec.h"

#define H_SSE "x-amz-server-side-encryption"
#define H_KID "x-amz-server-side-encryption-aws-kms-key-id"
#define H_CTX "x-amz-server-side-encryption-context"
#define H_BK "x-amz-server-side-encryption-bucket-key-enabled"
#define H_C_ALG "x-amz-server-side-encryption-customer-algorithm"
#define H_C_KEY "x-amz-server-side-encryption-customer-key"
#define H_C_MD5 "x-amz-server-side-encryption-customer-key-md5"
#define H_CS "x-amz-copy-source-server-side-encryption-customer-"
#define H_CS_ALG H_CS "algorithm"
#define H_CS_KEY H_CS "key"
#define H_CS_MD5 H_CS "key-md5"

#define SSEC_PREFIX "Requests specifying Server Side Encryption with " \
    "Customer provided keys must "
#define MSG_CTX "The header 'x-amz-server-side-encryption-context' shall " \
    "be Base64-encoded UTF-8 string holding JSON which represents a " \
    "string-string map"

/* The three lowercase names of one SSE-C trio. */
struct trio_names {
    const char *alg, *key, *md5;
};

static const struct trio_names trio_c = { H_C_ALG, H_C_KEY, H_C_MD5 };
static const struct trio_names trio_cs = { H_CS_ALG, H_CS_KEY, H_CS_MD5 };

static int
invalid_arg(struct err_detail *d, const char *name, const char *value,
            const char *msg)
{
    err_set_argument(d, name, value);
    return err_set(d, CERR_INVALID_ARGUMENT, "%s", msg);
}

/* Check sse.md §10 steps 2-5 on a trio that is at least partly there. */
static int
parse_trio(const struct headers *h, const struct trio_names *n,
           struct sse_request *out, struct err_detail *d)
{
    const char *alg = headers_get(h, n->alg);
    const char *key = headers_get(h, n->key);
    const char *md5 = headers_get(h, n->md5);
    uint8_t raw[1024], want[CRYPTO_MD5_LEN], got[CRYPTO_MD5_LEN];
    size_t len, mlen;
    int rc = 0;

    if (alg == NULL)
        return invalid_arg(d, n->alg, NULL,
                           SSEC_PREFIX "provide a valid encryption algorithm.");
    if (key == NULL)
        return invalid_arg(d, n->key, NULL,
                           SSEC_PREFIX "provide an appropriate secret key.");
    if (strcmp(alg, "AES256") != 0) {
        err_set_argument(d, n->alg, alg);
        return err_set(d, CERR_INVALID_ENC_ALGORITHM, "The Encryption "
                       "request you specified is not valid. Supported "
                       "value: AES256.");
    }

    /* AWS checks the MD5 before the key's length. */
    if (base64_decode(key, strlen(key), raw, sizeof(raw), &len) != 0) {
        rc = invalid_arg(d, n->key, NULL, "The secret key was invalid for "
                         "the specified algorithm.");
    } else {
        crypto_md5(raw, len, got);
        if (md5 == NULL ||
            base64_decode(md5, strlen(md5), want, sizeof(want), &mlen) != 0 ||
            mlen != sizeof(want) || !crypto_equal(want, got, sizeof(got)))
            rc = invalid_arg(d, n->md5, NULL, "The calculated MD5 hash of "
                             "the key did not match the hash that was "
                             "provided.");
        else if (len != sizeof(out->ssec_key))
            rc = invalid_arg(d, n->key, NULL, "The secret key was invalid "
                             "for the specified algorithm.");
    }

    if (rc == 0) {
        memcpy(out->ssec_key, raw, sizeof(out->ssec_key));
        snprintf(out->ssec_key_md5, sizeof(out->ssec_key_md5), "%s", md5);
        out->has_ssec = true;
    }
    crypto_wipe(raw, sizeof(raw));
    return rc;
}

static bool
trio_present(const struct headers *h, const struct trio_names *n)
{
    return headers_get(h, n->alg) != NULL || headers_get(h, n->key) != NULL ||
        headers_get(h, n->md5) != NULL;
}

/* Decode the context header into a string→string object. */
static int
parse_context(const char *b64, struct sse_request *out, struct err_detail *d)
{
    char raw[4096];
    size_t len;
    const char *k;
    json_t *v;

    if (strlen(b64) >= sizeof(out->context_b64) ||
        base64_decode(b64, strlen(b64), raw, sizeof(raw), &len) != 0)
        return invalid_arg(d, H_CTX, NULL, MSG_CTX);
    out->context = json_loadb(raw, len, JSON_REJECT_DUPLICATES, NULL);
    if (out->context == NULL || !json_is_object(out->context))
        return invalid_arg(d, H_CTX, NULL, MSG_CTX);
    json_object_foreach(out->context, k, v) {
        if (!json_is_string(v))
            return invalid_arg(d, H_CTX, NULL, MSG_CTX);
    }
    snprintf(out->context_b64, sizeof(out->context_b64), "%s", b64);
    return 0;
}

static bool
is_kms_algorithm(const char *alg)
{
    return strcmp(alg, "aws:kms") == 0 || strcmp(alg, "aws:kms:dsse") == 0;
}

/* The SSE-KMS family of headers on a write (sse.md §1, §2). */
static int
parse_kms(const struct headers *h, struct sse_request *out,
          struct err_detail *d)
{
    const char *sse = headers_get(h, H_SSE);
    const char *kid = headers_get(h, H_KID);
    const char *ctx = headers_get(h, H_CTX);
    const char *bk = headers_get(h, H_BK);

    if (sse != NULL && strcmp(sse, "AES256") != 0 && !is_kms_algorithm(sse))
        return invalid_arg(d, H_SSE, sse, "The encryption method specified "
                           "is not supported");
    if ((kid != NULL || ctx != NULL) && (sse == NULL || !is_kms_algorithm(sse)))
        return invalid_arg(d, kid != NULL ? H_KID : H_CTX, NULL,
                           "Server Side Encryption with AWS KMS managed key "
                           "requires HTTP header "
                           "x-amz-server-side-encryption : aws:kms");
    if (kid != NULL && strlen(kid) >= sizeof(out->kms_key_id))
        return invalid_arg(d, H_KID, NULL, "The KMS key id is too long.");
    if (bk != NULL && strcasecmp(bk, "true") != 0 &&
        strcasecmp(bk, "false") != 0)
        return invalid_arg(d, H_BK, bk, "Invalid value for header "
                           H_BK ", expected true or false.");

    if (sse != NULL) {
        out->has_sse = true;
        snprintf(out->algorithm, sizeof(out->algorithm), "%s", sse);
    }
    if (kid != NULL) {
        out->has_kms_key_id = true;
        snprintf(out->kms_key_id, sizeof(out->kms_key_id), "%s", kid);
    }
    if (bk != NULL)
        out->bucket_key = strcasecmp(bk, "true") == 0;
    return ctx != NULL ? parse_context(ctx, out, d) : 0;
}

static bool
kms_headers_present(const struct headers *h)
{
    return headers_get(h, H_SSE) != NULL || headers_get(h, H_KID) != NULL ||
        headers_get(h, H_CTX) != NULL || headers_get(h, H_BK) != NULL;
}

static int
parse_op(const struct headers *h, enum sse_op op, struct sse_request *out,
         struct err_detail *d)
{
    const struct trio_names *trio = op == SSE_OP_COPY_SOURCE ? &trio_cs
        : &trio_c;
    int rc;

    if ((op == SSE_OP_PART || op == SSE_OP_READ) && kms_headers_present(h))
        return invalid_arg(d, H_SSE, NULL, "x-amz-server-side-encryption "
                           "header is not supported for this operation.");
    if (op == SSE_OP_WRITE && trio_present(h, trio) &&
        headers_get(h, H_SSE) != NULL)
        return invalid_arg(d, H_SSE, NULL, "Server Side Encryption with "
                           "Customer provided key is incompatible with the "
                           "encryption method specified");

    if (trio_present(h, trio) && (rc = parse_trio(h, trio, out, d)) != 0)
        return rc;
    return op == SSE_OP_WRITE ? parse_kms(h, out, d) : 0;
}

/*
 * Parse the encryption headers of one request.  The transport check comes
 * after the header checks, so a malformed trio gets the same answer over
 * HTTP and HTTPS.
 */
int
sse_parse_request(const struct headers *h, enum sse_op op, bool secure,
                  bool allow_plain_ssec, struct sse_request *out,
                  struct err_detail *d)
{
    int rc;

    memset(out, 0, sizeof(*out));
    out->bucket_key = -1;

    rc = parse_op(h, op, out, d);
    if (rc == 0 && out->has_ssec && !secure && !allow_plain_ssec)
        rc = err_set(d, CERR_INVALID_REQUEST, SSEC_PREFIX "be made over a "
                     "secure connection.");
    if (rc != 0)
        sse_request_clear(out);
    return rc;
}

/* Release the context and wipe the customer key; r stays usable. */
void
sse_request_clear(struct sse_request *r)
{
    json_decref(r->context);
    r->context = NULL;
    crypto_wipe(r->ssec_key, sizeof(r->ssec_key));
    r->has_ssec = false;
}

/* Whether any encryption header was sent (sse.md §6, copy onto itself). */
bool
sse_request_any(const struct sse_request *r)
{
    return r->has_sse || r->has_kms_key_id || r->context_b64[0] != '\0' ||
        r->bucket_key != -1 || r->has_ssec;
}

static const char *
mode_name(int mode)
{
    switch (mode) {
    case SSE_MODE_S3:
        return "AES256";
    case SSE_MODE_KMS:
        return "aws:kms";
    case SSE_MODE_KMS_DSSE:
        return "aws:kms:dsse";
    default:
        return NULL;
    }
}

/*
 * Add the reply headers of sse.md §3.  SSE-C objects never carry
 * x-amz-server-side-encryption; their algorithm and key MD5 come back
 * only when the request carried the key (always so on writes and parts).
 */
void
sse_response_headers(const struct meta_sse *rec,
                     const struct sse_request *req, enum sse_op op,
                     void (*add)(void *ctx, const char *name,
                                 const char *value),
                     void *ctx)
{
    const char *name = mode_name(rec->mode);

    if (rec->mode == SSE_MODE_C) {
        if (op != SSE_OP_COMPLETE && req != NULL && req->has_ssec) {
            add(ctx, "x-amz-server-side-encryption-customer-algorithm",
                "AES256");
            add(ctx, "x-amz-server-side-encryption-customer-key-MD5",
                req->ssec_key_md5);
        }
        return;
    }
    if (name == NULL)
        return;

    add(ctx, H_SSE, name);
    if (rec->mode != SSE_MODE_S3)
        add(ctx, H_KID, rec->kms_key_arn);
    if (rec->mode != SSE_MODE_S3 && rec->bucket_key)
        add(ctx, H_BK, "true");
    if (op == SSE_OP_WRITE && rec->mode != SSE_MODE_S3 && req != NULL &&
        req->context_b64[0] != '\0')
        add(ctx, H_CTX, req->context_b64);
}

/* Check a PutBucketEncryption rule before it is stored (sse.md §5). */
int
sse_validate_rule(const char *algorithm, const char *kms_key_id,
                  struct err_detail *d)
{
    if (algorithm == NULL || (strcmp(algorithm, "AES256") != 0 &&
                              !is_kms_algorithm(algorithm)))
        return err_set(d, CERR_MALFORMED_XML, "The XML you provided was not "
                       "well-formed or did not validate against our "
                       "published schema");
    if (strcmp(algorithm, "AES256") == 0 && kms_key_id != NULL)
        return invalid_arg(d, "ApplyServerSideEncryptionByDefault", NULL,
                           "a KMSMasterKeyID is not applicable if the "
                           "default sse algorithm is not aws:kms or "
                           "aws:kms:dsse");
    if (kms_key_id != NULL && kms_key_id[0] == '\0')
        return invalid_arg(d, "KMSMasterKeyID", NULL,
                           "KMSMasterKeyID must not be empty");
    if (kms_key_id != NULL && strlen(kms_key_id) > 2048)
        return invalid_arg(d, "KMSMasterKeyID", NULL,
                           "KMSMasterKeyID is longer than 2048 characters");
    return 0;
}
