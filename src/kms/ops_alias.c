/*
 * Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.  A name is
 * "alias/" plus 1-250 characters of [a-zA-Z0-9:/_-]; "alias/aws/" is
 * reserved for AWS-managed keys (ruling 8: NotAuthorizedException).  A
 * target must be a customer key named by key id or key ARN.  Creating or
 * retargeting an alias needs kms:<Op> on the alias (identity policies)
 * and on each key involved (key policy).
 */
#include "kms/kms_int.h"
#include "util/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "alias/"
#define RESERVED "alias/aws/"

/* Read AliasName* and check its form. */
static int
alias_name(struct kms_req *r, const char **out)
{
    const char *name = NULL;
    size_t len;
    int rc;

    rc = kms_arg_str(r, "AliasName", "aliasName", true, 1, 4096, &name);
    if (rc != 0)
        return rc;
    len = strlen(name);
    if (len > 256)
        return err_set(r->d, CERR_KMS_INVALID_ALIAS, "Alias name %.64s... "
                       "is not valid: it is longer than 256 characters",
                       name);
    if (strncmp(name, PREFIX, 6) != 0)
        return kms_validation(r->d, "Alias must start with the prefix "
                              "\"alias/\".");
    if (len == 6 || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789:/_-") != len)
        return err_set(r->d, CERR_KMS_INVALID_ALIAS, "Alias name %s is not "
                       "valid: it must match ^alias/[a-zA-Z0-9:/_-]+$",
                       name);
    if (strncmp(name, RESERVED, 10) == 0)
        return err_set(r->d, CERR_KMS_NOT_AUTHORIZED, "Aliases beginning "
                       "with alias/aws/ are reserved for AWS managed keys.");
    *out = name;
    return 0;
}

/* Read TargetKeyId*: a customer key that is not pending deletion. */
static int
alias_target(struct kms_req *r, const char *action,
             struct meta_kms_key *key)
{
    const char *ref = NULL;
    int rc;

    rc = kms_arg_str(r, "TargetKeyId", "targetKeyId", true, 1, 2048, &ref);
    rc = rc ? rc : kms_key_find(r, ref, false, key);
    rc = rc ? rc : kms_authorize(r, key, NULL, action, NULL);
    if (rc == 0 && strcmp(key->manager, "AWS") == 0)
        rc = err_set(r->d, CERR_KMS_UNSUPPORTED, "%s is an AWS managed key; "
                     "aliases can only point to customer managed keys.",
                     r->arn);
    if (rc == 0 && strcmp(key->state, "PendingDeletion") == 0)
        rc = err_set(r->d, CERR_KMS_INVALID_STATE, "%s is pending "
                     "deletion.", r->arn);
    return rc;
}

/* The caller's identity policies must allow action on the alias. */
static int
on_alias(struct kms_req *r, const char *name, const char *action)
{
    char arn[KMS_ARN_MAX];

    kms_alias_arn(r->k, name, arn);
    return kms_authorize(r, NULL, arn, action, NULL);
}

/* CreateAlias: AliasName*, TargetKeyId*. */
int
kms_op_create_alias(struct kms_req *r)
{
    struct meta_kms_alias al;
    struct meta_kms_key key;
    const char *name = NULL;
    char arn[KMS_ARN_MAX];
    int rc;

    memset(&key, 0, sizeof(key));
    rc = alias_name(r, &name);
    rc = rc ? rc : alias_target(r, "kms:CreateAlias", &key);
    rc = rc ? rc : on_alias(r, name, "kms:CreateAlias");
    if (rc == 0) {
        memset(&al, 0, sizeof(al));
        snprintf(al.name, sizeof(al.name), "%s", name);
        memcpy(al.key_id, key.key_id, sizeof(al.key_id));
        al.created_ms = al.updated_ms = time_now_ms();
        rc = meta_kms_alias_create(r->k->meta, &al);
    }
    if (rc == CERR_KMS_ALREADY_EXISTS) {
        kms_alias_arn(r->k, name, arn);
        rc = err_set(r->d, rc, "An alias with the name %s already exists",
                     arn);
    }
    meta_kms_key_clear(&key);
    return rc;
}

/* The stored alias `name`, or "Alias <arn> is not found.". */
static int
alias_get(struct kms_req *r, const char *name, struct meta_kms_alias *al)
{
    char arn[KMS_ARN_MAX];
    int rc;

    memset(al, 0, sizeof(*al));
    rc = meta_kms_alias_get(r->k->meta, name, al);
    if (rc == CERR_KMS_NOT_FOUND) {
        kms_alias_arn(r->k, name, arn);
        rc = err_set(r->d, rc, "Alias %s is not found.", arn);
    }
    return rc;
}

/* The key an alias points at now must allow action too (when it still
 * exists). */
static int
on_current_key(struct kms_req *r, const struct meta_kms_alias *al,
               const char *action)
{
    struct meta_kms_key key;
    int rc;

    rc = kms_key_load(r->k, al->key_id, &key, NULL);
    if (rc == CERR_KMS_NOT_FOUND)
        return 0;
    if (r->arn[0] == '\0')
        kms_key_arn(r->k, al->key_id, r->arn);
    rc = rc ? rc : kms_authorize(r, &key, NULL, action, NULL);
    meta_kms_key_clear(&key);
    return rc;
}

/* UpdateAlias: AliasName*, TargetKeyId* (the new key). */
int
kms_op_update_alias(struct kms_req *r)
{
    struct meta_kms_alias al;
    struct meta_kms_key key;
    const char *name = NULL;
    int rc;

    memset(&key, 0, sizeof(key));
    rc = alias_name(r, &name);
    rc = rc ? rc : alias_get(r, name, &al);
    rc = rc ? rc : alias_target(r, "kms:UpdateAlias", &key);
    rc = rc ? rc : on_current_key(r, &al, "kms:UpdateAlias");
    rc = rc ? rc : on_alias(r, name, "kms:UpdateAlias");
    rc = rc ? rc : meta_kms_alias_update(r->k->meta, name, key.key_id,
                                         time_now_ms());
    meta_kms_key_clear(&key);
    return rc;
}

/* DeleteAlias: AliasName*. */
int
kms_op_delete_alias(struct kms_req *r)
{
    struct meta_kms_alias al;
    const char *name = NULL;
    int rc;

    rc = alias_name(r, &name);
    rc = rc ? rc : alias_get(r, name, &al);
    rc = rc ? rc : on_current_key(r, &al, "kms:DeleteAlias");
    rc = rc ? rc : on_alias(r, name, "kms:DeleteAlias");
    rc = rc ? rc : meta_kms_alias_delete(r->k->meta, name);
    return rc;
}

/* One element of Aliases. */
static json_t *
alias_json(struct kms_req *r, const struct meta_kms_alias *al)
{
    char arn[KMS_ARN_MAX];
    json_t *o;

    kms_alias_arn(r->k, al->name, arn);
    o = json_pack("{s:s, s:s, s:s}", "AliasName", al->name, "AliasArn", arn,
                  "TargetKeyId", al->key_id);
    if (o != NULL && (kms_json_time(o, "CreationDate", al->created_ms) ||
                      kms_json_time(o, "LastUpdatedDate", al->updated_ms))) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* ListAliases: KeyId (key id or ARN), Limit (1-100, 50), Marker. */
int
kms_op_list_aliases(struct kms_req *r)
{
    struct meta_kms_alias *v = NULL;
    struct meta_kms_key key;
    const char *ref = NULL, *marker = NULL;
    size_t n = 0, i;
    json_t *arr;
    int64_t limit;
    int rc;

    memset(&key, 0, sizeof(key));
    rc = kms_arg_str(r, "KeyId", "keyId", false, 1, 2048, &ref);
    rc = rc ? rc : kms_arg_limit(r, 100, 50, &limit);
    rc = rc ? rc : kms_arg_str(r, "Marker", "marker", false, 1, 1024,
                               &marker);
    rc = rc ? rc : kms_authorize(r, NULL, NULL, "kms:ListAliases", NULL);
    rc = rc ? rc : kms_keys_expire(r->k);  /* no alias of a gone key */
    if (rc == 0 && ref != NULL)
        rc = kms_key_find(r, ref, false, &key);
    rc = rc ? rc : meta_kms_alias_list(r->k->meta, ref ? key.key_id : NULL,
                                       marker, (size_t)limit + 1, &v, &n);
    meta_kms_key_clear(&key);
    if (rc != 0)
        return rc;

    arr = json_array();
    for (i = 0; i < n && i < (size_t)limit && arr != NULL; i++)
        if (json_array_append_new(arr, alias_json(r, &v[i])) != 0)
            rc = CERR_NOMEM;
    if (arr == NULL || json_object_set_new(r->res, "Aliases", arr) != 0)
        rc = CERR_NOMEM;
    if (rc == 0 && json_object_set_new(r->res, "Truncated",
                                       json_boolean(n > (size_t)limit)))
        rc = CERR_NOMEM;
    if (rc == 0 && n > (size_t)limit)
        rc = kms_json_str(r->res, "NextMarker", v[limit - 1].name);
    free(v);
    return rc;
}
