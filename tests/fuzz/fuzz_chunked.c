/* clang -D_GNU_SOURCE -fsanitize=fuzzer -Isrc <this file> src/{auth,crypto,util}/?*.c -lcrypto */
/*
 * libFuzzer target for the aws-chunked decoder and the body pipeline
 * around it.  The first input byte picks the payload mode (unsigned with
 * a trailer, signed chunks, signed chunks with a signed trailer) and the
 * size of the pieces the rest is fed in, so both the framing and the
 * split-anywhere logic are exercised.  The pipeline must never crash,
 * leak or read out of bounds, whatever it is fed.  Build it from the top
 * of the tree with the command on the first line (add address,undefined
 * to -fsanitize), and seed it with real bodies such as sigv4.md's.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/auth_int.h"
#include "util/headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
discard(void *ctx, const void *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return 0;
}

static void
set_headers(struct headers *h, int mode, struct sigv4_auth *a)
{
    static const char *kinds[] = {
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    };
    static const enum auth_payload payloads[] = {
        AUTH_PAYLOAD_STREAMING_UNSIGNED_TRAILER,
        AUTH_PAYLOAD_STREAMING_SIGNED,
        AUTH_PAYLOAD_STREAMING_SIGNED_TRAILER,
    };

    headers_add(h, "content-encoding", "aws-chunked");
    headers_add(h, "x-amz-content-sha256", kinds[mode]);
    if (mode != 1)
        headers_add(h, "x-amz-trailer", "x-amz-checksum-crc32");

    memset(a, 0, sizeof(*a));
    a->payload = payloads[mode];
    memcpy(a->amz_date, "20130524T000000Z", 17);
    snprintf(a->scope, sizeof(a->scope), "%s",
             "20130524/us-east-1/s3/aws4_request");
    memset(a->signature, 'a', 64);
    memset(a->signing_key, 7, sizeof(a->signing_key));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct headers h = { 0 };
    struct sigv4_auth a;
    struct auth_body *b;
    size_t step, off;
    int mode;

    if (size < 1)
        return 0;
    mode = data[0] % 3;
    step = (size_t)(data[0] >> 2) + 1;
    data++;
    size--;

    set_headers(&h, mode, &a);
    if (auth_body_new(&h, &a, &b, NULL) == 0) {
        for (off = 0; off < size; off += step) {
            size_t n = size - off < step ? size - off : step;

            if (auth_body_feed(b, data + off, n, discard, NULL, NULL) != 0)
                break;
        }
        auth_body_finish(b, NULL);
        auth_body_free(b);
    }
    headers_free(&h);
    return 0;
}
