/*
 * A request's header fields as the protocol modules see them: names
 * lowercased, repeated fields already joined with "," in arrival order,
 * values as received (not trimmed; SigV4 trims for itself).
 */
#ifndef COFFER_UTIL_HEADERS_H
#define COFFER_UTIL_HEADERS_H

#include <stddef.h>

struct header {
    char *name;
    char *value;
};

struct headers {
    struct header *v;
    size_t n;
    size_t cap;
};

/* The value of `lname` (lowercase), or NULL when absent. */
const char *headers_get(const struct headers *h, const char *lname);

/*
 * Add a field; a name already present gets ",value" appended, as HTTP
 * folds repeated fields.  The name is lowercased.  0 or CERR_NOMEM.
 */
int headers_add(struct headers *h, const char *name, const char *value);

void headers_free(struct headers *h);

#endif
