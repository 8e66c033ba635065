/*
 * libcrypto wrappers.  AES-GCM goes through EVP so that AES-NI and
 * PCLMUL are used where the CPU has them.
 */
#include "crypto/crypto.h"
#include "util/err.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

int
crypto_random(void *buf, size_t len)
{
    if (len == 0)
        return 0;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : CERR_INTERNAL;
}

int
crypto_uuid(char out[37])
{
    uint8_t b[16];

    if (crypto_random(b, sizeof(b)) != 0)
        return CERR_INTERNAL;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

bool
crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

void
crypto_wipe(void *p, size_t len)
{
    if (p != NULL)
        OPENSSL_cleanse(p, len);
}

void
crypto_md5(const void *data, size_t len, uint8_t out[CRYPTO_MD5_LEN])
{
    EVP_Digest(data, len, out, NULL, EVP_md5(), NULL);
}

struct crypto_hash {
    EVP_MD_CTX *ctx;
};

struct crypto_hash *
crypto_hash_new(enum crypto_hash_alg alg)
{
    struct crypto_hash *h;
    const EVP_MD *md;

    switch (alg) {
    case CRYPTO_HASH_MD5: md = EVP_md5(); break;
    case CRYPTO_HASH_SHA1: md = EVP_sha1(); break;
    default: md = EVP_sha256(); break;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
        crypto_hash_free(h);
        return NULL;
    }
    return h;
}

void
crypto_hash_update(struct crypto_hash *h, const void *data, size_t len)
{
    EVP_DigestUpdate(h->ctx, data, len);
}

size_t
crypto_hash_final(struct crypto_hash *h, uint8_t *out)
{
    unsigned int n = 0;

    EVP_DigestFinal_ex(h->ctx, out, &n);
    return n;
}

void
crypto_hash_free(struct crypto_hash *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

int
crypto_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt,
                   size_t saltlen, const void *info, size_t infolen,
                   void *out, size_t outlen)
{
    static const uint8_t none[1];
    EVP_PKEY_CTX *pc;
    size_t n = outlen;
    int ok;

    /* libcrypto refuses a NULL salt; RFC 5869 treats absent as empty. */
    if (salt == NULL) {
        salt = none;
        saltlen = 0;
    }
    pc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    if (pc == NULL)
        return CERR_INTERNAL;
    ok = EVP_PKEY_derive_init(pc) == 1 &&
         EVP_PKEY_CTX_set_hkdf_md(pc, EVP_sha256()) == 1 &&
         EVP_PKEY_CTX_set1_hkdf_salt(pc, salt, (int)saltlen) == 1 &&
         EVP_PKEY_CTX_set1_hkdf_key(pc, ikm, (int)ikmlen) == 1 &&
         EVP_PKEY_CTX_add1_hkdf_info(pc, info, (int)infolen) == 1 &&
         EVP_PKEY_derive(pc, out, &n) == 1 && n == outlen;
    EVP_PKEY_CTX_free(pc);
    return ok ? 0 : CERR_INTERNAL;
}

/*
 * AES-256-GCM is fetched from the provider once; an implicit fetch
 * through EVP_aes_256_gcm() on every context set-up cost more than
 * decrypting a 4 KiB body.  Each caller only seals or only opens, so a
 * context is made for a direction when it is first used: one context,
 * not two, per body.  The key waits in the struct until then.
 */
static pthread_once_t aes_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *aes_gcm;

static void
fetch_aes_gcm(void)
{
    aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

struct crypto_aead {
    EVP_CIPHER_CTX *enc;
    EVP_CIPHER_CTX *dec;
    uint8_t key[CRYPTO_KEY_LEN];
};

struct crypto_aead *
crypto_aead_new(const uint8_t key[CRYPTO_KEY_LEN])
{
    struct crypto_aead *a;

    pthread_once(&aes_once, fetch_aes_gcm);
    if (aes_gcm == NULL || (a = malloc(sizeof(*a))) == NULL)
        return NULL;
    a->enc = NULL;
    a->dec = NULL;
    memcpy(a->key, key, CRYPTO_KEY_LEN);
    return a;
}

/* The context for one direction, made on first use; NULL on failure. */
static EVP_CIPHER_CTX *
aead_ctx(struct crypto_aead *a, bool enc)
{
    EVP_CIPHER_CTX **slot = enc ? &a->enc : &a->dec;
    EVP_CIPHER_CTX *c = *slot;

    if (c != NULL)
        return c;
    c = EVP_CIPHER_CTX_new();
    if (c == NULL ||
        EVP_CipherInit_ex2(c, aes_gcm, a->key, NULL, enc, NULL) != 1) {
        EVP_CIPHER_CTX_free(c);
        return NULL;
    }
    *slot = c;
    return c;
}

void
crypto_aead_free(struct crypto_aead *a)
{
    if (a == NULL)
        return;
    /* EVP_CIPHER_CTX_free cleanses the expanded key schedule. */
    EVP_CIPHER_CTX_free(a->enc);
    EVP_CIPHER_CTX_free(a->dec);
    crypto_wipe(a->key, sizeof(a->key));
    free(a);
}

int
crypto_aead_seal(struct crypto_aead *a, const uint8_t nonce[CRYPTO_NONCE_LEN],
                 const void *aad, size_t aadlen, const void *pt, size_t len,
                 void *ct, uint8_t tag[CRYPTO_TAG_LEN])
{
    EVP_CIPHER_CTX *c = aead_ctx(a, true);
    int n;

    if (c == NULL || EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1)
        return CERR_INTERNAL;
    if (aadlen && EVP_EncryptUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
        return CERR_INTERNAL;
    if (len && EVP_EncryptUpdate(c, ct, &n, pt, (int)len) != 1)
        return CERR_INTERNAL;
    if (EVP_EncryptFinal_ex(c, (unsigned char *)ct + len, &n) != 1)
        return CERR_INTERNAL;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN,
                            tag) != 1)
        return CERR_INTERNAL;
    return 0;
}

int
crypto_aead_open(struct crypto_aead *a, const uint8_t nonce[CRYPTO_NONCE_LEN],
                 const void *aad, size_t aadlen, const void *ct, size_t len,
                 const uint8_t tag[CRYPTO_TAG_LEN], void *pt)
{
    EVP_CIPHER_CTX *c = aead_ctx(a, false);
    int n;

    if (c == NULL || EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) != 1)
        return CERR_INTERNAL;
    if (aadlen && EVP_DecryptUpdate(c, NULL, &n, aad, (int)aadlen) != 1)
        return CERR_INTERNAL;
    if (len && EVP_DecryptUpdate(c, pt, &n, ct, (int)len) != 1)
        return CERR_INTERNAL;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN,
                            (void *)tag) != 1)
        return CERR_INTERNAL;
    if (EVP_DecryptFinal_ex(c, (unsigned char *)pt + len, &n) != 1)
        return CERR_CORRUPT;
    return 0;
}
