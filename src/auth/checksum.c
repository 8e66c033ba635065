/*
 * The S3 flexible checksums: CRC32 (IEEE), CRC32C (Castagnoli),
 * CRC64NVME, SHA-1 and SHA-256, each sent as base64 of the big-endian
 * digest.  The CRCs are reflected, start from all ones and end inverted:
 *
 *     CRC32      poly 0x04c11db7  reflected 0xedb88320
 *     CRC32C     poly 0x1edc6f41  reflected 0x82f63b78
 *     CRC64NVME  poly 0xad93d23594c93659, reflected
 *
 * They run slicing-by-8 (eight bytes per step, eight 256-entry tables per
 * CRC, built once under pthread_once), fast enough for bodies streamed at
 * several hundred MB/s.  The digests go through crypto.h.
 */
#include "auth/auth_int.h"
#include "crypto/crypto.h"
#include "util/codec.h"
#include "util/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CRC32_POLY 0xedb88320u
#define CRC32C_POLY 0x82f63b78u
#define CRC64NVME_POLY 0xad93d23594c93659ull

struct auth_checksum {
    int alg;
    uint64_t crc;
    struct crypto_hash *h;
    bool done;
};

static const struct {
    const char *name;
    const char *header;
    size_t len;
} algs[CKSUM_COUNT] = {
    [CKSUM_CRC32] = { "CRC32", "x-amz-checksum-crc32", 4 },
    [CKSUM_CRC32C] = { "CRC32C", "x-amz-checksum-crc32c", 4 },
    [CKSUM_CRC64NVME] = { "CRC64NVME", "x-amz-checksum-crc64nvme", 8 },
    [CKSUM_SHA1] = { "SHA1", "x-amz-checksum-sha1", 20 },
    [CKSUM_SHA256] = { "SHA256", "x-amz-checksum-sha256", 32 },
};

static uint32_t crc32_tab[8][256];
static uint32_t crc32c_tab[8][256];
static uint64_t crc64_tab[8][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static uint64_t
reflect64(uint64_t v)
{
    uint64_t r = 0;
    int i;

    for (i = 0; i < 64; i++) {
        r = r << 1 | (v & 1);
        v >>= 1;
    }
    return r;
}

static void
build32(uint32_t tab[8][256], uint32_t poly)
{
    int i, j, k;

    for (i = 0; i < 256; i++) {
        uint32_t c = (uint32_t)i;

        for (j = 0; j < 8; j++)
            c = c & 1 ? c >> 1 ^ poly : c >> 1;
        tab[0][i] = c;
    }
    for (k = 1; k < 8; k++)
        for (i = 0; i < 256; i++)
            tab[k][i] = tab[k - 1][i] >> 8 ^ tab[0][tab[k - 1][i] & 0xff];
}

static void
build64(uint64_t tab[8][256], uint64_t poly)
{
    int i, j, k;

    for (i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;

        for (j = 0; j < 8; j++)
            c = c & 1 ? c >> 1 ^ poly : c >> 1;
        tab[0][i] = c;
    }
    for (k = 1; k < 8; k++)
        for (i = 0; i < 256; i++)
            tab[k][i] = tab[k - 1][i] >> 8 ^ tab[0][tab[k - 1][i] & 0xff];
}

static void
build_tables(void)
{
    build32(crc32_tab, CRC32_POLY);
    build32(crc32c_tab, CRC32C_POLY);
    build64(crc64_tab, reflect64(CRC64NVME_POLY));
}

static uint64_t
load64le(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
           (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

/* One reflected 32-bit CRC over `len` bytes with table set `t`. */
static uint32_t
crc32_run(uint32_t t[8][256], uint32_t crc, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        uint64_t v = load64le(p) ^ crc;
        uint32_t lo = (uint32_t)v, hi = (uint32_t)(v >> 32);

        crc = t[7][lo & 0xff] ^ t[6][lo >> 8 & 0xff] ^
              t[5][lo >> 16 & 0xff] ^ t[4][lo >> 24] ^
              t[3][hi & 0xff] ^ t[2][hi >> 8 & 0xff] ^
              t[1][hi >> 16 & 0xff] ^ t[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        crc = crc >> 8 ^ t[0][(crc ^ *p++) & 0xff];
    return crc;
}

/*
 * Raw CRC-32 update: the caller starts from 0xffffffff and inverts the
 * result, so a value can be carried across calls.
 */
uint32_t
crc32_update(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&tables_once, build_tables);
    return crc32_run(crc32_tab, crc, data, len);
}

/* Raw CRC-32C update, used as crc32_update. */
uint32_t
crc32c_update(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&tables_once, build_tables);
    return crc32_run(crc32c_tab, crc, data, len);
}

/* Raw CRC-64/NVME update: start from all ones, invert at the end. */
uint64_t
crc64nvme_update(uint64_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t (*t)[256] = crc64_tab;

    pthread_once(&tables_once, build_tables);
    while (len >= 8) {
        crc ^= load64le(p);
        crc = t[7][crc & 0xff] ^ t[6][crc >> 8 & 0xff] ^
              t[5][crc >> 16 & 0xff] ^ t[4][crc >> 24 & 0xff] ^
              t[3][crc >> 32 & 0xff] ^ t[2][crc >> 40 & 0xff] ^
              t[1][crc >> 48 & 0xff] ^ t[0][crc >> 56];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        crc = crc >> 8 ^ t[0][(crc ^ *p++) & 0xff];
    return crc;
}

/* The algorithm for an S3 name such as "CRC32" (any case), or -1. */
int
cksum_alg_by_name(const char *name)
{
    int i;

    for (i = 0; i < CKSUM_COUNT; i++)
        if (strcasecmp(name, algs[i].name) == 0)
            return i;
    return -1;
}

/* The algorithm for a lowercase header name, or -1. */
int
cksum_alg_by_header(const char *hname)
{
    int i;

    for (i = 0; i < CKSUM_COUNT; i++)
        if (strcmp(hname, algs[i].header) == 0)
            return i;
    return -1;
}

/* "x-amz-checksum-crc32" and so on; alg must be valid. */
const char *
cksum_header_name(int alg)
{
    return algs[alg].header;
}

/* The raw digest length of a valid alg. */
size_t
cksum_digest_len(int alg)
{
    return algs[alg].len;
}

/* A fresh streaming checksum; NULL when out of memory. */
struct auth_checksum *
cksum_new(int alg)
{
    struct auth_checksum *k = calloc(1, sizeof(*k));

    if (k == NULL)
        return NULL;
    k->alg = alg;
    k->crc = alg == CKSUM_CRC64NVME ? UINT64_MAX : 0xffffffffu;
    if (alg == CKSUM_SHA1 || alg == CKSUM_SHA256) {
        k->h = crypto_hash_new(alg == CKSUM_SHA1 ? CRYPTO_HASH_SHA1
                                                 : CRYPTO_HASH_SHA256);
        if (k->h == NULL) {
            free(k);
            return NULL;
        }
    }
    return k;
}

/* Streaming checksum by S3 name; NULL for an unknown name or no memory. */
struct auth_checksum *
auth_checksum_new(const char *alg)
{
    int a = alg ? cksum_alg_by_name(alg) : -1;

    return a < 0 ? NULL : cksum_new(a);
}

/* Add bytes to a checksum that has not been finalised. */
void
auth_checksum_update(struct auth_checksum *k, const void *data, size_t len)
{
    switch (k->alg) {
    case CKSUM_CRC32:
        k->crc = crc32_update((uint32_t)k->crc, data, len);
        break;
    case CKSUM_CRC32C:
        k->crc = crc32c_update((uint32_t)k->crc, data, len);
        break;
    case CKSUM_CRC64NVME:
        k->crc = crc64nvme_update(k->crc, data, len);
        break;
    default:
        crypto_hash_update(k->h, data, len);
        break;
    }
}

static void
put_be(uint64_t v, uint8_t *out, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* The raw big-endian digest into out; the checksum is spent after this. */
void
cksum_final_raw(struct auth_checksum *k, uint8_t out[32])
{
    k->done = true;
    switch (k->alg) {
    case CKSUM_CRC32:
    case CKSUM_CRC32C:
        put_be(k->crc ^ 0xffffffffu, out, 4);
        break;
    case CKSUM_CRC64NVME:
        put_be(k->crc ^ UINT64_MAX, out, 8);
        break;
    default:
        crypto_hash_final(k->h, out);
        break;
    }
}

/*
 * Write the base64 digest into b64_out.  CERR_INVALID_ARGUMENT when cap
 * is too small or the checksum was already finalised.
 */
int
auth_checksum_final(struct auth_checksum *k, char *b64_out, size_t cap)
{
    uint8_t raw[32];
    size_t n = algs[k->alg].len;

    if (k->done || cap < base64_encoded_len(n) + 1)
        return CERR_INVALID_ARGUMENT;
    cksum_final_raw(k, raw);
    base64_encode(raw, n, b64_out);
    return 0;
}

/* Free a checksum; NULL is allowed. */
void
auth_checksum_free(struct auth_checksum *k)
{
    if (k == NULL)
        return;
    crypto_hash_free(k->h);
    free(k);
}

/*
 * One-shot checksum by S3 name into b64_out.  CERR_INVALID_REQUEST for an
 * unknown name, CERR_INVALID_ARGUMENT when cap is too small, CERR_NOMEM.
 */
int
auth_checksum_compute(const char *alg, const void *data, size_t len,
                      char *b64_out, size_t cap)
{
    struct auth_checksum *k;
    int a = alg ? cksum_alg_by_name(alg) : -1, rc;

    if (a < 0)
        return CERR_INVALID_REQUEST;
    if (cap < base64_encoded_len(algs[a].len) + 1)
        return CERR_INVALID_ARGUMENT;
    k = cksum_new(a);
    if (k == NULL)
        return CERR_NOMEM;
    auth_checksum_update(k, data, len);
    rc = auth_checksum_final(k, b64_out, cap);
    auth_checksum_free(k);
    return rc;
}
