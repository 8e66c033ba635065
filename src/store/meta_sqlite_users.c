/*
 * IAM rows in the SQLite back end: users, their access keys (secrets
 * wrapped by the root key before they get here) and their inline
 * identity policies.
 *
 * The tables are created with IF NOT EXISTS when the store opens, so a
 * data directory made before users existed gains them without a schema
 * version of its own.  Keys and policies reference their user's name
 * with ON DELETE CASCADE; meta_user_delete without force checks for them
 * first, as IAM's DeleteUser does.
 */
#include "store/meta_sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define DB(m) ((struct msq *)(m))

static const char SQL_USERS_TABLE[] =
    "CREATE TABLE IF NOT EXISTS iam_users(name TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL)";
static const char SQL_KEYS_TABLE[] =
    "CREATE TABLE IF NOT EXISTS iam_keys(akid TEXT PRIMARY KEY,"
    " user_name TEXT NOT NULL REFERENCES iam_users(name) ON DELETE CASCADE,"
    " active INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    " wrapped BLOB NOT NULL)";
static const char SQL_KEYS_INDEX[] =
    "CREATE INDEX IF NOT EXISTS iam_keys_user ON iam_keys(user_name)";
static const char SQL_POLICIES_TABLE[] =
    "CREATE TABLE IF NOT EXISTS iam_policies("
    " user_name TEXT NOT NULL REFERENCES iam_users(name) ON DELETE CASCADE,"
    " name TEXT NOT NULL, document TEXT NOT NULL,"
    " updated_ms INTEGER NOT NULL, PRIMARY KEY(user_name, name))";

static const char SQL_USER_INSERT[] =
    "INSERT INTO iam_users(name, user_id, created_ms) VALUES(?1, ?2, ?3)";
static const char SQL_USER_GET[] =
    "SELECT name, user_id, created_ms FROM iam_users WHERE name = ?1";
static const char SQL_USER_LIST[] =
    "SELECT name, user_id, created_ms FROM iam_users ORDER BY name";
static const char SQL_USER_DELETE[] =
    "DELETE FROM iam_users WHERE name = ?1";
static const char SQL_USER_HOLDINGS[] =
    "SELECT (SELECT count(*) FROM iam_keys WHERE user_name = ?1)"
    " + (SELECT count(*) FROM iam_policies WHERE user_name = ?1)";

#define KEY_COLS "k.akid, k.user_name, k.active, k.created_ms, k.wrapped"
static const char SQL_KEY_INSERT[] =
    "INSERT INTO iam_keys(akid, user_name, active, created_ms, wrapped)"
    " VALUES(?1, ?2, ?3, ?4, ?5)";
static const char SQL_KEY_COUNT[] =
    "SELECT count(*) FROM iam_keys WHERE user_name = ?1";
static const char SQL_KEY_GET[] =
    "SELECT " KEY_COLS ", u.name, u.user_id, u.created_ms"
    " FROM iam_keys k JOIN iam_users u ON u.name = k.user_name"
    " WHERE k.akid = ?1";
static const char SQL_KEY_LIST[] =
    "SELECT " KEY_COLS " FROM iam_keys k WHERE k.user_name = ?1"
    " ORDER BY k.created_ms, k.akid";
static const char SQL_KEY_ACTIVE[] =
    "UPDATE iam_keys SET active = ?2 WHERE akid = ?1";
static const char SQL_KEY_DELETE[] =
    "DELETE FROM iam_keys WHERE akid = ?1";

static const char SQL_POLICY_PUT[] =
    "INSERT INTO iam_policies(user_name, name, document, updated_ms)"
    " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(user_name, name) DO UPDATE"
    " SET document = excluded.document, updated_ms = excluded.updated_ms";
static const char SQL_POLICY_DELETE[] =
    "DELETE FROM iam_policies WHERE user_name = ?1 AND name = ?2";
static const char SQL_POLICY_LIST[] =
    "SELECT name, document, updated_ms FROM iam_policies"
    " WHERE user_name = ?1 ORDER BY name";

/*
 * Create the IAM tables when missing.  Called once when the store opens;
 * 0 or the error of the first statement that failed.
 */
int
msq_users_schema(struct msq *db)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(db, true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_USERS_TABLE, "");
    if (rc == 0)
        rc = msq_exec(c, SQL_KEYS_TABLE, "");
    if (rc == 0)
        rc = msq_exec(c, SQL_KEYS_INDEX, "");
    if (rc == 0)
        rc = msq_exec(c, SQL_POLICIES_TABLE, "");
    return msq_end(db, c, rc);
}

/* 0 when the user exists, CERR_IAM_NO_SUCH_ENTITY when not. */
static int
user_check(struct msq_conn *c, const char *name)
{
    sqlite3_stmt *st;
    int rc;

    rc = msq_stmt(c, SQL_USER_GET, &st, "t", name);
    if (rc == 0)
        rc = msq_step(st);
    if (rc == 0)
        return CERR_IAM_NO_SUCH_ENTITY;
    return rc == 1 ? 0 : rc;
}

/* Fill u from columns col, col+1, col+2 (name, user_id, created_ms). */
static int
read_user(sqlite3_stmt *st, int col, struct meta_user *u)
{
    int rc;

    rc = msq_col_text(st, col, u->name, sizeof(u->name));
    if (rc == 0)
        rc = msq_col_text(st, col + 1, u->user_id, sizeof(u->user_id));
    u->created_ms = msq_col_int(st, col + 2);
    return rc;
}

/* Fill k from a row of KEY_COLS. */
static int
read_key(sqlite3_stmt *st, struct meta_access_key *k)
{
    int rc;

    rc = msq_col_text(st, 0, k->akid, sizeof(k->akid));
    if (rc == 0)
        rc = msq_col_text(st, 1, k->user_name, sizeof(k->user_name));
    k->active = msq_col_int(st, 2) != 0;
    k->created_ms = msq_col_int(st, 3);
    if (rc == 0)
        rc = msq_col_blob(st, 4, k->wrapped, sizeof(k->wrapped),
                          &k->wrapped_len);
    return rc;
}

/* ---- Users ------------------------------------------------------------ */

static int
sq_user_create(struct meta *m, const struct meta_user *u)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_USER_INSERT, "ttI", u->name, u->user_id,
                  u->created_ms);
    if (rc == MSQ_CONSTRAINT)
        rc = CERR_IAM_ENTITY_EXISTS;
    return msq_end(DB(m), c, rc);
}

static int
sq_user_get(struct meta *m, const char *name, struct meta_user *out)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_USER_GET, &st, "t", name);
    if (rc == 0)
        rc = msq_step(st);
    if (rc == 0)
        rc = CERR_IAM_NO_SUCH_ENTITY;
    else if (rc == 1)
        rc = read_user(st, 0, out);
    return msq_end(DB(m), c, rc);
}

static int
sq_user_list(struct meta *m, struct meta_user **out, size_t *n)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_USER_LIST, &st, "");
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        if ((rc = msq_grow((void **)out, *n, sizeof(**out))) != 0)
            break;
        memset(&(*out)[*n], 0, sizeof(**out));
        rc = read_user(st, 0, &(*out)[(*n)++]);
    }
    rc = msq_end(DB(m), c, rc);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int
sq_user_delete(struct meta *m, const char *name, bool force)
{
    struct msq_conn *c;
    int64_t held = 0;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = user_check(c, name);
    if (rc == 0 && !force)
        rc = msq_int(c, SQL_USER_HOLDINGS, &held, NULL, "t", name);
    if (rc == 0 && held > 0)
        rc = CERR_IAM_DELETE_CONFLICT;
    if (rc == 0)
        rc = msq_exec(c, SQL_USER_DELETE, "t", name);
    return msq_end(DB(m), c, rc);
}

/* ---- Access keys ------------------------------------------------------ */

static int
sq_access_key_create(struct meta *m, const struct meta_access_key *k)
{
    struct msq_conn *c;
    int64_t count = 0;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = user_check(c, k->user_name);
    if (rc == 0)
        rc = msq_int(c, SQL_KEY_COUNT, &count, NULL, "t", k->user_name);
    if (rc == 0 && count >= META_USER_KEYS_MAX)
        rc = CERR_IAM_LIMIT_EXCEEDED;
    if (rc == 0)
        rc = msq_exec(c, SQL_KEY_INSERT, "ttiIb", k->akid, k->user_name,
                      (int)k->active, k->created_ms,
                      (const void *)k->wrapped, k->wrapped_len);
    if (rc == MSQ_CONSTRAINT)
        rc = CERR_IAM_ENTITY_EXISTS;
    return msq_end(DB(m), c, rc);
}

static int
sq_access_key_get(struct meta *m, const char *akid,
                  struct meta_access_key *out, struct meta_user *user)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_KEY_GET, &st, "t", akid);
    if (rc == 0)
        rc = msq_step(st);
    if (rc == 0)
        rc = CERR_IAM_NO_SUCH_ENTITY;
    else if (rc == 1)
        rc = read_key(st, out);
    if (rc == 0 && user != NULL)
        rc = read_user(st, 5, user);
    return msq_end(DB(m), c, rc);
}

static int
sq_access_key_list(struct meta *m, const char *user_name,
                   struct meta_access_key **out, size_t *n)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = user_check(c, user_name);
    if (rc == 0)
        rc = msq_stmt(c, SQL_KEY_LIST, &st, "t", user_name);
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        if ((rc = msq_grow((void **)out, *n, sizeof(**out))) != 0)
            break;
        memset(&(*out)[*n], 0, sizeof(**out));
        rc = read_key(st, &(*out)[(*n)++]);
    }
    rc = msq_end(DB(m), c, rc);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int
sq_access_key_set_active(struct meta *m, const char *akid, bool active)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_KEY_ACTIVE, "ti", akid, (int)active);
    if (rc == 0 && msq_changes(c) == 0)
        rc = CERR_IAM_NO_SUCH_ENTITY;
    return msq_end(DB(m), c, rc);
}

static int
sq_access_key_delete(struct meta *m, const char *akid)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_KEY_DELETE, "t", akid);
    if (rc == 0 && msq_changes(c) == 0)
        rc = CERR_IAM_NO_SUCH_ENTITY;
    return msq_end(DB(m), c, rc);
}

/* ---- Identity policies ------------------------------------------------ */

static int
sq_user_policy_put(struct meta *m, const char *user_name, const char *name,
                   const char *document, int64_t now_ms)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = user_check(c, user_name);
    if (rc == 0)
        rc = msq_exec(c, SQL_POLICY_PUT, "tttI", user_name, name, document,
                      now_ms);
    return msq_end(DB(m), c, rc);
}

static int
sq_user_policy_delete(struct meta *m, const char *user_name,
                      const char *name)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_POLICY_DELETE, "tt", user_name, name);
    if (rc == 0 && msq_changes(c) == 0)
        rc = CERR_IAM_NO_SUCH_ENTITY;
    return msq_end(DB(m), c, rc);
}

static int
read_policy(sqlite3_stmt *st, struct meta_user_policy *p)
{
    int rc;

    rc = msq_col_text(st, 0, p->name, sizeof(p->name));
    if (rc == 0)
        rc = msq_col_dup(st, 1, &p->document);
    if (rc == 0 && p->document == NULL)
        rc = CERR_CORRUPT;
    p->updated_ms = msq_col_int(st, 2);
    return rc;
}

static int
sq_user_policy_list(struct meta *m, const char *user_name,
                    struct meta_user_policy **out, size_t *n)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = user_check(c, user_name);
    if (rc == 0)
        rc = msq_stmt(c, SQL_POLICY_LIST, &st, "t", user_name);
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        if ((rc = msq_grow((void **)out, *n, sizeof(**out))) != 0)
            break;
        memset(&(*out)[*n], 0, sizeof(**out));
        rc = read_policy(st, &(*out)[(*n)++]);
    }
    rc = msq_end(DB(m), c, rc);
    if (rc != 0) {
        meta_user_policy_list_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* Fill the IAM entries of the SQLite ops table. */
void
msq_users_ops(struct meta_ops *ops)
{
    ops->user_create = sq_user_create;
    ops->user_get = sq_user_get;
    ops->user_list = sq_user_list;
    ops->user_delete = sq_user_delete;
    ops->access_key_create = sq_access_key_create;
    ops->access_key_get = sq_access_key_get;
    ops->access_key_list = sq_access_key_list;
    ops->access_key_set_active = sq_access_key_set_active;
    ops->access_key_delete = sq_access_key_delete;
    ops->user_policy_put = sq_user_policy_put;
    ops->user_policy_delete = sq_user_policy_delete;
    ops->user_policy_list = sq_user_policy_list;
}
