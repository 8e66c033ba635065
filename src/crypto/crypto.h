/*
 * The thin layer over OpenSSL's libcrypto that auth, kms and sse share:
 * AES-256-GCM, HKDF-SHA256, HMAC-SHA256, digests, random bytes,
 * constant-time comparison and wiping.  Nothing here logs; failures are
 * returned as coffer codes (CERR_INTERNAL for a libcrypto failure,
 * CERR_CORRUPT for an authentication failure on open).
 */
#ifndef COFFER_CRYPTO_CRYPTO_H
#define COFFER_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN 32
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_TAG_LEN 16
#define CRYPTO_SHA256_LEN 32
#define CRYPTO_SHA1_LEN 20
#define CRYPTO_MD5_LEN 16

/* Fill `buf` from the CSPRNG; 0 or CERR_INTERNAL. */
int crypto_random(void *buf, size_t len);

/* A random version 4 UUID, lowercase, into out[37]. */
int crypto_uuid(char out[37]);

/* Constant-time equality of two equal-length byte strings. */
bool crypto_equal(const void *a, const void *b, size_t len);

/* Zero memory in a way the compiler may not remove. */
void crypto_wipe(void *p, size_t len);

/* One-shot digests. */
void crypto_sha256(const void *data, size_t len,
                   uint8_t out[CRYPTO_SHA256_LEN]);
void crypto_md5(const void *data, size_t len, uint8_t out[CRYPTO_MD5_LEN]);
void crypto_hmac_sha256(const void *key, size_t keylen, const void *msg,
                        size_t len, uint8_t out[CRYPTO_SHA256_LEN]);

/* HMAC-SHA1 (hmac_sha1.c): for SigV2 presigned URLs only. */
void crypto_hmac_sha1(const void *key, size_t keylen, const void *msg,
                      size_t len, uint8_t out[CRYPTO_SHA1_LEN]);

/* Streaming digests.  A NULL from crypto_hash_new means out of memory. */
enum crypto_hash_alg {
    CRYPTO_HASH_MD5,
    CRYPTO_HASH_SHA1,
    CRYPTO_HASH_SHA256,
};

struct crypto_hash;

struct crypto_hash *crypto_hash_new(enum crypto_hash_alg alg);
void crypto_hash_update(struct crypto_hash *h, const void *data, size_t len);
/* Writes the digest (16, 20 or 32 bytes); returns its length. */
size_t crypto_hash_final(struct crypto_hash *h, uint8_t *out);
void crypto_hash_free(struct crypto_hash *h);

/*
 * HKDF-SHA256 (RFC 5869): extract with `salt` (NULL = none), expand
 * with `info` into `outlen` bytes.  0 or CERR_INTERNAL.
 */
int crypto_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt,
                       size_t saltlen, const void *info, size_t infolen,
                       void *out, size_t outlen);

/* The same for one 32-byte key and a 32-byte salt, at a tenth of the
 * cost (hkdf_key.c): sse/'s per-body data keys.  Out zeroed on failure. */
int crypto_hkdf_sha256_key(const void *ikm, size_t ikmlen,
                           const uint8_t salt[32], const void *info,
                           size_t infolen, uint8_t out[CRYPTO_KEY_LEN]);

/*
 * AES-256-GCM with a 12-byte nonce and 16-byte tag.  A context holds one
 * key and may be used for any number of seal/open calls, by one thread at
 * a time.  The key is wiped when the context is freed.
 */
struct crypto_aead;

struct crypto_aead *crypto_aead_new(const uint8_t key[CRYPTO_KEY_LEN]);
void crypto_aead_free(struct crypto_aead *a);

/* ct may equal pt.  0 or CERR_INTERNAL. */
int crypto_aead_seal(struct crypto_aead *a,
                     const uint8_t nonce[CRYPTO_NONCE_LEN],
                     const void *aad, size_t aadlen, const void *pt,
                     size_t len, void *ct, uint8_t tag[CRYPTO_TAG_LEN]);

/* pt may equal ct.  0, or CERR_CORRUPT when the tag does not verify. */
int crypto_aead_open(struct crypto_aead *a,
                     const uint8_t nonce[CRYPTO_NONCE_LEN],
                     const void *aad, size_t aadlen, const void *ct,
                     size_t len, const uint8_t tag[CRYPTO_TAG_LEN],
                     void *pt);

#endif
