/*
 * `coffer admin policy ...`: users' identity policies, and the linter
 * for any policy document (bucket, identity or key policy).
 *
 * attach validates the document as an identity policy first, with the
 * messages a bucket policy would get at PutBucketPolicy.  lint decides
 * what kind of policy a file holds from its text (a Principal and S3
 * resources: a bucket policy; a Principal and "*": a key policy; no
 * Principal: an identity policy), or is told with --kind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin.h"
#include "iam/iam.h"
#include "policy/policy.h"
#include "store/meta.h"
#include "util/buf.h"
#include "util/err.h"

#define POLICY_FILE_MAX (1024 * 1024)

static const char policy_usage[] =
    "usage: coffer admin policy attach USER NAME FILE\n"
    "       coffer admin policy detach USER NAME\n"
    "       coffer admin policy list USER\n"
    "       coffer admin policy get USER NAME\n"
    "       coffer admin policy lint [--kind bucket|identity|key] FILE\n"
    "FILE may be - for standard input.  lint explains each statement and\n"
    "prints warnings; it exits 0 for a valid policy (warnings or not), 1\n"
    "for one coffer would refuse.\n";

/* The whole file (or standard input for "-"), NUL-terminated. */
static char *
read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;

    if (f == NULL) {
        admin_errorf("cannot open %s", path);
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
           b.len < POLICY_FILE_MAX)
        buf_append(&b, chunk, n);
    if (f != stdin)
        fclose(f);
    if (b.len >= POLICY_FILE_MAX || buf_failed(&b)) {
        admin_errorf("%s is too large", path);
        buf_free(&b);
        return NULL;
    }
    buf_putc(&b, '\0');
    *len = b.len - 1;
    return buf_steal(&b, NULL);
}

/* Print a refused policy's reason the way S3 would word it. */
static int
refused(int rc, const struct err_detail *d)
{
    if (rc == CERR_MALFORMED_POLICY || rc == CERR_NOT_IMPLEMENTED ||
        rc == CERR_INVALID_ARGUMENT || rc == CERR_IAM_LIMIT_EXCEEDED)
        admin_errorf("%s: %s", err_name(rc), d->message[0] ? d->message
                                                           : err_name(rc));
    else if (rc == CERR_IAM_NO_SUCH_ENTITY)
        admin_errorf("no such user");
    else
        admin_errorf("%s", err_name(rc));
    return 1;
}

static int
attach(struct admin_ctx *ctx, const char *user, const char *name,
       const char *path)
{
    struct err_detail d;
    size_t len;
    char *text;
    int rc;

    if ((text = read_all(path, &len)) == NULL)
        return 1;
    err_clear(&d);
    rc = iam_policy_attach(ctx->iam, user, name, text, len, &d);
    free(text);
    return rc == 0 ? 0 : refused(rc, &d);
}

static int
list(struct admin_ctx *ctx, const char *user, const char *only)
{
    struct meta_user_policy *v;
    json_t *arr;
    size_t i, n;
    int rc;

    rc = meta_user_policy_list(ctx->meta, user, &v, &n);
    if (rc != 0) {
        admin_errorf(rc == CERR_IAM_NO_SUCH_ENTITY ? "user %s does not exist"
                     : "user %s: cannot list policies", user);
        return 1;
    }
    for (i = 0; only != NULL && i < n; i++)
        if (strcmp(v[i].name, only) == 0)
            break;
    if (only != NULL && i == n) {
        meta_user_policy_list_free(v, n);
        admin_errorf("user %s has no policy %s", user, only);
        return 1;
    }
    if (only != NULL) {
        fputs(v[i].document, stdout);
        fputc('\n', stdout);
        meta_user_policy_list_free(v, n);
        return 0;
    }
    arr = json_array();
    for (i = 0; arr != NULL && i < n; i++)
        json_array_append_new(arr, json_string(v[i].name));
    meta_user_policy_list_free(v, n);
    return admin_print_json(json_pack("{s:o}", "PolicyNames", arr));
}

/*
 * Guess the kind of a policy from its text; *bucket gets the bucket of
 * the first S3 resource of a bucket policy.
 */
static enum policy_kind
guess_kind(const char *text, size_t len, char *bucket, size_t cap)
{
    static const char s3[] = "arn:aws:s3:::";
    enum policy_kind kind = POLICY_IDENTITY;
    json_t *doc, *stmts, *st, *res;
    const char *r;
    size_t i;

    bucket[0] = '\0';
    doc = json_loadb(text, len, 0, NULL);
    stmts = json_object_get(doc, "Statement");
    for (i = 0; stmts != NULL && (st = json_is_array(stmts) ?
         json_array_get(stmts, i) : i == 0 ? stmts : NULL) != NULL; i++) {
        if (json_object_get(st, "Principal") == NULL &&
            json_object_get(st, "NotPrincipal") == NULL)
            continue;
        kind = POLICY_KEY;
        res = json_object_get(st, "Resource");
        if (res == NULL)
            res = json_object_get(st, "NotResource");
        r = json_string_value(json_is_array(res) ? json_array_get(res, 0)
                                                 : res);
        if (r != NULL && strncmp(r, s3, sizeof(s3) - 1) == 0) {
            snprintf(bucket, cap, "%.*s",
                     (int)strcspn(r + sizeof(s3) - 1, "/"),
                     r + sizeof(s3) - 1);
            kind = POLICY_BUCKET;
            break;
        }
    }
    json_decref(doc);
    return kind;
}

static const char *
kind_name(enum policy_kind k)
{
    return k == POLICY_BUCKET ? "bucket" : k == POLICY_KEY ? "key"
                                                           : "identity";
}

static int
lint(const char *kind_arg, const char *path)
{
    struct buf text = BUF_INIT, warn = BUF_INIT;
    struct policy *p = NULL;
    enum policy_kind kind;
    struct err_detail d;
    char bucket[64];
    size_t len, n;
    char *doc;
    int rc;

    if ((doc = read_all(path, &len)) == NULL)
        return 1;
    kind = guess_kind(doc, len, bucket, sizeof(bucket));
    if (kind_arg != NULL)
        kind = strcmp(kind_arg, "bucket") == 0 ? POLICY_BUCKET :
               strcmp(kind_arg, "key") == 0 ? POLICY_KEY : POLICY_IDENTITY;
    err_clear(&d);
    rc = policy_parse(doc, len, kind, bucket, &p, &d);
    free(doc);
    if (rc != 0) {
        printf("%s policy refused: %s: %s\n", kind_name(kind), err_name(rc),
               d.message[0] ? d.message : err_name(rc));
        return 1;
    }

    n = policy_lint(p, &text, &warn);
    policy_free(p);
    printf("%s policy%s%s, %zu warning%s\n", kind_name(kind),
           bucket[0] && kind == POLICY_BUCKET ? " of bucket " : "",
           kind == POLICY_BUCKET ? bucket : "", n, n == 1 ? "" : "s");
    fwrite(text.data, 1, text.len, stdout);
    fwrite(warn.data, 1, warn.len, stdout);
    buf_free(&text);
    buf_free(&warn);
    return 0;
}

/* `coffer admin policy VERB ...`; see admin.h. */
int
admin_policy_main(struct admin_ctx *ctx, int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : "";

    if (strcmp(verb, "lint") == 0 && argc == 3)
        return lint(NULL, argv[2]);
    if (strcmp(verb, "lint") == 0 && argc == 5 &&
        strcmp(argv[2], "--kind") == 0 &&
        (strcmp(argv[3], "bucket") == 0 || strcmp(argv[3], "key") == 0 ||
         strcmp(argv[3], "identity") == 0))
        return lint(argv[3], argv[4]);
    if (!((strcmp(verb, "attach") == 0 && argc == 5) ||
          (strcmp(verb, "detach") == 0 && argc == 4) ||
          (strcmp(verb, "list") == 0 && argc == 3) ||
          (strcmp(verb, "get") == 0 && argc == 4))) {
        fputs(policy_usage, stderr);
        return 2;
    }
    if (admin_ctx_iam(ctx) != 0)
        return 1;

    if (strcmp(verb, "attach") == 0)
        return attach(ctx, argv[2], argv[3], argv[4]);
    if (strcmp(verb, "list") == 0)
        return list(ctx, argv[2], NULL);
    if (strcmp(verb, "get") == 0)
        return list(ctx, argv[2], argv[3]);
    if (meta_user_policy_delete(ctx->meta, argv[2], argv[3]) != 0) {
        admin_errorf("user %s has no policy %s", argv[2], argv[3]);
        return 1;
    }
    return 0;
}
