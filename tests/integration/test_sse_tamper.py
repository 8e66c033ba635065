"""Tampering with a stored body: one flipped bit anywhere in a body's blob
(its header, any segment's ciphertext, any tag), in every mode, for a
single PUT and for either part of a multipart object, or a part's blob
swapped for another's, and the GET fails cleanly: never a wrong byte.

What a client sees today: the server sends the 200 and its headers
before it opens the first body (bodies are opened as the socket drains),
so every case is a 200 whose body is cut short, with everything before
the cut exact and the cut no later than the damaged segment's first
plaintext byte (the access log marks the request "aborted"). An error
status before any byte (500 InternalError) is accepted as well, should
the server come to check the first segment before replying.
"""

import os
import shutil

import pytest

from clients import Endpoint
from sse_helpers import (MIB, SEGMENT, TAG, ClientError, blob_path,
                         error_of, flip_byte, new_bucket, new_key,
                         object_row, ssec, stored_size)

PART = 5 * MIB
SMALL = 3 * SEGMENT + 1000           # four segments, the last one short
MODES = ["sse-s3", "sse-kms", "bucket-key", "dsse", "sse-c"]


@pytest.fixture(scope="module")
def s3(coffer, aws_files):
    return Endpoint(coffer, aws_files, "https").boto3("s3")


@pytest.fixture(scope="module")
def key_id(coffer, aws_files):
    return new_key(Endpoint(coffer, aws_files, "https").boto3("kms"))[0]


def write_args(mode, key_id):
    kms = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}
    return {
        "sse-s3": {"ServerSideEncryption": "AES256"},
        "sse-kms": kms,
        "bucket-key": dict(kms, BucketKeyEnabled=True),
        "dsse": dict(kms, ServerSideEncryption="aws:kms:dsse"),
        "sse-c": ssec(),
    }[mode]


def read_args(mode):
    return ssec() if mode == "sse-c" else {}


class Stored:
    """A single-PUT object "one" of SMALL bytes and a two-part object
    "mp" (5 MiB, then SMALL bytes) in a bucket of their own."""

    def __init__(self, s3, mode, key_id):
        self.s3, self.mode = s3, mode
        self.bucket = new_bucket(s3, "tamper")
        self.args = args = write_args(mode, key_id)
        self.data = {"one": os.urandom(SMALL),
                     "mp": os.urandom(PART + SMALL),
                     "twin": os.urandom(2 * PART)}
        s3.put_object(Bucket=self.bucket, Key="one", Body=self.data["one"],
                      **args)
        for key in ("mp", "twin"):
            self.multipart(key, args)

    def multipart(self, key, args):
        s3, data = self.s3, self.data[key]
        up = s3.create_multipart_upload(Bucket=self.bucket, Key=key, **args)
        parts = []
        for n, start in enumerate(range(0, len(data), PART), 1):
            r = s3.upload_part(Bucket=self.bucket, Key=key, PartNumber=n,
                               UploadId=up["UploadId"],
                               Body=data[start:start + PART],
                               **read_args(self.mode))
            parts.append({"PartNumber": n, "ETag": r["ETag"]})
        s3.complete_multipart_upload(Bucket=self.bucket, Key=key,
                                     UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": parts})

    def fetch(self, key):
        """("status", (code, status)) when the GET was refused, else
        ("cut" or "complete", status, bytes received)."""
        try:
            resp = self.s3.get_object(Bucket=self.bucket, Key=key,
                                      **read_args(self.mode))
        except ClientError as e:
            return "status", (e.response["Error"]["Code"],
                              e.response["ResponseMetadata"][
                                  "HTTPStatusCode"]), b""
        status = resp["ResponseMetadata"]["HTTPStatusCode"]
        got = bytearray()
        try:
            while True:
                chunk = resp["Body"].read(256 * 1024)
                if not chunk:
                    break
                got += chunk
        except Exception:       # the connection cut mid-body
            return "cut", status, bytes(got)
        return "complete", status, bytes(got)

    def bodies(self, key):
        """[(blob path, plaintext offset, plaintext size)] of key."""
        return [(blob_path(self.s3_coffer, b["blob_id"]), b["off"],
                 b["size"])
                for b in object_row(self.s3_coffer, self.bucket,
                                    key)["bodies"]]


@pytest.fixture(scope="module", params=MODES)
def stored(request, coffer, s3, key_id):
    st = Stored(s3, request.param, key_id)
    st.s3_coffer = coffer
    return st


def positions(size):
    """(label, blob offset, index of the segment it damages or None for
    the header) for a body of `size` plaintext bytes."""
    last = max(0, -(-size // SEGMENT) - 1)
    out = [("magic", 0, None), ("version", 4, None),
           ("segment-size", 9, None), ("nonce-prefix", 12, None),
           ("header-end", 19, None)]
    for seg in sorted({0, last // 2, last}):
        start = 20 + seg * (SEGMENT + TAG)
        plain = min(SEGMENT, size - seg * SEGMENT)
        out += [("seg%d-first" % seg, start, seg),
                ("seg%d-middle" % seg, start + plain // 2, seg),
                ("seg%d-tag" % seg, start + plain + TAG - 1, seg)]
    return out


def assert_clean_failure(outcome, data, limit, where):
    """The GET failed, and nothing it delivered was wrong or beyond
    plaintext offset `limit` (where the damage starts)."""
    kind = outcome[0]
    if kind == "status":
        assert outcome[1] == ("InternalError", 500), (where, outcome)
        return
    assert kind == "cut", (where, kind, outcome[1], len(outcome[2]))
    assert outcome[1] == 200, where
    got = outcome[2]
    assert got == data[:len(got)], "wrong bytes delivered: %s" % where
    assert len(got) <= limit, (where, len(got), limit)


def test_single_put_every_position(stored):
    data = stored.data["one"]
    [(path, off, size)] = stored.bodies("one")
    assert os.path.getsize(path) == stored_size(SMALL)
    for label, pos, seg in positions(size):
        restore = flip_byte(path, pos)
        try:
            outcome = stored.fetch("one")
        finally:
            restore()
        limit = 0 if seg is None else seg * SEGMENT
        assert_clean_failure(outcome, data, limit, label)
    assert stored.fetch("one") == ("complete", 200, data)


def test_last_byte_of_blob(stored):
    [(path, _, _)] = stored.bodies("one")
    restore = flip_byte(path, os.path.getsize(path) - 1)
    try:
        outcome = stored.fetch("one")
    finally:
        restore()
    assert_clean_failure(outcome, stored.data["one"], 3 * SEGMENT, "end")


@pytest.mark.parametrize("part", [0, 1], ids=["part1", "part2"])
def test_multipart_every_position(stored, part):
    data = stored.data["mp"]
    path, off, size = stored.bodies("mp")[part]
    chosen = [p for p in positions(size)
              if p[0] in ("magic", "nonce-prefix") or p[2] is not None]
    for label, pos, seg in chosen[::2] + [chosen[-1]]:
        restore = flip_byte(path, pos)
        try:
            outcome = stored.fetch("mp")
        finally:
            restore()
        limit = off + (0 if seg is None else seg * SEGMENT)
        assert_clean_failure(outcome, data, limit, "part%d %s"
                             % (part + 1, label))
    assert stored.fetch("mp") == ("complete", 200, data)


def test_swapped_parts_detected(stored):
    """Two parts of the same size, their blobs exchanged on disk: each
    blob is intact but bound to its own part number."""
    data = stored.data["twin"]
    (p1, _, _), (p2, _, _) = stored.bodies("twin")
    saved = p1.read_bytes()
    shutil.copyfile(p2, p1)
    try:
        outcome = stored.fetch("twin")
    finally:
        p1.write_bytes(saved)
    assert_clean_failure(outcome, data, 0, "part 2's blob as part 1")
    assert stored.fetch("twin") == ("complete", 200, data)


def test_blob_of_other_object_detected(stored):
    """The blob of another object of the same size and mode copied over
    this one's."""
    s3, bucket = stored.s3, stored.bucket
    s3.put_object(Bucket=bucket, Key="other", Body=os.urandom(SMALL),
                  **stored.args)
    [(mine, _, _)] = stored.bodies("one")
    [(theirs, _, _)] = stored.bodies("other")
    saved = mine.read_bytes()
    shutil.copyfile(theirs, mine)
    try:
        outcome = stored.fetch("one")
    finally:
        mine.write_bytes(saved)
    assert_clean_failure(outcome, stored.data["one"], 0, "other's blob")


def test_truncated_blob_detected(stored):
    [(path, _, _)] = stored.bodies("one")
    saved = path.read_bytes()
    with open(path, "r+b") as f:
        f.truncate(len(saved) - 1)
    try:
        outcome = stored.fetch("one")
    finally:
        path.write_bytes(saved)
    assert_clean_failure(outcome, stored.data["one"], 0, "truncated")
    with pytest.raises(ClientError) as e:
        stored.s3.get_object(Bucket=stored.bucket, Key="missing")
    assert error_of(e)[1] == 404
