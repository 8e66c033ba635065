/*
 * The file-system blob back end.
 *
 *     DATA/tmp/<id>             a body being written (O_EXCL, 0600)
 *     DATA/blobs/ab/cd/<id>     a committed body, never rewritten
 *
 * <id> is 32 lowercase hex digits chosen when the writer starts;
 * "ab" and "cd" are its first four.  Commit is: fsync the file, create the
 * two directory levels when missing (fsyncing each parent that gained an
 * entry), rename into place, fsync the final directory.  A body is thus
 * either complete under blobs/ or not there; anything found in tmp/ at
 * open belonged to a writer that never committed and is deleted.
 *
 * Group commit of the directory fsync.  The first four digits of an id
 * (its leaf directory "ab/cd") are shared by the next LEAF_USES ids the
 * store hands out, the other 28 are random; so concurrent writers rename
 * into the same leaf, which exists already, and one fsync of that leaf
 * makes all their renames durable.  Whoever finds no directory fsync in
 * flight starts one for every leaf renamed into so far; the others wait
 * for the fsync that covers their rename.  The file's own fsync stays
 * per body.  A failed directory fsync is sticky: the page cache's state
 * is unknown after one, so every later commit fails with CERR_IO.
 *
 * All paths are resolved against directory descriptors opened once, so
 * a request never builds a path from text it did not generate.  Shared
 * mutable state: the fault-injection counters (under mu) and the leaf
 * and directory-sync state (under leaf_mu).
 */
#include "store/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "util/codec.h"
#include "util/err.h"

enum fail_op { FAIL_WRITE, FAIL_FSYNC, FAIL_RENAME, FAIL_NOPS };

#define LEAF_USES 1024          /* ids that share one leaf directory */
#define LEAF_PENDING 16         /* leaves one directory fsync may cover */

struct fs_store {
    struct blob_store base;
    int tmp_fd;                 /* DATA/tmp */
    int blobs_fd;               /* DATA/blobs */
    pthread_mutex_t mu;         /* guards fail_in */
    pthread_mutex_t dir_mu;     /* serialises fan-out directory creation */
    int fail_in[FAIL_NOPS];     /* calls left before a failure, 0 = off */

    pthread_mutex_t leaf_mu;    /* guards everything below */
    pthread_cond_t leaf_cv;     /* signalled when a directory fsync ends */
    char leaf[5];               /* first 4 hex digits of the next ids */
    unsigned leaf_uses;         /* ids handed out under leaf */
    uint64_t renamed;           /* bodies renamed into blobs/ */
    uint64_t dsynced;           /* of those, known durable */
    bool dsyncing;              /* one committer is fsyncing for all */
    int dsync_err;              /* a directory fsync failed: sticky */
    char pending[LEAF_PENDING][6];      /* "ab/cd" leaves not yet synced */
    int npending;
};

struct fs_writer {
    struct blob_writer base;
    int fd;
    bool failed;                /* a write failed: the body has a hole */
    char id[BLOB_ID_LEN];
};

struct fs_reader {
    struct blob_reader base;
    int fd;
};

static const struct blob_ops fs_ops;

/* True when the armed fault for op fires on this call. */
static bool
fault(struct fs_store *s, enum fail_op op)
{
    bool fire = false;

    pthread_mutex_lock(&s->mu);
    if (s->fail_in[op] > 0 && --s->fail_in[op] == 0)
        fire = true;
    pthread_mutex_unlock(&s->mu);
    return fire;
}

static int
do_fsync(struct fs_store *s, int fd)
{
    if (fault(s, FAIL_FSYNC))
        return CERR_IO;
    return fsync(fd) == 0 ? 0 : CERR_IO;
}

/* fsync the directory at name relative to dirfd ("." for dirfd itself). */
static int
fsync_dir(struct fs_store *s, int dirfd, const char *name)
{
    int fd, rc;

    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return CERR_IO;
    rc = do_fsync(s, fd);
    close(fd);
    return rc;
}

/* Open (creating when missing) directory name under dirfd. */
static int
open_dir(int dirfd, const char *name, int *out)
{
    if (mkdirat(dirfd, name, 0700) != 0 && errno != EEXIST)
        return CERR_IO;
    *out = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return *out < 0 ? CERR_IO : 0;
}

/*
 * Delete every entry of tmp/: bodies of writers that never committed.
 * XXX: tmp/ is shared by whoever opens this data directory, so nodes that
 * share it over a network file system would delete each other's bodies
 * in flight at start-up (those PUTs fail with InternalError); per-node
 * tmp directories are missing.
 */
static int
sweep_tmp(int tmp_fd)
{
    DIR *d;
    struct dirent *e;
    int fd, rc = 0;

    fd = dup(tmp_fd);
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return CERR_IO;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        /* Directories are not ours to delete (EISDIR: leave them). */
        if (unlinkat(tmp_fd, e->d_name, 0) != 0 && errno != ENOENT &&
            errno != EISDIR && errno != EPERM)
            rc = CERR_IO;
    }
    closedir(d);
    return rc;
}

/*
 * Open the file-system store under data_dir (created when missing, as are
 * blobs/ and tmp/) and empty tmp/.  0, CERR_NOMEM or CERR_IO; the caller
 * frees the store with blob_store_close.
 */
int
blob_store_open_fs(const char *data_dir, struct blob_store **out)
{
    struct fs_store *s;
    int root, rc;

    *out = NULL;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return CERR_NOMEM;
    s->base.ops = &fs_ops;
    s->tmp_fd = s->blobs_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->dir_mu, NULL);
    pthread_mutex_init(&s->leaf_mu, NULL);
    pthread_cond_init(&s->leaf_cv, NULL);
    s->leaf_uses = LEAF_USES;

    if ((rc = open_dir(AT_FDCWD, data_dir, &root)) != 0)
        goto fail;
    rc = open_dir(root, "tmp", &s->tmp_fd);
    if (rc == 0)
        rc = open_dir(root, "blobs", &s->blobs_fd);

    /* Make sure blobs/ itself survives a crash before anything in it. */
    if (rc == 0 && fsync(root) != 0)
        rc = CERR_IO;
    close(root);
    if (rc == 0)
        rc = sweep_tmp(s->tmp_fd);
    if (rc != 0)
        goto fail;
    *out = &s->base;
    return 0;

fail:
    fs_ops.close(&s->base);
    return rc;
}

static void
fs_close(struct blob_store *bs)
{
    struct fs_store *s = (struct fs_store *)bs;

    if (s->tmp_fd >= 0)
        close(s->tmp_fd);
    if (s->blobs_fd >= 0)
        close(s->blobs_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->dir_mu);
    pthread_mutex_destroy(&s->leaf_mu);
    pthread_cond_destroy(&s->leaf_cv);
    free(s);
}

/*
 * A fresh id: 16 bytes from the CSPRNG as lowercase hex, whose first four
 * digits are then replaced by the shared leaf's (a new random leaf every
 * LEAF_USES ids).  112 random bits keep ids unique.
 */
static int
new_id(struct fs_store *s, char id[BLOB_ID_LEN])
{
    uint8_t b[(BLOB_ID_LEN - 1) / 2];

    if (crypto_random(b, sizeof(b)) != 0)
        return CERR_INTERNAL;
    hex_encode(b, sizeof(b), id);

    pthread_mutex_lock(&s->leaf_mu);
    if (s->leaf_uses++ >= LEAF_USES) {
        memcpy(s->leaf, id, 4);
        s->leaf_uses = 1;
    }
    memcpy(id, s->leaf, 4);
    pthread_mutex_unlock(&s->leaf_mu);
    return 0;
}

static int
fs_writer_new(struct blob_store *bs, struct blob_writer **out)
{
    struct fs_store *s = (struct fs_store *)bs;
    struct fs_writer *w;
    int rc;

    if ((w = calloc(1, sizeof(*w))) == NULL)
        return CERR_NOMEM;
    if ((rc = new_id(s, w->id)) != 0) {
        free(w);
        return rc;
    }
    w->fd = openat(s->tmp_fd, w->id,
                   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        free(w);
        return CERR_IO;
    }
    *out = &w->base;
    return 0;
}

static int
fs_writer_write(struct blob_writer *bw, const void *data, size_t len)
{
    struct fs_writer *w = (struct fs_writer *)bw;
    struct fs_store *s = (struct fs_store *)bw->store;
    const char *p = data;
    ssize_t n;

    if (fault(s, FAIL_WRITE)) {
        w->failed = true;
        return CERR_IO;
    }
    while (len > 0) {
        n = write(w->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            w->failed = true;
            return CERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void
fs_writer_abort(struct blob_writer *bw)
{
    struct fs_writer *w = (struct fs_writer *)bw;
    struct fs_store *s = (struct fs_store *)bw->store;

    close(w->fd);
    unlinkat(s->tmp_fd, w->id, 0);
    free(w);
}

/*
 * Open directory name under parent, creating it when missing.  A new
 * directory has its parent fsynced before anyone may use it: dir_mu makes
 * a writer that finds it already there wait for that fsync to finish.
 */
static int
make_level(struct fs_store *s, int parent, const char *name, int *out)
{
    int rc = 0;

    pthread_mutex_lock(&s->dir_mu);
    if (mkdirat(parent, name, 0700) == 0)
        rc = fsync_dir(s, parent, ".");
    else if (errno != EEXIST)
        rc = CERR_IO;
    pthread_mutex_unlock(&s->dir_mu);
    if (rc != 0)
        return rc;
    *out = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return *out < 0 ? CERR_IO : 0;
}

/* Open blobs/ab/cd for id, creating the levels as needed. */
static int
open_fanout(struct fs_store *s, const char *id, int *out)
{
    char a[3] = { id[0], id[1], '\0' };
    char b[3] = { id[2], id[3], '\0' };
    int mid, rc;

    *out = -1;
    if ((rc = make_level(s, s->blobs_fd, a, &mid)) != 0)
        return rc;
    rc = make_level(s, mid, b, out);
    close(mid);
    return rc;
}

/* Note leaf "ab/cd" of id as renamed into; called with leaf_mu held. */
static bool
add_pending(struct fs_store *s, const char *id)
{
    char leaf[6];
    int i;

    snprintf(leaf, sizeof(leaf), "%.2s/%.2s", id, id + 2);
    for (i = 0; i < s->npending; i++)
        if (strcmp(s->pending[i], leaf) == 0)
            return true;
    if (s->npending == LEAF_PENDING)
        return false;
    memcpy(s->pending[s->npending++], leaf, sizeof(leaf));
    return true;
}

/* fsync the leaves in list[0..n); called without leaf_mu. */
static int
sync_leaves(struct fs_store *s, char (*list)[6], int n)
{
    int i, rc = 0;

    for (i = 0; i < n && rc == 0; i++)
        rc = fsync_dir(s, s->blobs_fd, list[i]);
    return rc;
}

/*
 * The body id was just renamed into its leaf: return once a directory
 * fsync that started after the rename has ended, leading one for every
 * pending leaf when none is in flight.  0 or CERR_IO (sticky).
 */
static int
group_dir_sync(struct fs_store *s, const char *id)
{
    char list[LEAF_PENDING][6];
    uint64_t mine, upto;
    int n, rc;

    /* A full pending list waits for the fsync in flight to drain it;
     * the sequence number is taken only once the leaf is listed. */
    pthread_mutex_lock(&s->leaf_mu);
    while (!add_pending(s, id) && s->dsync_err == 0)
        pthread_cond_wait(&s->leaf_cv, &s->leaf_mu);
    mine = ++s->renamed;
    while (s->dsynced < mine && s->dsync_err == 0) {
        if (s->dsyncing) {
            pthread_cond_wait(&s->leaf_cv, &s->leaf_mu);
            continue;
        }
        s->dsyncing = true;
        upto = s->renamed;
        n = s->npending;
        memcpy(list, s->pending, sizeof(list));
        s->npending = 0;
        pthread_mutex_unlock(&s->leaf_mu);
        rc = sync_leaves(s, list, n);
        pthread_mutex_lock(&s->leaf_mu);
        s->dsyncing = false;
        if (rc == 0)
            s->dsynced = upto;
        else
            s->dsync_err = CERR_IO;
        pthread_cond_broadcast(&s->leaf_cv);
    }
    rc = s->dsynced >= mine ? 0 : CERR_IO;
    pthread_mutex_unlock(&s->leaf_mu);
    return rc;
}

static int
fs_writer_commit(struct blob_writer *bw, char id[BLOB_ID_LEN])
{
    struct fs_writer *w = (struct fs_writer *)bw;
    struct fs_store *s = (struct fs_store *)bw->store;
    bool renamed = false;
    int dir = -1, rc;

    rc = w->failed ? CERR_IO : do_fsync(s, w->fd);
    if (rc == 0)
        rc = open_fanout(s, w->id, &dir);
    if (rc == 0 && (fault(s, FAIL_RENAME) ||
                    renameat(s->tmp_fd, w->id, dir, w->id) != 0))
        rc = CERR_IO;
    if (rc == 0) {
        renamed = true;
        rc = group_dir_sync(s, w->id);
    }

    /* A failed directory fsync leaves the name in doubt: take it back. */
    if (rc != 0 && renamed)
        unlinkat(dir, w->id, 0);
    else if (rc != 0)
        unlinkat(s->tmp_fd, w->id, 0);
    else
        memcpy(id, w->id, BLOB_ID_LEN);
    if (dir >= 0)
        close(dir);
    close(w->fd);
    free(w);
    return rc;
}

/* The path of a committed body relative to blobs/: "ab/cd/<id>". */
static void
blob_path(const char *id, char path[BLOB_ID_LEN + 6])
{
    snprintf(path, BLOB_ID_LEN + 6, "%.2s/%.2s/%s", id, id + 2, id);
}

static int
fs_reader_open(struct blob_store *bs, const char *id,
               struct blob_reader **out)
{
    struct fs_store *s = (struct fs_store *)bs;
    struct fs_reader *r;
    char path[BLOB_ID_LEN + 6];
    struct stat st;

    blob_path(id, path);
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return CERR_NOMEM;
    r->fd = openat(s->blobs_fd, path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        int err = errno;

        free(r);
        return err == ENOENT ? CERR_CORRUPT : CERR_IO;
    }
    if (fstat(r->fd, &st) != 0) {
        close(r->fd);
        free(r);
        return CERR_IO;
    }
    r->base.size = (uint64_t)st.st_size;
    *out = &r->base;
    return 0;
}

static int
fs_reader_pread(struct blob_reader *br, void *buf, size_t len, uint64_t off,
                size_t *got)
{
    struct fs_reader *r = (struct fs_reader *)br;
    char *p = buf;
    ssize_t n;

    while (*got < len) {
        n = pread(r->fd, p + *got, len - *got, (off_t)(off + *got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return CERR_IO;
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return 0;
}

static void
fs_reader_close(struct blob_reader *br)
{
    struct fs_reader *r = (struct fs_reader *)br;

    close(r->fd);
    free(r);
}

static int
fs_remove(struct blob_store *bs, const char *id)
{
    struct fs_store *s = (struct fs_store *)bs;
    char path[BLOB_ID_LEN + 6];

    blob_path(id, path);
    if (unlinkat(s->blobs_fd, path, 0) != 0 && errno != ENOENT)
        return CERR_IO;
    return 0;
}

/* Open a directory stream on name under dirfd; NULL when it is not one. */
static DIR *
open_stream(int dirfd, const char *name)
{
    DIR *d;
    int fd;

    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    if ((d = fdopendir(fd)) == NULL)
        close(fd);
    return d;
}

/* Is name a two-hex-digit fan-out directory name? */
static bool
fanout_name(const char *name)
{
    return strlen(name) == 2 && strspn(name, "0123456789abcdef") == 2;
}

/* Call fn for each body in one leaf directory blobs/ab/cd. */
static int
walk_leaf(DIR *leaf, int (*fn)(const char *, int64_t, void *), void *arg)
{
    struct dirent *e;
    struct stat st;
    int64_t ms;
    int rc = 0;

    while (rc == 0 && (e = readdir(leaf)) != NULL) {
        if (!blob_id_valid(e->d_name))
            continue;
        if (fstatat(dirfd(leaf), e->d_name, &st, 0) != 0)
            continue;           /* removed meanwhile */
        ms = (int64_t)st.st_mtim.tv_sec * 1000 +
             st.st_mtim.tv_nsec / 1000000;
        rc = fn(e->d_name, ms, arg);
    }
    return rc;
}

static int
fs_foreach(struct blob_store *bs,
           int (*fn)(const char *id, int64_t mtime_ms, void *arg), void *arg)
{
    struct fs_store *s = (struct fs_store *)bs;
    DIR *top, *mid, *leaf;
    struct dirent *a, *b;
    int rc = 0;

    if ((top = open_stream(s->blobs_fd, ".")) == NULL)
        return CERR_IO;
    while (rc == 0 && (a = readdir(top)) != NULL) {
        if (!fanout_name(a->d_name) ||
            (mid = open_stream(dirfd(top), a->d_name)) == NULL)
            continue;
        while (rc == 0 && (b = readdir(mid)) != NULL) {
            if (!fanout_name(b->d_name) ||
                (leaf = open_stream(dirfd(mid), b->d_name)) == NULL)
                continue;
            rc = walk_leaf(leaf, fn, arg);
            closedir(leaf);
        }
        closedir(mid);
    }
    closedir(top);
    return rc;
}

static void
fs_fail_nth(struct blob_store *bs, const char *op, int n)
{
    struct fs_store *s = (struct fs_store *)bs;
    static const char *const names[FAIL_NOPS] = { "write", "fsync",
                                                  "rename" };
    int i;

    pthread_mutex_lock(&s->mu);
    for (i = 0; i < FAIL_NOPS; i++)
        if (strcmp(op, names[i]) == 0)
            s->fail_in[i] = n > 0 ? n : 0;
    pthread_mutex_unlock(&s->mu);
}

static const struct blob_ops fs_ops = {
    .close = fs_close,
    .writer_new = fs_writer_new,
    .writer_write = fs_writer_write,
    .writer_commit = fs_writer_commit,
    .writer_abort = fs_writer_abort,
    .reader_open = fs_reader_open,
    .reader_pread = fs_reader_pread,
    .reader_close = fs_reader_close,
    .remove = fs_remove,
    .foreach = fs_foreach,
    .fail_nth = fs_fail_nth,
};
