/*
 * Unit tests of access control below the HTTP layer: the store's users,
 * access keys and identity policies (meta.h), and the user directory
 * (iam.h) that seals secret keys, answers the credential hook and caches
 * parsed identity policies.  Each case runs in a fresh data directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "crypto/crypto.h"
#include "iam/iam.h"
#include "kms/kms.h"
#include "policy/policy.h"
#include "store/meta.h"
#include "util/buf.h"
#include "util/err.h"

#define ACCOUNT "111122223333"

static const char allow_get[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
    "\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/*\"}]}";
static const char deny_all[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\","
    "\"Action\":\"*\",\"Resource\":\"*\"}}";

struct fx {
    char dir[64];
    char dbpath[128];
    uint8_t root_key[32];
    struct meta *m;
    struct kms *k;
    struct iam *iam;
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static int
open_kms(struct fx *f, struct kms **out)
{
    struct kms_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.region = "us-east-1";
    cfg.account = ACCOUNT;
    memcpy(cfg.root_key, f->root_key, 32);
    return kms_open(f->m, &cfg, out, NULL);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/coffer-access-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->dbpath, sizeof(f->dbpath), "%s/meta.db", f->dir);
    assert_int_equal(meta_open_sqlite(f->dbpath, &f->m), 0);
    assert_int_equal(crypto_random(f->root_key, 32), 0);
    assert_int_equal(open_kms(f, &f->k), 0);
    assert_int_equal(iam_open(f->m, f->k, ACCOUNT, NULL, &f->iam), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    iam_close(f->iam);
    kms_close(f->k);
    meta_close(f->m);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void
make_user(struct fx *f, const char *name)
{
    struct meta_user u;

    assert_int_equal(iam_user_create(f->iam, name, &u, NULL), 0);
}

/* ---- Store ------------------------------------------------------------ */

static void
test_user_create_get_list(void **state)
{
    struct fx *f = *state;
    struct meta_user u, got, *v;
    size_t n;

    assert_int_equal(iam_user_create(f->iam, "bob", &u, NULL), 0);
    assert_int_equal(strlen(u.user_id), IAM_USER_ID_LEN);
    assert_memory_equal(u.user_id, "AIDA", 4);
    make_user(f, "alice");

    assert_int_equal(meta_user_get(f->m, "bob", &got), 0);
    assert_string_equal(got.user_id, u.user_id);
    assert_int_equal(meta_user_list(f->m, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "alice");
    assert_string_equal(v[1].name, "bob");
    free(v);
    assert_int_equal(meta_user_get(f->m, "carol", &got),
                     CERR_IAM_NO_SUCH_ENTITY);
}

static void
test_user_duplicate_and_bad_names(void **state)
{
    struct fx *f = *state;
    struct err_detail d;
    struct meta_user u;

    make_user(f, "bob");
    err_clear(&d);
    assert_int_equal(iam_user_create(f->iam, "bob", &u, &d),
                     CERR_IAM_ENTITY_EXISTS);
    assert_non_null(strstr(d.message, "bob"));
    assert_int_equal(iam_user_create(f->iam, "", &u, NULL),
                     CERR_INVALID_ARGUMENT);
    assert_int_equal(iam_user_create(f->iam, "a/b", &u, NULL),
                     CERR_INVALID_ARGUMENT);
    assert_int_equal(iam_user_create(f->iam, "a b", &u, NULL),
                     CERR_INVALID_ARGUMENT);
    assert_true(iam_user_name_valid("svc+ci=1,x.y@z_w-v"));
    assert_false(iam_user_name_valid(
        "a1234567890123456789012345678901234567890123456789012345678901234"));
}

static void
test_key_limit_list_and_status(void **state)
{
    struct fx *f = *state;
    char a1[IAM_AKID_LEN + 1], a2[IAM_AKID_LEN + 1], a3[IAM_AKID_LEN + 1];
    char s[IAM_SECRET_LEN + 1];
    struct meta_access_key k, *v;
    struct meta_user u;
    size_t n;

    make_user(f, "bob");
    assert_int_equal(iam_key_create(f->iam, "bob", a1, s), 0);
    assert_int_equal(strlen(a1), IAM_AKID_LEN);
    assert_memory_equal(a1, "AKIA", 4);
    assert_int_equal(strlen(s), IAM_SECRET_LEN);
    assert_int_equal(iam_key_create(f->iam, "bob", a2, s), 0);
    assert_int_equal(iam_key_create(f->iam, "bob", a3, s),
                     CERR_IAM_LIMIT_EXCEEDED);
    assert_int_equal(iam_key_create(f->iam, "nobody", a3, s),
                     CERR_IAM_NO_SUCH_ENTITY);

    assert_int_equal(meta_access_key_list(f->m, "bob", &v, &n), 0);
    assert_int_equal(n, 2);
    assert_true(v[0].active && v[1].active);
    free(v);

    assert_int_equal(meta_access_key_set_active(f->m, a1, false), 0);
    assert_int_equal(meta_access_key_get(f->m, a1, &k, &u), 0);
    assert_false(k.active);
    assert_string_equal(u.name, "bob");
    assert_int_equal(meta_access_key_set_active(f->m, "AKIANOPE", true),
                     CERR_IAM_NO_SUCH_ENTITY);
    assert_int_equal(meta_access_key_delete(f->m, a1), 0);
    assert_int_equal(meta_access_key_delete(f->m, a1),
                     CERR_IAM_NO_SUCH_ENTITY);
    assert_int_equal(meta_access_key_get(f->m, a1, &k, NULL),
                     CERR_IAM_NO_SUCH_ENTITY);
}

static void
test_user_delete_conflict_and_force(void **state)
{
    struct fx *f = *state;
    char a[IAM_AKID_LEN + 1], s[IAM_SECRET_LEN + 1];
    struct meta_access_key k;

    make_user(f, "bob");
    make_user(f, "empty");
    assert_int_equal(iam_key_create(f->iam, "bob", a, s), 0);
    assert_int_equal(iam_policy_attach(f->iam, "bob", "p", allow_get,
                                       strlen(allow_get), NULL), 0);

    assert_int_equal(meta_user_delete(f->m, "bob", false),
                     CERR_IAM_DELETE_CONFLICT);
    assert_int_equal(meta_user_delete(f->m, "empty", false), 0);
    assert_int_equal(meta_user_delete(f->m, "empty", false),
                     CERR_IAM_NO_SUCH_ENTITY);
    assert_int_equal(meta_user_delete(f->m, "bob", true), 0);
    assert_int_equal(meta_access_key_get(f->m, a, &k, NULL),
                     CERR_IAM_NO_SUCH_ENTITY);

    /* A new bob has nothing of the old one. */
    make_user(f, "bob");
    {
        struct meta_user_policy *v;
        size_t n;

        assert_int_equal(meta_user_policy_list(f->m, "bob", &v, &n), 0);
        assert_int_equal(n, 0);
        meta_user_policy_list_free(v, n);
    }
}

static void
test_policy_put_replace_delete(void **state)
{
    struct fx *f = *state;
    struct meta_user_policy *v;
    size_t n;

    make_user(f, "bob");
    assert_int_equal(meta_user_policy_put(f->m, "bob", "b", allow_get, 1),
                     0);
    assert_int_equal(meta_user_policy_put(f->m, "bob", "a", deny_all, 2), 0);
    assert_int_equal(meta_user_policy_put(f->m, "bob", "b", deny_all, 3), 0);
    assert_int_equal(meta_user_policy_list(f->m, "bob", &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "a");
    assert_string_equal(v[1].document, deny_all);
    assert_int_equal(v[1].updated_ms, 3);
    meta_user_policy_list_free(v, n);

    assert_int_equal(meta_user_policy_delete(f->m, "bob", "a"), 0);
    assert_int_equal(meta_user_policy_delete(f->m, "bob", "a"),
                     CERR_IAM_NO_SUCH_ENTITY);
    assert_int_equal(meta_user_policy_put(f->m, "nobody", "a", deny_all, 1),
                     CERR_IAM_NO_SUCH_ENTITY);
    assert_int_equal(meta_user_policy_list(f->m, "nobody", &v, &n),
                     CERR_IAM_NO_SUCH_ENTITY);
}

/* The tables appear in a database made before they existed. */
static void
test_schema_added_to_old_database(void **state)
{
    struct fx *f = *state;
    struct meta_user u;
    struct meta *m2;

    make_user(f, "bob");
    assert_int_equal(meta_open_sqlite(f->dbpath, &m2), 0);
    assert_int_equal(meta_user_get(m2, "bob", &u), 0);
    meta_close(m2);
}

/* ---- The directory ---------------------------------------------------- */

static void
test_lookup_active_key(void **state)
{
    struct fx *f = *state;
    char a[IAM_AKID_LEN + 1], s[IAM_SECRET_LEN + 1], got[128];
    struct auth_principal p;
    struct meta_user u;

    assert_int_equal(iam_user_create(f->iam, "bob", &u, NULL), 0);
    assert_int_equal(iam_key_create(f->iam, "bob", a, s), 0);
    assert_int_equal(iam_auth_lookup(f->iam, a, got, &p), 0);
    assert_string_equal(got, s);
    assert_int_equal(p.type, AUTH_USER);
    assert_string_equal(p.arn, "arn:aws:iam::" ACCOUNT ":user/bob");
    assert_string_equal(p.account, ACCOUNT);
    assert_string_equal(p.user_name, "bob");
    assert_string_equal(p.user_id, u.user_id);
}

static void
test_lookup_refuses_inactive_deleted_unknown(void **state)
{
    struct fx *f = *state;
    char a[IAM_AKID_LEN + 1], s[IAM_SECRET_LEN + 1], got[128];
    struct auth_principal p;

    make_user(f, "bob");
    assert_int_equal(iam_key_create(f->iam, "bob", a, s), 0);
    assert_int_equal(meta_access_key_set_active(f->m, a, false), 0);
    assert_int_equal(iam_auth_lookup(f->iam, a, got, &p),
                     CERR_INVALID_ACCESS_KEY);
    assert_int_equal(meta_access_key_set_active(f->m, a, true), 0);
    assert_int_equal(iam_auth_lookup(f->iam, a, got, &p), 0);
    assert_int_equal(meta_access_key_delete(f->m, a), 0);
    assert_int_equal(iam_auth_lookup(f->iam, a, got, &p),
                     CERR_INVALID_ACCESS_KEY);
    assert_int_equal(iam_auth_lookup(f->iam, "AKIAUNKNOWN", got, &p),
                     CERR_INVALID_ACCESS_KEY);
}

/* A sealed secret moved to another key id does not open. */
static void
test_sealed_secret_bound_to_key_id(void **state)
{
    struct fx *f = *state;
    char a[IAM_AKID_LEN + 1], s[IAM_SECRET_LEN + 1], got[128];
    struct meta_access_key k;
    struct auth_principal p;

    make_user(f, "bob");
    make_user(f, "eve");
    assert_int_equal(iam_key_create(f->iam, "bob", a, s), 0);
    assert_int_equal(meta_access_key_get(f->m, a, &k, NULL), 0);
    snprintf(k.akid, sizeof(k.akid), "AKIAEVEEVEEVEEVEEVE2");
    snprintf(k.user_name, sizeof(k.user_name), "eve");
    assert_int_equal(meta_access_key_create(f->m, &k), 0);
    assert_int_equal(iam_auth_lookup(f->iam, k.akid, got, &p),
                     CERR_INVALID_ACCESS_KEY);
}

/* The secret never reaches the database file in the clear. */
static void
test_secret_not_stored_in_clear(void **state)
{
    struct fx *f = *state;
    char a[IAM_AKID_LEN + 1], s[IAM_SECRET_LEN + 1], path[160];
    const char *sfx[] = { "", "-wal" };
    bool seen = false;
    size_t i;

    make_user(f, "bob");
    assert_int_equal(iam_key_create(f->iam, "bob", a, s), 0);
    for (i = 0; i < 2; i++) {
        FILE *fp;
        char *data;
        long len;

        snprintf(path, sizeof(path), "%s%s", f->dbpath, sfx[i]);
        fp = fopen(path, "rb");
        if (fp == NULL)
            continue;
        fseek(fp, 0, SEEK_END);
        len = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        data = malloc((size_t)len + 1);
        assert_non_null(data);
        assert_int_equal(fread(data, 1, (size_t)len, fp), (size_t)len);
        fclose(fp);
        assert_null(memmem(data, (size_t)len, s, IAM_SECRET_LEN));
        seen = seen || memmem(data, (size_t)len, a, IAM_AKID_LEN) != NULL;
        free(data);
    }
    assert_true(seen);
}

/* Another root key cannot open the sealing key: the directory refuses. */
static void
test_wrong_root_key_refused(void **state)
{
    struct fx *f = *state;
    struct kms *k2;
    struct iam *i2;

    f->root_key[0] ^= 1;
    assert_int_equal(open_kms(f, &k2), 0);
    assert_int_equal(iam_open(f->m, k2, ACCOUNT, NULL, &i2), CERR_CORRUPT);
    assert_null(i2);
    kms_close(k2);
}

static void
test_hook_installed_on_creds(void **state)
{
    struct fx *f = *state;
    char a[IAM_AKID_LEN + 1], s[IAM_SECRET_LEN + 1], got[128];
    struct auth_principal p;
    struct auth_creds *c;
    struct iam *i2;

    setenv("COFFER_ROOT_ACCESS_KEY_ID", "AKIAROOTROOTROOTROOT", 1);
    setenv("COFFER_ROOT_SECRET_ACCESS_KEY", "rootsecret", 1);
    assert_int_equal(auth_creds_open(f->dir, ACCOUNT, &c, NULL, NULL), 0);
    unsetenv("COFFER_ROOT_ACCESS_KEY_ID");
    unsetenv("COFFER_ROOT_SECRET_ACCESS_KEY");
    assert_int_equal(iam_open(f->m, f->k, ACCOUNT, c, &i2), 0);

    make_user(f, "bob");
    assert_int_equal(iam_key_create(f->iam, "bob", a, s), 0);
    assert_int_equal(auth_creds_lookup(c, a, got, &p), 0);
    assert_string_equal(got, s);
    assert_string_equal(p.user_name, "bob");
    assert_int_equal(auth_creds_lookup(c, "AKIAROOTROOTROOTROOT", got, &p),
                     0);
    assert_int_equal(p.type, AUTH_ROOT);
    iam_close(i2);
    auth_creds_free(c);
}

static void
principal_of(struct fx *f, const char *name, struct auth_principal *p)
{
    struct meta_user u;

    assert_int_equal(meta_user_get(f->m, name, &u), 0);
    memset(p, 0, sizeof(*p));
    p->type = AUTH_USER;
    iam_user_arn(f->iam, name, p->arn, sizeof(p->arn));
    snprintf(p->account, sizeof(p->account), ACCOUNT);
    snprintf(p->user_name, sizeof(p->user_name), "%s", name);
    snprintf(p->user_id, sizeof(p->user_id), "%s", u.user_id);
}

static void
test_identity_follows_store(void **state)
{
    struct fx *f = *state;
    struct iam_identity *a, *b, *c;
    struct auth_principal p;
    size_t n;

    make_user(f, "bob");
    principal_of(f, "bob", &p);
    assert_int_equal(iam_identity_get(f->iam, &p, &a), 0);
    assert_non_null(a);
    assert_null(iam_identity_policies(a, &n));
    assert_int_equal(n, 0);

    assert_int_equal(iam_policy_attach(f->iam, "bob", "read", allow_get,
                                       strlen(allow_get), NULL), 0);
    assert_int_equal(iam_identity_get(f->iam, &p, &b), 0);
    assert_non_null(iam_identity_policies(b, &n));
    assert_int_equal(n, 1);
    assert_int_equal(iam_identity_get(f->iam, &p, &c), 0);
    assert_ptr_equal(b, c);     /* same texts: the cached parse */
    iam_identity_release(c);

    assert_int_equal(meta_user_policy_delete(f->m, "bob", "read"), 0);
    assert_int_equal(iam_identity_get(f->iam, &p, &c), 0);
    iam_identity_policies(c, &n);
    assert_int_equal(n, 0);
    /* b is still whole for whoever holds it. */
    iam_identity_policies(b, &n);
    assert_int_equal(n, 1);
    iam_identity_release(a);
    iam_identity_release(b);
    iam_identity_release(c);
}

static void
test_identity_root_and_anonymous_have_none(void **state)
{
    struct fx *f = *state;
    struct iam_identity *id = (void *)1;
    struct auth_principal p;

    memset(&p, 0, sizeof(p));
    p.type = AUTH_ROOT;
    assert_int_equal(iam_identity_get(f->iam, &p, &id), 0);
    assert_null(id);
    p.type = AUTH_ANONYMOUS;
    assert_int_equal(iam_identity_get(f->iam, &p, &id), 0);
    assert_null(id);
}

/* A deleted user has no policies, even if a request still names it. */
static void
test_identity_of_deleted_user(void **state)
{
    struct fx *f = *state;
    struct iam_identity *id;
    struct auth_principal p;
    size_t n;

    make_user(f, "bob");
    principal_of(f, "bob", &p);
    assert_int_equal(meta_user_delete(f->m, "bob", true), 0);
    assert_int_equal(iam_identity_get(f->iam, &p, &id), 0);
    iam_identity_policies(id, &n);
    assert_int_equal(n, 0);
    iam_identity_release(id);
}

/* More users than cache slots: every answer still right. */
static void
test_identity_cache_eviction(void **state)
{
    struct fx *f = *state;
    struct auth_principal p;
    struct iam_identity *id;
    char name[16];
    size_t i, n;

    for (i = 0; i < 80; i++) {
        snprintf(name, sizeof(name), "u%zu", i);
        make_user(f, name);
        if (i % 2 == 0)
            assert_int_equal(iam_policy_attach(f->iam, name, "p", allow_get,
                                               strlen(allow_get), NULL), 0);
    }
    for (i = 0; i < 160; i++) {
        snprintf(name, sizeof(name), "u%zu", i % 80);
        principal_of(f, name, &p);
        assert_int_equal(iam_identity_get(f->iam, &p, &id), 0);
        iam_identity_policies(id, &n);
        assert_int_equal(n, (i % 80) % 2 == 0 ? 1 : 0);
        iam_identity_release(id);
    }
}

static void
test_policy_attach_validates(void **state)
{
    struct fx *f = *state;
    static const char with_principal[] =
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\","
        "\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}}";
    struct err_detail d;

    make_user(f, "bob");
    err_clear(&d);
    assert_int_equal(iam_policy_attach(f->iam, "bob", "p", "nope", 4, &d),
                     CERR_MALFORMED_POLICY);
    assert_true(d.message[0] != '\0');
    assert_int_equal(iam_policy_attach(f->iam, "bob", "p", with_principal,
                                       strlen(with_principal), NULL),
                     CERR_MALFORMED_POLICY);
    assert_int_equal(iam_policy_attach(f->iam, "bob", "bad name", allow_get,
                                       strlen(allow_get), NULL),
                     CERR_INVALID_ARGUMENT);
    assert_int_equal(iam_policy_attach(f->iam, "nobody", "p", allow_get,
                                       strlen(allow_get), NULL),
                     CERR_IAM_NO_SUCH_ENTITY);
}

/* IAM's quota: 2048 characters of inline policy per user, whitespace
 * outside strings not counted; replacing a policy frees its share. */
static void
test_policy_attach_quota(void **state)
{
    struct fx *f = *state;
    struct err_detail d;
    char doc[2100], pad[1500];

    make_user(f, "bob");
    memset(pad, 'a', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(doc, sizeof(doc), "{\"Version\":\"2012-10-17\",\"Statement\":"
             "{\"Sid\":\"%s\",   \"Effect\":\"Allow\",\"Action\":\"s3:Get*\","
             "\"Resource\":\"*\"}}", pad);
    assert_int_equal(iam_policy_attach(f->iam, "bob", "big", doc,
                                       strlen(doc), NULL), 0);
    assert_int_equal(iam_policy_attach(f->iam, "bob", "big", doc,
                                       strlen(doc), NULL), 0);
    err_clear(&d);
    assert_int_equal(iam_policy_attach(f->iam, "bob", "more", doc,
                                       strlen(doc), &d),
                     CERR_IAM_LIMIT_EXCEEDED);
    assert_non_null(strstr(d.message, "2048"));
    assert_int_equal(iam_policy_attach(f->iam, "bob", "small", allow_get,
                                       strlen(allow_get), NULL), 0);
}

static void
test_user_arn_check(void **state)
{
    struct fx *f = *state;

    make_user(f, "bob");
    assert_int_equal(iam_user_arn_check(f->iam,
                     "arn:aws:iam::" ACCOUNT ":user/bob"), 0);
    assert_int_equal(iam_user_arn_check(f->iam,
                     "arn:aws:iam::" ACCOUNT ":user/alice"),
                     CERR_IAM_NO_SUCH_ENTITY);
    assert_int_equal(iam_user_arn_check(f->iam,
                     "arn:aws:iam::" ACCOUNT ":user/dept/bob"),
                     CERR_IAM_NO_SUCH_ENTITY);
    assert_int_equal(iam_user_arn_check(f->iam,
                     "arn:aws:iam::444455556666:user/zed"), 0);
}

/* ---- The linter ------------------------------------------------------- */

static size_t
lint_text(const char *doc, enum policy_kind kind, const char *bucket,
          struct buf *text, struct buf *warn)
{
    struct policy *p = NULL;
    size_t n;

    assert_int_equal(policy_parse(doc, strlen(doc), kind, bucket, &p, NULL),
                     0);
    n = policy_lint(p, text, warn);
    policy_free(p);
    buf_putc(text, '\0');
    buf_putc(warn, '\0');
    return n;
}

static void
test_lint_recipe(void **state)
{
    static const char doc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"D\","
        "\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":"
        "\"s3:PutObject\",\"Resource\":\"arn:aws:s3:::b/*\",\"Condition\":"
        "{\"StringNotEquals\":{\"s3:x-amz-server-side-encryption\":"
        "\"aws:kms\"}}}]}";
    struct buf text = BUF_INIT, warn = BUF_INIT;

    (void)state;
    assert_int_equal(lint_text(doc, POLICY_BUCKET, "b", &text, &warn), 1);
    assert_string_equal(text.data, "statement \"D\": denies s3:PutObject on "
                        "arn:aws:s3:::b/* to everyone (anonymous callers "
                        "included) when s3:x-amz-server-side-encryption is "
                        "not \"aws:kms\" (or the key is absent).\n");
    assert_non_null(strstr(warn.data, "whatever the bucket default"));
    buf_free(&text);
    buf_free(&warn);
}

static void
test_lint_clean_policy_has_no_warning(void **state)
{
    static const char doc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
        "\"Principal\":{\"AWS\":\"111122223333\"},\"Action\":"
        "[\"s3:GetObject\",\"s3:PutObject\"],\"Resource\":"
        "\"arn:aws:s3:::b/*\"}]}";
    struct buf text = BUF_INIT, warn = BUF_INIT;

    (void)state;
    assert_int_equal(lint_text(doc, POLICY_BUCKET, "b", &text, &warn), 0);
    assert_string_equal(warn.data, "");
    assert_non_null(strstr(text.data, "to account 111122223333"));
    buf_free(&text);
    buf_free(&warn);
}

/* A negated operator on a key that some actions never carry. */
static void
test_lint_key_never_carried(void **state)
{
    static const char doc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\","
        "\"Action\":[\"s3:ListBucket\",\"s3:GetObject\"],\"Resource\":"
        "[\"arn:aws:s3:::b\",\"arn:aws:s3:::b/*\"],\"Condition\":{"
        "\"StringNotEquals\":{\"s3:prefix\":\"home/\"}}}]}";
    struct buf text = BUF_INIT, warn = BUF_INIT;

    (void)state;
    assert_int_equal(lint_text(doc, POLICY_IDENTITY, NULL, &text, &warn), 1);
    assert_non_null(strstr(warn.data, "s3:prefix never comes with "
                           "s3:GetObject, so StringNotEquals is always true"));
    buf_free(&text);
    buf_free(&warn);
}

/* IfExists on a key the only action carries: nothing to say. */
static void
test_lint_key_carried_by_every_action(void **state)
{
    static const char doc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
        "\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::b\","
        "\"Condition\":{\"StringEqualsIfExists\":{\"s3:prefix\":\"a/\"}}}]}";
    struct buf text = BUF_INIT, warn = BUF_INIT;

    (void)state;
    assert_int_equal(lint_text(doc, POLICY_IDENTITY, NULL, &text, &warn), 0);
    buf_free(&text);
    buf_free(&warn);
}

static void
test_lint_resource_never_matches(void **state)
{
    static const char doc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
        "\"Action\":\"s3:ListBucket\",\"Resource\":[\"arn:aws:s3:::b\","
        "\"arn:aws:s3:::b/*\",\"arn:aws:kms:us-east-1:111122223333:key/k\"]"
        "},{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\","
        "\"s3:CreateBucket\"],\"Resource\":\"arn:aws:s3:::b/*\"}]}";
    struct buf text = BUF_INIT, warn = BUF_INIT;

    (void)state;
    assert_int_equal(lint_text(doc, POLICY_IDENTITY, NULL, &text, &warn), 3);
    assert_non_null(strstr(warn.data, "statement 1: Resource "
                           "arn:aws:s3:::b/* never matches"));
    assert_non_null(strstr(warn.data, "statement 1: Resource "
                           "arn:aws:kms:us-east-1:111122223333:key/k never "
                           "matches"));
    assert_non_null(strstr(warn.data, "statement 2: s3:CreateBucket never "
                           "applies"));
    buf_free(&text);
    buf_free(&warn);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_user_create_get_list),
        T(test_user_duplicate_and_bad_names),
        T(test_key_limit_list_and_status),
        T(test_user_delete_conflict_and_force),
        T(test_policy_put_replace_delete),
        T(test_schema_added_to_old_database),
        T(test_lookup_active_key),
        T(test_lookup_refuses_inactive_deleted_unknown),
        T(test_sealed_secret_bound_to_key_id),
        T(test_secret_not_stored_in_clear),
        T(test_wrong_root_key_refused),
        T(test_hook_installed_on_creds),
        T(test_identity_follows_store),
        T(test_identity_root_and_anonymous_have_none),
        T(test_identity_of_deleted_user),
        T(test_identity_cache_eviction),
        T(test_policy_attach_validates),
        T(test_policy_attach_quota),
        T(test_user_arn_check),
        cmocka_unit_test(test_lint_recipe),
        cmocka_unit_test(test_lint_clean_policy_has_no_warning),
        cmocka_unit_test(test_lint_key_never_carried),
        cmocka_unit_test(test_lint_key_carried_by_every_action),
        cmocka_unit_test(test_lint_resource_never_matches),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
