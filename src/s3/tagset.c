/*
 * Tag sets of objects and buckets: parsed from the x-amz-tagging header
 * ("k1=v1&k2=v2", URL-encoded) or from a <Tagging><TagSet> document,
 * checked against S3's rules, and written back out.
 *
 * An object keeps its tags in the store as the header form with every
 * key and value percent-encoded (SigV4 style, so "+" and " " survive);
 * a bucket keeps the <Tagging> document this file writes.  Rules (the
 * S3 tagging restrictions): at most 10 tags on an object and 50 on a
 * bucket, keys of 1 to 128 characters and values of up to 256, Unicode
 * letters, digits and spaces plus _ . : / = + - @, keys unique, and no
 * bucket tag key may start with "aws:".  A breach is 400 InvalidTag; a
 * header that does not decode, or repeats a key, is 400 InvalidArgument.
 */
#include "s3/s3_int.h"

#include <ctype.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include <libxml/tree.h>

#include "policy/policy.h"
#include "util/codec.h"

#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 256

static locale_t utf8_locale;

static void
utf8_locale_open(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static const char header_msg[] = "The header 'x-amz-tagging' shall be "
    "encoded as UTF-8 then URLEncoded URL query parameters without tag "
    "name duplicates.";

/* Free the tags and zero the set; a zeroed set is fine. */
void
s3_tagset_free(struct s3_tagset *t)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        free(t->v[i].key);
        free(t->v[i].value);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

/* Append a tag, taking over key and value (NULL: out of memory). */
static int
add_tag(struct s3_tagset *t, char *key, char *value)
{
    struct s3_tag *v;

    if (key == NULL || value == NULL ||
        (v = realloc(t->v, (t->n + 1) * sizeof(*v))) == NULL) {
        free(key);
        free(value);
        return CERR_NOMEM;
    }
    t->v = v;
    v[t->n].key = key;
    v[t->n].value = value;
    t->n++;
    return 0;
}

static bool
has_key(const struct s3_tagset *t, const char *key)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        if (strcmp(t->v[i].key, key) == 0)
            return true;
    return false;
}

/*
 * Form-decode len bytes of s ('+' is a space) into a new string; *bad
 * is set when an escape is broken.
 */
static char *
form_decode(const char *s, size_t len, bool *bad)
{
    char *tmp = strndup(s, len), *out = malloc(len + 1);
    size_t i;

    if (tmp == NULL || out == NULL) {
        free(tmp);
        free(out);
        return NULL;
    }
    for (i = 0; i < len; i++)
        if (tmp[i] == '+')
            tmp[i] = ' ';
    if (uri_decode(tmp, len, out, NULL) != 0) {
        *bad = true;
        out[0] = '\0';
    }
    free(tmp);
    return out;
}

/* One "key=value" item of the header form. */
static int
parse_item(struct s3_tagset *t, const char *item, size_t len)
{
    const char *eq = memchr(item, '=', len);
    size_t klen = eq ? (size_t)(eq - item) : len;
    bool bad = false;
    char *key = form_decode(item, klen, &bad);
    char *value = form_decode(eq ? eq + 1 : "", eq ? len - klen - 1 : 0,
                              &bad);

    if (key != NULL && value != NULL && (bad || has_key(t, key))) {
        free(key);
        free(value);
        return CERR_INVALID_ARGUMENT;
    }
    return add_tag(t, key, value);
}

/*
 * Parse the header form into *out (which the caller frees, also on
 * failure).  Empty items are skipped; an item without '=' is a key with
 * an empty value.  CERR_INVALID_ARGUMENT for a broken escape or a
 * repeated key, CERR_NOMEM.  The rules are s3_tagset_check's.
 */
int
s3_tagset_parse_query(const char *text, struct s3_tagset *out,
                      struct err_detail *d)
{
    int rc = 0;

    memset(out, 0, sizeof(*out));
    while (rc == 0 && *text != '\0') {
        size_t len = strcspn(text, "&");

        if (len > 0)
            rc = parse_item(out, text, len);
        text += len;
        if (*text == '&')
            text++;
    }
    if (rc == CERR_INVALID_ARGUMENT) {
        err_set_argument(d, "x-amz-tagging", NULL);
        return err_set(d, rc, "%s", header_msg);
    }
    return rc;
}

/*
 * Parse a <Tagging><TagSet><Tag><Key/><Value/></Tag>...</TagSet>
 * </Tagging> document into *out (freed by the caller, also on failure).
 * CERR_MISSING_BODY for an empty body; CERR_MALFORMED_XML when it is not
 * one, or a Tag lacks its Key or Value; CERR_INVALID_TAG for a repeated
 * key; CERR_NOMEM.
 */
int
s3_tagset_parse_xml(const struct buf *body, struct s3_tagset *out,
                    struct err_detail *d)
{
    xmlDoc *doc = s3_xml_parse(body, "Tagging");
    xmlNode *set, *tag;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    set = doc ? s3_xml_child(s3_xml_root(doc), "TagSet") : NULL;
    if (set == NULL)
        rc = body->len == 0 ? CERR_MISSING_BODY : CERR_MALFORMED_XML;
    for (tag = s3_xml_child(set, "Tag"); rc == 0 && tag;
         tag = s3_xml_next(tag, "Tag")) {
        char *key = s3_xml_text(tag, "Key");
        char *value = s3_xml_text(tag, "Value");

        if (key == NULL || value == NULL)
            rc = CERR_MALFORMED_XML;
        else if (has_key(out, key))
            rc = err_set(d, CERR_INVALID_TAG, "Cannot provide multiple "
                         "Tags with the same key");
        if (rc != 0) {
            free(key);
            free(value);
        } else {
            rc = add_tag(out, key, value);
        }
    }
    s3_xml_free(doc);
    return rc;
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t
utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* Unicode's space separators (Zs, Zl, Zp) past ASCII's one space. */
static bool
unicode_space(uint32_t cp)
{
    return cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
           cp == 0x3000;
}

/*
 * A letter or number past ASCII, by the C library's Unicode classes
 * (the C.UTF-8 locale's, whatever the process's locale).  Without that
 * locale nothing past ASCII passes: refusing a good tag is the safer
 * error.
 */
static bool
unicode_alnum(uint32_t cp)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, utf8_locale_open);
    return utf8_locale != (locale_t)0 && iswalnum_l((wint_t)cp, utf8_locale);
}

/*
 * S3's tag text: Unicode letters, numbers and spaces plus _ . : / = +
 * - @, in well-formed UTF-8.
 */
static bool
allowed_text(const char *s)
{
    size_t n = strlen(s), len;
    uint32_t cp;

    for (; n > 0; s += len, n -= len) {
        if ((len = s3_utf8_next(s, n, &cp)) == 0)
            return false;
        if (cp < 0x80 ? !isalnum((int)cp) && strchr(" _.:/=+-@", (int)cp)
                                             == NULL
                      : !unicode_space(cp) && !unicode_alnum(cp))
            return false;
    }
    return true;
}

/*
 * Check a tag set against S3's rules (see the top of this file) for an
 * object or a bucket.  0 or CERR_INVALID_TAG with AWS's message.
 */
int
s3_tagset_check(const struct s3_tagset *t, bool bucket,
                struct err_detail *d)
{
    size_t i, n;

    if (!bucket && t->n > S3_OBJECT_TAGS_MAX)
        return err_set(d, CERR_INVALID_TAG, "Object tags cannot be greater "
                       "than %d", S3_OBJECT_TAGS_MAX);
    if (bucket && t->n > S3_BUCKET_TAGS_MAX)
        return err_set(d, CERR_INVALID_TAG, "Bucket tag count cannot be "
                       "greater than %d", S3_BUCKET_TAGS_MAX);
    for (i = 0; i < t->n; i++) {
        n = utf8_chars(t->v[i].key);
        if (n == 0 || n > TAG_KEY_MAX || !allowed_text(t->v[i].key))
            return err_set(d, CERR_INVALID_TAG, "The TagKey you have "
                           "provided is invalid");
        n = utf8_chars(t->v[i].value);
        if (n > TAG_VALUE_MAX || !allowed_text(t->v[i].value))
            return err_set(d, CERR_INVALID_TAG, "The TagValue you have "
                           "provided is invalid");
        if (bucket && strncmp(t->v[i].key, "aws:", 4) == 0)
            return err_set(d, CERR_INVALID_TAG, "System tags cannot be "
                           "added/updated by requester");
    }
    return 0;
}

/*
 * The stored form of an object's tags, "k=v&k2=v2" with keys and values
 * percent-encoded, into *out (malloc'd; NULL for an empty set).  0 or
 * CERR_NOMEM.
 */
int
s3_tagset_to_query(const struct s3_tagset *t, char **out)
{
    struct buf b = BUF_INIT;
    size_t i;

    *out = NULL;
    if (t->n == 0)
        return 0;
    for (i = 0; i < t->n; i++) {
        if (i > 0)
            buf_putc(&b, '&');
        uri_encode(&b, t->v[i].key, strlen(t->v[i].key), false);
        buf_putc(&b, '=');
        uri_encode(&b, t->v[i].value, strlen(t->v[i].value), false);
    }
    if (buf_failed(&b)) {
        buf_free(&b);
        return CERR_NOMEM;
    }
    *out = buf_steal(&b, NULL);
    return 0;
}

/* Append the <Tagging> document of t (namespaced, no declaration). */
void
s3_tagset_to_xml(const struct s3_tagset *t, struct buf *b)
{
    size_t i;

    buf_puts(b, "<Tagging xmlns=\"" S3_NS "\"><TagSet>");
    for (i = 0; i < t->n; i++) {
        buf_puts(b, "<Tag>");
        s3_xml_put_elem(b, "Key", t->v[i].key);
        s3_xml_put_elem(b, "Value", t->v[i].value);
        buf_puts(b, "</Tag>");
    }
    buf_puts(b, "</TagSet></Tagging>");
}

/*
 * Add one policy condition key per tag, "<prefix><key>" = value, and,
 * when keys_name is set, each key as a value of that multi-valued key
 * (s3:ExistingObjectTag/, s3:RequestObjectTag/ and
 * s3:RequestObjectTagKeys).  0 or CERR_NOMEM.
 */
int
s3_tagset_to_ctx(const struct s3_tagset *t, struct policy_ctx *c,
                 const char *prefix, const char *keys_name)
{
    struct buf name = BUF_INIT;
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < t->n; i++) {
        buf_reset(&name);
        buf_printf(&name, "%s%s", prefix, t->v[i].key);
        rc = buf_failed(&name) ? CERR_NOMEM
                               : policy_ctx_add(c, name.data, t->v[i].value);
        if (rc == 0 && keys_name != NULL)
            rc = policy_ctx_add(c, keys_name, t->v[i].key);
    }
    buf_free(&name);
    return rc;
}
