#!/usr/bin/env python3
"""What encryption costs: PUT and GET throughput of 4 KiB, 1 MiB and 64 MiB
objects under SSE-S3, SSE-KMS without and with a bucket key, and SSE-C,
beside this machine's loopback TCP stream rate and AES-256-GCM speed,
all measured in one run.

    python3 bench/sse_speed.py            # 3 runs of 5 s per figure
    python3 bench/sse_speed.py --quick    # 1 run of 1.5 s per figure
    options: --seconds S --runs N --concurrency C --sizes 4k,1m,64m
             --modes sse-s3,sse-kms,bucket-key,sse-c
             --build DIR (default build-bench) --keep

It starts a coffer server of its own on 127.0.0.1 (fresh data directory,
--allow-plain-ssec so that SSE-C runs over the same plain HTTP as the
others: TLS is not what is measured here) and drives it with
bench/loadgen: C kept-alive connections (default 1: single-stream), PUTs
of fresh keys for --seconds, then GETs of objects written beforehand,
each figure the median of --runs runs; the modes take turns run by run,
so that the machine's other load falls on all of them alike. SSE-S3, SSE-KMS and bucket-key
objects get their mode from their bucket's default rule (no request
headers); SSE-C requests carry the customer-key trio.

Machine figures, in the same run: `bench/limits tcp` (one loopback TCP
stream, MB/s) and `openssl speed -evp aes-256-gcm` on 16 KiB blocks (one
core, MB/s). The server's CPU seconds per GiB moved are shown for the
64 MiB transfers.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sse_common import REPO, Server, build, loadgen, say  # noqa: E402

MODES = ["sse-s3", "sse-kms", "bucket-key", "sse-c"]
SIZES = {"4k": 4096, "1m": 1 << 20, "64m": 64 << 20}
SSEC = ["x-amz-server-side-encryption-customer-algorithm:AES256",
        "x-amz-server-side-encryption-customer-key:"
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "x-amz-server-side-encryption-customer-key-md5:"
        "hRasmdxgYDKV3nvbahU1MA=="]
FILL = {"4k": 200, "1m": 32, "64m": 2}


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seconds", type=float)
    p.add_argument("--runs", type=int)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--sizes", default="4k,1m,64m")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--build", default=os.environ.get(
        "BENCH_BUILD", os.path.join(REPO, "build-bench")))
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    a.seconds = a.seconds or (1.5 if a.quick else 5)
    a.runs = a.runs or (1 if a.quick else 3)
    a.sizes = a.sizes.split(",")
    a.modes = a.modes.split(",")
    return a


def machine(limits, seconds):
    """(loopback TCP MB/s, AES-256-GCM MB/s on one core)."""
    out = subprocess.run([limits, "tcp", str(max(1, int(seconds)))],
                         capture_output=True, text=True).stdout
    tcp = float(re.search(r"tcp_stream=([0-9.]+)", out).group(1))
    out = subprocess.run(["openssl", "speed", "-evp", "aes-256-gcm",
                          "-bytes", "16384", "-seconds",
                          str(max(1, int(seconds)))],
                         capture_output=True, text=True).stdout
    # The last line: "AES-256-GCM  <kB/s for 16384-byte blocks>k".
    last = [l for l in out.splitlines() if l.lower().startswith("aes")][-1]
    gcm = float(last.split()[-1].rstrip("k")) * 1000 / 1e6
    return tcp, gcm


def setup(srv):
    """A key and one bucket per mode; returns {mode: bucket}."""
    s3, kms = srv.boto3("s3"), srv.boto3("kms")
    key_id = kms.create_key(Description="sse speed bench")[
        "KeyMetadata"]["KeyId"]
    buckets = {}
    for mode in MODES:
        bucket = "speed-" + mode
        s3.create_bucket(Bucket=bucket)
        if mode in ("sse-kms", "bucket-key"):
            s3.put_bucket_encryption(
                Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_id},
                    "BucketKeyEnabled": mode == "bucket-key"}]})
        buckets[mode] = bucket
    return buckets


def one_run(a, lg, srv, bucket, mode, size_name, run):
    """One timed PUT run and one timed GET run, with the server's CPU
    seconds spent in each."""
    size = SIZES[size_name]
    header = SSEC if mode == "sse-c" else ()
    # A 64 MiB transfer takes a good part of a second: run longer so
    # each run holds several.
    secs = max(a.seconds, 3) if size >= (64 << 20) else a.seconds
    common = ["--bucket", bucket, "--size", size, "--concurrency",
              a.concurrency, "--seconds", secs, "--runs", 1]
    cpu0 = srv.cpu_seconds()
    put = loadgen(lg, srv, "put", "--prefix", "p%s-%d" % (size_name, run),
                  *common, header=header)
    cpu1 = srv.cpu_seconds()
    get = loadgen(lg, srv, "get", "--prefix", "g" + size_name, "--objects",
                  FILL[size_name], *common, header=header)
    put["cpu"], get["cpu"] = cpu1 - cpu0, srv.cpu_seconds() - cpu1
    return put, get


def median(results):
    return sorted(results, key=lambda r: r["ops"])[len(results) // 2]


def measure(a, lg, srv, buckets, size_name):
    """{mode: (PUT, GET)} for one size, each the median run.  The modes
    take turns run by run, so that a change in the machine's other load
    falls on all of them alike."""
    for mode in a.modes:
        loadgen(lg, srv, "fill", "--prefix", "g" + size_name, "--objects",
                FILL[size_name], "--bucket", buckets[mode], "--size",
                SIZES[size_name], "--concurrency", 1,
                header=SSEC if mode == "sse-c" else ())
    runs = {mode: ([], []) for mode in a.modes}
    for run in range(a.runs):
        for mode in a.modes:
            say("%s %s, run %d" % (mode, size_name, run + 1))
            put, get = one_run(a, lg, srv, buckets[mode], mode, size_name,
                               run)
            runs[mode][0].append(put)
            runs[mode][1].append(get)
    return {mode: (median(p), median(g)) for mode, (p, g) in runs.items()}


def main():
    a = parse()
    coffer, lg, limits = build(a.build)
    work = tempfile.mkdtemp(prefix="coffer-sse-speed.")
    srv = Server(coffer, work, ["--allow-plain-ssec"])
    res = {}
    try:
        say("machine: loopback TCP stream and AES-256-GCM")
        tcp, gcm = machine(limits, a.seconds)
        srv.start()
        buckets = setup(srv)
        for size_name in a.sizes:
            for mode, pair in measure(a, lg, srv, buckets,
                                      size_name).items():
                res[mode, size_name] = pair
        say("machine again")
        tcp2, gcm2 = machine(limits, a.seconds)
    finally:
        srv.stop()
        if a.keep:
            say("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(a, res, (tcp + tcp2) / 2, (gcm + gcm2) / 2, (tcp, tcp2))


def report(a, res, tcp, gcm, tcps):
    print("SSE throughput, %d connection(s), median of %d run(s) of %.1f s"
          % (a.concurrency, a.runs, a.seconds))
    print("machine: loopback TCP stream %.0f MB/s (%.0f before, %.0f "
          "after), AES-256-GCM %.0f MB/s on one core" % (tcp, tcps[0],
                                                         tcps[1], gcm))
    print()
    print("%-6s %-11s %10s %9s %10s %9s %9s %9s" % (
        "size", "mode", "PUT op/s", "PUT MB/s", "GET op/s", "GET MB/s",
        "PUT s/GiB", "GET s/GiB"))
    for size_name in a.sizes:
        for mode in a.modes:
            put, get = res[mode, size_name]
            print("%-6s %-11s %10.1f %9.1f %10.1f %9.1f %9s %9s" % (
                size_name, mode, put["ops"], put["mbps"], get["ops"],
                get["mbps"], cpu_per_gib(put), cpu_per_gib(get)))
    print()
    print("ratios")
    for size_name in a.sizes:
        base = res.get(("sse-s3", size_name))
        for mode in ("sse-kms", "bucket-key", "sse-c"):
            if base and (mode, size_name) in res:
                put, get = res[mode, size_name]
                print("  %-4s %-10s / sse-s3: PUT %.2f  GET %.2f" % (
                    size_name, mode, put["ops"] / base[0]["ops"],
                    get["ops"] / base[1]["ops"]))
    for size_name in a.sizes:
        if SIZES[size_name] < (1 << 20):
            continue
        for mode in a.modes:
            get = res[mode, size_name][1]
            print("  %-4s %-10s GET / loopback TCP %.2f, / AES-GCM %.2f"
                  % (size_name, mode, get["mbps"] / tcp, get["mbps"] / gcm))


def cpu_per_gib(r):
    moved = r["total_bytes"] / (1 << 30)
    if moved < 0.1:
        return "-"
    return "%.2f" % (r["cpu"] / moved)


if __name__ == "__main__":
    main()
