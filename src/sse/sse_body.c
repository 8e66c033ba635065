/*
 * The encrypted body format: how every object body (a single PUT, or one
 * part of a multipart upload) is laid out in its blob.
 *
 *   offset  size  field
 *        0     4  magic "CFB1"
 *        4     1  format version, 1
 *        5     1  cipher, 1 = AES-256-GCM
 *        6     2  reserved, zero
 *        8     4  segment size in plaintext bytes, big-endian, 65536
 *       12     8  nonce prefix, random per body
 *       20        segments
 *
 * Segment i holds plaintext bytes [i * 64 KiB, (i + 1) * 64 KiB) sealed
 * with AES-256-GCM under the body's data key: the ciphertext (as long as
 * the plaintext) then the 16-byte tag.  Its 12-byte nonce is the prefix,
 * then a big-endian 32-bit word of (i << 1) | last, where last is 1 only
 * for the final segment.  The AAD is the 20-byte header.
 *
 * Invariants: every segment but the last is full; the last holds 0 to
 * 64 KiB (0 only for an empty body, which is one empty last segment), so
 * the stored size is a function of the plaintext size alone.  The reader
 * knows the plaintext size from the metadata and refuses a blob of any
 * other size; the index in the nonce catches reordering, the last flag
 * catches dropping or appending whole segments, the tag catches any other
 * change, the AAD any change to the header.  A body never reuses a nonce:
 * the key is derived per body (sse_body_key) and the prefix is random.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "sse/sse.h"
#include "store/blob.h"

#define SEG SSE_SEGMENT_SIZE
#define SEALED_SEG (SEG + CRYPTO_TAG_LEN)
#define MAX_SEGMENTS (1ULL << 31)
#define AHEAD_SLOTS 8               /* segments decrypted ahead, 512 KiB */
#define AHEAD_MIN 64                /* segments left worth a thread for */
#define AHEAD_MAX 4                 /* helpers running at once */

static const uint8_t magic[4] = { 'C', 'F', 'B', '1' };

/* Helpers running; past AHEAD_MAX readers decrypt on their own thread. */
static atomic_int helpers;

struct sse_writer {
    struct blob_writer *bw;
    struct crypto_aead *aead;
    uint8_t hdr[SSE_HEADER_SIZE];
    uint8_t *seg;               /* SEALED_SEG bytes */
    size_t fill;
    uint64_t index;             /* of the segment being filled */
    uint64_t total;
    int err;                    /* sticky after a failure */
    bool finished;
};

struct sse_reader {
    struct blob_reader *br;
    struct crypto_aead *aead;
    uint8_t hdr[SSE_HEADER_SIZE];
    uint64_t plain;
    uint64_t nseg;
    uint64_t wanted;            /* segments before this may be read */
    uint8_t *seg;               /* the first segment's sealed length */
    size_t dirty;               /* seg bytes that have held plaintext */
    int64_t cached;             /* index of the plaintext in seg, -1 none */
    struct ahead *ahead;        /* decrypting ahead of in-order reads */
    bool no_ahead;              /* it stopped (or never could start) */
};

/*
 * Decrypt-ahead for a large body read in order.  Read, decrypt and send
 * took turns on the connection's thread, so the second core idled while
 * AES-GCM and the page-cache copy (over half the thread's time) ran.  A
 * helper thread reads and decrypts segment i into slot i % AHEAD_SLOTS
 * while the reader copies earlier ones out: a ring with one producer
 * and one consumer, [taken, filled) ready.  The helper owns the blob
 * reader and the AEAD context until it is joined; each slot belongs to
 * whichever side the two counters say.
 */
struct ahead {
    struct sse_reader *r;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t *slots;             /* AHEAD_SLOTS * SEALED_SEG */
    uint64_t filled;            /* segments before this are decrypted */
    uint64_t taken;             /* segments before this are copied out */
    int err;                    /* segment `filled` failed with this */
    bool stop;
};

static void
put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
        (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
segment_count(uint64_t plain)
{
    return plain == 0 ? 1 : (plain + SEG - 1) / SEG;
}

/*
 * Stored size: header, every segment's tag, and the plaintext itself
 * (GCM adds nothing else).
 */
uint64_t
sse_stored_size(uint64_t plain_size)
{
    return SSE_HEADER_SIZE + segment_count(plain_size) * CRYPTO_TAG_LEN +
        plain_size;
}

static void
make_nonce(const uint8_t *hdr, uint64_t index, bool last,
           uint8_t nonce[CRYPTO_NONCE_LEN])
{
    memcpy(nonce, hdr + 12, 8);
    put_be32(nonce + 8, (uint32_t)(index << 1) | (last ? 1 : 0));
}

/* Seal the buffered plaintext as segment w->index and append it. */
static int
seal_segment(struct sse_writer *w, bool last)
{
    uint8_t nonce[CRYPTO_NONCE_LEN];
    int rc;

    if (w->index >= MAX_SEGMENTS)
        return CERR_ENTITY_TOO_LARGE;
    make_nonce(w->hdr, w->index, last, nonce);
    rc = crypto_aead_seal(w->aead, nonce, w->hdr, sizeof(w->hdr), w->seg,
                          w->fill, w->seg, w->seg + w->fill);
    /* Sealed in place, the buffer holds no plaintext any more. */
    if (rc == 0)
        rc = blob_writer_write(w->bw, w->seg, w->fill + CRYPTO_TAG_LEN);
    else
        crypto_wipe(w->seg, SEALED_SEG);

    w->fill = 0;
    w->index++;
    return rc;
}

/*
 * Start an encrypted body in bw: write the header with a fresh nonce
 * prefix.  The key is copied (into the AEAD context, wiped on free).
 * Returns 0, CERR_NOMEM, CERR_INTERNAL or the blob writer's error; *out
 * is freed with sse_writer_free.
 */
int
sse_writer_new(struct blob_writer *bw, const uint8_t key[32],
               struct sse_writer **out)
{
    struct sse_writer *w;
    int rc;

    *out = NULL;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return CERR_NOMEM;
    w->bw = bw;
    w->seg = malloc(SEALED_SEG);
    w->aead = crypto_aead_new(key);
    if (w->seg == NULL || w->aead == NULL) {
        rc = CERR_NOMEM;
        goto fail;
    }

    memcpy(w->hdr, magic, 4);
    w->hdr[4] = 1;
    w->hdr[5] = 1;
    put_be32(w->hdr + 8, SEG);
    rc = crypto_random(w->hdr + 12, 8);
    if (rc == 0)
        rc = blob_writer_write(bw, w->hdr, sizeof(w->hdr));
    if (rc != 0)
        goto fail;

    *out = w;
    return 0;
fail:
    sse_writer_free(w);
    return rc;
}

/*
 * Append plaintext.  A full segment is sealed only when more data
 * arrives, because only finish knows which segment is the last.  0 or
 * the first error, which every later call repeats.
 */
int
sse_writer_write(struct sse_writer *w, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t n;

    if (w->err == 0 && w->finished)
        w->err = CERR_INTERNAL;
    while (w->err == 0 && len > 0) {
        if (w->fill == SEG)
            w->err = seal_segment(w, false);
        if (w->err != 0)
            break;
        n = SEG - w->fill;
        if (n > len)
            n = len;
        memcpy(w->seg + w->fill, p, n);
        w->fill += n;
        w->total += n;
        p += n;
        len -= n;
    }
    return w->err;
}

/* Seal what is buffered as the last segment.  0 or the first error. */
int
sse_writer_finish(struct sse_writer *w)
{
    if (w->err == 0 && w->finished)
        w->err = CERR_INTERNAL;
    if (w->err == 0)
        w->err = seal_segment(w, true);
    w->finished = true;
    return w->err;
}

/* Plaintext bytes accepted so far. */
uint64_t
sse_writer_size(const struct sse_writer *w)
{
    return w->total;
}

/* Wipe the buffered plaintext and the key, free w (NULL is fine). */
void
sse_writer_free(struct sse_writer *w)
{
    if (w == NULL)
        return;
    if (w->seg != NULL)
        crypto_wipe(w->seg, SEALED_SEG);
    free(w->seg);
    crypto_aead_free(w->aead);
    free(w);
}

/* Read exactly len bytes at off, or CERR_CORRUPT when the blob is short. */
static int
read_exact(struct blob_reader *br, void *buf, size_t len, uint64_t off)
{
    size_t got;
    int rc;

    rc = blob_reader_pread(br, buf, len, off, &got);
    if (rc != 0)
        return rc;
    return got == len ? 0 : CERR_CORRUPT;
}

static size_t
segment_len(const struct sse_reader *r, uint64_t i)
{
    uint64_t start = i * SEG;

    return r->plain - start < SEG ? (size_t)(r->plain - start) : SEG;
}

static int open_segment(struct sse_reader *r, uint64_t i, uint8_t *out);

static bool
header_ok(const uint8_t *hdr)
{
    return memcmp(hdr, magic, 4) == 0 && hdr[4] == 1 && hdr[5] == 1 &&
        hdr[6] == 0 && hdr[7] == 0 && get_be32(hdr + 8) == SEG;
}

/*
 * Open an encrypted body for random access.  The header must be one this
 * code writes and the blob exactly as long as plain_size requires, else
 * CERR_CORRUPT; also CERR_NOMEM or the blob store's error.  The key is
 * copied; free *out with sse_reader_close.
 */
int
sse_reader_open(struct blob_store *bs, const char *blob_id,
                const uint8_t key[32], uint64_t plain_size,
                struct sse_reader **out)
{
    struct sse_reader *r;
    int rc;

    *out = NULL;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return CERR_NOMEM;
    r->cached = -1;
    r->plain = plain_size;
    r->nseg = segment_count(plain_size);
    r->wanted = r->nseg;
    if (r->nseg > MAX_SEGMENTS) {
        rc = CERR_CORRUPT;
        goto fail;
    }

    rc = blob_reader_open(bs, blob_id, &r->br);
    if (rc != 0)
        goto fail;
    rc = read_exact(r->br, r->hdr, sizeof(r->hdr), 0);
    if (rc == 0 && (!header_ok(r->hdr) ||
                    blob_reader_size(r->br) != sse_stored_size(plain_size)))
        rc = CERR_CORRUPT;
    if (rc != 0)
        goto fail;

    /* No segment is longer than the first: a small body, a small buffer. */
    r->seg = malloc(segment_len(r, 0) + CRYPTO_TAG_LEN);
    r->aead = crypto_aead_new(key);
    if (r->seg == NULL || r->aead == NULL) {
        rc = CERR_NOMEM;
        goto fail;
    }

    /* An empty body is never read, so check its one segment now. */
    if (plain_size == 0 && (rc = open_segment(r, 0, r->seg)) != 0)
        goto fail;
    *out = r;
    return 0;
fail:
    sse_reader_close(r);
    return rc;
}

/*
 * Read sealed segment i into `sealed` and decrypt it into out, which may
 * be `sealed` itself.  On a failure to authenticate out is wiped.
 */
static int
unseal(struct sse_reader *r, uint64_t i, uint8_t *sealed, uint8_t *out)
{
    uint8_t nonce[CRYPTO_NONCE_LEN];
    size_t len = segment_len(r, i);
    int rc;

    rc = read_exact(r->br, sealed, len + CRYPTO_TAG_LEN,
                    SSE_HEADER_SIZE + i * SEALED_SEG);
    if (rc != 0)
        return rc;

    make_nonce(r->hdr, i, i + 1 == r->nseg, nonce);
    rc = crypto_aead_open(r->aead, nonce, r->hdr, sizeof(r->hdr), sealed,
                          len, sealed + len, out);
    if (rc != 0) {
        crypto_wipe(out, len);
        return CERR_CORRUPT;
    }
    return 0;
}

/*
 * Segment i into out: r->seg itself (then it stays cached for the next
 * read) or the caller's buffer, which saves a copy of every whole
 * segment read in order.
 */
static int
open_segment(struct sse_reader *r, uint64_t i, uint8_t *out)
{
    size_t len = segment_len(r, i);
    int rc;

    r->cached = -1;
    rc = unseal(r, i, r->seg, out);
    if (rc == 0 && out == r->seg) {
        r->cached = (int64_t)i;
        if (r->dirty < len)
            r->dirty = len;
    }
    return rc;
}

static uint8_t *
ahead_slot(struct ahead *a, uint64_t i)
{
    return a->slots + (i % AHEAD_SLOTS) * SEALED_SEG;
}

/* The helper: fill free slots in order until the end, a failure or stop. */
static void *
ahead_main(void *arg)
{
    struct ahead *a = arg;
    uint64_t i;
    int rc = 0;

    pthread_mutex_lock(&a->mu);
    while (!a->stop && rc == 0 && a->filled < a->r->wanted) {
        if (a->filled - a->taken == AHEAD_SLOTS) {
            pthread_cond_wait(&a->cv, &a->mu);
            continue;
        }
        i = a->filled;
        pthread_mutex_unlock(&a->mu);
        rc = unseal(a->r, i, ahead_slot(a, i), ahead_slot(a, i));
        pthread_mutex_lock(&a->mu);
        if (rc == 0)
            a->filled++;
        else
            a->err = rc;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/*
 * Start decrypting ahead from segment i; false when it cannot start.
 * A helper pays off only while a core is spare, and each holds 512 KiB,
 * so few run at once.
 */
static bool
ahead_start(struct sse_reader *r, uint64_t i)
{
    struct ahead *a;

    if (atomic_fetch_add(&helpers, 1) >= AHEAD_MAX) {
        atomic_fetch_sub(&helpers, 1);
        return false;
    }
    if ((a = calloc(1, sizeof(*a))) == NULL) {
        atomic_fetch_sub(&helpers, 1);
        return false;
    }
    a->r = r;
    a->filled = a->taken = i;
    a->slots = malloc(AHEAD_SLOTS * SEALED_SEG);
    if (a->slots == NULL)
        goto fail;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->thread, NULL, ahead_main, a) != 0) {
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        goto fail;
    }
    r->ahead = a;
    return true;
fail:
    free(a->slots);
    free(a);
    atomic_fetch_sub(&helpers, 1);
    return false;
}

/* Stop and join a running helper, wipe what it decrypted; for good. */
static void
ahead_stop(struct sse_reader *r)
{
    struct ahead *a = r->ahead;

    if (a == NULL)
        return;
    r->no_ahead = true;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);

    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    crypto_wipe(a->slots, AHEAD_SLOTS * SEALED_SEG);
    free(a->slots);
    free(a);
    r->ahead = NULL;
    atomic_fetch_sub(&helpers, 1);
}

/* Copy segment i, the next in order, out of the ring into out. */
static int
ahead_take(struct ahead *a, uint64_t i, uint8_t *out, size_t len)
{
    int rc;

    pthread_mutex_lock(&a->mu);
    while (a->filled == i && a->err == 0)
        pthread_cond_wait(&a->cv, &a->mu);
    rc = a->filled > i ? 0 : a->err;
    pthread_mutex_unlock(&a->mu);
    if (rc != 0)
        return rc;

    memcpy(out, ahead_slot(a, i), len);
    pthread_mutex_lock(&a->mu);
    a->taken = i + 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

/*
 * A whole segment i into out: from the helper when i is the next it has
 * (starting one when enough of a body is left), else directly.  Any
 * other access stops the helper first, so only one thread at a time
 * uses the blob reader and the AEAD context.
 */
static int
whole_segment(struct sse_reader *r, uint64_t i, uint8_t *out)
{
    if (r->ahead == NULL && !r->no_ahead && r->wanted > i &&
        r->wanted - i >= AHEAD_MIN &&
        !ahead_start(r, i))
        r->no_ahead = true;
    if (r->ahead != NULL && r->ahead->taken == i && i < r->wanted)
        return ahead_take(r->ahead, i, out, segment_len(r, i));
    ahead_stop(r);
    return open_segment(r, i, out);
}

/*
 * Copy plaintext [off, off + cap) (clipped to the body) into buf, one
 * segment at a time: a whole segment that is not cached is decrypted
 * straight into buf, a part of one through the cache.  0, CERR_CORRUPT
 * when a segment fails to authenticate, or the blob store's error; *got
 * counts bytes copied before any failure.
 */
int
sse_reader_read(struct sse_reader *r, uint64_t off, void *buf, size_t cap,
                size_t *got)
{
    uint8_t *p = buf;
    uint64_t i, in;
    size_t n;
    int rc;

    *got = 0;
    while (cap > 0 && off < r->plain) {
        i = off / SEG;
        in = off % SEG;
        n = segment_len(r, i) - in;
        if (n > cap)
            n = cap;

        if (r->cached == (int64_t)i) {
            memcpy(p, r->seg + in, n);
        } else if (in == 0 && n == segment_len(r, i)) {
            if ((rc = whole_segment(r, i, p)) != 0)
                return rc;
        } else {
            ahead_stop(r);
            if ((rc = open_segment(r, i, r->seg)) != 0)
                return rc;
            memcpy(p, r->seg + in, n);
        }
        p += n;
        off += n;
        cap -= n;
        *got += n;
    }
    return 0;
}

/*
 * Reads will end before plain offset `end`, so nothing past it is worth
 * decrypting ahead: a short Range of a large body starts no helper, and
 * a long one stops the helper where the Range ends.  Call before the
 * first read.
 */
void
sse_reader_limit(struct sse_reader *r, uint64_t end)
{
    uint64_t n = end / SEG + (end % SEG != 0);

    if (n < r->wanted)
        r->wanted = n;
}

/*
 * Wipe the cached plaintext and the key, free r (NULL is fine).  Only
 * the bytes that ever held plaintext are wiped: a body read whole in
 * order never decrypts into seg, and wiping 64 KiB of ciphertext was a
 * tenth of the work of a small GET.
 */
void
sse_reader_close(struct sse_reader *r)
{
    if (r == NULL)
        return;
    ahead_stop(r);
    if (r->seg != NULL)
        crypto_wipe(r->seg, r->dirty);
    free(r->seg);
    crypto_aead_free(r->aead);
    blob_reader_close(r->br);
    free(r);
}
