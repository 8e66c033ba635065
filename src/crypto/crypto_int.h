/*
 * What the files of crypto/ share and nobody else sees: SHA-256 fetched
 * from the provider once, and HMAC-SHA256 composed over it.
 *
 * libcrypto's one-shot HMAC() and EVP_Digest(EVP_sha256()) look the
 * digest up in the provider store on every call, which costs more than
 * hashing the few hundred bytes SigV4 and HKDF feed them.
 */
#ifndef COFFER_CRYPTO_CRYPTO_INT_H
#define COFFER_CRYPTO_CRYPTO_INT_H

#include <openssl/evp.h>

#include "crypto/crypto.h"

/* SHA-256, fetched on first use; NULL when the provider lacks it. */
const EVP_MD *crypto_md_sha256(void);

/*
 * HMAC-SHA256 (RFC 2104) of m1 | m2 under key, any key length, with c
 * as scratch; l2 may be 0.  0 or CERR_INTERNAL (out is then zeroed).
 */
int crypto_hmac_sha256_ctx(EVP_MD_CTX *c, const void *key, size_t keylen,
                           const void *m1, size_t l1, const void *m2,
                           size_t l2, uint8_t out[CRYPTO_SHA256_LEN]);

#endif
