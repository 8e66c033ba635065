"""Nothing secret at rest, in any mode: after single-PUT, multipart and
still-open multipart uploads under SSE-S3, SSE-KMS with and without a
bucket key, DSSE-KMS and SSE-C, no file under the data directory (blobs,
meta.db, its WAL and shared memory, the audit trail, tmp/) holds the
plaintext marker, nor any data key the test can observe:

* every data-key plaintext GenerateDataKey handed to a client;
* every object and upload key: SSE-KMS and DSSE keys from KMS Decrypt of
  the blob kept in meta.db, bucket keys likewise from their rows, SSE-C
  keys unwrapped with the customer key (which is itself checked too);
* every body key derived from those (ruling 13), each proved right by
  opening the first segment of its blob with it.

Raw bytes, base64 and hex forms are all looked for, while the server
runs and again after it stopped (the WAL checkpointed). SSE-S3 object
keys are wrapped by an internal key that no API reveals, so those are
covered by the marker only. The server's own output is checked for the
same secrets.
"""

import base64
import contextlib
import json
import sqlite3
import struct
import uuid

import pytest

from clients import ACCESS_KEY, SECRET_KEY, boto3_client
from server import CofferServer, make_cert, server_env
from sse_helpers import (MIB, SEGMENT, SSEC_KEY, TAG, body_key, files_under,
                         new_bucket, new_key, set_rule, ssec)

AESGCM = pytest.importorskip(
    "cryptography.hazmat.primitives.ciphers.aead").AESGCM

MARKER = b"coffer-sse-at-rest-" + uuid.uuid4().hex.encode()
PART = 5 * MIB


def marked(size):
    return (MARKER * (size // len(MARKER) + 1))[:size]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("sse-at-rest")
    cert, key = make_cert(work)
    srv = CofferServer(work, server_env(ACCESS_KEY, SECRET_KEY),
                       tls=(cert, key))
    srv.cert = cert
    srv.start()
    yield srv
    srv.stop()


def client(srv, service):
    return boto3_client(service, srv.https_url, ACCESS_KEY, SECRET_KEY,
                        srv.cert)


def multipart(s3, bucket, key, data, args, part_args, complete=True):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **args)
    parts = []
    for n, start in enumerate(range(0, len(data), PART), 1):
        r = s3.upload_part(Bucket=bucket, Key=key, PartNumber=n,
                           UploadId=up["UploadId"],
                           Body=data[start:start + PART], **part_args)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    if complete:
        s3.complete_multipart_upload(Bucket=bucket, Key=key,
                                     UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": parts})


@pytest.fixture(scope="module")
def written(server):
    """Writes every mode's objects; returns (s3, kms, [(bucket, key, data,
    read args)], [GenerateDataKey plaintexts])."""
    s3, kms = client(server, "s3"), client(server, "kms")
    key_id, _ = new_key(kms)
    plain = new_bucket(s3, "rest")
    ruled = new_bucket(s3, "rest-bk")
    set_rule(s3, ruled, key_id, bucket_key=True)
    kms_args = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}
    modes = [
        ("sse-s3", plain, {"ServerSideEncryption": "AES256"}, {}),
        ("sse-kms", plain, kms_args, {}),
        ("sse-kms-ctx", plain, dict(kms_args, SSEKMSEncryptionContext=(
            base64.b64encode(b'{"team":"blue"}').decode())), {}),
        ("bucket-key", ruled, {}, {}),
        ("bucket-key-ctx", plain, dict(kms_args, BucketKeyEnabled=True,
                                       SSEKMSEncryptionContext=(
            base64.b64encode(b'{"x":"y"}').decode())), {}),
        ("dsse", plain, dict(kms_args, ServerSideEncryption="aws:kms:dsse"),
         {}),
        ("sse-c", plain, ssec(), ssec()),
    ]
    small, big = marked(100000), marked(PART + 70000)
    objects = []
    for mode, bucket, args, rargs in modes:
        s3.put_object(Bucket=bucket, Key=mode, Body=small, **args)
        multipart(s3, bucket, mode + "-mp", big, args, rargs)
        multipart(s3, bucket, mode + "-open", big, args, rargs,
                  complete=False)
        objects += [(bucket, mode, small, rargs),
                    (bucket, mode + "-mp", big, rargs)]
    for bucket, key, data, rargs in objects:
        assert s3.get_object(Bucket=bucket, Key=key,
                             **rargs)["Body"].read() == data

    generated = [kms.generate_data_key(
        KeyId=key_id, KeySpec="AES_256",
        EncryptionContext={"n": str(i)})["Plaintext"] for i in range(3)]
    generated.append(kms.generate_data_key(KeyId=key_id,
                                           NumberOfBytes=64)["Plaintext"])
    return s3, kms, objects, generated


def rows(srv):
    """The object and upload rows with their bodies or parts, and the
    bucket-key rows, read from a snapshot of meta.db."""
    uri = "file:%s?mode=ro" % (srv.data / "meta.db")
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        db.row_factory = sqlite3.Row
        objs = [dict(r) for r in db.execute("SELECT * FROM objects")]
        for o in objs:
            o["bodies"] = [dict(b) for b in db.execute(
                "SELECT blob_id, salt, part_number, size FROM bodies "
                "WHERE object_id=?", (o["id"],))]
        ups = [dict(r) for r in db.execute("SELECT * FROM uploads")]
        for u in ups:
            u["upload_id_for_key"] = u["upload_id"]
            u["bodies"] = [dict(p) for p in db.execute(
                "SELECT blob_id, salt, part_number, size FROM parts "
                "WHERE upload_id=?", (u["upload_id"],))]
        bks = {r["id"]: dict(r) for r in db.execute(
            "SELECT * FROM bucket_keys")}
    return objs, ups, bks


def kms_context(row, arn):
    ctx = json.loads(row["sse_ctx"]) if row["sse_ctx"] else {}
    ctx["aws:s3:arn"] = arn
    return ctx


def object_key(kms, row, bks, bucket, key):
    """The key a row's bodies are derived from, or None for SSE-S3."""
    mode = row["sse_mode"]
    if mode == 1:
        return None
    if mode == 4:
        w = row["sse_wrapped"]
        return AESGCM(SSEC_KEY).decrypt(w[:12], w[12:], ("%s/%s" % (
            bucket, key)).encode())
    if row["sse_bk"]:
        bk = bks[row["sse_bk_id"]]
        return kms.decrypt(CiphertextBlob=bk["blob"], EncryptionContext={
            "aws:s3:arn": "arn:aws:s3:::%s" % bucket})["Plaintext"]
    return kms.decrypt(CiphertextBlob=row["sse_wrapped"],
                       EncryptionContext=kms_context(
                           row, "arn:aws:s3:::%s/%s" % (bucket, key)))[
                                "Plaintext"]


def open_first_segment(srv, blob_id, key, size):
    """Proves `key` is the body's key: AES-GCM opens segment 0."""
    path = srv.data / "blobs" / blob_id[:2] / blob_id[2:4] / blob_id
    raw = path.read_bytes()
    header, n = raw[:20], min(size, SEGMENT)
    last = size <= SEGMENT
    nonce = header[12:20] + struct.pack(">I", 0 | (1 if last else 0))
    AESGCM(key).decrypt(nonce, raw[20:20 + n + TAG], header)


def observed_keys(srv, kms):
    """Every object, bucket and body key the test can recover, each
    checked against a real blob."""
    objs, ups, bks = rows(srv)
    found, body_keys = [], 0
    for row in objs + ups:
        bucket, key = row["bucket"], row["okey"]
        okey = object_key(kms, row, bks, bucket, key)
        if okey is None:
            continue
        assert len(okey) == 32
        found.append(okey)
        upload = row.get("upload_id_for_key", row["upload_id"])
        for b in row["bodies"]:
            bkey = body_key(okey, bucket, key, upload, b["part_number"],
                            b["salt"], row["sse_ctx"])
            open_first_segment(srv, b["blob_id"], bkey, b["size"])
            found.append(bkey)
            body_keys += 1
    assert body_keys >= 6 * 4, "too few body keys recovered"
    return found


def forms(secret):
    """The byte strings a leaked secret could appear as."""
    return {secret, base64.b64encode(secret), secret.hex().encode(),
            secret.hex().upper().encode()}


def leaks(top, needles):
    """{path: [names of needles found]} for every file under top."""
    found = {}
    total = 0
    for path, content in files_under(top):
        total += len(content)
        hits = [name for name, needle in needles if needle in content]
        if hits:
            found[path] = hits
    return found, total


def needles_of(written, keys):
    out = [("marker", MARKER), ("ssec-key", SSEC_KEY),
           ("ssec-key-b64", base64.b64encode(SSEC_KEY))]
    for i, k in enumerate(written[3]):
        out += [("generated-%d" % i, f) for f in forms(k)]
    for i, k in enumerate(keys):
        out += [("key-%d" % i, f) for f in forms(k)]
    return out


def test_nothing_secret_under_data_dir(server, written):
    keys = observed_keys(server, written[1])
    needles = needles_of(written, keys)

    found, total = leaks(server.data, needles)
    assert found == {}
    assert total > 7 * (100000 + 2 * (PART + 70000)), \
        "the data directory holds less than the bodies written"
    assert any(p.endswith("meta.db-wal") for p, _ in
               files_under(server.data)), "no WAL looked at"

    out = server.output_bytes()
    assert [n for n, needle in needles if needle in out] == []


def test_nothing_secret_after_stop(server, written):
    keys = observed_keys(server, written[1])
    server.stop()
    try:
        found, _ = leaks(server.data, needles_of(written, keys))
        assert found == {}
    finally:
        server.start()
