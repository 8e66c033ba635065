/*
 * The grant operations: CreateGrant, ListGrants, ListRetirableGrants,
 * RetireGrant and RevokeGrant (spec/kms-api.md §5 "Grants").  What a
 * grant allows once it exists is decided in authz.c with grants.c.
 *
 * Who may do what:
 *   CreateGrant   kms:CreateGrant from a policy, or a grant that allows
 *                 CreateGrant; through a grant, the new grant may allow
 *                 no more operations and no wider contexts than that one
 *   ListGrants, RevokeGrant   kms:ListGrants / kms:RevokeGrant
 *   ListRetirableGrants       kms:ListRetirableGrants (identity only)
 *   RetireGrant   the grant's retiring principal, its grantee when it
 *                 allows RetireGrant, the issuing account, or a policy
 *                 that allows kms:RetireGrant on the key
 */
#include "kms/kms_int.h"
#include "crypto/crypto.h"
#include "util/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VE "1 validation error detected: "
#define PRINCIPAL_PATTERN "^[\\w+=,.@:/-]+$"
#define NAME_PATTERN "^[a-zA-Z0-9:/_-]+$"

/* ---- Members --------------------------------------------------------- */

static bool
principal_ok(const char *s)
{
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && strchr("_+=,.@:/-", *s) == NULL)
            return false;
    return true;
}

static bool
name_ok(const char *s)
{
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && strchr(":/_-", *s) == NULL)
            return false;
    return true;
}

/* A principal member: 1-256 characters of PRINCIPAL_PATTERN. */
static int
arg_principal(struct kms_req *r, const char *name, const char *wire,
              bool required, const char **out)
{
    int rc;

    rc = kms_arg_str(r, name, wire, required, 1, 256, out);
    if (rc == 0 && *out != NULL && !principal_ok(*out))
        rc = kms_validation(r->d, VE "Value '%s' at '%s' failed to satisfy "
                            "constraint: Member must satisfy regular "
                            "expression pattern: " PRINCIPAL_PATTERN, *out,
                            wire);
    return rc;
}

/* Operations*: a non-empty list of grant operations, as a bit set. */
static int
arg_operations(struct kms_req *r, uint32_t *ops)
{
    json_t *arr = json_object_get(r->in, "Operations");
    uint32_t bit;
    size_t i;
    int rc;

    *ops = 0;
    if (arr == NULL || json_is_null(arr))
        return kms_validation(r->d, VE "Value null at 'operations' failed "
                              "to satisfy constraint: Member must not be "
                              "null");
    if (!json_is_array(arr))
        return err_set(r->d, CERR_KMS_SERIALIZATION, "Operations must be a "
                       "list of strings");
    if (json_array_size(arr) == 0)
        return kms_validation(r->d, "Operations must name at least one "
                              "operation");
    for (i = 0; i < json_array_size(arr); i++) {
        json_t *s = json_array_get(arr, i);

        if (!json_is_string(s))
            return err_set(r->d, CERR_KMS_SERIALIZATION, "Operations must "
                           "be a list of strings");
        rc = kms_grant_op_parse(json_string_value(s), &bit, r->d);
        if (rc != 0)
            return rc;
        *ops |= bit;
    }
    return 0;
}

/* Name: 1-256 characters of NAME_PATTERN; "" when absent. */
static int
arg_name(struct kms_req *r, const char **out)
{
    int rc;

    *out = NULL;
    rc = kms_arg_str(r, "Name", "name", false, 1, 256, out);
    if (rc == 0 && *out != NULL && !name_ok(*out))
        rc = kms_validation(r->d, VE "Value '%s' at 'name' failed to "
                            "satisfy constraint: Member must satisfy "
                            "regular expression pattern: " NAME_PATTERN,
                            *out);
    if (rc == 0 && *out == NULL)
        *out = "";
    return rc;
}

/* GrantId: well-formed, else InvalidGrantIdException. */
static int
arg_grant_id(struct kms_req *r, bool required, const char **out)
{
    int rc;

    *out = NULL;
    rc = kms_arg_str(r, "GrantId", "grantId", required, 1, 128, out);
    if (rc == 0 && *out != NULL && !kms_grant_id_valid(*out))
        rc = err_set(r->d, CERR_KMS_INVALID_GRANT_ID, "Invalid grant ID "
                     "%s: a grant ID is 64 lowercase hexadecimal digits",
                     *out);
    return rc;
}

/* ---- Replies ----------------------------------------------------------- */

/* One GrantListEntry. */
static json_t *
grant_json(struct kms_req *r, const struct meta_kms_grant *g)
{
    char arn[KMS_ARN_MAX];
    json_t *o, *cons = NULL;
    int rc;

    kms_key_arn(r->k, g->key_id, arn);
    o = json_pack("{s:s, s:s}", "KeyId", arn, "GrantId", g->grant_id);
    if (o == NULL)
        return NULL;
    rc = g->name[0] ? kms_json_str(o, "Name", g->name) : 0;
    rc = rc ? rc : kms_json_time(o, "CreationDate", g->created_ms);
    rc = rc ? rc : kms_json_str(o, "GranteePrincipal", g->grantee);
    if (rc == 0 && g->retiring[0])
        rc = kms_json_str(o, "RetiringPrincipal", g->retiring);
    rc = rc ? rc : kms_json_str(o, "IssuingAccount", g->issuer);
    if (rc == 0 && json_object_set_new(o, "Operations",
                                       kms_grant_ops_json(g->ops)) != 0)
        rc = CERR_NOMEM;
    if (rc == 0 && g->constraints != NULL &&
        ((cons = json_loads(g->constraints, 0, NULL)) == NULL ||
         json_object_set_new(o, "Constraints", cons) != 0))
        rc = CERR_NOMEM;
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Grants, Truncated and NextMarker from a listing of limit + 1 rows. */
static int
put_grants(struct kms_req *r, const struct meta_kms_grant *v, size_t n,
           size_t limit)
{
    json_t *arr = json_array();
    size_t i;
    int rc = 0;

    if (arr == NULL || json_object_set_new(r->res, "Grants", arr) != 0)
        return CERR_NOMEM;
    for (i = 0; i < n && i < limit && rc == 0; i++)
        if (json_array_append_new(arr, grant_json(r, &v[i])) != 0)
            rc = CERR_NOMEM;
    if (rc == 0 && json_object_set_new(r->res, "Truncated",
                                       json_boolean(n > limit)) != 0)
        rc = CERR_NOMEM;
    if (rc == 0 && n > limit)
        rc = kms_json_str(r->res, "NextMarker", v[limit - 1].grant_id);
    return rc;
}

/* ---- CreateGrant ----------------------------------------------------- */

/* The new grant, as parsed. */
struct new_grant {
    struct meta_kms_grant g;
    json_t *cons;
};

/*
 * Through a grant, a caller may only hand on what that grant allows: some
 * grant of the caller's with CreateGrant must cover the new one (a grant
 * to its account counts when that is what let it call CreateGrant).
 */
static int
check_delegation(struct kms_req *r, const struct new_grant *ng)
{
    struct meta_kms_grant *v = NULL;
    size_t n = 0, i;
    bool ok = false;
    json_t *pc;
    int rc;

    rc = kms_grants_held(r, ng->g.key_id,
                         r->c->user_name == NULL || r->by_account_grant,
                         &v, &n);
    for (i = 0; rc == 0 && i < n && !ok; i++) {
        if (!(v[i].ops & KMS_GRANT_CREATE_GRANT) ||
            (ng->g.ops & ~v[i].ops) != 0)
            continue;
        pc = v[i].constraints ? json_loads(v[i].constraints, 0, NULL) : NULL;
        ok = (v[i].constraints == NULL || pc != NULL) &&
             kms_grant_constraints_within(pc, ng->cons);
        json_decref(pc);
    }
    meta_kms_grant_list_free(v, n);
    if (rc == 0 && !ok)
        rc = err_set(r->d, CERR_KMS_ACCESS_DENIED, "User: %s is not "
                     "authorized to perform: kms:CreateGrant on resource: "
                     "%s with broader operations or constraints than its "
                     "own grant allows", r->c->principal_arn, r->arn);
    return rc;
}

/* Parse every member of CreateGrant but KeyId into ng. */
static int
parse_grant(struct kms_req *r, struct new_grant *ng)
{
    const char *grantee = NULL, *retiring = NULL, *name = NULL;
    int rc;

    rc = arg_principal(r, "GranteePrincipal", "granteePrincipal", true,
                       &grantee);
    rc = rc ? rc : arg_principal(r, "RetiringPrincipal",
                                 "retiringPrincipal", false, &retiring);
    rc = rc ? rc : arg_operations(r, &ng->g.ops);
    rc = rc ? rc : kms_arg_constraints(r, &ng->cons);
    rc = rc ? rc : arg_name(r, &name);
    if (rc != 0)
        return rc;
    snprintf(ng->g.grantee, sizeof(ng->g.grantee), "%s", grantee);
    snprintf(ng->g.retiring, sizeof(ng->g.retiring), "%s",
             retiring ? retiring : "");
    snprintf(ng->g.name, sizeof(ng->g.name), "%s", name);
    snprintf(ng->g.issuer, sizeof(ng->g.issuer), "arn:aws:iam::%s:root",
             r->k->account);
    if (ng->cons != NULL &&
        (ng->g.constraints = json_dumps(ng->cons, JSON_COMPACT |
                                        JSON_SORT_KEYS)) == NULL)
        return CERR_NOMEM;
    return 0;
}

/* Same grantee, retiring principal, operations and constraints? */
static bool
same_grant(const struct meta_kms_grant *a, const struct new_grant *b)
{
    json_t *c;
    bool eq;

    if (strcmp(a->grantee, b->g.grantee) != 0 ||
        strcmp(a->retiring, b->g.retiring) != 0 || a->ops != b->g.ops)
        return false;
    if (a->constraints == NULL || b->cons == NULL)
        return a->constraints == NULL && b->cons == NULL;
    c = json_loads(a->constraints, 0, NULL);
    eq = c != NULL && json_equal(c, b->cons);
    json_decref(c);
    return eq;
}

/*
 * A named grant is idempotent: the same name and parameters on the same
 * key give the existing grant (with a new token).  *id is set to it, or
 * left empty when there is none.
 */
static int
find_same(struct kms_req *r, const struct new_grant *ng, char id[65])
{
    struct meta_kms_grant *v = NULL;
    size_t n = 0, i;
    int rc;

    id[0] = '\0';
    if (ng->g.name[0] == '\0')
        return 0;
    rc = meta_kms_grant_list(r->k->meta, ng->g.key_id, NULL, NULL,
                             ng->g.name, NULL, SIZE_MAX, &v, &n);
    for (i = 0; rc == 0 && i < n && id[0] == '\0'; i++)
        if (same_grant(&v[i], ng))
            memcpy(id, v[i].grant_id, 65);
    meta_kms_grant_list_free(v, n);
    return rc;
}

/* Store the grant (or a new token of its twin) and reply. */
static int
issue(struct kms_req *r, struct new_grant *ng)
{
    char token[KMS_GRANT_TOKEN_LEN + 1], id[65];
    uint8_t hash[32];
    int rc;

    rc = find_same(r, ng, id);
    rc = rc ? rc : kms_grant_token_new(token, hash);
    if (rc == 0 && id[0] != '\0') {
        rc = meta_kms_grant_token_add(r->k->meta, id, hash);
    } else if (rc == 0) {
        rc = kms_grant_id_new(ng->g.grant_id);
        ng->g.created_ms = time_now_ms();
        rc = rc ? rc : meta_kms_grant_create(r->k->meta, &ng->g, hash);
        memcpy(id, ng->g.grant_id, sizeof(id));
    }
    rc = rc ? rc : kms_json_str(r->res, "GrantToken", token);
    rc = rc ? rc : kms_json_str(r->res, "GrantId", id);
    crypto_wipe(token, sizeof(token));
    return rc;
}

/* CreateGrant: KeyId*, GranteePrincipal*, Operations*, and the rest. */
int
kms_op_create_grant(struct kms_req *r)
{
    struct meta_kms_key key;
    struct new_grant ng;
    const char *ref = NULL;
    int rc;

    memset(&key, 0, sizeof(key));
    memset(&ng, 0, sizeof(ng));
    rc = kms_arg_str(r, "KeyId", "keyId", true, 1, 2048, &ref);
    rc = rc ? rc : kms_key_find(r, ref, false, &key);
    rc = rc ? rc : parse_grant(r, &ng);
    if (rc == 0)
        memcpy(ng.g.key_id, key.key_id, sizeof(ng.g.key_id));
    rc = rc ? rc : kms_authorize(r, &key, NULL, "kms:CreateGrant", NULL);
    if (rc == 0 && r->by_grant)
        rc = check_delegation(r, &ng);
    rc = rc ? rc : kms_key_usable(r->k, &key, r->d);
    rc = rc ? rc : issue(r, &ng);
    json_decref(ng.cons);
    meta_kms_grant_clear(&ng.g);
    meta_kms_key_clear(&key);
    return rc;
}

/* ---- Listings -------------------------------------------------------- */

/* A listing of the one grant gid when it is on key_id (and grantee's). */
static int
one_grant(struct kms_req *r, const char *key_id, const char *gid,
          const char *grantee, struct meta_kms_grant **v, size_t *n)
{
    int rc;

    *v = calloc(1, sizeof(**v));
    if (*v == NULL)
        return CERR_NOMEM;
    rc = meta_kms_grant_get(r->k->meta, gid, *v);
    if (rc == 0 && strcmp((*v)->key_id, key_id) == 0 &&
        (grantee == NULL || strcmp((*v)->grantee, grantee) == 0))
        *n = 1;
    else
        meta_kms_grant_clear(*v);
    return rc == CERR_KMS_NOT_FOUND ? 0 : rc;
}

/* ListGrants: KeyId*, Limit (1-100, 50), Marker, GrantId, Grantee. */
int
kms_op_list_grants(struct kms_req *r)
{
    struct meta_kms_grant *v = NULL;
    struct meta_kms_key key;
    const char *ref = NULL, *marker = NULL, *gid = NULL, *grantee = NULL;
    size_t n = 0;
    int64_t limit;
    int rc;

    memset(&key, 0, sizeof(key));
    rc = kms_arg_str(r, "KeyId", "keyId", true, 1, 2048, &ref);
    rc = rc ? rc : kms_arg_limit(r, 100, 50, &limit);
    rc = rc ? rc : kms_arg_str(r, "Marker", "marker", false, 1, 1024,
                               &marker);
    rc = rc ? rc : arg_grant_id(r, false, &gid);
    rc = rc ? rc : arg_principal(r, "GranteePrincipal", "granteePrincipal",
                                 false, &grantee);
    rc = rc ? rc : kms_key_find(r, ref, false, &key);
    rc = rc ? rc : kms_authorize(r, &key, NULL, "kms:ListGrants", NULL);
    if (rc == 0 && gid != NULL)
        rc = one_grant(r, key.key_id, gid, grantee, &v, &n);
    else if (rc == 0)
        rc = meta_kms_grant_list(r->k->meta, key.key_id, grantee, NULL,
                                 NULL, marker, (size_t)limit + 1, &v, &n);
    if (rc == CERR_KMS_INVALID_MARKER)
        rc = err_set(r->d, rc, "Invalid marker %s", marker);
    rc = rc ? rc : put_grants(r, v, n, (size_t)limit);
    meta_kms_grant_list_free(v, n);
    meta_kms_key_clear(&key);
    return rc;
}

/* ListRetirableGrants: RetiringPrincipal*, Limit, Marker; every key. */
int
kms_op_list_retirable_grants(struct kms_req *r)
{
    struct meta_kms_grant *v = NULL;
    const char *who = NULL, *marker = NULL;
    size_t n = 0;
    int64_t limit;
    int rc;

    rc = arg_principal(r, "RetiringPrincipal", "retiringPrincipal", true,
                       &who);
    rc = rc ? rc : kms_arg_limit(r, 100, 50, &limit);
    rc = rc ? rc : kms_arg_str(r, "Marker", "marker", false, 1, 1024,
                               &marker);
    rc = rc ? rc : kms_authorize(r, NULL, NULL, "kms:ListRetirableGrants",
                                 NULL);
    rc = rc ? rc : kms_keys_expire(r->k);  /* no grant of a gone key */
    rc = rc ? rc : meta_kms_grant_list(r->k->meta, NULL, NULL, who, NULL,
                                       marker, (size_t)limit + 1, &v, &n);
    if (rc == CERR_KMS_INVALID_MARKER)
        rc = err_set(r->d, rc, "Invalid marker %s", marker);
    rc = rc ? rc : put_grants(r, v, n, (size_t)limit);
    meta_kms_grant_list_free(v, n);
    return rc;
}

/* ---- Retire and revoke ----------------------------------------------- */

static int
grant_not_found(struct kms_req *r, const char *id)
{
    return err_set(r->d, CERR_KMS_NOT_FOUND, "Grant %s does not exist on "
                   "key %s", id, r->arn);
}

/* May the caller retire g?  See the top of the file. */
static int
may_retire(struct kms_req *r, const struct meta_kms_grant *g)
{
    const char *who = r->c != NULL ? r->c->principal_arn : NULL;
    struct meta_kms_key key;
    int rc;

    if (who != NULL && (strcmp(who, g->issuer) == 0 ||
                        strcmp(who, g->retiring) == 0 ||
                        (strcmp(who, g->grantee) == 0 &&
                         (g->ops & KMS_GRANT_RETIRE_GRANT))))
        return 0;
    rc = kms_key_load(r->k, g->key_id, &key, r->d);
    rc = rc ? rc : kms_authorize(r, &key, NULL, "kms:RetireGrant", NULL);
    meta_kms_key_clear(&key);
    return rc;
}

/* The grant RetireGrant names: by token, or by key and grant id. */
static int
retire_target(struct kms_req *r, struct meta_kms_grant *g)
{
    const char *token = NULL, *ref = NULL, *gid = NULL;
    struct meta_kms_key key;
    uint8_t hash[32];
    int rc;

    rc = kms_arg_str(r, "GrantToken", "grantToken", false, 1, 8192, &token);
    rc = rc ? rc : kms_arg_str(r, "KeyId", "keyId", false, 1, 2048, &ref);
    rc = rc ? rc : arg_grant_id(r, false, &gid);
    if (rc == 0 && token == NULL && (ref == NULL || gid == NULL))
        rc = kms_validation(r->d, "Retiring a grant needs its GrantToken, "
                            "or its KeyId and GrantId");
    if (rc != 0)
        return rc;

    if (token != NULL) {
        rc = kms_grant_token_hash(token, hash, r->d);
        rc = rc ? rc : meta_kms_grant_by_token(r->k->meta, hash, g);
        if (rc == CERR_KMS_NOT_FOUND)
            return err_set(r->d, rc, "The grant token names no grant: it "
                           "was retired, revoked or never issued");
        if (rc == 0 && gid != NULL && strcmp(gid, g->grant_id) != 0)
            return err_set(r->d, CERR_KMS_INVALID_GRANT_ID, "Grant ID %s "
                           "is not the grant of the grant token", gid);
        if (rc == 0)
            kms_key_arn(r->k, g->key_id, r->arn);
        if (rc != 0 || ref == NULL)
            return rc;
    }
    rc = kms_key_find(r, ref, false, &key);
    if (rc == 0 && token == NULL) {
        rc = meta_kms_grant_get(r->k->meta, gid, g);
        if (rc == CERR_KMS_NOT_FOUND ||
            (rc == 0 && strcmp(g->key_id, key.key_id) != 0))
            rc = grant_not_found(r, gid);
    } else if (rc == 0 && strcmp(g->key_id, key.key_id) != 0) {
        rc = grant_not_found(r, g->grant_id);
    }
    meta_kms_key_clear(&key);
    return rc;
}

/* RetireGrant: GrantToken, or KeyId and GrantId.  Any key state. */
int
kms_op_retire_grant(struct kms_req *r)
{
    struct meta_kms_grant g;
    int rc;

    memset(&g, 0, sizeof(g));
    rc = retire_target(r, &g);
    rc = rc ? rc : may_retire(r, &g);
    rc = rc ? rc : meta_kms_grant_delete(r->k->meta, g.grant_id);
    if (rc == CERR_KMS_NOT_FOUND && g.grant_id[0] != '\0')
        rc = grant_not_found(r, g.grant_id);
    meta_kms_grant_clear(&g);
    return rc;
}

/* RevokeGrant: KeyId*, GrantId*.  Any key state. */
int
kms_op_revoke_grant(struct kms_req *r)
{
    struct meta_kms_grant g;
    struct meta_kms_key key;
    const char *ref = NULL, *gid = NULL;
    int rc;

    memset(&key, 0, sizeof(key));
    memset(&g, 0, sizeof(g));
    rc = kms_arg_str(r, "KeyId", "keyId", true, 1, 2048, &ref);
    rc = rc ? rc : arg_grant_id(r, true, &gid);
    rc = rc ? rc : kms_key_find(r, ref, false, &key);
    rc = rc ? rc : kms_authorize(r, &key, NULL, "kms:RevokeGrant", NULL);
    rc = rc ? rc : meta_kms_grant_get(r->k->meta, gid, &g);
    if (rc == 0 && strcmp(g.key_id, key.key_id) != 0)
        rc = CERR_KMS_NOT_FOUND;
    rc = rc ? rc : meta_kms_grant_delete(r->k->meta, gid);
    if (rc == CERR_KMS_NOT_FOUND && key.key_id[0] != '\0')
        rc = grant_not_found(r, gid);
    meta_kms_grant_clear(&g);
    meta_kms_key_clear(&key);
    return rc;
}
