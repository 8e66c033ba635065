"""What the encryption benchmarks (bench/bucket_keys.py, bench/sse_speed.py)
share: building the server and the tools, starting a coffer server of
their own on 127.0.0.1, driving bench/loadgen, a small SigV4 GET client,
and counting KMS calls in the audit trail.

Everything stays on loopback; servers are stopped by the pid they were
started with.
"""

import collections
import datetime
import glob
import hashlib
import hmac
import http.client
import json
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGION = "us-east-1"
ACCOUNT = "111122223333"
EMPTY_SHA = hashlib.sha256(b"").hexdigest()

# Audit operations that are KMS calls (rulings.md 14).
KMS_CALLS = ("Encrypt", "Decrypt", "GenerateDataKey",
             "GenerateDataKeyWithoutPlaintext", "ReEncrypt")

ACCESS_KEY = "AKIA" + "".join(secrets.choice(string.ascii_uppercase)
                              for _ in range(16))
SECRET_KEY = secrets.token_urlsafe(30)


def say(*args):
    print("bench:", *args, file=sys.stderr, flush=True)


def build(build_dir):
    """Builds the tree into build_dir (set up first if needed); returns
    the paths of coffer, loadgen and limits."""
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        subprocess.run(["meson", "setup", build_dir, REPO], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", build_dir], check=True,
                   stdout=subprocess.DEVNULL)
    tools = (os.path.join(build_dir, "coffer"),
             os.path.join(build_dir, "bench", "loadgen"),
             os.path.join(build_dir, "bench", "limits"))
    for path in tools:
        if not os.access(path, os.X_OK):
            raise SystemExit("bench: %s missing (libcurl4-openssl-dev?)"
                             % path)
    return tools


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `coffer server` on 127.0.0.1 with its own data directory."""

    def __init__(self, binary, workdir, extra=()):
        self.binary = binary
        self.workdir = workdir
        self.data = os.path.join(workdir, "data")
        self.extra = list(extra)
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "COFFER_"))}
        env["COFFER_ROOT_ACCESS_KEY_ID"] = ACCESS_KEY
        env["COFFER_ROOT_SECRET_ACCESS_KEY"] = SECRET_KEY
        argv = [self.binary, "server", "--data", self.data,
                "--listen", "127.0.0.1:%d" % self.port, "--region", REGION,
                "--account-id", ACCOUNT,
                "--access-log", os.path.join(self.workdir, "access.log")]
        with open(os.path.join(self.workdir, "server.err"), "ab") as err:
            self.proc = subprocess.Popen(argv + self.extra, env=env,
                                         stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("bench: server exited at start; see %s"
                                 % os.path.join(self.workdir, "server.err"))
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit("bench: server did not start")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cpu_seconds(self):
        """User + system CPU seconds of the server so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf(
            "SC_CLK_TCK")

    def boto3(self, service):
        import boto3
        from botocore.config import Config
        return boto3.session.Session().client(
            service, endpoint_url=self.url, region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"total_max_attempts": 1}))

    def audit_counts(self):
        """Counter of audit records by operation, so far."""
        counts = collections.Counter()
        for path in glob.glob(os.path.join(self.data, "audit", "*.jsonl")):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.endswith("\n"):
                        counts[json.loads(line)["operation"]] += 1
        return counts


def kms_calls(before, after):
    """KMS calls between two audit_counts snapshots."""
    return sum(after[op] - before[op] for op in KMS_CALLS)


def fields(line):
    """The name=value fields of a loadgen output line."""
    out = {}
    for field in line.split()[1:]:
        name, value = field.split("=")
        try:
            out[name] = float(value)
        except ValueError:
            out[name] = value
    return out


def loadgen(binary, server, op, *args, header=()):
    """Runs loadgen against server; returns the fields of its RESULT line
    (ops, mbps, bytes, errors, secs as numbers) and total_bytes, the body
    bytes of all its runs."""
    argv = [binary, "--endpoint", server.url, "--access-key", ACCESS_KEY,
            "--secret-key", SECRET_KEY]
    for h in header:
        argv += ["--header", h]
    res = subprocess.run(argv + [str(a) for a in args] + [op],
                         capture_output=True, text=True, timeout=1800)
    lines = [l for l in res.stdout.splitlines() if l.startswith("RESULT")]
    if not lines:
        raise SystemExit("bench: loadgen %s failed: %s" % (op, res.stderr))
    out = fields(lines[-1])
    runs = [fields(l) for l in res.stdout.splitlines()
            if l.startswith("run ")]
    out["total_bytes"] = sum(r["bytes"] for r in runs) if runs \
        else out["bytes"]
    if out.get("errors"):
        say("loadgen %s: %d requests failed: %s" % (
            op, out["errors"], res.stderr[-300:]))
    return out


class Getter:
    """Signed GETs over one kept-alive connection (SigV4, header form)."""

    def __init__(self, server):
        self.host = "127.0.0.1:%d" % server.port
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port,
                                               timeout=60)
        self.keys = {}

    def _signing_key(self, date):
        if date not in self.keys:
            k = ("AWS4" + SECRET_KEY).encode()
            for part in (date, REGION, "s3", "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self.keys[date] = k
        return self.keys[date]

    def get(self, path, headers=None):
        """GET path; returns (status, body length)."""
        amz = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y%m%dT%H%M%SZ")
        h = {"host": self.host, "x-amz-content-sha256": EMPTY_SHA,
             "x-amz-date": amz}
        h.update({k.lower(): v for k, v in (headers or {}).items()})
        names = sorted(h)
        canon = "GET\n%s\n\n%s\n%s\n%s" % (
            path, "".join("%s:%s\n" % (n, h[n]) for n in names),
            ";".join(names), EMPTY_SHA)
        scope = "%s/%s/s3/aws4_request" % (amz[:8], REGION)
        sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (
            amz, scope, hashlib.sha256(canon.encode()).hexdigest())
        sig = hmac.new(self._signing_key(amz[:8]), sts.encode(),
                       hashlib.sha256).hexdigest()
        h["authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, "
                              "SignedHeaders=%s, Signature=%s"
                              % (ACCESS_KEY, scope, ";".join(names), sig))
        del h["host"]
        self.conn.request("GET", path, headers=h)
        resp = self.conn.getresponse()
        n = len(resp.read())
        return resp.status, n

    def close(self):
        self.conn.close()


def read_all(server, bucket, prefix, count, size, threads=8):
    """GETs bucket/prefix-0 .. prefix-(count-1) once each on `threads`
    connections; every reply must be a 200 of `size` bytes.  Returns the
    seconds taken."""
    import concurrent.futures

    def worker(start):
        g = Getter(server)
        try:
            for i in range(start, count, threads):
                status, n = g.get("/%s/%s-%d" % (bucket, prefix, i))
                if status != 200 or n != size:
                    raise SystemExit("bench: GET %s-%d: %d, %d bytes"
                                     % (prefix, i, status, n))
        finally:
            g.close()

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return time.monotonic() - t0
