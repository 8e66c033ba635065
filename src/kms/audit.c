/*
 * The KMS audit trail: one JSON line per KMS operation, direct or on
 * behalf of S3, in DATA/audit/audit-YYYYMMDD.jsonl (UTC days):
 *
 *   {"time":"2026-12-04T15:14:58.123Z","requestId":"...",
 *    "principal":"arn:aws:iam::111122223333:root","sourceIp":"127.0.0.1",
 *    "viaService":"s3.us-east-1.amazonaws.com","operation":"Decrypt",
 *    "keyArn":"arn:aws:kms:...","encryptionContext":{"aws:s3:arn":"..."},
 *    "outcome":"ok","prev":"<64 hex>"}
 *
 * Members that do not apply are left out.  "action" appears on
 * authorizations (operation "Authorize"), "outcome" is "ok" or the KMS
 * error type.  Never a plaintext, key or ciphertext blob.
 *
 * "prev" is the SHA-256 (hex) of the previous line's bytes without its
 * newline, across day files, so editing, inserting or deleting a line
 * breaks the chain at the next line; the very first line has 64 zeros.
 * Lines are appended under a mutex with one write() each and fsync'd
 * before the reply goes out.  A line torn by a crash (no newline) was
 * never acknowledged and is cut off when the trail is reopened.
 *
 * Group commit: the fsync runs outside the mutex, and one fsync makes
 * every line written before it durable.  Whoever finds no fsync in
 * flight starts one for all lines written so far; the others wait for
 * the fsync that covers their line.  So concurrent KMS calls share one
 * fsync instead of queueing behind one each, and still no reply goes out
 * before its line is on disk.  A failed fsync leaves the page cache's
 * state unknown (a retry may report success for lost data), so it is
 * sticky: every later write fails until the trail is reopened.
 */
#include "kms/kms_int.h"
#include "crypto/crypto.h"
#include "util/codec.h"
#include "util/log.h"
#include "util/timefmt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ZERO_HASH \
    "0000000000000000000000000000000000000000000000000000000000000000"

static void
hash_line(const char *line, size_t len, char hex[65])
{
    uint8_t md[CRYPTO_SHA256_LEN];

    crypto_sha256(line, len, md);
    hex_encode(md, sizeof(md), hex);
}

/* "audit-YYYYMMDD.jsonl" */
static bool
is_audit_name(const char *s)
{
    size_t i;

    if (strlen(s) != 20 || strncmp(s, "audit-", 6) != 0 ||
        strcmp(s + 14, ".jsonl") != 0)
        return false;
    for (i = 6; i < 14; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The trail's file names, sorted (oldest first).  Free with free_names. */
static int
list_files(const char *dir, char ***out, size_t *n)
{
    struct dirent *e;
    char **v = NULL, **nv;
    size_t cnt = 0;
    DIR *dp;

    *out = NULL;
    *n = 0;
    dp = opendir(dir);
    if (dp == NULL)
        return CERR_IO;
    while ((e = readdir(dp)) != NULL) {
        if (!is_audit_name(e->d_name))
            continue;
        nv = realloc(v, (cnt + 1) * sizeof(*v));
        if (nv == NULL || (nv[cnt] = strdup(e->d_name)) == NULL) {
            closedir(dp);
            *out = nv != NULL ? nv : v;
            *n = cnt;
            return CERR_NOMEM;
        }
        v = nv;
        cnt++;
    }
    closedir(dp);
    if (cnt > 1)
        qsort(v, cnt, sizeof(*v), cmp_names);
    *out = v;
    *n = cnt;
    return 0;
}

static void
free_names(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The last n bytes of fd (size bytes long), malloc'd into *out. */
static int
read_tail(int fd, size_t size, size_t n, char **out)
{
    char *data = malloc(n + 1);

    *out = data;
    if (data == NULL)
        return CERR_NOMEM;
    if (pread(fd, data, n, (off_t)(size - n)) != (ssize_t)n)
        return CERR_IO;
    return 0;
}

/* Cut a torn last line (no newline) off the file; end is where it goes. */
static int
cut_torn(int fd, const char *path, size_t size, size_t end)
{
    if (end == size)
        return 0;
    log_warn("kms: audit %s: cutting %zu bytes of a torn last line", path,
             size - end);
    if (ftruncate(fd, (off_t)end) != 0 || fsync(fd) != 0)
        return CERR_IO;
    return 0;
}

/*
 * Hash the last complete line of the file at path into prev, cutting off
 * a torn tail.  Only the end of the file is read, more of it while the
 * line does not fit.  prev is left alone when the file holds no line.
 */
static int
tail_hash(const char *path, char prev[65])
{
    size_t size, n, chunk = 64 * 1024, end, start;
    char *data = NULL;
    struct stat st;
    int fd, rc;

    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = CERR_IO;
        goto out;
    }
    size = (size_t)st.st_size;
    for (;;) {
        n = chunk < size ? chunk : size;
        free(data);
        rc = read_tail(fd, size, n, &data);
        if (rc != 0)
            goto out;

        /* The last newline, and the one before it, must be in view. */
        for (end = n; end > 0 && data[end - 1] != '\n'; end--)
            ;
        for (start = end > 0 ? end - 1 : 0;
             start > 0 && data[start - 1] != '\n'; start--)
            ;
        if (start > 0 || n == size)
            break;
        chunk *= 2;
    }

    rc = cut_torn(fd, path, size, size - n + end);
    if (rc == 0 && end > 0)
        hash_line(data + start, end - 1 - start, prev);
out:
    free(data);
    if (fd >= 0)
        close(fd);
    return rc;
}

/*
 * Start the trail in dir (created 0700 when missing; NULL turns the trail
 * off), continuing the chain from the newest file.  0 or CERR_IO with a
 * message.
 */
int
kms_audit_open(struct kms_audit *a, const char *dir, struct err_detail *d)
{
    char path[PATH_MAX], **names;
    size_t n;
    int rc;

    a->fd = -1;
    a->dir = NULL;
    a->day[0] = '\0';
    memcpy(a->prev, ZERO_HASH, sizeof(a->prev));
    a->written = a->synced = 0;
    a->syncing = false;
    a->sync_err = 0;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->synced_cv, NULL);
    if (dir == NULL)
        return 0;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return err_set(d, CERR_IO, "cannot create audit directory %s: %s",
                       dir, strerror(errno));
    rc = list_files(dir, &names, &n);
    if (rc == 0 && n > 0) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[n - 1]);
        rc = tail_hash(path, a->prev);
    }
    free_names(names, n);
    if (rc != 0)
        return err_set(d, rc, "cannot read the audit trail in %s", dir);
    a->dir = strdup(dir);
    return a->dir != NULL ? 0 : CERR_NOMEM;
}

/* Close the trail's file; the struct may be opened again. */
void
kms_audit_close(struct kms_audit *a)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    free(a->dir);
    a->dir = NULL;
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->synced_cv);
}

/*
 * Wait until line number seq is durable, starting the fsync for every
 * line written so far when none is in flight.  Called with a->mu held;
 * releases it during the fsync and while waiting.  0 or CERR_IO.
 */
static int
wait_synced(struct kms_audit *a, uint64_t seq)
{
    uint64_t upto;
    int fd, rc;

    while (a->synced < seq && a->sync_err == 0) {
        if (a->syncing) {
            pthread_cond_wait(&a->synced_cv, &a->mu);
            continue;
        }
        a->syncing = true;
        upto = a->written;
        fd = a->fd;
        pthread_mutex_unlock(&a->mu);
        rc = fsync(fd);
        pthread_mutex_lock(&a->mu);
        a->syncing = false;
        if (rc == 0)
            a->synced = upto;
        else
            a->sync_err = CERR_IO;
        pthread_cond_broadcast(&a->synced_cv);
    }
    return a->synced >= seq ? 0 : CERR_IO;
}

/* Make sure fd is today's file (UTC).  Called with a->mu held. */
static int
open_day(struct kms_audit *a, int64_t now_ms)
{
    char day[9], path[PATH_MAX];
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    int fd, dfd;

    gmtime_r(&t, &tm);
    strftime(day, sizeof(day), "%Y%m%d", &tm);
    /* The old file's lines become durable, and no fsync may be in
     * flight on it, before it is let go. */
    while (a->fd >= 0 && strcmp(day, a->day) != 0 &&
           (a->syncing || a->synced < a->written)) {
        if (a->sync_err != 0)
            return a->sync_err;
        if (a->syncing)
            pthread_cond_wait(&a->synced_cv, &a->mu);
        else if (wait_synced(a, a->written) != 0)
            return CERR_IO;
    }
    if (a->fd >= 0 && strcmp(day, a->day) == 0)
        return 0;

    snprintf(path, sizeof(path), "%s/audit-%s.jsonl", a->dir, day);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return CERR_IO;
    dfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    if (a->fd >= 0)
        close(a->fd);
    a->fd = fd;
    memcpy(a->day, day, sizeof(day));
    return 0;
}

/* ,"name":"s" when s is set; the first member has no comma. */
static void
put_str(struct buf *b, const char *name, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return;
    buf_puts(b, b->len > 1 ? ",\"" : "\"");
    buf_puts(b, name);
    buf_puts(b, "\":");
    buf_put_json_str(b, s);
}

/* ,"encryptionContext":{...}: its members are strings (checked when the
 * request was read); anything else is written as jansson would. */
static void
put_context(struct buf *b, const json_t *ctx)
{
    const char *key;
    json_t *val;
    char *text;
    bool first = true;

    if (ctx == NULL || json_object_size(ctx) == 0)
        return;
    buf_puts(b, ",\"encryptionContext\":{");
    json_object_foreach((json_t *)ctx, key, val) {
        if (!first)
            buf_putc(b, ',');
        first = false;
        buf_put_json_str(b, key);
        buf_putc(b, ':');
        if (json_is_string(val)) {
            buf_put_json_str(b, json_string_value(val));
            continue;
        }
        text = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
        buf_puts(b, text != NULL ? text : "null");
        free(text);
    }
    buf_putc(b, '}');
}

/*
 * The record of r into b, without "prev" and the closing brace, which
 * kms_audit_write adds under the lock.  Written by hand rather than
 * through jansson: building and dumping a jansson object was a tenth of a
 * KMS call's instructions.
 */
static void
record(struct buf *b, const struct kms_req *r, int rc, int64_t now_ms)
{
    const struct kms_caller *c = r->c;
    char when[32];

    time_iso8601(now_ms, when);
    buf_putc(b, '{');
    put_str(b, "time", when);
    put_str(b, "requestId", c != NULL ? c->request_id : NULL);
    put_str(b, "principal", c != NULL ? c->principal_arn : NULL);
    put_str(b, "sourceIp", c != NULL ? c->source_ip : NULL);
    put_str(b, "viaService", c != NULL ? c->via_service : NULL);
    put_str(b, "operation", r->op);
    put_str(b, "action", r->action);
    put_str(b, "keyArn", r->arn);
    put_context(b, r->ctx);
    put_str(b, "outcome", rc == 0 ? "ok" : err_lookup(rc)->kms_type);
}

/* Append text + newline with one write(), undoing a short write. */
static int
append(int fd, const char *text, size_t len)
{
    struct stat st;
    ssize_t n;

    if (fstat(fd, &st) != 0)
        return CERR_IO;
    n = write(fd, text, len);
    if (n == (ssize_t)len)
        return 0;
    if (n > 0 && ftruncate(fd, st.st_size) != 0)
        log_error_errno("kms: audit: cannot cut a partial line");
    return CERR_IO;
}

/*
 * Write r's line (outcome rc) to the trail and wait until an fsync has
 * made it durable (one fsync serves all lines written before it).  0
 * (also when the trail is off), CERR_NOMEM or CERR_IO; when the write
 * fails the chain is left as it was, when the fsync fails the trail
 * refuses every later line.
 */
int
kms_audit_write(struct kms_audit *a, const struct kms_req *r, int rc)
{
    int64_t now = time_now_ms();
    struct buf line = BUF_INIT;
    char hex[65];
    size_t len;
    int ret;

    if (a->dir == NULL)
        return 0;
    record(&line, r, rc, now);
    buf_reserve(&line, 96);    /* prev and the end, added in the lock */
    if (buf_failed(&line)) {
        buf_free(&line);
        return CERR_NOMEM;
    }

    pthread_mutex_lock(&a->mu);
    ret = a->sync_err;
    if (ret == 0)
        ret = open_day(a, now);
    if (ret == 0) {
        buf_puts(&line, ",\"prev\":\"");
        buf_puts(&line, a->prev);
        buf_puts(&line, "\"}");
        ret = buf_failed(&line) ? CERR_NOMEM : 0;
    }
    if (ret == 0) {
        len = line.len;
        hash_line(line.data, len, hex);
        buf_putc(&line, '\n');
        ret = buf_failed(&line) ? CERR_NOMEM
                                : append(a->fd, line.data, len + 1);
    }
    if (ret == 0) {
        memcpy(a->prev, hex, sizeof(hex));
        ret = wait_synced(a, ++a->written);
    }
    pthread_mutex_unlock(&a->mu);

    if (ret != 0)
        log_error("kms: audit write failed for request %s",
                  r->c != NULL && r->c->request_id ? r->c->request_id : "-");
    buf_free(&line);
    return ret;
}

/* A cryptographic operation on key material; see kms.h. */
bool
kms_audit_is_call(const char *op)
{
    static const char *const calls[] = {
        "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
    };
    size_t i;

    for (i = 0; op != NULL && i < sizeof(calls) / sizeof(calls[0]); i++)
        if (strcmp(op, calls[i]) == 0)
            return true;
    return false;
}

/* Check one file's lines against the running chain value prev. */
static int
verify_file(const char *path, const char *name, char prev[65],
            size_t *lines, struct err_detail *d)
{
    char *line = NULL, hex[65];
    size_t cap = 0, no = 0;
    ssize_t len;
    json_t *o, *p;
    int rc = 0;
    FILE *f;

    f = fopen(path, "re");
    if (f == NULL)
        return err_set(d, CERR_IO, "cannot open %s", path);
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        no++;
        if (line[len - 1] != '\n')
            rc = err_set(d, CERR_CORRUPT, "%s line %zu: no newline", name,
                         no);
        o = rc == 0 ? json_loadb(line, (size_t)len, 0, NULL) : NULL;
        p = o != NULL ? json_object_get(o, "prev") : NULL;
        if (rc == 0 && !json_is_string(p))
            rc = err_set(d, CERR_CORRUPT, "%s line %zu: not an audit "
                         "record", name, no);
        if (rc == 0 && strcmp(json_string_value(p), prev) != 0)
            rc = err_set(d, CERR_CORRUPT, "%s line %zu: chain broken (the "
                         "previous line was changed or removed)", name, no);
        json_decref(o);
        hash_line(line, (size_t)len - 1, hex);
        memcpy(prev, hex, 65);
    }
    free(line);
    fclose(f);
    *lines += no;
    return rc;
}

/* Hand each record of one file to fn; a line that is not JSON is
 * CERR_CORRUPT naming it. */
static int
scan_file(const char *path, const char *name,
          int (*fn)(const json_t *rec, void *arg), void *arg,
          struct err_detail *d)
{
    char *line = NULL;
    size_t cap = 0, no = 0;
    ssize_t len;
    json_t *o;
    int rc = 0;
    FILE *f;

    f = fopen(path, "re");
    if (f == NULL)
        return err_set(d, CERR_IO, "cannot open %s", path);
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        no++;
        o = json_loadb(line, (size_t)len, 0, NULL);
        if (!json_is_object(o))
            rc = err_set(d, CERR_CORRUPT, "%s line %zu: not an audit "
                         "record", name, no);
        else
            rc = fn(o, arg);
        json_decref(o);
    }
    free(line);
    fclose(f);
    return rc;
}

/*
 * Call fn on every record of the trail in dir, oldest first (see kms.h).
 * Returns 0, the first non-zero value fn returned, CERR_CORRUPT for a
 * line that is not a record, CERR_IO.
 */
int
kms_audit_scan(const char *dir, int (*fn)(const json_t *rec, void *arg),
               void *arg, struct err_detail *d)
{
    char path[PATH_MAX], **names;
    size_t n, i;
    int rc;

    rc = list_files(dir, &names, &n);
    if (rc != 0) {
        free_names(names, n);
        return err_set(d, rc, "cannot list the audit trail in %s", dir);
    }
    for (i = 0; i < n && rc == 0; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        rc = scan_file(path, names[i], fn, arg, d);
    }
    free_names(names, n);
    return rc;
}

/*
 * Verify the whole trail in dir (see kms.h).  The chain must start at the
 * zero hash, so removing the oldest lines or files is detected as well.
 * Returns 0 with *lines set, CERR_CORRUPT naming the first line that
 * breaks the chain, CERR_IO.
 *
 * XXX: the newest line can be edited unnoticed, because nothing outside
 * the trail keeps its hash; verify reports success for such a trail.
 */
int
kms_audit_verify(const char *dir, size_t *lines, struct err_detail *d)
{
    char prev[65] = ZERO_HASH, path[PATH_MAX], **names;
    size_t n, i;
    int rc;

    *lines = 0;
    rc = list_files(dir, &names, &n);
    if (rc != 0) {
        free_names(names, n);
        return err_set(d, rc, "cannot list the audit trail in %s", dir);
    }
    for (i = 0; i < n && rc == 0; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        rc = verify_file(path, names[i], prev, lines, d);
    }
    free_names(names, n);
    return rc;
}
