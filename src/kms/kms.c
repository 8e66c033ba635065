/*
 * The key service's front: opening and closing it, the JSON 1.1 dispatcher
 * (kms_handle), and the per-key operation counters.  Every operation that
 * reaches a handler is written to the audit trail before its reply.
 */
#include "kms/kms_int.h"
#include "crypto/crypto.h"
#include "util/codec.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)

struct op_entry {
    const char *name;
    kms_op_fn fn;                   /* NULL: known, not implemented */
};

static const struct op_entry ops[] = {
    { "CancelKeyDeletion", kms_op_cancel_deletion },
    { "CreateAlias", kms_op_create_alias },
    { "CreateKey", kms_op_create_key },
    { "Decrypt", kms_op_decrypt },
    { "DeleteAlias", kms_op_delete_alias },
    { "DescribeKey", kms_op_describe_key },
    { "DisableKey", kms_op_disable_key },
    { "DisableKeyRotation", kms_op_disable_rotation },
    { "EnableKey", kms_op_enable_key },
    { "EnableKeyRotation", kms_op_enable_rotation },
    { "Encrypt", kms_op_encrypt },
    { "GenerateDataKey", kms_op_generate_data_key },
    { "GenerateDataKeyWithoutPlaintext", kms_op_generate_data_key_np },
    { "GenerateRandom", kms_op_generate_random },
    { "GetKeyPolicy", kms_op_get_policy },
    { "GetKeyRotationStatus", kms_op_rotation_status },
    { "ListAliases", kms_op_list_aliases },
    { "ListKeyPolicies", kms_op_list_policies },
    { "ListKeyRotations", kms_op_list_rotations },
    { "ListKeys", kms_op_list_keys },
    { "ListResourceTags", kms_op_list_tags },
    { "PutKeyPolicy", kms_op_put_policy },
    { "ReEncrypt", kms_op_reencrypt },
    { "RotateKeyOnDemand", kms_op_rotate_now },
    { "ScheduleKeyDeletion", kms_op_schedule_deletion },
    { "TagResource", kms_op_tag_resource },
    { "UntagResource", kms_op_untag_resource },
    { "UpdateAlias", kms_op_update_alias },
    { "UpdateKeyDescription", kms_op_update_description },

    { "CreateGrant", kms_op_create_grant },
    { "ListGrants", kms_op_list_grants },
    { "ListRetirableGrants", kms_op_list_retirable_grants },
    { "RetireGrant", kms_op_retire_grant },
    { "RevokeGrant", kms_op_revoke_grant },

    /* AWS operations coffer does not offer yet. */
    { "GenerateDataKeyPair", NULL },
    { "GenerateDataKeyPairWithoutPlaintext", NULL },
    { "GenerateMac", NULL },
    { "VerifyMac", NULL },
    { "Sign", NULL },
    { "Verify", NULL },
    { "GetPublicKey", NULL },
    { "DeriveSharedSecret", NULL },
    { "GetParametersForImport", NULL },
    { "ImportKeyMaterial", NULL },
    { "DeleteImportedKeyMaterial", NULL },
    { "ReplicateKey", NULL },
    { "UpdatePrimaryRegion", NULL },
    { "CreateCustomKeyStore", NULL },
    { "ConnectCustomKeyStore", NULL },
    { "DeleteCustomKeyStore", NULL },
    { "DescribeCustomKeyStores", NULL },
    { "DisconnectCustomKeyStore", NULL },
    { "UpdateCustomKeyStore", NULL },
};

static const struct op_entry *
find_op(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    return NULL;
}

/*
 * How long a day is.  COFFER_TEST_DAY_SECONDS exists for tests only: it
 * shortens the days of deletion windows and rotation periods so that a
 * test can watch a key be deleted.  It is read once, here, and warned
 * about, because a server running with it deletes keys early.
 */
static int64_t
test_day_ms(void)
{
    const char *env = getenv("COFFER_TEST_DAY_SECONDS");
    char *end;
    long s;

    if (env == NULL || env[0] == '\0')
        return DAY_MS;
    s = strtol(env, &end, 10);
    if (*end != '\0' || s < 1 || s > 86400) {
        log_warn("kms: ignoring COFFER_TEST_DAY_SECONDS=%s (want 1-86400)",
                 env);
        return DAY_MS;
    }
    log_warn("kms: COFFER_TEST_DAY_SECONDS=%ld: a day lasts %ld seconds; "
             "key deletion and rotation come early (for tests only)", s, s);
    return (int64_t)s * 1000;
}

/*
 * Open the key service over m (see kms.h).  The region and a 12-digit
 * account are required.  Returns 0, CERR_INVALID_ARGUMENT, CERR_NOMEM, or
 * CERR_IO when the audit directory cannot be used.
 */
int
kms_open(struct meta *m, const struct kms_config *cfg, struct kms **out,
         struct err_detail *d)
{
    struct kms *k;
    int rc;

    *out = NULL;
    if (cfg->region == NULL || cfg->region[0] == '\0' ||
        strlen(cfg->region) >= sizeof(k->region))
        return err_set(d, CERR_INVALID_ARGUMENT, "kms: a region is needed");
    if (cfg->account == NULL || strlen(cfg->account) != 12 ||
        strspn(cfg->account, "0123456789") != 12)
        return err_set(d, CERR_INVALID_ARGUMENT, "kms: the account id must "
                       "be 12 digits");
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return CERR_NOMEM;

    k->meta = m;
    snprintf(k->region, sizeof(k->region), "%s", cfg->region);
    snprintf(k->account, sizeof(k->account), "%s", cfg->account);
    memcpy(k->root_key, cfg->root_key, sizeof(k->root_key));
    pthread_mutex_init(&k->mu, NULL);
    pthread_mutex_init(&k->create_mu, NULL);
    pthread_mutex_init(&k->cache_mu, NULL);

    k->day_ms = test_day_ms();

    rc = kms_audit_open(&k->audit, cfg->audit_dir, d);
    if (rc != 0) {
        k->audit.dir = NULL;
        kms_close(k);
        return rc;
    }
    /* Without a trail (offline tools), no key is deleted unrecorded. */
    rc = cfg->audit_dir != NULL ? kms_keys_expire(k) : 0;
    if (rc != 0) {
        err_set(d, rc, "kms: cannot delete the keys whose deletion window "
                "has passed");
        kms_close(k);
        return rc;
    }
    *out = k;
    return 0;
}

/* Wipe every key held in memory and free the service (NULL allowed). */
void
kms_close(struct kms *k)
{
    struct kms_counter *c, *next;

    if (k == NULL)
        return;
    kms_cache_flush(k);
    kms_rows_flush(k);
    crypto_wipe(k->root_key, sizeof(k->root_key));
    for (c = k->counters; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    kms_audit_close(&k->audit);
    pthread_mutex_destroy(&k->mu);
    pthread_mutex_destroy(&k->create_mu);
    pthread_mutex_destroy(&k->cache_mu);
    free(k);
}

/* Count one call of op on arn ("" for key-less operations). */
void
kms_count(struct kms *k, const char *arn, const char *op)
{
    struct kms_counter *c;

    pthread_mutex_lock(&k->mu);
    for (c = k->counters; c != NULL; c = c->next)
        if (strcmp(c->arn, arn) == 0 && strcmp(c->op, op) == 0)
            break;
    if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL) {
        snprintf(c->arn, sizeof(c->arn), "%s", arn);
        snprintf(c->op, sizeof(c->op), "%s", op);
        c->next = k->counters;
        k->counters = c;
    }
    if (c != NULL)
        c->n++;
    pthread_mutex_unlock(&k->mu);
}

/*
 * Append {"<key ARN>": {"<operation>": n, ...}, ...} to out; key-less
 * operations are under "".  0 or CERR_NOMEM.
 */
int
kms_counters_json(struct kms *k, struct buf *out)
{
    struct kms_counter *c;
    json_t *all, *per;
    char *text;
    int rc = 0;

    all = json_object();
    if (all == NULL)
        return CERR_NOMEM;
    pthread_mutex_lock(&k->mu);
    for (c = k->counters; c != NULL && rc == 0; c = c->next) {
        per = json_object_get(all, c->arn);
        if (per == NULL && json_object_set_new(all, c->arn,
                                               per = json_object()) != 0)
            rc = CERR_NOMEM;
        if (rc == 0 && json_object_set_new(per, c->op,
                                           json_integer((json_int_t)c->n)))
            rc = CERR_NOMEM;
    }
    pthread_mutex_unlock(&k->mu);

    text = rc == 0 ? json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (rc == 0 && text == NULL)
        rc = CERR_NOMEM;
    if (rc == 0)
        buf_puts(out, text);
    free(text);
    json_decref(all);
    return rc == 0 && buf_failed(out) ? CERR_NOMEM : rc;
}

/* The request body as a JSON object; an empty body counts as {}. */
static int
parse_body(const char *body, size_t len, json_t **out, struct err_detail *d)
{
    json_error_t jerr;
    json_t *v;

    if (len == 0) {
        *out = json_object();
        return *out != NULL ? 0 : CERR_NOMEM;
    }
    v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL || !json_is_object(v)) {
        json_decref(v);
        return err_set(d, CERR_KMS_SERIALIZATION, "%s",
                       v == NULL ? jerr.text : "The request body must be a "
                       "JSON object");
    }
    *out = v;
    return 0;
}

/* True when every member of o is a string, as in the replies of the
 * cryptographic operations. */
static bool
all_strings(json_t *o)
{
    const char *key;
    json_t *val;

    json_object_foreach(o, key, val) {
        if (!json_is_string(val))
            return false;
    }
    return true;
}

/*
 * The members of r->res, without the braces, into out: by hand when they
 * are all strings (dumping through jansson was a twentieth of a
 * GenerateDataKey's instructions), else through jansson.
 */
static int
put_members(struct kms_req *r, struct buf *out)
{
    const char *key;
    json_t *val;
    char *text;
    size_t n = 0;

    if (all_strings(r->res)) {
        json_object_foreach(r->res, key, val) {
            if (n++ > 0)
                buf_putc(out, ',');
            buf_put_json_str(out, key);
            buf_putc(out, ':');
            buf_put_json_str(out, json_string_value(val));
        }
        return 0;
    }
    text = json_dumps(r->res, JSON_COMPACT | JSON_PRESERVE_ORDER |
                              JSON_REAL_PRECISION(13));
    if (text == NULL)
        return CERR_NOMEM;
    buf_append(out, text + 1, strlen(text) - 2);    /* inside the braces */
    free(text);
    return 0;
}

/*
 * The response: the members of r->res, and the Plaintext member written
 * straight into out so that the only copy left to wipe is out itself.
 */
static int
write_reply(struct kms_req *r, struct buf *out)
{
    int rc;

    if (json_object_size(r->res) == 0 && r->plain_len == 0)
        return 0;               /* no output members: an empty body */
    buf_putc(out, '{');
    rc = put_members(r, out);
    /* Room first: a buffer that grew under the plaintext would leave a
     * copy of it unwiped. */
    if (rc == 0 && r->plain_len > 0 &&
        buf_reserve(out, base64_encoded_len(r->plain_len) + 32) != 0)
        rc = CERR_NOMEM;
    if (rc == 0 && r->plain_len > 0) {
        buf_puts(out, json_object_size(r->res) ? ",\"Plaintext\":\""
                                                : "\"Plaintext\":\"");
        buf_put_base64(out, r->plain, r->plain_len);
        buf_putc(out, '"');
    }
    buf_putc(out, '}');
    return rc == 0 && buf_failed(out) ? CERR_NOMEM : rc;
}

/* The operations with a GrantTokens member, checked for all of them. */
static bool
takes_grant_tokens(const char *name)
{
    static const char *const names[] = {
        "CreateGrant", "Decrypt", "DescribeKey", "Encrypt",
        "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt",
    };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* Run a known operation on a parsed body. */
static int
run(struct kms_req *r, const struct op_entry *e, struct buf *out)
{
    bool dry = false;
    int rc;

    if (e->fn == NULL)
        /* XXX: asymmetric and HMAC keys, imported
         * material, multi-Region keys and custom key stores are missing;
         * callers get UnsupportedOperationException naming the call. */
        return err_set(r->d, CERR_KMS_UNSUPPORTED, "coffer does not "
                       "support %s yet", e->name);
    rc = kms_arg_bool(r, "DryRun", &dry);
    if (rc == 0 && takes_grant_tokens(e->name))
        rc = kms_arg_grant_tokens(r);
    if (rc == 0 && dry)
        /* XXX: DryRun is not implemented; DryRun true is refused with
         * UnsupportedOperationException rather than checked. */
        return err_set(r->d, CERR_KMS_UNSUPPORTED, "coffer does not "
                       "support DryRun");
    r->res = rc == 0 ? json_object() : NULL;
    if (rc == 0 && r->res == NULL)
        rc = CERR_NOMEM;
    if (rc == 0)
        rc = e->fn(r);
    if (rc == 0)
        rc = write_reply(r, out);
    return rc;
}

/*
 * One JSON 1.1 call (see kms.h).  The reply goes to out only on success;
 * on failure d->message holds AWS's text (or is left empty for the
 * table's default).  The call is audited and counted either way; a
 * success whose audit line cannot be written becomes CERR_IO, since KMS
 * must not act unrecorded.
 */
int
kms_handle(struct kms *k, const struct kms_caller *c, const char *op,
           const char *body, size_t len, struct buf *out,
           struct err_detail *d)
{
    uint8_t plain[KMS_PLAIN_MAX + 2];  /* + 2: see kms_arg_blob */
    const struct op_entry *e = find_op(op);
    struct kms_req r;
    size_t mark = out->len;
    int rc, arc;

    memset(&r, 0, sizeof(r));
    r.k = k;
    r.c = c;
    r.op = e != NULL ? e->name : op;
    r.d = d;
    r.plain = plain;

    if (e == NULL)
        rc = err_set(d, CERR_KMS_UNKNOWN_OPERATION, "%s", "");
    else
        rc = parse_body(body, len, &r.in, d);
    if (rc == 0)
        rc = run(&r, e, out);
    crypto_wipe(plain, sizeof(plain));

    arc = kms_audit_write(&k->audit, &r, rc);
    if (rc == 0 && arc != 0)
        rc = err_set(d, CERR_IO, "The audit trail cannot be written.");
    if (rc != 0 && out->len > mark) {
        crypto_wipe(out->data + mark, out->len - mark);
        out->len = mark;
        out->data[mark] = '\0';
    }
    if (e != NULL)
        kms_count(k, r.arn, r.op);
    json_decref(r.res);
    json_decref(r.in);
    return rc;
}
