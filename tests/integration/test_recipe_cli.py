"""The KMS-bucket recipe, step by step, with the stock aws CLIs.

Each of the four runs (CLI v1 and v2, each over HTTP and HTTPS) types steps
1 to 4 once, as a user would, in a module fixture that only records what
the CLI did; each step's test then checks its own step. Steps 5 to 8 upload
under their own object names, so they do not depend on one another.
The bucket rule's KMSMasterKeyID takes a different one of its four forms
in each run.
"""

import json
import os
import re

import pytest

from clients import S3_CP_FAILED, Endpoint, show, unique_name
from server import ACCOUNT_ID, REGION

RUNS = [
    ("v1", "http", "key-id"),
    ("v1", "https", "key-arn"),
    ("v2", "http", "alias-name"),
    ("v2", "https", "alias-arn"),
]
BIG = 20 * 1024 * 1024
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}$")
MULTIPART_ETAG_RE = re.compile(r'^"[0-9a-f]{32}-3"$')
ENCRYPTION = ('{"Rules":[{"ApplyServerSideEncryptionByDefault":'
              '{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"%s"},'
              '"BucketKeyEnabled":true}]}')


def kms_arn(resource):
    """arn:aws:kms:REGION:ACCOUNT:<resource>, for key/<id> or alias/<name>."""
    return "arn:aws:kms:%s:%s:%s" % (REGION, ACCOUNT_ID, resource)


def deny_unencrypted_policy(bucket):
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyUnEncryptedObjectUploads",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::%s/*" % bucket,
            "Condition": {"StringNotEquals": {
                "s3:x-amz-server-side-encryption": "aws:kms"}},
        }],
    }


class Recipe:
    """Steps 1-4 of the recipe and the second bucket of step 8, as typed.

    Results are kept in self.steps by step name; nothing is checked here.
    """

    def __init__(self, aws, form):
        self.aws = aws
        self.form = form
        self.steps = {}

    def type_steps(self):
        aws = self.aws
        self.steps["1"] = aws.run(
            "kms", "create-key", "--tags", "TagKey=Name,TagValue=MyBucketKey",
            "--description", "bucket CMK",
            "--query", "KeyMetadata.KeyId", "--output", "text")
        self.key_id = self.steps["1"].stdout.strip()
        self.key_arn = kms_arn("key/" + self.key_id)

        self.alias = unique_name("alias/mybucketkey")
        self.steps["2"] = aws.run("kms", "create-alias", "--alias-name",
                                  self.alias, "--target-key-id", self.key_id)

        self.bucket = unique_name("recipe")
        self.steps["3 create-bucket"] = aws.run("s3api", "create-bucket",
                                                "--bucket", self.bucket)
        self.default_key = self.key_form(self.form)
        self.steps["3"] = self.put_encryption(self.bucket, self.default_key)

        self.policy = deny_unencrypted_policy(self.bucket)
        policy_file = os.path.join(aws.cwd, "bucket-policy.json")
        with open(policy_file, "w") as f:
            f.write(json.dumps(self.policy) + "\n")
        self.steps["4"] = aws.run("s3api", "put-bucket-policy", "--bucket",
                                  self.bucket, "--policy",
                                  "file://bucket-policy.json")

        self.bucket2 = unique_name("recipe-nopolicy")
        self.steps["8 create-bucket"] = aws.run("s3api", "create-bucket",
                                                "--bucket", self.bucket2)
        self.steps["8"] = self.put_encryption(self.bucket2, "${KEY_ID}")

    def key_form(self, form):
        return {
            "key-id": self.key_id,
            "key-arn": self.key_arn,
            "alias-name": self.alias,
            "alias-arn": kms_arn(self.alias),
        }[form]

    def put_encryption(self, bucket, key):
        return self.aws.run("s3api", "put-bucket-encryption",
                            "--bucket", bucket,
                            "--server-side-encryption-configuration",
                            ENCRYPTION % key)

    def require(self, *names):
        """Fails the calling test if a step it builds on failed."""
        for name in names:
            res = self.steps[name]
            if res.returncode != 0:
                pytest.fail("recipe step %s failed, so this one cannot "
                            "run:\n%s" % (name, show(res)))
        if "1" in names and not UUID_RE.match(self.key_id):
            pytest.fail("step 1 printed no key id:\n" + show(self.steps["1"]))

    def head(self, bucket, key):
        return self.aws.json("s3api", "head-object", "--bucket", bucket,
                             "--key", key)

    def assert_absent(self, bucket, key):
        res = self.aws.run("s3api", "head-object", "--bucket", bucket,
                           "--key", key)
        assert res.returncode == self.aws.api_error_rc, show(res)
        assert "(404)" in res.stderr, show(res)


@pytest.fixture(scope="module", params=RUNS, ids=["-".join(r[:2])
                                                  for r in RUNS])
def recipe(request, coffer, aws_files, clis, payloads, tmp_path_factory):
    version, transport, form = request.param
    workdir = tmp_path_factory.mktemp("recipe-" + "-".join(request.param))
    for name in ("picture.png", "big20.bin"):
        os.link(payloads / name, workdir / name)

    coffer.check_running()
    endpoint = Endpoint(coffer, aws_files, transport)
    r = Recipe(endpoint.aws(clis, version, str(workdir)), form)
    r.type_steps()
    return r


def assert_kms_encrypted(head, key_arn):
    assert head.get("ServerSideEncryption") == "aws:kms", head
    assert head.get("SSEKMSKeyId") == key_arn, head
    assert head.get("BucketKeyEnabled") is True, head


def test_step1_create_key_prints_uuid(recipe):
    res = recipe.steps["1"]
    assert res.returncode == 0, show(res)
    assert UUID_RE.match(res.stdout.strip()), show(res)
    assert res.stdout == recipe.key_id + "\n", show(res)

    meta = recipe.aws.json("kms", "describe-key", "--key-id",
                           recipe.key_id)["KeyMetadata"]
    assert meta["KeyId"] == recipe.key_id
    assert meta["Arn"] == recipe.key_arn
    assert meta["Description"] == "bucket CMK"
    assert meta["KeyState"] == "Enabled"

    tags = recipe.aws.json("kms", "list-resource-tags", "--key-id",
                           recipe.key_id)["Tags"]
    assert {"TagKey": "Name", "TagValue": "MyBucketKey"} in tags


def test_step2_alias_listed_and_describes_key(recipe):
    recipe.require("1")
    res = recipe.steps["2"]
    assert res.returncode == 0, show(res)
    assert res.stdout.strip() == "", show(res)

    aliases = recipe.aws.json("kms", "list-aliases")["Aliases"]
    mine = [a for a in aliases if a["AliasName"] == recipe.alias]
    assert len(mine) == 1, aliases
    assert mine[0]["TargetKeyId"] == recipe.key_id
    assert mine[0]["AliasArn"] == kms_arn(recipe.alias)

    meta = recipe.aws.json("kms", "describe-key", "--key-id",
                           recipe.alias)["KeyMetadata"]
    assert meta["KeyId"] == recipe.key_id
    assert meta["Arn"] == recipe.key_arn


def test_step3_bucket_encryption_stored_and_returned(recipe):
    recipe.require("1", "2")
    res = recipe.steps["3 create-bucket"]
    assert res.returncode == 0, show(res)
    assert json.loads(res.stdout) == {"Location": "/" + recipe.bucket}
    res = recipe.steps["3"]
    assert res.returncode == 0, show(res)
    assert res.stdout.strip() == "", show(res)

    got = recipe.aws.json("s3api", "get-bucket-encryption",
                          "--bucket", recipe.bucket)
    assert got["ServerSideEncryptionConfiguration"]["Rules"] == [{
        "ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": recipe.default_key},
        "BucketKeyEnabled": True}]


def test_step3_default_key_form_resolves_to_key_arn(recipe):
    recipe.require("1", "2")
    bucket = unique_name("recipe-default")
    recipe.aws.json("s3api", "create-bucket", "--bucket", bucket)
    res = recipe.put_encryption(bucket, recipe.default_key)
    assert res.returncode == 0, show(res)

    res = recipe.aws.run("s3", "cp", "./picture.png", "s3://%s" % bucket)
    assert res.returncode == 0, show(res)
    assert_kms_encrypted(recipe.head(bucket, "picture.png"), recipe.key_arn)


def test_step4_bucket_policy_stored_and_returned(recipe):
    recipe.require("3 create-bucket")
    res = recipe.steps["4"]
    assert res.returncode == 0, show(res)
    assert res.stdout.strip() == "", show(res)

    got = recipe.aws.json("s3api", "get-bucket-policy",
                          "--bucket", recipe.bucket)
    assert json.loads(got["Policy"]) == recipe.policy


def test_step5_encrypted_upload_downloads_identical(recipe, tmp_path):
    recipe.require("1", "3", "4")
    res = recipe.aws.run("s3", "cp", "./picture.png", "s3://" + recipe.bucket,
                         "--sse", "aws:kms",
                         "--sse-kms-key-id", recipe.key_id)
    assert res.returncode == 0, show(res)
    assert ("upload: ./picture.png to s3://%s/picture.png" % recipe.bucket
            in res.stdout), show(res)

    back = tmp_path / "back.png"
    res = recipe.aws.run("s3", "cp", "s3://%s/picture.png" % recipe.bucket,
                         str(back))
    assert res.returncode == 0, show(res)
    picture = os.path.join(recipe.aws.cwd, "picture.png")
    assert back.read_bytes() == open(picture, "rb").read()


def test_step5_head_object_shows_kms_arn_and_bucket_key(recipe):
    recipe.require("1", "3", "4")
    res = recipe.aws.run("s3", "cp", "./picture.png",
                         "s3://%s/head-check.png" % recipe.bucket,
                         "--sse", "aws:kms",
                         "--sse-kms-key-id", recipe.key_id)
    assert res.returncode == 0, show(res)

    head = recipe.head(recipe.bucket, "head-check.png")
    assert_kms_encrypted(head, recipe.key_arn)
    size = os.path.getsize(os.path.join(recipe.aws.cwd, "picture.png"))
    assert head["ContentLength"] == size


def test_step6_upload_without_sse_denied(recipe):
    recipe.require("4")
    res = recipe.aws.run("s3", "cp", "./picture.png",
                         "s3://%s/unencrypted.png" % recipe.bucket)
    assert res.returncode == S3_CP_FAILED, show(res)
    assert "(AccessDenied)" in res.stderr, show(res)
    assert "PutObject operation" in res.stderr, show(res)
    recipe.assert_absent(recipe.bucket, "unencrypted.png")


def test_step6_put_object_without_sse_denied(recipe):
    recipe.require("4")
    res = recipe.aws.run("s3api", "put-object", "--bucket", recipe.bucket,
                         "--key", "unencrypted-api.png",
                         "--body", "picture.png")
    assert res.returncode == recipe.aws.api_error_rc, show(res)
    assert "(AccessDenied)" in res.stderr, show(res)
    recipe.assert_absent(recipe.bucket, "unencrypted-api.png")


def test_step7_encrypted_multipart_round_trips(recipe, tmp_path):
    recipe.require("1", "3", "4")
    res = recipe.aws.run("s3", "cp", "./big20.bin", "s3://" + recipe.bucket,
                         "--sse", "aws:kms",
                         "--sse-kms-key-id", recipe.key_id)
    assert res.returncode == 0, show(res)

    head = recipe.head(recipe.bucket, "big20.bin")
    assert head["ContentLength"] == BIG
    assert MULTIPART_ETAG_RE.match(head["ETag"]), head
    assert_kms_encrypted(head, recipe.key_arn)

    back = tmp_path / "back.bin"
    res = recipe.aws.run("s3", "cp", "s3://%s/big20.bin" % recipe.bucket,
                         str(back))
    assert res.returncode == 0, show(res)
    big = os.path.join(recipe.aws.cwd, "big20.bin")
    assert back.read_bytes() == open(big, "rb").read()


def test_step7_unencrypted_multipart_denied_at_create(recipe):
    recipe.require("4")
    res = recipe.aws.run("s3", "cp", "./big20.bin",
                         "s3://%s/big-plain.bin" % recipe.bucket)
    assert res.returncode == S3_CP_FAILED, show(res)
    assert "(AccessDenied)" in res.stderr, show(res)
    assert "CreateMultipartUpload operation" in res.stderr, show(res)
    recipe.assert_absent(recipe.bucket, "big-plain.bin")


def test_step8_literal_key_id_stored_verbatim(recipe):
    res = recipe.steps["8 create-bucket"]
    assert res.returncode == 0, show(res)
    res = recipe.steps["8"]
    assert res.returncode == 0, show(res)

    got = recipe.aws.json("s3api", "get-bucket-encryption",
                          "--bucket", recipe.bucket2)
    rule = got["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "${KEY_ID}"}


def test_step8_upload_with_missing_default_key_fails(recipe):
    recipe.require("8")
    res = recipe.aws.run("s3", "cp", "./picture.png", "s3://" + recipe.bucket2)
    assert res.returncode == S3_CP_FAILED, show(res)
    assert "(KMS.NotFoundException)" in res.stderr, show(res)

    res = recipe.aws.run("s3api", "put-object", "--bucket", recipe.bucket2,
                         "--key", "api.png", "--body", "picture.png")
    assert res.returncode == recipe.aws.api_error_rc, show(res)
    assert "(KMS.NotFoundException)" in res.stderr, show(res)
    recipe.assert_absent(recipe.bucket2, "picture.png")
    recipe.assert_absent(recipe.bucket2, "api.png")


def test_kms_error_exits_with_service_error_code(recipe):
    res = recipe.aws.run("kms", "describe-key", "--key-id", "${KEY_ID}")
    assert res.returncode == recipe.aws.api_error_rc, show(res)
    assert "(NotFoundException)" in res.stderr, show(res)
    assert "Invalid keyId ${KEY_ID}" in res.stderr, show(res)


def test_upload_without_sse_or_rule_reports_aes256(recipe):
    bucket = unique_name("plain")
    recipe.aws.json("s3api", "create-bucket", "--bucket", bucket)
    got = recipe.aws.json("s3api", "get-bucket-encryption", "--bucket", bucket)
    rule = got["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}

    res = recipe.aws.run("s3", "cp", "./picture.png", "s3://" + bucket)
    assert res.returncode == 0, show(res)
    head = recipe.head(bucket, "picture.png")
    assert head.get("ServerSideEncryption") == "AES256", head
    assert "SSEKMSKeyId" not in head, head
