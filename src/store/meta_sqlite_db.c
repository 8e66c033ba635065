/*
 * The SQLite machinery under the metadata back end: a pool of connections,
 * one transaction per borrowed connection, a per-connection cache of
 * prepared statements, helpers to bind parameters and read columns, and
 * the schema.
 *
 * Durability: WAL journal, and msq_end returns from a writing commit
 * only once the WAL holding it is fsync'd.  SQLite runs with
 * synchronous=NORMAL (it syncs the WAL at checkpoints and when it
 * starts reusing it, never per commit) and the fsync per commit is done
 * here as a group commit: whoever finds no fsync in flight starts one
 * for every commit that has returned so far, the others wait for the
 * fsync that covers theirs.  Concurrent writers so share one fsync
 * where synchronous=FULL would make each wait for its own under the
 * write lock.  A commit is visible to readers a moment before it is
 * durable, never acknowledged before.  A failed fsync is sticky (the
 * page cache's state is unknown after one): every later transaction
 * fails with CERR_IO until the store is reopened.
 *
 * Writers queue on write_mu before BEGIN IMMEDIATE, so that SQLite's
 * write lock is always free when one asks for it: SQLite's own busy
 * handler polls with sleeps of 1 to 100 ms, and writers colliding in it
 * slept for far longer than the lock was held.  BUSY_MS still bounds a
 * wait for another process.  Readers never block writers.
 *
 * Checkpoints: the writer whose commit takes the WAL past
 * CHECKPOINT_FRAMES copies it into the database (PASSIVE) while it still
 * holds write_mu, so that the next writer starts on a fully copied WAL
 * and SQLite can start the WAL over instead of appending to it.  When
 * readers keep it from starting over, the next try waits for another
 * quarter of CHECKPOINT_FRAMES: each try costs two fsyncs, and trying
 * after every commit (as SQLite's automatic checkpoint does) cost more
 * than the commits' own group fsyncs.  Foreign keys are on: part rows
 * die with their upload, bodies with their object.
 *
 * Schema versions live in PRAGMA user_version; application_id marks the
 * file as coffer's.  A database from a newer coffer is refused.
 */
#include "store/meta_sqlite_int.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"

#define POOL_SIZE 8
#define BUSY_MS 10000
#define CACHE_SLOTS 256         /* more than the back end's SQL strings */
#define CHECKPOINT_FRAMES 1000  /* SQLite's automatic checkpoint's size */
#define APP_ID 1131374194       /* 0x436f6672, "Cofr" */
#define SCHEMA_VERSION 1
#define STR(x) #x
#define XSTR(x) STR(x)

struct cached {
    const char *sql;
    sqlite3_stmt *st;
};

struct msq_conn {
    sqlite3 *db;
    bool write;                 /* the open transaction writes */
    int wal_frames;             /* frames in the WAL after its commit */
    struct msq_conn *next;      /* free list */
    struct cached cache[CACHE_SLOTS];
};

static const char schema[] =
    "CREATE TABLE settings(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE secrets(name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE buckets(name TEXT PRIMARY KEY,"
    " created_ms INTEGER NOT NULL, location TEXT NOT NULL,"
    " has_enc INTEGER NOT NULL, sse_alg TEXT NOT NULL,"
    " kms_key_id TEXT NOT NULL, bucket_key INTEGER NOT NULL,"
    " policy TEXT, tagging TEXT, pab TEXT);"
    "CREATE TABLE objects(id INTEGER PRIMARY KEY,"
    " bucket TEXT NOT NULL REFERENCES buckets(name), okey TEXT NOT NULL,"
    " size INTEGER NOT NULL, mtime_ms INTEGER NOT NULL,"
    " etag TEXT NOT NULL, headers TEXT, tagging TEXT,"
    " ck_alg TEXT NOT NULL, ck TEXT NOT NULL, ck_type TEXT NOT NULL,"
    " upload_id TEXT NOT NULL, sse_mode INTEGER NOT NULL,"
    " sse_arn TEXT NOT NULL, sse_bk INTEGER NOT NULL,"
    " sse_bk_id INTEGER NOT NULL, sse_wrapped BLOB, sse_ctx TEXT NOT NULL,"
    " sse_check BLOB, UNIQUE(bucket, okey));"
    "CREATE TABLE bodies("
    " object_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, blob_id TEXT NOT NULL, salt BLOB NOT NULL,"
    " part_number INTEGER NOT NULL, size INTEGER NOT NULL,"
    " off INTEGER NOT NULL, etag TEXT NOT NULL, checksum TEXT NOT NULL,"
    " mtime_ms INTEGER NOT NULL, PRIMARY KEY(object_id, seq));"
    "CREATE INDEX bodies_blob ON bodies(blob_id);"
    "CREATE TABLE uploads(upload_id TEXT PRIMARY KEY,"
    " bucket TEXT NOT NULL REFERENCES buckets(name), okey TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, headers TEXT, tagging TEXT,"
    " ck_alg TEXT NOT NULL, ck_type TEXT NOT NULL, req_sse TEXT NOT NULL,"
    " req_kms TEXT NOT NULL, sse_mode INTEGER NOT NULL,"
    " sse_arn TEXT NOT NULL, sse_bk INTEGER NOT NULL,"
    " sse_bk_id INTEGER NOT NULL, sse_wrapped BLOB, sse_ctx TEXT NOT NULL,"
    " sse_check BLOB);"
    "CREATE INDEX uploads_key ON uploads(bucket, okey, upload_id);"
    "CREATE TABLE parts("
    " upload_id TEXT NOT NULL REFERENCES uploads(upload_id)"
    " ON DELETE CASCADE, part_number INTEGER NOT NULL,"
    " blob_id TEXT NOT NULL, salt BLOB NOT NULL, size INTEGER NOT NULL,"
    " etag TEXT NOT NULL, checksum TEXT NOT NULL,"
    " mtime_ms INTEGER NOT NULL, PRIMARY KEY(upload_id, part_number));"
    "CREATE INDEX parts_blob ON parts(blob_id);"
    "CREATE TABLE garbage(blob_id TEXT PRIMARY KEY);"
    "CREATE TABLE bucket_keys(id INTEGER PRIMARY KEY,"
    " bucket TEXT NOT NULL REFERENCES buckets(name) ON DELETE CASCADE,"
    " arn TEXT NOT NULL, blob BLOB NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE INDEX bucket_keys_latest"
    " ON bucket_keys(bucket, arn, created_ms);"
    "CREATE TABLE kms_keys(seq INTEGER PRIMARY KEY,"
    " key_id TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL,"
    " description TEXT NOT NULL, state TEXT NOT NULL,"
    " manager TEXT NOT NULL, alias_hint TEXT NOT NULL,"
    " deletion_ms INTEGER NOT NULL, pending_days INTEGER NOT NULL,"
    " policy TEXT, rot_enabled INTEGER NOT NULL,"
    " rot_days INTEGER NOT NULL, next_rot_ms INTEGER NOT NULL,"
    " current_material TEXT NOT NULL);"
    "CREATE TABLE kms_materials(seq INTEGER PRIMARY KEY,"
    " key_id TEXT NOT NULL REFERENCES kms_keys(key_id) ON DELETE CASCADE,"
    " material_id TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " rotation_type TEXT NOT NULL, wrapped BLOB NOT NULL,"
    " UNIQUE(key_id, material_id));"
    "CREATE TABLE kms_aliases(name TEXT PRIMARY KEY,"
    " key_id TEXT NOT NULL REFERENCES kms_keys(key_id) ON DELETE CASCADE,"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
    "CREATE INDEX kms_aliases_key ON kms_aliases(key_id);"
    "CREATE TABLE kms_tags("
    " key_id TEXT NOT NULL REFERENCES kms_keys(key_id) ON DELETE CASCADE,"
    " tag_key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY(key_id, tag_key));";

/* Translate an SQLite result code into a coffer code. */
static int
sq_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return CERR_BUSY;
    case SQLITE_NOMEM:
        return CERR_NOMEM;
    case SQLITE_CONSTRAINT:
        return MSQ_CONSTRAINT;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return CERR_CORRUPT;
    case SQLITE_RANGE:
    case SQLITE_MISUSE:
    case SQLITE_ERROR:
        return CERR_INTERNAL;
    default:
        return CERR_IO;
    }
}

/* Run SQL text without parameters or results (pragmas, schema). */
static int
run(sqlite3 *db, const char *sql)
{
    return sq_err(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* Read one integer pragma. */
static int
pragma_int(sqlite3 *db, const char *sql, int64_t *val)
{
    sqlite3_stmt *st;
    int rc;

    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_err(rc);
    rc = sqlite3_step(st);
    *val = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    rc = sqlite3_finalize(st);
    return sq_err(rc);
}

/* WAL hook: note the WAL's size for checkpoint(). */
static int
wal_seen(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct msq_conn *c = arg;

    (void)db;
    (void)name;
    c->wal_frames = frames;
    return SQLITE_OK;
}

/* Open one connection and set the per-connection pragmas. */
static int
conn_open(struct msq_conn *c, const char *path)
{
    int64_t fk;
    int rc;

    rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
                         SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return c->db == NULL ? CERR_NOMEM : CERR_IO;
    sqlite3_busy_timeout(c->db, BUSY_MS);
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_wal_hook(c->db, wal_seen, c);       /* no automatic checkpoint */

    rc = run(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                    " PRAGMA foreign_keys=ON;");
    if (rc == 0)
        rc = pragma_int(c->db, "PRAGMA foreign_keys", &fk);
    if (rc == 0 && fk != 1)
        rc = CERR_INTERNAL;     /* SQLite built without foreign keys */
    return rc;
}

/* Create the schema on a new file; refuse foreign or newer files. */
static int
schema_init(sqlite3 *db)
{
    int64_t app, ver;
    int rc;

    if ((rc = run(db, "BEGIN IMMEDIATE")) != 0)
        return rc;
    rc = pragma_int(db, "PRAGMA application_id", &app);
    if (rc == 0)
        rc = pragma_int(db, "PRAGMA user_version", &ver);
    if (rc == 0 && ((app != 0 && app != APP_ID) || ver > SCHEMA_VERSION))
        rc = CERR_CORRUPT;
    if (rc == 0 && ver == 0) {
        rc = run(db, schema);
        if (rc == 0)
            rc = run(db, "PRAGMA application_id=" XSTR(APP_ID) ";"
                         " PRAGMA user_version=" XSTR(SCHEMA_VERSION));
    }
    if (rc == 0)
        rc = run(db, msq_grants_schema);
    if (rc == 0)
        return run(db, "COMMIT");
    run(db, "ROLLBACK");
    return rc;
}

/*
 * Open POOL_SIZE connections on path; the first one creates the schema.
 * 0, CERR_NOMEM, CERR_IO, CERR_CORRUPT, CERR_INTERNAL (SQLite unusable).
 */
int
msq_open(struct msq *db, const char *path)
{
    size_t i;
    int rc;

    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->write_mu, NULL);
    db->ckpt_next = CHECKPOINT_FRAMES;
    pthread_cond_init(&db->cv, NULL);
    pthread_cond_init(&db->synced_cv, NULL);
    db->wal_fd = -1;
    if (sqlite3_threadsafe() == 0)
        return CERR_INTERNAL;
    if (asprintf(&db->wal_path, "%s-wal", path) < 0) {
        db->wal_path = NULL;
        return CERR_NOMEM;
    }
    db->conns = calloc(POOL_SIZE, sizeof(*db->conns));
    if (db->conns == NULL)
        return CERR_NOMEM;
    db->nconns = POOL_SIZE;

    for (i = 0; i < POOL_SIZE; i++) {
        if ((rc = conn_open(&db->conns[i], path)) != 0)
            return rc;
        if (i == 0 && (rc = schema_init(db->conns[0].db)) != 0)
            return rc;
        db->conns[i].next = db->free_list;
        db->free_list = &db->conns[i];
    }
    return 0;
}

/* Finalize every statement and close every connection. */
void
msq_close(struct msq *db)
{
    size_t i, j;

    for (i = 0; db->conns != NULL && i < db->nconns; i++) {
        struct msq_conn *c = &db->conns[i];

        for (j = 0; j < CACHE_SLOTS; j++)
            sqlite3_finalize(c->cache[j].st);
        sqlite3_close(c->db);
    }
    free(db->conns);
    if (db->wal_fd >= 0)
        close(db->wal_fd);
    free(db->wal_path);
    pthread_cond_destroy(&db->synced_cv);
    pthread_cond_destroy(&db->cv);
    pthread_mutex_destroy(&db->write_mu);
    pthread_mutex_destroy(&db->mu);
}

static struct msq_conn *
borrow(struct msq *db)
{
    struct msq_conn *c;

    pthread_mutex_lock(&db->mu);
    while (db->free_list == NULL)
        pthread_cond_wait(&db->cv, &db->mu);
    c = db->free_list;
    db->free_list = c->next;
    pthread_mutex_unlock(&db->mu);
    return c;
}

static void
give_back(struct msq *db, struct msq_conn *c)
{
    pthread_mutex_lock(&db->mu);
    c->next = db->free_list;
    db->free_list = c;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

/* Borrow a connection and BEGIN (IMMEDIATE when write); see the header. */
int
msq_begin(struct msq *db, bool write, struct msq_conn **out)
{
    struct msq_conn *c;
    int rc;

    pthread_mutex_lock(&db->mu);
    rc = db->sync_err;
    pthread_mutex_unlock(&db->mu);
    if (rc != 0)
        return rc;
    c = borrow(db);
    if (write)
        pthread_mutex_lock(&db->write_mu);

    rc = run(c->db, write ? "BEGIN IMMEDIATE" : "BEGIN");
    if (rc != 0) {
        if (write)
            pthread_mutex_unlock(&db->write_mu);
        give_back(db, c);
        return rc == MSQ_CONSTRAINT ? CERR_INTERNAL : rc;
    }
    c->write = write;
    *out = c;
    return 0;
}

/* True when the armed commit fault fires now. */
static bool
fault(struct msq *db)
{
    bool fire = false;

    pthread_mutex_lock(&db->mu);
    if (db->fail_in > 0 && --db->fail_in == 0)
        fire = true;
    pthread_mutex_unlock(&db->mu);
    return fire;
}

/* fsync the WAL file, opening it on first use.  0 or CERR_IO. */
static int
sync_wal(struct msq *db)
{
    if (db->wal_fd < 0)
        db->wal_fd = open(db->wal_path, O_RDONLY | O_CLOEXEC);
    if (db->wal_fd < 0)
        return CERR_IO;
    return fsync(db->wal_fd) == 0 ? 0 : CERR_IO;
}

/*
 * A writing commit has returned: wait until an fsync of the WAL that
 * started after it has ended, starting one for every commit so far when
 * none is in flight.  0 or CERR_IO (sticky).
 */
static int
group_sync(struct msq *db)
{
    uint64_t mine, upto;
    int rc;

    pthread_mutex_lock(&db->mu);
    mine = ++db->commits;
    while (db->synced < mine && db->sync_err == 0) {
        if (db->syncing) {
            pthread_cond_wait(&db->synced_cv, &db->mu);
            continue;
        }
        db->syncing = true;
        upto = db->commits;
        pthread_mutex_unlock(&db->mu);
        rc = sync_wal(db);
        pthread_mutex_lock(&db->mu);
        db->syncing = false;
        if (rc == 0)
            db->synced = upto;
        else
            db->sync_err = CERR_IO;
        pthread_cond_broadcast(&db->synced_cv);
    }
    rc = db->synced >= mine ? 0 : CERR_IO;
    pthread_mutex_unlock(&db->mu);
    return rc;
}

/*
 * After a writing commit, under write_mu: copy the WAL into the database
 * when it is due (see the top of the file).  PASSIVE never waits for
 * readers.  A failure loses nothing (the WAL still holds every commit),
 * so it is not reported.
 */
static void
checkpoint(struct msq *db, struct msq_conn *c)
{
    int frames = c->wal_frames;

    c->wal_frames = 0;
    if (frames == 0)
        return;                 /* nothing was committed */
    if (frames < db->wal_last)
        db->ckpt_next = CHECKPOINT_FRAMES;      /* the WAL started over */
    db->wal_last = frames;
    if (frames < db->ckpt_next)
        return;
    db->ckpt_next = frames + CHECKPOINT_FRAMES / 4;
    sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                              NULL);
}

/* Commit or roll back and return the connection; see the header. */
int
msq_end(struct msq *db, struct msq_conn *c, int rc)
{
    bool write;
    size_t i;

    /* No statement may stay active across the end of a transaction. */
    for (i = 0; i < CACHE_SLOTS; i++)
        if (c->cache[i].st != NULL)
            sqlite3_reset(c->cache[i].st);

    if (rc == 0 && c->write && fault(db))
        rc = CERR_IO;
    if (rc == 0)
        rc = run(c->db, "COMMIT");
    if (rc != 0 && !sqlite3_get_autocommit(c->db))
        run(c->db, "ROLLBACK");
    write = c->write;
    if (write) {
        checkpoint(db, c);
        pthread_mutex_unlock(&db->write_mu);
    }
    give_back(db, c);
    if (rc == 0 && write)
        rc = group_sync(db);
    return rc == MSQ_CONSTRAINT ? CERR_INTERNAL : rc;
}

/* Find or prepare the cached statement for sql. */
static int
lookup(struct msq_conn *c, const char *sql, sqlite3_stmt **st)
{
    size_t h = ((uintptr_t)sql >> 3) % CACHE_SLOTS, i;
    struct cached *e;
    int rc;

    for (i = 0; i < CACHE_SLOTS; i++) {
        e = &c->cache[(h + i) % CACHE_SLOTS];
        if (e->sql == sql) {
            *st = e->st;
            sqlite3_reset(*st);
            return sq_err(sqlite3_clear_bindings(*st));
        }
        if (e->sql == NULL)
            break;
    }
    if (i == CACHE_SLOTS)
        return CERR_INTERNAL;   /* cache full: raise CACHE_SLOTS */

    rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
                            NULL);
    if (rc != SQLITE_OK)
        return sq_err(rc);
    e->sql = sql;
    e->st = *st;
    return 0;
}

/* Bind parameters 1.. from ap as fmt says (see msq_stmt). */
static int
bind_args(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    const char *s;
    const void *p;
    size_t len;
    int i, rc = SQLITE_OK;

    /* A format that does not match the SQL is a bug here, not input. */
    if (strlen(fmt) != (size_t)sqlite3_bind_parameter_count(st))
        return CERR_INTERNAL;
    for (i = 1; *fmt != '\0' && rc == SQLITE_OK; fmt++, i++) {
        switch (*fmt) {
        case 't':
            s = va_arg(ap, const char *);
            rc = sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
            break;
        case 'i':
            rc = sqlite3_bind_int(st, i, va_arg(ap, int));
            break;
        case 'I':
            rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        case 'b':
            p = va_arg(ap, const void *);
            len = va_arg(ap, size_t);
            rc = p == NULL ? sqlite3_bind_null(st, i) :
                 sqlite3_bind_blob64(st, i, p, len, SQLITE_STATIC);
            break;
        case 'L':
            len = va_arg(ap, size_t);
            rc = sqlite3_bind_int64(st, i, len > INT64_MAX ? -1 :
                                    (int64_t)len);
            break;
        default:
            return CERR_INTERNAL;
        }
    }
    return sq_err(rc);
}

static int
stmt_v(struct msq_conn *c, const char *sql, sqlite3_stmt **st,
       const char *fmt, va_list ap)
{
    int rc;

    if ((rc = lookup(c, sql, st)) != 0)
        return rc;
    return bind_args(*st, fmt, ap);
}

/* A cached statement, reset and bound; see the header. */
int
msq_stmt(struct msq_conn *c, const char *sql, sqlite3_stmt **st,
         const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = stmt_v(c, sql, st, fmt, ap);
    va_end(ap);
    return rc;
}

/* One step: 1 for a row, 0 when done, else an error code. */
int
msq_step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW)
        return 1;
    return sq_err(rc);
}

/* Run a statement that returns no rows. */
int
msq_exec(struct msq_conn *c, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = stmt_v(c, sql, &st, fmt, ap);
    va_end(ap);
    if (rc == 0)
        rc = msq_step(st);
    return rc == 1 ? CERR_INTERNAL : rc;
}

/* First column of the first row as an integer; see the header. */
int
msq_int(struct msq_conn *c, const char *sql, int64_t *val, bool *found,
        const char *fmt, ...)
{
    sqlite3_stmt *st;
    va_list ap;
    int rc;

    *val = 0;
    va_start(ap, fmt);
    rc = stmt_v(c, sql, &st, fmt, ap);
    va_end(ap);
    if (rc == 0)
        rc = msq_step(st);
    if (found != NULL)
        *found = rc == 1;
    if (rc == 1)
        *val = sqlite3_column_int64(st, 0);
    return rc == 1 ? 0 : rc;
}

/* Rows changed by the connection's last statement. */
int
msq_changes(struct msq_conn *c)
{
    return sqlite3_changes(c->db);
}

/* Row id of the connection's last insert. */
int64_t
msq_last_id(struct msq_conn *c)
{
    return sqlite3_last_insert_rowid(c->db);
}

/* Copy a text column into dst; CERR_CORRUPT when it does not fit. */
int
msq_col_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    size_t len = (size_t)sqlite3_column_bytes(st, col);

    if (s == NULL)
        len = 0;
    if (len >= cap)
        return CERR_CORRUPT;
    if (len > 0)
        memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}

/* Copy a blob column into dst; CERR_CORRUPT when it does not fit. */
int
msq_col_blob(sqlite3_stmt *st, int col, void *dst, size_t cap, size_t *len)
{
    const void *p = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);

    if (p == NULL)
        n = 0;
    if (n > cap)
        return CERR_CORRUPT;
    if (n > 0)
        memcpy(dst, p, n);
    if (len != NULL)
        *len = n;
    return 0;
}

/* A malloc'd copy of a text column, NULL for SQL NULL; CERR_NOMEM. */
int
msq_col_dup(sqlite3_stmt *st, int col, char **out)
{
    const unsigned char *s;
    size_t len;

    *out = NULL;
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return 0;
    s = sqlite3_column_text(st, col);
    len = (size_t)sqlite3_column_bytes(st, col);
    if (s == NULL || (*out = malloc(len + 1)) == NULL)
        return CERR_NOMEM;
    memcpy(*out, s, len);
    (*out)[len] = '\0';
    return 0;
}

/* An integer column. */
int64_t
msq_col_int(sqlite3_stmt *st, int col)
{
    return sqlite3_column_int64(st, col);
}

/* Is the column SQL NULL? */
bool
msq_col_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL;
}

/* Smallest string above every string that starts with prefix. */
bool
msq_prefix_end(const char *prefix, char *out, size_t cap)
{
    size_t len = strlen(prefix);

    while (len > 0 && (unsigned char)prefix[len - 1] == 0xff)
        len--;
    if (len == 0 || len >= cap)
        return false;
    memcpy(out, prefix, len);
    out[len - 1] = (char)((unsigned char)out[len - 1] + 1);
    out[len] = '\0';
    return true;
}

/* Make room for element n of an array grown by doubling. */
int
msq_grow(void **v, size_t n, size_t sz)
{
    void *p;
    size_t cap;

    if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
        return 0;
    cap = n == 0 ? 4 : n * 2;
    if ((p = realloc(*v, cap * sz)) == NULL)
        return CERR_NOMEM;
    *v = p;
    return 0;
}
