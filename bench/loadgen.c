/*
 * loadgen: a closed-loop S3 and KMS load generator for the benchmarks.
 *
 * One thread drives c kept-alive connections through libcurl's multi
 * interface; each connection sends its next request as soon as its last
 * one is answered.  Every request is signed with SigV4 (header form).
 * Request bodies all come from one random buffer made at start, so its
 * SHA-256 is computed once and the client spends its time on the wire,
 * not hashing.
 *
 *     loadgen [options] OP
 *       fill     PUT keys PREFIX-0 .. PREFIX-(objects-1) once (for get)
 *       put      PUT fresh keys PREFIX-N for --seconds, --runs times
 *       get      GET keys PREFIX-0 .. PREFIX-(objects-1) round robin
 *       gdk      KMS GenerateDataKey (AES_256) under --kms-key
 *
 * Each run prints one line; the last line is the median run by rate:
 *     RESULT op=put runs=3 ops=1234.5 mbps=5.06 bytes=N errors=0
 * (mbps is 10^6 bytes per second of bodies moved, either way.)  Only
 * loopback endpoints are accepted: this is a tool for this machine.
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LG_MAX_CONC 256
#define LG_MAX_RUNS 9
#define LG_MAX_HDRS 12
#define LG_MAX_EXTRA 4
#define LG_EMPTY_SHA \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct opts {
    const char *endpoint;       /* http://127.0.0.1:PORT */
    const char *access_key;
    const char *secret_key;
    const char *region;
    const char *bucket;
    const char *prefix;
    const char *sse_kms;        /* key id for SSE-KMS PUTs, or NULL */
    const char *kms_key;        /* key id for gdk */
    const char *op;
    size_t size;
    int conc;
    double seconds;
    int runs;
    long objects;
    long start;                 /* first key number of put */
    bool unsigned_payload;
    const char *extra[LG_MAX_EXTRA];    /* --header name:value */
    int nextra;
};

/* One connection and the request it has in flight. */
struct slot {
    CURL *easy;
    struct curl_slist *hdrs;
    char url[512];
    size_t up_pos;              /* body bytes sent so far */
    uint64_t got;               /* reply body bytes */
    char err[200];              /* start of the reply body, for errors */
    size_t errlen;
};

struct result {
    long ops;
    long errors;
    uint64_t bytes;
    double secs;
};

struct run {
    const struct opts *o;
    CURLM *multi;
    struct slot slots[LG_MAX_CONC];
    unsigned char *body;        /* o->size random bytes */
    char body_sha[65];
    char json[256];             /* the KMS request body */
    char json_sha[65];
    long next_key;
    int inflight;               /* requests started, not yet finished */
    long limit;                 /* keys to send, 0 = until the deadline */
    double deadline;
    struct result res;
};

struct hdr {
    char name[64];
    char value[192];
};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
hex(const unsigned char *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void
sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char h[32];

    SHA256(p, n, h);
    hex(h, 32, out);
}

static void
hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int n = 32;

    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
         strlen(msg), out, &n);
}

/* The SigV4 signing key for a date and service. */
static void
signing_key(const struct opts *o, const char *date, const char *service,
            unsigned char out[32])
{
    char k0[160];
    unsigned char k1[32], k2[32], k3[32];

    snprintf(k0, sizeof(k0), "AWS4%s", o->secret_key);
    hmac(k0, strlen(k0), date, k1);
    hmac(k1, 32, o->region, k2);
    hmac(k2, 32, service, k3);
    hmac(k3, 32, "aws4_request", out);
}

static int
hdr_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hdr *)a)->name,
                  ((const struct hdr *)b)->name);
}

static void
hdr_add(struct hdr *h, int *n, const char *name, const char *value)
{
    snprintf(h[*n].name, sizeof(h[*n].name), "%s", name);
    snprintf(h[*n].value, sizeof(h[*n].value), "%s", value);
    (*n)++;
}

/* Add a "name:value" header from the command line. */
static void
hdr_add_spec(struct hdr *h, int *n, const char *spec)
{
    const char *colon = strchr(spec, ':');

    hdr_add(h, n, "", colon + 1);
    snprintf(h[*n - 1].name, sizeof(h[*n - 1].name), "%.*s",
             (int)(colon - spec), spec);
}

/*
 * Sign a request whose headers h[0..n) (lower-case names, besides host,
 * x-amz-date and x-amz-content-sha256, which are added here) are all
 * signed, and return them as a curl header list with the Authorization.
 */
static struct curl_slist *
sign(const struct opts *o, const char *method, const char *path,
     const char *service, const char *payload_sha, struct hdr *h, int n)
{
    char amz[17], date[9], scope[64], canon[2048], sts[256], sig[65];
    char line[768], names[256] = "", *c = canon;
    unsigned char key[32], mac[32];
    struct curl_slist *list = NULL;
    const char *host = strstr(o->endpoint, "://") + 3;
    time_t t = time(NULL);
    struct tm tm;
    int i;

    gmtime_r(&t, &tm);
    strftime(amz, sizeof(amz), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(date, sizeof(date), "%.8s", amz);
    snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date,
             o->region, service);
    hdr_add(h, &n, "host", host);
    hdr_add(h, &n, "x-amz-content-sha256", payload_sha);
    hdr_add(h, &n, "x-amz-date", amz);
    qsort(h, (size_t)n, sizeof(*h), hdr_cmp);

    c += sprintf(c, "%s\n%s\n\n", method, path);
    for (i = 0; i < n; i++) {
        c += sprintf(c, "%s:%s\n", h[i].name, h[i].value);
        strcat(names, i ? ";" : "");
        strcat(names, h[i].name);
    }
    sprintf(c, "\n%s\n%s", names, payload_sha);
    sha256_hex(canon, strlen(canon), sig);
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz, scope,
             sig);
    signing_key(o, date, service, key);
    hmac(key, 32, sts, mac);
    hex(mac, 32, sig);

    snprintf(line, sizeof(line), "Authorization: AWS4-HMAC-SHA256 "
             "Credential=%s/%s, SignedHeaders=%s, Signature=%s",
             o->access_key, scope, names, sig);
    list = curl_slist_append(list, line);
    for (i = 0; i < n; i++) {
        if (strcmp(h[i].name, "host") == 0)
            continue;
        snprintf(line, sizeof(line), "%s: %s", h[i].name, h[i].value);
        list = curl_slist_append(list, line);
    }
    /* No 100-continue round trip, no Accept: what SDKs send over HTTP. */
    list = curl_slist_append(list, "Expect:");
    return curl_slist_append(list, "Accept:");
}

static size_t
on_write(char *p, size_t sz, size_t n, void *ctx)
{
    struct slot *s = ctx;
    size_t len = sz * n, room = sizeof(s->err) - 1 - s->errlen;

    s->got += len;
    if (room > len)
        room = len;
    memcpy(s->err + s->errlen, p, room);
    s->errlen += room;
    s->err[s->errlen] = '\0';
    return len;
}

static struct run *cur_run;

/* The request body, served from the shared buffer. */
static size_t
on_read(char *p, size_t sz, size_t n, void *ctx)
{
    struct slot *s = ctx;
    size_t want = sz * n, left = cur_run->o->size - s->up_pos;

    if (want > left)
        want = left;
    memcpy(p, cur_run->body + s->up_pos, want);
    s->up_pos += want;
    return want;
}

/* Sign and set up an S3 request for key number k. */
static void
s3_request(struct run *r, struct slot *s, long k)
{
    const struct opts *o = r->o;
    bool get = strcmp(o->op, "get") == 0;
    struct hdr h[LG_MAX_HDRS];
    char path[300];
    int n = 0;

    snprintf(path, sizeof(path), "/%s/%s-%ld", o->bucket, o->prefix,
             get ? k % o->objects : k);
    snprintf(s->url, sizeof(s->url), "%s%s", o->endpoint, path);
    while (n < o->nextra)
        hdr_add_spec(h, &n, o->extra[n]);
    if (get) {
        s->hdrs = sign(o, "GET", path, "s3", LG_EMPTY_SHA, h, n);
        return;
    }
    if (o->sse_kms) {
        hdr_add(h, &n, "x-amz-server-side-encryption", "aws:kms");
        hdr_add(h, &n, "x-amz-server-side-encryption-aws-kms-key-id",
                o->sse_kms);
    }
    s->hdrs = sign(o, "PUT", path, "s3",
                   o->unsigned_payload ? "UNSIGNED-PAYLOAD" : r->body_sha,
                   h, n);
    curl_easy_setopt(s->easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(s->easy, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(s->easy, CURLOPT_READDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_INFILESIZE_LARGE,
                     (curl_off_t)o->size);
}

/* Sign and set up a GenerateDataKey call. */
static void
kms_request(struct run *r, struct slot *s)
{
    struct hdr h[LG_MAX_HDRS];
    int n = 0;

    snprintf(s->url, sizeof(s->url), "%s/", r->o->endpoint);
    hdr_add(h, &n, "content-type", "application/x-amz-json-1.1");
    hdr_add(h, &n, "x-amz-target", "TrentService.GenerateDataKey");
    s->hdrs = sign(r->o, "POST", "/", "kms", r->json_sha, h, n);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, r->json);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(r->json));
}

/* Start slot s's next request; false when the run has no more. */
static bool
next_request(struct run *r, struct slot *s)
{
    long k;

    if (r->limit > 0 ? r->next_key >= r->limit : now_s() >= r->deadline)
        return false;
    k = r->next_key++;
    curl_easy_reset(s->easy);
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    s->up_pos = 0;
    s->got = 0;
    s->errlen = 0;

    if (strcmp(r->o->op, "gdk") == 0)
        kms_request(r, s);
    else
        s3_request(r, s, k);
    curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, 300L);
    curl_multi_add_handle(r->multi, s->easy);
    r->inflight++;
    return true;
}

/* A request is done: count it and start the slot's next one. */
static void
finished(struct run *r, CURLMsg *m)
{
    struct slot *s;
    long status = 0;

    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
    curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(r->multi, m->easy_handle);
    r->inflight--;
    if (m->data.result != CURLE_OK || status < 200 || status > 299) {
        if (r->res.errors++ < 3)
            fprintf(stderr, "loadgen: %s: %s, HTTP %ld: %.160s\n", s->url,
                    curl_easy_strerror(m->data.result), status, s->err);
    } else {
        r->res.ops++;
        r->res.bytes += strcmp(r->o->op, "get") == 0 ? s->got
                        : strcmp(r->o->op, "gdk") == 0 ? 0 : r->o->size;
    }
    next_request(r, s);
}

/* One timed run (or one fill); returns its counts. */
static struct result
run_once(struct run *r, long limit)
{
    int i, running, left;
    double t0 = now_s();
    CURLMsg *m;

    memset(&r->res, 0, sizeof(r->res));
    r->limit = limit;
    r->deadline = t0 + r->o->seconds;
    for (i = 0; i < r->o->conc; i++)
        next_request(r, &r->slots[i]);
    /* A handle may finish within a perform call, and finished() starts
     * the next one, so count requests ourselves rather than trust
     * perform's "running". */
    while (r->inflight > 0) {
        curl_multi_perform(r->multi, &running);
        while ((m = curl_multi_info_read(r->multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE)
                finished(r, m);
        if (r->inflight > 0)
            curl_multi_poll(r->multi, NULL, 0, 100, NULL);
    }
    r->res.secs = now_s() - t0;
    return r->res;
}

static int
by_rate(const void *a, const void *b)
{
    const struct result *x = a, *y = b;
    double rx = x->ops / x->secs, ry = y->ops / y->secs;

    return rx < ry ? -1 : rx > ry;
}

static void
print_result(const char *tag, const struct opts *o, const struct result *r,
             int runs)
{
    printf("%s op=%s runs=%d ops=%.1f mbps=%.2f bytes=%llu errors=%ld "
           "secs=%.2f\n", tag, o->op, runs, r->ops / r->secs,
           (double)r->bytes / r->secs / 1e6, (unsigned long long)r->bytes,
           r->errors, r->secs);
    fflush(stdout);
}

static void
usage(void)
{
    fprintf(stderr,
        "usage: loadgen --endpoint http://127.0.0.1:PORT --access-key AK\n"
        "       --secret-key SK [--region R] [--bucket B] [--prefix P]\n"
        "       [--size BYTES] [--concurrency C] [--seconds S] [--runs N]\n"
        "       [--objects N] [--start N] [--sse-kms KEYID]\n"
        "       [--kms-key KEYID] [--unsigned-payload]\n"
        "       [--header lower-case-name:value]... fill|put|get|gdk\n");
    exit(2);
}

/* Only loopback: 127.x.y.z, localhost or [::1]. */
static bool
loopback(const char *ep)
{
    return strncmp(ep, "http://127.", 11) == 0 ||
           strncmp(ep, "http://localhost:", 17) == 0 ||
           strncmp(ep, "http://[::1]:", 13) == 0;
}

static void
parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        { "endpoint", 1, 0, 'e' }, { "access-key", 1, 0, 'a' },
        { "secret-key", 1, 0, 's' }, { "region", 1, 0, 'r' },
        { "bucket", 1, 0, 'b' }, { "prefix", 1, 0, 'p' },
        { "size", 1, 0, 'z' }, { "concurrency", 1, 0, 'c' },
        { "seconds", 1, 0, 't' }, { "runs", 1, 0, 'n' },
        { "objects", 1, 0, 'o' }, { "start", 1, 0, 'S' },
        { "sse-kms", 1, 0, 'k' }, { "kms-key", 1, 0, 'K' },
        { "unsigned-payload", 0, 0, 'u' }, { "header", 1, 0, 'H' },
        { 0, 0, 0, 0 },
    };
    int ch;

    *o = (struct opts){ .region = "us-east-1", .bucket = "bench",
                        .prefix = "obj", .size = 4096, .conc = 1,
                        .seconds = 5, .runs = 3, .objects = 1000 };
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'e': o->endpoint = optarg; break;
        case 'a': o->access_key = optarg; break;
        case 's': o->secret_key = optarg; break;
        case 'r': o->region = optarg; break;
        case 'b': o->bucket = optarg; break;
        case 'p': o->prefix = optarg; break;
        case 'z': o->size = strtoul(optarg, NULL, 10); break;
        case 'c': o->conc = atoi(optarg); break;
        case 't': o->seconds = atof(optarg); break;
        case 'n': o->runs = atoi(optarg); break;
        case 'o': o->objects = atol(optarg); break;
        case 'S': o->start = atol(optarg); break;
        case 'k': o->sse_kms = optarg; break;
        case 'K': o->kms_key = optarg; break;
        case 'u': o->unsigned_payload = true; break;
        case 'H':
            if (o->nextra == LG_MAX_EXTRA || !strchr(optarg, ':'))
                usage();
            o->extra[o->nextra++] = optarg;
            break;
        default: usage();
        }
    }
    if (optind != argc - 1 || !o->endpoint || !o->access_key ||
        !o->secret_key || o->conc < 1 || o->conc > LG_MAX_CONC ||
        o->runs < 1 || o->runs > LG_MAX_RUNS || o->objects < 1 ||
        o->seconds <= 0 || o->seconds > 600)
        usage();
    o->op = argv[optind];
    if (!loopback(o->endpoint)) {
        fprintf(stderr, "loadgen: %s is not a loopback endpoint\n",
                o->endpoint);
        exit(2);
    }
}

/* Random body, its hash, the KMS request; the multi and its handles. */
static int
setup(struct run *r, const struct opts *o)
{
    int i;

    memset(r, 0, sizeof(*r));
    r->o = o;
    if ((r->body = malloc(o->size ? o->size : 1)) == NULL)
        return -1;
    RAND_bytes(r->body, (int)o->size);
    sha256_hex(r->body, o->size, r->body_sha);
    snprintf(r->json, sizeof(r->json), "{\"KeyId\":\"%s\","
             "\"KeySpec\":\"AES_256\"}", o->kms_key ? o->kms_key : "");
    sha256_hex(r->json, strlen(r->json), r->json_sha);

    r->multi = curl_multi_init();
    curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)o->conc);
    for (i = 0; i < o->conc; i++)
        if ((r->slots[i].easy = curl_easy_init()) == NULL)
            return -1;
    return 0;
}

int
main(int argc, char **argv)
{
    struct opts o;
    struct run r;
    struct result res[LG_MAX_RUNS];
    int i;

    parse(argc, argv, &o);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (setup(&r, &o) != 0) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    cur_run = &r;
    if (strcmp(o.op, "fill") == 0) {
        o.op = "put";
        res[0] = run_once(&r, o.objects);
        print_result("RESULT", &o, &res[0], 1);
        return res[0].errors ? 1 : 0;
    }
    if (strcmp(o.op, "put") && strcmp(o.op, "get") && strcmp(o.op, "gdk"))
        usage();

    r.next_key = o.start;
    for (i = 0; i < o.runs; i++) {
        res[i] = run_once(&r, 0);
        print_result("run", &o, &res[i], 1);
    }
    qsort(res, (size_t)o.runs, sizeof(res[0]), by_rate);
    print_result("RESULT", &o, &res[o.runs / 2], o.runs);
    return 0;
}
