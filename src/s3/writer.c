/*
 * Writing one object body: plaintext from the request is sealed segment
 * by segment (sse_writer) into a temporary blob, which becomes visible
 * only when committed.  Nothing of the plaintext touches the disk.
 * Also here: what a write keeps of the request's headers.
 */
#include "s3/s3_int.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "store/blob.h"

#define S3_META_MAX 2048

/*
 * Open a writer for one body of bucket/key (part_number 0 and upload_id
 * "" for a single PUT) under the object key `okey`, with a fresh salt.
 * The object's sink becomes s3_writer_sink; r->opstate must point at w.
 */
int
s3_writer_open(struct s3_req *r, const struct sse_key *okey,
               const struct meta_sse *rec, const char *upload_id,
               int part_number, struct s3_writer *w)
{
    uint8_t key[32];
    int rc;

    memset(w, 0, sizeof(*w));
    if ((rc = crypto_random(w->salt, sizeof(w->salt))) != 0)
        return rc;
    rc = sse_body_key(okey, rec, r->bucket, r->key, upload_id, part_number,
                      w->salt, key);
    if (rc != 0)
        return rc;
    rc = blob_writer_new(r->app->blobs, &w->bw);
    if (rc == 0) {
        rc = sse_writer_new(w->bw, key, &w->sw);
        if (rc != 0) {
            blob_writer_abort(w->bw);
            w->bw = NULL;
        }
    }
    crypto_wipe(key, sizeof(key));
    return rc;
}

/*
 * Open the writer and route the request body into it: the usual last
 * step of an operation that stores a body.  SSE-S3 bodies keep the MD5
 * of the plaintext for their ETag (ruling 4).  Wipes okey.
 */
int
s3_writer_start(struct s3_req *r, struct sse_key *okey,
                const struct meta_sse *rec, const char *upload_id,
                int part_number, struct s3_writer *w)
{
    int rc;

    if (rec->mode == SSE_MODE_S3)
        auth_body_want_md5(r->body);
    rc = s3_writer_open(r, okey, rec, upload_id, part_number, w);
    sse_key_wipe(okey);
    if (rc == 0)
        r->sink = s3_writer_sink;
    return rc;
}

int
s3_writer_sink(struct s3_req *r, const void *data, size_t len)
{
    struct s3_writer *w = r->opstate;

    return sse_writer_write(w->sw, data, len);
}

/* Seal the last segment, make the blob durable and name it. */
int
s3_writer_commit(struct s3_writer *w, char id[33])
{
    int rc = sse_writer_finish(w->sw);

    sse_writer_free(w->sw);
    w->sw = NULL;
    if (rc != 0) {
        s3_writer_abort(w);
        return rc;
    }
    rc = blob_writer_commit(w->bw, id);
    w->bw = NULL;
    return rc;
}

/* Drop an unfinished body; safe to call twice. */
void
s3_writer_abort(struct s3_writer *w)
{
    sse_writer_free(w->sw);
    w->sw = NULL;
    if (w->bw)
        blob_writer_abort(w->bw);
    w->bw = NULL;
}

static const char *const kept_headers[] = {
    "content-type", "content-disposition", "cache-control",
    "content-language", "expires", NULL,
};

/*
 * The headers a stored object replays on GET, as a JSON object text
 * into *out (malloc'd).  CERR_METADATA_TOO_LARGE past 2 KB of user
 * metadata.  aws-chunked is stripped from Content-Encoding.
 */
int
s3_object_headers(struct s3_req *r, char **out)
{
    const struct headers *h = &r->x->req.headers;
    json_t *o = json_object();
    const char *ce = headers_get(h, "content-encoding");
    size_t i, meta = 0;
    char enc[256];
    int rc = 0;

    *out = NULL;
    if (o == NULL)
        return CERR_NOMEM;
    for (i = 0; kept_headers[i]; i++) {
        const char *v = headers_get(h, kept_headers[i]);

        if (v != NULL)
            json_object_set_new(o, kept_headers[i], json_string(v));
    }
    if (ce && auth_content_encoding_strip(ce, enc, sizeof(enc)))
        json_object_set_new(o, "content-encoding", json_string(enc));
    for (i = 0; i < h->n; i++) {
        if (strncmp(h->v[i].name, "x-amz-meta-", 11) != 0)
            continue;
        meta += strlen(h->v[i].name) - 11 + strlen(h->v[i].value);
        json_object_set_new(o, h->v[i].name, json_string(h->v[i].value));
    }
    if (meta > S3_META_MAX)
        rc = CERR_METADATA_TOO_LARGE;
    else if ((*out = json_dumps(o, JSON_COMPACT)) == NULL)
        rc = CERR_NOMEM;
    json_decref(o);
    return rc;
}

static const char *const storage_classes[] = {
    "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
    "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "OUTPOSTS",
    "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE", NULL,
};

static bool
known(const char *const *list, const char *v)
{
    for (; *list != NULL; list++)
        if (strcmp(*list, v) == 0)
            return true;
    return false;
}

/*
 * The headers of an object write that coffer takes but does not act on.
 * A storage class must be one S3 knows (every object is stored alike
 * here, and reads back as STANDARD).  Buckets behave as AWS's default
 * "bucket owner enforced" ownership: ACLs are off, so a canned ACL other
 * than the owner's own, or any grant, is refused.
 */
int
s3_check_write_headers(struct s3_req *r)
{
    static const char *const owner_acls[] = {
        "private", "bucket-owner-full-control", NULL,
    };
    static const char *const grants[] = {
        "x-amz-grant-full-control", "x-amz-grant-read",
        "x-amz-grant-read-acp", "x-amz-grant-write-acp", NULL,
    };
    const char *sc = s3_header(r, "x-amz-storage-class");
    const char *acl = s3_header(r, "x-amz-acl");
    size_t i;

    if (sc != NULL && !known(storage_classes, sc))
        return CERR_INVALID_STORAGE_CLASS;
    if (acl != NULL && !known(owner_acls, acl))
        return CERR_ACL_NOT_SUPPORTED;
    for (i = 0; grants[i] != NULL; i++)
        if (s3_header(r, grants[i]) != NULL)
            return CERR_ACL_NOT_SUPPORTED;
    return 0;
}

/*
 * Every stored body needs a known length up front or a chunked stream:
 * 411 MissingContentLength otherwise, EntityTooLarge past `max`.
 */
int
s3_check_length(struct s3_req *r, int64_t max)
{
    int64_t n = auth_body_expected_length(r->body);
    const char *te = s3_header(r, "transfer-encoding");

    if (n < 0 && (te == NULL || strstr(te, "chunked") == NULL))
        return CERR_MISSING_CONTENT_LENGTH;
    if (n > max)
        return CERR_ENTITY_TOO_LARGE;
    return 0;
}
