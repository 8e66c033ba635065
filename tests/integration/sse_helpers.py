"""What the server-side encryption tests (test_sse_*.py) share: the SSE-C
test keys, raw header injection into boto3 requests, the KMS audit trail,
the metadata rows and blob files of a stored object, and byte flips.

Nothing here starts a server; the fixtures of conftest.py do.
"""

import base64
import contextlib
import glob
import hashlib
import hmac
import json
import os
import sqlite3
import struct

import pytest

from clients import unique_name
from server import ACCOUNT_ID, REGION

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

KIB = 1024
MIB = 1024 * 1024
SEGMENT = 64 * KIB
HEADER = 20
TAG = 16

# botocore's SSE-C test key (sse.md section 13) and a second one.
SSEC_KEY = b"0123456789abcdef0123456789abcdef"
SSEC_KEY_B64 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
SSEC_MD5 = "hRasmdxgYDKV3nvbahU1MA=="
SSEC_KEY2 = b"A" * 32
CTX_AB = "eyJhIjoiYiJ9"             # base64 of {"a":"b"}

# Audit operations that are KMS calls (ruling 14).
KMS_CALLS = ("Encrypt", "Decrypt", "GenerateDataKey",
             "GenerateDataKeyWithoutPlaintext", "ReEncrypt")


def ssec(key=SSEC_KEY):
    """boto3 arguments for the SSE-C trio (boto3 adds base64 and MD5)."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def key_md5(key=SSEC_KEY):
    return base64.b64encode(hashlib.md5(key).digest()).decode()


def kms_arn(resource):
    """arn:aws:kms:REGION:ACCOUNT:<resource>."""
    return "arn:aws:kms:%s:%s:%s" % (REGION, ACCOUNT_ID, resource)


def error_of(excinfo):
    """(error code, HTTP status) of a ClientError."""
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def headers_of(resp):
    """The raw reply headers of a boto3 response, names lowercased."""
    return resp["ResponseMetadata"]["HTTPHeaders"]


def request_id(resp):
    return resp["ResponseMetadata"]["RequestId"]


def new_key(kms, description="sse test key"):
    """A fresh customer key: (key id, key ARN)."""
    meta = kms.create_key(Description=description)["KeyMetadata"]
    return meta["KeyId"], meta["Arn"]


def new_bucket(s3, prefix="sse"):
    name = unique_name(prefix)
    s3.create_bucket(Bucket=name)
    return name


def kms_rule(key_text=None, bucket_key=True, algorithm="aws:kms"):
    """A default-encryption rule."""
    default = {"SSEAlgorithm": algorithm}
    if key_text is not None:
        default["KMSMasterKeyID"] = key_text
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": default,
                       "BucketKeyEnabled": bucket_key}]}


def set_rule(s3, bucket, key_text=None, bucket_key=True, algorithm="aws:kms"):
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration=kms_rule(key_text, bucket_key,
                                                   algorithm))


@contextlib.contextmanager
def extra_headers(client, operation, headers, remove=()):
    """Adds (or, for names in remove, deletes) raw headers on every
    `operation` request of client while the block runs; they are signed
    like any other header."""
    def edit(request, **_):
        for name in remove:
            if name in request.headers:
                del request.headers[name]
        for name, value in headers.items():
            if name in request.headers:
                del request.headers[name]
            request.headers[name] = value

    event = "before-sign.%s.%s" % (client.meta.service_model.endpoint_prefix,
                                   operation)
    client.meta.events.register(event, edit, unique_id="sse-test-edit")
    try:
        yield
    finally:
        client.meta.events.unregister(event, unique_id="sse-test-edit")


def audit_records(coffer, rid=None):
    """Every record of the server's KMS audit trail (parsed), or only
    those made while serving the request with id rid."""
    out = []
    for path in sorted(glob.glob(str(coffer.data / "audit" / "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    rec = json.loads(line)
                    if rid is None or rec.get("requestId") == rid:
                        out.append(rec)
    return out


def kms_calls(records):
    """The records that count as KMS calls (ruling 14)."""
    return [r for r in records if r.get("operation") in KMS_CALLS]


def meta_db(coffer):
    """A read-only connection to the server's metadata (WAL readers do not
    block the server)."""
    uri = "file:%s?mode=ro" % (coffer.data / "meta.db")
    return sqlite3.connect(uri, uri=True, timeout=10)


def object_row(coffer, bucket, key):
    """The objects row of bucket/key as a dict, with its bodies in offset
    order under "bodies" (dicts of blob_id, salt, part_number, size,
    off)."""
    with contextlib.closing(meta_db(coffer)) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM objects WHERE bucket=? AND okey=?",
                         (bucket, key)).fetchone()
        assert row is not None, "no row for %s/%s" % (bucket, key)
        obj = dict(row)
        obj["bodies"] = [dict(b) for b in db.execute(
            "SELECT blob_id, salt, part_number, size, off FROM bodies "
            "WHERE object_id=? ORDER BY seq", (obj["id"],))]
    return obj


def blob_path(coffer, blob_id):
    """The file of a committed blob: blobs/ab/cd/<id>."""
    path = coffer.data / "blobs" / blob_id[0:2] / blob_id[2:4] / blob_id
    assert path.is_file(), path
    return path


def flip_byte(path, offset):
    """Inverts the lowest bit of the byte at offset; returns a function
    that puts it back."""
    with open(path, "r+b") as f:
        f.seek(offset)
        old = f.read(1)
        f.seek(offset)
        f.write(bytes([old[0] ^ 1]))

    def restore():
        with open(path, "r+b") as f:
            f.seek(offset)
            f.write(old)
    return restore


def stored_size(plain):
    """The blob size of a body of `plain` bytes (DESIGN.md body format)."""
    segments = max(1, -(-plain // SEGMENT))
    return HEADER + segments * TAG + plain


def segment_offset(index):
    """Blob offset of segment `index`."""
    return HEADER + index * (SEGMENT + TAG)


def hkdf_sha256(ikm, salt, info, length=32):
    """RFC 5869 HKDF with SHA-256."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]),
                         hashlib.sha256).digest()
        out += block
    return out[:length]


def _field(data):
    return struct.pack(">I", len(data)) + data


def body_key(object_key, bucket, key, upload_id, part_number, salt, ctx=""):
    """A body's data key as ruling 13 derives it from the object key."""
    pairs = b""
    if ctx:
        for k, v in sorted(json.loads(ctx).items(),
                           key=lambda kv: kv[0].encode()):
            pairs += _field(k.encode()) + _field(v.encode())
    info = (b"coffer bucket key v1" + _field(bucket.encode())
            + _field(key.encode()) + _field(upload_id.encode())
            + _field(str(part_number).encode() if part_number else b"")
            + _field(pairs))
    return hkdf_sha256(object_key, salt, info)


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
