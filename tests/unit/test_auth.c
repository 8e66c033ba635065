/*
 * Unit tests for auth: the SigV4 vectors of sigv4.md section 8, header and
 * query canonicalisation, scope, clock and presigned checks, the
 * aws-chunked decoder split at every byte, body digests, checksums and
 * the credential store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/auth_int.h"
#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/codec.h"
#include "util/err.h"
#include "util/headers.h"
#include "util/timefmt.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define VDATE "20130524T000000Z"
#define EMPTY_SHA SIGV4_EMPTY_SHA256

static struct auth_creds *creds;
static int64_t vnow;            /* 20130524T000000Z in ms */

/* ---- helpers ---- */

static int
setup_creds(void **state)
{
    char dir[] = "/tmp/coffer-auth-XXXXXX";
    bool gen = true;

    (void)state;
    assert_non_null(mkdtemp(dir));
    setenv("COFFER_ROOT_ACCESS_KEY_ID", AKID, 1);
    setenv("COFFER_ROOT_SECRET_ACCESS_KEY", SECRET, 1);
    assert_int_equal(auth_creds_open(dir, "111122223333", &creds, &gen,
                                     NULL), 0);
    assert_false(gen);
    rmdir(dir);
    unsetenv("COFFER_ROOT_ACCESS_KEY_ID");
    unsetenv("COFFER_ROOT_SECRET_ACCESS_KEY");
    assert_int_equal(time_parse_amz(VDATE, &vnow), 0);
    return 0;
}

static int
teardown_creds(void **state)
{
    (void)state;
    auth_creds_free(creds);
    return 0;
}

static void
add(struct headers *h, const char *name, const char *value)
{
    assert_int_equal(headers_add(h, name, value), 0);
}

static struct sigv4_request
request(const char *method, const char *path, const char *query,
        const struct headers *h, const char *service)
{
    struct sigv4_request r;

    memset(&r, 0, sizeof(r));
    r.method = method;
    r.raw_path = path;
    r.raw_query = query;
    r.headers = h;
    r.now_ms = vnow;
    r.region = "us-east-1";
    r.service = service;
    return r;
}

/*
 * Sign a request as a client would and add its Authorization header:
 * scope from `region`/`service`, date from the x-amz-date header.
 */
static void
sign(struct headers *h, const char *method, const char *path,
     const char *query, const char *signed_headers, const char *payload,
     const char *region, const char *service)
{
    struct buf creq = BUF_INIT;
    char scope[128], sts[256], sig[65], authz[512];
    const char *date = headers_get(h, "x-amz-date");
    uint8_t key[32];
    char day[9];

    memcpy(day, date, 8);
    day[8] = '\0';
    snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", day, region,
             service);
    assert_int_equal(sigv4_canonical_request(&creq, method, path, true,
                                             query, false, h,
                                             signed_headers, payload), 0);
    sigv4_string_to_sign(date, scope, creq.data, creq.len, sts,
                         sizeof(sts));
    sigv4_derive_key(SECRET, day, region, service, key);
    sigv4_hmac_hex(key, sts, strlen(sts), sig);
    snprintf(authz, sizeof(authz), "AWS4-HMAC-SHA256 Credential=%s/%s, "
             "SignedHeaders=%s, Signature=%s", AKID, scope, signed_headers,
             sig);
    add(h, "Authorization", authz);
    buf_free(&creq);
}

static void
sha256_hex(const void *data, size_t len, char out[65])
{
    uint8_t h[32];

    crypto_sha256(data, len, h);
    hex_encode(h, 32, out);
}

/* A sink that appends to a struct buf. */
static int
collect(void *ctx, const void *data, size_t len)
{
    buf_append(ctx, data, len);
    return 0;
}

/* Run a whole body through a pipeline in pieces of at most `step`. */
static int
run_body(struct auth_body *b, const char *data, size_t len, size_t step,
         struct buf *out)
{
    size_t off;
    int rc;

    for (off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;

        rc = auth_body_feed(b, data + off, n, collect, out, NULL);
        if (rc != 0)
            return rc;
    }
    return auth_body_finish(b, NULL);
}

/* ---- checksums ---- */

static void
test_checksum_check_values(void **state)
{
    (void)state;
    assert_int_equal(crc32_update(0xffffffffu, "123456789", 9) ^
                     0xffffffffu, 0xcbf43926u);
    assert_int_equal(crc32c_update(0xffffffffu, "123456789", 9) ^
                     0xffffffffu, 0xe3069283u);
    assert_true((crc64nvme_update(UINT64_MAX, "123456789", 9) ^
                 UINT64_MAX) == 0xae8b14860a799888ull);
}

static void
test_checksum_hello(void **state)
{
    static const struct {
        const char *alg, *want;
    } v[] = {
        { "CRC32", "NjowIA==" },
        { "crc32c", "NT3Yvg==" },
        { "CRC64NVME", "akP7S61aVgc=" },
        { "SHA1", "9XLTlvrpIGYocU+yzgD3LpTyJY8=" },
        { "SHA256", "WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=" },
    };
    char out[AUTH_CHECKSUM_B64_MAX];
    uint8_t md5[16];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(auth_checksum_compute(v[i].alg, "hello\n", 6, out,
                                               sizeof(out)), 0);
        assert_string_equal(out, v[i].want);
    }
    crypto_md5("hello\n", 6, md5);
    base64_encode(md5, 16, out);
    assert_string_equal(out, "sZRqySSS0jR8YjW00mERhA==");
    assert_int_equal(auth_checksum_compute("XXHASH64", "a", 1, out,
                                           sizeof(out)),
                     CERR_INVALID_REQUEST);
}

/* Slicing-by-8 must agree with itself across every split and alignment. */
static void
test_checksum_streaming_splits(void **state)
{
    char data[300], one[AUTH_CHECKSUM_B64_MAX], two[AUTH_CHECKSUM_B64_MAX];
    const char *algs[] = { "CRC32", "CRC32C", "CRC64NVME" };
    size_t a, cut, i;

    (void)state;
    for (i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7 + 3);
    for (a = 0; a < 3; a++) {
        assert_int_equal(auth_checksum_compute(algs[a], data, sizeof(data),
                                               one, sizeof(one)), 0);
        for (cut = 0; cut <= sizeof(data); cut += 13) {
            struct auth_checksum *k = auth_checksum_new(algs[a]);

            assert_non_null(k);
            auth_checksum_update(k, data, cut);
            auth_checksum_update(k, data + cut, sizeof(data) - cut);
            assert_int_equal(auth_checksum_final(k, two, sizeof(two)), 0);
            assert_string_equal(one, two);
            auth_checksum_free(k);
        }
    }
}

/* ---- canonicalisation ---- */

static void
test_canonical_headers(void **state)
{
    struct headers h = { 0 };
    struct buf b = BUF_INIT;

    (void)state;
    add(&h, "Host", "127.0.0.1:8080");
    add(&h, "X-Amz-Meta-Spaced", "  a   b \t c  ");
    add(&h, "X-Amz-Meta-Twice", "one");
    add(&h, "X-Amz-Meta-Twice", "two");
    assert_int_equal(sigv4_canonical_headers(&b, &h, "host;"
                     "x-amz-meta-spaced;x-amz-meta-twice"), 0);
    assert_string_equal(b.data, "host:127.0.0.1:8080\n"
                        "x-amz-meta-spaced:a b c\n"
                        "x-amz-meta-twice:one,two\n");

    buf_reset(&b);
    assert_int_equal(sigv4_canonical_headers(&b, &h, "host;x-amz-date"),
                     CERR_SIGNATURE_MISMATCH);
    buf_free(&b);
    headers_free(&h);
}

static void
check_query(const char *raw, bool skip, const char *want)
{
    struct buf b = BUF_INIT;

    assert_int_equal(sigv4_canonical_query(&b, raw, skip), 0);
    assert_string_equal(b.data ? b.data : "", want);
    buf_free(&b);
}

static void
test_canonical_query(void **state)
{
    (void)state;
    check_query("", false, "");
    check_query("uploads", false, "uploads=");
    check_query("uploadId=abc&partNumber=2", false,
                "partNumber=2&uploadId=abc");
    check_query("a=b+c", false, "a=b%2Bc");
    check_query("a=b%20c", false, "a=b%20c");
    check_query("prefix=a%2fb&delimiter=/", false,
                "delimiter=%2F&prefix=a%2Fb");
    check_query("b=2&a=2&a=1&a=", false, "a=&a=1&a=2&b=2");
    check_query("x-id=PutObject&tagging", false, "tagging=&x-id=PutObject");
    check_query("a=%zz", false, "a=%25zz");
    check_query("X-Amz-Signature=abc&X-Amz-Date=1", true, "X-Amz-Date=1");
}

static void
test_canonical_uri(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    assert_int_equal(sigv4_canonical_uri(&b, "/bkt/my%20photo%2Bv1.jpg",
                                         true), 0);
    assert_string_equal(b.data, "/bkt/my%20photo%2Bv1.jpg");
    buf_reset(&b);
    assert_int_equal(sigv4_canonical_uri(&b, "/bkt/a b$(c)//./x", true), 0);
    assert_string_equal(b.data, "/bkt/a%20b%24%28c%29//./x");
    buf_reset(&b);
    assert_int_equal(sigv4_canonical_uri(&b, "", true), 0);
    assert_string_equal(b.data, "/");
    buf_reset(&b);
    assert_int_equal(sigv4_canonical_uri(&b, "/a%2", true),
                     CERR_INVALID_ARGUMENT);
    buf_free(&b);
}

static void
test_signing_keys(void **state)
{
    uint8_t key[32];
    char hex[65];

    (void)state;
    sigv4_derive_key(SECRET, "20130524", "us-east-1", "s3", key);
    hex_encode(key, 32, hex);
    assert_string_equal(hex, "dbb893acc010964918f1fd433add87c70e8b0db6be30"
                        "c1fbeafefa5ec6ba8378");
    sigv4_signing_key(creds, SECRET, "20130524", "us-east-1", "kms", key);
    sigv4_signing_key(creds, SECRET, "20130524", "us-east-1", "kms", key);
    hex_encode(key, 32, hex);
    assert_string_equal(hex, "b010245924d982a0a6603efc27f8fe2f50c2f28d25da"
                        "83313bbfccc4db769f15");
}

/* ---- section 8 vectors ---- */

static void
test_vector_a_kms(void **state)
{
    static const char body[] = "{\"AliasName\": \"alias/my-s3-key\", "
        "\"TargetKeyId\": \"1234abcd-12ab-34cd-56ef-1234567890ab\"}";
    struct headers h = { 0 };
    struct sigv4_request r;
    struct sigv4_auth a;
    struct buf creq = BUF_INIT;
    char hash[65];

    (void)state;
    sha256_hex(body, strlen(body), hash);
    assert_string_equal(hash, "326504921626888a949c6944468ff34938511ec1bed1"
                        "7e1f80450a9663a80b5d");
    add(&h, "Host", "127.0.0.1:8080");
    add(&h, "Content-Type", "application/x-amz-json-1.1");
    add(&h, "X-Amz-Date", VDATE);
    add(&h, "X-Amz-Target", "TrentService.CreateAlias");
    add(&h, "Authorization", "AWS4-HMAC-SHA256 Credential=" AKID
        "/20130524/us-east-1/kms/aws4_request, SignedHeaders=content-type;"
        "host;x-amz-date;x-amz-target, Signature=9e440707073ce5cb7d3a402d1"
        "bbe2530d379aa0a6530177bd55e0a49819b7e68");

    assert_int_equal(sigv4_canonical_request(&creq, "POST", "/", true, "",
                     false, &h, "content-type;host;x-amz-date;x-amz-target",
                     hash), 0);
    assert_string_equal(creq.data, "POST\n/\n\n"
                        "content-type:application/x-amz-json-1.1\n"
                        "host:127.0.0.1:8080\n"
                        "x-amz-date:20130524T000000Z\n"
                        "x-amz-target:TrentService.CreateAlias\n\n"
                        "content-type;host;x-amz-date;x-amz-target\n"
                        "326504921626888a949c6944468ff34938511ec1bed17e1f80"
                        "450a9663a80b5d");
    sha256_hex(creq.data, creq.len, hash);
    assert_string_equal(hash, "3e5d53a56072114f61f408d63f8c85492cb3349b860b"
                        "d540621632df1fbea1a6");

    r = request("POST", "/", "", &h, "kms");
    sha256_hex(body, strlen(body), hash);
    assert_int_equal(auth_sigv4_verify(creds, &r, hash, &a, NULL), 0);
    assert_false(a.anonymous);
    assert_int_equal(a.principal.type, AUTH_ROOT);
    assert_string_equal(a.principal.arn, "arn:aws:iam::111122223333:root");
    assert_string_equal(a.scope, "20130524/us-east-1/kms/aws4_request");
    auth_sigv4_clear(&a);
    buf_free(&creq);
    headers_free(&h);
}

#define VECTOR_B_QUERY \
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE" \
    "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T0000" \
    "00Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=d509" \
    "f919d39b3389d812855bb5410b819983003372b0ff1efe558bcd6bf0632c"

static void
test_vector_b_presigned(void **state)
{
    struct headers h = { 0 };
    struct sigv4_request r;
    struct sigv4_auth a;
    struct buf creq = BUF_INIT;
    char hash[65];

    (void)state;
    add(&h, "Host", "127.0.0.1:8080");
    assert_int_equal(sigv4_canonical_request(&creq, "GET",
                     "/bkt/my%20photo%2Bv1.jpg", true, VECTOR_B_QUERY, true,
                     &h, "host", "UNSIGNED-PAYLOAD"), 0);
    sha256_hex(creq.data, creq.len, hash);
    assert_string_equal(hash, "5782c9c993ebc13ec55e9a4bd076172cbd7945313ba1"
                        "62bdca0a0d4e4892d673");

    r = request("GET", "/bkt/my%20photo%2Bv1.jpg", VECTOR_B_QUERY, &h, "s3");
    r.now_ms += 3600 * 1000;
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL), 0);
    assert_true(a.presigned);
    assert_int_equal(a.payload, AUTH_PAYLOAD_UNSIGNED);
    auth_sigv4_clear(&a);

    /* One second past X-Amz-Expires. */
    r.now_ms = vnow + 86401 * 1000LL;
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL),
                     CERR_REQUEST_EXPIRED);
    auth_sigv4_clear(&a);
    buf_free(&creq);
    headers_free(&h);
}

static void
test_presigned_errors(void **state)
{
    struct headers h = { 0 };
    struct sigv4_request r;
    struct sigv4_auth a;

    (void)state;
    add(&h, "Host", "127.0.0.1:8080");
    r = request("GET", "/bkt/k", "X-Amz-Algorithm=AWS4-HMAC-SHA256", &h,
                "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL),
                     CERR_AUTH_QUERY_ERROR);
    auth_sigv4_clear(&a);

    r.raw_query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AKID
        "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=" VDATE
        "&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL),
                     CERR_AUTH_QUERY_ERROR);
    auth_sigv4_clear(&a);

    /* SigV2 query parameters are checked by sigv2.c: long expired. */
    r.raw_query = "AWSAccessKeyId=" AKID "&Expires=1&Signature=abc";
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL),
                     CERR_REQUEST_EXPIRED);
    assert_true(a.sigv2);
    auth_sigv4_clear(&a);
    headers_free(&h);
}

/* ---- SigV2 presigned URLs (expected values from botocore 1.43) ---- */

#define V2_EXPIRES "1369357200"        /* VDATE + 3600 s */
#define V2_CREDS "AWSAccessKeyId=" AKID "&Signature="

static void
test_hmac_sha1_rfc2202(void **state)
{
    uint8_t key[20], mac[20];
    char hex[41];

    (void)state;
    memset(key, 0x0b, sizeof(key));
    crypto_hmac_sha1(key, sizeof(key), "Hi There", 8, mac);
    hex_encode(mac, sizeof(mac), hex);
    assert_string_equal(hex, "b617318655057264e28bc0b6fb378c8ef146be00");
    crypto_hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, mac);
    hex_encode(mac, sizeof(mac), hex);
    assert_string_equal(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

/* Verify one presigned request; the result is cleared. */
static int
verify_v2(const char *method, const char *path, const char *query,
          const struct headers *h, const char *vhost, int64_t now)
{
    struct sigv4_request r = request(method, path, query, h, "s3");
    struct sigv4_auth a;
    int rc;

    r.vhost_bucket = vhost;
    r.now_ms = now;
    rc = auth_sigv4_verify(creds, &r, NULL, &a, NULL);
    if (rc == 0) {
        assert_true(a.sigv2);
        assert_true(a.presigned);
        assert_false(a.anonymous);
        assert_int_equal(a.payload, AUTH_PAYLOAD_UNSIGNED);
        assert_string_equal(a.principal.arn,
                            "arn:aws:iam::111122223333:root");
    } else {
        assert_string_equal(a.principal.arn, "");
    }
    auth_sigv4_clear(&a);
    return rc;
}

static void
test_sigv2_botocore_urls(void **state)
{
    struct headers h = { 0 }, typed = { 0 };

    (void)state;
    add(&h, "Host", "127.0.0.1:8080");
    assert_int_equal(verify_v2("GET", "/bkt/my%20photo%2Bv1.jpg", V2_CREDS
                               "b%2F52NSmFBV%2FtB0zV5qVImGlbk5s%3D&Expires="
                               V2_EXPIRES, &h, NULL, vnow), 0);
    /* The same key with lowercase escapes: verified re-encoded. */
    assert_int_equal(verify_v2("GET", "/bkt/my%20photo%2bv1.jpg", V2_CREDS
                               "b%2F52NSmFBV%2FtB0zV5qVImGlbk5s%3D&Expires="
                               V2_EXPIRES, &h, NULL, vnow), 0);
    /* A subresource is signed, an unknown parameter is not. */
    assert_int_equal(verify_v2("GET", "/bkt/k", "response-content-type=text"
                               "%2Fplain&x-id=GetObject&" V2_CREDS
                               "v%2B7yEFKZNYWHTdezYxd8%2FTlCy58%3D&Expires="
                               V2_EXPIRES, &h, NULL, vnow), 0);
    /* Virtual hosting: the bucket from Host heads the resource. */
    assert_int_equal(verify_v2("GET", "/k", V2_CREDS "zPWNgUAAdZ3Y7gNLxHTPP"
                               "DTi0Ec%3D&Expires=" V2_EXPIRES, &h, "bkt",
                               vnow), 0);

    /* Hoisted headers count from the URL, or from real headers. */
#define V2_PUT_QUERY V2_CREDS "RUTvoRCiKyCeQfqKDbtuCoYXkfU%3D&content-type=" \
    "text%2Fplain&x-amz-meta-b=2&x-amz-meta-a=%201%20&Expires=" V2_EXPIRES
    assert_int_equal(verify_v2("PUT", "/bkt/k", V2_PUT_QUERY, &h, NULL,
                               vnow), 0);
    add(&typed, "Content-Type", "text/plain");
    add(&typed, "x-amz-meta-a", "1");
    assert_int_equal(verify_v2("PUT", "/bkt/k", V2_PUT_QUERY, &typed, NULL,
                               vnow), 0);
    headers_free(&typed);
    add(&typed, "Content-Type", "text/html");
    assert_int_equal(verify_v2("PUT", "/bkt/k", V2_PUT_QUERY, &typed, NULL,
                               vnow), CERR_SIGNATURE_MISMATCH);
    headers_free(&typed);
    headers_free(&h);
}

static void
test_sigv2_string_to_sign(void **state)
{
    struct headers h = { 0 };
    struct sigv4_request r;
    struct buf b = BUF_INIT;

    (void)state;
    add(&h, "Content-Type", " text/plain ");
    add(&h, "x-amz-meta-b", "2");
    r = request("PUT", "/bkt/a%20b", "uploads&partNumber=2&x-amz-meta-a=1"
                "&versionId=a%2Fb&Expires=9", &h, "s3");
    assert_int_equal(sigv2_string_to_sign(&b, &r, "9", true, false), 0);
    assert_string_equal(b.data, "PUT\n\ntext/plain\n9\nx-amz-meta-a:1\n"
                        "x-amz-meta-b:2\n/bkt/a%20b?partNumber=2&uploads"
                        "&versionId=a/b");
    /* With the Authorization header, parameters never stand in for
     * headers: x-amz-meta-a is not signed. */
    assert_int_equal(sigv2_string_to_sign(&b, &r, "9", false, false), 0);
    assert_string_equal(b.data, "PUT\n\ntext/plain\n9\n"
                        "x-amz-meta-b:2\n/bkt/a%20b?partNumber=2&uploads"
                        "&versionId=a/b");
    r.vhost_bucket = "v";
    r.raw_path = "/";
    assert_int_equal(sigv2_string_to_sign(&b, &r, "9", true, false), 0);
    assert_non_null(strstr(b.data, "x-amz-meta-b:2\n/v/?partNumber=2&"
                           "uploads&versionId=a/b"));
    buf_free(&b);
    headers_free(&h);
}

static void
test_sigv2_refusals(void **state)
{
    struct headers h = { 0 };
    const char *good = V2_CREDS "b%2F52NSmFBV%2FtB0zV5qVImGlbk5s%3D&Expires="
        V2_EXPIRES;
    const char *path = "/bkt/my%20photo%2Bv1.jpg";

    (void)state;
    add(&h, "Host", "127.0.0.1:8080");
    assert_int_equal(verify_v2("GET", path, good, &h, NULL,
                               1369357200 * 1000LL), 0);
    assert_int_equal(verify_v2("GET", path, good, &h, NULL,
                               1369357201 * 1000LL), CERR_REQUEST_EXPIRED);
    assert_int_equal(verify_v2("PUT", path, good, &h, NULL, vnow),
                     CERR_SIGNATURE_MISMATCH);
    assert_int_equal(verify_v2("GET", "/bkt/other", good, &h, NULL, vnow),
                     CERR_SIGNATURE_MISMATCH);
    assert_int_equal(verify_v2("GET", path, V2_CREDS "b%2F52NSmFBV%2FtB0zV5"
                               "qVImGlbk5s%3D&Expires=1369357201", &h, NULL,
                               vnow), CERR_SIGNATURE_MISMATCH);
    assert_int_equal(verify_v2("GET", path, "AWSAccessKeyId=AKIANOBODY&"
                               "Signature=b%2F52NSmFBV%2FtB0zV5qVImGlbk5s%3D"
                               "&Expires=" V2_EXPIRES, &h, NULL, vnow),
                     CERR_INVALID_ACCESS_KEY);
    assert_int_equal(verify_v2("GET", path, "AWSAccessKeyId=" AKID
                               "&Expires=" V2_EXPIRES, &h, NULL, vnow),
                     CERR_ACCESS_DENIED);
    assert_int_equal(verify_v2("GET", path, V2_CREDS "x&Expires=soon", &h,
                               NULL, vnow), CERR_ACCESS_DENIED);
    headers_free(&h);
}

static void
test_vector_c_query_sorting(void **state)
{
    struct headers h = { 0 };
    struct sigv4_request r;
    struct sigv4_auth a;
    struct err_detail d;

    (void)state;
    add(&h, "Host", "127.0.0.1:8080");
    add(&h, "X-Amz-Content-SHA256", EMPTY_SHA);
    add(&h, "X-Amz-Date", VDATE);
    add(&h, "Authorization", "AWS4-HMAC-SHA256 Credential=" AKID
        "/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;"
        "x-amz-content-sha256;x-amz-date, Signature=9d019a3e58aa3114b4bb6c"
        "3fb4a67f96502b5d72262201931e96d9a402b22548");
    r = request("GET", "/bkt", "list-type=2&prefix=a%2Fb%20c&delimiter=%2F"
                "&encoding-type=url", &h, "s3");
    err_clear(&d);
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, &d), 0);
    assert_int_equal(a.payload, AUTH_PAYLOAD_HASHED);
    assert_string_equal(a.payload_hash, EMPTY_SHA);
    auth_sigv4_clear(&a);
    headers_free(&h);
}

static void
test_vector_d_aws_get(void **state)
{
    struct headers h = { 0 };
    struct sigv4_request r;
    struct sigv4_auth a;
    struct buf creq = BUF_INIT;
    char hash[65];

    (void)state;
    add(&h, "Host", "examplebucket.s3.amazonaws.com");
    add(&h, "Range", "bytes=0-9");
    add(&h, "x-amz-content-sha256", EMPTY_SHA);
    add(&h, "x-amz-date", VDATE);
    /* No spaces after the commas, items in another order. */
    add(&h, "Authorization", "AWS4-HMAC-SHA256 SignedHeaders=host;range;"
        "x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd3"
        "5b5d6ed310bd44f0170aba48dd91039c6036bdb41,Credential=" AKID
        "/20130524/us-east-1/s3/aws4_request");
    assert_int_equal(sigv4_canonical_request(&creq, "GET", "/test.txt",
                     true, "", false, &h,
                     "host;range;x-amz-content-sha256;x-amz-date",
                     EMPTY_SHA), 0);
    sha256_hex(creq.data, creq.len, hash);
    assert_string_equal(hash, "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95"
                        "c48bbb2dc43964946972");
    r = request("GET", "/test.txt", "", &h, "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL), 0);
    auth_sigv4_clear(&a);
    buf_free(&creq);
    headers_free(&h);
}

static const char *e_sigs[] = {
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
};

/* Vector E's request headers and its encoded body. */
static void
vector_e(struct headers *h, struct buf *body, const char *const *sigs)
{
    char *a = malloc(65536);

    add(h, "Host", "s3.amazonaws.com");
    add(h, "x-amz-date", VDATE);
    add(h, "x-amz-storage-class", "REDUCED_REDUNDANCY");
    add(h, "Authorization", "AWS4-HMAC-SHA256 Credential=" AKID
        "/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;"
        "content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-"
        "content-length;x-amz-storage-class,Signature=4f232c4386841ef735655"
        "705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    add(h, "x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    add(h, "Content-Encoding", "aws-chunked");
    add(h, "x-amz-decoded-content-length", "66560");
    add(h, "Content-Length", "66824");

    memset(a, 'a', 65536);
    buf_printf(body, "10000;chunk-signature=%s\r\n", sigs[0]);
    buf_append(body, a, 65536);
    buf_printf(body, "\r\n400;chunk-signature=%s\r\n", sigs[1]);
    buf_append(body, a, 1024);
    buf_printf(body, "\r\n0;chunk-signature=%s\r\n\r\n", sigs[2]);
    free(a);
}

static void
test_vector_e_signed_chunks(void **state)
{
    static const size_t steps[] = { 66824, 1, 7, 4096, 65600 };
    struct headers h = { 0 };
    struct buf body = BUF_INIT, out = BUF_INIT;
    struct sigv4_request r;
    struct sigv4_auth a;
    struct auth_body *b;
    size_t i;

    (void)state;
    vector_e(&h, &body, e_sigs);
    assert_int_equal(body.len, 66824);
    r = request("PUT", "/examplebucket/chunkObject.txt", "", &h, "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL), 0);
    assert_int_equal(a.payload, AUTH_PAYLOAD_STREAMING_SIGNED);

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        buf_reset(&out);
        assert_int_equal(auth_body_new(&h, &a, &b, NULL), 0);
        assert_int_equal(auth_body_expected_length(b), 66560);
        assert_int_equal(run_body(b, body.data, body.len, steps[i], &out),
                         0);
        assert_int_equal(out.len, 66560);
        assert_int_equal(auth_body_length(b), 66560);
        assert_true(out.data[0] == 'a' && out.data[66559] == 'a');
        auth_body_free(b);
    }
    auth_sigv4_clear(&a);
    buf_free(&body);
    buf_free(&out);
    headers_free(&h);
}

static void
test_wrong_chunk_signature(void **state)
{
    const char *bad[] = { e_sigs[0], e_sigs[0], e_sigs[2] };
    struct headers h = { 0 };
    struct buf body = BUF_INIT, out = BUF_INIT;
    struct sigv4_request r;
    struct sigv4_auth a;
    struct auth_body *b;
    int rc;

    (void)state;
    vector_e(&h, &body, bad);
    r = request("PUT", "/examplebucket/chunkObject.txt", "", &h, "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL), 0);
    assert_int_equal(auth_body_new(&h, &a, &b, NULL), 0);
    rc = auth_body_feed(b, body.data, body.len, collect, &out, NULL);
    assert_int_equal(rc, CERR_SIGNATURE_MISMATCH);
    /* The first chunk verified, the second did not. */
    assert_int_equal(out.len, 66560);
    assert_int_equal(auth_body_finish(b, NULL), CERR_SIGNATURE_MISMATCH);
    auth_body_free(b);
    auth_sigv4_clear(&a);
    buf_free(&body);
    buf_free(&out);
    headers_free(&h);
}

static void
test_truncated_body(void **state)
{
    struct headers h = { 0 };
    struct buf body = BUF_INIT, out = BUF_INIT;
    struct sigv4_request r;
    struct sigv4_auth a;
    struct auth_body *b;

    (void)state;
    vector_e(&h, &body, e_sigs);
    r = request("PUT", "/examplebucket/chunkObject.txt", "", &h, "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL), 0);

    /* Cut inside the second chunk, then before the final chunk. */
    assert_int_equal(auth_body_new(&h, &a, &b, NULL), 0);
    assert_int_equal(run_body(b, body.data, 66000, 66000, &out),
                     CERR_INCOMPLETE_BODY);
    auth_body_free(b);
    assert_int_equal(auth_body_new(&h, &a, &b, NULL), 0);
    assert_int_equal(run_body(b, body.data, 66738, 1000, &out),
                     CERR_INCOMPLETE_BODY);
    auth_body_free(b);
    auth_sigv4_clear(&a);
    buf_free(&body);
    buf_free(&out);
    headers_free(&h);
}

#define F_SEED \
    "62ac1baebe4b026f6459eadb84945abd69f51905cbbbf2e01962acd089fa8434"
#define F_TRAILER_SIG \
    "aa62fe36d3dcfa32046ccfe05c58a976b65d5ca7616832d21bea6d96e290b79e"

static void
vector_f(struct headers *h, struct buf *body, const char *trailer_sig)
{
    add(h, "Host", "127.0.0.1:8080");
    add(h, "Content-Encoding", "aws-chunked");
    add(h, "Content-Length", "299");
    add(h, "x-amz-content-sha256",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER");
    add(h, "x-amz-date", VDATE);
    add(h, "x-amz-decoded-content-length", "6");
    add(h, "x-amz-trailer", "x-amz-checksum-crc32");
    add(h, "Authorization", "AWS4-HMAC-SHA256 Credential=" AKID
        "/20130524/us-east-1/s3/aws4_request, SignedHeaders=content-"
        "encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        "x-amz-decoded-content-length;x-amz-trailer, Signature=" F_SEED);
    buf_puts(body, "6;chunk-signature=2ba013e2436b6e02f546b146050cf4f3074f"
             "c53423d82ab920a8564d6f9a0138\r\nhello\n\r\n"
             "0;chunk-signature=aa7880ac409bd928af63f9c1c1e59244f63505d8cc"
             "db1a6eb3d9f15fffb1d6de\r\n"
             "x-amz-checksum-crc32:NjowIA==\r\n");
    buf_printf(body, "x-amz-trailer-signature:%s\r\n\r\n", trailer_sig);
}

static void
test_vector_f_signed_trailer(void **state)
{
    struct headers h = { 0 };
    struct buf body = BUF_INIT, out = BUF_INIT;
    struct sigv4_request r;
    struct sigv4_auth a;
    struct auth_body *b;
    size_t step;

    (void)state;
    vector_f(&h, &body, F_TRAILER_SIG);
    assert_int_equal(body.len, 299);
    r = request("PUT", "/bkt/hello.txt", "", &h, "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL), 0);
    assert_string_equal(a.signature, F_SEED);

    for (step = 1; step <= body.len; step += 37) {
        buf_reset(&out);
        assert_int_equal(auth_body_new(&h, &a, &b, NULL), 0);
        assert_int_equal(run_body(b, body.data, body.len, step, &out), 0);
        assert_int_equal(out.len, 6);
        assert_memory_equal(out.data, "hello\n", 6);
        assert_string_equal(auth_body_checksum_name(b),
                            "x-amz-checksum-crc32");
        assert_string_equal(auth_body_checksum_value(b), "NjowIA==");
        auth_body_free(b);
    }
    auth_sigv4_clear(&a);
    buf_free(&body);
    buf_free(&out);
    headers_free(&h);
}

static void
test_wrong_trailer_signature(void **state)
{
    struct headers h = { 0 };
    struct buf body = BUF_INIT, out = BUF_INIT;
    struct sigv4_request r;
    struct sigv4_auth a;
    struct auth_body *b;

    (void)state;
    vector_f(&h, &body, F_SEED);
    r = request("PUT", "/bkt/hello.txt", "", &h, "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL), 0);
    assert_int_equal(auth_body_new(&h, &a, &b, NULL), 0);
    assert_int_equal(run_body(b, body.data, body.len, body.len, &out),
                     CERR_SIGNATURE_MISMATCH);
    auth_body_free(b);
    auth_sigv4_clear(&a);
    buf_free(&body);
    buf_free(&out);
    headers_free(&h);
}

/* ---- unsigned trailer, as botocore sends it over HTTPS ---- */

static const char observed[] =
    "6\r\nhello\n\r\n0\r\nx-amz-checksum-crc32:NjowIA==\r\n\r\n";

static void
trailer_headers(struct headers *h, const char *crc)
{
    add(h, "Content-Encoding", "aws-chunked");
    add(h, "x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    add(h, "x-amz-decoded-content-length", "6");
    add(h, "x-amz-trailer", "x-amz-checksum-crc32");
    add(h, "x-amz-sdk-checksum-algorithm", crc);
}

static void
test_unsigned_trailer_every_split(void **state)
{
    struct headers h = { 0 };
    struct buf out = BUF_INIT;
    struct auth_body *b;
    size_t len = strlen(observed), cut, cut2;

    (void)state;
    trailer_headers(&h, "CRC32");
    for (cut = 0; cut <= len; cut++) {
        for (cut2 = cut; cut2 <= len; cut2++) {
            buf_reset(&out);
            assert_int_equal(auth_body_new(&h, NULL, &b, NULL), 0);
            assert_int_equal(auth_body_feed(b, observed, cut, collect, &out,
                                            NULL), 0);
            assert_int_equal(auth_body_feed(b, observed + cut, cut2 - cut,
                                            collect, &out, NULL), 0);
            assert_int_equal(auth_body_feed(b, observed + cut2, len - cut2,
                                            collect, &out, NULL), 0);
            assert_int_equal(auth_body_finish(b, NULL), 0);
            assert_int_equal(out.len, 6);
            assert_memory_equal(out.data, "hello\n", 6);
            assert_string_equal(auth_body_checksum_value(b), "NjowIA==");
            auth_body_free(b);
        }
    }
    buf_free(&out);
    headers_free(&h);
}

static void
test_unsigned_trailer_faults(void **state)
{
    struct headers h = { 0 }, h2 = { 0 };
    struct buf out = BUF_INIT;
    struct auth_body *b;
    const char *bad_crc =
        "6\r\nhello\n\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    const char *no_trailer = "6\r\nhello\n\r\n0\r\n\r\n";
    const char *extra = "6\r\nhello\n\r\n0\r\n\r\nX";
    const char *garbled = "6x\r\nhello\n\r\n0\r\n\r\n";

    (void)state;
    trailer_headers(&h, "CRC32");
    assert_int_equal(auth_body_new(&h, NULL, &b, NULL), 0);
    assert_int_equal(run_body(b, bad_crc, strlen(bad_crc), 5, &out),
                     CERR_BAD_DIGEST);
    auth_body_free(b);

    /* Ruling 6: the SDK named CRC32 and no value came. */
    assert_int_equal(auth_body_new(&h, NULL, &b, NULL), 0);
    assert_int_equal(run_body(b, no_trailer, strlen(no_trailer), 3, &out),
                     CERR_INVALID_REQUEST);
    auth_body_free(b);
    assert_int_equal(auth_body_new(&h, NULL, &b, NULL), 0);
    assert_int_equal(run_body(b, extra, strlen(extra), 64, &out),
                     CERR_INVALID_REQUEST);
    auth_body_free(b);
    assert_int_equal(auth_body_new(&h, NULL, &b, NULL), 0);
    assert_int_equal(run_body(b, garbled, strlen(garbled), 64, &out),
                     CERR_INVALID_REQUEST);
    auth_body_free(b);

    /* The SDK names one algorithm, the trailer another. */
    trailer_headers(&h2, "SHA256");
    assert_int_equal(auth_body_new(&h2, NULL, &b, NULL),
                     CERR_INVALID_REQUEST);
    buf_free(&out);
    headers_free(&h);
    headers_free(&h2);
}

/* An 8 MiB part as botocore sends it: 1 MiB chunks, 128 KiB reads. */
static void
test_unsigned_trailer_large(void **state)
{
    struct headers h = { 0 };
    struct buf body = BUF_INIT, out = BUF_INIT;
    struct auth_body *b;
    char *data = malloc(8 << 20), crc[AUTH_CHECKSUM_B64_MAX];
    size_t i;

    (void)state;
    for (i = 0; i < (8u << 20); i++)
        data[i] = (char)(i * 31 >> 7);
    assert_int_equal(auth_checksum_compute("CRC32", data, 8 << 20, crc,
                                           sizeof(crc)), 0);
    for (i = 0; i < 8; i++) {
        buf_puts(&body, "100000\r\n");
        buf_append(&body, data + (i << 20), 1 << 20);
        buf_puts(&body, "\r\n");
    }
    buf_printf(&body, "0\r\nx-amz-checksum-crc32:%s\r\n\r\n", crc);
    assert_int_equal(body.len, 8388724);

    add(&h, "Content-Encoding", "aws-chunked");
    add(&h, "x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    add(&h, "x-amz-decoded-content-length", "8388608");
    add(&h, "x-amz-trailer", "x-amz-checksum-crc32");
    assert_int_equal(auth_body_new(&h, NULL, &b, NULL), 0);
    auth_body_want_md5(b);
    assert_int_equal(run_body(b, body.data, body.len, 0x20000, &out), 0);
    assert_int_equal(out.len, 8 << 20);
    assert_memory_equal(out.data, data, 8 << 20);
    assert_string_equal(auth_body_checksum_value(b), crc);
    auth_body_free(b);

    /* One flipped byte in the middle. */
    body.data[5 << 20] ^= 1;
    buf_reset(&out);
    assert_int_equal(auth_body_new(&h, NULL, &b, NULL), 0);
    assert_int_equal(run_body(b, body.data, body.len, 0x20000, &out),
                     CERR_BAD_DIGEST);
    auth_body_free(b);
    free(data);
    buf_free(&body);
    buf_free(&out);
    headers_free(&h);
}

/* ---- plain bodies ---- */

static int
plain_body(const char *name, const char *value, const char *data,
           int *new_rc)
{
    struct headers h = { 0 };
    struct buf out = BUF_INIT;
    struct auth_body *b = NULL;
    int rc = 0;

    add(&h, "Content-Length", "6");
    if (name != NULL)
        add(&h, name, value);
    *new_rc = auth_body_new(&h, NULL, &b, NULL);
    if (*new_rc == 0)
        rc = run_body(b, data, strlen(data), 4, &out);
    auth_body_free(b);
    buf_free(&out);
    headers_free(&h);
    return rc;
}

static void
test_content_md5(void **state)
{
    int nrc;

    (void)state;
    assert_int_equal(plain_body("Content-MD5", "sZRqySSS0jR8YjW00mERhA==",
                                "hello\n", &nrc), 0);
    assert_int_equal(nrc, 0);
    assert_int_equal(plain_body("Content-MD5", "sZRqySSS0jR8YjW00mERhA==",
                                "hellO\n", &nrc), CERR_BAD_DIGEST);
    plain_body("Content-MD5", "sZRqySSS0jR8YjW00mERhA", "hello\n", &nrc);
    assert_int_equal(nrc, CERR_INVALID_DIGEST);
    plain_body("Content-MD5", "aGVsbG8=", "hello\n", &nrc);
    assert_int_equal(nrc, CERR_INVALID_DIGEST);
}

static void
test_checksum_headers(void **state)
{
    int nrc;

    (void)state;
    assert_int_equal(plain_body("x-amz-checksum-crc32c", "NT3Yvg==",
                                "hello\n", &nrc), 0);
    assert_int_equal(plain_body("x-amz-checksum-crc64nvme", "akP7S61aVgc=",
                                "hello\n", &nrc), 0);
    assert_int_equal(plain_body("x-amz-checksum-sha1",
                                "9XLTlvrpIGYocU+yzgD3LpTyJY8=", "hello\n",
                                &nrc), 0);
    assert_int_equal(plain_body("x-amz-checksum-sha256", "WJG1tSLV3whtD/Cx"
                                "EPvZ0hu0/HFjrzTQgoai6Eb2vgM=", "hello\n",
                                &nrc), 0);
    assert_int_equal(plain_body("x-amz-checksum-crc32", "NjowIA==",
                                "jello\n", &nrc), CERR_BAD_DIGEST);
    plain_body("x-amz-checksum-crc32", "NjowIA", "hello\n", &nrc);
    assert_int_equal(nrc, CERR_INVALID_REQUEST);
    plain_body("x-amz-checksum-crc32", "akP7S61aVgc=", "hello\n", &nrc);
    assert_int_equal(nrc, CERR_INVALID_REQUEST);
    plain_body("x-amz-checksum-xxhash64", "akP7S61aVgc=", "hello\n", &nrc);
    assert_int_equal(nrc, CERR_INVALID_REQUEST);
    plain_body("x-amz-sdk-checksum-algorithm", "CRC32", "hello\n", &nrc);
    assert_int_equal(nrc, CERR_INVALID_REQUEST);
    plain_body("x-amz-checksum-mode", "ENABLED", "hello\n", &nrc);
    assert_int_equal(nrc, 0);
}

static void
test_payload_hash_and_length(void **state)
{
    struct headers h = { 0 };
    struct buf out = BUF_INIT;
    struct auth_body *b;
    char hash[65];
    uint8_t md5[16];

    (void)state;
    sha256_hex("hello\n", 6, hash);
    add(&h, "x-amz-content-sha256", hash);
    add(&h, "Content-Length", "6");
    assert_int_equal(auth_body_new(&h, NULL, &b, NULL), 0);
    auth_body_want_md5(b);
    assert_int_equal(run_body(b, "hello\n", 6, 6, &out), 0);
    assert_true(auth_body_md5(b, md5));
    base64_encode(md5, 16, hash);
    assert_string_equal(hash, "sZRqySSS0jR8YjW00mERhA==");
    assert_null(auth_body_checksum_name(b));
    auth_body_free(b);

    assert_int_equal(auth_body_new(&h, NULL, &b, NULL), 0);
    assert_int_equal(run_body(b, "hellO\n", 6, 6, &out),
                     CERR_SHA256_MISMATCH);
    auth_body_free(b);
    assert_int_equal(auth_body_new(&h, NULL, &b, NULL), 0);
    assert_int_equal(run_body(b, "hello", 5, 6, &out),
                     CERR_INCOMPLETE_BODY);
    auth_body_free(b);
    buf_free(&out);
    headers_free(&h);
}

static void
test_content_encoding_strip(void **state)
{
    char out[32];

    (void)state;
    assert_true(auth_content_encoding_strip("aws-chunked", out,
                                            sizeof(out)));
    assert_string_equal(out, "");
    assert_true(auth_content_encoding_strip("gzip, AWS-Chunked", out,
                                            sizeof(out)));
    assert_string_equal(out, "gzip");
    assert_true(auth_content_encoding_strip("aws-chunked,gzip,br", out,
                                            sizeof(out)));
    assert_string_equal(out, "gzip,br");
    assert_false(auth_content_encoding_strip("gzip", out, 4));
}

/* ---- request-level checks ---- */

static void
signed_get(struct headers *h, const char *region, const char *service)
{
    add(h, "Host", "127.0.0.1:9000");
    add(h, "x-amz-content-sha256", EMPTY_SHA);
    add(h, "x-amz-date", VDATE);
    sign(h, "GET", "/bkt/key", "", "host;x-amz-content-sha256;x-amz-date",
         EMPTY_SHA, region, service);
}

static void
test_wrong_region(void **state)
{
    struct headers h = { 0 };
    struct sigv4_request r;
    struct sigv4_auth a;
    struct err_detail d;

    (void)state;
    signed_get(&h, "eu-west-1", "s3");
    r = request("GET", "/bkt/key", "", &h, "s3");
    err_clear(&d);
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, &d),
                     CERR_AUTH_HEADER_MALFORMED);
    assert_non_null(strstr(d.message, "expecting 'us-east-1'"));
    auth_sigv4_clear(&a);

    r.service = "kms";
    assert_int_equal(auth_sigv4_verify(creds, &r, EMPTY_SHA, &a, &d),
                     CERR_KMS_INVALID_SIGNATURE);
    auth_sigv4_clear(&a);
    headers_free(&h);

    /* The scope names the wrong service. */
    signed_get(&h, "us-east-1", "kms");
    r = request("GET", "/bkt/key", "", &h, "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL),
                     CERR_AUTH_HEADER_MALFORMED);
    auth_sigv4_clear(&a);
    headers_free(&h);
}

static void
test_clock_skew(void **state)
{
    struct headers h = { 0 };
    struct sigv4_request r;
    struct sigv4_auth a;

    (void)state;
    signed_get(&h, "us-east-1", "s3");
    r = request("GET", "/bkt/key", "", &h, "s3");
    r.now_ms = vnow + 14 * 60 * 1000;
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL), 0);
    auth_sigv4_clear(&a);
    r.now_ms = vnow + 16 * 60 * 1000;
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL),
                     CERR_TIME_SKEWED);
    auth_sigv4_clear(&a);
    r.now_ms = vnow - 16 * 60 * 1000;
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL),
                     CERR_TIME_SKEWED);
    auth_sigv4_clear(&a);
    headers_free(&h);
}

static void
test_signature_mismatch(void **state)
{
    struct headers h = { 0 };
    struct sigv4_request r;
    struct sigv4_auth a;

    (void)state;
    signed_get(&h, "us-east-1", "s3");
    r = request("GET", "/bkt/other", "", &h, "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL),
                     CERR_SIGNATURE_MISMATCH);
    assert_non_null(a.canonical_request);
    assert_non_null(strstr(a.canonical_request, "/bkt/other"));
    assert_non_null(strstr(a.string_to_sign, "AWS4-HMAC-SHA256\n"));
    assert_null(strstr(a.canonical_request, SECRET));
    auth_sigv4_clear(&a);
    assert_null(a.canonical_request);
    headers_free(&h);
}

static void
test_raw_path_retry(void **state)
{
    struct headers h = { 0 };
    struct buf creq = BUF_INIT;
    struct sigv4_request r;
    struct sigv4_auth a;
    char scope[] = "20130524/us-east-1/s3/aws4_request", sts[256], sig[65];
    char authz[512];
    uint8_t key[32];

    /* A client that signed a '$' it left unencoded. */
    (void)state;
    add(&h, "Host", "127.0.0.1:9000");
    add(&h, "x-amz-content-sha256", EMPTY_SHA);
    add(&h, "x-amz-date", VDATE);
    assert_int_equal(sigv4_canonical_request(&creq, "GET", "/bkt/a$b",
                     false, "", false, &h,
                     "host;x-amz-content-sha256;x-amz-date", EMPTY_SHA), 0);
    sigv4_string_to_sign(VDATE, scope, creq.data, creq.len, sts,
                         sizeof(sts));
    sigv4_derive_key(SECRET, "20130524", "us-east-1", "s3", key);
    sigv4_hmac_hex(key, sts, strlen(sts), sig);
    snprintf(authz, sizeof(authz), "AWS4-HMAC-SHA256 Credential=%s/%s, "
             "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
             "Signature=%s", AKID, scope, sig);
    add(&h, "Authorization", authz);
    r = request("GET", "/bkt/a$b", "", &h, "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL), 0);
    auth_sigv4_clear(&a);
    buf_free(&creq);
    headers_free(&h);
}

static void
test_unknown_key_and_garbage(void **state)
{
    static const struct {
        const char *authz;
        int want;
    } v[] = {
        { "AWS4-HMAC-SHA256 Credential=AKIANOSUCHKEY0000000/20130524/"
          "us-east-1/s3/aws4_request, SignedHeaders=host, Signature="
          "0000000000000000000000000000000000000000000000000000000000000000",
          CERR_INVALID_ACCESS_KEY },
        { "AWS4-HMAC-SHA256 Credential=" AKID "/20130524/us-east-1/s3/"
          "aws4_request, SignedHeaders=host", CERR_INCOMPLETE_SIGNATURE },
        { "AWS4-HMAC-SHA256 Credential=" AKID "/20130524/us-east-1/s3, "
          "SignedHeaders=host, Signature=00", CERR_AUTH_HEADER_MALFORMED },
        { "AWS4-HMAC-SHA256 Credential=" AKID "/20130525/us-east-1/s3/"
          "aws4_request, SignedHeaders=host, Signature=00",
          CERR_AUTH_HEADER_MALFORMED },
        { "AWS " AKID ":abc=", CERR_NOT_IMPLEMENTED },
        { "AWS4-ECDSA-P256-SHA256 Credential=x", CERR_NOT_IMPLEMENTED },
        { "Bearer abc", CERR_AUTH_HEADER_MALFORMED },
    };
    struct sigv4_request r;
    struct sigv4_auth a;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct headers h = { 0 };

        add(&h, "Host", "127.0.0.1:9000");
        add(&h, "x-amz-content-sha256", EMPTY_SHA);
        add(&h, "x-amz-date", VDATE);
        add(&h, "Authorization", v[i].authz);
        r = request("GET", "/bkt/key", "", &h, "s3");
        assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL),
                         v[i].want);
        if (v[i].want == CERR_INVALID_ACCESS_KEY)
            assert_string_equal(a.access_key, "AKIANOSUCHKEY0000000");
        auth_sigv4_clear(&a);
        headers_free(&h);
    }
}

static void
test_anonymous(void **state)
{
    struct headers h = { 0 };
    struct sigv4_request r;
    struct sigv4_auth a;

    (void)state;
    add(&h, "Host", "127.0.0.1:9000");
    r = request("GET", "/bkt/key", "", &h, "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL), 0);
    assert_true(a.anonymous);
    assert_int_equal(a.principal.type, AUTH_ANONYMOUS);
    auth_sigv4_clear(&a);

    r.service = "kms";
    assert_int_equal(auth_sigv4_verify(creds, &r, EMPTY_SHA, &a, NULL),
                     CERR_MISSING_AUTH);
    auth_sigv4_clear(&a);
    headers_free(&h);
}

static void
test_missing_payload_header(void **state)
{
    struct headers h = { 0 };
    struct sigv4_request r;
    struct sigv4_auth a;

    (void)state;
    add(&h, "Host", "127.0.0.1:9000");
    add(&h, "x-amz-date", VDATE);
    sign(&h, "GET", "/bkt/key", "", "host;x-amz-date", EMPTY_SHA,
         "us-east-1", "s3");
    r = request("GET", "/bkt/key", "", &h, "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL),
                     CERR_INVALID_REQUEST);
    auth_sigv4_clear(&a);
    headers_free(&h);
}

#define USER_AKID "AKIAUSER000000000001"
#define USER_SECRET "user/secret/key/for/tests/only/0123456"

static int
user_lookup(void *ctx, const char *akid, char secret[128],
            struct auth_principal *p)
{
    (*(int *)ctx)++;
    if (strcmp(akid, USER_AKID) != 0)
        return CERR_INVALID_ACCESS_KEY;
    snprintf(secret, 128, "%s", USER_SECRET);
    memset(p, 0, sizeof(*p));
    p->type = AUTH_USER;
    snprintf(p->arn, sizeof(p->arn), "arn:aws:iam::111122223333:user/bob");
    snprintf(p->account, sizeof(p->account), "111122223333");
    snprintf(p->user_name, sizeof(p->user_name), "bob");
    return 0;
}

/* A user's key goes through the hook; the key cache keeps them apart. */
static void
test_user_lookup_hook(void **state)
{
    struct headers h = { 0 };
    struct buf creq = BUF_INIT;
    struct sigv4_request r;
    struct sigv4_auth a;
    char scope[] = "20130524/us-east-1/s3/aws4_request", sts[256], sig[65];
    char authz[512];
    uint8_t key[32];
    int calls = 0;

    (void)state;
    auth_creds_set_user_lookup(creds, user_lookup, &calls);
    add(&h, "Host", "127.0.0.1:9000");
    add(&h, "x-amz-content-sha256", EMPTY_SHA);
    add(&h, "x-amz-date", VDATE);
    assert_int_equal(sigv4_canonical_request(&creq, "GET", "/bkt/key",
                     true, "", false, &h,
                     "host;x-amz-content-sha256;x-amz-date", EMPTY_SHA), 0);
    sigv4_string_to_sign(VDATE, scope, creq.data, creq.len, sts,
                         sizeof(sts));
    sigv4_derive_key(USER_SECRET, "20130524", "us-east-1", "s3", key);
    sigv4_hmac_hex(key, sts, strlen(sts), sig);
    snprintf(authz, sizeof(authz), "AWS4-HMAC-SHA256 Credential=%s/%s, "
             "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
             "Signature=%s", USER_AKID, scope, sig);
    add(&h, "Authorization", authz);

    r = request("GET", "/bkt/key", "", &h, "s3");
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL), 0);
    assert_int_equal(a.principal.type, AUTH_USER);
    assert_string_equal(a.principal.user_name, "bob");
    assert_int_equal(calls, 1);
    auth_sigv4_clear(&a);
    auth_creds_set_user_lookup(creds, NULL, NULL);
    assert_int_equal(auth_sigv4_verify(creds, &r, NULL, &a, NULL),
                     CERR_INVALID_ACCESS_KEY);
    auth_sigv4_clear(&a);
    buf_free(&creq);
    headers_free(&h);
}

/* ---- credential store ---- */

static void
read_file(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void
test_creds_generate(void **state)
{
    char dir[] = "/tmp/coffer-creds-XXXXXX", path[256], first[512];
    char again[512], secret[128];
    struct auth_creds *c;
    struct auth_principal p;
    struct stat st;
    bool gen = false;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/credentials", dir);
    assert_int_equal(auth_creds_open(dir, "123456789012", &c, &gen, NULL),
                     0);
    assert_true(gen);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(strlen(auth_creds_root_access_key(c)), 20);
    assert_memory_equal(auth_creds_root_access_key(c), "AKIA", 4);
    assert_int_equal(auth_creds_lookup(c, auth_creds_root_access_key(c),
                                       secret, &p), 0);
    assert_int_equal(strlen(secret), 40);
    assert_string_equal(p.user_id, "123456789012");
    read_file(path, first, sizeof(first));
    assert_non_null(strstr(first, "[default]\naws_access_key_id = AKIA"));
    assert_non_null(strstr(first, secret));
    auth_creds_free(c);

    /* Opened again: the same pair, the file untouched. */
    assert_int_equal(auth_creds_open(dir, "123456789012", &c, &gen, NULL),
                     0);
    assert_false(gen);
    read_file(path, again, sizeof(again));
    assert_string_equal(first, again);
    assert_int_equal(auth_creds_lookup(c, "AKIAOTHER", secret, &p),
                     CERR_INVALID_ACCESS_KEY);
    auth_creds_free(c);
    unlink(path);
    rmdir(dir);
}

static void
test_creds_file_and_env(void **state)
{
    char dir[] = "/tmp/coffer-creds-XXXXXX", path[256], secret[128];
    struct auth_creds *c;
    struct auth_principal p;
    bool gen = true;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/credentials", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("# comment\n[other]\naws_access_key_id = NOPE\n[default]\r\n"
          "aws_secret_access_key=s3cr3t \r\n aws_access_key_id = AKIAFILE\n",
          f);
    fclose(f);
    assert_int_equal(auth_creds_open(dir, "123456789012", &c, &gen, NULL),
                     0);
    assert_false(gen);
    assert_string_equal(auth_creds_root_access_key(c), "AKIAFILE");
    assert_int_equal(auth_creds_lookup(c, "AKIAFILE", secret, &p), 0);
    assert_string_equal(secret, "s3cr3t");
    auth_creds_free(c);

    /* The environment wins; one variable alone is an error. */
    setenv("COFFER_ROOT_ACCESS_KEY_ID", "AKIAENV", 1);
    assert_int_equal(auth_creds_open(dir, "123456789012", &c, &gen, NULL),
                     CERR_INVALID_ARGUMENT);
    setenv("COFFER_ROOT_SECRET_ACCESS_KEY", "envsecret", 1);
    assert_int_equal(auth_creds_open(dir, "123456789012", &c, &gen, NULL),
                     0);
    assert_string_equal(auth_creds_root_access_key(c), "AKIAENV");
    auth_creds_free(c);
    unsetenv("COFFER_ROOT_ACCESS_KEY_ID");
    unsetenv("COFFER_ROOT_SECRET_ACCESS_KEY");

    /* A file without the pair is refused, not replaced. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[default]\nregion = us-east-1\n", f);
    fclose(f);
    assert_int_equal(auth_creds_open(dir, "123456789012", &c, &gen, NULL),
                     CERR_INVALID_ARGUMENT);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum_check_values),
        cmocka_unit_test(test_checksum_hello),
        cmocka_unit_test(test_checksum_streaming_splits),
        cmocka_unit_test(test_canonical_headers),
        cmocka_unit_test(test_canonical_query),
        cmocka_unit_test(test_canonical_uri),
        cmocka_unit_test(test_signing_keys),
        cmocka_unit_test(test_vector_a_kms),
        cmocka_unit_test(test_vector_b_presigned),
        cmocka_unit_test(test_presigned_errors),
        cmocka_unit_test(test_hmac_sha1_rfc2202),
        cmocka_unit_test(test_sigv2_botocore_urls),
        cmocka_unit_test(test_sigv2_string_to_sign),
        cmocka_unit_test(test_sigv2_refusals),
        cmocka_unit_test(test_vector_c_query_sorting),
        cmocka_unit_test(test_vector_d_aws_get),
        cmocka_unit_test(test_vector_e_signed_chunks),
        cmocka_unit_test(test_wrong_chunk_signature),
        cmocka_unit_test(test_truncated_body),
        cmocka_unit_test(test_vector_f_signed_trailer),
        cmocka_unit_test(test_wrong_trailer_signature),
        cmocka_unit_test(test_unsigned_trailer_every_split),
        cmocka_unit_test(test_unsigned_trailer_faults),
        cmocka_unit_test(test_unsigned_trailer_large),
        cmocka_unit_test(test_content_md5),
        cmocka_unit_test(test_checksum_headers),
        cmocka_unit_test(test_payload_hash_and_length),
        cmocka_unit_test(test_content_encoding_strip),
        cmocka_unit_test(test_wrong_region),
        cmocka_unit_test(test_clock_skew),
        cmocka_unit_test(test_signature_mismatch),
        cmocka_unit_test(test_raw_path_retry),
        cmocka_unit_test(test_unknown_key_and_garbage),
        cmocka_unit_test(test_anonymous),
        cmocka_unit_test(test_missing_payload_header),
        cmocka_unit_test(test_user_lookup_hook),
        cmocka_unit_test(test_creds_generate),
        cmocka_unit_test(test_creds_file_and_env),
    };

    return cmocka_run_group_tests(tests, setup_creds, teardown_creds);
}
