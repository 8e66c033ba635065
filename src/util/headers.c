/*
 * Header lists.  Requests carry a few dozen fields, so a linear scan is
 * faster than any index would be.
 */
#include "util/headers.h"
#include "util/err.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const char *
headers_get(const struct headers *h, const char *lname)
{
    size_t i;

    for (i = 0; i < h->n; i++)
        if (strcmp(h->v[i].name, lname) == 0)
            return h->v[i].value;
    return NULL;
}

static int
join(struct header *f, const char *value)
{
    size_t a = strlen(f->value), b = strlen(value);
    char *p = realloc(f->value, a + b + 2);

    if (p == NULL)
        return CERR_NOMEM;
    p[a] = ',';
    memcpy(p + a + 1, value, b + 1);
    f->value = p;
    return 0;
}

int
headers_add(struct headers *h, const char *name, const char *value)
{
    struct header *f;
    size_t i;
    char *lname = strdup(name);

    if (lname == NULL)
        return CERR_NOMEM;
    for (i = 0; lname[i]; i++)
        lname[i] = (char)tolower((unsigned char)lname[i]);

    for (i = 0; i < h->n; i++) {
        if (strcmp(h->v[i].name, lname) == 0) {
            free(lname);
            return join(&h->v[i], value);
        }
    }

    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 32;

        f = realloc(h->v, cap * sizeof(*f));
        if (f == NULL) {
            free(lname);
            return CERR_NOMEM;
        }
        h->v = f;
        h->cap = cap;
    }
    f = &h->v[h->n];
    f->name = lname;
    f->value = strdup(value);
    if (f->value == NULL) {
        free(lname);
        return CERR_NOMEM;
    }
    h->n++;
    return 0;
}

void
headers_free(struct headers *h)
{
    size_t i;

    for (i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].value);
    }
    free(h->v);
    memset(h, 0, sizeof(*h));
}
