/*
 * The aws-chunked decoder: a byte-at-a-time state machine, so it is
 * indifferent to how the body is split across reads.  The format
 * (CRLF = "\r\n"):
 *
 *     chunk       = hex-size [ ";chunk-signature=" 64hex ] CRLF data CRLF
 *     last-chunk  = "0" [ ";chunk-signature=" 64hex ] CRLF
 *     trailer     = *( name ":" value CRLF )
 *     body        = *chunk last-chunk trailer CRLF
 *
 * Header and trailer lines may end in a bare LF; the CRLF after chunk data
 * is required.  Unknown chunk extensions are ignored.  Only one line is
 * buffered at a time (CHUNKED_LINE_MAX) and the trailer as a whole is
 * bounded (CHUNKED_TRAILER_MAX), so memory does not grow with the body.
 * Signatures and checksums are the caller's business (body.c): this file
 * only frames.
 */
#include "auth/auth_int.h"
#include "util/err.h"

#include <ctype.h>
#include <string.h>

/* Initialise a decoder at the start of a body. */
void
chunked_init(struct chunked *c)
{
    memset(c, 0, sizeof(*c));
    c->state = CHUNKED_SIZE;
}

static int
broken(struct chunked *c, int code, struct err_detail *d, const char *what)
{
    c->state = CHUNKED_FAILED;
    c->err = code;
    return err_set(d, code, "Invalid aws-chunked body: %s.", what);
}

static int
stopped(struct chunked *c, int code)
{
    c->state = CHUNKED_FAILED;
    c->err = code;
    return code;
}

static int
hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/*
 * Parse "hex-size[;ext...]": the size and where the chunk-signature
 * starts (NULL when none; it runs to the next ';').  -1 when the line is
 * not a chunk header.
 */
static int
parse_size_line(const char *line, uint64_t *size, const char **sig)
{
    const char *p = line, *tok;
    int nd = 0, v;

    *size = 0;
    *sig = NULL;
    while ((v = hexval(*p)) >= 0) {
        if (++nd > 15)
            return -1;
        *size = *size << 4 | (uint64_t)v;
        p++;
    }
    if (nd == 0 || (*p != '\0' && *p != ';'))
        return -1;

    /* Extensions: keep the signature, skip the rest. */
    while (*p == ';') {
        tok = ++p;
        p += strcspn(p, ";");
        if (strncmp(tok, "chunk-signature=", 16) == 0)
            *sig = tok + 16;
    }
    return 0;
}

/* A complete chunk header line. */
static int
size_line(struct chunked *c, const struct chunked_ops *ops, void *ctx,
          struct err_detail *d)
{
    char sigbuf[CHUNKED_LINE_MAX + 1];
    const char *sig;
    uint64_t size;
    int rc;

    if (parse_size_line(c->line, &size, &sig) != 0)
        return broken(c, CERR_INVALID_REQUEST, d, "bad chunk header");
    if (sig != NULL) {
        /* The signature ends at the next extension, if any. */
        size_t n = strcspn(sig, ";");

        memcpy(sigbuf, sig, n);
        sigbuf[n] = '\0';
        sig = sigbuf;
    }

    rc = ops->chunk_begin(ctx, size, sig);
    if (rc != 0)
        return stopped(c, rc);
    if (size > 0) {
        c->left = size;
        c->state = CHUNKED_DATA;
        return 0;
    }
    rc = ops->chunk_end(ctx);
    if (rc != 0)
        return stopped(c, rc);
    c->state = CHUNKED_TRAILER;
    return 0;
}

/* Trim blanks from both ends of [s, s+n) in place; returns the start. */
static char *
trim(char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* A complete trailer line; the empty line ends the body. */
static int
trailer_line(struct chunked *c, const struct chunked_ops *ops, void *ctx,
             struct err_detail *d)
{
    char *colon, *name, *value, *p;
    int rc;

    if (c->linelen == 0) {
        c->state = CHUNKED_DONE;
        return 0;
    }
    c->trailer_bytes += c->linelen;
    if (c->trailer_bytes > CHUNKED_TRAILER_MAX)
        return broken(c, CERR_INVALID_REQUEST, d, "trailer too large");
    colon = strchr(c->line, ':');
    if (colon == NULL || colon == c->line)
        return broken(c, CERR_INVALID_REQUEST, d, "bad trailer line");

    *colon = '\0';
    name = trim(c->line, (size_t)(colon - c->line));
    value = trim(colon + 1, c->linelen - (size_t)(colon - c->line) - 1);
    for (p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    rc = ops->trailer(ctx, name, value);
    return rc != 0 ? stopped(c, rc) : 0;
}

/*
 * Add bytes to the current line up to and including LF; *n gets the count
 * used.  1 when the line is complete (CR/LF stripped), 0 when more is
 * needed, -1 when it is too long or holds a NUL.
 */
static int
take_line(struct chunked *c, const uint8_t *p, size_t len, size_t *n)
{
    const uint8_t *nl = memchr(p, '\n', len);
    size_t take = nl ? (size_t)(nl - p) : len;

    *n = nl ? take + 1 : take;
    if (c->linelen + take > CHUNKED_LINE_MAX || memchr(p, '\0', take))
        return -1;
    memcpy(c->line + c->linelen, p, take);
    c->linelen += take;
    c->line[c->linelen] = '\0';
    if (nl == NULL)
        return 0;
    if (c->linelen > 0 && c->line[c->linelen - 1] == '\r')
        c->line[--c->linelen] = '\0';
    return 1;
}

/* Feed a header or trailer line state; returns bytes used or an error. */
static int
feed_line(struct chunked *c, const uint8_t *p, size_t len, size_t *used,
          const struct chunked_ops *ops, void *ctx, struct err_detail *d)
{
    int got = take_line(c, p, len, used), rc;

    if (got < 0)
        return broken(c, CERR_INVALID_REQUEST, d, "line too long");
    if (got == 0)
        return 0;
    if (c->state == CHUNKED_SIZE)
        rc = size_line(c, ops, ctx, d);
    else
        rc = trailer_line(c, ops, ctx, d);
    c->linelen = 0;
    return rc;
}

/* Feed chunk data and the CRLF after it. */
static int
feed_data(struct chunked *c, const uint8_t *p, size_t len, size_t *used,
          const struct chunked_ops *ops, void *ctx, struct err_detail *d)
{
    size_t n;
    int rc;

    switch (c->state) {
    case CHUNKED_DATA:
        n = c->left < len ? (size_t)c->left : len;
        *used = n;
        c->left -= n;
        if (c->left == 0)
            c->state = CHUNKED_DATA_CR;
        rc = ops->data(ctx, p, n);
        return rc != 0 ? stopped(c, rc) : 0;
    case CHUNKED_DATA_CR:
        *used = 1;
        if (*p != '\r')
            return broken(c, CERR_INVALID_REQUEST, d,
                          "chunk data longer than its size");
        c->state = CHUNKED_DATA_LF;
        return 0;
    default:
        *used = 1;
        if (*p != '\n')
            return broken(c, CERR_INVALID_REQUEST, d,
                          "chunk data not followed by CRLF");
        c->state = CHUNKED_SIZE;
        rc = ops->chunk_end(ctx);
        return rc != 0 ? stopped(c, rc) : 0;
    }
}

/* Decode raw bytes; see auth_int.h. */
int
chunked_feed(struct chunked *c, const void *data, size_t len,
             const struct chunked_ops *ops, void *ctx, struct err_detail *d)
{
    const uint8_t *p = data;
    size_t used;
    int rc;

    while (len > 0) {
        switch (c->state) {
        case CHUNKED_FAILED:
            return c->err;
        case CHUNKED_DONE:
            return broken(c, CERR_INVALID_REQUEST, d,
                          "data after the final chunk");
        case CHUNKED_SIZE:
        case CHUNKED_TRAILER:
            rc = feed_line(c, p, len, &used, ops, ctx, d);
            break;
        default:
            rc = feed_data(c, p, len, &used, ops, ctx, d);
            break;
        }
        if (rc != 0)
            return rc;
        p += used;
        len -= used;
    }
    return c->state == CHUNKED_FAILED ? c->err : 0;
}

/* End of input; see auth_int.h. */
int
chunked_finish(struct chunked *c, struct err_detail *d)
{
    if (c->state == CHUNKED_FAILED)
        return c->err;
    if (c->state == CHUNKED_DONE)
        return 0;

    /* Tolerated: the final chunk with no trailer and no closing CRLF. */
    if (c->state == CHUNKED_TRAILER && c->linelen == 0 &&
        c->trailer_bytes == 0)
        return 0;
    return broken(c, CERR_INCOMPLETE_BODY, d, "the body ended early");
}
