/*
 * Unit tests for crypto/: digests and HMAC against published vectors,
 * HKDF's fast path against libcrypto's, and AES-256-GCM contexts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "util/codec.h"
#include "util/err.h"

static void
assert_hex(const uint8_t *b, size_t len, const char *want)
{
    char hex[129];

    hex_encode(b, len, hex);
    assert_string_equal(hex, want);
}

static void
test_sha256_known_values(void **state)
{
    uint8_t d[CRYPTO_SHA256_LEN];

    (void)state;
    crypto_sha256("", 0, d);
    assert_hex(d, sizeof(d), "e3b0c44298fc1c149afbf4c8996fb924"
               "27ae41e4649b934ca495991b7852b855");
    crypto_sha256("abc", 3, d);
    assert_hex(d, sizeof(d), "ba7816bf8f01cfea414140de5dae2223"
               "b00361a396177a9cb410ff61f20015ad");
}

/* RFC 4231 cases 1, 2 and 6 (a key longer than a block). */
static void
test_hmac_sha256_rfc4231(void **state)
{
    uint8_t key[131], mac[CRYPTO_SHA256_LEN];

    (void)state;
    memset(key, 0x0b, 20);
    crypto_hmac_sha256(key, 20, "Hi There", 8, mac);
    assert_hex(mac, sizeof(mac), "b0344c61d8db38535ca8afceaf0bf12b"
               "881dc200c9833da726e9376c2e32cff7");
    crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    assert_hex(mac, sizeof(mac), "5bdcc146bf60754e6a042426089575c7"
               "5a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, sizeof(key));
    crypto_hmac_sha256(key, sizeof(key),
                       "Test Using Larger Than Block-Size Key - "
                       "Hash Key First", 54, mac);
    assert_hex(mac, sizeof(mac), "60e431591ee0b67f0d8a26aacbf5b77f"
               "8e0bc6213728c5140546040f0ee37f54");
}

/* SigV4 chains HMACs with the output over the key: that must work. */
static void
test_hmac_sha256_output_may_be_key(void **state)
{
    uint8_t k[CRYPTO_SHA256_LEN], want[CRYPTO_SHA256_LEN];

    (void)state;
    memset(k, 7, sizeof(k));
    crypto_hmac_sha256(k, sizeof(k), "region", 6, want);
    crypto_hmac_sha256(k, sizeof(k), "region", 6, k);
    assert_memory_equal(k, want, sizeof(k));
}

static void
test_hkdf_key_matches_general_hkdf(void **state)
{
    uint8_t ikm[32], salt[32], a[32], b[32];
    size_t i;

    (void)state;
    for (i = 0; i < 32; i++) {
        ikm[i] = (uint8_t)(i * 3);
        salt[i] = (uint8_t)(255 - i);
    }
    assert_int_equal(crypto_hkdf_sha256(ikm, 32, salt, 32, "body", 4, a,
                                        32), 0);
    assert_int_equal(crypto_hkdf_sha256_key(ikm, 32, salt, "body", 4, b),
                     0);
    assert_memory_equal(a, b, 32);
}

/* NIST GCM test case 14: 256-bit zero key, zero IV, 16 zero bytes. */
static void
test_aead_known_value(void **state)
{
    uint8_t key[32] = { 0 }, nonce[12] = { 0 }, pt[16] = { 0 };
    uint8_t ct[16], tag[16];
    struct crypto_aead *a = crypto_aead_new(key);

    (void)state;
    assert_non_null(a);
    assert_int_equal(crypto_aead_seal(a, nonce, NULL, 0, pt, 16, ct, tag),
                     0);
    assert_hex(ct, 16, "cea7403d4d606b6e074ec5d3baf39d18");
    assert_hex(tag, 16, "d0d1c8a799996bf0265b98b5d48ab919");
    crypto_aead_free(a);
}

/* One context seals and opens in turn, in place; a flipped bit fails. */
static void
test_aead_both_directions_and_tamper(void **state)
{
    uint8_t key[32], nonce[12], buf[100], pt[100], tag[16];
    struct crypto_aead *a;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)i;
    memset(nonce, 9, sizeof(nonce));
    for (i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(i * 7);
    a = crypto_aead_new(key);
    assert_non_null(a);

    memcpy(buf, pt, sizeof(buf));
    assert_int_equal(crypto_aead_seal(a, nonce, "aad", 3, buf, sizeof(buf),
                                      buf, tag), 0);
    assert_int_equal(crypto_aead_open(a, nonce, "aad", 3, buf, sizeof(buf),
                                      tag, buf), 0);
    assert_memory_equal(buf, pt, sizeof(pt));

    assert_int_equal(crypto_aead_seal(a, nonce, "aad", 3, pt, sizeof(pt),
                                      buf, tag), 0);
    buf[50] ^= 1;
    assert_int_equal(crypto_aead_open(a, nonce, "aad", 3, buf, sizeof(buf),
                                      tag, buf), CERR_CORRUPT);
    buf[50] ^= 1;
    assert_int_equal(crypto_aead_open(a, nonce, "aaD", 3, buf, sizeof(buf),
                                      tag, buf), CERR_CORRUPT);
    crypto_aead_free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_known_values),
        cmocka_unit_test(test_hmac_sha256_rfc4231),
        cmocka_unit_test(test_hmac_sha256_output_may_be_key),
        cmocka_unit_test(test_hkdf_key_matches_general_hkdf),
        cmocka_unit_test(test_aead_known_value),
        cmocka_unit_test(test_aead_both_directions_and_tamper),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
