/*
 * HKDF-SHA256 for one 32-byte key, as sse/ derives a data key for every
 * body it reads or writes (rulings.md 13).  The bytes are those of
 * crypto_hkdf_sha256; the cost is not: libcrypto's EVP_PKEY HKDF fetches
 * its providers and builds a key context on every call, some ten times
 * the work of the four SHA-256 compressions HKDF needs here.  So HMAC
 * is composed over a SHA-256 fetched once (hmac_sha256.c).
 */
#include "crypto/crypto_int.h"
#include "util/err.h"

#include <string.h>

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

    c = crypto_md_sha256() != NULL ? EVP_MD_CTX_new() : NULL;
    if (c == NULL) {
        memset(out, 0, CRYPTO_KEY_LEN);
        return CERR_INTERNAL;
    }
    rc = crypto_hmac_sha256_ctx(c, salt, 32, ikm, ikmlen, NULL, 0, prk);
    if (rc == 0)
        rc = crypto_hmac_sha256_ctx(c, prk, sizeof(prk), info, infolen,
                                    &one, 1, out);
    if (rc != 0)
        memset(out, 0, CRYPTO_KEY_LEN);
    crypto_wipe(prk, sizeof(prk));
    EVP_MD_CTX_free(c);
    return rc;
}
