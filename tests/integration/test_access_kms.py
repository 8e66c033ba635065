"""KMS key policies and users (policy.md §9, ruling 11), called directly
and through S3: the key policy is required, identity policies count only
when it allows the account, a key policy may name a user outright, and
kms:ViaService tells S3's calls from direct ones.
"""

import json

import pytest

from access_helpers import (User, allow, bucket_arn, deny, error_of,
                            identity, root_arn)
from clients import unique_name
from server import REGION

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

VIA_S3 = "s3.%s.amazonaws.com" % REGION


@pytest.fixture
def kms(http_endpoint):
    return http_endpoint.boto3("kms")


@pytest.fixture
def s3(http_endpoint):
    return http_endpoint.boto3("s3")


@pytest.fixture
def bucket(s3):
    name = unique_name("akms")
    s3.create_bucket(Bucket=name)
    return name


def key_policy(*statements):
    return json.dumps({"Version": "2012-10-17",
                       "Statement": list(statements)})


def root_admin():
    return {"Sid": "root", "Effect": "Allow",
            "Principal": {"AWS": root_arn()}, "Action": "kms:*",
            "Resource": "*"}


def test_default_key_policy_defers_to_identity(coffer, tmp_path,
                                               http_endpoint, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    user = User(coffer, tmp_path)
    ukms = user.client(http_endpoint, "kms")
    with pytest.raises(ClientError) as e:
        ukms.encrypt(KeyId=key, Plaintext=b"x")
    assert error_of(e) == ("AccessDeniedException", 400)
    assert user.arn in e.value.response["Error"]["Message"]

    user.attach("use", identity(allow(["kms:Encrypt", "kms:Decrypt"], key)))
    blob = ukms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    assert ukms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    with pytest.raises(ClientError) as e:
        ukms.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert error_of(e) == ("AccessDeniedException", 400)


def test_key_policy_naming_user_needs_no_identity_policy(coffer, tmp_path,
                                                         http_endpoint,
                                                         kms):
    user = User(coffer, tmp_path)
    key = kms.create_key(Policy=key_policy(root_admin(), {
        "Effect": "Allow", "Principal": {"AWS": user.arn},
        "Action": "kms:Encrypt", "Resource": "*"}))["KeyMetadata"]["Arn"]
    ukms = user.client(http_endpoint, "kms")
    ukms.encrypt(KeyId=key, Plaintext=b"x")
    with pytest.raises(ClientError) as e:
        ukms.describe_key(KeyId=key)
    assert error_of(e) == ("AccessDeniedException", 400)


def test_identity_policy_ignored_when_key_policy_omits_account(
        coffer, tmp_path, http_endpoint, kms):
    named = User(coffer, tmp_path)
    other = User(coffer, tmp_path, policies={
        "kms": identity(allow("kms:*", "*"))})
    key = kms.create_key(Policy=key_policy({
        "Effect": "Allow", "Principal": {"AWS": named.arn},
        "Action": "kms:*", "Resource": "*"}),
        BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["Arn"]

    named.client(http_endpoint, "kms").encrypt(KeyId=key, Plaintext=b"x")
    with pytest.raises(ClientError) as e:
        other.client(http_endpoint, "kms").encrypt(KeyId=key, Plaintext=b"x")
    assert error_of(e) == ("AccessDeniedException", 400)
    # Not even the account root: the key policy does not name the account.
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert error_of(e) == ("AccessDeniedException", 400)


def test_user_upload_through_s3_needs_kms_permission(coffer, tmp_path,
                                                     endpoint, kms, bucket):
    """Vector 50: s3:PutObject alone does not let a user encrypt under a
    customer key; kms:GenerateDataKey does, and reading needs
    kms:Decrypt."""
    key = kms.create_key()["KeyMetadata"]["Arn"]
    user = User(coffer, tmp_path, policies={"s3": identity(allow(
        ["s3:PutObject", "s3:GetObject"], bucket_arn(bucket, "*")))})
    us3 = user.client(endpoint)
    put = dict(Bucket=bucket, Key="k", Body=b"secret",
               ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    with pytest.raises(ClientError) as e:
        us3.put_object(**put)
    assert error_of(e) == ("AccessDenied", 403)

    user.attach("gen", identity(allow("kms:GenerateDataKey", key)))
    assert us3.put_object(**put)["SSEKMSKeyId"] == key
    with pytest.raises(ClientError) as e:
        us3.get_object(Bucket=bucket, Key="k")
    assert error_of(e) == ("AccessDenied", 403)

    user.attach("dec", identity(allow("kms:Decrypt", key)))
    assert us3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"


def test_via_service_condition(coffer, tmp_path, http_endpoint, kms,
                               bucket):
    """Vector 51: a key policy that lets a user use the key only through
    S3."""
    user = User(coffer, tmp_path, policies={"s3": identity(allow(
        ["s3:PutObject", "s3:GetObject"], bucket_arn(bucket, "*")))})
    key = kms.create_key(Policy=key_policy(root_admin(), {
        "Effect": "Allow", "Principal": {"AWS": user.arn},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": VIA_S3}}}))
    key = key["KeyMetadata"]["Arn"]

    us3 = user.client(http_endpoint)
    us3.put_object(Bucket=bucket, Key="via", Body=b"v",
                   ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    assert us3.get_object(Bucket=bucket, Key="via")["Body"].read() == b"v"
    with pytest.raises(ClientError) as e:
        user.client(http_endpoint, "kms").generate_data_key(
            KeyId=key, KeySpec="AES_256")
    assert error_of(e) == ("AccessDeniedException", 400)


def test_key_policy_deny_for_user_through_s3(coffer, tmp_path,
                                             http_endpoint, kms, bucket):
    """An explicit Deny in the key policy beats the user's identity
    Allow, through S3 too."""
    user = User(coffer, tmp_path, policies={"all": identity(
        allow("s3:*", "*"), allow("kms:*", "*"))})
    key = kms.create_key(Policy=key_policy(
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": root_arn()}, "Action": "kms:*",
         "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": user.arn},
         "Action": "kms:GenerateDataKey", "Resource": "*"}))
    key = key["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as e:
        user.client(http_endpoint).put_object(
            Bucket=bucket, Key="d", Body=b"d",
            ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    assert error_of(e) == ("AccessDenied", 403)
    user.client(http_endpoint, "kms").encrypt(KeyId=key, Plaintext=b"x")


def test_anonymous_never_uses_a_key(http_endpoint, s3, kms, bucket):
    """A bucket policy may open objects to everyone, and a key policy
    may name "*", but an unsigned request never gets S3 to use a KMS key
    for it: SSE-KMS objects stay closed to anonymous callers."""
    from access_helpers import anonymous_s3

    key = kms.create_key(Policy=key_policy(root_admin(), {
        "Effect": "Allow", "Principal": "*", "Action": "kms:*",
        "Resource": "*"}))["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=bucket, Key="kms", Body=b"k",
                  ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    s3.put_object(Bucket=bucket, Key="s3", Body=b"s",
                  ServerSideEncryption="AES256")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*",
                       "Action": ["s3:GetObject", "s3:PutObject"],
                       "Resource": bucket_arn(bucket, "*")}]}))
    anon = anonymous_s3(http_endpoint)
    assert anon.get_object(Bucket=bucket, Key="s3")["Body"].read() == b"s"
    with pytest.raises(ClientError) as e:
        anon.get_object(Bucket=bucket, Key="kms")
    assert error_of(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        anon.put_object(Bucket=bucket, Key="new", Body=b"n",
                        ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    assert error_of(e) == ("AccessDenied", 403)


def managed_by_root_only():
    """A key policy that lets the account manage the key and grant it,
    but use it for nothing: only a grant can."""
    return key_policy({
        "Sid": "manage", "Effect": "Allow", "Principal": {"AWS": root_arn()},
        "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant",
                   "kms:DescribeKey", "kms:GetKeyPolicy",
                   "kms:PutKeyPolicy"],
        "Resource": "*"})


@pytest.mark.parametrize("grantee", ["root-arn", "account-id"])
def test_grant_to_the_account_passes_to_users_through_iam(
        coffer, tmp_path, http_endpoint, kms, grantee):
    """A grant whose grantee is the account (its root ARN or its bare id)
    is used by the account's IAM users the way a key policy naming the
    account is: only where their identity policies allow the operation
    on the key, and never past a Deny.  Root, the account itself, uses
    it directly."""
    from server import ACCOUNT_ID

    key = kms.create_key(Policy=managed_by_root_only())["KeyMetadata"][
        "Arn"]
    user = User(coffer, tmp_path,
                policies={"use": identity(allow(["kms:Encrypt",
                                                  "kms:Decrypt"], key))})
    bare = User(coffer, tmp_path)
    ukms, bkms = (u.client(http_endpoint, "kms") for u in (user, bare))
    for client in (ukms, kms):
        with pytest.raises(ClientError) as e:
            client.encrypt(KeyId=key, Plaintext=b"x")
        assert error_of(e) == ("AccessDeniedException", 400)

    who = root_arn() if grantee == "root-arn" else ACCOUNT_ID
    grant = kms.create_grant(KeyId=key, GranteePrincipal=who,
                             Operations=["Encrypt", "Decrypt"])["GrantId"]
    blob = ukms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    assert ukms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    # No identity policy: the grant to the account is not the user's own.
    with pytest.raises(ClientError) as e:
        bkms.decrypt(CiphertextBlob=blob)
    assert error_of(e) == ("AccessDeniedException", 400)
    assert bare.arn in e.value.response["Error"]["Message"]
    # Operations the grant leaves out stay refused whatever IAM says.
    user.attach("more", identity(allow("kms:GenerateDataKey", key)))
    with pytest.raises(ClientError) as e:
        ukms.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert error_of(e) == ("AccessDeniedException", 400)
    # A Deny in an identity policy wins over the grant.
    user.attach("no", identity(deny("kms:Decrypt", key)))
    with pytest.raises(ClientError) as e:
        ukms.decrypt(CiphertextBlob=blob)
    assert error_of(e) == ("AccessDeniedException", 400)
    user.detach("no")
    ukms.decrypt(CiphertextBlob=blob)

    kms.revoke_grant(KeyId=key, GrantId=grant)
    with pytest.raises(ClientError) as e:
        ukms.encrypt(KeyId=key, Plaintext=b"x")
    assert error_of(e) == ("AccessDeniedException", 400)


def test_user_hands_on_a_grant_to_the_account(coffer, tmp_path,
                                              http_endpoint, kms):
    """A user whose identity policy allows kms:CreateGrant may hand on
    what a grant to its account allows, and no more."""
    # Only root itself, not the account's users, may grant by the policy.
    key = kms.create_key(Policy=key_policy({
        "Effect": "Allow", "Principal": {"AWS": root_arn()},
        "Action": ["kms:CreateGrant", "kms:PutKeyPolicy"], "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalArn": root_arn()}}}))[
            "KeyMetadata"]["Arn"]
    kms.create_grant(KeyId=key, GranteePrincipal=root_arn(),
                     Operations=["Encrypt", "CreateGrant"])
    user = User(coffer, tmp_path,
                policies={"g": identity(allow("kms:CreateGrant", key))})
    other = User(coffer, tmp_path)
    ukms = user.client(http_endpoint, "kms")
    ukms.create_grant(KeyId=key, GranteePrincipal=other.arn,
                      Operations=["Encrypt"])
    other.client(http_endpoint, "kms").encrypt(KeyId=key, Plaintext=b"o")
    with pytest.raises(ClientError) as e:
        ukms.create_grant(KeyId=key, GranteePrincipal=other.arn,
                          Operations=["Decrypt"])
    assert error_of(e) == ("AccessDeniedException", 400)
