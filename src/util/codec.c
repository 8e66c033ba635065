/*
 * Hex, base64 and percent-encoding.  base64 encoding goes through
 * OpenSSL's EVP block codec; decoding is our own, because EVP accepts
 * whitespace and missing padding that AWS refuses and writes whole
 * groups of three bytes past the real end.
 */
#include "util/codec.h"
#include "util/err.h"

#include <string.h>

#include <openssl/evp.h>

static const char hexdig[] = "0123456789abcdef";

void
hex_encode(const void *data, size_t len, char *out)
{
    const unsigned char *p = data;
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = hexdig[p[i] >> 4];
        out[2 * i + 1] = hexdig[p[i] & 15];
    }
    out[2 * len] = '\0';
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
hex_decode(const char *hex, void *out, size_t len)
{
    unsigned char *p = out;
    size_t i;

    if (strlen(hex) != 2 * len)
        return CERR_INVALID_ARGUMENT;
    for (i = 0; i < len; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return CERR_INVALID_ARGUMENT;
        p[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

size_t
base64_encoded_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

void
base64_encode(const void *data, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

void
buf_put_base64(struct buf *b, const void *data, size_t len)
{
    size_t n = base64_encoded_len(len);

    if (buf_reserve(b, n) != 0)
        return;
    base64_encode(data, len, b->data + b->len);
    b->len += n;
    b->data[b->len] = '\0';
}

static int
b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int
base64_decode(const char *text, size_t textlen, void *out, size_t cap,
              size_t *outlen)
{
    unsigned char *dst = out;
    size_t i, n = 0, pad = 0;

    if (textlen % 4 != 0)
        return CERR_INVALID_ARGUMENT;
    if (textlen > 0 && text[textlen - 1] == '=')
        pad = textlen > 1 && text[textlen - 2] == '=' ? 2 : 1;
    if (textlen / 4 * 3 - pad > cap)
        return CERR_INVALID_ARGUMENT;

    for (i = 0; i < textlen; i += 4) {
        bool last = i + 4 == textlen;
        int v[4], k;
        uint32_t w;

        for (k = 0; k < 4; k++) {
            bool padding = last && k >= 4 - (int)pad;

            /* '=' only as the final one or two characters. */
            v[k] = padding ? 0 : b64val(text[i + k]);
            if (v[k] < 0 || (padding && text[i + k] != '='))
                return CERR_INVALID_ARGUMENT;
        }
        w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
            (uint32_t)v[2] << 6 | (uint32_t)v[3];
        dst[n++] = (unsigned char)(w >> 16);
        if (!last || pad < 2)
            dst[n++] = (unsigned char)(w >> 8);
        if (!last || pad < 1)
            dst[n++] = (unsigned char)w;
    }
    *outlen = n;
    return 0;
}

static bool
unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '~';
}

void
uri_encode(struct buf *b, const char *s, size_t len, bool keep_slash)
{
    static const char up[] = "0123456789ABCDEF";
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (unreserved(c) || (keep_slash && c == '/')) {
            buf_putc(b, (char)c);
        } else {
            char esc[3] = { '%', up[c >> 4], up[c & 15] };

            buf_append(b, esc, 3);
        }
    }
}

int
uri_decode(const char *s, size_t len, char *out, size_t *outlen)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;

            if (i + 2 >= len)
                return CERR_INVALID_ARGUMENT;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return CERR_INVALID_ARGUMENT;
            out[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    if (outlen)
        *outlen = n;
    return 0;
}
