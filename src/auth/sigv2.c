/*
 * Signature Version 2 query-string authentication: the presigned URLs
 * that the aws CLI v1 (`aws s3 presign`) and boto3 still make by default
 * for an endpoint of the user's choosing.  The URL carries
 * AWSAccessKeyId, Expires (seconds since the epoch) and Signature, the
 * base64 HMAC-SHA1 under the secret key of this string:
 *
 *     METHOD "\n"
 *     Content-MD5 "\n"         the header, else a content-md5 parameter
 *     Content-Type "\n"        the header, else a content-type parameter
 *     Expires "\n"             as sent
 *     "name:value\n" ...       every x-amz-* header, and every x-amz-*
 *                              parameter the headers lack (botocore
 *                              hoists them into the URL), names
 *                              lowercased and sorted, values trimmed
 *     resource                 the path as sent ("/" bucket first with
 *                              virtual hosting; "/bucket/" for the
 *                              bucket itself), then "?" and the
 *                              subresource parameters sorted by name,
 *                              "name" or "name=decoded value", "&"-joined
 *
 * The same signature may come in the Authorization header instead,
 * "AWS " AccessKeyId ":" Signature (s3cmd with signature_v2, boto3 with
 * signature_version "s3"): then the Expires line holds the Date header,
 * or nothing when an x-amz-date header (an HTTP date, signed among the
 * x-amz-* lines) gives the time, and that time must be within 15
 * minutes of ours.
 *
 * A path a client encoded differently is retried decoded and encoded
 * again, as SigV4 does.  Signatures are compared in constant time; the
 * secret is wiped before return.
 */
#include "auth/auth_int.h"
#include "crypto/crypto.h"
#include "util/codec.h"
#include "util/err.h"
#include "util/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGV2_SIG_LEN 28        /* base64 of a 20-byte HMAC-SHA1 */
#define SIGV2_MAX_SKEW_MS (15 * 60 * 1000LL)

/* The parameters that belong to the resource (botocore's list). */
static const char *const subresources[] = {
    "accelerate", "acl", "analytics", "cors", "defaultObjectAcl",
    "delete", "inventory", "lifecycle", "location", "logging", "metrics",
    "notification", "object-lock", "partNumber", "policy", "replication",
    "requestPayment", "response-cache-control",
    "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type",
    "response-expires", "restore", "select", "select-type",
    "storageClass", "tagging", "torrent", "uploadId", "uploads",
    "versionId", "versioning", "versions", "website", NULL,
};

struct pair {
    char *name;
    char *value;                /* NULL: a parameter without '=' */
};

struct pairs {
    struct pair *v;
    size_t n;
};

static void
pairs_free(struct pairs *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].value);
    }
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

/* Take over name and value (either may be NULL on entry: out of memory). */
static int
pairs_add(struct pairs *p, char *name, char *value, bool has_value)
{
    struct pair *v;

    if (name == NULL || (has_value && value == NULL)) {
        free(name);
        free(value);
        return CERR_NOMEM;
    }
    v = realloc(p->v, (p->n + 1) * sizeof(*v));
    if (v == NULL) {
        free(name);
        free(value);
        return CERR_NOMEM;
    }
    p->v = v;
    v[p->n].name = name;
    v[p->n].value = value;
    p->n++;
    return 0;
}

static int
pair_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pair *)a)->name,
                  ((const struct pair *)b)->name);
}

/* A percent-decoded copy of len bytes of s; NULL when it does not decode
 * or memory runs out. */
static char *
decoded(const char *s, size_t len)
{
    char *out = malloc(len + 1);

    if (out != NULL && uri_decode(s, len, out, NULL) != 0) {
        free(out);
        out = NULL;
    }
    return out;
}

static bool
is_subresource(const char *name, size_t len)
{
    size_t i;

    for (i = 0; subresources[i]; i++)
        if (strlen(subresources[i]) == len &&
            memcmp(subresources[i], name, len) == 0)
            return true;
    return false;
}

/* A copy of v without leading and trailing blanks. */
static char *
trimmed(const char *v)
{
    size_t len;

    while (*v == ' ' || *v == '\t')
        v++;
    len = strlen(v);
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    return strndup(v, len);
}

static char *
lowered(char *s)
{
    size_t i;

    for (i = 0; s != NULL && s[i]; i++)
        s[i] = (char)tolower((unsigned char)s[i]);
    return s;
}

/*
 * Walk the raw query: subresources go to *sub (name raw, value decoded),
 * x-amz-* parameters the headers lack to *amz (name lowercased).
 */
static int
scan_query(const char *q, const struct headers *h, struct pairs *sub,
           struct pairs *amz)
{
    int rc = 0;

    while (rc == 0 && *q != '\0') {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        size_t nlen = eq ? (size_t)(eq - q) : len;
        size_t vlen = eq ? len - nlen - 1 : 0;
        char *name = NULL;

        if (is_subresource(q, nlen)) {
            rc = pairs_add(sub, strndup(q, nlen),
                           eq ? decoded(eq + 1, vlen) : NULL, eq != NULL);
        } else if (amz != NULL &&
                   (name = lowered(decoded(q, nlen))) != NULL &&
                   strncmp(name, "x-amz-", 6) == 0 &&
                   headers_get(h, name) == NULL) {
            /* XXX: a hoisted x-amz-* parameter counts in the signature
             * but is not applied as the header it stands for: a URL
             * presigned with, say, x-amz-server-side-encryption stores
             * the object as if the header were absent unless the client
             * sends it as a header too. */
            char *raw = decoded(eq ? eq + 1 : "", vlen);

            rc = pairs_add(amz, name, raw ? trimmed(raw) : NULL, true);
            free(raw);
            name = NULL;
        }
        free(name);
        q += len;
        if (*q == '&')
            q++;
    }
    return rc;
}

/* The x-amz-* header lines, headers and hoisted parameters together. */
static int
put_amz_lines(struct buf *b, const struct headers *h, struct pairs *amz)
{
    size_t i;
    int rc;

    for (i = 0; i < h->n; i++) {
        if (strncmp(h->v[i].name, "x-amz-", 6) != 0)
            continue;
        rc = pairs_add(amz, strdup(h->v[i].name), trimmed(h->v[i].value),
                       true);
        if (rc != 0)
            return rc;
    }
    if (amz->n > 1)
        qsort(amz->v, amz->n, sizeof(*amz->v), pair_cmp);
    for (i = 0; i < amz->n; i++)
        buf_printf(b, "%s:%s\n", amz->v[i].name, amz->v[i].value);
    return 0;
}

static void
put_resource(struct buf *b, struct pairs *sub)
{
    size_t i;

    if (sub->n > 1)
        qsort(sub->v, sub->n, sizeof(*sub->v), pair_cmp);
    for (i = 0; i < sub->n; i++) {
        buf_putc(b, i == 0 ? '?' : '&');
        buf_puts(b, sub->v[i].name);
        if (sub->v[i].value != NULL) {
            buf_putc(b, '=');
            buf_puts(b, sub->v[i].value);
        }
    }
}

/* A header's value, else (when the URL is presigned) the same-named
 * query parameter's, decoded into tmp, else "". */
static const char *
field(const struct sigv4_request *r, const char *name, bool presigned,
      char *tmp, size_t cap)
{
    const char *v = headers_get(r->headers, name);

    if (v != NULL)
        return v;
    if (presigned && sigv4_query_get(r->raw_query, name, tmp, cap) == 1)
        return tmp;
    return "";
}

/*
 * The SigV2 string to sign; see the top of this file and auth_int.h.
 * Only a presigned URL may carry Content-MD5, Content-Type and x-amz-*
 * as query parameters.  With the Authorization header they count only as
 * headers: a parameter that stood in for a signed header would pass the
 * signature check while the header's effect (a body digest, a copy
 * source, an encryption) silently disappeared.
 */
int
sigv2_string_to_sign(struct buf *b, const struct sigv4_request *r,
                     const char *expires, bool presigned, bool reencode)
{
    struct pairs sub = { NULL, 0 }, amz = { NULL, 0 };
    char md5[64], type[512];
    char *md5v, *typev;
    int rc;

    buf_reset(b);
    md5v = trimmed(field(r, "content-md5", presigned, md5, sizeof(md5)));
    typev = trimmed(field(r, "content-type", presigned, type, sizeof(type)));
    if (md5v != NULL && typev != NULL)
        buf_printf(b, "%s\n%s\n%s\n%s\n", r->method, md5v, typev, expires);
    rc = md5v && typev ? scan_query(r->raw_query, r->headers, &sub,
                                    presigned ? &amz : NULL)
                       : CERR_NOMEM;
    if (rc == 0)
        rc = put_amz_lines(b, r->headers, &amz);
    if (rc == 0 && r->vhost_bucket != NULL)
        buf_printf(b, "/%s", r->vhost_bucket);
    if (rc == 0)
        rc = sigv4_canonical_uri(b, r->raw_path, reencode);
    /* A bucket's own resource is "/bucket/", whatever the path says. */
    if (rc == 0 && r->vhost_bucket == NULL && r->raw_path[0] == '/' &&
        r->raw_path[1] != '\0' && strchr(r->raw_path + 1, '/') == NULL)
        buf_putc(b, '/');
    if (rc == 0)
        put_resource(b, &sub);
    if (rc == 0 && buf_failed(b))
        rc = CERR_NOMEM;
    free(md5v);
    free(typev);
    pairs_free(&sub);
    pairs_free(&amz);
    return rc;
}

/* base64(HMAC-SHA1(secret, sts)) against the given signature. */
static bool
signature_matches(const char *secret, const struct buf *sts,
                  const char *given)
{
    uint8_t mac[CRYPTO_SHA1_LEN];
    char want[SIGV2_SIG_LEN + 1];
    bool ok;

    crypto_hmac_sha1(secret, strlen(secret), sts->data, sts->len, mac);
    base64_encode(mac, sizeof(mac), want);
    ok = strlen(given) == SIGV2_SIG_LEN &&
         crypto_equal(want, given, SIGV2_SIG_LEN);
    crypto_wipe(mac, sizeof(mac));
    return ok;
}

/* Check the signature over the path as sent, then re-encoded. */
static int
check_signature(const struct sigv4_request *r, const char *secret,
                const char *expires, bool presigned, const char *given)
{
    struct buf sts = BUF_INIT;
    int rc, pass;

    for (pass = 0; pass < 2; pass++) {
        rc = sigv2_string_to_sign(&sts, r, expires, presigned, pass == 1);
        if (rc == 0 && signature_matches(secret, &sts, given))
            break;
        if (rc == 0 || rc == CERR_INVALID_ARGUMENT)
            rc = CERR_SIGNATURE_MISMATCH;
        if (rc != CERR_SIGNATURE_MISMATCH)
            break;
    }
    buf_free(&sts);
    return rc;
}

/* Expires: seconds since the epoch, digits only. */
static int
parse_expires(const char *s, int64_t *out, struct err_detail *d)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if (!isdigit((unsigned char)s[i]))
            break;
    if (i == 0 || s[i] != '\0' || i > 12)
        return err_set(d, CERR_ACCESS_DENIED, "Invalid date (should be "
                       "seconds since epoch): %s", s);
    *out = strtoll(s, NULL, 10);
    return 0;
}

/*
 * Look the key up and check sig over the string to sign whose fourth
 * line is `when` (Expires, or the Date header).
 */
static int
check_key(struct auth_creds *c, const struct sigv4_request *r,
          const char *akid, const char *when, bool presigned, const char *sig,
          struct sigv4_auth *out, struct err_detail *d)
{
    char secret[128];
    int rc;

    snprintf(out->access_key, sizeof(out->access_key), "%s", akid);
    rc = auth_creds_lookup(c, akid, secret, &out->principal);
    if (rc == CERR_INVALID_ACCESS_KEY)
        return err_set(d, rc, "The AWS Access Key Id you provided does not "
                       "exist in our records.");
    if (rc != 0)
        return rc;
    rc = check_signature(r, secret, when, presigned, sig);
    crypto_wipe(secret, sizeof(secret));
    /* XXX: the reply names no <StringToSign>, which AWS adds to a SigV2
     * SignatureDoesNotMatch to help a client find its mistake. */
    if (rc == CERR_SIGNATURE_MISMATCH)
        return err_set(d, rc, "The request signature we calculated does "
                       "not match the signature you provided. Check your "
                       "key and signing method.");
    return rc;
}

static int
verify(struct auth_creds *c, const struct sigv4_request *r,
       struct sigv4_auth *out, struct err_detail *d)
{
    char akid[129], expires[32], sig[64];
    int64_t when = 0;
    int rc;

    if (sigv4_query_get(r->raw_query, "AWSAccessKeyId", akid,
                        sizeof(akid)) != 1 ||
        sigv4_query_get(r->raw_query, "Expires", expires,
                        sizeof(expires)) != 1 ||
        sigv4_query_get(r->raw_query, "Signature", sig, sizeof(sig)) != 1)
        return err_set(d, CERR_ACCESS_DENIED, "Query-string authentication "
                       "requires the Signature, Expires and AWSAccessKeyId "
                       "parameters");
    snprintf(out->access_key, sizeof(out->access_key), "%s", akid);
    if ((rc = parse_expires(expires, &when, d)) != 0)
        return rc;
    if (r->now_ms / 1000 > when)
        return err_set(d, CERR_REQUEST_EXPIRED, "Request has expired");
    return check_key(c, r, akid, expires, true, sig, out, d);
}

/*
 * Verify a SigV2 presigned URL and fill *out as auth_sigv4_verify does
 * (presigned, sigv2, payload UNSIGNED-PAYLOAD).  0, CERR_ACCESS_DENIED
 * (parameters missing, Expires not a number), CERR_REQUEST_EXPIRED,
 * CERR_INVALID_ACCESS_KEY, CERR_SIGNATURE_MISMATCH, CERR_NOMEM; the
 * principal is cleared on failure.
 */
int
auth_sigv2_verify_query(struct auth_creds *c, const struct sigv4_request *r,
                        struct sigv4_auth *out, struct err_detail *d)
{
    int rc;

    out->presigned = true;
    out->sigv2 = true;
    out->payload = AUTH_PAYLOAD_UNSIGNED;
    rc = verify(c, r, out, d);
    if (rc != 0)
        memset(&out->principal, 0, sizeof(out->principal));
    return rc;
}

/*
 * An HTTP date, also with "+0000" for "GMT" (s3cmd's x-amz-date).
 * 0 or CERR_INVALID_ARGUMENT.
 */
static int
parse_date(const char *s, int64_t *ms)
{
    char tmp[64];
    size_t n = strlen(s);

    if (time_parse_http(s, ms) == 0)
        return 0;
    if (n < 6 || n >= sizeof(tmp) || strcmp(s + n - 6, " +0000") != 0)
        return CERR_INVALID_ARGUMENT;
    snprintf(tmp, sizeof(tmp), "%.*s GMT", (int)(n - 6), s);
    return time_parse_http(tmp, ms);
}

/*
 * The request time of header authentication: x-amz-date when sent,
 * else Date, both HTTP dates; *dateline is what the string to sign
 * holds for it.  0, CERR_ACCESS_DENIED (neither parses),
 * CERR_TIME_SKEWED (over 15 minutes from now).
 */
static int
header_time(const struct sigv4_request *r, const char **dateline,
            struct err_detail *d)
{
    const char *amz = headers_get(r->headers, "x-amz-date");
    const char *date = headers_get(r->headers, "date");
    int64_t when, diff;

    *dateline = amz != NULL ? "" : date;
    if (amz != NULL ? parse_date(amz, &when) != 0
                    : date == NULL || parse_date(date, &when) != 0)
        return err_set(d, CERR_ACCESS_DENIED, "AWS authentication requires "
                       "a valid Date or x-amz-date header");
    diff = r->now_ms - when;
    if (diff > SIGV2_MAX_SKEW_MS || diff < -SIGV2_MAX_SKEW_MS)
        return err_set(d, CERR_TIME_SKEWED, "The difference between the "
                       "request time and the current time is too large.");
    return 0;
}

/*
 * Verify "AWS AccessKeyId:Signature" in the Authorization header (see
 * the top of this file) and fill *out as auth_sigv4_verify does (sigv2,
 * payload UNSIGNED-PAYLOAD: SigV2 signs no body).  0,
 * CERR_AUTH_HEADER_MALFORMED, CERR_ACCESS_DENIED (no usable date),
 * CERR_TIME_SKEWED, CERR_INVALID_ACCESS_KEY, CERR_SIGNATURE_MISMATCH,
 * CERR_NOMEM; the principal is cleared on failure.
 */
int
auth_sigv2_verify_header(struct auth_creds *c, const struct sigv4_request *r,
                         struct sigv4_auth *out, struct err_detail *d)
{
    const char *v = headers_get(r->headers, "authorization");
    const char *colon, *dateline;
    char akid[129];
    int rc;

    memset(out, 0, sizeof(*out));
    out->sigv2 = true;
    out->payload = AUTH_PAYLOAD_UNSIGNED;
    if (v != NULL)
        v += strspn(v, " ");
    if (v == NULL || strncmp(v, "AWS ", 4) != 0 ||
        (colon = strchr(v + 4, ':')) == NULL || colon == v + 4 ||
        (size_t)(colon - v - 4) >= sizeof(akid))
        return err_set(d, CERR_AUTH_HEADER_MALFORMED, "The authorization "
                       "header is malformed; unsupported authorization type.");
    snprintf(akid, sizeof(akid), "%.*s", (int)(colon - v - 4), v + 4);
    rc = header_time(r, &dateline, d);
    if (rc == 0)
        rc = check_key(c, r, akid, dateline, false, colon + 1, out, d);
    if (rc != 0)
        memset(&out->principal, 0, sizeof(out->principal));
    return rc;
}
