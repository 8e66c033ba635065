/*
 * Matching helpers for the policy evaluator: the arena the parsed tree
 * lives in, `*`/`?` wildcards, ARN patterns, IP ranges, numbers, dates,
 * and policy variables (policy.md §2, §4, §6).
 *
 * Patterns carry an optional "literal" mask, one byte per pattern byte:
 * where it is set, a `*` or `?` is plain text.  That is how ${*} and
 * substituted values stay literal (a user named "a*" must not become a
 * wildcard).
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/policy_int.h"
#include "util/err.h"

#define ARENA_BLOCK 4096

struct arena_block {
    struct arena_block *next;
    size_t used;
    size_t cap;
    max_align_t data[];
};

/*
 * Allocate `size` zeroed bytes from the arena, aligned for any type.
 * NULL (and the arena marked failed) when out of memory.
 */
void *
arena_alloc(struct arena *a, size_t size)
{
    struct arena_block *b = a->head;
    size_t al = sizeof(max_align_t), cap;
    void *p;

    size = (size + al - 1) / al * al;
    if (b == NULL || b->cap - b->used < size) {
        cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = malloc(sizeof(*b) + cap);
        if (b == NULL) {
            a->failed = true;
            return NULL;
        }
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

/* A NUL-terminated copy of len bytes of s in the arena, or NULL. */
char *
arena_strndup(struct arena *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);

    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* A copy of s in the arena, or NULL. */
char *
arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

/* Release every block of the arena. */
void
arena_free(struct arena *a)
{
    struct arena_block *b, *next;

    for (b = a->head; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}

static bool
wild(const char *pat, const uint8_t *lit, size_t i, char c)
{
    return pat[i] == c && (lit == NULL || lit[i] == 0);
}

static bool
char_eq(char a, char b, bool icase)
{
    if (icase) {
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
    }
    return a == b;
}

/* Length of the UTF-8 character starting at s[i] (at least 1). */
static size_t
utf8_len(const char *s, size_t i, size_t slen)
{
    size_t n = 1;

    while (i + n < slen && ((unsigned char)s[i + n] & 0xC0) == 0x80)
        n++;
    return n;
}

/*
 * Match s against a pattern where `*` is any run of characters and `?`
 * exactly one character (a whole UTF-8 sequence), except where lit marks
 * them literal.  Greedy with one back-tracking point, so linear in
 * practice and never recursive.
 */
bool
policy_glob(const char *pat, const uint8_t *lit, size_t plen,
            const char *s, size_t slen, bool icase)
{
    size_t p = 0, i = 0, star_p = (size_t)-1, star_i = 0;

    while (i < slen) {
        if (p < plen && wild(pat, lit, p, '*')) {
            star_p = p++;
            star_i = i;
        } else if (p < plen && wild(pat, lit, p, '?')) {
            p++;
            i += utf8_len(s, i, slen);
        } else if (p < plen && char_eq(pat[p], s[i], icase)) {
            p++;
            i++;
        } else if (star_p != (size_t)-1) {
            p = star_p + 1;
            i = ++star_i;
        } else {
            return false;
        }
    }
    while (p < plen && wild(pat, lit, p, '*'))
        p++;
    return p == plen;
}

/*
 * Offsets of the five colons that split an ARN into its six parts; false
 * when there are fewer.  Only non-literal colons of a pattern count.
 */
static bool
arn_split(const char *s, const uint8_t *lit, size_t len, size_t cut[5])
{
    size_t i, n = 0;

    for (i = 0; i < len && n < 5; i++)
        if (s[i] == ':' && (lit == NULL || lit[i] == 0))
            cut[n++] = i;
    return n == 5;
}

/*
 * ArnLike/ArnEquals: both sides must have six colon-separated parts, and
 * each part matches its pattern part with wildcards; so a `*` never
 * reaches past a `:` of the first five.  Case-sensitive.
 */
bool
policy_arn_match(const char *pat, const uint8_t *lit, size_t plen,
                 const char *s)
{
    size_t pc[5], sc[5], slen = strlen(s), k, pb = 0, sb = 0, pe, se;

    if (!arn_split(pat, lit, plen, pc) || !arn_split(s, NULL, slen, sc))
        return false;
    for (k = 0; k < 6; k++) {
        pe = k < 5 ? pc[k] : plen;
        se = k < 5 ? sc[k] : slen;
        if (!policy_glob(pat + pb, lit != NULL ? lit + pb : NULL, pe - pb,
                         s + sb, se - sb, false))
            return false;
        pb = pe + 1;
        sb = se + 1;
    }
    return true;
}

/*
 * Parse "ADDR" or "ADDR/BITS" (IPv4 or IPv6).  A bare address is a
 * single host (/32 or /128).  An IPv4-mapped IPv6 address becomes IPv4
 * when bare_is_host is set (request values; policy.md §5).  Returns 0 or
 * CERR_INVALID_ARGUMENT.
 */
int
policy_cidr_parse(const char *s, bool bare_is_host, struct cidr *out)
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0xff, 0xff };
    char tmp[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    char *end;
    long bits;

    if (alen == 0 || alen >= sizeof(tmp))
        return CERR_INVALID_ARGUMENT;
    memcpy(tmp, s, alen);
    tmp[alen] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, tmp, out->addr) == 1)
        out->family = 4;
    else if (inet_pton(AF_INET6, tmp, out->addr) == 1)
        out->family = 6;
    else
        return CERR_INVALID_ARGUMENT;

    if (out->family == 6 && bare_is_host && slash == NULL &&
        memcmp(out->addr, mapped, 12) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = 4;
    }

    out->prefix = out->family == 4 ? 32 : 128;
    if (slash == NULL)
        return 0;
    if (slash[1] < '0' || slash[1] > '9')
        return CERR_INVALID_ARGUMENT;
    bits = strtol(slash + 1, &end, 10);
    if (*end != '\0' || bits > out->prefix)
        return CERR_INVALID_ARGUMENT;
    out->prefix = (int)bits;
    return 0;
}

/* Is the address `ip` inside `net`?  Families never mix. */
bool
policy_cidr_contains(const struct cidr *net, const struct cidr *ip)
{
    int full = net->prefix / 8, rest = net->prefix % 8;
    uint8_t mask;

    if (net->family != ip->family)
        return false;
    if (memcmp(net->addr, ip->addr, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    mask = (uint8_t)(0xFF << (8 - rest));
    return (net->addr[full] & mask) == (ip->addr[full] & mask);
}

/*
 * Parse a decimal number: optional sign, digits, optional fraction and
 * exponent; nothing else (no hex, no "inf").  0 or CERR_INVALID_ARGUMENT.
 */
int
policy_number_parse(const char *s, double *out)
{
    const char *p = s;
    char *end;
    int digits = 0;

    if (*p == '-' || *p == '+')
        p++;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits++;
    if (digits == 0)
        return CERR_INVALID_ARGUMENT;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (*p < '0' || *p > '9')
            return CERR_INVALID_ARGUMENT;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p != '\0')
        return CERR_INVALID_ARGUMENT;
    *out = strtod(s, &end);
    return isfinite(*out) ? 0 : CERR_INVALID_ARGUMENT;
}

/* Read exactly n digits at *p into *v; advance *p.  False if not digits. */
static bool
digits(const char **p, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return true;
}

/* The time part "hh:mm[:ss[.fff]]" into tm; the fraction into *frac. */
static bool
date_time(const char **p, struct tm *tm, double *frac)
{
    double scale = 0.1;

    if (!digits(p, 2, &tm->tm_hour) || *(*p)++ != ':' ||
        !digits(p, 2, &tm->tm_min))
        return false;
    if (**p == ':') {
        (*p)++;
        if (!digits(p, 2, &tm->tm_sec))
            return false;
        if (**p == '.') {
            if ((*p)[1] < '0' || (*p)[1] > '9')
                return false;
            for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, scale /= 10)
                *frac += (**p - '0') * scale;
        }
    }
    return tm->tm_hour < 24 && tm->tm_min < 60 && tm->tm_sec <= 60;
}

/* The zone designator "Z", "+hh:mm" or "-hh:mm" (or none: UTC). */
static bool
date_zone(const char **p, long *off)
{
    int hh, mm, sign;

    *off = 0;
    if (**p == '\0')
        return true;
    if (**p == 'Z')
        return *++(*p) == '\0';
    if (**p != '+' && **p != '-')
        return false;
    sign = **p == '+' ? 1 : -1;
    (*p)++;
    if (!digits(p, 2, &hh) || *(*p)++ != ':' || !digits(p, 2, &mm))
        return false;
    *off = sign * (hh * 3600L + mm * 60L);
    return **p == '\0' && hh < 24 && mm < 60;
}

/*
 * Parse a Date condition value: epoch seconds (all digits) or an ISO 8601
 * date in one of the W3C profiles YYYY-MM, YYYY-MM-DD or
 * YYYY-MM-DDThh:mm[:ss[.s]]TZD (no zone means UTC).  A bare "2027" is
 * epoch seconds, not a year: the two readings collide and aws:EpochTime
 * values are all digits.  Stores seconds since the epoch.  0 or
 * CERR_INVALID_ARGUMENT.
 */
int
policy_date_parse(const char *s, double *out)
{
    struct tm tm;
    const char *p = s;
    double frac = 0;
    long off = 0;

    if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s))
        return policy_number_parse(s, out);

    memset(&tm, 0, sizeof(tm));
    tm.tm_mon = 1;
    tm.tm_mday = 1;
    if (!digits(&p, 4, &tm.tm_year) || *p++ != '-' ||
        !digits(&p, 2, &tm.tm_mon))
        return CERR_INVALID_ARGUMENT;
    if (*p == '-') {
        p++;
        if (!digits(&p, 2, &tm.tm_mday))
            return CERR_INVALID_ARGUMENT;
        if (*p == 'T' && (p++, !date_time(&p, &tm, &frac) ||
                          !date_zone(&p, &off)))
            return CERR_INVALID_ARGUMENT;
    }
    if (*p != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > 31)
        return CERR_INVALID_ARGUMENT;

    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (double)timegm(&tm) - (double)off + frac;
    return 0;
}
