/*
 * SigV4 verification: the Authorization header form and the presigned
 * query form, for S3 and KMS.  This file reads what the request claims
 * (credential scope, date, signed headers, signature, payload kind),
 * holds it against this server (region, service, clock, expiry), then
 * rebuilds the canonical request (canonical.c) and compares signatures in
 * constant time.  A request fails with the code S3 or KMS would send;
 * nothing here logs, and no secret outlives a call except in the signing
 * key cache and the caller's sigv4_auth, which auth_sigv4_clear wipes.
 */
#include "auth/auth_int.h"
#include "crypto/crypto.h"
#include "util/codec.h"
#include "util/err.h"
#include "util/timefmt.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SKEW_MS (15 * 60 * 1000LL)
#define PRESIGN_MAX_EXPIRES 604800
#define ECDSA_SCHEME "AWS4-ECDSA-P256-SHA256"

/* What the Authorization header or the presigned query claims. */
struct claim {
    bool presigned;
    char akid[129];
    char date[9];               /* from the credential scope */
    char region[64];
    char service[32];
    char *signed_headers;       /* heap */
    char signature[65];
    char amz_date[17];
    int64_t time_ms;
    const char *payload;        /* the canonical request's last line */
};

/* Fill d->message like err_set, from a va_list. */
static int
failv(struct err_detail *d, int code, const char *fmt, va_list ap)
{
    if (d != NULL)
        vsnprintf(d->message, sizeof(d->message), fmt, ap);
    return code;
}

static int fail(struct err_detail *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int scope_fail(const struct sigv4_request *r, bool presigned,
                      struct err_detail *d, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(struct err_detail *d, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    failv(d, code, fmt, ap);
    va_end(ap);
    return code;
}

/*
 * A scope that does not fit this server: S3 answers
 * AuthorizationHeaderMalformed (or AuthorizationQueryParametersError for a
 * presigned URL), KMS InvalidSignatureException (ruling 21).
 */
static int
scope_fail(const struct sigv4_request *r, bool presigned,
           struct err_detail *d, const char *fmt, ...)
{
    va_list ap;
    int code = CERR_AUTH_HEADER_MALFORMED;

    if (strcmp(r->service, "kms") == 0)
        code = CERR_KMS_INVALID_SIGNATURE;
    else if (presigned)
        code = CERR_AUTH_QUERY_ERROR;
    va_start(ap, fmt);
    failv(d, code, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- reading the claim ---- */

/*
 * Split "AKID/yyyymmdd/region/service/aws4_request" into the claim and
 * check it against this server.
 */
static int
parse_credential(const char *cred, struct claim *cl,
                 const struct sigv4_request *r, struct err_detail *d)
{
    const char *slash[4], *p = cred + strlen(cred);
    int code = cl->presigned ? CERR_AUTH_QUERY_ERROR
                             : CERR_AUTH_HEADER_MALFORMED;
    int i;

    for (i = 3; i >= 0; i--) {
        while (p > cred && p[-1] != '/')
            p--;
        if (p == cred)
            goto bad;
        slash[i] = --p;
    }
    if ((size_t)(slash[0] - cred) >= sizeof(cl->akid) ||
        slash[0] == cred || slash[1] - slash[0] != 9 ||
        (size_t)(slash[2] - slash[1]) > sizeof(cl->region) ||
        (size_t)(slash[3] - slash[2]) > sizeof(cl->service) ||
        strcmp(slash[3] + 1, "aws4_request") != 0)
        goto bad;

    memcpy(cl->akid, cred, (size_t)(slash[0] - cred));
    memcpy(cl->date, slash[0] + 1, 8);
    memcpy(cl->region, slash[1] + 1, (size_t)(slash[2] - slash[1] - 1));
    memcpy(cl->service, slash[2] + 1, (size_t)(slash[3] - slash[2] - 1));
    for (i = 0; i < 8; i++)
        if (!isdigit((unsigned char)cl->date[i]))
            goto bad;

    if (strcmp(cl->region, r->region) != 0 &&
        strcmp(r->service, "kms") == 0)
        return scope_fail(r, false, d, "Credential should be scoped to a "
                          "valid region, not '%s'. ", cl->region);
    if (strcmp(cl->region, r->region) != 0)
        return scope_fail(r, cl->presigned, d, "%sthe region '%s' is "
                          "wrong; expecting '%s'", cl->presigned ?
                          "Error parsing the X-Amz-Credential parameter; " :
                          "The authorization header is malformed; ",
                          cl->region, r->region);
    if (strcmp(cl->service, r->service) != 0)
        return scope_fail(r, cl->presigned, d, "Credential should be "
                          "scoped to correct service: '%s'.", r->service);
    return 0;
bad:
    if (strcmp(r->service, "kms") == 0)
        code = CERR_INCOMPLETE_SIGNATURE;
    return fail(d, code, "%sthe Credential is mal-formed; expecting "
                "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
                cl->presigned ? "Error parsing the X-Amz-Credential "
                "parameter; " : "The authorization header is malformed; ");
}

/* SignedHeaders: ';'-separated names, none empty, blank or too long. */
static bool
signed_headers_ok(const char *sh)
{
    size_t n = 0;

    for (;; sh++) {
        if (*sh == ';' || *sh == '\0') {
            if (n == 0 || n >= 128)
                return false;
            if (*sh == '\0')
                return true;
            n = 0;
        } else if ((unsigned char)*sh <= ' ' || *sh == 0x7f) {
            return false;
        } else {
            n++;
        }
    }
}

/* Copy `len` bytes of s into a bounded field; false when too long. */
static bool
copy_field(char *dst, size_t cap, const char *s, size_t len)
{
    if (len >= cap)
        return false;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return true;
}

/* Lowercase a hex signature in place; false unless 64 hex digits. */
static bool
normalise_signature(char *sig)
{
    size_t i;

    for (i = 0; sig[i]; i++) {
        if (!isxdigit((unsigned char)sig[i]))
            return false;
        sig[i] = (char)tolower((unsigned char)sig[i]);
    }
    return i == 64;
}

/* One "Name=value" item of the Authorization header into the claim. */
static int
take_item(struct claim *cl, const char *s, size_t len, char *cred,
          size_t credcap, int *seen)
{
    const char *eq = memchr(s, '=', len);
    size_t nlen, vlen;

    if (eq == NULL)
        return CERR_AUTH_HEADER_MALFORMED;
    nlen = (size_t)(eq - s);
    vlen = len - nlen - 1;
    while (nlen > 0 && s[nlen - 1] == ' ')
        nlen--;
    eq++;
    while (vlen > 0 && *eq == ' ') {
        eq++;
        vlen--;
    }

    if (nlen == 10 && memcmp(s, "Credential", 10) == 0 && !(*seen & 1)) {
        *seen |= 1;
        return copy_field(cred, credcap, eq, vlen) ? 0
               : CERR_AUTH_HEADER_MALFORMED;
    }
    if (nlen == 13 && memcmp(s, "SignedHeaders", 13) == 0 &&
        !(*seen & 2)) {
        *seen |= 2;
        cl->signed_headers = strndup(eq, vlen);
        return cl->signed_headers ? 0 : CERR_NOMEM;
    }
    if (nlen == 9 && memcmp(s, "Signature", 9) == 0 && !(*seen & 4)) {
        *seen |= 4;
        return copy_field(cl->signature, sizeof(cl->signature), eq, vlen)
               ? 0 : CERR_SIGNATURE_MISMATCH;
    }
    return CERR_AUTH_HEADER_MALFORMED;
}

/*
 * Parse "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."
 * with ", " or "," between items in any order.
 */
static int
parse_auth_header(const char *v, struct claim *cl,
                  const struct sigv4_request *r, struct err_detail *d)
{
    char cred[512];
    int seen = 0, rc;
    size_t n = strlen(SIGV4_ALGORITHM);

    while (*v == ' ')
        v++;
    /* XXX: no SigV4a (ECDSA); such requests get 501 NotImplemented. */
    if (strncmp(v, ECDSA_SCHEME, strlen(ECDSA_SCHEME)) == 0)
        return fail(d, CERR_NOT_IMPLEMENTED, "SigV4a (%s) is not "
                    "supported; sign with AWS4-HMAC-SHA256.", ECDSA_SCHEME);
    /* S3 hands SigV2 headers to sigv2.c before this; KMS never took
     * SigV2, so here it is 501 NotImplemented. */
    if (strncmp(v, "AWS ", 4) == 0)
        return fail(d, CERR_NOT_IMPLEMENTED, "Signature version 2 is not "
                    "supported; sign with AWS4-HMAC-SHA256.");
    if (strncmp(v, SIGV4_ALGORITHM, n) != 0 || v[n] != ' ')
        return fail(d, CERR_AUTH_HEADER_MALFORMED, "The authorization "
                    "header is malformed; unsupported authorization type.");

    for (v += n; *v != '\0';) {
        const char *end;
        size_t len;

        while (*v == ' ' || *v == ',')
            v++;
        if (*v == '\0')
            break;
        end = strchr(v, ',');
        len = end ? (size_t)(end - v) : strlen(v);
        while (len > 0 && v[len - 1] == ' ')
            len--;
        rc = take_item(cl, v, len, cred, sizeof(cred), &seen);
        if (rc == CERR_NOMEM || rc == CERR_SIGNATURE_MISMATCH)
            return rc;
        if (rc != 0)
            return fail(d, rc, "The authorization header is malformed; "
                        "unexpected item '%.*s'.", (int)len, v);
        v += len;
    }

    if (seen != 7)
        return fail(d, CERR_INCOMPLETE_SIGNATURE, "Authorization header "
                    "requires 'Credential', 'Signature' and "
                    "'SignedHeaders' parameters.");
    if (!signed_headers_ok(cl->signed_headers))
        return fail(d, CERR_AUTH_HEADER_MALFORMED, "The authorization "
                    "header is malformed; SignedHeaders is not a list of "
                    "header names.");
    return parse_credential(cred, cl, r, d);
}

/*
 * The decoded value of query parameter `name` into out (cap bytes).
 * 1 when found, 0 when absent, CERR_AUTH_QUERY_ERROR when it does not
 * decode or fit.
 */
static int
query_get(const char *q, const char *name, char *out, size_t cap)
{
    size_t want = strlen(name);

    while (*q != '\0') {
        const char *end = strchr(q, '&');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t nlen = eq ? (size_t)(eq - q) : len, vlen, m;

        if (nlen == want && memcmp(q, name, want) == 0) {
            vlen = eq ? len - nlen - 1 : 0;
            if (vlen >= cap)
                return CERR_AUTH_QUERY_ERROR;
            if (uri_decode(eq ? eq + 1 : "", vlen, out, &m) != 0)
                return CERR_AUTH_QUERY_ERROR;
            return 1;
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return 0;
}

/* query_get for the other files of the module; see auth_int.h. */
int
sigv4_query_get(const char *q, const char *name, char *out, size_t cap)
{
    return query_get(q, name, out, cap);
}

/* Basic ISO 8601 form of a time: "20130524T000000Z". */
static void
format_amz(int64_t ms, char out[17])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* Request time from X-Amz-Date, else Date, for header auth. */
static int
header_time(const struct sigv4_request *r, struct claim *cl,
            struct err_detail *d)
{
    const char *v = headers_get(r->headers, "x-amz-date");
    char tmp[64];
    int code = strcmp(r->service, "kms") == 0 ? CERR_INCOMPLETE_SIGNATURE
                                              : CERR_ACCESS_DENIED;

    if (v != NULL) {
        while (*v == ' ')
            v++;
        snprintf(tmp, sizeof(tmp), "%s", v);
        tmp[strcspn(tmp, " \t")] = '\0';
        if (strlen(tmp) == 16 && time_parse_amz(tmp, &cl->time_ms) == 0) {
            memcpy(cl->amz_date, tmp, 17);
            return 0;
        }
    } else if ((v = headers_get(r->headers, "date")) != NULL &&
               time_parse_http(v, &cl->time_ms) == 0) {
        format_amz(cl->time_ms, cl->amz_date);
        return 0;
    }
    return fail(d, code, "AWS authentication requires a valid Date or "
                "x-amz-date header");
}

/* Refuse a request time more than 15 minutes from ours. */
static int
check_skew(const struct sigv4_request *r, const struct claim *cl,
           struct err_detail *d)
{
    char now[17], lim[17];
    int64_t diff = r->now_ms - cl->time_ms;

    if (diff <= MAX_SKEW_MS && diff >= -MAX_SKEW_MS)
        return 0;
    if (strcmp(r->service, "kms") != 0)
        return fail(d, CERR_TIME_SKEWED, "The difference between the "
                    "request time and the current time is too large.");

    format_amz(r->now_ms, now);
    if (diff > 0) {
        format_amz(r->now_ms - MAX_SKEW_MS, lim);
        return fail(d, CERR_TIME_SKEWED, "Signature expired: %s is now "
                    "earlier than %s (%s - 15 min.)", cl->amz_date, lim,
                    now);
    }
    format_amz(r->now_ms + MAX_SKEW_MS, lim);
    return fail(d, CERR_TIME_SKEWED, "Signature not yet current: %s is "
                "still later than %s (%s + 15 min.)", cl->amz_date, lim,
                now);
}

/* What x-amz-content-sha256 announces; see auth_int.h. */
int
sigv4_payload_kind(const char *v, enum auth_payload *out,
                   struct err_detail *d)
{
    static const struct {
        const char *text;
        enum auth_payload kind;
    } kinds[] = {
        { "UNSIGNED-PAYLOAD", AUTH_PAYLOAD_UNSIGNED },
        { "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
          AUTH_PAYLOAD_STREAMING_SIGNED },
        { "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
          AUTH_PAYLOAD_STREAMING_SIGNED_TRAILER },
        { "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
          AUTH_PAYLOAD_STREAMING_UNSIGNED_TRAILER },
    };
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(v, kinds[i].text) == 0) {
            *out = kinds[i].kind;
            return 0;
        }
    }
    if (strncmp(v, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", 40) == 0)
        return fail(d, CERR_NOT_IMPLEMENTED, "SigV4a streaming payloads "
                    "are not supported.");
    for (i = 0; i < 64 && isxdigit((unsigned char)v[i]); i++)
        ;
    if (i == 64 && v[64] == '\0') {
        *out = AUTH_PAYLOAD_HASHED;
        return 0;
    }
    return fail(d, CERR_INVALID_ARGUMENT, "x-amz-content-sha256 must be "
                "UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid "
                "sha256 value.");
}

/* Copy a 64-digit hex hash in lowercase. */
static void
lower_hash(char out[65], const char *v)
{
    size_t i;

    for (i = 0; i < 64; i++)
        out[i] = (char)tolower((unsigned char)v[i]);
    out[64] = '\0';
}

/* Payload hash of an S3 request signed in the header. */
static int
header_payload(const struct sigv4_request *r, const char *given,
               struct claim *cl, struct sigv4_auth *out,
               struct err_detail *d)
{
    const char *v;
    int rc;

    if (given != NULL) {
        out->payload = AUTH_PAYLOAD_HASHED;
        snprintf(out->payload_hash, sizeof(out->payload_hash), "%s", given);
        cl->payload = given;
        return 0;
    }
    v = headers_get(r->headers, "x-amz-content-sha256");
    if (v == NULL)
        return fail(d, CERR_INVALID_REQUEST, "Missing required header for "
                    "this request: x-amz-content-sha256");
    rc = sigv4_payload_kind(v, &out->payload, d);
    if (rc != 0)
        return rc;
    cl->payload = v;
    if (out->payload == AUTH_PAYLOAD_HASHED)
        lower_hash(out->payload_hash, v);
    return 0;
}

/* ---- verification ---- */

/*
 * Build the canonical request, sign it and compare.  On a mismatch the
 * canonical request and string to sign are left in *out for the reply.
 */
static int
compare_signature(const struct sigv4_request *r, const struct claim *cl,
                  const uint8_t key[32], bool reencode,
                  struct sigv4_auth *out)
{
    struct buf creq = BUF_INIT;
    char sts[256], sig[65];
    int rc;

    rc = sigv4_canonical_request(&creq, r->method, r->raw_path, reencode,
                                 r->raw_query, cl->presigned, r->headers,
                                 cl->signed_headers, cl->payload);
    if (rc != 0 && rc != CERR_SIGNATURE_MISMATCH) {
        buf_free(&creq);
        return rc;
    }
    sigv4_string_to_sign(cl->amz_date, out->scope, creq.data, creq.len,
                         sts, sizeof(sts));
    sigv4_hmac_hex(key, sts, strlen(sts), sig);
    if (rc == 0 && crypto_equal(sig, cl->signature, 64)) {
        buf_free(&creq);
        return 0;
    }

    free(out->canonical_request);
    out->canonical_request = buf_steal(&creq, NULL);
    snprintf(out->string_to_sign, sizeof(out->string_to_sign), "%s", sts);
    buf_free(&creq);
    return CERR_SIGNATURE_MISMATCH;
}

/* Look up the key, derive the signing key and check the signature. */
static int
check_claim(struct auth_creds *c, const struct sigv4_request *r,
            const struct claim *cl, struct sigv4_auth *out,
            struct err_detail *d)
{
    char secret[128];
    int rc;

    /* Known before the lookup, so error replies can name them. */
    out->presigned = cl->presigned;
    snprintf(out->access_key, sizeof(out->access_key), "%s", cl->akid);
    snprintf(out->scope, sizeof(out->scope), "%s/%s/%s/aws4_request",
             cl->date, cl->region, cl->service);
    rc = auth_creds_lookup(c, cl->akid, secret, &out->principal);
    if (rc == CERR_INVALID_ACCESS_KEY)
        return fail(d, rc, "The AWS Access Key Id you provided does not "
                    "exist in our records.");
    if (rc != 0)
        return rc;
    sigv4_signing_key(c, secret, cl->date, cl->region, cl->service,
                      out->signing_key);
    crypto_wipe(secret, sizeof(secret));

    /* Decode-and-re-encode first; then the path exactly as sent. */
    rc = compare_signature(r, cl, out->signing_key, true, out);
    if (rc == CERR_SIGNATURE_MISMATCH || rc == CERR_INVALID_ARGUMENT)
        rc = compare_signature(r, cl, out->signing_key, false, out);
    if (rc == 0) {
        free(out->canonical_request);
        out->canonical_request = NULL;
        out->string_to_sign[0] = '\0';
    }
    if (rc == CERR_SIGNATURE_MISMATCH)
        return fail(d, rc, "The request signature we calculated does not "
                    "match the signature you provided. Check your key and "
                    "signing method.");
    return rc;
}

/* Copy the verified claim into the result. */
static void
fill_result(const struct claim *cl, struct sigv4_auth *out)
{
    out->presigned = cl->presigned;
    snprintf(out->access_key, sizeof(out->access_key), "%s", cl->akid);
    memcpy(out->amz_date, cl->amz_date, sizeof(out->amz_date));
    memcpy(out->signature, cl->signature, sizeof(out->signature));
}

static int
verify_header(struct auth_creds *c, const struct sigv4_request *r,
              const char *authz, const char *payload_hash,
              struct claim *cl, struct sigv4_auth *out,
              struct err_detail *d)
{
    int rc;

    rc = parse_auth_header(authz, cl, r, d);
    if (rc == CERR_SIGNATURE_MISMATCH)
        return fail(d, rc, "The request signature we calculated does not "
                    "match the signature you provided.");
    if (rc != 0)
        return rc;
    rc = header_time(r, cl, d);
    if (rc != 0)
        return rc;
    if (memcmp(cl->date, cl->amz_date, 8) != 0)
        return scope_fail(r, false, d, "The authorization header is "
                          "malformed; Invalid credential date. Date is not "
                          "the same as X-Amz-Date.");

    rc = check_skew(r, cl, d);
    if (rc != 0)
        return rc;
    rc = header_payload(r, payload_hash, cl, out, d);
    if (rc != 0)
        return rc;
    if (!normalise_signature(cl->signature))
        return fail(d, CERR_SIGNATURE_MISMATCH, "The request signature we "
                    "calculated does not match the signature you "
                    "provided.");
    return check_claim(c, r, cl, out, d);
}

/* Read the presigned parameters other than the credential. */
static int
presigned_params(const struct sigv4_request *r, struct claim *cl,
                 char *cred, size_t credcap, int64_t *expires,
                 struct err_detail *d)
{
    const char *q = r->raw_query;
    char alg[64], date[64], exp[16], sh[2048];
    size_t i;

    if (query_get(q, "X-Amz-Algorithm", alg, sizeof(alg)) != 1 ||
        query_get(q, "X-Amz-Credential", cred, credcap) != 1 ||
        query_get(q, "X-Amz-Date", date, sizeof(date)) != 1 ||
        query_get(q, "X-Amz-Expires", exp, sizeof(exp)) != 1 ||
        query_get(q, "X-Amz-SignedHeaders", sh, sizeof(sh)) != 1 ||
        query_get(q, "X-Amz-Signature", cl->signature,
                  sizeof(cl->signature)) != 1)
        return fail(d, CERR_AUTH_QUERY_ERROR, "Query-string authentication "
                    "version 4 requires the X-Amz-Algorithm, "
                    "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, "
                    "X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
    if (strcmp(alg, ECDSA_SCHEME) == 0)
        return fail(d, CERR_NOT_IMPLEMENTED, "SigV4a presigned URLs are "
                    "not supported.");
    if (strcmp(alg, SIGV4_ALGORITHM) != 0)
        return fail(d, CERR_AUTH_QUERY_ERROR, "X-Amz-Algorithm only "
                    "supports \"%s\"", SIGV4_ALGORITHM);

    if (strlen(date) != 16 || time_parse_amz(date, &cl->time_ms) != 0)
        return fail(d, CERR_AUTH_QUERY_ERROR, "X-Amz-Date must be in the "
                    "ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
    memcpy(cl->amz_date, date, 17);
    for (i = 0; exp[i]; i++)
        if (!isdigit((unsigned char)exp[i]))
            break;
    if (i == 0 || exp[i] != '\0' || i > 7 ||
        (*expires = atoll(exp)) > PRESIGN_MAX_EXPIRES)
        return fail(d, CERR_AUTH_QUERY_ERROR, "X-Amz-Expires must be a "
                    "number of seconds from 0 to %d.", PRESIGN_MAX_EXPIRES);
    if (!signed_headers_ok(sh))
        return fail(d, CERR_AUTH_QUERY_ERROR, "X-Amz-SignedHeaders is not "
                    "a list of header names.");
    cl->signed_headers = strdup(sh);
    return cl->signed_headers ? 0 : CERR_NOMEM;
}

static int
verify_presigned(struct auth_creds *c, const struct sigv4_request *r,
                 struct claim *cl, struct sigv4_auth *out,
                 struct err_detail *d)
{
    char cred[512];
    int64_t expires = 0;
    int rc;

    cl->presigned = true;
    rc = presigned_params(r, cl, cred, sizeof(cred), &expires, d);
    if (rc != 0)
        return rc;
    rc = parse_credential(cred, cl, r, d);
    if (rc != 0)
        return rc;
    if (memcmp(cl->date, cl->amz_date, 8) != 0)
        return scope_fail(r, true, d, "Error parsing the X-Amz-Credential "
                          "parameter; Invalid credential date. Date is not "
                          "the same as X-Amz-Date.");

    if (r->now_ms > cl->time_ms + expires * 1000)
        return fail(d, CERR_REQUEST_EXPIRED, "Request has expired");
    if (cl->time_ms > r->now_ms + MAX_SKEW_MS)
        return fail(d, CERR_REQUEST_EXPIRED, "Request is not valid yet");
    if (!normalise_signature(cl->signature))
        return fail(d, CERR_SIGNATURE_MISMATCH, "The request signature we "
                    "calculated does not match the signature you "
                    "provided.");

    out->payload = AUTH_PAYLOAD_UNSIGNED;
    cl->payload = "UNSIGNED-PAYLOAD";
    return check_claim(c, r, cl, out, d);
}

/* No signature: the payload may still be announced. */
static int
verify_anonymous(const struct sigv4_request *r, struct sigv4_auth *out,
                 struct err_detail *d)
{
    const char *v = headers_get(r->headers, "x-amz-content-sha256");
    int rc;

    if (strcmp(r->service, "kms") == 0)
        return fail(d, CERR_MISSING_AUTH, "Missing Authentication Token");
    out->anonymous = true;
    out->payload = AUTH_PAYLOAD_UNSIGNED;
    if (v == NULL)
        return 0;

    rc = sigv4_payload_kind(v, &out->payload, d);
    if (rc != 0)
        return rc;
    if (out->payload == AUTH_PAYLOAD_STREAMING_SIGNED ||
        out->payload == AUTH_PAYLOAD_STREAMING_SIGNED_TRAILER)
        return fail(d, CERR_MISSING_AUTH, "A signed streaming payload "
                    "needs a signed request.");
    if (out->payload == AUTH_PAYLOAD_HASHED)
        lower_hash(out->payload_hash, v);
    return 0;
}

static bool
query_has(const char *q, const char *name)
{
    char tmp[8];

    return query_get(q, name, tmp, sizeof(tmp)) != 0;
}

/*
 * Verify a request's signature; see auth.h for the codes.  The result is
 * filled as far as verification got; call auth_sigv4_clear either way.
 */
int
auth_sigv4_verify(struct auth_creds *c, const struct sigv4_request *r,
                  const char *payload_hash, struct sigv4_auth *out,
                  struct err_detail *d)
{
    const char *authz = headers_get(r->headers, "authorization");
    const char *q = r->raw_query ? r->raw_query : "";
    struct sigv4_request req = *r;
    struct claim cl;
    bool query_auth;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&cl, 0, sizeof(cl));
    req.raw_query = q;
    query_auth = query_has(q, "X-Amz-Algorithm") ||
                 query_has(q, "X-Amz-Credential") ||
                 query_has(q, "X-Amz-Signature");

    if (authz != NULL && query_auth)
        return fail(d, CERR_INVALID_ARGUMENT, "Only one auth mechanism "
                    "allowed; only the X-Amz-Algorithm query parameter or "
                    "the Authorization header should be specified");
    if (authz != NULL)
        rc = verify_header(c, &req, authz, payload_hash, &cl, out, d);
    else if (query_auth)
        rc = verify_presigned(c, &req, &cl, out, d);
    else if (query_has(q, "AWSAccessKeyId") && strcmp(r->service, "s3") == 0)
        return auth_sigv2_verify_query(c, &req, out, d);
    else
        return verify_anonymous(&req, out, d);

    if (rc == 0) {
        fill_result(&cl, out);
    } else {
        crypto_wipe(out->signing_key, sizeof(out->signing_key));
        memset(&out->principal, 0, sizeof(out->principal));
    }
    free(cl.signed_headers);
    return rc;
}

/* Wipe the signing key and release the mismatch report. */
void
auth_sigv4_clear(struct sigv4_auth *a)
{
    if (a == NULL)
        return;
    crypto_wipe(a->signing_key, sizeof(a->signing_key));
    free(a->canonical_request);
    a->canonical_request = NULL;
}
