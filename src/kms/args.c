/*
 * Request members and response members of the JSON 1.1 API.
 *
 * Readers check the JSON type (a wrong type is SerializationException, as
 * AWS's JSON protocol answers) and then the model's constraints (a failed
 * one is ValidationException worded the AWS way: "1 validation error
 * detected: Value '2048' at 'numberOfBytes' failed to satisfy constraint:
 * Member must have value less than or equal to 1024").  Unknown members
 * are ignored.  Writers add members to the response object; timestamps are
 * epoch seconds with milliseconds.
 */
#include "kms/kms_int.h"
#include "crypto/crypto.h"
#include "util/codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VE "1 validation error detected: "

/* Set a ValidationException with printf text; returns the code. */
int
kms_validation(struct err_detail *d, const char *fmt, ...)
{
    va_list ap;

    if (d != NULL) {
        va_start(ap, fmt);
        vsnprintf(d->message, sizeof(d->message), fmt, ap);
        va_end(ap);
    }
    return CERR_KMS_VALIDATION;
}

static int
missing(struct kms_req *r, const char *wire)
{
    return kms_validation(r->d, VE "Value null at '%s' failed to satisfy "
                          "constraint: Member must not be null", wire);
}

static int
wrong_type(struct kms_req *r, const char *name, const char *want)
{
    return err_set(r->d, CERR_KMS_SERIALIZATION, "Member %s must be %s",
                   name, want);
}

/* Characters (code points) of a UTF-8 string, as the model counts. */
static size_t
chars(const char *s, size_t bytes)
{
    size_t i, n = 0;

    for (i = 0; i < bytes; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            n++;
    return n;
}

/* Look up member name; NULL when absent or JSON null. */
static json_t *
member(struct kms_req *r, const char *name)
{
    json_t *v = r->in != NULL ? json_object_get(r->in, name) : NULL;

    return v != NULL && !json_is_null(v) ? v : NULL;
}

/*
 * A string member with a length of min..max characters.  *out points into
 * the request (valid while it lives).  0 or CERR_KMS_*.
 */
int
kms_arg_str(struct kms_req *r, const char *name, const char *wire,
            bool required, size_t min, size_t max, const char **out)
{
    json_t *v = member(r, name);
    size_t n;

    if (v == NULL)
        return required ? missing(r, wire) : 0;
    if (!json_is_string(v))
        return wrong_type(r, name, "a string");

    n = chars(json_string_value(v), json_string_length(v));
    if (n < min)
        return kms_validation(r->d, VE "Value '%s' at '%s' failed to "
                              "satisfy constraint: Member must have length "
                              "greater than or equal to %zu",
                              json_string_value(v), wire, min);
    if (n > max)
        return kms_validation(r->d, VE "Value '%.64s...' at '%s' failed "
                              "to satisfy constraint: Member must have "
                              "length less than or equal to %zu",
                              json_string_value(v), wire, max);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return kms_validation(r->d, VE "Value at '%s' failed to satisfy "
                              "constraint: Member must not contain NUL",
                              wire);
    *out = json_string_value(v);
    return 0;
}

/* An integer member in min..max.  0 or CERR_KMS_*. */
int
kms_arg_int(struct kms_req *r, const char *name, const char *wire,
            bool required, int64_t min, int64_t max, int64_t *out,
            bool *present)
{
    json_t *v = member(r, name);
    json_int_t n;

    if (present != NULL)
        *present = v != NULL;
    if (v == NULL)
        return required ? missing(r, wire) : 0;
    if (!json_is_integer(v))
        return wrong_type(r, name, "an integer");

    n = json_integer_value(v);
    if (n < min)
        return kms_validation(r->d, VE "Value '%lld' at '%s' failed to "
                              "satisfy constraint: Member must have value "
                              "greater than or equal to %lld", (long long)n,
                              wire, (long long)min);
    if (n > max)
        return kms_validation(r->d, VE "Value '%lld' at '%s' failed to "
                              "satisfy constraint: Member must have value "
                              "less than or equal to %lld", (long long)n,
                              wire, (long long)max);
    *out = n;
    return 0;
}

/* A boolean member; absent leaves *out alone.  0 or SerializationException. */
int
kms_arg_bool(struct kms_req *r, const char *name, bool *out)
{
    json_t *v = member(r, name);

    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return wrong_type(r, name, "a boolean");
    *out = json_is_true(v);
    return 0;
}

/*
 * A base64 blob member decoded into out, between min and max bytes once
 * decoded.  out must hold max + 2 bytes: the decoder writes whole groups
 * of three, padding included.  Sensitive: messages never show the value.
 */
int
kms_arg_blob(struct kms_req *r, const char *name, const char *wire,
             bool required, size_t min, size_t max, uint8_t *out,
             size_t *len, bool *present)
{
    json_t *v = member(r, name);
    const char *text;
    size_t n, tl;

    if (present != NULL)
        *present = v != NULL;
    if (v == NULL)
        return required ? missing(r, wire) : 0;
    if (!json_is_string(v))
        return wrong_type(r, name, "a base64 string");

    /* The decoded length, known before decoding: 3/4 less padding. */
    text = json_string_value(v);
    tl = json_string_length(v);
    n = tl / 4 * 3;
    if (tl >= 4)
        n -= (text[tl - 1] == '=') + (text[tl - 2] == '=');
    if (n > max)
        return kms_validation(r->d, VE "Value at '%s' failed to satisfy "
                              "constraint: Member must have length less "
                              "than or equal to %zu", wire, max);
    if (base64_decode(text, tl, out, max + 2, &n) != 0)
        return err_set(r->d, CERR_KMS_SERIALIZATION, "Member %s is not "
                       "valid base64", name);
    if (n < min) {
        crypto_wipe(out, n);
        return kms_validation(r->d, VE "Value at '%s' failed to satisfy "
                              "constraint: Member must have length greater "
                              "than or equal to %zu", wire, min);
    }
    *len = n;
    return 0;
}

/*
 * Check that ctx is a map of string to string.  0 or
 * CERR_KMS_SERIALIZATION naming `wire`.
 */
int
kms_check_context(const json_t *ctx, struct err_detail *d, const char *wire)
{
    const char *key;
    json_t *val;

    if (ctx == NULL)
        return 0;
    if (!json_is_object(ctx))
        return err_set(d, CERR_KMS_SERIALIZATION, "Member %s must be a map "
                       "of strings", wire);
    json_object_foreach((json_t *)ctx, key, val) {
        if (!json_is_string(val) ||
            strlen(json_string_value(val)) != json_string_length(val))
            return err_set(d, CERR_KMS_SERIALIZATION, "Member %s must be a "
                           "map of strings", wire);
    }
    return 0;
}

/* An encryption context member (absent: *out = NULL). */
int
kms_arg_context(struct kms_req *r, const char *name, const char *wire,
                const json_t **out)
{
    json_t *v = member(r, name);
    int rc;

    *out = NULL;
    if (v == NULL)
        return 0;
    rc = kms_check_context(v, r->d, name);
    if (rc == 0)
        *out = v;
    return rc;
}

/*
 * A string member that must be one of values (NULL-terminated list).  The
 * message lists the set as AWS does.  Absent leaves *out alone.
 */
int
kms_arg_enum(struct kms_req *r, const char *name, const char *wire,
             const char *const *values, const char **out)
{
    struct buf set = BUF_INIT;
    const char *s = NULL;
    size_t i;
    int rc;

    rc = kms_arg_str(r, name, wire, false, 0, 1024, &s);
    if (rc != 0 || s == NULL)
        return rc;
    for (i = 0; values[i] != NULL; i++) {
        if (strcmp(s, values[i]) == 0) {
            *out = values[i];
            return 0;
        }
    }
    for (i = 0; values[i] != NULL; i++) {
        buf_puts(&set, i > 0 ? ", " : "");
        buf_puts(&set, values[i]);
    }
    rc = kms_validation(r->d, VE "Value '%.64s' at '%s' failed to satisfy "
                        "constraint: Member must satisfy enum value set: "
                        "[%s]", s, wire, set.data ? set.data : "");
    buf_free(&set);
    return rc;
}

/* The Limit member of a listing: 1..max, dflt when absent. */
int
kms_arg_limit(struct kms_req *r, int64_t max, int64_t dflt, int64_t *out)
{
    *out = dflt;
    return kms_arg_int(r, "Limit", "limit", false, 1, max, out, NULL);
}

/* ---- Response members --------------------------------------------------- */

/* Add `name`: epoch seconds, milliseconds as the fraction.  0/CERR_NOMEM. */
int
kms_json_time(json_t *obj, const char *name, int64_t ms)
{
    return json_object_set_new(obj, name, json_real((double)ms / 1000.0))
           == 0 ? 0 : CERR_NOMEM;
}

/* Add a string member.  0 or CERR_NOMEM. */
int
kms_json_str(json_t *obj, const char *name, const char *s)
{
    return json_object_set_new(obj, name, json_string(s)) == 0 ? 0
                                                              : CERR_NOMEM;
}

/* Add len bytes as a base64 string member.  0 or CERR_NOMEM. */
int
kms_json_b64(json_t *obj, const char *name, const void *p, size_t len)
{
    char *text;
    int rc;

    text = malloc(base64_encoded_len(len) + 1);
    if (text == NULL)
        return CERR_NOMEM;
    base64_encode(p, len, text);
    rc = kms_json_str(obj, name, text);
    crypto_wipe(text, strlen(text));
    free(text);
    return rc;
}
