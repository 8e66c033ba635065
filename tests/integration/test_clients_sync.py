"""s3cmd and rclone (Debian packages), and the aws CLI v1 and v2, each sync
a small tree up to the server, sync again and transfer nothing, then sync
it back down; the copy must equal the original byte for byte.

The tree has nested folders, unicode names, spaces and '+' in names, an
empty file and a 12 MiB file that s3cmd and rclone send in 5 MiB parts,
the CLI in 8 MiB ones. s3cmd and rclone get their own config files in a
temp dir, pointed at the server on loopback with the test credentials and
path-style addressing, so neither reaches any other address. What
"transferred nothing" means is read from the server's own access log: no
write operation during the second sync.
"""

import filecmp
import os
import re
import shutil
import subprocess

import pytest

from clients import ACCESS_KEY, CLIENT_TIMEOUT, SECRET_KEY, unique_name
from server import REGION

MIB = 1024 * 1024

TREE = {
    "top.txt": b"top level\n",
    "empty.txt": b"",
    "nested/deep/deeper/leaf.txt": b"a leaf\n",
    "nested/sibling.txt": b"sibling\n" * 100,
    "spaces in name/a file with spaces.txt": b"spaces\n",
    "plus+sign/c+d.txt": b"plus\n",
    "\u00fcn\u00efc\u00f6d\u00e9/\u65e5\u672c\u8a9e \u00e9t\u00e9.txt":
        "unicode \u2713\n".encode(),
}
BIG = "nested/big.bin"
BIG_SIZE = 12 * MIB + 3

# Access-log operations that write; none may appear in a no-op sync.
WRITES = re.compile(r" s3\.(PutObject|UploadPart|CreateMultipartUpload|"
                    r"CompleteMultipartUpload|CopyObject|DeleteObjects?) ")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """The source tree on disk."""
    root = tmp_path_factory.mktemp("tree") / "src"
    for name, data in TREE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / BIG).write_bytes(os.urandom(BIG_SIZE))
    return root


def files_under(root):
    """Relative paths of every file under root, sorted."""
    found = []
    for directory, _, names in os.walk(root):
        for name in names:
            found.append(os.path.relpath(os.path.join(directory, name), root))
    return sorted(found)


def assert_same_tree(a, b):
    assert files_under(a) == files_under(b)
    for name in files_under(a):
        assert filecmp.cmp(a / name, b / name, shallow=False), name


class AccessLog:
    """The server's access log from a point on."""

    def __init__(self, coffer):
        self.path = coffer.stderr_path
        self.start = self.path.stat().st_size

    def writes(self):
        with open(self.path, "rb") as f:
            f.seek(self.start)
            text = f.read().decode(errors="replace")
        return [line for line in text.splitlines() if WRITES.search(line)]


def tool_env(endpoint, home):
    """The test clients' environment (only the session's AWS_ variables
    and files), with a private HOME and UTF-8 file names."""
    env = dict(endpoint.env)
    env.update({"HOME": str(home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                "PYTHONIOENCODING": "utf-8"})
    return env


def run(argv, env, cwd):
    res = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True,
                         timeout=CLIENT_TIMEOUT)
    assert res.returncode == 0, ("%s failed (%d):\n%s\n%s"
                                 % (argv[0], res.returncode,
                                    res.stdout[-3000:], res.stderr[-3000:]))
    return res


@pytest.fixture
def bucket(endpoint):
    name = unique_name("sync")
    endpoint.boto3("s3").create_bucket(Bucket=name)
    return name


def round_trip(coffer, endpoint, bucket, tree, tmp_path, upload, download,
               parts=3):
    """Up, up again (nothing may be written), down; checks each step and
    what the bucket holds, the big file in `parts` parts. upload/download
    take (source, destination)."""
    log = AccessLog(coffer)
    upload(str(tree) + "/", "%s/tree/" % bucket)
    assert len(log.writes()) >= len(TREE) + 1

    s3 = endpoint.boto3("s3")
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="tree/")
    keys = sorted(c["Key"] for c in listing.get("Contents", []))
    assert keys == sorted("tree/" + name for name in files_under(tree))
    big = s3.head_object(Bucket=bucket, Key="tree/" + BIG)
    assert big["ContentLength"] == BIG_SIZE
    assert big["ETag"].endswith('-%d"' % parts)

    log = AccessLog(coffer)
    upload(str(tree) + "/", "%s/tree/" % bucket)
    assert log.writes() == []

    down = tmp_path / "down"
    down.mkdir()
    download("%s/tree/" % bucket, str(down) + "/")
    assert_same_tree(tree, down)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_aws_cli_sync_round_trip(coffer, http_endpoint, clis, tree,
                                 tmp_path, version):
    """`aws s3 sync` compares sizes and times: after the upload the
    objects are newer than the files, so the second sync sends nothing.
    Over HTTP only: the recipe tests run the CLI over both."""
    endpoint = http_endpoint
    bucket = unique_name("sync")
    endpoint.boto3("s3").create_bucket(Bucket=bucket)
    aws = endpoint.aws(clis, version, tmp_path)

    def sync(src, dst):
        res = aws.run("s3", "sync", "--no-progress", src, dst)
        assert res.returncode == 0, res.stderr

    round_trip(coffer, endpoint, bucket, tree, tmp_path,
               lambda src, dst: sync(src, "s3://" + dst),
               lambda src, dst: sync("s3://" + src, dst), parts=2)


@pytest.mark.parametrize("sigv2", [False, True])
def test_s3cmd_sync_round_trip(coffer, endpoint, bucket, tree, tmp_path,
                               sigv2):
    """s3cmd signs with SigV4, or with SigV2 in the Authorization header
    when its config says signature_v2."""
    if shutil.which("s3cmd") is None:
        pytest.skip("no s3cmd (scripts/deps.sh installs it)")
    host = endpoint.url.split("://", 1)[1]
    config = tmp_path / "s3cmd.cfg"
    lines = [
        "[default]",
        "access_key = %s" % ACCESS_KEY,
        "secret_key = %s" % SECRET_KEY,
        "host_base = %s" % host,
        "host_bucket = %s" % host,
        "bucket_location = %s" % REGION,
        "use_https = %s" % (endpoint.transport == "https"),
        "check_ssl_certificate = True",
        "check_ssl_hostname = True",
        "ca_certs_file = %s" % (endpoint.ca or ""),
        "signature_v2 = %s" % sigv2,
        "multipart_chunk_size_mb = 5",
        "proxy_host =",
        "progress_meter = False",
    ]
    config.write_text("\n".join(lines) + "\n")
    env = tool_env(endpoint, tmp_path)
    base = ["s3cmd", "--config", str(config), "--no-progress"]

    def upload(src, dst):
        run(base + ["sync", src, "s3://" + dst], env, tmp_path)

    def download(src, dst):
        run(base + ["sync", "s3://" + src, dst], env, tmp_path)

    round_trip(coffer, endpoint, bucket, tree, tmp_path, upload, download)


@pytest.mark.parametrize("listing", ["--fast-list", "--disable=ListR"])
def test_rclone_sync_round_trip(coffer, endpoint, bucket, tree, tmp_path,
                                listing):
    """--fast-list lists the whole tree at once, with no delimiter; by
    default rclone lists one folder at a time, with delimiter '/'."""
    if shutil.which("rclone") is None:
        pytest.skip("no rclone (scripts/deps.sh installs it)")
    config = tmp_path / "rclone.conf"
    config.write_text(
        "[coffer]\n"
        "type = s3\n"
        "provider = Other\n"
        "env_auth = false\n"
        "access_key_id = %s\n"
        "secret_access_key = %s\n"
        "region = %s\n"
        "endpoint = %s\n"
        "force_path_style = true\n"
        "upload_cutoff = 5M\n"
        "chunk_size = 5M\n" % (ACCESS_KEY, SECRET_KEY, REGION,
                               endpoint.url))
    env = tool_env(endpoint, tmp_path)
    # rclone's AWS SDK cannot use AWS_CA_BUNDLE with rclone's own HTTP
    # transport ("LoadCustomCABundleError"); it gets --ca-cert instead.
    env.pop("AWS_CA_BUNDLE", None)
    base = ["rclone", "--config", str(config), "--low-level-retries", "1",
            "--retries", "1", "--stats", "0", "--use-json-log", listing]
    if endpoint.ca:
        base += ["--ca-cert", str(endpoint.ca)]

    def upload(src, dst):
        run(base + ["sync", src, "coffer:" + dst], env, tmp_path)

    def download(src, dst):
        run(base + ["sync", "coffer:" + src, dst], env, tmp_path)

    round_trip(coffer, endpoint, bucket, tree, tmp_path, upload, download)
