/*
 * Time formatting and parsing.  Everything is UTC; timegm() turns broken
 * down UTC time into epoch seconds without touching the TZ setting.
 */
#include "util/timefmt.h"
#include "util/err.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

int64_t
time_now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void
time_http(int64_t ms, char *out)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void
time_iso8601(int64_t ms, char *out)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    size_t n;

    gmtime_r(&t, &tm);
    n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

int
time_parse_amz(const char *s, int64_t *ms)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    if (strlen(s) != 16)
        return CERR_INVALID_ARGUMENT;
    end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
    if (end == NULL || *end != '\0')
        return CERR_INVALID_ARGUMENT;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

int
time_parse_http(const char *s, int64_t *ms)
{
    static const char *forms[] = {
        "%a, %d %b %Y %H:%M:%S GMT",
        "%A, %d-%b-%y %H:%M:%S GMT",
        "%a %b %d %H:%M:%S %Y",
    };
    size_t i;

    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct tm tm;
        const char *end;

        memset(&tm, 0, sizeof(tm));
        end = strptime(s, forms[i], &tm);
        if (end != NULL && *end == '\0') {
            *ms = (int64_t)timegm(&tm) * 1000;
            return 0;
        }
    }
    return CERR_INVALID_ARGUMENT;
}

int
time_parse_iso8601(const char *s, int64_t *ms)
{
    struct tm tm;
    const char *p;
    int64_t frac = 0, off = 0;

    memset(&tm, 0, sizeof(tm));
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL) {
        memset(&tm, 0, sizeof(tm));
        p = strptime(s, "%Y-%m-%d", &tm);
        if (p == NULL || *p != '\0')
            return CERR_INVALID_ARGUMENT;
        *ms = (int64_t)timegm(&tm) * 1000;
        return 0;
    }
    if (*p == '.') {
        int digits = 0;

        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm;

        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return CERR_INVALID_ARGUMENT;
        off = (hh * 60 + mm) * 60 * (*p == '+' ? 1 : -1);
        p += 6;
    }
    if (*p != '\0')
        return CERR_INVALID_ARGUMENT;
    *ms = ((int64_t)timegm(&tm) - off) * 1000 + frac;
    return 0;
}
