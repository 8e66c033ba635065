/*
 * Policy variables (policy.md §6): splitting a string element around its
 * ${...} references at parse time, and substituting the request's values
 * at evaluation time.
 *
 * Forms: ${key} takes the context value of `key` (name case-insensitive);
 * ${key, 'text'} falls back to `text` when the key is absent; ${*}, ${?}
 * and ${$} are a literal `*`, `?` and `$`.  Substituted text is always
 * literal, never a wildcard.  Anything that is not one of these forms
 * (no closing brace, an unquoted default) stays plain text.
 */
#include <string.h>

#include "policy/policy_int.h"
#include "util/err.h"

static bool
is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Trim blanks around [*s, *s + *n). */
static void
trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1]))
        (*n)--;
}

/*
 * Read the inside of one ${...} (without the braces) into seg.  False
 * when it is not a variable reference, so the text stays literal.
 */
static bool
parse_ref(struct arena *a, const char *in, size_t n, struct seg *seg)
{
    const char *comma = memchr(in, ',', n), *d;
    size_t nlen = comma != NULL ? (size_t)(comma - in) : n, dlen;

    trim(&in, &nlen);
    if (nlen == 1 && comma == NULL && strchr("*?$", in[0]) != NULL) {
        seg->kind = SEG_QUOTED;
        seg->text = in;
        seg->len = 1;
        return true;
    }
    if (nlen == 0 || memchr(in, ' ', nlen) != NULL || memchr(in, ':',
            nlen) == NULL)
        return false;
    seg->kind = SEG_VAR;
    seg->text = arena_strndup(a, in, nlen);
    seg->len = nlen;
    if (comma == NULL)
        return seg->text != NULL;

    d = comma + 1;
    dlen = n - (size_t)(d - in);
    trim(&d, &dlen);
    if (dlen < 2 || d[0] != '\'' || d[dlen - 1] != '\'')
        return false;
    seg->dflt = arena_strndup(a, d + 1, dlen - 2);
    return seg->text != NULL && seg->dflt != NULL;
}

static void
add_text(struct seg *segs, size_t *n, const char *s, size_t len)
{
    if (len == 0)
        return;
    if (*n > 0 && segs[*n - 1].kind == SEG_TEXT &&
        segs[*n - 1].text + segs[*n - 1].len == s) {
        segs[*n - 1].len += len;
        return;
    }
    segs[*n].kind = SEG_TEXT;
    segs[*n].text = s;
    segs[*n].len = len;
    (*n)++;
}

/*
 * Split `raw` (an arena string) into segments, looking for variables only
 * at or after byte `from` (a Resource's variables live after its fifth
 * colon).  With no variable, out->segs stays NULL.  0 or CERR_NOMEM.
 */
int
policy_pattern_split(struct arena *a, const char *raw, size_t from,
                     struct pattern *out)
{
    size_t len = strlen(raw), max = 1, n = 0, i;
    const char *p, *close;
    struct seg *segs;

    out->raw = raw;
    out->segs = NULL;
    out->nsegs = 0;
    if (from > len || strstr(raw + from, "${") == NULL)
        return 0;
    for (p = raw + from; (p = strstr(p, "${")) != NULL; p += 2)
        max += 2;
    segs = arena_alloc(a, max * sizeof(*segs));
    if (segs == NULL)
        return CERR_NOMEM;

    add_text(segs, &n, raw, from);
    for (i = from; i < len; ) {
        close = raw[i] == '$' && raw[i + 1] == '{' ?
            strchr(raw + i + 2, '}') : NULL;
        if (close != NULL && parse_ref(a, raw + i + 2,
                (size_t)(close - raw) - i - 2, &segs[n])) {
            n++;
            i = (size_t)(close - raw) + 1;
            continue;
        }
        if (a->failed)
            return CERR_NOMEM;
        add_text(segs, &n, raw + i, 1);
        i++;
    }
    for (i = 0; i < n && segs[i].kind == SEG_TEXT; i++)
        ;
    if (i < n) {
        out->segs = segs;
        out->nsegs = n;
    }
    return 0;
}

/* Append len bytes of s to text, with the same number of mask bytes. */
static void
put(struct buf *text, struct buf *lit, const char *s, size_t len,
    uint8_t literal)
{
    size_t i;

    buf_append(text, s, len);
    if (lit == NULL)
        return;
    for (i = 0; i < len; i++)
        buf_putc(lit, (char)literal);
}

/*
 * Build the text of pattern p for one request into `text` (and the
 * literal mask into `lit`, when not NULL).  Returns 0, 1 when a variable
 * has no value and no default (the element then matches nothing), or
 * CERR_NOMEM.
 */
int
policy_pattern_expand(const struct pattern *p, const struct eval_state *e,
                      struct buf *text, struct buf *lit)
{
    const struct seg *s;
    const char *v;
    size_t i;

    for (i = 0; i < p->nsegs; i++) {
        s = &p->segs[i];
        if (s->kind != SEG_VAR) {
            put(text, lit, s->text, s->len, s->kind == SEG_QUOTED);
            continue;
        }
        v = policy_var_value(e, s->text, s->len);
        if (v == NULL)
            v = s->dflt;
        if (v == NULL)
            return 1;
        put(text, lit, v, strlen(v), 1);
    }
    if (buf_failed(text) || (lit != NULL && buf_failed(lit)))
        return CERR_NOMEM;
    return 0;
}
