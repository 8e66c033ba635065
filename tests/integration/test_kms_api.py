"""Every KMS operation coffer serves, through boto3 over HTTP: the happy
path, the key-state errors of each operation, and the validation errors
with AWS's error codes.  Grants are exercised with real users made by
`coffer admin`, including the calls S3 makes for them.
"""

import json
import os

import pytest

from access_helpers import User, allow, error_of, identity
from clients import unique_name
from server import ACCOUNT_ID, REGION

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

CTX = {"aws:s3:arn": "arn:aws:s3:::bucket/key", "team": "blue"}


@pytest.fixture(scope="module")
def kms(http_endpoint):
    return http_endpoint.boto3("kms")


@pytest.fixture
def key(kms):
    """A fresh customer key: (key id, key ARN)."""
    meta = kms.create_key(Description="api test key")["KeyMetadata"]
    return meta["KeyId"], meta["Arn"]


def kms_arn(resource):
    return "arn:aws:kms:%s:%s:%s" % (REGION, ACCOUNT_ID, resource)


def fails(code, fn, *args, **kwargs):
    """Calls fn, which must fail with `code` (HTTP 400); returns the
    message."""
    with pytest.raises(ClientError) as e:
        fn(*args, **kwargs)
    assert error_of(e) == (code, 400), e.value.response
    return e.value.response["Error"].get("Message", "")


# ---- keys -----------------------------------------------------------------


def test_create_key_refuses_what_coffer_lacks(kms):
    for kwargs in ({"KeyUsage": "SIGN_VERIFY"}, {"KeySpec": "RSA_2048"},
                   {"Origin": "EXTERNAL"}, {"MultiRegion": True}):
        fails("UnsupportedOperationException", kms.create_key, **kwargs)
    fails("ValidationException", kms.create_key,
          KeySpec="SYMMETRIC_DEFAULT",
          CustomerMasterKeySpec="SYMMETRIC_DEFAULT")
    msg = fails("ValidationException", kms.create_key,
                Description="d" * 8193)
    assert "description" in msg
    fails("ValidationException", kms.create_key, KeyUsage="NOPE")


def test_create_key_tags_and_policy_checked(kms):
    fails("TagException", kms.create_key,
          Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])
    fails("TagException", kms.create_key,
          Tags=[{"TagKey": "k%d" % i, "TagValue": ""} for i in range(51)])
    fails("MalformedPolicyDocumentException", kms.create_key,
          Policy="{not json")
    other = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "kms:*", "Resource": "*",
        "Principal": {"AWS": "arn:aws:iam::%s:user/nobody" % ACCOUNT_ID}}]})
    msg = fails("MalformedPolicyDocumentException", kms.create_key,
                Policy=other)
    assert "will not allow you to update the key policy" in msg
    meta = kms.create_key(Policy=other, BypassPolicyLockoutSafetyCheck=True)
    assert meta["KeyMetadata"]["KeyState"] == "Enabled"


def test_list_keys_pages_through_every_key(kms):
    mine = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)}
    seen, marker, pages = [], None, 0
    while True:
        kwargs = {"Limit": 2}
        if marker:
            kwargs["Marker"] = marker
        page = kms.list_keys(**kwargs)
        assert len(page["Keys"]) <= 2
        seen += [k["KeyId"] for k in page["Keys"]]
        for k in page["Keys"]:
            assert k["KeyArn"] == kms_arn("key/" + k["KeyId"])
        pages += 1
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert mine <= set(seen)
    assert len(seen) == len(set(seen)) and pages >= 2
    fails("InvalidMarkerException", kms.list_keys, Marker="nope")
    fails("ValidationException", kms.list_keys, Limit=1001)


def test_update_description_enable_disable(kms, key):
    kms.update_key_description(KeyId=key[0], Description="new words")
    meta = kms.describe_key(KeyId=key[0])["KeyMetadata"]
    assert meta["Description"] == "new words"
    kms.disable_key(KeyId=key[0])
    kms.disable_key(KeyId=key[1])
    meta = kms.describe_key(KeyId=key[0])["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Disabled", False)
    kms.enable_key(KeyId=key[0])
    kms.enable_key(KeyId=key[0])
    assert kms.describe_key(KeyId=key[0])["KeyMetadata"]["Enabled"] is True
    fails("NotFoundException", kms.enable_key, KeyId="alias/anything")


def test_schedule_and_cancel_deletion(kms, key):
    for days in (6, 31):
        msg = fails("ValidationException", kms.schedule_key_deletion,
                    KeyId=key[0], PendingWindowInDays=days)
        assert "pendingWindowInDays" in msg
    out = kms.schedule_key_deletion(KeyId=key[0])
    assert out["KeyId"] == key[1]
    assert out["KeyState"] == "PendingDeletion"
    assert out["PendingWindowInDays"] == 30
    meta = kms.describe_key(KeyId=key[0])["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    assert meta["PendingDeletionWindowInDays"] == 30
    assert "DeletionDate" in meta
    fails("KMSInvalidStateException", kms.schedule_key_deletion,
          KeyId=key[0], PendingWindowInDays=7)

    assert kms.cancel_key_deletion(KeyId=key[0])["KeyId"] == key[1]
    meta = kms.describe_key(KeyId=key[0])["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and "DeletionDate" not in meta
    msg = fails("KMSInvalidStateException", kms.cancel_key_deletion,
                KeyId=key[0])
    assert "is not pending deletion" in msg


# ---- key states -------------------------------------------------------------


def _crypto_calls(kms, key_id, blob):
    return {
        "Encrypt": lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"),
        "Decrypt": lambda: kms.decrypt(CiphertextBlob=blob),
        "ReEncrypt": lambda: kms.re_encrypt(CiphertextBlob=blob,
                                            DestinationKeyId=key_id),
        "GenerateDataKey": lambda: kms.generate_data_key(
            KeyId=key_id, KeySpec="AES_256"),
        "GenerateDataKeyWithoutPlaintext":
            lambda: kms.generate_data_key_without_plaintext(
                KeyId=key_id, NumberOfBytes=16),
        "CreateGrant": lambda: kms.create_grant(
            KeyId=key_id, GranteePrincipal="arn:aws:iam::%s:root"
            % ACCOUNT_ID, Operations=["Decrypt"]),
    }


@pytest.mark.parametrize("state,code,words", [
    ("Disabled", "DisabledException", "is disabled."),
    ("PendingDeletion", "KMSInvalidStateException", "is pending deletion."),
])
def test_key_state_errors(kms, key, state, code, words):
    blob = kms.encrypt(KeyId=key[0], Plaintext=b"x")["CiphertextBlob"]
    if state == "Disabled":
        kms.disable_key(KeyId=key[0])
    else:
        kms.schedule_key_deletion(KeyId=key[0], PendingWindowInDays=7)

    for name, call in _crypto_calls(kms, key[0], blob).items():
        msg = fails(code, call)
        assert msg == "%s %s" % (key[1], words), name
    fails(code, kms.enable_key_rotation, KeyId=key[0])

    # Management operations: allowed when disabled, refused when pending.
    managed = [
        lambda: kms.tag_resource(KeyId=key[0], Tags=[{"TagKey": "a",
                                                      "TagValue": "b"}]),
        lambda: kms.untag_resource(KeyId=key[0], TagKeys=["a"]),
        lambda: kms.update_key_description(KeyId=key[0], Description="d"),
        lambda: kms.create_alias(AliasName=unique_name("alias/st"),
                                 TargetKeyId=key[0]),
    ]
    for call in managed:
        if state == "Disabled":
            call()
        else:
            fails("KMSInvalidStateException", call)
    if state == "PendingDeletion":
        fails("KMSInvalidStateException", kms.disable_key, KeyId=key[0])

    # Reading is fine in every state.
    kms.describe_key(KeyId=key[0])
    kms.list_resource_tags(KeyId=key[0])
    kms.get_key_policy(KeyId=key[0], PolicyName="default")
    kms.get_key_rotation_status(KeyId=key[0])
    kms.list_grants(KeyId=key[0])


# ---- aliases ----------------------------------------------------------------


def test_alias_lifecycle(kms, key):
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    alias = unique_name("alias/life")
    kms.create_alias(AliasName=alias, TargetKeyId=key[0])
    listed = kms.list_aliases(KeyId=key[0])["Aliases"]
    assert [a["AliasName"] for a in listed] == [alias]
    assert listed[0]["AliasArn"] == kms_arn(alias)
    assert listed[0]["TargetKeyId"] == key[0]

    kms.update_alias(AliasName=alias, TargetKeyId=other)
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == other
    assert kms.list_aliases(KeyId=key[0])["Aliases"] == []
    everything = kms.list_aliases()["Aliases"]
    assert any(a["AliasName"] == alias and a["TargetKeyId"] == other
               for a in everything)

    kms.delete_alias(AliasName=alias)
    fails("NotFoundException", kms.delete_alias, AliasName=alias)
    fails("NotFoundException", kms.update_alias, AliasName=alias,
          TargetKeyId=other)


def test_alias_errors(kms, key):
    alias = unique_name("alias/dup")
    kms.create_alias(AliasName=alias, TargetKeyId=key[0])
    msg = fails("AlreadyExistsException", kms.create_alias, AliasName=alias,
                TargetKeyId=key[0])
    assert kms_arn(alias) in msg
    fails("ValidationException", kms.create_alias, AliasName="no-prefix",
          TargetKeyId=key[0])
    fails("InvalidAliasNameException", kms.create_alias,
          AliasName="alias/has space", TargetKeyId=key[0])
    fails("InvalidAliasNameException", kms.create_alias,
          AliasName="alias/" + "a" * 251, TargetKeyId=key[0])
    fails("NotAuthorizedException", kms.create_alias,
          AliasName="alias/aws/mine", TargetKeyId=key[0])
    fails("NotFoundException", kms.create_alias,
          AliasName=unique_name("alias/t"), TargetKeyId=alias)
    fails("NotFoundException", kms.create_alias,
          AliasName=unique_name("alias/t"),
          TargetKeyId="00000000-0000-4000-8000-000000000000")


def test_list_aliases_pages(kms, key):
    names = sorted(unique_name("alias/page") for _ in range(3))
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key[0])
    first = kms.list_aliases(KeyId=key[0], Limit=2)
    assert first["Truncated"] is True
    rest = kms.list_aliases(KeyId=key[0], Limit=2,
                            Marker=first["NextMarker"])
    assert rest["Truncated"] is False
    got = [a["AliasName"] for a in first["Aliases"] + rest["Aliases"]]
    assert got == names


def test_aws_s3_key_made_on_first_use_and_managed(kms):
    meta = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    aliases = kms.list_aliases()["Aliases"]
    s3 = [a for a in aliases if a["AliasName"] == "alias/aws/s3"]
    assert s3 and s3[0]["TargetKeyId"] == meta["KeyId"]
    # Its key policy lets the account read it and S3 use it, nothing more.
    kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")
    for call in (lambda: kms.schedule_key_deletion(KeyId=meta["KeyId"]),
                 lambda: kms.tag_resource(KeyId=meta["KeyId"], Tags=[
                     {"TagKey": "a", "TagValue": "b"}]),
                 lambda: kms.rotate_key_on_demand(KeyId=meta["KeyId"]),
                 lambda: kms.encrypt(KeyId="alias/aws/s3", Plaintext=b"x")):
        fails("AccessDeniedException", call)


# ---- tags -------------------------------------------------------------------


def test_tags(kms, key):
    kms.tag_resource(KeyId=key[0], Tags=[{"TagKey": "b", "TagValue": "1"},
                                         {"TagKey": "a", "TagValue": "2"}])
    kms.tag_resource(KeyId=key[1], Tags=[{"TagKey": "b", "TagValue": "3"}])
    first = kms.list_resource_tags(KeyId=key[0], Limit=1)
    assert first["Tags"] == [{"TagKey": "a", "TagValue": "2"}]
    assert first["Truncated"] is True
    rest = kms.list_resource_tags(KeyId=key[0], Marker=first["NextMarker"])
    assert rest["Tags"] == [{"TagKey": "b", "TagValue": "3"}]
    kms.untag_resource(KeyId=key[0], TagKeys=["b", "absent"])
    assert kms.list_resource_tags(KeyId=key[0])["Tags"] == [
        {"TagKey": "a", "TagValue": "2"}]
    fails("TagException", kms.tag_resource, KeyId=key[0],
          Tags=[{"TagKey": "aws:x", "TagValue": "y"}])
    fails("TagException", kms.tag_resource, KeyId=key[0],
          Tags=[{"TagKey": "t%d" % i, "TagValue": ""} for i in range(50)])
    fails("ValidationException", kms.tag_resource, KeyId=key[0],
          Tags=[{"TagKey": "k" * 129, "TagValue": ""}])


# ---- cryptography -----------------------------------------------------------


def test_encrypt_plaintext_limits(kms, key):
    blob = kms.encrypt(KeyId=key[0], Plaintext=os.urandom(4096))
    assert len(blob["CiphertextBlob"]) == 4096 + 97
    msg = fails("ValidationException", kms.encrypt, KeyId=key[0],
                Plaintext=os.urandom(4097))
    assert "plaintext" in msg and "4096" in msg
    fails("NotFoundException", kms.encrypt, KeyId="aws/s3", Plaintext=b"x")


def test_decrypt_with_and_without_key_id(kms, key):
    alias = unique_name("alias/dec")
    kms.create_alias(AliasName=alias, TargetKeyId=key[0])
    blob = kms.encrypt(KeyId=alias, Plaintext=b"secret",
                       EncryptionContext=CTX)["CiphertextBlob"]
    for form in (None, key[0], key[1], alias, kms_arn(alias)):
        kwargs = {"KeyId": form} if form else {}
        out = kms.decrypt(CiphertextBlob=blob, EncryptionContext=CTX,
                          **kwargs)
        assert out["Plaintext"] == b"secret"
        assert out["KeyId"] == key[1]
        assert out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    fails("IncorrectKeyException", kms.decrypt, CiphertextBlob=blob,
          EncryptionContext=CTX, KeyId=other)
    fails("InvalidCiphertextException", kms.decrypt,
          CiphertextBlob=os.urandom(150))
    fails("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob)


def test_reencrypt(kms, key):
    dest = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key[0], Plaintext=b"move me",
                       EncryptionContext=CTX)["CiphertextBlob"]
    out = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=CTX,
                         DestinationKeyId=dest["KeyId"],
                         DestinationEncryptionContext={"new": "ctx"})
    assert out["SourceKeyId"] == key[1]
    assert out["KeyId"] == dest["Arn"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"],
                       EncryptionContext={"new": "ctx"})
    assert back["Plaintext"] == b"move me"
    fails("IncorrectKeyException", kms.re_encrypt, CiphertextBlob=blob,
          SourceEncryptionContext=CTX, SourceKeyId=dest["KeyId"],
          DestinationKeyId=dest["KeyId"])
    fails("InvalidCiphertextException", kms.re_encrypt, CiphertextBlob=blob,
          DestinationKeyId=dest["KeyId"])


def test_generate_data_key_sizes(kms, key):
    assert len(kms.generate_data_key(KeyId=key[0], KeySpec="AES_128")
               ["Plaintext"]) == 16
    dk = kms.generate_data_key(KeyId=key[0], NumberOfBytes=1024,
                               EncryptionContext=CTX)
    assert len(dk["Plaintext"]) == 1024
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"],
                       EncryptionContext=CTX)["Plaintext"] == dk["Plaintext"]
    msg = fails("ValidationException", kms.generate_data_key, KeyId=key[0],
                KeySpec="AES_256", NumberOfBytes=32)
    assert "either number of bytes or key spec" in msg
    fails("ValidationException", kms.generate_data_key, KeyId=key[0])
    msg = fails("ValidationException", kms.generate_data_key, KeyId=key[0],
                NumberOfBytes=1025)
    assert "less than or equal to 1024" in msg
    fails("ValidationException", kms.generate_data_key, KeyId=key[0],
          KeySpec="AES_512")


def test_generate_data_key_without_plaintext(kms, key):
    out = kms.generate_data_key_without_plaintext(KeyId=key[0],
                                                  KeySpec="AES_256")
    assert "Plaintext" not in out and out["KeyId"] == key[1]
    assert len(kms.decrypt(CiphertextBlob=out["CiphertextBlob"])
               ["Plaintext"]) == 32


def test_generate_random(kms):
    assert len(kms.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024
    fails("ValidationException", kms.generate_random, NumberOfBytes=1025)
    fails("ValidationException", kms.generate_random)


# ---- rotation and policies --------------------------------------------------


def test_rotation(kms, key):
    before = kms.encrypt(KeyId=key[0], Plaintext=b"old")["CiphertextBlob"]
    fails("ValidationException", kms.enable_key_rotation, KeyId=key[0],
          RotationPeriodInDays=2561)
    kms.enable_key_rotation(KeyId=key[0], RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key[0])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 90
    assert "NextRotationDate" in status

    assert kms.rotate_key_on_demand(KeyId=key[0])["KeyId"] == key[1]
    rotations = kms.list_key_rotations(KeyId=key[0])["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
    after = kms.encrypt(KeyId=key[0], Plaintext=b"new")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=before)["Plaintext"] == b"old"
    assert kms.decrypt(CiphertextBlob=after)["Plaintext"] == b"new"

    kms.disable_key_rotation(KeyId=key[0])
    assert kms.get_key_rotation_status(
        KeyId=key[0])["KeyRotationEnabled"] is False


def test_key_policy(kms, key):
    assert kms.list_key_policies(KeyId=key[0])["PolicyNames"] == ["default"]
    doc = json.loads(kms.get_key_policy(KeyId=key[0],
                                        PolicyName="default")["Policy"])
    assert doc["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::%s:root" % ACCOUNT_ID}
    new = {"Version": "2012-10-17", "Statement": [{
        "Sid": "Root", "Effect": "Allow", "Action": "kms:*",
        "Resource": "*",
        "Principal": {"AWS": "arn:aws:iam::%s:root" % ACCOUNT_ID}}]}
    kms.put_key_policy(KeyId=key[0], PolicyName="default",
                       Policy=json.dumps(new))
    assert json.loads(kms.get_key_policy(
        KeyId=key[0], PolicyName="default")["Policy"]) == new
    fails("NotFoundException", kms.get_key_policy, KeyId=key[0],
          PolicyName="other")
    fails("MalformedPolicyDocumentException", kms.put_key_policy,
          KeyId=key[0], PolicyName="default", Policy="[]")
    new["Statement"][0]["Action"] = "kms:Encrypt"
    fails("MalformedPolicyDocumentException", kms.put_key_policy,
          KeyId=key[0], PolicyName="default", Policy=json.dumps(new))


# ---- grants -----------------------------------------------------------------


def test_grant_lets_a_user_use_the_key(coffer, tmp_path, kms, key,
                                       http_endpoint):
    user = User(coffer, tmp_path)
    ukms = user.client(http_endpoint, "kms")
    fails("AccessDeniedException", ukms.encrypt, KeyId=key[0],
          Plaintext=b"x", EncryptionContext=CTX)

    out = kms.create_grant(
        KeyId=key[0], GranteePrincipal=user.arn,
        Operations=["Encrypt", "Decrypt", "DescribeKey"],
        Constraints={"EncryptionContextSubset": {"team": "blue"}})
    assert len(out["GrantId"]) == 64 and len(out["GrantToken"]) >= 44
    blob = ukms.encrypt(KeyId=key[0], Plaintext=b"x", EncryptionContext=CTX,
                        GrantTokens=[out["GrantToken"]])["CiphertextBlob"]
    assert ukms.decrypt(CiphertextBlob=blob,
                        EncryptionContext=CTX)["Plaintext"] == b"x"
    ukms.describe_key(KeyId=key[0])
    fails("AccessDeniedException", ukms.encrypt, KeyId=key[0],
          Plaintext=b"x", EncryptionContext={"team": "red"})
    fails("AccessDeniedException", ukms.generate_data_key, KeyId=key[0],
          KeySpec="AES_256", EncryptionContext=CTX)

    grants = kms.list_grants(KeyId=key[0])["Grants"]
    assert len(grants) == 1
    g = grants[0]
    assert g["GrantId"] == out["GrantId"] and g["KeyId"] == key[1]
    assert g["GranteePrincipal"] == user.arn
    assert sorted(g["Operations"]) == ["Decrypt", "DescribeKey", "Encrypt"]
    assert g["Constraints"] == {"EncryptionContextSubset": {"team": "blue"}}
    assert g["IssuingAccount"] == "arn:aws:iam::%s:root" % ACCOUNT_ID

    fails("AccessDeniedException", ukms.retire_grant,
          GrantToken=out["GrantToken"])
    kms.retire_grant(GrantToken=out["GrantToken"])
    fails("AccessDeniedException", ukms.encrypt, KeyId=key[0],
          Plaintext=b"x", EncryptionContext=CTX)
    assert kms.list_grants(KeyId=key[0])["Grants"] == []


def test_grant_retire_by_retiring_principal_and_revoke(coffer, tmp_path, kms,
                                                       key, http_endpoint):
    user = User(coffer, tmp_path)
    ukms = user.client(http_endpoint, "kms")
    a = kms.create_grant(KeyId=key[0], GranteePrincipal="arn:aws:iam::%s:"
                         "role/app" % ACCOUNT_ID, Operations=["Decrypt"],
                         RetiringPrincipal=user.arn)
    b = kms.create_grant(KeyId=key[0], GranteePrincipal=user.arn,
                         Operations=["Decrypt"])
    retirable = kms.list_retirable_grants(RetiringPrincipal=user.arn)
    assert [g["GrantId"] for g in retirable["Grants"]] == [a["GrantId"]]
    ukms.retire_grant(KeyId=key[1], GrantId=a["GrantId"])
    fails("NotFoundException", kms.retire_grant, KeyId=key[0],
          GrantId=a["GrantId"])
    fails("AccessDeniedException", ukms.revoke_grant, KeyId=key[0],
          GrantId=b["GrantId"])
    kms.revoke_grant(KeyId=key[0], GrantId=b["GrantId"])
    fails("NotFoundException", kms.revoke_grant, KeyId=key[0],
          GrantId=b["GrantId"])


def test_grant_name_is_idempotent(kms, key):
    a = kms.create_grant(KeyId=key[0], GranteePrincipal="p1",
                         Operations=["Decrypt"], Name="app-grant")
    b = kms.create_grant(KeyId=key[0], GranteePrincipal="p1",
                         Operations=["Decrypt"], Name="app-grant")
    assert a["GrantId"] == b["GrantId"]
    assert a["GrantToken"] != b["GrantToken"]
    c = kms.create_grant(KeyId=key[0], GranteePrincipal="p2",
                         Operations=["Decrypt"], Name="app-grant")
    assert c["GrantId"] != a["GrantId"]
    listed = kms.list_grants(KeyId=key[0], GrantId=a["GrantId"])["Grants"]
    assert [g["Name"] for g in listed] == ["app-grant"]
    page = kms.list_grants(KeyId=key[0], Limit=1)
    assert page["Truncated"] is True
    rest = kms.list_grants(KeyId=key[0], Marker=page["NextMarker"])
    assert [g["GrantId"] for g in rest["Grants"]] == [c["GrantId"]]


def test_grant_errors(kms, key):
    base = {"KeyId": key[0], "GranteePrincipal": "p"}
    fails("ValidationException", kms.create_grant, Operations=["Frob"],
          **base)
    msg = fails("ValidationException", kms.create_grant,
                Operations=["Sign"], **base)
    assert "Sign" in msg
    fails("ValidationException", kms.create_grant, KeyId=key[0],
          GranteePrincipal="has space", Operations=["Decrypt"])
    fails("ValidationException", kms.create_grant, Operations=["Decrypt"],
          Name="bad name", **base)
    fails("ValidationException", kms.create_grant, Operations=["Decrypt"],
          Constraints={"EncryptionContextEquals": {
              "k%d" % i: "v" for i in range(9)}}, **base)
    fails("NotFoundException", kms.create_grant, KeyId="alias/aws/s3",
          GranteePrincipal="p", Operations=["Decrypt"])
    fails("InvalidGrantTokenException", kms.retire_grant,
          GrantToken="forged-token")
    fails("InvalidGrantTokenException", kms.encrypt, KeyId=key[0],
          Plaintext=b"x", GrantTokens=["forged-token"])
    fails("InvalidGrantIdException", kms.revoke_grant, KeyId=key[0],
          GrantId="not-a-grant-id")
    fails("NotFoundException", kms.revoke_grant, KeyId=key[0],
          GrantId="0" * 64)
    fails("ValidationException", kms.retire_grant, GrantId="0" * 64)
    fails("InvalidMarkerException", kms.list_grants, KeyId=key[0],
          Marker="bogus")


def test_grant_counts_for_s3_calls(coffer, tmp_path, kms, key,
                                   http_endpoint):
    """A user allowed s3:* but not the key is refused an SSE-KMS upload
    until a grant lets the S3 side act for them."""
    s3 = http_endpoint.boto3("s3")
    bucket = unique_name("grant")
    s3.create_bucket(Bucket=bucket)
    user = User(coffer, tmp_path, policies={"s3": identity(allow(
        "s3:*", ["arn:aws:s3:::%s" % bucket, "arn:aws:s3:::%s/*" % bucket]))})
    us3 = user.client(http_endpoint, "s3")
    put = {"Bucket": bucket, "Key": "obj", "Body": b"granted",
           "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key[0]}
    with pytest.raises(ClientError) as e:
        us3.put_object(**put)
    assert error_of(e) == ("AccessDenied", 403)

    kms.create_grant(KeyId=key[0], GranteePrincipal=user.arn,
                     Operations=["GenerateDataKey", "Decrypt"])
    us3.put_object(**put)
    assert us3.get_object(Bucket=bucket, Key="obj")["Body"].read() == \
        b"granted"
