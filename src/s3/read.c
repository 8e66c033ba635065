/*
 * GetObject and HeadObject: conditions, ranges, stored headers, and a
 * body decrypted segment by segment as the socket drains.  A multipart
 * object is a list of bodies at plaintext offsets; a range touches only
 * the bodies, and within them the segments, it covers.
 */
#include "s3/s3_int.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "util/timefmt.h"

struct get_stream {
    struct coffer *app;
    struct meta_object obj;
    struct sse_key okey;
    uint64_t start;                 /* object offset of the first byte */
    size_t cur;                     /* index of the body open in rd */
    struct sse_reader *rd;
};

static void
stream_free(void *ctx)
{
    struct get_stream *gs = ctx;

    if (gs == NULL)
        return;
    sse_reader_close(gs->rd);
    sse_key_wipe(&gs->okey);
    meta_object_clear(&gs->obj);
    free(gs);
}

static size_t
find_body(const struct meta_object *o, uint64_t off)
{
    size_t lo = 0, hi = o->nbodies;

    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;

        if ((uint64_t)o->bodies[mid].offset <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static int
open_body(struct get_stream *gs, size_t i)
{
    const struct meta_body *b = &gs->obj.bodies[i];
    uint8_t key[32];
    int rc;

    sse_reader_close(gs->rd);
    gs->rd = NULL;
    rc = sse_body_key(&gs->okey, &gs->obj.sse, gs->obj.bucket, gs->obj.key,
                      gs->obj.upload_id, b->part_number, b->salt, key);
    if (rc == 0)
        rc = sse_reader_open(gs->app->blobs, b->blob_id, key,
                             (uint64_t)b->size, &gs->rd);
    crypto_wipe(key, sizeof(key));
    gs->cur = i;
    return rc;
}

static int
stream_read(void *ctx, uint64_t pos, void *buf, size_t max, size_t *got)
{
    struct get_stream *gs = ctx;
    uint64_t off = gs->start + pos;
    const struct meta_body *b;
    size_t i;
    int rc;

    *got = 0;
    if (gs->obj.nbodies == 0 || off >= (uint64_t)gs->obj.size)
        return 0;
    i = find_body(&gs->obj, off);
    if (gs->rd == NULL || gs->cur != i) {
        if ((rc = open_body(gs, i)) != 0)
            return rc;
    }
    b = &gs->obj.bodies[i];
    return sse_reader_read(gs->rd, off - (uint64_t)b->offset, buf, max, got);
}

/* Parse a single "bytes=" range; false when absent or not parseable. */
static bool
parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last,
            bool *unsatisfiable)
{
    unsigned long long a = 0, b = 0;
    const char *p;
    char *end;

    *unsatisfiable = false;
    if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return false;
    p = h + 6;
    if (*p == '-') {
        b = strtoull(p + 1, &end, 10);
        if (end == p + 1 || *end != '\0')
            return false;
        if (b == 0 || size == 0) {
            *unsatisfiable = true;
            return true;
        }
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return true;
    }
    a = strtoull(p, &end, 10);
    if (end == p || *end != '-')
        return false;
    p = end + 1;
    b = *p ? strtoull(p, &end, 10) : UINT64_MAX;
    if (*p && (*end != '\0' || b < a))
        return false;
    if (a >= size) {
        *unsatisfiable = true;
        return true;
    }
    *first = a;
    *last = b >= size ? size - 1 : b;
    return true;
}

static bool
etag_matches(const char *cond, const char *etag)
{
    char quoted[64];

    s3_quote_etag(etag, quoted, sizeof(quoted));
    return strcmp(cond, "*") == 0 || strcmp(cond, quoted) == 0 ||
           strcmp(cond, etag) == 0;
}

/* The conditional headers of GetObject, with S3's precedence. */
static int
check_conditions(struct s3_req *r, const struct meta_object *o)
{
    const char *im = s3_header(r, "if-match");
    const char *inm = s3_header(r, "if-none-match");
    const char *ims = s3_header(r, "if-modified-since");
    const char *ius = s3_header(r, "if-unmodified-since");
    int64_t t, mtime = o->mtime_ms / 1000 * 1000;

    if (im && !etag_matches(im, o->etag))
        return CERR_PRECONDITION_FAILED;
    if (!im && ius && time_parse_http(ius, &t) == 0 && mtime > t)
        return CERR_PRECONDITION_FAILED;
    if (inm && etag_matches(inm, o->etag))
        return CERR_NOT_MODIFIED;
    if (!inm && ims && time_parse_http(ims, &t) == 0 && mtime <= t)
        return CERR_NOT_MODIFIED;
    return 0;
}

static const char *const overrides[][2] = {
    { "response-content-type", "Content-Type" },
    { "response-content-language", "Content-Language" },
    { "response-expires", "Expires" },
    { "response-cache-control", "Cache-Control" },
    { "response-content-disposition", "Content-Disposition" },
    { "response-content-encoding", "Content-Encoding" },
};

static void
stored_headers(struct s3_req *r, const struct meta_object *o)
{
    json_t *h = o->headers ? json_loads(o->headers, 0, NULL) : NULL;
    const char *name;
    json_t *v;
    size_t i;

    if ((h == NULL || json_object_get(h, "content-type") == NULL) &&
        s3_param(r, "response-content-type") == NULL)
        http_header(r->x, "Content-Type", "binary/octet-stream");
    for (i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++) {
        const char *ov = s3_param(r, overrides[i][0]);

        if (ov != NULL)
            http_header(r->x, overrides[i][1], ov);
    }
    json_object_foreach(h, name, v) {
        const char *s = json_string_value(v);
        bool overridden = false;

        for (i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++)
            if (strcasecmp(name, overrides[i][1]) == 0 &&
                s3_param(r, overrides[i][0]))
                overridden = true;
        if (s != NULL && !overridden)
            http_header(r->x, name, s);
    }
    json_decref(h);
}

/*
 * The headers of a GET or HEAD reply.  The stored checksum goes out only
 * when asked for and only with the whole object (never on a range or a
 * 304, where a client would check it against bytes it did not get).
 */
static void
object_headers(struct s3_req *r, const struct meta_object *o,
               const struct sse_request *sreq, bool whole)
{
    char etag[64], when[32], n[24];
    const char *mode = s3_header(r, "x-amz-checksum-mode");

    s3_quote_etag(o->etag, etag, sizeof(etag));
    http_header(r->x, "ETag", etag);
    time_http(o->mtime_ms, when);
    http_header(r->x, "Last-Modified", when);
    http_header(r->x, "Accept-Ranges", "bytes");
    stored_headers(r, o);
    s3_add_sse_headers(r, &o->sse, sreq, SSE_OP_READ);
    if (o->nbodies > 1) {
        snprintf(n, sizeof(n), "%zu", o->nbodies);
        http_header(r->x, "x-amz-mp-parts-count", n);
    }
    if (mode && strcmp(mode, "ENABLED") == 0 && whole && o->checksum[0]) {
        char name[48];
        size_t i;

        snprintf(name, sizeof(name), "x-amz-checksum-%s", o->checksum_alg);
        for (i = 15; name[i]; i++)
            if (name[i] >= 'A' && name[i] <= 'Z')
                name[i] = (char)(name[i] + 32);
        http_header(r->x, name, o->checksum);
        http_header(r->x, "x-amz-checksum-type", o->checksum_type);
    }
}

static int
load_object(struct s3_req *r, struct get_stream *gs,
            struct sse_request *sreq)
{
    struct buf arn = BUF_INIT;
    int rc;

    s3_bucket_arn(r->bucket, r->key, &arn);
    rc = s3_authorize(r, "s3:GetObject", arn.data, NULL);
    buf_free(&arn);
    if (rc != 0 || (rc = s3_load_bucket(r)) != 0)
        return rc;
    rc = sse_parse_request(&r->x->req.headers, SSE_OP_READ, r->x->req.secure,
                           r->app->cfg.allow_plain_ssec, sreq, &r->d);
    if (rc != 0)
        return rc;
    rc = meta_object_get(r->app->meta, r->bucket, r->key, &gs->obj);
    if (rc == CERR_NO_SUCH_KEY)
        snprintf(r->d.key, sizeof(r->d.key), "%s", r->key);
    if (rc != 0)
        return rc;
    if ((rc = check_conditions(r, &gs->obj)) != 0) {
        /* A 304 still names the version it matched. */
        if (rc == CERR_NOT_MODIFIED)
            object_headers(r, &gs->obj, sreq, false);
        return rc;
    }
    /* HEAD needs no key and makes no KMS call (sse.md §7). */
    return sse_open_object(r->app->sse, &r->caller, r->bucket, r->key,
                           &gs->obj.sse, sreq,
                           strcmp(r->x->req.method, "HEAD") == 0 ? NULL
                           : &gs->okey, &r->d);
}

static void
serve(struct s3_req *r, bool head)
{
    struct get_stream *gs = calloc(1, sizeof(*gs));
    struct sse_request sreq;
    uint64_t first = 0, last = 0, size;
    bool ranged, unsat;
    char cr[96];
    int rc;

    memset(&sreq, 0, sizeof(sreq));
    sreq.bucket_key = -1;
    if (gs == NULL) {
        s3_fail(r, CERR_NOMEM);
        return;
    }
    gs->app = r->app;
    rc = load_object(r, gs, &sreq);
    if (rc != 0) {
        sse_request_clear(&sreq);
        stream_free(gs);
        s3_fail(r, rc);
        return;
    }
    size = (uint64_t)gs->obj.size;
    ranged = parse_range(s3_header(r, "range"), size, &first, &last,
                         &unsat);
    if (ranged && unsat) {
        snprintf(r->d.arg_value, sizeof(r->d.arg_value), "bytes */%" PRIu64,
                 size);
        sse_request_clear(&sreq);
        stream_free(gs);
        s3_fail(r, CERR_INVALID_RANGE);
        return;
    }
    object_headers(r, &gs->obj, &sreq, !ranged);
    sse_request_clear(&sreq);
    if (ranged) {
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                 first, last, size);
        http_header(r->x, "Content-Range", cr);
    } else {
        last = size ? size - 1 : 0;
    }

    gs->start = first;
    r->x->resp.length = size ? last - first + 1 : 0;
    r->x->resp.length_only = head;
    if (!head && r->x->resp.length > 0) {
        r->x->resp.reader = stream_read;
        r->x->resp.reader_free = stream_free;
        r->x->resp.reader_ctx = gs;
    } else {
        stream_free(gs);
    }
    if (!head && r->x->resp.length == 0)
        r->x->resp.length_only = false;
    http_reply(r->x, ranged ? 206 : 200);
}

void
s3_get_object(struct s3_req *r)
{
    serve(r, false);
}

void
s3_head_object(struct s3_req *r)
{
    serve(r, true);
}
