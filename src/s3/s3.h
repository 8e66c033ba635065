/*
 * The S3 REST API.  s3_begin() is the entry point the HTTP front calls for
 * every request that is not a KMS call: it authenticates the request,
 * picks the operation (s3-api.md §2), authorizes it against the bucket
 * policy and hands the exchange to the operation's handler.
 */
#ifndef COFFER_S3_S3_H
#define COFFER_S3_S3_H

#include "http/http.h"

/* Start serving one S3 request; see http_begin_fn. */
void s3_begin(struct http_exchange *x);

#endif
