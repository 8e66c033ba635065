/*
 * `coffer admin audit`: the operator's view of the KMS audit trail in
 * DATA/audit/, read straight from the files (a server may be running).
 *
 *     coffer admin audit [--data DIR] [--json]
 *         calls per key ARN and operation, with how many failed, and the
 *         total of KMS calls: records of a cryptographic operation on key
 *         material (an authorization before a cached bucket key is reused
 *         is not one)
 *     coffer admin audit verify [--data DIR]
 *         check the hash chain; the first broken link is reported and
 *         the exit status is 1
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin.h"
#include "kms/kms.h"
#include "util/err.h"

struct tally {
    json_t *keys;                   /* {arn: {op: [calls, failed]}} */
    size_t records;
    size_t calls;
    size_t calls_failed;
};

static const char *
member(const json_t *rec, const char *name)
{
    const char *s = json_string_value(json_object_get(rec, name));

    return s != NULL ? s : "";
}

/* Count one record into the tally. */
static int
count(const json_t *rec, void *arg)
{
    struct tally *t = arg;
    const char *arn = member(rec, "keyArn"), *op = member(rec, "operation");
    bool failed = strcmp(member(rec, "outcome"), "ok") != 0;
    json_t *per, *pair;

    t->records++;
    if (kms_audit_is_call(op)) {
        t->calls++;
        t->calls_failed += failed;
    }
    per = json_object_get(t->keys, arn);
    if (per == NULL && json_object_set_new(t->keys, arn,
                                           per = json_object()) != 0)
        return CERR_NOMEM;
    pair = json_object_get(per, op);
    if (pair == NULL && json_object_set_new(per, op,
                                            pair = json_pack("[ii]", 0, 0)))
        return CERR_NOMEM;
    json_array_set_new(pair, 0, json_integer(
        json_integer_value(json_array_get(pair, 0)) + 1));
    json_array_set_new(pair, 1, json_integer(
        json_integer_value(json_array_get(pair, 1)) + failed));
    return 0;
}

static void
print_text(const struct tally *t)
{
    const char *arn, *op;
    json_t *per, *pair;

    printf("%-72s %-32s %8s %8s\n", "KEY", "OPERATION", "CALLS", "FAILED");
    json_object_foreach(t->keys, arn, per) {
        json_object_foreach(per, op, pair) {
            printf("%-72s %-32s %8lld %8lld\n", arn[0] ? arn : "-", op,
                   (long long)json_integer_value(json_array_get(pair, 0)),
                   (long long)json_integer_value(json_array_get(pair, 1)));
        }
    }
    printf("\nrecords: %zu\nKMS calls (cryptographic operations on key "
           "material): %zu, of which failed: %zu\n", t->records, t->calls,
           t->calls_failed);
}

/* {"Counters": {arn: {op: {"Calls": n, "Failed": m}}}, "KmsCalls": ...} */
static json_t *
as_json(const struct tally *t)
{
    const char *arn, *op;
    json_t *out, *all, *per, *pair, *o;

    all = json_object();
    json_object_foreach(t->keys, arn, per) {
        o = json_object();
        json_object_foreach(per, op, pair)
            json_object_set_new(o, op, json_pack("{s:O, s:O}",
                                "Calls", json_array_get(pair, 0),
                                "Failed", json_array_get(pair, 1)));
        json_object_set_new(all, arn, o);
    }
    out = json_pack("{s:o, s:I, s:I, s:I}", "Counters", all,
                    "KmsCalls", (json_int_t)t->calls,
                    "KmsCallsFailed", (json_int_t)t->calls_failed,
                    "Records", (json_int_t)t->records);
    return out;
}

static int
counters(const char *dir, bool json)
{
    struct tally t = { json_object(), 0, 0, 0 };
    struct err_detail d;
    int rc;

    err_clear(&d);
    if (t.keys == NULL)
        return 1;
    rc = kms_audit_scan(dir, count, &t, &d);
    if (rc != 0) {
        admin_errorf("%s", d.message[0] ? d.message : err_name(rc));
        json_decref(t.keys);
        return 1;
    }
    if (json)
        rc = admin_print_json(as_json(&t));
    else
        print_text(&t);
    json_decref(t.keys);
    return rc;
}

static int
verify(const char *dir)
{
    struct err_detail d;
    size_t lines = 0;
    int rc;

    err_clear(&d);
    rc = kms_audit_verify(dir, &lines, &d);
    if (rc == CERR_CORRUPT) {
        printf("audit trail %s: broken: %s\n", dir, d.message);
        return 1;
    }
    if (rc != 0) {
        admin_errorf("%s", d.message[0] ? d.message : err_name(rc));
        return 1;
    }
    printf("audit trail %s: intact, %zu records\n", dir, lines);
    return 0;
}

static void
usage(FILE *f)
{
    fputs("usage: coffer admin audit [--data DIR] [--json]\n"
          "       coffer admin audit verify [--data DIR]\n", f);
}

/*
 * `coffer admin audit ...` (see the top of this file); argv[0] is
 * "audit".  --data may also follow the verb.  Returns the exit status:
 * 0, 1 (a broken chain, an unreadable trail), 2 (usage).
 */
int
admin_audit_main(struct admin_ctx *ctx, int argc, char **argv)
{
    char dir[PATH_MAX + 8];
    bool json = false, check = false;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "verify") == 0 && i == 1)
            check = true;
        else if (strcmp(argv[i], "--json") == 0 && !check)
            json = true;
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            snprintf(ctx->data_dir, sizeof(ctx->data_dir), "%s",
                     argv[++i]);
        else if (strcmp(argv[i], "--help") == 0)
            return usage(stdout), 0;
        else
            return usage(stderr), 2;
    }
    snprintf(dir, sizeof(dir), "%s/audit", ctx->data_dir);
    return check ? verify(dir) : counters(dir, json);
}
