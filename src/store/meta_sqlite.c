/*
 * The SQLite metadata back end: its constructor and ops table, and the
 * small tables (settings, secrets, buckets, S3 bucket keys, garbage).
 * Objects and uploads live in meta_sqlite_obj.c, KMS rows in
 * meta_sqlite_kms.c, the connection machinery in meta_sqlite_db.c.
 *
 * The garbage table holds blob ids that committed changes released and
 * whose files may still exist.  An id enters it in the same transaction
 * that drops the last row naming it, and leaves it when the caller says
 * the file is gone, so no crash can leak a body or free a live one.
 */
#include "store/meta_sqlite_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"

static struct meta_ops sq_ops;
static pthread_once_t sq_ops_once = PTHREAD_ONCE_INIT;

#define DB(m) ((struct msq *)(m))

static void
sq_close(struct meta *m)
{
    msq_close(DB(m));
    free(m);
}

static void
sq_fail_nth(struct meta *m, int n)
{
    pthread_mutex_lock(&DB(m)->mu);
    DB(m)->fail_in = n > 0 ? n : 0;
    pthread_mutex_unlock(&DB(m)->mu);
}

/* ---- Settings and secrets --------------------------------------------- */

static const char SQL_SETTING_GET[] =
    "SELECT value FROM settings WHERE name = ?1";
static const char SQL_SETTING_PUT[] =
    "INSERT INTO settings(name, value) VALUES(?1, ?2)"
    " ON CONFLICT(name) DO UPDATE SET value = excluded.value";
static const char SQL_SECRET_GET[] =
    "SELECT value FROM secrets WHERE name = ?1";
static const char SQL_SECRET_PUT[] =
    "INSERT INTO secrets(name, value) VALUES(?1, ?2)";

static int
sq_setting_get(struct meta *m, const char *name, char *value, size_t cap)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_SETTING_GET, &st, "t", name);
    if (rc == 0)
        rc = msq_step(st);
    if (rc == 0)
        rc = CERR_NO_SUCH_KEY;
    else if (rc == 1 && msq_col_text(st, 0, value, cap) != 0)
        rc = CERR_INVALID_ARGUMENT;
    else if (rc == 1)
        rc = 0;
    return msq_end(DB(m), c, rc);
}

static int
sq_setting_put(struct meta *m, const char *name, const char *value)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_SETTING_PUT, "tt", name, value);
    return msq_end(DB(m), c, rc);
}

static int
sq_secret_get(struct meta *m, const char *name, uint8_t *wrapped, size_t cap,
              size_t *len)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_SECRET_GET, &st, "t", name);
    if (rc == 0)
        rc = msq_step(st);
    if (rc == 0)
        rc = CERR_NO_SUCH_KEY;
    else if (rc == 1 && msq_col_blob(st, 0, wrapped, cap, len) != 0)
        rc = CERR_INVALID_ARGUMENT;
    else if (rc == 1)
        rc = 0;
    return msq_end(DB(m), c, rc);
}

static int
sq_secret_put_new(struct meta *m, const char *name, const uint8_t *wrapped,
                  size_t len)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_SECRET_PUT, "tb", name, wrapped ? wrapped :
                  (const uint8_t *)"", len);
    if (rc == MSQ_CONSTRAINT)
        rc = CERR_KMS_ALREADY_EXISTS;
    return msq_end(DB(m), c, rc);
}

/* ---- Buckets ---------------------------------------------------------- */

static const char SQL_BUCKET_EXISTS[] =
    "SELECT 1 FROM buckets WHERE name = ?1";
static const char SQL_BUCKET_INSERT[] =
    "INSERT INTO buckets(name, created_ms, location, has_enc, sse_alg,"
    " kms_key_id, bucket_key, policy, tagging, pab)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_BUCKET_GET[] =
    "SELECT name, created_ms, location, has_enc, sse_alg, kms_key_id,"
    " bucket_key, policy, tagging, pab FROM buckets WHERE name = ?1";
static const char SQL_BUCKET_LIST[] =
    "SELECT name, created_ms, location, has_enc, sse_alg, kms_key_id,"
    " bucket_key FROM buckets ORDER BY name";
static const char SQL_BUCKET_BUSY[] =
    "SELECT EXISTS(SELECT 1 FROM objects WHERE bucket = ?1)"
    " OR EXISTS(SELECT 1 FROM uploads WHERE bucket = ?1)";
static const char SQL_BUCKET_DELETE[] =
    "DELETE FROM buckets WHERE name = ?1";
static const char SQL_BUCKET_SET_ENC[] =
    "UPDATE buckets SET has_enc = ?2, sse_alg = ?3, kms_key_id = ?4,"
    " bucket_key = ?5 WHERE name = ?1";
static const char SQL_BUCKET_SET_POLICY[] =
    "UPDATE buckets SET policy = ?2 WHERE name = ?1";
static const char SQL_BUCKET_SET_TAGGING[] =
    "UPDATE buckets SET tagging = ?2 WHERE name = ?1";
static const char SQL_BUCKET_SET_PAB[] =
    "UPDATE buckets SET pab = ?2 WHERE name = ?1";

/* 0 when bucket exists, else CERR_NO_SUCH_BUCKET (or an error). */
int
msq_bucket_check(struct msq_conn *c, const char *bucket)
{
    int64_t one;
    bool found;
    int rc;

    rc = msq_int(c, SQL_BUCKET_EXISTS, &one, &found, "t", bucket);
    if (rc == 0 && !found)
        rc = CERR_NO_SUCH_BUCKET;
    return rc;
}

static int
sq_bucket_create(struct meta *m, const struct meta_bucket *b)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_BUCKET_INSERT, "tItittittt", b->name,
                  b->created_ms, b->location, (int)b->has_encryption,
                  b->sse_algorithm, b->kms_key_id,
                  (int)b->bucket_key_enabled, b->policy, b->tagging,
                  b->public_access_block);
    if (rc == MSQ_CONSTRAINT)
        rc = CERR_BUCKET_OWNED;
    return msq_end(DB(m), c, rc);
}

/* Fill b from the first seven columns of a bucket row. */
static int
read_bucket(sqlite3_stmt *st, struct meta_bucket *b)
{
    int rc;

    rc = msq_col_text(st, 0, b->name, sizeof(b->name));
    b->created_ms = msq_col_int(st, 1);
    if (rc == 0)
        rc = msq_col_text(st, 2, b->location, sizeof(b->location));
    b->has_encryption = msq_col_int(st, 3) != 0;
    if (rc == 0)
        rc = msq_col_text(st, 4, b->sse_algorithm,
                          sizeof(b->sse_algorithm));
    if (rc == 0)
        rc = msq_col_text(st, 5, b->kms_key_id, sizeof(b->kms_key_id));
    b->bucket_key_enabled = msq_col_int(st, 6) != 0;
    return rc;
}

static int
sq_bucket_get(struct meta *m, const char *name, struct meta_bucket *out)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_BUCKET_GET, &st, "t", name);
    if (rc == 0 && (rc = msq_step(st)) == 0)
        rc = CERR_NO_SUCH_BUCKET;
    if (rc == 1)
        rc = read_bucket(st, out);
    if (rc == 0)
        rc = msq_col_dup(st, 7, &out->policy);
    if (rc == 0)
        rc = msq_col_dup(st, 8, &out->tagging);
    if (rc == 0)
        rc = msq_col_dup(st, 9, &out->public_access_block);
    rc = msq_end(DB(m), c, rc);
    if (rc != 0)
        meta_bucket_clear(out);
    return rc;
}

static int
sq_bucket_list(struct meta *m, struct meta_bucket **out, size_t *n)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_BUCKET_LIST, &st, "");
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        rc = msq_grow((void **)out, *n, sizeof(**out));
        if (rc == 0) {
            memset(&(*out)[*n], 0, sizeof(**out));
            rc = read_bucket(st, &(*out)[(*n)++]);
        }
    }
    rc = msq_end(DB(m), c, rc);
    if (rc != 0) {
        meta_bucket_list_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int
sq_bucket_delete(struct meta *m, const char *name)
{
    struct msq_conn *c;
    int64_t busy;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_bucket_check(c, name);
    if (rc == 0)
        rc = msq_int(c, SQL_BUCKET_BUSY, &busy, NULL, "t", name);
    if (rc == 0 && busy)
        rc = CERR_BUCKET_NOT_EMPTY;
    if (rc == 0)
        rc = msq_exec(c, SQL_BUCKET_DELETE, "t", name);
    return msq_end(DB(m), c, rc);
}

static int
sq_bucket_set_encryption(struct meta *m, const char *name, const char *alg,
                         const char *kms_key_id, bool bucket_key)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_BUCKET_SET_ENC, "titti", name, alg != NULL,
                  alg ? alg : "", alg && kms_key_id ? kms_key_id : "",
                  alg != NULL && bucket_key);
    if (rc == 0 && msq_changes(c) == 0)
        rc = CERR_NO_SUCH_BUCKET;
    return msq_end(DB(m), c, rc);
}

static int
sq_bucket_set_text(struct meta *m, const char *name, const char *which,
                   const char *text)
{
    const char *sql = SQL_BUCKET_SET_POLICY;
    struct msq_conn *c;
    int rc;

    if (strcmp(which, "tagging") == 0)
        sql = SQL_BUCKET_SET_TAGGING;
    else if (strcmp(which, "public_access_block") == 0)
        sql = SQL_BUCKET_SET_PAB;
    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, sql, "tt", name, text);
    if (rc == 0 && msq_changes(c) == 0)
        rc = CERR_NO_SUCH_BUCKET;
    return msq_end(DB(m), c, rc);
}

/* ---- Garbage ---------------------------------------------------------- */

static const char SQL_BLOB_USED[] =
    "SELECT EXISTS(SELECT 1 FROM bodies WHERE blob_id = ?1)"
    " OR EXISTS(SELECT 1 FROM parts WHERE blob_id = ?1)";
static const char SQL_GARBAGE_ADD[] =
    "INSERT OR IGNORE INTO garbage(blob_id) VALUES(?1)";
static const char SQL_GARBAGE_DEL[] =
    "DELETE FROM garbage WHERE blob_id = ?1";
static const char SQL_GARBAGE_ALL[] =
    "SELECT blob_id FROM garbage ORDER BY blob_id";

/* Append id to g (a list being built inside a transaction).  A NULL id
 * is SQLite failing to allocate a column's text: CERR_NOMEM. */
int
msq_garbage_add(struct meta_garbage *g, const char *id)
{
    int rc;

    if (id == NULL)
        return CERR_NOMEM;
    if ((rc = msq_grow((void **)&g->ids, g->n, sizeof(*g->ids))) != 0)
        return rc;
    snprintf(g->ids[g->n++], sizeof(*g->ids), "%s", id);
    return 0;
}

/*
 * Of the candidate ids a change released, record in the garbage table
 * (and append to out) those no row references any more; frees cand.  An
 * id already in the table is not reported twice.
 */
int
msq_garbage_settle(struct msq_conn *c, struct meta_garbage *cand,
                   struct meta_garbage *out)
{
    int64_t used;
    size_t i;
    int rc = 0;

    for (i = 0; i < cand->n && rc == 0; i++) {
        rc = msq_int(c, SQL_BLOB_USED, &used, NULL, "t", cand->ids[i]);
        if (rc == 0 && !used)
            rc = msq_exec(c, SQL_GARBAGE_ADD, "t", cand->ids[i]);
        if (rc == 0 && !used && msq_changes(c) == 1)
            rc = msq_garbage_add(out, cand->ids[i]);
    }
    meta_garbage_clear(cand);
    return rc;
}

static int
sq_garbage_forget(struct meta *m, const struct meta_garbage *g)
{
    struct msq_conn *c;
    size_t i;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    for (i = 0; i < g->n && rc == 0; i++)
        rc = msq_exec(c, SQL_GARBAGE_DEL, "t", g->ids[i]);
    return msq_end(DB(m), c, rc);
}

static int
sq_garbage_pending(struct meta *m, struct meta_garbage *g)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_GARBAGE_ALL, &st, "");
    while (rc == 0 && (rc = msq_step(st)) == 1)
        rc = msq_garbage_add(g, (const char *)sqlite3_column_text(st, 0));
    rc = msq_end(DB(m), c, rc);
    if (rc != 0)
        meta_garbage_clear(g);
    return rc;
}

static int
sq_blob_referenced(struct meta *m, const char *id, bool *yes)
{
    struct msq_conn *c;
    int64_t used;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_int(c, SQL_BLOB_USED, &used, NULL, "t", id);
    *yes = used != 0;
    return msq_end(DB(m), c, rc);
}

/* ---- S3 bucket keys --------------------------------------------------- */

static const char SQL_BKEY_ADD[] =
    "INSERT INTO bucket_keys(bucket, arn, blob, created_ms)"
    " VALUES(?1, ?2, ?3, ?4)";
static const char SQL_BKEY_GET[] =
    "SELECT id, bucket, arn, blob, created_ms FROM bucket_keys"
    " WHERE id = ?1";
static const char SQL_BKEY_LATEST[] =
    "SELECT id, bucket, arn, blob, created_ms FROM bucket_keys"
    " WHERE bucket = ?1 AND arn = ?2 AND created_ms >= ?3"
    " ORDER BY created_ms DESC, id DESC LIMIT 1";

static int
sq_bucket_key_add(struct meta *m, struct meta_bucket_key *k)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_bucket_check(c, k->bucket);
    if (rc == 0)
        rc = msq_exec(c, SQL_BKEY_ADD, "ttbI", k->bucket, k->kms_key_arn,
                      k->blob, k->blob_len, k->created_ms);
    if (rc == 0)
        k->id = msq_last_id(c);
    rc = msq_end(DB(m), c, rc);
    if (rc != 0)
        k->id = 0;
    return rc;
}

/* Step a bucket-key query and read its row; CERR_NO_SUCH_KEY if none. */
static int
read_bucket_key(sqlite3_stmt *st, struct meta_bucket_key *k)
{
    int rc = msq_step(st);

    if (rc == 0)
        return CERR_NO_SUCH_KEY;
    if (rc != 1)
        return rc;
    k->id = msq_col_int(st, 0);
    rc = msq_col_text(st, 1, k->bucket, sizeof(k->bucket));
    if (rc == 0)
        rc = msq_col_text(st, 2, k->kms_key_arn, sizeof(k->kms_key_arn));
    if (rc == 0)
        rc = msq_col_blob(st, 3, k->blob, sizeof(k->blob), &k->blob_len);
    k->created_ms = msq_col_int(st, 4);
    return rc;
}

static int
sq_bucket_key_get(struct meta *m, int64_t id, struct meta_bucket_key *out)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_BKEY_GET, &st, "I", id);
    if (rc == 0)
        rc = read_bucket_key(st, out);
    return msq_end(DB(m), c, rc);
}

static int
sq_bucket_key_latest(struct meta *m, const char *bucket, const char *arn,
                     int64_t not_before_ms, struct meta_bucket_key *out)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_BKEY_LATEST, &st, "ttI", bucket, arn,
                  not_before_ms);
    if (rc == 0)
        rc = read_bucket_key(st, out);
    return msq_end(DB(m), c, rc);
}

/* ---- Constructor ------------------------------------------------------ */

static void
init_ops(void)
{
    sq_ops.close = sq_close;
    sq_ops.fail_nth = sq_fail_nth;
    sq_ops.setting_get = sq_setting_get;
    sq_ops.setting_put = sq_setting_put;
    sq_ops.secret_get = sq_secret_get;
    sq_ops.secret_put_new = sq_secret_put_new;
    sq_ops.bucket_create = sq_bucket_create;
    sq_ops.bucket_get = sq_bucket_get;
    sq_ops.bucket_list = sq_bucket_list;
    sq_ops.bucket_delete = sq_bucket_delete;
    sq_ops.bucket_set_encryption = sq_bucket_set_encryption;
    sq_ops.bucket_set_text = sq_bucket_set_text;
    sq_ops.garbage_forget = sq_garbage_forget;
    sq_ops.garbage_pending = sq_garbage_pending;
    sq_ops.blob_referenced = sq_blob_referenced;
    sq_ops.bucket_key_add = sq_bucket_key_add;
    sq_ops.bucket_key_get = sq_bucket_key_get;
    sq_ops.bucket_key_latest = sq_bucket_key_latest;
    msq_obj_ops(&sq_ops);
    msq_kms_ops(&sq_ops);
    msq_users_ops(&sq_ops);
    msq_grants_ops(&sq_ops);
}

/*
 * Open (creating when missing) the SQLite metadata database at path, with
 * its pool of connections and an up-to-date schema.  0, CERR_NOMEM,
 * CERR_IO, CERR_CORRUPT (not coffer's, or from a newer coffer),
 * CERR_INTERNAL (this SQLite lacks threads or foreign keys).  The caller
 * frees *out with meta_close.
 */
int
meta_open_sqlite(const char *path, struct meta **out)
{
    struct msq *db;
    int fd, rc;

    *out = NULL;
    pthread_once(&sq_ops_once, init_ops);

    /* Create the file owner-only; SQLite gives its -wal and -shm files
     * the same mode. */
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        return CERR_IO;
    close(fd);

    if ((db = calloc(1, sizeof(*db))) == NULL)
        return CERR_NOMEM;
    db->base.ops = &sq_ops;
    if ((rc = msq_open(db, path)) != 0 ||
        (rc = msq_users_schema(db)) != 0) {
        sq_close(&db->base);
        return rc == MSQ_CONSTRAINT ? CERR_INTERNAL : rc;
    }
    *out = &db->base;
    return 0;
}
