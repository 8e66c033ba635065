/*
 * Unit tests for the pure parts of the S3 operations: tag sets (header
 * and XML forms, the rules, the stored form), the x-amz-copy-source
 * header, the copy-source range and the copy size limit.  Everything
 * that needs a server is in tests/integration (test_s3_*.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_int.h"
#include "util/buf.h"
#include "util/err.h"

static struct buf
text_buf(const char *s)
{
    struct buf b = BUF_INIT;

    buf_puts(&b, s);
    return b;
}

/* ---- tag sets ---- */

static void
test_tags_from_header(void **state)
{
    struct s3_tagset t;
    struct err_detail d;

    (void)state;
    assert_int_equal(s3_tagset_parse_query("a=1&b=two%20words&c=x%2By&d"
                                           "&&e=f+g&", &t, &d), 0);
    assert_int_equal(t.n, 5);
    assert_string_equal(t.v[1].value, "two words");
    assert_string_equal(t.v[2].value, "x+y");
    assert_string_equal(t.v[3].key, "d");
    assert_string_equal(t.v[3].value, "");
    assert_string_equal(t.v[4].value, "f g");
    s3_tagset_free(&t);

    assert_int_equal(s3_tagset_parse_query("", &t, &d), 0);
    assert_int_equal(t.n, 0);
    s3_tagset_free(&t);
}

static void
test_tags_header_refusals(void **state)
{
    struct s3_tagset t;
    struct err_detail d;

    (void)state;
    err_clear(&d);
    assert_int_equal(s3_tagset_parse_query("a=1&b=2&a=3", &t, &d),
                     CERR_INVALID_ARGUMENT);
    assert_string_equal(d.arg_name, "x-amz-tagging");
    assert_non_null(strstr(d.message, "without tag name duplicates"));
    s3_tagset_free(&t);
    assert_int_equal(s3_tagset_parse_query("a=%zz", &t, &d),
                     CERR_INVALID_ARGUMENT);
    s3_tagset_free(&t);
    assert_int_equal(s3_tagset_parse_query("a%00=1", &t, NULL),
                     CERR_INVALID_ARGUMENT);
    s3_tagset_free(&t);
}

/* A set of n tags "k<i>" = value. */
static void
make_tags(struct s3_tagset *t, size_t n, const char *value)
{
    size_t i;

    t->v = calloc(n ? n : 1, sizeof(*t->v));
    assert_non_null(t->v);
    t->n = n;
    for (i = 0; i < n; i++) {
        char k[16];

        snprintf(k, sizeof(k), "k%zu", i);
        t->v[i].key = strdup(k);
        t->v[i].value = strdup(value);
    }
}

static void
set_tag(struct s3_tagset *t, size_t i, const char *key, const char *value)
{
    free(t->v[i].key);
    free(t->v[i].value);
    t->v[i].key = strdup(key);
    t->v[i].value = strdup(value);
}

static char *
repeat(const char *unit, size_t n)
{
    size_t len = strlen(unit), i;
    char *s = malloc(len * n + 1);

    assert_non_null(s);
    for (i = 0; i < n; i++)
        memcpy(s + i * len, unit, len);
    s[len * n] = '\0';
    return s;
}

static void
test_tag_counts(void **state)
{
    struct s3_tagset t;
    struct err_detail d;

    (void)state;
    make_tags(&t, 10, "v");
    assert_int_equal(s3_tagset_check(&t, false, &d), 0);
    s3_tagset_free(&t);
    make_tags(&t, 11, "v");
    assert_int_equal(s3_tagset_check(&t, false, &d), CERR_INVALID_TAG);
    assert_string_equal(d.message, "Object tags cannot be greater than 10");
    assert_int_equal(s3_tagset_check(&t, true, &d), 0);
    s3_tagset_free(&t);
    make_tags(&t, 50, "v");
    assert_int_equal(s3_tagset_check(&t, true, &d), 0);
    s3_tagset_free(&t);
    make_tags(&t, 51, "v");
    assert_int_equal(s3_tagset_check(&t, true, &d), CERR_INVALID_TAG);
    s3_tagset_free(&t);
}

static void
test_tag_lengths_in_characters(void **state)
{
    struct s3_tagset t;
    char *k128 = repeat("\xc3\xa9", 128), *k129 = repeat("k", 129);
    char *v256 = repeat("\xe6\x97\xa5", 256), *v257 = repeat("v", 257);

    (void)state;
    make_tags(&t, 1, "v");
    set_tag(&t, 0, k128, v256);
    assert_int_equal(s3_tagset_check(&t, false, NULL), 0);
    set_tag(&t, 0, k129, "v");
    assert_int_equal(s3_tagset_check(&t, false, NULL), CERR_INVALID_TAG);
    set_tag(&t, 0, "k", v257);
    assert_int_equal(s3_tagset_check(&t, false, NULL), CERR_INVALID_TAG);
    set_tag(&t, 0, "", "v");
    assert_int_equal(s3_tagset_check(&t, false, NULL), CERR_INVALID_TAG);
    set_tag(&t, 0, "k", "");
    assert_int_equal(s3_tagset_check(&t, false, NULL), 0);
    s3_tagset_free(&t);
    free(k128);
    free(k129);
    free(v256);
    free(v257);
}

static void
test_xml_text_stays_xml(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    s3_xml_put(&b, "a\x01" "b\tc\nd\re\x7f<&>");
    assert_string_equal(b.data, "a\xef\xbf\xbd" "b\tc\nd&#13;e\x7f"
                        "&lt;&amp;&gt;");
    buf_reset(&b);
    s3_xml_put(&b, "x\xffy\xc3\xa9\xef\xbf\xbe");
    assert_string_equal(b.data, "x\xef\xbf\xbdy\xc3\xa9\xef\xbf\xbd");
    buf_free(&b);
    assert_true(s3_utf8_valid("\xc3\xa9\xf4\x8f\xbf\xbf"));
    assert_false(s3_utf8_valid("\xf4\x90\x80\x80"));
    assert_false(s3_utf8_valid("\xe0\x80\xaf"));
}

static void
test_version_ids(void **state)
{
    struct err_detail d;

    (void)state;
    err_clear(&d);
    assert_int_equal(s3_version_id_check(NULL, "versionId", &d), 0);
    assert_int_equal(s3_version_id_check("null", "versionId", &d), 0);
    assert_int_equal(s3_version_id_check("Null", "versionId", &d),
                     CERR_INVALID_ARGUMENT);
    assert_string_equal(d.message, "Invalid version id specified");
    assert_string_equal(d.arg_value, "Null");
    assert_int_equal(s3_version_id_check("", "versionId", &d),
                     CERR_INVALID_ARGUMENT);
    assert_string_equal(d.message, "Version id cannot be the empty string");
}

static void
test_tag_characters(void **state)
{
    static const char *const good[] = {
        "a b", "A_z.0:9/x=y+z-w@v", "\xc3\xa9t\xc3\xa9",
        "\xe6\x97\xa5\xe6\x9c\xac", "\xd9\xa3", "a\xc2\xa0" "b",
        "a\xe3\x80\x80" "b", NULL,
    };
    /* Symbols, controls, emoji, and bytes that are not UTF-8. */
    static const char *const bad[] = {
        "a!", "a#", "a*", "a%20", "a\tb", "a\"", "<a>", "\xe2\x82\xac",
        "\xf0\x9f\x98\x80", "a\xc2\x85", "a\xff", "\xc3", "\xc0\xaf",
        "\xed\xa0\x80", NULL,
    };
    struct s3_tagset t;
    size_t i;

    (void)state;
    make_tags(&t, 1, "v");
    for (i = 0; good[i]; i++) {
        set_tag(&t, 0, good[i], good[i]);
        assert_int_equal(s3_tagset_check(&t, false, NULL), 0);
    }
    for (i = 0; bad[i]; i++) {
        set_tag(&t, 0, bad[i], "v");
        assert_int_equal(s3_tagset_check(&t, false, NULL),
                         CERR_INVALID_TAG);
        set_tag(&t, 0, "k", bad[i]);
        assert_int_equal(s3_tagset_check(&t, false, NULL),
                         CERR_INVALID_TAG);
    }
    /* "aws:" is reserved on buckets only. */
    set_tag(&t, 0, "aws:cloudformation", "v");
    assert_int_equal(s3_tagset_check(&t, true, NULL), CERR_INVALID_TAG);
    assert_int_equal(s3_tagset_check(&t, false, NULL), 0);
    s3_tagset_free(&t);
}

static void
test_tags_stored_form_round_trips(void **state)
{
    struct s3_tagset t, back;
    char *text;

    (void)state;
    make_tags(&t, 3, "v");
    set_tag(&t, 0, "a b", "c+d");
    set_tag(&t, 1, "x=y", "1&2");
    set_tag(&t, 2, "\xc3\xa9", "");
    assert_int_equal(s3_tagset_to_query(&t, &text), 0);
    assert_string_equal(text, "a%20b=c%2Bd&x%3Dy=1%262&%C3%A9=");
    assert_int_equal(s3_tagging_count(text), 3);
    assert_int_equal(s3_tagset_parse_query(text, &back, NULL), 0);
    assert_int_equal(back.n, 3);
    assert_string_equal(back.v[0].key, "a b");
    assert_string_equal(back.v[0].value, "c+d");
    assert_string_equal(back.v[1].key, "x=y");
    assert_string_equal(back.v[1].value, "1&2");
    assert_string_equal(back.v[2].key, "\xc3\xa9");
    free(text);
    s3_tagset_free(&t);
    s3_tagset_free(&back);

    memset(&t, 0, sizeof(t));
    assert_int_equal(s3_tagset_to_query(&t, &text), 0);
    assert_null(text);
    assert_int_equal(s3_tagging_count(NULL), 0);
    assert_int_equal(s3_tagging_count(""), 0);
    assert_int_equal(s3_tagging_count("a="), 1);
}

static void
test_tags_from_xml(void **state)
{
    struct buf b = text_buf("<Tagging xmlns=\"" S3_NS "\"><TagSet><Tag>"
                            "<Key>k &amp; q</Key><Value>v</Value></Tag><Tag>"
                            "<Key>e</Key><Value></Value></Tag></TagSet>"
                            "</Tagging>");
    struct buf out = BUF_INIT;
    struct s3_tagset t;
    struct err_detail d;

    (void)state;
    assert_int_equal(s3_tagset_parse_xml(&b, &t, &d), 0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.v[0].key, "k & q");
    assert_string_equal(t.v[1].value, "");
    s3_tagset_to_xml(&t, &out);
    assert_string_equal(out.data, "<Tagging xmlns=\"" S3_NS "\"><TagSet>"
                        "<Tag><Key>k &amp; q</Key><Value>v</Value></Tag>"
                        "<Tag><Key>e</Key><Value></Value></Tag></TagSet>"
                        "</Tagging>");
    s3_tagset_free(&t);
    buf_free(&b);
    buf_free(&out);

    b = text_buf("<Tagging><TagSet/></Tagging>");
    assert_int_equal(s3_tagset_parse_xml(&b, &t, &d), 0);
    assert_int_equal(t.n, 0);
    s3_tagset_free(&t);
    buf_free(&b);
}

static void
test_tags_xml_refusals(void **state)
{
    static const char *const malformed[] = {
        "<Tagging/>",
        "<Other><TagSet/></Other>",
        "<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>",
        "<Tagging><TagSet><Tag><Value>a</Value></Tag></TagSet></Tagging>",
        "<Tagging><TagSet>",
        "<!DOCTYPE Tagging><Tagging><TagSet/></Tagging>",
        NULL,
    };
    struct s3_tagset t;
    struct err_detail d;
    struct buf b;
    size_t i;

    (void)state;
    for (i = 0; malformed[i]; i++) {
        b = text_buf(malformed[i]);
        assert_int_equal(s3_tagset_parse_xml(&b, &t, &d),
                         CERR_MALFORMED_XML);
        s3_tagset_free(&t);
        buf_free(&b);
    }
    b = text_buf("");
    assert_int_equal(s3_tagset_parse_xml(&b, &t, &d), CERR_MISSING_BODY);
    s3_tagset_free(&t);
    buf_free(&b);
    b = text_buf("<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag>"
                 "<Tag><Key>a</Key><Value>2</Value></Tag></TagSet>"
                 "</Tagging>");
    assert_int_equal(s3_tagset_parse_xml(&b, &t, &d), CERR_INVALID_TAG);
    assert_string_equal(d.message, "Cannot provide multiple Tags with the "
                        "same key");
    s3_tagset_free(&t);
    buf_free(&b);
}

/* ---- copy source, range and size ---- */

static void
test_copy_source_forms(void **state)
{
    static const struct {
        const char *value, *bucket, *key;
    } ok[] = {
        { "bkt/key", "bkt", "key" },
        { "/bkt/a%20b%2Bc", "bkt", "a b+c" },
        { "bkt/a+b", "bkt", "a+b" },
        { "bkt/dir/sub/", "bkt", "dir/sub/" },
        { "bkt/a%3Fb", "bkt", "a?b" },
        { "bkt/k?versionId=null", "bkt", "k" },
        { "bkt/%C3%A9", "bkt", "\xc3\xa9" },
    };
    char bucket[64];
    char *key;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(s3_copy_source_parse(ok[i].value, bucket, &key,
                                              NULL), 0);
        assert_string_equal(bucket, ok[i].bucket);
        assert_string_equal(key, ok[i].key);
        free(key);
    }
}

static void
test_copy_source_refusals(void **state)
{
    static const char *const bad[] = {
        "bkt", "bkt/", "/bkt", "/k", "", "/", "b/%zz", "b/%00",
        "0123456789012345678901234567890123456789012345678901234567890123/k",
        NULL,
    };
    char bucket[64], *key, *long_key;
    struct buf v = BUF_INIT;
    struct err_detail d;
    size_t i;

    (void)state;
    for (i = 0; bad[i]; i++) {
        err_clear(&d);
        assert_int_equal(s3_copy_source_parse(bad[i], bucket, &key, &d),
                         CERR_INVALID_ARGUMENT);
        assert_null(key);
        assert_string_equal(d.arg_name, "x-amz-copy-source");
    }
    assert_int_equal(s3_copy_source_parse("b/k?versionId=3HL4kqt", bucket,
                                          &key, NULL), CERR_INVALID_ARGUMENT);
    assert_int_equal(s3_copy_source_parse("b/k?a=1&versionId=x", bucket,
                                          &key, NULL), CERR_INVALID_ARGUMENT);
    assert_int_equal(s3_copy_source_parse("b/k?versionId=", bucket,
                                          &key, NULL), CERR_INVALID_ARGUMENT);
    assert_int_equal(s3_copy_source_parse("b/k?versionId=null", bucket,
                                          &key, NULL), 0);
    free(key);
    assert_int_equal(s3_copy_source_parse("b/%FF", bucket, &key, NULL),
                     CERR_INVALID_ARGUMENT);

    long_key = repeat("k", 1025);
    buf_printf(&v, "b/%s", long_key);
    assert_int_equal(s3_copy_source_parse(v.data, bucket, &key, NULL),
                     CERR_KEY_TOO_LONG);
    buf_reset(&v);
    long_key[1024] = '\0';
    buf_printf(&v, "b/%s", long_key);
    assert_int_equal(s3_copy_source_parse(v.data, bucket, &key, NULL), 0);
    free(key);
    free(long_key);
    buf_free(&v);
}

static void
test_copy_range(void **state)
{
    static const char *const malformed[] = {
        "byte=0-1", "bytes=5-4", "bytes=-1", "bytes=1-", "bytes=a-1",
        "bytes=1-b", "bytes=0-1,2-3", "bytes= 0-1", "bytes=0-1 ", "",
        "bytes=1234567890123456789-1234567890123456790", NULL,
    };
    struct err_detail d;
    int64_t first, len;
    size_t i;

    (void)state;
    assert_int_equal(s3_copy_range_parse("bytes=0-9", 10, &first, &len, &d),
                     0);
    assert_true(first == 0 && len == 10);
    assert_int_equal(s3_copy_range_parse("bytes=9-9", 10, &first, &len, &d),
                     0);
    assert_true(first == 9 && len == 1);
    for (i = 0; malformed[i]; i++) {
        err_clear(&d);
        assert_int_equal(s3_copy_range_parse(malformed[i], 10, &first, &len,
                                             &d), CERR_INVALID_ARGUMENT);
        assert_non_null(strstr(d.message, "must be of the form"));
    }
    assert_int_equal(s3_copy_range_parse("bytes=0-10", 10, &first, &len, &d),
                     CERR_INVALID_ARGUMENT);
    assert_string_equal(d.message, "Range specified is not valid for source "
                        "object of size: 10");
    assert_string_equal(d.arg_name, "x-amz-copy-source-range");
    assert_int_equal(s3_copy_range_parse("bytes=0-0", 0, &first, &len, &d),
                     CERR_INVALID_ARGUMENT);
}

static void
test_copy_size_limit(void **state)
{
    struct err_detail d;

    (void)state;
    assert_int_equal(s3_copy_size_check(S3_MAX_PUT, &d), 0);
    assert_int_equal(s3_copy_size_check(0, &d), 0);
    err_clear(&d);
    assert_int_equal(s3_copy_size_check(S3_MAX_PUT + 1, &d),
                     CERR_INVALID_REQUEST);
    assert_string_equal(d.message, "The specified copy source is larger "
                        "than the maximum allowable size for a copy source: "
                        "5368709120");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags_from_header),
        cmocka_unit_test(test_tags_header_refusals),
        cmocka_unit_test(test_tag_counts),
        cmocka_unit_test(test_tag_lengths_in_characters),
        cmocka_unit_test(test_tag_characters),
        cmocka_unit_test(test_xml_text_stays_xml),
        cmocka_unit_test(test_version_ids),
        cmocka_unit_test(test_tags_stored_form_round_trips),
        cmocka_unit_test(test_tags_from_xml),
        cmocka_unit_test(test_tags_xml_refusals),
        cmocka_unit_test(test_copy_source_forms),
        cmocka_unit_test(test_copy_source_refusals),
        cmocka_unit_test(test_copy_range),
        cmocka_unit_test(test_copy_size_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
