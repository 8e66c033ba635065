"""The recipe's S3 side through boto3, over HTTP and HTTPS, checking the raw
error codes and HTTP statuses the CLI hides, plus authentication failures.
"""

import concurrent.futures
import json
import os
import re

import pytest

from clients import SECRET_KEY, unique_name

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

MIB = 1024 * 1024


@pytest.fixture
def s3(endpoint):
    return endpoint.boto3("s3")


@pytest.fixture
def kms(endpoint):
    return endpoint.boto3("kms")


@pytest.fixture
def key(kms):
    """A fresh customer key: (key id, key ARN)."""
    meta = kms.create_key(Description="boto3 test key")["KeyMetadata"]
    return meta["KeyId"], meta["Arn"]


@pytest.fixture
def bucket(s3):
    name = unique_name("boto")
    s3.create_bucket(Bucket=name)
    return name


def kms_rule(key_text):
    """A default-encryption rule: SSE-KMS under key_text, bucket key on."""
    return {"Rules": [{
        "ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_text},
        "BucketKeyEnabled": True}]}


def set_kms_rule(s3, bucket, key_text):
    rule = kms_rule(key_text)
    s3.put_bucket_encryption(Bucket=bucket,
                             ServerSideEncryptionConfiguration=rule)


def deny_unencrypted(bucket):
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::%s/*" % bucket,
            "Condition": {"StringNotEquals": {
                "s3:x-amz-server-side-encryption": "aws:kms"}},
        }],
    })


def error_of(excinfo):
    """(error code, HTTP status) of a ClientError."""
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def assert_absent(s3, bucket, key):
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert error_of(e) == ("404", 404)


def test_create_bucket_returns_location(s3):
    name = unique_name("boto")
    resp = s3.create_bucket(Bucket=name)
    assert resp["Location"] == "/" + name


def test_bucket_encryption_echoes_literal_key_text(s3, bucket):
    set_kms_rule(s3, bucket, "${KEY_ID}")
    got = s3.get_bucket_encryption(Bucket=bucket)
    assert got["ServerSideEncryptionConfiguration"] == kms_rule("${KEY_ID}")


def test_bucket_encryption_without_rule_is_aes256(s3, bucket):
    got = s3.get_bucket_encryption(Bucket=bucket)
    rule = got["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}
    assert rule.get("BucketKeyEnabled", False) is False


def test_bucket_policy_stored_and_returned(s3, bucket):
    policy = deny_unencrypted(bucket)
    resp = s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    got = s3.get_bucket_policy(Bucket=bucket)
    assert json.loads(got["Policy"]) == json.loads(policy)


def test_put_object_sse_kms_reports_arn_and_bucket_key(s3, bucket, key):
    key_id, key_arn = key
    set_kms_rule(s3, bucket, key_id)
    body = os.urandom(1000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body,
                        ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id)
    for resp in (put, s3.head_object(Bucket=bucket, Key="k")):
        assert resp["ServerSideEncryption"] == "aws:kms"
        assert resp["SSEKMSKeyId"] == key_arn
        assert resp["BucketKeyEnabled"] is True

    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["SSEKMSKeyId"] == key_arn
    assert got["Body"].read() == body


def test_put_object_without_sse_denied_403(s3, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_unencrypted(bucket))
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="plain", Body=b"hello\n")
    assert error_of(e) == ("AccessDenied", 403)
    assert_absent(s3, bucket, "plain")


def test_create_multipart_without_sse_denied_403(s3, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_unencrypted(bucket))
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="plain")
    assert error_of(e) == ("AccessDenied", 403)


def upload_parts_in_parallel(s3, bucket, key, upload_id, data, size):
    """Sends the parts on several connections, last part first.
    Returns the Complete part list."""
    chunks = [data[i:i + size] for i in range(0, len(data), size)]

    def send(number):
        resp = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                              PartNumber=number, Body=chunks[number - 1])
        return {"PartNumber": number, "ETag": resp["ETag"]}

    numbers = list(range(len(chunks), 0, -1))
    with concurrent.futures.ThreadPoolExecutor(len(chunks)) as pool:
        parts = list(pool.map(send, numbers))
    return sorted(parts, key=lambda p: p["PartNumber"])


def test_multipart_sse_kms_parallel_parts_round_trip(s3, bucket, key):
    key_id, key_arn = key
    set_kms_rule(s3, bucket, key_id)
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_unencrypted(bucket))
    data = os.urandom(20 * MIB)

    up = s3.create_multipart_upload(Bucket=bucket, Key="big",
                                    ServerSideEncryption="aws:kms",
                                    SSEKMSKeyId=key_id)
    assert up["SSEKMSKeyId"] == key_arn
    parts = upload_parts_in_parallel(s3, bucket, "big", up["UploadId"],
                                     data, 8 * MIB)
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=up["UploadId"],
        MultipartUpload={"Parts": parts})
    assert re.match(r'^"[0-9a-f]{32}-3"$', done["ETag"]), done
    assert done["ServerSideEncryption"] == "aws:kms"
    assert done["SSEKMSKeyId"] == key_arn
    assert done["BucketKeyEnabled"] is True

    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == data
    ranged = s3.get_object(Bucket=bucket, Key="big", IfMatch=done["ETag"],
                           Range="bytes=8388608-16777215")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert ranged["ContentRange"] == "bytes 8388608-16777215/%d" % len(data)
    assert ranged["Body"].read() == data[8 * MIB:16 * MIB]


def test_missing_default_key_fails_kms_not_found_400(s3, bucket):
    set_kms_rule(s3, bucket, "${KEY_ID}")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"hello\n")
    assert error_of(e) == ("KMS.NotFoundException", 400)
    assert_absent(s3, bucket, "k")

    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="k")
    assert error_of(e) == ("KMS.NotFoundException", 400)


def test_unknown_default_key_uuid_fails_kms_not_found_400(s3, bucket):
    unknown = "00000000-0000-4000-8000-000000000000"
    set_kms_rule(s3, bucket, unknown)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"hello\n")
    assert error_of(e) == ("KMS.NotFoundException", 400)


def test_object_without_sse_or_rule_is_aes256(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"hello\n")
    assert put["ServerSideEncryption"] == "AES256"
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "AES256"
    assert "SSEKMSKeyId" not in head


def test_head_missing_key_404(s3, bucket):
    assert_absent(s3, bucket, "no-such-key")


def test_wrong_secret_signature_does_not_match_403(endpoint):
    s3 = endpoint.boto3("s3", secret_key=SECRET_KEY[::-1])
    with pytest.raises(ClientError) as e:
        s3.list_buckets()
    assert error_of(e) == ("SignatureDoesNotMatch", 403)


def test_unknown_access_key_invalid_access_key_id_403(endpoint):
    s3 = endpoint.boto3("s3", access_key="AKIAUNKNOWNUNKNOWN00")
    with pytest.raises(ClientError) as e:
        s3.list_buckets()
    assert error_of(e) == ("InvalidAccessKeyId", 403)


def test_right_credentials_list_buckets(s3, bucket):
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket in names

