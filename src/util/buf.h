/*
 * A growable byte buffer, the one way coffer builds text and bodies in
 * memory.  The data is always NUL-terminated (not counted in len), so a
 * buffer of text can be handed to string functions directly.
 *
 * Allocation failure is sticky: after one, every append is a no-op and
 * buf_failed() is true, so a writer can append freely and check once.
 */
#ifndef COFFER_UTIL_BUF_H
#define COFFER_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

#define BUF_INIT { NULL, 0, 0, false }

void buf_init(struct buf *b);
void buf_free(struct buf *b);

/* Forget the contents, keep the allocation. */
void buf_reset(struct buf *b);

/* Make room for `more` bytes; 0 or CERR_NOMEM. */
int buf_reserve(struct buf *b, size_t more);

void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append `s` with XML's five special characters escaped. */
void buf_put_xml(struct buf *b, const char *s);

/* Append <tag>escaped text</tag>. */
void buf_put_xml_elem(struct buf *b, const char *tag, const char *text);

/* Append `s` as a JSON string literal, quotes included. */
void buf_put_json_str(struct buf *b, const char *s);

bool buf_failed(const struct buf *b);

/* Hand the data to the caller (who frees it) and reset the buffer. */
char *buf_steal(struct buf *b, size_t *len);

#endif
