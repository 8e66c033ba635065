/*
 * Operations on keys themselves: CreateKey, DescribeKey, ListKeys, the
 * state changes (Enable/Disable, Schedule/CancelKeyDeletion),
 * UpdateKeyDescription, key policies and tags.  KeyMetadata is built here
 * exactly as spec/kms-api.md §3 lists it: absent members are left out,
 * never sent as null.
 */
#include "kms/kms_int.h"
#include "crypto/crypto.h"
#include "util/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYM "SYMMETRIC_DEFAULT"
#define MAX_TAGS 50

static bool
is_state(const struct meta_kms_key *key, const char *state)
{
    return strcmp(key->state, state) == 0;
}

static bool
aws_managed(const struct meta_kms_key *key)
{
    return strcmp(key->manager, "AWS") == 0;
}

/* "<arn> is pending deletion." for operations a pending key refuses. */
static int
refuse_pending(struct kms_req *r, const struct meta_kms_key *key)
{
    if (!is_state(key, "PendingDeletion"))
        return 0;
    return err_set(r->d, CERR_KMS_INVALID_STATE, "%s is pending deletion.",
                   r->arn);
}

/* Read KeyId* (key id or ARN only), load the key, authorize `action`. */
static int
target(struct kms_req *r, const char *action, struct meta_kms_key *key)
{
    const char *ref = NULL;
    int rc;

    memset(key, 0, sizeof(*key));
    rc = kms_arg_str(r, "KeyId", "keyId", true, 1, 2048, &ref);
    rc = rc ? rc : kms_key_find(r, ref, false, key);
    rc = rc ? rc : kms_authorize(r, key, NULL, action, NULL);
    return rc;
}

/* Add "KeyMetadata" for key to the response. */
static int
put_metadata(struct kms_req *r, const struct meta_kms_key *key)
{
    char arn[KMS_ARN_MAX];
    json_t *m, *tail;
    int rc = 0;

    kms_key_arn(r->k, key->key_id, arn);
    m = json_pack("{s:s, s:s, s:s, s:f, s:b, s:s, s:s, s:s}",
                  "AWSAccountId", r->k->account, "KeyId", key->key_id,
                  "Arn", arn, "CreationDate", (double)key->created_ms / 1000,
                  "Enabled", is_state(key, "Enabled"),
                  "Description", key->description ? key->description : "",
                  "KeyUsage", "ENCRYPT_DECRYPT", "KeyState", key->state);
    if (m == NULL)
        return CERR_NOMEM;
    if (is_state(key, "PendingDeletion")) {
        rc = kms_json_time(m, "DeletionDate", key->deletion_ms);
        if (rc == 0 && json_object_set_new(m, "PendingDeletionWindowInDays",
                                           json_integer(key->pending_days)))
            rc = CERR_NOMEM;
    }
    tail = json_pack("{s:s, s:s, s:s, s:s, s:[s], s:b}", "Origin",
                     "AWS_KMS", "KeyManager", key->manager,
                     "CustomerMasterKeySpec", SYM, "KeySpec", SYM,
                     "EncryptionAlgorithms", SYM, "MultiRegion", 0);
    if (rc == 0 && (tail == NULL || json_object_update(m, tail) != 0))
        rc = CERR_NOMEM;
    json_decref(tail);
    if (rc == 0 && key->current_material[0] != '\0')
        rc = kms_json_str(m, "CurrentKeyMaterialId", key->current_material);
    if (rc == 0 && json_object_set_new(r->res, "KeyMetadata", m) != 0)
        return CERR_NOMEM;
    if (rc != 0)
        json_decref(m);
    return rc;
}

/* ---- Tags --------------------------------------------------------------- */

static int
tag_error(struct kms_req *r, const char *what, const char *key)
{
    if (key == NULL)
        return err_set(r->d, CERR_KMS_TAG, "%s", what);
    return err_set(r->d, CERR_KMS_TAG, "%s: %s", what, key);
}

/* One {"TagKey", "TagValue"} element of Tags into *t. */
static int
parse_tag(struct kms_req *r, json_t *elem, size_t i, struct meta_kms_tag *t)
{
    struct kms_req sub = *r;
    const char *key = NULL, *val = NULL;
    char wk[48], wv[48];
    int rc;

    if (!json_is_object(elem))
        return err_set(r->d, CERR_KMS_SERIALIZATION, "Tags must be a list "
                       "of objects");
    sub.in = elem;
    snprintf(wk, sizeof(wk), "tags.%zu.member.tagKey", i + 1);
    snprintf(wv, sizeof(wv), "tags.%zu.member.tagValue", i + 1);
    rc = kms_arg_str(&sub, "TagKey", wk, true, 1, 128, &key);
    rc = rc ? rc : kms_arg_str(&sub, "TagValue", wv, true, 0, 256, &val);
    if (rc != 0)
        return rc;
    if (strncmp(key, "aws:", 4) == 0)
        return tag_error(r, "Tag keys beginning with aws: are "
                         "reserved", key);
    snprintf(t->key, sizeof(t->key), "%s", key);
    snprintf(t->value, sizeof(t->value), "%s", val);
    return 0;
}

/* The Tags member: at most 50, unique keys.  *out malloc'd (plain free). */
static int
parse_tags(struct kms_req *r, bool required, struct meta_kms_tag **out,
           size_t *n)
{
    json_t *arr = json_object_get(r->in, "Tags");
    struct meta_kms_tag *v;
    size_t i, j;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (arr == NULL || json_is_null(arr))
        return required ? kms_validation(r->d, "1 validation error "
            "detected: Value null at 'tags' failed to satisfy constraint: "
            "Member must not be null") : 0;
    if (!json_is_array(arr))
        return err_set(r->d, CERR_KMS_SERIALIZATION, "Tags must be a list");
    if (json_array_size(arr) > MAX_TAGS)
        return tag_error(r, "A key can have at most 50 tags", NULL);
    v = calloc(json_array_size(arr) + 1, sizeof(*v));
    if (v == NULL)
        return CERR_NOMEM;

    for (i = 0; i < json_array_size(arr) && rc == 0; i++) {
        rc = parse_tag(r, json_array_get(arr, i), i, &v[i]);
        for (j = 0; j < i && rc == 0; j++)
            if (strcmp(v[j].key, v[i].key) == 0)
                rc = tag_error(r, "Duplicate tag key", v[i].key);
    }
    if (rc != 0) {
        free(v);
        return rc;
    }
    *out = v;
    *n = json_array_size(arr);
    return 0;
}

/* ---- CreateKey ---------------------------------------------------------- */

static const char *const usages[] = {
    "ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT", NULL
};
static const char *const origins[] = {
    "AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE", NULL
};

/* The members CreateKey accepts but coffer can only take one value of. */
static int
create_options(struct kms_req *r)
{
    const char *usage = NULL, *spec = NULL, *cmk = NULL, *origin = NULL;
    const char *store = NULL;
    bool multi = false;
    int rc;

    rc = kms_arg_enum(r, "KeyUsage", "keyUsage", usages, &usage);
    rc = rc ? rc : kms_arg_str(r, "KeySpec", "keySpec", false, 1, 64, &spec);
    rc = rc ? rc : kms_arg_str(r, "CustomerMasterKeySpec",
                               "customerMasterKeySpec", false, 1, 64, &cmk);
    rc = rc ? rc : kms_arg_enum(r, "Origin", "origin", origins, &origin);
    rc = rc ? rc : kms_arg_bool(r, "MultiRegion", &multi);
    rc = rc ? rc : kms_arg_str(r, "CustomKeyStoreId", "customKeyStoreId",
                               false, 1, 64, &store);
    if (rc != 0)
        return rc;
    if (spec != NULL && cmk != NULL)
        return kms_validation(r->d, "You cannot specify KeySpec and "
                              "CustomerMasterKeySpec in the same request.");
    /* XXX: only symmetric AES keys made by coffer exist; asymmetric, HMAC,
     * imported, multi-Region and custom-store keys are refused with
     * UnsupportedOperationException. */
    if ((usage != NULL && strcmp(usage, "ENCRYPT_DECRYPT") != 0) ||
        (spec != NULL && strcmp(spec, SYM) != 0) ||
        (cmk != NULL && strcmp(cmk, SYM) != 0) ||
        (origin != NULL && strcmp(origin, "AWS_KMS") != 0) || multi ||
        store != NULL || json_object_get(r->in, "XksKeyId") != NULL)
        return err_set(r->d, CERR_KMS_UNSUPPORTED, "coffer supports only "
                       "symmetric keys (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT, "
                       "origin AWS_KMS, single Region)");
    return 0;
}

/* The Policy member of CreateKey, checked for the new key's ARN; else the
 * default policy.  *out malloc'd. */
static int
create_policy(struct kms_req *r, const char *key_id, char **out)
{
    const char *text = NULL;
    char arn[KMS_ARN_MAX];
    bool bypass = false;
    int rc;

    rc = kms_arg_str(r, "Policy", "policy", false, 1, 131072, &text);
    rc = rc ? rc : kms_arg_bool(r, "BypassPolicyLockoutSafetyCheck",
                                &bypass);
    if (rc != 0)
        return rc;
    if (text == NULL) {
        *out = kms_policy_default(r->k);
        return *out != NULL ? 0 : CERR_NOMEM;
    }
    kms_key_arn(r->k, key_id, arn);
    rc = kms_policy_check(r, text, strlen(text), arn, bypass);
    if (rc == 0 && (*out = strdup(text)) == NULL)
        rc = CERR_NOMEM;
    return rc;
}

/* CreateKey: Description, Tags, Policy and the fixed options. */
int
kms_op_create_key(struct kms_req *r)
{
    struct meta_kms_key key;
    struct meta_kms_tag *tags = NULL;
    const char *desc = "";
    size_t ntags = 0;
    int rc;

    memset(&key, 0, sizeof(key));
    rc = kms_authorize(r, NULL, NULL, "kms:CreateKey", NULL);
    rc = rc ? rc : kms_arg_str(r, "Description", "description", false, 0,
                               8192, &desc);
    rc = rc ? rc : create_options(r);
    rc = rc ? rc : parse_tags(r, false, &tags, &ntags);
    rc = rc ? rc : crypto_uuid(key.key_id);
    rc = rc ? rc : create_policy(r, key.key_id, &key.policy);
    if (rc == 0) {
        snprintf(key.state, sizeof(key.state), "Enabled");
        snprintf(key.manager, sizeof(key.manager), "CUSTOMER");
        key.description = (char *)desc;
        rc = kms_key_create(r->k, &key, tags, ntags);
    }
    if (rc == 0) {
        kms_key_arn(r->k, key.key_id, r->arn);
        rc = put_metadata(r, &key);
    }
    free(key.policy);
    free(tags);
    return rc;
}

/* ---- DescribeKey, ListKeys ---------------------------------------------- */

/* DescribeKey: KeyId* in any form; alias/aws/s3 creates its key. */
int
kms_op_describe_key(struct kms_req *r)
{
    struct meta_kms_key key;
    const char *ref = NULL;
    int rc;

    memset(&key, 0, sizeof(key));
    rc = kms_arg_str(r, "KeyId", "keyId", true, 1, 2048, &ref);
    rc = rc ? rc : kms_key_find(r, ref, true, &key);
    rc = rc ? rc : kms_authorize(r, &key, NULL, "kms:DescribeKey", NULL);
    rc = rc ? rc : put_metadata(r, &key);
    meta_kms_key_clear(&key);
    return rc;
}

/* Truncated and, when truncated, NextMarker. */
static int
put_paging(struct kms_req *r, bool more, const char *next)
{
    if (json_object_set_new(r->res, "Truncated", json_boolean(more)) != 0)
        return CERR_NOMEM;
    return more ? kms_json_str(r->res, "NextMarker", next) : 0;
}

/* ListKeys: Limit (1-1000, 100), Marker; every key, creation order. */
int
kms_op_list_keys(struct kms_req *r)
{
    struct meta_kms_key *v = NULL;
    const char *marker = NULL;
    char arn[KMS_ARN_MAX];
    json_t *keys;
    int64_t limit;
    size_t n = 0, i;
    int rc;

    rc = kms_authorize(r, NULL, NULL, "kms:ListKeys", NULL);
    rc = rc ? rc : kms_keys_expire(r->k);  /* list no key that is gone */
    rc = rc ? rc : kms_arg_limit(r, 1000, 100, &limit);
    rc = rc ? rc : kms_arg_str(r, "Marker", "marker", false, 1, 1024,
                               &marker);
    rc = rc ? rc : meta_kms_key_list(r->k->meta, marker, (size_t)limit + 1,
                                     &v, &n);
    if (rc == CERR_KMS_INVALID_MARKER)
        return err_set(r->d, rc, "Invalid marker %s", marker);
    if (rc != 0)
        return rc;

    keys = json_array();
    for (i = 0; i < n && i < (size_t)limit && keys != NULL; i++) {
        kms_key_arn(r->k, v[i].key_id, arn);
        if (json_array_append_new(keys, json_pack("{s:s, s:s}", "KeyId",
                                  v[i].key_id, "KeyArn", arn)) != 0)
            rc = CERR_NOMEM;
    }
    if (keys == NULL || json_object_set_new(r->res, "Keys", keys) != 0)
        rc = CERR_NOMEM;
    if (rc == 0)
        rc = put_paging(r, n > (size_t)limit,
                        n > 0 ? v[n > (size_t)limit ? limit - 1 : 0].key_id
                              : "");
    meta_kms_key_list_free(v, n);
    return rc;
}

/* ---- State changes ------------------------------------------------------ */

/* Enable or disable; pending deletion refuses, repeating is fine. */
static int
set_enabled(struct kms_req *r, bool on)
{
    struct meta_kms_key key;
    int rc;

    rc = target(r, on ? "kms:EnableKey" : "kms:DisableKey", &key);
    rc = rc ? rc : refuse_pending(r, &key);
    if (rc == 0 && aws_managed(&key))
        rc = err_set(r->d, CERR_KMS_UNSUPPORTED, "%s is an AWS managed key "
                     "and cannot be changed.", r->arn);
    if (rc == 0) {
        snprintf(key.state, sizeof(key.state), on ? "Enabled" : "Disabled");
        rc = meta_kms_key_update(r->k->meta, &key);
    }
    meta_kms_key_clear(&key);
    return rc;
}

/* EnableKey: KeyId*; empty output. */
int
kms_op_enable_key(struct kms_req *r)
{
    return set_enabled(r, true);
}

/* DisableKey: KeyId*; empty output. */
int
kms_op_disable_key(struct kms_req *r)
{
    return set_enabled(r, false);
}

/* ScheduleKeyDeletion: PendingWindowInDays 7-30, default 30. */
int
kms_op_schedule_deletion(struct kms_req *r)
{
    struct meta_kms_key key;
    int64_t days = 30;
    int rc;

    rc = target(r, "kms:ScheduleKeyDeletion", &key);
    rc = rc ? rc : kms_arg_int(r, "PendingWindowInDays",
                               "pendingWindowInDays", false, 7, 30, &days,
                               NULL);
    rc = rc ? rc : refuse_pending(r, &key);
    if (rc == 0 && aws_managed(&key))
        rc = err_set(r->d, CERR_KMS_UNSUPPORTED, "%s is an AWS managed key "
                     "and cannot be deleted.", r->arn);
    if (rc == 0) {
        snprintf(key.state, sizeof(key.state), "PendingDeletion");
        key.deletion_ms = time_now_ms() + days * r->k->day_ms;
        key.pending_days = (int)days;
        rc = meta_kms_key_update(r->k->meta, &key);
    }

    rc = rc ? rc : kms_json_str(r->res, "KeyId", r->arn);
    rc = rc ? rc : kms_json_time(r->res, "DeletionDate", key.deletion_ms);
    rc = rc ? rc : kms_json_str(r->res, "KeyState", "PendingDeletion");
    if (rc == 0 && json_object_set_new(r->res, "PendingWindowInDays",
                                       json_integer(days)) != 0)
        rc = CERR_NOMEM;
    meta_kms_key_clear(&key);
    return rc;
}

/* CancelKeyDeletion: the key comes back Disabled. */
int
kms_op_cancel_deletion(struct kms_req *r)
{
    struct meta_kms_key key;
    int rc;

    rc = target(r, "kms:CancelKeyDeletion", &key);
    if (rc == 0 && !is_state(&key, "PendingDeletion"))
        rc = err_set(r->d, CERR_KMS_INVALID_STATE, "%s is not pending "
                     "deletion.", r->arn);
    if (rc == 0) {
        snprintf(key.state, sizeof(key.state), "Disabled");
        key.deletion_ms = 0;
        key.pending_days = 0;
        rc = meta_kms_key_update(r->k->meta, &key);
    }
    rc = rc ? rc : kms_json_str(r->res, "KeyId", r->arn);
    meta_kms_key_clear(&key);
    return rc;
}

/* UpdateKeyDescription: Description* (0-8192). */
int
kms_op_update_description(struct kms_req *r)
{
    struct meta_kms_key key;
    const char *desc = NULL;
    char *old;
    int rc;

    rc = target(r, "kms:UpdateKeyDescription", &key);
    rc = rc ? rc : kms_arg_str(r, "Description", "description", true, 0,
                               8192, &desc);
    rc = rc ? rc : refuse_pending(r, &key);
    if (rc == 0) {
        old = key.description;
        key.description = (char *)desc;
        rc = meta_kms_key_update(r->k->meta, &key);
        key.description = old;
    }
    meta_kms_key_clear(&key);
    return rc;
}

/* ---- Key policies ------------------------------------------------------- */

/* PolicyName: only "default" exists. */
static int
policy_name(struct kms_req *r)
{
    const char *name = NULL;
    int rc;

    rc = kms_arg_str(r, "PolicyName", "policyName", false, 1, 128, &name);
    if (rc == 0 && name != NULL && strcmp(name, "default") != 0)
        rc = err_set(r->d, CERR_KMS_NOT_FOUND, "No such policy exists: %s",
                     name);
    return rc;
}

/* GetKeyPolicy: the policy as a JSON string. */
int
kms_op_get_policy(struct kms_req *r)
{
    struct meta_kms_key key;
    int rc;

    rc = target(r, "kms:GetKeyPolicy", &key);
    rc = rc ? rc : policy_name(r);
    rc = rc ? rc : kms_json_str(r->res, "Policy",
                                key.policy ? key.policy : "");
    rc = rc ? rc : kms_json_str(r->res, "PolicyName", "default");
    meta_kms_key_clear(&key);
    return rc;
}

/* PutKeyPolicy: Policy*, with the lockout check unless bypassed. */
int
kms_op_put_policy(struct kms_req *r)
{
    struct meta_kms_key key;
    const char *text = NULL;
    bool bypass = false;
    char *old;
    int rc;

    rc = target(r, "kms:PutKeyPolicy", &key);
    rc = rc ? rc : policy_name(r);
    rc = rc ? rc : kms_arg_str(r, "Policy", "policy", true, 1, 131072,
                               &text);
    rc = rc ? rc : kms_arg_bool(r, "BypassPolicyLockoutSafetyCheck",
                                &bypass);
    if (rc == 0 && aws_managed(&key))
        rc = err_set(r->d, CERR_KMS_UNSUPPORTED, "The key policy of %s, an "
                     "AWS managed key, cannot be changed.", r->arn);
    rc = rc ? rc : kms_policy_check(r, text, strlen(text), r->arn, bypass);
    if (rc == 0) {
        old = key.policy;
        key.policy = (char *)text;
        rc = meta_kms_key_update(r->k->meta, &key);
        key.policy = old;
    }
    meta_kms_key_clear(&key);
    return rc;
}

/* ListKeyPolicies: always just "default". */
int
kms_op_list_policies(struct kms_req *r)
{
    struct meta_kms_key key;
    int64_t limit;
    int rc;

    rc = target(r, "kms:ListKeyPolicies", &key);
    rc = rc ? rc : kms_arg_limit(r, 1000, 100, &limit);
    if (rc == 0 && json_object_set_new(r->res, "PolicyNames",
                                       json_pack("[s]", "default")) != 0)
        rc = CERR_NOMEM;
    rc = rc ? rc : put_paging(r, false, NULL);
    meta_kms_key_clear(&key);
    return rc;
}

/* ---- Tags --------------------------------------------------------------- */

/* Tags may not go on AWS managed keys nor on keys pending deletion. */
static int
taggable(struct kms_req *r, const struct meta_kms_key *key)
{
    if (aws_managed(key))
        return err_set(r->d, CERR_KMS_UNSUPPORTED, "%s is an AWS managed "
                       "key and cannot be tagged.", r->arn);
    return refuse_pending(r, key);
}

/* How many distinct keys the stored tags and the new ones make. */
static int
tag_total(struct kms_req *r, const char *key_id,
          const struct meta_kms_tag *add, size_t nadd, size_t *total)
{
    struct meta_kms_tag *old = NULL;
    size_t nold = 0, i, j, n;
    int rc;

    rc = meta_kms_tags_get(r->k->meta, key_id, &old, &nold);
    if (rc != 0)
        return rc;
    n = nold;
    for (i = 0; i < nadd; i++) {
        for (j = 0; j < nold && strcmp(old[j].key, add[i].key) != 0; j++)
            ;
        n += j == nold;
    }
    free(old);
    *total = n;
    return 0;
}

/* TagResource: Tags* added or overwritten. */
int
kms_op_tag_resource(struct kms_req *r)
{
    struct meta_kms_tag *tags = NULL;
    struct meta_kms_key key;
    size_t n = 0, total = 0;
    int rc;

    rc = target(r, "kms:TagResource", &key);
    rc = rc ? rc : parse_tags(r, true, &tags, &n);
    rc = rc ? rc : taggable(r, &key);
    rc = rc ? rc : tag_total(r, key.key_id, tags, n, &total);
    if (rc == 0 && total > MAX_TAGS)
        rc = tag_error(r, "A key can have at most 50 tags", NULL);
    rc = rc ? rc : meta_kms_tags_put(r->k->meta, key.key_id, tags, n);
    free(tags);
    meta_kms_key_clear(&key);
    return rc;
}

/* The TagKeys member: strings of 1-128 characters.  *out malloc'd. */
static int
parse_tag_keys(struct kms_req *r, const char ***out, size_t *n)
{
    json_t *arr = json_object_get(r->in, "TagKeys");
    const char **v;
    size_t i;

    if (arr == NULL || json_is_null(arr))
        return kms_validation(r->d, "1 validation error detected: Value "
                              "null at 'tagKeys' failed to satisfy "
                              "constraint: Member must not be null");
    if (!json_is_array(arr))
        return err_set(r->d, CERR_KMS_SERIALIZATION, "TagKeys must be a "
                       "list");
    v = calloc(json_array_size(arr) + 1, sizeof(*v));
    if (v == NULL)
        return CERR_NOMEM;
    for (i = 0; i < json_array_size(arr); i++) {
        json_t *s = json_array_get(arr, i);

        if (!json_is_string(s) || json_string_length(s) < 1 ||
            json_string_length(s) > 128 * 4) {
            free(v);
            return tag_error(r, "Invalid tag key in TagKeys", NULL);
        }
        v[i] = json_string_value(s);
    }
    *out = v;
    *n = json_array_size(arr);
    return 0;
}

/* UntagResource: TagKeys*; keys that are not there are ignored. */
int
kms_op_untag_resource(struct kms_req *r)
{
    struct meta_kms_key key;
    const char **names = NULL;
    size_t n = 0;
    int rc;

    rc = target(r, "kms:UntagResource", &key);
    rc = rc ? rc : parse_tag_keys(r, &names, &n);
    rc = rc ? rc : taggable(r, &key);
    rc = rc ? rc : meta_kms_tags_delete(r->k->meta, key.key_id, names, n);
    free(names);
    meta_kms_key_clear(&key);
    return rc;
}

/* ListResourceTags: Limit (1-50, 50), Marker = the last tag key shown. */
int
kms_op_list_tags(struct kms_req *r)
{
    struct meta_kms_tag *tags = NULL;
    struct meta_kms_key key;
    const char *marker = NULL;
    size_t n = 0, i, shown = 0;
    json_t *arr = NULL;
    int64_t limit;
    int rc;

    rc = target(r, "kms:ListResourceTags", &key);
    rc = rc ? rc : kms_arg_limit(r, 50, 50, &limit);
    rc = rc ? rc : kms_arg_str(r, "Marker", "marker", false, 1, 1024,
                               &marker);
    rc = rc ? rc : meta_kms_tags_get(r->k->meta, key.key_id, &tags, &n);
    if (rc == 0 && (arr = json_array()) == NULL)
        rc = CERR_NOMEM;

    for (i = 0; rc == 0 && i < n && shown < (size_t)limit; i++) {
        if (marker != NULL && strcmp(tags[i].key, marker) <= 0)
            continue;
        if (json_array_append_new(arr, json_pack("{s:s, s:s}", "TagKey",
                                  tags[i].key, "TagValue", tags[i].value)))
            rc = CERR_NOMEM;
        shown++;
    }
    if (rc == 0) {
        rc = json_object_set_new(r->res, "Tags", arr) ? CERR_NOMEM : 0;
        arr = NULL;             /* taken, even on failure */
    }
    rc = rc ? rc : put_paging(r, i < n, i > 0 ? tags[i - 1].key : "");
    json_decref(arr);
    free(tags);
    meta_kms_key_clear(&key);
    return rc;
}
