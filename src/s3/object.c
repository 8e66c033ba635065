/*
 * Single-object operations: PutObject (streamed, encrypted as it
 * arrives), DeleteObject and DeleteObjects.  Reads are in read.c.
 */
#include "s3/s3_int.h"

#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "crypto/crypto.h"
#include "store/blob.h"
#include "util/codec.h"
#include "util/timefmt.h"

struct put_state {
    struct s3_writer w;             /* first: the sink finds it here */
    struct sse_request sreq;
    struct meta_sse rec;
    char *headers;
    char *tagging;                  /* x-amz-tagging, stored form */
};

static void
put_cleanup(struct s3_req *r)
{
    struct put_state *st = r->opstate;

    if (st == NULL)
        return;
    s3_writer_abort(&st->w);
    sse_request_clear(&st->sreq);
    free(st->headers);
    free(st->tagging);
    free(st);
    r->opstate = NULL;
}

/* ETag of a single PUT: the MD5 for SSE-S3, else random (ruling 4). */
static void
put_etag(struct s3_req *r, const struct put_state *st, char out[48])
{
    uint8_t md5[16];

    if (st->rec.mode == SSE_MODE_S3 && auth_body_md5(r->body, md5))
        hex_encode(md5, sizeof(md5), out);
    else
        s3_random_etag(out);
}

static void
fill_checksum(struct s3_req *r, struct meta_object *o)
{
    const char *name = auth_body_checksum_name(r->body);
    const char *value = auth_body_checksum_value(r->body);
    size_t i;

    if (name == NULL || value == NULL)
        return;
    /* "x-amz-checksum-crc32" is stored as "CRC32". */
    snprintf(o->checksum_alg, sizeof(o->checksum_alg), "%s", name + 15);
    for (i = 0; o->checksum_alg[i]; i++)
        if (o->checksum_alg[i] >= 'a' && o->checksum_alg[i] <= 'z')
            o->checksum_alg[i] = (char)(o->checksum_alg[i] - 32);
    snprintf(o->checksum, sizeof(o->checksum), "%s", value);
    snprintf(o->checksum_type, sizeof(o->checksum_type), "FULL_OBJECT");
}

static void
put_reply(struct s3_req *r, const struct put_state *st,
          const struct meta_object *o)
{
    char etag[64];

    s3_quote_etag(o->etag, etag, sizeof(etag));
    http_header(r->x, "ETag", etag);
    if (o->checksum[0]) {
        http_header(r->x, auth_body_checksum_name(r->body), o->checksum);
        http_header(r->x, "x-amz-checksum-type", o->checksum_type);
    }
    s3_add_sse_headers(r, &st->rec, &st->sreq, SSE_OP_WRITE);
    s3_reply_empty(r, 200);
}

static void
put_finish(struct s3_req *r)
{
    struct put_state *st = r->opstate;
    struct meta_garbage old = { NULL, 0 };
    struct meta_object o;
    struct meta_body body;
    int rc;

    memset(&o, 0, sizeof(o));
    memset(&body, 0, sizeof(body));
    memcpy(body.salt, st->w.salt, sizeof(body.salt));
    body.size = (int64_t)auth_body_length(r->body);
    body.mtime_ms = time_now_ms();
    rc = s3_writer_commit(&st->w, body.blob_id);
    if (rc != 0) {
        s3_fail(r, rc);
        return;
    }

    snprintf(o.bucket, sizeof(o.bucket), "%s", r->bucket);
    snprintf(o.key, sizeof(o.key), "%s", r->key);
    o.size = body.size;
    o.mtime_ms = body.mtime_ms;
    put_etag(r, st, o.etag);
    o.headers = st->headers;
    o.tagging = st->tagging;
    fill_checksum(r, &o);
    o.sse = st->rec;
    o.bodies = &body;
    o.nbodies = 1;

    rc = meta_object_put(r->app->meta, &o, &old);
    if (rc != 0) {
        blob_remove(r->app->blobs, body.blob_id);
        s3_fail(r, rc);
        return;
    }
    s3_remove_garbage(r, &old);
    put_reply(r, st, &o);
}

/* If-None-Match: * refuses to overwrite; If-Match demands the ETag. */
static int
put_conditions(struct s3_req *r)
{
    const char *inm = s3_header(r, "if-none-match");
    const char *im = s3_header(r, "if-match");
    struct meta_object o;
    int rc;

    if (inm == NULL && im == NULL)
        return 0;
    rc = meta_object_get(r->app->meta, r->bucket, r->key, &o);
    if (rc != 0 && rc != CERR_NO_SUCH_KEY)
        return rc;
    if (rc == CERR_NO_SUCH_KEY)
        return im ? CERR_NO_SUCH_KEY : 0;
    rc = 0;
    if (inm && strcmp(inm, "*") == 0)
        rc = CERR_PRECONDITION_FAILED;
    if (im && !s3_etag_matches(im, o.etag))
        rc = CERR_PRECONDITION_FAILED;
    meta_object_clear(&o);
    return rc;
}

static int
put_prepare(struct s3_req *r, struct put_state *st)
{
    int rc;

    rc = sse_parse_request(&r->x->req.headers, SSE_OP_WRITE,
                           r->x->req.secure, r->app->cfg.allow_plain_ssec,
                           &st->sreq, &r->d);
    if (rc != 0)
        return rc;
    if ((rc = s3_check_write_headers(r)) != 0 ||
        (rc = s3_object_headers(r, &st->headers)) != 0 ||
        (rc = s3_tagging_from_request(r, &st->tagging)) != 0)
        return rc;
    if ((rc = s3_want_body(r, put_finish)) != 0 ||
        (rc = s3_check_length(r, S3_MAX_PUT)) != 0 ||
        (rc = put_conditions(r)) != 0)
        return rc;
    return 0;
}

static int
put_start(struct s3_req *r, struct put_state *st)
{
    struct sse_key okey;
    int rc;

    rc = s3_authorize_put(r, s3_header(r, "x-amz-server-side-encryption"),
                          s3_header(r, "x-amz-server-side-encryption-aws-"
                                       "kms-key-id"));
    if (rc != 0 || (rc = s3_load_bucket(r)) != 0)
        return rc;
    if ((rc = put_prepare(r, st)) != 0)
        return rc;

    rc = sse_new_object(r->app->sse, &r->caller, r->bucket, r->key,
                        &st->sreq, &r->brec, &st->rec, &okey, &r->d);
    if (rc != 0)
        return rc;
    return s3_writer_start(r, &okey, &st->rec, "", 0, &st->w);
}

void
s3_put_object(struct s3_req *r)
{
    struct put_state *st = calloc(1, sizeof(*st));
    int rc;

    if (st == NULL) {
        s3_fail(r, CERR_NOMEM);
        return;
    }
    st->sreq.bucket_key = -1;
    r->opstate = st;
    r->cleanup = put_cleanup;
    rc = put_start(r, st);
    if (rc != 0) {
        if (rc == CERR_NO_SUCH_KEY)
            snprintf(r->d.key, sizeof(r->d.key), "%s", r->key);
        s3_fail(r, rc);
    }
}

/*
 * Delete `key`; `version` (NULL when not given) must name the null
 * version, the only one an object has here, or nothing is deleted.
 * Naming a version, even null, is s3:DeleteObjectVersion, as on AWS.
 */
static int
delete_one(struct s3_req *r, const char *key, const char *version)
{
    struct meta_garbage old = { NULL, 0 };
    struct buf arn = BUF_INIT;
    int rc;

    s3_bucket_arn(r->bucket, key, &arn);
    rc = s3_authorize(r, version ? "s3:DeleteObjectVersion"
                                 : "s3:DeleteObject", arn.data, NULL);
    buf_free(&arn);
    if (rc == 0)
        rc = s3_version_id_check(version, "versionId", &r->d);
    if (rc == 0)
        rc = meta_object_delete(r->app->meta, r->bucket, key, &old);
    if (rc == 0)
        s3_remove_garbage(r, &old);
    return rc;
}

void
s3_delete_object(struct s3_req *r)
{
    int rc = s3_load_bucket(r);

    if (rc == 0)
        rc = delete_one(r, r->key, s3_param(r, "versionId"));
    if (rc != 0)
        s3_fail(r, rc);
    else
        s3_reply_empty(r, 204);
}

/*
 * One entry of a DeleteObjects result; the version, when the request
 * named one, is echoed as S3 does.  A failure's message is the one the
 * check left in r->d, else the code's own.
 */
static void
delete_result(struct s3_req *r, struct buf *b, const char *key,
              const char *version, int rc, bool quiet)
{
    const struct err_info *e;

    if (rc == 0) {
        if (!quiet) {
            buf_puts(b, "<Deleted>");
            s3_xml_put_elem(b, "Key", key);
            if (version != NULL)
                s3_xml_put_elem(b, "VersionId", version);
            buf_puts(b, "</Deleted>");
        }
        return;
    }
    e = err_lookup(rc);
    buf_puts(b, "<Error>");
    s3_xml_put_elem(b, "Key", key);
    if (version != NULL)
        s3_xml_put_elem(b, "VersionId", version);
    buf_put_xml_elem(b, "Code", e->s3_code ? e->s3_code : "InternalError");
    s3_xml_put_elem(b, "Message", r->d.message[0] ? r->d.message
                                                  : e->message);
    buf_puts(b, "</Error>");
    err_clear(&r->d);
}

static void
delete_objects_finish(struct s3_req *r)
{
    xmlDoc *doc = s3_xml_parse(&r->xml, "Delete");
    xmlNode *root, *obj;
    struct buf b = BUF_INIT;
    char *quiet;
    bool q;

    root = doc ? s3_xml_root(doc) : NULL;
    if (root == NULL || s3_xml_count(root, "Object") == 0 ||
        s3_xml_count(root, "Object") > 1000) {
        s3_xml_free(doc);
        s3_fail(r, CERR_MALFORMED_XML);
        return;
    }
    quiet = s3_xml_text(root, "Quiet");
    q = quiet && strcmp(quiet, "true") == 0;
    free(quiet);

    s3_xml_open(&b, "DeleteResult");
    for (obj = s3_xml_child(root, "Object"); obj;
         obj = s3_xml_next(obj, "Object")) {
        char *key = s3_xml_text(obj, "Key");
        char *ver = s3_xml_text(obj, "VersionId");

        if (key == NULL || !key[0])
            delete_result(r, &b, key ? key : "", ver, CERR_INVALID_ARGUMENT,
                          false);
        else
            delete_result(r, &b, key, ver, delete_one(r, key, ver), q);
        free(key);
        free(ver);
    }
    buf_puts(&b, "</DeleteResult>");
    s3_xml_free(doc);
    s3_reply_xml(r, 200, &b);
}

void
s3_delete_objects(struct s3_req *r)
{
    int rc = s3_load_bucket(r);

    if (rc == 0 && !s3_has_integrity_header(r))
        rc = err_set(&r->d, CERR_INVALID_REQUEST, "Missing required header "
                     "for this request: Content-MD5");
    if (rc == 0)
        rc = s3_want_xml_body(r, delete_objects_finish);
    if (rc != 0)
        s3_fail(r, rc);
}
