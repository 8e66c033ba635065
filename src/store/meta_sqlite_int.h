/*
 * Internals of the SQLite metadata back end, shared by its files:
 *
 *     meta_sqlite_db.c   connection pool, transactions, statement cache,
 *                        binding and column helpers, schema
 *     meta_sqlite.c      the constructor and the ops table; settings,
 *                        secrets, buckets, bucket keys, garbage
 *     meta_sqlite_obj.c  objects, uploads, parts
 *     meta_sqlite_kms.c  KMS keys, materials, aliases, tags
 *
 * The msq_ prefix marks names that are internal to this back end.  Every
 * operation is msq_begin, some msq_stmt/msq_step calls, msq_end: one
 * transaction on one pooled connection.
 */
#ifndef COFFER_STORE_META_SQLITE_INT_H
#define COFFER_STORE_META_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_int.h"

/* A uniqueness or foreign-key violation; callers translate it into the
 * code the operation documents.  Never leaves the back end. */
#define MSQ_CONSTRAINT (-1000)

struct msq_conn;

struct msq {
    struct meta base;
    pthread_mutex_t mu;         /* guards free_list and fail_in */
    pthread_cond_t cv;          /* signalled when a connection is freed */
    struct msq_conn *conns;
    size_t nconns;
    struct msq_conn *free_list;
    int fail_in;                /* writing commits left before a fault */
    pthread_mutex_t write_mu;   /* held from BEGIN IMMEDIATE to the end */
    int wal_last;               /* WAL frames after the last commit */
    int ckpt_next;              /* frames at which to checkpoint next */

    /* Group commit of the WAL (see meta_sqlite_db.c). */
    char *wal_path;
    int wal_fd;                 /* -1 until the first sync */
    pthread_cond_t synced_cv;   /* signalled when an fsync ends */
    uint64_t commits;           /* writing commits that returned */
    uint64_t synced;            /* of those, the ones known durable */
    bool syncing;               /* one committer is in fsync for all */
    int sync_err;               /* an fsync failed: sticky */
};

/* Open the pool on path and bring the schema up to date (db zeroed by the
 * caller, base.ops set).  0 or an error; msq_close undoes a partial open. */
int msq_open(struct msq *db, const char *path);
void msq_close(struct msq *db);

/*
 * Borrow a connection and begin a transaction on it: BEGIN IMMEDIATE when
 * write (so writers queue on the lock up front instead of failing to
 * upgrade), plain BEGIN otherwise.  CERR_BUSY when the database stayed
 * locked past the busy timeout.
 */
int msq_begin(struct msq *db, bool write, struct msq_conn **c);

/*
 * End the transaction: commit when rc is 0 (a writing one may first be
 * failed by the fault hook), else roll back; return the connection to
 * the pool.  Returns the outcome: rc, or the commit's error.
 */
int msq_end(struct msq *db, struct msq_conn *c, int rc);

/*
 * The cached prepared statement for sql (keyed by the string's address,
 * so pass a static string), reset and bound from the arguments as fmt
 * says, one letter per parameter:
 *     t  const char *       text; NULL binds NULL
 *     i  int
 *     I  int64_t
 *     b  const void *, size_t   blob; NULL binds NULL
 *     L  size_t             a LIMIT; SIZE_MAX (or more than fits) = none
 */
int msq_stmt(struct msq_conn *c, const char *sql, sqlite3_stmt **st,
             const char *fmt, ...);

/* Step: 1 with a row, 0 when done, or an error code. */
int msq_step(sqlite3_stmt *st);

/* Prepare, bind and run a statement that returns no rows. */
int msq_exec(struct msq_conn *c, const char *sql, const char *fmt, ...);

/* Run a statement whose first row's first column is an integer: *val gets
 * it, or 0 when there is no row; *found (may be NULL) says which. */
int msq_int(struct msq_conn *c, const char *sql, int64_t *val, bool *found,
            const char *fmt, ...);

/* Rows changed by the last statement; the id of the last inserted row. */
int msq_changes(struct msq_conn *c);
int64_t msq_last_id(struct msq_conn *c);

/* Column readers.  text/blob: CERR_CORRUPT when the value does not fit
 * (rows are written from structs of the same sizes).  dup: malloc'd copy
 * or NULL for SQL NULL; CERR_NOMEM. */
int msq_col_text(sqlite3_stmt *st, int col, char *dst, size_t cap);
int msq_col_blob(sqlite3_stmt *st, int col, void *dst, size_t cap,
                 size_t *len);
int msq_col_dup(sqlite3_stmt *st, int col, char **out);
int64_t msq_col_int(sqlite3_stmt *st, int col);
bool msq_col_null(sqlite3_stmt *st, int col);

/*
 * Upper bound of the keys that start with prefix: prefix with trailing
 * 0xff bytes dropped and its last byte incremented, into out (cap at least
 * strlen(prefix) + 1).  False when there is none (prefix "" or all 0xff).
 */
bool msq_prefix_end(const char *prefix, char *out, size_t cap);

/* Make room for element n of an array of n elements of size sz that
 * only ever grows through this function (capacity 4, 8, 16, ...).  0 or
 * CERR_NOMEM; *v is unchanged on failure. */
int msq_grow(void **v, size_t n, size_t sz);

/* Released blob ids of a transaction: collect, then settle. */
int msq_garbage_add(struct meta_garbage *g, const char *id);
int msq_garbage_settle(struct msq_conn *c, struct meta_garbage *cand,
                       struct meta_garbage *out);

/* Does bucket exist?  0 or CERR_NO_SUCH_BUCKET. */
int msq_bucket_check(struct msq_conn *c, const char *bucket);

/* Fill the object, upload and KMS entries of the ops table. */
void msq_obj_ops(struct meta_ops *ops);
void msq_kms_ops(struct meta_ops *ops);

/* IAM tables (meta_sqlite_users.c): create when missing; fill the ops. */
int msq_users_schema(struct msq *db);
void msq_users_ops(struct meta_ops *ops);
void msq_grants_ops(struct meta_ops *ops);

/* The grant tables, created IF NOT EXISTS at every open. */
extern const char msq_grants_schema[];

#endif
