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

static void
error_body(struct s3_req *r, const struct err_info *e, const char *msg)
{
    struct buf *b = &r->x->resp.body;
    const struct err_detail *d = &r->d;

    buf_reset(b);
    buf_puts(b, S3_XML_DECL "<Error>");
    buf_put_xml_elem(b, "Code", e->s3_code);
    buf_put_xml_elem(b, "Message", msg);
    if (d->key[0])
        buf_put_xml_elem(b, "Key", d->key);
    if (d->bucket[0])
        buf_put_xml_elem(b, "BucketName", d->bucket);
    if (d->upload_id[0])
        buf_put_xml_elem(b, "UploadId", d->upload_id);
    if (d->arg_name[0]) {
        buf_put_xml_elem(b, "ArgumentName", d->arg_name);
        buf_put_xml_elem(b, "ArgumentValue", d->arg_value);
    }
    if (d->condition[0])
        buf_put_xml_elem(b, "Condition", d->condition);
    if (r->auth.canonical_request && strcmp(e->s3_code,
                                           "SignatureDoesNotMatch") == 0) {
        buf_put_xml_elem(b, "AWSAccessKeyId", r->auth.access_key);
        buf_put_xml_elem(b, "StringToSign", r->auth.string_to_sign);
        buf_put_xml_elem(b, "CanonicalRequest", r->auth.canonical_request);
    }
    buf_put_xml_elem(b, "RequestId", r->x->req.id);
    buf_put_xml_elem(b, "HostId", r->x->req.id);
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
