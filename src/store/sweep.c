/*
 * The start-up sweep, the one place where metadata and blobs meet.
 *
 * Two kinds of leftovers exist.  Garbage-table ids: blobs a committed
 * change released whose files the caller had not removed yet (a crash, or
 * a failed unlink).  Orphans: bodies committed to blobs/ whose metadata
 * transaction then failed or never ran.  The first are removed outright;
 * the second only when older than a grace period, since a body is
 * committed before the row that points at it.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/timefmt.h"

struct orphan_walk {
    struct meta *m;
    struct blob_store *bs;
    int64_t cutoff_ms;
    size_t removed;
    int rc;                     /* first error, kept while walking on */
};

/* Remove every blob listed in the garbage table, then forget those ids. */
static int
sweep_garbage(struct meta *m, struct blob_store *bs, size_t *removed)
{
    struct meta_garbage g, done;
    size_t i;
    int rc, first = 0;

    if ((rc = meta_garbage_pending(m, &g)) != 0)
        return rc;
    done.ids = g.ids;
    done.n = 0;

    /* Compact the ids whose removal worked to the front of the list. */
    for (i = 0; i < g.n; i++) {
        rc = blob_remove(bs, g.ids[i]);
        if (rc == 0 || rc == CERR_INVALID_ARGUMENT)
            memmove(done.ids[done.n++], g.ids[i], sizeof(g.ids[i]));
        else if (first == 0)
            first = rc;
    }
    *removed += done.n;
    rc = meta_garbage_forget(m, &done);
    meta_garbage_clear(&g);
    return first != 0 ? first : rc;
}

/* blob_store_foreach callback: remove one old, unreferenced body. */
static int
visit(const char *id, int64_t mtime_ms, void *arg)
{
    struct orphan_walk *w = arg;
    bool used;
    int rc;

    if (mtime_ms > w->cutoff_ms)
        return 0;
    rc = meta_blob_referenced(w->m, id, &used);
    if (rc == 0 && !used) {
        rc = blob_remove(w->bs, id);
        if (rc == 0)
            w->removed++;
    }
    if (rc != 0 && w->rc == 0)
        w->rc = rc;
    return 0;
}

/*
 * Remove garbage-table blobs and old orphan bodies; see meta.h.  Returns
 * the first error met; everything that could be removed was.
 */
int
meta_sweep(struct meta *m, struct blob_store *bs, int64_t min_age_ms,
           size_t *removed)
{
    struct orphan_walk w = { m, bs, 0, 0, 0 };
    int rc, rc2;

    rc = sweep_garbage(m, bs, &w.removed);
    w.cutoff_ms = time_now_ms() - (min_age_ms > 0 ? min_age_ms : 0);
    rc2 = blob_store_foreach(bs, visit, &w);
    if (removed != NULL)
        *removed = w.removed;
    if (rc != 0)
        return rc;
    return rc2 != 0 ? rc2 : w.rc;
}
