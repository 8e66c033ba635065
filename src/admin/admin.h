/*
 * Offline administration: `coffer admin <group> <verb> ...` works on a data
 * directory, while a server runs on it or not (SQLite in WAL mode lets both
 * open meta.db).  admin_main() parses the options every group shares and
 * hands the rest of the command line to the group's function.  A group
 * lives in its own file of this directory and adds one row to the table
 * in admin.c.
 */
#ifndef COFFER_ADMIN_ADMIN_H
#define COFFER_ADMIN_ADMIN_H

#include <limits.h>
#include <stdio.h>

struct iam;
struct kms;
struct meta;

/*
 * What every group shares.  The data directory is always set; meta and
 * account are filled on first use by admin_ctx_meta(), kms and iam by
 * admin_ctx_iam().
 */
struct admin_ctx {
    char data_dir[PATH_MAX];
    char account[16];           /* 12 digits once meta is open */
    struct meta *meta;          /* NULL until admin_ctx_meta() */
    struct kms *kms;            /* NULL until admin_ctx_iam() */
    struct iam *iam;            /* NULL until admin_ctx_iam() */
};

/*
 * A group's entry point: argv[0] is the group's name, argv[1] its verb.
 * Returns the process exit status: 0 done, 1 failed, 2 usage error.
 */
typedef int (*admin_group_fn)(struct admin_ctx *ctx, int argc, char **argv);

/*
 * Run `coffer admin ...`: argv[0] is "admin".  Returns the process exit
 * status (0, 1 on failure, 2 on a usage error); messages go to standard
 * error, results to standard output.
 */
int admin_main(int argc, char **argv);

/*
 * Open the data directory's metadata (meta.db, which must exist: a server
 * creates it on first start) and read its account id.  Returns 0 or a
 * negative CERR_* code after printing why; admin_main() closes it.
 */
int admin_ctx_meta(struct admin_ctx *ctx);

/*
 * Open the metadata, the root key (COFFER_ROOT_KEY, else DATA/root.key,
 * which must exist: a new one would seal secrets the server cannot
 * open), the key service without an audit file, and the user directory.
 * Returns 0 or a negative CERR_* code after printing why; admin_main()
 * closes them.
 */
int admin_ctx_iam(struct admin_ctx *ctx);

/* The groups of users.c and policies.c. */
int admin_user_main(struct admin_ctx *ctx, int argc, char **argv);
int admin_key_main(struct admin_ctx *ctx, int argc, char **argv);
int admin_policy_main(struct admin_ctx *ctx, int argc, char **argv);

/* The KMS audit trail: counters and chain check (audit.c). */
int admin_audit_main(struct admin_ctx *ctx, int argc, char **argv);

/*
 * Print a JSON value (pretty, keys in insertion order) and a newline to
 * standard output, then free it.  Returns 0, or 1 when out of memory.
 */
struct json_t;
int admin_print_json(struct json_t *v);

/* Print "coffer admin: " and the message to standard error. */
void admin_errorf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
