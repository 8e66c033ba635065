/*
 * Evaluating parsed policies (policy.md §3, §4, §9): the request context,
 * one policy's verdict, and AWS's decision for S3 and for KMS across the
 * bucket or key policy, the caller's identity policies and grants.
 *
 * A statement's principal match has a strength.  Naming the caller (its
 * user ARN, "*", or NotPrincipal without it) is direct; naming the
 * caller's account only delegates: for an IAM user, an Allow through the
 * account needs the user's own identity-policy Allow too, while for the
 * account root it is direct.  A Deny hits at either strength.
 *
 * Evaluation allocates only to substitute policy variables; if that
 * fails, the verdict is deny.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"
#include "util/err.h"

struct ctx_entry {
    char *key;
    char *value;
};

struct policy_ctx {
    struct ctx_entry *v;
    size_t n;
    size_t cap;
};

struct eval_state {
    const struct policy_request *r;
    bool failed;                /* out of memory: deny */
};

enum hit { HIT_NONE, HIT_ACCOUNT, HIT_DIRECT };

/* One policy's outcome: any Deny, and the strongest Allow. */
struct verdict {
    bool deny;
    enum hit allow;
};

/* A new, empty request context, or NULL when out of memory. */
struct policy_ctx *
policy_ctx_new(void)
{
    return calloc(1, sizeof(struct policy_ctx));
}

/*
 * Add one value of a condition key to the context; both strings are
 * copied.  0 or CERR_NOMEM.
 */
int
policy_ctx_add(struct policy_ctx *c, const char *key, const char *value)
{
    struct ctx_entry *v;
    size_t cap;

    if (c->n == c->cap) {
        cap = c->cap != 0 ? c->cap * 2 : 16;
        v = realloc(c->v, cap * sizeof(*v));
        if (v == NULL)
            return CERR_NOMEM;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n].key = strdup(key);
    c->v[c->n].value = strdup(value);
    if (c->v[c->n].key == NULL || c->v[c->n].value == NULL) {
        free(c->v[c->n].key);
        free(c->v[c->n].value);
        return CERR_NOMEM;
    }
    c->n++;
    return 0;
}

/* Free a context and its strings; NULL is allowed. */
void
policy_ctx_free(struct policy_ctx *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n; i++) {
        free(c->v[i].key);
        free(c->v[i].value);
    }
    free(c->v);
    free(c);
}

static bool
key_eq(const char *a, const char *key, size_t len)
{
    return strlen(a) == len && policy_strncaseeq(a, key, len);
}

/*
 * The principal keys (aws:PrincipalArn, aws:userid, ...) follow from the
 * principal itself, so a caller that did not add them still gets the
 * right answer.  NULL when the key is absent for this principal.
 */
static const char *
derived(const struct policy_principal *who, const char *key, size_t len)
{
    bool anon = who == NULL || who->type == POLICY_PRINCIPAL_ANONYMOUS;
    bool root = !anon && who->type == POLICY_PRINCIPAL_ROOT;

    if (key_eq("aws:PrincipalType", key, len))
        return anon ? "Anonymous" : root ? "Account" : "User";
    if (anon)
        return NULL;
    if (key_eq("aws:PrincipalArn", key, len))
        return who->arn;
    if (key_eq("aws:PrincipalAccount", key, len))
        return who->account;
    if (key_eq("aws:userid", key, len))
        return root ? who->account : who->user_id;
    if (key_eq("aws:username", key, len))
        return root ? NULL : who->user_name;
    return NULL;
}

/* Walks the values of one key: context entries, else the derived one. */
struct val_iter {
    size_t pos;
    bool seen;
    bool done;
};

static const char *
next_value(const struct eval_state *e, const char *key, size_t len,
           struct val_iter *it)
{
    const struct policy_ctx *c = e->r->ctx;
    size_t n = c != NULL ? c->n : 0;

    while (it->pos < n) {
        const struct ctx_entry *ent = &c->v[it->pos++];

        if (key_eq(ent->key, key, len)) {
            it->seen = true;
            return ent->value;
        }
    }
    if (it->done || it->seen)
        return NULL;
    it->done = true;
    return derived(e->r->principal, key, len);
}

/* The value a policy variable ${key} takes: the key's first value. */
const char *
policy_var_value(const struct eval_state *e, const char *key, size_t len)
{
    struct val_iter it = { 0, false, false };

    return next_value(e, key, len, &it);
}

/*
 * Bring pattern p into usable form for this request: pat, mask and plen
 * point either at the raw text or at the expansion in text and lit.  False
 * when a variable has no value (the element matches nothing) or memory
 * ran out (e->failed).
 */
static bool
expand(struct eval_state *e, const struct pattern *p, struct buf *text,
       struct buf *lit, const char **pat, const uint8_t **mask,
       size_t *plen)
{
    int rc;

    *pat = p->raw;
    *mask = NULL;
    *plen = strlen(p->raw);
    if (p->segs == NULL)
        return true;
    rc = policy_pattern_expand(p, e, text, lit);
    if (rc < 0)
        e->failed = true;
    if (rc != 0)
        return false;
    *pat = text->len > 0 ? text->data : "";
    *mask = lit->len > 0 ? (const uint8_t *)lit->data : NULL;
    *plen = text->len;
    return true;
}

/* String, case-folded, wildcard and ARN families. */
static bool
text_match(struct eval_state *e, const struct cond *c,
           const struct cond_value *cv, const char *req)
{
    struct buf text = BUF_INIT, lit = BUF_INIT;
    const uint8_t *mask;
    const char *pat;
    size_t plen, rlen = strlen(req);
    bool m = false;

    if (expand(e, &cv->pat, &text, &lit, &pat, &mask, &plen)) {
        switch (c->op->fam) {
        case FAM_STR:
            m = plen == rlen && memcmp(pat, req, plen) == 0;
            break;
        case FAM_ISTR:
            m = plen == rlen && policy_strncaseeq(pat, req, plen);
            break;
        case FAM_LIKE:
            m = policy_glob(pat, mask, plen, req, rlen, false);
            break;
        default:
            m = policy_arn_match(pat, mask, plen, req);
            break;
        }
    }
    buf_free(&text);
    buf_free(&lit);
    return m;
}

static bool
compare(double a, enum cond_cmp cmp, double b)
{
    switch (cmp) {
    case CMP_EQ:
        return a == b;
    case CMP_LT:
        return a < b;
    case CMP_LE:
        return a <= b;
    case CMP_GT:
        return a > b;
    case CMP_GE:
        return a >= b;
    }
    return false;
}

/*
 * Does request value req match any of the condition's policy values?
 * 1 or 0; -1 when req cannot be read as the operator's type (a numeric,
 * date or address operator then is false, negated or not).
 */
static int
any_value(struct eval_state *e, const struct cond *c, const char *req)
{
    struct cidr ip;
    double x = 0;
    bool flag = false;
    size_t i;

    if ((c->op->fam == FAM_NUM && policy_number_parse(req, &x) != 0) ||
        (c->op->fam == FAM_DATE && policy_date_parse(req, &x) != 0) ||
        (c->op->fam == FAM_IP && policy_cidr_parse(req, true, &ip) != 0) ||
        (c->op->fam == FAM_IP && strchr(req, '/') != NULL) ||
        (c->op->fam == FAM_BOOL && !(flag = policy_strcasecmp(req,
            "true") == 0) && policy_strcasecmp(req, "false") != 0))
        return -1;

    for (i = 0; i < c->nvals; i++) {
        const struct cond_value *cv = &c->vals[i];

        switch (c->op->fam) {
        case FAM_NUM: case FAM_DATE:
            if (compare(x, c->op->cmp, cv->num))
                return 1;
            break;
        case FAM_BOOL:
            if (flag == cv->flag)
                return 1;
            break;
        case FAM_IP:
            if (policy_cidr_contains(&cv->net, &ip))
                return 1;
            break;
        case FAM_BIN: case FAM_NULL:
            break;
        default:
            if (text_match(e, c, cv, req))
                return 1;
            break;
        }
    }
    return 0;
}

/* One request value against the condition, negation applied. */
static bool
value_ok(struct eval_state *e, const struct cond *c, const char *req)
{
    int m = any_value(e, c, req);

    if (m < 0)
        return false;
    return c->op->negated ? m == 0 : m == 1;
}

/*
 * One (operator, key) pair (policy.md §4): the missing-key rule,
 * IfExists, Null, and the set qualifiers.  Without a qualifier a
 * positive operator needs one matching value, a negated one needs all.
 */
static bool
cond_true(struct eval_state *e, const struct cond *c)
{
    struct val_iter it = { 0, false, false };
    size_t klen = strlen(c->key), n = 0, i;
    bool any = false, all = true, ok;
    const char *v;

    while ((v = next_value(e, c->key, klen, &it)) != NULL) {
        n++;
        if (c->op->fam == FAM_NULL)
            continue;
        ok = value_ok(e, c, v);
        any = any || ok;
        all = all && ok;
    }

    if (c->op->fam == FAM_NULL) {
        for (i = 0; i < c->nvals; i++)
            if (c->vals[i].flag == (n == 0))
                return true;
        return false;
    }
    if (n == 0)
        return c->if_exists || c->qual == QUAL_ALL ||
            (c->qual == QUAL_NONE && c->op->negated);
    if (c->qual == QUAL_ANY)
        return any;
    if (c->qual == QUAL_ALL)
        return all;
    return c->op->negated ? all : any;
}

/* How the statement's Principal or NotPrincipal names the caller. */
static enum hit
principal_hit(const struct stmt *st, const struct policy_principal *who)
{
    const struct principals *pr = &st->princ;
    enum hit h = HIT_NONE;
    bool anon = who == NULL || who->type == POLICY_PRINCIPAL_ANONYMOUS;
    size_t i;

    if (!st->has_principal)
        return HIT_DIRECT;
    if (pr->any)
        h = HIT_DIRECT;
    for (i = 0; !anon && h == HIT_NONE && i < pr->nusers; i++)
        if (who->type == POLICY_PRINCIPAL_USER && who->arn != NULL &&
            strcmp(who->arn, pr->users[i]) == 0)
            h = HIT_DIRECT;
    for (i = 0; !anon && h == HIT_NONE && i < pr->naccounts; i++)
        if (who->account != NULL && strcmp(who->account,
                                           pr->accounts[i]) == 0)
            h = who->type == POLICY_PRINCIPAL_ROOT ? HIT_DIRECT :
                HIT_ACCOUNT;
    if (st->not_principal)
        return h == HIT_NONE ? HIT_DIRECT : HIT_NONE;
    return h;
}

static bool
action_hit(const struct stmt *st, const char *action)
{
    size_t i;
    bool m = false;

    for (i = 0; action != NULL && !m && i < st->nactions; i++)
        m = policy_action_covers(st->actions[i], action);
    return st->not_action ? !m : m;
}

static bool
resource_hit(struct eval_state *e, const struct stmt *st, const char *res)
{
    struct buf text = BUF_INIT, lit = BUF_INIT;
    const uint8_t *mask;
    const char *pat;
    size_t i, plen;
    bool m = false;

    for (i = 0; res != NULL && !m && i < st->nresources; i++) {
        buf_reset(&text);
        buf_reset(&lit);
        if (expand(e, &st->resources[i], &text, &lit, &pat, &mask, &plen))
            m = policy_glob(pat, mask, plen, res, strlen(res), false);
    }
    buf_free(&text);
    buf_free(&lit);
    return st->not_resource ? !m : m;
}

static enum hit
stmt_hit(struct eval_state *e, const struct stmt *st)
{
    enum hit h = principal_hit(st, e->r->principal);
    size_t i;

    if (h == HIT_NONE || !action_hit(st, e->r->action) ||
        !resource_hit(e, st, e->r->resource))
        return HIT_NONE;
    for (i = 0; i < st->nconds; i++)
        if (!cond_true(e, &st->conds[i]))
            return HIT_NONE;
    return h;
}

/* Run every statement of p (NULL: nothing matches). */
static void
run(const struct policy *p, const struct policy_request *r,
    struct verdict *v)
{
    struct eval_state e = { r, false };
    enum hit h;
    size_t i;

    v->deny = false;
    v->allow = HIT_NONE;
    for (i = 0; p != NULL && i < p->nstmts; i++) {
        h = stmt_hit(&e, &p->stmts[i]);
        if (h != HIT_NONE && p->stmts[i].deny)
            v->deny = true;
        else if (h > v->allow)
            v->allow = h;
    }
    if (e.failed)
        v->deny = true;
}

/*
 * One policy's verdict for one request: DENY if a Deny statement
 * matches (or evaluation ran out of memory), else ALLOW if an Allow
 * matches at any strength, else NO_MATCH.
 */
enum policy_result
policy_eval(const struct policy *p, const struct policy_request *r)
{
    struct verdict v;

    run(p, r, &v);
    if (v.deny)
        return POLICY_DENY;
    return v.allow != HIT_NONE ? POLICY_ALLOW : POLICY_NO_MATCH;
}

/* Any Deny among the identity policies; *allow: any Allow among them. */
static bool
identity_run(const struct policy *const *identity, size_t n,
             const struct policy_request *r, bool *allow)
{
    struct verdict v;
    bool deny = false;
    size_t i;

    *allow = false;
    for (i = 0; identity != NULL && i < n; i++) {
        run(identity[i], r, &v);
        deny = deny || v.deny;
        *allow = *allow || v.allow != HIT_NONE;
    }
    return deny;
}

static bool
is_root(const struct policy_principal *who)
{
    return who != NULL && who->type == POLICY_PRINCIPAL_ROOT;
}

static bool
is_anonymous(const struct policy_principal *who)
{
    return who == NULL || who->type == POLICY_PRINCIPAL_ANONYMOUS;
}

/* The owner's root may always manage the bucket policy (§3.1). */
static bool
lockout_exempt(const struct policy_request *r, bool owner)
{
    static const char *const acts[] = {
        "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
    };
    size_t i;

    for (i = 0; owner && is_root(r->principal) && r->action != NULL &&
         i < 3; i++)
        if (policy_strcasecmp(r->action, acts[i]) == 0)
            return true;
    return false;
}

/*
 * AWS's decision for S3 (policy.md §3); see policy.h.  Same account: an
 * Allow from identity policies or a direct one from the bucket policy
 * suffices.  Another account: the bucket policy must allow (directly or
 * through the caller's account) and, for a user, its identity policies
 * too.  Anonymous callers get only what the bucket policy gives "*".
 */
enum policy_result
policy_decide_s3(const struct policy *bucket_policy,
                 const struct policy *const *identity, size_t nidentity,
                 const char *owner_account, const struct policy_request *r)
{
    const struct policy_principal *who = r->principal;
    bool owner, id_allow, deny;
    struct verdict bp;

    owner = !is_anonymous(who) && who->account != NULL &&
        owner_account != NULL && strcmp(who->account, owner_account) == 0;
    run(bucket_policy, r, &bp);
    deny = identity_run(identity, nidentity, r, &id_allow) || bp.deny;
    if (is_anonymous(who))
        id_allow = false;

    if (deny)
        return lockout_exempt(r, owner) ? POLICY_ALLOW : POLICY_DENY;
    if (owner && is_root(who))
        return POLICY_ALLOW;
    if (is_anonymous(who))
        return bp.allow == HIT_DIRECT ? POLICY_ALLOW : POLICY_DENY;
    if (owner)
        return id_allow || bp.allow == HIT_DIRECT ? POLICY_ALLOW :
            POLICY_DENY;
    if (bp.allow != HIT_NONE && (is_root(who) || id_allow))
        return POLICY_ALLOW;
    return POLICY_DENY;
}

/*
 * AWS's decision for KMS (policy.md §9); see policy.h.  The key policy
 * must allow: directly (naming the caller, or the account for its
 * root), or through the account, which lets identity policies decide;
 * a grant adds an Allow.  Any Deny wins.
 */
enum policy_result
policy_decide_kms(const struct policy *key_policy,
                  const struct policy *const *identity, size_t nidentity,
                  bool grant_allows, const struct policy_request *r)
{
    const struct policy_principal *who = r->principal;
    bool id_allow, deny;
    struct verdict kp;

    run(key_policy, r, &kp);
    deny = identity_run(identity, nidentity, r, &id_allow) || kp.deny;
    if (deny || is_anonymous(who))
        return POLICY_DENY;

    if (key_policy == NULL) {
        if (r->action == NULL || !policy_action_keyless(r->action))
            return POLICY_DENY;
        return is_root(who) || id_allow ? POLICY_ALLOW : POLICY_DENY;
    }
    if (kp.allow == HIT_DIRECT || grant_allows)
        return POLICY_ALLOW;
    if (kp.allow == HIT_ACCOUNT && id_allow)
        return POLICY_ALLOW;
    return POLICY_DENY;
}
