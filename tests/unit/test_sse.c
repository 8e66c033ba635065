/*
 * Unit tests of sse/: the encrypted body format at every boundary and
 * under tampering, request header parsing (sse.md §13 header rows), the
 * choice of a new object's encryption against a real KMS and metadata
 * store in a temporary directory (§13 rows 1-15), SSE-C key handling, and
 * the bucket-key cache's effect on KMS call counts.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "kms/kms.h"
#include "sse/sse.h"
#include "store/blob.h"
#include "store/meta.h"
#include "util/buf.h"
#include "util/codec.h"
#include "util/headers.h"

#define SEG SSE_SEGMENT_SIZE
#define ACCOUNT "111122223333"
#define REGION "us-east-1"

/* botocore's SSE-C test key (sse.md §13). */
#define SSEC_KEY "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define SSEC_MD5 "hRasmdxgYDKV3nvbahU1MA=="
/* Another 32-byte key: 32 times 'A', and its MD5. */
#define SSEC_KEY2 "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
#define SSEC_MD52 "UhbdzFjo2t5SVgded/ZC2g=="

static const struct kms_caller root = {
    .principal_arn = "arn:aws:iam::" ACCOUNT ":root",
    .account = ACCOUNT,
    .request_id = "test-request",
    .source_ip = "127.0.0.1",
};

/* Everything a test needs, in a fresh temporary data directory. */
struct fix {
    char dir[64];
    struct blob_store *bs;
    struct meta *m;
    struct kms *k;
    struct kms_client kc;
    struct sse *s;
    char key_id[64];
    char key_arn[KMS_ARN_MAX];
    char key2_arn[KMS_ARN_MAX];
};

static uint8_t *
pattern(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len ? len : 1);
    size_t i;

    assert_non_null(p);
    for (i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 131 + seed + (i >> 8));
    return p;
}

static void
rm_rf(const char *dir)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static struct fix *
fix_new(void)
{
    struct fix *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/coffer-sse-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(blob_store_open_fs(f->dir, &f->bs), 0);
    return f;
}

static void
fix_free(struct fix *f)
{
    sse_close(f->s);
    kms_close(f->k);
    if (f->m != NULL)
        meta_close(f->m);
    blob_store_close(f->bs);
    rm_rf(f->dir);
    free(f);
}

static int
setup_blob(void **state)
{
    *state = fix_new();
    return 0;
}

static int
teardown(void **state)
{
    fix_free(*state);
    return 0;
}

/* ---- the body format ---- */

/* Write data as one body under key; returns the blob id in id. */
static void
put_body(struct fix *f, const uint8_t key[32], const uint8_t *data,
         size_t len, size_t chunk, char id[BLOB_ID_LEN])
{
    struct blob_writer *bw;
    struct sse_writer *w;
    size_t off, n;

    assert_int_equal(blob_writer_new(f->bs, &bw), 0);
    assert_int_equal(sse_writer_new(bw, key, &w), 0);
    for (off = 0; off < len; off += n) {
        n = len - off < chunk ? len - off : chunk;
        assert_int_equal(sse_writer_write(w, data + off, n), 0);
    }
    assert_int_equal(sse_writer_finish(w), 0);
    assert_int_equal(sse_writer_size(w), len);
    sse_writer_free(w);
    assert_int_equal(blob_writer_commit(bw, id), 0);
}

/* Read [off, off+len) and compare with data. */
static void
check_range(struct sse_reader *r, const uint8_t *data, uint64_t size,
            uint64_t off, size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);
    size_t got, want;

    assert_non_null(buf);
    want = off >= size ? 0 : (size - off < len ? size - off : len);
    assert_int_equal(sse_reader_read(r, off, buf, len, &got), 0);
    assert_int_equal(got, want);
    assert_memory_equal(buf, data + (off < size ? off : size), want ? want
                        : 0);
    free(buf);
}

static void
blob_path(struct fix *f, const char *id, char *path, size_t cap)
{
    snprintf(path, cap, "%s/blobs/%.2s/%.2s/%s", f->dir, id, id + 2, id);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *p;
    long n;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    rewind(fp);
    p = malloc(n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return p;
}

static void
spew(const char *path, const uint8_t *p, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, len, fp), len);
    fclose(fp);
}

/* Open id as plain bytes and read it all; the first error, or 0. */
static int
read_all(struct fix *f, const char *id, const uint8_t key[32],
         uint64_t plain, const uint8_t *want)
{
    struct sse_reader *r;
    uint8_t *buf = malloc(plain + 1);
    size_t got = 0;
    int rc;

    assert_non_null(buf);
    rc = sse_reader_open(f->bs, id, key, plain, &r);
    if (rc == 0) {
        rc = sse_reader_read(r, 0, buf, plain, &got);
        sse_reader_close(r);
    }
    if (rc == 0 && want != NULL) {
        assert_int_equal(got, plain);
        assert_memory_equal(buf, want, plain);
    }
    free(buf);
    return rc;
}

static void
test_stored_size(void **state)
{
    (void)state;
    assert_int_equal(sse_stored_size(0), 20 + 16);
    assert_int_equal(sse_stored_size(1), 20 + 16 + 1);
    assert_int_equal(sse_stored_size(SEG), 20 + 16 + SEG);
    assert_int_equal(sse_stored_size(SEG + 1), 20 + 32 + SEG + 1);
    assert_int_equal(sse_stored_size(3 * SEG), 20 + 48 + 3 * SEG);
}

/* Every size around the segment edges round-trips, written in odd
 * chunks, and the blob has exactly the predicted size. */
static void
test_body_round_trip_sizes(void **state)
{
    static const size_t sizes[] = { 0, 1, 15, 16, SEG - 1, SEG, SEG + 1,
                                    2 * SEG, 3 * SEG, 3 * SEG + 5 };
    static const size_t chunks[] = { 1000, 7, SEG, 3 * SEG };
    struct fix *f = *state;
    char id[BLOB_ID_LEN], path[256];
    uint8_t key[32];
    struct stat st;
    size_t i;

    memset(key, 0x42, sizeof(key));
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *data = pattern(sizes[i], (unsigned)i);

        put_body(f, key, data, sizes[i], chunks[i % 4], id);
        blob_path(f, id, path, sizeof(path));
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal((uint64_t)st.st_size, sse_stored_size(sizes[i]));
        assert_int_equal(read_all(f, id, key, sizes[i], data), 0);
        free(data);
    }
}

/* Ranges across segment edges, and reads past the end. */
static void
test_body_ranges(void **state)
{
    static const uint64_t offs[] = { 0, 1, SEG - 1, SEG, SEG + 1,
                                     2 * SEG - 3, 3 * SEG - 1, 3 * SEG,
                                     3 * SEG + 6, 3 * SEG + 7, 5 * SEG };
    static const size_t lens[] = { 0, 1, 2, 16, SEG, SEG + 2, 3 * SEG + 7 };
    struct fix *f = *state;
    uint64_t size = 3 * SEG + 7;
    uint8_t *data = pattern(size, 9);
    struct sse_reader *r;
    char id[BLOB_ID_LEN];
    uint8_t key[32];
    size_t i, j;

    memset(key, 7, sizeof(key));
    put_body(f, key, data, size, 4096, id);
    assert_int_equal(sse_reader_open(f->bs, id, key, size, &r), 0);
    for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
        for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++)
            check_range(r, data, size, offs[i], lens[j]);
    /* sse.md §13 row 36's range, on a 200000-byte body. */
    sse_reader_close(r);
    free(data);

    size = 200000;
    data = pattern(size, 36);
    put_body(f, key, data, size, 8192, id);
    assert_int_equal(sse_reader_open(f->bs, id, key, size, &r), 0);
    check_range(r, data, size, 65530, 16);
    sse_reader_close(r);
    free(data);
}

/* Reads of a few bytes at every offset of a multi-segment body. */
static void
test_body_every_offset(void **state)
{
    struct fix *f = *state;
    uint64_t size = 2 * SEG + 300, off;
    uint8_t *data = pattern(size, 3);
    struct sse_reader *r;
    char id[BLOB_ID_LEN];
    uint8_t key[32], buf[5];
    size_t got;

    memset(key, 1, sizeof(key));
    put_body(f, key, data, size, SEG, id);
    assert_int_equal(sse_reader_open(f->bs, id, key, size, &r), 0);
    for (off = 0; off <= size; off++) {
        assert_int_equal(sse_reader_read(r, off, buf, sizeof(buf), &got), 0);
        assert_int_equal(got, size - off < 5 ? size - off : 5);
        assert_memory_equal(buf, data + off, got);
    }
    /* Backwards too, so the one-segment cache is missed each time. */
    for (off = size; off-- > 0; off -= off > 997 ? 997 : off)
        check_range(r, data, size, off, 3);
    sse_reader_close(r);
    free(data);
}

static void
test_body_wrong_key(void **state)
{
    struct fix *f = *state;
    uint8_t key[32], other[32], *data = pattern(100, 1);
    char id[BLOB_ID_LEN];

    memset(key, 1, sizeof(key));
    memset(other, 2, sizeof(other));
    put_body(f, key, data, 100, 100, id);
    assert_int_equal(read_all(f, id, other, 100, NULL), CERR_CORRUPT);
    put_body(f, key, data, 0, 100, id);
    assert_int_equal(read_all(f, id, other, 0, NULL), CERR_CORRUPT);
    free(data);
}

/* Same bytes, same key: two bodies differ (random nonce prefix). */
static void
test_body_nonce_prefix_random(void **state)
{
    struct fix *f = *state;
    uint8_t key[32], *data = pattern(50, 5), *a, *b;
    char id1[BLOB_ID_LEN], id2[BLOB_ID_LEN], p1[256], p2[256];
    size_t la, lb;

    memset(key, 9, sizeof(key));
    put_body(f, key, data, 50, 50, id1);
    put_body(f, key, data, 50, 50, id2);
    blob_path(f, id1, p1, sizeof(p1));
    blob_path(f, id2, p2, sizeof(p2));
    a = slurp(p1, &la);
    b = slurp(p2, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, "CFB1\x01\x01\x00\x00\x00\x01\x00\x00", 12);
    assert_memory_not_equal(a + 12, b + 12, 8);
    free(a);
    free(b);
    free(data);
}

/* Flipping any one bit of a small body's blob is caught. */
static void
test_body_flip_every_byte(void **state)
{
    struct fix *f = *state;
    uint8_t key[32], *data = pattern(40, 2), *raw;
    char id[BLOB_ID_LEN], path[256];
    size_t len, i;

    memset(key, 3, sizeof(key));
    put_body(f, key, data, 40, 40, id);
    blob_path(f, id, path, sizeof(path));
    raw = slurp(path, &len);
    assert_int_equal(len, sse_stored_size(40));
    for (i = 0; i < len; i++) {
        raw[i] ^= 0x10;
        spew(path, raw, len);
        assert_int_equal(read_all(f, id, key, 40, NULL), CERR_CORRUPT);
        raw[i] ^= 0x10;
    }
    spew(path, raw, len);
    assert_int_equal(read_all(f, id, key, 40, data), 0);
    free(raw);
    free(data);
}

/* In a multi-segment body: header bytes, each segment's first, middle
 * and last ciphertext bytes and every tag byte. */
static void
test_body_flip_segments(void **state)
{
    struct fix *f = *state;
    uint64_t size = 2 * SEG + 100;
    uint8_t key[32], *data = pattern(size, 4), *raw;
    char id[BLOB_ID_LEN], path[256];
    size_t len, pos[128], n = 0, i, s, seglen, base;

    memset(key, 4, sizeof(key));
    put_body(f, key, data, size, 10000, id);
    blob_path(f, id, path, sizeof(path));
    raw = slurp(path, &len);

    for (i = 0; i < 20; i++)
        pos[n++] = i;
    for (s = 0; s < 3; s++) {
        base = 20 + s * (SEG + 16);
        seglen = s < 2 ? SEG : 100;
        pos[n++] = base;
        pos[n++] = base + seglen / 2;
        pos[n++] = base + seglen - 1;
        for (i = 0; i < 16; i++)
            pos[n++] = base + seglen + i;
    }
    for (i = 0; i < n; i++) {
        raw[pos[i]] ^= 0x01;
        spew(path, raw, len);
        assert_int_equal(read_all(f, id, key, size, NULL), CERR_CORRUPT);
        raw[pos[i]] ^= 0x01;
    }
    free(raw);
    free(data);
}

/*
 * Whole segments are decrypted straight into the caller's buffer, parts
 * of one through the one-segment cache; any mix of the two reads the
 * right bytes, also a part of a segment just read whole (its plaintext
 * is not in the cache then).
 */
static void
test_body_direct_and_cached(void **state)
{
    static const uint64_t reads[][2] = {
        { SEG, SEG }, { SEG + 5, 10 }, { SEG + 5, 10 }, { SEG, SEG },
        { 0, 3 * SEG }, { 2 * SEG - 1, 2 }, { 2 * SEG, SEG },
        { 0, 1 }, { 0, SEG }, { 3 * SEG, 50 }, { 3 * SEG, 100 },
        { SEG - 1, SEG + 2 }, { 2 * SEG, 3 * SEG },
    };
    struct fix *f = *state;
    uint64_t size = 3 * SEG + 100;
    uint8_t key[32], *data = pattern(size, 11);
    struct sse_reader *r;
    char id[BLOB_ID_LEN];
    size_t i;

    memset(key, 11, sizeof(key));
    put_body(f, key, data, size, SEG, id);
    assert_int_equal(sse_reader_open(f->bs, id, key, size, &r), 0);
    for (i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
        check_range(r, data, size, reads[i][0], (size_t)reads[i][1]);
    sse_reader_close(r);
    free(data);
}

/*
 * A range needs only its own segments: with every other segment damaged
 * it still reads, and a read that reaches a damaged segment fails with
 * the caller's buffer holding none of that segment's unauthenticated
 * plaintext (whole segments are decrypted into it directly).
 */
static void
test_body_only_needed_segments(void **state)
{
    struct fix *f = *state;
    uint64_t size = 6 * SEG + 10;
    uint8_t key[32], *data = pattern(size, 12), *raw, *buf;
    char id[BLOB_ID_LEN], path[256];
    struct sse_reader *r;
    size_t len, got, s;

    memset(key, 12, sizeof(key));
    put_body(f, key, data, size, SEG, id);
    blob_path(f, id, path, sizeof(path));
    raw = slurp(path, &len);
    for (s = 0; s < 7; s++)
        if (s != 2 && s != 3)
            raw[20 + s * (SEG + 16) + 7] ^= 0x80;
    spew(path, raw, len);

    assert_int_equal(sse_reader_open(f->bs, id, key, size, &r), 0);
    check_range(r, data, size, 2 * SEG, 2 * SEG);
    check_range(r, data, size, 2 * SEG + 9, SEG);
    check_range(r, data, size, 4 * SEG - 1, 1);

    buf = calloc(1, 3 * SEG);
    assert_non_null(buf);
    assert_int_equal(sse_reader_read(r, 2 * SEG, buf, 3 * SEG, &got),
                     CERR_CORRUPT);
    assert_int_equal(got, 2 * SEG);
    assert_memory_equal(buf, data + 2 * SEG, 2 * SEG);
    for (s = 2 * SEG; s < 3 * SEG; s++)
        assert_int_equal(buf[s], 0);
    assert_int_equal(sse_reader_read(r, 5 * SEG + 1, buf, 2, &got),
                     CERR_CORRUPT);
    sse_reader_close(r);
    free(buf);
    free(raw);
    free(data);
}

/*
 * A body long enough to be decrypted ahead by a helper thread, read in
 * order in reply-sized blocks, then with jumps back and forth (which stop
 * the helper), then closed half-read while the helper is busy.
 */
static void
test_body_decrypt_ahead(void **state)
{
    struct fix *f = *state;
    uint64_t size = 100 * SEG + 123, off;
    uint8_t key[32], *data = pattern(size, 21);
    struct sse_reader *r;
    char id[BLOB_ID_LEN];

    memset(key, 21, sizeof(key));
    put_body(f, key, data, size, 3 * SEG, id);
    assert_int_equal(read_all(f, id, key, size, data), 0);

    assert_int_equal(sse_reader_open(f->bs, id, key, size, &r), 0);
    for (off = 0; off < size; off += 4 * SEG)
        check_range(r, data, size, off, 4 * SEG);
    sse_reader_close(r);

    assert_int_equal(sse_reader_open(f->bs, id, key, size, &r), 0);
    check_range(r, data, size, 2 * SEG, 4 * SEG);
    check_range(r, data, size, 6 * SEG, 2 * SEG);
    check_range(r, data, size, SEG, SEG);
    check_range(r, data, size, 30 * SEG, 71 * SEG);
    check_range(r, data, size, 8 * SEG + 1, 5);
    sse_reader_close(r);

    assert_int_equal(sse_reader_open(f->bs, id, key, size, &r), 0);
    check_range(r, data, size, 0, SEG);
    sse_reader_close(r);
    free(data);
}

/* More readers at once than helpers may run: every one reads right,
 * interleaved, with or without a helper of its own. */
static void
test_body_decrypt_ahead_many_readers(void **state)
{
    struct fix *f = *state;
    uint64_t size = 70 * SEG + 9, off;
    uint8_t key[32], *data = pattern(size, 23);
    struct sse_reader *r[6];
    char id[BLOB_ID_LEN];
    size_t i;

    memset(key, 23, sizeof(key));
    put_body(f, key, data, size, 3 * SEG, id);
    for (i = 0; i < 6; i++)
        assert_int_equal(sse_reader_open(f->bs, id, key, size, &r[i]), 0);
    for (off = 0; off < size; off += 4 * SEG)
        for (i = 0; i < 6; i++)
            check_range(r[i], data, size, off, 4 * SEG);
    for (i = 0; i < 6; i++)
        sse_reader_close(r[i]);
    free(data);
}

/*
 * A limit only bounds the reading ahead: a short one starts no helper, a
 * long one stops it at the limit, and reads past either still work (the
 * reader then decrypts on its own thread).
 */
static void
test_body_decrypt_ahead_limited(void **state)
{
    struct fix *f = *state;
    uint64_t size = 100 * SEG + 7, off;
    uint8_t key[32], *data = pattern(size, 24);
    struct sse_reader *r;
    char id[BLOB_ID_LEN];

    memset(key, 24, sizeof(key));
    put_body(f, key, data, size, 3 * SEG, id);
    assert_int_equal(sse_reader_open(f->bs, id, key, size, &r), 0);
    sse_reader_limit(r, 2 * SEG + 1);
    for (off = 0; off < size; off += 4 * SEG)
        check_range(r, data, size, off, 4 * SEG);
    sse_reader_close(r);

    assert_int_equal(sse_reader_open(f->bs, id, key, size, &r), 0);
    sse_reader_limit(r, 80 * SEG);
    for (off = 0; off < size; off += 3 * SEG)
        check_range(r, data, size, off, 3 * SEG);
    sse_reader_close(r);
    free(data);
}

/* A tampered segment deep in a body read ahead fails there, with every
 * byte before it delivered and none after. */
static void
test_body_decrypt_ahead_tamper(void **state)
{
    struct fix *f = *state;
    uint64_t size = 100 * SEG;
    uint8_t key[32], *data = pattern(size, 22), *raw, *buf;
    struct sse_reader *r;
    char id[BLOB_ID_LEN], path[256];
    size_t len, got;

    memset(key, 22, sizeof(key));
    put_body(f, key, data, size, 3 * SEG, id);
    blob_path(f, id, path, sizeof(path));
    raw = slurp(path, &len);
    raw[20 + 75 * (SEG + 16) + 7] ^= 0x80;
    spew(path, raw, len);

    buf = malloc(size);
    assert_non_null(buf);
    assert_int_equal(sse_reader_open(f->bs, id, key, size, &r), 0);
    assert_int_equal(sse_reader_read(r, 0, buf, size, &got), CERR_CORRUPT);
    assert_int_equal(got, 75 * SEG);
    assert_memory_equal(buf, data, got);
    sse_reader_close(r);
    free(buf);
    free(raw);
    free(data);
}

static void
test_body_truncate_and_append(void **state)
{
    struct fix *f = *state;
    uint64_t size = SEG + 100;
    uint8_t key[32], *data = pattern(size, 6), *raw, *big;
    char id[BLOB_ID_LEN], path[256];
    size_t len;

    memset(key, 5, sizeof(key));
    put_body(f, key, data, size, size, id);
    blob_path(f, id, path, sizeof(path));
    raw = slurp(path, &len);

    /* Short by a byte, by a tag, or shorter than the header. */
    spew(path, raw, len - 1);
    assert_int_equal(read_all(f, id, key, size, NULL), CERR_CORRUPT);
    spew(path, raw, len - 16);
    assert_int_equal(read_all(f, id, key, size, NULL), CERR_CORRUPT);
    spew(path, raw, 10);
    assert_int_equal(read_all(f, id, key, size, NULL), CERR_CORRUPT);

    /* The last segment dropped and the size told to match: the first
     * segment was not sealed as the last. */
    spew(path, raw, 20 + SEG + 16);
    assert_int_equal(read_all(f, id, key, SEG, NULL), CERR_CORRUPT);

    /* Bytes appended, with or without a matching size. */
    big = malloc(len + 116);
    assert_non_null(big);
    memcpy(big, raw, len);
    memcpy(big + len, raw + 20, 116);
    spew(path, big, len + 116);
    assert_int_equal(read_all(f, id, key, size, NULL), CERR_CORRUPT);
    assert_int_equal(read_all(f, id, key, size + 100, NULL), CERR_CORRUPT);

    /* The blob itself is fine. */
    spew(path, raw, len);
    assert_int_equal(read_all(f, id, key, size, data), 0);
    free(big);
    free(raw);
    free(data);
}

/* Swapping two full segments is caught by the index in the nonce. */
static void
test_body_reorder(void **state)
{
    struct fix *f = *state;
    uint64_t size = 3 * SEG;
    uint8_t key[32], *data = pattern(size, 8), *raw, *tmp;
    char id[BLOB_ID_LEN], path[256];
    size_t len, sl = SEG + 16;

    memset(key, 6, sizeof(key));
    put_body(f, key, data, size, size, id);
    blob_path(f, id, path, sizeof(path));
    raw = slurp(path, &len);
    tmp = malloc(sl);
    assert_non_null(tmp);
    memcpy(tmp, raw + 20, sl);
    memcpy(raw + 20, raw + 20 + sl, sl);
    memcpy(raw + 20 + sl, tmp, sl);
    spew(path, raw, len);
    assert_int_equal(read_all(f, id, key, size, NULL), CERR_CORRUPT);

    /* The last segment moved first (it is as long as the others). */
    memcpy(tmp, raw + 20, sl);
    memcpy(raw + 20, raw + 20 + 2 * sl, sl);
    memcpy(raw + 20 + 2 * sl, tmp, sl);
    spew(path, raw, len);
    assert_int_equal(read_all(f, id, key, size, NULL), CERR_CORRUPT);
    free(tmp);
    free(raw);
    free(data);
}

/* Headers this code does not write are refused at open. */
static void
test_body_bad_headers(void **state)
{
    static const size_t at[] = { 0, 3, 4, 5, 6, 7, 8, 10, 11 };
    struct fix *f = *state;
    uint8_t key[32], *data = pattern(10, 1), *raw;
    char id[BLOB_ID_LEN], path[256];
    struct sse_reader *r;
    size_t len, i;

    memset(key, 8, sizeof(key));
    put_body(f, key, data, 10, 10, id);
    blob_path(f, id, path, sizeof(path));
    raw = slurp(path, &len);
    for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        raw[at[i]] ^= 0x02;
        spew(path, raw, len);
        assert_int_equal(sse_reader_open(f->bs, id, key, 10, &r),
                         CERR_CORRUPT);
        assert_null(r);
        raw[at[i]] ^= 0x02;
    }
    spew(path, raw, 0);
    assert_int_equal(sse_reader_open(f->bs, id, key, 10, &r), CERR_CORRUPT);
    assert_int_equal(sse_reader_open(f->bs, "0123456789abcdef0123456789abcdef",
                                     key, 10, &r), CERR_CORRUPT);
    free(raw);
    free(data);
}

/* A failing blob write is reported and stays reported. */
static void
test_body_write_failure(void **state)
{
    struct fix *f = *state;
    uint8_t key[32], *data = pattern(3 * SEG, 1);
    struct blob_writer *bw;
    struct sse_writer *w;

    memset(key, 8, sizeof(key));
    assert_int_equal(blob_writer_new(f->bs, &bw), 0);
    assert_int_equal(sse_writer_new(bw, key, &w), 0);
    blob_store_fail_nth(f->bs, "write", 2);
    assert_int_equal(sse_writer_write(w, data, 3 * SEG), CERR_IO);
    assert_int_equal(sse_writer_write(w, data, 1), CERR_IO);
    assert_int_equal(sse_writer_finish(w), CERR_IO);
    sse_writer_free(w);
    blob_writer_abort(bw);
    free(data);
}

/* ---- request headers ---- */

static int
parse(enum sse_op op, bool secure, struct sse_request *r,
      struct err_detail *d, ...)
{
    struct headers h = { 0 };
    const char *name, *value;
    va_list ap;
    int rc;

    va_start(ap, d);
    while ((name = va_arg(ap, const char *)) != NULL) {
        value = va_arg(ap, const char *);
        assert_int_equal(headers_add(&h, name, value), 0);
    }
    va_end(ap);
    err_clear(d);
    rc = sse_parse_request(&h, op, secure, false, r, d);
    headers_free(&h);
    return rc;
}

#define P_SSE "x-amz-server-side-encryption"
#define P_KID "x-amz-server-side-encryption-aws-kms-key-id"
#define P_CTX "x-amz-server-side-encryption-context"
#define P_BK "x-amz-server-side-encryption-bucket-key-enabled"
#define P_CALG "x-amz-server-side-encryption-customer-algorithm"
#define P_CKEY "x-amz-server-side-encryption-customer-key"
#define P_CMD5 "x-amz-server-side-encryption-customer-key-MD5"
#define P_CS "x-amz-copy-source-server-side-encryption-customer-"

static void
test_parse_nothing(void **state)
{
    struct sse_request r;
    struct err_detail d;

    (void)state;
    assert_int_equal(parse(SSE_OP_WRITE, false, &r, &d, NULL), 0);
    assert_false(r.has_sse);
    assert_false(r.has_kms_key_id);
    assert_null(r.context);
    assert_int_equal(r.bucket_key, -1);
    assert_false(r.has_ssec);
    assert_false(sse_request_any(&r));
    sse_request_clear(&r);
}

static void
test_parse_kms(void **state)
{
    struct sse_request r;
    struct err_detail d;

    (void)state;
    assert_int_equal(parse(SSE_OP_WRITE, false, &r, &d, P_SSE, "aws:kms",
                           P_KID, "alias/xyz", P_BK, "true", P_CTX,
                           "eyJhIjoiYiJ9", NULL), 0);
    assert_true(r.has_sse);
    assert_string_equal(r.algorithm, "aws:kms");
    assert_true(r.has_kms_key_id);
    assert_string_equal(r.kms_key_id, "alias/xyz");
    assert_int_equal(r.bucket_key, 1);
    assert_string_equal(r.context_b64, "eyJhIjoiYiJ9");
    assert_string_equal(json_string_value(json_object_get(r.context, "a")),
                        "b");
    assert_true(sse_request_any(&r));
    sse_request_clear(&r);

    assert_int_equal(parse(SSE_OP_WRITE, false, &r, &d, P_SSE,
                           "aws:kms:dsse", P_BK, "False", NULL), 0);
    assert_int_equal(r.bucket_key, 0);
    sse_request_clear(&r);
    assert_int_equal(parse(SSE_OP_WRITE, false, &r, &d, P_SSE, "AES256",
                           P_BK, "true", NULL), 0);
    sse_request_clear(&r);
}

/* Row 18 and the unsupported values of §1. */
static void
test_parse_bad_combinations(void **state)
{
    static const char *bad[] = { "", "aes:kms", "AWS:KMS", "aws:fsx",
                                 "aes256" };
    struct sse_request r;
    struct err_detail d;
    size_t i;

    (void)state;
    assert_int_equal(parse(SSE_OP_WRITE, false, &r, &d, P_SSE, "AES256",
                           P_KID, "k", NULL), CERR_INVALID_ARGUMENT);
    assert_int_equal(parse(SSE_OP_WRITE, false, &r, &d, P_KID, "k", NULL),
                     CERR_INVALID_ARGUMENT);
    assert_non_null(strstr(d.message, "requires HTTP header"));
    assert_int_equal(parse(SSE_OP_WRITE, false, &r, &d, P_CTX,
                           "eyJhIjoiYiJ9", NULL), CERR_INVALID_ARGUMENT);
    assert_int_equal(parse(SSE_OP_WRITE, false, &r, &d, P_SSE, "AES256",
                           P_CTX, "eyJhIjoiYiJ9", NULL),
                     CERR_INVALID_ARGUMENT);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(SSE_OP_WRITE, false, &r, &d, P_SSE, bad[i],
                               NULL), CERR_INVALID_ARGUMENT);
        assert_string_equal(d.message, "The encryption method specified is "
                            "not supported");
        assert_string_equal(d.arg_name, "x-amz-server-side-encryption");
        assert_string_equal(d.arg_value, bad[i]);
    }
    assert_int_equal(parse(SSE_OP_WRITE, false, &r, &d, P_SSE, "aws:kms",
                           P_BK, "yes", NULL), CERR_INVALID_ARGUMENT);
}

/* Row 20 and the other malformed contexts. */
static void
test_parse_bad_context(void **state)
{
    static const char *bad[] = {
        "!!",
        "eyJhIjoiYiJ9X",        /* not padded base64 */
        "bm90IGpzb24=",         /* "not json" */
        "WyJhIl0=",             /* ["a"] */
        "eyJhIjoxfQ==",         /* {"a":1} */
        "eyJhIjoiYiIsImEiOiJjIn0=", /* {"a":"b","a":"c"} */
        "",
    };
    struct sse_request r;
    struct err_detail d;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(SSE_OP_WRITE, false, &r, &d, P_SSE, "aws:kms",
                               P_CTX, bad[i], NULL), CERR_INVALID_ARGUMENT);
        assert_non_null(strstr(d.message, "string-string map"));
        assert_null(r.context);
    }
}

/* Rows 21 and 23: KMS headers on reads and parts. */
static void
test_parse_not_supported(void **state)
{
    static const enum sse_op ops[] = { SSE_OP_PART, SSE_OP_READ };
    static const char *names[] = { P_SSE, P_KID, P_CTX, P_BK };
    struct sse_request r;
    struct err_detail d;
    size_t i, j;

    (void)state;
    for (i = 0; i < 2; i++) {
        for (j = 0; j < 4; j++) {
            assert_int_equal(parse(ops[i], true, &r, &d, names[j], "aws:kms",
                                   NULL), CERR_INVALID_ARGUMENT);
            assert_string_equal(d.message, "x-amz-server-side-encryption "
                                "header is not supported for this "
                                "operation.");
        }
    }
    /* Complete ignores them. */
    assert_int_equal(parse(SSE_OP_COMPLETE, true, &r, &d, P_SSE, "aws:kms",
                           NULL), 0);
    assert_false(r.has_sse);
    sse_request_clear(&r);
}

static void
test_parse_ssec(void **state)
{
    struct sse_request r;
    struct err_detail d;
    uint8_t want[32];
    enum sse_op op;

    (void)state;
    memcpy(want, "0123456789abcdef0123456789abcdef", 32);
    for (op = SSE_OP_WRITE; op <= SSE_OP_READ; op++) {
        assert_int_equal(parse(op, true, &r, &d, P_CALG, "AES256", P_CKEY,
                               SSEC_KEY, P_CMD5, SSEC_MD5, NULL), 0);
        assert_true(r.has_ssec);
        assert_memory_equal(r.ssec_key, want, 32);
        assert_string_equal(r.ssec_key_md5, SSEC_MD5);
        assert_true(sse_request_any(&r));
        sse_request_clear(&r);
        assert_false(r.has_ssec);
    }

    /* The copy-source trio is read only for the copy source. */
    assert_int_equal(parse(SSE_OP_COPY_SOURCE, true, &r, &d,
                           P_CS "algorithm", "AES256", P_CS "key", SSEC_KEY,
                           P_CS "key-MD5", SSEC_MD5, P_CALG, "AES128",
                           NULL), 0);
    assert_true(r.has_ssec);
    sse_request_clear(&r);
    assert_int_equal(parse(SSE_OP_WRITE, true, &r, &d, P_CS "algorithm",
                           "AES256", P_CS "key", SSEC_KEY, NULL), 0);
    assert_false(r.has_ssec);
    sse_request_clear(&r);
}

/* sse.md §10 checks in order, rows 28, 31, 32. */
static void
test_parse_ssec_errors(void **state)
{
    struct sse_request r;
    struct err_detail d;
    char k31[64], md5[32];
    uint8_t raw[31], dig[16];

    (void)state;
    assert_int_equal(parse(SSE_OP_WRITE, true, &r, &d, P_CALG, "AES256",
                           P_CKEY, SSEC_KEY, P_CMD5, SSEC_MD5, P_SSE,
                           "AES256", NULL), CERR_INVALID_ARGUMENT);
    assert_non_null(strstr(d.message, "incompatible"));
    assert_int_equal(parse(SSE_OP_WRITE, true, &r, &d, P_CKEY, SSEC_KEY,
                           P_CMD5, SSEC_MD5, NULL), CERR_INVALID_ARGUMENT);
    assert_non_null(strstr(d.message, "valid encryption algorithm"));
    assert_int_equal(parse(SSE_OP_WRITE, true, &r, &d, P_CALG, "AES256",
                           NULL), CERR_INVALID_ARGUMENT);
    assert_non_null(strstr(d.message, "appropriate secret key"));
    assert_int_equal(parse(SSE_OP_WRITE, true, &r, &d, P_CALG, "AES128",
                           P_CKEY, SSEC_KEY, P_CMD5, SSEC_MD5, NULL),
                     CERR_INVALID_ENC_ALGORITHM);
    assert_int_equal(parse(SSE_OP_WRITE, true, &r, &d, P_CALG, "AES256",
                           P_CKEY, SSEC_KEY, P_CMD5,
                           "AAAAAAAAAAAAAAAAAAAAAA==", NULL),
                     CERR_INVALID_ARGUMENT);
    assert_non_null(strstr(d.message, "MD5 hash"));
    assert_int_equal(parse(SSE_OP_WRITE, true, &r, &d, P_CALG, "AES256",
                           P_CKEY, SSEC_KEY, NULL), CERR_INVALID_ARGUMENT);
    assert_non_null(strstr(d.message, "MD5 hash"));

    /* A 31-byte key with its right MD5: the length check. */
    memset(raw, 'z', sizeof(raw));
    base64_encode(raw, sizeof(raw), k31);
    crypto_md5(raw, sizeof(raw), dig);
    base64_encode(dig, sizeof(dig), md5);
    assert_int_equal(parse(SSE_OP_WRITE, true, &r, &d, P_CALG, "AES256",
                           P_CKEY, k31, P_CMD5, md5, NULL),
                     CERR_INVALID_ARGUMENT);
    assert_non_null(strstr(d.message, "secret key was invalid"));
    assert_int_equal(parse(SSE_OP_WRITE, true, &r, &d, P_CALG, "AES256",
                           P_CKEY, "!!", P_CMD5, md5, NULL),
                     CERR_INVALID_ARGUMENT);

    /* Row 28: plain HTTP, unless the server option allows it. */
    assert_int_equal(parse(SSE_OP_WRITE, false, &r, &d, P_CALG, "AES256",
                           P_CKEY, SSEC_KEY, P_CMD5, SSEC_MD5, NULL),
                     CERR_INVALID_REQUEST);
    assert_non_null(strstr(d.message, "secure connection"));
    assert_false(r.has_ssec);
}

static void
test_parse_ssec_plain_allowed(void **state)
{
    struct headers h = { 0 };
    struct sse_request r;

    (void)state;
    assert_int_equal(headers_add(&h, P_CALG, "AES256"), 0);
    assert_int_equal(headers_add(&h, P_CKEY, SSEC_KEY), 0);
    assert_int_equal(headers_add(&h, P_CMD5, SSEC_MD5), 0);
    assert_int_equal(sse_parse_request(&h, SSE_OP_WRITE, false, true, &r,
                                       NULL), 0);
    assert_true(r.has_ssec);
    sse_request_clear(&r);
    headers_free(&h);
}

static void
test_validate_rule(void **state)
{
    struct err_detail d;

    (void)state;
    assert_int_equal(sse_validate_rule("AES256", NULL, &d), 0);
    assert_int_equal(sse_validate_rule("aws:kms", NULL, &d), 0);
    assert_int_equal(sse_validate_rule("aws:kms", "${KEY_ID}", &d), 0);
    assert_int_equal(sse_validate_rule("aws:kms:dsse", "alias/x", &d), 0);
    assert_int_equal(sse_validate_rule("AES256", "k", &d),
                     CERR_INVALID_ARGUMENT);
    assert_string_equal(d.arg_name, "ApplyServerSideEncryptionByDefault");
    assert_int_equal(sse_validate_rule("aws:kms", "", &d),
                     CERR_INVALID_ARGUMENT);
    assert_int_equal(sse_validate_rule("aws:fsx", NULL, &d),
                     CERR_MALFORMED_XML);
    assert_int_equal(sse_validate_rule(NULL, NULL, &d), CERR_MALFORMED_XML);
}

/* Collects reply headers as "name: value\n". */
static void
collect(void *ctx, const char *name, const char *value)
{
    buf_printf(ctx, "%s: %s\n", name, value);
}

static void
test_response_headers(void **state)
{
    struct sse_request req;
    struct meta_sse rec;
    struct buf b = BUF_INIT;
    struct err_detail d;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    rec.mode = SSE_MODE_S3;
    sse_response_headers(&rec, NULL, SSE_OP_READ, collect, &b);
    assert_string_equal(b.data, "x-amz-server-side-encryption: AES256\n");

    buf_reset(&b);
    rec.mode = SSE_MODE_KMS;
    rec.bucket_key = true;
    strcpy(rec.kms_key_arn, "arn:aws:kms:us-east-1:1:key/x");
    assert_int_equal(parse(SSE_OP_WRITE, false, &req, &d, P_SSE, "aws:kms",
                           P_CTX, "eyJhIjoiYiJ9", NULL), 0);
    sse_response_headers(&rec, &req, SSE_OP_WRITE, collect, &b);
    assert_string_equal(b.data,
        "x-amz-server-side-encryption: aws:kms\n"
        "x-amz-server-side-encryption-aws-kms-key-id: "
        "arn:aws:kms:us-east-1:1:key/x\n"
        "x-amz-server-side-encryption-bucket-key-enabled: true\n"
        "x-amz-server-side-encryption-context: eyJhIjoiYiJ9\n");
    buf_reset(&b);
    rec.bucket_key = false;
    sse_response_headers(&rec, &req, SSE_OP_PART, collect, &b);
    assert_null(strstr(b.data, "context"));
    assert_null(strstr(b.data, "bucket-key"));
    sse_request_clear(&req);

    buf_reset(&b);
    rec.mode = SSE_MODE_KMS_DSSE;
    sse_response_headers(&rec, NULL, SSE_OP_READ, collect, &b);
    assert_non_null(strstr(b.data, "encryption: aws:kms:dsse\n"));

    buf_reset(&b);
    rec.mode = SSE_MODE_C;
    sse_response_headers(&rec, NULL, SSE_OP_READ, collect, &b);
    assert_int_equal(b.len, 0);
    assert_int_equal(parse(SSE_OP_READ, true, &req, &d, P_CALG, "AES256",
                           P_CKEY, SSEC_KEY, P_CMD5, SSEC_MD5, NULL), 0);
    sse_response_headers(&rec, &req, SSE_OP_COMPLETE, collect, &b);
    assert_int_equal(b.len, 0);
    sse_response_headers(&rec, &req, SSE_OP_READ, collect, &b);
    assert_string_equal(b.data,
        "x-amz-server-side-encryption-customer-algorithm: AES256\n"
        "x-amz-server-side-encryption-customer-key-MD5: " SSEC_MD5 "\n");
    sse_request_clear(&req);
    buf_free(&b);
}

/* ---- keys, against a real KMS and metadata store ---- */

/* A KMS call through the JSON API; the reply into *out (may be NULL). */
static int
kms_call(struct fix *f, const char *op, const char *body, json_t **out)
{
    struct buf b = BUF_INIT;
    struct err_detail d;
    int rc;

    err_clear(&d);
    rc = kms_handle(f->k, &root, op, body, strlen(body), &b, &d);
    if (rc == 0 && out != NULL) {
        *out = json_loads(b.data ? b.data : "{}", 0, NULL);
        assert_non_null(*out);
    }
    buf_free(&b);
    return rc;
}

static void
create_key(struct fix *f, char id[64], char arn[KMS_ARN_MAX])
{
    json_t *res, *md;

    assert_int_equal(kms_call(f, "CreateKey", "{}", &res), 0);
    md = json_object_get(res, "KeyMetadata");
    snprintf(id, 64, "%s", json_string_value(json_object_get(md, "KeyId")));
    snprintf(arn, KMS_ARN_MAX, "%s",
             json_string_value(json_object_get(md, "Arn")));
    json_decref(res);
}

static void
make_bucket(struct fix *f, const char *name, const char *alg,
            const char *kid, bool bk)
{
    struct meta_bucket b;

    memset(&b, 0, sizeof(b));
    snprintf(b.name, sizeof(b.name), "%s", name);
    assert_int_equal(meta_bucket_create(f->m, &b), 0);
    if (alg != NULL)
        assert_int_equal(meta_bucket_set_encryption(f->m, name, alg, kid, bk),
                         0);
}

static void
open_sse(struct fix *f, int64_t ttl_ms)
{
    struct sse_config cfg = { REGION, ACCOUNT, ttl_ms };

    sse_close(f->s);
    f->s = NULL;
    assert_int_equal(sse_open(&cfg, f->m, f->k, &f->kc, &f->s), 0);
}

static int
setup_keys(void **state)
{
    struct kms_config cfg = { REGION, ACCOUNT, NULL, { 0 } };
    char path[128], id2[64];
    struct fix *f = fix_new();

    snprintf(path, sizeof(path), "%s/meta.db", f->dir);
    assert_int_equal(meta_open_sqlite(path, &f->m), 0);
    assert_int_equal(crypto_random(cfg.root_key, sizeof(cfg.root_key)), 0);
    assert_int_equal(kms_open(f->m, &cfg, &f->k, NULL), 0);
    crypto_wipe(cfg.root_key, sizeof(cfg.root_key));
    kms_client_local(f->k, &f->kc);
    open_sse(f, 0);

    create_key(f, f->key_id, f->key_arn);
    create_key(f, id2, f->key2_arn);
    make_bucket(f, "plain", NULL, NULL, false);
    make_bucket(f, "other", NULL, NULL, false);
    *state = f;
    return 0;
}

/* Sum of the KMS counter `op` over all keys. */
static long
kms_count(struct fix *f, const char *op)
{
    struct buf b = BUF_INIT;
    const char *arn;
    json_t *all, *per;
    long n = 0;

    assert_int_equal(kms_counters_json(f->k, &b), 0);
    all = json_loads(b.data, 0, NULL);
    assert_non_null(all);
    json_object_foreach(all, arn, per)
        n += (long)json_integer_value(json_object_get(per, op));
    json_decref(all);
    buf_free(&b);
    return n;
}

/* The request of a PUT with the given header pairs. */
static void
write_req(struct sse_request *r, ...)
{
    struct headers h = { 0 };
    const char *name;
    va_list ap;

    va_start(ap, r);
    while ((name = va_arg(ap, const char *)) != NULL)
        assert_int_equal(headers_add(&h, name, va_arg(ap, const char *)), 0);
    va_end(ap);
    assert_int_equal(sse_parse_request(&h, SSE_OP_WRITE, true, false, r,
                                       NULL), 0);
    headers_free(&h);
}

static int
new_obj(struct fix *f, const char *bucket, const char *key,
        const struct sse_request *req, struct meta_sse *rec,
        struct sse_key *ok, struct err_detail *d)
{
    struct meta_bucket rule;
    int rc;

    memset(&rule, 0, sizeof(rule));
    assert_int_equal(meta_bucket_get(f->m, bucket, &rule), 0);
    err_clear(d);
    rc = sse_new_object(f->s, &root, bucket, key, req, &rule, rec, ok, d);
    meta_bucket_clear(&rule);
    return rc;
}

/*
 * Write a short body under the object's key, then open the object again
 * (with req for SSE-C) and read it back.
 */
static void
round_trip(struct fix *f, const char *bucket, const char *key,
           const struct meta_sse *rec, const struct sse_key *ok,
           const struct sse_request *req)
{
    uint8_t salt[32], bk[32], bk2[32], *data = pattern(1000, 77);
    struct sse_key again;
    struct err_detail d;
    char id[BLOB_ID_LEN];

    assert_int_equal(crypto_random(salt, sizeof(salt)), 0);
    assert_int_equal(sse_body_key(ok, rec, bucket, key, NULL, 0, salt, bk),
                     0);
    put_body(f, bk, data, 1000, 1000, id);

    assert_int_equal(sse_open_object(f->s, &root, bucket, key, rec, req,
                                     &again, &d), 0);
    assert_memory_equal(again.bytes, ok->bytes, 32);
    assert_int_equal(sse_body_key(&again, rec, bucket, key, "", 0, salt,
                                  bk2), 0);
    assert_memory_equal(bk, bk2, 32);
    assert_int_equal(read_all(f, id, bk2, 1000, data), 0);
    sse_key_wipe(&again);
    free(data);
}

static void
describe_arn(struct fix *f, const char *ref, char arn[KMS_ARN_MAX])
{
    char body[256];
    json_t *res;

    snprintf(body, sizeof(body), "{\"KeyId\":\"%s\"}", ref);
    assert_int_equal(kms_call(f, "DescribeKey", body, &res), 0);
    snprintf(arn, KMS_ARN_MAX, "%s", json_string_value(json_object_get(
        json_object_get(res, "KeyMetadata"), "Arn")));
    json_decref(res);
}

/* Parse req, choose, check mode / key ARN / bucket key, round-trip. */
static void
expect(struct fix *f, const char *bucket, const char *key, int mode,
       const char *arn, bool bk, ...)
{
    struct headers h = { 0 };
    struct sse_request req;
    struct meta_sse rec;
    struct sse_key ok;
    struct err_detail d;
    const char *name;
    va_list ap;

    va_start(ap, bk);
    while ((name = va_arg(ap, const char *)) != NULL)
        assert_int_equal(headers_add(&h, name, va_arg(ap, const char *)), 0);
    va_end(ap);
    assert_int_equal(sse_parse_request(&h, SSE_OP_WRITE, true, false, &req,
                                       NULL), 0);
    headers_free(&h);

    assert_int_equal(new_obj(f, bucket, key, &req, &rec, &ok, &d), 0);
    assert_int_equal(rec.mode, mode);
    assert_string_equal(rec.kms_key_arn, arn != NULL ? arn : "");
    assert_int_equal(rec.bucket_key, bk);
    assert_int_equal(rec.bucket_key_id != 0, bk);
    round_trip(f, bucket, key, &rec, &ok, &req);
    sse_key_wipe(&ok);
    sse_request_clear(&req);
}

/* Rows 1, 3, 4, 5: what a bucket without a rule gives. */
static void
test_choice_plain_bucket(void **state)
{
    struct fix *f = *state;
    struct meta_sse rec;
    struct sse_key ok;
    struct err_detail d;
    char body[256], m_arn[KMS_ARN_MAX];

    expect(f, "plain", "a", SSE_MODE_S3, NULL, false, NULL);
    assert_int_equal(new_obj(f, "plain", "a2", NULL, &rec, &ok, &d), 0);
    assert_int_equal(rec.mode, SSE_MODE_S3);
    round_trip(f, "plain", "a2", &rec, &ok, NULL);
    expect(f, "plain", "b", SSE_MODE_S3, NULL, false, P_SSE, "AES256",
           P_BK, "true", NULL);

    expect(f, "plain", "c", SSE_MODE_KMS, f->key_arn, false, P_SSE,
           "aws:kms", P_KID, f->key_id, NULL);
    expect(f, "plain", "c2", SSE_MODE_KMS, f->key_arn, false, P_SSE,
           "aws:kms", P_KID, f->key_arn, NULL);
    snprintf(body, sizeof(body), "{\"AliasName\":\"alias/xyz\","
             "\"TargetKeyId\":\"%s\"}", f->key_id);
    assert_int_equal(kms_call(f, "CreateAlias", body, NULL), 0);
    expect(f, "plain", "d", SSE_MODE_KMS, f->key_arn, false, P_SSE,
           "aws:kms", P_KID, "alias/xyz", NULL);

    /* No key id: the AWS-managed aws/s3 key, the same in every bucket. */
    describe_arn(f, "alias/aws/s3", m_arn);
    assert_string_not_equal(m_arn, f->key_arn);
    expect(f, "plain", "e", SSE_MODE_KMS, m_arn, false, P_SSE, "aws:kms",
           NULL);
    expect(f, "other", "e", SSE_MODE_KMS, m_arn, false, P_SSE, "aws:kms",
           NULL);
    expect(f, "other", "f", SSE_MODE_KMS_DSSE, m_arn, false, P_SSE,
           "aws:kms:dsse", P_BK, "true", NULL);
    sse_key_wipe(&ok);
}

/* Rows 6-10 and §4's finer points under a rule aws:kms + K + BK. */
static void
test_choice_bucket_rule(void **state)
{
    struct fix *f = *state;
    char m_arn[KMS_ARN_MAX];

    describe_arn(f, "alias/aws/s3", m_arn);
    make_bucket(f, "ruled", "aws:kms", f->key_id, true);
    make_bucket(f, "kmsonly", "aws:kms", "", false);

    expect(f, "plain", "6", SSE_MODE_KMS, f->key_arn, true, P_SSE,
           "aws:kms", P_KID, f->key_id, P_BK, "true", NULL);
    expect(f, "ruled", "7", SSE_MODE_KMS, f->key_arn, true, NULL);
    expect(f, "ruled", "8", SSE_MODE_S3, NULL, false, P_SSE, "AES256",
           NULL);
    expect(f, "ruled", "9", SSE_MODE_KMS, f->key2_arn, true, P_SSE,
           "aws:kms", P_KID, f->key2_arn, NULL);
    expect(f, "ruled", "10", SSE_MODE_KMS, f->key2_arn, false, P_SSE,
           "aws:kms", P_KID, f->key2_arn, P_BK, "false", NULL);
    /* aws:kms without a key id means aws/s3, not the rule's key. */
    expect(f, "ruled", "11", SSE_MODE_KMS, m_arn, true, P_SSE, "aws:kms",
           NULL);
    /* DSSE never uses a bucket key. */
    expect(f, "ruled", "12", SSE_MODE_KMS_DSSE, f->key_arn, false, P_SSE,
           "aws:kms:dsse", P_KID, f->key_id, NULL);
    /* A rule without a key id means aws/s3 too. */
    expect(f, "kmsonly", "13", SSE_MODE_KMS, m_arn, false, NULL);
    expect(f, "kmsonly", "14", SSE_MODE_KMS, m_arn, true, P_BK, "true",
           NULL);
}

/* Rows 11-15: keys that do not exist. */
static void
test_choice_unknown_keys(void **state)
{
    struct fix *f = *state;
    struct sse_request req;
    struct meta_sse rec;
    struct sse_key ok;
    struct err_detail d;
    static const char *bks[] = { "false", "true" };
    char uuid[37];
    size_t i;

    make_bucket(f, "recipe", "aws:kms", "${KEY_ID}", true);
    assert_int_equal(new_obj(f, "recipe", "x", NULL, &rec, &ok, &d),
                     CERR_KMS_NOT_FOUND);
    assert_non_null(strstr(d.message, "${KEY_ID}"));
    assert_int_equal(rec.mode, 0);
    expect(f, "recipe", "y", SSE_MODE_KMS, f->key_arn, true, P_SSE,
           "aws:kms", P_KID, f->key_id, NULL);

    assert_int_equal(crypto_uuid(uuid), 0);
    for (i = 0; i < 2; i++) {
        write_req(&req, P_SSE, "aws:kms", P_KID, "fake-key-id", P_BK,
                  bks[i], NULL);
        assert_int_equal(new_obj(f, "plain", "x", &req, &rec, &ok, &d),
                         CERR_KMS_NOT_FOUND);
        assert_non_null(strstr(d.message, "fake-key-id"));
        sse_request_clear(&req);

        write_req(&req, P_SSE, "aws:kms", P_KID, uuid, P_BK, bks[i], NULL);
        assert_int_equal(new_obj(f, "plain", "x", &req, &rec, &ok, &d),
                         CERR_KMS_NOT_FOUND);
        assert_non_null(strstr(d.message, "does not exist"));
        sse_request_clear(&req);
    }
}

/* Row 19 and §7: the user's context, stored and checked. */
static void
test_kms_context(void **state)
{
    struct fix *f = *state;
    struct sse_request req;
    struct meta_sse rec, bad;
    struct sse_key ok;
    struct err_detail d;
    char b64[256], json[200];

    /* {"b":"2","a":"1"} is kept canonical: sorted, compact. */
    write_req(&req, P_SSE, "aws:kms", P_KID, f->key_id, P_CTX,
              "eyJiIjoiMiIsImEiOiIxIn0=", NULL);
    assert_int_equal(new_obj(f, "plain", "k", &req, &rec, &ok, &d), 0);
    assert_string_equal(rec.context, "{\"a\":\"1\",\"b\":\"2\"}");
    round_trip(f, "plain", "k", &rec, &ok, NULL);
    sse_request_clear(&req);

    /* Decrypt with another context fails in KMS. */
    bad = rec;
    strcpy(bad.context, "{\"a\":\"1\",\"b\":\"3\"}");
    assert_int_not_equal(sse_open_object(f->s, &root, "plain", "k", &bad,
                                         NULL, &ok, &d), 0);
    assert_int_not_equal(sse_open_object(f->s, &root, "plain", "k2", &rec,
                                         NULL, &ok, &d), 0);

    /* A user aws:s3:arn must name the object (or, with a bucket key, the
     * bucket). */
    snprintf(json, sizeof(json), "{\"aws:s3:arn\":\"arn:aws:s3:::plain/k\"}");
    base64_encode(json, strlen(json), b64);
    write_req(&req, P_SSE, "aws:kms", P_CTX, b64, NULL);
    assert_int_equal(new_obj(f, "plain", "k", &req, &rec, &ok, &d), 0);
    assert_int_equal(new_obj(f, "plain", "other", &req, &rec, &ok, &d),
                     CERR_INVALID_ARGUMENT);
    sse_request_clear(&req);
    write_req(&req, P_SSE, "aws:kms", P_CTX, b64, P_BK, "true", NULL);
    assert_int_equal(new_obj(f, "plain", "k", &req, &rec, &ok, &d),
                     CERR_INVALID_ARGUMENT);
    sse_request_clear(&req);

    /* With a bucket key the pairs bind through the body key. */
    write_req(&req, P_SSE, "aws:kms", P_CTX, "eyJhIjoiYiJ9", P_BK, "true",
              NULL);
    assert_int_equal(new_obj(f, "plain", "bk", &req, &rec, &ok, &d), 0);
    assert_true(rec.bucket_key);
    assert_string_equal(rec.context, "{\"a\":\"b\"}");
    round_trip(f, "plain", "bk", &rec, &ok, NULL);
    sse_request_clear(&req);
    sse_key_wipe(&ok);
}

/* Each input of the derivation changes the key; equal inputs agree. */
static void
test_body_key_binding(void **state)
{
    struct meta_sse rec;
    struct sse_key ok;
    uint8_t salt[32], salt2[32], base[32], k[32];

    (void)state;
    memset(&rec, 0, sizeof(rec));
    memset(ok.bytes, 0x11, sizeof(ok.bytes));
    memset(salt, 1, sizeof(salt));
    memset(salt2, 2, sizeof(salt2));
    assert_int_equal(sse_body_key(&ok, &rec, "b", "k", NULL, 0, salt, base),
                     0);
    assert_int_equal(sse_body_key(&ok, &rec, "b", "k", "", 0, salt, k), 0);
    assert_memory_equal(base, k, 32);

    assert_int_equal(sse_body_key(&ok, &rec, "b", "k", NULL, 0, salt2, k), 0);
    assert_memory_not_equal(base, k, 32);
    assert_int_equal(sse_body_key(&ok, &rec, "bk", "", NULL, 0, salt, k), 0);
    assert_memory_not_equal(base, k, 32);
    assert_int_equal(sse_body_key(&ok, &rec, "b", "k2", NULL, 0, salt, k), 0);
    assert_memory_not_equal(base, k, 32);
    assert_int_equal(sse_body_key(&ok, &rec, "b", "k", "u", 0, salt, k), 0);
    assert_memory_not_equal(base, k, 32);
    assert_int_equal(sse_body_key(&ok, &rec, "b", "k", "u", 1, salt, base),
                     0);
    assert_int_equal(sse_body_key(&ok, &rec, "b", "k", "u", 2, salt, k), 0);
    assert_memory_not_equal(base, k, 32);

    /* The context: order of pairs does not matter, values do. */
    strcpy(rec.context, "{\"a\":\"1\",\"b\":\"2\"}");
    assert_int_equal(sse_body_key(&ok, &rec, "b", "k", NULL, 0, salt, base),
                     0);
    strcpy(rec.context, "{\"b\":\"2\",\"a\":\"1\"}");
    assert_int_equal(sse_body_key(&ok, &rec, "b", "k", NULL, 0, salt, k), 0);
    assert_memory_equal(base, k, 32);
    strcpy(rec.context, "{\"a\":\"1\",\"b\":\"3\"}");
    assert_int_equal(sse_body_key(&ok, &rec, "b", "k", NULL, 0, salt, k), 0);
    assert_memory_not_equal(base, k, 32);
    strcpy(rec.context, "{\"a\":");
    assert_int_equal(sse_body_key(&ok, &rec, "b", "k", NULL, 0, salt, k),
                     CERR_CORRUPT);
}

/*
 * The body key is ruling 13's HKDF over the exact info bytes, and the
 * fast HKDF it uses equals libcrypto's at every info length around the
 * SHA-256 block edges.
 */
static void
test_body_key_known_answer(void **state)
{
    static const size_t lens[] = { 0, 1, 31, 32, 54, 55, 56, 63, 64, 65,
                                   119, 120, 128, 1000 };
    static const uint8_t info[] =
        "coffer bucket key v1"
        "\0\0\0\6bucket" "\0\0\0\3a/b" "\0\0\0\2up" "\0\0\0\0013"
        "\0\0\0\x16" "\0\0\0\1a" "\0\0\0\1b" "\0\0\0\2cc" "\0\0\0\2dd";
    struct meta_sse rec;
    struct sse_key ok;
    uint8_t salt[32], want[32], got[32], ikm[40], *msg;
    size_t i;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    strcpy(rec.context, "{\"cc\":\"dd\",\"a\":\"b\"}");
    memset(ok.bytes, 0x5a, sizeof(ok.bytes));
    memset(salt, 0xa5, sizeof(salt));
    assert_int_equal(crypto_hkdf_sha256(ok.bytes, 32, salt, 32, info,
                                        sizeof(info) - 1, want, 32), 0);
    assert_int_equal(sse_body_key(&ok, &rec, "bucket", "a/b", "up", 3, salt,
                                  got), 0);
    assert_memory_equal(got, want, 32);

    msg = pattern(1000, 13);
    assert_int_equal(crypto_random(ikm, sizeof(ikm)), 0);
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        assert_int_equal(crypto_hkdf_sha256(ikm, 32 + i % 9, salt, 32, msg,
                                            lens[i], want, 32), 0);
        assert_int_equal(crypto_hkdf_sha256_key(ikm, 32 + i % 9, salt, msg,
                                                lens[i], got), 0);
        assert_memory_equal(got, want, 32);
    }
    free(msg);
}

/* A request carrying the given SSE-C key (or none). */
static void
ssec_req(struct sse_request *r, enum sse_op op, const char *key)
{
    struct headers h = { 0 };
    uint8_t raw[32], dig[16];
    char md5[32];
    size_t len;

    if (key != NULL) {
        assert_int_equal(base64_decode(key, strlen(key), raw, sizeof(raw),
                                       &len), 0);
        crypto_md5(raw, len, dig);
        base64_encode(dig, sizeof(dig), md5);
        assert_int_equal(headers_add(&h, P_CALG, "AES256"), 0);
        assert_int_equal(headers_add(&h, P_CKEY, key), 0);
        assert_int_equal(headers_add(&h, P_CMD5, md5), 0);
    }
    assert_int_equal(sse_parse_request(&h, op, true, false, r, NULL), 0);
    headers_free(&h);
}

/* Rows 27, 29, 30, 33, 35: SSE-C objects and uploads. */
static void
test_ssec_object(void **state)
{
    struct fix *f = *state;
    struct sse_request w, rd, other, none, cs;
    struct meta_sse rec, s3rec;
    struct sse_key ok, got;
    struct err_detail d;

    ssec_req(&w, SSE_OP_WRITE, SSEC_KEY);
    assert_int_equal(new_obj(f, "plain", "c", &w, &rec, &ok, &d), 0);
    assert_int_equal(rec.mode, SSE_MODE_C);
    assert_true(rec.has_key_check);
    assert_int_equal(rec.wrapped_len, 60);
    /* The customer key is stored nowhere, in the clear or as its MD5. */
    assert_null(memmem(&rec, sizeof(rec), w.ssec_key, 32));
    assert_memory_not_equal(rec.key_check, w.ssec_key, 32);
    ssec_req(&rd, SSE_OP_READ, SSEC_KEY);
    round_trip(f, "plain", "c", &rec, &ok, &rd);

    ssec_req(&none, SSE_OP_READ, NULL);
    assert_int_equal(sse_open_object(f->s, &root, "plain", "c", &rec, &none,
                                     &got, &d), CERR_INVALID_REQUEST);
    assert_non_null(strstr(d.message, "correct parameters"));
    assert_int_equal(sse_open_object(f->s, &root, "plain", "c", &rec, NULL,
                                     &got, &d), CERR_INVALID_REQUEST);
    ssec_req(&other, SSE_OP_READ, SSEC_KEY2);
    assert_int_equal(sse_open_object(f->s, &root, "plain", "c", &rec, &other,
                                     &got, &d), CERR_ACCESS_DENIED);
    assert_non_null(strstr(d.message, "correct secret key"));

    /* Row 34: the copy-source trio opens a source the same way. */
    assert_int_equal(parse(SSE_OP_COPY_SOURCE, true, &cs, &d,
                           P_CS "algorithm", "AES256", P_CS "key", SSEC_KEY,
                           P_CS "key-MD5", SSEC_MD5, NULL), 0);
    assert_int_equal(sse_open_object(f->s, &root, "plain", "c", &rec, &cs,
                                     &got, &d), 0);
    assert_memory_equal(got.bytes, ok.bytes, 32);
    sse_request_clear(&cs);
    assert_int_equal(parse(SSE_OP_COPY_SOURCE, true, &cs, &d,
                           P_CS "algorithm", "AES256", P_CS "key", SSEC_KEY2,
                           P_CS "key-MD5", SSEC_MD52, NULL),
                     0);
    assert_int_equal(sse_open_object(f->s, &root, "plain", "c", &rec, &cs,
                                     &got, &d), CERR_ACCESS_DENIED);
    sse_request_clear(&cs);

    /* Row 35: a key for an object that has none. */
    assert_int_equal(new_obj(f, "plain", "s3", NULL, &s3rec, &got, &d), 0);
    assert_int_equal(sse_open_object(f->s, &root, "plain", "s3", &s3rec,
                                     &rd, &got, &d), CERR_INVALID_REQUEST);
    assert_non_null(strstr(d.message, "not applicable"));

    /* Row 33: parts and Complete of an SSE-C upload. */
    assert_int_equal(sse_open_upload(f->s, &root, "plain", "c", &rec, &rd,
                                     SSE_OP_PART, &got, &d), 0);
    assert_memory_equal(got.bytes, ok.bytes, 32);
    assert_int_equal(sse_open_upload(f->s, &root, "plain", "c", &rec, &none,
                                     SSE_OP_PART, &got, &d),
                     CERR_INVALID_REQUEST);
    assert_non_null(strstr(d.message, "Subsequent part requests"));
    assert_int_equal(sse_open_upload(f->s, &root, "plain", "c", &rec, &other,
                                     SSE_OP_PART, &got, &d),
                     CERR_INVALID_REQUEST);
    assert_non_null(strstr(d.message, "did not match"));
    assert_int_equal(sse_open_upload(f->s, &root, "plain", "c", &rec, &none,
                                     SSE_OP_COMPLETE, &got, &d), 0);
    assert_int_equal(sse_open_upload(f->s, &root, "plain", "c", &rec, &rd,
                                     SSE_OP_COMPLETE, &got, &d), 0);
    assert_int_equal(sse_open_upload(f->s, &root, "plain", "s3", &s3rec, &rd,
                                     SSE_OP_PART, &got, &d),
                     CERR_INVALID_REQUEST);
    assert_int_equal(sse_open_upload(f->s, &root, "plain", "s3", &s3rec,
                                     &none, SSE_OP_PART, &got, &d), 0);

    sse_request_clear(&w);
    sse_request_clear(&rd);
    sse_request_clear(&other);
    sse_request_clear(&none);
    sse_key_wipe(&ok);
    sse_key_wipe(&got);
}

/* A stored record bound to its object: another name does not open. */
static void
test_record_bound_to_object(void **state)
{
    struct fix *f = *state;
    struct sse_request req;
    struct meta_sse rec;
    struct sse_key ok, got;
    struct err_detail d;

    assert_int_equal(new_obj(f, "plain", "s", NULL, &rec, &ok, &d), 0);
    assert_int_equal(sse_open_object(f->s, &root, "plain", "t", &rec, NULL,
                                     &got, &d), CERR_CORRUPT);
    ssec_req(&req, SSE_OP_WRITE, SSEC_KEY);
    assert_int_equal(new_obj(f, "plain", "c", &req, &rec, &ok, &d), 0);
    assert_int_equal(sse_open_object(f->s, &root, "other", "c", &rec, &req,
                                     &got, &d), CERR_CORRUPT);
    sse_request_clear(&req);
    rec.mode = 99;
    assert_int_equal(sse_open_object(f->s, &root, "plain", "c", &rec, NULL,
                                     &got, &d), CERR_CORRUPT);
}

/* Write n objects with a bucket key; return the bucket-key id used. */
static int64_t
write_bk(struct fix *f, const char *bucket, const char *kid, int n,
         struct meta_sse *recs, struct sse_key *oks)
{
    struct sse_request req;
    struct err_detail d;
    char key[32];
    int64_t id = 0;
    int i;

    write_req(&req, P_SSE, "aws:kms", P_KID, kid, P_BK, "true", NULL);
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "obj%d", i);
        assert_int_equal(new_obj(f, bucket, key, &req, &recs[i], &oks[i],
                                 &d), 0);
        assert_true(recs[i].bucket_key);
        if (i > 0)
            assert_int_equal(recs[i].bucket_key_id, id);
        id = recs[i].bucket_key_id;
    }
    sse_request_clear(&req);
    return id;
}

/* N objects, one GenerateDataKey; a restart within the TTL, one Decrypt. */
static void
test_bucket_key_cache(void **state)
{
    struct fix *f = *state;
    struct meta_sse recs[20];
    struct sse_key oks[20];
    long gdk = kms_count(f, "GenerateDataKey");
    long dec = kms_count(f, "Decrypt");
    int64_t id, id2;
    int i;

    id = write_bk(f, "plain", f->key_id, 20, recs, oks);
    assert_int_equal(kms_count(f, "GenerateDataKey"), gdk + 1);
    for (i = 0; i < 20; i += 7)
        round_trip(f, "plain", "obj0", &recs[0], &oks[0], NULL);
    assert_int_equal(kms_count(f, "Decrypt"), dec);

    /* Another bucket, or another key: another bucket key. */
    id2 = write_bk(f, "other", f->key_id, 3, recs, oks);
    assert_int_not_equal(id2, id);
    id2 = write_bk(f, "plain", f->key2_arn, 3, recs, oks);
    assert_int_not_equal(id2, id);
    assert_int_equal(kms_count(f, "GenerateDataKey"), gdk + 3);

    /* Restart: the stored key is reused with one Decrypt. */
    open_sse(f, 0);
    assert_int_equal(write_bk(f, "plain", f->key_id, 5, recs, oks), id);
    assert_int_equal(kms_count(f, "GenerateDataKey"), gdk + 3);
    assert_int_equal(kms_count(f, "Decrypt"), dec + 1);
    round_trip(f, "plain", "obj4", &recs[4], &oks[4], NULL);
    assert_int_equal(kms_count(f, "Decrypt"), dec + 1);
    for (i = 0; i < 20; i++)
        sse_key_wipe(&oks[i]);
}

/* Reading after a restart costs one Decrypt per bucket key. */
static void
test_bucket_key_read_after_restart(void **state)
{
    struct fix *f = *state;
    struct meta_sse recs[3];
    struct sse_key oks[3];
    long dec;

    write_bk(f, "plain", f->key_id, 3, recs, oks);
    open_sse(f, 0);
    dec = kms_count(f, "Decrypt");
    round_trip(f, "plain", "obj0", &recs[0], &oks[0], NULL);
    round_trip(f, "plain", "obj1", &recs[1], &oks[1], NULL);
    round_trip(f, "plain", "obj2", &recs[2], &oks[2], NULL);
    assert_int_equal(kms_count(f, "Decrypt"), dec + 1);
}

/* After the TTL a new bucket key is made; old objects still read. */
static void
test_bucket_key_expiry(void **state)
{
    struct fix *f = *state;
    struct meta_sse a, b;
    struct sse_key oa, ob;
    long gdk = kms_count(f, "GenerateDataKey");
    long dec;

    open_sse(f, 100);
    write_bk(f, "plain", f->key_id, 1, &a, &oa);
    usleep(150 * 1000);
    write_bk(f, "plain", f->key_id, 1, &b, &ob);
    assert_int_not_equal(a.bucket_key_id, b.bucket_key_id);
    assert_int_equal(kms_count(f, "GenerateDataKey"), gdk + 2);

    /* The old key left the cache's read window too: one Decrypt. */
    dec = kms_count(f, "Decrypt");
    round_trip(f, "plain", "obj0", &a, &oa, NULL);
    assert_int_equal(kms_count(f, "Decrypt"), dec + 1);

    /* A restart past the TTL makes a new key rather than reuse one. */
    usleep(150 * 1000);
    open_sse(f, 100);
    write_bk(f, "plain", f->key_id, 1, &a, &oa);
    assert_int_not_equal(a.bucket_key_id, b.bucket_key_id);
    assert_int_equal(kms_count(f, "GenerateDataKey"), gdk + 3);
}

struct writer_arg {
    struct fix *f;
    struct sse_request *req;
    struct meta_bucket *rule;
    int n;
    int rc;
    int64_t ids[10];
};

/* Thread body: n bucket-key writes; results checked by the main thread
 * (cmocka's asserts belong to the main thread). */
static void *
writer_thread(void *p)
{
    struct writer_arg *a = p;
    struct meta_sse rec;
    struct sse_key ok;
    struct err_detail d;
    int i;

    for (i = 0; i < a->n && a->rc == 0; i++) {
        a->rc = sse_new_object(a->f->s, &root, "plain", "t", a->req,
                               a->rule, &rec, &ok, &d);
        a->ids[i] = rec.bucket_key_id;
        sse_key_wipe(&ok);
    }
    return NULL;
}

/* Concurrent first writes to a bucket make one bucket key, not many. */
static void
test_bucket_key_concurrent(void **state)
{
    struct fix *f = *state;
    struct writer_arg args[8];
    pthread_t th[8];
    struct sse_request req;
    struct meta_bucket rule;
    long gdk = kms_count(f, "GenerateDataKey");
    int i, j;

    write_req(&req, P_SSE, "aws:kms", P_KID, f->key_id, P_BK, "true", NULL);
    memset(&rule, 0, sizeof(rule));
    for (i = 0; i < 8; i++) {
        args[i] = (struct writer_arg){ f, &req, &rule, 10, 0, { 0 } };
        assert_int_equal(pthread_create(&th[i], NULL, writer_thread,
                                        &args[i]), 0);
    }
    for (i = 0; i < 8; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);

    for (i = 0; i < 8; i++) {
        assert_int_equal(args[i].rc, 0);
        for (j = 0; j < 10; j++)
            assert_int_equal(args[i].ids[j], args[0].ids[0]);
    }
    assert_int_equal(kms_count(f, "GenerateDataKey"), gdk + 1);
    sse_request_clear(&req);
}

/*
 * A KMS client that forwards to the real one but takes its time over
 * Decrypt, so that concurrent cache misses really overlap.
 */
static struct kms_client slow_inner;
static int slow_decrypts;

static int
slow_resolve(void *impl, const char *ref, char arn[KMS_ARN_MAX],
             struct err_detail *d)
{
    (void)impl;
    return slow_inner.ops->resolve(slow_inner.impl, ref, arn, d);
}

static int
slow_gdk(void *impl, const struct kms_caller *c, const char *ref,
         const json_t *ctx, uint8_t plain[32], uint8_t *blob,
         size_t *blob_len, char arn[KMS_ARN_MAX], struct err_detail *d)
{
    (void)impl;
    return slow_inner.ops->generate_data_key(slow_inner.impl, c, ref, ctx,
                                             plain, blob, blob_len, arn, d);
}

static int
slow_decrypt(void *impl, const struct kms_caller *c, const uint8_t *blob,
             size_t len, const json_t *ctx, uint8_t *plain,
             size_t *plain_len, char arn[KMS_ARN_MAX], struct err_detail *d)
{
    (void)impl;
    __atomic_add_fetch(&slow_decrypts, 1, __ATOMIC_SEQ_CST);
    usleep(20 * 1000);
    return slow_inner.ops->decrypt(slow_inner.impl, c, blob, len, ctx, plain,
                                   plain_len, arn, d);
}

static int
slow_authorize(void *impl, const struct kms_caller *c, const char *arn,
               const char *action, const json_t *ctx, struct err_detail *d)
{
    (void)impl;
    return slow_inner.ops->authorize(slow_inner.impl, c, arn, action, ctx,
                                     d);
}

static const struct kms_client_ops slow_ops = {
    slow_resolve, slow_gdk, slow_decrypt, slow_authorize,
};

struct reader_arg {
    struct sse *s;
    const struct meta_sse *rec;
    pthread_barrier_t *start;
    int rc;
};

/* Thread body: open one bucket-key object for reading, all at once. */
static void *
reader_thread(void *p)
{
    struct reader_arg *a = p;
    struct sse_key ok;
    struct err_detail d;

    pthread_barrier_wait(a->start);
    a->rc = sse_open_object(a->s, &root, "plain", "obj0", a->rec, NULL, &ok,
                            &d);
    sse_key_wipe(&ok);
    return NULL;
}

/* Readers that miss together after a restart cost one Decrypt. */
static void
test_bucket_key_concurrent_readers(void **state)
{
    struct fix *f = *state;
    struct sse_config cfg = { REGION, ACCOUNT, 0 };
    struct kms_client slow = { &slow_ops, NULL };
    struct reader_arg args[8];
    pthread_barrier_t start;
    struct meta_sse rec;
    struct sse_key ok;
    struct sse *s;
    pthread_t th[8];
    int i;

    write_bk(f, "plain", f->key_id, 1, &rec, &ok);
    sse_key_wipe(&ok);
    slow_inner = f->kc;
    slow_decrypts = 0;
    assert_int_equal(sse_open(&cfg, f->m, f->k, &slow, &s), 0);
    assert_int_equal(pthread_barrier_init(&start, NULL, 8), 0);
    for (i = 0; i < 8; i++) {
        args[i] = (struct reader_arg){ s, &rec, &start, -1 };
        assert_int_equal(pthread_create(&th[i], NULL, reader_thread,
                                        &args[i]), 0);
    }
    for (i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].rc, 0);
    }
    assert_int_equal(slow_decrypts, 1);
    pthread_barrier_destroy(&start);
    sse_close(s);
}

/* A full cache evicts the least recently used bucket key. */
static void
test_bucket_key_eviction(void **state)
{
    struct fix *f = *state;
    struct meta_sse rec;
    struct sse_key ok;
    char name[16];
    long dec;
    int i, n = 257;

    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "b%d", i);
        make_bucket(f, name, NULL, NULL, false);
        if (i < n - 1)
            write_bk(f, name, f->key_id, 1, &rec, &ok);
    }
    /* b0 used again, so b1 is now the least recently used. */
    write_bk(f, "b0", f->key_id, 1, &rec, &ok);
    write_bk(f, "b256", f->key_id, 1, &rec, &ok);

    dec = kms_count(f, "Decrypt");
    for (i = 0; i < n; i++) {
        if (i == 1)
            continue;
        snprintf(name, sizeof(name), "b%d", i);
        write_bk(f, name, f->key_id, 1, &rec, &ok);
    }
    assert_int_equal(kms_count(f, "Decrypt"), dec);
    write_bk(f, "b1", f->key_id, 1, &rec, &ok);
    assert_int_equal(kms_count(f, "Decrypt"), dec + 1);
    sse_key_wipe(&ok);
}

/*
 * Row 40 and §8: a caller the key policy refuses gets nothing, even when
 * the bucket key it would use is already cached.  The default key policy
 * lets the account root in; a user needs an identity policy.
 */
static void
test_bucket_key_caller_checked(void **state)
{
    static const struct kms_caller alice = {
        .principal_arn = "arn:aws:iam::" ACCOUNT ":user/alice",
        .account = ACCOUNT,
        .user_name = "alice",
        .request_id = "test-request",
        .source_ip = "127.0.0.1",
    };
    struct fix *f = *state;
    struct sse_request req;
    struct meta_sse rec, got;
    struct sse_key ok, ok2;
    struct err_detail d;

    write_bk(f, "plain", f->key_id, 1, &rec, &ok);
    write_req(&req, P_SSE, "aws:kms", P_KID, f->key_id, P_BK, "true", NULL);
    assert_int_equal(sse_new_object(f->s, &alice, "plain", "a", &req, NULL,
                                    &got, &ok2, &d), CERR_KMS_ACCESS_DENIED);
    assert_int_equal(sse_open_object(f->s, &alice, "plain", "obj0", &rec,
                                     NULL, &ok2, &d), CERR_KMS_ACCESS_DENIED);
    sse_request_clear(&req);

    write_req(&req, P_SSE, "aws:kms", P_KID, f->key_id, NULL);
    assert_int_equal(sse_new_object(f->s, &alice, "plain", "a", &req, NULL,
                                    &got, &ok2, &d), CERR_KMS_ACCESS_DENIED);
    assert_int_equal(sse_new_object(f->s, &root, "plain", "a", &req, NULL,
                                    &got, &ok2, &d), 0);
    assert_int_equal(sse_open_object(f->s, &alice, "plain", "a", &got,
                                     NULL, &ok2, &d), CERR_KMS_ACCESS_DENIED);
    sse_request_clear(&req);

    /* SSE-S3 needs no KMS permission. */
    assert_int_equal(sse_new_object(f->s, &alice, "plain", "s", NULL, NULL,
                                    &got, &ok2, &d), 0);
    assert_int_equal(sse_open_object(f->s, &alice, "plain", "s", &got,
                                     NULL, &ok2, &d), 0);
    sse_key_wipe(&ok);
    sse_key_wipe(&ok2);
}

/* Row 16: a disabled key stops writes and reads, cached or not. */
static void
test_disabled_key(void **state)
{
    struct fix *f = *state;
    struct sse_request req;
    struct meta_sse plain_rec, bk_rec, rec;
    struct sse_key ok, bk_ok;
    struct err_detail d;
    char body[128];

    write_req(&req, P_SSE, "aws:kms", P_KID, f->key_id, NULL);
    assert_int_equal(new_obj(f, "plain", "p", &req, &plain_rec, &ok, &d), 0);
    sse_request_clear(&req);
    write_bk(f, "plain", f->key_id, 1, &bk_rec, &bk_ok);

    snprintf(body, sizeof(body), "{\"KeyId\":\"%s\"}", f->key_id);
    assert_int_equal(kms_call(f, "DisableKey", body, NULL), 0);
    write_req(&req, P_SSE, "aws:kms", P_KID, f->key_id, NULL);
    assert_int_equal(new_obj(f, "plain", "q", &req, &rec, &ok, &d),
                     CERR_KMS_DISABLED);
    sse_request_clear(&req);
    write_req(&req, P_SSE, "aws:kms", P_KID, f->key_id, P_BK, "true", NULL);
    assert_int_equal(new_obj(f, "plain", "q", &req, &rec, &ok, &d),
                     CERR_KMS_DISABLED);
    sse_request_clear(&req);
    assert_int_equal(sse_open_object(f->s, &root, "plain", "p", &plain_rec,
                                     NULL, &ok, &d), CERR_KMS_DISABLED);
    /* The bucket key is still cached: the key state is checked anyway. */
    assert_int_equal(sse_open_object(f->s, &root, "plain", "obj0", &bk_rec,
                                     NULL, &ok, &d), CERR_KMS_DISABLED);

    assert_int_equal(kms_call(f, "EnableKey", body, NULL), 0);
    assert_int_equal(sse_open_object(f->s, &root, "plain", "p", &plain_rec,
                                     NULL, &ok, &d), 0);
    round_trip(f, "plain", "obj0", &bk_rec, &bk_ok, NULL);
    sse_key_wipe(&ok);
    sse_key_wipe(&bk_ok);
}

/* Row 17: a key pending deletion answers KMSInvalidStateException. */
static void
test_pending_deletion_key(void **state)
{
    struct fix *f = *state;
    struct sse_request req;
    struct meta_sse rec, bk_rec, got;
    struct sse_key ok, bk_ok;
    struct err_detail d;
    char body[400];

    write_req(&req, P_SSE, "aws:kms", P_KID, f->key2_arn, NULL);
    assert_int_equal(new_obj(f, "plain", "p", &req, &rec, &ok, &d), 0);
    write_bk(f, "plain", f->key2_arn, 1, &bk_rec, &bk_ok);

    snprintf(body, sizeof(body), "{\"KeyId\":\"%s\","
             "\"PendingWindowInDays\":7}", f->key2_arn);
    assert_int_equal(kms_call(f, "ScheduleKeyDeletion", body, NULL), 0);
    assert_int_equal(new_obj(f, "plain", "q", &req, &got, &ok, &d),
                     CERR_KMS_INVALID_STATE);
    assert_int_equal(sse_open_object(f->s, &root, "plain", "p", &rec, NULL,
                                     &ok, &d), CERR_KMS_INVALID_STATE);
    assert_int_equal(sse_open_object(f->s, &root, "plain", "obj0", &bk_rec,
                                     NULL, &ok, &d), CERR_KMS_INVALID_STATE);
    sse_request_clear(&req);
    sse_key_wipe(&bk_ok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stored_size),
#define BLOB_TEST(t) cmocka_unit_test_setup_teardown(t, setup_blob, teardown)
        BLOB_TEST(test_body_round_trip_sizes),
        BLOB_TEST(test_body_ranges),
        BLOB_TEST(test_body_every_offset),
        BLOB_TEST(test_body_wrong_key),
        BLOB_TEST(test_body_nonce_prefix_random),
        BLOB_TEST(test_body_flip_every_byte),
        BLOB_TEST(test_body_flip_segments),
        BLOB_TEST(test_body_direct_and_cached),
        BLOB_TEST(test_body_only_needed_segments),
        BLOB_TEST(test_body_decrypt_ahead),
        BLOB_TEST(test_body_decrypt_ahead_tamper),
        BLOB_TEST(test_body_decrypt_ahead_many_readers),
        BLOB_TEST(test_body_decrypt_ahead_limited),
        BLOB_TEST(test_body_truncate_and_append),
        BLOB_TEST(test_body_reorder),
        BLOB_TEST(test_body_bad_headers),
        BLOB_TEST(test_body_write_failure),
        cmocka_unit_test(test_parse_nothing),
        cmocka_unit_test(test_parse_kms),
        cmocka_unit_test(test_parse_bad_combinations),
        cmocka_unit_test(test_parse_bad_context),
        cmocka_unit_test(test_parse_not_supported),
        cmocka_unit_test(test_parse_ssec),
        cmocka_unit_test(test_parse_ssec_errors),
        cmocka_unit_test(test_parse_ssec_plain_allowed),
        cmocka_unit_test(test_validate_rule),
        cmocka_unit_test(test_response_headers),
#define KEY_TEST(t) cmocka_unit_test_setup_teardown(t, setup_keys, teardown)
        KEY_TEST(test_choice_plain_bucket),
        KEY_TEST(test_choice_bucket_rule),
        KEY_TEST(test_choice_unknown_keys),
        KEY_TEST(test_kms_context),
        cmocka_unit_test(test_body_key_binding),
        cmocka_unit_test(test_body_key_known_answer),
        KEY_TEST(test_ssec_object),
        KEY_TEST(test_record_bound_to_object),
        KEY_TEST(test_bucket_key_cache),
        KEY_TEST(test_bucket_key_read_after_restart),
        KEY_TEST(test_bucket_key_expiry),
        KEY_TEST(test_bucket_key_concurrent),
        KEY_TEST(test_bucket_key_concurrent_readers),
        KEY_TEST(test_bucket_key_eviction),
        KEY_TEST(test_bucket_key_caller_checked),
        KEY_TEST(test_disabled_key),
        KEY_TEST(test_pending_deletion_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
