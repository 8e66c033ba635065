/*
 * Key identifiers and lookups: the four forms a request may name a key by
 * (key id, key ARN, alias name, alias ARN; spec/kms-api.md §2), AWS's
 * messages when they name nothing, the lazily created AWS-managed key
 * behind alias/aws/s3, and the end of a key's deletion window.
 */
#include "kms/kms_int.h"
#include "crypto/crypto.h"
#include "util/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define AWS_S3_DESCRIPTION \
    "Default key that protects my S3 objects when no other key is defined"

static bool
is_uuid(const char *s, bool any_case)
{
    size_t i;

    if (strlen(s) != KMS_KEY_ID_LEN)
        return false;
    for (i = 0; i < KMS_KEY_ID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i]) ||
                   (!any_case && isupper((unsigned char)s[i]))) {
            return false;
        }
    }
    return true;
}

/* True when s is a key id as coffer makes them: a lowercase UUID. */
bool
kms_is_key_id(const char *s)
{
    return is_uuid(s, false);
}

/* The ARN of key_id in this server's region and account. */
void
kms_key_arn(const struct kms *k, const char *key_id, char arn[KMS_ARN_MAX])
{
    snprintf(arn, KMS_ARN_MAX, "arn:aws:kms:%s:%s:key/%s", k->region,
             k->account, key_id);
}

/* The ARN of alias `name` ("alias/..."). */
void
kms_alias_arn(const struct kms *k, const char *name, char arn[KMS_ARN_MAX])
{
    snprintf(arn, KMS_ARN_MAX, "arn:aws:kms:%s:%s:%s", k->region,
             k->account, name);
}

static bool
expired(const struct meta_kms_key *key, int64_t now)
{
    return strcmp(key->state, "PendingDeletion") == 0 &&
           key->deletion_ms <= now;
}

/*
 * The end of a deletion window: the key's rows go (materials, aliases,
 * tags and grants with them), its cached materials are wiped, and the
 * audit trail records a DeleteKey.  Everything sealed under the key is
 * unreadable from here on.  A key another thread already removed is
 * fine.  0 or a store error.
 */
static int
destroy(struct kms *k, const char *key_id)
{
    struct kms_req r;
    int rc;

    rc = meta_kms_key_delete(k->meta, key_id);
    kms_cache_drop(k, key_id);
    if (rc != 0)
        return rc == CERR_KMS_NOT_FOUND ? 0 : rc;

    memset(&r, 0, sizeof(r));
    r.k = k;
    r.op = "DeleteKey";
    kms_key_arn(k, key_id, r.arn);
    (void)kms_audit_write(&k->audit, &r, 0);
    kms_count(k, r.arn, r.op);
    return 0;
}

/*
 * Delete every key whose deletion window has passed, as a start-up
 * sweep; keys met later are deleted when next loaded.  0 or a store
 * error.
 */
int
kms_keys_expire(struct kms *k)
{
    struct meta_kms_key *v = NULL;
    int64_t now = time_now_ms();
    size_t n = 0, i;
    int rc;

    rc = meta_kms_key_list(k->meta, NULL, SIZE_MAX, &v, &n);
    for (i = 0; rc == 0 && i < n; i++)
        if (expired(&v[i], now))
            rc = destroy(k, v[i].key_id);
    meta_kms_key_list_free(v, n);
    return rc;
}

/*
 * Load key_id, removing it for good when its deletion date has passed
 * (spec/kms-api.md §4: the key and its aliases go) and rotating it when
 * its rotation date has.  Returns 0 or CERR_KMS_NOT_FOUND with
 * "Key '<arn>' does not exist", or a store error.
 */
int
kms_key_load(struct kms *k, const char *key_id, struct meta_kms_key *key,
             struct err_detail *d)
{
    char arn[KMS_ARN_MAX];
    int rc;

    rc = kms_row_get(k, key_id, key);
    if (rc == 0 && expired(key, time_now_ms())) {
        meta_kms_key_clear(key);
        rc = destroy(k, key_id);
        if (rc != 0)
            return rc;
        rc = CERR_KMS_NOT_FOUND;
    }
    if (rc == CERR_KMS_NOT_FOUND) {
        kms_key_arn(k, key_id, arn);
        return err_set(d, rc, "Key '%s' does not exist", arn);
    }
    if (rc == 0)
        rc = kms_key_rotate_due(k, key);
    if (rc != 0)
        meta_kms_key_clear(key);
    return rc;
}

/* Create the AWS-managed S3 key and its alias, unless another thread or
 * node did first.  Fills *al with the alias. */
static int
aws_s3_create(struct kms *k, struct meta_kms_alias *al)
{
    struct meta_kms_key key;
    int rc;

    memset(&key, 0, sizeof(key));
    pthread_mutex_lock(&k->create_mu);
    rc = meta_kms_alias_get(k->meta, KMS_AWS_S3_ALIAS, al);
    if (rc != CERR_KMS_NOT_FOUND)
        goto out;

    snprintf(key.state, sizeof(key.state), "Enabled");
    snprintf(key.manager, sizeof(key.manager), "AWS");
    snprintf(key.alias_hint, sizeof(key.alias_hint), "aws/s3");
    key.description = (char *)AWS_S3_DESCRIPTION;
    key.policy = kms_policy_aws_s3(k);
    rc = key.policy != NULL ? kms_key_create(k, &key, NULL, 0) : CERR_NOMEM;
    free(key.policy);
    if (rc != 0)
        goto out;

    memset(al, 0, sizeof(*al));
    snprintf(al->name, sizeof(al->name), "%s", KMS_AWS_S3_ALIAS);
    snprintf(al->key_id, sizeof(al->key_id), "%s", key.key_id);
    al->created_ms = al->updated_ms = key.created_ms;
    rc = meta_kms_alias_create(k->meta, al);
    if (rc == CERR_KMS_ALREADY_EXISTS) {
        /* Another node created it meanwhile: use theirs. */
        (void)meta_kms_key_delete(k->meta, key.key_id);
        rc = meta_kms_alias_get(k->meta, KMS_AWS_S3_ALIAS, al);
    }
out:
    pthread_mutex_unlock(&k->create_mu);
    return rc;
}

/* Resolve an alias name to its key; *arn_for_msg names it in errors. */
static int
find_alias(struct kms_req *r, const char *name, bool lazy,
           const char *shown, struct meta_kms_key *key)
{
    struct meta_kms_alias al;
    char arn[KMS_ARN_MAX];
    int rc;

    memset(&al, 0, sizeof(al));
    rc = kms_alias_key(r->k, name, al.key_id);
    if (rc == CERR_KMS_NOT_FOUND && lazy &&
        strcmp(name, KMS_AWS_S3_ALIAS) == 0)
        rc = aws_s3_create(r->k, &al);
    if (rc == CERR_KMS_NOT_FOUND) {
        if (shown == NULL) {
            kms_alias_arn(r->k, name, arn);
            shown = arn;
        }
        return err_set(r->d, rc, "Alias %s is not found.", shown);
    }
    if (rc != 0)
        return rc;
    return kms_key_load(r->k, al.key_id, key, r->d);
}

/* Split "arn:aws:kms:REGION:ACCOUNT:RESOURCE"; false when malformed. */
static bool
split_arn(const char *s, char region[64], char account[32],
          const char **resource)
{
    const char *p, *q;

    if (strncmp(s, "arn:aws:kms:", 12) != 0)
        return false;
    p = s + 12;
    q = strchr(p, ':');
    if (q == NULL || q == p || (size_t)(q - p) >= 64)
        return false;
    snprintf(region, 64, "%.*s", (int)(q - p), p);
    p = q + 1;
    q = strchr(p, ':');
    if (q == NULL || q == p || (size_t)(q - p) >= 32)
        return false;
    snprintf(account, 32, "%.*s", (int)(q - p), p);
    *resource = q + 1;
    return true;
}

/* A reference starting with "arn:". */
static int
find_by_arn(struct kms_req *r, const char *ref, bool any_form,
            struct meta_kms_key *key)
{
    char region[64], account[32], id[KMS_KEY_ID_LEN + 1];
    const char *res;
    bool ours;
    size_t i;

    if (!split_arn(ref, region, account, &res) ||
        (strncmp(res, "key/", 4) != 0 && strncmp(res, "alias/", 6) != 0))
        return err_set(r->d, CERR_KMS_NOT_FOUND, "Invalid arn %s", ref);
    ours = strcmp(region, r->k->region) == 0 &&
           strcmp(account, r->k->account) == 0;

    if (strncmp(res, "alias/", 6) == 0) {
        if (!any_form)
            return err_set(r->d, CERR_KMS_NOT_FOUND, "Invalid keyId %s",
                           ref);
        if (!ours)
            return err_set(r->d, CERR_KMS_NOT_FOUND,
                           "Alias %s is not found.", ref);
        return find_alias(r, res, true, ref, key);
    }

    if (!is_uuid(res + 4, true))
        return err_set(r->d, CERR_KMS_NOT_FOUND, "Invalid arn %s", ref);
    if (!ours)
        return err_set(r->d, CERR_KMS_NOT_FOUND, "Key '%s' does not exist",
                       ref);
    for (i = 0; i <= KMS_KEY_ID_LEN; i++)
        id[i] = (char)tolower((unsigned char)res[4 + i]);
    return kms_key_load(r->k, id, key, r->d);
}

/*
 * Find the key `ref` names (see kms_int.h).  Returns 0 with *key filled
 * and r->arn set, or CERR_KMS_NOT_FOUND with AWS's message, or a store
 * error.
 */
int
kms_key_find(struct kms_req *r, const char *ref, bool any_form,
             struct meta_kms_key *key)
{
    char id[KMS_KEY_ID_LEN + 1];
    size_t i;
    int rc;

    memset(key, 0, sizeof(*key));
    if (strncmp(ref, "arn:", 4) == 0) {
        rc = find_by_arn(r, ref, any_form, key);
    } else if (strncmp(ref, "alias/", 6) == 0) {
        rc = any_form ? find_alias(r, ref, true, NULL, key)
                      : err_set(r->d, CERR_KMS_NOT_FOUND,
                                "Invalid keyId %s", ref);
    } else if (is_uuid(ref, true)) {
        for (i = 0; i <= KMS_KEY_ID_LEN; i++)
            id[i] = (char)tolower((unsigned char)ref[i]);
        rc = kms_key_load(r->k, id, key, r->d);
    } else {
        rc = err_set(r->d, CERR_KMS_NOT_FOUND, "Invalid keyId %s", ref);
    }
    if (rc == 0)
        kms_key_arn(r->k, key->key_id, r->arn);
    return rc;
}

/*
 * May the key be used for cryptography?  0, CERR_KMS_DISABLED or
 * CERR_KMS_INVALID_STATE with "<arn> is disabled." / "... is pending
 * deletion.".
 */
int
kms_key_usable(struct kms *k, const struct meta_kms_key *key,
               struct err_detail *d)
{
    char arn[KMS_ARN_MAX];

    if (strcmp(key->state, "Enabled") == 0)
        return 0;
    kms_key_arn(k, key->key_id, arn);
    if (strcmp(key->state, "Disabled") == 0)
        return err_set(d, CERR_KMS_DISABLED, "%s is disabled.", arn);
    if (strcmp(key->state, "PendingDeletion") == 0)
        return err_set(d, CERR_KMS_INVALID_STATE, "%s is pending deletion.",
                       arn);
    return err_set(d, CERR_KMS_INVALID_STATE, "%s is %s.", arn, key->state);
}
