"""A KMS key's state as S3 reports it (sse.md section 9, rows 16 and 17):
a disabled key gives 400 KMS.DisabledException, a key pending deletion
400 KMS.KMSInvalidStateException and an unknown or deleted key 400
KMS.NotFoundException, on every write path (PUT, bucket default,
CreateMultipartUpload, UploadPart, Complete) and on GET, with and
without bucket keys, also when the bucket key is already cached. After
EnableKey (or CancelKeyDeletion and EnableKey) every object reads back
intact; once the key is really deleted, its objects stay unreadable and
the error names the missing key.
"""

import contextlib
import os
import sqlite3

import pytest

from clients import ACCESS_KEY, SECRET_KEY, boto3_client
from server import CofferServer, server_env
from sse_helpers import (MIB, ClientError, error_of, new_bucket, new_key,
                         set_rule)

PART = 5 * MIB
DISABLED = ("KMS.DisabledException", 400)
PENDING = ("KMS.KMSInvalidStateException", 400)
NOT_FOUND = ("KMS.NotFoundException", 400)


@pytest.fixture(scope="module")
def s3(http_endpoint):
    return http_endpoint.boto3("s3")


@pytest.fixture(scope="module")
def kms(http_endpoint):
    return http_endpoint.boto3("kms")


def kms_args(key_id, bucket_key):
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id,
            "BucketKeyEnabled": bucket_key}


def fails(want, call, *args, **kwargs):
    """Runs call, which must fail with (code, status) want; returns the
    error message."""
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    assert error_of(e) == want, e.value.response
    return e.value.response["Error"]["Message"]


class Stored:
    """Objects and an open upload made under one key while it was usable."""

    def __init__(self, s3, bucket, key_id, bucket_key):
        self.s3, self.bucket = s3, bucket
        args = kms_args(key_id, bucket_key)
        self.small = os.urandom(1000)
        self.large = os.urandom(PART + 4321)
        s3.put_object(Bucket=bucket, Key="small", Body=self.small, **args)
        up = s3.create_multipart_upload(Bucket=bucket, Key="mp", **args)
        parts = []
        for n, start in enumerate(range(0, len(self.large), PART), 1):
            r = s3.upload_part(Bucket=bucket, Key="mp", PartNumber=n,
                               UploadId=up["UploadId"],
                               Body=self.large[start:start + PART])
            parts.append({"PartNumber": n, "ETag": r["ETag"]})
        s3.complete_multipart_upload(Bucket=bucket, Key="mp",
                                     UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": parts})
        self.open = s3.create_multipart_upload(Bucket=bucket, Key="open",
                                               **args)["UploadId"]
        self.first = os.urandom(PART)
        first = s3.upload_part(Bucket=bucket, Key="open", PartNumber=1,
                               UploadId=self.open, Body=self.first)
        self.open_parts = [{"PartNumber": 1, "ETag": first["ETag"]}]

    def gets_fail(self, want):
        for name in ("small", "mp"):
            fails(want, self.s3.get_object, Bucket=self.bucket, Key=name)
        fails(want, self.s3.get_object, Bucket=self.bucket, Key="mp",
              Range="bytes=%d-%d" % (PART - 1, PART))

    def writes_fail(self, want, key_id, bucket_key):
        s3, b, args = self.s3, self.bucket, kms_args(key_id, bucket_key)
        fails(want, s3.put_object, Bucket=b, Key="new", Body=b"x", **args)
        fails(want, s3.create_multipart_upload, Bucket=b, Key="new", **args)
        fails(want, s3.upload_part, Bucket=b, Key="open", PartNumber=2,
              UploadId=self.open, Body=b"second part")
        fails(want, s3.complete_multipart_upload, Bucket=b, Key="open",
              UploadId=self.open,
              MultipartUpload={"Parts": self.open_parts})
        fails(("404", 404), s3.head_object, Bucket=b, Key="new")
        fails(("404", 404), s3.head_object, Bucket=b, Key="open")

    def all_intact(self):
        s3, b = self.s3, self.bucket
        assert s3.get_object(Bucket=b, Key="small")["Body"].read() == \
            self.small
        assert s3.get_object(Bucket=b, Key="mp")["Body"].read() == self.large
        got = s3.get_object(Bucket=b, Key="mp", Range="bytes=%d-%d"
                            % (PART - 1, PART))
        assert got["Body"].read() == self.large[PART - 1:PART + 1]
        r = s3.upload_part(Bucket=b, Key="open", PartNumber=2,
                           UploadId=self.open, Body=b"second part")
        parts = self.open_parts + [{"PartNumber": 2, "ETag": r["ETag"]}]
        s3.complete_multipart_upload(Bucket=b, Key="open", UploadId=self.open,
                                     MultipartUpload={"Parts": parts})
        assert s3.get_object(Bucket=b, Key="open")["Body"].read() == \
            self.first + b"second part"


@pytest.mark.parametrize("bucket_key", [False, True],
                         ids=["no-bucket-key", "bucket-key"])
def test_disabled_key_then_enabled(s3, kms, bucket_key):
    bucket = new_bucket(s3, "keystate")
    key_id, key_arn = new_key(kms)
    stored = Stored(s3, bucket, key_id, bucket_key)

    kms.disable_key(KeyId=key_id)
    stored.gets_fail(DISABLED)
    stored.writes_fail(DISABLED, key_id, bucket_key)
    message = fails(DISABLED, s3.get_object, Bucket=bucket, Key="small")
    assert message == "%s is disabled." % key_arn

    kms.enable_key(KeyId=key_id)
    stored.all_intact()


@pytest.mark.parametrize("bucket_key", [False, True],
                         ids=["no-bucket-key", "bucket-key"])
def test_pending_deletion_then_cancelled(s3, kms, bucket_key):
    bucket = new_bucket(s3, "keystate")
    key_id, key_arn = new_key(kms)
    stored = Stored(s3, bucket, key_id, bucket_key)

    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    stored.gets_fail(PENDING)
    stored.writes_fail(PENDING, key_id, bucket_key)
    message = fails(PENDING, s3.get_object, Bucket=bucket, Key="small")
    assert message == "%s is pending deletion." % key_arn

    kms.cancel_key_deletion(KeyId=key_id)
    stored.gets_fail(DISABLED)
    kms.enable_key(KeyId=key_id)
    stored.all_intact()


@pytest.mark.parametrize("bucket_key", [False, True],
                         ids=["no-bucket-key", "bucket-key"])
def test_bucket_default_key_state(s3, kms, bucket_key):
    bucket = new_bucket(s3, "keystate")
    key_id, _ = new_key(kms)
    set_rule(s3, bucket, key_id, bucket_key=bucket_key)
    s3.put_object(Bucket=bucket, Key="before", Body=b"before")

    kms.disable_key(KeyId=key_id)
    fails(DISABLED, s3.put_object, Bucket=bucket, Key="k", Body=b"x")
    fails(DISABLED, s3.create_multipart_upload, Bucket=bucket, Key="k")
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    fails(PENDING, s3.put_object, Bucket=bucket, Key="k", Body=b"x")
    fails(PENDING, s3.get_object, Bucket=bucket, Key="before")
    fails(("404", 404), s3.head_object, Bucket=bucket, Key="k")

    kms.cancel_key_deletion(KeyId=key_id)
    kms.enable_key(KeyId=key_id)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="before")["Body"].read() == \
        b"before"


def test_other_keys_unaffected(s3, kms):
    bucket = new_bucket(s3, "keystate")
    off_id, _ = new_key(kms)
    on_id, _ = new_key(kms)
    for name, key_id in (("off", off_id), ("on", on_id)):
        s3.put_object(Bucket=bucket, Key=name, Body=name.encode(),
                      **kms_args(key_id, True))
    s3.put_object(Bucket=bucket, Key="s3", Body=b"s3")
    kms.disable_key(KeyId=off_id)
    fails(DISABLED, s3.get_object, Bucket=bucket, Key="off")
    assert s3.get_object(Bucket=bucket, Key="on")["Body"].read() == b"on"
    assert s3.get_object(Bucket=bucket, Key="s3")["Body"].read() == b"s3"
    s3.put_object(Bucket=bucket, Key="on2", Body=b"x",
                  **kms_args(on_id, True))


@pytest.fixture
def private(tmp_path):
    """A server of this test's own, so its metadata can be edited while
    it is stopped."""
    srv = CofferServer(tmp_path, server_env(ACCESS_KEY, SECRET_KEY))
    srv.start()
    yield srv
    srv.stop()


def clients(srv):
    return (boto3_client("s3", srv.http_url, ACCESS_KEY, SECRET_KEY),
            boto3_client("kms", srv.http_url, ACCESS_KEY, SECRET_KEY))


def test_deleted_key_objects_unreadable_with_clear_error(private):
    s3, kms = clients(private)
    bucket = new_bucket(s3, "shred")
    key_id, key_arn = new_key(kms)
    set_rule(s3, bucket, key_id, bucket_key=True)
    Stored(s3, bucket, key_id, False)
    s3.put_object(Bucket=bucket, Key="bk", Body=b"bucket key",
                  **kms_args(key_id, True))
    s3.put_object(Bucket=bucket, Key="plainkms", Body=b"no bucket key",
                  **kms_args(key_id, False))
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    # The waiting period ends: move the deletion date into the past while
    # the server is down, so the key is gone at its next use.
    private.stop()
    with contextlib.closing(sqlite3.connect(private.data / "meta.db")) as db:
        db.execute("UPDATE kms_keys SET deletion_ms = 1 WHERE key_id = ?",
                   (key_id,))
        db.commit()
    private.start()
    s3, kms = clients(private)

    gone = "Key '%s' does not exist" % key_arn
    for name in ("small", "mp", "bk", "plainkms"):
        assert fails(NOT_FOUND, s3.get_object, Bucket=bucket,
                     Key=name) == gone
    fails(NOT_FOUND, s3.put_object, Bucket=bucket, Key="new", Body=b"x")
    fails(NOT_FOUND, s3.put_object, Bucket=bucket, Key="new", Body=b"x",
          **kms_args(key_id, True))
    fails(("NotFoundException", 400), kms.describe_key, KeyId=key_id)
    # Metadata stays readable; only the bodies are lost.
    assert s3.head_object(Bucket=bucket, Key="small")["ContentLength"] == \
        1000
