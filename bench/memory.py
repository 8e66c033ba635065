#!/usr/bin/env python3
"""Memory benchmark: does the server's resident memory stay flat while a
huge object streams in and out? Not a test; it prints numbers.

usage: bench/memory.py [--quick] [--size MIB] [--kms] [--bin PATH]

Starts its own `coffer server` on 127.0.0.1 with a fresh data directory in
a temp dir, then, side by side in one run, PUTs and GETs a small object
(16 MiB) and a big one (5 GiB, the largest single PUT; 256 MiB with
--quick). Bodies are generated on the fly, never read from a file: the PUT
streams them with Content-Length and an UNSIGNED-PAYLOAD SigV4 signature,
the GET reads the reply in 1 MiB pieces, and the SHA-256 of what came back
must equal what was sent. Meanwhile a sampler reads the server's
/proc/PID/status every 20 ms. Peak RSS is VmHWM, reset before each
transfer through /proc/PID/clear_refs (the sampled VmRSS maximum is shown
too, should the reset be refused). Prints, per transfer, peak RSS and
MB/s, then the ratio of the big object's peaks to the small one's: about
1 when memory does not grow with size. The target is a peak under 64 MiB.

--kms stores both objects under SSE-KMS with a bucket key instead of the
default SSE-S3. The server binary is --bin, else COFFER_BIN, else
build/coffer. The temp dir (and its 5 GiB body) is removed at the end.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from server import REGION, CofferServer, server_env  # noqa: E402

MIB = 1024 * 1024
SMALL = 16 * MIB
FULL = 5 * 1024 * MIB
QUICK = 256 * MIB
TARGET_MIB = 64
ACCESS_KEY = "AKIAMEMORYBENCH00001"
SECRET_KEY = "memory+bench/secret/key/for/loopback/1234"
BUCKET = "memory-bench"


def body_pieces(size):
    """size bytes in 1 MiB pieces: one random MiB, each copy stamped with
    its index so that a misplaced piece changes the hash."""
    base = bytearray(os.urandom(MIB))
    index = 0
    left = size
    while left > 0:
        base[:8] = index.to_bytes(8, "big")
        n = min(left, MIB)
        yield bytes(base[:n])
        left -= n
        index += 1


class Sampler(threading.Thread):
    """Reads VmRSS and VmHWM of pid every 20 ms until stopped."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.max_rss_kib = 0
        self.halt = threading.Event()

    def status(self):
        """{'VmRSS': kib, 'VmHWM': kib} from /proc/PID/status."""
        found = {}
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    found[name] = int(value.split()[0])
        return found

    def reset(self):
        """Restarts both peaks; False if the kernel refused the reset."""
        self.max_rss_kib = self.status()["VmRSS"]
        try:
            with open("/proc/%d/clear_refs" % self.pid, "w") as f:
                f.write("5")
        except OSError:
            return False
        return True

    def run(self):
        while not self.halt.wait(0.02):
            rss = self.status().get("VmRSS")
            if rss is None:
                return          # the server has exited
            self.max_rss_kib = max(self.max_rss_kib, rss)


class Signer:
    """SigV4 headers for one request, through botocore's plain signer,
    which signs the X-Amz-Content-SHA256 header it is given (the S3 one
    would hash the body itself)."""

    def headers(self, method, url, headers, service="s3"):
        auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), service,
                         REGION)
        request = AWSRequest(method=method, url=url, headers=headers)
        auth.add_auth(request)
        return dict(request.headers.items())


class Client:
    """Just enough S3 over one http.client connection per request."""

    def __init__(self, base_url):
        self.base = base_url
        self.netloc = urllib.parse.urlsplit(base_url).netloc
        self.signer = Signer()

    def request(self, method, path, headers=None, body=None, size=0,
                service="s3", payload_hash="UNSIGNED-PAYLOAD"):
        """Sends one request; body is None or an iterable of pieces of
        `size` bytes in all, signed as payload_hash. Returns the open
        response."""
        headers = dict(headers or {})
        headers["X-Amz-Content-SHA256"] = payload_hash
        headers["Content-Length"] = str(size)
        signed = self.signer.headers(method, self.base + path, headers,
                                     service)
        conn = http.client.HTTPConnection(self.netloc, timeout=600)
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in signed.items():
            conn.putheader(name, value)
        conn.endheaders()
        for piece in body or ():
            conn.send(piece)
        return conn.getresponse()

    def call(self, method, path, headers=None, data=b"", service="s3"):
        """A small request that must succeed; returns the reply body."""
        resp = self.request(method, path, headers, [data], len(data),
                            service, hashlib.sha256(data).hexdigest())
        text = resp.read()
        if resp.status >= 300:
            sys.exit("%s %s: %d %s" % (method, path, resp.status, text))
        return text


def kms_setup(client):
    """A KMS key and a bucket rule that uses it with a bucket key."""
    body = json.dumps({"Description": "memory bench"}).encode()
    reply = client.call("POST", "/", {
        "X-Amz-Target": "TrentService.CreateKey",
        "Content-Type": "application/x-amz-json-1.1"}, body, "kms")
    key_id = json.loads(reply)["KeyMetadata"]["KeyId"]
    rule = ("<ServerSideEncryptionConfiguration><Rule>"
            "<ApplyServerSideEncryptionByDefault>"
            "<SSEAlgorithm>aws:kms</SSEAlgorithm>"
            "<KMSMasterKeyID>%s</KMSMasterKeyID>"
            "</ApplyServerSideEncryptionByDefault>"
            "<BucketKeyEnabled>true</BucketKeyEnabled>"
            "</Rule></ServerSideEncryptionConfiguration>" % key_id).encode()
    md5 = base64.b64encode(hashlib.md5(rule).digest()).decode()
    client.call("PUT", "/%s?encryption" % BUCKET, {"Content-MD5": md5},
                rule)


def transfer(client, sampler, key, size):
    """PUT then GET one object; returns [(name, seconds, peak kib), ...]."""
    results = []
    path = "/%s/%s" % (BUCKET, key)

    sampler.reset()
    sent = hashlib.sha256()
    started = time.monotonic()

    def pieces():
        for piece in body_pieces(size):
            sent.update(piece)
            yield piece

    resp = client.request("PUT", path, body=pieces(), size=size)
    reply = resp.read()
    if resp.status != 200:
        sys.exit("PUT %s: %d %s" % (key, resp.status, reply))
    results.append(("PUT", time.monotonic() - started, peak(sampler)))

    sampler.reset()
    got = hashlib.sha256()
    received = 0
    started = time.monotonic()
    resp = client.request("GET", path,
                          payload_hash=hashlib.sha256(b"").hexdigest())
    if resp.status != 200:
        sys.exit("GET %s: %d %s" % (key, resp.status, resp.read()))
    while True:
        piece = resp.read(MIB)
        if not piece:
            break
        got.update(piece)
        received += len(piece)
    results.append(("GET", time.monotonic() - started, peak(sampler)))

    if received != size or got.digest() != sent.digest():
        sys.exit("GET %s: %d bytes back, %s" % (
            key, received, "same hash" if got.digest() == sent.digest()
            else "different hash"))
    client.call("DELETE", path)
    return results


def peak(sampler):
    """The larger of VmHWM and the sampled VmRSS maximum, in KiB."""
    return max(sampler.status()["VmHWM"], sampler.max_rss_kib)


def report(label, size, results):
    for name, seconds, kib in results:
        print("%-4s %-6s %10.0f MiB  %8.1f MB/s  peak RSS %7.1f MiB"
              % (name, label, size / MIB, size / 1e6 / seconds, kib / 1024))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a 256 MiB big object instead of 5 GiB")
    parser.add_argument("--size", type=int, metavar="MIB",
                        help="big object size in MiB (at most 5120)")
    parser.add_argument("--kms", action="store_true",
                        help="SSE-KMS with a bucket key instead of SSE-S3")
    parser.add_argument("--bin", help="the coffer binary")
    args = parser.parse_args()
    big = args.size * MIB if args.size else QUICK if args.quick else FULL
    if args.bin:
        os.environ["COFFER_BIN"] = os.path.abspath(args.bin)

    with tempfile.TemporaryDirectory(prefix="coffer-memory-") as work:
        srv = CofferServer(work, server_env(ACCESS_KEY, SECRET_KEY))
        srv.start()
        try:
            run(srv, big, args.kms)
        finally:
            srv.stop()


def run(srv, big, kms):
    client = Client(srv.http_url)
    client.call("PUT", "/" + BUCKET)
    if kms:
        kms_setup(client)
    sampler = Sampler(srv.proc.pid)
    idle = sampler.status()["VmRSS"]
    sampler.start()
    print("server pid %d, %s, idle RSS %.1f MiB"
          % (srv.proc.pid, "SSE-KMS with a bucket key" if kms else "SSE-S3",
             idle / 1024))

    small = transfer(client, sampler, "small", SMALL)
    report("small", SMALL, small)
    large = transfer(client, sampler, "big", big)
    report("big", big, large)
    sampler.halt.set()

    for (name, _, s_kib), (_, _, b_kib) in zip(small, large):
        print("%s peak RSS big/small: %.2f (%.1f / %.1f MiB)"
              % (name, b_kib / s_kib, b_kib / 1024, s_kib / 1024))
    worst = max(kib for _, _, kib in small + large) / 1024
    print("highest peak %.1f MiB: %s the %d MiB target"
          % (worst, "within" if worst < TARGET_MIB else "OVER", TARGET_MIB))


if __name__ == "__main__":
    main()
