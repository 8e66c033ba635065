/*
 * limits: what this machine allows, measured the way the benchmark's
 * workloads would use it, so the table can put coffer's numbers next to
 * the hardware's in the same run.
 *
 *     limits fsync DIR SECONDS   serial fsync'd commits/s: append 4 KiB
 *                                to a file in DIR and fsync, one by one
 *     limits disk DIR SECONDS    MB/s of serial durable 1 MiB writes:
 *                                write 1 MiB to a new file in DIR, fsync
 *                                (what a durable 1 MiB PUT must wait for)
 *     limits hash SECONDS        MB/s of one pass of MD5 + SHA-256 +
 *                                AES-256-GCM over 1 MiB bodies in 64 KiB
 *                                segments, on one core
 *     limits tcp SECONDS         MB/s of one loopback TCP stream
 *     limits null PORT SECONDS   a do-nothing HTTP/1.1 server on
 *                                127.0.0.1:PORT (a thread per connection,
 *                                4 KiB to every GET, a small JSON to
 *                                anything else); exits after SECONDS
 *
 * Each measurement prints one line "LIMIT name=value unit".
 */
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SEG (64 * 1024)
#define BODY (1024 * 1024)

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    ssize_t k;

    while (n > 0) {
        k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Serial 4 KiB appends, each made durable before the next. */
static int
limit_fsync(const char *dir, double secs)
{
    char path[4096], block[4096];
    double t0, t = 0;
    long n = 0;
    int fd;

    snprintf(path, sizeof(path), "%s/limits-fsync.tmp", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror("limits: open");
        return 1;
    }
    memset(block, 'x', sizeof(block));
    t0 = now_s();
    do {
        if (write_all(fd, block, sizeof(block)) != 0 || fsync(fd) != 0) {
            perror("limits: write/fsync");
            break;
        }
        n++;
        t = now_s();
    } while (t - t0 < secs && n < 10000000);
    close(fd);
    unlink(path);
    printf("LIMIT fsync_commits=%.0f /s\n", n / (t - t0));
    return 0;
}

/* Serial 1 MiB files, each written and fsync'd before the next. */
static int
limit_disk(const char *dir, double secs)
{
    char path[4096], *block = malloc(BODY);
    double t0, t = 0;
    long n = 0;
    int fd;

    if (block == NULL)
        return 1;
    RAND_bytes((unsigned char *)block, BODY);
    t0 = now_s();
    do {
        snprintf(path, sizeof(path), "%s/limits-disk-%ld.tmp", dir, n % 16);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write_all(fd, block, BODY) != 0 || fsync(fd) != 0) {
            perror("limits: disk");
            if (fd >= 0)
                close(fd);
            break;
        }
        close(fd);
        n++;
        t = now_s();
    } while (t - t0 < secs && n < 100000);
    for (long i = 0; i < 16; i++) {
        snprintf(path, sizeof(path), "%s/limits-disk-%ld.tmp", dir, i);
        unlink(path);
    }
    free(block);
    printf("LIMIT disk_1m=%.1f MB/s\n", (double)n * BODY / (t - t0) / 1e6);
    return 0;
}

/* The three digests/ciphers over one 1 MiB body, segment by segment. */
static void
one_pass(const unsigned char *in, unsigned char *out, EVP_MD_CTX *md5,
         EVP_MD_CTX *sha, EVP_CIPHER_CTX *gcm, const unsigned char *key)
{
    unsigned char iv[12] = { 0 }, tag[16], dig[64];
    unsigned int dl;
    size_t off;
    int n;

    EVP_DigestInit_ex(md5, EVP_md5(), NULL);
    EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
    for (off = 0; off < BODY; off += SEG) {
        iv[11]++;
        EVP_DigestUpdate(md5, in + off, SEG);
        EVP_DigestUpdate(sha, in + off, SEG);
        EVP_EncryptInit_ex(gcm, NULL, NULL, key, iv);
        EVP_EncryptUpdate(gcm, out, &n, in + off, SEG);
        EVP_EncryptFinal_ex(gcm, out + n, &n);
        EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_GET_TAG, 16, tag);
    }
    EVP_DigestFinal_ex(md5, dig, &dl);
    EVP_DigestFinal_ex(sha, dig, &dl);
}

static int
limit_hash(double secs)
{
    unsigned char *in = malloc(BODY), *out = malloc(SEG + 16), key[32];
    EVP_MD_CTX *md5 = EVP_MD_CTX_new(), *sha = EVP_MD_CTX_new();
    EVP_CIPHER_CTX *gcm = EVP_CIPHER_CTX_new();
    double t0 = now_s(), t;
    long n = 0;

    if (!in || !out || !md5 || !sha || !gcm)
        return 1;
    RAND_bytes(in, BODY);
    RAND_bytes(key, sizeof(key));
    EVP_EncryptInit_ex(gcm, EVP_aes_256_gcm(), NULL, NULL, NULL);
    do {
        one_pass(in, out, md5, sha, gcm, key);
        n++;
        t = now_s();
    } while (t - t0 < secs);
    printf("LIMIT hash_pass=%.1f MB/s\n", (double)n * BODY / (t - t0) / 1e6);
    EVP_MD_CTX_free(md5);
    EVP_MD_CTX_free(sha);
    EVP_CIPHER_CTX_free(gcm);
    free(in);
    free(out);
    return 0;
}

struct sender {
    int fd;
    double secs;
};

static void *
send_loop(void *arg)
{
    struct sender *s = arg;
    char *buf = calloc(1, 256 * 1024);
    double t0 = now_s();

    while (buf && now_s() - t0 < s->secs)
        if (write_all(s->fd, buf, 256 * 1024) != 0)
            break;
    free(buf);
    shutdown(s->fd, SHUT_WR);
    return NULL;
}

/* A listening socket on 127.0.0.1:port (0 = any); its port in *port. */
static int
listen_on(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)*port);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(fd, 128) != 0) {
        perror("limits: listen");
        exit(1);
    }
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static int
limit_tcp(double secs)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    int port = 0, ls = listen_on(&port), c, srv;
    struct sender s;
    pthread_t th;
    char *buf = malloc(256 * 1024);
    double t0, t;
    ssize_t k;
    uint64_t total = 0;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)port);
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (buf == NULL || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        (srv = accept(ls, NULL, NULL)) < 0) {
        perror("limits: connect");
        return 1;
    }
    s.fd = c;
    s.secs = secs;
    t0 = now_s();
    pthread_create(&th, NULL, send_loop, &s);
    while ((k = read(srv, buf, 256 * 1024)) > 0)
        total += (uint64_t)k;
    t = now_s();
    pthread_join(th, NULL);
    printf("LIMIT tcp_stream=%.1f MB/s\n", (double)total / (t - t0) / 1e6);
    close(c);
    close(srv);
    close(ls);
    free(buf);
    return 0;
}

static char get_reply[512 + 4096];
static size_t get_reply_len;
static char post_reply[512];
static size_t post_reply_len;

/* Content-Length of a request head, 0 when absent. */
static long
content_length(const char *head)
{
    const char *p = head;

    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, "content-length:", 15) == 0)
            return atol(p + 15);
    }
    return 0;
}

/* One connection: read a head, skip its body, answer; until EOF. */
static void *
serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    size_t have = 0;
    ssize_t k;

    for (;;) {
        char *end = memmem(buf, have, "\r\n\r\n", 4);

        if (end == NULL) {
            if (have == sizeof(buf))
                break;
            k = read(fd, buf + have, sizeof(buf) - have);
            if (k <= 0)
                break;
            have += (size_t)k;
            continue;
        }
        *end = '\0';
        size_t used = (size_t)(end + 4 - buf);
        long body = content_length(buf);
        bool get = strncmp(buf, "GET ", 4) == 0;

        while ((long)(have - used) < body) {
            long skip = body - (long)(have - used);

            k = read(fd, buf, sizeof(buf) < (size_t)skip ? sizeof(buf)
                                                         : (size_t)skip);
            if (k <= 0)
                goto out;
            body -= k;
        }
        used += (size_t)body;
        memmove(buf, buf + used, have - used);
        have -= used;
        if (write_all(fd, get ? get_reply : post_reply,
                      get ? get_reply_len : post_reply_len) != 0)
            break;
    }
out:
    close(fd);
    return NULL;
}

static int
limit_null(int port, double secs)
{
    int ls = listen_on(&port), one = 1;
    double t0 = now_s();
    struct timeval tv = { 1, 0 };

    get_reply_len = (size_t)snprintf(get_reply, 512, "HTTP/1.1 200 OK\r\n"
        "Content-Length: 4096\r\nContent-Type: application/octet-stream"
        "\r\n\r\n");
    memset(get_reply + get_reply_len, 'x', 4096);
    get_reply_len += 4096;
    post_reply_len = (size_t)snprintf(post_reply, sizeof(post_reply),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
        "Content-Type: application/x-amz-json-1.1\r\n\r\n{}");
    setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    printf("LIMIT null_server_port=%d\n", port);
    fflush(stdout);
    while (now_s() - t0 < secs) {
        int c = accept(ls, NULL, NULL);
        pthread_t th;

        if (c < 0)
            continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_create(&th, NULL, serve, (void *)(intptr_t)c);
        pthread_detach(th);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "fsync") == 0)
        return limit_fsync(argv[2], atof(argv[3]));
    if (argc == 4 && strcmp(argv[1], "disk") == 0)
        return limit_disk(argv[2], atof(argv[3]));
    if (argc == 3 && strcmp(argv[1], "hash") == 0)
        return limit_hash(atof(argv[2]));
    if (argc == 3 && strcmp(argv[1], "tcp") == 0)
        return limit_tcp(atof(argv[2]));
    if (argc == 4 && strcmp(argv[1], "null") == 0)
        return limit_null(atoi(argv[2]), atof(argv[3]));
    fprintf(stderr, "usage: limits fsync DIR SECS | disk DIR SECS |"
            " hash SECS | tcp SECS | null PORT SECS\n");
    return 2;
}
