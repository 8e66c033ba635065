/*
 * KMS grants in the SQLite back end.  A grant row hangs off its key
 * (ON DELETE CASCADE, so a key deleted at the end of its window takes
 * its grants along) and its token hashes hang off the grant.  A grant's
 * row number (seq) is its creation order, which ListGrants and
 * ListRetirableGrants page through.
 *
 * The tables are created with IF NOT EXISTS each time the database is
 * opened, so a database made before grants existed gains them without a
 * schema version of their own.
 */
#include "store/meta_sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define DB(m) ((struct msq *)(m))

#define GRANT_COLS "grant_id, key_id, name, grantee, retiring, issuer," \
                   " ops, constraints, created_ms"

const char msq_grants_schema[] =
    "CREATE TABLE IF NOT EXISTS kms_grants(seq INTEGER PRIMARY KEY,"
    " grant_id TEXT NOT NULL UNIQUE,"
    " key_id TEXT NOT NULL REFERENCES kms_keys(key_id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, grantee TEXT NOT NULL, retiring TEXT NOT NULL,"
    " issuer TEXT NOT NULL, ops INTEGER NOT NULL, constraints TEXT,"
    " created_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS kms_grants_key"
    " ON kms_grants(key_id, grantee);"
    "CREATE INDEX IF NOT EXISTS kms_grants_retiring"
    " ON kms_grants(retiring);"
    "CREATE TABLE IF NOT EXISTS kms_grant_tokens(hash BLOB PRIMARY KEY,"
    " grant_id TEXT NOT NULL REFERENCES kms_grants(grant_id)"
    " ON DELETE CASCADE);"
    "CREATE INDEX IF NOT EXISTS kms_grant_tokens_grant"
    " ON kms_grant_tokens(grant_id);";

static const char SQL_KEY_EXISTS[] =
    "SELECT 1 FROM kms_keys WHERE key_id = ?1";
static const char SQL_GRANT_INSERT[] =
    "INSERT INTO kms_grants(" GRANT_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
    " ?7, ?8, ?9)";
static const char SQL_TOKEN_INSERT[] =
    "INSERT INTO kms_grant_tokens(hash, grant_id) VALUES(?1, ?2)";
static const char SQL_GRANT_SEQ[] =
    "SELECT seq FROM kms_grants WHERE grant_id = ?1";
static const char SQL_GRANT_GET[] =
    "SELECT " GRANT_COLS " FROM kms_grants WHERE grant_id = ?1";
static const char SQL_GRANT_BY_TOKEN[] =
    "SELECT " GRANT_COLS " FROM kms_grants WHERE grant_id ="
    " (SELECT grant_id FROM kms_grant_tokens WHERE hash = ?1)";
static const char SQL_GRANT_LIST[] =
    "SELECT " GRANT_COLS " FROM kms_grants"
    " WHERE (?1 IS NULL OR key_id = ?1) AND (?2 IS NULL OR grantee = ?2)"
    " AND (?3 IS NULL OR retiring = ?3) AND (?4 IS NULL OR name = ?4)"
    " AND seq > ?5 ORDER BY seq LIMIT ?6";
static const char SQL_GRANT_DELETE[] =
    "DELETE FROM kms_grants WHERE grant_id = ?1";

static int
translate(int rc)
{
    return rc == MSQ_CONSTRAINT ? CERR_KMS_ALREADY_EXISTS : rc;
}

static int
sq_grant_create(struct meta *m, const struct meta_kms_grant *g,
                const uint8_t token_hash[32])
{
    struct msq_conn *c;
    bool found;
    int64_t v;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_int(c, SQL_KEY_EXISTS, &v, &found, "t", g->key_id);
    if (rc == 0 && !found)
        rc = CERR_KMS_NOT_FOUND;
    if (rc == 0)
        rc = translate(msq_exec(c, SQL_GRANT_INSERT, "ttttttitI",
                                g->grant_id, g->key_id, g->name, g->grantee,
                                g->retiring, g->issuer, (int)g->ops,
                                g->constraints, g->created_ms));
    if (rc == 0)
        rc = translate(msq_exec(c, SQL_TOKEN_INSERT, "bt",
                                (const void *)token_hash, (size_t)32,
                                g->grant_id));
    return msq_end(DB(m), c, rc);
}

static int
sq_grant_token_add(struct meta *m, const char *grant_id,
                   const uint8_t token_hash[32])
{
    struct msq_conn *c;
    bool found;
    int64_t v;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_int(c, SQL_GRANT_SEQ, &v, &found, "t", grant_id);
    if (rc == 0 && !found)
        rc = CERR_KMS_NOT_FOUND;
    if (rc == 0)
        rc = translate(msq_exec(c, SQL_TOKEN_INSERT, "bt",
                                (const void *)token_hash, (size_t)32,
                                grant_id));
    return msq_end(DB(m), c, rc);
}

/* Fill g from a row of GRANT_COLS. */
static int
read_grant(sqlite3_stmt *st, struct meta_kms_grant *g)
{
    int rc;

    memset(g, 0, sizeof(*g));
    rc = msq_col_text(st, 0, g->grant_id, sizeof(g->grant_id));
    if (rc == 0)
        rc = msq_col_text(st, 1, g->key_id, sizeof(g->key_id));
    if (rc == 0)
        rc = msq_col_text(st, 2, g->name, sizeof(g->name));
    if (rc == 0)
        rc = msq_col_text(st, 3, g->grantee, sizeof(g->grantee));
    if (rc == 0)
        rc = msq_col_text(st, 4, g->retiring, sizeof(g->retiring));
    if (rc == 0)
        rc = msq_col_text(st, 5, g->issuer, sizeof(g->issuer));
    g->ops = (uint32_t)msq_col_int(st, 6);
    if (rc == 0)
        rc = msq_col_dup(st, 7, &g->constraints);
    g->created_ms = msq_col_int(st, 8);
    return rc;
}

/* By id, or (grant_id NULL) by the hash of one of its tokens. */
static int
sq_grant_get(struct meta *m, const char *grant_id, const uint8_t *hash,
             struct meta_kms_grant *out)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    if (grant_id != NULL)
        rc = msq_stmt(c, SQL_GRANT_GET, &st, "t", grant_id);
    else
        rc = msq_stmt(c, SQL_GRANT_BY_TOKEN, &st, "b", (const void *)hash,
                      (size_t)32);
    if (rc == 0 && (rc = msq_step(st)) == 0)
        rc = CERR_KMS_NOT_FOUND;
    if (rc == 1)
        rc = read_grant(st, out);
    rc = msq_end(DB(m), c, rc);
    if (rc != 0)
        meta_kms_grant_clear(out);
    return rc;
}

static int
sq_grant_list(struct meta *m, const char *key_id, const char *grantee,
              const char *retiring, const char *name, const char *after,
              size_t limit, struct meta_kms_grant **out, size_t *n)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int64_t seq = 0;
    bool found = true;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    if (after[0] != '\0')
        rc = msq_int(c, SQL_GRANT_SEQ, &seq, &found, "t", after);
    if (rc == 0 && !found)
        rc = CERR_KMS_INVALID_MARKER;
    if (rc == 0)
        rc = msq_stmt(c, SQL_GRANT_LIST, &st, "ttttIL", key_id, grantee,
                      retiring, name, seq, limit);
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        rc = msq_grow((void **)out, *n, sizeof(**out));
        if (rc == 0)
            rc = read_grant(st, &(*out)[(*n)++]);
    }
    rc = msq_end(DB(m), c, rc);
    if (rc != 0) {
        meta_kms_grant_list_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int
sq_grant_delete(struct meta *m, const char *grant_id)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_GRANT_DELETE, "t", grant_id);
    if (rc == 0 && msq_changes(c) == 0)
        rc = CERR_KMS_NOT_FOUND;
    return msq_end(DB(m), c, rc);
}

/* Fill the grant entries of the SQLite ops table. */
void
msq_grants_ops(struct meta_ops *ops)
{
    ops->kms_grant_create = sq_grant_create;
    ops->kms_grant_token_add = sq_grant_token_add;
    ops->kms_grant_get = sq_grant_get;
    ops->kms_grant_list = sq_grant_list;
    ops->kms_grant_delete = sq_grant_delete;
}
