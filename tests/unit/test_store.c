/*
 * Unit tests of the store: the file blob back end and the SQLite metadata
 * back end, each case in a fresh temporary data directory.  Fault cases
 * arm the back ends' fail-nth hooks and then prove that nothing is torn:
 * the old state is intact and no file or row was left half-made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/meta.h"
#include "util/err.h"

struct fx {
    char dir[64];
    char dbpath[128];
    struct blob_store *bs;
    struct meta *m;
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static int
setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/coffer-store-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->dbpath, sizeof(fx->dbpath), "%s/meta.db", fx->dir);
    assert_int_equal(blob_store_open_fs(fx->dir, &fx->bs), 0);
    assert_int_equal(meta_open_sqlite(fx->dbpath, &fx->m), 0);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;

    meta_close(fx->m);
    blob_store_close(fx->bs);
    nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* Number of entries (not . or ..) in a directory under the fixture. */
static int
count_dir(const struct fx *fx, const char *sub)
{
    char path[256];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof(path), "%s/%s", fx->dir, sub);
    if ((d = opendir(path)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static int
count_blobs_cb(const char *id, int64_t mtime_ms, void *arg)
{
    (void)id;
    (void)mtime_ms;
    (*(int *)arg)++;
    return 0;
}

static int
count_blobs(struct fx *fx)
{
    int n = 0;

    assert_int_equal(blob_store_foreach(fx->bs, count_blobs_cb, &n), 0);
    return n;
}

/* Write a body of len bytes (byte i = i * 7) and commit it. */
static void
put_blob(struct fx *fx, size_t len, char id[BLOB_ID_LEN])
{
    struct blob_writer *w;
    uint8_t buf[1000];
    size_t done = 0, i, n;

    assert_int_equal(blob_writer_new(fx->bs, &w), 0);
    while (done < len) {
        n = len - done < sizeof(buf) ? len - done : sizeof(buf);
        for (i = 0; i < n; i++)
            buf[i] = (uint8_t)((done + i) * 7);
        assert_int_equal(blob_writer_write(w, buf, n), 0);
        done += n;
    }
    assert_int_equal(blob_writer_size(w), len);
    assert_int_equal(blob_writer_commit(w, id), 0);
}

/* ---- Blobs ------------------------------------------------------------ */

static void
test_blob_commit_read(void **state)
{
    struct fx *fx = *state;
    char id[BLOB_ID_LEN], path[256];
    struct blob_reader *r;
    uint8_t buf[300];
    size_t got, i;
    struct stat st;

    put_blob(fx, 2500, id);
    assert_int_equal(strlen(id), 32);
    assert_int_equal(strspn(id, "0123456789abcdef"), 32);
    snprintf(path, sizeof(path), "%s/blobs/%.2s/%.2s/%s", fx->dir, id,
             id + 2, id);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 2500);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(count_dir(fx, "tmp"), 0);

    assert_int_equal(blob_reader_open(fx->bs, id, &r), 0);
    assert_int_equal(blob_reader_size(r), 2500);
    assert_int_equal(blob_reader_pread(r, buf, sizeof(buf), 1000, &got), 0);
    assert_int_equal(got, sizeof(buf));
    for (i = 0; i < got; i++)
        assert_int_equal(buf[i], (uint8_t)((1000 + i) * 7));

    /* Short at the end, empty past it. */
    assert_int_equal(blob_reader_pread(r, buf, sizeof(buf), 2400, &got), 0);
    assert_int_equal(got, 100);
    assert_int_equal(blob_reader_pread(r, buf, sizeof(buf), 2500, &got), 0);
    assert_int_equal(got, 0);
    blob_reader_close(r);

    assert_int_equal(blob_remove(fx->bs, id), 0);
    assert_int_equal(blob_remove(fx->bs, id), 0);
    assert_int_equal(blob_reader_open(fx->bs, id, &r), CERR_CORRUPT);
}

static void
test_blob_empty_body(void **state)
{
    struct fx *fx = *state;
    char id[BLOB_ID_LEN];
    struct blob_reader *r;
    uint8_t b;
    size_t got;

    put_blob(fx, 0, id);
    assert_int_equal(blob_reader_open(fx->bs, id, &r), 0);
    assert_int_equal(blob_reader_size(r), 0);
    assert_int_equal(blob_reader_pread(r, &b, 1, 0, &got), 0);
    assert_int_equal(got, 0);
    blob_reader_close(r);
}

static void
test_blob_abort(void **state)
{
    struct fx *fx = *state;
    struct blob_writer *w;

    assert_int_equal(blob_writer_new(fx->bs, &w), 0);
    assert_int_equal(blob_writer_write(w, "abc", 3), 0);
    assert_int_equal(count_dir(fx, "tmp"), 1);
    blob_writer_abort(w);
    assert_int_equal(count_dir(fx, "tmp"), 0);
    assert_int_equal(count_blobs(fx), 0);
}

static void
test_blob_bad_ids(void **state)
{
    struct fx *fx = *state;
    struct blob_reader *r;

    assert_int_equal(blob_reader_open(fx->bs,
                                      "0123456789abcdef0123456789abcdef",
                                      &r), CERR_CORRUPT);
    assert_int_equal(blob_reader_open(fx->bs, "../../etc/passwd", &r),
                     CERR_CORRUPT);
    assert_int_equal(blob_reader_open(fx->bs,
                                      "0123456789ABCDEF0123456789abcdef",
                                      &r), CERR_CORRUPT);
    assert_int_equal(blob_remove(fx->bs, "0123456789abcdef0123456789abcdef"),
                     0);
    assert_int_equal(blob_remove(fx->bs, "x"), CERR_INVALID_ARGUMENT);
}

static void
test_blob_tmp_sweep_on_open(void **state)
{
    struct fx *fx = *state;
    struct blob_store *again;
    struct blob_writer *w;
    char path[256], id[BLOB_ID_LEN];
    FILE *f;

    /* An unfinished writer and a stray file are both swept. */
    put_blob(fx, 10, id);
    assert_int_equal(blob_writer_new(fx->bs, &w), 0);
    assert_int_equal(blob_writer_write(w, "partial", 7), 0);
    snprintf(path, sizeof(path), "%s/tmp/stray", fx->dir);
    assert_non_null(f = fopen(path, "w"));
    fclose(f);
    assert_int_equal(count_dir(fx, "tmp"), 2);

    /* A second open stands for the next start after a crash. */
    assert_int_equal(blob_store_open_fs(fx->dir, &again), 0);
    assert_int_equal(count_dir(fx, "tmp"), 0);
    assert_int_equal(count_blobs(fx), 1);

    /* The old writer's file is gone; aborting it is still safe. */
    blob_writer_abort(w);
    blob_store_close(again);
}

static void
test_blob_tmp_sweep_leaves_dirs(void **state)
{
    struct fx *fx = *state;
    struct blob_store *again;
    char path[256];

    /* A directory in tmp/ is not a body: it neither blocks the open
     * nor gets deleted. */
    snprintf(path, sizeof(path), "%s/tmp/sub", fx->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(blob_store_open_fs(fx->dir, &again), 0);
    assert_int_equal(count_dir(fx, "tmp"), 1);
    blob_store_close(again);
}

static void
test_blob_fail_write(void **state)
{
    struct fx *fx = *state;
    struct blob_writer *w;

    blob_store_fail_nth(fx->bs, "write", 2);
    assert_int_equal(blob_writer_new(fx->bs, &w), 0);
    assert_int_equal(blob_writer_write(w, "one", 3), 0);
    assert_int_equal(blob_writer_write(w, "two", 3), CERR_IO);
    assert_int_equal(blob_writer_size(w), 3);
    blob_writer_abort(w);
    assert_int_equal(count_dir(fx, "tmp"), 0);
    assert_int_equal(count_blobs(fx), 0);
}

static void
test_blob_commit_after_failed_write(void **state)
{
    struct fx *fx = *state;
    struct blob_writer *w;
    char id[BLOB_ID_LEN];

    /* A body with a hole must never be committed. */
    blob_store_fail_nth(fx->bs, "write", 1);
    assert_int_equal(blob_writer_new(fx->bs, &w), 0);
    assert_int_equal(blob_writer_write(w, "lost", 4), CERR_IO);
    assert_int_equal(blob_writer_write(w, "kept", 4), 0);
    assert_int_equal(blob_writer_commit(w, id), CERR_IO);
    assert_int_equal(count_dir(fx, "tmp"), 0);
    assert_int_equal(count_blobs(fx), 0);
}

/* Arm op's nth failure; commit must fail and leave no file anywhere. */
static void
commit_fails(struct fx *fx, const char *op, int n)
{
    struct blob_writer *w;
    char id[BLOB_ID_LEN] = "x";

    blob_store_fail_nth(fx->bs, op, n);
    assert_int_equal(blob_writer_new(fx->bs, &w), 0);
    assert_int_equal(blob_writer_write(w, "body", 4), 0);
    assert_int_equal(blob_writer_commit(w, id), CERR_IO);
    assert_string_equal(id, "");
    assert_int_equal(count_dir(fx, "tmp"), 0);
    assert_int_equal(count_blobs(fx), 0);
}

static void
test_blob_fail_fsync_file(void **state)
{
    commit_fails(*state, "fsync", 1);
}

static void
test_blob_fail_fsync_dir(void **state)
{
    struct fx *fx = *state;
    char id[BLOB_ID_LEN];

    /* Make the fan-out directories exist first, so the only fsyncs of a
     * second commit into them are the file's and the directory's. */
    put_blob(fx, 1, id);
    blob_store_fail_nth(fx->bs, "fsync", 2);
    {
        struct blob_writer *w;
        char id2[BLOB_ID_LEN];
        int rc;

        assert_int_equal(blob_writer_new(fx->bs, &w), 0);
        rc = blob_writer_commit(w, id2);
        /* The new id may need new directories (their fsync fails
         * instead); either way nothing but the first blob remains. */
        assert_int_equal(rc, CERR_IO);
    }
    assert_int_equal(count_dir(fx, "tmp"), 0);
    assert_int_equal(count_blobs(fx), 1);
}

static void
test_blob_fail_rename(void **state)
{
    commit_fails(*state, "rename", 1);
}

static void
test_blob_fail_off(void **state)
{
    struct fx *fx = *state;
    char id[BLOB_ID_LEN];

    blob_store_fail_nth(fx->bs, "write", 5);
    blob_store_fail_nth(fx->bs, "write", 0);
    put_blob(fx, 9000, id);
    assert_int_equal(count_blobs(fx), 1);
}

static int
stop_at_two(const char *id, int64_t mtime_ms, void *arg)
{
    (void)id;
    (void)mtime_ms;
    return ++*(int *)arg == 2 ? 42 : 0;
}

static void
test_blob_foreach(void **state)
{
    struct fx *fx = *state;
    char id[BLOB_ID_LEN];
    int i, n = 0;

    for (i = 0; i < 5; i++)
        put_blob(fx, (size_t)i, id);
    assert_int_equal(count_blobs(fx), 5);
    assert_int_equal(blob_store_foreach(fx->bs, stop_at_two, &n), 42);
    assert_int_equal(n, 2);
}

/* ---- Settings and secrets --------------------------------------------- */

static void
test_settings(void **state)
{
    struct fx *fx = *state;
    char v[16];

    assert_int_equal(meta_setting_get(fx->m, "account", v, sizeof(v)),
                     CERR_NO_SUCH_KEY);
    assert_int_equal(meta_setting_put(fx->m, "account", "123456789012"), 0);
    assert_int_equal(meta_setting_get(fx->m, "account", v, sizeof(v)), 0);
    assert_string_equal(v, "123456789012");
    assert_int_equal(meta_setting_put(fx->m, "account", "2"), 0);
    assert_int_equal(meta_setting_get(fx->m, "account", v, sizeof(v)), 0);
    assert_string_equal(v, "2");
    assert_int_equal(meta_setting_put(fx->m, "long", "0123456789abcdef"),
                     0);
    assert_int_equal(meta_setting_get(fx->m, "long", v, sizeof(v)),
                     CERR_INVALID_ARGUMENT);
}

static void
test_secrets_first_writer_wins(void **state)
{
    struct fx *fx = *state;
    const uint8_t a[] = { 1, 2, 3, 0, 5 }, b[] = { 9, 9 };
    uint8_t out[8];
    size_t len;

    assert_int_equal(meta_secret_get(fx->m, "sse-s3", out, sizeof(out),
                                     &len), CERR_NO_SUCH_KEY);
    assert_int_equal(meta_secret_put_new(fx->m, "sse-s3", a, sizeof(a)), 0);
    assert_int_equal(meta_secret_put_new(fx->m, "sse-s3", b, sizeof(b)),
                     CERR_KMS_ALREADY_EXISTS);
    assert_int_equal(meta_secret_get(fx->m, "sse-s3", out, sizeof(out),
                                     &len), 0);
    assert_int_equal(len, sizeof(a));
    assert_memory_equal(out, a, sizeof(a));
    assert_int_equal(meta_secret_get(fx->m, "sse-s3", out, 2, &len),
                     CERR_INVALID_ARGUMENT);
}

/* ---- Buckets ---------------------------------------------------------- */

static void
make_bucket(struct fx *fx, const char *name)
{
    struct meta_bucket b;

    memset(&b, 0, sizeof(b));
    snprintf(b.name, sizeof(b.name), "%s", name);
    b.created_ms = 1000;
    assert_int_equal(meta_bucket_create(fx->m, &b), 0);
}

static void
test_bucket_crud(void **state)
{
    struct fx *fx = *state;
    struct meta_bucket b, *v;
    size_t n;

    memset(&b, 0, sizeof(b));
    strcpy(b.name, "zeta");
    b.created_ms = 1234;
    strcpy(b.location, "eu-west-1");
    b.policy = "{\"Version\":\"2012-10-17\"}";
    assert_int_equal(meta_bucket_create(fx->m, &b), 0);
    assert_int_equal(meta_bucket_create(fx->m, &b), CERR_BUCKET_OWNED);
    make_bucket(fx, "alpha");
    make_bucket(fx, "mid");

    memset(&b, 0, sizeof(b));
    assert_int_equal(meta_bucket_get(fx->m, "zeta", &b), 0);
    assert_string_equal(b.name, "zeta");
    assert_int_equal(b.created_ms, 1234);
    assert_string_equal(b.location, "eu-west-1");
    assert_false(b.has_encryption);
    assert_string_equal(b.policy, "{\"Version\":\"2012-10-17\"}");
    assert_null(b.tagging);
    meta_bucket_clear(&b);
    assert_int_equal(meta_bucket_get(fx->m, "nope", &b),
                     CERR_NO_SUCH_BUCKET);

    assert_int_equal(meta_bucket_list(fx->m, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].name, "alpha");
    assert_string_equal(v[1].name, "mid");
    assert_string_equal(v[2].name, "zeta");
    assert_null(v[2].policy);
    meta_bucket_list_free(v, n);

    assert_int_equal(meta_bucket_delete(fx->m, "mid"), 0);
    assert_int_equal(meta_bucket_delete(fx->m, "mid"), CERR_NO_SUCH_BUCKET);
    assert_int_equal(meta_bucket_list(fx->m, &v, &n), 0);
    assert_int_equal(n, 2);
    meta_bucket_list_free(v, n);
}

static void
test_bucket_settings(void **state)
{
    struct fx *fx = *state;
    struct meta_bucket b;

    make_bucket(fx, "b1");
    assert_int_equal(meta_bucket_set_encryption(fx->m, "b1", "aws:kms",
                                                "alias/my key", true), 0);
    assert_int_equal(meta_bucket_get(fx->m, "b1", &b), 0);
    assert_true(b.has_encryption);
    assert_string_equal(b.sse_algorithm, "aws:kms");
    assert_string_equal(b.kms_key_id, "alias/my key");
    assert_true(b.bucket_key_enabled);
    meta_bucket_clear(&b);

    assert_int_equal(meta_bucket_set_encryption(fx->m, "b1", NULL, NULL,
                                                true), 0);
    assert_int_equal(meta_bucket_get(fx->m, "b1", &b), 0);
    assert_false(b.has_encryption);
    assert_string_equal(b.sse_algorithm, "");
    assert_false(b.bucket_key_enabled);
    meta_bucket_clear(&b);

    assert_int_equal(meta_bucket_set_policy(fx->m, "b1", "{}"), 0);
    assert_int_equal(meta_bucket_set_config(fx->m, "b1", "tagging",
                                            "<Tagging/>"), 0);
    assert_int_equal(meta_bucket_set_config(fx->m, "b1",
                                            "public_access_block",
                                            "<PAB/>"), 0);
    assert_int_equal(meta_bucket_set_config(fx->m, "b1", "cors", "x"),
                     CERR_INVALID_ARGUMENT);
    assert_int_equal(meta_bucket_get(fx->m, "b1", &b), 0);
    assert_string_equal(b.policy, "{}");
    assert_string_equal(b.tagging, "<Tagging/>");
    assert_string_equal(b.public_access_block, "<PAB/>");
    meta_bucket_clear(&b);

    assert_int_equal(meta_bucket_set_policy(fx->m, "b1", NULL), 0);
    assert_int_equal(meta_bucket_get(fx->m, "b1", &b), 0);
    assert_null(b.policy);
    assert_string_equal(b.tagging, "<Tagging/>");
    meta_bucket_clear(&b);

    assert_int_equal(meta_bucket_set_policy(fx->m, "nope", "{}"),
                     CERR_NO_SUCH_BUCKET);
    assert_int_equal(meta_bucket_set_encryption(fx->m, "nope", "AES256",
                                                NULL, false),
                     CERR_NO_SUCH_BUCKET);
    assert_int_equal(meta_bucket_set_config(fx->m, "nope", "tagging", NULL),
                     CERR_NO_SUCH_BUCKET);
}

/* ---- Objects ---------------------------------------------------------- */

static atomic_int id_counter;

/* A fresh fake blob id (tests of metadata need no files). */
static void
fake_id(char id[33])
{
    unsigned n = (unsigned)atomic_fetch_add(&id_counter, 1) + 1;

    snprintf(id, 33, "%032x", n);
}

/* An object with nb single-part bodies of 10 bytes each. */
static void
make_object(struct meta_object *o, const char *bucket, const char *key,
            size_t nb)
{
    size_t i;

    memset(o, 0, sizeof(*o));
    snprintf(o->bucket, sizeof(o->bucket), "%s", bucket);
    snprintf(o->key, sizeof(o->key), "%s", key);
    o->size = (int64_t)nb * 10;
    o->mtime_ms = 5000;
    strcpy(o->etag, "d41d8cd98f00b204e9800998ecf8427e");
    o->nbodies = nb;
    o->bodies = calloc(nb ? nb : 1, sizeof(*o->bodies));
    assert_non_null(o->bodies);
    for (i = 0; i < nb; i++) {
        fake_id(o->bodies[i].blob_id);
        memset(o->bodies[i].salt, (int)i + 1, sizeof(o->bodies[i].salt));
        o->bodies[i].size = 10;
        o->bodies[i].offset = (int64_t)i * 10;
    }
}

static void
put_object(struct fx *fx, const char *bucket, const char *key)
{
    struct meta_object o;

    make_object(&o, bucket, key, 1);
    assert_int_equal(meta_object_put(fx->m, &o, NULL), 0);
    free(o.bodies);
}

static bool
garbage_has(const struct meta_garbage *g, const char *id)
{
    size_t i;

    for (i = 0; i < g->n; i++)
        if (strcmp(g->ids[i], id) == 0)
            return true;
    return false;
}

static void
test_object_roundtrip(void **state)
{
    struct fx *fx = *state;
    struct meta_object o, got;
    struct meta_garbage g;

    make_bucket(fx, "b");
    make_object(&o, "b", "dir/file.txt", 2);
    o.headers = "{\"content-type\":\"text/plain\",\"x-amz-meta-a\":\"1\"}";
    o.tagging = "k=v&k2=v2";
    strcpy(o.checksum_alg, "CRC32");
    strcpy(o.checksum, "AAAAAA==");
    strcpy(o.checksum_type, "FULL_OBJECT");
    o.sse.mode = 2;
    strcpy(o.sse.kms_key_arn, "arn:aws:kms:us-east-1:1:key/abc");
    o.sse.bucket_key = true;
    o.sse.bucket_key_id = 77;
    o.sse.wrapped_len = 300;
    memset(o.sse.wrapped, 0xab, 300);
    strcpy(o.sse.context, "{\"a\":\"b\"}");
    o.sse.has_key_check = true;
    memset(o.sse.key_check, 0x5a, sizeof(o.sse.key_check));
    strcpy(o.bodies[1].etag, "0123");
    strcpy(o.bodies[1].checksum, "xyz=");
    o.bodies[1].part_number = 2;
    o.bodies[1].mtime_ms = 99;
    assert_int_equal(meta_object_put(fx->m, &o, &g), 0);
    assert_int_equal(g.n, 0);

    assert_int_equal(meta_object_get(fx->m, "b", "dir/file.txt", &got), 0);
    assert_string_equal(got.bucket, "b");
    assert_string_equal(got.key, "dir/file.txt");
    assert_int_equal(got.size, 20);
    assert_int_equal(got.mtime_ms, 5000);
    assert_string_equal(got.etag, o.etag);
    assert_string_equal(got.headers, o.headers);
    assert_string_equal(got.tagging, o.tagging);
    assert_string_equal(got.checksum_alg, "CRC32");
    assert_string_equal(got.checksum, "AAAAAA==");
    assert_string_equal(got.checksum_type, "FULL_OBJECT");
    assert_string_equal(got.upload_id, "");
    assert_int_equal(got.sse.mode, 2);
    assert_string_equal(got.sse.kms_key_arn, o.sse.kms_key_arn);
    assert_true(got.sse.bucket_key);
    assert_int_equal(got.sse.bucket_key_id, 77);
    assert_int_equal(got.sse.wrapped_len, 300);
    assert_memory_equal(got.sse.wrapped, o.sse.wrapped, 300);
    assert_string_equal(got.sse.context, "{\"a\":\"b\"}");
    assert_true(got.sse.has_key_check);
    assert_memory_equal(got.sse.key_check, o.sse.key_check, 32);
    assert_int_equal(got.nbodies, 2);
    assert_string_equal(got.bodies[0].blob_id, o.bodies[0].blob_id);
    assert_memory_equal(got.bodies[0].salt, o.bodies[0].salt, 32);
    assert_int_equal(got.bodies[1].offset, 10);
    assert_int_equal(got.bodies[1].part_number, 2);
    assert_string_equal(got.bodies[1].etag, "0123");
    assert_string_equal(got.bodies[1].checksum, "xyz=");
    assert_int_equal(got.bodies[1].mtime_ms, 99);
    meta_object_clear(&got);
    free(o.bodies);

    assert_int_equal(meta_object_get(fx->m, "b", "other", &got),
                     CERR_NO_SUCH_KEY);
    assert_int_equal(meta_object_get(fx->m, "nb", "x", &got),
                     CERR_NO_SUCH_BUCKET);
    meta_object_clear(&got);
}

static void
test_object_no_bucket(void **state)
{
    struct fx *fx = *state;
    struct meta_object o;
    struct meta_garbage g;

    make_object(&o, "missing", "k", 1);
    assert_int_equal(meta_object_put(fx->m, &o, &g), CERR_NO_SUCH_BUCKET);
    assert_int_equal(g.n, 0);
    assert_int_equal(meta_object_delete(fx->m, "missing", "k", &g),
                     CERR_NO_SUCH_BUCKET);
    free(o.bodies);
}

static void
test_object_set_tagging(void **state)
{
    struct fx *fx = *state;
    struct meta_object o, got;

    make_bucket(fx, "b");
    make_object(&o, "b", "k", 2);
    o.tagging = "a=1";
    assert_int_equal(meta_object_put(fx->m, &o, NULL), 0);

    assert_int_equal(meta_object_set_tagging(fx->m, "b", "k", "x=y&z="), 0);
    assert_int_equal(meta_object_get(fx->m, "b", "k", &got), 0);
    assert_string_equal(got.tagging, "x=y&z=");
    assert_int_equal(got.nbodies, 2);
    assert_string_equal(got.bodies[1].blob_id, o.bodies[1].blob_id);
    assert_string_equal(got.etag, o.etag);
    meta_object_clear(&got);

    assert_int_equal(meta_object_set_tagging(fx->m, "b", "k", ""), 0);
    assert_int_equal(meta_object_get(fx->m, "b", "k", &got), 0);
    assert_null(got.tagging);
    meta_object_clear(&got);

    assert_int_equal(meta_object_set_tagging(fx->m, "b", "nope", "a=b"),
                     CERR_NO_SUCH_KEY);
    assert_int_equal(meta_object_set_tagging(fx->m, "nb", "k", "a=b"),
                     CERR_NO_SUCH_BUCKET);
    free(o.bodies);
}

static void
test_object_replace_sends_old_to_garbage(void **state)
{
    struct fx *fx = *state;
    struct meta_object a, b, got;
    struct meta_garbage g, pend;

    make_bucket(fx, "b");
    make_object(&a, "b", "k", 3);
    assert_int_equal(meta_object_put(fx->m, &a, NULL), 0);
    make_object(&b, "b", "k", 1);
    b.size = 77;
    assert_int_equal(meta_object_put(fx->m, &b, &g), 0);
    assert_int_equal(g.n, 3);
    assert_true(garbage_has(&g, a.bodies[0].blob_id));
    assert_true(garbage_has(&g, a.bodies[2].blob_id));

    assert_int_equal(meta_object_get(fx->m, "b", "k", &got), 0);
    assert_int_equal(got.size, 77);
    assert_int_equal(got.nbodies, 1);
    assert_string_equal(got.bodies[0].blob_id, b.bodies[0].blob_id);
    meta_object_clear(&got);

    /* Pending until forgotten. */
    assert_int_equal(meta_garbage_pending(fx->m, &pend), 0);
    assert_int_equal(pend.n, 3);
    meta_garbage_clear(&pend);
    assert_int_equal(meta_garbage_forget(fx->m, &g), 0);
    assert_int_equal(meta_garbage_pending(fx->m, &pend), 0);
    assert_int_equal(pend.n, 0);
    meta_garbage_clear(&pend);
    meta_garbage_clear(&g);
    free(a.bodies);
    free(b.bodies);
}

static void
test_object_shared_blob_not_garbage(void **state)
{
    struct fx *fx = *state;
    struct meta_object a, b;
    struct meta_garbage g;

    /* A self-copy that keeps the body: the blob stays referenced. */
    make_bucket(fx, "b");
    make_object(&a, "b", "k", 1);
    assert_int_equal(meta_object_put(fx->m, &a, NULL), 0);
    make_object(&b, "b", "k", 1);
    strcpy(b.bodies[0].blob_id, a.bodies[0].blob_id);
    assert_int_equal(meta_object_put(fx->m, &b, &g), 0);
    assert_int_equal(g.n, 0);

    /* Two objects share one blob: deleting one releases nothing. */
    b.key[0] = 'j';
    assert_int_equal(meta_object_put(fx->m, &b, &g), 0);
    assert_int_equal(meta_object_delete(fx->m, "b", "k", &g), 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(meta_object_delete(fx->m, "b", "j", &g), 0);
    assert_int_equal(g.n, 1);
    meta_garbage_clear(&g);
    free(a.bodies);
    free(b.bodies);
}

static void
test_object_delete(void **state)
{
    struct fx *fx = *state;
    struct meta_object o, got;
    struct meta_garbage g;

    make_bucket(fx, "b");
    make_object(&o, "b", "k", 2);
    assert_int_equal(meta_object_put(fx->m, &o, NULL), 0);
    assert_int_equal(meta_object_delete(fx->m, "b", "k", &g), 0);
    assert_int_equal(g.n, 2);
    meta_garbage_clear(&g);
    assert_int_equal(meta_object_get(fx->m, "b", "k", &got),
                     CERR_NO_SUCH_KEY);
    assert_int_equal(meta_object_delete(fx->m, "b", "k", &g), 0);
    assert_int_equal(g.n, 0);
    free(o.bodies);
}

/* Keys as listed, joined by '|'. */
static void
list_keys(struct fx *fx, const char *prefix, const char *after,
          size_t limit, char *out, size_t cap)
{
    struct meta_object *v;
    size_t n, i;

    out[0] = '\0';
    assert_int_equal(meta_object_list(fx->m, "b", prefix, after, limit, &v,
                                      &n), 0);
    for (i = 0; i < n; i++) {
        assert_null(v[i].bodies);
        strncat(out, v[i].key, cap - strlen(out) - 1);
        if (i + 1 < n)
            strncat(out, "|", cap - strlen(out) - 1);
    }
    meta_object_list_free(v, n);
}

static void
test_object_list_order_and_paging(void **state)
{
    static const char *const keys[] = {
        "b", "a+b", "a b", "a/c", "a/b/c", "a", "\xc3\xa9t\xc3\xa9",
        "z\xff", "z\xff\xff" "a", "Z", "a/", "\xe2\x82\xac",
    };
    struct fx *fx = *state;
    char out[512];
    size_t i;

    make_bucket(fx, "b");
    make_bucket(fx, "other");
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        put_object(fx, "b", keys[i]);
    put_object(fx, "other", "a/zzz");

    /* Byte order: uppercase, space, '+', '/', then UTF-8 lead bytes. */
    list_keys(fx, "", "", SIZE_MAX, out, sizeof(out));
    assert_string_equal(out, "Z|a|a b|a+b|a/|a/b/c|a/c|b|z\xff|"
                        "z\xff\xff" "a|\xc3\xa9t\xc3\xa9|\xe2\x82\xac");

    list_keys(fx, "a", "", SIZE_MAX, out, sizeof(out));
    assert_string_equal(out, "a|a b|a+b|a/|a/b/c|a/c");
    list_keys(fx, "a/", "", 2, out, sizeof(out));
    assert_string_equal(out, "a/|a/b/c");
    list_keys(fx, "a/", "a/b/c", 2, out, sizeof(out));
    assert_string_equal(out, "a/c");
    list_keys(fx, "a/", "a/c", 2, out, sizeof(out));
    assert_string_equal(out, "");
    list_keys(fx, "", "a/c", 3, out, sizeof(out));
    assert_string_equal(out, "b|z\xff|z\xff\xff" "a");
    list_keys(fx, "a ", "", SIZE_MAX, out, sizeof(out));
    assert_string_equal(out, "a b");
    list_keys(fx, "a+", "", SIZE_MAX, out, sizeof(out));
    assert_string_equal(out, "a+b");
    list_keys(fx, "\xc3", "", SIZE_MAX, out, sizeof(out));
    assert_string_equal(out, "\xc3\xa9t\xc3\xa9");
    /* A prefix ending in 0xff has no simple upper bound. */
    list_keys(fx, "z\xff", "", SIZE_MAX, out, sizeof(out));
    assert_string_equal(out, "z\xff|z\xff\xff" "a");
    list_keys(fx, "z\xff\xff", "", SIZE_MAX, out, sizeof(out));
    assert_string_equal(out, "z\xff\xff" "a");
    list_keys(fx, "nothing", "", SIZE_MAX, out, sizeof(out));
    assert_string_equal(out, "");
    list_keys(fx, "", "", 0, out, sizeof(out));
    assert_string_equal(out, "");

    {
        struct meta_object *v;
        size_t n;

        assert_int_equal(meta_object_list(fx->m, "none", "", "", 10, &v,
                                          &n), CERR_NO_SUCH_BUCKET);
        assert_int_equal(meta_object_list(fx->m, "none", "", "", 0, &v,
                                          &n), CERR_NO_SUCH_BUCKET);
        assert_null(v);
        assert_int_equal(n, 0);
    }
}

/* ---- Multipart uploads ------------------------------------------------ */

static void
make_upload(struct fx *fx, const char *key, const char *id)
{
    struct meta_upload u;

    memset(&u, 0, sizeof(u));
    strcpy(u.bucket, "b");
    snprintf(u.key, sizeof(u.key), "%s", key);
    snprintf(u.upload_id, sizeof(u.upload_id), "%s", id);
    u.created_ms = 10;
    assert_int_equal(meta_upload_create(fx->m, &u), 0);
}

/* Put part n of upload id with a fresh blob id, returned in blob. */
static void
put_part(struct fx *fx, const char *id, int n, int64_t size, char blob[33],
         struct meta_garbage *g)
{
    struct meta_body p;

    memset(&p, 0, sizeof(p));
    p.part_number = n;
    p.size = size;
    fake_id(p.blob_id);
    snprintf(p.etag, sizeof(p.etag), "etag%d", n);
    memset(p.salt, n, sizeof(p.salt));
    assert_int_equal(meta_part_put(fx->m, id, &p, g), 0);
    if (blob != NULL)
        strcpy(blob, p.blob_id);
}

static void
test_upload_create_get(void **state)
{
    struct fx *fx = *state;
    struct meta_upload u, got;

    make_bucket(fx, "b");
    memset(&u, 0, sizeof(u));
    strcpy(u.bucket, "b");
    strcpy(u.key, "big file");
    strcpy(u.upload_id, "up1");
    u.created_ms = 42;
    u.headers = "{\"content-type\":\"a/b\"}";
    strcpy(u.checksum_alg, "SHA256");
    strcpy(u.checksum_type, "COMPOSITE");
    strcpy(u.req_sse, "aws:kms");
    strcpy(u.req_kms_key_id, "alias/x");
    u.sse.mode = 3;
    u.sse.wrapped_len = 5;
    memcpy(u.sse.wrapped, "\x00\x01\x02\x03\x04", 5);
    assert_int_equal(meta_upload_create(fx->m, &u), 0);

    assert_int_equal(meta_upload_get(fx->m, "b", "big file", "up1", &got),
                     0);
    assert_string_equal(got.upload_id, "up1");
    assert_string_equal(got.key, "big file");
    assert_int_equal(got.created_ms, 42);
    assert_string_equal(got.headers, u.headers);
    assert_null(got.tagging);
    assert_string_equal(got.checksum_alg, "SHA256");
    assert_string_equal(got.checksum_type, "COMPOSITE");
    assert_string_equal(got.req_sse, "aws:kms");
    assert_string_equal(got.req_kms_key_id, "alias/x");
    assert_int_equal(got.sse.mode, 3);
    assert_int_equal(got.sse.wrapped_len, 5);
    assert_memory_equal(got.sse.wrapped, u.sse.wrapped, 5);
    assert_false(got.sse.has_key_check);
    meta_upload_clear(&got);

    assert_int_equal(meta_upload_get(fx->m, "b", "other", "up1", &got),
                     CERR_NO_SUCH_UPLOAD);
    assert_int_equal(meta_upload_get(fx->m, "b", "big file", "up2", &got),
                     CERR_NO_SUCH_UPLOAD);
    strcpy(u.bucket, "none");
    strcpy(u.upload_id, "up9");
    assert_int_equal(meta_upload_create(fx->m, &u), CERR_NO_SUCH_BUCKET);
}

/* Uploads as listed, "key:id" joined by '|'. */
static void
list_uploads(struct fx *fx, const char *prefix, const char *km,
             const char *im, size_t limit, char *out, size_t cap)
{
    struct meta_upload *v;
    size_t n, i;

    out[0] = '\0';
    assert_int_equal(meta_upload_list(fx->m, "b", prefix, km, im, limit, &v,
                                      &n), 0);
    for (i = 0; i < n; i++) {
        snprintf(out + strlen(out), cap - strlen(out), "%s%s:%s",
                 i ? "|" : "", v[i].key, v[i].upload_id);
    }
    meta_upload_list_free(v, n);
}

static void
test_upload_list_markers(void **state)
{
    struct fx *fx = *state;
    char out[256];

    make_bucket(fx, "b");
    make_upload(fx, "k2", "u3");
    make_upload(fx, "k1", "u2");
    make_upload(fx, "k1", "u1");
    make_upload(fx, "j", "u4");

    list_uploads(fx, "", "", "", SIZE_MAX, out, sizeof(out));
    assert_string_equal(out, "j:u4|k1:u1|k1:u2|k2:u3");
    list_uploads(fx, "k", "", "", SIZE_MAX, out, sizeof(out));
    assert_string_equal(out, "k1:u1|k1:u2|k2:u3");
    list_uploads(fx, "", "k1", "", SIZE_MAX, out, sizeof(out));
    assert_string_equal(out, "k2:u3");
    list_uploads(fx, "", "k1", "u1", SIZE_MAX, out, sizeof(out));
    assert_string_equal(out, "k1:u2|k2:u3");
    list_uploads(fx, "", "", "", 2, out, sizeof(out));
    assert_string_equal(out, "j:u4|k1:u1");
}

static void
test_part_put_replace_and_list(void **state)
{
    struct fx *fx = *state;
    char first[33], second[33];
    struct meta_garbage g;
    struct meta_body *v;
    size_t n;

    make_bucket(fx, "b");
    make_upload(fx, "k", "up");
    put_part(fx, "up", 3, 5, NULL, NULL);
    put_part(fx, "up", 1, 5, first, &g);
    assert_int_equal(g.n, 0);
    put_part(fx, "up", 2, 5, NULL, NULL);

    /* Uploading part 1 again releases the first body. */
    put_part(fx, "up", 1, 7, second, &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.ids[0], first);
    meta_garbage_clear(&g);

    assert_int_equal(meta_part_list(fx->m, "up", 0, SIZE_MAX, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(v[0].part_number, 1);
    assert_string_equal(v[0].blob_id, second);
    assert_int_equal(v[0].size, 7);
    assert_string_equal(v[0].etag, "etag1");
    assert_int_equal(v[2].part_number, 3);
    free(v);
    assert_int_equal(meta_part_list(fx->m, "up", 1, 1, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].part_number, 2);
    free(v);

    assert_int_equal(meta_part_list(fx->m, "nope", 0, 10, &v, &n),
                     CERR_NO_SUCH_UPLOAD);
    {
        struct meta_body p;

        memset(&p, 0, sizeof(p));
        p.part_number = 1;
        assert_int_equal(meta_part_put(fx->m, "nope", &p, &g),
                         CERR_NO_SUCH_UPLOAD);
    }
}

/* A completion object for upload "up" of key k with the given parts. */
static void
completion(struct meta_object *o, const char *key, struct meta_body *parts,
           const int *pick, size_t npick)
{
    size_t i;

    memset(o, 0, sizeof(*o));
    strcpy(o->bucket, "b");
    snprintf(o->key, sizeof(o->key), "%s", key);
    strcpy(o->upload_id, "up");
    strcpy(o->etag, "abc-2");
    o->size = -1;                       /* the store computes it */
    o->nbodies = npick;
    o->bodies = calloc(npick, sizeof(*o->bodies));
    assert_non_null(o->bodies);
    for (i = 0; i < npick; i++) {
        o->bodies[i] = parts[pick[i]];
        o->bodies[i].offset = 999;     /* ignored */
    }
}

static void
test_upload_complete(void **state)
{
    static const int pick[] = { 0, 2 };
    struct fx *fx = *state;
    char old_blob[33], blobs[3][33];
    struct meta_object o, got;
    struct meta_garbage g;
    struct meta_upload u;
    struct meta_body *parts;
    size_t n;

    make_bucket(fx, "b");
    put_object(fx, "b", "k");
    assert_int_equal(meta_object_get(fx->m, "b", "k", &got), 0);
    strcpy(old_blob, got.bodies[0].blob_id);
    meta_object_clear(&got);

    make_upload(fx, "k", "up");
    put_part(fx, "up", 1, 100, blobs[0], NULL);
    put_part(fx, "up", 2, 50, blobs[1], NULL);
    put_part(fx, "up", 3, 30, blobs[2], NULL);
    assert_int_equal(meta_part_list(fx->m, "up", 0, SIZE_MAX, &parts, &n),
                     0);

    /* Until Complete the old object stays visible. */
    assert_int_equal(meta_object_get(fx->m, "b", "k", &got), 0);
    assert_string_equal(got.bodies[0].blob_id, old_blob);
    meta_object_clear(&got);

    completion(&o, "k", parts, pick, 2);
    assert_int_equal(meta_upload_complete(fx->m, "up", &o, &g), 0);
    assert_int_equal(g.n, 2);
    assert_true(garbage_has(&g, old_blob));
    assert_true(garbage_has(&g, blobs[1]));
    meta_garbage_clear(&g);

    assert_int_equal(meta_object_get(fx->m, "b", "k", &got), 0);
    assert_int_equal(got.size, 130);
    assert_string_equal(got.etag, "abc-2");
    assert_string_equal(got.upload_id, "up");
    assert_int_equal(got.nbodies, 2);
    assert_string_equal(got.bodies[0].blob_id, blobs[0]);
    assert_int_equal(got.bodies[0].offset, 0);
    assert_int_equal(got.bodies[0].part_number, 1);
    assert_string_equal(got.bodies[1].blob_id, blobs[2]);
    assert_int_equal(got.bodies[1].offset, 100);
    assert_int_equal(got.bodies[1].part_number, 3);
    assert_memory_equal(got.bodies[1].salt, parts[2].salt, 32);
    meta_object_clear(&got);

    /* The upload and its parts are gone; completing again fails. */
    assert_int_equal(meta_upload_get(fx->m, "b", "k", "up", &u),
                     CERR_NO_SUCH_UPLOAD);
    assert_int_equal(meta_upload_complete(fx->m, "up", &o, &g),
                     CERR_NO_SUCH_UPLOAD);
    assert_int_equal(g.n, 0);
    assert_int_equal(meta_bucket_delete(fx->m, "b"), CERR_BUCKET_NOT_EMPTY);
    free(o.bodies);
    free(parts);
}

static void
test_upload_complete_stale_part(void **state)
{
    static const int pick[] = { 0 };
    struct fx *fx = *state;
    struct meta_object o, got;
    struct meta_garbage g;
    struct meta_body *parts;
    size_t n;

    make_bucket(fx, "b");
    make_upload(fx, "k", "up");
    put_part(fx, "up", 1, 10, NULL, NULL);
    assert_int_equal(meta_part_list(fx->m, "up", 0, SIZE_MAX, &parts, &n),
                     0);

    /* Part 1 is uploaded again after the caller read the list. */
    put_part(fx, "up", 1, 10, NULL, NULL);
    completion(&o, "k", parts, pick, 1);
    assert_int_equal(meta_upload_complete(fx->m, "up", &o, &g),
                     CERR_INVALID_PART);
    assert_int_equal(meta_object_get(fx->m, "b", "k", &got),
                     CERR_NO_SUCH_KEY);

    /* A part that was never uploaded, and the wrong key. */
    o.bodies[0].part_number = 9;
    assert_int_equal(meta_upload_complete(fx->m, "up", &o, &g),
                     CERR_INVALID_PART);
    strcpy(o.key, "other");
    assert_int_equal(meta_upload_complete(fx->m, "up", &o, &g),
                     CERR_NO_SUCH_UPLOAD);
    free(o.bodies);
    free(parts);
}

static void
test_upload_abort(void **state)
{
    struct fx *fx = *state;
    char a[33], b[33];
    struct meta_garbage g;

    make_bucket(fx, "b");
    make_upload(fx, "k", "up");
    put_part(fx, "up", 1, 10, a, NULL);
    put_part(fx, "up", 2, 10, b, NULL);
    assert_int_equal(meta_bucket_delete(fx->m, "b"), CERR_BUCKET_NOT_EMPTY);

    assert_int_equal(meta_upload_abort(fx->m, "up", &g), 0);
    assert_int_equal(g.n, 2);
    assert_true(garbage_has(&g, a));
    assert_true(garbage_has(&g, b));
    meta_garbage_clear(&g);
    assert_int_equal(meta_upload_abort(fx->m, "up", &g),
                     CERR_NO_SUCH_UPLOAD);
    assert_int_equal(meta_bucket_delete(fx->m, "b"), 0);
}

static void
test_bucket_not_empty(void **state)
{
    struct fx *fx = *state;

    make_bucket(fx, "b");
    put_object(fx, "b", "k");
    assert_int_equal(meta_bucket_delete(fx->m, "b"), CERR_BUCKET_NOT_EMPTY);
    assert_int_equal(meta_object_delete(fx->m, "b", "k", NULL), 0);
    assert_int_equal(meta_bucket_delete(fx->m, "b"), 0);
}

/* ---- Bucket keys ------------------------------------------------------ */

static void
add_bucket_key(struct fx *fx, const char *arn, int64_t created,
               int64_t *id)
{
    struct meta_bucket_key k;

    memset(&k, 0, sizeof(k));
    strcpy(k.bucket, "b");
    snprintf(k.kms_key_arn, sizeof(k.kms_key_arn), "%s", arn);
    k.blob_len = 100;
    memset(k.blob, (int)created, k.blob_len);
    k.created_ms = created;
    assert_int_equal(meta_bucket_key_add(fx->m, &k), 0);
    assert_true(k.id > 0);
    *id = k.id;
}

static void
test_bucket_keys(void **state)
{
    struct fx *fx = *state;
    struct meta_bucket_key k;
    int64_t id1, id2, id3;

    make_bucket(fx, "b");
    add_bucket_key(fx, "arn:a", 100, &id1);
    add_bucket_key(fx, "arn:a", 200, &id2);
    add_bucket_key(fx, "arn:b", 300, &id3);
    assert_true(id1 != id2);

    assert_int_equal(meta_bucket_key_get(fx->m, id1, &k), 0);
    assert_string_equal(k.bucket, "b");
    assert_string_equal(k.kms_key_arn, "arn:a");
    assert_int_equal(k.blob_len, 100);
    assert_int_equal(k.blob[99], 100);
    assert_int_equal(k.created_ms, 100);
    assert_int_equal(meta_bucket_key_get(fx->m, 9999, &k), CERR_NO_SUCH_KEY);

    assert_int_equal(meta_bucket_key_latest(fx->m, "b", "arn:a", 0, &k), 0);
    assert_int_equal(k.id, id2);
    assert_int_equal(meta_bucket_key_latest(fx->m, "b", "arn:a", 200, &k),
                     0);
    assert_int_equal(k.id, id2);
    assert_int_equal(meta_bucket_key_latest(fx->m, "b", "arn:a", 201, &k),
                     CERR_NO_SUCH_KEY);
    assert_int_equal(meta_bucket_key_latest(fx->m, "b", "arn:c", 0, &k),
                     CERR_NO_SUCH_KEY);

    /* The bucket's keys go with it. */
    assert_int_equal(meta_bucket_delete(fx->m, "b"), 0);
    assert_int_equal(meta_bucket_key_get(fx->m, id3, &k), CERR_NO_SUCH_KEY);
    memset(&k, 0, sizeof(k));
    strcpy(k.bucket, "b");
    assert_int_equal(meta_bucket_key_add(fx->m, &k), CERR_NO_SUCH_BUCKET);
}

/* ---- KMS -------------------------------------------------------------- */

static void
make_key(struct fx *fx, const char *id, int64_t created)
{
    struct meta_kms_material mat;
    struct meta_kms_tag tag;
    struct meta_kms_key k;

    memset(&k, 0, sizeof(k));
    snprintf(k.key_id, sizeof(k.key_id), "%s", id);
    k.created_ms = created;
    k.description = "test key";
    strcpy(k.state, "Enabled");
    strcpy(k.manager, "CUSTOMER");
    k.policy = "{\"Statement\":[]}";
    k.rotation_days = 365;
    memset(&mat, 0, sizeof(mat));
    strcpy(mat.key_id, k.key_id);
    snprintf(mat.material_id, sizeof(mat.material_id), "m1-%s", id);
    mat.created_ms = created;
    mat.wrapped_len = 60;
    memset(mat.wrapped, 0x11, 60);
    memset(&tag, 0, sizeof(tag));
    strcpy(tag.key, "team");
    strcpy(tag.value, "storage");
    assert_int_equal(meta_kms_key_create(fx->m, &k, &mat, &tag, 1), 0);
}

/* META_KMS_GENERATION as a number, 0 while unset. */
static long
kms_generation(struct fx *fx)
{
    char v[32];

    if (meta_setting_get(fx->m, META_KMS_GENERATION, v, sizeof(v)) != 0)
        return 0;
    return strtol(v, NULL, 10);
}

/* Every write of a key, material or alias counts one change; reads and
 * failed writes none. */
static void
test_kms_generation(void **state)
{
    struct fx *fx = *state;
    const char *id = "44444444-4444-4444-4444-444444444444";
    struct meta_kms_material mat;
    struct meta_kms_alias a;
    struct meta_kms_key k;

    assert_int_equal(kms_generation(fx), 0);
    make_key(fx, id, 10);
    assert_int_equal(kms_generation(fx), 1);

    assert_int_equal(meta_kms_key_get(fx->m, id, &k), 0);
    assert_int_equal(kms_generation(fx), 1);
    strcpy(k.state, "Disabled");
    assert_int_equal(meta_kms_key_update(fx->m, &k), 0);
    meta_kms_key_clear(&k);
    assert_int_equal(kms_generation(fx), 2);

    memset(&mat, 0, sizeof(mat));
    strcpy(mat.key_id, id);
    strcpy(mat.material_id, "m2");
    mat.wrapped_len = 60;
    assert_int_equal(meta_kms_material_add(fx->m, &mat, "m2"), 0);
    assert_int_equal(kms_generation(fx), 3);

    memset(&a, 0, sizeof(a));
    strcpy(a.name, "alias/gen");
    strcpy(a.key_id, id);
    assert_int_equal(meta_kms_alias_create(fx->m, &a), 0);
    assert_int_equal(meta_kms_alias_update(fx->m, "alias/gen", id, 5), 0);
    assert_int_equal(meta_kms_alias_delete(fx->m, "alias/gen"), 0);
    assert_int_equal(kms_generation(fx), 6);
    assert_int_equal(meta_kms_alias_delete(fx->m, "alias/gen"),
                     CERR_KMS_NOT_FOUND);
    assert_int_equal(kms_generation(fx), 6);

    assert_int_equal(meta_kms_key_delete(fx->m, id), 0);
    assert_int_equal(kms_generation(fx), 7);
}

static void
test_kms_keys(void **state)
{
    struct fx *fx = *state;
    struct meta_kms_key k, *v;
    size_t n;

    make_key(fx, "22222222-2222-2222-2222-222222222222", 10);
    make_key(fx, "11111111-1111-1111-1111-111111111111", 20);
    make_key(fx, "33333333-3333-3333-3333-333333333333", 30);

    assert_int_equal(meta_kms_key_get(fx->m,
                     "11111111-1111-1111-1111-111111111111", &k), 0);
    assert_int_equal(k.created_ms, 20);
    assert_string_equal(k.description, "test key");
    assert_string_equal(k.state, "Enabled");
    assert_string_equal(k.manager, "CUSTOMER");
    assert_string_equal(k.policy, "{\"Statement\":[]}");
    assert_int_equal(k.rotation_days, 365);
    assert_string_equal(k.current_material,
                        "m1-11111111-1111-1111-1111-111111111111");

    /* Update every mutable field. */
    free(k.description);
    k.description = NULL;
    strcpy(k.state, "PendingDeletion");
    k.deletion_ms = 555;
    k.pending_days = 7;
    free(k.policy);
    k.policy = strdup("{}");
    k.rotation_enabled = true;
    k.next_rotation_ms = 777;
    assert_int_equal(meta_kms_key_update(fx->m, &k), 0);
    meta_kms_key_clear(&k);
    assert_int_equal(meta_kms_key_get(fx->m,
                     "11111111-1111-1111-1111-111111111111", &k), 0);
    assert_string_equal(k.description, "");
    assert_string_equal(k.state, "PendingDeletion");
    assert_int_equal(k.deletion_ms, 555);
    assert_int_equal(k.pending_days, 7);
    assert_string_equal(k.policy, "{}");
    assert_true(k.rotation_enabled);
    assert_int_equal(k.next_rotation_ms, 777);
    strcpy(k.key_id, "44444444-4444-4444-4444-444444444444");
    assert_int_equal(meta_kms_key_update(fx->m, &k), CERR_KMS_NOT_FOUND);
    meta_kms_key_clear(&k);

    assert_int_equal(meta_kms_key_get(fx->m, "nope", &k),
                     CERR_KMS_NOT_FOUND);
    {
        struct meta_kms_key dup;

        memset(&dup, 0, sizeof(dup));
        strcpy(dup.key_id, "33333333-3333-3333-3333-333333333333");
        assert_int_equal(meta_kms_key_create(fx->m, &dup, NULL, NULL, 0),
                         CERR_KMS_ALREADY_EXISTS);
    }

    /* Creation order, paged. */
    assert_int_equal(meta_kms_key_list(fx->m, NULL, 2, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].key_id, "22222222-2222-2222-2222-222222222222");
    assert_string_equal(v[1].key_id, "11111111-1111-1111-1111-111111111111");
    meta_kms_key_list_free(v, n);
    assert_int_equal(meta_kms_key_list(fx->m,
                     "11111111-1111-1111-1111-111111111111", 2, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].key_id, "33333333-3333-3333-3333-333333333333");
    assert_string_equal(v[0].description, "test key");
    meta_kms_key_list_free(v, n);
    assert_int_equal(meta_kms_key_list(fx->m, "gone", 2, &v, &n),
                     CERR_KMS_INVALID_MARKER);
}

static void
test_kms_delete_cascades(void **state)
{
    static const char id[] = "22222222-2222-2222-2222-222222222222";
    struct fx *fx = *state;
    struct meta_kms_alias a;
    struct meta_kms_material mat;
    struct meta_kms_tag *t;
    size_t n;

    make_key(fx, id, 1);
    memset(&a, 0, sizeof(a));
    strcpy(a.name, "alias/one");
    strcpy(a.key_id, id);
    assert_int_equal(meta_kms_alias_create(fx->m, &a), 0);

    assert_int_equal(meta_kms_key_delete(fx->m, id), 0);
    assert_int_equal(meta_kms_key_delete(fx->m, id), CERR_KMS_NOT_FOUND);
    assert_int_equal(meta_kms_alias_get(fx->m, "alias/one", &a),
                     CERR_KMS_NOT_FOUND);
    assert_int_equal(meta_kms_material_get(fx->m, id, "m1-22222222-2222-"
                     "2222-2222-222222222222", &mat), CERR_KMS_NOT_FOUND);
    assert_int_equal(meta_kms_tags_get(fx->m, id, &t, &n),
                     CERR_KMS_NOT_FOUND);

    /* The id can be used again, with nothing of the old key left. */
    make_key(fx, id, 2);
    assert_int_equal(meta_kms_alias_get(fx->m, "alias/one", &a),
                     CERR_KMS_NOT_FOUND);
}

static void
test_kms_materials(void **state)
{
    static const char id[] = "22222222-2222-2222-2222-222222222222";
    struct fx *fx = *state;
    struct meta_kms_material mat, *v;
    struct meta_kms_key k;
    size_t n;

    make_key(fx, id, 1);
    memset(&mat, 0, sizeof(mat));
    strcpy(mat.key_id, id);
    strcpy(mat.material_id, "m2");
    strcpy(mat.rotation_type, "ON_DEMAND");
    mat.created_ms = 5;
    mat.wrapped_len = 3;
    memcpy(mat.wrapped, "xyz", 3);
    assert_int_equal(meta_kms_material_add(fx->m, &mat, NULL), 0);
    assert_int_equal(meta_kms_material_add(fx->m, &mat, NULL),
                     CERR_KMS_ALREADY_EXISTS);
    assert_int_equal(meta_kms_key_get(fx->m, id, &k), 0);
    assert_string_equal(k.current_material, "m1-" "22222222-2222-2222-2222-"
                        "222222222222");
    meta_kms_key_clear(&k);

    strcpy(mat.material_id, "m3");
    assert_int_equal(meta_kms_material_add(fx->m, &mat, "m3"), 0);
    assert_int_equal(meta_kms_key_get(fx->m, id, &k), 0);
    assert_string_equal(k.current_material, "m3");
    meta_kms_key_clear(&k);

    assert_int_equal(meta_kms_material_get(fx->m, id, "m2", &mat), 0);
    assert_string_equal(mat.rotation_type, "ON_DEMAND");
    assert_int_equal(mat.wrapped_len, 3);
    assert_memory_equal(mat.wrapped, "xyz", 3);
    assert_int_equal(meta_kms_material_get(fx->m, id, "m9", &mat),
                     CERR_KMS_NOT_FOUND);

    assert_int_equal(meta_kms_material_list(fx->m, id, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[1].material_id, "m2");
    assert_string_equal(v[2].material_id, "m3");
    free(v);
    assert_int_equal(meta_kms_material_list(fx->m, "none", &v, &n),
                     CERR_KMS_NOT_FOUND);

    strcpy(mat.key_id, "none");
    assert_int_equal(meta_kms_material_add(fx->m, &mat, NULL),
                     CERR_KMS_NOT_FOUND);
}

static void
test_kms_aliases(void **state)
{
    static const char k1[] = "11111111-1111-1111-1111-111111111111";
    static const char k2[] = "22222222-2222-2222-2222-222222222222";
    struct fx *fx = *state;
    struct meta_kms_alias a, *v;
    size_t n;

    make_key(fx, k1, 1);
    make_key(fx, k2, 2);
    memset(&a, 0, sizeof(a));
    strcpy(a.key_id, k1);
    a.created_ms = a.updated_ms = 50;
    strcpy(a.name, "alias/b");
    assert_int_equal(meta_kms_alias_create(fx->m, &a), 0);
    strcpy(a.name, "alias/a");
    assert_int_equal(meta_kms_alias_create(fx->m, &a), 0);
    assert_int_equal(meta_kms_alias_create(fx->m, &a),
                     CERR_KMS_ALREADY_EXISTS);
    strcpy(a.key_id, k2);
    strcpy(a.name, "alias/c");
    assert_int_equal(meta_kms_alias_create(fx->m, &a), 0);
    strcpy(a.key_id, "none");
    strcpy(a.name, "alias/d");
    assert_int_equal(meta_kms_alias_create(fx->m, &a), CERR_KMS_NOT_FOUND);

    assert_int_equal(meta_kms_alias_get(fx->m, "alias/a", &a), 0);
    assert_string_equal(a.key_id, k1);
    assert_int_equal(a.created_ms, 50);

    assert_int_equal(meta_kms_alias_update(fx->m, "alias/a", k2, 60), 0);
    assert_int_equal(meta_kms_alias_get(fx->m, "alias/a", &a), 0);
    assert_string_equal(a.key_id, k2);
    assert_int_equal(a.created_ms, 50);
    assert_int_equal(a.updated_ms, 60);
    assert_int_equal(meta_kms_alias_update(fx->m, "alias/x", k2, 60),
                     CERR_KMS_NOT_FOUND);
    assert_int_equal(meta_kms_alias_update(fx->m, "alias/a", "none", 60),
                     CERR_KMS_NOT_FOUND);

    assert_int_equal(meta_kms_alias_list(fx->m, NULL, NULL, SIZE_MAX, &v,
                                         &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].name, "alias/a");
    assert_string_equal(v[2].name, "alias/c");
    free(v);
    assert_int_equal(meta_kms_alias_list(fx->m, k2, "alias/a", SIZE_MAX, &v,
                                         &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].name, "alias/c");
    free(v);
    assert_int_equal(meta_kms_alias_list(fx->m, NULL, "", 1, &v, &n), 0);
    assert_int_equal(n, 1);
    free(v);

    assert_int_equal(meta_kms_alias_delete(fx->m, "alias/a"), 0);
    assert_int_equal(meta_kms_alias_delete(fx->m, "alias/a"),
                     CERR_KMS_NOT_FOUND);
}

static void
test_kms_tags(void **state)
{
    static const char id[] = "11111111-1111-1111-1111-111111111111";
    static const char *const gone[] = { "team", "absent" };
    struct fx *fx = *state;
    struct meta_kms_tag t[2], *v;
    size_t n;

    make_key(fx, id, 1);
    memset(t, 0, sizeof(t));
    strcpy(t[0].key, "team");
    strcpy(t[0].value, "platform");
    strcpy(t[1].key, "env");
    strcpy(t[1].value, "");
    assert_int_equal(meta_kms_tags_put(fx->m, id, t, 2), 0);
    assert_int_equal(meta_kms_tags_get(fx->m, id, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].key, "env");
    assert_string_equal(v[0].value, "");
    assert_string_equal(v[1].key, "team");
    assert_string_equal(v[1].value, "platform");
    free(v);

    assert_int_equal(meta_kms_tags_delete(fx->m, id, gone, 2), 0);
    assert_int_equal(meta_kms_tags_get(fx->m, id, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].key, "env");
    free(v);
    assert_int_equal(meta_kms_tags_put(fx->m, "none", t, 1),
                     CERR_KMS_NOT_FOUND);
    assert_int_equal(meta_kms_tags_delete(fx->m, "none", gone, 1),
                     CERR_KMS_NOT_FOUND);
}

/* ---- Faults, crashes, sweeping ---------------------------------------- */

static void
test_meta_fault_leaves_old_object(void **state)
{
    struct fx *fx = *state;
    struct meta_object a, b, got;
    struct meta_garbage g, pend;

    make_bucket(fx, "b");
    make_object(&a, "b", "k", 2);
    assert_int_equal(meta_object_put(fx->m, &a, NULL), 0);
    make_object(&b, "b", "k", 1);

    /* Reads do not count; the next write fails before its commit. */
    meta_fail_nth(fx->m, 1);
    assert_int_equal(meta_object_get(fx->m, "b", "k", &got), 0);
    meta_object_clear(&got);
    assert_int_equal(meta_object_put(fx->m, &b, &g), CERR_IO);
    assert_int_equal(g.n, 0);
    assert_null(g.ids);

    assert_int_equal(meta_object_get(fx->m, "b", "k", &got), 0);
    assert_int_equal(got.nbodies, 2);
    assert_string_equal(got.bodies[0].blob_id, a.bodies[0].blob_id);
    assert_string_equal(got.bodies[1].blob_id, a.bodies[1].blob_id);
    meta_object_clear(&got);
    assert_int_equal(meta_garbage_pending(fx->m, &pend), 0);
    assert_int_equal(pend.n, 0);
    meta_garbage_clear(&pend);

    /* The hook fires once; the retry works. */
    assert_int_equal(meta_object_put(fx->m, &b, &g), 0);
    assert_int_equal(g.n, 2);
    meta_garbage_clear(&g);
    free(a.bodies);
    free(b.bodies);
}

static void
test_meta_fault_nth_counts_writes(void **state)
{
    struct fx *fx = *state;
    struct meta_bucket b;

    meta_fail_nth(fx->m, 3);
    make_bucket(fx, "one");
    make_bucket(fx, "two");
    memset(&b, 0, sizeof(b));
    strcpy(b.name, "three");
    assert_int_equal(meta_bucket_create(fx->m, &b), CERR_IO);
    assert_int_equal(meta_bucket_get(fx->m, "three", &b),
                     CERR_NO_SUCH_BUCKET);
    assert_int_equal(meta_bucket_get(fx->m, "two", &b), 0);
    meta_bucket_clear(&b);
}

static void
test_meta_fault_complete_keeps_upload(void **state)
{
    static const int pick[] = { 0, 1 };
    struct fx *fx = *state;
    struct meta_object o, got;
    struct meta_garbage g;
    struct meta_upload u;
    struct meta_body *parts;
    size_t n;

    make_bucket(fx, "b");
    make_upload(fx, "k", "up");
    put_part(fx, "up", 1, 10, NULL, NULL);
    put_part(fx, "up", 2, 10, NULL, NULL);
    assert_int_equal(meta_part_list(fx->m, "up", 0, SIZE_MAX, &parts, &n),
                     0);
    completion(&o, "k", parts, pick, 2);

    meta_fail_nth(fx->m, 1);
    assert_int_equal(meta_upload_complete(fx->m, "up", &o, &g), CERR_IO);
    assert_int_equal(meta_object_get(fx->m, "b", "k", &got),
                     CERR_NO_SUCH_KEY);
    assert_int_equal(meta_upload_get(fx->m, "b", "k", "up", &u), 0);
    meta_upload_clear(&u);
    free(parts);
    assert_int_equal(meta_part_list(fx->m, "up", 0, SIZE_MAX, &parts, &n),
                     0);
    assert_int_equal(n, 2);

    meta_fail_nth(fx->m, 1);
    assert_int_equal(meta_upload_abort(fx->m, "up", &g), CERR_IO);
    assert_int_equal(meta_upload_complete(fx->m, "up", &o, &g), 0);
    assert_int_equal(g.n, 0);
    free(o.bodies);
    free(parts);
}

static void
test_garbage_pending_after_crash(void **state)
{
    struct fx *fx = *state;
    struct meta_object o, got;
    struct meta_garbage g, pend;
    char id1[BLOB_ID_LEN], id2[BLOB_ID_LEN];
    struct blob_reader *r;
    size_t removed;

    /* Two real bodies: the object's first version and its replacement. */
    make_bucket(fx, "b");
    put_blob(fx, 100, id1);
    put_blob(fx, 200, id2);
    make_object(&o, "b", "k", 1);
    strcpy(o.bodies[0].blob_id, id1);
    assert_int_equal(meta_object_put(fx->m, &o, NULL), 0);
    strcpy(o.bodies[0].blob_id, id2);
    assert_int_equal(meta_object_put(fx->m, &o, &g), 0);
    assert_int_equal(g.n, 1);

    /* The caller "crashes" before removing the file: after a restart
     * the id is still pending and the sweep removes it. */
    meta_garbage_clear(&g);
    meta_close(fx->m);
    assert_int_equal(meta_open_sqlite(fx->dbpath, &fx->m), 0);
    assert_int_equal(meta_garbage_pending(fx->m, &pend), 0);
    assert_int_equal(pend.n, 1);
    assert_string_equal(pend.ids[0], id1);
    meta_garbage_clear(&pend);

    assert_int_equal(meta_sweep(fx->m, fx->bs, 3600 * 1000, &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(blob_reader_open(fx->bs, id1, &r), CERR_CORRUPT);
    assert_int_equal(blob_reader_open(fx->bs, id2, &r), 0);
    blob_reader_close(r);
    assert_int_equal(meta_garbage_pending(fx->m, &pend), 0);
    assert_int_equal(pend.n, 0);
    meta_garbage_clear(&pend);
    assert_int_equal(meta_object_get(fx->m, "b", "k", &got), 0);
    meta_object_clear(&got);
    free(o.bodies);
}

static void
test_sweep_orphans(void **state)
{
    struct fx *fx = *state;
    char used[BLOB_ID_LEN], orphan[BLOB_ID_LEN], part[BLOB_ID_LEN];
    struct meta_object o;
    struct meta_body p;
    size_t removed;

    /* A body whose metadata transaction failed is an orphan. */
    make_bucket(fx, "b");
    make_upload(fx, "k", "up");
    put_blob(fx, 10, used);
    put_blob(fx, 10, orphan);
    put_blob(fx, 10, part);
    make_object(&o, "b", "k", 1);
    strcpy(o.bodies[0].blob_id, used);
    assert_int_equal(meta_object_put(fx->m, &o, NULL), 0);
    memset(&p, 0, sizeof(p));
    p.part_number = 1;
    strcpy(p.blob_id, part);
    assert_int_equal(meta_part_put(fx->m, "up", &p, NULL), 0);

    /* Young orphans survive (their row may be on its way). */
    assert_int_equal(meta_sweep(fx->m, fx->bs, 3600 * 1000, &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(count_blobs(fx), 3);

    assert_int_equal(meta_sweep(fx->m, fx->bs, 0, &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(count_blobs(fx), 2);
    {
        bool yes;

        assert_int_equal(meta_blob_referenced(fx->m, used, &yes), 0);
        assert_true(yes);
        assert_int_equal(meta_blob_referenced(fx->m, part, &yes), 0);
        assert_true(yes);
        assert_int_equal(meta_blob_referenced(fx->m, orphan, &yes), 0);
        assert_false(yes);
    }
    free(o.bodies);
}

static void
test_put_flow_fault_leaves_nothing(void **state)
{
    struct fx *fx = *state;
    struct meta_object o, got;
    struct blob_writer *w;
    char id[BLOB_ID_LEN];
    size_t removed;

    /* The PUT sequence: blob commit, then the row.  The row's commit
     * fails; the caller removes the blob; nothing is left. */
    make_bucket(fx, "b");
    assert_int_equal(blob_writer_new(fx->bs, &w), 0);
    assert_int_equal(blob_writer_write(w, "data", 4), 0);
    assert_int_equal(blob_writer_commit(w, id), 0);
    make_object(&o, "b", "k", 1);
    strcpy(o.bodies[0].blob_id, id);
    meta_fail_nth(fx->m, 1);
    assert_int_equal(meta_object_put(fx->m, &o, NULL), CERR_IO);
    assert_int_equal(meta_object_get(fx->m, "b", "k", &got),
                     CERR_NO_SUCH_KEY);

    /* Had the caller crashed instead, the sweep finds the orphan. */
    assert_int_equal(meta_sweep(fx->m, fx->bs, 0, &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(count_blobs(fx), 0);
    assert_int_equal(count_dir(fx, "tmp"), 0);
    free(o.bodies);
}

static void
test_reopen_keeps_data(void **state)
{
    struct fx *fx = *state;
    struct meta_bucket b;
    struct meta *m2;

    make_bucket(fx, "b");
    put_object(fx, "b", "k");

    /* A second handle on the same file sees committed data. */
    assert_int_equal(meta_open_sqlite(fx->dbpath, &m2), 0);
    assert_int_equal(meta_bucket_get(m2, "b", &b), 0);
    meta_bucket_clear(&b);
    meta_close(m2);

    meta_close(fx->m);
    assert_int_equal(meta_open_sqlite(fx->dbpath, &fx->m), 0);
    assert_int_equal(meta_bucket_delete(fx->m, "b"), CERR_BUCKET_NOT_EMPTY);
}

static void
test_db_file_owner_only(void **state)
{
    struct fx *fx = *state;
    char path[160];
    struct stat st;

    make_bucket(fx, "b");
    assert_int_equal(stat(fx->dbpath, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof(path), "%s-wal", fx->dbpath);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void
test_open_foreign_database(void **state)
{
    struct fx *fx = *state;
    char path[160];
    struct meta *m2;
    FILE *f;

    snprintf(path, sizeof(path), "%s/junk.db", fx->dir);
    assert_non_null(f = fopen(path, "w"));
    fputs("this is not a database file, not at all, no no no no no no no "
          "no no no no no no no no no no no no no no no no no no no no",
          f);
    fclose(f);
    assert_int_equal(meta_open_sqlite(path, &m2), CERR_CORRUPT);
    assert_null(m2);
}

/*
 * The back end checkpoints the WAL itself: commits past SQLite's usual
 * checkpoint size (1,000 frames) must still reach the database file, the
 * WAL must start over rather than grow, and every object stays readable.
 */
static void
test_wal_checkpointed(void **state)
{
    struct fx *fx = *state;
    struct meta_object o;
    struct stat before, after, wal;
    char key[32], path[160];
    int i;

    make_bucket(fx, "b");
    assert_int_equal(stat(fx->dbpath, &before), 0);
    for (i = 0; i < 600; i++) {
        snprintf(key, sizeof(key), "key-%04d", i);
        put_object(fx, "b", key);
    }
    assert_int_equal(stat(fx->dbpath, &after), 0);
    assert_true(after.st_size > before.st_size);
    snprintf(path, sizeof(path), "%s-wal", fx->dbpath);
    assert_int_equal(stat(path, &wal), 0);
    assert_true(wal.st_size < 1100 * (4096 + 24));
    for (i = 0; i < 600; i += 97) {
        snprintf(key, sizeof(key), "key-%04d", i);
        assert_int_equal(meta_object_get(fx->m, "b", key, &o), 0);
        meta_object_clear(&o);
    }
}

/* ---- Concurrency ------------------------------------------------------ */

#define NTHREADS 8
#define NPUTS 25

struct racer {
    struct fx *fx;
    int no;
    struct meta_garbage released;   /* every id this writer was handed */
    int failed;
    int torn;
    int reads;
};

static atomic_int writers_done;

/* Does o look like one writer's put, whole?  Its etag repeats the first
 * body's id and the second body's id is the first's plus 1000. */
static bool
consistent(const struct meta_object *o)
{
    unsigned w1, i1, w2, i2;

    if (o->nbodies != 2 || strcmp(o->etag, o->bodies[0].blob_id) != 0)
        return false;
    if (sscanf(o->bodies[0].blob_id, "%8x%24x", &w1, &i1) != 2 ||
        sscanf(o->bodies[1].blob_id, "%8x%24x", &w2, &i2) != 2)
        return false;
    return w1 == w2 && i2 == i1 + 1000 && o->bodies[1].offset == 10;
}

/* Put the same key NPUTS times with this writer's own blob ids. */
static void *
writer(void *arg)
{
    struct racer *r = arg;
    struct meta_object o;
    struct meta_garbage g;
    size_t j;
    int i;

    for (i = 0; i < NPUTS; i++) {
        make_object(&o, "b", "hot key", 2);
        snprintf(o.bodies[0].blob_id, 33, "%08x%024x", r->no + 1, i);
        snprintf(o.bodies[1].blob_id, 33, "%08x%024x", r->no + 1,
                 i + 1000);
        strcpy(o.etag, o.bodies[0].blob_id);
        if (meta_object_put(r->fx->m, &o, &g) != 0)
            r->failed++;
        for (j = 0; j < g.n; j++) {
            struct meta_garbage *d = &r->released;

            d->ids = realloc(d->ids, (d->n + 1) * sizeof(*d->ids));
            if (d->ids == NULL)
                abort();
            strcpy(d->ids[d->n++], g.ids[j]);
        }
        meta_garbage_clear(&g);
        free(o.bodies);
    }
    return NULL;
}

/* Read the key until the writers stop; count reads that look torn. */
static void *
reader(void *arg)
{
    struct racer *r = arg;
    struct meta_object o;
    int rc;

    while (!atomic_load(&writers_done)) {
        rc = meta_object_get(r->fx->m, "b", "hot key", &o);
        if (rc == 0 && !consistent(&o))
            r->torn++;
        else if (rc != 0 && rc != CERR_NO_SUCH_KEY)
            r->failed++;
        r->reads++;
        meta_object_clear(&o);
    }
    return NULL;
}

static int
cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void
test_concurrent_puts_one_key(void **state)
{
    struct fx *fx = *state;
    struct racer w[NTHREADS], rd[2];
    pthread_t wt[NTHREADS], rt[2];
    struct meta_garbage all = { NULL, 0 };
    struct meta_object fin;
    size_t i, j;

    make_bucket(fx, "b");
    atomic_store(&writers_done, 0);
    memset(w, 0, sizeof(w));
    memset(rd, 0, sizeof(rd));
    for (i = 0; i < 2; i++) {
        rd[i].fx = fx;
        assert_int_equal(pthread_create(&rt[i], NULL, reader, &rd[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++) {
        w[i].fx = fx;
        w[i].no = (int)i;
        assert_int_equal(pthread_create(&wt[i], NULL, writer, &w[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++)
        pthread_join(wt[i], NULL);
    atomic_store(&writers_done, 1);
    for (i = 0; i < 2; i++) {
        pthread_join(rt[i], NULL);
        assert_int_equal(rd[i].torn, 0);
        assert_int_equal(rd[i].failed, 0);
    }

    /* Every put worked; exactly one version is left, whole. */
    assert_int_equal(meta_object_get(fx->m, "b", "hot key", &fin), 0);
    assert_true(consistent(&fin));

    /* Every other body was handed out as garbage exactly once. */
    for (i = 0; i < NTHREADS; i++) {
        assert_int_equal(w[i].failed, 0);
        all.ids = realloc(all.ids, (all.n + w[i].released.n) *
                          sizeof(*all.ids) + 1);
        assert_non_null(all.ids);
        memcpy(all.ids[all.n], w[i].released.ids,
               w[i].released.n * sizeof(*all.ids));
        all.n += w[i].released.n;
        meta_garbage_clear(&w[i].released);
    }
    assert_int_equal(all.n, NTHREADS * NPUTS * 2 - 2);
    qsort(all.ids, all.n, sizeof(*all.ids), cmp_id);
    for (j = 1; j < all.n; j++)
        assert_true(strcmp(all.ids[j - 1], all.ids[j]) != 0);
    assert_false(garbage_has(&all, fin.bodies[0].blob_id));
    assert_false(garbage_has(&all, fin.bodies[1].blob_id));
    meta_object_clear(&fin);
    meta_garbage_clear(&all);
}

static void
test_concurrent_buckets_and_keys(void **state)
{
    struct fx *fx = *state;
    struct meta_bucket *v;
    size_t n;
    int i;

    /* Many small transactions in a row, each on a pooled connection. */
    make_bucket(fx, "b");
    for (i = 0; i < 200; i++) {
        char key[32];

        snprintf(key, sizeof(key), "k%03d", i);
        put_object(fx, "b", key);
    }
    assert_int_equal(meta_bucket_list(fx->m, &v, &n), 0);
    assert_int_equal(n, 1);
    meta_bucket_list_free(v, n);
    {
        struct meta_object *o;

        assert_int_equal(meta_object_list(fx->m, "b", "k1", "", SIZE_MAX,
                                          &o, &n), 0);
        assert_int_equal(n, 100);
        assert_string_equal(o[0].key, "k100");
        assert_string_equal(o[99].key, "k199");
        meta_object_list_free(o, n);
    }
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_blob_commit_read),
        T(test_blob_empty_body),
        T(test_blob_abort),
        T(test_blob_bad_ids),
        T(test_blob_tmp_sweep_on_open),
        T(test_blob_tmp_sweep_leaves_dirs),
        T(test_blob_fail_write),
        T(test_blob_commit_after_failed_write),
        T(test_blob_fail_fsync_file),
        T(test_blob_fail_fsync_dir),
        T(test_blob_fail_rename),
        T(test_blob_fail_off),
        T(test_blob_foreach),
        T(test_settings),
        T(test_secrets_first_writer_wins),
        T(test_bucket_crud),
        T(test_bucket_settings),
        T(test_bucket_not_empty),
        T(test_object_roundtrip),
        T(test_object_no_bucket),
        T(test_object_set_tagging),
        T(test_object_replace_sends_old_to_garbage),
        T(test_object_shared_blob_not_garbage),
        T(test_object_delete),
        T(test_object_list_order_and_paging),
        T(test_upload_create_get),
        T(test_upload_list_markers),
        T(test_part_put_replace_and_list),
        T(test_upload_complete),
        T(test_upload_complete_stale_part),
        T(test_upload_abort),
        T(test_bucket_keys),
        T(test_kms_keys),
        T(test_kms_generation),
        T(test_kms_delete_cascades),
        T(test_kms_materials),
        T(test_kms_aliases),
        T(test_kms_tags),
        T(test_meta_fault_leaves_old_object),
        T(test_meta_fault_nth_counts_writes),
        T(test_meta_fault_complete_keeps_upload),
        T(test_garbage_pending_after_crash),
        T(test_sweep_orphans),
        T(test_put_flow_fault_leaves_nothing),
        T(test_reopen_keeps_data),
        T(test_db_file_owner_only),
        T(test_open_foreign_database),
        T(test_wal_checkpointed),
        T(test_concurrent_puts_one_key),
        T(test_concurrent_buckets_and_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
