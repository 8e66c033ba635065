#!/usr/bin/env python3
"""S3 Bucket Keys, counted: KMS calls per 1,000 objects with and without
a bucket key, and the encrypted throughput of both, in one run.

    python3 bench/bucket_keys.py            # 10,000 objects per bucket
    python3 bench/bucket_keys.py --quick    # 500 objects, short runs
    options: --objects N --size BYTES --concurrency C --seconds S
             --runs N --build DIR (default build-bench) --keep

It starts a coffer server of its own on 127.0.0.1 with a fresh data
directory and makes one KMS key and three buckets whose default rule is
SSE-KMS under that key with BucketKeyEnabled false ("without"), SSE-KMS
with BucketKeyEnabled true ("with"), and plain SSE-S3 for reference.
Then, for each bucket:

1. upload N objects (bench/loadgen fill, C connections; no SSE headers,
   so the bucket rule decides);
2. read every one of them back once (signed GETs on C connections; each
   reply checked for status 200 and size);
3. after a restart of the server (empty caches), read them all back
   again;
4. time PUTs of fresh objects and GETs of the N objects with loadgen
   (median of --runs runs of --seconds each) for the throughput.

A KMS call is one audit record of Encrypt, Decrypt, GenerateDataKey*
or ReEncrypt (rulings.md 14), counted in DATA/audit/ before and after
each phase; the authorizations made before a cached bucket key is reused
are counted apart ("Authorize"), as they are no KMS call.
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sse_common import (REPO, Server, build, kms_calls, loadgen,  # noqa
                        read_all, say)

VARIANTS = [("without", "aws:kms", False), ("with", "aws:kms", True),
            ("sse-s3", "AES256", False)]


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--objects", type=int)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--seconds", type=float)
    p.add_argument("--runs", type=int)
    p.add_argument("--build", default=os.environ.get(
        "BENCH_BUILD", os.path.join(REPO, "build-bench")))
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    a.objects = a.objects or (500 if a.quick else 10000)
    a.seconds = a.seconds or (1.5 if a.quick else 5)
    a.runs = a.runs or (1 if a.quick else 3)
    return a


def setup(srv):
    """One KMS key and the three buckets; returns {variant: bucket}."""
    s3, kms = srv.boto3("s3"), srv.boto3("kms")
    key_id = kms.create_key(Description="bucket key bench")[
        "KeyMetadata"]["KeyId"]
    buckets = {}
    for name, alg, bk in VARIANTS:
        bucket = "bk-" + name
        s3.create_bucket(Bucket=bucket)
        default = {"SSEAlgorithm": alg}
        if alg != "AES256":
            default["KMSMasterKeyID"] = key_id
        s3.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
                "ApplyServerSideEncryptionByDefault": default,
                "BucketKeyEnabled": bk}]})
        buckets[name] = bucket
    return buckets


class Phase:
    """Counts what one phase cost: KMS calls and authorizations."""

    def __init__(self, srv):
        self.srv = srv

    def __enter__(self):
        self.before = self.srv.audit_counts()
        return self

    def __exit__(self, *exc):
        after = self.srv.audit_counts()
        self.calls = kms_calls(self.before, after)
        self.authorize = after["Authorize"] - self.before["Authorize"]


def per_k(calls, objects):
    return 1000.0 * calls / objects


def main():
    a = parse()
    coffer, lg, _ = build(a.build)
    work = tempfile.mkdtemp(prefix="coffer-bucket-keys.")
    srv = Server(coffer, work)
    rows, speed = {}, {}
    try:
        srv.start()
        buckets = setup(srv)
        common = ["--concurrency", a.concurrency, "--size", a.size]

        for name, _, _ in VARIANTS:
            b = buckets[name]
            say("%s: upload %d objects" % (name, a.objects))
            with Phase(srv) as put:
                r = loadgen(lg, srv, "fill", "--bucket", b, "--prefix",
                            "obj", "--objects", a.objects, *common)
            say("%s: read them back" % name)
            with Phase(srv) as get:
                secs = read_all(srv, b, "obj", a.objects, a.size,
                                a.concurrency)
            rows[name] = {"put": put, "get": get, "put_ops": r["ops"],
                          "get_ops": a.objects / secs}

        say("restart the server, read everything back again")
        srv.stop()
        srv.start()
        for name, _, _ in VARIANTS:
            with Phase(srv) as again:
                read_all(srv, buckets[name], "obj", a.objects, a.size,
                         a.concurrency)
            rows[name]["again"] = again

        for name, _, _ in VARIANTS:
            b = buckets[name]
            say("%s: timed PUT and GET" % name)
            with Phase(srv) as tp:
                p = loadgen(lg, srv, "put", "--bucket", b, "--prefix",
                            "timed", "--seconds", a.seconds, "--runs",
                            a.runs, *common)
            with Phase(srv) as tg:
                g = loadgen(lg, srv, "get", "--bucket", b, "--prefix",
                            "obj", "--objects", a.objects, "--seconds",
                            a.seconds, "--runs", a.runs, *common)
            speed[name] = (p, g, tp, tg)
    finally:
        srv.stop()
        if a.keep:
            say("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(a, rows, speed)


def report(a, rows, speed):
    n = a.objects
    print("S3 Bucket Keys: %d objects of %d bytes per bucket, %d "
          "connections" % (n, a.size, a.concurrency))
    print()
    print("KMS calls (audit records of Encrypt, Decrypt, GenerateDataKey*,"
          " ReEncrypt)")
    print("%-9s %-22s %9s %14s %10s" % ("bucket", "phase", "calls",
                                        "per 1,000 obj", "authorize"))
    for name, _, _ in VARIANTS:
        r = rows[name]
        for label, key in (("upload", "put"), ("read back", "get"),
                           ("read after restart", "again")):
            ph = r[key]
            print("%-9s %-22s %9d %14.2f %10d" % (
                name, label, ph.calls, per_k(ph.calls, n), ph.authorize))
        total = r["put"].calls + r["get"].calls
        print("%-9s %-22s %9d %14.2f" % (name, "upload + read back",
                                         total, per_k(total, n)))
    off = rows["without"]["put"].calls + rows["without"]["get"].calls
    on = rows["with"]["put"].calls + rows["with"]["get"].calls
    print()
    print("KMS calls per 1,000 objects written and read: without bucket "
          "keys %.2f, with %.2f (%s)" % (
              per_k(off, n), per_k(on, n),
              "%.0fx fewer" % (off / on) if on else "none at all"))

    print()
    print("Throughput (loadgen, median of %d run(s) of %.1f s, %d "
          "connections)" % (a.runs, a.seconds, a.concurrency))
    print("%-9s %12s %10s %12s %10s %16s" % (
        "bucket", "PUT obj/s", "PUT MB/s", "GET obj/s", "GET MB/s",
        "KMS calls/1k op"))
    for name, _, _ in VARIANTS:
        p, g, tp, tg = speed[name]
        ops = (p["total_bytes"] + g["total_bytes"]) / a.size
        print("%-9s %12.1f %10.2f %12.1f %10.2f %16.2f" % (
            name, p["ops"], p["mbps"], g["ops"], g["mbps"],
            per_k(tp.calls + tg.calls, ops) if ops else 0))
    w, wo, s3 = speed["with"], speed["without"], speed["sse-s3"]
    print()
    print("with / without bucket keys: PUT %.2f, GET %.2f" % (
        w[0]["ops"] / wo[0]["ops"], w[1]["ops"] / wo[1]["ops"]))
    print("with bucket keys / SSE-S3:  PUT %.2f, GET %.2f" % (
        w[0]["ops"] / s3[0]["ops"], w[1]["ops"] / s3[1]["ops"]))
    print("(upload rate of the counted phase: without %.1f, with %.1f "
          "obj/s)" % (rows["without"]["put_ops"], rows["with"]["put_ops"]))


if __name__ == "__main__":
    main()
