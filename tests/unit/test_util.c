/*
 * Unit tests for util/: codecs, buffers, header lists, time formats and
 * the error table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/codec.h"
#include "util/err.h"
#include "util/headers.h"
#include "util/timefmt.h"

static void
test_base64_round_trip_every_length(void **state)
{
    uint8_t in[70], out[70];
    char text[100];
    size_t len, n;

    (void)state;
    for (len = 0; len < sizeof(in); len++) {
        for (n = 0; n < len; n++)
            in[n] = (uint8_t)(n * 37 + len);
        base64_encode(in, len, text);
        assert_int_equal(strlen(text), base64_encoded_len(len));
        /* Exactly len bytes of room must be enough. */
        assert_int_equal(base64_decode(text, strlen(text), out, len, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(in, out, len);
    }
}

static void
test_base64_refuses_malformed_text(void **state)
{
    static const char *bad[] = {
        "aGVsbG8", "aGVsbG8K=", "aGV=bG8K", "aGVsbG8\n", "a===",
        "aG Vs", "====", "aGVsbA=x",
    };
    uint8_t out[16];
    size_t i, n;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(base64_decode(bad[i], strlen(bad[i]), out,
                                       sizeof(out), &n),
                         CERR_INVALID_ARGUMENT);
    /* Too small a buffer is refused, not overrun. */
    assert_int_equal(base64_decode("aGVsbG8K", 8, out, 5, &n),
                     CERR_INVALID_ARGUMENT);
}

static void
test_base64_decodes_known_values(void **state)
{
    uint8_t out[16];
    size_t n;

    (void)state;
    assert_int_equal(base64_decode("aGVsbG8K", 8, out, sizeof(out), &n), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "hello\n", 6);
    assert_int_equal(base64_decode("NjowIA==", 8, out, sizeof(out), &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(base64_decode("", 0, out, sizeof(out), &n), 0);
    assert_int_equal(n, 0);
}

static void
test_uri_encode_follows_sigv4(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    uri_encode(&b, "a b+c/d~e_f.g-h*", 16, true);
    assert_string_equal(b.data, "a%20b%2Bc/d~e_f.g-h%2A");
    buf_reset(&b);
    uri_encode(&b, "a/b", 3, false);
    assert_string_equal(b.data, "a%2Fb");
    buf_reset(&b);
    uri_encode(&b, "\xc3\xa9", 2, true);
    assert_string_equal(b.data, "%C3%A9");
    buf_free(&b);
}

static void
test_uri_decode_keeps_plus_and_refuses_bad_escapes(void **state)
{
    char out[32];
    size_t n;

    (void)state;
    assert_int_equal(uri_decode("a+b%20c%2f", 10, out, &n), 0);
    assert_string_equal(out, "a+b c/");
    assert_int_equal(n, 6);
    assert_int_equal(uri_decode("%", 1, out, &n), CERR_INVALID_ARGUMENT);
    assert_int_equal(uri_decode("%4", 2, out, &n), CERR_INVALID_ARGUMENT);
    assert_int_equal(uri_decode("%zz", 3, out, &n), CERR_INVALID_ARGUMENT);
    assert_int_equal(uri_decode("a%00", 4, out, &n), CERR_INVALID_ARGUMENT);
}

static void
test_hex_round_trip_and_refusals(void **state)
{
    uint8_t in[4] = { 0x00, 0xab, 0xcd, 0xff }, out[4];
    char text[9];

    (void)state;
    hex_encode(in, 4, text);
    assert_string_equal(text, "00abcdff");
    assert_int_equal(hex_decode("00ABcdff", out, 4), 0);
    assert_memory_equal(in, out, 4);
    assert_int_equal(hex_decode("00abcdf", out, 4), CERR_INVALID_ARGUMENT);
    assert_int_equal(hex_decode("00abcdfg", out, 4), CERR_INVALID_ARGUMENT);
}

static void
test_buf_escapes_xml_and_json(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    buf_put_xml(&b, "<a href=\"x\">&'</a>");
    assert_string_equal(b.data,
                        "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
    buf_reset(&b);
    buf_put_json_str(&b, "q\"\\\n\x01");
    assert_string_equal(b.data, "\"q\\\"\\\\\\n\\u0001\"");
    buf_free(&b);
}

static void
test_headers_join_repeats_and_lowercase(void **state)
{
    struct headers h = { NULL, 0, 0 };

    (void)state;
    assert_int_equal(headers_add(&h, "X-Amz-Meta-A", "1"), 0);
    assert_int_equal(headers_add(&h, "x-amz-meta-a", "2"), 0);
    assert_int_equal(headers_add(&h, "Host", "h"), 0);
    assert_string_equal(headers_get(&h, "x-amz-meta-a"), "1,2");
    assert_string_equal(headers_get(&h, "host"), "h");
    assert_null(headers_get(&h, "Host"));
    headers_free(&h);
}

static void
test_time_formats_round_trip(void **state)
{
    char text[32];
    int64_t ms;

    (void)state;
    time_http(1796397298000LL, text);
    assert_string_equal(text, "Fri, 04 Dec 2026 15:14:58 GMT");
    assert_int_equal(time_parse_http(text, &ms), 0);
    assert_int_equal(ms, 1796397298000LL);
    time_iso8601(1796397298123LL, text);
    assert_string_equal(text, "2026-12-04T15:14:58.123Z");
    assert_int_equal(time_parse_iso8601(text, &ms), 0);
    assert_int_equal(ms, 1796397298123LL);
    assert_int_equal(time_parse_amz("20261204T151458Z", &ms), 0);
    assert_int_equal(ms, 1796397298000LL);
    assert_int_equal(time_parse_amz("20261204T151458", &ms),
                     CERR_INVALID_ARGUMENT);
    assert_int_equal(time_parse_iso8601("2026-12-04T16:14:58+01:00", &ms), 0);
    assert_int_equal(ms, 1796397298000LL);
}

static void
test_error_table_maps_wire_codes(void **state)
{
    (void)state;
    assert_string_equal(err_lookup(CERR_NO_SUCH_KEY)->s3_code, "NoSuchKey");
    assert_int_equal(err_lookup(CERR_NO_SUCH_KEY)->s3_status, 404);
    assert_string_equal(err_lookup(CERR_KMS_NOT_FOUND)->s3_code,
                        "KMS.NotFoundException");
    assert_string_equal(err_lookup(CERR_KMS_NOT_FOUND)->kms_type,
                        "NotFoundException");
    assert_int_equal(err_lookup(CERR_SIGNATURE_MISMATCH)->s3_status, 403);
    assert_string_equal(err_lookup(CERR_SIGNATURE_MISMATCH)->kms_type,
                        "InvalidSignatureException");
    /* Unknown codes read as an internal error, never NULL. */
    assert_int_equal(err_lookup(-9999)->s3_status, 500);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_round_trip_every_length),
        cmocka_unit_test(test_base64_refuses_malformed_text),
        cmocka_unit_test(test_base64_decodes_known_values),
        cmocka_unit_test(test_uri_encode_follows_sigv4),
        cmocka_unit_test(test_uri_decode_keeps_plus_and_refuses_bad_escapes),
        cmocka_unit_test(test_hex_round_trip_and_refusals),
        cmocka_unit_test(test_buf_escapes_xml_and_json),
        cmocka_unit_test(test_headers_join_repeats_and_lowercase),
        cmocka_unit_test(test_time_formats_round_trip),
        cmocka_unit_test(test_error_table_maps_wire_codes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
