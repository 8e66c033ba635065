/*
 * Unit tests of kms/: the root key file, encryption-context
 * canonicalisation, the ciphertext blob under tampering, key resolution in
 * all four forms with AWS's messages, every implemented operation's happy
 * path and validation errors, key states, the in-process client, the
 * internal keys and the hash-chained audit trail.  Each test runs against
 * a real SQLite store in a fresh temporary directory.
 */
#include <ctype.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "crypto/crypto.h"
#include "kms/kms.h"
#include "kms/kms_int.h"
#include "policy/policy.h"
#include "store/meta.h"
#include "util/buf.h"
#include "util/codec.h"

#define ACCOUNT "111122223333"
#define REGION "us-east-1"
#define ARN_PREFIX "arn:aws:kms:" REGION ":" ACCOUNT ":"

static const struct kms_caller root = {
    .principal_arn = "arn:aws:iam::" ACCOUNT ":root",
    .account = ACCOUNT,
    .request_id = "test-request",
    .source_ip = "127.0.0.1",
};

static const struct kms_caller via_s3 = {
    .principal_arn = "arn:aws:iam::" ACCOUNT ":root",
    .account = ACCOUNT,
    .request_id = "test-s3-request",
    .source_ip = "127.0.0.1",
    .via_service = "s3." REGION ".amazonaws.com",
};

static const struct kms_caller user = {
    .principal_arn = "arn:aws:iam::" ACCOUNT ":user/alice",
    .account = ACCOUNT,
    .user_name = "alice",
    .user_id = "AIDAEXAMPLEALICE",
    .request_id = "test-user-request",
    .source_ip = "127.0.0.1",
};

struct fix {
    char dir[64];
    char audit[96];
    uint8_t root_key[32];
    struct meta *m;
    struct kms *k;
};

/* ---- fixture ------------------------------------------------------------- */

static void
open_kms(struct fix *f)
{
    struct kms_config cfg;
    struct err_detail d;

    memset(&cfg, 0, sizeof(cfg));
    cfg.region = REGION;
    cfg.account = ACCOUNT;
    cfg.audit_dir = f->audit;
    memcpy(cfg.root_key, f->root_key, 32);
    err_clear(&d);
    assert_int_equal(kms_open(f->m, &cfg, &f->k, &d), 0);
}

static int
setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    char path[128];

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/coffer-kms-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->audit, sizeof(f->audit), "%s/audit", f->dir);
    snprintf(path, sizeof(path), "%s/meta.db", f->dir);
    assert_int_equal(meta_open_sqlite(path, &f->m), 0);
    assert_int_equal(crypto_random(f->root_key, 32), 0);
    open_kms(f);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fix *f = *state;
    char cmd[128];

    kms_close(f->k);
    meta_close(f->m);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

/* Call op as c with a printf-made body; *out gets the parsed reply. */
static int
vcall(struct fix *f, const struct kms_caller *c, const char *op,
      json_t **out, struct err_detail *d, const char *fmt, va_list ap)
{
    struct buf b = BUF_INIT, body = BUF_INIT;
    int rc;

    err_clear(d);
    buf_init(&body);
    {
        char *text = NULL;

        assert_true(vasprintf(&text, fmt, ap) >= 0);
        buf_puts(&body, text);
        free(text);
    }
    rc = kms_handle(f->k, c, op, body.data, body.len, &b, d);
    if (out != NULL) {
        *out = NULL;
        if (rc == 0 && b.len > 0) {
            *out = json_loadb(b.data, b.len, 0, NULL);
            assert_non_null(*out);
        } else if (rc == 0) {
            *out = json_object();
        }
    }
    if (rc != 0)
        assert_int_equal(b.len, 0);
    buf_free(&b);
    buf_free(&body);
    return rc;
}

static json_t *
ok(struct fix *f, const char *op, const char *fmt, ...)
{
    struct err_detail d;
    json_t *out;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vcall(f, &root, op, &out, &d, fmt, ap);
    va_end(ap);
    if (rc != 0)
        fail_msg("%s failed: %d %s", op, rc, d.message);
    return out;
}

/* Expect failure `code`; when msg is not NULL, d.message must contain it. */
static void
fails(struct fix *f, const char *op, int code, const char *msg,
      const char *fmt, ...)
{
    struct err_detail d;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vcall(f, &root, op, NULL, &d, fmt, ap);
    va_end(ap);
    if (rc != code)
        fail_msg("%s: want %d, got %d (%s)", op, code, rc, d.message);
    if (msg != NULL && strstr(d.message, msg) == NULL)
        fail_msg("%s: message '%s' lacks '%s'", op, d.message, msg);
}

static const char *
str(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);

    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* A new key; its id into id[37]. */
static void
make_key(struct fix *f, char id[37])
{
    json_t *r = ok(f, "CreateKey", "{\"Description\": \"test\"}");

    snprintf(id, 37, "%s", str(json_object_get(r, "KeyMetadata"), "KeyId"));
    json_decref(r);
}

/* Encrypt "hello\n" under ref with context ctx (JSON text); blob as b64. */
static char *
encrypt(struct fix *f, const char *ref, const char *ctx)
{
    json_t *r;
    char *blob;

    r = ok(f, "Encrypt", "{\"KeyId\": \"%s\", \"Plaintext\": \"aGVsbG8K\", "
           "\"EncryptionContext\": %s}", ref, ctx);
    blob = strdup(str(r, "CiphertextBlob"));
    json_decref(r);
    return blob;
}

static size_t
b64_decode(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;

    assert_int_equal(base64_decode(s, strlen(s), out, cap, &n), 0);
    return n;
}

static char *
b64_encode(const uint8_t *p, size_t len)
{
    char *s = malloc(base64_encoded_len(len) + 1);

    base64_encode(p, len, s);
    return s;
}

static void
check_key_arn(const char *arn, const char *id)
{
    char want[KMS_ARN_MAX];

    snprintf(want, sizeof(want), ARN_PREFIX "key/%s", id);
    assert_string_equal(arn, want);
}

/* ---- root key ------------------------------------------------------------ */

static void
test_root_key_file_created_0600(void **state)
{
    struct fix *f = *state;
    uint8_t a[32], b[32];
    struct err_detail d;
    struct stat st;
    char path[128];

    unsetenv("COFFER_ROOT_KEY");
    err_clear(&d);
    assert_int_equal(kms_root_key_load(f->dir, a, &d), 0);
    snprintf(path, sizeof(path), "%s/root.key", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);

    /* The second start reads the same key. */
    assert_int_equal(kms_root_key_load(f->dir, b, &d), 0);
    assert_memory_equal(a, b, 32);
}

static void
test_root_key_file_refused(void **state)
{
    struct fix *f = *state;
    struct err_detail d;
    uint8_t k[32];
    char path[128];

    unsetenv("COFFER_ROOT_KEY");
    assert_int_equal(kms_root_key_load(f->dir, k, NULL), 0);
    snprintf(path, sizeof(path), "%s/root.key", f->dir);

    assert_int_equal(chmod(path, 0644), 0);
    err_clear(&d);
    assert_int_equal(kms_root_key_load(f->dir, k, &d),
                     CERR_INVALID_ARGUMENT);
    assert_non_null(strstr(d.message, "chmod 600"));

    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(truncate(path, 31), 0);
    err_clear(&d);
    assert_int_equal(kms_root_key_load(f->dir, k, &d),
                     CERR_INVALID_ARGUMENT);
    assert_non_null(strstr(d.message, "31 bytes"));
}

static void
test_root_key_env(void **state)
{
    struct fix *f = *state;
    uint8_t want[32], k[32];
    struct err_detail d;
    char path[128], *text;

    memset(want, 0x5a, sizeof(want));
    text = b64_encode(want, 32);
    setenv("COFFER_ROOT_KEY", text, 1);
    assert_int_equal(kms_root_key_load(f->dir, k, NULL), 0);
    assert_memory_equal(k, want, 32);
    snprintf(path, sizeof(path), "%s/root.key", f->dir);
    assert_int_not_equal(access(path, F_OK), 0);    /* no file made */

    /* 24 bytes: refused, and the message never shows the value. */
    text[32] = '\0';
    setenv("COFFER_ROOT_KEY", text, 1);
    err_clear(&d);
    assert_int_equal(kms_root_key_load(f->dir, k, &d),
                     CERR_INVALID_ARGUMENT);
    assert_non_null(strstr(d.message, "COFFER_ROOT_KEY"));
    assert_null(strstr(d.message, text));
    setenv("COFFER_ROOT_KEY", "not base64!", 1);
    assert_int_equal(kms_root_key_load(f->dir, k, NULL),
                     CERR_INVALID_ARGUMENT);
    unsetenv("COFFER_ROOT_KEY");
    free(text);
}

/* ---- encryption context -------------------------------------------------- */

static void
canon(const char *json, struct buf *out)
{
    json_t *o = json != NULL ? json_loads(json, 0, NULL) : NULL;

    buf_init(out);
    assert_int_equal(kms_context_canon(o, out), 0);
    json_decref(o);
}

static void
test_context_canon_order_independent(void **state)
{
    struct buf a, b, c, e1, e2;

    (void)state;
    canon("{\"b\": \"2\", \"a\": \"1\", \"aa\": \"x\"}", &a);
    canon("{\"aa\": \"x\", \"a\": \"1\", \"b\": \"2\"}", &b);
    canon("{\"aa\": \"x\", \"a\": \"1\", \"b\": \"3\"}", &c);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_true(a.len != c.len || memcmp(a.data, c.data, a.len) != 0);

    /* Absent and {} are the same; a pair split differently is not. */
    canon(NULL, &e1);
    canon("{}", &e2);
    assert_int_equal(e1.len, 4);
    assert_memory_equal(e1.data, e2.data, 4);
    buf_free(&c);
    canon("{\"ab\": \"c\"}", &c);
    buf_free(&e1);
    canon("{\"a\": \"bc\"}", &e1);
    assert_memory_not_equal(c.data, e1.data, c.len);

    buf_free(&a);
    buf_free(&b);
    buf_free(&c);
    buf_free(&e1);
    buf_free(&e2);
}

/* ---- the blob ------------------------------------------------------------ */

static void
test_blob_round_trip(void **state)
{
    struct fix *f = *state;
    char id[37], *blob;
    uint8_t raw[256];
    json_t *r;

    make_key(f, id);
    blob = encrypt(f, id, "{\"aws:s3:arn\": \"arn:aws:s3:::bkt\"}");
    assert_int_equal(b64_decode(blob, raw, sizeof(raw)), 6 + 97);
    assert_int_equal(raw[0], 1);
    assert_memory_equal(raw + 1, id, 36);

    /* Member order of the context does not matter; KeyId is the ARN. */
    r = ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\", "
           "\"EncryptionContext\": {\"aws:s3:arn\": \"arn:aws:s3:::bkt\"}}",
           blob);
    assert_string_equal(str(r, "Plaintext"), "aGVsbG8K");
    assert_string_equal(str(r, "EncryptionAlgorithm"), "SYMMETRIC_DEFAULT");
    check_key_arn(str(r, "KeyId"), id);
    json_decref(r);

    /* Context members in another order decrypt too. */
    free(blob);
    blob = encrypt(f, id, "{\"a\": \"1\", \"b\": \"2\"}");
    r = ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\", "
           "\"EncryptionContext\": {\"b\": \"2\", \"a\": \"1\"}}", blob);
    json_decref(r);
    free(blob);
}

static void
test_blob_wrong_context(void **state)
{
    struct fix *f = *state;
    char id[37], *blob;

    make_key(f, id);
    blob = encrypt(f, id, "{\"a\": \"1\"}");
    fails(f, "Decrypt", CERR_KMS_INVALID_CIPHERTEXT, NULL,
          "{\"CiphertextBlob\": \"%s\", \"EncryptionContext\": "
          "{\"a\": \"2\"}}", blob);
    fails(f, "Decrypt", CERR_KMS_INVALID_CIPHERTEXT, NULL,
          "{\"CiphertextBlob\": \"%s\", \"EncryptionContext\": "
          "{\"A\": \"1\"}}", blob);
    fails(f, "Decrypt", CERR_KMS_INVALID_CIPHERTEXT, NULL,
          "{\"CiphertextBlob\": \"%s\"}", blob);
    fails(f, "Decrypt", CERR_KMS_INVALID_CIPHERTEXT, NULL,
          "{\"CiphertextBlob\": \"%s\", \"EncryptionContext\": "
          "{\"a\": \"1\", \"b\": \"\"}}", blob);
    free(blob);

    /* No context at encryption: {} and absence both decrypt. */
    blob = encrypt(f, id, "{}");
    json_decref(ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\"}", blob));
    json_decref(ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\", "
                   "\"EncryptionContext\": {}}", blob));
    free(blob);
}

static void
test_blob_truncated_and_flipped(void **state)
{
    static const size_t flips[] = { 0, 37, 68, 69, 80, 81, 86, 87, 102 };
    struct fix *f = *state;
    char id[37], *blob, *bad;
    uint8_t raw[256];
    size_t n, i;

    make_key(f, id);
    blob = encrypt(f, id, "{}");
    n = b64_decode(blob, raw, sizeof(raw));
    assert_int_equal(n, 103);

    bad = b64_encode(raw, n - 1);
    fails(f, "Decrypt", CERR_KMS_INVALID_CIPHERTEXT, NULL,
          "{\"CiphertextBlob\": \"%s\"}", bad);
    free(bad);
    bad = b64_encode(raw, 60);
    fails(f, "Decrypt", CERR_KMS_INVALID_CIPHERTEXT, NULL,
          "{\"CiphertextBlob\": \"%s\"}", bad);
    free(bad);

    /* version, material id, nonce, ciphertext and tag bytes */
    for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        raw[flips[i]] ^= 0x01;
        bad = b64_encode(raw, n);
        fails(f, "Decrypt", CERR_KMS_INVALID_CIPHERTEXT, NULL,
              "{\"CiphertextBlob\": \"%s\"}", bad);
        free(bad);
        raw[flips[i]] ^= 0x01;
    }
    fails(f, "Decrypt", CERR_KMS_INVALID_CIPHERTEXT, NULL,
          "{\"CiphertextBlob\": \"AQID\"}");
    free(blob);
}

/* A blob naming another existing key fails to authenticate under it. */
static void
test_blob_key_id_swapped(void **state)
{
    struct fix *f = *state;
    char a[37], b[37], *blob, *bad;
    uint8_t raw[256];
    size_t n;

    make_key(f, a);
    make_key(f, b);
    blob = encrypt(f, a, "{}");
    n = b64_decode(blob, raw, sizeof(raw));
    memcpy(raw + 1, b, 36);
    bad = b64_encode(raw, n);
    fails(f, "Decrypt", CERR_KMS_INVALID_CIPHERTEXT, NULL,
          "{\"CiphertextBlob\": \"%s\"}", bad);
    free(bad);
    free(blob);
}

static void
test_decrypt_incorrect_key(void **state)
{
    struct fix *f = *state;
    char a[37], b[37], *blob;
    json_t *r;

    make_key(f, a);
    make_key(f, b);
    json_decref(ok(f, "CreateAlias", "{\"AliasName\": \"alias/a\", "
                   "\"TargetKeyId\": \"%s\"}", a));
    blob = encrypt(f, "alias/a", "{}");
    fails(f, "Decrypt", CERR_KMS_INCORRECT_KEY, NULL,
          "{\"CiphertextBlob\": \"%s\", \"KeyId\": \"%s\"}", blob, b);
    r = ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\", \"KeyId\": "
           "\"alias/a\"}", blob);
    check_key_arn(str(r, "KeyId"), a);
    json_decref(r);
    r = ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\", \"KeyId\": "
           "\"" ARN_PREFIX "key/%s\"}", blob, a);
    json_decref(r);
    fails(f, "Decrypt", CERR_KMS_NOT_FOUND, "Alias", "{\"CiphertextBlob\": "
          "\"%s\", \"KeyId\": \"alias/nope\"}", blob);
    free(blob);
}

/* A blob outlives a restart, and only opens under the same root key. */
static void
test_blob_needs_root_key(void **state)
{
    struct fix *f = *state;
    char id[37], *blob;
    json_t *r;

    make_key(f, id);
    blob = encrypt(f, id, "{}");
    kms_close(f->k);
    open_kms(f);
    r = ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\"}", blob);
    json_decref(r);

    kms_close(f->k);
    f->root_key[0] ^= 1;
    open_kms(f);
    fails(f, "Decrypt", CERR_CORRUPT, NULL, "{\"CiphertextBlob\": \"%s\"}",
          blob);
    free(blob);
}

/* ---- key references ------------------------------------------------------ */

static void
test_key_reference_forms(void **state)
{
    struct fix *f = *state;
    const char *forms[5];
    char id[37], upper[37];
    json_t *r;
    size_t i;

    make_key(f, id);
    json_decref(ok(f, "CreateAlias", "{\"AliasName\": \"alias/my-s3-key\", "
                   "\"TargetKeyId\": \"%s\"}", id));
    for (i = 0; i < 36; i++)
        upper[i] = (char)toupper((unsigned char)id[i]);
    upper[36] = '\0';
    forms[0] = id;
    forms[1] = "alias/my-s3-key";
    forms[2] = ARN_PREFIX "alias/my-s3-key";
    forms[3] = NULL;
    forms[4] = upper;
    for (i = 0; i < 5; i++) {
        if (forms[i] == NULL)
            r = ok(f, "DescribeKey", "{\"KeyId\": \"" ARN_PREFIX
                   "key/%s\"}", id);
        else
            r = ok(f, "DescribeKey", "{\"KeyId\": \"%s\"}", forms[i]);
        assert_string_equal(str(json_object_get(r, "KeyMetadata"), "KeyId"),
                            id);
        json_decref(r);
    }
}

static void
test_key_reference_not_found_messages(void **state)
{
    struct fix *f = *state;

    fails(f, "DescribeKey", CERR_KMS_NOT_FOUND, "Invalid keyId ${KEY_ID}",
          "{\"KeyId\": \"${KEY_ID}\"}");
    fails(f, "DescribeKey", CERR_KMS_NOT_FOUND, "Invalid keyId aws/s3",
          "{\"KeyId\": \"aws/s3\"}");
    fails(f, "DescribeKey", CERR_KMS_NOT_FOUND,
          "Key '" ARN_PREFIX "key/1234abcd-12ab-34cd-56ef-1234567890ab' "
          "does not exist",
          "{\"KeyId\": \"1234abcd-12ab-34cd-56ef-1234567890ab\"}");
    fails(f, "DescribeKey", CERR_KMS_NOT_FOUND,
          "Alias " ARN_PREFIX "alias/nope is not found.",
          "{\"KeyId\": \"alias/nope\"}");
    fails(f, "DescribeKey", CERR_KMS_NOT_FOUND,
          "Invalid arn arn:aws:kms:bad",
          "{\"KeyId\": \"arn:aws:kms:bad\"}");
    /* Another account's key does not exist here. */
    fails(f, "DescribeKey", CERR_KMS_NOT_FOUND, "does not exist",
          "{\"KeyId\": \"arn:aws:kms:us-east-1:999999999999:key/"
          "1234abcd-12ab-34cd-56ef-1234567890ab\"}");
    /* Key-id-only members refuse aliases. */
    fails(f, "EnableKey", CERR_KMS_NOT_FOUND, "Invalid keyId alias/x",
          "{\"KeyId\": \"alias/x\"}");
    fails(f, "DescribeKey", CERR_KMS_VALIDATION, "Value null at 'keyId'",
          "{}");
}

/* ---- CreateKey, DescribeKey, ListKeys ------------------------------------ */

static void
test_create_key_metadata(void **state)
{
    struct fix *f = *state;
    json_t *r, *m, *algs;
    const char *id;

    r = ok(f, "CreateKey", "{\"Description\": \"Key for S3 objects\", "
           "\"Tags\": [{\"TagKey\": \"Name\", \"TagValue\": \"my-s3-key\"}]}");
    m = json_object_get(r, "KeyMetadata");
    id = str(m, "KeyId");
    assert_true(kms_is_key_id(id));
    check_key_arn(str(m, "Arn"), id);
    assert_string_equal(str(m, "AWSAccountId"), ACCOUNT);
    assert_true(json_is_real(json_object_get(m, "CreationDate")));
    assert_true(json_is_true(json_object_get(m, "Enabled")));
    assert_string_equal(str(m, "Description"), "Key for S3 objects");
    assert_string_equal(str(m, "KeyUsage"), "ENCRYPT_DECRYPT");
    assert_string_equal(str(m, "KeyState"), "Enabled");
    assert_string_equal(str(m, "Origin"), "AWS_KMS");
    assert_string_equal(str(m, "KeyManager"), "CUSTOMER");
    assert_string_equal(str(m, "KeySpec"), "SYMMETRIC_DEFAULT");
    assert_string_equal(str(m, "CustomerMasterKeySpec"), "SYMMETRIC_DEFAULT");
    assert_true(json_is_false(json_object_get(m, "MultiRegion")));
    assert_int_equal(strlen(str(m, "CurrentKeyMaterialId")), 64);
    algs = json_object_get(m, "EncryptionAlgorithms");
    assert_int_equal(json_array_size(algs), 1);
    assert_null(json_object_get(m, "DeletionDate"));
    assert_null(json_object_get(m, "PendingDeletionWindowInDays"));
    json_decref(r);

    /* An empty request makes a key with an empty description. */
    r = ok(f, "CreateKey", "");
    m = json_object_get(r, "KeyMetadata");
    assert_string_equal(str(m, "Description"), "");
    json_decref(r);
    json_decref(ok(f, "CreateKey", "{\"KeyUsage\": \"ENCRYPT_DECRYPT\", "
                   "\"KeySpec\": \"SYMMETRIC_DEFAULT\", \"Origin\": "
                   "\"AWS_KMS\", \"MultiRegion\": false, \"DryRun\": false,"
                   " \"NewSdkMember\": 1}"));
}

static void
test_create_key_validation(void **state)
{
    struct fix *f = *state;
    char *big = malloc(8194);

    memset(big, 'x', 8193);
    big[8193] = '\0';
    fails(f, "CreateKey", CERR_KMS_VALIDATION,
          "Member must have length less than or equal to 8192",
          "{\"Description\": \"%s\"}", big);
    free(big);
    fails(f, "CreateKey", CERR_KMS_SERIALIZATION, NULL,
          "{\"Description\": 5}");
    fails(f, "CreateKey", CERR_KMS_SERIALIZATION, NULL, "[1]");
    fails(f, "CreateKey", CERR_KMS_SERIALIZATION, NULL, "{\"a\": ");
    fails(f, "CreateKey", CERR_KMS_UNSUPPORTED, NULL,
          "{\"KeyUsage\": \"SIGN_VERIFY\"}");
    fails(f, "CreateKey", CERR_KMS_VALIDATION, "enum value set",
          "{\"KeyUsage\": \"BOGUS\"}");
    fails(f, "CreateKey", CERR_KMS_VALIDATION, NULL,
          "{\"KeySpec\": \"SYMMETRIC_DEFAULT\", \"CustomerMasterKeySpec\": "
          "\"SYMMETRIC_DEFAULT\"}");
    fails(f, "CreateKey", CERR_KMS_UNSUPPORTED, NULL,
          "{\"KeySpec\": \"RSA_2048\"}");
    fails(f, "CreateKey", CERR_KMS_UNSUPPORTED, NULL,
          "{\"Origin\": \"EXTERNAL\"}");
    fails(f, "CreateKey", CERR_KMS_UNSUPPORTED, NULL,
          "{\"MultiRegion\": true}");
    fails(f, "CreateKey", CERR_KMS_UNSUPPORTED, NULL, "{\"DryRun\": true}");
    fails(f, "CreateKey", CERR_KMS_TAG, NULL,
          "{\"Tags\": [{\"TagKey\": \"aws:x\", \"TagValue\": \"v\"}]}");
    fails(f, "CreateKey", CERR_KMS_TAG, NULL,
          "{\"Tags\": [{\"TagKey\": \"a\", \"TagValue\": \"1\"}, "
          "{\"TagKey\": \"a\", \"TagValue\": \"2\"}]}");
    fails(f, "CreateKey", CERR_KMS_VALIDATION, "tags.1.member.tagKey",
          "{\"Tags\": [{\"TagValue\": \"v\"}]}");
    fails(f, "CreateKey", CERR_KMS_MALFORMED_POLICY, NULL,
          "{\"Policy\": \"not json\"}");
}

/* A key policy allowing the account `action`, as an escaped JSON string. */
#define KEY_POLICY(action) \
    "\"{\\\"Version\\\": \\\"2012-10-17\\\", \\\"Statement\\\": " \
    "[{\\\"Effect\\\": \\\"Allow\\\", \\\"Principal\\\": " \
    "{\\\"AWS\\\": \\\"" ACCOUNT "\\\"}, \\\"Action\\\": " \
    "\\\"" action "\\\", \\\"Resource\\\": \\\"*\\\"}]}\""

static void
test_create_key_policy(void **state)
{
    struct fix *f = *state;
    json_t *r;
    char id[37];

    /* A policy that names the account is kept verbatim. */
    r = ok(f, "CreateKey", "{\"Policy\": " KEY_POLICY("kms:*") "}");
    snprintf(id, sizeof(id), "%s",
             str(json_object_get(r, "KeyMetadata"), "KeyId"));
    json_decref(r);
    r = ok(f, "GetKeyPolicy", "{\"KeyId\": \"%s\"}", id);
    assert_non_null(strstr(str(r, "Policy"), "\"AWS\": \"" ACCOUNT "\""));
    json_decref(r);

    /* One that would lock the caller out is refused... */
    fails(f, "CreateKey", CERR_KMS_MALFORMED_POLICY,
          "will not allow you to update the key policy",
          "{\"Policy\": " KEY_POLICY("kms:Encrypt") "}");
    /* ...unless the caller bypasses the check. */
    r = ok(f, "CreateKey", "{\"BypassPolicyLockoutSafetyCheck\": true, "
           "\"Policy\": " KEY_POLICY("kms:Encrypt") "}");
    snprintf(id, sizeof(id), "%s",
             str(json_object_get(r, "KeyMetadata"), "KeyId"));
    json_decref(r);
    /* The key policy is required: root may now only encrypt. */
    free(encrypt(f, id, "{}"));
    fails(f, "DescribeKey", CERR_KMS_ACCESS_DENIED, "kms:DescribeKey",
          "{\"KeyId\": \"%s\"}", id);
}

static void
test_list_keys_paging(void **state)
{
    struct fix *f = *state;
    char a[37], b[37], c[37];
    json_t *r, *keys;

    make_key(f, a);
    make_key(f, b);
    make_key(f, c);
    r = ok(f, "ListKeys", "{\"Limit\": 2}");
    keys = json_object_get(r, "Keys");
    assert_int_equal(json_array_size(keys), 2);
    assert_string_equal(str(json_array_get(keys, 0), "KeyId"), a);
    check_key_arn(str(json_array_get(keys, 1), "KeyArn"), b);
    assert_true(json_is_true(json_object_get(r, "Truncated")));
    assert_string_equal(str(r, "NextMarker"), b);
    json_decref(r);

    r = ok(f, "ListKeys", "{\"Limit\": 2, \"Marker\": \"%s\"}", b);
    keys = json_object_get(r, "Keys");
    assert_int_equal(json_array_size(keys), 1);
    assert_string_equal(str(json_array_get(keys, 0), "KeyId"), c);
    assert_true(json_is_false(json_object_get(r, "Truncated")));
    assert_null(json_object_get(r, "NextMarker"));
    json_decref(r);

    r = ok(f, "ListKeys", "{}");
    assert_int_equal(json_array_size(json_object_get(r, "Keys")), 3);
    json_decref(r);
    fails(f, "ListKeys", CERR_KMS_VALIDATION,
          "Member must have value greater than or equal to 1",
          "{\"Limit\": 0}");
    fails(f, "ListKeys", CERR_KMS_VALIDATION,
          "Value '1001' at 'limit' failed to satisfy constraint: Member must "
          "have value less than or equal to 1000", "{\"Limit\": 1001}");
    fails(f, "ListKeys", CERR_KMS_INVALID_MARKER, NULL,
          "{\"Marker\": \"nonsense\"}");
}

/* ---- aliases ------------------------------------------------------------- */

static void
test_alias_lifecycle(void **state)
{
    struct fix *f = *state;
    char a[37], b[37];
    json_t *r, *al;

    make_key(f, a);
    make_key(f, b);
    r = ok(f, "CreateAlias", "{\"AliasName\": \"alias/one\", "
           "\"TargetKeyId\": \"%s\"}", a);
    assert_int_equal(json_object_size(r), 0);       /* empty body */
    json_decref(r);
    json_decref(ok(f, "CreateAlias", "{\"AliasName\": \"alias/two\", "
                   "\"TargetKeyId\": \"" ARN_PREFIX "key/%s\"}", a));
    json_decref(ok(f, "CreateAlias", "{\"AliasName\": \"alias/three\", "
                   "\"TargetKeyId\": \"%s\"}", b));

    r = ok(f, "ListAliases", "{\"KeyId\": \"%s\"}", a);
    al = json_object_get(r, "Aliases");
    assert_int_equal(json_array_size(al), 2);
    assert_string_equal(str(json_array_get(al, 0), "AliasName"), "alias/one");
    assert_string_equal(str(json_array_get(al, 0), "AliasArn"),
                        ARN_PREFIX "alias/one");
    assert_string_equal(str(json_array_get(al, 0), "TargetKeyId"), a);
    assert_true(json_is_real(json_object_get(json_array_get(al, 0),
                                             "CreationDate")));
    json_decref(r);

    r = ok(f, "ListAliases", "{\"Limit\": 2}");
    assert_true(json_is_true(json_object_get(r, "Truncated")));
    assert_string_equal(str(r, "NextMarker"), "alias/three");
    json_decref(r);
    r = ok(f, "ListAliases", "{\"Limit\": 2, \"Marker\": \"alias/three\"}");
    al = json_object_get(r, "Aliases");
    assert_int_equal(json_array_size(al), 1);
    assert_string_equal(str(json_array_get(al, 0), "AliasName"), "alias/two");
    assert_true(json_is_false(json_object_get(r, "Truncated")));
    json_decref(r);

    /* UpdateAlias moves it; DeleteAlias removes it. */
    json_decref(ok(f, "UpdateAlias", "{\"AliasName\": \"alias/one\", "
                   "\"TargetKeyId\": \"%s\"}", b));
    r = ok(f, "DescribeKey", "{\"KeyId\": \"alias/one\"}");
    assert_string_equal(str(json_object_get(r, "KeyMetadata"), "KeyId"), b);
    json_decref(r);
    json_decref(ok(f, "DeleteAlias", "{\"AliasName\": \"alias/one\"}"));
    fails(f, "DeleteAlias", CERR_KMS_NOT_FOUND,
          "Alias " ARN_PREFIX "alias/one is not found.",
          "{\"AliasName\": \"alias/one\"}");
    fails(f, "UpdateAlias", CERR_KMS_NOT_FOUND, "is not found",
          "{\"AliasName\": \"alias/one\", \"TargetKeyId\": \"%s\"}", a);
}

static void
test_alias_validation(void **state)
{
    struct fix *f = *state;
    char a[37];

    make_key(f, a);
    json_decref(ok(f, "CreateAlias", "{\"AliasName\": \"alias/x\", "
                   "\"TargetKeyId\": \"%s\"}", a));
    fails(f, "CreateAlias", CERR_KMS_VALIDATION, "prefix \"alias/\"",
          "{\"AliasName\": \"my-key\", \"TargetKeyId\": \"%s\"}", a);
    fails(f, "CreateAlias", CERR_KMS_INVALID_ALIAS, NULL,
          "{\"AliasName\": \"alias/bad name\", \"TargetKeyId\": \"%s\"}", a);
    fails(f, "CreateAlias", CERR_KMS_INVALID_ALIAS, NULL,
          "{\"AliasName\": \"alias/\", \"TargetKeyId\": \"%s\"}", a);
    fails(f, "CreateAlias", CERR_KMS_NOT_AUTHORIZED, NULL,
          "{\"AliasName\": \"alias/aws/mine\", \"TargetKeyId\": \"%s\"}", a);
    fails(f, "CreateAlias", CERR_KMS_NOT_FOUND, NULL,
          "{\"AliasName\": \"alias/y\", \"TargetKeyId\": \"alias/x\"}");
    fails(f, "CreateAlias", CERR_KMS_ALREADY_EXISTS,
          "An alias with the name " ARN_PREFIX "alias/x already exists",
          "{\"AliasName\": \"alias/x\", \"TargetKeyId\": \"%s\"}", a);
    fails(f, "CreateAlias", CERR_KMS_VALIDATION, "targetKeyId",
          "{\"AliasName\": \"alias/z\"}");
    fails(f, "DeleteAlias", CERR_KMS_VALIDATION, "aliasName", "{}");
    fails(f, "DeleteAlias", CERR_KMS_NOT_AUTHORIZED, NULL,
          "{\"AliasName\": \"alias/aws/s3\"}");
    fails(f, "UpdateAlias", CERR_KMS_NOT_AUTHORIZED, NULL,
          "{\"AliasName\": \"alias/aws/s3\", \"TargetKeyId\": \"%s\"}", a);
    fails(f, "UpdateAlias", CERR_KMS_NOT_FOUND, NULL,
          "{\"AliasName\": \"alias/x\", \"TargetKeyId\": \"alias/x\"}");
    fails(f, "ListAliases", CERR_KMS_VALIDATION, NULL, "{\"Limit\": 101}");
    fails(f, "ListAliases", CERR_KMS_NOT_FOUND, NULL,
          "{\"KeyId\": \"1234abcd-12ab-34cd-56ef-1234567890ab\"}");
}

static void
test_aws_s3_alias_created_on_first_use(void **state)
{
    struct fix *f = *state;
    json_t *r, *m, *al;
    char id[37];
    size_t i;

    r = ok(f, "ListAliases", "{}");
    assert_int_equal(json_array_size(json_object_get(r, "Aliases")), 0);
    json_decref(r);

    r = ok(f, "DescribeKey", "{\"KeyId\": \"alias/aws/s3\"}");
    m = json_object_get(r, "KeyMetadata");
    assert_string_equal(str(m, "KeyManager"), "AWS");
    snprintf(id, sizeof(id), "%s", str(m, "KeyId"));
    json_decref(r);
    r = ok(f, "DescribeKey", "{\"KeyId\": \"" ARN_PREFIX "alias/aws/s3\"}");
    assert_string_equal(str(json_object_get(r, "KeyMetadata"), "KeyId"), id);
    json_decref(r);

    r = ok(f, "ListAliases", "{}");
    al = json_object_get(r, "Aliases");
    assert_int_equal(json_array_size(al), 1);
    assert_string_equal(str(json_array_get(al, 0), "AliasName"),
                        "alias/aws/s3");
    assert_string_equal(str(json_array_get(al, 0), "TargetKeyId"), id);
    json_decref(r);

    /* Its policy allows cryptography only through S3. */
    fails(f, "Encrypt", CERR_KMS_ACCESS_DENIED, NULL, "{\"KeyId\": "
          "\"alias/aws/s3\", \"Plaintext\": \"aGVsbG8K\"}");
    fails(f, "DisableKey", CERR_KMS_ACCESS_DENIED, NULL,
          "{\"KeyId\": \"%s\"}", id);
    r = ok(f, "ListKeys", "{}");
    for (i = 0; i < json_array_size(json_object_get(r, "Keys")); i++)
        if (strcmp(str(json_array_get(json_object_get(r, "Keys"), i),
                       "KeyId"), id) == 0)
            break;
    assert_int_equal(i, 0);
    json_decref(r);
}

/* ---- Encrypt, GenerateDataKey, GenerateRandom, ReEncrypt ----------------- */

static void
test_encrypt_validation(void **state)
{
    struct fix *f = *state;
    uint8_t big[4097];
    char id[37], *text;

    make_key(f, id);
    memset(big, 7, sizeof(big));
    text = b64_encode(big, sizeof(big));
    fails(f, "Encrypt", CERR_KMS_VALIDATION,
          "Value at 'plaintext' failed to satisfy constraint: Member must "
          "have length less than or equal to 4096",
          "{\"KeyId\": \"%s\", \"Plaintext\": \"%s\"}", id, text);
    free(text);
    text = b64_encode(big, 4096);
    free(encrypt(f, id, "{}"));
    json_decref(ok(f, "Encrypt", "{\"KeyId\": \"%s\", \"Plaintext\": "
                   "\"%s\"}", id, text));
    free(text);

    fails(f, "Encrypt", CERR_KMS_VALIDATION, "greater than or equal to 1",
          "{\"KeyId\": \"%s\", \"Plaintext\": \"\"}", id);
    fails(f, "Encrypt", CERR_KMS_VALIDATION, "Value null at 'plaintext'",
          "{\"KeyId\": \"%s\"}", id);
    fails(f, "Encrypt", CERR_KMS_VALIDATION, "Value null at 'keyId'",
          "{\"Plaintext\": \"aGVsbG8K\"}");
    fails(f, "Encrypt", CERR_KMS_SERIALIZATION, NULL,
          "{\"KeyId\": \"%s\", \"Plaintext\": \"@@@@\"}", id);
    fails(f, "Encrypt", CERR_KMS_SERIALIZATION, NULL,
          "{\"KeyId\": \"%s\", \"Plaintext\": \"aGVsbG8K\", "
          "\"EncryptionContext\": {\"a\": 1}}", id);
    fails(f, "Encrypt", CERR_KMS_INVALID_KEY_USAGE, NULL,
          "{\"KeyId\": \"%s\", \"Plaintext\": \"aGVsbG8K\", "
          "\"EncryptionAlgorithm\": \"RSAES_OAEP_SHA_1\"}", id);
    fails(f, "Encrypt", CERR_KMS_NOT_FOUND, "Invalid keyId nope",
          "{\"KeyId\": \"nope\", \"Plaintext\": \"aGVsbG8K\"}");
    fails(f, "Decrypt", CERR_KMS_VALIDATION, "ciphertextBlob", "{}");
}

static void
test_generate_data_key(void **state)
{
    struct fix *f = *state;
    uint8_t key[64];
    char id[37];
    json_t *r, *d;

    make_key(f, id);
    r = ok(f, "GenerateDataKey", "{\"KeyId\": \"%s\", \"KeySpec\": "
           "\"AES_256\", \"EncryptionContext\": {\"aws:s3:arn\": "
           "\"arn:aws:s3:::bkt\"}}", id);
    assert_int_equal(b64_decode(str(r, "Plaintext"), key, sizeof(key)), 32);
    check_key_arn(str(r, "KeyId"), id);
    d = ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\", \"EncryptionContext\":"
           " {\"aws:s3:arn\": \"arn:aws:s3:::bkt\"}}",
           str(r, "CiphertextBlob"));
    assert_string_equal(str(d, "Plaintext"), str(r, "Plaintext"));
    json_decref(d);
    json_decref(r);

    r = ok(f, "GenerateDataKey", "{\"KeyId\": \"%s\", \"KeySpec\": "
           "\"AES_128\"}", id);
    assert_int_equal(b64_decode(str(r, "Plaintext"), key, sizeof(key)), 16);
    json_decref(r);
    r = ok(f, "GenerateDataKey", "{\"KeyId\": \"%s\", \"NumberOfBytes\": "
           "64}", id);
    assert_int_equal(b64_decode(str(r, "Plaintext"), key, sizeof(key)), 64);
    json_decref(r);

    fails(f, "GenerateDataKey", CERR_KMS_VALIDATION,
          "Please specify either number of bytes or key spec.",
          "{\"KeyId\": \"%s\"}", id);
    fails(f, "GenerateDataKey", CERR_KMS_VALIDATION,
          "Please specify either number of bytes or key spec.",
          "{\"KeyId\": \"%s\", \"KeySpec\": \"AES_256\", "
          "\"NumberOfBytes\": 32}", id);
    fails(f, "GenerateDataKey", CERR_KMS_VALIDATION,
          "1 validation error detected: Value '2048' at 'numberOfBytes' "
          "failed to satisfy constraint: Member must have value less than "
          "or equal to 1024",
          "{\"KeyId\": \"%s\", \"NumberOfBytes\": 2048}", id);
    fails(f, "GenerateDataKey", CERR_KMS_VALIDATION, "[AES_256, AES_128]",
          "{\"KeyId\": \"%s\", \"KeySpec\": \"AES_512\"}", id);
}

static void
test_generate_data_key_without_plaintext(void **state)
{
    struct fix *f = *state;
    uint8_t key[64];
    char id[37];
    json_t *r, *d;

    make_key(f, id);
    r = ok(f, "GenerateDataKeyWithoutPlaintext", "{\"KeyId\": \"%s\", "
           "\"KeySpec\": \"AES_256\"}", id);
    assert_null(json_object_get(r, "Plaintext"));
    check_key_arn(str(r, "KeyId"), id);
    d = ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\"}",
           str(r, "CiphertextBlob"));
    assert_int_equal(b64_decode(str(d, "Plaintext"), key, sizeof(key)), 32);
    json_decref(d);
    json_decref(r);
}

static void
test_generate_random(void **state)
{
    struct fix *f = *state;
    uint8_t out[1100];
    json_t *r;

    r = ok(f, "GenerateRandom", "{\"NumberOfBytes\": 32}");
    assert_int_equal(b64_decode(str(r, "Plaintext"), out, sizeof(out)), 32);
    json_decref(r);
    r = ok(f, "GenerateRandom", "{\"NumberOfBytes\": 1024}");
    assert_int_equal(b64_decode(str(r, "Plaintext"), out, sizeof(out)),
                     1024);
    json_decref(r);
    fails(f, "GenerateRandom", CERR_KMS_VALIDATION, "numberOfBytes", "{}");
    fails(f, "GenerateRandom", CERR_KMS_VALIDATION, NULL,
          "{\"NumberOfBytes\": 0}");
    fails(f, "GenerateRandom", CERR_KMS_VALIDATION, NULL,
          "{\"NumberOfBytes\": 1025}");
    fails(f, "GenerateRandom", CERR_KMS_SERIALIZATION, NULL,
          "{\"NumberOfBytes\": \"32\"}");
}

static void
test_reencrypt(void **state)
{
    struct fix *f = *state;
    char a[37], b[37], *blob;
    json_t *r, *d;

    make_key(f, a);
    make_key(f, b);
    blob = encrypt(f, a, "{\"x\": \"1\"}");
    r = ok(f, "ReEncrypt", "{\"CiphertextBlob\": \"%s\", "
           "\"SourceEncryptionContext\": {\"x\": \"1\"}, "
           "\"DestinationKeyId\": \"%s\", "
           "\"DestinationEncryptionContext\": {\"y\": \"2\"}}", blob, b);
    check_key_arn(str(r, "KeyId"), b);
    check_key_arn(str(r, "SourceKeyId"), a);
    assert_null(json_object_get(r, "Plaintext"));
    d = ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\", "
           "\"EncryptionContext\": {\"y\": \"2\"}}", str(r, "CiphertextBlob"));
    assert_string_equal(str(d, "Plaintext"), "aGVsbG8K");
    json_decref(d);
    json_decref(r);
    fails(f, "ReEncrypt", CERR_KMS_INVALID_CIPHERTEXT, NULL,
          "{\"CiphertextBlob\": \"%s\", \"DestinationKeyId\": \"%s\"}",
          blob, b);
    fails(f, "ReEncrypt", CERR_KMS_INCORRECT_KEY, NULL,
          "{\"CiphertextBlob\": \"%s\", \"SourceKeyId\": \"%s\", "
          "\"SourceEncryptionContext\": {\"x\": \"1\"}, "
          "\"DestinationKeyId\": \"%s\"}", blob, b, b);
    free(blob);
}

/* ---- key states ---------------------------------------------------------- */

static void
test_disable_enable(void **state)
{
    struct fix *f = *state;
    char id[37], *blob;
    json_t *r;

    make_key(f, id);
    blob = encrypt(f, id, "{}");
    json_decref(ok(f, "DisableKey", "{\"KeyId\": \"%s\"}", id));
    json_decref(ok(f, "DisableKey", "{\"KeyId\": \"%s\"}", id));
    fails(f, "Encrypt", CERR_KMS_DISABLED, ARN_PREFIX "key/",
          "{\"KeyId\": \"%s\", \"Plaintext\": \"aGVsbG8K\"}", id);
    fails(f, "Decrypt", CERR_KMS_DISABLED, "is disabled.",
          "{\"CiphertextBlob\": \"%s\"}", blob);
    fails(f, "GenerateDataKey", CERR_KMS_DISABLED, NULL,
          "{\"KeyId\": \"%s\", \"KeySpec\": \"AES_256\"}", id);
    r = ok(f, "DescribeKey", "{\"KeyId\": \"%s\"}", id);
    assert_string_equal(str(json_object_get(r, "KeyMetadata"), "KeyState"),
                        "Disabled");
    assert_true(json_is_false(json_object_get(json_object_get(r,
                              "KeyMetadata"), "Enabled")));
    json_decref(r);
    json_decref(ok(f, "EnableKey", "{\"KeyId\": \"%s\"}", id));
    json_decref(ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\"}", blob));
    free(blob);
}

static void
test_schedule_and_cancel_deletion(void **state)
{
    struct fix *f = *state;
    char id[37], *blob, arn[KMS_ARN_MAX];
    json_t *r, *m;

    make_key(f, id);
    snprintf(arn, sizeof(arn), ARN_PREFIX "key/%s", id);
    blob = encrypt(f, id, "{}");
    fails(f, "ScheduleKeyDeletion", CERR_KMS_VALIDATION,
          "Member must have value greater than or equal to 7",
          "{\"KeyId\": \"%s\", \"PendingWindowInDays\": 6}", id);
    fails(f, "ScheduleKeyDeletion", CERR_KMS_VALIDATION, NULL,
          "{\"KeyId\": \"%s\", \"PendingWindowInDays\": 31}", id);
    fails(f, "CancelKeyDeletion", CERR_KMS_INVALID_STATE,
          "is not pending deletion.", "{\"KeyId\": \"%s\"}", id);

    r = ok(f, "ScheduleKeyDeletion", "{\"KeyId\": \"%s\", "
           "\"PendingWindowInDays\": 7}", id);
    assert_string_equal(str(r, "KeyId"), arn);
    assert_string_equal(str(r, "KeyState"), "PendingDeletion");
    assert_int_equal(json_integer_value(json_object_get(r,
                     "PendingWindowInDays")), 7);
    assert_true(json_is_real(json_object_get(r, "DeletionDate")));
    json_decref(r);

    fails(f, "Encrypt", CERR_KMS_INVALID_STATE, "is pending deletion.",
          "{\"KeyId\": \"%s\", \"Plaintext\": \"aGVsbG8K\"}", id);
    fails(f, "Decrypt", CERR_KMS_INVALID_STATE, NULL,
          "{\"CiphertextBlob\": \"%s\"}", blob);
    fails(f, "ScheduleKeyDeletion", CERR_KMS_INVALID_STATE, NULL,
          "{\"KeyId\": \"%s\"}", id);
    fails(f, "EnableKey", CERR_KMS_INVALID_STATE, NULL,
          "{\"KeyId\": \"%s\"}", id);
    fails(f, "CreateAlias", CERR_KMS_INVALID_STATE, NULL,
          "{\"AliasName\": \"alias/p\", \"TargetKeyId\": \"%s\"}", id);
    r = ok(f, "DescribeKey", "{\"KeyId\": \"%s\"}", id);
    m = json_object_get(r, "KeyMetadata");
    assert_string_equal(str(m, "KeyState"), "PendingDeletion");
    assert_true(json_is_real(json_object_get(m, "DeletionDate")));
    assert_int_equal(json_integer_value(json_object_get(m,
                     "PendingDeletionWindowInDays")), 7);
    json_decref(r);

    r = ok(f, "CancelKeyDeletion", "{\"KeyId\": \"%s\"}", id);
    assert_string_equal(str(r, "KeyId"), arn);
    json_decref(r);
    r = ok(f, "DescribeKey", "{\"KeyId\": \"%s\"}", id);
    m = json_object_get(r, "KeyMetadata");
    assert_string_equal(str(m, "KeyState"), "Disabled");
    assert_null(json_object_get(m, "DeletionDate"));
    json_decref(r);
    free(blob);
}

static void
test_deletion_window_passes(void **state)
{
    struct fix *f = *state;
    struct meta_kms_key key;
    char id[37], *blob;

    make_key(f, id);
    json_decref(ok(f, "CreateAlias", "{\"AliasName\": \"alias/gone\", "
                   "\"TargetKeyId\": \"%s\"}", id));
    blob = encrypt(f, id, "{}");
    json_decref(ok(f, "ScheduleKeyDeletion", "{\"KeyId\": \"%s\"}", id));

    /* Move the deletion date into the past. */
    memset(&key, 0, sizeof(key));
    assert_int_equal(meta_kms_key_get(f->m, id, &key), 0);
    key.deletion_ms = 1000;
    assert_int_equal(meta_kms_key_update(f->m, &key), 0);
    meta_kms_key_clear(&key);

    fails(f, "DescribeKey", CERR_KMS_NOT_FOUND, "does not exist",
          "{\"KeyId\": \"%s\"}", id);
    fails(f, "DescribeKey", CERR_KMS_NOT_FOUND, "is not found",
          "{\"KeyId\": \"alias/gone\"}");
    fails(f, "Decrypt", CERR_KMS_NOT_FOUND, NULL,
          "{\"CiphertextBlob\": \"%s\"}", blob);
    free(blob);
}

static void
test_update_description(void **state)
{
    struct fix *f = *state;
    char id[37];
    json_t *r;

    make_key(f, id);
    json_decref(ok(f, "UpdateKeyDescription", "{\"KeyId\": \"%s\", "
                   "\"Description\": \"new words\"}", id));
    r = ok(f, "DescribeKey", "{\"KeyId\": \"%s\"}", id);
    assert_string_equal(str(json_object_get(r, "KeyMetadata"),
                            "Description"), "new words");
    json_decref(r);
    fails(f, "UpdateKeyDescription", CERR_KMS_VALIDATION, "description",
          "{\"KeyId\": \"%s\"}", id);
}

/* ---- tags and policies --------------------------------------------------- */

static void
test_tags(void **state)
{
    struct fix *f = *state;
    struct buf body = BUF_INIT;
    json_t *r, *t;
    char id[37];
    int i;

    make_key(f, id);
    json_decref(ok(f, "TagResource", "{\"KeyId\": \"%s\", \"Tags\": ["
                   "{\"TagKey\": \"b\", \"TagValue\": \"2\"}, "
                   "{\"TagKey\": \"a\", \"TagValue\": \"1\"}]}", id));
    json_decref(ok(f, "TagResource", "{\"KeyId\": \"%s\", \"Tags\": ["
                   "{\"TagKey\": \"a\", \"TagValue\": \"one\"}]}", id));
    r = ok(f, "ListResourceTags", "{\"KeyId\": \"%s\"}", id);
    t = json_object_get(r, "Tags");
    assert_int_equal(json_array_size(t), 2);
    assert_string_equal(str(json_array_get(t, 0), "TagKey"), "a");
    assert_string_equal(str(json_array_get(t, 0), "TagValue"), "one");
    assert_true(json_is_false(json_object_get(r, "Truncated")));
    json_decref(r);

    r = ok(f, "ListResourceTags", "{\"KeyId\": \"%s\", \"Limit\": 1}", id);
    assert_string_equal(str(r, "NextMarker"), "a");
    json_decref(r);
    r = ok(f, "ListResourceTags", "{\"KeyId\": \"%s\", \"Limit\": 1, "
           "\"Marker\": \"a\"}", id);
    t = json_object_get(r, "Tags");
    assert_string_equal(str(json_array_get(t, 0), "TagKey"), "b");
    assert_true(json_is_false(json_object_get(r, "Truncated")));
    json_decref(r);

    json_decref(ok(f, "UntagResource", "{\"KeyId\": \"%s\", \"TagKeys\": "
                   "[\"a\", \"zzz\"]}", id));
    r = ok(f, "ListResourceTags", "{\"KeyId\": \"%s\"}", id);
    assert_int_equal(json_array_size(json_object_get(r, "Tags")), 1);
    json_decref(r);

    /* 49 more make 50, one more is too many. */
    buf_printf(&body, "{\"KeyId\": \"%s\", \"Tags\": [", id);
    for (i = 0; i < 49; i++)
        buf_printf(&body, "%s{\"TagKey\": \"k%d\", \"TagValue\": \"v\"}",
                   i ? ", " : "", i);
    buf_puts(&body, "]}");
    json_decref(ok(f, "TagResource", "%s", body.data));
    fails(f, "TagResource", CERR_KMS_TAG, NULL, "{\"KeyId\": \"%s\", "
          "\"Tags\": [{\"TagKey\": \"one-more\", \"TagValue\": \"v\"}]}", id);
    fails(f, "TagResource", CERR_KMS_TAG, NULL, "{\"KeyId\": \"%s\", "
          "\"Tags\": [{\"TagKey\": \"aws:x\", \"TagValue\": \"v\"}]}", id);
    fails(f, "UntagResource", CERR_KMS_VALIDATION, "tagKeys",
          "{\"KeyId\": \"%s\"}", id);
    buf_free(&body);
}

static void
test_key_policy(void **state)
{
    struct fix *f = *state;
    char id[37];
    json_t *r;

    make_key(f, id);
    r = ok(f, "GetKeyPolicy", "{\"KeyId\": \"%s\", \"PolicyName\": "
           "\"default\"}", id);
    assert_string_equal(str(r, "PolicyName"), "default");
    assert_non_null(strstr(str(r, "Policy"),
                           "arn:aws:iam::" ACCOUNT ":root"));
    assert_non_null(strstr(str(r, "Policy"), "key-default-1"));
    json_decref(r);
    r = ok(f, "ListKeyPolicies", "{\"KeyId\": \"%s\"}", id);
    assert_string_equal(json_string_value(json_array_get(
                        json_object_get(r, "PolicyNames"), 0)), "default");
    json_decref(r);

    json_decref(ok(f, "PutKeyPolicy", "{\"KeyId\": \"%s\", \"Policy\": "
                   "\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":"
                   "[{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{"
                   "\\\"AWS\\\":\\\"arn:aws:iam::" ACCOUNT ":root\\\"},"
                   "\\\"Action\\\":\\\"kms:*\\\",\\\"Resource\\\":\\\"*\\\"}]}"
                   "\"}", id));
    fails(f, "GetKeyPolicy", CERR_KMS_NOT_FOUND, NULL,
          "{\"KeyId\": \"%s\", \"PolicyName\": \"other\"}", id);
    fails(f, "PutKeyPolicy", CERR_KMS_MALFORMED_POLICY, NULL,
          "{\"KeyId\": \"%s\", \"Policy\": \"{\\\"Statement\\\": 5}\"}", id);
    fails(f, "PutKeyPolicy", CERR_KMS_MALFORMED_POLICY,
          "will not allow you", "{\"KeyId\": \"%s\", \"Policy\": "
          "\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":"
          "[{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{"
          "\\\"AWS\\\":\\\"" ACCOUNT "\\\"},"
          "\\\"Action\\\":\\\"kms:Decrypt\\\",\\\"Resource\\\":\\\"*\\\"}]}"
          "\"}", id);
    fails(f, "PutKeyPolicy", CERR_KMS_VALIDATION, "policy",
          "{\"KeyId\": \"%s\"}", id);
}

/* A user with no identity policy may not use a key; one with a policy
 * may (the default key policy defers to identity policies). */
static void
test_user_needs_identity_policy(void **state)
{
    struct fix *f = *state;
    struct kms_caller c = user;
    const struct policy *ids[1];
    struct err_detail d;
    struct buf out = BUF_INIT;
    struct policy *p = NULL;
    char id[37], body[256];
    const char *text = "{\"Version\":\"2012-10-17\",\"Statement\":[{"
                       "\"Effect\":\"Allow\",\"Action\":\"kms:Encrypt\","
                       "\"Resource\":\"*\"}]}";

    make_key(f, id);
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\", \"Plaintext\": "
             "\"aGVsbG8K\"}", id);
    err_clear(&d);
    assert_int_equal(kms_handle(f->k, &c, "Encrypt", body, strlen(body),
                                &out, &d), CERR_KMS_ACCESS_DENIED);
    assert_non_null(strstr(d.message, "user/alice"));

    assert_int_equal(policy_parse(text, strlen(text), POLICY_IDENTITY, "",
                                  &p, NULL), 0);
    ids[0] = p;
    c.identity = ids;
    c.nidentity = 1;
    assert_int_equal(kms_handle(f->k, &c, "Encrypt", body, strlen(body),
                                &out, &d), 0);
    buf_reset(&out);
    snprintf(body, sizeof(body), "{\"KeyId\": \"%s\"}", id);
    assert_int_equal(kms_handle(f->k, &c, "DescribeKey", body, strlen(body),
                                &out, &d), CERR_KMS_ACCESS_DENIED);
    assert_int_equal(kms_handle(f->k, &c, "CreateKey", "{}", 2, &out, &d),
                     CERR_KMS_ACCESS_DENIED);
    policy_free(p);
    buf_free(&out);
}

static void
test_unknown_and_unsupported_operations(void **state)
{
    struct fix *f = *state;

    fails(f, "Frobnicate", CERR_KMS_UNKNOWN_OPERATION, NULL, "{}");
    fails(f, "GenerateMac", CERR_KMS_UNSUPPORTED, "GenerateMac", "{}");
    fails(f, "Sign", CERR_KMS_UNSUPPORTED, NULL, "{}");
}

/* ---- rotation ------------------------------------------------------- */

static const char *
current_material(struct fix *f, const char *id)
{
    static char mat[65];
    json_t *r = ok(f, "DescribeKey", "{\"KeyId\": \"%s\"}", id);

    snprintf(mat, sizeof(mat), "%s", str(json_object_get(r, "KeyMetadata"),
                                         "CurrentKeyMaterialId"));
    json_decref(r);
    return mat;
}

static void
test_rotation_settings(void **state)
{
    struct fix *f = *state;
    char id[37];
    json_t *r;

    make_key(f, id);
    r = ok(f, "GetKeyRotationStatus", "{\"KeyId\": \"%s\"}", id);
    assert_true(json_is_false(json_object_get(r, "KeyRotationEnabled")));
    assert_null(json_object_get(r, "NextRotationDate"));
    check_key_arn(str(r, "KeyId"), id);
    json_decref(r);

    json_decref(ok(f, "EnableKeyRotation", "{\"KeyId\": \"%s\"}", id));
    r = ok(f, "GetKeyRotationStatus", "{\"KeyId\": \"%s\"}", id);
    assert_true(json_is_true(json_object_get(r, "KeyRotationEnabled")));
    assert_int_equal(json_integer_value(json_object_get(r,
                     "RotationPeriodInDays")), 365);
    assert_true(json_is_real(json_object_get(r, "NextRotationDate")));
    json_decref(r);
    fails(f, "EnableKeyRotation", CERR_KMS_VALIDATION,
          "greater than or equal to 90",
          "{\"KeyId\": \"%s\", \"RotationPeriodInDays\": 89}", id);
    json_decref(ok(f, "DisableKeyRotation", "{\"KeyId\": \"%s\"}", id));
    r = ok(f, "GetKeyRotationStatus", "{\"KeyId\": \"%s\"}", id);
    assert_true(json_is_false(json_object_get(r, "KeyRotationEnabled")));
    json_decref(r);

    json_decref(ok(f, "DisableKey", "{\"KeyId\": \"%s\"}", id));
    fails(f, "EnableKeyRotation", CERR_KMS_DISABLED, NULL,
          "{\"KeyId\": \"%s\"}", id);
    fails(f, "RotateKeyOnDemand", CERR_KMS_DISABLED, NULL,
          "{\"KeyId\": \"%s\"}", id);
}

/* Old blobs still decrypt after a rotation; new ones use new material. */
static void
test_rotate_on_demand(void **state)
{
    struct fix *f = *state;
    char id[37], first[65], *old, *fresh;
    uint8_t a[128], b[128];
    json_t *r, *rot;

    make_key(f, id);
    snprintf(first, sizeof(first), "%s", current_material(f, id));
    old = encrypt(f, id, "{}");
    r = ok(f, "RotateKeyOnDemand", "{\"KeyId\": \"%s\"}", id);
    check_key_arn(str(r, "KeyId"), id);
    json_decref(r);
    assert_string_not_equal(current_material(f, id), first);

    fresh = encrypt(f, id, "{}");
    b64_decode(old, a, sizeof(a));
    b64_decode(fresh, b, sizeof(b));
    assert_memory_not_equal(a + 37, b + 37, 32);
    json_decref(ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\"}", old));
    json_decref(ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\"}", fresh));

    r = ok(f, "ListKeyRotations", "{\"KeyId\": \"%s\"}", id);
    rot = json_object_get(r, "Rotations");
    assert_int_equal(json_array_size(rot), 1);
    assert_string_equal(str(json_array_get(rot, 0), "RotationType"),
                        "ON_DEMAND");
    assert_string_equal(str(json_array_get(rot, 0), "KeyMaterialState"),
                        "CURRENT");
    json_decref(r);
    r = ok(f, "ListKeyRotations", "{\"KeyId\": \"%s\", "
           "\"IncludeKeyMaterial\": \"ALL_KEY_MATERIAL\", \"Limit\": 1}",
           id);
    rot = json_object_get(r, "Rotations");
    assert_int_equal(json_array_size(rot), 1);
    assert_string_equal(str(json_array_get(rot, 0), "KeyMaterialId"), first);
    assert_string_equal(str(json_array_get(rot, 0), "KeyMaterialState"),
                        "NON_CURRENT");
    assert_string_equal(str(r, "NextMarker"), first);
    json_decref(r);
    r = ok(f, "ListKeyRotations", "{\"KeyId\": \"%s\", "
           "\"IncludeKeyMaterial\": \"ALL_KEY_MATERIAL\", \"Marker\": "
           "\"%s\"}", id, first);
    assert_int_equal(json_array_size(json_object_get(r, "Rotations")), 1);
    assert_true(json_is_false(json_object_get(r, "Truncated")));
    json_decref(r);
    fails(f, "ListKeyRotations", CERR_KMS_INVALID_MARKER, NULL,
          "{\"KeyId\": \"%s\", \"Marker\": \"nope\"}", id);
    free(old);
    free(fresh);
}

/* A key whose rotation date has passed rotates before its next use. */
static void
test_automatic_rotation_when_due(void **state)
{
    struct fix *f = *state;
    struct meta_kms_key key;
    char id[37], first[65], *old;
    json_t *r, *rot;

    make_key(f, id);
    snprintf(first, sizeof(first), "%s", current_material(f, id));
    old = encrypt(f, id, "{}");
    json_decref(ok(f, "EnableKeyRotation", "{\"KeyId\": \"%s\", "
                   "\"RotationPeriodInDays\": 90}", id));
    memset(&key, 0, sizeof(key));
    assert_int_equal(meta_kms_key_get(f->m, id, &key), 0);
    key.next_rotation_ms -= 91LL * 24 * 3600 * 1000;
    assert_int_equal(meta_kms_key_update(f->m, &key), 0);
    meta_kms_key_clear(&key);

    free(encrypt(f, id, "{}"));
    assert_string_not_equal(current_material(f, id), first);
    r = ok(f, "ListKeyRotations", "{\"KeyId\": \"%s\"}", id);
    rot = json_object_get(r, "Rotations");
    assert_int_equal(json_array_size(rot), 1);
    assert_string_equal(str(json_array_get(rot, 0), "RotationType"),
                        "AUTOMATIC");
    json_decref(r);
    assert_int_equal(meta_kms_key_get(f->m, id, &key), 0);
    assert_true(key.next_rotation_ms > (int64_t)time(NULL) * 1000);
    meta_kms_key_clear(&key);
    json_decref(ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\"}", old));
    free(old);
}

/* ---- the client S3 uses -------------------------------------------------- */

static void
test_client_resolve(void **state)
{
    struct fix *f = *state;
    struct kms_client kc;
    struct err_detail d;
    char id[37], arn[KMS_ARN_MAX], want[KMS_ARN_MAX];

    kms_client_local(f->k, &kc);
    make_key(f, id);
    snprintf(want, sizeof(want), ARN_PREFIX "key/%s", id);
    json_decref(ok(f, "CreateAlias", "{\"AliasName\": \"alias/r\", "
                   "\"TargetKeyId\": \"%s\"}", id));
    assert_int_equal(kc.ops->resolve(kc.impl, id, arn, NULL), 0);
    assert_string_equal(arn, want);
    assert_int_equal(kc.ops->resolve(kc.impl, want, arn, NULL), 0);
    assert_int_equal(kc.ops->resolve(kc.impl, "alias/r", arn, NULL), 0);
    assert_string_equal(arn, want);
    assert_int_equal(kc.ops->resolve(kc.impl, ARN_PREFIX "alias/r", arn,
                                     NULL), 0);
    assert_string_equal(arn, want);

    err_clear(&d);
    assert_int_equal(kc.ops->resolve(kc.impl, "${KEY_ID}", arn, &d),
                     CERR_KMS_NOT_FOUND);
    assert_string_equal(d.message, "Invalid keyId ${KEY_ID}");
    assert_int_equal(kc.ops->resolve(kc.impl, "alias/aws/s3", arn, NULL), 0);
    assert_non_null(strstr(arn, ARN_PREFIX "key/"));

    json_decref(ok(f, "DisableKey", "{\"KeyId\": \"%s\"}", id));
    err_clear(&d);
    assert_int_equal(kc.ops->resolve(kc.impl, id, arn, &d),
                     CERR_KMS_DISABLED);
    snprintf(want, sizeof(want), ARN_PREFIX "key/%s is disabled.", id);
    assert_string_equal(d.message, want);
}

static void
test_client_data_keys(void **state)
{
    struct fix *f = *state;
    uint8_t plain[32], back[64], blob[256];
    size_t blen = sizeof(blob), plen = sizeof(back);
    char id[37], arn[KMS_ARN_MAX], arn2[KMS_ARN_MAX];
    json_t *ctx, *other;
    struct kms_client kc;
    struct buf counters = BUF_INIT;

    kms_client_local(f->k, &kc);
    make_key(f, id);
    ctx = json_pack("{s:s}", "aws:s3:arn", "arn:aws:s3:::bkt/obj");
    other = json_pack("{s:s}", "aws:s3:arn", "arn:aws:s3:::bkt/other");
    assert_int_equal(kc.ops->generate_data_key(kc.impl, &via_s3, id, ctx,
                     plain, blob, &blen, arn, NULL), 0);
    assert_int_equal(blen, 32 + KMS_BLOB_OVERHEAD);
    assert_int_equal(kc.ops->decrypt(kc.impl, &via_s3, blob, blen, ctx,
                     back, &plen, arn2, NULL), 0);
    assert_int_equal(plen, 32);
    assert_memory_equal(plain, back, 32);
    assert_string_equal(arn, arn2);
    plen = sizeof(back);
    assert_int_equal(kc.ops->decrypt(kc.impl, &via_s3, blob, blen, other,
                     back, &plen, arn2, NULL), CERR_KMS_INVALID_CIPHERTEXT);
    assert_int_equal(kc.ops->authorize(kc.impl, &via_s3, arn, "kms:Decrypt",
                                       ctx, NULL), 0);

    /* The aws/s3 key works through S3 only. */
    blen = sizeof(blob);
    assert_int_equal(kc.ops->generate_data_key(kc.impl, &via_s3,
                     "alias/aws/s3", ctx, plain, blob, &blen, arn, NULL), 0);
    blen = sizeof(blob);
    assert_int_equal(kc.ops->generate_data_key(kc.impl, &root,
                     "alias/aws/s3", ctx, plain, blob, &blen, arn, NULL),
                     CERR_KMS_ACCESS_DENIED);

    assert_int_equal(kms_counters_json(f->k, &counters), 0);
    assert_non_null(strstr(counters.data, "\"GenerateDataKey\":1"));
    assert_non_null(strstr(counters.data, "\"Decrypt\":2"));
    assert_non_null(strstr(counters.data, "\"Authorize\":1"));
    buf_free(&counters);
    json_decref(ctx);
    json_decref(other);
}

/* ---- internal keys ------------------------------------------------------- */

static void
test_internal_keys(void **state)
{
    struct fix *f = *state;
    uint8_t ct[64], pt[64], mac1[32], mac2[32], mac3[32];
    size_t clen = 0, plen = 0;

    assert_int_equal(kms_internal_seal(f->k, "sse-s3", "aad", 3, "secret!!",
                                       8, ct, &clen), 0);
    assert_int_equal(clen, 8 + KMS_INTERNAL_OVERHEAD);
    assert_int_equal(kms_internal_open(f->k, "sse-s3", "aad", 3, ct, clen,
                                       pt, &plen), 0);
    assert_int_equal(plen, 8);
    assert_memory_equal(pt, "secret!!", 8);
    assert_int_equal(kms_internal_open(f->k, "sse-s3", "aaX", 3, ct, clen,
                                       pt, &plen), CERR_CORRUPT);
    assert_int_equal(kms_internal_open(f->k, "other", "aad", 3, ct, clen,
                                       pt, &plen), CERR_CORRUPT);
    ct[20] ^= 1;
    assert_int_equal(kms_internal_open(f->k, "sse-s3", "aad", 3, ct, clen,
                                       pt, &plen), CERR_CORRUPT);
    assert_int_equal(kms_internal_open(f->k, "sse-s3", "aad", 3, ct, 10,
                                       pt, &plen), CERR_CORRUPT);

    /* The MAC key persists across a restart and differs per purpose. */
    assert_int_equal(kms_internal_mac(f->k, "sse-c", "k", 1, mac1), 0);
    kms_close(f->k);
    open_kms(f);
    assert_int_equal(kms_internal_mac(f->k, "sse-c", "k", 1, mac2), 0);
    assert_memory_equal(mac1, mac2, 32);
    assert_int_equal(kms_internal_mac(f->k, "sse-s3", "k", 1, mac3), 0);
    assert_memory_not_equal(mac1, mac3, 32);
    ct[20] ^= 1;
    assert_int_equal(kms_internal_open(f->k, "sse-s3", "aad", 3, ct, clen,
                                       pt, &plen), 0);
}

/* ---- the audit trail ----------------------------------------------------- */

static char *
today_file(struct fix *f)
{
    char *path, cmd[256];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "ls %s/audit-*.jsonl | tail -1", f->audit);
    p = popen(cmd, "r");
    assert_non_null(p);
    path = calloc(1, 256);
    assert_non_null(fgets(path, 256, p));
    path[strcspn(path, "\n")] = '\0';
    pclose(p);
    return path;
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "r");
    char *data;
    long n;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    data = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return data;
}

static void
test_audit_chain_verifies(void **state)
{
    struct fix *f = *state;
    char id[37], *blob, *path, *data;
    struct err_detail d;
    size_t lines = 0, len;
    json_t *first;

    make_key(f, id);
    blob = encrypt(f, id, "{\"aws:s3:arn\": \"arn:aws:s3:::bkt\"}");
    json_decref(ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\", "
                   "\"EncryptionContext\": {\"aws:s3:arn\": "
                   "\"arn:aws:s3:::bkt\"}}", blob));
    fails(f, "DescribeKey", CERR_KMS_NOT_FOUND, NULL, "{\"KeyId\": \"x\"}");
    err_clear(&d);
    assert_int_equal(kms_audit_verify(f->audit, &lines, &d), 0);
    assert_int_equal(lines, 4);

    path = today_file(f);
    data = slurp(path, &len);
    first = json_loadb(data, strcspn(data, "\n"), 0, NULL);
    assert_non_null(first);
    assert_string_equal(str(first, "operation"), "CreateKey");
    assert_string_equal(str(first, "principal"),
                        "arn:aws:iam::" ACCOUNT ":root");
    assert_string_equal(str(first, "requestId"), "test-request");
    assert_string_equal(str(first, "outcome"), "ok");
    assert_int_equal(strlen(str(first, "prev")), 64);
    json_decref(first);
    assert_non_null(strstr(data, "\"operation\":\"Decrypt\""));
    assert_non_null(strstr(data, "\"encryptionContext\":{\"aws:s3:arn\":"
                               "\"arn:aws:s3:::bkt\"}"));
    assert_non_null(strstr(data, "\"outcome\":\"NotFoundException\""));
    /* No plaintext, no blob. */
    assert_null(strstr(data, "aGVsbG8K"));
    assert_null(strstr(data, blob));
    free(data);
    free(path);
    free(blob);
}

/* Context keys and values that need escaping come back from the audit
 * line as they were sent, and the line still chains. */
static void
test_audit_escapes_context(void **state)
{
    struct fix *f = *state;
    char id[37], *blob, *path, *data, *last;
    size_t lines = 0, len;
    json_t *rec, *ctx;

    make_key(f, id);
    blob = encrypt(f, id, "{\"q\\\"uote\": \"back\\\\slash\\nline\", "
                   "\"ctl\": \"\\u0001\\t\", \"uni\": \"caf\\u00e9 /\"}");
    assert_int_equal(kms_audit_verify(f->audit, &lines, NULL), 0);
    assert_int_equal(lines, 2);

    path = today_file(f);
    data = slurp(path, &len);
    data[len - 1] = '\0';
    last = strrchr(data, '\n') + 1;
    rec = json_loads(last, 0, NULL);
    assert_non_null(rec);
    ctx = json_object_get(rec, "encryptionContext");
    assert_string_equal(str(ctx, "q\"uote"), "back\\slash\nline");
    assert_string_equal(str(ctx, "ctl"), "\001\t");
    assert_string_equal(str(ctx, "uni"), "caf\xc3\xa9 /");
    json_decref(rec);
    free(data);
    free(path);
    free(blob);
}

static void
test_audit_detects_edited_line(void **state)
{
    struct fix *f = *state;
    char id[37], *path, *data, *p;
    struct err_detail d;
    size_t lines, len;
    FILE *fp;

    make_key(f, id);
    make_key(f, id);
    make_key(f, id);
    path = today_file(f);
    data = slurp(path, &len);

    /* Change one character of the second line. */
    p = strchr(data, '\n') + 1;
    p = strstr(p, "CreateKey");
    assert_non_null(p);
    p[0] = 'X';
    fp = fopen(path, "w");
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
    err_clear(&d);
    assert_int_equal(kms_audit_verify(f->audit, &lines, &d), CERR_CORRUPT);
    assert_non_null(strstr(d.message, "line 3"));

    /* Removing the first line is noticed too. */
    p[0] = 'C';
    fp = fopen(path, "w");
    p = strchr(data, '\n') + 1;
    assert_int_equal(fwrite(p, 1, len - (size_t)(p - data), fp),
                     len - (size_t)(p - data));
    fclose(fp);
    assert_int_equal(kms_audit_verify(f->audit, &lines, &d), CERR_CORRUPT);
    assert_non_null(strstr(d.message, "line 1"));
    free(data);
    free(path);
}

static void
test_audit_continues_after_restart(void **state)
{
    struct fix *f = *state;
    char id[37], *path;
    size_t lines;
    FILE *fp;

    make_key(f, id);
    kms_close(f->k);
    open_kms(f);
    make_key(f, id);
    assert_int_equal(kms_audit_verify(f->audit, &lines, NULL), 0);
    assert_int_equal(lines, 2);

    /* A torn last line is cut off on the next start. */
    kms_close(f->k);
    path = today_file(f);
    fp = fopen(path, "a");
    fputs("{\"time\":\"torn", fp);
    fclose(fp);
    open_kms(f);
    make_key(f, id);
    assert_int_equal(kms_audit_verify(f->audit, &lines, NULL), 0);
    assert_int_equal(lines, 3);
    free(path);
}

/* The chain resumes after a line longer than the tail read at start. */
static void
test_audit_resumes_after_long_line(void **state)
{
    struct fix *f = *state;
    char id[37], *big, *blob;
    struct buf ctx = BUF_INIT;
    size_t lines;

    make_key(f, id);
    big = malloc(100001);
    memset(big, 'v', 100000);
    big[100000] = '\0';
    buf_printf(&ctx, "{\"long\": \"%s\"}", big);
    blob = encrypt(f, id, ctx.data);
    kms_close(f->k);
    open_kms(f);
    make_key(f, id);
    assert_int_equal(kms_audit_verify(f->audit, &lines, NULL), 0);
    assert_int_equal(lines, 3);
    free(blob);
    free(big);
    buf_free(&ctx);
}

struct worker {
    struct fix *f;
    char id[37];
    int failures;
};

static void *
work(void *arg)
{
    struct worker *w = arg;
    struct kms_client kc;
    json_t *ctx = json_pack("{s:s}", "k", "v");
    uint8_t plain[32], back[32], blob[256];
    char arn[KMS_ARN_MAX];
    size_t blen, plen;
    int i;

    kms_client_local(w->f->k, &kc);
    for (i = 0; i < 25; i++) {
        blen = sizeof(blob);
        plen = sizeof(back);
        if (kc.ops->generate_data_key(kc.impl, &via_s3, w->id, ctx, plain,
                                      blob, &blen, arn, NULL) != 0 ||
            kc.ops->decrypt(kc.impl, &via_s3, blob, blen, ctx, back, &plen,
                            arn, NULL) != 0 ||
            memcmp(plain, back, 32) != 0)
            w->failures++;
    }
    json_decref(ctx);
    return NULL;
}

/* Threads share the service; the chain stays whole. */
static void
test_concurrent_use_keeps_chain(void **state)
{
    struct fix *f = *state;
    struct worker w[4];
    pthread_t t[4];
    size_t lines;
    int i;

    for (i = 0; i < 4; i++) {
        w[i].f = f;
        w[i].failures = 0;
        make_key(f, w[i].id);
    }
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(kms_audit_verify(f->audit, &lines, NULL), 0);
    assert_int_equal(lines, 4 + 4 * 25 * 2);
}

/* More keys than cache slots: evicted materials are reloaded. */
static void
test_material_cache_eviction(void **state)
{
    struct fix *f = *state;
    char first[37], id[37], *blob;
    int i;

    make_key(f, first);
    blob = encrypt(f, first, "{}");
    for (i = 0; i < KMS_CACHE_SLOTS + 4; i++) {
        make_key(f, id);
        free(encrypt(f, id, "{}"));
    }
    json_decref(ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\"}", blob));
    free(blob);
}

/* ---- grants -------------------------------------------------------------- */

static const struct kms_caller bob = {
    .principal_arn = "arn:aws:iam::" ACCOUNT ":user/bob",
    .account = ACCOUNT,
    .user_name = "bob",
    .user_id = "AIDAEXAMPLEBOB",
    .request_id = "test-bob-request",
    .source_ip = "127.0.0.1",
};

/* Call op as c; rc back, reply (when out is not NULL) parsed. */
static int
as(struct fix *f, const struct kms_caller *c, json_t **out,
   struct err_detail *d, const char *op, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vcall(f, c, op, out, d, fmt, ap);
    va_end(ap);
    return rc;
}

/* A grant on id for grantee; GrantId into gid, token into tok (free). */
static void
grant(struct fix *f, const char *id, const char *grantee, const char *ops,
      const char *extra, char gid[65], char **tok)
{
    json_t *r;

    r = ok(f, "CreateGrant", "{\"KeyId\": \"%s\", \"GranteePrincipal\": "
           "\"%s\", \"Operations\": %s%s}", id, grantee, ops, extra);
    snprintf(gid, 65, "%s", str(r, "GrantId"));
    if (tok != NULL)
        *tok = strdup(str(r, "GrantToken"));
    json_decref(r);
}

static int
user_encrypt(struct fix *f, const struct kms_caller *c, const char *id,
             const char *ctx)
{
    struct err_detail d;
    json_t *r = NULL;
    int rc;

    rc = as(f, c, &r, &d, "Encrypt", "{\"KeyId\": \"%s\", \"Plaintext\": "
            "\"aGVsbG8K\", \"EncryptionContext\": %s}", id, ctx);
    json_decref(r);
    return rc;
}

/* A policy written with ' for " as a JSON string literal (free it). */
static char *
policy_literal(const char *text)
{
    char *copy = strdup(text), *p, *lit;
    json_t *v;

    for (p = copy; *p; p++)
        if (*p == '\'')
            *p = '"';
    v = json_string(copy);
    lit = json_dumps(v, JSON_ENCODE_ANY);
    json_decref(v);
    free(copy);
    return lit;
}

/* The principal condition keys take the caller's values in key policies:
 * aws:PrincipalType, aws:userid, aws:username, aws:PrincipalAccount and
 * aws:PrincipalArn, for a user and for root. */
static void
test_principal_keys_in_key_policy(void **state)
{
    struct fix *f = *state;
    struct err_detail d;
    json_t *r, *e = NULL;
    const char *id;
    char *pol;

    pol = policy_literal(
        "{'Version': '2012-10-17', 'Statement': ["
        "{'Effect': 'Allow', 'Principal': {'AWS': "
        "'arn:aws:iam::" ACCOUNT ":root'}, 'Action': 'kms:PutKeyPolicy', "
        "'Resource': '*'},"
        "{'Effect': 'Allow', 'Principal': '*', 'Action': 'kms:Encrypt', "
        "'Resource': '*', 'Condition': {'StringEquals': {"
        "'aws:PrincipalType': 'User', 'aws:userid': 'AIDAEXAMPLEALICE', "
        "'aws:username': 'alice', 'aws:PrincipalAccount': '" ACCOUNT "', "
        "'aws:PrincipalArn': 'arn:aws:iam::" ACCOUNT ":user/alice'}}},"
        "{'Effect': 'Allow', 'Principal': '*', 'Action': 'kms:Decrypt', "
        "'Resource': '*', 'Condition': {'StringEquals': {"
        "'aws:PrincipalType': 'Account', 'aws:userid': '" ACCOUNT "'}, "
        "'Null': {'aws:username': 'true'}}}]}");
    r = ok(f, "CreateKey", "{\"Policy\": %s}", pol);
    free(pol);
    id = str(json_object_get(r, "KeyMetadata"), "KeyId");

    assert_int_equal(user_encrypt(f, &bob, id, "{}"),
                     CERR_KMS_ACCESS_DENIED);
    assert_int_equal(user_encrypt(f, &root, id, "{}"),
                     CERR_KMS_ACCESS_DENIED);
    assert_int_equal(as(f, &user, &e, &d, "Encrypt", "{\"KeyId\": \"%s\", "
                        "\"Plaintext\": \"aGVsbG8K\"}", id), 0);
    json_decref(ok(f, "Decrypt", "{\"CiphertextBlob\": \"%s\"}",
                   str(e, "CiphertextBlob")));
    assert_int_equal(as(f, &user, NULL, &d, "Decrypt", "{\"CiphertextBlob\": "
                        "\"%s\"}", str(e, "CiphertextBlob")),
                     CERR_KMS_ACCESS_DENIED);
    json_decref(e);
    json_decref(r);
}

/* A grant lets its grantee use the key, for its operations only, until
 * it is retired. */
static void
test_grant_allows_grantee(void **state)
{
    struct fix *f = *state;
    char id[37], gid[65], *tok, *blob;
    struct err_detail d;
    json_t *r, *g;

    make_key(f, id);
    assert_int_equal(user_encrypt(f, &user, id, "{}"),
                     CERR_KMS_ACCESS_DENIED);
    grant(f, id, user.principal_arn, "[\"Encrypt\", \"DescribeKey\"]", "",
          gid, &tok);
    assert_int_equal(strlen(gid), 64);
    assert_int_equal(strlen(tok), KMS_GRANT_TOKEN_LEN);
    assert_int_equal(user_encrypt(f, &user, id, "{}"), 0);
    assert_int_equal(user_encrypt(f, &bob, id, "{}"),
                     CERR_KMS_ACCESS_DENIED);
    assert_int_equal(as(f, &user, &r, &d, "DescribeKey", "{\"KeyId\": "
                        "\"%s\"}", id), 0);
    json_decref(r);

    /* Decrypt was not granted. */
    blob = encrypt(f, id, "{}");
    assert_int_equal(as(f, &user, NULL, &d, "Decrypt", "{\"CiphertextBlob\""
                        ": \"%s\"}", blob), CERR_KMS_ACCESS_DENIED);

    r = ok(f, "ListGrants", "{\"KeyId\": \"%s\"}", id);
    assert_int_equal(json_array_size(json_object_get(r, "Grants")), 1);
    g = json_array_get(json_object_get(r, "Grants"), 0);
    assert_string_equal(str(g, "GrantId"), gid);
    assert_string_equal(str(g, "GranteePrincipal"), user.principal_arn);
    assert_string_equal(str(g, "IssuingAccount"),
                        "arn:aws:iam::" ACCOUNT ":root");
    check_key_arn(str(g, "KeyId"), id);
    assert_int_equal(json_array_size(json_object_get(g, "Operations")), 2);
    assert_null(json_object_get(g, "Constraints"));
    json_decref(r);

    /* The grantee may not retire it (no RetireGrant); the account may. */
    assert_int_equal(as(f, &user, NULL, &d, "RetireGrant", "{\"GrantToken\""
                        ": \"%s\"}", tok), CERR_KMS_ACCESS_DENIED);
    json_decref(ok(f, "RetireGrant", "{\"GrantToken\": \"%s\"}", tok));
    assert_int_equal(user_encrypt(f, &user, id, "{}"),
                     CERR_KMS_ACCESS_DENIED);
    fails(f, "RetireGrant", CERR_KMS_NOT_FOUND, NULL, "{\"GrantToken\": "
          "\"%s\"}", tok);
    free(tok);
    free(blob);
}

/* Subset: listed pairs present; Equals: exactly the map.  Keys compare
 * without case, values with. */
static void
test_grant_constraints(void **state)
{
    struct fix *f = *state;
    char id[37], gid[65];

    make_key(f, id);
    grant(f, id, user.principal_arn, "[\"Encrypt\"]", ", \"Constraints\": "
          "{\"EncryptionContextSubset\": {\"Dept\": \"IT\"}}", gid, NULL);
    assert_int_equal(user_encrypt(f, &user, id, "{\"Dept\": \"IT\"}"), 0);
    assert_int_equal(user_encrypt(f, &user, id, "{\"dept\": \"IT\", "
                                  "\"x\": \"y\"}"), 0);
    assert_int_equal(user_encrypt(f, &user, id, "{\"Dept\": \"it\"}"),
                     CERR_KMS_ACCESS_DENIED);
    assert_int_equal(user_encrypt(f, &user, id, "{}"),
                     CERR_KMS_ACCESS_DENIED);

    grant(f, id, bob.principal_arn, "[\"Encrypt\"]", ", \"Constraints\": "
          "{\"EncryptionContextEquals\": {\"a\": \"1\", \"b\": \"2\"}}", gid,
          NULL);
    assert_int_equal(user_encrypt(f, &bob, id, "{\"b\": \"2\", \"A\": "
                                  "\"1\"}"), 0);
    assert_int_equal(user_encrypt(f, &bob, id, "{\"a\": \"1\"}"),
                     CERR_KMS_ACCESS_DENIED);
    assert_int_equal(user_encrypt(f, &bob, id, "{\"a\": \"1\", \"b\": "
                                  "\"2\", \"c\": \"3\"}"),
                     CERR_KMS_ACCESS_DENIED);
}

static void
test_grant_validation(void **state)
{
    struct fix *f = *state;
    char id[37], nine[256];

    make_key(f, id);
    fails(f, "CreateGrant", CERR_KMS_VALIDATION, "granteePrincipal",
          "{\"KeyId\": \"%s\", \"Operations\": [\"Decrypt\"]}", id);
    fails(f, "CreateGrant", CERR_KMS_VALIDATION, "regular expression",
          "{\"KeyId\": \"%s\", \"GranteePrincipal\": \"a b\", "
          "\"Operations\": [\"Decrypt\"]}", id);
    fails(f, "CreateGrant", CERR_KMS_VALIDATION, "operations",
          "{\"KeyId\": \"%s\", \"GranteePrincipal\": \"x\"}", id);
    fails(f, "CreateGrant", CERR_KMS_VALIDATION, "at least one",
          "{\"KeyId\": \"%s\", \"GranteePrincipal\": \"x\", "
          "\"Operations\": []}", id);
    fails(f, "CreateGrant", CERR_KMS_VALIDATION, "enum value set",
          "{\"KeyId\": \"%s\", \"GranteePrincipal\": \"x\", "
          "\"Operations\": [\"Frob\"]}", id);
    fails(f, "CreateGrant", CERR_KMS_VALIDATION, "Sign is not valid",
          "{\"KeyId\": \"%s\", \"GranteePrincipal\": \"x\", "
          "\"Operations\": [\"Sign\"]}", id);
    fails(f, "CreateGrant", CERR_KMS_VALIDATION, "'name'",
          "{\"KeyId\": \"%s\", \"GranteePrincipal\": \"x\", "
          "\"Operations\": [\"Decrypt\"], \"Name\": \"no spaces\"}", id);
    snprintf(nine, sizeof(nine), "{\"a\":\"1\",\"b\":\"1\",\"c\":\"1\","
             "\"d\":\"1\",\"e\":\"1\",\"f\":\"1\",\"g\":\"1\",\"h\":\"1\","
             "\"i\":\"1\"}");
    fails(f, "CreateGrant", CERR_KMS_VALIDATION, "at most 8",
          "{\"KeyId\": \"%s\", \"GranteePrincipal\": \"x\", "
          "\"Operations\": [\"Decrypt\"], \"Constraints\": "
          "{\"EncryptionContextSubset\": %s}}", id, nine);
    fails(f, "CreateGrant", CERR_KMS_NOT_FOUND, NULL,
          "{\"KeyId\": \"alias/x\", \"GranteePrincipal\": \"x\", "
          "\"Operations\": [\"Decrypt\"]}");
    fails(f, "Encrypt", CERR_KMS_INVALID_GRANT_TOKEN, NULL,
          "{\"KeyId\": \"%s\", \"Plaintext\": \"aGVsbG8K\", "
          "\"GrantTokens\": [\"forged\"]}", id);
    fails(f, "RetireGrant", CERR_KMS_VALIDATION, "GrantToken", "{}");
    fails(f, "RetireGrant", CERR_KMS_INVALID_GRANT_TOKEN, NULL,
          "{\"GrantToken\": \"forged\"}");
    fails(f, "RetireGrant", CERR_KMS_INVALID_GRANT_ID, NULL,
          "{\"KeyId\": \"%s\", \"GrantId\": \"nope\"}", id);
    fails(f, "RevokeGrant", CERR_KMS_INVALID_GRANT_ID, NULL,
          "{\"KeyId\": \"%s\", \"GrantId\": \"nope\"}", id);
    fails(f, "RevokeGrant", CERR_KMS_NOT_FOUND, "does not exist",
          "{\"KeyId\": \"%s\", \"GrantId\": \"%064d\"}", id, 0);
    fails(f, "ListGrants", CERR_KMS_INVALID_MARKER, NULL,
          "{\"KeyId\": \"%s\", \"Marker\": \"bogus\"}", id);
}

/* Disabled and pending-deletion keys refuse CreateGrant; lists work. */
static void
test_grant_key_states(void **state)
{
    struct fix *f = *state;
    char id[37];

    make_key(f, id);
    json_decref(ok(f, "DisableKey", "{\"KeyId\": \"%s\"}", id));
    fails(f, "CreateGrant", CERR_KMS_DISABLED, "is disabled",
          "{\"KeyId\": \"%s\", \"GranteePrincipal\": \"x\", "
          "\"Operations\": [\"Decrypt\"]}", id);
    json_decref(ok(f, "ScheduleKeyDeletion", "{\"KeyId\": \"%s\", "
                   "\"PendingWindowInDays\": 7}", id));
    fails(f, "CreateGrant", CERR_KMS_INVALID_STATE, "pending deletion",
          "{\"KeyId\": \"%s\", \"GranteePrincipal\": \"x\", "
          "\"Operations\": [\"Decrypt\"]}", id);
    json_decref(ok(f, "ListGrants", "{\"KeyId\": \"%s\"}", id));
}

/* The same Name and parameters give the same grant, with a new token. */
static void
test_grant_name_idempotent(void **state)
{
    struct fix *f = *state;
    char id[37], a[65], b[65], c[65], *ta, *tb;
    json_t *r;

    make_key(f, id);
    grant(f, id, "x", "[\"Decrypt\"]", ", \"Name\": \"n1\"", a, &ta);
    grant(f, id, "x", "[\"Decrypt\"]", ", \"Name\": \"n1\"", b, &tb);
    assert_string_equal(a, b);
    assert_string_not_equal(ta, tb);
    grant(f, id, "x", "[\"Encrypt\"]", ", \"Name\": \"n1\"", c, NULL);
    assert_string_not_equal(a, c);
    r = ok(f, "ListGrants", "{\"KeyId\": \"%s\"}", id);
    assert_int_equal(json_array_size(json_object_get(r, "Grants")), 2);
    json_decref(r);

    /* Either token retires the grant. */
    json_decref(ok(f, "RetireGrant", "{\"GrantToken\": \"%s\"}", tb));
    fails(f, "RetireGrant", CERR_KMS_NOT_FOUND, NULL, "{\"GrantToken\": "
          "\"%s\"}", ta);
    free(ta);
    free(tb);
}

/* An explicit Deny in the key policy beats a grant. */
static void
test_grant_deny_wins(void **state)
{
    struct fix *f = *state;
    char id[37], gid[65];

    make_key(f, id);
    json_decref(ok(f, "PutKeyPolicy", "{\"KeyId\": \"%s\", \"Policy\": "
        "\"{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":["
        "{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{\\\"AWS\\\":"
        "\\\"arn:aws:iam::" ACCOUNT ":root\\\"},\\\"Action\\\":\\\"kms:*\\\","
        "\\\"Resource\\\":\\\"*\\\"},{\\\"Effect\\\":\\\"Deny\\\","
        "\\\"Principal\\\":{\\\"AWS\\\":\\\"%s\\\"},\\\"Action\\\":"
        "\\\"kms:Encrypt\\\",\\\"Resource\\\":\\\"*\\\"}]}\"}", id,
        user.principal_arn));
    grant(f, id, user.principal_arn, "[\"Encrypt\"]", "", gid, NULL);
    assert_int_equal(user_encrypt(f, &user, id, "{}"),
                     CERR_KMS_ACCESS_DENIED);
}

/* A grantee with CreateGrant hands on no more than it holds. */
static void
test_grant_delegation(void **state)
{
    struct fix *f = *state;
    char id[37], gid[65];
    struct err_detail d;
    json_t *r = NULL;

    make_key(f, id);
    grant(f, id, user.principal_arn, "[\"Encrypt\", \"CreateGrant\"]",
          ", \"Constraints\": {\"EncryptionContextSubset\": {\"a\": \"1\"}}",
          gid, NULL);
    assert_int_equal(as(f, &user, &r, &d, "CreateGrant", "{\"KeyId\": "
                        "\"%s\", \"GranteePrincipal\": \"%s\", \"Operations\""
                        ": [\"Encrypt\"], \"Constraints\": {"
                        "\"EncryptionContextEquals\": {\"a\": \"1\", "
                        "\"b\": \"2\"}}}", id, bob.principal_arn), 0);
    json_decref(r);
    assert_int_equal(user_encrypt(f, &bob, id, "{\"a\": \"1\", \"b\": "
                                  "\"2\"}"), 0);
    assert_int_equal(as(f, &user, NULL, &d, "CreateGrant", "{\"KeyId\": "
                        "\"%s\", \"GranteePrincipal\": \"x\", \"Operations\""
                        ": [\"Decrypt\"], \"Constraints\": {"
                        "\"EncryptionContextSubset\": {\"a\": \"1\"}}}", id),
                     CERR_KMS_ACCESS_DENIED);
    assert_int_equal(as(f, &user, NULL, &d, "CreateGrant", "{\"KeyId\": "
                        "\"%s\", \"GranteePrincipal\": \"x\", \"Operations\""
                        ": [\"Encrypt\"]}", id), CERR_KMS_ACCESS_DENIED);
    assert_int_equal(as(f, &bob, NULL, &d, "CreateGrant", "{\"KeyId\": "
                        "\"%s\", \"GranteePrincipal\": \"x\", \"Operations\""
                        ": [\"Encrypt\"]}", id), CERR_KMS_ACCESS_DENIED);
}

/* RetireGrant by the retiring principal; RevokeGrant by the account;
 * ListRetirableGrants across keys; GrantId filter and paging. */
static void
test_grant_retire_revoke_list(void **state)
{
    struct fix *f = *state;
    char id[37], id2[37], g1[65], g2[65], g3[65];
    struct err_detail d;
    json_t *r;
    char extra[160];

    make_key(f, id);
    make_key(f, id2);
    snprintf(extra, sizeof(extra), ", \"RetiringPrincipal\": \"%s\"",
             bob.principal_arn);
    grant(f, id, "x", "[\"Decrypt\"]", extra, g1, NULL);
    grant(f, id2, "y", "[\"Decrypt\"]", extra, g2, NULL);
    grant(f, id, "z", "[\"Decrypt\"]", "", g3, NULL);

    r = ok(f, "ListRetirableGrants", "{\"RetiringPrincipal\": \"%s\"}",
           bob.principal_arn);
    assert_int_equal(json_array_size(json_object_get(r, "Grants")), 2);
    json_decref(r);
    r = ok(f, "ListGrants", "{\"KeyId\": \"%s\", \"Limit\": 1}", id);
    assert_true(json_is_true(json_object_get(r, "Truncated")));
    assert_string_equal(str(r, "NextMarker"), g1);
    json_decref(r);
    r = ok(f, "ListGrants", "{\"KeyId\": \"%s\", \"Limit\": 1, \"Marker\": "
           "\"%s\"}", id, g1);
    assert_string_equal(str(json_array_get(json_object_get(r, "Grants"), 0),
                            "GrantId"), g3);
    assert_true(json_is_false(json_object_get(r, "Truncated")));
    json_decref(r);
    r = ok(f, "ListGrants", "{\"KeyId\": \"%s\", \"GrantId\": \"%s\"}", id,
           g3);
    assert_int_equal(json_array_size(json_object_get(r, "Grants")), 1);
    json_decref(r);

    assert_int_equal(as(f, &user, NULL, &d, "RetireGrant", "{\"KeyId\": "
                        "\"%s\", \"GrantId\": \"%s\"}", id, g1),
                     CERR_KMS_ACCESS_DENIED);
    assert_int_equal(as(f, &bob, &r, &d, "RetireGrant", "{\"KeyId\": "
                        "\"%s\", \"GrantId\": \"%s\"}", id, g1), 0);
    json_decref(r);
    fails(f, "RevokeGrant", CERR_KMS_NOT_FOUND, NULL, "{\"KeyId\": \"%s\", "
          "\"GrantId\": \"%s\"}", id, g2);
    json_decref(ok(f, "RevokeGrant", "{\"KeyId\": \"%s\", \"GrantId\": "
                   "\"%s\"}", id2, g2));
    assert_int_equal(as(f, &bob, NULL, &d, "RevokeGrant", "{\"KeyId\": "
                        "\"%s\", \"GrantId\": \"%s\"}", id, g3),
                     CERR_KMS_ACCESS_DENIED);
    r = ok(f, "ListRetirableGrants", "{\"RetiringPrincipal\": \"%s\"}",
           bob.principal_arn);
    assert_int_equal(json_array_size(json_object_get(r, "Grants")), 0);
    json_decref(r);
}

/* S3's calls through the client count grants too. */
static void
test_grant_through_client(void **state)
{
    struct fix *f = *state;
    struct kms_caller c = user;
    uint8_t plain[32], blob[256];
    size_t blen = sizeof(blob);
    char id[37], gid[65], arn[KMS_ARN_MAX];
    struct kms_client kc;
    json_t *ctx;

    c.via_service = "s3." REGION ".amazonaws.com";
    kms_client_local(f->k, &kc);
    make_key(f, id);
    ctx = json_pack("{s:s}", "aws:s3:arn", "arn:aws:s3:::bkt/obj");
    assert_int_equal(kc.ops->generate_data_key(kc.impl, &c, id, ctx, plain,
                     blob, &blen, arn, NULL), CERR_KMS_ACCESS_DENIED);
    grant(f, id, user.principal_arn, "[\"GenerateDataKey\"]", "", gid, NULL);
    blen = sizeof(blob);
    assert_int_equal(kc.ops->generate_data_key(kc.impl, &c, id, ctx, plain,
                     blob, &blen, arn, NULL), 0);
    json_decref(ctx);
}

/* A deleted key takes its grants; a window that passed while the server
 * was down ends at the next start, and the cache forgets the key. */
static void
test_deletion_at_start(void **state)
{
    struct fix *f = *state;
    struct meta_kms_grant *v = NULL;
    struct meta_kms_key key;
    char id[37], gid[65], *blob;
    size_t n = 0;

    make_key(f, id);
    grant(f, id, "x", "[\"Decrypt\"]", "", gid, NULL);
    blob = encrypt(f, id, "{}");
    json_decref(ok(f, "ScheduleKeyDeletion", "{\"KeyId\": \"%s\", "
                   "\"PendingWindowInDays\": 7}", id));
    kms_close(f->k);

    memset(&key, 0, sizeof(key));
    assert_int_equal(meta_kms_key_get(f->m, id, &key), 0);
    key.deletion_ms = 1000;
    assert_int_equal(meta_kms_key_update(f->m, &key), 0);
    meta_kms_key_clear(&key);
    open_kms(f);

    assert_int_equal(meta_kms_key_get(f->m, id, &key), CERR_KMS_NOT_FOUND);
    assert_int_equal(meta_kms_grant_list(f->m, NULL, NULL, NULL, NULL, NULL,
                                         SIZE_MAX, &v, &n), 0);
    assert_int_equal(n, 0);
    fails(f, "Decrypt", CERR_KMS_NOT_FOUND, "does not exist",
          "{\"CiphertextBlob\": \"%s\"}", blob);
    free(blob);
}

/* A test day: COFFER_TEST_DAY_SECONDS shortens the deletion window. */
static void
test_test_day_seconds(void **state)
{
    struct fix *f = *state;
    char id[37];
    json_t *r;
    double when;

    setenv("COFFER_TEST_DAY_SECONDS", "1", 1);
    kms_close(f->k);
    open_kms(f);
    unsetenv("COFFER_TEST_DAY_SECONDS");
    make_key(f, id);
    r = ok(f, "ScheduleKeyDeletion", "{\"KeyId\": \"%s\", "
           "\"PendingWindowInDays\": 7}", id);
    when = json_real_value(json_object_get(r, "DeletionDate"));
    assert_true(when < (double)time(NULL) + 8.5);
    json_decref(r);
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_root_key_file_created_0600),
        T(test_root_key_file_refused),
        T(test_root_key_env),
        T(test_context_canon_order_independent),
        T(test_blob_round_trip),
        T(test_blob_wrong_context),
        T(test_blob_truncated_and_flipped),
        T(test_blob_key_id_swapped),
        T(test_decrypt_incorrect_key),
        T(test_blob_needs_root_key),
        T(test_key_reference_forms),
        T(test_key_reference_not_found_messages),
        T(test_create_key_metadata),
        T(test_create_key_validation),
        T(test_create_key_policy),
        T(test_list_keys_paging),
        T(test_alias_lifecycle),
        T(test_alias_validation),
        T(test_aws_s3_alias_created_on_first_use),
        T(test_encrypt_validation),
        T(test_generate_data_key),
        T(test_generate_data_key_without_plaintext),
        T(test_generate_random),
        T(test_reencrypt),
        T(test_disable_enable),
        T(test_schedule_and_cancel_deletion),
        T(test_deletion_window_passes),
        T(test_update_description),
        T(test_tags),
        T(test_key_policy),
        T(test_user_needs_identity_policy),
        T(test_principal_keys_in_key_policy),
        T(test_unknown_and_unsupported_operations),
        T(test_rotation_settings),
        T(test_rotate_on_demand),
        T(test_automatic_rotation_when_due),
        T(test_client_resolve),
        T(test_client_data_keys),
        T(test_internal_keys),
        T(test_audit_chain_verifies),
        T(test_audit_escapes_context),
        T(test_audit_detects_edited_line),
        T(test_audit_continues_after_restart),
        T(test_audit_resumes_after_long_line),
        T(test_concurrent_use_keeps_chain),
        T(test_material_cache_eviction),
        T(test_grant_allows_grantee),
        T(test_grant_constraints),
        T(test_grant_validation),
        T(test_grant_key_states),
        T(test_grant_name_idempotent),
        T(test_grant_deny_wins),
        T(test_grant_delegation),
        T(test_grant_retire_revoke_list),
        T(test_grant_through_client),
        T(test_deletion_at_start),
        T(test_test_day_seconds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
