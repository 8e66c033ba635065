/*
 * The root key: 256 bits that wrap every KMS key material, the internal
 * keys and users' secrets.  It comes from COFFER_ROOT_KEY (base64) when
 * that is set, else from DATA_DIR/root.key, 32 raw bytes readable by the
 * owner only, made from the CSPRNG on the first start.
 *
 * A data directory remembers a key check value for its root key: the
 * HMAC-SHA256, under the root key, of a fixed string, kept in the
 * metadata as the setting "root_key_check" ("v1:" and 64 hex digits).
 * It gives nothing of the key away, and lets a start with a lost or
 * wrong key stop before it writes anything, instead of failing later
 * where the first wrapped secret does not open.  A directory that holds
 * data (the setting, or an account id from an older start) never gets a
 * new root key.
 *
 * Messages say what to fix and never show any part of the key.
 */
#include "kms/kms.h"
#include "crypto/crypto.h"
#include "store/meta.h"
#include "util/codec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROOT_ENV "COFFER_ROOT_KEY"
#define ROOT_FILE "root.key"
#define ROOT_WRAPPED_FILE "root.key.wrapped"
#define CHECK_SETTING "root_key_check"
#define CHECK_PREFIX "v1:"
#define CHECK_TEXT "coffer root key check value v1"
#define CHECK_LEN (sizeof(CHECK_PREFIX) - 1 + 2 * CRYPTO_SHA256_LEN)

static int
from_env(const char *text, uint8_t key[32], struct err_detail *d)
{
    uint8_t tmp[48];
    size_t n = 0;
    int rc;

    rc = base64_decode(text, strlen(text), tmp, sizeof(tmp), &n);
    if (rc == 0 && n == 32)
        memcpy(key, tmp, 32);
    crypto_wipe(tmp, sizeof(tmp));
    if (rc != 0 || n != 32)
        return err_set(d, CERR_INVALID_ARGUMENT, "%s must be the base64 "
                       "encoding of exactly 32 bytes (try: head -c 32 "
                       "/dev/urandom | base64)", ROOT_ENV);
    return 0;
}

/* Read an existing root.key, refusing a wrong size or loose mode. */
static int
read_file(int fd, const char *path, uint8_t key[32], struct err_detail *d)
{
    struct stat st;
    ssize_t got;

    if (fstat(fd, &st) != 0)
        return err_set(d, CERR_IO, "cannot stat %s: %s", path,
                       strerror(errno));
    if (!S_ISREG(st.st_mode))
        return err_set(d, CERR_INVALID_ARGUMENT, "%s is not a regular file",
                       path);
    if ((st.st_mode & 077) != 0)
        return err_set(d, CERR_INVALID_ARGUMENT, "%s is readable by others "
                       "(mode %03o): run chmod 600 on it", path,
                       (unsigned)(st.st_mode & 0777));
    if (st.st_size != 32)
        return err_set(d, CERR_INVALID_ARGUMENT, "%s holds %lld bytes; a "
                       "root key is exactly 32 raw bytes", path,
                       (long long)st.st_size);

    got = pread(fd, key, 32, 0);
    if (got != 32)
        return err_set(d, CERR_IO, "cannot read %s", path);
    return 0;
}

/* Create root.key from the CSPRNG; EEXIST when another process won. */
static int
create_file(const char *dir, const char *path, uint8_t key[32],
            struct err_detail *d)
{
    int fd, dfd, rc;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST ? 1 : err_set(d, CERR_IO, "cannot create "
                                            "%s: %s", path, strerror(errno));

    rc = crypto_random(key, 32);
    if (rc == 0 && (write(fd, key, 32) != 32 || fsync(fd) != 0))
        rc = err_set(d, CERR_IO, "cannot write %s: %s", path,
                     strerror(errno));
    close(fd);
    if (rc != 0) {
        unlink(path);
        return rc;
    }

    /* Make the new name durable too. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

/*
 * Load the root key (see kms.h).  Returns 0, CERR_INVALID_ARGUMENT for a
 * malformed value or file, CERR_IO when the file cannot be made or read.
 * The key is wiped on failure.
 */
int
kms_root_key_load(const char *data_dir, uint8_t key[32],
                  struct err_detail *d)
{
    const char *env = getenv(ROOT_ENV);
    char path[PATH_MAX];
    int fd, rc;

    if (env != NULL && env[0] != '\0') {
        rc = from_env(env, key, d);
        goto out;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", data_dir, ROOT_FILE)
        >= sizeof(path))
        return err_set(d, CERR_INVALID_ARGUMENT, "data directory path is "
                       "too long");

    rc = create_file(data_dir, path, key, d);
    if (rc <= 0)
        goto out;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        rc = err_set(d, CERR_IO, "cannot open %s: %s", path,
                     strerror(errno));
        goto out;
    }
    rc = read_file(fd, path, key, d);
    close(fd);
out:
    if (rc != 0)
        crypto_wipe(key, 32);
    return rc;
}

/* The key check value of key, as stored: "v1:" and 64 hex digits. */
static void
check_value(const uint8_t key[32], char out[CHECK_LEN + 1])
{
    uint8_t mac[CRYPTO_SHA256_LEN];
    size_t n = sizeof(CHECK_PREFIX) - 1;

    crypto_hmac_sha256(key, 32, CHECK_TEXT, sizeof(CHECK_TEXT) - 1, mac);
    memcpy(out, CHECK_PREFIX, n);
    hex_encode(mac, sizeof(mac), out + n);
    out[CHECK_LEN] = '\0';
}

/* Has a server started on this metadata before (so a root key exists)? */
static bool
populated(struct meta *m)
{
    char v[CHECK_LEN + 8];

    return meta_setting_get(m, CHECK_SETTING, v, sizeof(v)) == 0 ||
           meta_setting_get(m, "account_id", v, sizeof(v)) == 0;
}

/*
 * In a populated directory the file that holds the root key must be
 * there: making a new one would leave every wrapped secret unreadable.
 */
static int
require_file(const char *data_dir, const char *name, struct err_detail *d)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", data_dir, name);
    if (access(path, F_OK) == 0)
        return 0;
    return err_set(d, CERR_INVALID_ARGUMENT, "%s is missing, but %s "
                   "already holds data sealed under its root key; a new "
                   "key would not open it.  Restore %s from a backup, or "
                   "set COFFER_ROOT_KEY to the key; nothing was changed",
                   path, data_dir, name);
}

/* Compare key with the stored check value; *found says if there was one. */
static int
verify(struct meta *m, const uint8_t key[32], const char *source,
       bool *found, struct err_detail *d)
{
    char want[CHECK_LEN + 8], have[CHECK_LEN + 1];
    int rc;

    *found = false;
    rc = meta_setting_get(m, CHECK_SETTING, want, sizeof(want));
    if (rc == CERR_NO_SUCH_KEY)
        return 0;
    if (rc != 0)
        return err_set(d, rc, "cannot read the root key check value");
    *found = true;
    check_value(key, have);
    if (strlen(want) == CHECK_LEN && crypto_equal(want, have, CHECK_LEN))
        return 0;
    return err_set(d, CERR_INVALID_ARGUMENT, "the root key from %s is not "
                   "the one this data directory was made with (its key "
                   "check value differs).  Start with the directory's own "
                   "root key (restore root.key from a backup, or set "
                   "COFFER_ROOT_KEY to it); nothing was changed", source);
}

/*
 * Load and check the server's root key; see kms.h.  Returns 0 or CERR_*
 * with the reason in d; key is wiped on failure.
 */
int
kms_root_key_open(const char *data_dir, const struct kms_pkcs11 *p11,
                  struct meta *m, uint8_t key[32], bool *remember,
                  struct err_detail *d)
{
    const char *env = getenv(ROOT_ENV);
    bool from_env = env != NULL && env[0] != '\0' && p11 == NULL;
    const char *source;
    bool found;
    int rc = 0;

    *remember = false;
    if (!from_env && populated(m))
        rc = require_file(data_dir, p11 ? ROOT_WRAPPED_FILE : ROOT_FILE, d);
    if (rc != 0)
        return rc;
    if (p11 != NULL)
        rc = kms_root_key_load_pkcs11(data_dir, p11, key, d);
    else
        rc = kms_root_key_load(data_dir, key, d);
    if (rc != 0)
        return rc;

    source = from_env ? ROOT_ENV : p11 ? "the PKCS#11 token" : ROOT_FILE;
    rc = verify(m, key, source, &found, d);
    if (rc != 0)
        crypto_wipe(key, 32);
    *remember = rc == 0 && !found;
    return rc;
}

/* Store the key check value of key; see kms.h. */
int
kms_root_key_remember(struct meta *m, const uint8_t key[32])
{
    char v[CHECK_LEN + 1];

    check_value(key, v);
    return meta_setting_put(m, CHECK_SETTING, v);
}
