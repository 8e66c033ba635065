/*
 * The root key: 256 bits that wrap every KMS key material, the internal
 * keys and users' secrets.  It comes from COFFER_ROOT_KEY (base64) when
 * that is set, else from DATA_DIR/root.key, 32 raw bytes readable by the
 * owner only, made from the CSPRNG on the first start.
 *
 * Messages say what to fix and never show any part of the key.
 */
#include "kms/kms.h"
#include "crypto/crypto.h"
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
