/*
 * libmicrohttpd glue: listeners, the exchange life cycle, the access log.
 *
 * One thread per connection (DESIGN.md "Concurrency"), so a handler may
 * block on fsync, SQLite or KMS without stalling other connections.  The
 * request target is taken from the URI log callback, which sees it as
 * sent: the path libmicrohttpd hands the access handler is already
 * percent-decoded, and SigV4 and object keys need the raw text.
 */
#include "http/http_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "crypto/crypto.h"
#include "util/codec.h"
#include "util/log.h"
#include "util/timefmt.h"

#define HTTP_CONNECTION_LIMIT 1024
/*
 * One source may hold a quarter of the connections: generous for clients
 * that open many (the CLI's parallel parts, a test run on loopback), yet
 * an idle flood from one address leaves the rest to everyone else.
 */
#define HTTP_PER_IP_LIMIT (HTTP_CONNECTION_LIMIT / 4)
/*
 * AWS S3 drops a client that sends nothing for about 20 s.  A minute
 * still covers a slow client between parts, and a connection held by
 * one that went silent is back in the pool in a minute, not five.
 * XXX: the timeout counts silence, not progress: a client that trickles
 * a byte a minute keeps its connection, bounded only by the per-address
 * limit, and S3's RequestTimeout reply is never sent (the socket closes).
 */
#define HTTP_IDLE_TIMEOUT_S 60
/*
 * TLS 1.2 and 1.3 only, AEAD ciphers with forward secrecy; the server's
 * order wins.  Older versions have known weaknesses and no client that
 * speaks SigV4 needs them.
 */
#define HTTP_TLS_PRIORITIES \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
    "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
    "-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"
#define HTTP_STREAM_BLOCK (256 * 1024)
#define HTTP_SMALL_BODY (64 * 1024)     /* streamed bodies read whole */
#define HTTP_HEAD_BLOCK 1024            /* HEAD: no body is ever read */

struct listener {
    struct http_server *srv;
    struct MHD_Daemon *daemon;
    bool secure;
};

struct http_server {
    struct coffer *app;
    http_begin_fn s3_begin;
    struct listener plain;
    struct listener tls;
};

static void
exchange_free(struct http_exchange *x)
{
    if (x == NULL)
        return;
    if (x->ops && x->ops->free)
        x->ops->free(x);
    if (x->resp.reader_free)
        x->resp.reader_free(x->resp.reader_ctx);
    headers_free(&x->req.headers);
    headers_free(&x->resp.headers);
    buf_free(&x->resp.body);
    free(x->req.target);
    free(x->req.path);
    free(x->req.query);
    free(x);
}

/* Split the raw target into path and query; both stay encoded. */
static int
split_target(struct http_exchange *x, const char *uri)
{
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);

    x->req.target = strdup(uri);
    x->req.path = strndup(uri, plen);
    x->req.query = strdup(q ? q + 1 : "");
    if (!x->req.target || !x->req.path || !x->req.query)
        return CERR_NOMEM;
    return 0;
}

static void *
uri_logged(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct listener *l = cls;
    struct http_exchange *x = calloc(1, sizeof(*x));

    (void)conn;
    if (x == NULL)
        return NULL;
    x->app = l->srv->app;
    x->req.secure = l->secure;
    x->req.start_ms = time_now_ms();
    if (split_target(x, uri) != 0) {
        exchange_free(x);
        return NULL;
    }
    return x;
}

static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
               const char *value)
{
    struct http_exchange *x = cls;

    (void)kind;
    if (headers_add(&x->req.headers, key, value ? value : "") != 0)
        return MHD_NO;
    return MHD_YES;
}

static void
peer_address(struct http_exchange *x, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci;
    const struct sockaddr *sa;

    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return;
    sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;

        inet_ntop(AF_INET, &in->sin_addr, x->req.peer, sizeof(x->req.peer));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, x->req.peer,
                  sizeof(x->req.peer));
    }
}

static void
tls_version(struct http_exchange *x, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci;

    if (!x->req.secure)
        return;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_PROTOCOL);
    if (ci == NULL)
        return;
    switch (ci->protocol) {
    case GNUTLS_TLS1_2: strcpy(x->req.tls_version, "1.2"); break;
    case GNUTLS_TLS1_3: strcpy(x->req.tls_version, "1.3"); break;
    case GNUTLS_TLS1_1: strcpy(x->req.tls_version, "1.1"); break;
    case GNUTLS_TLS1_0: strcpy(x->req.tls_version, "1.0"); break;
    default: break;
    }
}

static bool
is_kms(const struct http_exchange *x)
{
    const char *t = headers_get(&x->req.headers, "x-amz-target");

    return t != NULL && strncmp(t, "TrentService.", 13) == 0;
}

static void
new_request_id(struct http_exchange *x, bool kms)
{
    uint8_t r[8];

    if (kms && crypto_uuid(x->req.id) == 0)
        return;
    crypto_random(r, sizeof(r));
    hex_encode(r, sizeof(r), x->req.id);
    for (char *p = x->req.id; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
}

/* Headers every reply carries, whatever produced it. */
static void
common_headers(struct http_exchange *x, bool kms)
{
    char id2[48];
    uint8_t r[24];

    if (kms) {
        http_header(x, "x-amzn-RequestId", x->req.id);
        return;
    }
    crypto_random(r, sizeof(r));
    base64_encode(r, sizeof(r), id2);
    http_header(x, "x-amz-request-id", x->req.id);
    http_header(x, "x-amz-id-2", id2);
    http_header(x, "Server", "AmazonS3");
}

static ssize_t
read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct http_exchange *x = cls;
    size_t got = 0;

    if (x->resp.reader == NULL)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (x->resp.reader(x->resp.reader_ctx, pos, buf, max, &got) != 0) {
        log_warn("http: %s body stream failed at %llu, closing",
                 x->req.id, (unsigned long long)pos);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (got == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    x->bytes_out += got;
    return (ssize_t)got;
}

struct secret_body {
    char *data;
    size_t len;
};

static void
free_secret_body(void *cls)
{
    struct secret_body *sb = cls;

    crypto_wipe(sb->data, sb->len);
    free(sb->data);
    free(sb);
}

/* A reply body that holds plaintext keys is wiped once sent. */
static struct MHD_Response *
secret_response(char *data, size_t len)
{
    struct secret_body *sb = malloc(sizeof(*sb));
    struct MHD_Response *mr;

    if (sb == NULL)
        return NULL;
    sb->data = data;
    sb->len = len;
    mr = MHD_create_response_from_buffer_with_free_callback_cls(
        len, data, free_secret_body, sb);
    if (mr == NULL)
        free(sb);
    return mr;
}

/*
 * A small streamed body, read whole before the reply is queued, so that
 * headers and body leave in one write and no stream buffer (which
 * libmicrohttpd allocates zeroed, HTTP_STREAM_BLOCK bytes) is needed.
 */
static struct MHD_Response *
small_response(struct http_exchange *x)
{
    struct http_response *r = &x->resp;
    size_t len = (size_t)r->length, pos = 0, got;
    struct MHD_Response *mr;
    char *data = malloc(len ? len : 1);

    if (data == NULL)
        return NULL;
    while (pos < len) {
        got = 0;
        if (r->reader(r->reader_ctx, pos, data + pos, len - pos, &got) != 0 ||
            got == 0) {
            log_warn("http: %s body read failed at %zu, closing", x->req.id,
                     pos);
            free(data);
            return NULL;
        }
        pos += got;
    }
    x->bytes_out += len;
    mr = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (mr == NULL)
        free(data);
    return mr;
}

static struct MHD_Response *
build_response(struct http_exchange *x)
{
    struct http_response *r = &x->resp;
    struct MHD_Response *mr;
    size_t i;

    if (r->length_only) {
        mr = MHD_create_response_from_callback(r->length, HTTP_HEAD_BLOCK,
                                               read_stream, x, NULL);
    } else if (r->reader != NULL && r->length <= HTTP_SMALL_BODY) {
        mr = small_response(x);
    } else if (r->reader != NULL) {
        mr = MHD_create_response_from_callback(r->length, HTTP_STREAM_BLOCK,
                                               read_stream, x, NULL);
    } else {
        size_t len = r->body.len;
        char *data = buf_steal(&r->body, NULL);

        x->bytes_out += len;
        if (r->secret)
            mr = secret_response(data, len);
        else
            mr = MHD_create_response_from_buffer(len, data,
                                                 MHD_RESPMEM_MUST_FREE);
        if (mr == NULL) {
            crypto_wipe(data, len);
            free(data);
        }
    }
    if (mr == NULL)
        return NULL;
    for (i = 0; i < r->headers.n; i++)
        MHD_add_response_header(mr, r->headers.v[i].name,
                                r->headers.v[i].value);
    return mr;
}

static enum MHD_Result
send_reply(struct http_exchange *x, struct MHD_Connection *conn)
{
    struct MHD_Response *mr = build_response(x);
    enum MHD_Result ret;

    if (mr == NULL)
        return MHD_NO;
    ret = MHD_queue_response(conn, (unsigned int)x->resp.status, mr);
    MHD_destroy_response(mr);
    return ret;
}

/*
 * HTTP/1.1 requires a Host header (RFC 9112 section 3.2) and this
 * libmicrohttpd lets a request without one through: answer 400 before
 * any handler sees it.  HTTP/1.0 has no such rule; it is served as
 * path-style, since only a Host could name a virtual-hosted bucket.
 */
static bool
refuse_hostless(struct http_exchange *x, const char *version)
{
    if (strcmp(version, MHD_HTTP_VERSION_1_1) != 0 ||
        headers_get(&x->req.headers, "host") != NULL)
        return false;
    snprintf(x->op, sizeof(x->op), "http.NoHost");
    buf_printf(&x->resp.body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
               "\n<Error><Code>InvalidRequest</Code><Message>An HTTP/1.1 "
               "request needs a Host header</Message><RequestId>%s"
               "</RequestId><HostId>%s</HostId></Error>", x->req.id,
               x->req.id);
    http_header(x, "Content-Type", "application/xml");
    http_reply(x, 400);
    return true;
}

static void
begin(struct http_server *srv, struct http_exchange *x,
      struct MHD_Connection *conn, const char *method, const char *version)
{
    bool kms;

    snprintf(x->req.method, sizeof(x->req.method), "%s", method);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, x);
    peer_address(x, conn);
    tls_version(x, conn);
    x->started = true;

    kms = is_kms(x);
    new_request_id(x, kms);
    common_headers(x, kms);
    if (refuse_hostless(x, version))
        return;
    if (kms)
        http_kms_begin(x);
    else
        srv->s3_begin(x);
}

/* Does the request announce a body (a non-zero length, or chunks)? */
static bool
has_body(const struct http_exchange *x)
{
    const char *cl = headers_get(&x->req.headers, "content-length");

    if (headers_get(&x->req.headers, "transfer-encoding") != NULL)
        return true;
    return cl != NULL && strspn(cl, "0 \t") != strlen(cl);
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url,
               const char *method, const char *version,
               const char *upload_data, size_t *upload_data_size,
               void **con_cls)
{
    struct listener *l = cls;
    struct http_exchange *x = *con_cls;

    (void)url;
    if (x == NULL)
        return MHD_NO;

    /*
     * A reply queued on this first call is sent instead of "100 Continue"
     * and libmicrohttpd then closes the connection, since the body was
     * never read.  A request without a body loses nothing by waiting for
     * the next call, and so keeps its connection alive.
     */
    if (!x->started) {
        begin(l->srv, x, conn, method, version);
        if (x->ready && has_body(x))
            return send_reply(x, conn);
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        x->bytes_in += *upload_data_size;
        if (x->body_err == 0 && x->ops && x->ops->body)
            x->body_err = x->ops->body(x, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (!x->ready && x->ops && x->ops->end)
        x->ops->end(x);
    if (!x->ready) {
        log_error("http: %s handler produced no reply", x->req.id);
        return MHD_NO;
    }
    return send_reply(x, conn);
}

/*
 * Write a request-derived field so that it cannot break the line format:
 * bytes outside printable ASCII, the quote and the backslash become
 * \xHH, so a field is never empty, never holds a space or a newline, and
 * one request is always one line.  "-" stands for an empty field.
 */
static void
log_field(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (*p == '\0') {
        fputs(" -", f);
        return;
    }
    fputc(' ', f);
    for (; *p; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\')
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
}

static void
access_log(struct http_exchange *x, enum MHD_RequestTerminationCode toe)
{
    struct coffer *app = x->app;
    char when[32];
    int64_t now = time_now_ms();
    FILE *f = app->access_log ? app->access_log : stderr;

    time_iso8601(now, when);
    pthread_mutex_lock(&app->log_lock);
    fputs(when, f);
    log_field(f, x->req.id);
    log_field(f, x->req.peer);
    log_field(f, x->principal);
    log_field(f, x->op[0] ? x->op : x->req.method);
    log_field(f, x->resource);
    fprintf(f, " %d %llu %llu %lld%s\n", x->resp.status,
            (unsigned long long)x->bytes_in,
            (unsigned long long)x->bytes_out,
            (long long)(now - x->req.start_ms),
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
    fflush(f);
    pthread_mutex_unlock(&app->log_lock);
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct http_exchange *x = *con_cls;

    (void)cls;
    (void)conn;
    if (x == NULL)
        return;
    if (x->started)
        access_log(x, toe);
    exchange_free(x);
    *con_cls = NULL;
}

/* Parse "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int
parse_addr(const char *spec, struct sockaddr_storage *ss, bool *v6)
{
    char host[128];
    const char *colon;
    long port;
    char *end;

    memset(ss, 0, sizeof(*ss));
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');

        if (close == NULL || close[1] != ':')
            return CERR_INVALID_ARGUMENT;
        snprintf(host, sizeof(host), "%.*s", (int)(close - spec - 1),
                 spec + 1);
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (colon == NULL)
            return CERR_INVALID_ARGUMENT;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
    }
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return CERR_INVALID_ARGUMENT;

    struct sockaddr_in *in = (void *)ss;
    struct sockaddr_in6 *in6 = (void *)ss;

    if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return 0;
    }
    return CERR_INVALID_ARGUMENT;
}

/*
 * Would a listener on spec start?  Parse it and bind a socket there for a
 * moment, so a typo, a foreign address or a port in use is found before
 * the data directory is touched.
 */
static int
check_listen(const char *spec, const char *flag, struct err_detail *d)
{
    struct sockaddr_storage ss;
    socklen_t len;
    bool v6;
    int fd, one = 1, rc = 0;

    if (parse_addr(spec, &ss, &v6) != 0)
        return err_set(d, CERR_INVALID_ARGUMENT, "%s '%s': want "
                       "HOST:PORT or [V6]:PORT with a numeric address",
                       flag, spec);
    len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_set(d, CERR_IO, "%s: cannot make a socket: %s", flag,
                       strerror(errno));
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0)
        rc = err_set(d, CERR_IO, "%s %s: cannot listen there: %s", flag,
                     spec, strerror(errno));
    close(fd);
    return rc;
}

/* Check the listeners' settings without serving; see http.h. */
int
http_server_check(const struct coffer_config *cfg, struct err_detail *d)
{
    int rc;

    if ((rc = check_listen(cfg->listen, "--listen", d)) != 0)
        return rc;
    if (!cfg->tls_listen[0])
        return 0;
    if ((rc = check_listen(cfg->tls_listen, "--tls-listen", d)) != 0)
        return rc;
    return http_tls_check(cfg->tls_cert, cfg->tls_key, d);
}

/*
 * libmicrohttpd's own messages (a peer that closed mid-request, the
 * connection limit reached, a failed TLS handshake) are about clients,
 * and any client can cause as many as it likes: they are debug lines,
 * with the timestamp and form of ours, and nothing unprintable.
 */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t i, n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (i = 0; i < n; i++)
        if (!isprint((unsigned char)msg[i]))
            msg[i] = '?';
    log_debug("http: %s", msg);
}

static int
start_listener(struct http_server *srv, struct listener *l, const char *spec,
               bool secure, struct err_detail *d)
{
    struct MHD_OptionItem tls[] = {
        { MHD_OPTION_HTTPS_CERT_CALLBACK, 0, http_tls_callback() },
        { MHD_OPTION_HTTPS_PRIORITIES, 0, HTTP_TLS_PRIORITIES },
        { MHD_OPTION_END, 0, NULL },
    };
    struct MHD_OptionItem plain[] = { { MHD_OPTION_END, 0, NULL } };
    struct sockaddr_storage ss;
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION |
                         MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    bool v6;

    if (parse_addr(spec, &ss, &v6) != 0)
        return err_set(d, CERR_IO, "cannot parse listen address '%s' "
                       "(want HOST:PORT)", spec);
    if (v6)
        flags |= MHD_USE_IPv6;
    l->srv = srv;
    l->secure = secure;

    if (secure)
        flags |= MHD_USE_TLS;
    l->daemon = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, l,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,     /* first, or unused */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_URI_LOG_CALLBACK, uri_logged, l,
        MHD_OPTION_NOTIFY_COMPLETED, completed, l,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTION_LIMIT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_PER_IP_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
        MHD_OPTION_ARRAY, secure ? tls : plain,
        MHD_OPTION_END);
    if (l->daemon == NULL)
        return err_set(d, CERR_IO, "cannot listen on %s (address in use, "
                       "or %s)", spec, secure ? "bad TLS certificate or key"
                                              : "not a local address");
    return 0;
}

int
http_server_start(struct coffer *app, http_begin_fn s3_begin,
                  struct http_server **out, struct err_detail *d)
{
    struct http_server *srv = calloc(1, sizeof(*srv));
    int rc;

    if (srv == NULL)
        return CERR_NOMEM;
    srv->app = app;
    srv->s3_begin = s3_begin;

    rc = start_listener(srv, &srv->plain, app->cfg.listen, false, d);
    if (rc != 0)
        goto fail;
    if (app->cfg.tls_listen[0]) {
        /* The certificate comes from a callback, reloaded on SIGHUP. */
        rc = http_tls_load(app->cfg.tls_cert, app->cfg.tls_key, d);
        if (rc != 0)
            goto fail;
        rc = start_listener(srv, &srv->tls, app->cfg.tls_listen, true, d);
        if (rc == 0 && http_tls_watch(app->cfg.tls_cert,
                                      app->cfg.tls_key) != 0)
            rc = err_set(d, CERR_IO, "cannot watch for SIGHUP");
        if (rc != 0)
            goto fail;
    }
    *out = srv;
    return 0;

fail:
    http_server_stop(srv);
    return rc;
}

void
http_server_stop(struct http_server *s)
{
    if (s == NULL)
        return;
    if (s->plain.daemon)
        MHD_stop_daemon(s->plain.daemon);
    if (s->tls.daemon)
        MHD_stop_daemon(s->tls.daemon);
    http_tls_stop();
    free(s);
}

void
http_header(struct http_exchange *x, const char *name, const char *value)
{
    headers_add(&x->resp.headers, name, value);
}

void
http_reply(struct http_exchange *x, int status)
{
    x->resp.status = status;
    x->ready = true;
}
