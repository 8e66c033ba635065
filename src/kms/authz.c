/*
 * Who may use a key (spec/policy.md §9, ruling 11): the key policy is
 * required; identity policies count when the key policy allows the
 * account; an explicit Deny anywhere wins.  This file turns a caller and
 * an operation into a policy request with the KMS condition keys, asks
 * the policy module for the decision, and runs the lockout check on new
 * key policies.
 */
#include "kms/kms_int.h"
#include "policy/policy.h"
#include "util/timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int
add(struct policy_ctx *pc, const char *key, const char *val)
{
    if (val == NULL || val[0] == '\0')
        return 0;
    return policy_ctx_add(pc, key, val);
}

/*
 * The global keys every request carries (policy.md §5).  The principal
 * keys (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType,
 * aws:userid, aws:username) are not added: the policy module derives
 * them from the request's principal, with the same values, and copying
 * them into every call's context cost a tenth of its authorization.
 */
static int
add_globals(struct policy_ctx *pc, const struct kms_caller *c)
{
    char now[32], epoch[24];
    int64_t ms = time_now_ms();
    int rc;

    time_iso8601(ms, now);
    memcpy(now + 19, "Z", 2);       /* drop the milliseconds */
    snprintf(epoch, sizeof(epoch), "%" PRId64, ms / 1000);

    rc = add(pc, "aws:SecureTransport", c->secure_transport ? "true"
                                                            : "false");
    rc = rc ? rc : add(pc, "aws:SourceIp", c->source_ip);
    rc = rc ? rc : add(pc, "aws:CurrentTime", now);
    rc = rc ? rc : add(pc, "aws:EpochTime", epoch);
    return rc;
}

/* The kms: keys (policy.md §9). */
static int
add_kms_keys(struct policy_ctx *pc, const struct kms_caller *c,
             const json_t *ctx)
{
    char name[512];
    const char *key;
    json_t *val;
    int rc;

    rc = add(pc, "kms:CallerAccount", c->account);
    rc = rc ? rc : add(pc, "kms:ViaService", c->via_service);
    if (rc != 0 || ctx == NULL)
        return rc;
    json_object_foreach((json_t *)ctx, key, val) {
        if (snprintf(name, sizeof(name), "kms:EncryptionContext:%s", key)
            < (int)sizeof(name))
            rc = rc ? rc : policy_ctx_add(pc, name,
                                          json_string_value(val));
        rc = rc ? rc : policy_ctx_add(pc, "kms:EncryptionContextKeys", key);
    }
    return rc;
}

static void
principal_of(const struct kms_caller *c, struct policy_principal *p)
{
    memset(p, 0, sizeof(*p));
    p->type = c->user_name == NULL ? POLICY_PRINCIPAL_ROOT
                                   : POLICY_PRINCIPAL_USER;
    p->arn = c->principal_arn;
    p->account = c->account;
    p->user_name = c->user_name;
    p->user_id = c->user_id;
}

/* A key-less operation: root unless an identity policy denies; a user
 * needs an identity Allow. */
static enum policy_result
decide_keyless(const struct kms_caller *c, const struct policy_request *q)
{
    bool allow = c->user_name == NULL;
    size_t i;

    for (i = 0; i < c->nidentity; i++) {
        enum policy_result v = policy_eval(c->identity[i], q);

        if (v == POLICY_DENY)
            return POLICY_DENY;
        if (v == POLICY_ALLOW)
            allow = true;
    }
    return allow ? POLICY_ALLOW : POLICY_DENY;
}

/* Does an identity policy of c allow q, with none denying it? */
static bool
identity_allows(const struct kms_caller *c, const struct policy_request *q)
{
    bool allow = false;
    size_t i;

    for (i = 0; i < c->nidentity; i++) {
        enum policy_result v = policy_eval(c->identity[i], q);

        if (v == POLICY_DENY)
            return false;
        allow = allow || v == POLICY_ALLOW;
    }
    return allow;
}

/*
 * The decision when the policies alone do not allow q: a grant may.
 * Grants only add Allows, so the policies are asked again with one and a
 * Deny still wins.  A grant to the caller's account counts for its users
 * only where an identity policy allows them the action on the key (AWS
 * hands an account's permissions on to its users through IAM policies).
 */
static int
grant_decide(struct kms_req *r, const struct meta_kms_key *key,
             const json_t *ctx, const struct policy *kp,
             const struct policy_request *q, enum policy_result *v)
{
    bool to_account;
    int rc;

    rc = kms_grant_check(r, key, q->action, ctx, &r->by_grant,
                         &to_account);
    if (rc == 0 && r->by_grant && to_account &&
        !identity_allows(r->c, q))
        r->by_grant = false;
    r->by_account_grant = r->by_grant && to_account;
    if (rc == 0 && r->by_grant)
        *v = policy_decide_kms(kp, r->c->identity, r->c->nidentity, true,
                               q);
    return rc;
}

/*
 * May r->c perform `action` on `key` (or, with key NULL, on `resource`)
 * with encryption context ctx?  Returns 0, CERR_KMS_ACCESS_DENIED with a
 * message naming the caller, action and resource, CERR_NOMEM, or
 * CERR_CORRUPT when the stored key policy no longer parses.
 */
int
kms_authorize(struct kms_req *r, const struct meta_kms_key *key,
              const char *resource, const char *action, const json_t *ctx)
{
    struct policy_principal who;
    struct policy_request q;
    struct policy_ctx *pc;
    const struct policy *kp = NULL;
    struct kms_parsed *ref = NULL;
    char arn[KMS_ARN_MAX];
    enum policy_result v;
    int rc;

    pc = policy_ctx_new();
    if (pc == NULL)
        return CERR_NOMEM;
    rc = add_globals(pc, r->c);
    rc = rc ? rc : add_kms_keys(pc, r->c, ctx);
    if (rc == 0 && key != NULL) {
        kms_key_arn(r->k, key->key_id, arn);
        resource = arn;
        /* No key policy: nobody may use the key. */
        if (key->policy != NULL)
            rc = kms_policy_acquire(r->k, key, &kp, &ref);
    }
    if (rc != 0)
        goto out;

    principal_of(r->c, &who);
    q.principal = &who;
    q.action = action;
    q.resource = resource != NULL ? resource : "*";
    q.ctx = pc;
    r->by_grant = r->by_account_grant = false;
    /* An unsigned S3 request never uses a key, whatever "*" allows. */
    if (r->c->principal_arn == NULL)
        v = POLICY_DENY;
    else if (key == NULL)
        v = decide_keyless(r->c, &q);
    else if (kp == NULL)
        v = POLICY_DENY;
    else
        v = policy_decide_kms(kp, r->c->identity, r->c->nidentity, false,
                              &q);

    if (v != POLICY_ALLOW && kp != NULL)
        rc = grant_decide(r, key, ctx, kp, &q, &v);
    if (rc != 0)
        goto out;
    if (v != POLICY_ALLOW)
        rc = err_set(r->d, CERR_KMS_ACCESS_DENIED, "User: %s is not "
                     "authorized to perform: %s on resource: %s",
                     r->c->principal_arn ? r->c->principal_arn : "anonymous",
                     action, q.resource);
out:
    kms_policy_release(r->k, ref);
    policy_ctx_free(pc);
    return rc;
}

/* Only TAB, LF, CR and U+0020..U+00FF (kms-api.md §5 PutKeyPolicy). */
static bool
policy_chars_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i;

    for (i = 0; i < len; i++) {
        if (p[i] == '\t' || p[i] == '\n' || p[i] == '\r' ||
            (p[i] >= 0x20 && p[i] < 0x80))
            continue;
        /* U+0080..U+00FF is C2 or C3 followed by one continuation byte. */
        if ((p[i] == 0xc2 || p[i] == 0xc3) && i + 1 < len &&
            (p[i + 1] & 0xc0) == 0x80) {
            i++;
            continue;
        }
        return false;
    }
    return true;
}

/*
 * Validate a new key policy for key_arn: characters, grammar (policy.md
 * §9) and, unless bypass, the lockout check (the caller must still be
 * allowed kms:PutKeyPolicy under it).  Returns 0, CERR_KMS_VALIDATION,
 * CERR_KMS_MALFORMED_POLICY with AWS's wording, CERR_NOT_IMPLEMENTED
 * naming what coffer lacks, CERR_NOMEM.
 */
int
kms_policy_check(struct kms_req *r, const char *text, size_t len,
                 const char *key_arn, bool bypass)
{
    struct policy_principal who;
    struct policy_request q;
    struct policy_ctx *pc;
    struct policy *p = NULL;
    int rc;

    if (!policy_chars_ok(text, len))
        return kms_validation(r->d, "1 validation error detected: Value at "
                              "'policy' failed to satisfy constraint: "
                              "Member must satisfy regular expression "
                              "pattern: [\\u0009\\u000A\\u000D"
                              "\\u0020-\\u00FF]+");
    rc = policy_parse(text, len, POLICY_KEY, "", &p, r->d);
    if (rc == CERR_MALFORMED_POLICY)
        return CERR_KMS_MALFORMED_POLICY;
    if (rc != 0 || bypass)
        goto out;

    pc = policy_ctx_new();
    rc = pc == NULL ? CERR_NOMEM : add_globals(pc, r->c);
    rc = rc ? rc : add_kms_keys(pc, r->c, NULL);
    principal_of(r->c, &who);
    q.principal = &who;
    q.action = "kms:PutKeyPolicy";
    q.resource = key_arn;
    q.ctx = pc;
    if (rc == 0 && policy_decide_kms(p, r->c->identity, r->c->nidentity,
                                     false, &q) != POLICY_ALLOW)
        rc = err_set(r->d, CERR_KMS_MALFORMED_POLICY, "The new key policy "
                     "will not allow you to update the key policy in the "
                     "future.");
    policy_ctx_free(pc);
out:
    policy_free(p);
    return rc;
}
