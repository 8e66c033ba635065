"""The front door: what a careless or hostile client, or a mistaken
operator, can do to a server before any S3 or KMS rule applies.

- the access log keeps one request on one line, whatever the key holds;
- the HTTPS listener speaks TLS 1.2 and 1.3 only;
- a lost or wrong root key stops the start and changes no file;
- a bad argument stops the start before the data directory is made;
- a flood of idle connections leaves room for a well-behaved client;
- an HTTP/1.1 request without Host is refused with 400.

Every test runs its own server on loopback, stopped by pid.
"""

import base64
import hashlib
import os
import shutil
import socket
import subprocess

import pytest

from clients import ACCESS_KEY, SECRET_KEY, boto3_client
from server import (SANITIZER_MARKS, CofferServer, coffer_binary, free_port,
                    make_cert, server_env)
from test_kms_pkcs11 import PIN, TokenServer, token  # noqa: F401

pytest.importorskip("boto3")

IDLE_SOCKETS = 200
SOCKET_TIMEOUT = 10


def assert_clean(srv):
    text = srv.stderr_text()
    assert not any(m in text for m in SANITIZER_MARKS), text[-8000:]


@pytest.fixture
def server(tmp_path):
    srv = CofferServer(tmp_path, server_env(ACCESS_KEY, SECRET_KEY))
    srv.start()
    yield srv
    srv.stop()
    assert_clean(srv)


@pytest.fixture
def tls_server(tmp_path):
    cert, key = make_cert(tmp_path)
    srv = CofferServer(tmp_path / "srv", server_env(ACCESS_KEY, SECRET_KEY),
                       tls=(cert, key))
    (tmp_path / "srv").mkdir()
    srv.start()
    yield srv
    srv.stop()
    assert_clean(srv)


def s3(srv):
    return boto3_client("s3", srv.http_url, ACCESS_KEY, SECRET_KEY)


# ---- the access log ---------------------------------------------------

FORGED = '2026-01-01T00:00:00.000Z 0000000000000000 10.0.0.1 root s3.Forged'


def test_access_log_escapes_request_fields(server):
    client = s3(server)
    client.create_bucket(Bucket="logs")
    key = 'a\n%s x "q" \\ \x1b[31m\r' % FORGED
    client.put_object(Bucket="logs", Key=key, Body=b"x")
    assert client.get_object(Bucket="logs", Key=key)["Body"].read() == b"x"
    server.stop()

    lines = server.stderr_text().split("\n")
    # Nothing a client sent starts a line, or shows up raw.
    assert not any(line.startswith(FORGED) for line in lines)
    assert not any("\x1b" in line or "\r" in line for line in lines)
    ours = [line for line in lines if "s3.Forged" in line]
    ops = sorted(line.split(" ")[4] for line in ours)
    assert ops == ["s3.GetObject", "s3.PutObject"], ours
    for line in ours:
        # time id peer principal op resource status in out ms
        fields = line.split(" ")
        assert len(fields) == 10, line
        assert '"' not in line
        assert "\\x0a" in fields[5] and "\\x22q\\x22" in fields[5]
        assert "\\x20" in fields[5] and "\\x5c" in fields[5]


def test_access_log_escapes_the_kms_target(server):
    """X-Amz-Target names the operation in the log lines; what is not a
    letter or digit in it is shown as '?'."""
    reply = raw_request(server.port, b'POST / HTTP/1.1\r\nHost: x\r\n'
                        b'X-Amz-Target: TrentService.Op"\x01 forged 200\r\n'
                        b'Content-Length: 0\r\nConnection: close\r\n\r\n')
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]
    server.stop()
    ours = [line for line in server.stderr_text().split("\n")
            if "kms.Op" in line]
    assert len(ours) == 1, ours
    assert ours[0].split(" ")[4] == "kms.Op???forged?200"
    assert len(ours[0].split(" ")) == 10, ours


# ---- TLS versions -------------------------------------------------------

def s_client(port, version):
    """Does a handshake with only this TLS version succeed?  The client's
    own floor is lowered so that only the server decides."""
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-" + version, "-brief"]
    if version in ("tls1", "tls1_1"):
        argv += ["-cipher", "DEFAULT:@SECLEVEL=0"]
    res = subprocess.run(argv, input=b"", capture_output=True, timeout=30)
    return res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("version,ok", [
    ("tls1", False), ("tls1_1", False), ("tls1_2", True), ("tls1_3", True),
])
def test_tls_versions(tls_server, version, ok):
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    done, out = s_client(tls_server.tls_port, version)
    assert done == ok, out.decode(errors="replace")


def test_tls_1_2_offers_only_aead_suites(tls_server):
    done, out = s_client(tls_server.tls_port, "tls1_2")
    assert done, out
    cipher = [line for line in out.decode().splitlines()
              if line.startswith("Ciphersuite:")]
    assert cipher and ("GCM" in cipher[0] or "CHACHA20" in cipher[0]), out
    assert "ECDHE" in cipher[0], out


# ---- the root key -------------------------------------------------------

def tree(directory):
    """Every file under directory with its SHA-256 (SQLite's transient
    -wal and -shm files left out)."""
    out = {}
    for root, _, names in os.walk(directory):
        for name in names:
            if name.endswith(("-wal", "-shm")):
                continue
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, directory)] = \
                    hashlib.sha256(f.read()).hexdigest()
    return out


def populate(srv):
    srv.start()
    client = s3(srv)
    client.create_bucket(Bucket="kept")
    client.put_object(Bucket="kept", Key="k", Body=b"sealed")
    assert srv.stop() == 0


def refused(srv):
    """Start srv, expecting it to exit; its exit code and new stderr."""
    start = srv.stderr_path.stat().st_size
    res = subprocess.run(srv.argv(), env=srv.env, cwd=srv.workdir,
                         stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=30)
    assert srv.stderr_path.stat().st_size == start
    assert not any(m in res.stderr for m in SANITIZER_MARKS), res.stderr
    return res.returncode, res.stderr


def assert_still_opens(srv):
    """srv starts and returns what populate() stored."""
    srv.start()
    try:
        body = s3(srv).get_object(Bucket="kept", Key="k")["Body"].read()
        assert body == b"sealed"
    finally:
        srv.stop()
    assert_clean(srv)


def test_restart_keeps_working(tmp_path):
    srv = CofferServer(tmp_path, server_env(ACCESS_KEY, SECRET_KEY))
    populate(srv)
    assert_still_opens(srv)
    assert "key check value" not in srv.stderr_text()


def test_missing_root_key_is_not_replaced(tmp_path):
    srv = CofferServer(tmp_path, server_env(ACCESS_KEY, SECRET_KEY))
    populate(srv)
    (srv.data / "root.key").unlink()
    before = tree(srv.data)

    rc, err = refused(srv)
    assert rc != 0
    assert "root.key is missing" in err and "Restore" in err, err
    assert not (srv.data / "root.key").exists()
    assert tree(srv.data) == before


def test_wrong_root_key_is_refused(tmp_path):
    env = server_env(ACCESS_KEY, SECRET_KEY)
    env["COFFER_ROOT_KEY"] = base64.b64encode(os.urandom(32)).decode()
    srv = CofferServer(tmp_path, env)
    populate(srv)
    before = tree(srv.data)

    srv.env = dict(env, COFFER_ROOT_KEY=base64.b64encode(
        os.urandom(32)).decode())
    rc, err = refused(srv)
    assert rc != 0
    assert "COFFER_ROOT_KEY is not the one this data directory" in err, err
    assert tree(srv.data) == before

    # The right key still opens it.
    srv.env = env
    assert_still_opens(srv)


def test_root_key_file_swapped_is_refused(tmp_path):
    srv = CofferServer(tmp_path, server_env(ACCESS_KEY, SECRET_KEY))
    populate(srv)
    (srv.data / "root.key").write_bytes(os.urandom(32))
    before = tree(srv.data)

    rc, err = refused(srv)
    assert rc != 0 and "root.key is not the one" in err, err
    assert tree(srv.data) == before


def test_missing_sealed_root_key_is_not_replaced(token, tmp_path):
    module, env = token
    srv = TokenServer(tmp_path, dict(env, COFFER_PKCS11_PIN=PIN), module)
    populate(srv)
    (srv.data / "root.key.wrapped").unlink()
    before = tree(srv.data)

    rc, err = refused(srv)
    assert rc != 0 and "root.key.wrapped is missing" in err, err
    assert tree(srv.data) == before


# ---- arguments before the disk -------------------------------------------

@pytest.mark.parametrize("extra,words", [
    (["--listen", "bogus"], "--listen"),
    (["--listen", "127.0.0.1:99999"], "--listen"),
    (["--tls-listen", "127.0.0.1:0", "--tls-cert", "/nonexistent.pem",
      "--tls-key", "/nonexistent.pem"], "TLS certificate"),
    (["--access-log", "/nonexistent/dir/log"], "--access-log"),
], ids=["listen", "port", "tls-files", "access-log"])
def test_bad_argument_touches_no_disk(tmp_path, extra, words):
    data = tmp_path / "data"
    argv = [str(coffer_binary()), "server", "--data", str(data),
            "--listen", "127.0.0.1:%d" % free_port()] + extra
    res = subprocess.run(argv, env=server_env(ACCESS_KEY, SECRET_KEY),
                         capture_output=True, text=True, timeout=30)
    assert res.returncode != 0
    assert words in res.stderr, res.stderr
    assert not any(m in res.stderr for m in SANITIZER_MARKS), res.stderr
    assert not data.exists()


def test_bad_root_key_variable_touches_no_disk(tmp_path):
    data = tmp_path / "data"
    env = dict(server_env(ACCESS_KEY, SECRET_KEY), COFFER_ROOT_KEY="short")
    res = subprocess.run([str(coffer_binary()), "server", "--data",
                          str(data), "--listen",
                          "127.0.0.1:%d" % free_port()],
                         env=env, capture_output=True, text=True, timeout=30)
    assert res.returncode != 0 and "COFFER_ROOT_KEY" in res.stderr
    assert not data.exists()


def test_port_in_use_touches_no_disk(tmp_path):
    data = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        res = subprocess.run([str(coffer_binary()), "server", "--data",
                              str(data), "--listen", "127.0.0.1:%d" % port],
                             env=server_env(ACCESS_KEY, SECRET_KEY),
                             capture_output=True, text=True, timeout=30)
    assert res.returncode != 0 and "in use" in res.stderr, res.stderr
    assert not data.exists()


def test_credentials_path_is_absolute(tmp_path):
    srv = CofferServer(tmp_path, server_env())
    srv.argv = lambda: [str(coffer_binary()), "server", "--data", "data",
                        "--listen", "127.0.0.1:%d" % srv.port]
    srv.start()
    srv.stop()
    said = [line for line in srv.stderr_text().splitlines()
            if "generated root credentials" in line]
    assert said and ("in %s/credentials;" % srv.data.resolve()) in said[0]


# ---- idle connections and Host ------------------------------------------

def test_idle_flood_leaves_room(server):
    client = s3(server)
    client.create_bucket(Bucket="busy")
    idle = []
    try:
        for _ in range(IDLE_SOCKETS):
            idle.append(socket.create_connection(
                ("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT))
        # Half-open requests too: a request line and no more.
        for s in idle[:IDLE_SOCKETS // 2]:
            s.sendall(b"GET /busy HTTP/1.1\r\n")
        client.put_object(Bucket="busy", Key="k", Body=b"served")
        body = client.get_object(Bucket="busy", Key="k")["Body"].read()
        assert body == b"served"
    finally:
        for s in idle:
            s.close()
    server.check_running()


def raw_request(port, request):
    with socket.create_connection(("127.0.0.1", port),
                                  timeout=SOCKET_TIMEOUT) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data


def test_http11_without_host_is_400(server):
    reply = raw_request(server.port, b"GET / HTTP/1.1\r\n"
                        b"Connection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]
    assert b"<Code>InvalidRequest</Code>" in reply
    assert b"<HostId>" in reply


def test_http10_without_host_is_served_path_style(server):
    reply = raw_request(server.port, b"GET /nobucket HTTP/1.0\r\n\r\n")
    # Anonymous, so refused by the S3 rules, not for the missing Host.
    assert reply.startswith(b"HTTP/1.0 403 ") or \
        reply.startswith(b"HTTP/1.1 403 "), reply[:200]
    assert b"AccessDenied" in reply
