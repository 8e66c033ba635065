/*
 * The time formats on the wire: RFC 1123 for HTTP headers, ISO 8601 with
 * milliseconds for S3 XML, the SigV4 basic form, epoch seconds for KMS.
 */
#ifndef COFFER_UTIL_TIMEFMT_H
#define COFFER_UTIL_TIMEFMT_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since the epoch, wall clock. */
int64_t time_now_ms(void);

/* "Fri, 04 Dec 2026 15:14:58 GMT"; out holds at least 32 bytes. */
void time_http(int64_t ms, char *out);

/* "2026-12-04T15:14:58.123Z"; out holds at least 32 bytes. */
void time_iso8601(int64_t ms, char *out);

/* Parse "20261204T151458Z"; 0 or CERR_INVALID_ARGUMENT. */
int time_parse_amz(const char *s, int64_t *ms);

/* Parse an RFC 1123 (or RFC 850 / asctime) HTTP date. */
int time_parse_http(const char *s, int64_t *ms);

/* Parse ISO 8601 "2026-12-04T15:14:58Z" with optional fraction/offset. */
int time_parse_iso8601(const char *s, int64_t *ms);

#endif
