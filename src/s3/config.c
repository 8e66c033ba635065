/*
 * Bucket configuration: default encryption (sse.md §5) and the bucket
 * policy (policy.md §8).  Both bodies are small documents collected in
 * memory; both operations require an integrity header (ruling 7a).
 */
#include "s3/s3_int.h"

#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "policy/policy.h"
#include "util/log.h"

/* Authorize `action` on the bucket, then make sure it exists. */
static int
authorize_bucket(struct s3_req *r, const char *action)
{
    int rc = s3_authorize_bucket(r, action);

    return rc == 0 ? s3_load_bucket(r) : rc;
}

/* Authorize, check the bucket, and start collecting a checked body. */
static void
start_put(struct s3_req *r, const char *action, void (*finish)(struct s3_req *))
{
    int rc = authorize_bucket(r, action);

    if (rc == 0 && !s3_has_integrity_header(r))
        rc = err_set(&r->d, CERR_INVALID_REQUEST, "Missing required header "
                     "for this request: Content-MD5");
    if (rc == 0)
        rc = s3_want_xml_body(r, finish);
    if (rc != 0)
        s3_fail(r, rc);
}

struct enc_rule {
    char *alg;
    char *key_id;
    bool bucket_key;
};

static void
enc_rule_free(struct enc_rule *e)
{
    free(e->alg);
    free(e->key_id);
}

static int
parse_enc_rule(struct s3_req *r, struct enc_rule *e)
{
    xmlDoc *doc = s3_xml_parse(&r->xml, "ServerSideEncryptionConfiguration");
    xmlNode *rule, *def;
    char *bk;
    int rc = 0;

    memset(e, 0, sizeof(*e));
    if (doc == NULL)
        return r->xml.len == 0 ? CERR_MISSING_BODY : CERR_MALFORMED_XML;
    rule = s3_xml_child(s3_xml_root(doc), "Rule");
    def = s3_xml_child(rule, "ApplyServerSideEncryptionByDefault");
    if (s3_xml_count(s3_xml_root(doc), "Rule") != 1 || def == NULL) {
        s3_xml_free(doc);
        return CERR_MALFORMED_XML;
    }
    e->alg = s3_xml_text(def, "SSEAlgorithm");
    e->key_id = s3_xml_text(def, "KMSMasterKeyID");
    bk = s3_xml_text(rule, "BucketKeyEnabled");
    if (e->alg == NULL ||
        (bk && strcmp(bk, "true") != 0 && strcmp(bk, "false") != 0))
        rc = CERR_MALFORMED_XML;
    e->bucket_key = bk && strcmp(bk, "true") == 0;
    free(bk);
    s3_xml_free(doc);
    return rc;
}

static void
put_encryption_finish(struct s3_req *r)
{
    struct enc_rule e;
    int rc;

    rc = parse_enc_rule(r, &e);
    if (rc == 0)
        rc = sse_validate_rule(e.alg, e.key_id, &r->d);
    if (rc == 0)
        rc = meta_bucket_set_encryption(r->app->meta, r->bucket, e.alg,
                                        e.key_id ? e.key_id : "",
                                        e.bucket_key);
    enc_rule_free(&e);
    if (rc != 0)
        s3_fail(r, rc);
    else
        s3_reply_empty(r, 200);
}

void
s3_put_bucket_encryption(struct s3_req *r)
{
    start_put(r, "s3:PutEncryptionConfiguration", put_encryption_finish);
}

void
s3_get_bucket_encryption(struct s3_req *r)
{
    const struct meta_bucket *b = &r->brec;
    struct buf x = BUF_INIT;
    int rc;

    if ((rc = authorize_bucket(r, "s3:GetEncryptionConfiguration")) != 0) {
        s3_fail(r, rc);
        return;
    }
    /* Ruling 3: with no rule stored, the implicit SSE-S3 default. */
    s3_xml_open(&x, "ServerSideEncryptionConfiguration");
    buf_puts(&x, "<Rule><ApplyServerSideEncryptionByDefault>");
    buf_put_xml_elem(&x, "SSEAlgorithm",
                     b->has_encryption ? b->sse_algorithm : "AES256");
    if (b->has_encryption && b->kms_key_id[0])
        buf_put_xml_elem(&x, "KMSMasterKeyID", b->kms_key_id);
    buf_puts(&x, "</ApplyServerSideEncryptionByDefault>");
    buf_put_xml_elem(&x, "BucketKeyEnabled",
                     b->has_encryption && b->bucket_key_enabled ? "true"
                                                                : "false");
    buf_puts(&x, "</Rule></ServerSideEncryptionConfiguration>");
    s3_reply_xml(r, 200, &x);
}

void
s3_delete_bucket_encryption(struct s3_req *r)
{
    int rc;

    if ((rc = authorize_bucket(r, "s3:PutEncryptionConfiguration")) != 0 ||
        (rc = meta_bucket_set_encryption(r->app->meta, r->bucket, NULL, NULL,
                                         false)) != 0) {
        s3_fail(r, rc);
        return;
    }
    s3_reply_empty(r, 204);
}

static void
put_policy_finish(struct s3_req *r)
{
    struct policy *p = NULL;
    int rc;

    rc = policy_parse(r->xml.data ? r->xml.data : "", r->xml.len,
                      POLICY_BUCKET, r->bucket, &p, &r->d);
    if (rc != 0) {
        s3_fail(r, rc);
        return;
    }
    rc = s3_policy_accept(r, p);
    policy_free(p);
    if (rc != 0) {
        s3_fail(r, rc);
        return;
    }

    rc = meta_bucket_set_policy(r->app->meta, r->bucket, r->xml.data);
    if (rc != 0)
        s3_fail(r, rc);
    else
        s3_reply_empty(r, 204);
}

void
s3_put_bucket_policy(struct s3_req *r)
{
    start_put(r, "s3:PutBucketPolicy", put_policy_finish);
}

void
s3_get_bucket_policy(struct s3_req *r)
{
    struct buf b = BUF_INIT;
    int rc;

    if ((rc = authorize_bucket(r, "s3:GetBucketPolicy")) != 0) {
        s3_fail(r, rc);
        return;
    }
    if (r->brec.policy == NULL) {
        snprintf(r->d.bucket, sizeof(r->d.bucket), "%s", r->bucket);
        s3_fail(r, CERR_NO_SUCH_POLICY);
        return;
    }
    buf_puts(&b, r->brec.policy);
    buf_free(&r->x->resp.body);
    r->x->resp.body = b;
    http_header(r->x, "Content-Type", "application/json");
    http_reply(r->x, 200);
}

void
s3_delete_bucket_policy(struct s3_req *r)
{
    int rc;

    if ((rc = authorize_bucket(r, "s3:DeleteBucketPolicy")) != 0 ||
        (rc = meta_bucket_set_policy(r->app->meta, r->bucket, NULL)) != 0) {
        s3_fail(r, rc);
        return;
    }
    s3_reply_empty(r, 204);
}

void
s3_get_bucket_policy_status(struct s3_req *r)
{
    struct policy *p = NULL;
    struct buf b = BUF_INIT;
    int rc;

    if ((rc = authorize_bucket(r, "s3:GetBucketPolicyStatus")) != 0) {
        s3_fail(r, rc);
        return;
    }
    if (r->brec.policy == NULL) {
        s3_fail(r, CERR_NO_SUCH_POLICY);
        return;
    }
    rc = policy_parse(r->brec.policy, strlen(r->brec.policy), POLICY_BUCKET,
                      r->bucket, &p, NULL);
    if (rc != 0) {
        s3_fail(r, CERR_INTERNAL);
        return;
    }
    s3_xml_open(&b, "PolicyStatus");
    buf_put_xml_elem(&b, "IsPublic", policy_is_public(p) ? "true" : "false");
    buf_puts(&b, "</PolicyStatus>");
    policy_free(p);
    s3_reply_xml(r, 200, &b);
}
