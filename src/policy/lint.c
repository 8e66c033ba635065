/*
 * The policy linter behind `coffer admin policy lint` and the warnings
 * logged at PutBucketPolicy: one plain sentence per statement saying what
 * it does, and the traps policy.md warns about, found on the parsed tree.
 *
 *   - a Deny on the encryption header that also refuses uploads relying
 *     on the bucket default (found by the parser, repeated here);
 *   - a negated operator or an ...IfExists on an s3: key that some of
 *     the statement's actions never carry: for those the condition is
 *     always true, so a Deny refuses them all and an Allow grants them;
 *   - a Resource that no action of its statement can ever match (an
 *     object ARN for s3:ListBucket), or an action that none of the
 *     statement's Resources can.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"

#define LIST_MAX 4              /* names shown before "and N more" */

/* Which kinds of resource one Resource pattern can match. */
struct reach {
    bool service;               /* "*" itself: ListAllMyBuckets, keyless */
    bool bucket;
    bool object;
    bool key;
};

/* The statement's name for messages: its Sid, else its number. */
static void
put_name(struct buf *b, const struct stmt *st, size_t index)
{
    if (st->sid != NULL)
        buf_printf(b, "statement \"%s\"", st->sid);
    else
        buf_printf(b, "statement %zu", index + 1);
}

static bool
only_stars(const char *s)
{
    return s[0] != '\0' && strspn(s, "*") == strlen(s);
}

/* What the Resource pattern raw can match (policy.md §2, §7). */
static struct reach
reach_of(const char *raw)
{
    static const char s3[] = "arn:aws:s3:::", kms[] = "arn:aws:kms:";
    struct reach r = { false, false, false, false };
    const char *rest;
    size_t head;

    if (only_stars(raw)) {
        r.service = r.bucket = r.object = r.key = true;
        return r;
    }
    if (strncmp(raw, s3, sizeof(s3) - 1) == 0) {
        rest = raw + sizeof(s3) - 1;
        r.bucket = strchr(rest, '/') == NULL;
        r.object = strpbrk(rest, "/*?") != NULL;
        return r;
    }
    if (strncmp(raw, kms, sizeof(kms) - 1) == 0) {
        r.key = true;
        return r;
    }
    /* A wildcard before the service ends ("arn:aws:*") reaches anything. */
    head = strcspn(raw, ":");
    head += raw[head] == ':' ? 1 + strcspn(raw + head + 1, ":") : 0;
    head += raw[head] == ':' ? 1 + strcspn(raw + head + 1, ":") : 0;
    if (strcspn(raw, "*?") < head)
        r.bucket = r.object = r.key = true;
    return r;
}

static bool
reaches(const struct reach *r, enum act_kind k)
{
    switch (k) {
    case ACT_SERVICE:
    case ACT_KEYLESS:
        return r->service;
    case ACT_BUCKET:
        return r->bucket;
    case ACT_OBJECT:
        return r->object;
    case ACT_KEY:
        return r->key;
    }
    return false;
}

/* Does the statement's Action (or NotAction) cover the table's action? */
static bool
stmt_has_action(const struct stmt *st, const char *name)
{
    size_t i;

    for (i = 0; i < st->nactions; i++)
        if (policy_action_covers(st->actions[i], name))
            return !st->not_action;
    return st->not_action;
}

/* May a policy of this kind name actions of this service at all? */
static bool
kind_allows(enum policy_kind kind, const char *name)
{
    if (kind == POLICY_BUCKET)
        return strncmp(name, "s3:", 3) == 0;
    if (kind == POLICY_KEY)
        return strncmp(name, "kms:", 4) == 0;
    return true;
}

/*
 * Append "a, b and c" for the first `shown` of `total` names, or
 * "a, b, c, d and N more" when some are left out.
 */
static void
put_names(struct buf *b, const char *const *v, size_t shown, size_t total)
{
    size_t i;

    for (i = 0; i < shown; i++)
        buf_printf(b, "%s%s", i == 0 ? "" :
                   (i + 1 == shown && shown == total) ? " and " : ", ", v[i]);
    if (total > shown)
        buf_printf(b, " and %zu more", total - shown);
}

static void
put_list(struct buf *b, const char *const *v, size_t n)
{
    put_names(b, v, n < LIST_MAX ? n : LIST_MAX, n);
}

/* ---- The sentence ----------------------------------------------------- */

static void
put_principal(struct buf *b, const struct stmt *st)
{
    size_t i, n = st->princ.naccounts + st->princ.nusers;

    if (!st->has_principal) {
        buf_puts(b, "the user this policy is attached to");
        return;
    }
    if (st->not_principal)
        buf_puts(b, "everyone (anonymous callers included) except ");
    if (st->princ.any) {
        buf_puts(b, st->not_principal ? "no one" :
                 "everyone (anonymous callers included)");
        return;
    }
    for (i = 0; i < st->princ.naccounts; i++)
        buf_printf(b, "%saccount %s", i == 0 ? "" : ", ",
                   st->princ.accounts[i]);
    for (i = 0; i < st->princ.nusers; i++)
        buf_printf(b, "%s%s", i + st->princ.naccounts == 0 ? "" : ", ",
                   st->princ.users[i]);
    if (n == 0)
        buf_puts(b, "no one");
}

static void
put_patterns(struct buf *b, const char *const *v, size_t n, bool not,
             const char *all)
{
    if (not)
        buf_printf(b, "%s except ", all);
    put_list(b, v, n);
}

/* The verb phrase of an operator ("is not", "is less than", ...). */
static const char *
op_phrase(const struct cond_op *op)
{
    static const char *const num[] = { "equals", "is less than",
        "is at most", "is greater than", "is at least" };
    static const char *const date[] = { "is", "is before",
        "is at or before", "is after", "is at or after" };

    switch (op->fam) {
    case FAM_STR:
        return op->negated ? "is not" : "is";
    case FAM_ISTR:
        return op->negated ? "is not (ignoring case)" : "is (ignoring case)";
    case FAM_LIKE:
    case FAM_ARN:
        return op->negated ? "does not match" : "matches";
    case FAM_NUM:
        return op->negated ? "does not equal" : num[op->cmp];
    case FAM_DATE:
        return op->negated ? "is not" : date[op->cmp];
    case FAM_BOOL:
        return "is";
    case FAM_BIN:
        return "equals the bytes of";
    case FAM_IP:
        return op->negated ? "is not in" : "is in";
    case FAM_NULL:
        return "is";
    }
    return "?";
}

static void
put_condition(struct buf *b, const struct cond *c)
{
    size_t i;

    if (c->qual == QUAL_ANY)
        buf_puts(b, "any value of ");
    else if (c->qual == QUAL_ALL)
        buf_puts(b, "every value of ");
    buf_puts(b, c->key);
    if (c->op->fam == FAM_NULL) {
        buf_puts(b, c->nvals == 1 && c->vals[0].flag ? " is absent"
                                                     : " is present");
        return;
    }
    buf_printf(b, " %s ", op_phrase(c->op));
    if (c->nvals > 1)
        buf_puts(b, "any of [");
    for (i = 0; i < c->nvals; i++)
        buf_printf(b, "%s\"%s\"", i == 0 ? "" : ", ", c->vals[i].pat.raw);
    if (c->nvals > 1)
        buf_putc(b, ']');
    if (c->qual == QUAL_ALL || c->op->negated || c->if_exists)
        buf_puts(b, " (or the key is absent)");
}

static void
explain(struct buf *b, const struct stmt *st, size_t index)
{
    const char **res = NULL;
    size_t i;

    put_name(b, st, index);
    buf_printf(b, ": %s ", st->deny ? "denies" : "allows");
    put_patterns(b, st->actions, st->nactions, st->not_action,
                 "every action");
    buf_puts(b, " on ");
    if (st->nresources > 0)
        res = malloc(st->nresources * sizeof(*res));
    for (i = 0; res != NULL && i < st->nresources; i++)
        res[i] = st->resources[i].raw;
    if (res != NULL)
        put_patterns(b, res, st->nresources, st->not_resource,
                     "every resource");
    free(res);
    buf_puts(b, " to ");
    put_principal(b, st);
    for (i = 0; i < st->nconds; i++) {
        buf_puts(b, i == 0 ? " when " : " and ");
        put_condition(b, &st->conds[i]);
    }
    buf_puts(b, ".\n");
}

/* ---- The traps -------------------------------------------------------- */

/* The operator as the policy writes it: qualifier, name, IfExists. */
static void
put_operator(struct buf *b, const struct cond *c)
{
    if (c->qual == QUAL_ANY)
        buf_puts(b, "ForAnyValue:");
    else if (c->qual == QUAL_ALL)
        buf_puts(b, "ForAllValues:");
    buf_puts(b, c->op->name);
    if (c->if_exists)
        buf_puts(b, "IfExists");
}

/* Can some Resource (or NotResource) of the statement reach kind k? */
static bool
stmt_reaches(const struct stmt *st, enum act_kind k)
{
    struct reach r;
    size_t i;

    if (st->not_resource)
        return true;
    for (i = 0; i < st->nresources; i++) {
        r = reach_of(st->resources[i].raw);
        if (reaches(&r, k))
            return true;
    }
    return false;
}

static void
warn_start(struct buf *w, const struct stmt *st, size_t index)
{
    buf_puts(w, "warning: ");
    put_name(w, st, index);
    buf_puts(w, ": ");
}

/*
 * A condition that is always true for actions that never carry its key:
 * a negated operator, ...IfExists or ForAllValues on an s3: key.
 */
static size_t
lint_absent_key(const struct policy *p, const struct stmt *st,
                size_t index, const struct cond *c, struct buf *w)
{
    const char *miss[LIST_MAX + 1];
    const struct action_info *tab;
    struct key_info ki;
    size_t i, j, n, nmiss = 0;
    bool carried;

    policy_key_classify(c->key, &ki);
    if (ki.actions == NULL || c->op->fam == FAM_NULL ||
        !(c->op->negated || c->if_exists || c->qual == QUAL_ALL))
        return 0;
    tab = policy_actions(&n);
    for (i = 0; i < n; i++) {
        if (!tab[i].implemented || !kind_allows(p->kind, tab[i].name) ||
            !stmt_has_action(st, tab[i].name) ||
            !stmt_reaches(st, tab[i].kind))
            continue;
        carried = false;
        for (j = 0; ki.actions[j] != NULL && !carried; j++)
            carried = policy_strcasecmp(ki.actions[j], tab[i].name) == 0;
        if (!carried && nmiss++ < LIST_MAX)
            miss[nmiss - 1] = tab[i].name;
    }
    if (nmiss == 0)
        return 0;

    warn_start(w, st, index);
    buf_printf(w, "%s never comes with ", c->key);
    put_names(w, miss, nmiss < LIST_MAX ? nmiss : LIST_MAX, nmiss);
    buf_puts(w, ", so ");
    put_operator(w, c);
    buf_printf(w, " is always true for those and this %s every such "
               "request\n", st->deny ? "Deny refuses" : "Allow grants");
    return 1;
}

/* A Resource no action of the statement reaches, or the reverse. */
static size_t
lint_resources(const struct policy *p, const struct stmt *st,
               size_t index, struct buf *w)
{
    const struct action_info *tab;
    struct reach r;
    size_t i, j, n, nwarn = 0;
    bool any;

    if (st->not_resource || st->not_action)
        return 0;
    tab = policy_actions(&n);
    for (i = 0; i < st->nresources; i++) {
        r = reach_of(st->resources[i].raw);
        any = false;
        for (j = 0; j < n && !any; j++)
            any = tab[j].implemented && kind_allows(p->kind, tab[j].name) &&
                  stmt_has_action(st, tab[j].name) &&
                  reaches(&r, tab[j].kind);
        if (any)
            continue;
        warn_start(w, st, index);
        buf_printf(w, "Resource %s never matches: none of the statement's "
                   "actions acts on such a resource\n",
                   st->resources[i].raw);
        nwarn++;
    }
    for (j = 0; j < n; j++) {
        if (!tab[j].implemented || !kind_allows(p->kind, tab[j].name))
            continue;
        for (i = 0; i < st->nactions; i++)
            if (policy_strcasecmp(st->actions[i], tab[j].name) == 0)
                break;
        if (i == st->nactions)
            continue;           /* only actions named outright */
        any = false;
        for (i = 0; i < st->nresources && !any; i++) {
            r = reach_of(st->resources[i].raw);
            any = reaches(&r, tab[j].kind);
        }
        if (any)
            continue;
        warn_start(w, st, index);
        buf_printf(w, "%s never applies: it acts on %s, and no Resource "
                   "names one\n", tab[j].name,
                   tab[j].kind == ACT_OBJECT ? "objects (arn:aws:s3:::B/KEY)"
                   : tab[j].kind == ACT_BUCKET ? "a bucket (arn:aws:s3:::B)"
                   : tab[j].kind == ACT_KEY ? "a KMS key" : "\"*\"");
        nwarn++;
    }
    return nwarn;
}

/* The parser's warnings, one "warning: " line each. */
static size_t
parse_warnings(const struct policy *p, struct buf *w)
{
    const char *s = p->warnings, *nl;
    size_t n = 0;

    while (s != NULL && *s != '\0') {
        nl = strchr(s, '\n');
        buf_puts(w, "warning: ");
        buf_append(w, s, nl ? (size_t)(nl - s) : strlen(s));
        buf_putc(w, '\n');
        n++;
        s = nl ? nl + 1 : NULL;
    }
    return n;
}

/*
 * Explain and lint a parsed policy; see policy.h.  The sentences go to
 * `text`, the warnings to `warnings` (either may be NULL).
 */
size_t
policy_lint(const struct policy *p, struct buf *text, struct buf *warnings)
{
    struct buf scratch = BUF_INIT;
    struct buf *w = warnings ? warnings : &scratch;
    const struct stmt *st;
    size_t i, j, n;

    n = parse_warnings(p, w);
    for (i = 0; i < p->nstmts; i++) {
        st = &p->stmts[i];
        if (text != NULL)
            explain(text, st, i);
        for (j = 0; j < st->nconds; j++)
            n += lint_absent_key(p, st, i, &st->conds[j], w);
        n += lint_resources(p, st, i, w);
    }
    buf_free(&scratch);
    return n;
}
