/*
 * Parsing and validating a policy document (policy.md §2, §8, §9) into
 * the tree of policy_int.h.  The Condition block is in cond_parse.c.
 *
 * Checks run in the order of policy.md §8's table and the first fault
 * wins: its AWS wording goes into the caller's err_detail.  Where AWS's
 * wording is unknown (unknown members, wrong JSON types) the message
 * starts "Could not parse the policy:", as AWS's own "Statement is
 * empty!" message does, and says what is wrong.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"
#include "util/err.h"

#define M_FIRST_BYTE \
    "Policies must be valid JSON and the first byte must be '{'"
#define M_JSON "This policy contains invalid Json"
#define M_VERSION "The policy must contain a valid version string"
#define M_NO_STMT "Missing required field Statement"
#define M_EMPTY_STMT "Could not parse the policy: Statement is empty!"
#define M_PRINCIPAL "Invalid principal in policy"
#define M_KMS_PRINCIPAL \
    "Policy contains a statement with one or more invalid principals."
#define M_IDENTITY_PRINCIPAL "Policy document should not specify a principal."
#define M_RESOURCE "Policy has invalid resource"
#define M_FIT "Action does not apply to any resource(s) in statement"
#define M_BUCKET_SIZE "Policies cannot exceed 20 KB"
#define M_KEY_SIZE "Policies cannot exceed 32 KB"

#define BUCKET_POLICY_MAX 20480
#define KEY_POLICY_MAX 32768

/* Fail the parse with CERR_MALFORMED_POLICY and message msg. */
int
policy_malformed(struct parser *ps, const char *msg)
{
    return err_set(ps->d, CERR_MALFORMED_POLICY, "%s", msg);
}

/*
 * Add one warning line about the current statement: `what` is the text,
 * `key` (may be NULL) the name it is about.
 */
void
policy_warn(struct parser *ps, const char *what, const char *key)
{
    if (ps->sid != NULL)
        buf_printf(&ps->warn, "statement \"%s\": ", ps->sid);
    else
        buf_printf(&ps->warn, "statement %zu: ", ps->index);
    buf_puts(&ps->warn, what);
    if (key != NULL)
        buf_printf(&ps->warn, ": %s", key);
    buf_putc(&ps->warn, '\n');
}

/* Bytes of the document once whitespace outside strings is removed. */
static size_t
compact_len(const char *s, size_t len)
{
    bool in_str = false, esc = false;
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (in_str) {
            n++;
            if (esc)
                esc = false;
            else if (s[i] == '\\')
                esc = true;
            else if (s[i] == '"')
                in_str = false;
        } else if (strchr(" \t\r\n", s[i]) == NULL || s[i] == '\0') {
            n++;
            in_str = s[i] == '"';
        }
    }
    return n;
}

/*
 * Copy a string or a non-empty array of strings into the arena.  Returns
 * 0, 1 when v has the wrong shape (the caller reports it), or CERR_NOMEM.
 */
static int
strings(struct parser *ps, json_t *v, const char ***out, size_t *n)
{
    size_t i, cnt = json_is_array(v) ? json_array_size(v) : 1;
    json_t *e;

    if (!json_is_string(v) && (!json_is_array(v) || cnt == 0))
        return 1;
    *out = arena_alloc(&ps->p->arena, cnt * sizeof(**out));
    if (*out == NULL)
        return CERR_NOMEM;
    for (i = 0; i < cnt; i++) {
        e = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(e))
            return 1;
        (*out)[i] = arena_strdup(&ps->p->arena, json_string_value(e));
        if ((*out)[i] == NULL)
            return CERR_NOMEM;
    }
    *n = cnt;
    return 0;
}

static bool
all_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return s[n] == '\0' || s[n] == ':';
}

/* A user name or path: IAM's characters, no empty components at the end. */
static bool
user_path_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || s[n - 1] == '/')
        return false;
    for (; *s != '\0'; s++)
        if (strchr("+=,.@_/-", *s) == NULL &&
            !(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
            !(*s >= '0' && *s <= '9'))
            return false;
    return true;
}

/*
 * Classify one "AWS" principal value: 0 "*", 1 an account (id or root
 * ARN; *acct points at its 12 digits), 2 a user ARN, -1 invalid (partial
 * wildcards, roles and other ARNs coffer has no callers for).
 */
static int
aws_principal(const char *s, const char **acct)
{
    static const char iam[] = "arn:aws:iam::";

    if (strcmp(s, "*") == 0)
        return 0;
    if (strlen(s) == 12 && all_digits(s, 12)) {
        *acct = s;
        return 1;
    }
    if (strncmp(s, iam, sizeof(iam) - 1) != 0)
        return -1;
    s += sizeof(iam) - 1;
    if (!all_digits(s, 12) || s[12] != ':')
        return -1;
    *acct = s;
    if (strcmp(s + 13, "root") == 0)
        return 1;
    if (strncmp(s + 13, "user/", 5) == 0 && user_path_ok(s + 18))
        return 2;
    return -1;
}

static int
bad_principal(struct parser *ps)
{
    return policy_malformed(ps, ps->kind == POLICY_KEY ? M_KMS_PRINCIPAL :
                            M_PRINCIPAL);
}

/* Fill pr from the "AWS" member's values. */
static int
principal_aws(struct parser *ps, json_t *v, struct principals *pr)
{
    const char **vals, *acct = NULL;
    size_t n, i;
    int rc;

    if ((rc = strings(ps, v, &vals, &n)) != 0)
        return rc < 0 ? rc : bad_principal(ps);
    pr->accounts = arena_alloc(&ps->p->arena, n * sizeof(char *));
    pr->users = arena_alloc(&ps->p->arena, n * sizeof(char *));
    if (pr->accounts == NULL || pr->users == NULL)
        return CERR_NOMEM;

    for (i = 0; i < n; i++) {
        switch (aws_principal(vals[i], &acct)) {
        case 0:
            pr->any = true;
            break;
        case 1:
            pr->accounts[pr->naccounts] = arena_strndup(&ps->p->arena,
                                                        acct, 12);
            if (pr->accounts[pr->naccounts++] == NULL)
                return CERR_NOMEM;
            break;
        case 2:
            pr->users[pr->nusers++] = vals[i];
            break;
        default:
            return bad_principal(ps);
        }
    }
    return 0;
}

/*
 * "Service" and "Federated" principals: well-formed names that never
 * match a coffer caller (coffer has no service or federated callers).
 */
static int
principal_other(struct parser *ps, json_t *v)
{
    const char **vals;
    size_t n, i;
    int rc;

    if ((rc = strings(ps, v, &vals, &n)) != 0)
        return rc < 0 ? rc : bad_principal(ps);
    for (i = 0; i < n; i++)
        if (vals[i][0] == '\0' || strchr(vals[i], '*') != NULL)
            return bad_principal(ps);
    return 0;
}

/* Parse a Principal or NotPrincipal value into pr. */
static int
parse_principal(struct parser *ps, json_t *v, struct principals *pr)
{
    const char *k;
    json_t *m;
    int rc;

    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "*") != 0)
            return bad_principal(ps);
        pr->any = true;
        return 0;
    }
    if (!json_is_object(v) || json_object_size(v) == 0)
        return bad_principal(ps);

    json_object_foreach(v, k, m) {
        if (strcmp(k, "AWS") == 0)
            rc = principal_aws(ps, m, pr);
        else if (strcmp(k, "Service") == 0 || strcmp(k, "Federated") == 0)
            rc = principal_other(ps, m);
        else if (strcmp(k, "CanonicalUser") == 0)
            /* XXX: canonical user ids are not matched against callers; a
             * policy naming one is refused with 501 NotImplemented. */
            rc = err_set(ps->d, CERR_NOT_IMPLEMENTED,
                         "CanonicalUser principals are not implemented");
        else
            rc = bad_principal(ps);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Does the action pattern (wildcards, any case) cover this action name? */
bool
policy_action_covers(const char *pattern, const char *action)
{
    return policy_glob(pattern, NULL, strlen(pattern), action,
                       strlen(action), true);
}

/* May a statement of this policy kind use actions of this service? */
static bool
service_allowed(enum policy_kind kind, const char *a)
{
    bool s3 = policy_strncaseeq(a, "s3:", 3);
    bool kms = policy_strncaseeq(a, "kms:", 4);

    if (kind == POLICY_BUCKET)
        return s3;
    if (kind == POLICY_KEY)
        return kms;
    return s3 || kms;
}

/*
 * Validate one action: "*", or SERVICE:NAME where NAME is a known action
 * or a wildcard pattern covering at least one.  AWS actions coffer does
 * not serve are refused with CERR_NOT_IMPLEMENTED (ruling 15).
 */
static int
check_action(struct parser *ps, const char *a)
{
    const struct action_info *tab;
    size_t n, i;

    if (strcmp(a, "*") == 0)
        return 0;
    if (!service_allowed(ps->kind, a) || strchr(a, ':')[1] == '\0')
        goto bad;
    tab = policy_actions(&n);
    if (strpbrk(a, "*?") != NULL) {
        for (i = 0; i < n; i++)
            if (policy_action_covers(a, tab[i].name))
                return 0;
        goto bad;
    }
    for (i = 0; i < n; i++) {
        if (policy_strcasecmp(a, tab[i].name) != 0)
            continue;
        if (tab[i].implemented)
            return 0;
        /* XXX: AWS actions for operations coffer does not serve are refused
         * with 501 NotImplemented instead of being stored. */
        return err_set(ps->d, CERR_NOT_IMPLEMENTED,
                       "The action %s is not implemented", tab[i].name);
    }
bad:
    return err_set(ps->d, CERR_MALFORMED_POLICY,
                   "Policy has invalid action: %s", a);
}

static int
parse_actions(struct parser *ps, json_t *v, struct stmt *st)
{
    size_t i;
    int rc;

    rc = strings(ps, v, &st->actions, &st->nactions);
    if (rc != 0)
        return rc < 0 ? rc : policy_malformed(ps,
            "Could not parse the policy: Action must be a string or a "
            "non-empty list of strings");
    for (i = 0; i < st->nactions; i++)
        if ((rc = check_action(ps, st->actions[i])) != 0)
            return rc;
    return 0;
}

/* Offset just past the fifth colon of an ARN, or 0 when there is none. */
static size_t
after_fifth_colon(const char *s)
{
    const char *p = s;
    int n;

    for (n = 0; n < 5; n++) {
        p = strchr(p, ':');
        if (p == NULL)
            return 0;
        p++;
    }
    return (size_t)(p - s);
}

/* Is r a resource this kind of policy may name? */
static bool
resource_ok(struct parser *ps, const char *r)
{
    size_t n;

    switch (ps->kind) {
    case POLICY_KEY:
        return strcmp(r, "*") == 0;
    case POLICY_IDENTITY:
        return strcmp(r, "*") == 0 ||
            (strncmp(r, "arn:", 4) == 0 && after_fifth_colon(r) != 0);
    case POLICY_BUCKET:
        break;
    }
    if (ps->bucket == NULL || strncmp(r, "arn:aws:s3:::", 13) != 0)
        return false;
    n = strlen(ps->bucket);
    return strncmp(r + 13, ps->bucket, n) == 0 &&
        (r[13 + n] == '\0' || r[13 + n] == '/');
}

static int
parse_resources(struct parser *ps, json_t *v, struct stmt *st)
{
    const char **vals;
    size_t n, i, from;
    int rc;

    rc = strings(ps, v, &vals, &n);
    if (rc != 0)
        return rc < 0 ? rc : policy_malformed(ps, M_RESOURCE);
    if (ps->kind == POLICY_KEY && st->not_resource)
        return policy_malformed(ps, M_RESOURCE);
    st->resources = arena_alloc(&ps->p->arena, n * sizeof(struct pattern));
    if (st->resources == NULL)
        return CERR_NOMEM;

    for (i = 0; i < n; i++) {
        if (!resource_ok(ps, vals[i]))
            return policy_malformed(ps, M_RESOURCE);
        from = ps->p->v2012 ? after_fifth_colon(vals[i]) : 0;
        rc = policy_pattern_split(&ps->p->arena, vals[i],
                                  from != 0 ? from : strlen(vals[i]),
                                  &st->resources[i]);
        if (rc != 0)
            return rc;
        if (!ps->p->v2012 && strstr(vals[i], "${") != NULL)
            policy_warn(ps, "Version is not 2012-10-17, so this ${...} "
                        "is literal text", vals[i]);
    }
    st->nresources = n;
    return 0;
}

/* Does some action of the table that `pattern` covers have this kind? */
static bool
action_fits(const char *pattern, bool bucket, bool object)
{
    const struct action_info *tab;
    size_t n, i;

    if (strcmp(pattern, "*") == 0)
        return true;
    tab = policy_actions(&n);
    for (i = 0; i < n; i++)
        if (policy_action_covers(pattern, tab[i].name) &&
            ((bucket && tab[i].kind == ACT_BUCKET) ||
             (object && tab[i].kind == ACT_OBJECT)))
            return true;
    return false;
}

/*
 * Bucket policies: every action must apply to at least one of the
 * statement's resources (s3:PutObject on the bucket ARN does not).
 * NotAction and NotResource statements are not checked.
 */
static int
check_fit(struct parser *ps, const struct stmt *st)
{
    bool bucket = false, object = false;
    size_t i, n;

    if (ps->kind != POLICY_BUCKET || st->not_action || st->not_resource)
        return 0;
    n = strlen(ps->bucket);
    for (i = 0; i < st->nresources; i++) {
        if (st->resources[i].raw[13 + n] == '/')
            object = true;
        else
            bucket = true;
    }
    for (i = 0; i < st->nactions; i++)
        if (!action_fits(st->actions[i], bucket, object))
            return policy_malformed(ps, M_FIT);
    return 0;
}

static const char *const stmt_members[] = {
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
    "Resource", "NotResource", "Condition", NULL,
};

/* Unknown members and an element together with its Not form. */
static int
check_members(struct parser *ps, json_t *obj)
{
    static const char *const pairs[][2] = {
        { "Principal", "NotPrincipal" }, { "Action", "NotAction" },
        { "Resource", "NotResource" },
    };
    const char *k;
    json_t *v;
    size_t i;

    json_object_foreach(obj, k, v) {
        for (i = 0; stmt_members[i] != NULL; i++)
            if (strcmp(k, stmt_members[i]) == 0)
                break;
        if (stmt_members[i] == NULL)
            return err_set(ps->d, CERR_MALFORMED_POLICY,
                           "Could not parse the policy: Unknown field %s", k);
    }
    for (i = 0; i < 3; i++)
        if (json_object_get(obj, pairs[i][0]) != NULL &&
            json_object_get(obj, pairs[i][1]) != NULL)
            return err_set(ps->d, CERR_MALFORMED_POLICY,
                           "Could not parse the policy: Statement has both "
                           "%s and %s", pairs[i][0], pairs[i][1]);
    return 0;
}

/* Required members: Effect, Principal (resource policies), Action, ... */
static int
check_required(struct parser *ps, json_t *obj)
{
    bool has_princ = json_object_get(obj, "Principal") != NULL ||
        json_object_get(obj, "NotPrincipal") != NULL;

    if (json_object_get(obj, "Effect") == NULL)
        return policy_malformed(ps, "Missing required field Effect");
    if (ps->kind != POLICY_IDENTITY && !has_princ)
        return policy_malformed(ps, "Missing required field Principal");
    if (json_object_get(obj, "Action") == NULL &&
        json_object_get(obj, "NotAction") == NULL)
        return policy_malformed(ps, "Missing required field Action");
    if (json_object_get(obj, "Resource") == NULL &&
        json_object_get(obj, "NotResource") == NULL)
        return policy_malformed(ps, "Missing required field Resource");
    if (ps->kind == POLICY_IDENTITY && has_princ)
        return policy_malformed(ps, M_IDENTITY_PRINCIPAL);
    return 0;
}

/* Sid and Effect. */
static int
parse_head(struct parser *ps, json_t *obj, struct stmt *st)
{
    json_t *sid = json_object_get(obj, "Sid");
    json_t *eff = json_object_get(obj, "Effect");
    const char *e;

    if (sid != NULL) {
        if (!json_is_string(sid))
            return policy_malformed(ps,
                "Could not parse the policy: Sid must be a string");
        st->sid = arena_strdup(&ps->p->arena, json_string_value(sid));
        if (st->sid == NULL)
            return CERR_NOMEM;
        ps->sid = st->sid;
    }
    if (!json_is_string(eff))
        return policy_malformed(ps, "Invalid effect: (not a string)");
    e = json_string_value(eff);
    if (strcmp(e, "Allow") != 0 && strcmp(e, "Deny") != 0)
        return err_set(ps->d, CERR_MALFORMED_POLICY, "Invalid effect: %s", e);
    st->deny = e[0] == 'D';
    return 0;
}

/* Principal, Action and Resource, in either their plain or Not form. */
static int
parse_body(struct parser *ps, json_t *obj, struct stmt *st)
{
    json_t *v;
    int rc;

    v = json_object_get(obj, "Principal");
    if (v == NULL && (v = json_object_get(obj, "NotPrincipal")) != NULL)
        st->not_principal = true;
    st->has_principal = v != NULL;
    if (v != NULL && (rc = parse_principal(ps, v, &st->princ)) != 0)
        return rc;
    if (st->not_principal && !st->deny)
        policy_warn(ps, "Allow with NotPrincipal grants everyone not "
                    "listed, anonymous callers included", NULL);

    v = json_object_get(obj, "Action");
    if (v == NULL && (v = json_object_get(obj, "NotAction")) != NULL)
        st->not_action = true;
    if ((rc = parse_actions(ps, v, st)) != 0)
        return rc;

    v = json_object_get(obj, "Resource");
    if (v == NULL && (v = json_object_get(obj, "NotResource")) != NULL)
        st->not_resource = true;
    if ((rc = parse_resources(ps, v, st)) != 0)
        return rc;
    return check_fit(ps, st);
}

static int
parse_stmt(struct parser *ps, json_t *obj, struct stmt *st)
{
    json_t *cond;
    int rc;

    ps->sid = NULL;
    if (!json_is_object(obj))
        return policy_malformed(ps,
            "Could not parse the policy: Statement must be an object");
    if ((rc = check_members(ps, obj)) != 0 ||
        (rc = check_required(ps, obj)) != 0 ||
        (rc = parse_head(ps, obj, st)) != 0 ||
        (rc = parse_body(ps, obj, st)) != 0)
        return rc;
    cond = json_object_get(obj, "Condition");
    if (cond == NULL)
        return 0;
    return policy_parse_conditions(ps, cond, st);
}

/* Version, Id and the shape of Statement. */
static int
parse_top(struct parser *ps, json_t *root, json_t **stmts)
{
    json_t *ver = json_object_get(root, "Version");
    json_t *id = json_object_get(root, "Id");
    const char *k;
    json_t *v;

    if (ver != NULL) {
        if (!json_is_string(ver) ||
            (strcmp(json_string_value(ver), "2012-10-17") != 0 &&
             strcmp(json_string_value(ver), "2008-10-17") != 0))
            return policy_malformed(ps, M_VERSION);
        ps->p->v2012 = strcmp(json_string_value(ver), "2012-10-17") == 0;
    }
    *stmts = json_object_get(root, "Statement");
    if (*stmts == NULL)
        return policy_malformed(ps, M_NO_STMT);
    if (json_is_array(*stmts) && json_array_size(*stmts) == 0)
        return policy_malformed(ps, M_EMPTY_STMT);
    if (!json_is_array(*stmts) && !json_is_object(*stmts))
        return policy_malformed(ps, "Could not parse the policy: "
                                "Statement must be an object or a list");
    json_object_foreach(root, k, v)
        if (strcmp(k, "Version") != 0 && strcmp(k, "Id") != 0 &&
            strcmp(k, "Statement") != 0)
            return err_set(ps->d, CERR_MALFORMED_POLICY,
                           "Could not parse the policy: Unknown field %s", k);
    if (id != NULL && !json_is_string(id))
        return policy_malformed(ps,
            "Could not parse the policy: Id must be a string");
    return 0;
}

static int
parse_document(struct parser *ps, json_t *root)
{
    json_t *stmts = NULL;
    size_t i, n;
    int rc;

    if ((rc = parse_top(ps, root, &stmts)) != 0)
        return rc;
    n = json_is_array(stmts) ? json_array_size(stmts) : 1;
    ps->p->stmts = arena_alloc(&ps->p->arena, n * sizeof(struct stmt));
    if (ps->p->stmts == NULL)
        return CERR_NOMEM;
    for (i = 0; i < n; i++) {
        ps->index = i + 1;
        rc = parse_stmt(ps, json_is_array(stmts) ?
                        json_array_get(stmts, i) : stmts, &ps->p->stmts[i]);
        if (rc != 0)
            return rc;
    }
    ps->p->nstmts = n;
    return 0;
}

/* The checks that need no JSON: first byte and size (policy.md §8, §9). */
static int
check_text(struct parser *ps, const char *text, size_t len)
{
    size_t i = 0;

    while (i < len && strchr(" \t\r\n", text[i]) != NULL && text[i] != '\0')
        i++;
    if (i == len || text[i] != '{')
        return policy_malformed(ps, M_FIRST_BYTE);
    if (ps->kind == POLICY_BUCKET &&
        compact_len(text, len) > BUCKET_POLICY_MAX)
        return policy_malformed(ps, M_BUCKET_SIZE);
    if (ps->kind == POLICY_KEY && len > KEY_POLICY_MAX)
        return policy_malformed(ps, M_KEY_SIZE);
    return 0;
}

/*
 * Parse and validate a policy; see policy.h.  Leading whitespace before
 * the '{' is tolerated (a file written by an editor may start with a
 * blank line); everything after the first byte is JSON's business.
 */
int
policy_parse(const char *text, size_t len, enum policy_kind kind,
             const char *bucket, struct policy **out, struct err_detail *d)
{
    struct parser ps = { NULL, kind, bucket, d, BUF_INIT, 0, NULL };
    json_error_t jerr;
    json_t *root;
    int rc;

    *out = NULL;
    if (kind == POLICY_BUCKET && bucket == NULL)
        return err_set(d, CERR_INTERNAL, "bucket policy without a bucket");
    if ((rc = check_text(&ps, text, len)) != 0)
        return rc;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return policy_malformed(&ps, M_JSON);

    ps.p = calloc(1, sizeof(*ps.p));
    if (ps.p == NULL) {
        json_decref(root);
        return CERR_NOMEM;
    }
    ps.p->kind = kind;
    rc = parse_document(&ps, root);
    json_decref(root);
    if (rc == 0 && ps.warn.len > 0)     /* without the last newline */
        ps.p->warnings = arena_strndup(&ps.p->arena, ps.warn.data,
                                       ps.warn.len - 1);
    if (rc == 0 && (ps.p->arena.failed || buf_failed(&ps.warn)))
        rc = CERR_NOMEM;
    buf_free(&ps.warn);
    if (rc != 0) {
        policy_free(ps.p);
        return rc;
    }
    *out = ps.p;
    return 0;
}

/* Free a parsed policy; NULL is allowed. */
void
policy_free(struct policy *p)
{
    if (p == NULL)
        return;
    arena_free(&p->arena);
    free(p);
}

/*
 * The warnings gathered while parsing, as one malloc'd string (the caller
 * frees it), or NULL when there are none.
 */
char *
policy_warnings(const struct policy *p)
{
    if (p == NULL || p->warnings == NULL)
        return NULL;
    return strdup(p->warnings);
}
