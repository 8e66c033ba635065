/*
 * The error table: one row per enum coffer_err, read by the S3 and KMS
 * reply writers.  Codes and statuses follow the botocore error tables and
 * the specs in shared/spec; messages use AWS's wording where it is known.
 */
#include "util/err.h"

#include <stdio.h>
#include <string.h>

static const struct err_info table[] = {
    { CERR_NOMEM, "InternalError", 500, "KMSInternalException", 500,
      "We encountered an internal error. Please try again." },
    { CERR_IO, "InternalError", 500, "KMSInternalException", 500,
      "We encountered an internal error. Please try again." },
    { CERR_INTERNAL, "InternalError", 500, "KMSInternalException", 500,
      "We encountered an internal error. Please try again." },
    { CERR_CORRUPT, "InternalError", 500, "KMSInternalException", 500,
      "The stored data failed its integrity check." },
    { CERR_BUSY, "SlowDown", 503, "ThrottlingException", 400,
      "Please reduce your request rate." },

    { CERR_ACCESS_DENIED, "AccessDenied", 403, "AccessDeniedException", 400,
      "Access Denied" },
    { CERR_INVALID_ACCESS_KEY, "InvalidAccessKeyId", 403,
      "UnrecognizedClientException", 400,
      "The AWS Access Key Id you provided does not exist in our records." },
    { CERR_SIGNATURE_MISMATCH, "SignatureDoesNotMatch", 403,
      "InvalidSignatureException", 400,
      "The request signature we calculated does not match the signature "
      "you provided. Check your key and signing method." },
    { CERR_AUTH_HEADER_MALFORMED, "AuthorizationHeaderMalformed", 400,
      "IncompleteSignatureException", 400,
      "The authorization header is malformed." },
    { CERR_MISSING_AUTH, "AccessDenied", 403,
      "MissingAuthenticationTokenException", 400,
      "Missing Authentication Token" },
    { CERR_INCOMPLETE_SIGNATURE, "AuthorizationHeaderMalformed", 400,
      "IncompleteSignatureException", 400,
      "The request signature does not conform to AWS standards." },
    { CERR_TIME_SKEWED, "RequestTimeTooSkewed", 403,
      "InvalidSignatureException", 400,
      "The difference between the request time and the current time is "
      "too large." },
    { CERR_REQUEST_EXPIRED, "AccessDenied", 403,
      "InvalidSignatureException", 400, "Request has expired" },
    { CERR_AUTH_QUERY_ERROR, "AuthorizationQueryParametersError", 400,
      "IncompleteSignatureException", 400,
      "Query-string authentication parameters are malformed." },
    { CERR_SHA256_MISMATCH, "XAmzContentSHA256Mismatch", 400,
      "InvalidSignatureException", 400,
      "The provided 'x-amz-content-sha256' header does not match what "
      "was computed." },

    { CERR_INVALID_ARGUMENT, "InvalidArgument", 400,
      "ValidationException", 400, "Invalid Argument" },
    { CERR_INVALID_REQUEST, "InvalidRequest", 400,
      "ValidationException", 400, "Invalid Request" },
    { CERR_BAD_DIGEST, "BadDigest", 400, "ValidationException", 400,
      "The Content-MD5 or checksum you specified did not match what we "
      "received." },
    { CERR_INVALID_DIGEST, "InvalidDigest", 400, "ValidationException", 400,
      "The Content-MD5 you specified is not valid." },
    { CERR_INCOMPLETE_BODY, "IncompleteBody", 400,
      "SerializationException", 400,
      "You did not provide the number of bytes specified by the "
      "Content-Length HTTP header." },
    { CERR_MALFORMED_XML, "MalformedXML", 400, NULL, 400,
      "The XML you provided was not well-formed or did not validate "
      "against our published schema." },
    { CERR_MALFORMED_POLICY, "MalformedPolicy", 400,
      "MalformedPolicyDocumentException", 400, "Policy is malformed" },
    { CERR_MISSING_CONTENT_LENGTH, "MissingContentLength", 411, NULL, 400,
      "You must provide the Content-Length HTTP header." },
    { CERR_ENTITY_TOO_LARGE, "EntityTooLarge", 400, NULL, 400,
      "Your proposed upload exceeds the maximum allowed object size." },
    { CERR_ENTITY_TOO_SMALL, "EntityTooSmall", 400, NULL, 400,
      "Your proposed upload is smaller than the minimum allowed object "
      "size." },
    { CERR_KEY_TOO_LONG, "KeyTooLongError", 400, NULL, 400,
      "Your key is too long" },
    { CERR_METADATA_TOO_LARGE, "MetadataTooLarge", 400, NULL, 400,
      "Your metadata headers exceed the maximum allowed metadata size" },
    { CERR_INVALID_RANGE, "InvalidRange", 416, NULL, 400,
      "The requested range is not satisfiable" },
    { CERR_PRECONDITION_FAILED, "PreconditionFailed", 412, NULL, 400,
      "At least one of the pre-conditions you specified did not hold" },
    { CERR_NOT_MODIFIED, "NotModified", 304, NULL, 400, "Not Modified" },
    { CERR_NOT_IMPLEMENTED, "NotImplemented", 501,
      "UnsupportedOperationException", 400,
      "A header or query you provided implies functionality that is not "
      "implemented." },
    { CERR_METHOD_NOT_ALLOWED, "MethodNotAllowed", 405, NULL, 400,
      "The specified method is not allowed against this resource." },
    { CERR_MISSING_BODY, "MissingRequestBodyError", 400,
      "SerializationException", 400, "Request Body is empty" },
    { CERR_INVALID_BUCKET_NAME, "InvalidBucketName", 400, NULL, 400,
      "The specified bucket is not valid." },
    { CERR_INVALID_PART, "InvalidPart", 400, NULL, 400,
      "One or more of the specified parts could not be found.  The part "
      "may not have been uploaded, or the specified entity tag may not "
      "match the part's entity tag." },
    { CERR_INVALID_PART_ORDER, "InvalidPartOrder", 400, NULL, 400,
      "The list of parts was not in ascending order. Parts must be "
      "ordered by part number." },
    { CERR_ILLEGAL_LOCATION, "IllegalLocationConstraintException", 400,
      NULL, 400,
      "The unspecified location constraint is incompatible for the "
      "region specific endpoint this request was sent to." },
    { CERR_INVALID_LOCATION, "InvalidLocationConstraint", 400, NULL, 400,
      "The specified location-constraint is not valid" },
    { CERR_INVALID_ENC_ALGORITHM, "InvalidEncryptionAlgorithmError", 400,
      NULL, 400,
      "The Encryption request you specified is not valid. Supported "
      "value: AES256." },
    { CERR_INVALID_TAG, "InvalidTag", 400, "TagException", 400,
      "The tag provided was not a valid tag." },
    { CERR_TOO_LARGE_BODY, "MaxMessageLengthExceeded", 400,
      "ValidationException", 400, "Your request was too big." },
    { CERR_INVALID_PART_NUMBER, "InvalidPartNumber", 416, NULL, 400,
      "The requested partnumber is not satisfiable" },
    { CERR_INVALID_URI, "InvalidURI", 400, NULL, 400,
      "Couldn't parse the specified URI." },
    { CERR_INVALID_STORAGE_CLASS, "InvalidStorageClass", 400, NULL, 400,
      "The storage class you specified is not valid" },
    { CERR_ACL_NOT_SUPPORTED, "AccessControlListNotSupported", 400, NULL,
      400, "The bucket does not allow ACLs" },

    { CERR_NO_SUCH_BUCKET, "NoSuchBucket", 404, NULL, 400,
      "The specified bucket does not exist" },
    { CERR_NO_SUCH_KEY, "NoSuchKey", 404, NULL, 400,
      "The specified key does not exist." },
    { CERR_NO_SUCH_UPLOAD, "NoSuchUpload", 404, NULL, 400,
      "The specified upload does not exist. The upload ID may be invalid, "
      "or the upload may have been aborted or completed." },
    { CERR_NO_SUCH_POLICY, "NoSuchBucketPolicy", 404, NULL, 400,
      "The bucket policy does not exist" },
    { CERR_NO_SUCH_TAGSET, "NoSuchTagSet", 404, NULL, 400,
      "The TagSet does not exist" },
    { CERR_NO_SUCH_PAB, "NoSuchPublicAccessBlockConfiguration", 404, NULL,
      400, "The public access block configuration was not found" },
    { CERR_BUCKET_EXISTS, "BucketAlreadyExists", 409, NULL, 400,
      "The requested bucket name is not available. The bucket namespace "
      "is shared by all users of the system. Please select a different "
      "name and try again." },
    { CERR_BUCKET_OWNED, "BucketAlreadyOwnedByYou", 409, NULL, 400,
      "Your previous request to create the named bucket succeeded and you "
      "already own it." },
    { CERR_BUCKET_NOT_EMPTY, "BucketNotEmpty", 409, NULL, 400,
      "The bucket you tried to delete is not empty" },
    { CERR_IAM_NO_SUCH_ENTITY, "NoSuchEntity", 404, NULL, 400,
      "The user, access key or policy does not exist." },
    { CERR_IAM_ENTITY_EXISTS, "EntityAlreadyExists", 409, NULL, 400,
      "The user, access key or policy already exists." },
    { CERR_IAM_DELETE_CONFLICT, "DeleteConflict", 409, NULL, 400,
      "The user still has access keys or policies." },
    { CERR_IAM_LIMIT_EXCEEDED, "LimitExceeded", 409, NULL, 400,
      "The user already has the most access keys allowed." },

    { CERR_KMS_NOT_FOUND, "KMS.NotFoundException", 400,
      "NotFoundException", 400, "Key does not exist" },
    { CERR_KMS_DISABLED, "KMS.DisabledException", 400,
      "DisabledException", 400, "Key is disabled." },
    { CERR_KMS_INVALID_STATE, "KMS.KMSInvalidStateException", 400,
      "KMSInvalidStateException", 400, "Key is in an invalid state." },
    { CERR_KMS_INVALID_CIPHERTEXT, "KMS.InvalidCiphertextException", 400,
      "InvalidCiphertextException", 400, "" },
    { CERR_KMS_INCORRECT_KEY, "KMS.IncorrectKeyException", 400,
      "IncorrectKeyException", 400,
      "The key ID in the request does not identify a CMK that can "
      "perform this operation." },
    { CERR_KMS_VALIDATION, "InvalidArgument", 400,
      "ValidationException", 400, "Validation error" },
    { CERR_KMS_ALREADY_EXISTS, NULL, 400, "AlreadyExistsException", 400,
      "The resource already exists." },
    { CERR_KMS_INVALID_ALIAS, NULL, 400, "InvalidAliasNameException", 400,
      "Invalid alias name." },
    { CERR_KMS_NOT_AUTHORIZED, "AccessDenied", 403,
      "NotAuthorizedException", 400,
      "You are not authorized to perform this operation." },
    { CERR_KMS_TAG, "InvalidTag", 400, "TagException", 400,
      "Invalid tag." },
    { CERR_KMS_UNSUPPORTED, "NotImplemented", 501,
      "UnsupportedOperationException", 400,
      "The requested operation is not supported." },
    { CERR_KMS_ACCESS_DENIED, "AccessDenied", 403,
      "AccessDeniedException", 400, "Access Denied" },
    { CERR_KMS_SERIALIZATION, "MalformedXML", 400,
      "SerializationException", 400, "Start of structure or map found "
      "where not expected." },
    { CERR_KMS_UNKNOWN_OPERATION, "NotImplemented", 501,
      "UnknownOperationException", 400, "" },
    { CERR_KMS_MALFORMED_POLICY, "MalformedPolicy", 400,
      "MalformedPolicyDocumentException", 400,
      "The policy document is malformed." },
    { CERR_KMS_LIMIT, NULL, 400, "LimitExceededException", 400,
      "A limit was exceeded." },
    { CERR_KMS_INVALID_MARKER, NULL, 400, "InvalidMarkerException", 400,
      "The marker is not valid." },
    { CERR_KMS_INVALID_GRANT_ID, NULL, 400, "InvalidGrantIdException", 400,
      "The grant id is not valid." },
    { CERR_KMS_INVALID_GRANT_TOKEN, NULL, 400,
      "InvalidGrantTokenException", 400, "The grant token is not valid." },
    { CERR_KMS_INVALID_KEY_USAGE, "KMS.InvalidKeyUsageException", 400,
      "InvalidKeyUsageException", 400, "The key usage is not valid." },
    { CERR_KMS_UNRECOGNIZED_CLIENT, "InvalidAccessKeyId", 403,
      "UnrecognizedClientException", 400,
      "The security token included in the request is invalid." },
    { CERR_KMS_INVALID_SIGNATURE, "SignatureDoesNotMatch", 403,
      "InvalidSignatureException", 400,
      "The request signature we calculated does not match the signature "
      "you provided." },
    { CERR_KMS_CONFLICT, NULL, 409, "ConflictException", 400,
      "The request conflicts with the key's current state." },
    { CERR_KMS_INTERNAL, "KMS.KMSInternalException", 500,
      "KMSInternalException", 500, "" },
};

static const struct err_info internal = {
    CERR_INTERNAL, "InternalError", 500, "KMSInternalException", 500,
    "We encountered an internal error. Please try again."
};

const struct err_info *
err_lookup(int code)
{
    size_t i;

    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i].code == code)
            return &table[i];
    return &internal;
}

const char *
err_name(int code)
{
    const struct err_info *e = err_lookup(code);

    if (code == CERR_OK)
        return "OK";
    return e->s3_code ? e->s3_code : e->kms_type;
}

int
err_set(struct err_detail *d, int code, const char *fmt, ...)
{
    va_list ap;

    if (d == NULL)
        return code;
    va_start(ap, fmt);
    vsnprintf(d->message, sizeof(d->message), fmt, ap);
    va_end(ap);
    return code;
}

void
err_set_argument(struct err_detail *d, const char *name, const char *value)
{
    if (d == NULL)
        return;
    snprintf(d->arg_name, sizeof(d->arg_name), "%s", name ? name : "");
    snprintf(d->arg_value, sizeof(d->arg_value), "%s", value ? value : "");
}

void
err_clear(struct err_detail *d)
{
    if (d != NULL)
        memset(d, 0, sizeof(*d));
}
