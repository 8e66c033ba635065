"""Every KMS operation through the stock aws CLIs, v1 and v2, as an
operator types them, and the errors the issue lists with the CLI's exit
code for a service error.  Debian's CLI v2 (2.9) predates on-demand
rotation and rotation periods; those steps run with v1 only.
"""

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from clients import show, unique_name
from server import ACCOUNT_ID

VERSIONS = ("v1", "v2")
ROOT = "arn:aws:iam::%s:root" % ACCOUNT_ID


@pytest.fixture(params=VERSIONS)
def aws(request, http_endpoint, clis, tmp_path):
    return http_endpoint.aws(clis, request.param, tmp_path)


def error(aws, code, *args):
    """Runs a command that must fail with service error `code`."""
    res = aws.run(*args)
    assert res.returncode == aws.api_error_rc, show(res)
    assert "(%s)" % code in res.stderr, show(res)
    return res.stderr


def test_key_lifecycle_and_cryptography(aws, tmp_path):
    meta = aws.json("kms", "create-key", "--description", "cli key",
                    "--tags", "TagKey=Name,TagValue=cli")["KeyMetadata"]
    key, arn = meta["KeyId"], meta["Arn"]
    other = aws.json("kms", "create-key")["KeyMetadata"]["KeyId"]
    alias = unique_name("alias/cli")
    assert aws.run("kms", "create-alias", "--alias-name", alias,
                   "--target-key-id", key).returncode == 0
    assert aws.json("kms", "describe-key", "--key-id",
                    alias)["KeyMetadata"]["Arn"] == arn
    assert key in [k["KeyId"] for k in
                   aws.json("kms", "list-keys", "--limit", "1000")["Keys"]]
    assert [a["AliasName"] for a in aws.json(
        "kms", "list-aliases", "--key-id", key)["Aliases"]] == [alias]
    assert aws.run("kms", "update-key-description", "--key-id", key,
                   "--description", "renamed").returncode == 0
    assert aws.json("kms", "describe-key", "--key-id",
                    key)["KeyMetadata"]["Description"] == "renamed"

    # Encrypt and decrypt files, as the CLI's users do.
    (tmp_path / "plain").write_bytes(b"cli secret\n")
    enc = aws.json("kms", "encrypt", "--key-id", alias, "--plaintext",
                   "fileb://plain", "--encryption-context", "app=cli")
    (tmp_path / "blob").write_bytes(base64.b64decode(enc["CiphertextBlob"]))
    dec = aws.json("kms", "decrypt", "--ciphertext-blob", "fileb://blob",
                   "--encryption-context", "app=cli")
    assert base64.b64decode(dec["Plaintext"]) == b"cli secret\n"
    assert dec["KeyId"] == arn
    re = aws.json("kms", "re-encrypt", "--ciphertext-blob", "fileb://blob",
                  "--source-encryption-context", "app=cli",
                  "--destination-key-id", other)
    assert re["SourceKeyId"] == arn

    dk = aws.json("kms", "generate-data-key", "--key-id", key, "--key-spec",
                  "AES_256")
    assert len(base64.b64decode(dk["Plaintext"])) == 32
    np = aws.json("kms", "generate-data-key-without-plaintext", "--key-id",
                  key, "--number-of-bytes", "64")
    assert "Plaintext" not in np
    rnd = aws.json("kms", "generate-random", "--number-of-bytes", "48")
    assert len(base64.b64decode(rnd["Plaintext"])) == 48

    # Tags.
    assert aws.run("kms", "tag-resource", "--key-id", key, "--tags",
                   "TagKey=team,TagValue=blue").returncode == 0
    assert aws.run("kms", "untag-resource", "--key-id", key, "--tag-keys",
                   "Name").returncode == 0
    assert aws.json("kms", "list-resource-tags", "--key-id",
                    key)["Tags"] == [{"TagKey": "team", "TagValue": "blue"}]

    # Rotation.
    assert aws.run("kms", "enable-key-rotation", "--key-id",
                   key).returncode == 0
    assert aws.json("kms", "get-key-rotation-status", "--key-id",
                    key)["KeyRotationEnabled"] is True
    if aws.version == "v1":
        aws.json("kms", "rotate-key-on-demand", "--key-id", key)
        rot = aws.json("kms", "list-key-rotations", "--key-id", key)
        assert [r["RotationType"] for r in rot["Rotations"]] == ["ON_DEMAND"]
    assert aws.run("kms", "disable-key-rotation", "--key-id",
                   key).returncode == 0
    dec = aws.json("kms", "decrypt", "--ciphertext-blob", "fileb://blob",
                   "--encryption-context", "app=cli")
    assert base64.b64decode(dec["Plaintext"]) == b"cli secret\n"

    # Key policy.
    assert aws.json("kms", "list-key-policies", "--key-id",
                    key)["PolicyNames"] == ["default"]
    policy = json.loads(aws.json("kms", "get-key-policy", "--key-id", key,
                                 "--policy-name", "default")["Policy"])
    policy["Statement"][0]["Sid"] = "Renamed"
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    assert aws.run("kms", "put-key-policy", "--key-id", key,
                   "--policy-name", "default", "--policy",
                   "file://policy.json").returncode == 0

    # States.
    assert aws.run("kms", "disable-key", "--key-id", key).returncode == 0
    error(aws, "DisabledException", "kms", "encrypt", "--key-id", key,
          "--plaintext", "fileb://plain")
    assert aws.run("kms", "enable-key", "--key-id", key).returncode == 0
    out = aws.json("kms", "schedule-key-deletion", "--key-id", key,
                   "--pending-window-in-days", "7")
    assert out["KeyState"] == "PendingDeletion" and out["KeyId"] == arn
    error(aws, "KMSInvalidStateException", "kms", "decrypt",
          "--ciphertext-blob", "fileb://blob", "--encryption-context",
          "app=cli")
    assert aws.json("kms", "cancel-key-deletion", "--key-id",
                    key)["KeyId"] == arn

    # Aliases move and go.
    assert aws.run("kms", "update-alias", "--alias-name", alias,
                   "--target-key-id", other).returncode == 0
    assert aws.json("kms", "describe-key", "--key-id",
                    alias)["KeyMetadata"]["KeyId"] == other
    assert aws.run("kms", "delete-alias", "--alias-name",
                   alias).returncode == 0
    error(aws, "NotFoundException", "kms", "describe-key", "--key-id", alias)


def test_grants(aws):
    key = aws.json("kms", "create-key")["KeyMetadata"]["KeyId"]
    grantee = "arn:aws:iam::%s:role/cli-app" % ACCOUNT_ID
    out = aws.json("kms", "create-grant", "--key-id", key,
                   "--grantee-principal", grantee, "--operations",
                   "Decrypt", "GenerateDataKey", "--retiring-principal",
                   ROOT, "--constraints",
                   "EncryptionContextSubset={app=cli}", "--name", "cli")
    listed = aws.json("kms", "list-grants", "--key-id", key)["Grants"]
    assert [g["GrantId"] for g in listed] == [out["GrantId"]]
    assert listed[0]["Constraints"] == {
        "EncryptionContextSubset": {"app": "cli"}}
    retirable = aws.json("kms", "list-retirable-grants",
                         "--retiring-principal", ROOT)["Grants"]
    assert out["GrantId"] in [g["GrantId"] for g in retirable]
    assert aws.run("kms", "retire-grant", "--grant-token",
                   out["GrantToken"]).returncode == 0

    two = aws.json("kms", "create-grant", "--key-id", key,
                   "--grantee-principal", grantee, "--operations",
                   "Encrypt")
    assert aws.run("kms", "revoke-grant", "--key-id", key, "--grant-id",
                   two["GrantId"]).returncode == 0
    assert aws.json("kms", "list-grants", "--key-id", key)["Grants"] == []
    error(aws, "NotFoundException", "kms", "revoke-grant", "--key-id", key,
          "--grant-id", two["GrantId"])
    error(aws, "InvalidGrantIdException", "kms", "revoke-grant", "--key-id",
          key, "--grant-id", "nope")
    error(aws, "InvalidGrantTokenException", "kms", "retire-grant",
          "--grant-token", "forged")
    error(aws, "ValidationException", "kms", "create-grant", "--key-id", key,
          "--grantee-principal", grantee, "--operations", "Sign")


def test_validation_errors(aws, tmp_path):
    key = aws.json("kms", "create-key")["KeyMetadata"]["KeyId"]
    (tmp_path / "big").write_bytes(b"b" * 4097)
    (tmp_path / "junk").write_bytes(b"\x01" * 200)
    cases = [
        ("ValidationException", "4096", "encrypt", "--key-id", key,
         "--plaintext", "fileb://big"),
        ("ValidationException", "1024", "generate-random",
         "--number-of-bytes", "1025"),
        ("ValidationException", "key spec", "generate-data-key", "--key-id",
         key, "--key-spec", "AES_256", "--number-of-bytes", "8"),
        ("ValidationException", "30", "schedule-key-deletion", "--key-id",
         key, "--pending-window-in-days", "31"),
        ("ValidationException", "alias/", "create-alias", "--alias-name",
         "nope", "--target-key-id", key),
        ("InvalidAliasNameException", "", "create-alias", "--alias-name",
         "alias/with space", "--target-key-id", key),
        ("NotAuthorizedException", "", "create-alias", "--alias-name",
         "alias/aws/mine", "--target-key-id", key),
        ("TagException", "aws:", "tag-resource", "--key-id", key, "--tags",
         "TagKey=aws:x,TagValue=y"),
        ("NotFoundException", "does not exist", "describe-key", "--key-id",
         "00000000-0000-4000-8000-000000000000"),
        ("NotFoundException", "", "enable-key", "--key-id",
         "alias/anything"),
        ("InvalidCiphertextException", "", "decrypt", "--ciphertext-blob",
         "fileb://junk"),
        ("MalformedPolicyDocumentException", "", "put-key-policy",
         "--key-id", key, "--policy-name", "default", "--policy", "{"),
    ]
    # Independent commands: run side by side to spare the CLI's start-up.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda c: aws.run("kms", *c[2:]), cases))
    for case, res in zip(cases, results):
        assert res.returncode == aws.api_error_rc, show(res)
        assert "(%s)" % case[0] in res.stderr, show(res)
        assert case[1] in res.stderr, show(res)
