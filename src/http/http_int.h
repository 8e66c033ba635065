/*
 * Internals shared by the files of the HTTP front: the TLS certificate
 * that the HTTPS listener presents (tls.c), which can be replaced while
 * the server runs.  No other module includes this file.
 */
#ifndef COFFER_HTTP_HTTP_INT_H
#define COFFER_HTTP_HTTP_INT_H

#include "http/http.h"

/*
 * Read the PEM certificate chain and private key, check that the key
 * belongs to the first certificate, and make them the ones new TLS
 * handshakes present.  Sessions already set up keep theirs.  0, or
 * CERR_IO / CERR_INVALID_ARGUMENT with the reason in d (the old
 * certificate then stays in use).
 */
int http_tls_load(const char *cert_path, const char *key_path,
                  struct err_detail *d);

/*
 * Check that the files hold a certificate and its key, as http_tls_load
 * does, without making them current.  0, or CERR_* with the reason in d.
 */
int http_tls_check(const char *cert_path, const char *key_path,
                   struct err_detail *d);

/*
 * The handshake callback for MHD_OPTION_HTTPS_CERT_CALLBACK (a
 * gnutls_certificate_retrieve_function2), as the pointer an option
 * array wants.
 */
void *http_tls_callback(void);

/*
 * Reload the certificate and key from these paths on every SIGHUP, on a
 * thread of its own, logging the outcome.  0 or CERR_IO.
 */
int http_tls_watch(const char *cert_path, const char *key_path);

/*
 * Stop watching and free every certificate loaded.  Call only once no
 * TLS session can be running (the listener is stopped).
 */
void http_tls_stop(void);

#endif
