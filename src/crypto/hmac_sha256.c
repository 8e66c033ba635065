/*
 * SHA-256 and HMAC-SHA256 over a digest fetched once (crypto_int.h).
 * SigV4 signs every request with an HMAC and hashes its canonical
 * request; sse/ derives a key per body with two HMACs (hkdf_key.c).
 */
#include "crypto/crypto_int.h"
#include "util/err.h"

#include <pthread.h>
#include <string.h>

#define BLOCK 64                    /* SHA-256 block size */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256;

static void
fetch_sha256(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *
crypto_md_sha256(void)
{
    pthread_once(&once, fetch_sha256);
    return sha256;
}

/* One pass of HMAC: H(key ^ pad | m1 | m2) into out. */
static bool
hmac_pass(EVP_MD_CTX *c, const uint8_t pad[BLOCK], const void *m1,
          size_t l1, const void *m2, size_t l2, uint8_t *out)
{
    unsigned int n;

    return EVP_DigestInit_ex(c, sha256, NULL) == 1 &&
           EVP_DigestUpdate(c, pad, BLOCK) == 1 &&
           (l1 == 0 || EVP_DigestUpdate(c, m1, l1) == 1) &&
           (l2 == 0 || EVP_DigestUpdate(c, m2, l2) == 1) &&
           EVP_DigestFinal_ex(c, out, &n) == 1;
}

int
crypto_hmac_sha256_ctx(EVP_MD_CTX *c, const void *key, size_t keylen,
                       const void *m1, size_t l1, const void *m2, size_t l2,
                       uint8_t out[CRYPTO_SHA256_LEN])
{
    uint8_t pad[BLOCK], inner[CRYPTO_SHA256_LEN], kh[CRYPTO_SHA256_LEN];
    const uint8_t *k = key;
    unsigned int n;
    size_t i;
    bool ok = crypto_md_sha256() != NULL;

    /* A key longer than a block is replaced by its hash (RFC 2104). */
    if (ok && keylen > BLOCK) {
        ok = EVP_Digest(key, keylen, kh, &n, sha256, NULL) == 1;
        k = kh;
        keylen = sizeof(kh);
    }

    memset(pad, 0x36, sizeof(pad));
    for (i = 0; ok && i < keylen; i++)
        pad[i] ^= k[i];
    ok = ok && hmac_pass(c, pad, m1, l1, m2, l2, inner);

    for (i = 0; i < sizeof(pad); i++)
        pad[i] ^= 0x36 ^ 0x5c;
    ok = ok && hmac_pass(c, pad, inner, sizeof(inner), NULL, 0, out);

    if (!ok)
        memset(out, 0, CRYPTO_SHA256_LEN);
    crypto_wipe(pad, sizeof(pad));
    crypto_wipe(inner, sizeof(inner));
    crypto_wipe(kh, sizeof(kh));
    return ok ? 0 : CERR_INTERNAL;
}

/* SHA-256 of data into out. */
void
crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
    const EVP_MD *md = crypto_md_sha256();

    if (md == NULL || EVP_Digest(data, len, out, NULL, md, NULL) != 1)
        memset(out, 0, CRYPTO_SHA256_LEN);
}

/* HMAC-SHA256 of msg under key into out (zeroed on a libcrypto failure). */
void
crypto_hmac_sha256(const void *key, size_t keylen, const void *msg,
                   size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    if (c == NULL) {
        memset(out, 0, CRYPTO_SHA256_LEN);
        return;
    }
    crypto_hmac_sha256_ctx(c, key, keylen, msg, len, NULL, 0, out);
    EVP_MD_CTX_free(c);
}
