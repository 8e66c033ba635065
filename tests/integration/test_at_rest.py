"""What the server leaves on disk: no plaintext of any object, and the
root credentials file only when it had to make the credentials itself.
"""

import configparser
import os
import stat
import uuid

import pytest

from clients import boto3_client, unique_name
from server import CofferServer, server_env

pytest.importorskip("boto3")

MIB = 1024 * 1024
MARKER = b"coffer-plaintext-marker-" + uuid.uuid4().hex.encode()


def marked(size):
    """size bytes made of the marker, repeated."""
    return (MARKER * (size // len(MARKER) + 1))[:size]


def put_multipart(s3, bucket, key, data, **sse):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **sse)
    parts = []
    for number, start in enumerate(range(0, len(data), 5 * MIB), 1):
        resp = s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"],
                              PartNumber=number,
                              Body=data[start:start + 5 * MIB])
        parts.append({"PartNumber": number, "ETag": resp["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key,
                                 UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": parts})


def files_under(top):
    """(path, bytes) of every regular file under top; files removed while
    walking are passed over."""
    for root, _, names in os.walk(top):
        for name in names:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    yield path, f.read()
            except FileNotFoundError:
                continue


def test_plaintext_marker_absent_from_data_dir(coffer, http_endpoint):
    s3 = http_endpoint.boto3("s3")
    key_id = http_endpoint.boto3("kms").create_key()["KeyMetadata"]["KeyId"]
    plain = unique_name("at-rest")
    ruled = unique_name("at-rest-bucket-key")
    s3.create_bucket(Bucket=plain)
    s3.create_bucket(Bucket=ruled)
    s3.put_bucket_encryption(
        Bucket=ruled, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id},
            "BucketKeyEnabled": True}]})
    kms = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}
    small, big = marked(100000), marked(11 * MIB)

    s3.put_object(Bucket=plain, Key="sse-s3", Body=small)
    s3.put_object(Bucket=plain, Key="sse-kms", Body=small, **kms)
    s3.put_object(Bucket=ruled, Key="bucket-key", Body=small)
    put_multipart(s3, plain, "mp-sse-s3", big)
    put_multipart(s3, plain, "mp-sse-kms", big, **kms)
    put_multipart(s3, ruled, "mp-bucket-key", big)

    written = [(plain, "sse-s3", small), (plain, "sse-kms", small),
               (ruled, "bucket-key", small), (plain, "mp-sse-s3", big),
               (plain, "mp-sse-kms", big), (ruled, "mp-bucket-key", big)]
    for bucket, key, data in written:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data

    seen = 0
    leaks = []
    for path, content in files_under(coffer.data):
        seen += len(content)
        if MARKER in content:
            leaks.append(path)
    assert leaks == []
    assert seen >= sum(len(data) for _, _, data in written), \
        "the data directory holds less than the bodies written"


def test_no_credentials_file_with_env_credentials(coffer):
    assert not (coffer.data / "credentials").exists()


def read_credentials(path):
    """(access key id, secret) from an aws credentials-format file."""
    parser = configparser.ConfigParser()
    parser.read(path)
    for section in parser.sections():
        if parser.has_option(section, "aws_secret_access_key"):
            return (parser[section]["aws_access_key_id"],
                    parser[section]["aws_secret_access_key"])
    raise AssertionError("no aws_secret_access_key in %s" % path)


def test_credentials_file_made_0600_without_env_credentials(tmp_path):
    srv = CofferServer(tmp_path, server_env())
    srv.start()
    try:
        path = srv.data / "credentials"
        assert path.is_file()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        access, secret = read_credentials(path)
        s3 = boto3_client("s3", srv.http_url, access, secret)
        resp = s3.list_buckets()
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        srv.stop()

    output = srv.output_bytes()
    assert secret.encode() not in output
    assert b"credentials" in output
