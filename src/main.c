/*
 * coffer: an S3 and KMS server on one port.
 *
 *     coffer server [options]     serve until SIGINT or SIGTERM
 *     coffer version
 *
 * main() parses the command line and checks every option it can before
 * touching the disk, opens the data directory (metadata, then the root
 * key, checked against the directory before anything is written, then
 * blobs, credentials, KMS, SSE engine) in dependency order, starts the
 * listeners and waits for a signal.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "admin/admin.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "iam/iam.h"
#include "s3/s3.h"
#include "sse/sse.h"
#include "store/blob.h"
#include "store/meta.h"
#include "util/log.h"

#define DEFAULT_LISTEN "127.0.0.1:9000"
#define DEFAULT_DATA "./coffer-data"
#define DEFAULT_REGION "us-east-1"
#define DEFAULT_BUCKET_KEY_TTL_S 600

static const char usage[] =
    "usage: coffer server [options]\n"
    "       coffer version\n"
    "       coffer admin --help     manage users, keys and policies\n"
    "\n"
    "Serves the Amazon S3 REST API and the AWS KMS API on one port.\n"
    "\n"
    "server options:\n"
    "  --data DIR              data directory (default " DEFAULT_DATA ")\n"
    "  --listen HOST:PORT      plain HTTP listener (default "
    DEFAULT_LISTEN ")\n"
    "  --tls-listen HOST:PORT  add an HTTPS listener\n"
    "  --tls-cert FILE         PEM certificate for --tls-listen\n"
    "  --tls-key FILE          PEM private key for --tls-listen\n"
    "  --region REGION         region in ARNs and scopes (default "
    DEFAULT_REGION ")\n"
    "  --account-id ID         12-digit account id (default: drawn on "
    "first start)\n"
    "  --bucket-key-ttl SECS   S3 bucket key lifetime (default 600)\n"
    "  --access-log FILE       access log (default: standard error)\n"
    "  --allow-plain-ssec      accept SSE-C keys over plain HTTP\n"
    "  --domain NAME           also serve buckets as BUCKET.NAME hosts\n"
    "  --verbose               debug logging\n"
    "  --root-key-pkcs11 MODULE  keep the root key sealed by a key on a\n"
    "                          PKCS#11 token (DIR/root.key.wrapped);\n"
    "                          needs --pkcs11-token and --pkcs11-key\n"
    "  --pkcs11-token LABEL    the token's label\n"
    "  --pkcs11-key LABEL      the AES key's label (made when missing)\n"
    "\n"
    "environment:\n"
    "  COFFER_ROOT_ACCESS_KEY_ID, COFFER_ROOT_SECRET_ACCESS_KEY\n"
    "      root credentials; without them the first start writes\n"
    "      DIR/credentials (aws CLI format, mode 0600)\n"
    "  COFFER_ROOT_KEY         root key, base64 of 32 bytes (default:\n"
    "      DIR/root.key, made on first start)\n"
    "  COFFER_PKCS11_PIN       the token's user PIN (--root-key-pkcs11)\n";

static volatile sig_atomic_t stopping;
static struct kms_pkcs11 pkcs11;    /* module NULL: no token */

static void
on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int
parse_args(int argc, char **argv, struct coffer_config *cfg)
{
    enum { O_DATA = 256, O_LISTEN, O_TLS_LISTEN, O_TLS_CERT, O_TLS_KEY,
           O_REGION, O_ACCOUNT, O_TTL, O_ACCESS_LOG, O_PLAIN_SSEC, O_DOMAIN,
           O_VERBOSE, O_HELP, O_P11_MODULE, O_P11_TOKEN, O_P11_KEY };
    static const struct option opts[] = {
        { "data", required_argument, NULL, O_DATA },
        { "listen", required_argument, NULL, O_LISTEN },
        { "tls-listen", required_argument, NULL, O_TLS_LISTEN },
        { "tls-cert", required_argument, NULL, O_TLS_CERT },
        { "tls-key", required_argument, NULL, O_TLS_KEY },
        { "region", required_argument, NULL, O_REGION },
        { "account-id", required_argument, NULL, O_ACCOUNT },
        { "bucket-key-ttl", required_argument, NULL, O_TTL },
        { "access-log", required_argument, NULL, O_ACCESS_LOG },
        { "allow-plain-ssec", no_argument, NULL, O_PLAIN_SSEC },
        { "domain", required_argument, NULL, O_DOMAIN },
        { "verbose", no_argument, NULL, O_VERBOSE },
        { "help", no_argument, NULL, O_HELP },
        { "root-key-pkcs11", required_argument, NULL, O_P11_MODULE },
        { "pkcs11-token", required_argument, NULL, O_P11_TOKEN },
        { "pkcs11-key", required_argument, NULL, O_P11_KEY },
        { NULL, 0, NULL, 0 },
    };
    long ttl = DEFAULT_BUCKET_KEY_TTL_S;
    char *end;
    int c;

    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", DEFAULT_DATA);
    snprintf(cfg->listen, sizeof(cfg->listen), "%s", DEFAULT_LISTEN);
    snprintf(cfg->region, sizeof(cfg->region), "%s", DEFAULT_REGION);

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA:
            snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", optarg);
            break;
        case O_LISTEN:
            snprintf(cfg->listen, sizeof(cfg->listen), "%s", optarg);
            break;
        case O_TLS_LISTEN:
            snprintf(cfg->tls_listen, sizeof(cfg->tls_listen), "%s", optarg);
            break;
        case O_TLS_CERT:
            snprintf(cfg->tls_cert, sizeof(cfg->tls_cert), "%s", optarg);
            break;
        case O_TLS_KEY:
            snprintf(cfg->tls_key, sizeof(cfg->tls_key), "%s", optarg);
            break;
        case O_REGION:
            snprintf(cfg->region, sizeof(cfg->region), "%s", optarg);
            break;
        case O_ACCOUNT:
            if (strlen(optarg) != 12 ||
                strspn(optarg, "0123456789") != 12) {
                fprintf(stderr, "coffer: --account-id wants 12 digits\n");
                return -1;
            }
            snprintf(cfg->account, sizeof(cfg->account), "%s", optarg);
            break;
        case O_TTL:
            ttl = strtol(optarg, &end, 10);
            if (*end != '\0' || ttl < 1 || ttl > 86400 * 7) {
                fprintf(stderr, "coffer: --bucket-key-ttl wants seconds "
                        "between 1 and 604800\n");
                return -1;
            }
            break;
        case O_ACCESS_LOG:
            snprintf(cfg->access_log, sizeof(cfg->access_log), "%s",
                     optarg);
            break;
        case O_PLAIN_SSEC:
            cfg->allow_plain_ssec = true;
            break;
        case O_DOMAIN:
            snprintf(cfg->domain, sizeof(cfg->domain), "%s", optarg);
            break;
        case O_VERBOSE:
            log_set_level(LOG_LEVEL_DEBUG);
            break;
        case O_P11_MODULE:
            pkcs11.module = optarg;
            break;
        case O_P11_TOKEN:
            pkcs11.token = optarg;
            break;
        case O_P11_KEY:
            pkcs11.key = optarg;
            break;
        case O_HELP:
            fputs(usage, stdout);
            exit(0);
        default:
            fputs(usage, stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "coffer: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if ((pkcs11.module || pkcs11.token || pkcs11.key) &&
        (!pkcs11.module || !pkcs11.token || !pkcs11.key)) {
        fprintf(stderr, "coffer: --root-key-pkcs11, --pkcs11-token and "
                "--pkcs11-key go together\n");
        return -1;
    }
    if (cfg->tls_listen[0] && (!cfg->tls_cert[0] || !cfg->tls_key[0])) {
        fprintf(stderr, "coffer: --tls-listen needs --tls-cert and "
                "--tls-key\n");
        return -1;
    }
    cfg->bucket_key_ttl_ms = ttl * 1000;
    return 0;
}

/* The data directory, if it exists, must be a directory. */
static int
check_data_dir(const char *dir)
{
    struct stat st;

    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        log_error_errno("main: --data %s", dir);
        return CERR_IO;
    }
    if (!S_ISDIR(st.st_mode)) {
        log_error("main: --data %s is not a directory", dir);
        return CERR_INVALID_ARGUMENT;
    }
    return 0;
}

/* An access log file can be written, or made in its directory. */
static int
check_access_log(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');

    if (!path[0] || access(path, W_OK) == 0)
        return 0;
    if (errno == ENOENT) {
        if (slash == NULL)
            snprintf(dir, sizeof(dir), ".");
        else
            snprintf(dir, sizeof(dir), "%.*s",
                     (int)(slash == path ? 1 : slash - path), path);
        if (access(dir, W_OK | X_OK) == 0)
            return 0;
    }
    log_error_errno("main: --access-log %s cannot be written", path);
    return CERR_IO;
}

/* COFFER_ROOT_KEY, when set, decodes; the PKCS#11 module is there. */
static int
check_root_key_source(const struct coffer_config *cfg)
{
    const char *env = getenv("COFFER_ROOT_KEY");
    struct err_detail d;
    uint8_t key[32];
    int rc;

    err_clear(&d);
    if (pkcs11.module != NULL && access(pkcs11.module, R_OK) != 0) {
        log_error_errno("main: --root-key-pkcs11 %s", pkcs11.module);
        return CERR_INVALID_ARGUMENT;
    }
    if (pkcs11.module != NULL && env != NULL) {
        log_error("main: COFFER_ROOT_KEY and --root-key-pkcs11 exclude "
                  "each other; unset one");
        return CERR_INVALID_ARGUMENT;
    }
    if (env == NULL || env[0] == '\0' || pkcs11.module != NULL)
        return 0;
    /* With the variable set, loading reads no file. */
    rc = kms_root_key_load(cfg->data_dir, key, &d);
    crypto_wipe(key, sizeof(key));
    if (rc != 0)
        log_error("main: root key: %s", d.message);
    return rc;
}

/*
 * Check every setting that can be checked before the data directory is
 * touched, so a typo leaves no half-made directory behind.
 */
static int
check_args(const struct coffer_config *cfg)
{
    struct err_detail d;
    int rc;

    err_clear(&d);
    if ((rc = http_server_check(cfg, &d)) != 0) {
        log_error("main: %s", d.message);
        return rc;
    }
    if ((rc = check_data_dir(cfg->data_dir)) != 0 ||
        (rc = check_access_log(cfg->access_log)) != 0)
        return rc;
    return check_root_key_source(cfg);
}

/* The account id: the flag, else the one stored, else a new one. */
static int
settle_account(struct coffer *app)
{
    char stored[sizeof(app->cfg.account)];
    uint8_t r[12];
    int i;

    if (meta_setting_get(app->meta, "account_id", stored,
                         sizeof(stored)) == 0) {
        /* Keys and ARNs were made with the stored id: it wins. */
        if (app->cfg.account[0] && strcmp(stored, app->cfg.account) != 0)
            log_warn("main: ignoring --account-id %s: this data directory "
                     "belongs to account %s", app->cfg.account, stored);
        memcpy(app->cfg.account, stored, sizeof(stored));
        return 0;
    }
    if (!app->cfg.account[0]) {
        if (crypto_random(r, sizeof(r)) != 0)
            return CERR_INTERNAL;
        for (i = 0; i < 12; i++)
            app->cfg.account[i] = (char)('0' + (i == 0 ? 1 + r[i] % 9
                                                       : r[i] % 10));
        app->cfg.account[12] = '\0';
    }
    return meta_setting_put(app->meta, "account_id", app->cfg.account);
}

/*
 * Remove bodies that no metadata row holds: released by a change that
 * stopped before its clean-up, or written by a PUT that never committed.
 * The sweep runs before the listeners start, so no body of this node is
 * in flight and none needs sparing.
 * XXX: several nodes sharing one blob directory would sweep each other's
 * bodies in flight; they need a grace period here and per-node tmp/.
 */
static void
sweep_bodies(struct coffer *app)
{
    size_t removed = 0;

    if (meta_sweep(app->meta, app->blobs, 0, &removed) != 0)
        log_warn("main: the sweep of unreferenced bodies stopped early; "
                 "the next start continues it");
    if (removed > 0)
        log_info("main: removed %zu unreferenced bodies", removed);
}

static int
open_access_log(struct coffer *app)
{
    if (!app->cfg.access_log[0])
        return 0;
    app->access_log = fopen(app->cfg.access_log, "a");
    if (app->access_log == NULL) {
        log_error_errno("main: cannot open access log %s",
                        app->cfg.access_log);
        return CERR_IO;
    }
    return 0;
}

/* The key service and the SSE engine, under the root key. */
static int
open_keys(struct coffer *app, const uint8_t root[32], struct err_detail *d)
{
    struct kms_config kc;
    struct sse_config sc;
    char audit[PATH_MAX + 8];
    int rc;

    memset(&kc, 0, sizeof(kc));
    memcpy(kc.root_key, root, sizeof(kc.root_key));
    snprintf(audit, sizeof(audit), "%s/audit", app->cfg.data_dir);
    kc.region = app->cfg.region;
    kc.account = app->cfg.account;
    kc.audit_dir = audit;
    rc = kms_open(app->meta, &kc, &app->kms, d);
    crypto_wipe(kc.root_key, sizeof(kc.root_key));
    if (rc != 0)
        return rc;
    kms_client_local(app->kms, &app->kmsc);

    memset(&sc, 0, sizeof(sc));
    sc.region = app->cfg.region;
    sc.account = app->cfg.account;
    sc.bucket_key_ttl_ms = app->cfg.bucket_key_ttl_ms;
    return sse_open(&sc, app->meta, app->kms, &app->kmsc, &app->sse);
}

static void
announce_credentials(struct coffer *app, bool generated)
{
    if (generated)
        log_info("main: generated root credentials in %s/credentials; "
                 "use them with AWS_SHARED_CREDENTIALS_FILE=%s/credentials",
                 app->cfg.data_dir, app->cfg.data_dir);
    else if (getenv("COFFER_ROOT_ACCESS_KEY_ID") == NULL)
        log_info("main: root credentials are in %s/credentials",
                 app->cfg.data_dir);
}

/*
 * Create the data directory if need be, name it by its absolute path
 * (so the paths printed work from anywhere) and open its metadata.
 */
static int
open_meta(struct coffer *app)
{
    char abs[PATH_MAX], path[PATH_MAX + 16];
    int rc;

    if (mkdir(app->cfg.data_dir, 0700) != 0 && errno != EEXIST) {
        log_error_errno("main: cannot create data directory %s",
                        app->cfg.data_dir);
        return CERR_IO;
    }
    if (realpath(app->cfg.data_dir, abs) != NULL)
        snprintf(app->cfg.data_dir, sizeof(app->cfg.data_dir), "%s", abs);
    snprintf(path, sizeof(path), "%s/meta.db", app->cfg.data_dir);
    if ((rc = meta_open_sqlite(path, &app->meta)) != 0)
        log_error("main: cannot open metadata %s: %s", path, err_name(rc));
    return rc;
}

/* Everything after the root key, in dependency order. */
static int
open_rest(struct coffer *app, const uint8_t root[32])
{
    struct err_detail d;
    bool generated = false;
    int rc;

    err_clear(&d);
    if ((rc = blob_store_open_fs(app->cfg.data_dir, &app->blobs)) != 0 ||
        (rc = settle_account(app)) != 0) {
        log_error("main: cannot open data directory %s: %s",
                  app->cfg.data_dir, err_name(rc));
        return rc;
    }
    sweep_bodies(app);

    rc = auth_creds_open(app->cfg.data_dir, app->cfg.account, &app->creds,
                         &generated, &d);
    if (rc != 0) {
        log_error("main: credentials: %s", d.message[0] ? d.message
                                                          : err_name(rc));
        return rc;
    }
    announce_credentials(app, generated);

    if ((rc = open_keys(app, root, &d)) != 0) {
        log_error("main: keys: %s", d.message[0] ? d.message
                                                   : err_name(rc));
        return rc;
    }
    rc = iam_open(app->meta, app->kms, app->cfg.account, app->creds,
                  &app->iam);
    if (rc == CERR_CORRUPT)
        log_error("main: users: the root key does not open this data "
                  "directory's secrets; start with its own root key");
    else if (rc != 0)
        log_error("main: users: %s", err_name(rc));
    return rc;
}

/*
 * Open the data directory.  The root key is checked right after the
 * metadata opens, before anything is written: a lost or wrong key stops
 * the start with the directory as it was.
 */
static int
open_all(struct coffer *app)
{
    struct err_detail d;
    uint8_t root[32];
    bool remember;
    int rc;

    err_clear(&d);
    if ((rc = open_meta(app)) != 0)
        return rc;
    rc = kms_root_key_open(app->cfg.data_dir, pkcs11.module ? &pkcs11 : NULL,
                           app->meta, root, &remember, &d);
    if (rc != 0) {
        log_error("main: root key: %s", d.message[0] ? d.message
                                                       : err_name(rc));
        return rc;
    }
    rc = open_rest(app, root);
    if (rc == 0 && remember && (rc = kms_root_key_remember(app->meta,
                                                           root)) != 0)
        log_error("main: cannot store the root key check value: %s",
                  err_name(rc));
    crypto_wipe(root, sizeof(root));
    return rc == 0 ? open_access_log(app) : rc;
}

static void
close_all(struct coffer *app)
{
    sse_close(app->sse);
    iam_close(app->iam);
    kms_close(app->kms);
    auth_creds_free(app->creds);
    blob_store_close(app->blobs);
    meta_close(app->meta);
    if (app->access_log)
        fclose(app->access_log);
}

static int
serve(int argc, char **argv)
{
    struct coffer app;
    struct http_server *srv = NULL;
    struct err_detail d;
    struct sigaction sa;
    int rc;

    memset(&app, 0, sizeof(app));
    pthread_mutex_init(&app.log_lock, NULL);
    if (parse_args(argc, argv, &app.cfg) != 0)
        return 2;
    if (check_args(&app.cfg) != 0)
        return 2;
    if (open_all(&app) != 0) {
        close_all(&app);
        return 1;
    }

    err_clear(&d);
    rc = http_server_start(&app, s3_begin, &srv, &d);
    if (rc != 0) {
        log_error("main: %s", d.message);
        close_all(&app);
        return 1;
    }
    fprintf(stderr, "coffer: listening on http://%s\n", app.cfg.listen);
    if (app.cfg.tls_listen[0])
        fprintf(stderr, "coffer: listening on https://%s\n",
                app.cfg.tls_listen);
    log_info("main: account %s, region %s, data %s", app.cfg.account,
             app.cfg.region, app.cfg.data_dir);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    while (!stopping)
        pause();

    log_info("main: stopping");
    http_server_stop(srv);
    close_all(&app);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "server") == 0)
        return serve(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "admin") == 0)
        return admin_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "version") == 0) {
        printf("coffer %s\n", COFFER_VERSION);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
                      strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    fputs(usage, stderr);
    return 2;
}
