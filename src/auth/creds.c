/*
 * The credential store: the root access key and secret, and a hook for
 * users' credentials.  The root pair comes from the environment, from
 * DATA_DIR/credentials, or is generated once into that file:
 *
 *     [default]
 *     aws_access_key_id = AKIA...
 *     aws_secret_access_key = ...
 *
 * which is the aws CLI's own format, so an operator can point
 * AWS_SHARED_CREDENTIALS_FILE at it.  The file is created 0600 with
 * O_EXCL and never rewritten.  There is no built-in secret.
 */
#include "auth/auth_int.h"
#include "crypto/crypto.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENV_AKID "COFFER_ROOT_ACCESS_KEY_ID"
#define ENV_SECRET "COFFER_ROOT_SECRET_ACCESS_KEY"
#define CREDS_FILE_MAX 65536

/* Set the root pair; false when either is empty or too long. */
static bool
set_root(struct auth_creds *c, const char *akid, size_t alen,
         const char *secret, size_t slen)
{
    if (alen == 0 || alen >= sizeof(c->root_akid) || slen == 0 ||
        slen >= sizeof(c->root_secret))
        return false;
    memcpy(c->root_akid, akid, alen);
    c->root_akid[alen] = '\0';
    memcpy(c->root_secret, secret, slen);
    c->root_secret[slen] = '\0';
    return true;
}

/* Root pair from the environment; *found when both variables are set. */
static int
creds_from_env(struct auth_creds *c, bool *found, struct err_detail *d)
{
    const char *akid = getenv(ENV_AKID), *secret = getenv(ENV_SECRET);

    *found = false;
    if (akid == NULL && secret == NULL)
        return 0;
    if (akid == NULL || secret == NULL)
        return err_set(d, CERR_INVALID_ARGUMENT, "set both %s and %s, or "
                       "neither", ENV_AKID, ENV_SECRET);
    if (!set_root(c, akid, strlen(akid), secret, strlen(secret)))
        return err_set(d, CERR_INVALID_ARGUMENT, "%s or %s is empty or "
                       "too long", ENV_AKID, ENV_SECRET);
    *found = true;
    return 0;
}

/* Trim blanks and a trailing CR from [*s, *e). */
static void
trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' ||
                       (*e)[-1] == '\r'))
        (*e)--;
}

/* One "name = value" line of the [default] section. */
static void
take_line(const char *s, const char *e, const char **akid, size_t *alen,
          const char **secret, size_t *slen)
{
    const char *eq = memchr(s, '=', (size_t)(e - s)), *ne, *vs;

    if (eq == NULL)
        return;
    ne = eq;
    vs = eq + 1;
    trim(&s, &ne);
    trim(&vs, &e);
    if (ne - s == 17 && memcmp(s, "aws_access_key_id", 17) == 0) {
        *akid = vs;
        *alen = (size_t)(e - vs);
    } else if (ne - s == 21 && memcmp(s, "aws_secret_access_key", 21) == 0) {
        *secret = vs;
        *slen = (size_t)(e - vs);
    }
}

/* Find the root pair in the text of a credentials file. */
static bool
parse_file(struct auth_creds *c, const char *text, size_t len)
{
    const char *p = text, *end = text + len, *akid = NULL, *secret = NULL;
    size_t alen = 0, slen = 0;
    bool in_default = false;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *s = p, *e = nl ? nl : end;

        p = nl ? nl + 1 : end;
        trim(&s, &e);
        if (s == e || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            in_default = e - s == 9 && memcmp(s, "[default]", 9) == 0;
            continue;
        }
        if (in_default)
            take_line(s, e, &akid, &alen, &secret, &slen);
    }
    return akid != NULL && secret != NULL &&
           set_root(c, akid, alen, secret, slen);
}

/*
 * Root pair from an existing credentials file; *found is false when the
 * file does not exist.
 */
static int
creds_from_file(struct auth_creds *c, const char *path, bool *found,
                struct err_detail *d)
{
    char *text;
    size_t len = 0;
    ssize_t n;
    bool ok;
    int fd;

    *found = false;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0)
        return err_set(d, CERR_IO, "cannot open %s: %s", path,
                       strerror(errno));

    text = malloc(CREDS_FILE_MAX);
    if (text == NULL) {
        close(fd);
        return CERR_NOMEM;
    }
    while (len < CREDS_FILE_MAX &&
           (n = read(fd, text + len, CREDS_FILE_MAX - len)) > 0)
        len += (size_t)n;
    close(fd);

    ok = parse_file(c, text, len);
    crypto_wipe(text, CREDS_FILE_MAX);
    free(text);
    if (!ok)
        return err_set(d, CERR_INVALID_ARGUMENT, "%s has no [default] "
                       "aws_access_key_id and aws_secret_access_key", path);
    *found = true;
    return 0;
}

/* A fresh root pair from the CSPRNG. */
static int
make_pair(struct auth_creds *c)
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t rnd[56];
    int i;

    if (crypto_random(rnd, sizeof(rnd)) != 0)
        return CERR_INTERNAL;
    memcpy(c->root_akid, "AKIA", 4);
    for (i = 0; i < 16; i++)
        c->root_akid[4 + i] = b32[rnd[i] & 31];
    c->root_akid[20] = '\0';
    for (i = 0; i < 40; i++)
        c->root_secret[i] = b64[rnd[16 + i] & 63];
    c->root_secret[40] = '\0';
    crypto_wipe(rnd, sizeof(rnd));
    return 0;
}

/* fsync a directory, so a name just created in it survives a crash. */
static int
sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return -1;
    if (fsync(fd) != 0)
        rc = -1;
    close(fd);
    return rc;
}

/* Write the text to a new file (never an existing one), 0600, synced. */
static int
write_new(const char *path, const char *text, size_t len,
          struct err_detail *d)
{
    size_t off = 0;
    ssize_t n;
    int fd;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(d, errno == EEXIST ? CERR_BUSY : CERR_IO,
                       "cannot create %s: %s", path, strerror(errno));
    while (off < len) {
        n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    if (off < len || fsync(fd) != 0) {
        err_set(d, CERR_IO, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return CERR_IO;
    }
    close(fd);
    return 0;
}

/* Generate a pair and store it in a new credentials file. */
static int
creds_generate(struct auth_creds *c, const char *data_dir,
               const char *path, struct err_detail *d)
{
    char text[512];
    int n, rc;

    rc = make_pair(c);
    if (rc != 0)
        return err_set(d, rc, "cannot draw random credentials");
    n = snprintf(text, sizeof(text), "[default]\naws_access_key_id = %s\n"
                 "aws_secret_access_key = %s\n", c->root_akid,
                 c->root_secret);
    rc = write_new(path, text, (size_t)n, d);
    crypto_wipe(text, sizeof(text));
    if (rc == 0 && sync_dir(data_dir) != 0)
        rc = err_set(d, CERR_IO, "cannot sync %s: %s", data_dir,
                     strerror(errno));
    return rc;
}

/* Find the root pair: environment, then file, then a new file. */
static int
load_root(struct auth_creds *c, const char *data_dir, bool *generated,
          struct err_detail *d)
{
    char path[PATH_MAX];
    bool found;
    int rc;

    rc = creds_from_env(c, &found, d);
    if (rc != 0 || found)
        return rc;
    if ((size_t)snprintf(path, sizeof(path), "%s/credentials", data_dir) >=
        sizeof(path))
        return err_set(d, CERR_INVALID_ARGUMENT, "data directory path too "
                       "long");

    rc = creds_from_file(c, path, &found, d);
    if (rc != 0 || found)
        return rc;
    rc = creds_generate(c, data_dir, path, d);
    if (rc == CERR_BUSY) {
        /* Another process created it first: use theirs. */
        rc = creds_from_file(c, path, &found, d);
        if (rc == 0 && !found)
            rc = err_set(d, CERR_IO, "%s vanished", path);
        return rc;
    }
    if (rc == 0)
        *generated = true;
    return rc;
}

/* Open the store; see auth.h. */
int
auth_creds_open(const char *data_dir, const char *account_id,
                struct auth_creds **out, bool *generated,
                struct err_detail *d)
{
    struct auth_creds *c;
    bool gen = false;
    int rc;

    *out = NULL;
    if (strlen(account_id) >= sizeof(c->account))
        return err_set(d, CERR_INVALID_ARGUMENT, "account id too long");
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return CERR_NOMEM;
    snprintf(c->account, sizeof(c->account), "%s", account_id);
    pthread_mutex_init(&c->lock, NULL);

    rc = load_root(c, data_dir, &gen, d);
    if (rc != 0) {
        auth_creds_free(c);
        return rc;
    }
    if (generated != NULL)
        *generated = gen;
    *out = c;
    return 0;
}

/* Wipe and free; see auth.h. */
void
auth_creds_free(struct auth_creds *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->lock);
    crypto_wipe(c, sizeof(*c));
    free(c);
}

/* Secret and principal for an access key; see auth.h. */
int
auth_creds_lookup(struct auth_creds *c, const char *akid, char secret[128],
                  struct auth_principal *p)
{
    if (strcmp(akid, c->root_akid) == 0) {
        memcpy(secret, c->root_secret, 128);
        memset(p, 0, sizeof(*p));
        p->type = AUTH_ROOT;
        snprintf(p->arn, sizeof(p->arn), "arn:aws:iam::%s:root",
                 c->account);
        memcpy(p->account, c->account, sizeof(p->account));
        snprintf(p->user_id, sizeof(p->user_id), "%s", c->account);
        return 0;
    }
    if (c->user_fn != NULL)
        return c->user_fn(c->user_ctx, akid, secret, p);
    return CERR_INVALID_ACCESS_KEY;
}

/* The root access key id; see auth.h. */
const char *
auth_creds_root_access_key(const struct auth_creds *c)
{
    return c->root_akid;
}

/* Install the lookup for non-root keys; see auth.h. */
void
auth_creds_set_user_lookup(struct auth_creds *c, auth_user_lookup_fn fn,
                           void *ctx)
{
    c->user_fn = fn;
    c->user_ctx = ctx;
}
