/*
 * Authorization of S3 requests: the request context of policy.md §5 and
 * the bucket policy's verdict, combined by policy_decide_s3 (policy.md
 * §3).  Every operation calls s3_authorize before it validates its input
 * or looks up keys (ruling 5), so a denied request learns nothing.
 */
#include "s3/s3_int.h"

#include <stdio.h>
#include <string.h>

#include "iam/iam.h"
#include "policy/policy.h"
#include "util/log.h"
#include "util/timefmt.h"

void
s3_bucket_arn(const char *bucket, const char *key, struct buf *out)
{
    buf_printf(out, "arn:aws:s3:::%s", bucket);
    if (key != NULL) {
        buf_putc(out, '/');
        buf_puts(out, key);
    }
}

static void
add_if(struct policy_ctx *c, const char *key, const char *value)
{
    if (value != NULL)
        policy_ctx_add(c, key, value);
}

static const char *
auth_type(const struct s3_req *r)
{
    if (r->auth.anonymous)
        return NULL;
    return r->auth.presigned ? "REST-QUERY-STRING" : "REST-HEADER";
}

/* The global and S3-wide keys every request carries. */
static void
fill_common(struct s3_req *r, struct policy_ctx *c)
{
    const struct auth_principal *p = &r->auth.principal;
    int64_t now = time_now_ms();
    char when[32], epoch[24];

    policy_ctx_add(c, "aws:SecureTransport",
                   r->x->req.secure ? "true" : "false");
    add_if(c, "aws:SourceIp", r->x->req.peer[0] ? r->x->req.peer : NULL);
    time_iso8601(now, when);
    memcpy(when + 19, "Z", 2);
    policy_ctx_add(c, "aws:CurrentTime", when);
    snprintf(epoch, sizeof(epoch), "%lld", (long long)(now / 1000));
    policy_ctx_add(c, "aws:EpochTime", epoch);
    add_if(c, "aws:UserAgent", s3_header(r, "user-agent"));
    add_if(c, "aws:Referer", s3_header(r, "referer"));
    add_if(c, "s3:x-amz-content-sha256", s3_header(r,
                                                   "x-amz-content-sha256"));
    if (r->x->req.tls_version[0])
        policy_ctx_add(c, "s3:TlsVersion", r->x->req.tls_version);
    if (r->auth.anonymous) {
        policy_ctx_add(c, "aws:PrincipalType", "Anonymous");
        return;
    }
    policy_ctx_add(c, "aws:PrincipalArn", p->arn);
    policy_ctx_add(c, "aws:PrincipalAccount", p->account);
    policy_ctx_add(c, "aws:PrincipalType",
                   p->type == AUTH_USER ? "User" : "Account");
    add_if(c, "aws:userid", p->user_id[0] ? p->user_id : NULL);
    add_if(c, "aws:username", p->user_name[0] ? p->user_name : NULL);
    policy_ctx_add(c, "s3:signatureversion", "AWS4-HMAC-SHA256");
    add_if(c, "s3:authType", auth_type(r));
}

static int
load_policy(struct s3_req *r, struct policy **out)
{
    int rc;

    *out = NULL;
    if (!r->bucket[0])
        return 0;
    rc = s3_load_bucket(r);
    if (rc == CERR_NO_SUCH_BUCKET)
        return 0;
    if (rc != 0 || r->brec.policy == NULL)
        return rc;
    /* A stored policy was valid when stored; failing now is corruption. */
    rc = policy_parse(r->brec.policy, strlen(r->brec.policy), POLICY_BUCKET,
                      r->bucket, out, NULL);
    return rc == 0 ? 0 : CERR_INTERNAL;
}

static struct policy_principal
principal_of(const struct s3_req *r)
{
    const struct auth_principal *p = &r->auth.principal;
    struct policy_principal pp;

    memset(&pp, 0, sizeof(pp));
    if (r->auth.anonymous) {
        pp.type = POLICY_PRINCIPAL_ANONYMOUS;
        return pp;
    }
    pp.type = p->type == AUTH_USER ? POLICY_PRINCIPAL_USER
                                   : POLICY_PRINCIPAL_ROOT;
    pp.arn = p->arn;
    pp.account = p->account;
    pp.user_name = p->user_name[0] ? p->user_name : NULL;
    pp.user_id = p->user_id[0] ? p->user_id : NULL;
    return pp;
}

/*
 * Fetch the identity policies of the request's caller (none for root and
 * anonymous callers), read afresh for every request so that what
 * `coffer admin` changes counts at once.  0 or an error for the reply.
 */
int
s3_identity_load(struct s3_req *r)
{
    int rc;

    rc = iam_identity_get(r->app->iam, &r->auth.principal, &r->ident);
    if (rc != 0)
        log_error("s3: %s identity policies of %s: %s", r->x->req.id,
                  r->auth.principal.arn, err_name(rc));
    return rc;
}

/* Drop the request's hold on its identity policies. */
void
s3_identity_release(struct s3_req *r)
{
    iam_identity_release(r->ident);
    r->ident = NULL;
}

/*
 * May the caller perform `action` on `resource` (an ARN; NULL = "*")?
 * `extra` holds operation-specific condition keys (it is consumed).
 * 0, CERR_ACCESS_DENIED, or a storage error.
 */
int
s3_authorize(struct s3_req *r, const char *action, const char *resource,
             struct policy_ctx *extra)
{
    struct policy_ctx *c = extra ? extra : policy_ctx_new();
    struct policy_principal pp = principal_of(r);
    const struct policy *const *ident;
    struct policy_request pr;
    struct policy *bp = NULL;
    enum policy_result res;
    size_t nident;
    int rc;

    if (c == NULL)
        return CERR_NOMEM;
    rc = load_policy(r, &bp);
    if (rc != 0)
        goto out;
    fill_common(r, c);

    memset(&pr, 0, sizeof(pr));
    pr.principal = &pp;
    pr.action = action;
    pr.resource = resource ? resource : "*";
    pr.ctx = c;
    ident = iam_identity_policies(r->ident, &nident);
    res = policy_decide_s3(bp, ident, nident, r->app->cfg.account, &pr);
    rc = res == POLICY_ALLOW ? 0 : CERR_ACCESS_DENIED;

out:
    policy_free(bp);
    policy_ctx_free(c);
    return rc;
}

/* `action` on the request's bucket. */
int
s3_authorize_bucket(struct s3_req *r, const char *action)
{
    struct buf arn = BUF_INIT;
    int rc;

    s3_bucket_arn(r->bucket, NULL, &arn);
    rc = s3_authorize(r, action, arn.data, NULL);
    buf_free(&arn);
    return rc;
}

/*
 * s3:PutObject on the request's object, with the encryption keys as the
 * request (or, for parts, the upload's Create request) sent them.
 */
int
s3_authorize_put(struct s3_req *r, const char *sse, const char *kms_id)
{
    struct policy_ctx *c = policy_ctx_new();
    struct buf arn = BUF_INIT;
    int rc;

    if (c == NULL)
        return CERR_NOMEM;
    add_if(c, "s3:x-amz-server-side-encryption", sse);
    add_if(c, "s3:x-amz-server-side-encryption-aws-kms-key-id", kms_id);
    add_if(c, "s3:x-amz-server-side-encryption-customer-algorithm",
           s3_header(r, "x-amz-server-side-encryption-customer-algorithm"));
    add_if(c, "s3:x-amz-acl", s3_header(r, "x-amz-acl"));
    s3_bucket_arn(r->bucket, r->key, &arn);
    rc = s3_authorize(r, "s3:PutObject", arn.data, c);
    buf_free(&arn);
    return rc;
}
