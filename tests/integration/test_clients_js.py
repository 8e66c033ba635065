"""The AWS JavaScript SDK v3 (@aws-sdk/client-s3 and client-kms, pinned in
js/package.json and installed by scripts/deps.sh) against the server over
HTTP and HTTPS.

Each scenario of js/sdk.mjs runs in one node process and prints what it
saw as JSON; the assertions are here. The SDK sends streamed bodies as
aws-chunked with a trailing CRC32, over HTTP too, and asks for
encoding-type=url when listing: both are checked to have happened.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from clients import CLIENT_TIMEOUT, unique_name
from server import REGION

JS_DIR = Path(__file__).resolve().parent / "js"


@pytest.fixture(scope="module")
def node():
    """The node binary, with the SDK installed beside sdk.mjs."""
    found = shutil.which("node")
    if found is None:
        pytest.skip("no node on PATH (scripts/deps.sh installs nodejs)")
    for package in ("client-s3", "client-kms"):
        if not (JS_DIR / "node_modules" / "@aws-sdk" / package).is_dir():
            pytest.fail("the JavaScript SDK is not installed: run "
                        "scripts/deps.sh (npm ci in %s)" % JS_DIR)
    return found


def run_scenario(node, endpoint, scenario, bucket):
    """Runs one scenario of sdk.mjs against endpoint; returns its JSON."""
    env = dict(endpoint.env)
    env["AWS_REGION"] = REGION
    env["NODE_NO_WARNINGS"] = "1"
    if endpoint.ca:
        env["NODE_EXTRA_CA_CERTS"] = str(endpoint.ca)
    res = subprocess.run(
        [node, str(JS_DIR / "sdk.mjs"), scenario, endpoint.url, bucket],
        env=env, cwd=JS_DIR, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=CLIENT_TIMEOUT)
    assert res.returncode == 0, "node %s failed:\n%s" % (scenario,
                                                        res.stderr[-4000:])
    return json.loads(res.stdout)


def test_js_objects(node, endpoint):
    out = run_scenario(node, endpoint, "objects", unique_name("js"))

    buffer_put, stream_put = out["putSent"]
    assert buffer_put["checksum"] == ["x-amz-checksum-crc32"]
    assert stream_put["encoding"] == "aws-chunked"
    assert stream_put["trailer"] == "x-amz-checksum-crc32"
    assert stream_put["sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

    assert out["bigMatches"] and out["smallMatches"] and out["rangeMatches"]
    assert out["putChecksumCRC32"] == out["getChecksumCRC32"]
    assert out["putChecksumCRC32"] is not None
    assert out["getETag"] == out["smallETag"]
    assert out["contentType"] == "text/plain"
    assert out["metadata"] == {"origin": "js"}
    size = 3 * 1024 * 1024 + 17
    assert out["contentRange"] == "bytes %d-%d/%d" % (size - 100, size - 1,
                                                      size)
    assert out["headLength"] == size

    assert out["notModified"]["status"] == 304
    assert out["preconditionFailed"] == {"name": "PreconditionFailed",
                                         "status": 412}
    assert out["missingGet"] == {"name": "NoSuchKey", "status": 404}
    assert out["missingHead"] == {"name": "NotFound", "status": 404}
    assert out["missingBucket"] == {"name": "NotFound", "status": 404}


def test_js_listing_and_delete_objects(node, endpoint):
    out = run_scenario(node, endpoint, "listing", unique_name("js"))
    keys = ["a b/c+d", "a b/e%f", "\u00fcml\u00e4ut/\u65e5\u672c", "plain",
            "x/y/z", "x/\u00e9"]
    assert out["keys"] == sorted(keys, key=lambda k: k.encode())
    assert out["pages"] == 3
    assert out["prefixed"] == ["a b/c+d", "a b/e%f"]
    assert out["foldedKeys"] == ["plain"]
    assert out["foldedPrefixes"] == ["a b/", "x/", "\u00fcml\u00e4ut/"]
    assert sorted(out["deleted"]) == sorted(keys)
    assert out["errors"] == []
    assert out["deleteSent"][0]["checksum"] == ["x-amz-checksum-crc32"]
    assert out["keyCountAfter"] == 0


def test_js_multipart(node, endpoint):
    out = run_scenario(node, endpoint, "multipart", unique_name("js"))
    assert out["partsListed"] == [1, 2]
    assert all(out["partChecksums"])
    assert re.fullmatch(r'"[0-9a-f]{32}-2"', out["etag"])
    assert out["matches"]
    streamed = out["partSent"][0]
    assert streamed["encoding"] == "aws-chunked"
    assert streamed["trailer"] == "x-amz-checksum-crc32"


def test_js_checksum_algorithms(node, endpoint):
    out = run_scenario(node, endpoint, "checksums", unique_name("js"))
    sent = out.pop("sent")
    assert len(out) == 10
    for key, seen in out.items():
        assert seen["matches"], key
        assert seen["put"] and seen["put"] == seen["got"], key
    trailers = sorted(s["trailer"] for s in sent if s["trailer"])
    assert trailers == sorted("x-amz-checksum-" + a.lower() for a in
                              ("CRC32", "CRC32C", "CRC64NVME", "SHA1",
                               "SHA256"))


def test_js_kms_and_sse_kms(node, endpoint):
    out = run_scenario(node, endpoint, "kms", unique_name("js"))
    assert out["decrypted"]
    assert out["decryptKeyId"] == out["keyArn"]
    assert out["wrongContext"] == {"name": "InvalidCiphertextException",
                                   "status": 400}
    assert out["dataKeyLength"] == 32 and out["dataKeyBlob"]
    assert out["keyArn"].endswith("/" + out["describedId"])
    assert out["listed"]
    assert out["missing"] == {"name": "NotFoundException", "status": 400}
    assert out["putSSE"] == "aws:kms" and out["getSSE"] == "aws:kms"
    assert out["putKey"] == out["keyArn"]
    assert out["putBucketKey"] is True
    assert out["getMatches"]

