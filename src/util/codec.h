/*
 * Text encodings that more than one module needs: hex, base64 and the
 * percent-encoding rules of SigV4 and S3 listings.
 */
#ifndef COFFER_UTIL_CODEC_H
#define COFFER_UTIL_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Lowercase hex of `len` bytes into `out` (2*len+1 bytes, NUL-ended). */
void hex_encode(const void *data, size_t len, char *out);

/*
 * Decode exactly `len` bytes from `hex` (either case); 0 or
 * CERR_INVALID_ARGUMENT when the text is not 2*len hex digits.
 */
int hex_decode(const char *hex, void *out, size_t len);

/* Standard base64 with padding; returns the encoded length. */
size_t base64_encoded_len(size_t len);
void base64_encode(const void *data, size_t len, char *out);
void buf_put_base64(struct buf *b, const void *data, size_t len);

/*
 * Decode standard base64 (padding required, no whitespace) into `out`,
 * at most `cap` bytes; *outlen gets the length.  CERR_INVALID_ARGUMENT
 * on any malformed input or when the result would not fit.
 */
int base64_decode(const char *text, size_t textlen, void *out, size_t cap,
                  size_t *outlen);

/*
 * SigV4 UriEncode: every byte but A-Z a-z 0-9 - _ . ~ becomes %XX with
 * uppercase hex; '/' is kept when keep_slash is true.
 */
void uri_encode(struct buf *b, const char *s, size_t len, bool keep_slash);

/*
 * Percent-decode `len` bytes of `s` into `out` (at least len+1 bytes),
 * NUL-terminated; *outlen gets the length.  '+' is kept as '+': S3 keys
 * are path-encoded, not form-encoded.  CERR_INVALID_ARGUMENT on a bad
 * escape or an encoded NUL.
 */
int uri_decode(const char *s, size_t len, char *out, size_t *outlen);

#endif
