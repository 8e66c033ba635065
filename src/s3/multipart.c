/*
 * Multipart uploads (s3-api.md §7).  The encryption is decided once, at
 * CreateMultipartUpload; every part is its own encrypted body with its
 * own salt, so no two parts share a key or a nonce.  Completion copies
 * nothing: the object's body list becomes the chosen parts.  Policies see
 * UploadPart and Complete with the SSE headers of the Create request
 * (policy.md §10), since parts may not carry them.
 */
#include "s3/s3_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "crypto/crypto.h"
#include "store/blob.h"
#include "util/codec.h"
#include "util/timefmt.h"

struct part_state {
    struct s3_writer w;             /* first: the sink finds it here */
    struct meta_upload up;
    struct sse_request sreq;
    int part_number;
};

static const char *const checksum_algs[] = {
    "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", NULL,
};

static int
valid_checksum_alg(const char *alg)
{
    size_t i;

    for (i = 0; checksum_algs[i]; i++)
        if (strcmp(alg, checksum_algs[i]) == 0)
            return 0;
    return CERR_INVALID_REQUEST;
}

static void
new_upload_id(char *out)
{
    uint8_t r[24];

    crypto_random(r, sizeof(r));
    hex_encode(r, sizeof(r), out);
}

static int
create_prepare(struct s3_req *r, struct meta_upload *u,
               struct sse_request *sreq)
{
    const char *sse = s3_header(r, "x-amz-server-side-encryption");
    const char *kid = s3_header(r, "x-amz-server-side-encryption-aws-"
                                   "kms-key-id");
    const char *alg = s3_header(r, "x-amz-checksum-algorithm");
    int rc;

    if ((rc = s3_authorize_put(r, sse, kid)) != 0 ||
        (rc = s3_load_bucket(r)) != 0)
        return rc;
    rc = sse_parse_request(&r->x->req.headers, SSE_OP_WRITE,
                           r->x->req.secure, r->app->cfg.allow_plain_ssec,
                           sreq, &r->d);
    if (rc != 0 || (rc = s3_check_write_headers(r)) != 0 ||
        (rc = s3_object_headers(r, &u->headers)) != 0 ||
        (rc = s3_tagging_from_request(r, &u->tagging)) != 0)
        return rc;
    if (alg && valid_checksum_alg(alg) != 0)
        return err_set(&r->d, CERR_INVALID_REQUEST, "Checksum algorithm "
                       "%s is not supported", alg);

    new_upload_id(u->upload_id);
    snprintf(u->bucket, sizeof(u->bucket), "%s", r->bucket);
    snprintf(u->key, sizeof(u->key), "%s", r->key);
    u->created_ms = time_now_ms();
    snprintf(u->checksum_alg, sizeof(u->checksum_alg), "%s", alg ? alg : "");
    snprintf(u->req_sse, sizeof(u->req_sse), "%s", sse ? sse : "");
    snprintf(u->req_kms_key_id, sizeof(u->req_kms_key_id), "%s",
             kid ? kid : "");
    return 0;
}

void
s3_create_multipart(struct s3_req *r)
{
    struct meta_upload u;
    struct sse_request sreq;
    struct sse_key okey;
    struct buf b = BUF_INIT;
    int rc;

    memset(&u, 0, sizeof(u));
    memset(&sreq, 0, sizeof(sreq));
    sreq.bucket_key = -1;
    rc = create_prepare(r, &u, &sreq);
    if (rc == 0)
        rc = sse_new_object(r->app->sse, &r->caller, r->bucket, r->key,
                            &sreq, &r->brec, &u.sse, &okey, &r->d);
    if (rc == 0) {
        sse_key_wipe(&okey);
        rc = meta_upload_create(r->app->meta, &u);
    }
    if (rc != 0) {
        sse_request_clear(&sreq);
        meta_upload_clear(&u);
        s3_fail(r, rc);
        return;
    }

    s3_add_sse_headers(r, &u.sse, &sreq, SSE_OP_WRITE);
    if (u.checksum_alg[0])
        http_header(r->x, "x-amz-checksum-algorithm", u.checksum_alg);
    s3_xml_open(&b, "InitiateMultipartUploadResult");
    buf_put_xml_elem(&b, "Bucket", r->bucket);
    s3_xml_put_elem(&b, "Key", r->key);
    buf_put_xml_elem(&b, "UploadId", u.upload_id);
    buf_puts(&b, "</InitiateMultipartUploadResult>");
    sse_request_clear(&sreq);
    meta_upload_clear(&u);
    s3_reply_xml(r, 200, &b);
}

/*
 * The open upload named by ?uploadId, not yet authorized: parts and part
 * copies are judged by their Create's headers, each with its own context.
 */
int
s3_upload_fetch(struct s3_req *r, struct meta_upload *u)
{
    const char *id = s3_param(r, "uploadId");
    int rc;

    if ((rc = s3_load_bucket(r)) != 0)
        return rc;
    rc = meta_upload_get(r->app->meta, r->bucket, r->key, id, u);
    if (rc == CERR_NO_SUCH_UPLOAD)
        snprintf(r->d.upload_id, sizeof(r->d.upload_id), "%s", id);
    return rc;
}

/* The open upload, authorized as a PutObject with its Create's headers. */
static int
load_upload(struct s3_req *r, struct meta_upload *u)
{
    int rc = s3_upload_fetch(r, u);

    if (rc != 0)
        return rc;
    return s3_authorize_put(r, u->req_sse[0] ? u->req_sse : NULL,
                            u->req_kms_key_id[0] ? u->req_kms_key_id
                                                 : NULL);
}

/* ?partNumber, 1 to 10000; else 400 InvalidArgument naming it. */
int
s3_part_number(struct s3_req *r, int *out)
{
    const char *s = s3_param(r, "partNumber");
    char *end;
    long n = strtol(s ? s : "", &end, 10);

    if (s == NULL || *s == '\0' || *end != '\0' || n < 1 ||
        n > S3_MAX_PARTS) {
        err_set_argument(&r->d, "partNumber", s);
        return err_set(&r->d, CERR_INVALID_ARGUMENT, "Part number must be "
                       "an integer between 1 and 10000, inclusive");
    }
    *out = (int)n;
    return 0;
}

static void
part_cleanup(struct s3_req *r)
{
    struct part_state *st = r->opstate;

    if (st == NULL)
        return;
    s3_writer_abort(&st->w);
    sse_request_clear(&st->sreq);
    meta_upload_clear(&st->up);
    free(st);
    r->opstate = NULL;
}

static void
part_finish(struct s3_req *r)
{
    struct part_state *st = r->opstate;
    struct meta_garbage old = { NULL, 0 };
    struct meta_body p;
    const char *ck = auth_body_checksum_value(r->body);
    uint8_t md5[16];
    char etag[64];
    int rc;

    memset(&p, 0, sizeof(p));
    memcpy(p.salt, st->w.salt, sizeof(p.salt));
    p.part_number = st->part_number;
    p.size = (int64_t)auth_body_length(r->body);
    p.mtime_ms = time_now_ms();
    if (st->up.sse.mode == SSE_MODE_S3 && auth_body_md5(r->body, md5))
        hex_encode(md5, sizeof(md5), p.etag);
    else
        s3_random_etag(p.etag);
    snprintf(p.checksum, sizeof(p.checksum), "%s", ck ? ck : "");

    if ((rc = s3_writer_commit(&st->w, p.blob_id)) != 0) {
        s3_fail(r, rc);
        return;
    }
    rc = meta_part_put(r->app->meta, st->up.upload_id, &p, &old);
    if (rc != 0) {
        blob_remove(r->app->blobs, p.blob_id);
        s3_fail(r, rc);
        return;
    }
    s3_remove_garbage(r, &old);

    s3_quote_etag(p.etag, etag, sizeof(etag));
    http_header(r->x, "ETag", etag);
    if (ck)
        http_header(r->x, auth_body_checksum_name(r->body), ck);
    s3_add_sse_headers(r, &st->up.sse, &st->sreq, SSE_OP_PART);
    s3_reply_empty(r, 200);
}

static int
part_start(struct s3_req *r, struct part_state *st)
{
    struct sse_key okey;
    int rc;

    if ((rc = load_upload(r, &st->up)) != 0 ||
        (rc = s3_part_number(r, &st->part_number)) != 0)
        return rc;
    rc = sse_parse_request(&r->x->req.headers, SSE_OP_PART,
                           r->x->req.secure, r->app->cfg.allow_plain_ssec,
                           &st->sreq, &r->d);
    if (rc != 0 || (rc = s3_want_body(r, part_finish)) != 0 ||
        (rc = s3_check_length(r, S3_MAX_PUT)) != 0)
        return rc;
    rc = sse_open_upload(r->app->sse, &r->caller, r->bucket, r->key,
                         &st->up.sse, &st->sreq, SSE_OP_PART, &okey, &r->d);
    if (rc != 0)
        return rc;
    return s3_writer_start(r, &okey, &st->up.sse, st->up.upload_id,
                           st->part_number, &st->w);
}

void
s3_upload_part(struct s3_req *r)
{
    struct part_state *st = calloc(1, sizeof(*st));
    int rc;

    if (st == NULL) {
        s3_fail(r, CERR_NOMEM);
        return;
    }
    st->sreq.bucket_key = -1;
    r->opstate = st;
    r->cleanup = part_cleanup;
    if ((rc = part_start(r, st)) != 0)
        s3_fail(r, rc);
}

/* All parts of an upload, in part-number order (malloc'd). */
static int
all_parts(struct s3_req *r, const char *upload_id, struct meta_body **out,
          size_t *n)
{
    return meta_part_list(r->app->meta, upload_id, 0, S3_MAX_PARTS, out, n);
}

static const struct meta_body *
find_part(const struct meta_body *v, size_t n, int number)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (v[mid].part_number == number)
            return &v[mid];
        if (v[mid].part_number < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool
etag_equal(const char *given, const char *stored)
{
    size_t len = strlen(given);

    if (len >= 2 && given[0] == '"' && given[len - 1] == '"')
        return len - 2 == strlen(stored) &&
               strncmp(given + 1, stored, len - 2) == 0;
    return strcmp(given, stored) == 0;
}

struct completion {
    struct meta_body *chosen;
    size_t n;
    struct crypto_hash *etag_md5;
    struct buf checksums;           /* binary part checksums, in order */
    bool all_checksummed;
};

/* Check one <Part> against the stored parts and add it to the object. */
static int
choose_part(struct s3_req *r, struct completion *c, xmlNode *part,
            const struct meta_body *parts, size_t nparts, int *prev)
{
    char *num = s3_xml_text(part, "PartNumber");
    char *etag = s3_xml_text(part, "ETag");
    const struct meta_body *p;
    uint8_t bin[64];
    size_t blen;
    long n = num ? strtol(num, NULL, 10) : 0;
    int rc = 0;

    if (num == NULL || etag == NULL || n < 1 || n > S3_MAX_PARTS)
        rc = CERR_MALFORMED_XML;
    else if (n <= *prev)
        rc = CERR_INVALID_PART_ORDER;
    else if ((p = find_part(parts, nparts, (int)n)) == NULL ||
             !etag_equal(etag, p->etag))
        rc = CERR_INVALID_PART;
    free(num);
    free(etag);
    if (rc != 0)
        return rc;

    *prev = (int)n;
    c->chosen[c->n++] = *p;
    hex_decode(p->etag, bin, 16);
    crypto_hash_update(c->etag_md5, bin, 16);
    if (!p->checksum[0] ||
        base64_decode(p->checksum, strlen(p->checksum), bin, sizeof(bin),
                      &blen) != 0)
        c->all_checksummed = false;
    else
        buf_append(&c->checksums, bin, blen);
    return 0;
}

static int
check_sizes(struct completion *c)
{
    int64_t off = 0;
    size_t i;

    for (i = 0; i < c->n; i++) {
        if (i + 1 < c->n && c->chosen[i].size < S3_MIN_PART)
            return CERR_ENTITY_TOO_SMALL;
        c->chosen[i].offset = off;
        off += c->chosen[i].size;
    }
    return 0;
}

static int
collect_parts(struct s3_req *r, struct meta_upload *u, struct completion *c,
              int64_t *size)
{
    xmlDoc *doc = s3_xml_parse(&r->xml, "CompleteMultipartUpload");
    struct meta_body *parts = NULL;
    size_t nparts = 0, count;
    xmlNode *root, *part;
    int prev = 0, rc;

    root = doc ? s3_xml_root(doc) : NULL;
    count = root ? (size_t)s3_xml_count(root, "Part") : 0;
    if (count == 0 || count > S3_MAX_PARTS) {
        s3_xml_free(doc);
        return CERR_MALFORMED_XML;
    }
    rc = all_parts(r, u->upload_id, &parts, &nparts);
    c->chosen = rc == 0 ? calloc(count, sizeof(*c->chosen)) : NULL;
    if (rc == 0 && c->chosen == NULL)
        rc = CERR_NOMEM;
    for (part = s3_xml_child(root, "Part"); rc == 0 && part;
         part = s3_xml_next(part, "Part"))
        rc = choose_part(r, c, part, parts, nparts, &prev);
    if (rc == 0)
        rc = check_sizes(c);
    *size = c->n ? c->chosen[c->n - 1].offset + c->chosen[c->n - 1].size
                 : 0;
    free(parts);
    s3_xml_free(doc);
    return rc;
}

static void
complete_object(struct s3_req *r, const struct meta_upload *u,
                struct completion *c, int64_t size, struct meta_object *o)
{
    uint8_t md5[16];
    char hex[33];

    snprintf(o->bucket, sizeof(o->bucket), "%s", u->bucket);
    snprintf(o->key, sizeof(o->key), "%s", u->key);
    snprintf(o->upload_id, sizeof(o->upload_id), "%s", u->upload_id);
    o->size = size;
    o->mtime_ms = time_now_ms();
    crypto_hash_final(c->etag_md5, md5);
    hex_encode(md5, sizeof(md5), hex);
    snprintf(o->etag, sizeof(o->etag), "%s-%zu", hex, c->n);
    o->headers = u->headers;
    o->tagging = u->tagging;
    o->sse = u->sse;
    o->bodies = c->chosen;
    o->nbodies = c->n;

    /* A checksum of the part checksums, AWS's COMPOSITE type. */
    if (u->checksum_alg[0] && c->all_checksummed &&
        auth_checksum_compute(u->checksum_alg, c->checksums.data,
                              c->checksums.len, o->checksum,
                              sizeof(o->checksum) - 8) == 0) {
        snprintf(o->checksum_alg, sizeof(o->checksum_alg), "%s",
                 u->checksum_alg);
        snprintf(o->checksum + strlen(o->checksum), 8, "-%zu", c->n);
        snprintf(o->checksum_type, sizeof(o->checksum_type), "COMPOSITE");
    }
}

static void
complete_reply(struct s3_req *r, const struct meta_upload *u,
               const struct meta_object *o)
{
    struct buf b = BUF_INIT;
    char etag[64];
    const char *host = s3_header(r, "host");

    s3_add_sse_headers(r, &u->sse, NULL, SSE_OP_COMPLETE);
    s3_quote_etag(o->etag, etag, sizeof(etag));
    s3_xml_open(&b, "CompleteMultipartUploadResult");
    buf_printf(&b, "<Location>%s://", r->x->req.secure ? "https" : "http");
    s3_xml_put(&b, host ? host : "localhost");
    buf_putc(&b, '/');
    buf_put_xml(&b, o->bucket);
    buf_putc(&b, '/');
    uri_encode(&b, o->key, strlen(o->key), true);
    buf_puts(&b, "</Location>");
    buf_put_xml_elem(&b, "Bucket", o->bucket);
    s3_xml_put_elem(&b, "Key", o->key);
    buf_put_xml_elem(&b, "ETag", etag);
    if (o->checksum[0]) {
        char tag[32];

        snprintf(tag, sizeof(tag), "Checksum%s", o->checksum_alg);
        buf_put_xml_elem(&b, tag, o->checksum);
        buf_put_xml_elem(&b, "ChecksumType", o->checksum_type);
    }
    buf_puts(&b, "</CompleteMultipartUploadResult>");
    s3_reply_xml(r, 200, &b);
}

static void
complete_finish(struct s3_req *r)
{
    struct meta_upload *u = r->opstate;
    struct meta_garbage g = { NULL, 0 };
    struct completion c;
    struct meta_object o;
    int64_t size = 0;
    int rc;

    memset(&c, 0, sizeof(c));
    memset(&o, 0, sizeof(o));
    c.all_checksummed = true;
    c.etag_md5 = crypto_hash_new(CRYPTO_HASH_MD5);
    rc = c.etag_md5 ? collect_parts(r, u, &c, &size) : CERR_NOMEM;
    if (rc == 0) {
        complete_object(r, u, &c, size, &o);
        rc = meta_upload_complete(r->app->meta, u->upload_id, &o, &g);
    }
    if (rc == 0) {
        s3_remove_garbage(r, &g);
        complete_reply(r, u, &o);
    } else {
        if (rc == CERR_NO_SUCH_UPLOAD)
            snprintf(r->d.upload_id, sizeof(r->d.upload_id), "%s",
                     u->upload_id);
        s3_fail(r, rc);
    }
    crypto_hash_free(c.etag_md5);
    buf_free(&c.checksums);
    free(c.chosen);
}

static void
upload_cleanup(struct s3_req *r)
{
    if (r->opstate == NULL)
        return;
    meta_upload_clear(r->opstate);
    free(r->opstate);
    r->opstate = NULL;
}

void
s3_complete_multipart(struct s3_req *r)
{
    struct meta_upload *u = calloc(1, sizeof(*u));
    struct sse_request sreq;
    struct sse_key okey;
    int rc;

    memset(&sreq, 0, sizeof(sreq));
    sreq.bucket_key = -1;
    if (u == NULL) {
        s3_fail(r, CERR_NOMEM);
        return;
    }
    r->opstate = u;
    r->cleanup = upload_cleanup;
    rc = load_upload(r, u);
    if (rc == 0)
        rc = sse_parse_request(&r->x->req.headers, SSE_OP_COMPLETE,
                               r->x->req.secure,
                               r->app->cfg.allow_plain_ssec, &sreq, &r->d);
    if (rc == 0)
        rc = sse_open_upload(r->app->sse, &r->caller, r->bucket, r->key,
                             &u->sse, &sreq, SSE_OP_COMPLETE, &okey, &r->d);
    if (rc == 0)
        sse_key_wipe(&okey);
    sse_request_clear(&sreq);
    if (rc == 0)
        rc = s3_want_xml_body(r, complete_finish);
    if (rc != 0)
        s3_fail(r, rc);
}

void
s3_abort_multipart(struct s3_req *r)
{
    struct meta_upload u;
    struct meta_garbage g = { NULL, 0 };
    struct buf arn = BUF_INIT;
    const char *id = s3_param(r, "uploadId");
    int rc;

    memset(&u, 0, sizeof(u));
    s3_bucket_arn(r->bucket, r->key, &arn);
    rc = s3_authorize(r, "s3:AbortMultipartUpload", arn.data, NULL);
    buf_free(&arn);
    if (rc == 0 && (rc = s3_load_bucket(r)) == 0 &&
        (rc = meta_upload_get(r->app->meta, r->bucket, r->key, id,
                              &u)) == 0)
        rc = meta_upload_abort(r->app->meta, id, &g);
    meta_upload_clear(&u);
    if (rc != 0) {
        if (rc == CERR_NO_SUCH_UPLOAD)
            snprintf(r->d.upload_id, sizeof(r->d.upload_id), "%s", id);
        s3_fail(r, rc);
        return;
    }
    s3_remove_garbage(r, &g);
    s3_reply_empty(r, 204);
}
