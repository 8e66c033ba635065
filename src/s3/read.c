/*
 * GetObject and HeadObject: conditions, ranges and parts, stored
 * headers, and a body decrypted segment by segment as the socket
 * drains.  A multipart object is a list of bodies at plaintext offsets;
 * a range touches only the bodies, and within them the segments, it
 * covers.  The body reader here also feeds CopyObject and
 * UploadPartCopy (copy.c).
 */
#include "s3/s3_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "policy/policy.h"
#include "util/timefmt.h"

struct get_stream {
    struct meta_object obj;
    struct sse_key okey;
    struct s3_body_reader br;       /* reads obj under okey */
    uint64_t start;                 /* object offset of the first byte */
    struct blob_store *pinned;      /* obj's bodies are held, in here */
};

/* What a GET or HEAD sends: the object, a Range of it, or a part. */
struct span {
    uint64_t first;
    uint64_t len;
    bool partial;                   /* 206 with Content-Range */
    int part;                       /* ?partNumber, 0 when not asked */
};

static void
stream_free(void *ctx)
{
    struct get_stream *gs = ctx;

    if (gs == NULL)
        return;
    s3_body_reader_close(&gs->br);
    sse_key_wipe(&gs->okey);
    if (gs->pinned)
        s3_pins_release(gs->pinned, &gs->obj);
    meta_object_clear(&gs->obj);
    free(gs);
}

/*
 * Read obj (borrowed: it must outlive br) under its object key okey
 * (copied; wiped by s3_body_reader_close).
 */
void
s3_body_reader_init(struct s3_body_reader *br, struct blob_store *bs,
                    const struct meta_object *obj,
                    const struct sse_key *okey)
{
    memset(br, 0, sizeof(*br));
    br->blobs = bs;
    br->obj = obj;
    br->okey = *okey;
    br->end = (uint64_t)obj->size;
}

/* Reads will end before object offset end (a Range, a part copy). */
void
s3_body_reader_limit(struct s3_body_reader *br, uint64_t end)
{
    br->end = end;
}

/* Close the open body and wipe the key; safe to call twice. */
void
s3_body_reader_close(struct s3_body_reader *br)
{
    sse_reader_close(br->rd);
    br->rd = NULL;
    sse_key_wipe(&br->okey);
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
open_body(struct s3_body_reader *br, size_t i)
{
    const struct meta_object *o = br->obj;
    const struct meta_body *b = &o->bodies[i];
    uint8_t key[32];
    int rc;

    sse_reader_close(br->rd);
    br->rd = NULL;
    rc = sse_body_key(&br->okey, &o->sse, o->bucket, o->key, o->upload_id,
                      b->part_number, b->salt, key);
    if (rc == 0)
        rc = sse_reader_open(br->blobs, b->blob_id, key, (uint64_t)b->size,
                             &br->rd);
    if (rc == 0 && br->end < (uint64_t)(b->offset + b->size))
        sse_reader_limit(br->rd, br->end > (uint64_t)b->offset
                                 ? br->end - (uint64_t)b->offset : 0);
    crypto_wipe(key, sizeof(key));
    br->cur = i;
    return rc;
}

/*
 * Up to max plaintext bytes of the object from offset off into buf;
 * *got is 0 at the end.  Only the body and segment holding off are
 * decrypted.  0 or the reader's error (CERR_CORRUPT for a body that
 * fails its check).
 */
int
s3_body_reader_read(struct s3_body_reader *br, uint64_t off, void *buf,
                    size_t max, size_t *got)
{
    const struct meta_object *o = br->obj;
    size_t i;
    int rc;

    *got = 0;
    if (o->nbodies == 0 || off >= (uint64_t)o->size)
        return 0;
    i = find_body(o, off);
    if (br->rd == NULL || br->cur != i) {
        if ((rc = open_body(br, i)) != 0)
            return rc;
    }
    return sse_reader_read(br->rd, off - (uint64_t)o->bodies[i].offset, buf,
                           max, got);
}

static int
stream_read(void *ctx, uint64_t pos, void *buf, size_t max, size_t *got)
{
    struct get_stream *gs = ctx;

    return s3_body_reader_read(&gs->br, gs->start + pos, buf, max, got);
}

/*
 * The decimal digits at *p into *out, moving *p past them.  A number
 * too big for 64 bits saturates: it is still a well-formed position,
 * past the end of any object.  false when no digit is there (a sign or
 * a space is not one).
 */
static bool
range_number(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    if (!isdigit((unsigned char)*s))
        return false;
    for (; isdigit((unsigned char)*s); s++)
        v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX
                                      : v * 10 + (uint64_t)(*s - '0');
    *out = v;
    *p = s;
    return true;
}

/*
 * A Range header of one "bytes=" range: "a-b", "a-" or "-n" (the last
 * n bytes), digits only.  false when absent or not of that form,
 * which the caller ignores and serves the whole object, as S3 does
 * (also for a list of ranges, which S3 does not serve).  A well-formed
 * range that starts past the end, or an empty suffix, sets
 * *unsatisfiable (416).
 */
static bool
parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last,
            bool *unsatisfiable)
{
    uint64_t a, b = UINT64_MAX;
    const char *p;

    *unsatisfiable = false;
    if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return false;
    p = h + 6;
    if (*p == '-') {
        p++;
        if (!range_number(&p, &b) || *p != '\0')
            return false;
        *unsatisfiable = b == 0 || size == 0;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return true;
    }
    if (!range_number(&p, &a) || *p++ != '-')
        return false;
    if (*p != '\0' && (!range_number(&p, &b) || *p != '\0' || b < a))
        return false;
    *unsatisfiable = a >= size;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return true;
}

/* Does an If-Match / If-None-Match value name this ETag (or "*")? */
bool
s3_etag_matches(const char *cond, const char *etag)
{
    char quoted[64];

    s3_quote_etag(etag, quoted, sizeof(quoted));
    return strcmp(cond, "*") == 0 || strcmp(cond, quoted) == 0 ||
           strcmp(cond, etag) == 0;
}

/*
 * The first of the four conditional headers (each named `prefix` +
 * "if-match" and so on) that fails for `o`, with S3's precedence: a true
 * If-Match overrides If-Unmodified-Since, a true If-None-Match overrides
 * If-Modified-Since.  GetObject and CopyObject answer a failure
 * differently.
 */
enum s3_cond
s3_conditions(struct s3_req *r, const char *prefix,
              const struct meta_object *o)
{
    char name[64];
    const char *im, *inm, *ims, *ius;
    int64_t t, mtime = o->mtime_ms / 1000 * 1000;

    snprintf(name, sizeof(name), "%sif-match", prefix);
    im = s3_header(r, name);
    snprintf(name, sizeof(name), "%sif-none-match", prefix);
    inm = s3_header(r, name);
    snprintf(name, sizeof(name), "%sif-modified-since", prefix);
    ims = s3_header(r, name);
    snprintf(name, sizeof(name), "%sif-unmodified-since", prefix);
    ius = s3_header(r, name);

    if (im && !s3_etag_matches(im, o->etag))
        return S3_COND_IF_MATCH;
    if (!im && ius && time_parse_http(ius, &t) == 0 && mtime > t)
        return S3_COND_IF_UNMODIFIED_SINCE;
    if (inm && s3_etag_matches(inm, o->etag))
        return S3_COND_IF_NONE_MATCH;
    if (!inm && ims && time_parse_http(ims, &t) == 0 && mtime <= t)
        return S3_COND_IF_MODIFIED_SINCE;
    return S3_COND_HOLD;
}

/* GetObject: a failed match is 412, an unchanged object 304. */
static int
check_conditions(struct s3_req *r, const struct meta_object *o)
{
    switch (s3_conditions(r, "", o)) {
    case S3_COND_IF_MATCH:
    case S3_COND_IF_UNMODIFIED_SINCE:
        return CERR_PRECONDITION_FAILED;
    case S3_COND_IF_NONE_MATCH:
    case S3_COND_IF_MODIFIED_SINCE:
        return CERR_NOT_MODIFIED;
    default:
        return 0;
    }
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
 * The checksum a GET or HEAD sends with x-amz-checksum-mode ENABLED:
 * the object's with the whole object (part 1 of a single PUT is the
 * whole object), a part's own with a part of a multipart object whose
 * upload kept checksums, none with a range or a 304, whose bytes no
 * stored checksum covers.  *type is NULL for a part, whose checksum
 * is of its bytes alone.
 */
static const char *
reply_checksum(const struct meta_object *o, const struct span *sp,
               bool whole, const char **type)
{
    const struct meta_body *b;

    *type = o->checksum_type;
    if (whole || (sp != NULL && sp->part > 0 && !o->upload_id[0]))
        return o->checksum[0] ? o->checksum : NULL;
    if (sp == NULL || sp->part == 0 || !o->checksum_alg[0])
        return NULL;
    *type = NULL;
    b = &o->bodies[sp->part - 1];
    return b->checksum[0] ? b->checksum : NULL;
}

/* x-amz-checksum-<alg> (and its type) when the client asked for it. */
static void
checksum_headers(struct s3_req *r, const struct meta_object *o,
                 const struct span *sp, bool whole)
{
    const char *mode = s3_header(r, "x-amz-checksum-mode");
    const char *sum, *type;
    char name[48];
    size_t i;

    if (mode == NULL || strcmp(mode, "ENABLED") != 0 ||
        (sum = reply_checksum(o, sp, whole, &type)) == NULL)
        return;
    snprintf(name, sizeof(name), "x-amz-checksum-%s", o->checksum_alg);
    for (i = 15; name[i]; i++)
        if (name[i] >= 'A' && name[i] <= 'Z')
            name[i] = (char)(name[i] + 32);
    http_header(r->x, name, sum);
    if (type != NULL && type[0])
        http_header(r->x, "x-amz-checksum-type", type);
}

/* The headers of a GET or HEAD reply. */
static void
object_headers(struct s3_req *r, const struct meta_object *o,
               const struct sse_request *sreq, const struct span *sp,
               bool whole)
{
    char etag[64], when[32], n[24];
    size_t tags = s3_tagging_count(o->tagging);

    s3_quote_etag(o->etag, etag, sizeof(etag));
    http_header(r->x, "ETag", etag);
    time_http(o->mtime_ms, when);
    http_header(r->x, "Last-Modified", when);
    http_header(r->x, "Accept-Ranges", "bytes");
    stored_headers(r, o);
    s3_add_sse_headers(r, &o->sse, sreq, SSE_OP_READ);
    if (tags > 0) {
        snprintf(n, sizeof(n), "%zu", tags);
        http_header(r->x, "x-amz-tagging-count", n);
    }
    /* The parts count answers a part request of a multipart object. */
    if (sp != NULL && sp->part > 0 && o->upload_id[0]) {
        snprintf(n, sizeof(n), "%zu", o->nbodies);
        http_header(r->x, "x-amz-mp-parts-count", n);
    }
    checksum_headers(r, o, sp, whole);
}

/* s3:GetObject, with the stored tags as s3:ExistingObjectTag keys. */
static int
authorize_get(struct s3_req *r, const char *tagging)
{
    struct policy_ctx *c = policy_ctx_new();
    struct buf arn = BUF_INIT;
    int rc;

    if (c == NULL)
        return CERR_NOMEM;
    if ((rc = s3_tagging_existing_ctx(tagging, c)) != 0) {
        policy_ctx_free(c);
        return rc;
    }
    s3_bucket_arn(r->bucket, r->key, &arn);
    rc = s3_authorize(r, s3_has_param(r, "versionId") ? "s3:GetObjectVersion"
                                                     : "s3:GetObject",
                      arn.data, c);
    buf_free(&arn);
    return rc;
}

/*
 * ?partNumber: an integer from 1 to 10000, and never with a Range
 * header.  *part stays 0 when the parameter is absent.
 */
static int
part_param(struct s3_req *r, int *part)
{
    const char *s = s3_param(r, "partNumber");
    char *end;
    long n;

    *part = 0;
    if (s == NULL)
        return 0;
    n = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || n < 1 || n > S3_MAX_PARTS) {
        err_set_argument(&r->d, "partNumber", s);
        return err_set(&r->d, CERR_INVALID_ARGUMENT, "Part number must be "
                       "an integer between 1 and 10000, inclusive");
    }
    if (s3_header(r, "range") != NULL)
        return err_set(&r->d, CERR_INVALID_REQUEST, "Cannot specify both "
                       "Range header and partNumber query parameter");
    *part = (int)n;
    return 0;
}

/*
 * AWS serves no SSE-KMS object to a Signature Version 2 request, and
 * takes no SSE-KMS header from one; neither does coffer.  0 or
 * CERR_INVALID_ARGUMENT.
 */
int
s3_check_sigv2_kms(struct s3_req *r, int mode)
{
    if (!r->auth.sigv2 || (mode != SSE_MODE_KMS &&
                           mode != SSE_MODE_KMS_DSSE))
        return 0;
    err_set_argument(&r->d, "Authorization", "null");
    return err_set(&r->d, CERR_INVALID_ARGUMENT, "Requests specifying "
                   "Server Side Encryption with AWS KMS managed keys "
                   "require AWS Signature Version 4.");
}

/*
 * Authorize, validate, then look the object up (ruling 5); the lookup
 * comes first only to learn the tags a policy may ask about.
 */
static int
load_object(struct s3_req *r, struct get_stream *gs,
            struct sse_request *sreq, struct span *sp)
{
    int found, rc;

    /* Hold the bodies before a change can release them. */
    s3_pins_lookup_begin();
    found = meta_object_get(r->app->meta, r->bucket, r->key, &gs->obj);
    if (found == 0 && (found = s3_pins_hold(&gs->obj)) == 0)
        gs->pinned = r->app->blobs;
    s3_pins_lookup_end();
    rc = authorize_get(r, found == 0 ? gs->obj.tagging : NULL);
    if (rc != 0 || (rc = s3_load_bucket(r)) != 0)
        return rc;
    if ((rc = s3_version_check(r)) != 0)
        return rc;
    rc = sse_parse_request(&r->x->req.headers, SSE_OP_READ, r->x->req.secure,
                           r->app->cfg.allow_plain_ssec, sreq, &r->d);
    if (rc != 0 || (rc = part_param(r, &sp->part)) != 0)
        return rc;
    if (found == CERR_NO_SUCH_KEY)
        found = s3_authorize_missing(r);
    if (found == CERR_NO_SUCH_KEY)
        snprintf(r->d.key, sizeof(r->d.key), "%s", r->key);
    if (found != 0)
        return found;
    if ((rc = check_conditions(r, &gs->obj)) != 0) {
        /* A 304 still names the version it matched. */
        if (rc == CERR_NOT_MODIFIED)
            object_headers(r, &gs->obj, sreq, NULL, false);
        return rc;
    }
    if ((rc = s3_check_sigv2_kms(r, gs->obj.sse.mode)) != 0)
        return rc;
    /* HEAD needs no key and makes no KMS call (sse.md §7). */
    return sse_open_object(r->app->sse, &r->caller, r->bucket, r->key,
                           &gs->obj.sse, sreq,
                           strcmp(r->x->req.method, "HEAD") == 0 ? NULL
                           : &gs->okey, &r->d);
}

/* A Range header's bytes; the whole object when there is none. */
static int
range_span(struct s3_req *r, uint64_t size, struct span *sp)
{
    uint64_t first = 0, last = 0;
    bool unsat;

    sp->len = size;
    if (!parse_range(s3_header(r, "range"), size, &first, &last, &unsat))
        return 0;
    if (unsat) {
        snprintf(r->d.arg_value, sizeof(r->d.arg_value), "bytes */%" PRIu64,
                 size);
        return CERR_INVALID_RANGE;
    }
    sp->first = first;
    sp->len = last - first + 1;
    sp->partial = true;
    return 0;
}

/*
 * Part sp->part: the n-th body of a multipart object, or for a single
 * PUT part 1, the whole object.  Beyond: 416 InvalidPartNumber.  An
 * empty part or object has no range to name and goes out as a 200.
 */
static int
part_span(struct s3_req *r, const struct meta_object *o, struct span *sp)
{
    bool multipart = o->upload_id[0] != '\0';
    const struct meta_body *b;

    if ((multipart && (size_t)sp->part > o->nbodies) ||
        (!multipart && sp->part != 1))
        return err_set(&r->d, CERR_INVALID_PART_NUMBER, "The requested "
                       "partnumber is not satisfiable");
    sp->len = (uint64_t)o->size;
    if (multipart) {
        b = &o->bodies[sp->part - 1];
        sp->first = (uint64_t)b->offset;
        sp->len = (uint64_t)b->size;
    }
    sp->partial = sp->len > 0;
    return 0;
}

/* Headers are out: Content-Range, then the body as the socket drains. */
static void
send_span(struct s3_req *r, struct get_stream *gs, const struct span *sp,
          bool head)
{
    char cr[96];

    if (sp->partial) {
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                 sp->first, sp->first + sp->len - 1,
                 (uint64_t)gs->obj.size);
        http_header(r->x, "Content-Range", cr);
    }
    s3_body_reader_init(&gs->br, r->app->blobs, &gs->obj, &gs->okey);
    s3_body_reader_limit(&gs->br, sp->first + sp->len);
    gs->start = sp->first;
    r->x->resp.length = sp->len;
    r->x->resp.length_only = head;
    if (!head && sp->len > 0) {
        r->x->resp.reader = stream_read;
        r->x->resp.reader_free = stream_free;
        r->x->resp.reader_ctx = gs;
    } else {
        stream_free(gs);
    }
    if (!head && sp->len == 0)
        r->x->resp.length_only = false;
    http_reply(r->x, sp->partial ? 206 : 200);
}

static void
serve(struct s3_req *r, bool head)
{
    struct get_stream *gs = calloc(1, sizeof(*gs));
    struct sse_request sreq;
    struct span sp;
    int rc;

    memset(&sreq, 0, sizeof(sreq));
    memset(&sp, 0, sizeof(sp));
    sreq.bucket_key = -1;
    if (gs == NULL) {
        s3_fail(r, CERR_NOMEM);
        return;
    }
    rc = load_object(r, gs, &sreq, &sp);
    if (rc == 0 && sp.part > 0)
        rc = part_span(r, &gs->obj, &sp);
    else if (rc == 0)
        rc = range_span(r, (uint64_t)gs->obj.size, &sp);
    if (rc != 0) {
        sse_request_clear(&sreq);
        stream_free(gs);
        s3_fail(r, rc);
        return;
    }
    object_headers(r, &gs->obj, &sreq, &sp, !sp.partial && sp.part == 0);
    sse_request_clear(&sreq);
    send_span(r, gs, &sp, head);
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
