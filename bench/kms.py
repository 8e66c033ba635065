#!/usr/bin/env python3
"""KMS throughput: GenerateDataKey and Decrypt operations per second at
concurrency 1 and 8, measured side by side in one run.

By default it starts its own `coffer server` on 127.0.0.1 with a fresh
data directory; --endpoint measures a server that is already running
(loopback only) with the credentials in AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY.  Each client is its own process with its own
boto3 client and kept-alive connection, in a closed loop: it sends its
next call as soon as the last one is answered.  Every call is a real KMS
call, so each one also appends and fsyncs an audit record.

    python3 bench/kms.py                # 10 s per measurement
    python3 bench/kms.py --quick        # 2 s per measurement
    python3 bench/kms.py --bin build-asan/coffer
    python3 bench/kms.py --endpoint http://127.0.0.1:9000
"""

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" /
                       "integration"))
from server import REGION, CofferServer, server_env  # noqa: E402

CONTEXT = {"aws:s3:arn": "arn:aws:s3:::bench-bucket/object"}


def client(endpoint, access, secret):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "kms", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id=access, aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1},
                      max_pool_connections=1))


def warm():
    """Pool initializer: import boto3 before any clock starts."""
    import boto3  # noqa: F401


def worker(args):
    """One closed-loop client; returns (calls per second, errors), its
    rate taken over the part of the window it was really running."""
    endpoint, access, secret, op, key, blob, start, seconds = args
    kms = client(endpoint, access, secret)
    while time.time() < start:
        time.sleep(0.001)
    began, end = time.time(), start + seconds
    calls = errors = 0
    while time.time() < end:
        try:
            if op == "GenerateDataKey":
                kms.generate_data_key(KeyId=key, KeySpec="AES_256",
                                      EncryptionContext=CONTEXT)
            else:
                kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)
        except Exception:
            errors += 1
        calls += 1
    return calls / max(time.time() - began, 1e-9), errors


def measure(pool, endpoint, creds, op, key, blob, conc, seconds):
    start = time.time() + 2.0       # every client set up before the clock
    jobs = [(endpoint, creds[0], creds[1], op, key, blob, start, seconds)
            ] * conc
    results = pool.map(worker, jobs)
    return sum(r[0] for r in results), sum(r[1] for r in results)


def loopback(url):
    host = urllib.parse.urlsplit(url).hostname
    return host in ("localhost", "::1") or host.startswith("127.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="2 s per measurement instead of 10")
    ap.add_argument("--seconds", type=float, help="seconds per measurement")
    ap.add_argument("--bin", default=None, help="server binary to start")
    ap.add_argument("--endpoint", help="measure this running server")
    args = ap.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 10.0)

    srv = None
    if args.endpoint:
        if not loopback(args.endpoint):
            sys.exit("kms.py: only loopback endpoints are measured")
        endpoint = args.endpoint
        creds = (os.environ["AWS_ACCESS_KEY_ID"],
                 os.environ["AWS_SECRET_ACCESS_KEY"])
    else:
        if args.bin:
            os.environ["COFFER_BIN"] = str(Path(args.bin).resolve())
        creds = ("AKIABENCHKMSBENCHKMS", os.urandom(15).hex())
        srv = CofferServer(tempfile.mkdtemp(prefix="coffer-bench-kms-"),
                           server_env(*creds))
        srv.start()
        endpoint = srv.http_url

    try:
        kms = client(endpoint, *creds)
        key = kms.create_key(Description="bench")["KeyMetadata"]["KeyId"]
        blob = kms.generate_data_key(KeyId=key, KeySpec="AES_256",
                                     EncryptionContext=CONTEXT
                                     )["CiphertextBlob"]
        rows = {}
        with multiprocessing.Pool(8, initializer=warm) as pool:
            for op in ("GenerateDataKey", "Decrypt"):
                for conc in (1, 8):
                    rate, errors = measure(pool, endpoint, creds, op, key,
                                           blob, conc, seconds)
                    rows[op, conc] = rate
                    print("%-16s concurrency %d: %8.1f ops/s  errors %d"
                          % (op, conc, rate, errors), flush=True)
    finally:
        if srv is not None:
            srv.stop()

    print("\n| operation | concurrency 1 | concurrency 8 | 8 / 1 |")
    print("| --- | --- | --- | --- |")
    for op in ("GenerateDataKey", "Decrypt"):
        one, eight = rows[op, 1], rows[op, 8]
        print("| %s | %.0f ops/s | %.0f ops/s | %.2f |"
              % (op, one, eight, eight / one if one else 0))
    print("\nDecrypt / GenerateDataKey at concurrency 1: %.2f, at 8: %.2f"
          % (rows["Decrypt", 1] / rows["GenerateDataKey", 1],
             rows["Decrypt", 8] / rows["GenerateDataKey", 8]))
    print("load average during the run: %.1f" % os.getloadavg()[0])


if __name__ == "__main__":
    main()
