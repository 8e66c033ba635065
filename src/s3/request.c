/*
 * The S3 entry point: split the request target into bucket, key and
 * query, authenticate it, and pick the operation with the routing table
 * of s3-api.md §2 (first match wins).  Authorization is each operation's
 * first step, since the resource and condition keys depend on it.
 */
#include "s3/s3.h"
#include "s3/s3_int.h"

#include <stdlib.h>
#include <string.h>

#include "iam/iam.h"
#include "util/codec.h"
#include "util/log.h"
#include "util/timefmt.h"

static void not_implemented(struct s3_req *r);
static void method_not_allowed(struct s3_req *r);

#define OPDEF(name, fn) static const struct s3_opdef op_##fn = { name, fn }
OPDEF("ListBuckets", s3_list_buckets);
OPDEF("CreateBucket", s3_create_bucket);
OPDEF("HeadBucket", s3_head_bucket);
OPDEF("DeleteBucket", s3_delete_bucket);
OPDEF("GetBucketLocation", s3_get_bucket_location);
OPDEF("PutBucketEncryption", s3_put_bucket_encryption);
OPDEF("GetBucketEncryption", s3_get_bucket_encryption);
OPDEF("DeleteBucketEncryption", s3_delete_bucket_encryption);
OPDEF("PutBucketPolicy", s3_put_bucket_policy);
OPDEF("GetBucketPolicy", s3_get_bucket_policy);
OPDEF("DeleteBucketPolicy", s3_delete_bucket_policy);
OPDEF("GetBucketPolicyStatus", s3_get_bucket_policy_status);
OPDEF("ListObjects", s3_list_objects);
OPDEF("ListObjectsV2", s3_list_objects_v2);
OPDEF("ListMultipartUploads", s3_list_uploads);
OPDEF("DeleteObjects", s3_delete_objects);
OPDEF("PutObject", s3_put_object);
OPDEF("GetObject", s3_get_object);
OPDEF("HeadObject", s3_head_object);
OPDEF("DeleteObject", s3_delete_object);
OPDEF("CreateMultipartUpload", s3_create_multipart);
OPDEF("UploadPart", s3_upload_part);
OPDEF("CompleteMultipartUpload", s3_complete_multipart);
OPDEF("AbortMultipartUpload", s3_abort_multipart);
OPDEF("ListParts", s3_list_parts);
OPDEF("CopyObject", s3_copy_object);
OPDEF("UploadPartCopy", s3_upload_part_copy);
OPDEF("PutObjectTagging", s3_put_object_tagging);
OPDEF("GetObjectTagging", s3_get_object_tagging);
OPDEF("DeleteObjectTagging", s3_delete_object_tagging);
OPDEF("PutBucketTagging", s3_put_bucket_tagging);
OPDEF("GetBucketTagging", s3_get_bucket_tagging);
OPDEF("DeleteBucketTagging", s3_delete_bucket_tagging);
OPDEF("PutPublicAccessBlock", s3_put_public_access_block);
OPDEF("GetPublicAccessBlock", s3_get_public_access_block);
OPDEF("DeletePublicAccessBlock", s3_delete_public_access_block);
OPDEF("NotImplemented", not_implemented);
OPDEF("MethodNotAllowed", method_not_allowed);

/*
 * Subresources coffer does not serve yet.  Each answers 501 so that a
 * client sees the gap instead of a wrong 200 from a neighbouring route.
 */
static const char *const unsupported[] = {
    "acl", "versioning", "cors", "lifecycle", "website", "logging",
    "notification", "replication", "requestPayment", "accelerate",
    "analytics", "inventory", "metrics", "intelligent-tiering",
    "object-lock", "legal-hold", "retention", "restore", "select",
    "torrent", "ownershipControls", "versions", "attributes", NULL,
};

const char *
s3_param(const struct s3_req *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

bool
s3_has_param(const struct s3_req *r, const char *name)
{
    return s3_param(r, name) != NULL;
}

const char *
s3_header(const struct s3_req *r, const char *lname)
{
    return headers_get(&r->x->req.headers, lname);
}

static int
add_param(struct s3_req *r, const char *item, size_t len)
{
    const char *eq = memchr(item, '=', len);
    size_t nlen = eq ? (size_t)(eq - item) : len;
    size_t vlen = eq ? len - nlen - 1 : 0;
    struct s3_param *p;

    p = realloc(r->params, (r->nparams + 1) * sizeof(*p));
    if (p == NULL)
        return CERR_NOMEM;
    r->params = p;
    p = &r->params[r->nparams];
    p->name = malloc(nlen + 1);
    p->value = malloc(vlen + 1);
    if (p->name == NULL || p->value == NULL) {
        free(p->name);
        free(p->value);
        return CERR_NOMEM;
    }
    p->has_value = eq != NULL;
    if (uri_decode(item, nlen, p->name, NULL) != 0 ||
        uri_decode(eq ? eq + 1 : "", vlen, p->value, NULL) != 0) {
        free(p->name);
        free(p->value);
        return CERR_INVALID_ARGUMENT;
    }
    r->nparams++;
    return 0;
}

static int
parse_query(struct s3_req *r, const char *q)
{
    while (*q) {
        size_t len = strcspn(q, "&");
        int rc;

        if (len > 0 && (rc = add_param(r, q, len)) != 0)
            return rc;
        q += len;
        if (*q == '&')
            q++;
    }
    return 0;
}

/*
 * A version id, `v` as sent in `arg`.  coffer keeps no versions: every
 * object has only the null version, so "null" names the current object
 * and any other id names nothing.  S3 answers an id on an unversioned
 * bucket with 400 InvalidArgument (an empty one with its own message),
 * never with the current object.  0 or CERR_INVALID_ARGUMENT.
 */
int
s3_version_id_check(const char *v, const char *arg, struct err_detail *d)
{
    if (v == NULL || strcmp(v, "null") == 0)
        return 0;
    err_set_argument(d, arg, v);
    if (v[0] == '\0')
        return err_set(d, CERR_INVALID_ARGUMENT, "Version id cannot be "
                       "the empty string");
    return err_set(d, CERR_INVALID_ARGUMENT, "Invalid version id "
                   "specified");
}

/* The request's ?versionId, checked as s3_version_id_check does. */
int
s3_version_check(struct s3_req *r)
{
    return s3_version_id_check(s3_param(r, "versionId"), "versionId",
                               &r->d);
}

/*
 * The key: the rest of the path, decoded once; may hold '/'.  S3 keys
 * are UTF-8: other bytes are refused, as S3 refuses them (its code is
 * InvalidURI; coffer's table has no such code and answers 400
 * InvalidRequest with S3's message).
 */
static int
parse_key(struct s3_req *r, const char *raw)
{
    size_t klen = strlen(raw);

    if (klen == 0)
        return 0;
    r->key = malloc(klen + 1);
    if (r->key == NULL)
        return CERR_NOMEM;
    if (uri_decode(raw, klen, r->key, &klen) != 0 || !s3_utf8_valid(r->key))
        return CERR_INVALID_URI;
    if (klen > S3_MAX_KEY)
        return CERR_KEY_TOO_LONG;
    return 0;
}

/*
 * Virtual-hosted style (s3-api.md §2): with --domain D, a Host of
 * BUCKET.D (port aside, any case) names the bucket.  The length of
 * BUCKET, or 0 when the Host names none.
 */
static size_t
vhost_len(const struct s3_req *r)
{
    const char *domain = r->app->cfg.domain;
    const char *host = s3_header(r, "host");
    size_t hlen, dlen = strlen(domain);

    if (dlen == 0 || host == NULL || host[0] == '[')
        return 0;
    hlen = strcspn(host, ":");
    if (hlen <= dlen + 1 || host[hlen - dlen - 1] != '.' ||
        strncasecmp(host + hlen - dlen, domain, dlen) != 0)
        return 0;
    return hlen - dlen - 1;
}

/*
 * Path style: /bucket[/key].  Virtual-hosted: the bucket from Host and
 * the whole path as the key.
 */
static int
parse_path(struct s3_req *r, const char *path)
{
    const char *p = path[0] == '/' ? path + 1 : path;
    const char *slash = strchr(p, '/');
    size_t blen = slash ? (size_t)(slash - p) : strlen(p);
    size_t vlen = vhost_len(r);
    char tmp[256];

    if (vlen > 0) {
        if (vlen >= sizeof(r->bucket))
            return CERR_INVALID_BUCKET_NAME;
        memcpy(r->bucket, s3_header(r, "host"), vlen);
        r->bucket[vlen] = '\0';
        return parse_key(r, p);
    }
    if (blen >= sizeof(tmp) / 3)
        return CERR_INVALID_BUCKET_NAME;
    if (uri_decode(p, blen, tmp, NULL) != 0)
        return CERR_INVALID_ARGUMENT;
    if (strlen(tmp) >= sizeof(r->bucket))
        return CERR_INVALID_BUCKET_NAME;
    snprintf(r->bucket, sizeof(r->bucket), "%s", tmp);
    return slash == NULL ? 0 : parse_key(r, slash + 1);
}

static const struct s3_opdef *
route_service(const char *m)
{
    if (strcmp(m, "GET") == 0)
        return &op_s3_list_buckets;
    return &op_method_not_allowed;
}

static const struct s3_opdef *
route_bucket_sub(const struct s3_req *r, const char *m)
{
    bool get = strcmp(m, "GET") == 0, put = strcmp(m, "PUT") == 0;
    bool del = strcmp(m, "DELETE") == 0;

    if (s3_has_param(r, "encryption")) {
        if (put) return &op_s3_put_bucket_encryption;
        if (get) return &op_s3_get_bucket_encryption;
        if (del) return &op_s3_delete_bucket_encryption;
        return &op_method_not_allowed;
    }
    if (s3_has_param(r, "policy")) {
        if (put) return &op_s3_put_bucket_policy;
        if (get) return &op_s3_get_bucket_policy;
        if (del) return &op_s3_delete_bucket_policy;
        return &op_method_not_allowed;
    }
    if (s3_has_param(r, "policyStatus"))
        return get ? &op_s3_get_bucket_policy_status : &op_method_not_allowed;
    if (s3_has_param(r, "tagging")) {
        if (put) return &op_s3_put_bucket_tagging;
        if (get) return &op_s3_get_bucket_tagging;
        if (del) return &op_s3_delete_bucket_tagging;
        return &op_method_not_allowed;
    }
    if (s3_has_param(r, "publicAccessBlock")) {
        if (put) return &op_s3_put_public_access_block;
        if (get) return &op_s3_get_public_access_block;
        if (del) return &op_s3_delete_public_access_block;
        return &op_method_not_allowed;
    }
    if (s3_has_param(r, "location"))
        return get ? &op_s3_get_bucket_location : &op_method_not_allowed;
    if (s3_has_param(r, "uploads"))
        return get ? &op_s3_list_uploads : &op_method_not_allowed;
    if (s3_has_param(r, "delete"))
        return strcmp(m, "POST") == 0 ? &op_s3_delete_objects
                                      : &op_method_not_allowed;
    return NULL;
}

static const struct s3_opdef *
route_bucket(const struct s3_req *r, const char *m)
{
    const struct s3_opdef *op = route_bucket_sub(r, m);
    const char *lt;

    if (op != NULL)
        return op;
    if (strcmp(m, "GET") == 0) {
        lt = s3_param(r, "list-type");
        return lt && strcmp(lt, "2") == 0 ? &op_s3_list_objects_v2
                                          : &op_s3_list_objects;
    }
    if (strcmp(m, "HEAD") == 0)
        return &op_s3_head_bucket;
    if (strcmp(m, "PUT") == 0)
        return &op_s3_create_bucket;
    if (strcmp(m, "DELETE") == 0)
        return &op_s3_delete_bucket;
    return &op_method_not_allowed;
}

static const struct s3_opdef *
route_object_tagging(const char *m)
{
    if (strcmp(m, "PUT") == 0)
        return &op_s3_put_object_tagging;
    if (strcmp(m, "GET") == 0)
        return &op_s3_get_object_tagging;
    if (strcmp(m, "DELETE") == 0)
        return &op_s3_delete_object_tagging;
    return &op_method_not_allowed;
}

static const struct s3_opdef *
route_object(const struct s3_req *r, const char *m)
{
    bool upload = s3_has_param(r, "uploadId");

    if (s3_has_param(r, "tagging"))
        return route_object_tagging(m);
    if (strcmp(m, "POST") == 0) {
        if (s3_has_param(r, "uploads"))
            return &op_s3_create_multipart;
        if (upload)
            return &op_s3_complete_multipart;
        return &op_method_not_allowed;
    }
    if (strcmp(m, "PUT") == 0) {
        if (s3_has_param(r, "partNumber") && upload)
            return s3_header(r, "x-amz-copy-source")
                   ? &op_s3_upload_part_copy : &op_s3_upload_part;
        if (s3_header(r, "x-amz-copy-source"))
            return &op_s3_copy_object;
        return &op_s3_put_object;
    }
    if (strcmp(m, "DELETE") == 0)
        return upload ? &op_s3_abort_multipart : &op_s3_delete_object;
    if (strcmp(m, "GET") == 0)
        return upload ? &op_s3_list_parts : &op_s3_get_object;
    if (strcmp(m, "HEAD") == 0)
        return &op_s3_head_object;
    return &op_method_not_allowed;
}

static const struct s3_opdef *
route(const struct s3_req *r)
{
    const char *m = r->x->req.method;
    size_t i;

    if (!r->bucket[0])
        return route_service(m);
    for (i = 0; unsupported[i]; i++)
        if (s3_has_param(r, unsupported[i]))
            return &op_not_implemented;
    return r->key ? route_object(r, m) : route_bucket(r, m);
}

static void
not_implemented(struct s3_req *r)
{
    s3_fail_msg(r, CERR_NOT_IMPLEMENTED, "coffer does not implement this "
                "operation yet: %s %s", r->x->req.method, r->x->req.target);
}

static void
method_not_allowed(struct s3_req *r)
{
    s3_fail(r, CERR_METHOD_NOT_ALLOWED);
}

/*
 * SigV4 (header or URL), a SigV2 URL (auth_sigv4_verify tells them
 * apart), or SigV2 in the Authorization header ("AWS " scheme).
 */
static int
authenticate(struct s3_req *r)
{
    const char *authz = s3_header(r, "authorization");
    struct sigv4_request sr;

    memset(&sr, 0, sizeof(sr));
    sr.method = r->x->req.method;
    sr.raw_path = r->x->req.path;
    sr.raw_query = r->x->req.query;
    sr.headers = &r->x->req.headers;
    sr.now_ms = time_now_ms();
    sr.region = r->app->cfg.region;
    sr.service = "s3";
    sr.vhost_bucket = vhost_len(r) > 0 ? r->bucket : NULL;
    if (authz != NULL && strncmp(authz + strspn(authz, " "), "AWS ", 4) == 0)
        return auth_sigv2_verify_header(r->app->creds, &sr, &r->auth,
                                        &r->d);
    return auth_sigv4_verify(r->app->creds, &sr, NULL, &r->auth, &r->d);
}

/* The identity S3 presents to KMS when it acts for this caller. */
void
s3_caller_fill(struct s3_req *r)
{
    struct kms_caller *c = &r->caller;
    const struct auth_principal *p = &r->auth.principal;

    snprintf(r->via_service, sizeof(r->via_service), "s3.%s.amazonaws.com",
             r->app->cfg.region);
    memset(c, 0, sizeof(*c));
    c->principal_arn = p->arn[0] ? p->arn : NULL;
    c->account = p->account[0] ? p->account : NULL;
    c->user_name = p->user_name[0] ? p->user_name : NULL;
    c->user_id = p->type == AUTH_USER ? p->user_id : NULL;
    c->identity = iam_identity_policies(r->ident, &c->nidentity);
    c->request_id = r->x->req.id;
    c->source_ip = r->x->req.peer;
    c->via_service = r->via_service;
    c->secure_transport = r->x->req.secure;
}

/* Load the request's bucket; CERR_NO_SUCH_BUCKET names it in the reply. */
int
s3_load_bucket(struct s3_req *r)
{
    int rc;

    if (r->have_brec)
        return 0;
    rc = meta_bucket_get(r->app->meta, r->bucket, &r->brec);
    if (rc == CERR_NO_SUCH_BUCKET)
        snprintf(r->d.bucket, sizeof(r->d.bucket), "%s", r->bucket);
    if (rc == 0)
        r->have_brec = true;
    return rc;
}

static int
req_body(struct http_exchange *x, const void *data, size_t len);
static void req_end(struct http_exchange *x);
static void req_free(struct http_exchange *x);

static const struct http_ops s3_ops = {
    .body = req_body,
    .end = req_end,
    .free = req_free,
};

static int
deliver(void *ctx, const void *data, size_t len)
{
    struct s3_req *r = ctx;

    return r->sink ? r->sink(r, data, len) : 0;
}

static int
req_body(struct http_exchange *x, const void *data, size_t len)
{
    struct s3_req *r = x->state;

    if (r->body == NULL)
        return 0;
    r->err = auth_body_feed(r->body, data, len, deliver, r, &r->d);
    return r->err;
}

static void
req_end(struct http_exchange *x)
{
    struct s3_req *r = x->state;

    if (r->err == 0 && x->body_err != 0)
        r->err = x->body_err;
    if (r->err == 0 && r->body != NULL)
        r->err = auth_body_finish(r->body, &r->d);
    if (r->err != 0) {
        s3_fail(r, r->err);
        return;
    }
    if (r->finish)
        r->finish(r);
    else
        s3_reply_empty(r, 200);
}

static void
req_free(struct http_exchange *x)
{
    struct s3_req *r = x->state;
    size_t i;

    if (r == NULL)
        return;
    if (r->cleanup)
        r->cleanup(r);
    auth_body_free(r->body);
    s3_identity_release(r);
    auth_sigv4_clear(&r->auth);
    if (r->have_brec)
        meta_bucket_clear(&r->brec);
    for (i = 0; i < r->nparams; i++) {
        free(r->params[i].name);
        free(r->params[i].value);
    }
    free(r->params);
    free(r->key);
    buf_free(&r->xml);
    free(r);
    x->state = NULL;
}

/* A SigV2 request may not ask for SSE-KMS (sse.md §9). */
static int
sigv2_kms_header(struct s3_req *r)
{
    const char *sse = s3_header(r, "x-amz-server-side-encryption");

    if (sse == NULL || strncmp(sse, "aws:kms", 7) != 0)
        return 0;
    return s3_check_sigv2_kms(r, SSE_MODE_KMS);
}

/*
 * These parameters choose an operation but are not among the resource's
 * parameters a SigV2 signature covers (clients leave them out), so a
 * SigV2 signature made for one bucket request would be accepted for
 * another: GET /b as GET /b?encryption, DELETE /b as DELETE
 * /b?publicAccessBlock.  Such operations need SigV4.
 */
static int
sigv2_unsigned_operation(struct s3_req *r)
{
    static const char *const chooser[] = {
        "encryption", "policyStatus", "publicAccessBlock", NULL,
    };
    size_t i;

    if (!r->auth.sigv2)
        return 0;
    for (i = 0; chooser[i] != NULL; i++)
        if (s3_has_param(r, chooser[i]))
            return err_set(&r->d, CERR_INVALID_REQUEST, "The ?%s "
                           "operations require AWS Signature Version 4; "
                           "a Signature Version 2 signature does not "
                           "cover that parameter.", chooser[i]);
    return 0;
}

void
s3_begin(struct http_exchange *x)
{
    struct s3_req *r = calloc(1, sizeof(*r));
    int rc;

    if (r == NULL) {
        http_reply(x, 500);
        return;
    }
    r->x = x;
    r->app = x->app;
    x->state = r;
    x->ops = &s3_ops;

    if ((rc = parse_query(r, x->req.query)) != 0 ||
        (rc = parse_path(r, x->req.path)) != 0) {
        s3_fail(r, rc == CERR_INVALID_ARGUMENT ? CERR_INVALID_REQUEST : rc);
        return;
    }
    r->op = route(r);
    snprintf(x->op, sizeof(x->op), "s3.%s", r->op->name);
    snprintf(x->resource, sizeof(x->resource), "%s%s%s", r->bucket,
             r->key ? "/" : "", r->key ? r->key : "");

    rc = authenticate(r);
    if (rc == 0)
        rc = sigv2_unsigned_operation(r);
    if (rc == 0)
        rc = sigv2_kms_header(r);
    if (rc == 0)
        rc = s3_identity_load(r);
    if (rc != 0) {
        s3_fail(r, rc);
        return;
    }
    snprintf(x->principal, sizeof(x->principal), "%s",
             r->auth.anonymous ? "anonymous" : r->auth.principal.arn);
    s3_caller_fill(r);
    r->op->start(r);
}
