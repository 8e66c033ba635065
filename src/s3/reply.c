/*
 * S3 replies: the XML error document (s3-api.md §3), XML success bodies,
 * and the SSE response headers.  Handlers return codes; only this file
 * turns them into bytes.
 */
#include "s3/s3_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

/*
 * Every value goes through s3_xml_put: a key, a header or a query value
 * quoted back may hold what XML 1.0 cannot carry.
 */
static void
error_body(struct s3_req *r, const struct err_info *e, const char *msg)
{
    struct buf *b = &r->x->resp.body;
    const struct err_detail *d = &r->d;

    buf_reset(b);
    buf_puts(b, S3_XML_DECL "<Error>");
    s3_xml_put_elem(b, "Code", e->s3_code);
    s3_xml_put_elem(b, "Message", msg);
    if (d->key[0])
        s3_xml_put_elem(b, "Key", d->key);
    if (d->bucket[0])
        s3_xml_put_elem(b, "BucketName", d->bucket);
    if (d->upload_id[0])
        s3_xml_put_elem(b, "UploadId", d->upload_id);
    if (d->arg_name[0]) {
        s3_xml_put_elem(b, "ArgumentName", d->arg_name);
        s3_xml_put_elem(b, "ArgumentValue", d->arg_value);
    }
    if (d->condition[0])
        s3_xml_put_elem(b, "Condition", d->condition);
    if (r->auth.canonical_request && strcmp(e->s3_code,
                                           "SignatureDoesNotMatch") == 0) {
        s3_xml_put_elem(b, "AWSAccessKeyId", r->auth.access_key);
        s3_xml_put_elem(b, "StringToSign", r->auth.string_to_sign);
        s3_xml_put_elem(b, "CanonicalRequest", r->auth.canonical_request);
    }
    s3_xml_put_elem(b, "RequestId", r->x->req.id);
    s3_xml_put_elem(b, "HostId", r->x->req.id);
    buf_puts(b, "</Error>");
}

/*
 * Reply with the error for `code`, using r->d for the message and the
 * optional elements.  HEAD replies carry no body; 304 neither.
 */
void
s3_fail(struct s3_req *r, int code)
{
    const struct err_info *e = err_lookup(code);
    const char *msg = r->d.message[0] ? r->d.message : e->message;
    const char *s3code = e->s3_code ? e->s3_code : "InternalError";
    struct err_info shown = *e;

    shown.s3_code = s3code;
    if (e->s3_status >= 500)
        log_warn("s3: %s %s failed: %s%s%s", r->x->req.id,
                 r->op ? r->op->name : "-", s3code,
                 r->d.message[0] ? ": " : "", r->d.message);
    if (code == CERR_NOT_MODIFIED) {
        http_reply(r->x, 304);
        return;
    }
    if (strcmp(r->x->req.method, "HEAD") != 0) {
        error_body(r, &shown, msg);
        http_header(r->x, "Content-Type", "application/xml");
    }
    if (code == CERR_INVALID_RANGE && r->d.arg_value[0])
        http_header(r->x, "Content-Range", r->d.arg_value);
    http_reply(r->x, e->s3_status ? e->s3_status : 500);
}

void
s3_fail_msg(struct s3_req *r, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->d.message, sizeof(r->d.message), fmt, ap);
    va_end(ap);
    s3_fail(r, code);
}

/* Start an XML success document: declaration and namespaced root. */
void
s3_xml_open(struct buf *b, const char *root)
{
    buf_printf(b, S3_XML_DECL "<%s xmlns=\"" S3_NS "\">", root);
}

/* Send `xml` (taken over) as the reply body. */
void
s3_reply_xml(struct s3_req *r, int status, struct buf *xml)
{
    if (buf_failed(xml)) {
        buf_free(xml);
        s3_fail(r, CERR_NOMEM);
        return;
    }
    buf_free(&r->x->resp.body);
    r->x->resp.body = *xml;
    buf_init(xml);
    http_header(r->x, "Content-Type", "application/xml");
    http_reply(r->x, status);
}

void
s3_reply_empty(struct s3_req *r, int status)
{
    buf_reset(&r->x->resp.body);
    http_reply(r->x, status);
}

static void
add_header(void *ctx, const char *name, const char *value)
{
    http_header(ctx, name, value);
}

void
s3_add_sse_headers(struct s3_req *r, const struct meta_sse *rec,
                   const struct sse_request *req, enum sse_op op)
{
    sse_response_headers(rec, req, op, add_header, r->x);
}

void
s3_quote_etag(const char *etag, char *out, size_t cap)
{
    snprintf(out, cap, "\"%s\"", etag);
}

/*
 * The code point of the UTF-8 sequence at s (n bytes available) into
 * *cp; its length, or 0 when the bytes are not well-formed UTF-8
 * (overlong forms, surrogates and values past U+10FFFF included).
 */
size_t
s3_utf8_next(const char *s, size_t n, uint32_t *cp)
{
    static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
    const unsigned char *p = (const unsigned char *)s;
    size_t len, i;
    uint32_t c;

    if (n == 0)
        return 0;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, c = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, c = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, c = p[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Is all of s well-formed UTF-8? */
bool
s3_utf8_valid(const char *s)
{
    size_t n = strlen(s), len;
    uint32_t cp;

    for (; n > 0; s += len, n -= len)
        if ((len = s3_utf8_next(s, n, &cp)) == 0)
            return false;
    return true;
}

/* A character that XML 1.0 can carry, literally or as a reference. */
static bool
xml_char(uint32_t cp)
{
    if (cp < 0x20)
        return cp == '\t' || cp == '\n' || cp == '\r';
    return cp != 0xfffe && cp != 0xffff;
}

/*
 * Append s as XML 1.0 text.  A stored key may hold C0 controls (S3
 * takes them, as it takes any Unicode) or, from before keys were
 * checked, bytes that are not UTF-8; XML 1.0 has no way to write
 * either, not even as a character reference.  Each such character or
 * byte goes out as U+FFFD so that the document stays parseable; a
 * client that needs the exact key asks for encoding-type=url.
 */
void
s3_xml_put(struct buf *b, const char *s)
{
    struct buf tmp = BUF_INIT;
    size_t n = strlen(s), len;
    uint32_t cp;

    for (; n > 0; s += len, n -= len) {
        len = s3_utf8_next(s, n, &cp);
        if (len > 0 && xml_char(cp)) {
            buf_append(&tmp, s, len);
            continue;
        }
        buf_puts(&tmp, "\xef\xbf\xbd");
        if (len == 0)
            len = 1;
    }
    buf_put_xml(b, tmp.data ? tmp.data : "");
    if (buf_failed(&tmp))
        b->failed = true;
    buf_free(&tmp);
}

/* Append <tag>text</tag> with s3_xml_put's guarantee. */
void
s3_xml_put_elem(struct buf *b, const char *tag, const char *text)
{
    buf_printf(b, "<%s>", tag);
    s3_xml_put(b, text);
    buf_printf(b, "</%s>", tag);
}
