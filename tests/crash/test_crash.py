"""Kill -9 the server in the middle of writes, restart it on the same data
directory, and check that nothing acknowledged was lost or torn.

Each round starts the server, lets several writers run (single PUTs of
various sizes, overwrites, deletes, multipart uploads) and kills it with
SIGKILL at a random moment. Every writer owns its keys and records each
acknowledged operation, so the expected state of every key is known; the
one operation a writer had in flight at the kill may have happened or
not. After the restart every key must read back as its last acknowledged
state, byte for byte (or, for a key with an operation in flight, as the
outcome of that operation), deleted keys must stay deleted, the listing
must agree, tmp/ must be empty and blobs/ must hold exactly the bodies
that the metadata references.

Any body the start-up sweep wrongly removed shows up as a lost object;
test_fresh_orphan_swept_at_restart makes the orphan a PUT killed between
its body and its commit leaves, so that case is checked every run.

Bounded: COFFER_CRASH_ROUNDS rounds (default 20), a few seconds each.
"""

import hashlib
import os
import random
import shutil
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from clients import (ACCESS_KEY, SECRET_KEY, client_env,  # noqa: E402
                     write_aws_files)
from server import (REGION, SANITIZER_MARKS, CofferServer,  # noqa: E402
                    server_env)

boto3 = pytest.importorskip("boto3")
botocore_config = pytest.importorskip("botocore.config")
botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError
TransportError = botocore_exceptions.BotoCoreError

ROUNDS = int(os.environ.get("COFFER_CRASH_ROUNDS", "20"))
WRITERS = 4
KEYS_PER_WRITER = 6
MIB = 1024 * 1024
# Sizes around the 64 KiB encryption segment and beyond.
SIZES = [0, 1, 1000, 65535, 65536, 65537, 300000, 2 * MIB + 3]
PART = 5 * MIB
# The kill comes this long after the writers start.
KILL_AFTER = (0.2, 1.5)
BUCKET = "crash-test"


_session = []


@pytest.fixture(autouse=True)
def test_aws_env(tmp_path_factory):
    """Only the test's own AWS_ variables and files in this process, as
    the integration suite sets them for its clients."""
    files = write_aws_files(tmp_path_factory.mktemp("aws"), ACCESS_KEY,
                            SECRET_KEY)
    mp = pytest.MonkeyPatch()
    for name in list(os.environ):
        if name.startswith("AWS_"):
            mp.delenv(name)
    for name, value in client_env(files, ACCESS_KEY, SECRET_KEY).items():
        if name.startswith("AWS_"):
            mp.setenv(name, value)
    yield
    mp.undo()


def client(url):
    """An S3 client of url that never retries. Made in the main thread
    only: they share one session, which keeps the service model loaded."""
    if not _session:
        _session.append(boto3.session.Session())
    config = botocore_config.Config(connect_timeout=5, read_timeout=60,
                                    retries={"total_max_attempts": 1})
    return _session[0].client(
        "s3", endpoint_url=url, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=config)


def digest(data):
    return hashlib.sha256(data).hexdigest()


class KeyState:
    """What one key must hold: `committed` is the last acknowledged state,
    (size, sha256) or None for absent; `maybe` holds the outcome of an
    operation that was in flight at the kill."""

    def __init__(self, name):
        self.name = name
        self.committed = None
        self.maybe = []

    def allowed(self):
        return [self.committed] + self.maybe


class Writer(threading.Thread):
    """Runs random operations on its own keys until the server goes away.

    An operation whose reply arrived is acknowledged and updates the key
    at once. A transport error (connection refused or cut) ends the writer
    and leaves the operation's outcome as a possibility. Any error reply
    from a live server is a failure, kept in `failures`.
    """

    def __init__(self, url, keys, seed):
        super().__init__(daemon=True)
        self.s3 = client(url)
        self.keys = keys
        self.rng = random.Random(seed)
        self.acked = 0
        self.failures = []

    def run(self):
        while True:
            key = self.rng.choice(self.keys)
            try:
                self.step(key)
            except TransportError:
                return
            except ClientError as e:
                self.failures.append("%s on %s: %s" % (
                    e.operation_name, key.name, e.response.get("Error")))
                return
            self.acked += 1

    def step(self, key):
        roll = self.rng.random()
        if roll < 0.15 and key.committed is not None:
            key.maybe = [None]
            self.s3.delete_object(Bucket=BUCKET, Key=key.name)
            self.settle(key, None)
        elif roll < 0.3:
            self.multipart(key)
        else:
            data = os.urandom(self.rng.choice(SIZES))
            key.maybe = [(len(data), digest(data))]
            self.s3.put_object(Bucket=BUCKET, Key=key.name, Body=data)
            self.settle(key, (len(data), digest(data)))

    def multipart(self, key):
        """Two or three parts; only Complete changes the object."""
        chunks = [os.urandom(PART) for _ in range(self.rng.choice([1, 2]))]
        chunks.append(os.urandom(self.rng.choice(SIZES[1:])))
        upload = self.s3.create_multipart_upload(Bucket=BUCKET,
                                                 Key=key.name)["UploadId"]
        parts = []
        for number, chunk in enumerate(chunks, 1):
            resp = self.s3.upload_part(Bucket=BUCKET, Key=key.name,
                                       UploadId=upload, PartNumber=number,
                                       Body=chunk)
            parts.append({"PartNumber": number, "ETag": resp["ETag"]})
        whole = b"".join(chunks)
        key.maybe = [(len(whole), digest(whole))]
        self.s3.complete_multipart_upload(
            Bucket=BUCKET, Key=key.name, UploadId=upload,
            MultipartUpload={"Parts": parts})
        self.settle(key, (len(whole), digest(whole)))

    @staticmethod
    def settle(key, state):
        key.committed = state
        key.maybe = []


class Crashable:
    """A server on one data directory, started afresh after every kill
    (on a new port: the old one may still be held by dying connections)."""

    def __init__(self, root):
        self.root = root
        self.data = root / "data"
        self.runs = 0
        self.srv = None

    def start(self):
        self.runs += 1
        workdir = self.root / ("run%03d" % self.runs)
        workdir.mkdir()
        self.srv = CofferServer(workdir, server_env(ACCESS_KEY, SECRET_KEY))
        self.srv.data = self.data
        self.srv.start()
        return self.srv.http_url

    def kill(self):
        self.srv.proc.kill()
        self.srv.proc.wait(timeout=30)
        self.check_log()

    def stop(self):
        self.srv.stop()
        self.check_log()

    def check_log(self):
        text = self.srv.stderr_text()
        for mark in SANITIZER_MARKS:
            assert mark not in text, text[-8000:]


def body_ids(data):
    """Every blob id under data/blobs, from the file names."""
    return {p.name for p in (data / "blobs").glob("??/??/*") if p.is_file()}


def referenced_ids(data):
    """Every blob id the metadata points at: object bodies and the parts
    of open uploads."""
    db = sqlite3.connect("file:%s?mode=ro" % (data / "meta.db"), uri=True)
    try:
        rows = db.execute("SELECT blob_id FROM bodies UNION "
                          "SELECT blob_id FROM parts").fetchall()
    finally:
        db.close()
    return {r[0] for r in rows}


def observe(s3, key):
    """(size, sha256) of what the key holds now, or None."""
    try:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchKey", e.response
        return None
    return len(body), digest(body)


def check_store(url, data, keys):
    """The checks after a restart; settles every key to what it holds."""
    leftovers = sorted(p.name for p in (data / "tmp").iterdir())
    assert leftovers == [], "tmp/ not emptied at start: %s" % leftovers
    files, refs = body_ids(data), referenced_ids(data)
    assert files - refs == set(), "bodies nothing references"
    assert refs - files == set(), "references to missing bodies"

    s3 = client(url)
    for key in keys:
        seen = observe(s3, key.name)
        assert seen in key.allowed(), (
            "%s holds %s; acknowledged %s, in flight %s"
            % (key.name, seen, key.committed, key.maybe))
        key.committed, key.maybe = seen, []

    listed = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for c in page.get("Contents", []):
            listed[c["Key"]] = c["Size"]
    want = {k.name: k.committed[0] for k in keys if k.committed}
    assert listed == want


def test_kill_during_writes(tmp_path):
    server = Crashable(tmp_path)
    url = server.start()
    client(url).create_bucket(Bucket=BUCKET)
    keys = [KeyState("w%d/k%d%s" % (w, k, " +\u00e9" if k % 2 else ""))
            for w in range(WRITERS) for k in range(KEYS_PER_WRITER)]
    rng = random.Random(os.urandom(8))
    acked = ambiguous = 0

    for round_ in range(ROUNDS):
        writers = [Writer(url, keys[w::WRITERS], rng.random())
                   for w in range(WRITERS)]
        for w in writers:
            w.start()
        time.sleep(rng.uniform(*KILL_AFTER))
        server.kill()
        for w in writers:
            w.join(timeout=60)
            assert not w.is_alive(), "a writer hung after the kill"
            assert w.failures == [], w.failures
            acked += w.acked
        ambiguous += sum(1 for k in keys if k.maybe)

        url = server.start()
        check_store(url, server.data, keys)

    server.stop()
    print("%d rounds, %d acknowledged operations, %d in flight at a kill"
          % (ROUNDS, acked, ambiguous))
    assert acked > ROUNDS


def test_fresh_orphan_swept_at_restart(tmp_path):
    server = Crashable(tmp_path)
    url = server.start()
    s3 = client(url)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="kept", Body=b"kept body")
    server.kill()

    # A body committed to blobs/ whose metadata row never came: a copy of
    # a real body under a new id, as a PUT killed at that moment leaves.
    (real,) = body_ids(server.data)
    orphan = os.urandom(16).hex()
    path = server.data / "blobs" / orphan[:2] / orphan[2:4] / orphan
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(server.data / "blobs" / real[:2] / real[2:4] / real,
                    path)

    url = server.start()
    try:
        assert observe(client(url), "kept") == (9, digest(b"kept body"))
        assert body_ids(server.data) == {real}
    finally:
        server.stop()
