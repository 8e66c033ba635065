/*
 * KMS rows in the SQLite back end: keys, their materials (wrapped by the
 * root key before they get here), aliases and tags.
 *
 * A key's row number (seq) is its creation order, which ListKeys pages
 * through.  Materials, aliases and tags reference the key's id with
 * ON DELETE CASCADE, so deleting a key takes everything of it along.
 *
 * Every transaction that changes a key, its materials or an alias also
 * adds one to the setting META_KMS_GENERATION, in the same transaction,
 * so that a key service caching rows can tell, with one small read,
 * whether anything it cached changed, whoever changed it (another
 * process on the same database included).
 */
#include "store/meta_sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define DB(m) ((struct msq *)(m))

#define KEY_COLS "key_id, created_ms, description, state, manager," \
                 " alias_hint, deletion_ms, pending_days, policy," \
                 " rot_enabled, rot_days, next_rot_ms, current_material"
#define MAT_COLS "key_id, material_id, created_ms, rotation_type, wrapped"

static const char SQL_GEN_BUMP[] =
    "INSERT INTO settings(name, value) VALUES(?1, '1')"
    " ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1";
static const char SQL_KEY_SEQ[] =
    "SELECT seq FROM kms_keys WHERE key_id = ?1";
static const char SQL_KEY_INSERT[] =
    "INSERT INTO kms_keys(" KEY_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
    " ?8, ?9, ?10, ?11, ?12, ?13)";
static const char SQL_KEY_GET[] =
    "SELECT " KEY_COLS " FROM kms_keys WHERE key_id = ?1";
static const char SQL_KEY_UPDATE[] =
    "UPDATE kms_keys SET description = ?2, state = ?3, deletion_ms = ?4,"
    " pending_days = ?5, policy = ?6, rot_enabled = ?7, rot_days = ?8,"
    " next_rot_ms = ?9, current_material = ?10 WHERE key_id = ?1";
static const char SQL_KEY_CURRENT[] =
    "UPDATE kms_keys SET current_material = ?2 WHERE key_id = ?1";
static const char SQL_KEY_LIST[] =
    "SELECT " KEY_COLS " FROM kms_keys WHERE seq > ?1 ORDER BY seq"
    " LIMIT ?2";
static const char SQL_KEY_DELETE[] =
    "DELETE FROM kms_keys WHERE key_id = ?1";

static const char SQL_MAT_INSERT[] =
    "INSERT INTO kms_materials(" MAT_COLS ") VALUES(?1, ?2, ?3, ?4, ?5)";
static const char SQL_MAT_GET[] =
    "SELECT " MAT_COLS " FROM kms_materials"
    " WHERE key_id = ?1 AND material_id = ?2";
static const char SQL_MAT_LIST[] =
    "SELECT " MAT_COLS " FROM kms_materials WHERE key_id = ?1"
    " ORDER BY seq";

static const char SQL_ALIAS_INSERT[] =
    "INSERT INTO kms_aliases(name, key_id, created_ms, updated_ms)"
    " VALUES(?1, ?2, ?3, ?4)";
static const char SQL_ALIAS_GET[] =
    "SELECT name, key_id, created_ms, updated_ms FROM kms_aliases"
    " WHERE name = ?1";
static const char SQL_ALIAS_UPDATE[] =
    "UPDATE kms_aliases SET key_id = ?2, updated_ms = ?3 WHERE name = ?1";
static const char SQL_ALIAS_DELETE[] =
    "DELETE FROM kms_aliases WHERE name = ?1";
static const char SQL_ALIAS_LIST[] =
    "SELECT name, key_id, created_ms, updated_ms FROM kms_aliases"
    " WHERE (?1 IS NULL OR key_id = ?1) AND name > ?2 ORDER BY name"
    " LIMIT ?3";

static const char SQL_TAG_GET[] =
    "SELECT tag_key, value FROM kms_tags WHERE key_id = ?1"
    " ORDER BY tag_key";
static const char SQL_TAG_PUT[] =
    "INSERT INTO kms_tags(key_id, tag_key, value) VALUES(?1, ?2, ?3)"
    " ON CONFLICT(key_id, tag_key) DO UPDATE SET value = excluded.value";
static const char SQL_TAG_DELETE[] =
    "DELETE FROM kms_tags WHERE key_id = ?1 AND tag_key = ?2";

/* 0 when key_id names a key (*seq its row number, seq may be NULL),
 * CERR_KMS_NOT_FOUND when not. */
static int
key_check(struct msq_conn *c, const char *key_id, int64_t *seq)
{
    int64_t v;
    bool found;
    int rc;

    rc = msq_int(c, SQL_KEY_SEQ, &v, &found, "t", key_id);
    if (rc == 0 && !found)
        rc = CERR_KMS_NOT_FOUND;
    if (seq != NULL)
        *seq = v;
    return rc;
}

/* Count one more change of KMS rows (see the top of the file). */
static int
bump(struct msq_conn *c, int rc)
{
    return rc == 0 ? msq_exec(c, SQL_GEN_BUMP, "t", META_KMS_GENERATION)
                   : rc;
}

/* ---- Keys ------------------------------------------------------------- */

static int
insert_material(struct msq_conn *c, const struct meta_kms_material *mat)
{
    int rc;

    rc = msq_exec(c, SQL_MAT_INSERT, "ttItb", mat->key_id,
                  mat->material_id, mat->created_ms, mat->rotation_type,
                  (const void *)mat->wrapped, mat->wrapped_len);
    return rc == MSQ_CONSTRAINT ? CERR_KMS_ALREADY_EXISTS : rc;
}

static int
put_tags(struct msq_conn *c, const char *key_id,
         const struct meta_kms_tag *t, size_t n)
{
    size_t i;
    int rc = 0;

    for (i = 0; i < n && rc == 0; i++)
        rc = msq_exec(c, SQL_TAG_PUT, "ttt", key_id, t[i].key, t[i].value);
    return rc;
}

static int
sq_kms_key_create(struct meta *m, const struct meta_kms_key *k,
                  const struct meta_kms_material *mat,
                  const struct meta_kms_tag *tags, size_t ntags)
{
    const char *cur = mat ? mat->material_id : k->current_material;
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_KEY_INSERT, "tIttttIitiiIt", k->key_id,
                  k->created_ms, k->description ? k->description : "",
                  k->state, k->manager, k->alias_hint, k->deletion_ms,
                  k->pending_days, k->policy, (int)k->rotation_enabled,
                  k->rotation_days, k->next_rotation_ms, cur);
    if (rc == MSQ_CONSTRAINT)
        rc = CERR_KMS_ALREADY_EXISTS;
    if (rc == 0 && mat != NULL && strcmp(mat->key_id, k->key_id) != 0)
        rc = CERR_INVALID_ARGUMENT;
    if (rc == 0 && mat != NULL)
        rc = insert_material(c, mat);
    if (rc == 0)
        rc = put_tags(c, k->key_id, tags, ntags);
    rc = bump(c, rc);
    return msq_end(DB(m), c, rc);
}

/* Fill k from a row of KEY_COLS. */
static int
read_key(sqlite3_stmt *st, struct meta_kms_key *k)
{
    int rc;

    rc = msq_col_text(st, 0, k->key_id, sizeof(k->key_id));
    k->created_ms = msq_col_int(st, 1);
    if (rc == 0)
        rc = msq_col_dup(st, 2, &k->description);
    if (rc == 0)
        rc = msq_col_text(st, 3, k->state, sizeof(k->state));
    if (rc == 0)
        rc = msq_col_text(st, 4, k->manager, sizeof(k->manager));
    if (rc == 0)
        rc = msq_col_text(st, 5, k->alias_hint, sizeof(k->alias_hint));
    k->deletion_ms = msq_col_int(st, 6);
    k->pending_days = (int)msq_col_int(st, 7);
    if (rc == 0)
        rc = msq_col_dup(st, 8, &k->policy);
    k->rotation_enabled = msq_col_int(st, 9) != 0;
    k->rotation_days = (int)msq_col_int(st, 10);
    k->next_rotation_ms = msq_col_int(st, 11);
    if (rc == 0)
        rc = msq_col_text(st, 12, k->current_material,
                          sizeof(k->current_material));
    if (rc == 0 && k->description == NULL &&
        (k->description = strdup("")) == NULL)
        rc = CERR_NOMEM;
    return rc;
}

static int
sq_kms_key_get(struct meta *m, const char *key_id, struct meta_kms_key *out)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_KEY_GET, &st, "t", key_id);
    if (rc == 0 && (rc = msq_step(st)) == 0)
        rc = CERR_KMS_NOT_FOUND;
    if (rc == 1)
        rc = read_key(st, out);
    rc = msq_end(DB(m), c, rc);
    if (rc != 0)
        meta_kms_key_clear(out);
    return rc;
}

static int
sq_kms_key_update(struct meta *m, const struct meta_kms_key *k)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_KEY_UPDATE, "tttIitiiIt", k->key_id,
                  k->description ? k->description : "", k->state,
                  k->deletion_ms, k->pending_days, k->policy,
                  (int)k->rotation_enabled, k->rotation_days,
                  k->next_rotation_ms, k->current_material);
    if (rc == 0 && msq_changes(c) == 0)
        rc = CERR_KMS_NOT_FOUND;
    rc = bump(c, rc);
    return msq_end(DB(m), c, rc);
}

static int
sq_kms_key_list(struct meta *m, const char *after, size_t limit,
                struct meta_kms_key **out, size_t *n)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int64_t seq = 0;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    if (after[0] != '\0' && (rc = key_check(c, after, &seq)) != 0)
        rc = rc == CERR_KMS_NOT_FOUND ? CERR_KMS_INVALID_MARKER : rc;
    if (rc == 0)
        rc = msq_stmt(c, SQL_KEY_LIST, &st, "IL", seq, limit);
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        rc = msq_grow((void **)out, *n, sizeof(**out));
        if (rc == 0) {
            memset(&(*out)[*n], 0, sizeof(**out));
            rc = read_key(st, &(*out)[(*n)++]);
        }
    }
    rc = msq_end(DB(m), c, rc);
    if (rc != 0) {
        meta_kms_key_list_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int
sq_kms_key_delete(struct meta *m, const char *key_id)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_KEY_DELETE, "t", key_id);
    if (rc == 0 && msq_changes(c) == 0)
        rc = CERR_KMS_NOT_FOUND;
    rc = bump(c, rc);
    return msq_end(DB(m), c, rc);
}

/* ---- Materials -------------------------------------------------------- */

static int
sq_kms_material_add(struct meta *m, const struct meta_kms_material *mat,
                    const char *make_current)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = key_check(c, mat->key_id, NULL);
    if (rc == 0)
        rc = insert_material(c, mat);
    if (rc == 0 && make_current != NULL)
        rc = msq_exec(c, SQL_KEY_CURRENT, "tt", mat->key_id, make_current);
    rc = bump(c, rc);
    return msq_end(DB(m), c, rc);
}

/* Fill mat from a row of MAT_COLS. */
static int
read_material(sqlite3_stmt *st, struct meta_kms_material *mat)
{
    int rc;

    memset(mat, 0, sizeof(*mat));
    rc = msq_col_text(st, 0, mat->key_id, sizeof(mat->key_id));
    if (rc == 0)
        rc = msq_col_text(st, 1, mat->material_id,
                          sizeof(mat->material_id));
    mat->created_ms = msq_col_int(st, 2);
    if (rc == 0)
        rc = msq_col_text(st, 3, mat->rotation_type,
                          sizeof(mat->rotation_type));
    if (rc == 0)
        rc = msq_col_blob(st, 4, mat->wrapped, sizeof(mat->wrapped),
                          &mat->wrapped_len);
    return rc;
}

static int
sq_kms_material_get(struct meta *m, const char *key_id,
                    const char *material_id, struct meta_kms_material *out)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_MAT_GET, &st, "tt", key_id, material_id);
    if (rc == 0 && (rc = msq_step(st)) == 0)
        rc = CERR_KMS_NOT_FOUND;
    if (rc == 1)
        rc = read_material(st, out);
    return msq_end(DB(m), c, rc);
}

static int
sq_kms_material_list(struct meta *m, const char *key_id,
                     struct meta_kms_material **out, size_t *n)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = key_check(c, key_id, NULL);
    if (rc == 0)
        rc = msq_stmt(c, SQL_MAT_LIST, &st, "t", key_id);
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        rc = msq_grow((void **)out, *n, sizeof(**out));
        if (rc == 0)
            rc = read_material(st, &(*out)[(*n)++]);
    }
    rc = msq_end(DB(m), c, rc);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- Aliases ---------------------------------------------------------- */

static int
sq_kms_alias_create(struct meta *m, const struct meta_kms_alias *a)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = key_check(c, a->key_id, NULL);
    if (rc == 0)
        rc = msq_exec(c, SQL_ALIAS_INSERT, "ttII", a->name, a->key_id,
                      a->created_ms, a->updated_ms);
    if (rc == MSQ_CONSTRAINT)
        rc = CERR_KMS_ALREADY_EXISTS;
    rc = bump(c, rc);
    return msq_end(DB(m), c, rc);
}

/* Fill a from a row of name, key_id, created_ms, updated_ms. */
static int
read_alias(sqlite3_stmt *st, struct meta_kms_alias *a)
{
    int rc;

    memset(a, 0, sizeof(*a));
    rc = msq_col_text(st, 0, a->name, sizeof(a->name));
    if (rc == 0)
        rc = msq_col_text(st, 1, a->key_id, sizeof(a->key_id));
    a->created_ms = msq_col_int(st, 2);
    a->updated_ms = msq_col_int(st, 3);
    return rc;
}

static int
sq_kms_alias_get(struct meta *m, const char *name, struct meta_kms_alias *out)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_ALIAS_GET, &st, "t", name);
    if (rc == 0 && (rc = msq_step(st)) == 0)
        rc = CERR_KMS_NOT_FOUND;
    if (rc == 1)
        rc = read_alias(st, out);
    return msq_end(DB(m), c, rc);
}

static int
sq_kms_alias_update(struct meta *m, const char *name, const char *key_id,
                    int64_t now_ms)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = key_check(c, key_id, NULL);
    if (rc == 0)
        rc = msq_exec(c, SQL_ALIAS_UPDATE, "ttI", name, key_id, now_ms);
    if (rc == 0 && msq_changes(c) == 0)
        rc = CERR_KMS_NOT_FOUND;
    rc = bump(c, rc);
    return msq_end(DB(m), c, rc);
}

static int
sq_kms_alias_delete(struct meta *m, const char *name)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_exec(c, SQL_ALIAS_DELETE, "t", name);
    if (rc == 0 && msq_changes(c) == 0)
        rc = CERR_KMS_NOT_FOUND;
    rc = bump(c, rc);
    return msq_end(DB(m), c, rc);
}

static int
sq_kms_alias_list(struct meta *m, const char *key_id, const char *after,
                  size_t limit, struct meta_kms_alias **out, size_t *n)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_ALIAS_LIST, &st, "ttL", key_id, after, limit);
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        rc = msq_grow((void **)out, *n, sizeof(**out));
        if (rc == 0)
            rc = read_alias(st, &(*out)[(*n)++]);
    }
    rc = msq_end(DB(m), c, rc);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- Tags ------------------------------------------------------------- */

static int
sq_kms_tags_get(struct meta *m, const char *key_id,
                struct meta_kms_tag **out, size_t *n)
{
    struct meta_kms_tag *t;
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = key_check(c, key_id, NULL);
    if (rc == 0)
        rc = msq_stmt(c, SQL_TAG_GET, &st, "t", key_id);
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        if ((rc = msq_grow((void **)out, *n, sizeof(**out))) != 0)
            break;
        t = &(*out)[(*n)++];
        rc = msq_col_text(st, 0, t->key, sizeof(t->key));
        if (rc == 0)
            rc = msq_col_text(st, 1, t->value, sizeof(t->value));
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
sq_kms_tags_put(struct meta *m, const char *key_id,
                const struct meta_kms_tag *t, size_t n)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = key_check(c, key_id, NULL);
    if (rc == 0)
        rc = put_tags(c, key_id, t, n);
    return msq_end(DB(m), c, rc);
}

static int
sq_kms_tags_delete(struct meta *m, const char *key_id,
                   const char *const *keys, size_t n)
{
    struct msq_conn *c;
    size_t i;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = key_check(c, key_id, NULL);
    for (i = 0; i < n && rc == 0; i++)
        rc = msq_exec(c, SQL_TAG_DELETE, "tt", key_id, keys[i]);
    return msq_end(DB(m), c, rc);
}

/* Fill the KMS entries of the SQLite ops table. */
void
msq_kms_ops(struct meta_ops *ops)
{
    ops->kms_key_create = sq_kms_key_create;
    ops->kms_key_get = sq_kms_key_get;
    ops->kms_key_update = sq_kms_key_update;
    ops->kms_key_list = sq_kms_key_list;
    ops->kms_key_delete = sq_kms_key_delete;
    ops->kms_material_add = sq_kms_material_add;
    ops->kms_material_get = sq_kms_material_get;
    ops->kms_material_list = sq_kms_material_list;
    ops->kms_alias_create = sq_kms_alias_create;
    ops->kms_alias_get = sq_kms_alias_get;
    ops->kms_alias_update = sq_kms_alias_update;
    ops->kms_alias_delete = sq_kms_alias_delete;
    ops->kms_alias_list = sq_kms_alias_list;
    ops->kms_tags_get = sq_kms_tags_get;
    ops->kms_tags_put = sq_kms_tags_put;
    ops->kms_tags_delete = sq_kms_tags_delete;
}
