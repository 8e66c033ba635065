/*
 * Objects, multipart uploads and parts in the SQLite back end.
 *
 * An object row owns its body rows (ON DELETE CASCADE); an upload row
 * owns its part rows the same way.  Replacing an object deletes the old
 * row and inserts a new one in the same transaction, so readers see the
 * old object or the new one, never a mixture.  Every change collects the
 * blob ids of the rows it drops as candidates; msq_garbage_settle then
 * keeps those no remaining row names (a completed upload's chosen parts
 * live on as the object's bodies) and records them as garbage.
 */
#include "store/meta_sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define DB(m) ((struct msq *)(m))

/* The seven columns of a struct meta_sse, in this order, and their
 * binding arguments (format "itiIbtb"). */
#define SSE_COLS "sse_mode, sse_arn, sse_bk, sse_bk_id, sse_wrapped," \
                 " sse_ctx, sse_check"
#define SSE_ARGS(s) (s)->mode, (s)->kms_key_arn, (int)(s)->bucket_key, \
    (s)->bucket_key_id, (const void *)(s)->wrapped, (s)->wrapped_len, \
    (s)->context, (s)->has_key_check ? (const void *)(s)->key_check : NULL, \
    sizeof((s)->key_check)

#define OBJ_COLS "bucket, okey, size, mtime_ms, etag, headers, tagging," \
                 " ck_alg, ck, ck_type, upload_id, " SSE_COLS
#define UPL_COLS "upload_id, bucket, okey, created_ms, headers, tagging," \
                 " ck_alg, ck_type, req_sse, req_kms, " SSE_COLS
#define BODY_COLS "blob_id, salt, part_number, size, off, etag, checksum," \
                  " mtime_ms"

static const char SQL_OBJ_FIND[] =
    "SELECT id FROM objects WHERE bucket = ?1 AND okey = ?2";
static const char SQL_OBJ_GET[] =
    "SELECT id, " OBJ_COLS " FROM objects WHERE bucket = ?1 AND okey = ?2";
static const char SQL_OBJ_INSERT[] =
    "INSERT INTO objects(" OBJ_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
    " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";
static const char SQL_OBJ_DELETE[] =
    "DELETE FROM objects WHERE id = ?1";
static const char SQL_OBJ_LIST[] =
    "SELECT id, " OBJ_COLS " FROM objects WHERE bucket = ?1 AND okey > ?2"
    " AND okey >= ?3 ORDER BY okey LIMIT ?4";
static const char SQL_OBJ_LIST_PREFIX[] =
    "SELECT id, " OBJ_COLS " FROM objects WHERE bucket = ?1 AND okey > ?2"
    " AND okey >= ?3 AND okey < ?5 ORDER BY okey LIMIT ?4";
static const char SQL_OBJ_SET_TAGGING[] =
    "UPDATE objects SET tagging = ?3 WHERE bucket = ?1 AND okey = ?2";
static const char SQL_BODY_INSERT[] =
    "INSERT INTO bodies(object_id, seq, " BODY_COLS ")"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_BODY_GET[] =
    "SELECT " BODY_COLS " FROM bodies WHERE object_id = ?1"
    " ORDER BY off, seq";
static const char SQL_BODY_IDS[] =
    "SELECT blob_id FROM bodies WHERE object_id = ?1";

static const char SQL_UPL_INSERT[] =
    "INSERT INTO uploads(" UPL_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
    " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
static const char SQL_UPL_GET[] =
    "SELECT " UPL_COLS " FROM uploads"
    " WHERE upload_id = ?1 AND bucket = ?2 AND okey = ?3";
static const char SQL_UPL_WHERE[] =
    "SELECT bucket, okey FROM uploads WHERE upload_id = ?1";
static const char SQL_UPL_LIST[] =
    "SELECT " UPL_COLS " FROM uploads WHERE bucket = ?1 AND okey >= ?2"
    " AND (okey > ?3 OR (okey = ?3 AND ?4 <> '' AND upload_id > ?4))"
    " ORDER BY okey, upload_id LIMIT ?5";
static const char SQL_UPL_LIST_PREFIX[] =
    "SELECT " UPL_COLS " FROM uploads WHERE bucket = ?1 AND okey >= ?2"
    " AND okey < ?6"
    " AND (okey > ?3 OR (okey = ?3 AND ?4 <> '' AND upload_id > ?4))"
    " ORDER BY okey, upload_id LIMIT ?5";
static const char SQL_UPL_DELETE[] =
    "DELETE FROM uploads WHERE upload_id = ?1";

static const char SQL_PART_BLOB[] =
    "SELECT blob_id FROM parts WHERE upload_id = ?1 AND part_number = ?2";
static const char SQL_PART_IDS[] =
    "SELECT blob_id FROM parts WHERE upload_id = ?1";
static const char SQL_PART_PUT[] =
    "INSERT OR REPLACE INTO parts(upload_id, part_number, blob_id, salt,"
    " size, etag, checksum, mtime_ms)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_PART_LIST[] =
    "SELECT blob_id, salt, part_number, size, 0, etag, checksum, mtime_ms"
    " FROM parts WHERE upload_id = ?1 AND part_number > ?2"
    " ORDER BY part_number LIMIT ?3";

/* ---- Reading rows ----------------------------------------------------- */

/* Fill s from the seven SSE columns starting at col. */
static int
read_sse(sqlite3_stmt *st, int col, struct meta_sse *s)
{
    int rc;

    s->mode = (int)msq_col_int(st, col);
    rc = msq_col_text(st, col + 1, s->kms_key_arn, sizeof(s->kms_key_arn));
    s->bucket_key = msq_col_int(st, col + 2) != 0;
    s->bucket_key_id = msq_col_int(st, col + 3);
    if (rc == 0)
        rc = msq_col_blob(st, col + 4, s->wrapped, sizeof(s->wrapped),
                          &s->wrapped_len);
    if (rc == 0)
        rc = msq_col_text(st, col + 5, s->context, sizeof(s->context));
    s->has_key_check = !msq_col_null(st, col + 6);
    if (rc == 0 && s->has_key_check)
        rc = msq_col_blob(st, col + 6, s->key_check, sizeof(s->key_check),
                          NULL);
    return rc;
}

/* Fill o from a row of "id, OBJ_COLS". */
static int
read_object(sqlite3_stmt *st, struct meta_object *o)
{
    int rc;

    rc = msq_col_text(st, 1, o->bucket, sizeof(o->bucket));
    if (rc == 0)
        rc = msq_col_text(st, 2, o->key, sizeof(o->key));
    o->size = msq_col_int(st, 3);
    o->mtime_ms = msq_col_int(st, 4);
    if (rc == 0)
        rc = msq_col_text(st, 5, o->etag, sizeof(o->etag));
    if (rc == 0)
        rc = msq_col_dup(st, 6, &o->headers);
    if (rc == 0)
        rc = msq_col_dup(st, 7, &o->tagging);
    if (rc == 0)
        rc = msq_col_text(st, 8, o->checksum_alg, sizeof(o->checksum_alg));
    if (rc == 0)
        rc = msq_col_text(st, 9, o->checksum, sizeof(o->checksum));
    if (rc == 0)
        rc = msq_col_text(st, 10, o->checksum_type,
                          sizeof(o->checksum_type));
    if (rc == 0)
        rc = msq_col_text(st, 11, o->upload_id, sizeof(o->upload_id));
    return rc == 0 ? read_sse(st, 12, &o->sse) : rc;
}

/* Fill b from a row of BODY_COLS. */
static int
read_body(sqlite3_stmt *st, struct meta_body *b)
{
    size_t len;
    int rc;

    memset(b, 0, sizeof(*b));
    rc = msq_col_text(st, 0, b->blob_id, sizeof(b->blob_id));
    if (rc == 0)
        rc = msq_col_blob(st, 1, b->salt, sizeof(b->salt), &len);
    b->part_number = (int)msq_col_int(st, 2);
    b->size = msq_col_int(st, 3);
    b->offset = msq_col_int(st, 4);
    if (rc == 0)
        rc = msq_col_text(st, 5, b->etag, sizeof(b->etag));
    if (rc == 0)
        rc = msq_col_text(st, 6, b->checksum, sizeof(b->checksum));
    b->mtime_ms = msq_col_int(st, 7);
    return rc;
}

/* Fill u from a row of UPL_COLS. */
static int
read_upload(sqlite3_stmt *st, struct meta_upload *u)
{
    int rc;

    rc = msq_col_text(st, 0, u->upload_id, sizeof(u->upload_id));
    if (rc == 0)
        rc = msq_col_text(st, 1, u->bucket, sizeof(u->bucket));
    if (rc == 0)
        rc = msq_col_text(st, 2, u->key, sizeof(u->key));
    u->created_ms = msq_col_int(st, 3);
    if (rc == 0)
        rc = msq_col_dup(st, 4, &u->headers);
    if (rc == 0)
        rc = msq_col_dup(st, 5, &u->tagging);
    if (rc == 0)
        rc = msq_col_text(st, 6, u->checksum_alg, sizeof(u->checksum_alg));
    if (rc == 0)
        rc = msq_col_text(st, 7, u->checksum_type,
                          sizeof(u->checksum_type));
    if (rc == 0)
        rc = msq_col_text(st, 8, u->req_sse, sizeof(u->req_sse));
    if (rc == 0)
        rc = msq_col_text(st, 9, u->req_kms_key_id,
                          sizeof(u->req_kms_key_id));
    return rc == 0 ? read_sse(st, 10, &u->sse) : rc;
}

/* Append the blob id in column 0 of every row st returns to cand. */
static int
collect_ids(sqlite3_stmt *st, struct meta_garbage *cand)
{
    int rc;

    while ((rc = msq_step(st)) == 1) {
        rc = msq_garbage_add(cand,
                             (const char *)sqlite3_column_text(st, 0));
        if (rc != 0)
            break;
    }
    return rc;
}

/* ---- Objects ---------------------------------------------------------- */

/* Delete bucket/key if present; its blob ids join cand. */
static int
drop_object(struct msq_conn *c, const char *bucket, const char *key,
            struct meta_garbage *cand)
{
    sqlite3_stmt *st;
    int64_t id;
    bool found;
    int rc;

    rc = msq_int(c, SQL_OBJ_FIND, &id, &found, "tt", bucket, key);
    if (rc != 0 || !found)
        return rc;
    rc = msq_stmt(c, SQL_BODY_IDS, &st, "I", id);
    if (rc == 0)
        rc = collect_ids(st, cand);
    if (rc == 0)
        rc = msq_exec(c, SQL_OBJ_DELETE, "I", id);
    return rc;
}

/* Insert o with its bodies; with set_offsets, offsets and size follow
 * from the bodies' sizes in order. */
static int
insert_object(struct msq_conn *c, const struct meta_object *o,
              bool set_offsets)
{
    int64_t id, size = 0, off;
    size_t i;
    int rc;

    for (i = 0; set_offsets && i < o->nbodies; i++)
        size += o->bodies[i].size;
    rc = msq_exec(c, SQL_OBJ_INSERT, "ttIIttttttt" "itiIbtb", o->bucket,
                  o->key, set_offsets ? size : o->size, o->mtime_ms,
                  o->etag, o->headers, o->tagging, o->checksum_alg,
                  o->checksum, o->checksum_type, o->upload_id,
                  SSE_ARGS(&o->sse));
    id = msq_last_id(c);

    for (i = 0, off = 0; rc == 0 && i < o->nbodies; i++) {
        const struct meta_body *b = &o->bodies[i];

        rc = msq_exec(c, SQL_BODY_INSERT, "IItbiIIttI", id, (int64_t)i,
                      b->blob_id, (const void *)b->salt, sizeof(b->salt),
                      b->part_number, b->size,
                      set_offsets ? off : b->offset, b->etag, b->checksum,
                      b->mtime_ms);
        off += b->size;
    }
    return rc;
}

/* Hand the settled garbage to the caller after a commit, or drop it. */
static void
hand_over(int rc, struct meta_garbage *got, struct meta_garbage *out)
{
    if (rc == 0 && out != NULL)
        *out = *got;
    else
        meta_garbage_clear(got);
}

static int
sq_object_put(struct meta *m, const struct meta_object *o,
              struct meta_garbage *old)
{
    struct meta_garbage cand = { NULL, 0 }, got = { NULL, 0 };
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_bucket_check(c, o->bucket);
    if (rc == 0)
        rc = drop_object(c, o->bucket, o->key, &cand);
    if (rc == 0)
        rc = insert_object(c, o, false);
    if (rc == 0)
        rc = msq_garbage_settle(c, &cand, &got);
    meta_garbage_clear(&cand);
    rc = msq_end(DB(m), c, rc);
    hand_over(rc, &got, old);
    return rc;
}

/* Load the bodies of object row id into o. */
static int
load_bodies(struct msq_conn *c, int64_t id, struct meta_object *o)
{
    sqlite3_stmt *st;
    int rc;

    rc = msq_stmt(c, SQL_BODY_GET, &st, "I", id);
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        rc = msq_grow((void **)&o->bodies, o->nbodies, sizeof(*o->bodies));
        if (rc == 0)
            rc = read_body(st, &o->bodies[o->nbodies++]);
    }
    return rc;
}

static int
sq_object_get(struct meta *m, const char *bucket, const char *key,
              struct meta_object *out)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int64_t id = 0;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_bucket_check(c, bucket);
    if (rc == 0)
        rc = msq_stmt(c, SQL_OBJ_GET, &st, "tt", bucket, key);
    if (rc == 0 && (rc = msq_step(st)) == 0)
        rc = CERR_NO_SUCH_KEY;
    if (rc == 1) {
        id = msq_col_int(st, 0);
        rc = read_object(st, out);
    }
    if (rc == 0)
        rc = load_bodies(c, id, out);
    rc = msq_end(DB(m), c, rc);
    if (rc != 0)
        meta_object_clear(out);
    return rc;
}

static int
sq_object_delete(struct meta *m, const char *bucket, const char *key,
                 struct meta_garbage *old)
{
    struct meta_garbage cand = { NULL, 0 }, got = { NULL, 0 };
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_bucket_check(c, bucket);
    if (rc == 0)
        rc = drop_object(c, bucket, key, &cand);
    if (rc == 0)
        rc = msq_garbage_settle(c, &cand, &got);
    meta_garbage_clear(&cand);
    rc = msq_end(DB(m), c, rc);
    hand_over(rc, &got, old);
    return rc;
}

static int
sq_object_list(struct meta *m, const char *bucket, const char *prefix,
               const char *after, size_t limit, struct meta_object **out,
               size_t *n)
{
    char end[sizeof(((struct meta_object *)0)->key)];
    bool bounded = msq_prefix_end(prefix, end, sizeof(end));
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_bucket_check(c, bucket);
    if (rc == 0)
        rc = msq_stmt(c, bounded ? SQL_OBJ_LIST_PREFIX : SQL_OBJ_LIST, &st,
                      bounded ? "tttLt" : "tttL", bucket, after, prefix,
                      limit, end);
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        rc = msq_grow((void **)out, *n, sizeof(**out));
        if (rc == 0) {
            memset(&(*out)[*n], 0, sizeof(**out));
            rc = read_object(st, &(*out)[(*n)++]);
        }
    }
    rc = msq_end(DB(m), c, rc);
    if (rc != 0) {
        meta_object_list_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- Uploads ---------------------------------------------------------- */

/* Only the tagging column changes: the bodies and all else stay. */
static int
sq_object_set_tagging(struct meta *m, const char *bucket, const char *key,
                      const char *tagging)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_bucket_check(c, bucket);
    if (rc == 0)
        rc = msq_exec(c, SQL_OBJ_SET_TAGGING, "ttt", bucket, key,
                      tagging && tagging[0] ? tagging : NULL);
    if (rc == 0 && msq_changes(c) == 0)
        rc = CERR_NO_SUCH_KEY;
    return msq_end(DB(m), c, rc);
}

static int
sq_upload_create(struct meta *m, const struct meta_upload *u)
{
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = msq_bucket_check(c, u->bucket);
    if (rc == 0)
        rc = msq_exec(c, SQL_UPL_INSERT, "tttI" "tttttt" "itiIbtb",
                      u->upload_id, u->bucket, u->key, u->created_ms,
                      u->headers, u->tagging, u->checksum_alg,
                      u->checksum_type, u->req_sse, u->req_kms_key_id,
                      SSE_ARGS(&u->sse));
    return msq_end(DB(m), c, rc);
}

static int
sq_upload_get(struct meta *m, const char *bucket, const char *key,
              const char *upload_id, struct meta_upload *out)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_stmt(c, SQL_UPL_GET, &st, "ttt", upload_id, bucket, key);
    if (rc == 0 && (rc = msq_step(st)) == 0)
        rc = CERR_NO_SUCH_UPLOAD;
    if (rc == 1)
        rc = read_upload(st, out);
    rc = msq_end(DB(m), c, rc);
    if (rc != 0)
        meta_upload_clear(out);
    return rc;
}

static int
sq_upload_list(struct meta *m, const char *bucket, const char *prefix,
               const char *key_marker, const char *id_marker, size_t limit,
               struct meta_upload **out, size_t *n)
{
    char end[sizeof(((struct meta_upload *)0)->key)];
    bool bounded = msq_prefix_end(prefix, end, sizeof(end));
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = msq_bucket_check(c, bucket);
    if (rc == 0)
        rc = msq_stmt(c, bounded ? SQL_UPL_LIST_PREFIX : SQL_UPL_LIST, &st,
                      bounded ? "ttttLt" : "ttttL", bucket, prefix,
                      key_marker, id_marker, limit, end);
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        rc = msq_grow((void **)out, *n, sizeof(**out));
        if (rc == 0) {
            memset(&(*out)[*n], 0, sizeof(**out));
            rc = read_upload(st, &(*out)[(*n)++]);
        }
    }
    rc = msq_end(DB(m), c, rc);
    if (rc != 0) {
        meta_upload_list_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* 0 when the upload exists, else CERR_NO_SUCH_UPLOAD (or an error);
 * bucket and key (may be NULL) get where it lives. */
static int
upload_where(struct msq_conn *c, const char *upload_id, char bucket[64],
             char key[1025])
{
    sqlite3_stmt *st;
    int rc;

    rc = msq_stmt(c, SQL_UPL_WHERE, &st, "t", upload_id);
    if (rc == 0 && (rc = msq_step(st)) == 0)
        return CERR_NO_SUCH_UPLOAD;
    if (rc != 1)
        return rc;
    if (bucket == NULL)
        return 0;
    rc = msq_col_text(st, 0, bucket, 64);
    return rc == 0 ? msq_col_text(st, 1, key, 1025) : rc;
}

static int
sq_part_put(struct meta *m, const char *upload_id,
            const struct meta_body *p, struct meta_garbage *old)
{
    struct meta_garbage cand = { NULL, 0 }, got = { NULL, 0 };
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = upload_where(c, upload_id, NULL, NULL);
    if (rc == 0)
        rc = msq_stmt(c, SQL_PART_BLOB, &st, "ti", upload_id,
                      p->part_number);
    if (rc == 0)
        rc = collect_ids(st, &cand);
    if (rc == 0)
        rc = msq_exec(c, SQL_PART_PUT, "titbIttI", upload_id,
                      p->part_number, p->blob_id, (const void *)p->salt,
                      sizeof(p->salt), p->size, p->etag, p->checksum,
                      p->mtime_ms);
    if (rc == 0)
        rc = msq_garbage_settle(c, &cand, &got);
    meta_garbage_clear(&cand);
    rc = msq_end(DB(m), c, rc);
    hand_over(rc, &got, old);
    return rc;
}

static int
sq_part_list(struct meta *m, const char *upload_id, int after_part,
             size_t limit, struct meta_body **out, size_t *n)
{
    struct msq_conn *c;
    sqlite3_stmt *st;
    int rc;

    if ((rc = msq_begin(DB(m), false, &c)) != 0)
        return rc;
    rc = upload_where(c, upload_id, NULL, NULL);
    if (rc == 0)
        rc = msq_stmt(c, SQL_PART_LIST, &st, "tiL", upload_id, after_part,
                      limit);
    while (rc == 0 && (rc = msq_step(st)) == 1) {
        rc = msq_grow((void **)out, *n, sizeof(**out));
        if (rc == 0)
            rc = read_body(st, &(*out)[(*n)++]);
    }
    rc = msq_end(DB(m), c, rc);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* Check that every chosen body is still the upload's part of that number
 * with the same blob; CERR_INVALID_PART otherwise. */
static int
check_parts(struct msq_conn *c, const char *upload_id,
            const struct meta_object *o)
{
    char id[sizeof(o->bodies[0].blob_id)];
    sqlite3_stmt *st;
    size_t i;
    int rc = 0;

    for (i = 0; i < o->nbodies && rc == 0; i++) {
        rc = msq_stmt(c, SQL_PART_BLOB, &st, "ti", upload_id,
                      o->bodies[i].part_number);
        if (rc == 0 && (rc = msq_step(st)) == 0)
            rc = CERR_INVALID_PART;
        if (rc == 1)
            rc = msq_col_text(st, 0, id, sizeof(id));
        if (rc == 0 && strcmp(id, o->bodies[i].blob_id) != 0)
            rc = CERR_INVALID_PART;
    }
    return rc;
}

/* Drop the upload and its parts; their blob ids join cand. */
static int
drop_upload(struct msq_conn *c, const char *upload_id,
            struct meta_garbage *cand)
{
    sqlite3_stmt *st;
    int rc;

    rc = msq_stmt(c, SQL_PART_IDS, &st, "t", upload_id);
    if (rc == 0)
        rc = collect_ids(st, cand);
    if (rc == 0)
        rc = msq_exec(c, SQL_UPL_DELETE, "t", upload_id);
    return rc;
}

static int
sq_upload_complete(struct meta *m, const char *upload_id,
                   const struct meta_object *o, struct meta_garbage *garbage)
{
    struct meta_garbage cand = { NULL, 0 }, got = { NULL, 0 };
    char bucket[64], key[1025];
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = upload_where(c, upload_id, bucket, key);
    if (rc == 0 && (strcmp(bucket, o->bucket) != 0 ||
                    strcmp(key, o->key) != 0))
        rc = CERR_NO_SUCH_UPLOAD;
    if (rc == 0)
        rc = check_parts(c, upload_id, o);
    if (rc == 0)
        rc = drop_upload(c, upload_id, &cand);
    if (rc == 0)
        rc = drop_object(c, o->bucket, o->key, &cand);
    if (rc == 0)
        rc = insert_object(c, o, true);
    if (rc == 0)
        rc = msq_garbage_settle(c, &cand, &got);
    meta_garbage_clear(&cand);
    rc = msq_end(DB(m), c, rc);
    hand_over(rc, &got, garbage);
    return rc;
}

static int
sq_upload_abort(struct meta *m, const char *upload_id,
                struct meta_garbage *garbage)
{
    struct meta_garbage cand = { NULL, 0 }, got = { NULL, 0 };
    struct msq_conn *c;
    int rc;

    if ((rc = msq_begin(DB(m), true, &c)) != 0)
        return rc;
    rc = upload_where(c, upload_id, NULL, NULL);
    if (rc == 0)
        rc = drop_upload(c, upload_id, &cand);
    if (rc == 0)
        rc = msq_garbage_settle(c, &cand, &got);
    meta_garbage_clear(&cand);
    rc = msq_end(DB(m), c, rc);
    hand_over(rc, &got, garbage);
    return rc;
}

/* Fill the object, upload and part entries of the SQLite ops table. */
void
msq_obj_ops(struct meta_ops *ops)
{
    ops->object_put = sq_object_put;
    ops->object_get = sq_object_get;
    ops->object_delete = sq_object_delete;
    ops->object_list = sq_object_list;
    ops->object_set_tagging = sq_object_set_tagging;
    ops->upload_create = sq_upload_create;
    ops->upload_get = sq_upload_get;
    ops->upload_list = sq_upload_list;
    ops->part_put = sq_part_put;
    ops->part_list = sq_part_list;
    ops->upload_complete = sq_upload_complete;
    ops->upload_abort = sq_upload_abort;
}
