/*
 * Grants, the machinery: the operations a grant may name, grant ids and
 * tokens, the encryption-context constraints, and the question
 * authorization asks (does a grant let this caller do this, here?).
 *
 * A grant id is 64 lowercase hex digits (32 random bytes).  A grant token
 * is the base64 of 48 bytes:
 *
 *     version (1, = 1) | random (47)
 *
 * so it carries 376 bits from the CSPRNG.  Only its SHA-256 is stored;
 * whoever holds a token can name its grant, nobody can rebuild one from
 * the store.  Grants only add Allows (policy.md §9): an explicit Deny in
 * a key or identity policy still wins.
 */
#include "kms/kms_int.h"
#include "crypto/crypto.h"
#include "util/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOKEN_RAW 48
#define TOKEN_VERSION 1
#define CONSTRAINT_PAIRS_MAX 8
#define CONSTRAINT_VALUE_MAX 384

struct grant_op {
    const char *name;
    uint32_t bit;                   /* 0: AWS has it, symmetric keys not */
    bool context;                   /* constraints apply to it */
};

static const struct grant_op grant_ops[] = {
    { "Decrypt", KMS_GRANT_DECRYPT, true },
    { "Encrypt", KMS_GRANT_ENCRYPT, true },
    { "GenerateDataKey", KMS_GRANT_GENERATE_DATA_KEY, true },
    { "GenerateDataKeyWithoutPlaintext", KMS_GRANT_GENERATE_DATA_KEY_NP,
      true },
    { "ReEncryptFrom", KMS_GRANT_REENCRYPT_FROM, true },
    { "ReEncryptTo", KMS_GRANT_REENCRYPT_TO, true },
    { "CreateGrant", KMS_GRANT_CREATE_GRANT, false },
    { "RetireGrant", KMS_GRANT_RETIRE_GRANT, false },
    { "DescribeKey", KMS_GRANT_DESCRIBE_KEY, false },
    { "Sign", 0, false },
    { "Verify", 0, false },
    { "GetPublicKey", 0, false },
    { "GenerateDataKeyPair", 0, false },
    { "GenerateDataKeyPairWithoutPlaintext", 0, false },
    { "GenerateMac", 0, false },
    { "VerifyMac", 0, false },
    { "DeriveSharedSecret", 0, false },
};

#define NOPS (sizeof(grant_ops) / sizeof(grant_ops[0]))

static const struct grant_op *
op_by_name(const char *name)
{
    size_t i;

    for (i = 0; i < NOPS; i++)
        if (strcmp(grant_ops[i].name, name) == 0)
            return &grant_ops[i];
    return NULL;
}

/*
 * The grant bit of a policy action ("kms:Decrypt" -> KMS_GRANT_DECRYPT),
 * 0 when no grant can allow that action.
 */
uint32_t
kms_grant_bit(const char *action)
{
    const struct grant_op *o;

    if (action == NULL || strncmp(action, "kms:", 4) != 0)
        return 0;
    o = op_by_name(action + 4);
    return o != NULL ? o->bit : 0;
}

/*
 * Parse one entry of a grant's Operations into *bit.  An AWS operation
 * that symmetric keys do not have, or an unknown name, is
 * CERR_KMS_VALIDATION saying so.
 */
int
kms_grant_op_parse(const char *name, uint32_t *bit, struct err_detail *d)
{
    const struct grant_op *o = op_by_name(name);
    struct buf set = BUF_INIT;
    size_t i;
    int rc;

    if (o != NULL && o->bit != 0) {
        *bit = o->bit;
        return 0;
    }
    if (o != NULL)
        return kms_validation(d, "Grant operation %s is not valid for a "
                              "symmetric encryption KMS key (key spec "
                              "SYMMETRIC_DEFAULT)", name);
    for (i = 0; i < NOPS; i++) {
        buf_puts(&set, i > 0 ? ", " : "");
        buf_puts(&set, grant_ops[i].name);
    }
    rc = kms_validation(d, "1 validation error detected: Value '[%.64s]' "
                        "at 'operations' failed to satisfy constraint: "
                        "Member must satisfy constraint: [Member must "
                        "satisfy enum value set: [%s]]", name,
                        set.data != NULL ? set.data : "");
    buf_free(&set);
    return rc;
}

/* The names of the bits in ops, in the table's order, as a JSON array. */
json_t *
kms_grant_ops_json(uint32_t ops)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < NOPS; i++) {
        if (grant_ops[i].bit == 0 || !(ops & grant_ops[i].bit))
            continue;
        if (json_array_append_new(a, json_string(grant_ops[i].name)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* ---- Ids and tokens ------------------------------------------------------ */

/* A fresh grant id: 64 lowercase hex digits. */
int
kms_grant_id_new(char id[65])
{
    uint8_t raw[32];
    int rc;

    rc = crypto_random(raw, sizeof(raw));
    if (rc == 0)
        hex_encode(raw, sizeof(raw), id);
    return rc;
}

/* True when s looks like a grant id coffer makes. */
bool
kms_grant_id_valid(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/*
 * A fresh grant token (base64 text into text, which holds
 * KMS_GRANT_TOKEN_LEN + 1 bytes) and its SHA-256 into hash.
 */
int
kms_grant_token_new(char *text, uint8_t hash[32])
{
    uint8_t raw[TOKEN_RAW];
    int rc;

    raw[0] = TOKEN_VERSION;
    rc = crypto_random(raw + 1, sizeof(raw) - 1);
    if (rc == 0) {
        base64_encode(raw, sizeof(raw), text);
        crypto_sha256(raw, sizeof(raw), hash);
    }
    crypto_wipe(raw, sizeof(raw));
    return rc;
}

/*
 * The SHA-256 of a token's bytes, after checking that text is a token
 * coffer could have made.  0 or CERR_KMS_INVALID_GRANT_TOKEN.
 */
int
kms_grant_token_hash(const char *text, uint8_t hash[32],
                     struct err_detail *d)
{
    uint8_t raw[TOKEN_RAW + 3];
    size_t n = 0, len = strlen(text);
    int rc;

    rc = len == KMS_GRANT_TOKEN_LEN
         ? base64_decode(text, len, raw, sizeof(raw), &n) : -1;
    if (rc != 0 || n != TOKEN_RAW || raw[0] != TOKEN_VERSION) {
        crypto_wipe(raw, sizeof(raw));
        return err_set(d, CERR_KMS_INVALID_GRANT_TOKEN, "The grant token "
                       "is not valid: it is not a token this server "
                       "issued");
    }
    crypto_sha256(raw, TOKEN_RAW, hash);
    crypto_wipe(raw, sizeof(raw));
    return 0;
}

/*
 * The GrantTokens member of a request: up to 10 strings of 1-8192
 * characters, each a token coffer issued.  Grants take effect at once
 * here, so a valid token adds nothing to what the store already says;
 * it is only checked.  0, CERR_KMS_VALIDATION, CERR_KMS_SERIALIZATION,
 * CERR_KMS_INVALID_GRANT_TOKEN.
 */
int
kms_arg_grant_tokens(struct kms_req *r)
{
    json_t *arr = json_object_get(r->in, "GrantTokens");
    uint8_t hash[32];
    size_t i;
    int rc;

    if (arr == NULL || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return err_set(r->d, CERR_KMS_SERIALIZATION, "GrantTokens must be "
                       "a list of strings");
    if (json_array_size(arr) > 10)
        return kms_validation(r->d, "1 validation error detected: Value at "
                              "'grantTokens' failed to satisfy constraint: "
                              "Member must have length less than or equal "
                              "to 10");
    for (i = 0; i < json_array_size(arr); i++) {
        json_t *t = json_array_get(arr, i);

        if (!json_is_string(t))
            return err_set(r->d, CERR_KMS_SERIALIZATION, "GrantTokens "
                           "must be a list of strings");
        rc = kms_grant_token_hash(json_string_value(t), hash, r->d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- Constraints --------------------------------------------------------- */

/* Does ctx hold key k (compared without case) with value v (with case)? */
static bool
ctx_has(const json_t *ctx, const char *k, const char *v)
{
    const char *key;
    json_t *val;

    if (ctx == NULL)
        return false;
    json_object_foreach((json_t *)ctx, key, val) {
        if (strcasecmp(key, k) == 0 &&
            strcmp(json_string_value(val), v) == 0)
            return true;
    }
    return false;
}

/* Every pair of want is in ctx. */
static bool
ctx_covers(const json_t *ctx, const json_t *want)
{
    const char *key;
    json_t *val;

    json_object_foreach((json_t *)want, key, val) {
        if (!ctx_has(ctx, key, json_string_value(val)))
            return false;
    }
    return true;
}

static size_t
ctx_size(const json_t *ctx)
{
    return ctx != NULL ? json_object_size(ctx) : 0;
}

/*
 * Do constraints (the stored JSON object, NULL none) allow a request with
 * encryption context ctx?  EncryptionContextSubset: each listed pair is
 * in ctx.  EncryptionContextEquals: ctx is exactly the listed map.  Keys
 * compare without case, values with (as AWS's grant constraints do).
 */
bool
kms_grant_constraints_hold(const json_t *cons, const json_t *ctx)
{
    json_t *sub, *eq;

    if (cons == NULL)
        return true;
    sub = json_object_get(cons, "EncryptionContextSubset");
    eq = json_object_get(cons, "EncryptionContextEquals");
    if (sub != NULL && !ctx_covers(ctx, sub))
        return false;
    if (eq != NULL && (ctx_size(ctx) != json_object_size(eq) ||
                       !ctx_covers(ctx, eq)))
        return false;
    return true;
}

/*
 * Is a grant whose constraints are `child` at least as strict as one
 * whose constraints are `parent`?  Every context child allows must be one
 * parent allows: child's Equals (or Subset) must hold under parent.
 */
bool
kms_grant_constraints_within(const json_t *parent, const json_t *child)
{
    json_t *ceq, *csub, *peq;

    if (parent == NULL)
        return true;
    if (child == NULL)
        return false;
    ceq = json_object_get(child, "EncryptionContextEquals");
    csub = json_object_get(child, "EncryptionContextSubset");
    peq = json_object_get(parent, "EncryptionContextEquals");
    if (ceq != NULL)
        return kms_grant_constraints_hold(parent, ceq);
    /* A Subset child allows contexts with more pairs: never within Equals. */
    return peq == NULL && csub != NULL &&
           kms_grant_constraints_hold(parent, csub);
}

/* One map of Constraints: strings, at most 8 pairs, values <= 384. */
static int
check_constraint_map(struct kms_req *r, const char *name, json_t *map)
{
    const char *key;
    json_t *val;
    int rc;

    rc = kms_check_context(map, r->d, name);
    if (rc != 0)
        return rc;
    if (json_object_size(map) > CONSTRAINT_PAIRS_MAX)
        return kms_validation(r->d, "%s may hold at most %d encryption "
                              "context pairs", name, CONSTRAINT_PAIRS_MAX);
    json_object_foreach(map, key, val) {
        if (json_string_length(val) > CONSTRAINT_VALUE_MAX)
            return kms_validation(r->d, "The value of %s pair '%.64s' is "
                                  "longer than %d characters", name, key,
                                  CONSTRAINT_VALUE_MAX);
    }
    return 0;
}

/*
 * The Constraints member of CreateGrant as the JSON to store: NULL when
 * absent or when both maps are empty (an empty map is no constraint).
 * *out is a new reference.  0, CERR_KMS_SERIALIZATION,
 * CERR_KMS_VALIDATION, CERR_NOMEM.
 */
int
kms_arg_constraints(struct kms_req *r, json_t **out)
{
    static const char *const names[] = {
        "EncryptionContextSubset", "EncryptionContextEquals"
    };
    json_t *in = json_object_get(r->in, "Constraints"), *res = NULL, *m;
    size_t i;
    int rc = 0;

    *out = NULL;
    if (in == NULL || json_is_null(in))
        return 0;
    if (!json_is_object(in))
        return err_set(r->d, CERR_KMS_SERIALIZATION, "Constraints must be "
                       "an object");
    for (i = 0; i < 2 && rc == 0; i++) {
        m = json_object_get(in, names[i]);
        if (m == NULL || json_is_null(m))
            continue;
        rc = check_constraint_map(r, names[i], m);
        if (rc != 0 || json_object_size(m) == 0)
            continue;
        if (res == NULL && (res = json_object()) == NULL)
            rc = CERR_NOMEM;
        if (rc == 0 && json_object_set(res, names[i], m) != 0)
            rc = CERR_NOMEM;
    }
    if (rc != 0)
        json_decref(res);
    else
        *out = res;
    return rc;
}

/* ---- Authorization ------------------------------------------------------- */

/* Does grant g allow `bit` with context ctx? */
static bool
grant_allows(const struct meta_kms_grant *g, uint32_t bit, bool context,
             const json_t *ctx)
{
    json_t *cons;
    bool ok;

    if (!(g->ops & bit))
        return false;
    if (!context || g->constraints == NULL)
        return true;
    cons = json_loads(g->constraints, 0, NULL);
    ok = cons != NULL && kms_grant_constraints_hold(cons, ctx);
    json_decref(cons);
    return ok;
}

/* Does one of the grants of grantee on key_id allow bit with ctx? */
static int
grantee_allows(struct kms_req *r, const char *key_id, const char *grantee,
               const struct grant_op *o, const json_t *ctx, bool *yes)
{
    struct meta_kms_grant *v = NULL;
    size_t n = 0, i;
    int rc;

    rc = meta_kms_grant_list(r->k->meta, key_id, grantee, NULL, NULL, NULL,
                             SIZE_MAX, &v, &n);
    for (i = 0; rc == 0 && i < n && !*yes; i++)
        *yes = grant_allows(&v[i], o->bit, o->context, ctx);
    meta_kms_grant_list_free(v, n);
    return rc;
}

/* The two ways a grant may name the caller's account: the account's root
 * ARN and its bare id. */
static void
account_grantees(const struct kms_caller *c, char root[KMS_ARN_MAX])
{
    snprintf(root, KMS_ARN_MAX, "arn:aws:iam::%s:root", c->account);
}

/*
 * Does a grant on key let r->c perform `action` with context ctx?  *yes
 * says.  Grants count whose grantee is the caller's principal ARN, or its
 * account (the root ARN or the bare account id).  A grant to the account
 * passes on to the account's IAM users the way a key policy naming the
 * account does: only through their identity policies, which the caller
 * checks when *to_account comes back true (root is the account itself,
 * so for root it never does).  0 or a store error.
 */
int
kms_grant_check(struct kms_req *r, const struct meta_kms_key *key,
                const char *action, const json_t *ctx, bool *yes,
                bool *to_account)
{
    uint32_t bit = kms_grant_bit(action);
    const struct grant_op *o;
    char root[KMS_ARN_MAX];
    int rc;

    *yes = *to_account = false;
    if (bit == 0 || r->c == NULL || r->c->principal_arn == NULL)
        return 0;
    o = op_by_name(action + 4);
    rc = grantee_allows(r, key->key_id, r->c->principal_arn, o, ctx, yes);
    if (rc != 0 || *yes || r->c->account == NULL)
        return rc;

    account_grantees(r->c, root);
    if (strcmp(root, r->c->principal_arn) != 0)
        rc = grantee_allows(r, key->key_id, root, o, ctx, yes);
    if (rc == 0 && !*yes)
        rc = grantee_allows(r, key->key_id, r->c->account, o, ctx, yes);
    *to_account = *yes && r->c->user_name != NULL;
    return rc;
}

/*
 * The grants on key_id that r->c holds: those naming its principal ARN,
 * and with `account` those naming its account too.  Free *v with
 * meta_kms_grant_list_free.  0 or a store error.
 */
int
kms_grants_held(struct kms_req *r, const char *key_id, bool account,
                struct meta_kms_grant **v, size_t *n)
{
    const char *names[3];
    char root[KMS_ARN_MAX];
    struct meta_kms_grant *part, *all;
    size_t k = 0, i, m;
    int rc = 0;

    *v = NULL;
    *n = 0;
    names[k++] = r->c->principal_arn;
    if (account && r->c->account != NULL) {
        account_grantees(r->c, root);
        if (strcmp(root, r->c->principal_arn) != 0)
            names[k++] = root;
        names[k++] = r->c->account;
    }
    for (i = 0; i < k && rc == 0; i++) {
        part = NULL;
        m = 0;
        rc = meta_kms_grant_list(r->k->meta, key_id, names[i], NULL, NULL,
                                 NULL, SIZE_MAX, &part, &m);
        all = rc == 0 && m > 0 ? realloc(*v, (*n + m) * sizeof(**v)) : *v;
        if (rc == 0 && m > 0 && all == NULL)
            rc = CERR_NOMEM;
        if (rc == 0 && m > 0) {
            memcpy(all + *n, part, m * sizeof(*part));
            *v = all;
            *n += m;
            free(part);         /* its members now belong to *v */
        } else {
            meta_kms_grant_list_free(part, m);
        }
    }
    return rc;
}
