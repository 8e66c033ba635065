/*
 * coffer's one error vocabulary.
 *
 * Every function that can fail returns 0 or a negative enum coffer_err.
 * One table (err.c) maps each code to what the wire needs: the S3 error
 * code and HTTP status, and the KMS JSON `__type` and status.  Handlers
 * return codes; only the reply writers in http/ format them.
 *
 * Where a reply needs more than the code (a message with values, an
 * ArgumentName), the failing function fills a struct err_detail that its
 * caller passed in.  A NULL detail pointer is always allowed.
 */
#ifndef COFFER_UTIL_ERR_H
#define COFFER_UTIL_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum coffer_err {
    CERR_OK = 0,

    /* Server side. */
    CERR_NOMEM = -1,
    CERR_IO = -2,
    CERR_INTERNAL = -3,
    CERR_CORRUPT = -4,          /* stored data failed authentication */
    CERR_BUSY = -5,             /* transient: retry */

    /* Authentication. */
    CERR_ACCESS_DENIED = -20,
    CERR_INVALID_ACCESS_KEY = -21,
    CERR_SIGNATURE_MISMATCH = -22,
    CERR_AUTH_HEADER_MALFORMED = -23,
    CERR_MISSING_AUTH = -24,    /* no credentials at all (KMS) */
    CERR_INCOMPLETE_SIGNATURE = -25,
    CERR_TIME_SKEWED = -26,
    CERR_REQUEST_EXPIRED = -27, /* presigned URL past its expiry */
    CERR_AUTH_QUERY_ERROR = -28,
    CERR_SHA256_MISMATCH = -29,

    /* Request validation. */
    CERR_INVALID_ARGUMENT = -40,
    CERR_INVALID_REQUEST = -41,
    CERR_BAD_DIGEST = -42,
    CERR_INVALID_DIGEST = -43,
    CERR_INCOMPLETE_BODY = -44,
    CERR_MALFORMED_XML = -45,
    CERR_MALFORMED_POLICY = -46,
    CERR_MISSING_CONTENT_LENGTH = -47,
    CERR_ENTITY_TOO_LARGE = -48,
    CERR_ENTITY_TOO_SMALL = -49,
    CERR_KEY_TOO_LONG = -50,
    CERR_METADATA_TOO_LARGE = -51,
    CERR_INVALID_RANGE = -52,
    CERR_PRECONDITION_FAILED = -53,
    CERR_NOT_MODIFIED = -54,
    CERR_NOT_IMPLEMENTED = -55,
    CERR_METHOD_NOT_ALLOWED = -56,
    CERR_MISSING_BODY = -57,
    CERR_INVALID_BUCKET_NAME = -58,
    CERR_INVALID_PART = -59,
    CERR_INVALID_PART_ORDER = -60,
    CERR_ILLEGAL_LOCATION = -61,
    CERR_INVALID_LOCATION = -62,
    CERR_INVALID_ENC_ALGORITHM = -63,
    CERR_INVALID_TAG = -64,
    CERR_TOO_LARGE_BODY = -65,  /* an XML/JSON request body over our cap */
    CERR_INVALID_PART_NUMBER = -66, /* GET ?partNumber past the parts */
    CERR_INVALID_URI = -67,     /* a path that is no valid escaped UTF-8 */
    CERR_INVALID_STORAGE_CLASS = -68,
    CERR_ACL_NOT_SUPPORTED = -69,

    /* S3 resources. */
    CERR_NO_SUCH_BUCKET = -80,
    CERR_NO_SUCH_KEY = -81,
    CERR_NO_SUCH_UPLOAD = -82,
    CERR_NO_SUCH_POLICY = -83,
    CERR_NO_SUCH_TAGSET = -84,
    CERR_NO_SUCH_PAB = -85,
    CERR_BUCKET_EXISTS = -86,
    CERR_BUCKET_OWNED = -87,
    CERR_BUCKET_NOT_EMPTY = -88,

    /* IAM users and keys (coffer admin). */
    CERR_IAM_NO_SUCH_ENTITY = -140,
    CERR_IAM_ENTITY_EXISTS = -141,
    CERR_IAM_DELETE_CONFLICT = -142,
    CERR_IAM_LIMIT_EXCEEDED = -143,

    /* KMS.  Through S3 these become "KMS.<type>" codes. */
    CERR_KMS_NOT_FOUND = -100,
    CERR_KMS_DISABLED = -101,
    CERR_KMS_INVALID_STATE = -102,
    CERR_KMS_INVALID_CIPHERTEXT = -103,
    CERR_KMS_INCORRECT_KEY = -104,
    CERR_KMS_VALIDATION = -105,
    CERR_KMS_ALREADY_EXISTS = -106,
    CERR_KMS_INVALID_ALIAS = -107,
    CERR_KMS_NOT_AUTHORIZED = -108,
    CERR_KMS_TAG = -109,
    CERR_KMS_UNSUPPORTED = -110,
    CERR_KMS_ACCESS_DENIED = -111,
    CERR_KMS_SERIALIZATION = -112,
    CERR_KMS_UNKNOWN_OPERATION = -113,
    CERR_KMS_MALFORMED_POLICY = -114,
    CERR_KMS_LIMIT = -115,
    CERR_KMS_INVALID_MARKER = -116,
    CERR_KMS_INVALID_GRANT_ID = -117,
    CERR_KMS_INVALID_GRANT_TOKEN = -118,
    CERR_KMS_INVALID_KEY_USAGE = -119,
    CERR_KMS_UNRECOGNIZED_CLIENT = -120,
    CERR_KMS_INVALID_SIGNATURE = -121,
    CERR_KMS_CONFLICT = -122,
    CERR_KMS_INTERNAL = -123,
};

/* What the wire needs to know about one code. */
struct err_info {
    int code;
    const char *s3_code;        /* S3 <Code>, NULL if never sent by S3 */
    int s3_status;
    const char *kms_type;       /* KMS __type, NULL if never sent by KMS */
    int kms_status;
    const char *message;        /* default message, AWS wording */
};

/*
 * Extra context for one error.  `message` overrides the table's default
 * text; the rest become optional children of the S3 <Error> document.
 */
struct err_detail {
    char message[512];
    char arg_name[64];
    char arg_value[256];
    char key[1100];             /* <Key> */
    char bucket[64];            /* <BucketName> */
    char upload_id[128];        /* <UploadId> */
    char condition[64];         /* <Condition> */
};

/* The table entry for `code`; never NULL (unknown codes map to Internal). */
const struct err_info *err_lookup(int code);

/* A short, stable name for logs ("NoSuchKey", "KMS.DisabledException"). */
const char *err_name(int code);

/*
 * Fill detail->message with printf-style text and return `code`, so a
 * failure reads `return err_set(d, CERR_INVALID_ARGUMENT, "...", ...)`.
 * Does nothing but return `code` when `d` is NULL.
 */
int err_set(struct err_detail *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Set the InvalidArgument name/value pair (either may be NULL). */
void err_set_argument(struct err_detail *d, const char *name,
                      const char *value);

/* Reset a detail to "nothing known". */
void err_clear(struct err_detail *d);

#endif
