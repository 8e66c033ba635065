/*
 * Object bodies as immutable files.
 *
 * A body is written once through a blob_writer into a temporary file under
 * DATA/tmp/, made durable (fsync), then renamed to DATA/blobs/ab/cd/<id>
 * where <id> is 32 random hex digits; from then on it is only read or
 * removed.  The metadata row that points at a blob is committed after the
 * blob, so a crash leaves at most an unreferenced file, never a row that
 * points at nothing.  Whatever sits in tmp/ when the store opens belonged
 * to a request that never finished and is deleted.
 *
 * The store is thread-safe; one writer or reader is used by one thread at
 * a time.  Back ends (the file system today) fill struct blob_ops in
 * store_int.h; the functions below dispatch to them.
 */
#ifndef COFFER_STORE_BLOB_H
#define COFFER_STORE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#define BLOB_ID_LEN 33                  /* 32 hex digits + NUL */

struct blob_store;
struct blob_writer;
struct blob_reader;

/*
 * Open the file-system store rooted at data_dir: create blobs/ and tmp/
 * when missing and delete everything left in tmp/.  0, CERR_NOMEM or
 * CERR_IO.  Free with blob_store_close.
 */
int blob_store_open_fs(const char *data_dir, struct blob_store **out);

/* Free the store; no writer or reader may still be open.  NULL is fine. */
void blob_store_close(struct blob_store *s);

/* Start a body: a new temporary file.  0, CERR_NOMEM or CERR_IO. */
int blob_writer_new(struct blob_store *s, struct blob_writer **out);

/* Append len bytes.  0 or CERR_IO; after a failure only abort is useful
 * (commit then fails too, so a body with a hole is never committed). */
int blob_writer_write(struct blob_writer *w, const void *data, size_t len);

/* Bytes written so far. */
uint64_t blob_writer_size(const struct blob_writer *w);

/*
 * Make the body durable and give it its id: fsync the file, rename it to
 * blobs/ab/cd/<id>, fsync the directory.  Always frees w; on failure
 * (CERR_IO) the temporary file is removed and id is left empty.
 */
int blob_writer_commit(struct blob_writer *w, char id[BLOB_ID_LEN]);

/* Drop an unfinished body: remove the temporary file and free w. */
void blob_writer_abort(struct blob_writer *w);

/*
 * Open a committed body.  CERR_CORRUPT when the id is malformed or the file
 * is missing (a row points at it, so that is damage), CERR_IO, CERR_NOMEM.
 */
int blob_reader_open(struct blob_store *s, const char *id,
                     struct blob_reader **out);

/*
 * Read up to len bytes at off into buf; *got is how many were read, 0 at
 * or past the end.  Short only at the end.  0 or CERR_IO.
 */
int blob_reader_pread(struct blob_reader *r, void *buf, size_t len,
                      uint64_t off, size_t *got);

/* The body's size in bytes, as stored. */
uint64_t blob_reader_size(const struct blob_reader *r);

/* Close a reader; NULL is fine. */
void blob_reader_close(struct blob_reader *r);

/* Remove a committed body.  A missing one is fine.  0 or CERR_IO. */
int blob_remove(struct blob_store *s, const char *id);

/*
 * Call fn for each committed body, with its id and its modification time
 * in ms since the epoch; a non-zero return from fn stops the walk and is
 * returned.  Used by the start-up sweep.  0, CERR_IO or fn's value.
 */
int blob_store_foreach(struct blob_store *s,
                       int (*fn)(const char *id, int64_t mtime_ms,
                                 void *arg),
                       void *arg);

/*
 * Test hook: make the nth next call of op fail with CERR_IO, where op is
 * "write", "fsync" or "rename" (n = 1: the very next one; n <= 0 turns the
 * hook off).  Counts across all writers of the store.
 */
void blob_store_fail_nth(struct blob_store *s, const char *op, int n);

#endif
