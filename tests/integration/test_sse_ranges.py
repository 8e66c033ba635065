"""Range GET and part-number GET on encrypted objects, in every mode:
exact bytes across segment and part edges, and proof that only the
segments a request needs are read and decrypted, measured two ways:

* the bytes the server process reads (rchar of /proc/PID/io) for a small
  range of a 16 MiB object stay near one 64 KiB segment, against the
  whole body for a full GET;
* with every segment but the wanted ones damaged on disk, the range (or
  part) still reads back exactly, while a GET that touches a damaged
  segment fails.
"""

import os

import pytest

from clients import Endpoint
from sse_helpers import (MIB, SEGMENT, SSEC_KEY2, blob_path, flip_byte,
                         new_bucket, new_key, object_row, segment_offset,
                         ssec)

BIG = 16 * MIB
PART = 5 * MIB
MODES = ["sse-s3", "sse-kms", "bucket-key", "sse-c"]


@pytest.fixture(scope="module")
def tls(coffer, aws_files):
    return Endpoint(coffer, aws_files, "https")


@pytest.fixture(scope="module")
def s3(tls):
    return tls.boto3("s3")


@pytest.fixture(scope="module")
def key_id(tls):
    return new_key(tls.boto3("kms"))[0]


def write_args(mode, key_id):
    return {
        "sse-s3": {"ServerSideEncryption": "AES256"},
        "sse-kms": {"ServerSideEncryption": "aws:kms",
                    "SSEKMSKeyId": key_id},
        "bucket-key": {"ServerSideEncryption": "aws:kms",
                       "SSEKMSKeyId": key_id, "BucketKeyEnabled": True},
        "sse-c": ssec(),
    }[mode]


def read_args(mode):
    return ssec() if mode == "sse-c" else {}


def put_multipart(s3, bucket, key, data, args, mode):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **args)
    parts = []
    for n, start in enumerate(range(0, len(data), PART), 1):
        r = s3.upload_part(Bucket=bucket, Key=key, PartNumber=n,
                           UploadId=up["UploadId"],
                           Body=data[start:start + PART], **read_args(mode))
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key,
                                 UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": parts})


class Objects:
    """One bucket per mode with a 16 MiB single-PUT object "big" and a
    three-part object "mp" (5 MiB, 5 MiB, 3 MiB + 5 bytes)."""

    def __init__(self, s3, mode, key_id):
        self.s3, self.mode = s3, mode
        self.bucket = new_bucket(s3, "ranges")
        args = write_args(mode, key_id)
        self.big = os.urandom(BIG)
        s3.put_object(Bucket=self.bucket, Key="big", Body=self.big, **args)
        self.mp = os.urandom(2 * PART + 3 * MIB + 5)
        put_multipart(s3, self.bucket, "mp", self.mp, args, mode)

    def get(self, key, **kw):
        return self.s3.get_object(Bucket=self.bucket, Key=key,
                                  **read_args(self.mode), **kw)


@pytest.fixture(scope="module", params=MODES)
def objs(request, s3, key_id):
    return Objects(s3, request.param, key_id)


def rchar(coffer):
    """Bytes the server process has read so far (files and sockets)."""
    with open("/proc/%d/io" % coffer.proc.pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar in /proc/%d/io" % coffer.proc.pid)


def bytes_read_by(coffer, call):
    before = rchar(coffer)
    body = call()
    return rchar(coffer) - before, body


RANGES = [(0, 0), (SEGMENT - 1, SEGMENT), (SEGMENT - 6, SEGMENT + 9),
          (3 * SEGMENT, 5 * SEGMENT - 1), (BIG - 1, BIG - 1),
          (BIG - SEGMENT - 3, BIG - 1), (12345, 3 * SEGMENT + 7)]


def test_ranges_exact(objs):
    for first, last in RANGES:
        got = objs.get("big", Range="bytes=%d-%d" % (first, last))
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"] == "bytes %d-%d/%d" % (first, last, BIG)
        assert got["Body"].read() == objs.big[first:last + 1]
    for spec, want in (("bytes=-70000", objs.big[-70000:]),
                       ("bytes=%d-" % (BIG - 65537), objs.big[-65537:])):
        assert objs.get("big", Range=spec)["Body"].read() == want


def test_multipart_ranges_across_parts(objs):
    size = len(objs.mp)
    for first, last in ((PART - 1, PART), (PART - 70000, PART + 70000),
                        (SEGMENT - 1, 2 * PART + 1), (0, size - 1),
                        (2 * PART, 2 * PART), (size - 1, size - 1)):
        got = objs.get("mp", Range="bytes=%d-%d" % (first, last))
        assert got["ContentRange"] == "bytes %d-%d/%d" % (first, last, size)
        assert got["Body"].read() == objs.mp[first:last + 1]
    assert objs.get("mp")["Body"].read() == objs.mp


def test_part_number_get(objs):
    size = len(objs.mp)
    bounds = [(0, PART), (PART, 2 * PART), (2 * PART, size)]
    for n, (start, end) in enumerate(bounds, 1):
        got = objs.get("mp", PartNumber=n)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"] == "bytes %d-%d/%d" % (start, end - 1,
                                                          size)
        assert got["PartsCount"] == 3
        assert got["Body"].read() == objs.mp[start:end]


def test_small_range_reads_one_segment(coffer, objs):
    full, body = bytes_read_by(coffer, lambda: objs.get("big")["Body"].read())
    assert body == objs.big
    assert full >= BIG

    for first, last in ((7 * SEGMENT + 100, 7 * SEGMENT + 115),
                        (BIG - 16, BIG - 1)):
        n, body = bytes_read_by(coffer, lambda: objs.get(
            "big", Range="bytes=%d-%d" % (first, last))["Body"].read())
        assert body == objs.big[first:last + 1]
        # One sealed segment plus the header, and a little for the
        # request and the metadata; a hundredth of the full read.
        assert n < SEGMENT + 256 * 1024, n
        assert n * 60 < full, (n, full)

    n, body = bytes_read_by(coffer, lambda: objs.get(
        "big", Range="bytes=%d-%d" % (SEGMENT - 8, SEGMENT + 7))[
            "Body"].read())
    assert body == objs.big[SEGMENT - 8:SEGMENT + 8]
    assert 2 * SEGMENT <= n < 2 * SEGMENT + 256 * 1024, n


def test_part_number_reads_that_part_only(coffer, objs):
    full, _ = bytes_read_by(coffer, lambda: objs.get("mp")["Body"].read())
    assert full >= len(objs.mp)
    n, body = bytes_read_by(coffer, lambda: objs.get(
        "mp", PartNumber=3)["Body"].read())
    assert body == objs.mp[2 * PART:]
    assert len(body) <= n < len(body) + 512 * 1024, n


def damage_all_but(coffer, bucket, key, keep):
    """Flips one byte in every segment of every body of bucket/key except
    the (body index, segment index) pairs in keep; returns the undo."""
    undo = []
    for i, body in enumerate(object_row(coffer, bucket, key)["bodies"]):
        path = blob_path(coffer, body["blob_id"])
        segments = max(1, -(-body["size"] // SEGMENT))
        for seg in range(segments):
            if (i, seg) not in keep:
                undo.append(flip_byte(path, segment_offset(seg) + 5))

    def restore():
        for fn in reversed(undo):
            fn()
    return restore


def test_damaged_elsewhere_range_still_reads(coffer, objs):
    first, last = 9 * SEGMENT + 3, 10 * SEGMENT + 3
    restore = damage_all_but(coffer, objs.bucket, "big", {(0, 9), (0, 10)})
    try:
        got = objs.get("big", Range="bytes=%d-%d" % (first, last))
        assert got["Body"].read() == objs.big[first:last + 1]
        with pytest.raises(Exception):
            objs.get("big", Range="bytes=%d-%d" % (first, last + SEGMENT))[
                "Body"].read()
    finally:
        restore()
    assert objs.get("big")["Body"].read() == objs.big


def test_damaged_other_parts_part_still_reads(coffer, objs):
    segments = {(1, s) for s in range(PART // SEGMENT)}
    restore = damage_all_but(coffer, objs.bucket, "mp", segments)
    try:
        got = objs.get("mp", PartNumber=2)
        assert got["Body"].read() == objs.mp[PART:2 * PART]
        got = objs.get("mp", Range="bytes=%d-%d" % (PART + 1, 2 * PART - 2))
        assert got["Body"].read() == objs.mp[PART + 1:2 * PART - 1]
        with pytest.raises(Exception):
            objs.get("mp", PartNumber=1)["Body"].read()
    finally:
        restore()
    assert objs.get("mp")["Body"].read() == objs.mp


def test_sse_c_range_with_wrong_key_refused(s3):
    objs_bucket = new_bucket(s3, "ranges")
    s3.put_object(Bucket=objs_bucket, Key="k", Body=b"x" * 100000, **ssec())
    with pytest.raises(Exception) as e:
        s3.get_object(Bucket=objs_bucket, Key="k", Range="bytes=0-9",
                      **ssec(SSEC_KEY2))
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
