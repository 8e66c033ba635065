/*
 * Public entry points of the blob store: thin dispatchers to the back
 * end's struct blob_ops (store_int.h), plus the id check every back end
 * shares.
 */
#include "store/store_int.h"

#include <stdbool.h>
#include <string.h>

#include "util/err.h"

/*
 * True when id is exactly 32 lowercase hex digits.  Ids come back from
 * metadata rows; checking them keeps a damaged row from naming a path
 * outside blobs/.
 */
bool
blob_id_valid(const char *id)
{
    size_t i;

    if (id == NULL || strlen(id) != BLOB_ID_LEN - 1)
        return false;
    for (i = 0; i < BLOB_ID_LEN - 1; i++) {
        char c = id[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

/* Close the store through its back end; NULL is fine. */
void
blob_store_close(struct blob_store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

/* Start a body in a temporary file; 0, CERR_NOMEM or CERR_IO. */
int
blob_writer_new(struct blob_store *s, struct blob_writer **out)
{
    int rc;

    *out = NULL;
    rc = s->ops->writer_new(s, out);
    if (rc == 0) {
        (*out)->store = s;
        (*out)->size = 0;
    }
    return rc;
}

/* Append to a body and count the bytes; 0 or CERR_IO. */
int
blob_writer_write(struct blob_writer *w, const void *data, size_t len)
{
    int rc;

    if (len == 0)
        return 0;
    rc = w->store->ops->writer_write(w, data, len);
    if (rc == 0)
        w->size += len;
    return rc;
}

/* Bytes written to the body so far. */
uint64_t
blob_writer_size(const struct blob_writer *w)
{
    return w->size;
}

/* Make the body durable and name it; always frees w.  0 or CERR_IO. */
int
blob_writer_commit(struct blob_writer *w, char id[BLOB_ID_LEN])
{
    id[0] = '\0';
    return w->store->ops->writer_commit(w, id);
}

/* Drop an unfinished body; NULL is fine. */
void
blob_writer_abort(struct blob_writer *w)
{
    if (w != NULL)
        w->store->ops->writer_abort(w);
}

/* Open a committed body; CERR_CORRUPT for a bad or missing id. */
int
blob_reader_open(struct blob_store *s, const char *id,
                 struct blob_reader **out)
{
    int rc;

    *out = NULL;
    if (!blob_id_valid(id))
        return CERR_CORRUPT;
    rc = s->ops->reader_open(s, id, out);
    if (rc == 0)
        (*out)->store = s;
    return rc;
}

/* Positional read; *got is short only at the end.  0 or CERR_IO. */
int
blob_reader_pread(struct blob_reader *r, void *buf, size_t len,
                  uint64_t off, size_t *got)
{
    *got = 0;
    if (len == 0 || off >= r->size)
        return 0;
    return r->store->ops->reader_pread(r, buf, len, off, got);
}

/* Size of the stored body in bytes. */
uint64_t
blob_reader_size(const struct blob_reader *r)
{
    return r->size;
}

/* Close a reader; NULL is fine. */
void
blob_reader_close(struct blob_reader *r)
{
    if (r != NULL)
        r->store->ops->reader_close(r);
}

/* Remove a committed body; a missing one is fine.  A malformed id is
 * CERR_INVALID_ARGUMENT: it names no file the store could have made. */
int
blob_remove(struct blob_store *s, const char *id)
{
    if (!blob_id_valid(id))
        return CERR_INVALID_ARGUMENT;
    return s->ops->remove(s, id);
}

/* Walk the committed bodies; see blob.h. */
int
blob_store_foreach(struct blob_store *s,
                   int (*fn)(const char *id, int64_t mtime_ms, void *arg),
                   void *arg)
{
    return s->ops->foreach(s, fn, arg);
}

/* Arm the fault-injection hook of the back end. */
void
blob_store_fail_nth(struct blob_store *s, const char *op, int n)
{
    s->ops->fail_nth(s, op, n);
}
