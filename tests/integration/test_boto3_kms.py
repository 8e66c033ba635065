"""KMS through boto3, over HTTP and HTTPS: the recipe's key and alias
calls, the error codes for unknown keys, and the cryptographic round trips.
"""

import re

import pytest

from clients import SECRET_KEY, unique_name
from server import ACCOUNT_ID, REGION

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}$")
CONTEXT = {"aws:s3:arn": "arn:aws:s3:::some-bucket", "purpose": "test"}


@pytest.fixture
def kms(endpoint):
    return endpoint.boto3("kms")


@pytest.fixture
def key(kms):
    """A fresh customer key: (key id, key ARN)."""
    meta = kms.create_key(Description="boto3 test key")["KeyMetadata"]
    return meta["KeyId"], meta["Arn"]


def kms_arn(resource):
    return "arn:aws:kms:%s:%s:%s" % (REGION, ACCOUNT_ID, resource)


def error_of(excinfo):
    """(error code, HTTP status, message) of a ClientError."""
    resp = excinfo.value.response
    return (resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"],
            resp["Error"].get("Message", ""))


def test_create_key_returns_uuid_and_metadata(kms):
    meta = kms.create_key(
        Description="bucket CMK",
        Tags=[{"TagKey": "Name", "TagValue": "MyBucketKey"}])["KeyMetadata"]
    assert UUID_RE.match(meta["KeyId"]), meta
    assert meta["Arn"] == kms_arn("key/" + meta["KeyId"])
    assert meta["AWSAccountId"] == ACCOUNT_ID
    assert meta["Description"] == "bucket CMK"
    assert meta["Enabled"] is True
    assert meta["KeyState"] == "Enabled"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["KeyManager"] == "CUSTOMER"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"

    tags = kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]
    assert tags == [{"TagKey": "Name", "TagValue": "MyBucketKey"}]


def test_alias_listed_and_resolves_in_every_form(kms, key):
    key_id, key_arn = key
    alias = unique_name("alias/mybucketkey")
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)

    aliases = kms.list_aliases()["Aliases"]
    mine = [a for a in aliases if a["AliasName"] == alias]
    assert len(mine) == 1, aliases
    assert mine[0]["TargetKeyId"] == key_id
    assert mine[0]["AliasArn"] == kms_arn(alias)

    for form in (key_id, key_arn, alias, kms_arn(alias)):
        meta = kms.describe_key(KeyId=form)["KeyMetadata"]
        assert (meta["KeyId"], meta["Arn"]) == (key_id, key_arn), form


def test_describe_unknown_key_not_found_400(kms):
    unknown = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=unknown)
    code, status, message = error_of(e)
    assert (code, status) == ("NotFoundException", 400)
    assert message == "Key '%s' does not exist" % kms_arn("key/" + unknown)


def test_describe_literal_key_id_text_invalid_keyid(kms):
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="${KEY_ID}")
    code, status, message = error_of(e)
    assert (code, status) == ("NotFoundException", 400)
    assert message == "Invalid keyId ${KEY_ID}"


def test_describe_unknown_alias_not_found_400(kms):
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=unique_name("alias/none"))
    assert error_of(e)[:2] == ("NotFoundException", 400)


def test_encrypt_decrypt_round_trip_without_context(kms, key):
    key_id, key_arn = key
    enc = kms.encrypt(KeyId=key_id, Plaintext=b"hello\n")
    assert enc["KeyId"] == key_arn
    assert b"hello" not in enc["CiphertextBlob"]

    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])
    assert dec["Plaintext"] == b"hello\n"
    assert dec["KeyId"] == key_arn


def test_encrypt_decrypt_round_trip_with_context(kms, key):
    key_id, key_arn = key
    enc = kms.encrypt(KeyId=key_id, Plaintext=b"hello\n",
                      EncryptionContext=CONTEXT)
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"],
                      EncryptionContext=dict(reversed(list(CONTEXT.items()))))
    assert dec["Plaintext"] == b"hello\n"
    assert dec["KeyId"] == key_arn


@pytest.mark.parametrize("wrong", [
    {},
    {"aws:s3:arn": "arn:aws:s3:::some-bucket"},
    {"aws:s3:arn": "arn:aws:s3:::other-bucket", "purpose": "test"},
    dict(CONTEXT, extra="x"),
], ids=["none", "missing-pair", "other-value", "extra-pair"])
def test_decrypt_with_wrong_context_invalid_ciphertext(kms, key, wrong):
    enc = kms.encrypt(KeyId=key[0], Plaintext=b"hello\n",
                      EncryptionContext=CONTEXT)
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=enc["CiphertextBlob"],
                    EncryptionContext=wrong)
    assert error_of(e)[:2] == ("InvalidCiphertextException", 400)


def test_decrypt_tampered_blob_invalid_ciphertext(kms, key):
    blob = bytearray(kms.encrypt(KeyId=key[0],
                                 Plaintext=b"hello\n")["CiphertextBlob"])
    blob[-1] ^= 1
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=bytes(blob))
    assert error_of(e)[:2] == ("InvalidCiphertextException", 400)


def test_generate_data_key_returns_32_byte_plaintext(kms, key):
    key_id, key_arn = key
    dk = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256",
                               EncryptionContext=CONTEXT)
    assert len(dk["Plaintext"]) == 32
    assert dk["KeyId"] == key_arn

    dec = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"],
                      EncryptionContext=CONTEXT)
    assert dec["Plaintext"] == dk["Plaintext"]


def test_encrypt_with_unknown_key_not_found_400(kms):
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId="00000000-0000-4000-8000-000000000000",
                    Plaintext=b"x")
    assert error_of(e)[:2] == ("NotFoundException", 400)


def test_wrong_secret_invalid_signature(endpoint):
    kms = endpoint.boto3("kms", secret_key=SECRET_KEY[::-1])
    with pytest.raises(ClientError) as e:
        kms.list_keys()
    assert error_of(e)[:2] == ("InvalidSignatureException", 400)


def test_unknown_access_key_unrecognized_client(endpoint):
    kms = endpoint.boto3("kms", access_key="AKIAUNKNOWNUNKNOWN00")
    with pytest.raises(ClientError) as e:
        kms.list_keys()
    assert error_of(e)[:2] == ("UnrecognizedClientException", 400)
