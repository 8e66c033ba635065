/*
 * Tags: Put/Get/DeleteObjectTagging, Put/Get/DeleteBucketTagging, the
 * x-amz-tagging header of PutObject, CreateMultipartUpload and
 * CopyObject, the x-amz-tagging-count of GET and HEAD, and the tag
 * condition keys of policies (s3:ExistingObjectTag/<key>,
 * s3:RequestObjectTag/<key>, s3:RequestObjectTagKeys).  What a valid
 * tag set is, and how it is stored, is tagset.c's.
 *
 * Object tagging authorizes once the body is in, since the request's
 * tags are condition keys; so the integrity header is checked then too,
 * after authorization (ruling 5).
 */
#include "s3/s3_int.h"

#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

#define REQUEST_TAG "s3:RequestObjectTag/"
#define REQUEST_TAG_KEYS "s3:RequestObjectTagKeys"
#define EXISTING_TAG "s3:ExistingObjectTag/"

/* ---- tags in policy contexts and on writes --------------------------- */

/*
 * Add the stored tags of an object (NULL: none) as s3:ExistingObjectTag
 * keys.  0 or CERR_NOMEM; a stored text that does not parse adds
 * nothing (it was valid when stored).
 */
int
s3_tagging_existing_ctx(const char *stored, struct policy_ctx *c)
{
    struct s3_tagset t;
    int rc;

    if (stored == NULL || stored[0] == '\0')
        return 0;
    rc = s3_tagset_parse_query(stored, &t, NULL);
    if (rc == 0)
        rc = s3_tagset_to_ctx(&t, c, EXISTING_TAG, NULL);
    s3_tagset_free(&t);
    return rc == CERR_NOMEM ? rc : 0;
}

/*
 * Add the request's x-amz-tagging as s3:RequestObjectTag keys and
 * s3:RequestObjectTagKeys values.  A header that does not parse adds
 * nothing: the operation refuses it after authorization.  0 or
 * CERR_NOMEM.
 */
int
s3_tagging_request_ctx(struct s3_req *r, struct policy_ctx *c)
{
    const char *h = s3_header(r, "x-amz-tagging");
    struct s3_tagset t;
    int rc;

    if (h == NULL)
        return 0;
    rc = s3_tagset_parse_query(h, &t, NULL);
    if (rc == 0)
        rc = s3_tagset_to_ctx(&t, c, REQUEST_TAG, REQUEST_TAG_KEYS);
    s3_tagset_free(&t);
    return rc == CERR_NOMEM ? rc : 0;
}

/* The number of tags in a stored tag text (NULL: none). */
size_t
s3_tagging_count(const char *stored)
{
    size_t n = 0;

    if (stored == NULL || stored[0] == '\0')
        return 0;
    for (n = 1; *stored; stored++)
        if (*stored == '&')
            n++;
    return n;
}

/* `action` on the request's object with the given tags in the context. */
static int
authorize_object(struct s3_req *r, const char *action, const char *stored,
                 const struct s3_tagset *request_tags)
{
    struct policy_ctx *c = policy_ctx_new();
    struct buf arn = BUF_INIT;
    int rc;

    if (c == NULL)
        return CERR_NOMEM;
    rc = s3_tagging_existing_ctx(stored, c);
    if (rc == 0 && request_tags != NULL)
        rc = s3_tagset_to_ctx(request_tags, c, REQUEST_TAG,
                              REQUEST_TAG_KEYS);
    if (rc != 0) {
        policy_ctx_free(c);
        return rc;
    }
    s3_bucket_arn(r->bucket, r->key, &arn);
    rc = s3_authorize(r, action, arn.data, c);
    buf_free(&arn);
    return rc;
}

/*
 * The x-amz-tagging header of a write, validated, in its stored form
 * into *out (malloc'd; NULL without the header or with an empty set).
 * The caller has authorized s3:PutObjectTagging (policy.md §7).  0,
 * CERR_INVALID_ARGUMENT, CERR_INVALID_TAG, CERR_NOMEM; details in r->d.
 */
int
s3_tagging_from_request(struct s3_req *r, char **out)
{
    const char *h = s3_header(r, "x-amz-tagging");
    struct s3_tagset t;
    int rc;

    *out = NULL;
    if (h == NULL)
        return 0;
    rc = s3_tagset_parse_query(h, &t, &r->d);
    if (rc == 0)
        rc = s3_tagset_check(&t, false, &r->d);
    if (rc == 0)
        rc = s3_tagset_to_query(&t, out);
    s3_tagset_free(&t);
    return rc;
}

/* ---- object tagging -------------------------------------------------- */

/*
 * The action of a Put, Get or Delete on an object's tags: with
 * ?versionId, S3 authorizes the ...ObjectVersionTagging action.
 */
static const char *
tag_action(const struct s3_req *r, const char *verb)
{
    bool v = s3_has_param(r, "versionId");

    if (strcmp(verb, "Put") == 0)
        return v ? "s3:PutObjectVersionTagging" : "s3:PutObjectTagging";
    if (strcmp(verb, "Get") == 0)
        return v ? "s3:GetObjectVersionTagging" : "s3:GetObjectTagging";
    return v ? "s3:DeleteObjectVersionTagging" : "s3:DeleteObjectTagging";
}

/* The object's stored tags (NULL: none) into *tagging; *found is the
 * lookup's outcome, kept for after authorization. */
static void
peek_tags(struct s3_req *r, char **tagging, int *found)
{
    struct meta_object o;

    *tagging = NULL;
    *found = meta_object_get(r->app->meta, r->bucket, r->key, &o);
    if (*found == 0 && o.tagging != NULL) {
        *tagging = o.tagging;
        o.tagging = NULL;
    }
    meta_object_clear(&o);
}

/* A missing key is 403 to a caller who may not list the bucket. */
static int
missing_object(struct s3_req *r, int found)
{
    if (found == CERR_NO_SUCH_KEY)
        found = s3_authorize_missing(r);
    if (found == CERR_NO_SUCH_KEY)
        snprintf(r->d.key, sizeof(r->d.key), "%s", r->key);
    if (found == CERR_NO_SUCH_BUCKET)
        snprintf(r->d.bucket, sizeof(r->d.bucket), "%s", r->bucket);
    return found;
}

static int
put_object_tags(struct s3_req *r)
{
    struct s3_tagset t;
    char *stored = NULL, *text = NULL;
    int found, parsed, rc;

    peek_tags(r, &stored, &found);
    parsed = s3_tagset_parse_xml(&r->xml, &t, &r->d);
    rc = authorize_object(r, tag_action(r, "Put"), stored,
                          parsed == 0 ? &t : NULL);
    if (rc == 0)
        rc = s3_version_check(r);
    if (rc == 0 && !s3_has_integrity_header(r))
        rc = err_set(&r->d, CERR_INVALID_REQUEST, "Missing required header "
                     "for this request: Content-MD5");
    if (rc == 0)
        rc = parsed;
    if (rc == 0)
        rc = s3_tagset_check(&t, false, &r->d);
    if (rc == 0 && found != 0)
        rc = missing_object(r, found);
    if (rc == 0)
        rc = s3_tagset_to_query(&t, &text);
    if (rc == 0)
        rc = meta_object_set_tagging(r->app->meta, r->bucket, r->key, text);
    if (rc == CERR_NO_SUCH_KEY || rc == CERR_NO_SUCH_BUCKET)
        rc = missing_object(r, rc);
    s3_tagset_free(&t);
    free(stored);
    free(text);
    return rc;
}

static void
put_object_tagging_finish(struct s3_req *r)
{
    int rc = put_object_tags(r);

    if (rc != 0)
        s3_fail(r, rc);
    else
        s3_reply_empty(r, 200);
}

/* PUT /bucket/key?tagging: replaces the object's tag set (200). */
void
s3_put_object_tagging(struct s3_req *r)
{
    int rc = s3_want_xml_body(r, put_object_tagging_finish);

    if (rc != 0)
        s3_fail(r, rc);
}

/* GET /bucket/key?tagging: the tag set, <TagSet/> when untagged. */
void
s3_get_object_tagging(struct s3_req *r)
{
    struct s3_tagset t;
    struct buf b = BUF_INIT;
    char *stored;
    int found, rc;

    memset(&t, 0, sizeof(t));
    peek_tags(r, &stored, &found);
    rc = authorize_object(r, tag_action(r, "Get"), stored, NULL);
    if (rc == 0)
        rc = s3_version_check(r);
    if (rc == 0 && found != 0)
        rc = missing_object(r, found);
    /* Stored tags that do not parse are damage, not a bad request. */
    if (rc == 0 && stored != NULL &&
        (rc = s3_tagset_parse_query(stored, &t, NULL)) ==
        CERR_INVALID_ARGUMENT)
        rc = CERR_CORRUPT;
    free(stored);
    if (rc != 0) {
        s3_tagset_free(&t);
        s3_fail(r, rc);
        return;
    }
    buf_puts(&b, S3_XML_DECL);
    s3_tagset_to_xml(&t, &b);
    s3_tagset_free(&t);
    s3_reply_xml(r, 200, &b);
}

/* DELETE /bucket/key?tagging: the object keeps no tags (204). */
void
s3_delete_object_tagging(struct s3_req *r)
{
    char *stored;
    int found, rc;

    peek_tags(r, &stored, &found);
    rc = authorize_object(r, tag_action(r, "Delete"), stored, NULL);
    free(stored);
    if (rc == 0)
        rc = s3_version_check(r);
    if (rc == 0 && found != 0)
        rc = missing_object(r, found);
    if (rc == 0)
        rc = meta_object_set_tagging(r->app->meta, r->bucket, r->key, NULL);
    if (rc == CERR_NO_SUCH_KEY || rc == CERR_NO_SUCH_BUCKET)
        rc = missing_object(r, rc);
    if (rc != 0)
        s3_fail(r, rc);
    else
        s3_reply_empty(r, 204);
}

/* ---- bucket tagging -------------------------------------------------- */

static int
authorize_bucket(struct s3_req *r, const char *action)
{
    int rc = s3_authorize_bucket(r, action);

    return rc == 0 ? s3_load_bucket(r) : rc;
}

static void
put_bucket_tagging_finish(struct s3_req *r)
{
    struct s3_tagset t;
    struct buf doc = BUF_INIT;
    int rc;

    rc = s3_tagset_parse_xml(&r->xml, &t, &r->d);
    if (rc == 0)
        rc = s3_tagset_check(&t, true, &r->d);
    if (rc == 0 && t.n > 0) {
        s3_tagset_to_xml(&t, &doc);
        rc = buf_failed(&doc) ? CERR_NOMEM : 0;
    }
    /* An empty set leaves the bucket untagged, as a DELETE would. */
    if (rc == 0)
        rc = meta_bucket_set_config(r->app->meta, r->bucket, "tagging",
                                    t.n > 0 ? doc.data : NULL);
    s3_tagset_free(&t);
    buf_free(&doc);
    if (rc != 0)
        s3_fail(r, rc);
    else
        s3_reply_empty(r, 204);
}

/* PUT /bucket?tagging: replaces the bucket's tag set (204). */
void
s3_put_bucket_tagging(struct s3_req *r)
{
    int rc = authorize_bucket(r, "s3:PutBucketTagging");

    if (rc == 0 && !s3_has_integrity_header(r))
        rc = err_set(&r->d, CERR_INVALID_REQUEST, "Missing required header "
                     "for this request: Content-MD5");
    if (rc == 0)
        rc = s3_want_xml_body(r, put_bucket_tagging_finish);
    if (rc != 0)
        s3_fail(r, rc);
}

/* GET /bucket?tagging: the tag set, or 404 NoSuchTagSet. */
void
s3_get_bucket_tagging(struct s3_req *r)
{
    struct buf b = BUF_INIT;
    int rc = authorize_bucket(r, "s3:GetBucketTagging");

    if (rc == 0 && r->brec.tagging == NULL) {
        snprintf(r->d.bucket, sizeof(r->d.bucket), "%s", r->bucket);
        rc = CERR_NO_SUCH_TAGSET;
    }
    if (rc != 0) {
        s3_fail(r, rc);
        return;
    }
    buf_puts(&b, S3_XML_DECL);
    buf_puts(&b, r->brec.tagging);
    s3_reply_xml(r, 200, &b);
}

/* DELETE /bucket?tagging: 204, also when there were none. */
void
s3_delete_bucket_tagging(struct s3_req *r)
{
    int rc = authorize_bucket(r, "s3:PutBucketTagging");

    if (rc == 0)
        rc = meta_bucket_set_config(r->app->meta, r->bucket, "tagging",
                                    NULL);
    if (rc != 0)
        s3_fail(r, rc);
    else
        s3_reply_empty(r, 204);
}
