/*
 * The `coffer admin` dispatcher: shared options, the table of groups and
 * the data directory's metadata, key service and user directory that
 * groups open on demand.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "admin/admin.h"
#include "crypto/crypto.h"
#include "iam/iam.h"
#include "kms/kms.h"
#include "store/meta.h"
#include "util/err.h"

#define DEFAULT_DATA "./coffer-data"

struct group {
    const char *name;
    admin_group_fn fn;
    const char *summary;
};

/*
 * One row per group, in the order usage lists them.
 * XXX: no IAM groups, roles or managed policies: there is no command for
 * them, and a policy naming a role is refused as an invalid principal.
 */
static const struct group groups[] = {
    { "user", admin_user_main, "create, delete and list users" },
    { "key", admin_key_main, "create, list, (de)activate and delete "
      "access keys" },
    { "policy", admin_policy_main, "attach, detach, show and lint "
      "policies" },
    { "audit", admin_audit_main, "count KMS calls, verify the audit "
      "trail" },
    { NULL, NULL, NULL },
};

static void
usage(FILE *f)
{
    const struct group *g;

    fputs("usage: coffer admin [--data DIR] GROUP VERB [ARGS...]\n"
          "\n"
          "Administers a data directory (default " DEFAULT_DATA "), "
          "with or without\na server running on it.\n\ngroups:\n", f);
    for (g = groups; g->name != NULL; g++)
        fprintf(f, "  %-10s %s\n", g->name, g->summary);
}

/*
 * Print a message for the operator.  Never pass a secret: standard error
 * may end up in a log.
 */
void
admin_errorf(const char *fmt, ...)
{
    va_list ap;

    fputs("coffer admin: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/*
 * Open DATA/meta.db.  The file must exist: creating an empty data
 * directory here would make a server started later draw a new account id
 * and root key for it, which is never what an operator meant.
 */
int
admin_ctx_meta(struct admin_ctx *ctx)
{
    char path[PATH_MAX + 16];
    struct stat st;
    int rc;

    if (ctx->meta != NULL)
        return 0;
    snprintf(path, sizeof(path), "%s/meta.db", ctx->data_dir);
    if (stat(path, &st) != 0) {
        admin_errorf("%s: no such data directory (start a server on it "
                     "once first)", ctx->data_dir);
        return CERR_IO;
    }
    if ((rc = meta_open_sqlite(path, &ctx->meta)) != 0) {
        admin_errorf("cannot open %s: %s", path, err_name(rc));
        return rc;
    }
    if (meta_setting_get(ctx->meta, "account_id", ctx->account,
                         sizeof(ctx->account)) != 0)
        ctx->account[0] = '\0';
    return 0;
}

/* Refuse to make a root key: only a server's first start may. */
static int
root_key_present(struct admin_ctx *ctx)
{
    char path[PATH_MAX + 16];
    struct stat st;

    if (getenv("COFFER_ROOT_KEY") != NULL)
        return 0;
    snprintf(path, sizeof(path), "%s/root.key", ctx->data_dir);
    if (stat(path, &st) == 0)
        return 0;
    admin_errorf("%s does not exist: set COFFER_ROOT_KEY to the root key "
                 "the server uses", path);
    return CERR_IO;
}

/*
 * Open everything users need.  The key service gets no audit directory:
 * sealing a secret key under an internal key is not a KMS call, and the
 * server owns the audit chain.
 */
int
admin_ctx_iam(struct admin_ctx *ctx)
{
    struct kms_config kc;
    struct err_detail d;
    int rc;

    if (ctx->iam != NULL)
        return 0;
    if ((rc = admin_ctx_meta(ctx)) != 0 || (rc = root_key_present(ctx)) != 0)
        return rc;
    memset(&kc, 0, sizeof(kc));
    err_clear(&d);
    rc = kms_root_key_load(ctx->data_dir, kc.root_key, &d);
    kc.region = "us-east-1";    /* internal keys do not depend on it */
    kc.account = ctx->account;
    if (rc == 0)
        rc = kms_open(ctx->meta, &kc, &ctx->kms, &d);
    crypto_wipe(kc.root_key, sizeof(kc.root_key));
    if (rc != 0) {
        admin_errorf("cannot open the key service: %s",
                     d.message[0] ? d.message : err_name(rc));
        return rc;
    }
    rc = iam_open(ctx->meta, ctx->kms, ctx->account, NULL, &ctx->iam);
    if (rc == CERR_CORRUPT)
        admin_errorf("the root key does not open this data directory's "
                     "keys: is it the server's?");
    else if (rc != 0)
        admin_errorf("cannot open the user directory: %s", err_name(rc));
    return rc;
}

/* Print a JSON value to standard output and free it; see admin.h. */
int
admin_print_json(struct json_t *v)
{
    char *text = v ? json_dumps(v, JSON_INDENT(4) | JSON_PRESERVE_ORDER)
                   : NULL;

    json_decref(v);
    if (text == NULL) {
        admin_errorf("out of memory");
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

/* Take --data DIR (or --data=DIR) and --help before the group's name. */
static int
parse_common(struct admin_ctx *ctx, int argc, char **argv, int *next)
{
    int i;

    snprintf(ctx->data_dir, sizeof(ctx->data_dir), "%s", DEFAULT_DATA);
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            snprintf(ctx->data_dir, sizeof(ctx->data_dir), "%s", argv[++i]);
        } else if (strncmp(argv[i], "--data=", 7) == 0) {
            snprintf(ctx->data_dir, sizeof(ctx->data_dir), "%s",
                     argv[i] + 7);
        } else if (strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 1;
        } else {
            admin_errorf("unknown option '%s'", argv[i]);
            return -1;
        }
    }
    *next = i;
    return 0;
}

/*
 * Dispatch `coffer admin [--data DIR] GROUP ...` to the group's function.
 * Returns the exit status.
 */
int
admin_main(int argc, char **argv)
{
    struct admin_ctx ctx;
    const struct group *g;
    int i, rc;

    memset(&ctx, 0, sizeof(ctx));
    rc = parse_common(&ctx, argc, argv, &i);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (i >= argc) {
        usage(stderr);
        return 2;
    }

    for (g = groups; g->name != NULL; g++)
        if (strcmp(g->name, argv[i]) == 0)
            break;
    if (g->name == NULL) {
        admin_errorf("unknown group '%s'", argv[i]);
        usage(stderr);
        return 2;
    }
    rc = g->fn(&ctx, argc - i, argv + i);
    iam_close(ctx.iam);
    kms_close(ctx.kms);
    if (ctx.meta != NULL)
        meta_close(ctx.meta);
    return rc;
}
