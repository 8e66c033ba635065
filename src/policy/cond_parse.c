/*
 * Parsing a statement's Condition block (policy.md §4, §5, §8; ruling
 * 15): operator names with their set qualifiers and IfExists, condition
 * keys against the known-key table, and each value pre-parsed for its
 * operator so evaluation never parses policy text again.
 *
 *   "Condition": { "ForAnyValue:StringLikeIfExists": { "KEY": V | [V] } }
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy_int.h"
#include "util/codec.h"
#include "util/err.h"

#define M_KEY "Policy has an invalid condition key"
#define M_KEY_FIT "Conditions do not apply to combination of actions and " \
    "resources in statement"
#define M_IP "Invalid IP address in Conditions"

/*
 * Split an operator name into qualifier, operator and IfExists.  NULL
 * when it is not one AWS has (ruling 15: refused, naming it).
 */
static const struct cond_op *
parse_op(const char *name, enum cond_qual *qual, bool *if_exists)
{
    const struct cond_op *op;
    size_t len = strlen(name);

    *qual = QUAL_NONE;
    *if_exists = false;
    if (len > 12 && policy_strncaseeq(name, "ForAnyValue:", 12)) {
        *qual = QUAL_ANY;
        name += 12;
        len -= 12;
    } else if (len > 13 && policy_strncaseeq(name, "ForAllValues:", 13)) {
        *qual = QUAL_ALL;
        name += 13;
        len -= 13;
    }
    op = policy_op_find(name, len);
    if (op == NULL && len > 8 &&
        policy_strncaseeq(name + len - 8, "IfExists", 8)) {
        op = policy_op_find(name, len - 8);
        *if_exists = true;
    }
    if (op != NULL && op->fam == FAM_NULL && (*if_exists || *qual))
        return NULL;
    return op;
}

/* May this kind of policy use keys of this service? */
static bool
key_service_ok(enum policy_kind kind, const char *key)
{
    bool s3 = policy_strncaseeq(key, "s3:", 3);
    bool kms = policy_strncaseeq(key, "kms:", 4);

    if (policy_strncaseeq(key, "aws:", 4))
        return true;
    if (kind == POLICY_BUCKET)
        return s3;
    if (kind == POLICY_KEY)
        return kms;
    return s3 || kms;
}

/*
 * In a bucket policy an s3: key that applies to a set of actions must
 * apply to at least one of the statement's actions (s3:prefix means
 * nothing to s3:GetObject).
 */
static bool
key_fits(const struct key_info *ki, const struct stmt *st)
{
    size_t i, j;

    if (ki->actions == NULL || st->not_action)
        return true;
    for (i = 0; i < st->nactions; i++)
        for (j = 0; ki->actions[j] != NULL; j++)
            if (policy_action_covers(st->actions[i], ki->actions[j]))
                return true;
    return false;
}

/* Check one condition key; warnings for keys that are always absent. */
static int
check_key(struct parser *ps, const char *key, enum cond_qual qual,
          const struct stmt *st)
{
    struct key_info ki;

    policy_key_classify(key, &ki);
    if (ki.cls == KEY_UNKNOWN || !key_service_ok(ps->kind, key))
        return err_set(ps->d, CERR_MALFORMED_POLICY, M_KEY ": %s", key);
    if (ki.cls == KEY_UNIMPLEMENTED)
        /* XXX: condition keys AWS has and coffer does not fill are refused
         * with 501 NotImplemented, so a policy using them cannot be
         * stored. */
        return err_set(ps->d, CERR_NOT_IMPLEMENTED,
                       "The condition key %s is not implemented", key);
    if (ki.cls == KEY_UNKNOWN_GLOBAL)
        policy_warn(ps, "condition key unknown to coffer, always absent",
                    key);
    if (ki.single_valued_ctx && qual == QUAL_ALL)
        return err_set(ps->d, CERR_MALFORMED_POLICY,
                       "Could not parse the policy: "
                       "OverlyPermissiveCondition: ForAllValues with the "
                       "single-valued key %s", key);
    if (ps->kind == POLICY_BUCKET && !key_fits(&ki, st))
        return policy_malformed(ps, M_KEY_FIT);
    return 0;
}

/*
 * The text of one JSON condition value (string, number or boolean) in
 * tmp; NULL for any other JSON type.
 */
static const char *
value_text(json_t *v, char *tmp, size_t cap)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(tmp, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(tmp, cap, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(tmp, cap, "%s", json_is_true(v) ? "true" : "false");
    else
        return NULL;
    return tmp;
}

static bool
parse_flag(const char *s, bool *out)
{
    if (policy_strcasecmp(s, "true") == 0)
        *out = true;
    else if (policy_strcasecmp(s, "false") == 0)
        *out = false;
    else
        return false;
    return true;
}

static int
bad_value(struct parser *ps, const struct cond *c, const char *s)
{
    return err_set(ps->d, CERR_MALFORMED_POLICY,
                   "Could not parse the policy: invalid %s value '%s' for "
                   "condition key %s", c->op->name, s, c->key);
}

/* Pre-parse one value s for the operator of c into cv. */
static int
parse_value(struct parser *ps, const struct cond *c, const char *s,
            struct cond_value *cv)
{
    struct arena *a = &ps->p->arena;
    char *copy = arena_strdup(a, s);
    void *bin;
    size_t n;

    if (copy == NULL)
        return CERR_NOMEM;
    cv->pat.raw = copy;
    switch (c->op->fam) {
    case FAM_STR: case FAM_ISTR: case FAM_LIKE: case FAM_ARN:
        if (!ps->p->v2012)
            return 0;
        return policy_pattern_split(a, copy, 0, &cv->pat);
    case FAM_NUM:
        return policy_number_parse(s, &cv->num) == 0 ? 0 :
            bad_value(ps, c, s);
    case FAM_DATE:
        return policy_date_parse(s, &cv->num) == 0 ? 0 :
            bad_value(ps, c, s);
    case FAM_BOOL: case FAM_NULL:
        return parse_flag(s, &cv->flag) ? 0 : bad_value(ps, c, s);
    case FAM_IP:
        return policy_cidr_parse(s, false, &cv->net) == 0 ? 0 :
            policy_malformed(ps, M_IP);
    case FAM_BIN:
        if ((bin = arena_alloc(a, strlen(s) + 1)) == NULL)
            return CERR_NOMEM;
        return base64_decode(s, strlen(s), bin, strlen(s) + 1, &n) == 0 ?
            0 : bad_value(ps, c, s);
    }
    return 0;
}

/* The value list of one key: a scalar or a non-empty array of scalars. */
static int
parse_values(struct parser *ps, json_t *v, struct cond *c)
{
    size_t i, n = json_is_array(v) ? json_array_size(v) : 1;
    char tmp[64];
    const char *s;
    json_t *e;
    int rc;

    if (n == 0 || json_is_object(v) || json_is_null(v))
        return err_set(ps->d, CERR_MALFORMED_POLICY,
                       "Could not parse the policy: no usable value for "
                       "condition key %s", c->key);
    c->vals = arena_alloc(&ps->p->arena, n * sizeof(*c->vals));
    if (c->vals == NULL)
        return CERR_NOMEM;
    for (i = 0; i < n; i++) {
        e = json_is_array(v) ? json_array_get(v, i) : v;
        s = value_text(e, tmp, sizeof(tmp));
        if (s == NULL)
            return err_set(ps->d, CERR_MALFORMED_POLICY,
                           "Could not parse the policy: no usable value "
                           "for condition key %s", c->key);
        if ((rc = parse_value(ps, c, s, &c->vals[i])) != 0)
            return rc;
    }
    c->nvals = n;
    return 0;
}

/* Warnings for well-known traps (policy.md §4, §10). */
static void
warn_traps(struct parser *ps, const struct stmt *st, const struct cond *c)
{
    if (st->deny && c->op->negated && c->qual == QUAL_NONE &&
        policy_strcasecmp(c->key, "s3:x-amz-server-side-encryption") == 0)
        policy_warn(ps, "this Deny also refuses uploads that send no "
                    "encryption header, whatever the bucket default", c->key);
    if (!st->deny && c->qual == QUAL_ALL && !c->if_exists)
        policy_warn(ps, "ForAllValues is true when the key is absent, so "
                    "this Allow also matches requests without it", c->key);
    if (!ps->p->v2012 && c->nvals > 0 && strstr(c->vals[0].pat.raw, "${"))
        policy_warn(ps, "Version is not 2012-10-17, so this ${...} is "
                    "literal text", c->vals[0].pat.raw);
}

/* All keys of one operator. */
static int
parse_op_block(struct parser *ps, const char *opname, json_t *keys,
               struct stmt *st)
{
    const struct cond_op *op;
    enum cond_qual qual;
    bool if_exists;
    const char *k;
    struct cond *c;
    json_t *v;
    int rc;

    op = parse_op(opname, &qual, &if_exists);
    if (op == NULL)
        return err_set(ps->d, CERR_MALFORMED_POLICY,
                       "Invalid Condition type : %s", opname);
    if (!json_is_object(keys))
        return err_set(ps->d, CERR_MALFORMED_POLICY, "Could not parse the "
                       "policy: %s must map keys to values", opname);
    json_object_foreach(keys, k, v) {
        if ((rc = check_key(ps, k, qual, st)) != 0)
            return rc;
        c = &st->conds[st->nconds];
        c->op = op;
        c->qual = qual;
        c->if_exists = if_exists;
        if ((c->key = arena_strdup(&ps->p->arena, k)) == NULL)
            return CERR_NOMEM;
        if ((rc = parse_values(ps, v, c)) != 0)
            return rc;
        warn_traps(ps, st, c);
        st->nconds++;
    }
    return 0;
}

/*
 * Parse a statement's Condition object into st->conds, one entry per
 * (operator, key) pair.  0, CERR_MALFORMED_POLICY, CERR_NOT_IMPLEMENTED
 * or CERR_NOMEM.
 */
int
policy_parse_conditions(struct parser *ps, json_t *v, struct stmt *st)
{
    const char *k;
    json_t *m;
    size_t n = 0;
    int rc;

    if (!json_is_object(v))
        return policy_malformed(ps, "Could not parse the policy: Condition "
                                "must be an object");
    json_object_foreach(v, k, m)
        n += json_is_object(m) ? json_object_size(m) : 0;
    if (n > 0) {
        st->conds = arena_alloc(&ps->p->arena, n * sizeof(*st->conds));
        if (st->conds == NULL)
            return CERR_NOMEM;
    }
    json_object_foreach(v, k, m)
        if ((rc = parse_op_block(ps, k, m, st)) != 0)
            return rc;
    return 0;
}
