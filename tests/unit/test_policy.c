/*
 * Unit tests for src/policy: the 51 evaluator vectors of policy.md §11,
 * every MalformedPolicy fault of §8 with its message, each condition
 * operator with the key present and absent, IfExists, set qualifiers,
 * policy variables, the decisions of §3 and §9, and the matchers.
 *
 * Most cases are rows of tables; each row is its own cmocka test, named
 * after what it checks.  Policies are written with ' for " (and ` for ')
 * to keep them readable; jq() turns them into JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"
#include "policy/policy_int.h"

#define ACCT "111122223333"
#define OTHER "444455556666"
#define KEY_ARN "arn:aws:kms:us-east-1:" ACCT \
    ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
#define KEY_ID "1234abcd-12ab-34cd-56ef-1234567890ab"

/* The callers of the vectors. */
enum who { ROOT, ALICE, ADMIN, ANON, OROOT, CAROL };

static const struct policy_principal principals[] = {
    [ROOT] = { POLICY_PRINCIPAL_ROOT, "arn:aws:iam::" ACCT ":root", ACCT,
               NULL, NULL },
    [ALICE] = { POLICY_PRINCIPAL_USER, "arn:aws:iam::" ACCT ":user/alice",
                ACCT, "alice", "AIDAALICE0000000000" },
    [ADMIN] = { POLICY_PRINCIPAL_USER, "arn:aws:iam::" ACCT ":user/admin",
                ACCT, "admin", "AIDAADMIN0000000000" },
    [ANON] = { POLICY_PRINCIPAL_ANONYMOUS, NULL, NULL, NULL, NULL },
    [OROOT] = { POLICY_PRINCIPAL_ROOT, "arn:aws:iam::" OTHER ":root", OTHER,
                NULL, NULL },
    [CAROL] = { POLICY_PRINCIPAL_USER, "arn:aws:iam::" OTHER ":user/carol",
                OTHER, "carol", "AIDACAROL0000000000" },
};

/* Turn the test notation into JSON: ' becomes ", ` becomes '. */
static char *
jq(const char *s)
{
    char *out = strdup(s), *p;

    assert_non_null(out);
    for (p = out; *p != '\0'; p++) {
        if (*p == '\'')
            *p = '"';
        else if (*p == '`')
            *p = '\'';
    }
    return out;
}

static struct policy *
must_parse(const char *text, enum policy_kind kind)
{
    struct err_detail d;
    struct policy *p = NULL;
    char *json = jq(text);
    int rc;

    err_clear(&d);
    rc = policy_parse(json, strlen(json), kind, "b", &p, &d);
    if (rc != 0)
        fail_msg("parse failed (%d): %s\n%s", rc, d.message, json);
    free(json);
    return p;
}

/* ------------------------------------------------------------------ */
/* Evaluator vectors and decision cases                                */

struct kv {
    const char *k;
    const char *v;
};

/*
 * DENY: some policy denies explicitly and the decision is deny.  IMPL:
 * nothing denies, the decision is deny.  NM: no statement matches at
 * all (so only the owner's root is allowed).  ALLOW: the decision is
 * allow and nothing denies.  EXEMPT: a policy denies, yet the decision
 * is allow (the bucket-policy lockout exception).
 */
enum expect { DENY, IMPL, NM, ALLOW, EXEMPT };

struct evcase {
    const char *name;
    const char *policy;         /* bucket or key policy; NULL none */
    const char *identity;       /* the caller's identity policy; NULL */
    enum who who;
    const char *action;
    const char *resource;
    struct kv ctx[8];
    enum expect expect;
    bool kms;                   /* policy_decide_kms, policy is a key policy */
    bool grant;
};

#define V12 "{'Version':'2012-10-17','Statement':["
#define V08 "{'Version':'2008-10-17','Statement':["
#define END "]}"
#define OBJ "arn:aws:s3:::b/k"
#define BKT "arn:aws:s3:::b"
#define SSE "s3:x-amz-server-side-encryption"
#define KMSID "s3:x-amz-server-side-encryption-aws-kms-key-id"
#define U_ARN "arn:aws:iam::" ACCT ":user/alice"

#define R V12 "{'Sid':'DenyUnEncryptedObjectUploads','Effect':'Deny'," \
    "'Principal':'*','Action':'s3:PutObject'," \
    "'Resource':'arn:aws:s3:::b/*','Condition':{'StringNotEquals':" \
    "{'s3:x-amz-server-side-encryption':'aws:kms'}}}" END

/* A Deny on PutObject of every object of b for everyone, condition C. */
#define DENY_PUT(c) V12 "{'Effect':'Deny','Principal':'*'," \
    "'Action':'s3:PutObject','Resource':'arn:aws:s3:::b/*'," \
    "'Condition':{" c "}}" END

/* An Allow of action A on resource RES to principal P, condition C. */
#define ALLOW_TO(p, a, res, c) V12 "{'Effect':'Allow','Principal':" p "," \
    "'Action':'" a "','Resource':'" res "'" c "}" END

#define ID_PUT "{'Version':'2012-10-17','Statement':{'Effect':'Allow'," \
    "'Action':'s3:PutObject','Resource':'arn:aws:s3:::b/*'}}"

#define DEFAULT_KEY_POLICY "{'Version':'2012-10-17','Id':'key-default-1'," \
    "'Statement':[{'Sid':'Enable IAM User Permissions','Effect':'Allow'," \
    "'Principal':{'AWS':'arn:aws:iam::" ACCT ":root'},'Action':'kms:*'," \
    "'Resource':'*'}]}"

#define VIA_S3_KEY_POLICY V12 "{'Effect':'Allow','Principal':{'AWS':'" \
    U_ARN "'},'Action':'kms:GenerateDataKey','Resource':'*'," \
    "'Condition':{'StringEquals':{'kms:ViaService':" \
    "'s3.us-east-1.amazonaws.com'}}}" END

static const struct evcase vectors[] = {
    { "v01_recipe_lets_aws_kms_header_through", R, NULL, ROOT,
      "s3:PutObject", OBJ, { { SSE, "aws:kms" } }, NM, false, false },
    { "v02_recipe_denies_aes256", R, NULL, ROOT, "s3:PutObject", OBJ,
      { { SSE, "AES256" } }, DENY, false, false },
    { "v03_recipe_denies_missing_header", R, NULL, ROOT, "s3:PutObject",
      OBJ, { { NULL, NULL } }, DENY, false, false },
    { "v04_recipe_ignores_bucket_default_encryption", R, NULL, ROOT,
      "s3:PutObject", OBJ, { { "s3:x-amz-acl", "private" } }, DENY, false,
      false },
    { "v05_recipe_values_are_case_sensitive", R, NULL, ROOT,
      "s3:PutObject", OBJ, { { SSE, "AWS:KMS" } }, DENY, false, false },
    { "v06_recipe_denies_dsse", R, NULL, ROOT, "s3:PutObject", OBJ,
      { { SSE, "aws:kms:dsse" } }, DENY, false, false },
    { "v07_recipe_denies_sse_c_only", R, NULL, ROOT, "s3:PutObject", OBJ,
      { { "s3:x-amz-server-side-encryption-customer-algorithm", "AES256" } },
      DENY, false, false },
    { "v08a_recipe_copy_with_aws_kms", R, NULL, ROOT, "s3:PutObject",
      "arn:aws:s3:::b/c", { { SSE, "aws:kms" },
      { "s3:x-amz-copy-source", "b/k" } }, NM, false, false },
    { "v08b_recipe_copy_without_header", R, NULL, ROOT, "s3:PutObject",
      "arn:aws:s3:::b/c", { { "s3:x-amz-copy-source", "b/k" } }, DENY,
      false, false },
    { "v09a_recipe_create_upload_with_aws_kms", R, NULL, ROOT,
      "s3:PutObject", OBJ, { { SSE, "aws:kms" } }, NM, false, false },
    { "v09b_recipe_create_upload_without_header", R, NULL, ROOT,
      "s3:PutObject", OBJ, { { NULL, NULL } }, DENY, false, false },
    { "v10a_recipe_upload_part_uses_create_headers", R, NULL, ROOT,
      "s3:PutObject", OBJ, { { SSE, "aws:kms" } }, NM, false, false },
    { "v10b_recipe_complete_uses_create_headers", R, NULL, ROOT,
      "s3:PutObject", OBJ, { { SSE, "aws:kms" }, { KMSID, KEY_ARN } }, NM,
      false, false },
    { "v11a_recipe_leaves_get_object_alone", R, NULL, ROOT, "s3:GetObject",
      OBJ, { { NULL, NULL } }, NM, false, false },
    { "v11b_recipe_leaves_other_bucket_alone", R, NULL, ROOT,
      "s3:PutObject", "arn:aws:s3:::c/k", { { NULL, NULL } }, NM, false,
      false },
    { "v12_recipe_anonymous_is_implicitly_denied", R, NULL, ANON,
      "s3:PutObject", OBJ, { { SSE, "aws:kms" } }, IMPL, false, false },
    { "v13a_recipe_user_with_identity_allow", R, ID_PUT, ALICE,
      "s3:PutObject", OBJ, { { SSE, "aws:kms" } }, ALLOW, false, false },
    { "v13b_recipe_user_without_header_denied", R, ID_PUT, ALICE,
      "s3:PutObject", OBJ, { { NULL, NULL } }, DENY, false, false },
    { "v14_condition_key_names_ignore_case",
      DENY_PUT("'StringNotEquals':{'S3:X-Amz-Server-Side-Encryption':"
               "'aws:kms'}"), NULL, ROOT, "s3:PutObject", OBJ,
      { { NULL, NULL } }, DENY, false, false },
    { "v15a_null_true_denies_missing_header",
      DENY_PUT("'Null':{'" SSE "':'true'}"), NULL, ROOT, "s3:PutObject",
      OBJ, { { NULL, NULL } }, DENY, false, false },
    { "v15b_null_true_passes_present_header",
      DENY_PUT("'Null':{'" SSE "':'true'}"), NULL, ROOT, "s3:PutObject",
      OBJ, { { SSE, "AES256" } }, NM, false, false },
    { "v16a_null_false_passes_missing_header",
      DENY_PUT("'Null':{'" SSE "':'false'}"), NULL, ROOT, "s3:PutObject",
      OBJ, { { NULL, NULL } }, NM, false, false },
    { "v16b_null_false_denies_present_header",
      DENY_PUT("'Null':{'" SSE "':'false'}"), NULL, ROOT, "s3:PutObject",
      OBJ, { { SSE, "aws:kms" } }, DENY, false, false },
    { "v17_not_equals_if_exists_denies_missing_header",
      DENY_PUT("'StringNotEqualsIfExists':{'" SSE "':'aws:kms'}"), NULL,
      ROOT, "s3:PutObject", OBJ, { { NULL, NULL } }, DENY, false, false },
    { "v18_equals_if_exists_allows_missing_header",
      ALLOW_TO("'*'", "s3:PutObject", "arn:aws:s3:::b/*",
               ",'Condition':{'StringEqualsIfExists':{'" SSE "':'aws:kms'}}"),
      NULL, ANON, "s3:PutObject", OBJ, { { NULL, NULL } }, ALLOW, false,
      false },
    { "v19_equals_fails_on_missing_header",
      ALLOW_TO("'*'", "s3:PutObject", "arn:aws:s3:::b/*",
               ",'Condition':{'StringEquals':{'" SSE "':'aws:kms'}}"),
      NULL, ANON, "s3:PutObject", OBJ, { { NULL, NULL } }, IMPL, false,
      false },
    { "v20_not_equals_ignore_case_folds_value",
      DENY_PUT("'StringNotEqualsIgnoreCase':{'" SSE "':'aws:kms'}"), NULL,
      ROOT, "s3:PutObject", OBJ, { { SSE, "AWS:KMS" } }, NM, false, false },
    { "v21a_not_equals_list_is_nor_listed_value",
      DENY_PUT("'StringNotEquals':{'" SSE "':['aws:kms','AES256']}"), NULL,
      ROOT, "s3:PutObject", OBJ, { { SSE, "AES256" } }, NM, false, false },
    { "v21b_not_equals_list_missing_header",
      DENY_PUT("'StringNotEquals':{'" SSE "':['aws:kms','AES256']}"), NULL,
      ROOT, "s3:PutObject", OBJ, { { NULL, NULL } }, DENY, false, false },
    { "v22a_secure_transport_false_denies_http",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:*','Resource':["
      "'arn:aws:s3:::b','arn:aws:s3:::b/*'],'Condition':{'Bool':"
      "{'aws:SecureTransport':'false'}}}" END, NULL, ROOT, "s3:GetObject",
      OBJ, { { "aws:SecureTransport", "false" } }, DENY, false, false },
    { "v22b_secure_transport_false_passes_https",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:*','Resource':["
      "'arn:aws:s3:::b','arn:aws:s3:::b/*'],'Condition':{'Bool':"
      "{'aws:SecureTransport':'false'}}}" END, NULL, ROOT, "s3:GetObject",
      OBJ, { { "aws:SecureTransport", "true" } }, NM, false, false },
    { "v23a_ip_range_allows_inside",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/*",
               ",'Condition':{'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}}"),
      NULL, ANON, "s3:GetObject", OBJ, { { "aws:SourceIp", "10.1.2.3" } },
      ALLOW, false, false },
    { "v23b_ip_range_refuses_outside",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/*",
               ",'Condition':{'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}}"),
      NULL, ANON, "s3:GetObject", OBJ, { { "aws:SourceIp", "127.0.0.1" } },
      IMPL, false, false },
    { "v24_ipv6_caller_is_outside_ipv4_range",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:GetObject',"
      "'Resource':'arn:aws:s3:::b/*','Condition':{'NotIpAddress':"
      "{'aws:SourceIp':'127.0.0.0/8'}}}" END, NULL, ROOT, "s3:GetObject",
      OBJ, { { "aws:SourceIp", "::1" } }, DENY, false, false },
    { "v25a_bare_address_is_one_host",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/*",
               ",'Condition':{'IpAddress':{'aws:SourceIp':'203.0.113.5'}}"),
      NULL, ANON, "s3:GetObject", OBJ, { { "aws:SourceIp", "203.0.113.5" } },
      ALLOW, false, false },
    { "v25b_bare_address_excludes_neighbour",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/*",
               ",'Condition':{'IpAddress':{'aws:SourceIp':'203.0.113.5'}}"),
      NULL, ANON, "s3:GetObject", OBJ, { { "aws:SourceIp", "203.0.113.6" } },
      IMPL, false, false },
    { "v26_date_less_than_future_allows",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/*",
               ",'Condition':{'DateLessThan':{'aws:CurrentTime':"
               "'2030-01-01T00:00:00Z'}}"),
      NULL, ANON, "s3:GetObject", OBJ,
      { { "aws:CurrentTime", "2026-12-04T15:19:17Z" } }, ALLOW, false,
      false },
    { "v27_numeric_less_than_past_epoch_refuses",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/*",
               ",'Condition':{'NumericLessThan':{'aws:EpochTime':"
               "1700000000}}"),
      NULL, ANON, "s3:GetObject", OBJ, { { "aws:EpochTime", "1796397557" } },
      IMPL, false, false },
    { "v28a_prefix_like_empty_string",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:ListBucket", BKT,
               ",'Condition':{'StringLike':{'s3:prefix':['','home/']}}"),
      NULL, ALICE, "s3:ListBucket", BKT, { { "s3:prefix", "" } }, ALLOW,
      false, false },
    { "v28b_prefix_like_home",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:ListBucket", BKT,
               ",'Condition':{'StringLike':{'s3:prefix':['','home/']}}"),
      NULL, ALICE, "s3:ListBucket", BKT, { { "s3:prefix", "home/" } }, ALLOW,
      false, false },
    { "v28c_prefix_like_other_refused",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:ListBucket", BKT,
               ",'Condition':{'StringLike':{'s3:prefix':['','home/']}}"),
      NULL, ALICE, "s3:ListBucket", BKT, { { "s3:prefix", "tmp/" } }, IMPL,
      false, false },
    { "v29a_max_keys_within_limit",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:ListBucket", BKT,
               ",'Condition':{'NumericLessThanEquals':{'s3:max-keys':'10'}}"),
      NULL, ALICE, "s3:ListBucket", BKT, { { "s3:max-keys", "5" } }, ALLOW,
      false, false },
    { "v29b_max_keys_not_sent_refused",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:ListBucket", BKT,
               ",'Condition':{'NumericLessThanEquals':{'s3:max-keys':'10'}}"),
      NULL, ALICE, "s3:ListBucket", BKT, { { NULL, NULL } }, IMPL, false,
      false },
    { "v29c_max_keys_default_1000_refused",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:ListBucket", BKT,
               ",'Condition':{'NumericLessThanEquals':{'s3:max-keys':'10'}}"),
      NULL, ALICE, "s3:ListBucket", BKT, { { "s3:max-keys", "1000" } }, IMPL,
      false, false },
    { "v30a_arn_like_principal_arn_hits_users",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:*','Resource':["
      "'arn:aws:s3:::b','arn:aws:s3:::b/*'],'Condition':{'ArnLike':"
      "{'aws:PrincipalArn':'arn:aws:iam::*:user/*'}}}" END, ID_PUT, ALICE,
      "s3:PutObject", OBJ, { { NULL, NULL } }, DENY, false, false },
    { "v30b_arn_like_principal_arn_spares_root",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:*','Resource':["
      "'arn:aws:s3:::b','arn:aws:s3:::b/*'],'Condition':{'ArnLike':"
      "{'aws:PrincipalArn':'arn:aws:iam::*:user/*'}}}" END, NULL, ROOT,
      "s3:PutObject", OBJ, { { NULL, NULL } }, NM, false, false },
    { "v31a_for_any_value_hits_one_tag_key",
      DENY_PUT("'ForAnyValue:StringEquals':{'s3:RequestObjectTagKeys':"
               "['secret']}"), NULL, ROOT, "s3:PutObject", OBJ,
      { { "s3:RequestObjectTagKeys", "a" },
        { "s3:RequestObjectTagKeys", "secret" } }, DENY, false, false },
    { "v31b_for_any_value_false_without_tags",
      DENY_PUT("'ForAnyValue:StringEquals':{'s3:RequestObjectTagKeys':"
               "['secret']}"), NULL, ROOT, "s3:PutObject", OBJ,
      { { NULL, NULL } }, NM, false, false },
    { "v32a_for_all_values_listed_key",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:PutObject", "arn:aws:s3:::b/*",
               ",'Condition':{'ForAllValues:StringEquals':"
               "{'s3:RequestObjectTagKeys':['a','b']}}"),
      NULL, ALICE, "s3:PutObject", OBJ,
      { { "s3:RequestObjectTagKeys", "a" } }, ALLOW, false, false },
    { "v32b_for_all_values_true_without_tags",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:PutObject", "arn:aws:s3:::b/*",
               ",'Condition':{'ForAllValues:StringEquals':"
               "{'s3:RequestObjectTagKeys':['a','b']}}"),
      NULL, ALICE, "s3:PutObject", OBJ, { { NULL, NULL } }, ALLOW, false,
      false },
    { "v32c_for_all_values_unlisted_key_refused",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:PutObject", "arn:aws:s3:::b/*",
               ",'Condition':{'ForAllValues:StringEquals':"
               "{'s3:RequestObjectTagKeys':['a','b']}}"),
      NULL, ALICE, "s3:PutObject", OBJ,
      { { "s3:RequestObjectTagKeys", "c" } }, IMPL, false, false },
    { "v33a_existing_object_tag_matches",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/*",
               ",'Condition':{'StringEquals':{'s3:ExistingObjectTag/class':"
               "'public'}}"),
      NULL, ANON, "s3:GetObject", OBJ,
      { { "s3:ExistingObjectTag/class", "public" } }, ALLOW, false, false },
    { "v33b_existing_object_tag_untagged_refused",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/*",
               ",'Condition':{'StringEquals':{'s3:ExistingObjectTag/class':"
               "'public'}}"),
      NULL, ANON, "s3:GetObject", OBJ, { { NULL, NULL } }, IMPL, false,
      false },
    { "v34a_username_variable_in_resource",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:GetObject",
               "arn:aws:s3:::b/home/${aws:username}/*", ""),
      NULL, ALICE, "s3:GetObject", "arn:aws:s3:::b/home/alice/x",
      { { NULL, NULL } }, ALLOW, false, false },
    { "v34b_username_variable_other_home_refused",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:GetObject",
               "arn:aws:s3:::b/home/${aws:username}/*", ""),
      NULL, ALICE, "s3:GetObject", "arn:aws:s3:::b/home/bob/x",
      { { NULL, NULL } }, IMPL, false, false },
    { "v35_variables_are_literal_under_2008",
      V08 "{'Effect':'Allow','Principal':{'AWS':'" U_ARN "'},"
      "'Action':'s3:GetObject','Resource':"
      "'arn:aws:s3:::b/home/${aws:username}/*'}" END,
      NULL, ALICE, "s3:GetObject", "arn:aws:s3:::b/home/alice/x",
      { { NULL, NULL } }, IMPL, false, false },
    { "v36a_escaped_star_is_literal",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/a${*}b", ""),
      NULL, ANON, "s3:GetObject", "arn:aws:s3:::b/a*b", { { NULL, NULL } },
      ALLOW, false, false },
    { "v36b_escaped_star_is_not_a_wildcard",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/a${*}b", ""),
      NULL, ANON, "s3:GetObject", "arn:aws:s3:::b/axb", { { NULL, NULL } },
      IMPL, false, false },
    { "v37_deny_beats_allow",
      V12 "{'Effect':'Allow','Principal':'*','Action':'s3:GetObject',"
      "'Resource':'arn:aws:s3:::b/*'},{'Effect':'Deny','Principal':'*',"
      "'Action':'s3:GetObject','Resource':'arn:aws:s3:::b/*'}" END,
      NULL, ANON, "s3:GetObject", OBJ, { { NULL, NULL } }, DENY, false,
      false },
    { "v38a_root_keeps_put_bucket_policy_under_deny_all",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:*','Resource':["
      "'arn:aws:s3:::b','arn:aws:s3:::b/*']}" END, NULL, ROOT,
      "s3:PutBucketPolicy", BKT, { { NULL, NULL } }, EXEMPT, false, false },
    { "v38b_root_denied_get_object_under_deny_all",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:*','Resource':["
      "'arn:aws:s3:::b','arn:aws:s3:::b/*']}" END, NULL, ROOT,
      "s3:GetObject", OBJ, { { NULL, NULL } }, DENY, false, false },
    { "v39a_not_principal_denies_others",
      V12 "{'Effect':'Deny','NotPrincipal':{'AWS':'arn:aws:iam::" ACCT
      ":user/admin'},'Action':'s3:DeleteObject','Resource':"
      "'arn:aws:s3:::b/*'}" END, NULL, ALICE, "s3:DeleteObject", OBJ,
      { { NULL, NULL } }, DENY, false, false },
    { "v39b_not_principal_spares_listed",
      V12 "{'Effect':'Deny','NotPrincipal':{'AWS':'arn:aws:iam::" ACCT
      ":user/admin'},'Action':'s3:DeleteObject','Resource':"
      "'arn:aws:s3:::b/*'}" END, NULL, ADMIN, "s3:DeleteObject", OBJ,
      { { NULL, NULL } }, NM, false, false },
    { "v40a_not_action_hits_other_actions",
      V12 "{'Effect':'Deny','Principal':'*','NotAction':'s3:GetObject',"
      "'Resource':'arn:aws:s3:::b/*'}" END, NULL, ROOT, "s3:PutObject", OBJ,
      { { NULL, NULL } }, DENY, false, false },
    { "v40b_not_action_spares_listed",
      V12 "{'Effect':'Deny','Principal':'*','NotAction':'s3:GetObject',"
      "'Resource':'arn:aws:s3:::b/*'}" END, NULL, ROOT, "s3:GetObject", OBJ,
      { { NULL, NULL } }, NM, false, false },
    { "v41a_not_resource_hits_other_keys",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:GetObject',"
      "'NotResource':'arn:aws:s3:::b/public/*'}" END, NULL, ROOT,
      "s3:GetObject", "arn:aws:s3:::b/secret/x", { { NULL, NULL } }, DENY,
      false, false },
    { "v41b_not_resource_spares_listed",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:GetObject',"
      "'NotResource':'arn:aws:s3:::b/public/*'}" END, NULL, ROOT,
      "s3:GetObject", "arn:aws:s3:::b/public/x", { { NULL, NULL } }, NM,
      false, false },
    { "v42_actions_ignore_case",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "S3:getobject", "arn:aws:s3:::b/*",
               ""),
      NULL, ALICE, "s3:GetObject", OBJ, { { NULL, NULL } }, ALLOW, false,
      false },
    { "v43_objects_pattern_misses_bucket",
      NULL, "{'Version':'2012-10-17','Statement':{'Effect':'Allow',"
      "'Action':'s3:ListBucket','Resource':'arn:aws:s3:::b/*'}}", ALICE,
      "s3:ListBucket", BKT, { { NULL, NULL } }, IMPL, false, false },
    { "v44a_question_mark_is_one_character",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:GetObject",
               "arn:aws:s3:::b/?.txt", ""),
      NULL, ALICE, "s3:GetObject", "arn:aws:s3:::b/1.txt",
      { { NULL, NULL } }, ALLOW, false, false },
    { "v44b_question_mark_not_two_characters",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:GetObject",
               "arn:aws:s3:::b/?.txt", ""),
      NULL, ALICE, "s3:GetObject", "arn:aws:s3:::b/10.txt",
      { { NULL, NULL } }, IMPL, false, false },
    { "v45a_keys_under_one_operator_are_anded_user",
      DENY_PUT("'StringEquals':{'s3:x-amz-acl':'public-read',"
               "'aws:PrincipalType':'User'}"), ID_PUT, ALICE, "s3:PutObject",
      OBJ, { { "s3:x-amz-acl", "public-read" } }, DENY, false, false },
    { "v45b_keys_under_one_operator_are_anded_root",
      DENY_PUT("'StringEquals':{'s3:x-amz-acl':'public-read',"
               "'aws:PrincipalType':'User'}"), NULL, ROOT, "s3:PutObject",
      OBJ, { { "s3:x-amz-acl", "public-read" } }, NM, false, false },
    { "v46_unknown_global_key_is_absent",
      DENY_PUT("'StringNotEquals':{'aws:Foo':'x'}"), NULL, ROOT,
      "s3:PutObject", OBJ, { { SSE, "aws:kms" } }, DENY, false, false },
    { "v47a_account_principal_delegates_to_users",
      ALLOW_TO("{'AWS':'" ACCT "'}", "s3:GetObject", "arn:aws:s3:::b/*", ""),
      NULL, ALICE, "s3:GetObject", OBJ, { { NULL, NULL } }, IMPL, false,
      false },
    { "v47b_account_principal_allows_root",
      ALLOW_TO("{'AWS':'" ACCT "'}", "s3:GetObject", "arn:aws:s3:::b/*", ""),
      NULL, ROOT, "s3:GetObject", OBJ, { { NULL, NULL } }, ALLOW, false,
      false },
    { "v48_user_principal_allows_directly",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:GetObject", "arn:aws:s3:::b/*",
               ""),
      NULL, ALICE, "s3:GetObject", OBJ, { { NULL, NULL } }, ALLOW, false,
      false },
    { "v49a_kms_key_id_arn_matches",
      DENY_PUT("'StringNotEquals':{'" KMSID "':'" KEY_ARN "'}"), NULL, ROOT,
      "s3:PutObject", OBJ, { { SSE, "aws:kms" }, { KMSID, KEY_ARN } }, NM,
      false, false },
    { "v49b_kms_key_id_bare_id_denied",
      DENY_PUT("'StringNotEquals':{'" KMSID "':'" KEY_ARN "'}"), NULL, ROOT,
      "s3:PutObject", OBJ, { { SSE, "aws:kms" }, { KMSID, KEY_ID } }, DENY,
      false, false },
    { "v49c_kms_key_id_missing_denied",
      DENY_PUT("'StringNotEquals':{'" KMSID "':'" KEY_ARN "'}"), NULL, ROOT,
      "s3:PutObject", OBJ, { { SSE, "aws:kms" } }, DENY, false, false },
    { "v50a_user_may_put_object",
      NULL, ID_PUT, ALICE, "s3:PutObject", OBJ, { { SSE, "aws:kms" } },
      ALLOW, false, false },
    { "v50b_user_needs_kms_permission_under_default_key_policy",
      DEFAULT_KEY_POLICY, ID_PUT, ALICE, "kms:GenerateDataKey", KEY_ARN,
      { { "kms:ViaService", "s3.us-east-1.amazonaws.com" },
        { "kms:EncryptionContext:aws:s3:arn", OBJ } }, IMPL, true, false },
    { "v51a_key_policy_via_service_allows_s3",
      VIA_S3_KEY_POLICY, NULL, ALICE, "kms:GenerateDataKey", KEY_ARN,
      { { "kms:ViaService", "s3.us-east-1.amazonaws.com" } }, ALLOW, true,
      false },
    { "v51b_key_policy_via_service_refuses_direct",
      VIA_S3_KEY_POLICY, NULL, ALICE, "kms:GenerateDataKey", KEY_ARN,
      { { NULL, NULL } }, IMPL, true, false },
};

/* Decisions beyond the vectors: §3 cross-account and §9 paths. */
static const struct evcase decisions[] = {
    { "s3_owner_root_allowed_without_policies", NULL, NULL, ROOT,
      "s3:DeleteBucket", BKT, { { NULL, NULL } }, NM, false, false },
    { "s3_user_without_any_allow_denied", NULL, NULL, ALICE,
      "s3:GetObject", OBJ, { { NULL, NULL } }, IMPL, false, false },
    { "s3_anonymous_without_policy_denied", NULL, NULL, ANON,
      "s3:GetObject", OBJ, { { NULL, NULL } }, IMPL, false, false },
    { "s3_identity_deny_beats_bucket_allow",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:GetObject", "arn:aws:s3:::b/*",
               ""),
      "{'Statement':{'Effect':'Deny','Action':'s3:*','Resource':'*'}}",
      ALICE, "s3:GetObject", OBJ, { { NULL, NULL } }, DENY, false, false },
    { "s3_lockout_exemption_only_for_root",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:*','Resource':"
      "'arn:aws:s3:::b'}" END, "{'Statement':{'Effect':'Allow','Action':"
      "'s3:*','Resource':'*'}}", ALICE, "s3:PutBucketPolicy", BKT,
      { { NULL, NULL } }, DENY, false, false },
    { "s3_lockout_exemption_covers_delete_bucket_policy",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:*','Resource':"
      "'arn:aws:s3:::b'}" END, NULL, ROOT, "s3:DeleteBucketPolicy", BKT,
      { { NULL, NULL } }, EXEMPT, false, false },
    { "s3_other_account_root_through_account_principal",
      ALLOW_TO("{'AWS':'" OTHER "'}", "s3:GetObject", "arn:aws:s3:::b/*",
               ""),
      NULL, OROOT, "s3:GetObject", OBJ, { { NULL, NULL } }, ALLOW, false,
      false },
    { "s3_other_account_user_needs_identity_allow",
      ALLOW_TO("{'AWS':'arn:aws:iam::" OTHER ":user/carol'}",
               "s3:GetObject", "arn:aws:s3:::b/*", ""),
      NULL, CAROL, "s3:GetObject", OBJ, { { NULL, NULL } }, IMPL, false,
      false },
    { "s3_other_account_user_with_both_allows",
      ALLOW_TO("{'AWS':'" OTHER "'}", "s3:GetObject", "arn:aws:s3:::b/*",
               ""),
      "{'Statement':{'Effect':'Allow','Action':'s3:GetObject',"
      "'Resource':'arn:aws:s3:::b/*'}}", CAROL, "s3:GetObject", OBJ,
      { { NULL, NULL } }, ALLOW, false, false },
    { "s3_other_account_identity_alone_is_not_enough", NULL,
      "{'Statement':{'Effect':'Allow','Action':'s3:GetObject',"
      "'Resource':'*'}}", CAROL, "s3:GetObject", OBJ, { { NULL, NULL } },
      IMPL, false, false },
    { "s3_other_account_root_without_bucket_policy", NULL, NULL, OROOT,
      "s3:GetObject", OBJ, { { NULL, NULL } }, IMPL, false, false },
    { "s3_star_principal_allows_users_directly",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/*", ""), NULL, ALICE,
      "s3:GetObject", OBJ, { { NULL, NULL } }, ALLOW, false, false },
    { "s3_anonymous_not_in_account_principal",
      ALLOW_TO("{'AWS':'" ACCT "'}", "s3:GetObject", "arn:aws:s3:::b/*", ""),
      NULL, ANON, "s3:GetObject", OBJ, { { NULL, NULL } }, IMPL, false,
      false },
    { "s3_deny_naming_account_hits_its_users",
      V12 "{'Effect':'Deny','Principal':{'AWS':'arn:aws:iam::" ACCT
      ":root'},'Action':'s3:GetObject','Resource':'arn:aws:s3:::b/*'}" END,
      ID_PUT, ALICE, "s3:GetObject", OBJ, { { NULL, NULL } }, DENY, false,
      false },
    { "s3_get_object_version_is_its_own_action",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/*", ""), NULL, ANON,
      "s3:GetObjectVersion", OBJ, { { NULL, NULL } }, IMPL, false, false },
    { "kms_default_policy_allows_root", DEFAULT_KEY_POLICY, NULL, ROOT,
      "kms:Decrypt", KEY_ARN, { { NULL, NULL } }, ALLOW, true, false },
    { "kms_default_policy_defers_to_identity", DEFAULT_KEY_POLICY,
      "{'Statement':{'Effect':'Allow','Action':'kms:Decrypt',"
      "'Resource':'" KEY_ARN "'}}", ALICE, "kms:Decrypt", KEY_ARN,
      { { NULL, NULL } }, ALLOW, true, false },
    { "kms_identity_resource_must_name_the_key", DEFAULT_KEY_POLICY,
      "{'Statement':{'Effect':'Allow','Action':'kms:Decrypt',"
      "'Resource':'arn:aws:kms:us-east-1:" ACCT ":key/other'}}", ALICE,
      "kms:Decrypt", KEY_ARN, { { NULL, NULL } }, IMPL, true, false },
    { "kms_root_needs_key_policy_naming_account", VIA_S3_KEY_POLICY, NULL,
      ROOT, "kms:Decrypt", KEY_ARN, { { NULL, NULL } }, IMPL, true, false },
    { "kms_identity_ignored_without_account_statement", VIA_S3_KEY_POLICY,
      "{'Statement':{'Effect':'Allow','Action':'kms:*','Resource':'*'}}",
      ALICE, "kms:Decrypt", KEY_ARN, { { NULL, NULL } }, IMPL, true, false },
    { "kms_grant_adds_an_allow", VIA_S3_KEY_POLICY, NULL, ALICE,
      "kms:Decrypt", KEY_ARN, { { NULL, NULL } }, ALLOW, true, true },
    { "kms_deny_beats_grant",
      V12 "{'Effect':'Deny','Principal':'*','Action':'kms:Decrypt',"
      "'Resource':'*'}" END, NULL, ALICE, "kms:Decrypt", KEY_ARN,
      { { NULL, NULL } }, DENY, true, true },
    { "kms_deny_in_key_policy_hits_root",
      V12 "{'Effect':'Allow','Principal':{'AWS':'" ACCT "'},'Action':"
      "'kms:*','Resource':'*'},{'Effect':'Deny','Principal':'*','Action':"
      "'kms:ScheduleKeyDeletion','Resource':'*'}" END, NULL, ROOT,
      "kms:ScheduleKeyDeletion", KEY_ARN, { { NULL, NULL } }, DENY, true,
      false },
    { "kms_keyless_operation_root", NULL, NULL, ROOT, "kms:CreateKey", "*",
      { { NULL, NULL } }, ALLOW, true, false },
    { "kms_keyless_operation_user_with_identity", NULL,
      "{'Statement':{'Effect':'Allow','Action':'kms:List*','Resource':"
      "'*'}}", ALICE, "kms:ListKeys", "*", { { NULL, NULL } }, ALLOW, true,
      false },
    { "kms_keyless_operation_user_without_identity", NULL, NULL, ALICE,
      "kms:GenerateRandom", "*", { { NULL, NULL } }, IMPL, true, false },
    { "kms_key_operation_without_key_policy_denied", NULL, NULL, ROOT,
      "kms:Decrypt", KEY_ARN, { { NULL, NULL } }, IMPL, true, false },
    { "kms_encryption_context_condition",
      V12 "{'Effect':'Allow','Principal':{'AWS':'" U_ARN "'},'Action':"
      "'kms:Decrypt','Resource':'*','Condition':{'StringEquals':"
      "{'kms:EncryptionContext:AWS:S3:ARN':'arn:aws:s3:::b/k'}}}" END,
      NULL, ALICE, "kms:Decrypt", KEY_ARN,
      { { "kms:encryptioncontext:aws:s3:arn", OBJ } }, ALLOW, true, false },
    { "kms_caller_account_condition",
      V12 "{'Effect':'Allow','Principal':{'AWS':'*'},'Action':"
      "['kms:Encrypt','kms:Decrypt','kms:ReEncrypt*','kms:GenerateDataKey*',"
      "'kms:DescribeKey'],'Resource':'*','Condition':{'StringEquals':"
      "{'kms:CallerAccount':'" ACCT "','kms:ViaService':"
      "'s3.us-east-1.amazonaws.com'}}}" END, NULL, ALICE,
      "kms:GenerateDataKey", KEY_ARN,
      { { "kms:CallerAccount", ACCT },
        { "kms:ViaService", "s3.us-east-1.amazonaws.com" } }, ALLOW, true,
      false },
};

/* The request context of a case: the row's keys, nothing else. */
static struct policy_ctx *
case_ctx(const struct kv *kv)
{
    struct policy_ctx *c = policy_ctx_new();
    size_t i;

    assert_non_null(c);
    for (i = 0; i < 8 && kv[i].k != NULL; i++)
        assert_int_equal(policy_ctx_add(c, kv[i].k, kv[i].v), 0);
    return c;
}

static void
run_evcase(void **state)
{
    const struct evcase *t = *state;
    struct policy *res = NULL, *id = NULL;
    const struct policy *ids[1];
    struct policy_request r;
    enum policy_result er = POLICY_NO_MATCH, ir = POLICY_NO_MATCH, dec;

    if (t->policy != NULL)
        res = must_parse(t->policy, t->kms ? POLICY_KEY : POLICY_BUCKET);
    if (t->identity != NULL)
        id = must_parse(t->identity, POLICY_IDENTITY);
    ids[0] = id;
    r.principal = &principals[t->who];
    r.action = t->action;
    r.resource = t->resource;
    r.ctx = case_ctx(t->ctx);

    er = policy_eval(res, &r);
    ir = policy_eval(id, &r);
    if (t->kms)
        dec = policy_decide_kms(res, ids, id != NULL, t->grant, &r);
    else
        dec = policy_decide_s3(res, ids, id != NULL, ACCT, &r);

    switch (t->expect) {
    case DENY:
        assert_true(er == POLICY_DENY || ir == POLICY_DENY);
        assert_int_equal(dec, POLICY_DENY);
        break;
    case IMPL:
        assert_true(er != POLICY_DENY && ir != POLICY_DENY);
        assert_int_equal(dec, POLICY_DENY);
        break;
    case NM:
        assert_int_equal(er, POLICY_NO_MATCH);
        assert_int_equal(dec, t->who == ROOT ? POLICY_ALLOW : POLICY_DENY);
        break;
    case ALLOW:
        assert_true(er != POLICY_DENY && ir != POLICY_DENY);
        assert_int_equal(dec, POLICY_ALLOW);
        break;
    case EXEMPT:
        assert_int_equal(er, POLICY_DENY);
        assert_int_equal(dec, POLICY_ALLOW);
        break;
    }
    policy_ctx_free((struct policy_ctx *)r.ctx);
    policy_free(res);
    policy_free(id);
}

/* ------------------------------------------------------------------ */
/* Parse faults: policy.md §8 and §9, ruling 15                        */

struct fault {
    const char *name;
    enum policy_kind kind;
    const char *text;
    int code;
    const char *message;        /* exact d->message */
};

#define MP CERR_MALFORMED_POLICY
#define NI CERR_NOT_IMPLEMENTED

/* One bucket-policy statement with the given members. */
#define ST(m) "{'Version':'2012-10-17','Statement':[{" m "}]}"
#define EPA "'Effect':'Allow','Principal':'*','Action':'s3:GetObject',"
#define GET_B EPA "'Resource':'arn:aws:s3:::b/*'"

static const struct fault faults[] = {
    { "fault_first_byte_not_brace", POLICY_BUCKET, "[{}]", MP,
      "Policies must be valid JSON and the first byte must be '{'" },
    { "fault_first_byte_file_name", POLICY_BUCKET, "policy.json", MP,
      "Policies must be valid JSON and the first byte must be '{'" },
    { "fault_empty_document", POLICY_BUCKET, "", MP,
      "Policies must be valid JSON and the first byte must be '{'" },
    { "fault_truncated_json", POLICY_BUCKET, "{'Version':", MP,
      "This policy contains invalid Json" },
    { "fault_trailing_garbage", POLICY_BUCKET, ST(GET_B) "x", MP,
      "This policy contains invalid Json" },
    { "fault_duplicate_member", POLICY_BUCKET,
      ST(GET_B ",'Effect':'Deny'"), MP, "This policy contains invalid Json" },
    { "fault_bad_version", POLICY_BUCKET,
      "{'Version':'2012-10-18','Statement':[{" GET_B "}]}", MP,
      "The policy must contain a valid version string" },
    { "fault_version_not_string", POLICY_BUCKET,
      "{'Version':2012,'Statement':[{" GET_B "}]}", MP,
      "The policy must contain a valid version string" },
    { "fault_no_statement", POLICY_BUCKET, "{'Version':'2012-10-17'}", MP,
      "Missing required field Statement" },
    { "fault_empty_statement", POLICY_BUCKET,
      "{'Version':'2012-10-17','Statement':[]}", MP,
      "Could not parse the policy: Statement is empty!" },
    { "fault_statement_wrong_type", POLICY_BUCKET,
      "{'Statement':'x'}", MP,
      "Could not parse the policy: Statement must be an object or a list" },
    { "fault_statement_element_not_object", POLICY_BUCKET,
      "{'Statement':['x']}", MP,
      "Could not parse the policy: Statement must be an object" },
    { "fault_unknown_top_member", POLICY_BUCKET,
      "{'Statement':[{" GET_B "}],'Foo':1}", MP,
      "Could not parse the policy: Unknown field Foo" },
    { "fault_id_not_string", POLICY_BUCKET,
      "{'Id':5,'Statement':[{" GET_B "}]}", MP,
      "Could not parse the policy: Id must be a string" },
    { "fault_unknown_statement_member", POLICY_BUCKET,
      ST(GET_B ",'Actions':'s3:GetObject'"), MP,
      "Could not parse the policy: Unknown field Actions" },
    { "fault_action_and_not_action", POLICY_BUCKET,
      ST(GET_B ",'NotAction':'s3:PutObject'"), MP,
      "Could not parse the policy: Statement has both Action and NotAction" },
    { "fault_missing_effect", POLICY_BUCKET,
      ST("'Principal':'*','Action':'s3:GetObject','Resource':"
         "'arn:aws:s3:::b/*'"), MP, "Missing required field Effect" },
    { "fault_missing_principal", POLICY_BUCKET,
      ST("'Effect':'Allow','Action':'s3:GetObject','Resource':"
         "'arn:aws:s3:::b/*'"), MP, "Missing required field Principal" },
    { "fault_missing_action", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'*','Resource':'arn:aws:s3:::b/*'"),
      MP, "Missing required field Action" },
    { "fault_missing_resource", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'*','Action':'s3:GetObject'"), MP,
      "Missing required field Resource" },
    { "fault_effect_wrong_case", POLICY_BUCKET,
      ST("'Effect':'allow','Principal':'*','Action':'s3:GetObject',"
         "'Resource':'arn:aws:s3:::b/*'"), MP, "Invalid effect: allow" },
    { "fault_sid_not_string", POLICY_BUCKET, ST("'Sid':1," GET_B), MP,
      "Could not parse the policy: Sid must be a string" },
    { "fault_principal_partial_wildcard_account", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::*:root'},"
         "'Action':'s3:GetObject','Resource':'arn:aws:s3:::b/*'"), MP,
      "Invalid principal in policy" },
    { "fault_principal_partial_wildcard_user", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::" ACCT
         ":user/*'},'Action':'s3:GetObject','Resource':'arn:aws:s3:::b/*'"),
      MP, "Invalid principal in policy" },
    { "fault_principal_bare_string", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'alice','Action':'s3:GetObject',"
         "'Resource':'arn:aws:s3:::b/*'"), MP, "Invalid principal in policy" },
    { "fault_principal_short_account", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':{'AWS':'12345'},'Action':"
         "'s3:GetObject','Resource':'arn:aws:s3:::b/*'"), MP,
      "Invalid principal in policy" },
    { "fault_principal_role_unknown_to_coffer", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::" ACCT
         ":role/x'},'Action':'s3:GetObject','Resource':'arn:aws:s3:::b/*'"),
      MP, "Invalid principal in policy" },
    { "fault_principal_unknown_kind", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':{'Users':'x'},'Action':"
         "'s3:GetObject','Resource':'arn:aws:s3:::b/*'"), MP,
      "Invalid principal in policy" },
    { "fault_principal_empty_list", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':{'AWS':[]},'Action':"
         "'s3:GetObject','Resource':'arn:aws:s3:::b/*'"), MP,
      "Invalid principal in policy" },
    { "fault_canonical_user_not_implemented", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':{'CanonicalUser':'79a59df900b949e5"
         "5d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be'},'Action':"
         "'s3:GetObject','Resource':'arn:aws:s3:::b/*'"), NI,
      "CanonicalUser principals are not implemented" },
    { "fault_unknown_action", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'*','Action':'s3:Fly',"
         "'Resource':'arn:aws:s3:::b/*'"), MP,
      "Policy has invalid action: s3:Fly" },
    { "fault_action_not_s3", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'*','Action':'kms:Decrypt',"
         "'Resource':'arn:aws:s3:::b/*'"), MP,
      "Policy has invalid action: kms:Decrypt" },
    { "fault_action_other_service", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'*','Action':'iam:CreateUser',"
         "'Resource':'arn:aws:s3:::b/*'"), MP,
      "Policy has invalid action: iam:CreateUser" },
    { "fault_action_wildcard_matches_nothing", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'*','Action':'s3:Fly*',"
         "'Resource':'arn:aws:s3:::b/*'"), MP,
      "Policy has invalid action: s3:Fly*" },
    { "fault_action_without_name", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'*','Action':'s3:',"
         "'Resource':'arn:aws:s3:::b/*'"), MP,
      "Policy has invalid action: s3:" },
    { "fault_action_not_string", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'*','Action':['s3:GetObject',3],"
         "'Resource':'arn:aws:s3:::b/*'"), MP,
      "Could not parse the policy: Action must be a string or a non-empty "
      "list of strings" },
    { "fault_action_unserved_not_implemented", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'*','Action':'s3:getobjectacl',"
         "'Resource':'arn:aws:s3:::b/*'"), NI,
      "The action s3:GetObjectAcl is not implemented" },
    { "fault_resource_star_in_bucket_policy", POLICY_BUCKET,
      ST(EPA "'Resource':'*'"), MP, "Policy has invalid resource" },
    { "fault_resource_other_bucket", POLICY_BUCKET,
      ST(EPA "'Resource':'arn:aws:s3:::c/*'"), MP,
      "Policy has invalid resource" },
    { "fault_resource_bucket_name_prefix", POLICY_BUCKET,
      ST(EPA "'Resource':'arn:aws:s3:::bb/*'"), MP,
      "Policy has invalid resource" },
    { "fault_resource_bucket_wildcard", POLICY_BUCKET,
      ST(EPA "'Resource':'arn:aws:s3:::b*'"), MP,
      "Policy has invalid resource" },
    { "fault_resource_not_s3", POLICY_BUCKET,
      ST(EPA "'Resource':'arn:aws:kms:::b'"), MP,
      "Policy has invalid resource" },
    { "fault_resource_case_sensitive_bucket", POLICY_BUCKET,
      ST(EPA "'Resource':'arn:aws:s3:::B/*'"), MP,
      "Policy has invalid resource" },
    { "fault_put_object_on_bucket", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'*','Action':'s3:PutObject',"
         "'Resource':'arn:aws:s3:::b'"), MP,
      "Action does not apply to any resource(s) in statement" },
    { "fault_list_bucket_on_objects", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'*','Action':'s3:ListBucket',"
         "'Resource':'arn:aws:s3:::b/*'"), MP,
      "Action does not apply to any resource(s) in statement" },
    { "fault_one_action_of_two_does_not_fit", POLICY_BUCKET,
      ST("'Effect':'Allow','Principal':'*','Action':['s3:GetObject',"
         "'s3:ListBucket'],'Resource':'arn:aws:s3:::b/*'"), MP,
      "Action does not apply to any resource(s) in statement" },
    { "fault_unknown_operator", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'StringEqualz':{'aws:Referer':'x'}}"), MP,
      "Invalid Condition type : StringEqualz" },
    { "fault_null_if_exists", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'NullIfExists':{'aws:Referer':'true'}}"), MP,
      "Invalid Condition type : NullIfExists" },
    { "fault_qualifier_alone", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'ForAnyValue:':{'aws:Referer':'x'}}"), MP,
      "Invalid Condition type : ForAnyValue:" },
    { "fault_unknown_s3_key", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'StringEquals':{'s3:foo':'x'}}"), MP,
      "Policy has an invalid condition key: s3:foo" },
    { "fault_kms_key_in_bucket_policy", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'StringEquals':{'kms:ViaService':'x'}}"), MP,
      "Policy has an invalid condition key: kms:ViaService" },
    { "fault_other_service_key", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'StringEquals':{'ec2:Region':'x'}}"), MP,
      "Policy has an invalid condition key: ec2:Region" },
    { "fault_key_without_service", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'StringEquals':{'Referer':'x'}}"), MP,
      "Policy has an invalid condition key: Referer" },
    { "fault_empty_tag_key", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'StringEquals':{'s3:ExistingObjectTag/':"
         "'x'}}"), MP, "Policy has an invalid condition key: "
      "s3:ExistingObjectTag/" },
    { "fault_unimplemented_s3_key", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'StringEquals':{'s3:VersionId':'x'}}"), NI,
      "The condition key s3:VersionId is not implemented" },
    { "fault_prefix_key_with_get_object", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'StringEquals':{'s3:prefix':'x'}}"), MP,
      "Conditions do not apply to combination of actions and resources in "
      "statement" },
    { "fault_sse_key_with_get_object", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'StringEquals':{'" SSE "':'aws:kms'}}"), MP,
      "Conditions do not apply to combination of actions and resources in "
      "statement" },
    { "fault_bad_cidr_prefix", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'IpAddress':{'aws:SourceIp':'10.0.0.0/33'}}"),
      MP, "Invalid IP address in Conditions" },
    { "fault_bad_ipv4_address", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'IpAddress':{'aws:SourceIp':'300.1.1.1'}}"),
      MP, "Invalid IP address in Conditions" },
    { "fault_bad_ip_text", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'NotIpAddress':{'aws:SourceIp':['10.0.0.1',"
         "'abc']}}"), MP, "Invalid IP address in Conditions" },
    { "fault_bad_number", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'NumericLessThan':{'s3:signatureAge':"
         "'ten'}}"), MP, "Could not parse the policy: invalid "
      "NumericLessThan value 'ten' for condition key s3:signatureAge" },
    { "fault_bad_date", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'DateLessThan':{'aws:CurrentTime':"
         "'tomorrow'}}"), MP, "Could not parse the policy: invalid "
      "DateLessThan value 'tomorrow' for condition key aws:CurrentTime" },
    { "fault_bad_bool", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'Bool':{'aws:SecureTransport':'yes'}}"), MP,
      "Could not parse the policy: invalid Bool value 'yes' for condition "
      "key aws:SecureTransport" },
    { "fault_bad_base64", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'BinaryEquals':{'aws:Referer':'!!'}}"), MP,
      "Could not parse the policy: invalid BinaryEquals value '!!' for "
      "condition key aws:Referer" },
    { "fault_condition_value_object", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'StringEquals':{'aws:Referer':{'a':1}}}"), MP,
      "Could not parse the policy: no usable value for condition key "
      "aws:Referer" },
    { "fault_condition_value_empty_list", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'StringEquals':{'aws:Referer':[]}}"), MP,
      "Could not parse the policy: no usable value for condition key "
      "aws:Referer" },
    { "fault_condition_not_object", POLICY_BUCKET,
      ST(GET_B ",'Condition':['x']"), MP,
      "Could not parse the policy: Condition must be an object" },
    { "fault_operator_not_object", POLICY_BUCKET,
      ST(GET_B ",'Condition':{'StringEquals':'x'}"), MP,
      "Could not parse the policy: StringEquals must map keys to values" },
    { "fault_identity_with_principal", POLICY_IDENTITY,
      "{'Statement':{'Effect':'Allow','Principal':'*','Action':"
      "'s3:GetObject','Resource':'*'}}", MP,
      "Policy document should not specify a principal." },
    { "fault_identity_bad_resource", POLICY_IDENTITY,
      "{'Statement':{'Effect':'Allow','Action':'s3:GetObject','Resource':"
      "'b/k'}}", MP, "Policy has invalid resource" },
    { "fault_identity_unknown_kms_action", POLICY_IDENTITY,
      "{'Statement':{'Effect':'Allow','Action':'kms:Fly','Resource':'*'}}",
      MP, "Policy has invalid action: kms:Fly" },
    { "fault_key_policy_resource_not_star", POLICY_KEY,
      "{'Statement':{'Effect':'Allow','Principal':'*','Action':'kms:*',"
      "'Resource':'" KEY_ARN "'}}", MP, "Policy has invalid resource" },
    { "fault_key_policy_not_resource", POLICY_KEY,
      "{'Statement':{'Effect':'Allow','Principal':'*','Action':'kms:*',"
      "'NotResource':'*'}}", MP, "Policy has invalid resource" },
    { "fault_key_policy_s3_action", POLICY_KEY,
      "{'Statement':{'Effect':'Allow','Principal':'*','Action':"
      "'s3:GetObject','Resource':'*'}}", MP,
      "Policy has invalid action: s3:GetObject" },
    { "fault_key_policy_missing_principal", POLICY_KEY,
      "{'Statement':{'Effect':'Allow','Action':'kms:*','Resource':'*'}}",
      MP, "Missing required field Principal" },
    { "fault_key_policy_bad_principal_wording", POLICY_KEY,
      "{'Statement':{'Effect':'Allow','Principal':{'AWS':'nobody'},"
      "'Action':'kms:*','Resource':'*'}}", MP,
      "Policy contains a statement with one or more invalid principals." },
    { "fault_key_policy_all_values_on_context", POLICY_KEY,
      "{'Statement':{'Effect':'Allow','Principal':'*','Action':'kms:*',"
      "'Resource':'*','Condition':{'ForAllValues:StringEquals':"
      "{'kms:EncryptionContext:a':'b'}}}}", MP,
      "Could not parse the policy: OverlyPermissiveCondition: ForAllValues "
      "with the single-valued key kms:EncryptionContext:a" },
    { "fault_key_policy_s3_key", POLICY_KEY,
      "{'Statement':{'Effect':'Allow','Principal':'*','Action':'kms:*',"
      "'Resource':'*','Condition':{'StringEquals':{'s3:prefix':'b'}}}}",
      MP, "Policy has an invalid condition key: s3:prefix" },
    { "fault_key_policy_unimplemented_key", POLICY_KEY,
      "{'Statement':{'Effect':'Allow','Principal':'*','Action':'kms:*',"
      "'Resource':'*','Condition':{'StringEquals':{'kms:KeySpec':'x'}}}}",
      NI, "The condition key kms:KeySpec is not implemented" },
    { "fault_key_policy_unserved_action", POLICY_KEY,
      "{'Statement':{'Effect':'Allow','Principal':'*','Action':'kms:Sign',"
      "'Resource':'*'}}", NI, "The action kms:Sign is not implemented" },
    { "fault_first_statement_fault_wins", POLICY_BUCKET,
      "{'Statement':[{'Effect':'Maybe','Principal':'*','Action':'s3:Fly',"
      "'Resource':'*'}]}", MP, "Invalid effect: Maybe" },
};

static void
run_fault(void **state)
{
    const struct fault *t = *state;
    struct err_detail d;
    struct policy *p = (struct policy *)&d;
    char *json = jq(t->text);

    err_clear(&d);
    assert_int_equal(policy_parse(json, strlen(json), t->kind, "b", &p, &d),
                     t->code);
    assert_null(p);
    assert_string_equal(d.message, t->message);
    free(json);
}

/* ------------------------------------------------------------------ */
/* Operators: each with its key present and absent (policy.md §4)      */

struct opcase {
    const char *name;
    const char *op;
    const char *key;
    const char *val;            /* JSON in test notation */
    const char *req;            /* the request's value; NULL absent */
    bool expect;
};

#define REF "aws:Referer"
#define AGE "s3:signatureAge"
#define NOW "aws:CurrentTime"
#define TLS "aws:SecureTransport"
#define SIP "aws:SourceIp"
#define NOWS "'2026-12-04T15:19:17Z'"

static const struct opcase opcases[] = {
    { "op_string_equals_match", "StringEquals", REF, "'abc'", "abc", true },
    { "op_string_equals_case_sensitive", "StringEquals", REF, "'abc'",
      "ABC", false },
    { "op_string_equals_absent", "StringEquals", REF, "'abc'", NULL, false },
    { "op_string_equals_any_of_list", "StringEquals", REF, "['a','b']", "b",
      true },
    { "op_string_equals_none_of_list", "StringEquals", REF, "['a','b']",
      "c", false },
    { "op_string_equals_no_wildcards", "StringEquals", REF, "'a*'", "abc",
      false },
    { "op_string_equals_empty_value", "StringEquals", REF, "''", "", true },
    { "op_string_equals_number_value", "StringEquals", REF, "10", "10",
      true },
    { "op_string_not_equals_match", "StringNotEquals", REF, "'abc'", "abc",
      false },
    { "op_string_not_equals_other", "StringNotEquals", REF, "'abc'", "x",
      true },
    { "op_string_not_equals_absent", "StringNotEquals", REF, "'abc'", NULL,
      true },
    { "op_string_not_equals_list_is_nor", "StringNotEquals", REF,
      "['a','b']", "b", false },
    { "op_string_equals_ignore_case_match", "StringEqualsIgnoreCase", REF,
      "'aBc'", "AbC", true },
    { "op_string_equals_ignore_case_other", "StringEqualsIgnoreCase", REF,
      "'abc'", "abd", false },
    { "op_string_equals_ignore_case_absent", "StringEqualsIgnoreCase", REF,
      "'abc'", NULL, false },
    { "op_string_not_equals_ignore_case_match", "StringNotEqualsIgnoreCase",
      REF, "'abc'", "ABC", false },
    { "op_string_not_equals_ignore_case_other", "StringNotEqualsIgnoreCase",
      REF, "'abc'", "x", true },
    { "op_string_not_equals_ignore_case_absent",
      "StringNotEqualsIgnoreCase", REF, "'abc'", NULL, true },
    { "op_string_like_star", "StringLike", REF, "'a*c'", "abbbc", true },
    { "op_string_like_star_empty_run", "StringLike", REF, "'a*c'", "ac",
      true },
    { "op_string_like_question", "StringLike", REF, "'a?c'", "abc", true },
    { "op_string_like_question_utf8", "StringLike", REF, "'a?c'",
      "a\xc3\xa9" "c", true },
    { "op_string_like_mismatch", "StringLike", REF, "'a*c'", "abd", false },
    { "op_string_like_case_sensitive", "StringLike", REF, "'A*'", "abc",
      false },
    { "op_string_like_star_spans_slash_and_colon", "StringLike", REF,
      "'a*z'", "a/b:c/z", true },
    { "op_string_like_absent", "StringLike", REF, "'*'", NULL, false },
    { "op_string_not_like_match", "StringNotLike", REF, "'a*'", "abc",
      false },
    { "op_string_not_like_other", "StringNotLike", REF, "'a*'", "xyz",
      true },
    { "op_string_not_like_absent", "StringNotLike", REF, "'a*'", NULL,
      true },
    { "op_numeric_equals_match", "NumericEquals", AGE, "'10'", "10", true },
    { "op_numeric_equals_decimal_form", "NumericEquals", AGE, "10", "10.0",
      true },
    { "op_numeric_equals_other", "NumericEquals", AGE, "'10'", "11",
      false },
    { "op_numeric_equals_absent", "NumericEquals", AGE, "'10'", NULL,
      false },
    { "op_numeric_equals_unparsable_request", "NumericEquals", AGE, "'10'",
      "ten", false },
    { "op_numeric_not_equals_match", "NumericNotEquals", AGE, "'10'", "10",
      false },
    { "op_numeric_not_equals_other", "NumericNotEquals", AGE, "'10'", "11",
      true },
    { "op_numeric_not_equals_absent", "NumericNotEquals", AGE, "'10'",
      NULL, true },
    { "op_numeric_not_equals_unparsable_request", "NumericNotEquals", AGE,
      "'10'", "ten", false },
    { "op_numeric_less_than_below", "NumericLessThan", AGE, "'10'", "9",
      true },
    { "op_numeric_less_than_equal", "NumericLessThan", AGE, "'10'", "10",
      false },
    { "op_numeric_less_than_absent", "NumericLessThan", AGE, "'10'", NULL,
      false },
    { "op_numeric_less_than_decimal", "NumericLessThan", AGE, "1.5", "1.25",
      true },
    { "op_numeric_less_than_negative", "NumericLessThan", AGE, "'-1'", "-2",
      true },
    { "op_numeric_less_than_equals_equal", "NumericLessThanEquals", AGE,
      "'10'", "10", true },
    { "op_numeric_less_than_equals_above", "NumericLessThanEquals", AGE,
      "'10'", "11", false },
    { "op_numeric_less_than_equals_absent", "NumericLessThanEquals", AGE,
      "'10'", NULL, false },
    { "op_numeric_greater_than_above", "NumericGreaterThan", AGE, "'10'",
      "11", true },
    { "op_numeric_greater_than_equal", "NumericGreaterThan", AGE, "'10'",
      "10", false },
    { "op_numeric_greater_than_absent", "NumericGreaterThan", AGE, "'10'",
      NULL, false },
    { "op_numeric_greater_than_equals_equal", "NumericGreaterThanEquals",
      AGE, "'10'", "10", true },
    { "op_numeric_greater_than_equals_below", "NumericGreaterThanEquals",
      AGE, "'10'", "9", false },
    { "op_numeric_greater_than_equals_absent", "NumericGreaterThanEquals",
      AGE, "'10'", NULL, false },
    { "op_date_equals_match", "DateEquals", NOW, NOWS,
      "2026-12-04T15:19:17Z", true },
    { "op_date_equals_epoch_request", "DateEquals", NOW, NOWS,
      "1796397557", true },
    { "op_date_equals_epoch_policy", "DateEquals", NOW, "1796397557",
      "2026-12-04T15:19:17Z", true },
    { "op_date_equals_offset", "DateEquals", NOW,
      "'2026-12-04T16:19:17+01:00'", "2026-12-04T15:19:17Z", true },
    { "op_date_equals_other", "DateEquals", NOW, NOWS,
      "2026-12-04T15:19:18Z", false },
    { "op_date_equals_absent", "DateEquals", NOW, NOWS, NULL, false },
    { "op_date_not_equals_match", "DateNotEquals", NOW, NOWS,
      "2026-12-04T15:19:17Z", false },
    { "op_date_not_equals_other", "DateNotEquals", NOW, NOWS,
      "2026-12-05T00:00:00Z", true },
    { "op_date_not_equals_absent", "DateNotEquals", NOW, NOWS, NULL, true },
    { "op_date_less_than_before", "DateLessThan", NOW, "'2030-01-01'",
      "2026-12-04T15:19:17Z", true },
    { "op_date_less_than_after", "DateLessThan", NOW, "'2026-12-04'",
      "2026-12-04T15:19:17Z", false },
    { "op_date_less_than_absent", "DateLessThan", NOW, "'2030-01-01'", NULL,
      false },
    { "op_date_less_than_equals_same", "DateLessThanEquals", NOW, NOWS,
      "2026-12-04T15:19:17Z", true },
    { "op_date_less_than_equals_fraction", "DateLessThanEquals", NOW,
      "'2026-12-04T15:19:17.5Z'", "2026-12-04T15:19:17.600Z", false },
    { "op_date_less_than_equals_absent", "DateLessThanEquals", NOW, NOWS,
      NULL, false },
    { "op_date_greater_than_after", "DateGreaterThan", NOW,
      "'2020-01-01T00:00:00+01:00'", "2026-12-04T15:19:17Z", true },
    { "op_date_greater_than_month_only", "DateGreaterThan", NOW,
      "'2027-01'", "2026-12-04T15:19:17Z", false },
    { "op_date_greater_than_digits_are_epoch", "DateGreaterThan", NOW,
      "'2027'", "2026-12-04T15:19:17Z", true },
    { "op_date_greater_than_absent", "DateGreaterThan", NOW, "'2020'", NULL,
      false },
    { "op_date_greater_than_equals_same", "DateGreaterThanEquals", NOW,
      NOWS, "2026-12-04T15:19:17Z", true },
    { "op_date_greater_than_equals_month", "DateGreaterThanEquals", NOW,
      "'2026-12'", "2026-11-30T23:59:59Z", false },
    { "op_date_greater_than_equals_absent", "DateGreaterThanEquals", NOW,
      NOWS, NULL, false },
    { "op_bool_true_match", "Bool", TLS, "'true'", "true", true },
    { "op_bool_true_other", "Bool", TLS, "'true'", "false", false },
    { "op_bool_json_boolean", "Bool", TLS, "true", "true", true },
    { "op_bool_ignores_case", "Bool", TLS, "'TRUE'", "True", true },
    { "op_bool_false_match", "Bool", TLS, "'false'", "false", true },
    { "op_bool_absent", "Bool", TLS, "'false'", NULL, false },
    { "op_bool_unparsable_request", "Bool", TLS, "'false'", "no", false },
    { "op_binary_equals_never_matches", "BinaryEquals", REF, "'YWJj'",
      "abc", false },
    { "op_binary_equals_absent", "BinaryEquals", REF, "'YWJj'", NULL,
      false },
    { "op_ip_address_inside", "IpAddress", SIP, "'10.0.0.0/8'",
      "10.255.0.1", true },
    { "op_ip_address_outside", "IpAddress", SIP, "'10.0.0.0/8'", "11.0.0.1",
      false },
    { "op_ip_address_absent", "IpAddress", SIP, "'10.0.0.0/8'", NULL,
      false },
    { "op_ip_address_odd_prefix", "IpAddress", SIP, "'192.168.0.0/23'",
      "192.168.1.200", true },
    { "op_ip_address_odd_prefix_outside", "IpAddress", SIP,
      "'192.168.0.0/23'", "192.168.2.1", false },
    { "op_ip_address_zero_prefix", "IpAddress", SIP, "'0.0.0.0/0'",
      "203.0.113.9", true },
    { "op_ip_address_ipv6_range", "IpAddress", SIP, "'2001:db8::/32'",
      "2001:db8::1", true },
    { "op_ip_address_ipv6_bare", "IpAddress", SIP, "'2001:db8::1'",
      "2001:db8::2", false },
    { "op_ip_address_v4_not_in_v6_range", "IpAddress", SIP, "'::/0'",
      "10.0.0.1", false },
    { "op_ip_address_mapped_v4_request", "IpAddress", SIP, "'10.0.0.0/8'",
      "::ffff:10.0.0.1", true },
    { "op_ip_address_unparsable_request", "IpAddress", SIP, "'0.0.0.0/0'",
      "localhost", false },
    { "op_ip_address_list", "IpAddress", SIP,
      "['10.0.0.0/8','192.0.2.0/24']", "192.0.2.7", true },
    { "op_not_ip_address_inside", "NotIpAddress", SIP, "'10.0.0.0/8'",
      "10.0.0.1", false },
    { "op_not_ip_address_outside", "NotIpAddress", SIP, "'10.0.0.0/8'",
      "8.8.8.8", true },
    { "op_not_ip_address_absent", "NotIpAddress", SIP, "'10.0.0.0/8'",
      NULL, true },
    { "op_arn_equals_wildcard", "ArnEquals", REF,
      "'arn:aws:iam::" ACCT ":user/*'", U_ARN, true },
    { "op_arn_like_account_wildcard", "ArnLike", REF,
      "'arn:aws:iam::*:user/alice'", U_ARN, true },
    { "op_arn_like_partial_account", "ArnLike", REF,
      "'arn:aws:iam::1111*:root'", "arn:aws:iam::" ACCT ":root", true },
    { "op_arn_like_star_stops_at_colon", "ArnLike", REF,
      "'arn:aws:*:user/alice'", U_ARN, false },
    { "op_arn_like_resource_part_keeps_colons", "ArnLike", REF,
      "'arn:aws:s3:::b/*'", "arn:aws:s3:::b/a:b", true },
    { "op_arn_like_request_not_arn", "ArnLike", REF, "'arn:*:*:*:*:*'",
      "hello", false },
    { "op_arn_like_case_sensitive", "ArnLike", REF,
      "'arn:aws:iam::*:user/Alice'", U_ARN, false },
    { "op_arn_like_absent", "ArnLike", REF, "'arn:*:*:*:*:*'", NULL,
      false },
    { "op_arn_not_equals_match", "ArnNotEquals", REF,
      "'arn:aws:iam::*:user/alice'", U_ARN, false },
    { "op_arn_not_equals_absent", "ArnNotEquals", REF,
      "'arn:aws:iam::*:user/alice'", NULL, true },
    { "op_arn_not_like_other", "ArnNotLike", REF,
      "'arn:aws:iam::*:user/bob'", U_ARN, true },
    { "op_arn_not_like_absent", "ArnNotLike", REF,
      "'arn:aws:iam::*:user/bob'", NULL, true },
    { "op_null_true_absent", "Null", REF, "'true'", NULL, true },
    { "op_null_true_present", "Null", REF, "'true'", "x", false },
    { "op_null_false_present", "Null", REF, "'false'", "", true },
    { "op_null_false_absent", "Null", REF, "false", NULL, false },
    { "if_exists_equals_absent", "StringEqualsIfExists", REF, "'abc'", NULL,
      true },
    { "if_exists_equals_present_match", "StringEqualsIfExists", REF,
      "'abc'", "abc", true },
    { "if_exists_equals_present_other", "StringEqualsIfExists", REF,
      "'abc'", "x", false },
    { "if_exists_not_equals_absent", "StringNotEqualsIfExists", REF,
      "'abc'", NULL, true },
    { "if_exists_not_equals_present_match", "StringNotEqualsIfExists", REF,
      "'abc'", "abc", false },
    { "if_exists_like_absent", "StringLikeIfExists", REF, "'a*'", NULL,
      true },
    { "if_exists_numeric_absent", "NumericLessThanIfExists", AGE, "'10'",
      NULL, true },
    { "if_exists_numeric_present", "NumericLessThanIfExists", AGE, "'10'",
      "20", false },
    { "if_exists_date_absent", "DateLessThanIfExists", NOW, NOWS, NULL,
      true },
    { "if_exists_bool_absent", "BoolIfExists", TLS, "'true'", NULL, true },
    { "if_exists_bool_present", "BoolIfExists", TLS, "'true'", "false",
      false },
    { "if_exists_ip_absent", "IpAddressIfExists", SIP, "'10.0.0.0/8'", NULL,
      true },
    { "if_exists_not_ip_present_inside", "NotIpAddressIfExists", SIP,
      "'10.0.0.0/8'", "10.0.0.1", false },
    { "if_exists_arn_absent", "ArnLikeIfExists", REF, "'arn:*:*:*:*:*'",
      NULL, true },
    { "if_exists_binary_absent", "BinaryEqualsIfExists", REF, "'YWJj'",
      NULL, true },
    { "op_names_ignore_case", "stringequalsifexists", REF, "'abc'", "abc",
      true },
};

/* An identity policy allowing s3:GetObject under one condition. */
static struct policy *
cond_policy(const char *op, const char *key, const char *val)
{
    char text[1024];

    snprintf(text, sizeof(text), "{'Version':'2012-10-17','Statement':"
             "{'Effect':'Allow','Action':'s3:GetObject','Resource':'*',"
             "'Condition':{'%s':{'%s':%s}}}}", op, key, val);
    return must_parse(text, POLICY_IDENTITY);
}

static enum policy_result
eval_with(const struct policy *p, enum who who, const char *const *vals,
          const char *key)
{
    struct policy_ctx *c = policy_ctx_new();
    struct policy_request r = { &principals[who], "s3:GetObject",
                                "arn:aws:s3:::b/k", NULL };
    enum policy_result res;
    size_t i;

    assert_non_null(c);
    for (i = 0; vals != NULL && vals[i] != NULL; i++)
        assert_int_equal(policy_ctx_add(c, key, vals[i]), 0);
    r.ctx = c;
    res = policy_eval(p, &r);
    policy_ctx_free(c);
    return res;
}

static void
run_opcase(void **state)
{
    const struct opcase *t = *state;
    struct policy *p = cond_policy(t->op, t->key, t->val);
    const char *vals[2] = { t->req, NULL };

    assert_int_equal(eval_with(p, ANON, vals, t->key),
                     t->expect ? POLICY_ALLOW : POLICY_NO_MATCH);
    policy_free(p);
}

/* Set qualifiers over a multi-valued key (policy.md §4). */
struct setcase {
    const char *name;
    const char *op;
    const char *val;
    const char *reqs[4];        /* the request's values, NULL-ended */
    bool expect;
};

#define TAGKEYS "s3:RequestObjectTagKeys"

static const struct setcase setcases[] = {
    { "set_any_value_one_matches", "ForAnyValue:StringEquals", "['a','b']",
      { "x", "b", NULL }, true },
    { "set_any_value_none_matches", "ForAnyValue:StringEquals", "['a','b']",
      { "x", "y", NULL }, false },
    { "set_any_value_absent_is_false", "ForAnyValue:StringEquals", "['a']",
      { NULL }, false },
    { "set_all_values_all_listed", "ForAllValues:StringEquals", "['a','b']",
      { "a", "b", NULL }, true },
    { "set_all_values_one_unlisted", "ForAllValues:StringEquals",
      "['a','b']", { "a", "c", NULL }, false },
    { "set_all_values_absent_is_true", "ForAllValues:StringEquals", "['a']",
      { NULL }, true },
    { "set_any_value_not_equals_some_other", "ForAnyValue:StringNotEquals",
      "['a']", { "a", "b", NULL }, true },
    { "set_any_value_not_equals_only_listed", "ForAnyValue:StringNotEquals",
      "['a']", { "a", NULL }, false },
    { "set_any_value_not_equals_absent", "ForAnyValue:StringNotEquals",
      "['a']", { NULL }, false },
    { "set_all_values_not_equals_none_listed",
      "ForAllValues:StringNotEquals", "['a']", { "b", "c", NULL }, true },
    { "set_all_values_not_equals_one_listed",
      "ForAllValues:StringNotEquals", "['a']", { "a", "b", NULL }, false },
    { "set_all_values_not_equals_absent", "ForAllValues:StringNotEquals",
      "['a']", { NULL }, true },
    { "set_any_value_like", "ForAnyValue:StringLike", "['se*']",
      { "a", "secret", NULL }, true },
    { "set_all_values_like", "ForAllValues:StringLike", "['a*']",
      { "ab", "ac", NULL }, true },
    { "set_all_values_ignore_case", "ForAllValues:StringEqualsIgnoreCase",
      "['A','B']", { "a", "b", NULL }, true },
    { "set_any_value_if_exists_absent", "ForAnyValue:StringEqualsIfExists",
      "['a']", { NULL }, true },
    { "set_qualifier_names_ignore_case", "forallvalues:stringequals",
      "['a']", { "a", NULL }, true },
    { "multi_value_without_qualifier_any", "StringEquals", "'b'",
      { "a", "b", NULL }, true },
    { "multi_value_negated_without_qualifier_all", "StringNotEquals", "'b'",
      { "a", "b", NULL }, false },
    { "multi_value_negated_without_qualifier_none", "StringNotEquals", "'b'",
      { "a", "c", NULL }, true },
};

static void
run_setcase(void **state)
{
    const struct setcase *t = *state;
    struct policy *p = cond_policy(t->op, TAGKEYS, t->val);

    assert_int_equal(eval_with(p, ANON, t->reqs, TAGKEYS),
                     t->expect ? POLICY_ALLOW : POLICY_NO_MATCH);
    policy_free(p);
}

/* Policy variables (policy.md §6), as decisions. */
static const struct evcase varcases[] = {
    { "var_userid_in_resource",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:GetObject",
               "arn:aws:s3:::b/${aws:userid}/*", ""),
      NULL, ALICE, "s3:GetObject", "arn:aws:s3:::b/AIDAALICE0000000000/x",
      { { NULL, NULL } }, ALLOW, false, false },
    { "var_default_when_absent",
      ALLOW_TO("'*'", "s3:GetObject",
               "arn:aws:s3:::b/${aws:username, `anon`}/*", ""),
      NULL, ANON, "s3:GetObject", "arn:aws:s3:::b/anon/x", { { NULL, NULL } },
      ALLOW, false, false },
    { "var_absent_without_default_matches_nothing",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/${aws:username}*",
               ""),
      NULL, ANON, "s3:GetObject", "arn:aws:s3:::b/x", { { NULL, NULL } },
      IMPL, false, false },
    { "var_name_ignores_case",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:GetObject",
               "arn:aws:s3:::b/${AWS:UserName}/*", ""),
      NULL, ALICE, "s3:GetObject", "arn:aws:s3:::b/alice/x",
      { { NULL, NULL } }, ALLOW, false, false },
    { "var_dollar_and_question_are_literal",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/${$}${?}", ""),
      NULL, ANON, "s3:GetObject", "arn:aws:s3:::b/$?", { { NULL, NULL } },
      ALLOW, false, false },
    { "var_question_is_not_a_wildcard",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/${$}${?}", ""),
      NULL, ANON, "s3:GetObject", "arn:aws:s3:::b/$x", { { NULL, NULL } },
      IMPL, false, false },
    { "var_in_condition_value",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:ListBucket", BKT,
               ",'Condition':{'StringLike':{'s3:prefix':"
               "'home/${aws:username}/*'}}"),
      NULL, ALICE, "s3:ListBucket", BKT,
      { { "s3:prefix", "home/alice/docs" } }, ALLOW, false, false },
    { "var_in_condition_value_other_user",
      ALLOW_TO("{'AWS':'" U_ARN "'}", "s3:ListBucket", BKT,
               ",'Condition':{'StringLike':{'s3:prefix':"
               "'home/${aws:username}/*'}}"),
      NULL, ALICE, "s3:ListBucket", BKT,
      { { "s3:prefix", "home/bob/docs" } }, IMPL, false, false },
    { "var_substituted_star_is_not_a_wildcard",
      ALLOW_TO("'*'", "s3:ListBucket", BKT,
               ",'Condition':{'StringLike':{'s3:prefix':'${aws:Referer}'}}"),
      NULL, ANON, "s3:ListBucket", BKT,
      { { "aws:Referer", "*" }, { "s3:prefix", "x" } }, IMPL, false,
      false },
    { "var_substituted_star_matches_itself",
      ALLOW_TO("'*'", "s3:ListBucket", BKT,
               ",'Condition':{'StringLike':{'s3:prefix':'${aws:Referer}'}}"),
      NULL, ANON, "s3:ListBucket", BKT,
      { { "aws:Referer", "*" }, { "s3:prefix", "*" } }, ALLOW, false,
      false },
    { "var_in_condition_literal_under_2008",
      V08 "{'Effect':'Allow','Principal':'*','Action':'s3:ListBucket',"
      "'Resource':'arn:aws:s3:::b','Condition':{'StringEquals':"
      "{'s3:prefix':'${aws:username}'}}}" END,
      NULL, ALICE, "s3:ListBucket", BKT, { { "s3:prefix", "alice" } },
      IMPL, false, false },
    { "var_text_kept_under_2008",
      V08 "{'Effect':'Allow','Principal':'*','Action':'s3:ListBucket',"
      "'Resource':'arn:aws:s3:::b','Condition':{'StringEquals':"
      "{'s3:prefix':'${aws:username}'}}}" END,
      NULL, ALICE, "s3:ListBucket", BKT,
      { { "s3:prefix", "${aws:username}" } }, ALLOW, false, false },
    { "var_in_arn_condition",
      V12 "{'Effect':'Allow','Principal':'*','Action':'s3:GetObject',"
      "'Resource':'arn:aws:s3:::b/*','Condition':{'ArnLike':"
      "{'aws:PrincipalArn':'arn:aws:iam::*:user/${aws:username}'}}}" END,
      NULL, ALICE, "s3:GetObject", OBJ, { { NULL, NULL } }, ALLOW, false,
      false },
    { "var_root_userid_is_account",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:GetObject',"
      "'Resource':'arn:aws:s3:::b/*','Condition':{'StringEquals':"
      "{'aws:userid':'${aws:PrincipalAccount}'}}}" END,
      NULL, ROOT, "s3:GetObject", OBJ, { { NULL, NULL } }, DENY, false,
      false },
    { "var_context_value_wins_over_principal",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/${aws:username}/*",
               ""),
      NULL, ALICE, "s3:GetObject", "arn:aws:s3:::b/bob/x",
      { { "aws:username", "bob" } }, ALLOW, false, false },
    { "var_unclosed_is_literal_text",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/${aws:username", ""),
      NULL, ALICE, "s3:GetObject", "arn:aws:s3:::b/${aws:username",
      { { NULL, NULL } }, ALLOW, false, false },
    { "principal_service_never_matches",
      ALLOW_TO("{'Service':'cloudtrail.amazonaws.com'}", "s3:GetObject",
               "arn:aws:s3:::b/*", ""),
      NULL, ANON, "s3:GetObject", OBJ, { { NULL, NULL } }, IMPL, false,
      false },
    { "principal_aws_star_in_list_is_everyone",
      ALLOW_TO("{'AWS':['arn:aws:iam::" OTHER ":root','*']}", "s3:GetObject",
               "arn:aws:s3:::b/*", ""),
      NULL, ANON, "s3:GetObject", OBJ, { { NULL, NULL } }, ALLOW, false,
      false },
    { "principal_user_arn_case_sensitive",
      ALLOW_TO("{'AWS':'arn:aws:iam::" ACCT ":user/Alice'}", "s3:GetObject",
               "arn:aws:s3:::b/*", ""),
      NULL, ALICE, "s3:GetObject", OBJ, { { NULL, NULL } }, IMPL, false,
      false },
    { "resource_case_sensitive",
      ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/Key", ""),
      NULL, ANON, "s3:GetObject", "arn:aws:s3:::b/key", { { NULL, NULL } },
      IMPL, false, false },
    { "resource_objects_pattern_never_matches_bucket",
      V12 "{'Effect':'Deny','Principal':'*','Action':'s3:*','Resource':"
      "'arn:aws:s3:::b/*'}" END, NULL, ROOT, "s3:ListBucket", BKT,
      { { NULL, NULL } }, NM, false, false },
    { "action_wildcard_question",
      ALLOW_TO("'*'", "s3:?etObject", "arn:aws:s3:::b/*", ""),
      NULL, ANON, "s3:GetObject", OBJ, { { NULL, NULL } }, ALLOW, false,
      false },
    { "action_star_covers_everything",
      ALLOW_TO("'*'", "*", "arn:aws:s3:::b/*", ""),
      NULL, ANON, "s3:DeleteObject", OBJ, { { NULL, NULL } }, ALLOW, false,
      false },
};

/* ------------------------------------------------------------------ */
/* Matchers                                                            */

static bool
glob(const char *pat, const char *s, bool icase)
{
    return policy_glob(pat, NULL, strlen(pat), s, strlen(s), icase);
}

static void
glob_wildcards(void **state)
{
    (void)state;
    assert_true(glob("", "", false));
    assert_false(glob("", "a", false));
    assert_true(glob("*", "", false));
    assert_true(glob("*", "anything/at:all", false));
    assert_true(glob("a*b*c", "axxbyyc", false));
    assert_false(glob("a*b*c", "axxbyy", false));
    assert_true(glob("*.txt", "dir/file.txt", false));
    assert_false(glob("?", "", false));
    assert_true(glob("??", "ab", false));
    assert_false(glob("??", "abc", false));
    assert_true(glob("a**b", "ab", false));
    assert_true(glob("s3:get*", "s3:GetObject", true));
    assert_false(glob("s3:get*", "s3:GetObject", false));
    assert_true(glob("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", false));
    assert_false(glob("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false));
}

static void
glob_literal_mask(void **state)
{
    const uint8_t lit[] = { 0, 1, 0 };

    (void)state;
    assert_true(policy_glob("a*?", lit, 3, "a*x", 3, false));
    assert_false(policy_glob("a*?", lit, 3, "abx", 3, false));
}

static void
arn_match_parts(void **state)
{
    (void)state;
    assert_true(policy_arn_match("arn:aws:s3:::*", NULL, 14,
                                 "arn:aws:s3:::b/k"));
    assert_false(policy_arn_match("arn:aws:s3:::*", NULL, 14, "arn:aws:s3"));
    assert_false(policy_arn_match("arn:*", NULL, 5, "arn:aws:s3:::b"));
    assert_true(policy_arn_match("arn:*:*:*:*:*", NULL, 13,
                                 "arn:aws:kms:us-east-1:1:key/x"));
}

static void
cidr_parsing(void **state)
{
    struct cidr c, ip;

    (void)state;
    assert_int_equal(policy_cidr_parse("10.0.0.0/8", false, &c), 0);
    assert_int_equal(c.family, 4);
    assert_int_equal(c.prefix, 8);
    assert_int_equal(policy_cidr_parse("::1", false, &c), 0);
    assert_int_equal(c.prefix, 128);
    assert_int_equal(policy_cidr_parse("::ffff:1.2.3.4", true, &ip), 0);
    assert_int_equal(ip.family, 4);
    assert_int_equal(policy_cidr_parse("::ffff:1.2.3.4", false, &ip), 0);
    assert_int_equal(ip.family, 6);
    assert_int_not_equal(policy_cidr_parse("10.0.0.0/", false, &c), 0);
    assert_int_not_equal(policy_cidr_parse("10.0.0.0/-1", false, &c), 0);
    assert_int_not_equal(policy_cidr_parse("10.0.0.0/8x", false, &c), 0);
    assert_int_not_equal(policy_cidr_parse("::/129", false, &c), 0);
    assert_int_not_equal(policy_cidr_parse("", false, &c), 0);
    assert_int_not_equal(policy_cidr_parse("1.2.3", false, &c), 0);
}

static void
number_parsing(void **state)
{
    double x;

    (void)state;
    assert_int_equal(policy_number_parse("42", &x), 0);
    assert_true(x == 42);
    assert_int_equal(policy_number_parse("-1.5e2", &x), 0);
    assert_true(x == -150);
    assert_int_equal(policy_number_parse(".5", &x), 0);
    assert_int_not_equal(policy_number_parse("", &x), 0);
    assert_int_not_equal(policy_number_parse("0x10", &x), 0);
    assert_int_not_equal(policy_number_parse("inf", &x), 0);
    assert_int_not_equal(policy_number_parse("1e", &x), 0);
    assert_int_not_equal(policy_number_parse("1 ", &x), 0);
    assert_int_not_equal(policy_number_parse("1e999", &x), 0);
}

static void
date_parsing(void **state)
{
    double x;

    (void)state;
    assert_int_equal(policy_date_parse("2026-12-04T15:19:17Z", &x), 0);
    assert_true(x == 1796397557);
    assert_int_equal(policy_date_parse("1796397557", &x), 0);
    assert_true(x == 1796397557);
    assert_int_equal(policy_date_parse("2026-12-04T15:19Z", &x), 0);
    assert_true(x == 1796397540);
    assert_int_equal(policy_date_parse("2020-01-01T00:00:00-01:00", &x), 0);
    assert_true(x == 1577840400);
    assert_int_equal(policy_date_parse("2026-12", &x), 0);
    assert_true(x == 1796083200);
    assert_int_equal(policy_date_parse("2026", &x), 0);
    assert_true(x == 2026);
    assert_int_not_equal(policy_date_parse("2026-12T10:00Z", &x), 0);
    assert_int_not_equal(policy_date_parse("2026-1-04", &x), 0);
    assert_int_not_equal(policy_date_parse("2026-13-01", &x), 0);
    assert_int_not_equal(policy_date_parse("2026-12-04T25:00:00Z", &x), 0);
    assert_int_not_equal(policy_date_parse("2026-12-04T15:19:17Q", &x), 0);
    assert_int_not_equal(policy_date_parse("2026-12-04 15:19:17Z", &x), 0);
    assert_int_not_equal(policy_date_parse("2026-12-04T15:19:17.Z", &x), 0);
    assert_int_not_equal(policy_date_parse("", &x), 0);
}

/* ------------------------------------------------------------------ */
/* Whole-policy behaviour                                              */

/* The recipe's policy exactly as the CLI sends it (recipe-trace.md §5). */
static void
recipe_policy_as_sent(void **state)
{
    static const char text[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":"
        "\"DenyUnEncryptedObjectUploads\",\"Effect\":\"Deny\",\"Principal\":"
        "\"*\",\"Action\":\"s3:PutObject\",\"Resource\":"
        "\"arn:aws:s3:::recipe-bkt/*\",\"Condition\":{\"StringNotEquals\":"
        "{\"s3:x-amz-server-side-encryption\":\"aws:kms\"}}}]}\n";
    struct policy *p = NULL;
    struct err_detail d;
    char *w;

    (void)state;
    assert_int_equal(policy_parse(text, strlen(text), POLICY_BUCKET,
                                  "recipe-bkt", &p, &d), 0);
    assert_false(policy_is_public(p));
    w = policy_warnings(p);
    assert_non_null(w);
    assert_non_null(strstr(w, "DenyUnEncryptedObjectUploads"));
    assert_non_null(strstr(w, "no encryption header"));
    free(w);
    policy_free(p);

    /* The same policy is refused for another bucket. */
    assert_int_equal(policy_parse(text, strlen(text), POLICY_BUCKET, "b", &p,
                                  &d), CERR_MALFORMED_POLICY);
    assert_string_equal(d.message, "Policy has invalid resource");
}

/* Build a bucket policy whose Sid is n bytes, padded with pad spaces. */
static char *
sized_policy(size_t n, size_t pad)
{
    const char *head = "{\"Statement\":[{\"Sid\":\"";
    const char *tail = "\",\"Effect\":\"Allow\",\"Principal\":\"*\","
        "\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/*\"}]}";
    char *s = malloc(strlen(head) + n + strlen(tail) + pad + 1);
    size_t off;

    assert_non_null(s);
    memset(s, ' ', pad);
    off = pad;
    memcpy(s + off, head, strlen(head));
    off += strlen(head);
    memset(s + off, 'x', n);
    off += n;
    strcpy(s + off, tail);
    return s;
}

static void
size_limit_counts_without_whitespace(void **state)
{
    struct policy *p = NULL;
    struct err_detail d;
    char *s;

    (void)state;
    s = sized_policy(19000, 30000);
    assert_int_equal(policy_parse(s, strlen(s), POLICY_BUCKET, "b", &p, &d),
                     0);
    policy_free(p);
    free(s);

    s = sized_policy(20480, 0);
    assert_int_equal(policy_parse(s, strlen(s), POLICY_BUCKET, "b", &p, &d),
                     CERR_MALFORMED_POLICY);
    assert_string_equal(d.message, "Policies cannot exceed 20 KB");
    free(s);
}

static void
size_limit_of_key_policies(void **state)
{
    struct policy *p = NULL;
    struct err_detail d;
    char *s = malloc(40000);
    int n;

    (void)state;
    assert_non_null(s);
    n = snprintf(s, 40000, "{\"Statement\":{\"Sid\":\"%0*d\",\"Effect\":"
                 "\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\","
                 "\"Resource\":\"*\"}}", 30000, 0);
    assert_int_equal(policy_parse(s, (size_t)n, POLICY_KEY, NULL, &p, &d), 0);
    policy_free(p);
    n = snprintf(s, 40000, "{\"Statement\":{\"Sid\":\"%0*d\",\"Effect\":"
                 "\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\","
                 "\"Resource\":\"*\"}}", 33000, 0);
    assert_int_equal(policy_parse(s, (size_t)n, POLICY_KEY, NULL, &p, &d),
                     CERR_MALFORMED_POLICY);
    assert_string_equal(d.message, "Policies cannot exceed 32 KB");
    free(s);
}

static void
embedded_nul_is_invalid_json(void **state)
{
    static const char text[] = "{\"Statement\":[]}\0{}";
    struct policy *p = NULL;
    struct err_detail d;

    (void)state;
    assert_int_equal(policy_parse(text, sizeof(text) - 1, POLICY_BUCKET, "b",
                                  &p, &d), CERR_MALFORMED_POLICY);
    assert_string_equal(d.message, "This policy contains invalid Json");
}

static void
deep_nesting_is_refused(void **state)
{
    size_t n = 100000, i;
    char *s = malloc(2 * n + 16);
    struct policy *p = NULL;
    struct err_detail d;

    (void)state;
    assert_non_null(s);
    strcpy(s, "{\"Id\":");
    for (i = 0; i < n; i++)
        s[6 + i] = '[';
    s[6 + n] = '\0';
    assert_int_equal(policy_parse(s, strlen(s), POLICY_IDENTITY, NULL, &p,
                                  &d), CERR_MALFORMED_POLICY);
    free(s);
}

static void
leading_whitespace_and_no_detail(void **state)
{
    static const char text[] = "\n  {\"Statement\":{\"Effect\":\"Allow\","
        "\"Action\":\"s3:*\",\"Resource\":\"*\"}}";
    struct policy *p = NULL;

    (void)state;
    assert_int_equal(policy_parse(text, strlen(text), POLICY_IDENTITY, NULL,
                                  &p, NULL), 0);
    policy_free(p);
    assert_int_equal(policy_parse("x", 1, POLICY_IDENTITY, NULL, &p, NULL),
                     CERR_MALFORMED_POLICY);
}

static void
default_and_aws_s3_key_policies_parse(void **state)
{
    struct policy *p;

    (void)state;
    p = must_parse(DEFAULT_KEY_POLICY, POLICY_KEY);
    assert_false(policy_is_public(p));
    policy_free(p);
    p = must_parse(V12 "{'Effect':'Allow','Principal':{'AWS':'*'},'Action':"
                   "['kms:Encrypt','kms:Decrypt','kms:ReEncrypt*',"
                   "'kms:GenerateDataKey*','kms:DescribeKey'],'Resource':'*',"
                   "'Condition':{'StringEquals':{'kms:CallerAccount':'" ACCT
                   "','kms:ViaService':'s3.us-east-1.amazonaws.com'}}},"
                   "{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::" ACCT
                   ":root'},'Action':['kms:Describe*','kms:Get*','kms:List*'],"
                   "'Resource':'*'}" END, POLICY_KEY);
    assert_false(policy_is_public(p));
    policy_free(p);
}

/* PutKeyPolicy's lockout check is a decide_kms call on the new policy. */
static void
key_policy_lockout_check(void **state)
{
    struct policy *keep = must_parse(DEFAULT_KEY_POLICY, POLICY_KEY);
    struct policy *lose = must_parse(VIA_S3_KEY_POLICY, POLICY_KEY);
    struct policy_request r = { &principals[ROOT], "kms:PutKeyPolicy",
                                KEY_ARN, NULL };

    (void)state;
    assert_int_equal(policy_decide_kms(keep, NULL, 0, false, &r),
                     POLICY_ALLOW);
    assert_int_equal(policy_decide_kms(lose, NULL, 0, false, &r),
                     POLICY_DENY);
    policy_free(keep);
    policy_free(lose);
}

static bool
public_of(const char *text)
{
    struct policy *p = must_parse(text, POLICY_BUCKET);
    bool pub = policy_is_public(p);

    policy_free(p);
    return pub;
}

static void
public_policy_detection(void **state)
{
    (void)state;
    assert_true(public_of(ALLOW_TO("'*'", "s3:GetObject",
                                   "arn:aws:s3:::b/*", "")));
    assert_true(public_of(ALLOW_TO("{'AWS':'*'}", "s3:GetObject",
                                   "arn:aws:s3:::b/*", "")));
    assert_true(public_of(ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/*",
        ",'Condition':{'Bool':{'aws:SecureTransport':'true'}}")));
    assert_false(public_of(ALLOW_TO("'*'", "s3:GetObject",
        "arn:aws:s3:::b/*",
        ",'Condition':{'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}}")));
    assert_false(public_of(ALLOW_TO("'*'", "s3:GetObject",
        "arn:aws:s3:::b/*",
        ",'Condition':{'StringEquals':{'aws:PrincipalAccount':'" ACCT "'}}")));
    assert_false(public_of(ALLOW_TO("{'AWS':'" ACCT "'}", "s3:GetObject",
                                    "arn:aws:s3:::b/*", "")));
    assert_false(public_of(R));
    assert_true(public_of(V12 "{'Effect':'Allow','NotPrincipal':{'AWS':'"
                          U_ARN "'},'Action':'s3:GetObject','Resource':"
                          "'arn:aws:s3:::b/*'}" END));
    assert_false(policy_is_public(NULL));
}

static void
warnings_report_unknown_global_keys(void **state)
{
    struct policy *p;
    char *w;

    (void)state;
    p = must_parse(DENY_PUT("'StringNotEquals':{'aws:Foo':'x'}"),
                   POLICY_BUCKET);
    w = policy_warnings(p);
    assert_non_null(w);
    assert_non_null(strstr(w, "statement 1: condition key unknown to coffer, "
                           "always absent: aws:Foo"));
    assert_int_not_equal(w[strlen(w) - 1], '\n');
    free(w);
    policy_free(p);

    p = must_parse(ALLOW_TO("'*'", "s3:GetObject", "arn:aws:s3:::b/*", ""),
                   POLICY_BUCKET);
    assert_null(policy_warnings(p));
    policy_free(p);
    assert_null(policy_warnings(NULL));
}

static void
warnings_report_traps(void **state)
{
    struct policy *p;
    char *w;

    (void)state;
    p = must_parse(V08 "{'Sid':'S','Effect':'Allow','NotPrincipal':{'AWS':'"
                   U_ARN "'},'Action':'s3:PutObject','Resource':"
                   "'arn:aws:s3:::b/${aws:username}','Condition':"
                   "{'ForAllValues:StringEquals':{'s3:RequestObjectTagKeys':"
                   "'a'}}}" END, POLICY_BUCKET);
    w = policy_warnings(p);
    assert_non_null(w);
    assert_non_null(strstr(w, "statement \"S\": Allow with NotPrincipal"));
    assert_non_null(strstr(w, "literal text"));
    assert_non_null(strstr(w, "ForAllValues is true when the key is absent"));
    free(w);
    policy_free(p);
}

static int
collect_user(const char *arn, void *arg)
{
    struct buf *b = arg;

    buf_puts(b, arn);
    buf_putc(b, ' ');
    return strstr(arn, "stop") != NULL ? 7 : 0;
}

static void
foreach_user_lists_named_users(void **state)
{
    struct buf b = BUF_INIT;
    struct policy *p;

    (void)state;
    p = must_parse(V12 "{'Effect':'Allow','Principal':{'AWS':['" ACCT "','"
                   U_ARN "']},'Action':'s3:GetObject','Resource':"
                   "'arn:aws:s3:::b/*'},{'Effect':'Deny','NotPrincipal':"
                   "{'AWS':'arn:aws:iam::" ACCT ":user/path/stop'},'Action':"
                   "'s3:GetObject','Resource':'arn:aws:s3:::b/*'},"
                   "{'Effect':'Deny','Principal':{'AWS':'arn:aws:iam::" ACCT
                   ":user/never'},'Action':'s3:GetObject','Resource':"
                   "'arn:aws:s3:::b/*'}" END, POLICY_BUCKET);
    assert_int_equal(policy_foreach_user(p, collect_user, &b), 7);
    assert_string_equal(b.data, U_ARN " arn:aws:iam::" ACCT
                        ":user/path/stop ");
    buf_free(&b);
    policy_free(p);
}

static void
context_keys_ignore_case(void **state)
{
    struct policy *p = cond_policy("StringEquals", "aws:referer", "'x'");
    const char *vals[] = { "x", NULL };

    (void)state;
    assert_int_equal(eval_with(p, ANON, vals, "AWS:REFERER"), POLICY_ALLOW);
    policy_free(p);
    policy_ctx_free(NULL);
}

static void
eval_without_policy_or_context(void **state)
{
    struct policy *p = cond_policy("Null", "aws:Referer", "'true'");
    struct policy_request r = { NULL, "s3:GetObject", "arn:aws:s3:::b/k",
                                NULL };

    (void)state;
    assert_int_equal(policy_eval(NULL, &r), POLICY_NO_MATCH);
    assert_int_equal(policy_eval(p, &r), POLICY_ALLOW);
    r.action = NULL;
    assert_int_equal(policy_eval(p, &r), POLICY_NO_MATCH);
    policy_free(p);
}

static void
derived_principal_keys(void **state)
{
    struct policy *p;

    (void)state;
    p = cond_policy("StringEquals", "aws:PrincipalType", "'Anonymous'");
    assert_int_equal(eval_with(p, ANON, NULL, NULL), POLICY_ALLOW);
    assert_int_equal(eval_with(p, ROOT, NULL, NULL), POLICY_NO_MATCH);
    policy_free(p);
    p = cond_policy("StringEquals", "aws:PrincipalType", "'Account'");
    assert_int_equal(eval_with(p, ROOT, NULL, NULL), POLICY_ALLOW);
    policy_free(p);
    p = cond_policy("Null", "aws:username", "'true'");
    assert_int_equal(eval_with(p, ROOT, NULL, NULL), POLICY_ALLOW);
    assert_int_equal(eval_with(p, ALICE, NULL, NULL), POLICY_NO_MATCH);
    policy_free(p);
    p = cond_policy("StringEquals", "aws:PrincipalAccount", "'" OTHER "'");
    assert_int_equal(eval_with(p, CAROL, NULL, NULL), POLICY_ALLOW);
    assert_int_equal(eval_with(p, ANON, NULL, NULL), POLICY_NO_MATCH);
    policy_free(p);
}

/* ------------------------------------------------------------------ */

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct CMUnitTest fixed[] = {
    cmocka_unit_test(glob_wildcards),
    cmocka_unit_test(glob_literal_mask),
    cmocka_unit_test(arn_match_parts),
    cmocka_unit_test(cidr_parsing),
    cmocka_unit_test(number_parsing),
    cmocka_unit_test(date_parsing),
    cmocka_unit_test(recipe_policy_as_sent),
    cmocka_unit_test(size_limit_counts_without_whitespace),
    cmocka_unit_test(size_limit_of_key_policies),
    cmocka_unit_test(embedded_nul_is_invalid_json),
    cmocka_unit_test(deep_nesting_is_refused),
    cmocka_unit_test(leading_whitespace_and_no_detail),
    cmocka_unit_test(default_and_aws_s3_key_policies_parse),
    cmocka_unit_test(key_policy_lockout_check),
    cmocka_unit_test(public_policy_detection),
    cmocka_unit_test(warnings_report_unknown_global_keys),
    cmocka_unit_test(warnings_report_traps),
    cmocka_unit_test(foreach_user_lists_named_users),
    cmocka_unit_test(context_keys_ignore_case),
    cmocka_unit_test(eval_without_policy_or_context),
    cmocka_unit_test(derived_principal_keys),
};

/* Append one test per row of a table, named after the row. */
#define ADD_ROWS(tab, fn) \
    for (i = 0; i < NELEM(tab); i++) \
        tests[n++] = (struct CMUnitTest){ (tab)[i].name, fn, NULL, NULL, \
                                          (void *)&(tab)[i] }

int
main(void)
{
    static struct CMUnitTest tests[NELEM(fixed) + NELEM(vectors) +
        NELEM(decisions) + NELEM(varcases) + NELEM(faults) +
        NELEM(opcases) + NELEM(setcases)];
    size_t i, n = 0;

    ADD_ROWS(vectors, run_evcase);
    ADD_ROWS(decisions, run_evcase);
    ADD_ROWS(varcases, run_evcase);
    ADD_ROWS(faults, run_fault);
    ADD_ROWS(opcases, run_opcase);
    ADD_ROWS(setcases, run_setcase);
    for (i = 0; i < NELEM(fixed); i++)
        tests[n++] = fixed[i];
    return _cmocka_run_group_tests("policy", tests, n, NULL, NULL);
}
