/*
 * Questions about a parsed policy as a whole, asked without a request:
 * is it public (GetBucketPolicyStatus, BlockPublicPolicy), and which IAM
 * users does it name (so the caller, who has the user store, can refuse
 * a policy naming users that do not exist, as AWS does).
 */
#include <string.h>

#include "policy/policy_int.h"

/*
 * Keys whose presence in a condition restricts who can use a grant to
 * "*": source network, account or principal (s3-api.md §9's simplified
 * reading of AWS's definition of public).
 */
static const char *const restricting[] = {
    "aws:SourceIp", "aws:SourceVpc", "aws:SourceVpce", "aws:SourceArn",
    "aws:SourceAccount", "aws:SourceOwner", "aws:PrincipalAccount",
    "aws:PrincipalArn", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
    "aws:userid", "aws:username", "kms:CallerAccount", NULL,
};

static bool
restricted(const struct stmt *st)
{
    size_t i, j;

    for (i = 0; i < st->nconds; i++)
        for (j = 0; restricting[j] != NULL; j++)
            if (policy_strcasecmp(st->conds[i].key, restricting[j]) == 0)
                return true;
    return false;
}

/*
 * True when an Allow statement grants everyone ("*", {"AWS":"*"}, or a
 * NotPrincipal) without a condition on a restricting key.  A NULL policy
 * is not public.
 */
bool
policy_is_public(const struct policy *p)
{
    const struct stmt *st;
    size_t i;

    for (i = 0; p != NULL && i < p->nstmts; i++) {
        st = &p->stmts[i];
        if (st->deny || !st->has_principal)
            continue;
        if ((st->not_principal || st->princ.any) && !restricted(st))
            return true;
    }
    return false;
}

/*
 * Call fn(arn, arg) for each IAM user ARN named in a Principal or
 * NotPrincipal, in document order (a user named twice is reported
 * twice).  Stops at and returns the first non-zero result of fn; else 0.
 */
int
policy_foreach_user(const struct policy *p,
                    int (*fn)(const char *arn, void *arg), void *arg)
{
    const struct stmt *st;
    size_t i, j;
    int rc;

    for (i = 0; p != NULL && i < p->nstmts; i++) {
        st = &p->stmts[i];
        for (j = 0; j < st->princ.nusers; j++)
            if ((rc = fn(st->princ.users[j], arg)) != 0)
                return rc;
    }
    return 0;
}
