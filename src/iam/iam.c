/*
 * The user directory: the credential hook, the identity-policy cache and
 * the administrative operations on users, keys and policies.
 *
 * Nothing about a user is cached except parsed policies.  A cache entry
 * is keyed by user id and remembers the SHA-256 of the policy texts it
 * was parsed from; every lookup reads the texts again and reparses only
 * when they changed, so what `coffer admin` writes counts at once.
 */
#include "iam/iam.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "kms/kms.h"
#include "policy/policy.h"
#include "util/timefmt.h"

#define CACHE_SLOTS 64
#define INLINE_POLICIES_MAX 2048    /* IAM: a user's inline policies, in all */

struct iam_identity {
    atomic_int refs;
    size_t n;
    struct policy **v;
};

struct slot {
    char user_id[33];
    uint8_t digest[CRYPTO_SHA256_LEN];
    struct iam_identity *id;
    uint64_t used;              /* LRU clock */
};

struct iam {
    struct meta *meta;
    struct kms *kms;
    char account[13];
    pthread_mutex_t mu;         /* guards the cache */
    struct slot cache[CACHE_SLOTS];
    uint64_t clock;
};

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "abcdefghijklmnopqrstuvwxyz0123456789+/";

/* prefix followed by n random characters of alphabet (32 or 64 long). */
static int
random_id(const char *prefix, const char *alphabet, unsigned mask, size_t n,
          char *out)
{
    uint8_t rnd[64];
    size_t i, plen = strlen(prefix);

    if (n > sizeof(rnd) || crypto_random(rnd, n) != 0)
        return CERR_INTERNAL;
    memcpy(out, prefix, plen);
    for (i = 0; i < n; i++)
        out[plen + i] = alphabet[rnd[i] & mask];
    out[plen + n] = '\0';
    crypto_wipe(rnd, sizeof(rnd));
    return 0;
}

/* Open the directory; see iam.h. */
int
iam_open(struct meta *m, struct kms *k, const char *account,
         struct auth_creds *creds, struct iam **out)
{
    struct iam *iam;
    uint8_t probe[KMS_INTERNAL_OVERHEAD + 1];
    size_t len;
    int rc;

    *out = NULL;
    if (strlen(account) != 12)
        return CERR_INVALID_ARGUMENT;
    iam = calloc(1, sizeof(*iam));
    if (iam == NULL)
        return CERR_NOMEM;
    iam->meta = m;
    iam->kms = k;
    memcpy(iam->account, account, 13);
    pthread_mutex_init(&iam->mu, NULL);

    /* Make the sealing key now, so a wrong root key fails here. */
    rc = kms_internal_seal(k, IAM_SECRET_PURPOSE, NULL, 0, "", 1, probe,
                           &len);
    if (rc != 0) {
        iam_close(iam);
        return rc;
    }
    if (creds != NULL)
        auth_creds_set_user_lookup(creds, iam_auth_lookup, iam);
    *out = iam;
    return 0;
}

static void
identity_free(struct iam_identity *id)
{
    size_t i;

    for (i = 0; i < id->n; i++)
        policy_free(id->v[i]);
    free(id->v);
    free(id);
}

/* Drop a reference; see iam.h. */
void
iam_identity_release(struct iam_identity *id)
{
    if (id != NULL && atomic_fetch_sub(&id->refs, 1) == 1)
        identity_free(id);
}

/* Free the directory; see iam.h. */
void
iam_close(struct iam *iam)
{
    size_t i;

    if (iam == NULL)
        return;
    for (i = 0; i < CACHE_SLOTS; i++)
        iam_identity_release(iam->cache[i].id);
    pthread_mutex_destroy(&iam->mu);
    free(iam);
}

/* The ARN of a user; see iam.h. */
void
iam_user_arn(const struct iam *iam, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:iam::%s:user/%s", iam->account, name);
}

/* ---- Authentication --------------------------------------------------- */

/* Unseal a stored secret key into secret (NUL-terminated). */
static int
unseal(struct iam *iam, const struct meta_access_key *k, char secret[128])
{
    size_t len = 0;
    int rc;

    if (k->wrapped_len < KMS_INTERNAL_OVERHEAD ||
        k->wrapped_len - KMS_INTERNAL_OVERHEAD >= 128)
        return CERR_CORRUPT;
    rc = kms_internal_open(iam->kms, IAM_SECRET_PURPOSE, k->akid,
                           strlen(k->akid), k->wrapped, k->wrapped_len,
                           secret, &len);
    if (rc != 0) {
        crypto_wipe(secret, 128);
        return rc;
    }
    secret[len] = '\0';
    return 0;
}

/* The credential hook; see iam.h. */
int
iam_auth_lookup(void *ctx, const char *akid, char secret[128],
                struct auth_principal *p)
{
    struct iam *iam = ctx;
    struct meta_access_key k;
    struct meta_user u;
    int rc;

    if (strlen(akid) > META_AKID_MAX)
        return CERR_INVALID_ACCESS_KEY;
    rc = meta_access_key_get(iam->meta, akid, &k, &u);
    if (rc == CERR_IAM_NO_SUCH_ENTITY || (rc == 0 && !k.active))
        rc = CERR_INVALID_ACCESS_KEY;
    if (rc == 0 && unseal(iam, &k, secret) != 0)
        rc = CERR_INVALID_ACCESS_KEY;
    crypto_wipe(&k, sizeof(k));
    if (rc != 0)
        return rc;

    memset(p, 0, sizeof(*p));
    p->type = AUTH_USER;
    iam_user_arn(iam, u.name, p->arn, sizeof(p->arn));
    memcpy(p->account, iam->account, sizeof(p->account));
    snprintf(p->user_name, sizeof(p->user_name), "%s", u.name);
    snprintf(p->user_id, sizeof(p->user_id), "%s", u.user_id);
    return 0;
}

/* ---- Identity policies ------------------------------------------------ */

/* SHA-256 over every policy's name and text, each length-prefixed. */
static int
digest_policies(const struct meta_user_policy *v, size_t n,
                uint8_t out[CRYPTO_SHA256_LEN])
{
    struct crypto_hash *h = crypto_hash_new(CRYPTO_HASH_SHA256);
    uint64_t len;
    size_t i;

    if (h == NULL)
        return CERR_NOMEM;
    for (i = 0; i < n; i++) {
        len = strlen(v[i].name);
        crypto_hash_update(h, &len, sizeof(len));
        crypto_hash_update(h, v[i].name, len);
        len = strlen(v[i].document);
        crypto_hash_update(h, &len, sizeof(len));
        crypto_hash_update(h, v[i].document, len);
    }
    crypto_hash_final(h, out);
    crypto_hash_free(h);
    return 0;
}

/* Parse the texts into a new identity with one reference. */
static int
parse_all(const struct meta_user_policy *v, size_t n,
          struct iam_identity **out)
{
    struct iam_identity *id = calloc(1, sizeof(*id));
    size_t i;
    int rc = 0;

    if (id != NULL && n > 0)
        id->v = calloc(n, sizeof(*id->v));
    if (id == NULL || (n > 0 && id->v == NULL)) {
        free(id);
        return CERR_NOMEM;
    }
    atomic_init(&id->refs, 1);
    for (i = 0; i < n && rc == 0; i++) {
        rc = policy_parse(v[i].document, strlen(v[i].document),
                          POLICY_IDENTITY, NULL, &id->v[i], NULL);
        if (rc == 0)
            id->n++;
    }
    if (rc != 0) {
        identity_free(id);
        return rc == CERR_NOMEM ? rc : CERR_INTERNAL;
    }
    *out = id;
    return 0;
}

/* The cached identity of user_id if parsed from the same texts. */
static struct iam_identity *
cache_find(struct iam *iam, const char *user_id, const uint8_t *digest)
{
    struct iam_identity *id = NULL;
    struct slot *s;
    size_t i;

    pthread_mutex_lock(&iam->mu);
    for (i = 0; i < CACHE_SLOTS; i++) {
        s = &iam->cache[i];
        if (s->id == NULL || strcmp(s->user_id, user_id) != 0 ||
            memcmp(s->digest, digest, CRYPTO_SHA256_LEN) != 0)
            continue;
        s->used = ++iam->clock;
        id = s->id;
        atomic_fetch_add(&id->refs, 1);
        break;
    }
    pthread_mutex_unlock(&iam->mu);
    return id;
}

/* Keep id for user_id: replace its old entry, else the least used. */
static void
cache_keep(struct iam *iam, const char *user_id, const uint8_t *digest,
           struct iam_identity *id)
{
    struct iam_identity *old;
    struct slot *s = NULL;
    size_t i;

    pthread_mutex_lock(&iam->mu);
    for (i = 0; i < CACHE_SLOTS && s == NULL; i++)
        if (iam->cache[i].id != NULL &&
            strcmp(iam->cache[i].user_id, user_id) == 0)
            s = &iam->cache[i];
    for (i = 0; i < CACHE_SLOTS && s == NULL; i++)
        if (iam->cache[i].id == NULL)
            s = &iam->cache[i];
    for (i = 0; s == NULL && i < CACHE_SLOTS; i++)
        if (i == 0 || iam->cache[i].used < s->used)
            s = &iam->cache[i];
    old = s->id;
    snprintf(s->user_id, sizeof(s->user_id), "%s", user_id);
    memcpy(s->digest, digest, CRYPTO_SHA256_LEN);
    atomic_fetch_add(&id->refs, 1);
    s->id = id;
    s->used = ++iam->clock;
    pthread_mutex_unlock(&iam->mu);
    iam_identity_release(old);
}

/* A user's identity policies now; see iam.h. */
int
iam_identity_get(struct iam *iam, const struct auth_principal *p,
                 struct iam_identity **out)
{
    uint8_t digest[CRYPTO_SHA256_LEN];
    struct meta_user_policy *v = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    if (iam == NULL || p->type != AUTH_USER)
        return 0;
    rc = meta_user_policy_list(iam->meta, p->user_name, &v, &n);
    if (rc == CERR_IAM_NO_SUCH_ENTITY)
        rc = 0;                 /* deleted since it authenticated */
    if (rc != 0)
        return rc;

    rc = digest_policies(v, n, digest);
    if (rc == 0)
        *out = cache_find(iam, p->user_id, digest);
    if (rc == 0 && *out == NULL) {
        rc = parse_all(v, n, out);
        if (rc == 0)
            cache_keep(iam, p->user_id, digest, *out);
    }
    meta_user_policy_list_free(v, n);
    return rc;
}

/* The parsed policies; see iam.h. */
const struct policy *const *
iam_identity_policies(const struct iam_identity *id, size_t *n)
{
    *n = id != NULL ? id->n : 0;
    return id != NULL ? (const struct policy *const *)id->v : NULL;
}

/* ---- Administration --------------------------------------------------- */

/* 1 to max characters of letters, digits and + = , . @ _ - */
static bool
iam_name_valid(const char *name, size_t max)
{
    size_t len = strlen(name);

    return len >= 1 && len <= max &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789+=,.@_-") == len;
}

/* A valid user name; see iam.h. */
bool
iam_user_name_valid(const char *name)
{
    return iam_name_valid(name, META_USER_NAME_MAX);
}

/* Create a user; see iam.h. */
int
iam_user_create(struct iam *iam, const char *name, struct meta_user *out,
                struct err_detail *d)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!iam_user_name_valid(name))
        return err_set(d, CERR_INVALID_ARGUMENT, "a user name is 1 to %d "
                       "letters, digits and + = , . @ _ -",
                       META_USER_NAME_MAX);
    snprintf(out->name, sizeof(out->name), "%s", name);
    out->created_ms = time_now_ms();
    rc = random_id("AIDA", b32, 31, IAM_USER_ID_LEN - 4, out->user_id);
    if (rc == 0)
        rc = meta_user_create(iam->meta, out);
    if (rc == CERR_IAM_ENTITY_EXISTS)
        err_set(d, rc, "user %s already exists", name);
    return rc;
}

/* Make an access key; see iam.h. */
int
iam_key_create(struct iam *iam, const char *name,
               char akid[IAM_AKID_LEN + 1], char secret[IAM_SECRET_LEN + 1])
{
    struct meta_access_key k;
    int rc;

    memset(&k, 0, sizeof(k));
    rc = random_id("AKIA", b32, 31, IAM_AKID_LEN - 4, akid);
    if (rc == 0)
        rc = random_id("", b64, 63, IAM_SECRET_LEN, secret);
    if (rc != 0)
        return rc;

    snprintf(k.akid, sizeof(k.akid), "%s", akid);
    snprintf(k.user_name, sizeof(k.user_name), "%s", name);
    k.active = true;
    k.created_ms = time_now_ms();
    rc = kms_internal_seal(iam->kms, IAM_SECRET_PURPOSE, akid, strlen(akid),
                           secret, IAM_SECRET_LEN, k.wrapped,
                           &k.wrapped_len);
    if (rc == 0)
        rc = meta_access_key_create(iam->meta, &k);
    crypto_wipe(&k, sizeof(k));
    if (rc != 0)
        crypto_wipe(secret, IAM_SECRET_LEN + 1);
    return rc;
}

/* Characters of a JSON text once whitespace outside strings is gone. */
static size_t
compact_len(const char *s, size_t len)
{
    bool in_str = false, esc = false;
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (!in_str && strchr(" \t\r\n", s[i]) != NULL && s[i] != '\0')
            continue;
        n++;
        if (in_str && esc)
            esc = false;
        else if (in_str && s[i] == '\\')
            esc = true;
        else if (s[i] == '"')
            in_str = !in_str;
    }
    return n;
}

/*
 * IAM's quota: a user's inline policies, all together and without
 * whitespace, hold at most 2048 characters.  `name` is about to be
 * replaced by a document of `len` compact characters.
 */
static int
check_quota(struct iam *iam, const char *user, const char *name,
            size_t len, struct err_detail *d)
{
    struct meta_user_policy *v;
    size_t i, n, total = len;
    int rc;

    if ((rc = meta_user_policy_list(iam->meta, user, &v, &n)) != 0)
        return rc;
    for (i = 0; i < n; i++)
        if (strcmp(v[i].name, name) != 0)
            total += compact_len(v[i].document, strlen(v[i].document));
    meta_user_policy_list_free(v, n);
    if (total > INLINE_POLICIES_MAX)
        return err_set(d, CERR_IAM_LIMIT_EXCEEDED, "Maximum policy size of "
                       "%d bytes exceeded for user %s", INLINE_POLICIES_MAX,
                       user);
    return 0;
}

/* Validate and attach an identity policy; see iam.h. */
int
iam_policy_attach(struct iam *iam, const char *user, const char *name,
                  const char *text, size_t len, struct err_detail *d)
{
    struct policy *p = NULL;
    char *copy;
    int rc;

    if (!iam_name_valid(name, META_POLICY_NAME_MAX))
        return err_set(d, CERR_INVALID_ARGUMENT, "a policy name is 1 to %d "
                       "letters, digits and + = , . @ _ -",
                       META_POLICY_NAME_MAX);
    if (memchr(text, '\0', len) != NULL)
        return err_set(d, CERR_MALFORMED_POLICY, "the policy holds a NUL "
                       "byte");
    rc = policy_parse(text, len, POLICY_IDENTITY, NULL, &p, d);
    policy_free(p);
    if (rc == 0)
        rc = check_quota(iam, user, name, compact_len(text, len), d);
    if (rc != 0)
        return rc;

    copy = strndup(text, len);
    if (copy == NULL)
        return CERR_NOMEM;
    rc = meta_user_policy_put(iam->meta, user, name, copy, time_now_ms());
    free(copy);
    return rc;
}

/* Does a user ARN name an existing user?  See iam.h. */
int
iam_user_arn_check(struct iam *iam, const char *arn)
{
    char prefix[64];
    struct meta_user u;
    size_t plen;

    plen = (size_t)snprintf(prefix, sizeof(prefix), "arn:aws:iam::%s:user/",
                            iam->account);
    if (strncmp(arn, prefix, plen) != 0)
        return 0;
    /* XXX: IAM user paths are not supported: a policy naming
     * user/dept/NAME is refused as naming a user that does not exist. */
    if (!iam_user_name_valid(arn + plen))
        return CERR_IAM_NO_SUCH_ENTITY;
    return meta_user_get(iam->meta, arn + plen, &u);
}
