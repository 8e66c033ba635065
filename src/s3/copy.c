/*
 * CopyObject and UploadPartCopy (s3-api.md §5 and §7, sse.md §6).
 *
 * The source is read through the body reader of read.c, decrypted
 * segment by segment under its own key, and written through the writer
 * PUT uses, sealed under a fresh key of the destination's: memory stays
 * at a few segments whatever the size, and any mode copies to any mode.
 * A copy's encryption is chosen as for a new PUT (CopyObject) or is the
 * upload's (UploadPartCopy); nothing of the source's carries over.
 *
 * Order (ruling 5): the copy source header is read first, since it
 * names a resource; then s3:PutObject on the destination, with the
 * copy's condition keys, and s3:GetObject on the source under the
 * source bucket's policy; then validation; then the source's existence,
 * the x-amz-copy-source-if-* conditions and the keys.  The whole copy
 * happens before the reply, so a failure is always a plain error reply.
 */
#include "s3/s3_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "policy/policy.h"
#include "store/blob.h"
#include "util/codec.h"
#include "util/timefmt.h"

#define COPY_CHUNK SSE_SEGMENT_SIZE

static const char range_msg[] = "The x-amz-copy-source-range value must "
    "be of the form bytes=first-last where first and last are the "
    "zero-based offsets of the first and last bytes to copy";

/* The object a copy reads. */
struct copy_src {
    char bucket[64];
    char *key;                      /* decoded */
    int found;                      /* the lookup's outcome */
    struct meta_object obj;
    struct blob_store *pinned;      /* obj's bodies are pinned (pins.c) */
    struct sse_request sreq;        /* x-amz-copy-source-...-customer-* */
    struct sse_key okey;
};

/* What the copied bytes are summed into. */
struct copy_digest {
    struct crypto_hash *md5;        /* NULL: the ETag is random */
    struct auth_checksum *ck;       /* NULL: no checksum */
    char alg[16];                   /* "CRC32", ... or "" */
    char etag[48];
    char checksum[AUTH_CHECKSUM_B64_MAX];
};

struct copy_state {
    struct copy_src src;
    struct s3_writer w;
    struct sse_request sreq;        /* the destination's headers */
    struct meta_sse rec;            /* CopyObject: the new encryption */
    struct meta_upload up;          /* UploadPartCopy: the upload */
    int part_number;
    bool replace_meta;
    bool replace_tags;
    char *headers;                  /* REPLACE: the request's */
    char *tagging;                  /* REPLACE: x-amz-tagging */
};

/* ---- the copy source ------------------------------------------------- */

static int
bad_source(const char *value, struct err_detail *d)
{
    err_set_argument(d, "x-amz-copy-source", value);
    return err_set(d, CERR_INVALID_ARGUMENT, "Copy Source must mention "
                   "the source bucket and key: sourcebucket/sourcekey");
}

/*
 * The query after the '?' of x-amz-copy-source, where S3 reads only
 * versionId.  Only the null version exists here, so a copy naming any
 * other is refused as s3_version_id_check says (never served from the
 * current object).
 */
static int
check_version(const char *query, struct err_detail *d)
{
    const char *p = query;
    char v[128];

    while (*p) {
        size_t len = strcspn(p, "&");

        if (len >= 10 && strncmp(p, "versionId=", 10) == 0) {
            snprintf(v, sizeof(v), "%.*s", (int)(len - 10), p + 10);
            return s3_version_id_check(v, "versionId", d);
        }
        p += len;
        if (*p == '&')
            p++;
    }
    return 0;
}

/*
 * Split an x-amz-copy-source value ("bucket/key", URL-encoded, with an
 * optional leading '/' and "?versionId=") into bucket and the decoded
 * key (*key malloc'd).  0, CERR_INVALID_ARGUMENT (no bucket or key, a
 * broken escape, a key that is not UTF-8, a version other than null),
 * CERR_KEY_TOO_LONG, CERR_NOMEM.
 */
int
s3_copy_source_parse(const char *value, char bucket[64], char **key,
                     struct err_detail *d)
{
    const char *p = value[0] == '/' ? value + 1 : value;
    size_t len = strcspn(p, "?"), blen;
    char *dec, *slash;
    int rc;

    *key = NULL;
    if (p[len] == '?' && (rc = check_version(p + len + 1, d)) != 0)
        return rc;
    if ((dec = malloc(len + 1)) == NULL)
        return CERR_NOMEM;
    if (uri_decode(p, len, dec, NULL) != 0 || !s3_utf8_valid(dec) ||
        (slash = strchr(dec, '/')) == NULL || slash == dec ||
        slash[1] == '\0' || (blen = (size_t)(slash - dec)) >= 64) {
        free(dec);
        return bad_source(value, d);
    }
    memcpy(bucket, dec, blen);
    bucket[blen] = '\0';
    if (strlen(slash + 1) > S3_MAX_KEY)
        rc = CERR_KEY_TOO_LONG;
    else if ((*key = strdup(slash + 1)) == NULL)
        rc = CERR_NOMEM;
    free(dec);
    return rc;
}

/* Digits only, into *out; false when there are none or too many. */
static bool
parse_offset(const char **p, int64_t *out)
{
    const char *s = *p;
    size_t n = 0;

    while (isdigit((unsigned char)s[n]))
        n++;
    if (n == 0 || n > 18)
        return false;
    *out = strtoll(s, NULL, 10);
    *p = s + n;
    return true;
}

/*
 * x-amz-copy-source-range "bytes=first-last" of a source of `size`
 * bytes into *first and *len.  CERR_INVALID_ARGUMENT when it has
 * another form or does not fit the source (AWS's two messages).
 */
int
s3_copy_range_parse(const char *value, int64_t size, int64_t *first,
                    int64_t *len, struct err_detail *d)
{
    const char *p = value;
    int64_t a, b;

    if (strncmp(p, "bytes=", 6) != 0 || (p += 6, !parse_offset(&p, &a)) ||
        *p++ != '-' || !parse_offset(&p, &b) || *p != '\0' || b < a) {
        err_set_argument(d, "x-amz-copy-source-range", value);
        return err_set(d, CERR_INVALID_ARGUMENT, "%s", range_msg);
    }
    if (b >= size) {
        err_set_argument(d, "x-amz-copy-source-range", value);
        return err_set(d, CERR_INVALID_ARGUMENT, "Range specified is not "
                       "valid for source object of size: %" PRId64, size);
    }
    *first = a;
    *len = b - a + 1;
    return 0;
}

static void
src_clear(struct copy_src *s)
{
    free(s->key);
    s->key = NULL;
    if (s->pinned != NULL)
        s3_pins_release(s->pinned, &s->obj);
    s->pinned = NULL;
    meta_object_clear(&s->obj);
    sse_request_clear(&s->sreq);
    sse_key_wipe(&s->okey);
}

/*
 * Parse the header and look the source up (judged after authz), its
 * bodies pinned so that a change meanwhile cannot remove them.
 */
static int
src_locate(struct s3_req *r, struct copy_src *s)
{
    int rc = s3_copy_source_parse(s3_header(r, "x-amz-copy-source"),
                                  s->bucket, &s->key, &r->d);

    if (rc != 0)
        return rc;
    s3_pins_lookup_begin();
    s->found = meta_object_get(r->app->meta, s->bucket, s->key, &s->obj);
    if (s->found == 0 && (s->found = s3_pins_hold(&s->obj)) == 0)
        s->pinned = r->app->blobs;
    s3_pins_lookup_end();
    return 0;
}

/*
 * A view of the request that names the source bucket: s3_authorize
 * judges by the policy of the bucket its request names.  Free with
 * view_free.  NULL when out of memory.
 */
static struct s3_req *
source_view(const struct s3_req *r, const struct copy_src *s)
{
    struct s3_req *view = malloc(sizeof(*view));

    if (view == NULL)
        return NULL;
    *view = *r;
    snprintf(view->bucket, sizeof(view->bucket), "%s", s->bucket);
    memset(&view->brec, 0, sizeof(view->brec));
    view->have_brec = false;
    return view;
}

static void
view_free(struct s3_req *view)
{
    if (view->have_brec)
        meta_bucket_clear(&view->brec);
    free(view);
}

/*
 * The lookup's failure, naming the source in the reply.  A missing key
 * is 403 to a caller who may not list the source bucket.
 */
static int
src_missing(struct s3_req *r, const struct copy_src *s)
{
    struct s3_req *view;
    int rc = s->found;

    if (rc == CERR_NO_SUCH_KEY) {
        if ((view = source_view(r, s)) == NULL)
            return CERR_NOMEM;
        rc = s3_authorize_missing(view);
        view_free(view);
    }
    if (rc == CERR_NO_SUCH_KEY)
        snprintf(r->d.key, sizeof(r->d.key), "%s", s->key);
    if (rc == CERR_NO_SUCH_BUCKET)
        snprintf(r->d.bucket, sizeof(r->d.bucket), "%s", s->bucket);
    return rc;
}

/* ---- authorization --------------------------------------------------- */

static void
add_if(struct policy_ctx *c, const char *key, const char *value)
{
    if (value != NULL)
        policy_ctx_add(c, key, value);
}

/* With x-amz-tagging, the new tags need s3:PutObjectTagging (§7). */
static int
authorize_tags(struct s3_req *r, const char *arn)
{
    struct policy_ctx *c;
    int rc;

    if (s3_header(r, "x-amz-tagging") == NULL)
        return 0;
    if ((c = policy_ctx_new()) == NULL)
        return CERR_NOMEM;
    if ((rc = s3_tagging_request_ctx(r, c)) != 0) {
        policy_ctx_free(c);
        return rc;
    }
    return s3_authorize(r, "s3:PutObjectTagging", arn, c);
}

/*
 * s3:PutObject on the destination.  sse and kid are the encryption
 * headers as the request (or the upload's Create) sent them; the copy
 * adds s3:x-amz-copy-source and s3:x-amz-metadata-directive, and the
 * request's tags when it replaces them (then s3:PutObjectTagging too).
 */
static int
authorize_dest(struct s3_req *r, const struct copy_state *st,
               const char *sse, const char *kid)
{
    struct policy_ctx *c = policy_ctx_new();
    struct buf src = BUF_INIT, arn = BUF_INIT;
    int rc = 0;

    if (c == NULL)
        return CERR_NOMEM;
    add_if(c, "s3:x-amz-server-side-encryption", sse);
    add_if(c, "s3:x-amz-server-side-encryption-aws-kms-key-id", kid);
    add_if(c, "s3:x-amz-server-side-encryption-customer-algorithm",
           s3_header(r, "x-amz-server-side-encryption-customer-algorithm"));
    add_if(c, "s3:x-amz-acl", s3_header(r, "x-amz-acl"));
    add_if(c, "s3:x-amz-metadata-directive",
           s3_header(r, "x-amz-metadata-directive"));
    buf_printf(&src, "%s/%s", st->src.bucket, st->src.key);
    add_if(c, "s3:x-amz-copy-source", src.data);
    if (st->replace_tags)
        rc = s3_tagging_request_ctx(r, c);
    s3_bucket_arn(r->bucket, r->key, &arn);
    if (rc == 0)
        rc = s3_authorize(r, "s3:PutObject", arn.data, c);
    else
        policy_ctx_free(c);
    if (rc == 0 && st->replace_tags)
        rc = authorize_tags(r, arn.data);
    buf_free(&src);
    buf_free(&arn);
    return rc;
}

/* s3:GetObject on the source, judged by the source bucket's policy. */
static int
authorize_source(struct s3_req *r, const struct copy_src *s)
{
    struct policy_ctx *c = policy_ctx_new();
    struct buf arn = BUF_INIT;
    struct s3_req *view;
    int rc;

    if (c == NULL)
        return CERR_NOMEM;
    rc = s3_tagging_existing_ctx(s->found == 0 ? s->obj.tagging : NULL, c);
    view = rc == 0 ? source_view(r, s) : NULL;
    if (view == NULL) {
        policy_ctx_free(c);
        return rc != 0 ? rc : CERR_NOMEM;
    }
    s3_bucket_arn(s->bucket, s->key, &arn);
    rc = s3_authorize(view, "s3:GetObject", arn.data, c);
    view_free(view);
    buf_free(&arn);
    return rc;
}

/* ---- conditions and checks ------------------------------------------- */

/* The x-amz-copy-source-if-* headers: every failure is 412. */
static int
copy_conditions(struct s3_req *r, const struct meta_object *o)
{
    static const char *const names[] = {
        [S3_COND_IF_MATCH] = "x-amz-copy-source-If-Match",
        [S3_COND_IF_UNMODIFIED_SINCE] =
            "x-amz-copy-source-If-Unmodified-Since",
        [S3_COND_IF_NONE_MATCH] = "x-amz-copy-source-If-None-Match",
        [S3_COND_IF_MODIFIED_SINCE] = "x-amz-copy-source-If-Modified-Since",
    };
    enum s3_cond c = s3_conditions(r, "x-amz-copy-source-", o);

    if (c == S3_COND_HOLD)
        return 0;
    snprintf(r->d.condition, sizeof(r->d.condition), "%s", names[c]);
    return CERR_PRECONDITION_FAILED;
}

/* COPY (the default) or REPLACE; *replace says which. */
static int
directive(struct s3_req *r, const char *name, const char *what,
          bool *replace)
{
    const char *v = s3_header(r, name);

    *replace = v != NULL && strcmp(v, "REPLACE") == 0;
    if (v == NULL || *replace || strcmp(v, "COPY") == 0)
        return 0;
    err_set_argument(&r->d, name, v);
    return err_set(&r->d, CERR_INVALID_ARGUMENT, "Unknown %s directive.",
                   what);
}

/*
 * A copy (or a part copy) takes at most 5 GiB: 0, or 400 InvalidRequest
 * with AWS's message; larger objects are copied in parts.
 */
int
s3_copy_size_check(int64_t size, struct err_detail *d)
{
    if (size <= S3_MAX_PUT)
        return 0;
    return err_set(d, CERR_INVALID_REQUEST, "The specified copy source is "
                   "larger than the maximum allowable size for a copy "
                   "source: %lld", (long long)S3_MAX_PUT);
}

/*
 * Copying an object onto itself must change something: its metadata,
 * its storage class or its encryption (naming any encryption header,
 * even the same one, counts; so does a bucket with a configured
 * default, sse.md §6).
 */
static int
self_copy(struct s3_req *r, const struct copy_state *st)
{
    if (strcmp(st->src.bucket, r->bucket) != 0 ||
        strcmp(st->src.key, r->key) != 0 || st->replace_meta ||
        sse_request_any(&st->sreq) || r->brec.has_encryption ||
        s3_header(r, "x-amz-storage-class") != NULL)
        return 0;
    return err_set(&r->d, CERR_INVALID_REQUEST, "This copy request is "
                   "illegal because it is trying to copy an object to "
                   "itself without changing the object's metadata, "
                   "storage class, website redirect location or "
                   "encryption attributes.");
}

/* x-amz-checksum-algorithm of a CopyObject, else the source's. */
static int
checksum_alg(struct s3_req *r, const struct meta_object *src, char out[16])
{
    const char *h = s3_header(r, "x-amz-checksum-algorithm");
    struct auth_checksum *k;
    size_t i;

    snprintf(out, 16, "%s", h ? h : src->checksum_alg);
    for (i = 0; out[i]; i++)
        out[i] = (char)toupper((unsigned char)out[i]);
    if (out[0] == '\0')
        return 0;
    if ((k = auth_checksum_new(out)) == NULL)
        return err_set(&r->d, CERR_INVALID_REQUEST, "Checksum algorithm %s "
                       "is not supported", out);
    auth_checksum_free(k);
    return 0;
}

/* ---- moving the bytes ------------------------------------------------ */

static int
digest_open(struct copy_digest *dg, bool md5, const char *alg)
{
    memset(dg, 0, sizeof(*dg));
    snprintf(dg->alg, sizeof(dg->alg), "%s", alg);
    if (md5 && (dg->md5 = crypto_hash_new(CRYPTO_HASH_MD5)) == NULL)
        return CERR_NOMEM;
    if (alg[0] && (dg->ck = auth_checksum_new(alg)) == NULL)
        return CERR_NOMEM;
    return 0;
}

/* The ETag (the MD5 when asked for it, else random) and checksum. */
static int
digest_finish(struct copy_digest *dg)
{
    uint8_t md5[16];

    if (dg->md5 != NULL) {
        crypto_hash_final(dg->md5, md5);
        hex_encode(md5, sizeof(md5), dg->etag);
    } else {
        s3_random_etag(dg->etag);
    }
    if (dg->ck != NULL)
        return auth_checksum_final(dg->ck, dg->checksum,
                                   sizeof(dg->checksum));
    return 0;
}

static void
digest_free(struct copy_digest *dg)
{
    crypto_hash_free(dg->md5);
    auth_checksum_free(dg->ck);
    dg->md5 = NULL;
    dg->ck = NULL;
}

/*
 * Copy len plaintext bytes of the source from offset first into the
 * open writer, one segment at a time, summing them into dg.  A source
 * that ends early is CERR_CORRUPT.  Its bodies are pinned: a change
 * meanwhile leaves them to this copy.
 */
static int
copy_bytes(struct s3_req *r, struct copy_src *s, int64_t first,
           int64_t len, struct s3_writer *w, struct copy_digest *dg)
{
    struct s3_body_reader br;
    uint64_t off = (uint64_t)first, end = (uint64_t)(first + len);
    uint8_t *buf = malloc(COPY_CHUNK);
    size_t got = 0;
    int rc = buf ? 0 : CERR_NOMEM;

    s3_body_reader_init(&br, r->app->blobs, &s->obj, &s->okey);
    s3_body_reader_limit(&br, end);
    while (rc == 0 && off < end) {
        size_t want = end - off < COPY_CHUNK ? (size_t)(end - off)
                                             : COPY_CHUNK;

        rc = s3_body_reader_read(&br, off, buf, want, &got);
        if (rc == 0 && got == 0)
            rc = CERR_CORRUPT;
        if (rc == 0)
            rc = sse_writer_write(w->sw, buf, got);
        if (rc == 0 && dg->md5)
            crypto_hash_update(dg->md5, buf, got);
        if (rc == 0 && dg->ck)
            auth_checksum_update(dg->ck, buf, got);
        off += got;
    }
    s3_body_reader_close(&br);
    if (buf != NULL) {
        crypto_wipe(buf, COPY_CHUNK);
        free(buf);
    }
    return rc;
}

/*
 * Stream the bytes into a new body and name it in *body (salt, size,
 * blob id, time); the digests are in dg.  On failure nothing is left.
 */
static int
copy_body(struct s3_req *r, struct copy_state *st, int64_t first,
          int64_t len, struct copy_digest *dg, struct meta_body *body)
{
    int rc;

    memset(body, 0, sizeof(*body));
    rc = copy_bytes(r, &st->src, first, len, &st->w, dg);
    if (rc == 0)
        rc = digest_finish(dg);
    if (rc != 0) {
        s3_writer_abort(&st->w);
        return rc;
    }
    memcpy(body->salt, st->w.salt, sizeof(body->salt));
    body->size = len;
    body->mtime_ms = time_now_ms();
    return s3_writer_commit(&st->w, body->blob_id);
}

/* <CopyObjectResult> or <CopyPartResult>. */
static void
copy_reply(struct s3_req *r, const char *root, const struct copy_digest *dg,
           int64_t mtime_ms)
{
    struct buf b = BUF_INIT;
    char etag[64], when[32], tag[32];

    s3_quote_etag(dg->etag, etag, sizeof(etag));
    time_iso8601(mtime_ms, when);
    s3_xml_open(&b, root);
    buf_put_xml_elem(&b, "ETag", etag);
    buf_put_xml_elem(&b, "LastModified", when);
    if (dg->checksum[0]) {
        snprintf(tag, sizeof(tag), "Checksum%s", dg->alg);
        buf_put_xml_elem(&b, tag, dg->checksum);
    }
    buf_printf(&b, "</%s>", root);
    s3_reply_xml(r, 200, &b);
}

static void
copy_cleanup(struct s3_req *r)
{
    struct copy_state *st = r->opstate;

    if (st == NULL)
        return;
    s3_writer_abort(&st->w);
    src_clear(&st->src);
    sse_request_clear(&st->sreq);
    meta_upload_clear(&st->up);
    free(st->headers);
    free(st->tagging);
    free(st);
    r->opstate = NULL;
}

static struct copy_state *
copy_state_new(struct s3_req *r)
{
    struct copy_state *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return NULL;
    st->sreq.bucket_key = -1;
    st->src.sreq.bucket_key = -1;
    r->opstate = st;
    r->cleanup = copy_cleanup;
    return st;
}

/* The source's key, once everything else has been checked. */
static int
open_source(struct s3_req *r, struct copy_src *s)
{
    int rc = s3_check_sigv2_kms(r, s->obj.sse.mode);

    if (rc == 0)
        rc = sse_open_object(r->app->sse, &r->caller, s->bucket, s->key,
                             &s->obj.sse, &s->sreq, &s->okey, &r->d);
    return rc;
}

/* ---- CopyObject ------------------------------------------------------ */

static int
object_validate(struct s3_req *r, struct copy_state *st)
{
    const struct headers *h = &r->x->req.headers;
    bool secure = r->x->req.secure, plain = r->app->cfg.allow_plain_ssec;
    int rc;

    if ((rc = s3_check_write_headers(r)) != 0 ||
        (rc = directive(r, "x-amz-metadata-directive", "metadata",
                        &st->replace_meta)) != 0 ||
        (rc = directive(r, "x-amz-tagging-directive", "tagging",
                        &st->replace_tags)) != 0)
        return rc;
    rc = sse_parse_request(h, SSE_OP_WRITE, secure, plain, &st->sreq, &r->d);
    if (rc == 0)
        rc = sse_parse_request(h, SSE_OP_COPY_SOURCE, secure, plain,
                               &st->src.sreq, &r->d);
    if (rc == 0 && st->replace_meta)
        rc = s3_object_headers(r, &st->headers);
    if (rc == 0 && st->replace_tags)
        rc = s3_tagging_from_request(r, &st->tagging);
    return rc;
}

/* Everything before the first byte is copied. */
static int
object_prepare(struct s3_req *r, struct copy_state *st)
{
    const char *tags = s3_header(r, "x-amz-tagging-directive");
    int rc;

    if ((rc = src_locate(r, &st->src)) != 0)
        return rc;
    st->replace_tags = tags != NULL && strcmp(tags, "REPLACE") == 0;
    if ((rc = authorize_dest(r, st, s3_header(r, "x-amz-server-side-"
                                              "encryption"),
                             s3_header(r, "x-amz-server-side-encryption-"
                                       "aws-kms-key-id"))) != 0 ||
        (rc = authorize_source(r, &st->src)) != 0 ||
        (rc = s3_load_bucket(r)) != 0 ||
        (rc = object_validate(r, st)) != 0)
        return rc;
    if (st->src.found != 0)
        return src_missing(r, &st->src);
    if ((rc = copy_conditions(r, &st->src.obj)) != 0 ||
        (rc = s3_copy_size_check(st->src.obj.size, &r->d)) != 0 ||
        (rc = self_copy(r, st)) != 0)
        return rc;
    return open_source(r, &st->src);
}

/* The new object's row: metadata and tags copied or replaced. */
static int
object_commit(struct s3_req *r, struct copy_state *st,
              const struct copy_digest *dg, struct meta_body *body)
{
    const struct meta_object *src = &st->src.obj;
    struct meta_garbage old = { NULL, 0 };
    struct meta_object o;
    int rc;

    memset(&o, 0, sizeof(o));
    snprintf(o.bucket, sizeof(o.bucket), "%s", r->bucket);
    snprintf(o.key, sizeof(o.key), "%s", r->key);
    o.size = body->size;
    o.mtime_ms = body->mtime_ms;
    snprintf(o.etag, sizeof(o.etag), "%s", dg->etag);
    o.headers = st->replace_meta ? st->headers : src->headers;
    o.tagging = st->replace_tags ? st->tagging : src->tagging;
    if (dg->checksum[0]) {
        snprintf(o.checksum_alg, sizeof(o.checksum_alg), "%s", dg->alg);
        snprintf(o.checksum, sizeof(o.checksum), "%s", dg->checksum);
        snprintf(o.checksum_type, sizeof(o.checksum_type), "FULL_OBJECT");
    }
    o.sse = st->rec;
    o.bodies = body;
    o.nbodies = 1;

    rc = meta_object_put(r->app->meta, &o, &old);
    if (rc != 0) {
        blob_remove(r->app->blobs, body->blob_id);
        return rc;
    }
    s3_remove_garbage(r, &old);
    return 0;
}

static int
copy_object(struct s3_req *r, struct copy_state *st,
            struct copy_digest *dg, int64_t *mtime)
{
    struct meta_body body;
    struct sse_key okey;
    char alg[16];
    int rc;

    if ((rc = object_prepare(r, st)) != 0 ||
        (rc = checksum_alg(r, &st->src.obj, alg)) != 0)
        return rc;
    rc = sse_new_object(r->app->sse, &r->caller, r->bucket, r->key,
                        &st->sreq, &r->brec, &st->rec, &okey, &r->d);
    if (rc != 0)
        return rc;
    rc = s3_writer_open(r, &okey, &st->rec, "", 0, &st->w);
    sse_key_wipe(&okey);
    if (rc == 0)
        rc = digest_open(dg, st->rec.mode == SSE_MODE_S3, alg);
    if (rc == 0)
        rc = copy_body(r, st, 0, st->src.obj.size, dg, &body);
    if (rc == 0)
        rc = object_commit(r, st, dg, &body);
    if (rc == 0) {
        *mtime = body.mtime_ms;
        s3_add_sse_headers(r, &st->rec, &st->sreq, SSE_OP_WRITE);
    }
    return rc;
}

/* PUT /bucket/key with x-amz-copy-source: CopyObject. */
void
s3_copy_object(struct s3_req *r)
{
    struct copy_state *st = copy_state_new(r);
    struct copy_digest dg;
    int64_t mtime = 0;
    int rc;

    memset(&dg, 0, sizeof(dg));
    rc = st ? copy_object(r, st, &dg, &mtime) : CERR_NOMEM;
    if (rc == 0)
        copy_reply(r, "CopyObjectResult", &dg, mtime);
    else
        s3_fail(r, rc);
    digest_free(&dg);
}

/* ---- UploadPartCopy -------------------------------------------------- */

/* The open upload, authorized as parts are: with its Create's headers. */
static int
part_upload(struct s3_req *r, struct copy_state *st)
{
    struct meta_upload *u = &st->up;
    int rc = s3_upload_fetch(r, u);

    if (rc != 0)
        return rc;
    return authorize_dest(r, st, u->req_sse[0] ? u->req_sse : NULL,
                          u->req_kms_key_id[0] ? u->req_kms_key_id : NULL);
}

static int
part_prepare(struct s3_req *r, struct copy_state *st, int64_t *first,
             int64_t *len)
{
    const struct headers *h = &r->x->req.headers;
    bool secure = r->x->req.secure, plain = r->app->cfg.allow_plain_ssec;
    const char *range = s3_header(r, "x-amz-copy-source-range");
    int rc;

    if ((rc = src_locate(r, &st->src)) != 0 ||
        (rc = part_upload(r, st)) != 0 ||
        (rc = authorize_source(r, &st->src)) != 0 ||
        (rc = s3_part_number(r, &st->part_number)) != 0)
        return rc;
    rc = sse_parse_request(h, SSE_OP_PART, secure, plain, &st->sreq, &r->d);
    if (rc == 0)
        rc = sse_parse_request(h, SSE_OP_COPY_SOURCE, secure, plain,
                               &st->src.sreq, &r->d);
    if (rc == 0 && st->src.found != 0)
        rc = src_missing(r, &st->src);
    if (rc == 0)
        rc = copy_conditions(r, &st->src.obj);
    *first = 0;
    *len = st->src.obj.size;
    if (rc == 0 && range != NULL)
        rc = s3_copy_range_parse(range, st->src.obj.size, first, len,
                                 &r->d);
    if (rc == 0)
        rc = s3_copy_size_check(*len, &r->d);
    return rc == 0 ? open_source(r, &st->src) : rc;
}

static int
part_commit(struct s3_req *r, struct copy_state *st,
            const struct copy_digest *dg, struct meta_body *p)
{
    struct meta_garbage old = { NULL, 0 };
    int rc;

    p->part_number = st->part_number;
    snprintf(p->etag, sizeof(p->etag), "%s", dg->etag);
    snprintf(p->checksum, sizeof(p->checksum), "%s", dg->checksum);
    rc = meta_part_put(r->app->meta, st->up.upload_id, p, &old);
    if (rc != 0) {
        blob_remove(r->app->blobs, p->blob_id);
        if (rc == CERR_NO_SUCH_UPLOAD)
            snprintf(r->d.upload_id, sizeof(r->d.upload_id), "%s",
                     st->up.upload_id);
        return rc;
    }
    s3_remove_garbage(r, &old);
    return 0;
}

static int
copy_part(struct s3_req *r, struct copy_state *st, struct copy_digest *dg,
          int64_t *mtime)
{
    struct meta_body p;
    struct sse_key okey;
    int64_t first, len;
    int rc;

    if ((rc = part_prepare(r, st, &first, &len)) != 0)
        return rc;
    rc = sse_open_upload(r->app->sse, &r->caller, r->bucket, r->key,
                         &st->up.sse, &st->sreq, SSE_OP_PART, &okey, &r->d);
    if (rc != 0)
        return rc;
    rc = s3_writer_open(r, &okey, &st->up.sse, st->up.upload_id,
                        st->part_number, &st->w);
    sse_key_wipe(&okey);
    if (rc == 0)
        rc = digest_open(dg, st->up.sse.mode == SSE_MODE_S3,
                         st->up.checksum_alg);
    if (rc == 0)
        rc = copy_body(r, st, first, len, dg, &p);
    if (rc == 0)
        rc = part_commit(r, st, dg, &p);
    if (rc == 0) {
        *mtime = p.mtime_ms;
        s3_add_sse_headers(r, &st->up.sse, &st->sreq, SSE_OP_PART);
    }
    return rc;
}

/* PUT ?partNumber&uploadId with x-amz-copy-source: UploadPartCopy. */
void
s3_upload_part_copy(struct s3_req *r)
{
    struct copy_state *st = copy_state_new(r);
    struct copy_digest dg;
    int64_t mtime = 0;
    int rc;

    memset(&dg, 0, sizeof(dg));
    rc = st ? copy_part(r, st, &dg, &mtime) : CERR_NOMEM;
    if (rc == 0)
        copy_reply(r, "CopyPartResult", &dg, mtime);
    else
        s3_fail(r, rc);
    digest_free(&dg);
}
