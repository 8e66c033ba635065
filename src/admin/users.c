/*
 * `coffer admin user ...` and `coffer admin key ...`: IAM users and their
 * access keys in a data directory.  Output is JSON shaped like the aws
 * CLI's `aws iam` output for the same operation, so scripts written for
 * one read the other.  A new secret key is printed once, by `key create`,
 * and never again: only its sealed form is stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin.h"
#include "crypto/crypto.h"
#include "iam/iam.h"
#include "store/meta.h"
#include "util/err.h"
#include "util/timefmt.h"

static const char user_usage[] =
    "usage: coffer admin user create NAME\n"
    "       coffer admin user delete NAME [--force]\n"
    "       coffer admin user list\n"
    "--force also deletes the user's access keys and policies.\n";

static const char key_usage[] =
    "usage: coffer admin key create USER\n"
    "       coffer admin key list USER\n"
    "       coffer admin key deactivate|activate|delete ACCESS_KEY_ID\n"
    "A new secret key is printed once, by create, and never again.\n";

/* ISO 8601 with seconds, as IAM prints dates. */
static json_t *
date_json(int64_t ms)
{
    char when[32];

    time_iso8601(ms, when);
    memcpy(when + 19, "Z", 2);
    return json_string(when);
}

static json_t *
user_json(struct admin_ctx *ctx, const struct meta_user *u)
{
    char arn[256];

    iam_user_arn(ctx->iam, u->name, arn, sizeof(arn));
    return json_pack("{s:s, s:s, s:s, s:o}", "UserName", u->name,
                     "UserId", u->user_id, "Arn", arn,
                     "CreateDate", date_json(u->created_ms));
}

/* Say why a store call failed, naming what it was about. */
static int
fail(int rc, const char *what)
{
    switch (rc) {
    case CERR_IAM_NO_SUCH_ENTITY:
        admin_errorf("%s does not exist", what);
        break;
    case CERR_IAM_ENTITY_EXISTS:
        admin_errorf("%s already exists", what);
        break;
    case CERR_IAM_DELETE_CONFLICT:
        admin_errorf("%s still has access keys or policies (delete them "
                     "first, or use --force)", what);
        break;
    case CERR_IAM_LIMIT_EXCEEDED:
        admin_errorf("%s already has %d access keys (delete one first)",
                     what, META_USER_KEYS_MAX);
        break;
    default:
        admin_errorf("%s: %s", what, err_name(rc));
    }
    return 1;
}

static int
user_create(struct admin_ctx *ctx, const char *name)
{
    struct err_detail d;
    struct meta_user u;
    char what[96];
    int rc;

    err_clear(&d);
    snprintf(what, sizeof(what), "user %s", name);
    rc = iam_user_create(ctx->iam, name, &u, &d);
    if (rc == CERR_INVALID_ARGUMENT) {
        admin_errorf("%s", d.message);
        return 2;
    }
    if (rc != 0)
        return fail(rc, what);
    return admin_print_json(json_pack("{s:o}", "User", user_json(ctx, &u)));
}

static int
user_list(struct admin_ctx *ctx)
{
    struct meta_user *v;
    json_t *arr;
    size_t i, n;
    int rc;

    rc = meta_user_list(ctx->meta, &v, &n);
    if (rc != 0)
        return fail(rc, "users");
    arr = json_array();
    for (i = 0; arr != NULL && i < n; i++)
        json_array_append_new(arr, user_json(ctx, &v[i]));
    free(v);
    return admin_print_json(json_pack("{s:o}", "Users", arr));
}

/* `coffer admin user VERB ...`; see admin.h. */
int
admin_user_main(struct admin_ctx *ctx, int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "";
    char what[96];
    bool force;
    int rc;

    if (!((strcmp(verb, "create") == 0 && argc == 3) ||
          (strcmp(verb, "delete") == 0 && (argc == 3 || (argc == 4 &&
           strcmp(argv[3], "--force") == 0))) ||
          (strcmp(verb, "list") == 0 && argc == 2))) {
        fputs(user_usage, stderr);
        return 2;
    }
    if ((rc = admin_ctx_iam(ctx)) != 0)
        return 1;

    if (strcmp(verb, "create") == 0)
        return user_create(ctx, argv[2]);
    if (strcmp(verb, "list") == 0)
        return user_list(ctx);
    force = argc == 4;
    snprintf(what, sizeof(what), "user %s", argv[2]);
    rc = meta_user_delete(ctx->meta, argv[2], force);
    return rc == 0 ? 0 : fail(rc, what);
}

/*
 * Print the new key with its secret.  The text holding the secret is
 * wiped before it is freed; the JSON value's copy is wiped too.
 */
static int
print_new_key(const char *user, const char *akid, char *secret,
              int64_t now)
{
    json_t *v, *s;
    char *text;

    s = json_string(secret);
    v = json_pack("{s:{s:s, s:s, s:s, s:O, s:o}}", "AccessKey",
                  "UserName", user, "AccessKeyId", akid, "Status", "Active",
                  "SecretAccessKey", s, "CreateDate", date_json(now));
    text = v ? json_dumps(v, JSON_INDENT(4) | JSON_PRESERVE_ORDER) : NULL;
    if (s != NULL) {
        crypto_wipe((char *)json_string_value(s), IAM_SECRET_LEN);
        json_decref(s);
    }
    json_decref(v);
    if (text == NULL) {
        admin_errorf("out of memory");
        return 1;
    }
    puts(text);
    fflush(stdout);
    crypto_wipe(text, strlen(text));
    free(text);
    return 0;
}

static int
key_create(struct admin_ctx *ctx, const char *user)
{
    char akid[IAM_AKID_LEN + 1], secret[IAM_SECRET_LEN + 1], what[96];
    int64_t now = time_now_ms();
    int rc;

    snprintf(what, sizeof(what), "user %s", user);
    rc = iam_key_create(ctx->iam, user, akid, secret);
    if (rc != 0)
        return fail(rc, what);
    rc = print_new_key(user, akid, secret, now);
    crypto_wipe(secret, sizeof(secret));
    return rc;
}

static int
key_list(struct admin_ctx *ctx, const char *user)
{
    struct meta_access_key *v;
    char what[96];
    json_t *arr;
    size_t i, n;
    int rc;

    snprintf(what, sizeof(what), "user %s", user);
    rc = meta_access_key_list(ctx->meta, user, &v, &n);
    if (rc != 0)
        return fail(rc, what);
    arr = json_array();
    for (i = 0; arr != NULL && i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o}",
            "UserName", v[i].user_name, "AccessKeyId", v[i].akid,
            "Status", v[i].active ? "Active" : "Inactive",
            "CreateDate", date_json(v[i].created_ms)));
    crypto_wipe(v, n * sizeof(*v));
    free(v);
    return admin_print_json(json_pack("{s:o}", "AccessKeyMetadata", arr));
}

/* `coffer admin key VERB ...`; see admin.h. */
int
admin_key_main(struct admin_ctx *ctx, int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "";
    char what[96];
    int rc;

    if (argc != 3 || (strcmp(verb, "create") != 0 &&
                      strcmp(verb, "list") != 0 &&
                      strcmp(verb, "deactivate") != 0 &&
                      strcmp(verb, "activate") != 0 &&
                      strcmp(verb, "delete") != 0)) {
        fputs(key_usage, stderr);
        return 2;
    }
    if (admin_ctx_iam(ctx) != 0)
        return 1;

    if (strcmp(verb, "create") == 0)
        return key_create(ctx, argv[2]);
    if (strcmp(verb, "list") == 0)
        return key_list(ctx, argv[2]);
    snprintf(what, sizeof(what), "access key %s", argv[2]);
    if (strcmp(verb, "delete") == 0)
        rc = meta_access_key_delete(ctx->meta, argv[2]);
    else
        rc = meta_access_key_set_active(ctx->meta, argv[2],
                                        strcmp(verb, "activate") == 0);
    return rc == 0 ? 0 : fail(rc, what);
}
