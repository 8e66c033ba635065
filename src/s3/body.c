/*
 * Request bodies on the S3 side.  Every body goes through auth_body,
 * which strips aws-chunked framing and checks hashes, signatures and
 * checksums; the decoded bytes reach the operation's sink.  Small XML and
 * JSON bodies are collected in memory up to a cap; object bodies are
 * streamed by their operation.
 */
#include "s3/s3_int.h"

#include <string.h>

#include "crypto/crypto.h"
#include "store/blob.h"
#include "util/codec.h"
#include "util/log.h"

/*
 * Take the body through auth_body, then call finish.  Header-level body
 * faults (bad Content-MD5, unknown checksum algorithm) come back here so
 * the operation can answer before the body is sent.
 */
int
s3_want_body(struct s3_req *r, void (*finish)(struct s3_req *r))
{
    int rc = auth_body_new(&r->x->req.headers, &r->auth, &r->body, &r->d);

    if (rc != 0)
        return rc;
    r->finish = finish;
    return 0;
}

static int
collect(struct s3_req *r, const void *data, size_t len)
{
    if (r->xml.len + len > S3_XML_BODY_MAX)
        return CERR_TOO_LARGE_BODY;
    buf_append(&r->xml, data, len);
    return buf_failed(&r->xml) ? CERR_NOMEM : 0;
}

/* Collect a small body into r->xml, then call finish. */
int
s3_want_xml_body(struct s3_req *r, void (*finish)(struct s3_req *r))
{
    r->sink = collect;
    return s3_want_body(r, finish);
}

/*
 * Operations the S3 model marks httpChecksumRequired must carry
 * Content-MD5 or a checksum (ruling 7a); auth_body verifies whichever
 * came.  A checksum may also arrive as an aws-chunked trailer.
 */
bool
s3_has_integrity_header(const struct s3_req *r)
{
    const struct headers *h = &r->x->req.headers;
    size_t i;

    if (headers_get(h, "content-md5") || headers_get(h, "x-amz-trailer"))
        return true;
    for (i = 0; i < h->n; i++)
        if (strncmp(h->v[i].name, "x-amz-checksum-", 15) == 0 &&
            strcmp(h->v[i].name, "x-amz-checksum-mode") != 0)
            return true;
    return false;
}

/*
 * Remove the files a metadata change released (or leave those a reply
 * still reads to its last reader), then forget them.
 */
void
s3_remove_garbage(struct s3_req *r, struct meta_garbage *g)
{
    s3_pins_remove(r->app->blobs, g);
    if (g->n > 0 && meta_garbage_forget(r->app->meta, g) != 0)
        log_warn("s3: %s could not forget %zu removed bodies; they are "
                 "swept at the next start", r->x->req.id, g->n);
    meta_garbage_clear(g);
}

/*
 * An ETag that says nothing about the data (ruling 4): SSE-KMS and SSE-C
 * objects must not expose the plaintext's MD5.
 */
void
s3_random_etag(char out[33])
{
    uint8_t r[16];

    crypto_random(r, sizeof(r));
    hex_encode(r, sizeof(r), out);
}
