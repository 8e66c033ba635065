/*
 * The HTTP front: libmicrohttpd listeners, one exchange per request, the
 * access log, and the KMS endpoint.  Everything that is not a KMS call
 * (X-Amz-Target: TrentService.*) goes to the S3 entry point that main()
 * hands to http_server_start().
 *
 * An exchange lives from the request line to the last byte of the reply.
 * The S3 or KMS side sees it three times: begin (headers are in), body
 * (raw bytes as received, after HTTP chunked framing), end (body done).
 * A handler that knows its answer at begin sets x->ready; libmicrohttpd
 * then sends that answer instead of "100 Continue".
 */
#ifndef COFFER_HTTP_HTTP_H
#define COFFER_HTTP_HTTP_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "auth/auth.h"
#include "kms/kms.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/headers.h"

struct meta;
struct blob_store;
struct sse;
struct iam;

/* Everything a request may need, built once by main(). */
struct coffer_config {
    char data_dir[PATH_MAX];
    char listen[128];               /* HOST:PORT */
    char tls_listen[128];           /* "" when no HTTPS listener */
    char tls_cert[PATH_MAX];
    char tls_key[PATH_MAX];
    char region[32];
    char account[13];
    int64_t bucket_key_ttl_ms;
    char access_log[PATH_MAX];      /* "" = standard error */
    bool allow_plain_ssec;
    char domain[256];               /* virtual hosting: BUCKET.domain; "" */
};

struct coffer {
    struct coffer_config cfg;
    struct meta *meta;
    struct blob_store *blobs;
    struct auth_creds *creds;
    struct kms *kms;
    struct kms_client kmsc;
    struct sse *sse;
    struct iam *iam;                /* users: credentials, policies */
    FILE *access_log;
    pthread_mutex_t log_lock;
};

struct http_request {
    char method[16];
    char *target;                   /* request target as sent */
    char *path;                     /* target before '?', still encoded */
    char *query;                    /* target after '?', "" when none */
    struct headers headers;
    char peer[64];                  /* client address, no port */
    bool secure;                    /* came in over the TLS listener */
    char tls_version[8];            /* "1.2", "1.3"; "" on plain HTTP */
    char id[40];                    /* request id (S3: 16 hex, KMS: UUID) */
    int64_t start_ms;
};

/*
 * A reply.  The body is `body`, unless `reader` is set: then `length`
 * bytes are pulled from it as the socket drains.  `length_only` sends
 * Content-Length: length with no body (HEAD).
 */
struct http_response {
    int status;
    struct headers headers;
    struct buf body;
    uint64_t length;
    bool length_only;
    bool secret;                    /* body holds key material: wipe it */
    int (*reader)(void *ctx, uint64_t pos, void *buf, size_t max,
                  size_t *got);
    void (*reader_free)(void *ctx);
    void *reader_ctx;
};

struct http_exchange;

struct http_ops {
    /* Raw body bytes; a negative return stops further calls. */
    int (*body)(struct http_exchange *x, const void *data, size_t len);
    /* The body is complete (or was refused): fill x->resp. */
    void (*end)(struct http_exchange *x);
    /* Release x->state. */
    void (*free)(struct http_exchange *x);
};

struct http_exchange {
    struct coffer *app;
    struct http_request req;
    struct http_response resp;
    const struct http_ops *ops;
    void *state;
    bool started;
    bool ready;                     /* resp is complete */
    int body_err;                   /* first failure of ops->body */
    uint64_t bytes_in;
    uint64_t bytes_out;
    /* For the access log, filled by the handler. */
    char op[48];
    char principal[256];
    char resource[1200];
};

/* Called once the request headers are in; sets x->ops or x->ready. */
typedef void (*http_begin_fn)(struct http_exchange *x);

struct http_server;

/*
 * Start the plain listener (and the TLS one when configured).  Returns 0,
 * or CERR_IO with a reason in d (bad address, port in use, unreadable
 * certificate).  The server owns nothing of `app`.
 */
int http_server_start(struct coffer *app, http_begin_fn s3_begin,
                      struct http_server **out, struct err_detail *d);

/*
 * Check what http_server_start will need from cfg, without serving: the
 * listen addresses parse and can be bound now, and the TLS certificate
 * and key files hold a matching pair.  0, or CERR_INVALID_ARGUMENT /
 * CERR_IO with the reason in d.  main() calls it before it touches the
 * data directory.
 */
int http_server_check(const struct coffer_config *cfg,
                      struct err_detail *d);

/* Stop accepting, finish the connections in flight, free. */
void http_server_stop(struct http_server *s);

/* Add a reply header (copied). */
void http_header(struct http_exchange *x, const char *name,
                 const char *value);

/* Mark the reply complete with this status. */
void http_reply(struct http_exchange *x, int status);

/* The KMS endpoint's begin step (in kms_route.c). */
void http_kms_begin(struct http_exchange *x);

#endif
