/*
 * HMAC-SHA1, for the one place it is still needed: Signature Version 2
 * presigned URLs, which the aws CLI v1 and boto3 make by default for an
 * S3 endpoint of their own choosing.  Nothing else may use SHA-1.
 */
#include "crypto/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* HMAC-SHA1 of msg under key into out (20 bytes). */
void
crypto_hmac_sha1(const void *key, size_t keylen, const void *msg,
                 size_t len, uint8_t out[CRYPTO_SHA1_LEN])
{
    unsigned int n = CRYPTO_SHA1_LEN;

    HMAC(EVP_sha1(), key, (int)keylen, msg, len, out, &n);
}
