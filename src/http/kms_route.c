/*
 * The KMS endpoint: POST / with X-Amz-Target: TrentService.<Op> and a
 * JSON 1.1 body.  Unlike S3, KMS clients send no x-amz-content-sha256,
 * so the signature covers a body hash only the server can compute: the
 * body is buffered (it is small) and authenticated at the end.
 */
#include "http/http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "iam/iam.h"
#include "util/codec.h"
#include "util/log.h"
#include "util/timefmt.h"

#define KMS_BODY_MAX (1024 * 1024)

struct kms_state {
    struct buf body;
};

static void
reply_error(struct http_exchange *x, int code, const struct err_detail *d)
{
    const struct err_info *e = err_lookup(code);
    const char *type = e->kms_type ? e->kms_type : "KMSInternalException";
    const char *msg = d && d->message[0] ? d->message : e->message;

    buf_reset(&x->resp.body);
    buf_puts(&x->resp.body, "{\"__type\":");
    buf_put_json_str(&x->resp.body, type);
    buf_puts(&x->resp.body, ",\"message\":");
    buf_put_json_str(&x->resp.body, msg);
    buf_puts(&x->resp.body, "}");
    http_header(x, "Content-Type", "application/x-amz-json-1.1");
    http_reply(x, e->kms_status);
    if (e->kms_status >= 500)
        log_warn("kms: %s %s failed: %s", x->req.id, x->op, type);
}

static int
kms_body(struct http_exchange *x, const void *data, size_t len)
{
    struct kms_state *st = x->state;

    if (st->body.len + len > KMS_BODY_MAX)
        return CERR_TOO_LARGE_BODY;
    buf_append(&st->body, data, len);
    return buf_failed(&st->body) ? CERR_NOMEM : 0;
}

static int
authenticate(struct http_exchange *x, const struct buf *body,
             struct sigv4_auth *auth, struct err_detail *d)
{
    struct sigv4_request r;
    uint8_t sum[CRYPTO_SHA256_LEN];
    char hex[2 * CRYPTO_SHA256_LEN + 1];
    int rc;

    crypto_sha256(body->data ? body->data : "", body->len, sum);
    hex_encode(sum, sizeof(sum), hex);
    memset(&r, 0, sizeof(r));
    r.method = x->req.method;
    r.raw_path = x->req.path;
    r.raw_query = x->req.query;
    r.headers = &x->req.headers;
    r.now_ms = time_now_ms();
    r.region = x->app->cfg.region;
    r.service = "kms";

    /* The error table carries the KMS __type of every auth failure. */
    rc = auth_sigv4_verify(x->app->creds, &r, hex, auth, d);
    if (rc == 0 && auth->anonymous)
        return CERR_MISSING_AUTH;
    return rc;
}

static void
kms_end(struct http_exchange *x)
{
    struct kms_state *st = x->state;
    struct sigv4_auth auth;
    struct iam_identity *ident = NULL;
    struct err_detail d;
    struct kms_caller c;
    struct buf out = BUF_INIT;
    const char *target = headers_get(&x->req.headers, "x-amz-target");
    int rc;

    err_clear(&d);
    memset(&auth, 0, sizeof(auth));
    if (x->body_err != 0) {
        reply_error(x, x->body_err, NULL);
        return;
    }
    rc = authenticate(x, &st->body, &auth, &d);
    if (rc != 0) {
        reply_error(x, rc, &d);
        goto out;
    }
    snprintf(x->principal, sizeof(x->principal), "%s", auth.principal.arn);
    rc = iam_identity_get(x->app->iam, &auth.principal, &ident);
    if (rc != 0) {
        reply_error(x, rc, NULL);
        goto out;
    }

    memset(&c, 0, sizeof(c));
    c.principal_arn = auth.principal.arn;
    c.account = auth.principal.account;
    c.user_name = auth.principal.user_name[0] ? auth.principal.user_name
                                              : NULL;
    c.request_id = x->req.id;
    c.source_ip = x->req.peer;
    c.secure_transport = x->req.secure;
    c.user_id = auth.principal.type == AUTH_USER ? auth.principal.user_id
                                                 : NULL;
    c.identity = iam_identity_policies(ident, &c.nidentity);

    rc = kms_handle(x->app->kms, &c, target + strlen("TrentService."),
                    st->body.data ? st->body.data : "", st->body.len, &out,
                    &d);
    if (rc != 0) {
        reply_error(x, rc, &d);
        goto out;
    }
    buf_free(&x->resp.body);
    x->resp.body = out;
    x->resp.secret = true;
    http_header(x, "Content-Type", "application/x-amz-json-1.1");
    http_reply(x, 200);

out:
    iam_identity_release(ident);
    auth_sigv4_clear(&auth);
}

static void
kms_free(struct http_exchange *x)
{
    struct kms_state *st = x->state;

    if (st == NULL)
        return;
    /* Encrypt requests carry plaintext. */
    crypto_wipe(st->body.data, st->body.len);
    buf_free(&st->body);
    free(st);
    x->state = NULL;
}

static const struct http_ops kms_ops = {
    .body = kms_body,
    .end = kms_end,
    .free = kms_free,
};

/*
 * x->op names the operation in log lines.  It comes from a header, so
 * anything but a letter or digit becomes '?': a crafted target cannot
 * put quotes or control characters into the error log.
 */
static void
set_op(struct http_exchange *x, const char *name)
{
    size_t i, n = strlen("kms.");

    memcpy(x->op, "kms.", n);
    for (i = 0; name[i] != '\0' && n + 1 < sizeof(x->op); i++)
        x->op[n++] = isalnum((unsigned char)name[i]) ? name[i] : '?';
    x->op[n] = '\0';
}

void
http_kms_begin(struct http_exchange *x)
{
    const char *target = headers_get(&x->req.headers, "x-amz-target");

    set_op(x, target + strlen("TrentService."));
    if (strcmp(x->req.method, "POST") != 0 || strcmp(x->req.path, "/") != 0) {
        struct err_detail d;

        err_clear(&d);
        err_set(&d, CERR_KMS_UNKNOWN_OPERATION,
                "KMS requests are POST / with a JSON body");
        reply_error(x, CERR_KMS_UNKNOWN_OPERATION, &d);
        return;
    }
    x->state = calloc(1, sizeof(struct kms_state));
    if (x->state == NULL) {
        reply_error(x, CERR_NOMEM, NULL);
        return;
    }
    x->ops = &kms_ops;
}
