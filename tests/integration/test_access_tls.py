"""Certificate reload without a restart: SIGHUP makes the HTTPS listener
present the certificate now in its files to new connections, while
connections already open go on with theirs.  A key that does not belong
to the certificate is refused and the old pair stays in use.

The test runs its own server (stopped by pid), with certificates made at
test time for IP 127.0.0.1.
"""

import http.client
import shutil
import signal
import socket
import ssl
import time

import pytest

from clients import ACCESS_KEY, SECRET_KEY, boto3_client
from server import SANITIZER_MARKS, CofferServer, make_cert, server_env

RELOAD_WAIT = 5.0


def served_subject_key(port, ca):
    """The public key of the certificate the server presents now, checked
    against the CA bundle `ca`; None when the handshake fails."""
    ctx = ssl.create_default_context(cafile=str(ca))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                return t.getpeercert(binary_form=True)
    except (ssl.SSLError, OSError):
        return None


def wait_for_cert(port, ca, want):
    deadline = time.monotonic() + RELOAD_WAIT
    while time.monotonic() < deadline:
        if served_subject_key(port, ca) == want:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def tls_server(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    cert_a, key_a = make_cert(a)
    cert_b, key_b = make_cert(b)
    live = tmp_path / "live"
    live.mkdir()
    cert, key = live / "cert.pem", live / "key.pem"
    shutil.copy(cert_a, cert)
    shutil.copy(key_a, key)
    srv = CofferServer(tmp_path / "srv", server_env(ACCESS_KEY, SECRET_KEY),
                       tls=(cert, key))
    (tmp_path / "srv").mkdir()
    srv.start()
    yield srv, (cert_a, key_a), (cert_b, key_b), (cert, key)
    srv.stop()
    tail = srv.stderr_text()[-8000:]
    assert not any(mark in tail for mark in SANITIZER_MARKS), tail


def der(pem_path):
    return ssl.PEM_cert_to_DER_cert(pem_path.read_text())


def test_sighup_serves_new_certificate(tls_server):
    srv, (cert_a, _), (cert_b, key_b), (cert, key) = tls_server
    assert served_subject_key(srv.tls_port, cert_a) == der(cert_a)

    # A connection opened before the reload, kept alive across it.
    ctx = ssl.create_default_context(cafile=str(cert_a))
    old = http.client.HTTPSConnection("127.0.0.1", srv.tls_port,
                                      context=ctx, timeout=10)
    old.request("GET", "/")
    old.getresponse().read()

    shutil.copy(cert_b, cert)
    shutil.copy(key_b, key)
    srv.proc.send_signal(signal.SIGHUP)
    assert wait_for_cert(srv.tls_port, cert_b, der(cert_b))
    assert served_subject_key(srv.tls_port, cert_a) is None

    old.request("GET", "/")
    assert old.getresponse().status == 403    # anonymous, but served
    old.close()

    s3 = boto3_client("s3", srv.https_url, ACCESS_KEY, SECRET_KEY, cert_b)
    s3.create_bucket(Bucket="after-reload")
    assert "after-reload" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    srv.check_running()
    assert "reloaded TLS certificate" in srv.stderr_text()


def test_sighup_keeps_old_pair_when_new_one_is_bad(tls_server):
    srv, (cert_a, key_a), (cert_b, _), (cert, key) = tls_server
    shutil.copy(cert_b, cert)          # certificate B with key A
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + RELOAD_WAIT
    while "kept the old TLS certificate" not in srv.stderr_text():
        assert time.monotonic() < deadline, srv.log_tail()
        time.sleep(0.05)
    srv.check_running()
    assert served_subject_key(srv.tls_port, cert_a) == der(cert_a)
    assert "does not belong to the certificate" in srv.stderr_text()

    key.write_text("not a key\n")
    shutil.copy(cert_a, cert)
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    srv.check_running()
    assert served_subject_key(srv.tls_port, cert_a) == der(cert_a)
