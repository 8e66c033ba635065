/*
 * The vocabulary a policy may use: actions, condition operators and
 * condition keys (policy.md §4, §5, §7, §9; rulings 15).
 *
 * "Known" means coffer serves the action or fills the key.  AWS has more
 * of both; those are listed too, marked unimplemented, so that a policy
 * naming them is refused with NotImplemented instead of being called
 * malformed or, worse, evaluated as if the key were simply absent.
 */
#include <string.h>

#include "policy/policy_int.h"

#define S3A(n, k) { "s3:" n, k, true }
#define S3X(n, k) { "s3:" n, k, false }
#define KMSA(n, k) { "kms:" n, k, true }
#define KMSX(n, k) { "kms:" n, k, false }

static const struct action_info actions[] = {
    /* Served by coffer (policy.md §7). */
    S3A("ListAllMyBuckets", ACT_SERVICE),
    S3A("CreateBucket", ACT_BUCKET),
    S3A("DeleteBucket", ACT_BUCKET),
    S3A("GetBucketLocation", ACT_BUCKET),
    S3A("ListBucket", ACT_BUCKET),
    S3A("ListBucketMultipartUploads", ACT_BUCKET),
    S3A("PutEncryptionConfiguration", ACT_BUCKET),
    S3A("GetEncryptionConfiguration", ACT_BUCKET),
    S3A("PutBucketPolicy", ACT_BUCKET),
    S3A("GetBucketPolicy", ACT_BUCKET),
    S3A("DeleteBucketPolicy", ACT_BUCKET),
    S3A("GetBucketPolicyStatus", ACT_BUCKET),
    S3A("PutBucketTagging", ACT_BUCKET),
    S3A("GetBucketTagging", ACT_BUCKET),
    S3A("PutBucketPublicAccessBlock", ACT_BUCKET),
    S3A("GetBucketPublicAccessBlock", ACT_BUCKET),
    S3A("PutObject", ACT_OBJECT),
    S3A("GetObject", ACT_OBJECT),
    S3A("GetObjectVersion", ACT_OBJECT),
    S3A("DeleteObject", ACT_OBJECT),
    S3A("AbortMultipartUpload", ACT_OBJECT),
    S3A("ListMultipartUploadParts", ACT_OBJECT),
    S3A("GetObjectTagging", ACT_OBJECT),
    S3A("PutObjectTagging", ACT_OBJECT),
    S3A("DeleteObjectTagging", ACT_OBJECT),
    /* A request that names the null version, the only one here. */
    S3A("DeleteObjectVersion", ACT_OBJECT),
    S3A("GetObjectVersionTagging", ACT_OBJECT),
    S3A("PutObjectVersionTagging", ACT_OBJECT),
    S3A("DeleteObjectVersionTagging", ACT_OBJECT),

    /* AWS S3 actions for operations coffer does not serve. */
    S3X("GetBucketAcl", ACT_BUCKET),
    S3X("PutBucketAcl", ACT_BUCKET),
    S3X("GetBucketCORS", ACT_BUCKET),
    S3X("PutBucketCORS", ACT_BUCKET),
    S3X("GetBucketVersioning", ACT_BUCKET),
    S3X("PutBucketVersioning", ACT_BUCKET),
    S3X("ListBucketVersions", ACT_BUCKET),
    S3X("GetLifecycleConfiguration", ACT_BUCKET),
    S3X("PutLifecycleConfiguration", ACT_BUCKET),
    S3X("GetBucketLogging", ACT_BUCKET),
    S3X("PutBucketLogging", ACT_BUCKET),
    S3X("GetBucketNotification", ACT_BUCKET),
    S3X("PutBucketNotification", ACT_BUCKET),
    S3X("GetBucketWebsite", ACT_BUCKET),
    S3X("PutBucketWebsite", ACT_BUCKET),
    S3X("DeleteBucketWebsite", ACT_BUCKET),
    S3X("GetBucketRequestPayment", ACT_BUCKET),
    S3X("PutBucketRequestPayment", ACT_BUCKET),
    S3X("GetReplicationConfiguration", ACT_BUCKET),
    S3X("PutReplicationConfiguration", ACT_BUCKET),
    S3X("GetBucketObjectLockConfiguration", ACT_BUCKET),
    S3X("PutBucketObjectLockConfiguration", ACT_BUCKET),
    S3X("GetBucketOwnershipControls", ACT_BUCKET),
    S3X("PutBucketOwnershipControls", ACT_BUCKET),
    S3X("GetAccelerateConfiguration", ACT_BUCKET),
    S3X("PutAccelerateConfiguration", ACT_BUCKET),
    S3X("GetAnalyticsConfiguration", ACT_BUCKET),
    S3X("PutAnalyticsConfiguration", ACT_BUCKET),
    S3X("GetInventoryConfiguration", ACT_BUCKET),
    S3X("PutInventoryConfiguration", ACT_BUCKET),
    S3X("GetMetricsConfiguration", ACT_BUCKET),
    S3X("PutMetricsConfiguration", ACT_BUCKET),
    S3X("GetIntelligentTieringConfiguration", ACT_BUCKET),
    S3X("PutIntelligentTieringConfiguration", ACT_BUCKET),
    S3X("GetObjectAcl", ACT_OBJECT),
    S3X("PutObjectAcl", ACT_OBJECT),
    S3X("GetObjectVersionAcl", ACT_OBJECT),
    S3X("PutObjectVersionAcl", ACT_OBJECT),
    S3X("GetObjectAttributes", ACT_OBJECT),
    S3X("GetObjectVersionAttributes", ACT_OBJECT),
    S3X("RestoreObject", ACT_OBJECT),
    S3X("GetObjectRetention", ACT_OBJECT),
    S3X("PutObjectRetention", ACT_OBJECT),
    S3X("GetObjectLegalHold", ACT_OBJECT),
    S3X("PutObjectLegalHold", ACT_OBJECT),
    S3X("BypassGovernanceRetention", ACT_OBJECT),
    S3X("GetObjectTorrent", ACT_OBJECT),
    S3X("GetObjectVersionTorrent", ACT_OBJECT),
    S3X("ReplicateObject", ACT_OBJECT),
    S3X("ReplicateDelete", ACT_OBJECT),
    S3X("ReplicateTags", ACT_OBJECT),
    S3X("ObjectOwnerOverrideToBucketOwner", ACT_OBJECT),
    S3X("GetObjectVersionForReplication", ACT_OBJECT),

    /* KMS operations coffer serves (kms-api.md). */
    KMSA("CreateKey", ACT_KEYLESS),
    KMSA("ListKeys", ACT_KEYLESS),
    KMSA("ListAliases", ACT_KEYLESS),
    KMSA("GenerateRandom", ACT_KEYLESS),
    KMSA("ListRetirableGrants", ACT_KEYLESS),
    KMSA("DescribeKey", ACT_KEY),
    KMSA("EnableKey", ACT_KEY),
    KMSA("DisableKey", ACT_KEY),
    KMSA("ScheduleKeyDeletion", ACT_KEY),
    KMSA("CancelKeyDeletion", ACT_KEY),
    KMSA("CreateAlias", ACT_KEY),
    KMSA("UpdateAlias", ACT_KEY),
    KMSA("DeleteAlias", ACT_KEY),
    KMSA("TagResource", ACT_KEY),
    KMSA("UntagResource", ACT_KEY),
    KMSA("ListResourceTags", ACT_KEY),
    KMSA("Encrypt", ACT_KEY),
    KMSA("Decrypt", ACT_KEY),
    KMSA("ReEncryptFrom", ACT_KEY),
    KMSA("ReEncryptTo", ACT_KEY),
    KMSA("GenerateDataKey", ACT_KEY),
    KMSA("GenerateDataKeyWithoutPlaintext", ACT_KEY),
    KMSA("EnableKeyRotation", ACT_KEY),
    KMSA("DisableKeyRotation", ACT_KEY),
    KMSA("GetKeyRotationStatus", ACT_KEY),
    KMSA("RotateKeyOnDemand", ACT_KEY),
    KMSA("ListKeyRotations", ACT_KEY),
    KMSA("GetKeyPolicy", ACT_KEY),
    KMSA("PutKeyPolicy", ACT_KEY),
    KMSA("CreateGrant", ACT_KEY),
    KMSA("ListGrants", ACT_KEY),
    KMSA("RetireGrant", ACT_KEY),
    KMSA("RevokeGrant", ACT_KEY),
    KMSA("UpdateKeyDescription", ACT_KEY),

    /* AWS KMS operations coffer does not serve. */
    KMSX("ConnectCustomKeyStore", ACT_KEYLESS),
    KMSX("CreateCustomKeyStore", ACT_KEYLESS),
    KMSX("DeleteCustomKeyStore", ACT_KEYLESS),
    KMSX("DescribeCustomKeyStores", ACT_KEYLESS),
    KMSX("DisconnectCustomKeyStore", ACT_KEYLESS),
    KMSX("UpdateCustomKeyStore", ACT_KEYLESS),
    KMSX("DeleteImportedKeyMaterial", ACT_KEY),
    KMSX("GetParametersForImport", ACT_KEY),
    KMSX("ImportKeyMaterial", ACT_KEY),
    KMSX("DeriveSharedSecret", ACT_KEY),
    KMSX("GenerateDataKeyPair", ACT_KEY),
    KMSX("GenerateDataKeyPairWithoutPlaintext", ACT_KEY),
    KMSX("GenerateMac", ACT_KEY),
    KMSX("VerifyMac", ACT_KEY),
    KMSX("GetPublicKey", ACT_KEY),
    KMSX("Sign", ACT_KEY),
    KMSX("Verify", ACT_KEY),
    KMSX("ReplicateKey", ACT_KEY),
    KMSX("SynchronizeMultiRegionKey", ACT_KEY),
    KMSX("UpdatePrimaryRegion", ACT_KEY),
    KMSX("ListKeyPolicies", ACT_KEY),
};

/*
 * Condition operators (policy.md §4).  Names are matched without regard
 * to case; "IfExists" and the set qualifiers are parsed around them.
 */
static const struct cond_op ops[] = {
    { "StringEquals", FAM_STR, CMP_EQ, false },
    { "StringNotEquals", FAM_STR, CMP_EQ, true },
    { "StringEqualsIgnoreCase", FAM_ISTR, CMP_EQ, false },
    { "StringNotEqualsIgnoreCase", FAM_ISTR, CMP_EQ, true },
    { "StringLike", FAM_LIKE, CMP_EQ, false },
    { "StringNotLike", FAM_LIKE, CMP_EQ, true },
    { "NumericEquals", FAM_NUM, CMP_EQ, false },
    { "NumericNotEquals", FAM_NUM, CMP_EQ, true },
    { "NumericLessThan", FAM_NUM, CMP_LT, false },
    { "NumericLessThanEquals", FAM_NUM, CMP_LE, false },
    { "NumericGreaterThan", FAM_NUM, CMP_GT, false },
    { "NumericGreaterThanEquals", FAM_NUM, CMP_GE, false },
    { "DateEquals", FAM_DATE, CMP_EQ, false },
    { "DateNotEquals", FAM_DATE, CMP_EQ, true },
    { "DateLessThan", FAM_DATE, CMP_LT, false },
    { "DateLessThanEquals", FAM_DATE, CMP_LE, false },
    { "DateGreaterThan", FAM_DATE, CMP_GT, false },
    { "DateGreaterThanEquals", FAM_DATE, CMP_GE, false },
    { "Bool", FAM_BOOL, CMP_EQ, false },
    { "BinaryEquals", FAM_BIN, CMP_EQ, false },
    { "IpAddress", FAM_IP, CMP_EQ, false },
    { "NotIpAddress", FAM_IP, CMP_EQ, true },
    { "ArnEquals", FAM_ARN, CMP_EQ, false },
    { "ArnLike", FAM_ARN, CMP_EQ, false },
    { "ArnNotEquals", FAM_ARN, CMP_EQ, true },
    { "ArnNotLike", FAM_ARN, CMP_EQ, true },
    { "Null", FAM_NULL, CMP_EQ, false },
};

/* Actions each s3: condition key applies to (policy.md §5). */
static const char *const acts_put[] = { "s3:PutObject", NULL };
static const char *const acts_acl[] = {
    "s3:PutObject", "s3:PutObjectAcl", "s3:CreateBucket", "s3:PutBucketAcl",
    NULL,
};
static const char *const acts_list[] = {
    "s3:ListBucket", "s3:ListBucketVersions", NULL,
};
static const char *const acts_existing_tag[] = {
    "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging",
    "s3:PutObjectTagging", "s3:DeleteObjectTagging", "s3:GetObjectAcl",
    "s3:PutObjectAcl", "s3:GetObjectVersionTagging",
    "s3:PutObjectVersionTagging", "s3:DeleteObjectVersionTagging", NULL,
};
static const char *const acts_request_tag[] = {
    "s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging",
    NULL,
};

struct key_row {
    const char *name;
    enum key_class cls;
    const char *const *actions;     /* NULL: every action */
    bool prefix;                    /* name ends in '/' or ':' + free text */
};

static const struct key_row keys[] = {
    /* Global keys coffer fills. */
    { "aws:SecureTransport", KEY_KNOWN, NULL, false },
    { "aws:SourceIp", KEY_KNOWN, NULL, false },
    { "aws:CurrentTime", KEY_KNOWN, NULL, false },
    { "aws:EpochTime", KEY_KNOWN, NULL, false },
    { "aws:PrincipalArn", KEY_KNOWN, NULL, false },
    { "aws:PrincipalAccount", KEY_KNOWN, NULL, false },
    { "aws:PrincipalType", KEY_KNOWN, NULL, false },
    { "aws:userid", KEY_KNOWN, NULL, false },
    { "aws:username", KEY_KNOWN, NULL, false },
    { "aws:Referer", KEY_KNOWN, NULL, false },
    { "aws:UserAgent", KEY_KNOWN, NULL, false },

    /* S3 keys coffer fills. */
    { "s3:x-amz-server-side-encryption", KEY_KNOWN, acts_put, false },
    { "s3:x-amz-server-side-encryption-aws-kms-key-id", KEY_KNOWN,
      acts_put, false },
    { "s3:x-amz-server-side-encryption-customer-algorithm", KEY_KNOWN,
      acts_put, false },
    { "s3:x-amz-acl", KEY_KNOWN, acts_acl, false },
    { "s3:x-amz-copy-source", KEY_KNOWN, acts_put, false },
    { "s3:x-amz-metadata-directive", KEY_KNOWN, acts_put, false },
    { "s3:prefix", KEY_KNOWN, acts_list, false },
    { "s3:delimiter", KEY_KNOWN, acts_list, false },
    { "s3:max-keys", KEY_KNOWN, acts_list, false },
    { "s3:ExistingObjectTag/", KEY_KNOWN, acts_existing_tag, true },
    { "s3:RequestObjectTag/", KEY_KNOWN, acts_request_tag, true },
    { "s3:RequestObjectTagKeys", KEY_KNOWN, acts_request_tag, false },
    { "s3:signatureversion", KEY_KNOWN, NULL, false },
    { "s3:authType", KEY_KNOWN, NULL, false },
    { "s3:signatureAge", KEY_KNOWN, NULL, false },
    { "s3:x-amz-content-sha256", KEY_KNOWN, NULL, false },
    { "s3:TlsVersion", KEY_KNOWN, NULL, false },

    /* S3 keys AWS has and coffer does not fill. */
    { "s3:VersionId", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:LocationConstraint", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:x-amz-grant-read", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:x-amz-grant-write", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:x-amz-grant-read-acp", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:x-amz-grant-write-acp", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:x-amz-grant-full-control", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:x-amz-storage-class", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:x-amz-website-redirect-location", KEY_UNIMPLEMENTED, NULL,
      false },
    { "s3:x-amz-object-ownership", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:object-lock-mode", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:object-lock-retain-until-date", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:object-lock-remaining-retention-days", KEY_UNIMPLEMENTED, NULL,
      false },
    { "s3:object-lock-legal-hold", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:ResourceAccount", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:AccessPointNetworkOrigin", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:DataAccessPointAccount", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:DataAccessPointArn", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:if-match", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:if-none-match", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:ObjectCreationOperation", KEY_UNIMPLEMENTED, NULL, false },
    { "s3:BucketTag/", KEY_UNIMPLEMENTED, NULL, true },

    /* KMS keys coffer fills. */
    { "kms:ViaService", KEY_KNOWN, NULL, false },
    { "kms:CallerAccount", KEY_KNOWN, NULL, false },
    { "kms:EncryptionContext:", KEY_KNOWN, NULL, true },
    { "kms:EncryptionContextKeys", KEY_KNOWN, NULL, false },

    /* KMS keys AWS has and coffer does not fill. */
    { "kms:BypassPolicyLockoutSafetyCheck", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:CustomerMasterKeySpec", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:CustomerMasterKeyUsage", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:DataKeyPairSpec", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:EncryptionAlgorithm", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:ExpirationModel", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:GrantConstraintType", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:GrantIsForAWSResource", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:GrantOperations", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:GranteePrincipal", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:KeyAgreementAlgorithm", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:KeyOrigin", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:KeySpec", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:KeyUsage", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:MacAlgorithm", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:MessageType", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:MultiRegion", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:MultiRegionKeyType", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:PrimaryRegion", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:ReplicaRegion", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:RecipientAttestation:", KEY_UNIMPLEMENTED, NULL, true },
    { "kms:RequestAlias", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:ResourceAliases", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:RetiringPrincipal", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:RotationPeriodInDays", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:ScheduleKeyDeletionPendingWindowInDays", KEY_UNIMPLEMENTED, NULL,
      false },
    { "kms:SigningAlgorithm", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:ValidTo", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:WrappingAlgorithm", KEY_UNIMPLEMENTED, NULL, false },
    { "kms:WrappingKeySpec", KEY_UNIMPLEMENTED, NULL, false },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * ASCII case folding, so "I" and "i" compare equal whatever the locale
 * (strcasecmp follows LC_CTYPE).
 */
static int
fold(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* strcmp that ignores ASCII case; same sign convention. */
int
policy_strcasecmp(const char *a, const char *b)
{
    while (*a != '\0' && fold((unsigned char)*a) == fold((unsigned char)*b)) {
        a++;
        b++;
    }
    return fold((unsigned char)*a) - fold((unsigned char)*b);
}

/* True when the first n bytes of a and b are equal ignoring ASCII case. */
bool
policy_strncaseeq(const char *a, const char *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
            return false;
        if (a[i] == '\0')
            return true;
    }
    return true;
}

/* The whole action table (served and unserved); never NULL. */
const struct action_info *
policy_actions(size_t *n)
{
    *n = NELEM(actions);
    return actions;
}

/* The operator named by the first len bytes of name, ignoring case. */
const struct cond_op *
policy_op_find(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < NELEM(ops); i++)
        if (strlen(ops[i].name) == len &&
            policy_strncaseeq(ops[i].name, name, len))
            return &ops[i];
    return NULL;
}

/* Does `key` name this row (a prefix row needs text after its prefix)? */
static bool
row_matches(const struct key_row *r, const char *key)
{
    size_t n = strlen(r->name);

    if (!r->prefix)
        return policy_strcasecmp(key, r->name) == 0;
    return strlen(key) > n && policy_strncaseeq(key, r->name, n);
}

/*
 * Classify a condition key name (case-insensitive).  A prefix row such as
 * "s3:ExistingObjectTag/" needs at least one character after the prefix.
 * Unlisted aws: keys are KEY_UNKNOWN_GLOBAL (ruling 15: accepted, absent
 * at evaluation); anything else unlisted is KEY_UNKNOWN.
 */
void
policy_key_classify(const char *key, struct key_info *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < NELEM(keys); i++) {
        if (!row_matches(&keys[i], key))
            continue;
        out->cls = keys[i].cls;
        out->actions = keys[i].actions;
        out->single_valued_ctx = keys[i].prefix &&
            policy_strcasecmp(keys[i].name, "kms:EncryptionContext:") == 0;
        return;
    }
    if (strlen(key) > 4 && policy_strncaseeq(key, "aws:", 4))
        out->cls = KEY_UNKNOWN_GLOBAL;
    else
        out->cls = KEY_UNKNOWN;
}

/*
 * True for KMS actions that name no key (CreateKey, ListKeys, ...), which
 * only identity policies and the account root decide (policy.md §9).
 */
bool
policy_action_keyless(const char *action)
{
    size_t i;

    for (i = 0; i < NELEM(actions); i++)
        if (policy_strcasecmp(actions[i].name, action) == 0)
            return actions[i].kind == ACT_KEYLESS;
    return false;
}
