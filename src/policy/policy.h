/*
 * Access policies: one parser and evaluator for S3 bucket policies, users'
 * identity policies and KMS key policies (spec/policy.md).
 *
 * A policy is parsed and validated once (policy_parse) into an immutable
 * tree that any number of threads may evaluate at once.  A request is
 * described by its principal, action, resource and a context of condition
 * keys (struct policy_ctx) that the caller fills from the request.  This
 * module knows nothing of HTTP or storage and never logs.
 */
#ifndef COFFER_POLICY_POLICY_H
#define COFFER_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

enum policy_kind { POLICY_BUCKET, POLICY_IDENTITY, POLICY_KEY };

/* A parsed policy: immutable, thread-safe to evaluate. */
struct policy;

/*
 * Parse and validate `len` bytes of `text` as a policy of `kind`.
 *
 * POLICY_BUCKET: Principal required, every Resource must be
 * arn:aws:s3:::BUCKET or arn:aws:s3:::BUCKET/... of `bucket`; at most 20 KB
 * once whitespace outside strings is removed.  POLICY_KEY: Principal
 * required, Resource "*", at most 32 KB.  POLICY_IDENTITY: no Principal;
 * `bucket` is ignored (may be NULL).
 *
 * On success stores a new policy in *out (free with policy_free) and
 * returns 0.  Failures: CERR_MALFORMED_POLICY with the AWS wording of
 * policy.md §8 in d->message (the first fault found wins; key-policy
 * callers map it to MalformedPolicyDocumentException); CERR_NOT_IMPLEMENTED
 * naming an action, condition key or principal type that AWS has and
 * coffer does not implement (never skipped); CERR_NOMEM.  Unknown aws:
 * keys are accepted, evaluate as absent, and are reported by
 * policy_warnings.  Messages for unknown actions and condition keys end
 * in ": <name>" (ruling 15).
 */
int policy_parse(const char *text, size_t len, enum policy_kind kind,
                 const char *bucket, struct policy **out,
                 struct err_detail *d);

/* Free a parsed policy; NULL is allowed. */
void policy_free(struct policy *p);

/*
 * True when an Allow statement grants "*", {"AWS":"*"} or NotPrincipal
 * without a condition on a restricting key (source address, account,
 * principal): what GetBucketPolicyStatus calls public.
 */
bool policy_is_public(const struct policy *p);

/*
 * Call fn(arn, arg) for each IAM user ARN the policy names as a
 * Principal or NotPrincipal, so a caller with the user store can refuse
 * a policy naming users that do not exist (AWS does: "Invalid principal
 * in policy").  Stops at and returns fn's first non-zero result; else 0.
 */
int policy_foreach_user(const struct policy *p,
                        int (*fn)(const char *arn, void *arg), void *arg);

/*
 * Human-readable warnings about the policy (unknown aws: keys, known
 * traps), separated by newlines, none after the last.  The caller frees
 * the string with free().  NULL when there is nothing to say (or on
 * allocation failure).
 */
char *policy_warnings(const struct policy *p);

/*
 * The linter (lint.c): appends to `text` one sentence per statement
 * saying what it does, and to `warnings` one "warning: ..." line per trap
 * (policy_warnings' lines; negated or ...IfExists conditions on an s3:
 * key that some of the statement's actions never carry; a Resource no
 * action of its statement can match, or a named action no Resource can).
 * Either buffer may be NULL.  Returns the number of warnings.
 */
struct buf;
size_t policy_lint(const struct policy *p, struct buf *text,
                   struct buf *warnings);

enum policy_principal_type {
    POLICY_PRINCIPAL_ROOT,
    POLICY_PRINCIPAL_USER,
    POLICY_PRINCIPAL_ANONYMOUS,
};

/* Who is asking.  The strings are borrowed from the caller. */
struct policy_principal {
    enum policy_principal_type type;
    const char *arn;            /* NULL for anonymous */
    const char *account;        /* the caller's account, NULL anonymous */
    const char *user_name;      /* users only */
    const char *user_id;        /* users only ("AIDA..."); root: NULL */
};

/*
 * The request context: condition keys and their values.  A multi-valued
 * key (s3:RequestObjectTagKeys, kms:EncryptionContextKeys) is added once
 * per value.  Key names are case-insensitive; the caller adds only keys
 * that are present (policy.md §5 says which are always present).  The
 * principal keys (aws:PrincipalArn, aws:PrincipalAccount,
 * aws:PrincipalType, aws:userid, aws:username) are derived from the
 * request's principal when the context does not hold them.
 */
struct policy_ctx;

/* A new, empty context, or NULL when out of memory. */
struct policy_ctx *policy_ctx_new(void);

/*
 * Add one value of `key` (both strings are copied).  Returns 0 or
 * CERR_NOMEM.
 */
int policy_ctx_add(struct policy_ctx *c, const char *key, const char *value);

/* Free a context; NULL is allowed. */
void policy_ctx_free(struct policy_ctx *c);

/*
 * One request to authorize.  Everything is borrowed from the caller; a
 * NULL principal is anonymous.
 */
struct policy_request {
    const struct policy_principal *principal;
    const char *action;         /* "s3:PutObject", "kms:Decrypt" */
    const char *resource;       /* "arn:aws:s3:::b/k", a key ARN, or "*" */
    const struct policy_ctx *ctx;   /* NULL means an empty context */
};

enum policy_result { POLICY_NO_MATCH, POLICY_ALLOW, POLICY_DENY };

/*
 * One policy's verdict for one request: POLICY_DENY if any Deny statement
 * matches, else POLICY_ALLOW if an Allow matches, else POLICY_NO_MATCH.
 * A NULL policy is POLICY_NO_MATCH.
 */
enum policy_result policy_eval(const struct policy *p,
                               const struct policy_request *r);

/*
 * AWS's decision for an S3 request (policy.md §3), given the bucket
 * owner's account: POLICY_ALLOW or POLICY_DENY.  `bucket_policy` may be
 * NULL and `identity` may hold nidentity (possibly 0) identity policies of
 * the caller.  The owning root may always call Get/Put/DeleteBucketPolicy
 * (§3.1 lockout exception).
 */
enum policy_result policy_decide_s3(const struct policy *bucket_policy,
                                    const struct policy *const *identity,
                                    size_t nidentity,
                                    const char *owner_account,
                                    const struct policy_request *r);

/*
 * AWS's decision for a KMS request (policy.md §9): POLICY_ALLOW or
 * POLICY_DENY.  The key policy is required (NULL denies, except for
 * key-less operations, which identity policies and root decide);
 * identity policies count only when the key policy allows the caller's
 * account principal.  `grant_allows` is true when the caller has already
 * found a grant that permits this operation in this context.
 *
 * PutKeyPolicy's lockout check (policy.md §9) is this call on the new
 * policy with action "kms:PutKeyPolicy" for the caller: POLICY_DENY means
 * the caller would lock itself out.
 */
enum policy_result policy_decide_kms(const struct policy *key_policy,
                                     const struct policy *const *identity,
                                     size_t nidentity, bool grant_allows,
                                     const struct policy_request *r);

#endif
