/*
 * HKDF-SHA256 for one 32-byte key, as sse/ derives a data key for every
 * body it reads or writes (rulings.md 13).  The bytes are those of
 * crypto_hkdf_sha256; the cost is not: libcrypto's EVP_PKEY HKDF fetches
 * its providers and builds a key context on every call, some ten times
 * the work of the four SHA-256 compressions HKDF needs here.  So HMAC
 * (RFC 2104) is composed over a SHA-256 fetched once.
 */
#include "crypto/crypto.h"
#include "util/err.h"

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#define BLOCK 64                    /* SHA-256 block size */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256;

static void
fetch_sha256(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* HMAC-SHA256 under a key of at most one block, message in two pieces. */
static int
hmac(EVP_MD_CTX *c, const uint8_t *key, size_t keylen, const void *m1,
     size_t l1, const void *m2, size_t l2, uint8_t out[CRYPTO_SHA256_LEN])
{
    uint8_t pad[BLOCK], inner[CRYPTO_SHA256_LEN];
    unsigned int n;
    size_t i;
    int ok;

    memset(pad, 0x36, sizeof(pad));
    for (i = 0; i < keylen; i++)
        pad[i] ^= key[i];
    ok = EVP_DigestInit_ex(c, sha256, NULL) == 1 &&
         EVP_DigestUpdate(c, pad, sizeof(pad)) == 1 &&
         EVP_DigestUpdate(c, m1, l1) == 1 &&
         (l2 == 0 || EVP_DigestUpdate(c, m2, l2) == 1) &&
         EVP_DigestFinal_ex(c, inner, &n) == 1;

    for (i = 0; i < sizeof(pad); i++)
        pad[i] ^= 0x36 ^ 0x5c;
    ok = ok && EVP_DigestInit_ex(c, sha256, NULL) == 1 &&
         EVP_DigestUpdate(c, pad, sizeof(pad)) == 1 &&
         EVP_DigestUpdate(c, inner, sizeof(inner)) == 1 &&
         EVP_DigestFinal_ex(c, out, &n) == 1;
    crypto_wipe(pad, sizeof(pad));
    crypto_wipe(inner, sizeof(inner));
    return ok ? 0 : CERR_INTERNAL;
}

/*
 * HKDF-SHA256 of ikm with a 32-byte salt and info into a 32-byte key:
 * PRK = HMAC(salt, ikm), out = HMAC(PRK, info | 0x01).  Equal to
 * crypto_hkdf_sha256 with outlen 32.  0, or CERR_INTERNAL (out is then
 * zeroed).
 */
int
crypto_hkdf_sha256_key(const void *ikm, size_t ikmlen,
                       const uint8_t salt[32], const void *info,
                       size_t infolen, uint8_t out[CRYPTO_KEY_LEN])
{
    static const uint8_t one = 1;
    uint8_t prk[CRYPTO_SHA256_LEN];
    EVP_MD_CTX *c;
    int rc;

    pthread_once(&once, fetch_sha256);
    c = sha256 != NULL ? EVP_MD_CTX_new() : NULL;
    if (c == NULL) {
        memset(out, 0, CRYPTO_KEY_LEN);
        return CERR_INTERNAL;
    }
    rc = hmac(c, salt, 32, ikm, ikmlen, NULL, 0, prk);
    if (rc == 0)
        rc = hmac(c, prk, sizeof(prk), info, infolen, &one, 1, out);
    if (rc != 0)
        memset(out, 0, CRYPTO_KEY_LEN);
    crypto_wipe(prk, sizeof(prk));
    EVP_MD_CTX_free(c);
    return rc;
}
