"""Every encryption mode through the stock aws CLIs, v1 and v2: `s3 cp`
with --sse and --sse-c (single and multipart uploads, downloads), and
s3api put-object, head-object and get-object with every SSE option,
checking what the CLI prints back. SSE-C goes over HTTPS; over plain
HTTP it is refused.
"""

import json
import os

import pytest

from clients import S3_CP_FAILED, Endpoint, show, unique_name
from sse_helpers import CTX_AB, MIB, SSEC_KEY, SSEC_MD5, new_bucket, new_key

BIG = 9 * MIB
VERSIONS = ["v1", "v2"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sse-cli")
    (d / "small.bin").write_bytes(os.urandom(100000))
    (d / "big.bin").write_bytes(os.urandom(BIG))
    return d


def cli(coffer, aws_files, clis, version, transport, cwd):
    return Endpoint(coffer, aws_files, transport).aws(clis, version, str(cwd))


@pytest.fixture(params=[("v1", "http"), ("v2", "https")],
                ids=lambda p: "-".join(p))
def aws_api(request, coffer, aws_files, clis, files):
    """Each CLI once, one over each transport (the transport changes
    nothing for these modes; SSE-C below has its own)."""
    return cli(coffer, aws_files, clis, request.param[0], request.param[1],
               files)


@pytest.fixture(scope="module")
def s3(http_endpoint):
    """boto3, for setting up and checking what the CLI did."""
    return http_endpoint.boto3("s3")


@pytest.fixture(scope="module")
def kms(http_endpoint):
    return http_endpoint.boto3("kms")


@pytest.fixture(params=VERSIONS)
def aws_tls(request, coffer, aws_files, clis, files):
    return cli(coffer, aws_files, clis, request.param, "https", files)


@pytest.fixture(params=VERSIONS)
def aws_plain(request, coffer, aws_files, clis, files):
    return cli(coffer, aws_files, clis, request.param, "http", files)


def ok(aws, *args):
    res = aws.run(*args)
    assert res.returncode == 0, show(res)
    return res


def head(aws, bucket, key, *extra):
    return aws.json("s3api", "head-object", "--bucket", bucket, "--key", key,
                    *extra)


def download_same(aws, bucket, key, name, *extra):
    out = "out-%s" % unique_name("dl")
    try:
        ok(aws, "s3", "cp", "s3://%s/%s" % (bucket, key), out, *extra)
        with open(os.path.join(aws.cwd, out), "rb") as got, \
                open(os.path.join(aws.cwd, name), "rb") as want:
            assert got.read() == want.read()
    finally:
        if os.path.exists(os.path.join(aws.cwd, out)):
            os.unlink(os.path.join(aws.cwd, out))


def test_cp_sse_s3_and_kms_key_id(aws_api, s3, kms):
    """--sse AES256 on a single PUT, --sse aws:kms with a key id on a
    multipart upload, and the download of the latter."""
    aws = aws_api
    bucket = new_bucket(s3, "sse-cli")
    key_id, key_arn = new_key(kms)
    ok(aws, "s3", "cp", "small.bin", "s3://%s/s3" % bucket, "--sse",
       "AES256")
    h = s3.head_object(Bucket=bucket, Key="s3")
    assert h["ServerSideEncryption"] == "AES256", h
    assert "SSEKMSKeyId" not in h

    ok(aws, "s3", "cp", "big.bin", "s3://%s/kms" % bucket, "--sse",
       "aws:kms", "--sse-kms-key-id", key_id)
    h = s3.head_object(Bucket=bucket, Key="kms")
    assert h["ServerSideEncryption"] == "aws:kms", h
    assert h["SSEKMSKeyId"] == key_arn, h
    assert "BucketKeyEnabled" not in h, h
    assert h["ETag"].endswith('-2"'), h
    download_same(aws, bucket, "kms", "big.bin")


def test_cp_sse_kms_alias_and_default_key(aws_api, s3, kms):
    aws = aws_api
    bucket = new_bucket(s3, "sse-cli")
    key_id, key_arn = new_key(kms)
    alias = "alias/" + bucket
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    ok(aws, "s3", "cp", "small.bin", "s3://%s/alias" % bucket, "--sse",
       "aws:kms", "--sse-kms-key-id", alias)
    assert s3.head_object(Bucket=bucket, Key="alias")["SSEKMSKeyId"] == \
        key_arn

    ok(aws, "s3", "cp", "small.bin", "s3://%s/managed" % bucket, "--sse",
       "aws:kms")
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"]
    assert s3.head_object(Bucket=bucket, Key="managed")["SSEKMSKeyId"] == \
        managed


def test_s3api_put_bucket_key_and_context(aws_api, s3, kms):
    aws = aws_api
    bucket = new_bucket(s3, "sse-cli")
    key_id, key_arn = new_key(kms)
    put = aws.json("s3api", "put-object", "--bucket", bucket, "--key", "k",
                   "--body", "small.bin", "--server-side-encryption",
                   "aws:kms", "--ssekms-key-id", key_id,
                   "--bucket-key-enabled", "--ssekms-encryption-context",
                   CTX_AB)
    assert put["ServerSideEncryption"] == "aws:kms", put
    assert put["SSEKMSKeyId"] == key_arn, put
    assert put["BucketKeyEnabled"] is True, put
    assert put["SSEKMSEncryptionContext"] == CTX_AB, put
    h = head(aws, bucket, "k")
    assert h["BucketKeyEnabled"] is True, h
    assert h["SSEKMSKeyId"] == key_arn, h


def test_s3api_no_bucket_key_overrides_rule(aws_api, s3, kms):
    aws = aws_api
    bucket = new_bucket(s3, "sse-cli")
    key_id, key_arn = new_key(kms)
    rule = {"Rules": [{"ApplyServerSideEncryptionByDefault": {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id},
        "BucketKeyEnabled": True}]}
    ok(aws, "s3api", "put-bucket-encryption", "--bucket", bucket,
       "--server-side-encryption-configuration", json.dumps(rule))
    put = aws.json("s3api", "put-object", "--bucket", bucket, "--key", "k",
                   "--body", "small.bin", "--no-bucket-key-enabled")
    assert put["SSEKMSKeyId"] == key_arn, put
    assert "BucketKeyEnabled" not in put, put
    ok(aws, "s3", "cp", "big.bin", "s3://%s/big" % bucket)
    h = s3.head_object(Bucket=bucket, Key="big")
    assert h["SSEKMSKeyId"] == key_arn and h["BucketKeyEnabled"] is True, h


def test_s3api_dsse(aws_api, s3, kms):
    aws = aws_api
    bucket = new_bucket(s3, "sse-cli")
    key_id, key_arn = new_key(kms)
    put = aws.json("s3api", "put-object", "--bucket", bucket, "--key", "k",
                   "--body", "small.bin", "--server-side-encryption",
                   "aws:kms:dsse", "--ssekms-key-id", key_id)
    assert put["ServerSideEncryption"] == "aws:kms:dsse", put
    assert put["SSEKMSKeyId"] == key_arn, put


def test_s3api_unknown_key_fails_with_service_error(aws_api, s3):
    aws = aws_api
    bucket = new_bucket(s3, "sse-cli")
    res = aws.run("s3api", "put-object", "--bucket", bucket, "--key", "k",
                  "--body", "small.bin", "--server-side-encryption",
                  "aws:kms", "--ssekms-key-id", "fake-key-id")
    assert res.returncode == aws.api_error_rc, show(res)
    assert "KMS.NotFoundException" in res.stderr, show(res)


SSEC_CP = ["--sse-c", "AES256", "--sse-c-key", SSEC_KEY.decode()]


def test_cp_sse_c_multipart_round_trip(aws_tls, s3):
    """The trio on Create, every part and Complete (the CLI sends it on
    each), then HEAD and a download with the key, and none without."""
    aws = aws_tls
    bucket = new_bucket(s3, "sse-cli")
    ok(aws, "s3", "cp", "big.bin", "s3://%s/k" % bucket, *SSEC_CP)
    h = head(aws, bucket, "k", "--sse-customer-algorithm", "AES256",
             "--sse-customer-key", SSEC_KEY.decode())
    assert h["SSECustomerAlgorithm"] == "AES256", h
    assert h["SSECustomerKeyMD5"] == SSEC_MD5, h
    assert "ServerSideEncryption" not in h, h
    assert h["ETag"].endswith('-2"'), h
    download_same(aws, bucket, "k", "big.bin", *SSEC_CP)

    res = aws.run("s3", "cp", "s3://%s/k" % bucket, "nokey.out")
    assert res.returncode == S3_CP_FAILED, show(res)
    assert "400" in res.stderr, show(res)
    assert not os.path.exists(os.path.join(aws.cwd, "nokey.out"))


def test_s3api_sse_c_get_and_wrong_key(aws_tls, s3):
    aws = aws_tls
    bucket = new_bucket(s3, "sse-cli")
    key = ["--sse-customer-algorithm", "AES256", "--sse-customer-key",
           SSEC_KEY.decode()]
    put = aws.json("s3api", "put-object", "--bucket", bucket, "--key", "k",
                   "--body", "small.bin", *key)
    assert put["SSECustomerKeyMD5"] == SSEC_MD5, put
    out = unique_name("get")
    try:
        got = aws.json("s3api", "get-object", "--bucket", bucket, "--key",
                       "k", *key, out)
        assert got["SSECustomerKeyMD5"] == SSEC_MD5, got
        with open(os.path.join(aws.cwd, out), "rb") as f, \
                open(os.path.join(aws.cwd, "small.bin"), "rb") as g:
            assert f.read() == g.read()
    finally:
        if os.path.exists(os.path.join(aws.cwd, out)):
            os.unlink(os.path.join(aws.cwd, out))

    res = aws.run("s3api", "get-object", "--bucket", bucket, "--key", "k",
                  "--sse-customer-algorithm", "AES256",
                  "--sse-customer-key", "B" * 32, "wrong.out")
    assert res.returncode == aws.api_error_rc, show(res)
    assert "AccessDenied" in res.stderr, show(res)


def test_cp_sse_c_over_plain_http_refused(aws_plain, s3):
    aws = aws_plain
    bucket = new_bucket(s3, "sse-cli")
    for name in ("small.bin", "big.bin"):
        res = aws.run("s3", "cp", name, "s3://%s/k" % bucket, *SSEC_CP)
        assert res.returncode == S3_CP_FAILED, show(res)
        assert "InvalidRequest" in res.stderr, show(res)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
