"""Every KMS operation through the stock aws CLIs, v1 and v2, as an
operator types them, and the errors the issue lists with the CLI's exit
code for a service error.  Debian's CLI v2 (2.9) predates on-demand
rotation and rotation periods; those steps run with v1 only.

The CLI spends most of a call starting up, so commands that do not depend
on each other run side by side in batches.
"""

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from clients import show, unique_name
from server import ACCOUNT_ID

VERSIONS = ("v1", "v2")
ROOT = "arn:aws:iam::%s:root" % ACCOUNT_ID
GRANTEE = "arn:aws:iam::%s:role/cli-app" % ACCOUNT_ID


@pytest.fixture(params=VERSIONS)
def aws(request, http_endpoint, clis, tmp_path):
    return http_endpoint.aws(clis, request.param, tmp_path)


def batch(aws, *commands):
    """Runs `aws kms ARGS...` for each ARGS at once; the results in order."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: aws.run("kms", *args), commands))


def ok(res):
    """The JSON output of a command that must succeed ({} when none)."""
    assert res.returncode == 0, show(res)
    return json.loads(res.stdout) if res.stdout.strip() else {}


def failed(aws, res, code, words=""):
    assert res.returncode == aws.api_error_rc, show(res)
    assert "(%s)" % code in res.stderr and words in res.stderr, show(res)


def test_every_operation(aws, tmp_path):
    (tmp_path / "plain").write_bytes(b"cli secret\n")
    key_meta, other_meta = [ok(r)["KeyMetadata"] for r in batch(
        aws, ["create-key", "--description", "cli key", "--tags",
              "TagKey=Name,TagValue=cli"], ["create-key"])]
    key, arn, other = key_meta["KeyId"], key_meta["Arn"], \
        other_meta["KeyId"]
    alias = unique_name("alias/cli")
    ctx = ["--encryption-context", "app=cli"]

    r = batch(aws,
              ["create-alias", "--alias-name", alias, "--target-key-id",
               key],
              ["encrypt", "--key-id", key, "--plaintext", "fileb://plain"]
              + ctx,
              ["generate-data-key", "--key-id", key, "--key-spec",
               "AES_256"],
              ["generate-data-key-without-plaintext", "--key-id", key,
               "--number-of-bytes", "64"],
              ["generate-random", "--number-of-bytes", "48"],
              ["tag-resource", "--key-id", key, "--tags",
               "TagKey=team,TagValue=blue"],
              ["update-key-description", "--key-id", key, "--description",
               "renamed"],
              ["enable-key-rotation", "--key-id", key],
              ["get-key-policy", "--key-id", key, "--policy-name",
               "default"],
              ["list-key-policies", "--key-id", key])
    ok(r[0])
    (tmp_path / "blob").write_bytes(
        base64.b64decode(ok(r[1])["CiphertextBlob"]))
    assert len(base64.b64decode(ok(r[2])["Plaintext"])) == 32
    assert "Plaintext" not in ok(r[3])
    assert len(base64.b64decode(ok(r[4])["Plaintext"])) == 48
    ok(r[5]), ok(r[6]), ok(r[7])
    policy = json.loads(ok(r[8])["Policy"])
    assert ok(r[9])["PolicyNames"] == ["default"]
    policy["Statement"][0]["Sid"] = "Renamed"
    (tmp_path / "policy.json").write_text(json.dumps(policy))

    r = batch(aws,
              ["describe-key", "--key-id", alias],
              ["list-keys", "--limit", "1000"],
              ["list-aliases", "--key-id", key],
              ["decrypt", "--ciphertext-blob", "fileb://blob"] + ctx,
              ["re-encrypt", "--ciphertext-blob", "fileb://blob",
               "--source-encryption-context", "app=cli",
               "--destination-key-id", other],
              ["untag-resource", "--key-id", key, "--tag-keys", "Name"],
              ["get-key-rotation-status", "--key-id", key],
              ["put-key-policy", "--key-id", key, "--policy-name",
               "default", "--policy", "file://policy.json"],
              ["rotate-key-on-demand", "--key-id", key]
              if aws.version == "v1" else ["describe-key", "--key-id", key])
    meta = ok(r[0])["KeyMetadata"]
    assert (meta["Arn"], meta["Description"]) == (arn, "renamed")
    assert key in [k["KeyId"] for k in ok(r[1])["Keys"]]
    assert [a["AliasName"] for a in ok(r[2])["Aliases"]] == [alias]
    dec = ok(r[3])
    assert (base64.b64decode(dec["Plaintext"]), dec["KeyId"]) == \
        (b"cli secret\n", arn)
    assert ok(r[4])["SourceKeyId"] == arn
    ok(r[5])
    assert ok(r[6])["KeyRotationEnabled"] is True
    ok(r[7]), ok(r[8])

    later = [["list-resource-tags", "--key-id", key],
             ["disable-key-rotation", "--key-id", key],
             ["decrypt", "--ciphertext-blob", "fileb://blob"] + ctx]
    if aws.version == "v1":
        later.append(["list-key-rotations", "--key-id", key])
    r = batch(aws, *later)
    assert ok(r[0])["Tags"] == [{"TagKey": "team", "TagValue": "blue"}]
    ok(r[1])
    assert base64.b64decode(ok(r[2])["Plaintext"]) == b"cli secret\n"
    if aws.version == "v1":
        assert [x["RotationType"] for x in ok(r[3])["Rotations"]] == \
            ["ON_DEMAND"]

    # Key states, one step at a time.
    ok(aws.run("kms", "disable-key", "--key-id", key))
    failed(aws, aws.run("kms", "encrypt", "--key-id", key, "--plaintext",
                        "fileb://plain"), "DisabledException", "is disabled")
    ok(aws.run("kms", "enable-key", "--key-id", key))
    out = ok(aws.run("kms", "schedule-key-deletion", "--key-id", key,
                     "--pending-window-in-days", "7"))
    assert (out["KeyState"], out["KeyId"]) == ("PendingDeletion", arn)
    failed(aws, aws.run("kms", "decrypt", "--ciphertext-blob",
                        "fileb://blob", *ctx), "KMSInvalidStateException",
           "pending deletion")
    assert ok(aws.run("kms", "cancel-key-deletion", "--key-id",
                      key))["KeyId"] == arn

    # Aliases move and go.
    ok(aws.run("kms", "update-alias", "--alias-name", alias,
               "--target-key-id", other))
    assert ok(aws.run("kms", "describe-key", "--key-id",
                      alias))["KeyMetadata"]["KeyId"] == other
    ok(aws.run("kms", "delete-alias", "--alias-name", alias))
    failed(aws, aws.run("kms", "describe-key", "--key-id", alias),
           "NotFoundException", "is not found")


def test_grants(aws):
    key = ok(aws.run("kms", "create-key"))["KeyMetadata"]["KeyId"]
    r = batch(aws,
              ["create-grant", "--key-id", key, "--grantee-principal",
               GRANTEE, "--operations", "Decrypt", "GenerateDataKey",
               "--retiring-principal", ROOT, "--constraints",
               "EncryptionContextSubset={app=cli}", "--name", "cli"],
              ["create-grant", "--key-id", key, "--grantee-principal",
               GRANTEE, "--operations", "Encrypt"])
    one, two = ok(r[0]), ok(r[1])
    r = batch(aws,
              ["list-grants", "--key-id", key],
              ["list-retirable-grants", "--retiring-principal", ROOT])
    listed = {g["GrantId"]: g for g in ok(r[0])["Grants"]}
    assert listed[one["GrantId"]]["Constraints"] == {
        "EncryptionContextSubset": {"app": "cli"}}
    assert two["GrantId"] in listed
    assert one["GrantId"] in [g["GrantId"]
                              for g in ok(r[1])["Grants"]]
    r = batch(aws,
              ["retire-grant", "--grant-token", one["GrantToken"]],
              ["revoke-grant", "--key-id", key, "--grant-id",
               two["GrantId"]])
    ok(r[0]), ok(r[1])
    assert ok(aws.run("kms", "list-grants", "--key-id", key))["Grants"] \
        == []


def test_listed_errors(aws, tmp_path):
    key = ok(aws.run("kms", "create-key"))["KeyMetadata"]["KeyId"]
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
        ("NotFoundException", "does not exist", "revoke-grant", "--key-id",
         key, "--grant-id", "0" * 64),
        ("InvalidGrantIdException", "", "revoke-grant", "--key-id", key,
         "--grant-id", "nope"),
        ("InvalidGrantTokenException", "", "retire-grant", "--grant-token",
         "forged"),
        ("ValidationException", "Sign", "create-grant", "--key-id", key,
         "--grantee-principal", GRANTEE, "--operations", "Sign"),
    ]
    for case, res in zip(cases, batch(aws, *[c[2:] for c in cases])):
        failed(aws, res, case[0], case[1])
