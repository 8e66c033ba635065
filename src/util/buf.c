/*
 * Growable buffers.  Growth doubles, so appending n bytes costs O(n).
 */
#include "util/buf.h"
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b)
{
    memset(b, 0, sizeof(*b));
}

void
buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

int
buf_reserve(struct buf *b, size_t more)
{
    size_t need, cap;
    char *p;

    if (b->failed)
        return CERR_NOMEM;
    need = b->len + more + 1;
    if (need < b->len) {
        b->failed = true;
        return CERR_NOMEM;
    }
    if (need <= b->cap)
        return 0;

    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return CERR_NOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void
buf_append(struct buf *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) != 0)
        return;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void
buf_putc(struct buf *b, char c)
{
    buf_append(b, &c, 1);
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != 0)
        return;

    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
buf_put_xml(struct buf *b, const char *s)
{
    const char *run = s;

    for (; *s; s++) {
        const char *rep;

        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        case '\r': rep = "&#13;"; break;
        default: continue;
        }
        buf_append(b, run, (size_t)(s - run));
        buf_puts(b, rep);
        run = s + 1;
    }
    buf_append(b, run, (size_t)(s - run));
}

void
buf_put_xml_elem(struct buf *b, const char *tag, const char *text)
{
    buf_printf(b, "<%s>", tag);
    buf_put_xml(b, text);
    buf_printf(b, "</%s>", tag);
}

void
buf_put_json_str(struct buf *b, const char *s)
{
    const char *run = s;
    unsigned char ch;

    /* Runs that need no escape go in one copy each: KMS replies are
     * mostly long base64 members, and a character at a time was most of
     * their cost. */
    buf_putc(b, '"');
    for (;; s++) {
        ch = (unsigned char)*s;
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        buf_append(b, run, (size_t)(s - run));
        if (ch == '\0')
            break;
        switch (ch) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        default: buf_printf(b, "\\u%04x", ch);
        }
        run = s + 1;
    }
    buf_putc(b, '"');
}

bool
buf_failed(const struct buf *b)
{
    return b->failed;
}

char *
buf_steal(struct buf *b, size_t *len)
{
    char *p;

    if (b->data == NULL && buf_reserve(b, 0) != 0)
        return NULL;
    p = b->data;
    if (len)
        *len = b->len;
    buf_init(b);
    return p;
}
