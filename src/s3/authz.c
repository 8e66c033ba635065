/*
 * Authorization of S3 requests: the request context of policy.md §5, the
 * caller's identity policies and the bucket policy, combined by
 * policy_decide_s3 (policy.md §3), and the bucket's public access block
 * (RestrictPublicBuckets).  Every operation calls s3_authorize before it
 * validates its input or looks up keys (ruling 5), so a denied request
 * learns nothing.  PutBucketPolicy's checks beyond the grammar (users
 * named must exist, BlockPublicPolicy, the linter's warnings) live here
 * too.
 */
#include "s3/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
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

/* The peer address, an IPv4-mapped IPv6 one as IPv4 (policy.md §5). */
static const char *
source_ip(const char *peer)
{
    if (peer[0] == '\0')
        return NULL;
    if (strncmp(peer, "::ffff:", 7) == 0 && strchr(peer + 7, '.') != NULL)
        return peer + 7;
    return peer;
}

/* s3:signatureAge: milliseconds since X-Amz-Date, presigned URLs only. */
static void
signature_age(const struct s3_req *r, int64_t now, struct policy_ctx *c)
{
    char age[24];
    int64_t when;

    if (!r->auth.presigned || time_parse_amz(r->auth.amz_date, &when) != 0)
        return;
    snprintf(age, sizeof(age), "%lld",
             (long long)(now > when ? now - when : 0));
    policy_ctx_add(c, "s3:signatureAge", age);
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
    add_if(c, "aws:SourceIp", source_ip(r->x->req.peer));
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
    policy_ctx_add(c, "s3:signatureversion",
                   r->auth.sigv2 ? "AWS" : "AWS4-HMAC-SHA256");
    add_if(c, "s3:authType", auth_type(r));
    signature_age(r, now, c);
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
 * RestrictPublicBuckets: while the bucket policy is public, it grants
 * nothing to callers outside the bucket owner's account (anonymous ones
 * included), whatever statement would have allowed them (AWS's rule).
 */
static enum policy_result
restrict_public(struct s3_req *r, const struct policy *bp)
{
    const struct auth_principal *p = &r->auth.principal;
    struct s3_pab pab;

    if (!r->auth.anonymous && strcmp(p->account, r->app->cfg.account) == 0)
        return POLICY_ALLOW;
    if (!policy_is_public(bp))
        return POLICY_ALLOW;
    if (s3_pab_load(r, &pab) != 0)
        return POLICY_DENY;     /* fail closed on a bad stored block */
    return pab.restrict_public_buckets ? POLICY_DENY : POLICY_ALLOW;
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
    if (res == POLICY_ALLOW && bp != NULL)
        res = restrict_public(r, bp);
    rc = res == POLICY_ALLOW ? 0 : CERR_ACCESS_DENIED;

out:
    policy_free(bp);
    policy_ctx_free(c);
    return rc;
}

/*
 * `action` on the request's bucket.  CreateBucket carries the canned ACL
 * header as s3:x-amz-acl (policy.md §5).
 */
int
s3_authorize_bucket(struct s3_req *r, const char *action)
{
    struct policy_ctx *c = NULL;
    struct buf arn = BUF_INIT;
    int rc;

    if (strcmp(action, "s3:CreateBucket") == 0 &&
        s3_header(r, "x-amz-acl") != NULL) {
        if ((c = policy_ctx_new()) == NULL)
            return CERR_NOMEM;
        policy_ctx_add(c, "s3:x-amz-acl", s3_header(r, "x-amz-acl"));
    }
    s3_bucket_arn(r->bucket, NULL, &arn);
    rc = s3_authorize(r, action, arn.data, c);
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
    s3_tagging_request_ctx(r, c);
    s3_bucket_arn(r->bucket, r->key, &arn);
    rc = s3_authorize(r, "s3:PutObject", arn.data, c);

    /* Tags sent with the object need s3:PutObjectTagging too (§7). */
    if (rc == 0 && s3_header(r, "x-amz-tagging") != NULL) {
        if ((c = policy_ctx_new()) == NULL)
            rc = CERR_NOMEM;
        else if ((rc = s3_tagging_request_ctx(r, c)) != 0)
            policy_ctx_free(c);
        else
            rc = s3_authorize(r, "s3:PutObjectTagging", arn.data, c);
    }
    buf_free(&arn);
    return rc;
}

/*
 * The answer for an object that does not exist, once the caller was
 * allowed to read it: CERR_NO_SUCH_KEY when it may also list the bucket,
 * else CERR_ACCESS_DENIED, so that a caller without s3:ListBucket cannot
 * tell a missing key from a forbidden one (GetObject doc, policy.md §3).
 */
int
s3_authorize_missing(struct s3_req *r)
{
    int rc = s3_authorize_bucket(r, "s3:ListBucket");

    return rc == 0 ? CERR_NO_SUCH_KEY : rc;
}

/* policy_foreach_user callback: does the ARN name an existing user? */
static int
user_exists(const char *arn, void *arg)
{
    struct s3_req *r = arg;

    return iam_user_arn_check(r->app->iam, arn);
}

/* Log the linter's warnings about a policy just accepted. */
static void
log_lint(struct s3_req *r, const struct policy *p)
{
    struct buf w = BUF_INIT;
    const char *s, *nl;

    if (policy_lint(p, NULL, &w) == 0 || buf_failed(&w)) {
        buf_free(&w);
        return;
    }
    buf_putc(&w, '\0');
    for (s = w.data; *s != '\0'; s = nl + 1) {
        nl = strchr(s, '\n');
        if (nl == NULL)
            break;
        log_warn("s3: %s policy of bucket %s: %.*s", r->x->req.id,
                 r->bucket, (int)(nl - s), s);
    }
    buf_free(&w);
}

/*
 * PutBucketPolicy's checks beyond the grammar, for a policy that parsed:
 * every IAM user it names exists (else 400 MalformedPolicy "Invalid
 * principal in policy", as AWS), and the bucket's BlockPublicPolicy does
 * not refuse it (403 AccessDenied).  Then the linter's warnings are
 * logged.  0, or the code to reply with (r->d filled).
 */
int
s3_policy_accept(struct s3_req *r, const struct policy *p)
{
    struct s3_pab pab;
    int rc;

    rc = policy_foreach_user(p, user_exists, r);
    if (rc == CERR_IAM_NO_SUCH_ENTITY)
        return err_set(&r->d, CERR_MALFORMED_POLICY,
                       "Invalid principal in policy");
    if (rc != 0 || (rc = s3_pab_load(r, &pab)) != 0)
        return rc;
    if (pab.block_public_policy && policy_is_public(p))
        return err_set(&r->d, CERR_ACCESS_DENIED, "Access Denied: the "
                       "bucket's public access block (BlockPublicPolicy) "
                       "refuses a public policy");
    log_lint(r, p);
    return 0;
}
