/*
 * The HTTPS listener's certificate, replaceable without a restart.
 *
 * libmicrohttpd cannot swap the certificate of a running daemon, but it
 * can ask a gnutls callback for one at every handshake.  The callback
 * hands out the current generation; SIGHUP makes a watcher thread read
 * the files again and, if they hold a certificate and its key, make
 * them current.  New connections get the new certificate, connections
 * already set up finish with theirs.  Old generations are kept until the
 * server stops, since gnutls may refer to them for a session's lifetime
 * (a reload is rare and a generation is a few kilobytes).
 *
 * gnutls gives the callback no user pointer, hence the statics below;
 * a process runs one server.
 */
#include "http/http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "crypto/crypto.h"
#include "util/log.h"

#define TLS_CHAIN_MAX 16
#define TLS_FILE_MAX (1024 * 1024)

struct tls_gen {
    gnutls_pcert_st certs[TLS_CHAIN_MAX];
    unsigned int ncerts;
    gnutls_privkey_t key;
    struct tls_gen *older;
};

static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_gen *tls_current;     /* newest first, older linked */

static int hup_pipe[2] = { -1, -1 };
static pthread_t watcher;
static bool watching;
static char *watch_cert;
static char *watch_key;

/* A whole file (at most TLS_FILE_MAX bytes) into d, malloc'd. */
static int
read_datum(const char *path, gnutls_datum_t *d)
{
    struct stat st;
    size_t len = 0;
    ssize_t n = 1;
    char *data = NULL;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return CERR_IO;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size <= TLS_FILE_MAX)
        data = malloc((size_t)st.st_size);
    while (data != NULL && len < (size_t)st.st_size &&
           (n = read(fd, data + len, (size_t)st.st_size - len)) > 0)
        len += (size_t)n;
    close(fd);
    if (data == NULL || n <= 0) {
        free(data);
        return CERR_IO;
    }
    d->data = (unsigned char *)data;
    d->size = (unsigned int)len;
    return 0;
}

static void
gen_free(struct tls_gen *g)
{
    unsigned int i;

    for (i = 0; i < g->ncerts; i++)
        gnutls_pcert_deinit(&g->certs[i]);
    if (g->key != NULL)
        gnutls_privkey_deinit(g->key);
    free(g);
}

/* Does the private key belong to the leaf certificate?  Sign and check. */
static bool
key_matches(struct tls_gen *g)
{
    static const unsigned char msg[] = "coffer certificate check";
    gnutls_datum_t data = { (unsigned char *)msg, sizeof(msg) - 1 };
    gnutls_datum_t sig = { NULL, 0 };
    gnutls_sign_algorithm_t alg;
    bool ok;

    alg = gnutls_pk_to_sign(gnutls_privkey_get_pk_algorithm(g->key, NULL),
                            GNUTLS_DIG_SHA256);
    if (gnutls_privkey_sign_data2(g->key, alg, 0, &data, &sig) < 0)
        return false;
    ok = gnutls_pubkey_verify_data2(g->certs[0].pubkey, alg, 0, &data,
                                    &sig) >= 0;
    gnutls_free(sig.data);
    return ok;
}

/* Parse the files into a new generation. */
static int
gen_load(const char *cert_path, const char *key_path, struct tls_gen **out,
         struct err_detail *d)
{
    gnutls_datum_t cert = { NULL, 0 }, key = { NULL, 0 };
    struct tls_gen *g = calloc(1, sizeof(*g));
    int rc = 0;

    if (g == NULL)
        return CERR_NOMEM;
    if (read_datum(cert_path, &cert) != 0 || read_datum(key_path, &key) != 0)
        rc = err_set(d, CERR_IO, "cannot read TLS certificate %s or key %s",
                     cert_path, key_path);
    g->ncerts = TLS_CHAIN_MAX;
    if (rc == 0 && gnutls_pcert_list_import_x509_raw(g->certs, &g->ncerts,
                   &cert, GNUTLS_X509_FMT_PEM, 0) < 0)
        rc = err_set(d, CERR_INVALID_ARGUMENT, "%s holds no PEM "
                     "certificate (or more than %d)", cert_path,
                     TLS_CHAIN_MAX);
    if (rc != 0)
        g->ncerts = 0;
    if (rc == 0 && (gnutls_privkey_init(&g->key) < 0 ||
                    gnutls_privkey_import_x509_raw(g->key, &key,
                        GNUTLS_X509_FMT_PEM, NULL, 0) < 0))
        rc = err_set(d, CERR_INVALID_ARGUMENT, "%s holds no PEM private "
                     "key", key_path);
    if (rc == 0 && !key_matches(g))
        rc = err_set(d, CERR_INVALID_ARGUMENT, "the key in %s does not "
                     "belong to the certificate in %s", key_path, cert_path);

    if (key.data != NULL)
        crypto_wipe(key.data, key.size);
    free(key.data);
    free(cert.data);
    if (rc != 0) {
        gen_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

/* Make the files' certificate current; see http_int.h. */
int
http_tls_load(const char *cert_path, const char *key_path,
              struct err_detail *d)
{
    struct tls_gen *g;
    int rc;

    if ((rc = gen_load(cert_path, key_path, &g, d)) != 0)
        return rc;
    pthread_mutex_lock(&tls_lock);
    g->older = tls_current;
    tls_current = g;
    pthread_mutex_unlock(&tls_lock);
    return 0;
}

/* Parse the files and drop the result; see http_int.h. */
int
http_tls_check(const char *cert_path, const char *key_path,
               struct err_detail *d)
{
    struct tls_gen *g;
    int rc;

    if ((rc = gen_load(cert_path, key_path, &g, d)) != 0)
        return rc;
    gen_free(g);
    return 0;
}

/* The gnutls callback: the current generation. */
static int
retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_rdn, int nreqs,
         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
         gnutls_pcert_st **pcert, unsigned int *pcert_length,
         gnutls_privkey_t *privkey)
{
    struct tls_gen *g;

    (void)s;
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    pthread_mutex_lock(&tls_lock);
    g = tls_current;
    pthread_mutex_unlock(&tls_lock);
    if (g == NULL)
        return -1;
    *pcert = g->certs;
    *pcert_length = g->ncerts;
    *privkey = g->key;
    return 0;
}

/* The callback as an option value; see http_int.h. */
void *
http_tls_callback(void)
{
    gnutls_certificate_retrieve_function2 *fn = retrieve;

    return (void *)fn;
}

/* SIGHUP: wake the watcher (only async-signal-safe calls here). */
static void
on_hup(int sig)
{
    int saved = errno;
    ssize_t n;

    (void)sig;
    n = write(hup_pipe[1], "h", 1);
    (void)n;
    errno = saved;
}

/* Reload on every byte; a 'q' ends the thread. */
static void *
watch_loop(void *arg)
{
    struct err_detail d;
    char c;

    (void)arg;
    for (;;) {
        ssize_t n = read(hup_pipe[0], &c, 1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || c == 'q')
            return NULL;
        err_clear(&d);
        if (http_tls_load(watch_cert, watch_key, &d) == 0)
            log_info("http: SIGHUP: reloaded TLS certificate %s",
                     watch_cert);
        else
            log_error("http: SIGHUP: kept the old TLS certificate: %s",
                      d.message);
    }
}

/* Reload on SIGHUP; see http_int.h. */
int
http_tls_watch(const char *cert_path, const char *key_path)
{
    struct sigaction sa;

    watch_cert = strdup(cert_path);
    watch_key = strdup(key_path);
    if (watch_cert == NULL || watch_key == NULL ||
        pipe2(hup_pipe, O_CLOEXEC) != 0)
        return CERR_IO;
    if (pthread_create(&watcher, NULL, watch_loop, NULL) != 0)
        return CERR_IO;
    watching = true;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_hup;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGHUP, &sa, NULL) == 0 ? 0 : CERR_IO;
}

/* Stop watching, free every generation; see http_int.h. */
void
http_tls_stop(void)
{
    struct tls_gen *g, *older;
    ssize_t n;

    if (watching) {
        signal(SIGHUP, SIG_IGN);
        n = write(hup_pipe[1], "q", 1);
        (void)n;
        pthread_join(watcher, NULL);
        watching = false;
    }
    if (hup_pipe[0] >= 0) {
        close(hup_pipe[0]);
        close(hup_pipe[1]);
        hup_pipe[0] = hup_pipe[1] = -1;
    }
    free(watch_cert);
    free(watch_key);
    watch_cert = watch_key = NULL;

    pthread_mutex_lock(&tls_lock);
    g = tls_current;
    tls_current = NULL;
    pthread_mutex_unlock(&tls_lock);
    for (; g != NULL; g = older) {
        older = g->older;
        gen_free(g);
    }
}
