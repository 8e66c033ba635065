/*
 * The root key kept under a PKCS#11 token (an HSM, or SoftHSM2 in tests).
 * The token holds a non-extractable AES-256 key; the root key itself is
 * stored in DATA/root.key.wrapped, sealed by that key with AES-GCM, and
 * opened on the token at every start.  Nothing that leaves the token can
 * open the file, so the data directory alone gives away no key material.
 *
 * DATA/root.key.wrapped, 61 bytes, mode 0600:
 *
 *     version (1, = 1) | iv (12) | sealed root key (32) | tag (16)
 *
 * The AAD is the string "coffer root key v1", binding the file to its
 * purpose.  On the first start (no file yet) a fresh root key is drawn,
 * sealed and written with O_EXCL; a missing token key of the given label
 * is generated on the token (sensitive, non-extractable).  An existing
 * key that the token would let out is refused.
 *
 * The module is loaded with dlopen and unloaded before returning; no
 * token session outlives this file's one call.
 */
#define CRYPTOKI_GNU 1

#include "kms/kms.h"
#include "crypto/crypto.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit-1/p11-kit/pkcs11.h>

#define WRAPPED_FILE "root.key.wrapped"
#define OLD_FILE "root.key"
#define PIN_ENV "COFFER_PKCS11_PIN"
#define VERSION 1
#define IV_LEN 12
#define TAG_LEN 16
#define FILE_LEN (1 + IV_LEN + 32 + TAG_LEN)
#define AAD "coffer root key v1"

struct p11 {
    void *lib;
    struct ck_function_list *f;
    bool initialized;
    ck_session_handle_t s;
    bool open;
    ck_object_handle_t key;
};

static int
p11_fail(struct err_detail *d, const char *what, ck_rv_t rv)
{
    return err_set(d, CERR_IO, "pkcs11: %s failed (CKR 0x%lx)", what,
                   (unsigned long)rv);
}

/* dlopen the module and initialise it for threads. */
static int
load(struct p11 *p, const char *module, struct err_detail *d)
{
    struct ck_c_initialize_args args;
    ck_rv_t (*get)(struct ck_function_list **);
    ck_rv_t rv;

    p->lib = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (p->lib == NULL)
        return err_set(d, CERR_IO, "pkcs11: cannot load module %s: %s",
                       module, dlerror());
    *(void **)&get = dlsym(p->lib, "C_GetFunctionList");
    if (get == NULL || get(&p->f) != CKR_OK || p->f == NULL)
        return err_set(d, CERR_IO, "pkcs11: %s is not a PKCS#11 module",
                       module);

    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    rv = p->f->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
        return p11_fail(d, "C_Initialize", rv);
    p->initialized = rv == CKR_OK;
    return 0;
}

/* Token labels are 32 bytes padded with blanks. */
static bool
label_is(const unsigned char label[32], const char *want)
{
    size_t n = strlen(want), i;

    if (n > 32 || memcmp(label, want, n) != 0)
        return false;
    for (i = n; i < 32; i++)
        if (label[i] != ' ')
            return false;
    return true;
}

/* Open a read-write session on the token labelled `token` and log in. */
static int
open_token(struct p11 *p, const char *token, const char *pin,
           struct err_detail *d)
{
    ck_slot_id_t slots[64];
    unsigned long n = 64, i;
    struct ck_token_info ti;
    ck_rv_t rv;

    rv = p->f->C_GetSlotList(1, slots, &n);
    if (rv != CKR_OK)
        return p11_fail(d, "C_GetSlotList", rv);
    for (i = 0; i < n; i++)
        if (p->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            label_is(ti.label, token))
            break;
    if (i == n)
        return err_set(d, CERR_INVALID_ARGUMENT, "pkcs11: no token "
                       "labelled '%s'", token);

    rv = p->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION,
                             NULL, NULL, &p->s);
    if (rv != CKR_OK)
        return p11_fail(d, "C_OpenSession", rv);
    p->open = true;
    rv = p->f->C_Login(p->s, CKU_USER, (unsigned char *)pin, strlen(pin));
    if (rv == CKR_PIN_INCORRECT)
        return err_set(d, CERR_INVALID_ARGUMENT, "pkcs11: the PIN in %s "
                       "is not the token's user PIN", PIN_ENV);
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
        return p11_fail(d, "C_Login", rv);
    return 0;
}

/* Find the AES key labelled `label`; *found says whether there is one. */
static int
find_key(struct p11 *p, const char *label, bool *found,
         struct err_detail *d)
{
    ck_object_class_t cls = CKO_SECRET_KEY;
    ck_key_type_t type = CKK_AES;
    struct ck_attribute tmpl[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &type, sizeof(type) },
        { CKA_LABEL, (void *)label, strlen(label) },
    };
    unsigned long n = 0;
    ck_rv_t rv;

    rv = p->f->C_FindObjectsInit(p->s, tmpl, 3);
    if (rv != CKR_OK)
        return p11_fail(d, "C_FindObjectsInit", rv);
    rv = p->f->C_FindObjects(p->s, &p->key, 1, &n);
    p->f->C_FindObjectsFinal(p->s);
    if (rv != CKR_OK)
        return p11_fail(d, "C_FindObjects", rv);
    *found = n == 1;
    return 0;
}

/* A key the token would hand out cannot guard the root key. */
static int
check_key(struct p11 *p, const char *label, struct err_detail *d)
{
    unsigned char extractable = 1, sensitive = 0;
    struct ck_attribute a[] = {
        { CKA_EXTRACTABLE, &extractable, sizeof(extractable) },
        { CKA_SENSITIVE, &sensitive, sizeof(sensitive) },
    };
    ck_rv_t rv;

    rv = p->f->C_GetAttributeValue(p->s, p->key, a, 2);
    if (rv != CKR_OK)
        return p11_fail(d, "C_GetAttributeValue", rv);
    if (extractable != 0 || sensitive != 1)
        return err_set(d, CERR_INVALID_ARGUMENT, "pkcs11: key '%s' can "
                       "leave the token (it must be sensitive and not "
                       "extractable)", label);
    return 0;
}

/* Generate the wrapping key on the token. */
static int
make_key(struct p11 *p, const char *label, struct err_detail *d)
{
    unsigned char yes = 1, no = 0;      /* CK_BBOOL */
    unsigned long len = 32;
    struct ck_mechanism mech = { CKM_AES_KEY_GEN, NULL, 0 };
    struct ck_attribute tmpl[] = {
        { CKA_TOKEN, &yes, 1 }, { CKA_PRIVATE, &yes, 1 },
        { CKA_SENSITIVE, &yes, 1 }, { CKA_EXTRACTABLE, &no, 1 },
        { CKA_ENCRYPT, &yes, 1 }, { CKA_DECRYPT, &yes, 1 },
        { CKA_VALUE_LEN, &len, sizeof(len) },
        { CKA_LABEL, (void *)label, strlen(label) },
    };
    ck_rv_t rv;

    rv = p->f->C_GenerateKey(p->s, &mech, tmpl, 8, &p->key);
    return rv == CKR_OK ? 0 : p11_fail(d, "C_GenerateKey", rv);
}

static void
unload(struct p11 *p)
{
    if (p->open) {
        p->f->C_Logout(p->s);
        p->f->C_CloseSession(p->s);
    }
    if (p->initialized)
        p->f->C_Finalize(NULL);
    if (p->lib != NULL)
        dlclose(p->lib);
}

/* One AES-GCM operation on the token, straight into out. */
static int
token_gcm(struct p11 *p, bool seal, uint8_t iv[IV_LEN], const uint8_t *in,
          size_t inlen, uint8_t *out, size_t cap, struct err_detail *d)
{
    struct ck_gcm_params gp = {
        iv, IV_LEN, IV_LEN * 8, (unsigned char *)AAD, sizeof(AAD) - 1,
        TAG_LEN * 8
    };
    struct ck_mechanism mech = { CKM_AES_GCM, &gp, sizeof(gp) };
    unsigned long n = cap;
    ck_rv_t rv;

    rv = seal ? p->f->C_EncryptInit(p->s, &mech, p->key)
              : p->f->C_DecryptInit(p->s, &mech, p->key);
    if (rv != CKR_OK)
        return p11_fail(d, seal ? "C_EncryptInit" : "C_DecryptInit", rv);
    rv = seal ? p->f->C_Encrypt(p->s, (unsigned char *)in, inlen, out, &n)
              : p->f->C_Decrypt(p->s, (unsigned char *)in, inlen, out, &n);
    if (!seal && rv != CKR_OK)
        return err_set(d, CERR_CORRUPT, "pkcs11: %s does not open with "
                       "this token's key (another key, or the file was "
                       "altered; CKR 0x%lx)", WRAPPED_FILE,
                       (unsigned long)rv);
    if (rv != CKR_OK)
        return p11_fail(d, seal ? "C_Encrypt" : "C_Decrypt", rv);
    if (n != (seal ? 32 + TAG_LEN : 32))
        return err_set(d, CERR_CORRUPT, "pkcs11: unexpected AES-GCM "
                       "output length %lu", n);
    return 0;
}

/*
 * AES-GCM on the token: seal (in 32 bytes, out 48) or open (48 -> 32).
 * The output goes through a buffer as long as the input, which some
 * tokens demand even when opening.
 */
static int
gcm(struct p11 *p, bool seal, uint8_t iv[IV_LEN], const uint8_t *in,
    size_t inlen, uint8_t *out, size_t cap, struct err_detail *d)
{
    uint8_t tmp[64];
    int rc;

    rc = token_gcm(p, seal, iv, in, inlen, tmp, sizeof(tmp), d);
    if (rc == 0)
        memcpy(out, tmp, cap);
    crypto_wipe(tmp, sizeof(tmp));
    return rc;
}

/* Write the sealed file once (O_EXCL), then make its name durable. */
static int
write_file(const char *dir, const char *path, const uint8_t *data,
           struct err_detail *d)
{
    int fd, dfd, rc = 0;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(d, CERR_IO, "cannot create %s: %s", path,
                       strerror(errno));
    if (write(fd, data, FILE_LEN) != FILE_LEN || fsync(fd) != 0)
        rc = err_set(d, CERR_IO, "cannot write %s: %s", path,
                     strerror(errno));
    close(fd);
    if (rc != 0) {
        unlink(path);
        return rc;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* First start: draw a root key, seal it on the token, store it. */
static int
first_start(struct p11 *p, const char *dir, const char *path,
            uint8_t key[32], struct err_detail *d)
{
    uint8_t file[FILE_LEN];
    char old[PATH_MAX];
    int rc;

    /* XXX: a data directory whose root key is in root.key cannot move it
     * onto a token; such a start is refused with this message. */
    snprintf(old, sizeof(old), "%s/%s", dir, OLD_FILE);
    if (access(old, F_OK) == 0)
        return err_set(d, CERR_INVALID_ARGUMENT, "%s holds this data "
                       "directory's root key; it cannot be moved onto a "
                       "token (start without --root-key-pkcs11)", old);
    file[0] = VERSION;
    rc = crypto_random(key, 32);
    rc = rc ? rc : crypto_random(file + 1, IV_LEN);
    rc = rc ? rc : gcm(p, true, file + 1, key, 32, file + 1 + IV_LEN,
                       32 + TAG_LEN, d);
    rc = rc ? rc : write_file(dir, path, file, d);
    return rc;
}

/* Later starts: open the stored file on the token. */
static int
open_file(struct p11 *p, int fd, const char *path, uint8_t key[32],
          struct err_detail *d)
{
    uint8_t file[FILE_LEN + 1];
    ssize_t n;

    n = pread(fd, file, sizeof(file), 0);
    if (n != FILE_LEN || file[0] != VERSION)
        return err_set(d, CERR_CORRUPT, "%s is not a sealed root key "
                       "(%zd bytes)", path, n);
    return gcm(p, false, file + 1, file + 1 + IV_LEN, 32 + TAG_LEN, key, 32,
               d);
}

/*
 * Load the root key through a PKCS#11 token (see the top of this file and
 * kms.h).  The PIN comes from COFFER_PKCS11_PIN.  Returns 0, or
 * CERR_INVALID_ARGUMENT (no PIN, no such token, wrong PIN, an
 * extractable key, COFFER_ROOT_KEY set as well), CERR_IO (module or
 * token failures, file errors), CERR_CORRUPT (the file does not open
 * with this key); the message says which.  The key is wiped on failure.
 */
int
kms_root_key_load_pkcs11(const char *data_dir, const struct kms_pkcs11 *cfg,
                         uint8_t key[32], struct err_detail *d)
{
    const char *pin = getenv(PIN_ENV);
    struct p11 p;
    char path[PATH_MAX];
    bool found = false;
    int fd = -1, rc;

    memset(&p, 0, sizeof(p));
    if (getenv("COFFER_ROOT_KEY") != NULL)
        return err_set(d, CERR_INVALID_ARGUMENT, "COFFER_ROOT_KEY and a "
                       "PKCS#11 root key exclude each other; unset one");
    if (pin == NULL || pin[0] == '\0')
        return err_set(d, CERR_INVALID_ARGUMENT, "set %s to the token's "
                       "user PIN", PIN_ENV);
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", data_dir,
                         WRAPPED_FILE) >= sizeof(path))
        return err_set(d, CERR_INVALID_ARGUMENT, "data directory path is "
                       "too long");

    rc = load(&p, cfg->module, d);
    rc = rc ? rc : open_token(&p, cfg->token, pin, d);
    rc = rc ? rc : find_key(&p, cfg->key, &found, d);
    if (rc == 0)
        rc = found ? check_key(&p, cfg->key, d) : make_key(&p, cfg->key, d);
    if (rc == 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0)
            rc = open_file(&p, fd, path, key, d);
        else if (errno == ENOENT)
            rc = first_start(&p, data_dir, path, key, d);
        else
            rc = err_set(d, CERR_IO, "cannot open %s: %s", path,
                         strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    unload(&p);
    if (rc != 0)
        crypto_wipe(key, 32);
    return rc;
}
