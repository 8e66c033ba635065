/*
 * Users of the account as the server and `coffer admin` see them: IAM
 * users with access keys and inline identity policies, kept in the
 * metadata store (meta.h).
 *
 * The server installs iam_auth_lookup as the credential store's hook for
 * every access key that is not the root's, and asks iam_identity_get for
 * the identity policies of each user request.  Both read the store on
 * every request, so an access key deactivated or deleted, or a policy
 * attached or detached, by `coffer admin` (another process) takes effect
 * on the very next request; only parsed policies are cached, keyed by
 * their text.  Secret keys are stored sealed under an internal key of the
 * key service (purpose IAM_SECRET_PURPOSE, the access key id as
 * additional data), itself wrapped by the root key.
 */
#ifndef COFFER_IAM_IAM_H
#define COFFER_IAM_IAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "store/meta.h"
#include "util/err.h"

#define IAM_SECRET_PURPOSE "iam-secret-key"
#define IAM_AKID_LEN 20             /* "AKIA" + 16 */
#define IAM_SECRET_LEN 40
#define IAM_USER_ID_LEN 21          /* "AIDA" + 17 */

struct kms;
struct policy;
struct iam;                         /* thread-safe */

/*
 * Open the user directory over an open store and key service (both must
 * outlive it) for the 12-digit `account`, and make sure the internal key
 * that seals secret keys exists.  When `creds` is not NULL, install
 * iam_auth_lookup as its user hook.  0 or CERR_*; free with iam_close.
 */
int iam_open(struct meta *m, struct kms *k, const char *account,
             struct auth_creds *creds, struct iam **out);

/* Free the directory and its cached policies; NULL is fine. */
void iam_close(struct iam *iam);

/*
 * The credential hook (auth_user_lookup_fn; ctx is the struct iam): the
 * secret and principal of an Active access key.  An unknown, Inactive or
 * undecryptable key is CERR_INVALID_ACCESS_KEY (never telling which);
 * storage errors pass through.  The caller wipes `secret`.
 */
int iam_auth_lookup(void *ctx, const char *akid, char secret[128],
                    struct auth_principal *p);

/*
 * The identity policies of one caller at one moment: immutable and
 * reference-counted, so a request may hold them while another request
 * replaces them in the cache.
 */
struct iam_identity;

/*
 * The identity policies of principal p.  Root and anonymous callers have
 * none: *out is NULL and 0 is returned.  For a user, *out holds the
 * policies attached now (possibly none); release it with
 * iam_identity_release.  A user that no longer exists has none.  A stored
 * policy that no longer parses fails closed: CERR_INTERNAL.  Also
 * CERR_NOMEM and storage errors.
 */
int iam_identity_get(struct iam *iam, const struct auth_principal *p,
                     struct iam_identity **out);

/* The parsed policies of an identity (NULL gives none). */
const struct policy *const *iam_identity_policies(
    const struct iam_identity *id, size_t *n);

/* Drop a reference; NULL is fine. */
void iam_identity_release(struct iam_identity *id);

/* ---- Administration (coffer admin) ------------------------------------ */

/*
 * True when `name` is a valid IAM user name: 1 to 64 characters of
 * letters, digits and + = , . @ _ -.
 */
bool iam_user_name_valid(const char *name);

/*
 * Create user `name` with a fresh stable id ("AIDA" + 17 characters).
 * Fills *out.  CERR_INVALID_ARGUMENT (bad name, detail says why),
 * CERR_IAM_ENTITY_EXISTS, storage errors.
 */
int iam_user_create(struct iam *iam, const char *name, struct meta_user *out,
                    struct err_detail *d);

/*
 * Make a new Active access key for user `name`: akid gets "AKIA..." and
 * secret the 40-character secret key, which is stored only sealed; the
 * caller shows it once and wipes it.  CERR_IAM_NO_SUCH_ENTITY,
 * CERR_IAM_LIMIT_EXCEEDED, CERR_* from the key service or store.
 */
int iam_key_create(struct iam *iam, const char *name,
                   char akid[IAM_AKID_LEN + 1],
                   char secret[IAM_SECRET_LEN + 1]);

/*
 * Validate `text` as an identity policy and attach it to user `user`
 * under `name` (replacing one of that name).  CERR_MALFORMED_POLICY or
 * CERR_NOT_IMPLEMENTED with the parser's message in d, CERR_INVALID_ARGUMENT
 * for a bad policy name (1 to 128 of letters, digits and + = , . @ _ -),
 * CERR_IAM_LIMIT_EXCEEDED when the user's inline policies would hold more
 * than 2048 characters without whitespace (IAM's quota),
 * CERR_IAM_NO_SUCH_ENTITY, storage errors.
 */
int iam_policy_attach(struct iam *iam, const char *user, const char *name,
                      const char *text, size_t len, struct err_detail *d);

/* The ARN of user `name` of the directory's account, into out (cap). */
void iam_user_arn(const struct iam *iam, const char *name, char *out,
                  size_t cap);

/*
 * Does the user ARN `arn` name an existing user of this account?  Used
 * to refuse bucket policies naming users that do not exist.  0 when it
 * does (or names another account, which coffer cannot check),
 * CERR_IAM_NO_SUCH_ENTITY when not, or a storage error.
 */
int iam_user_arn_check(struct iam *iam, const char *arn);

#endif
