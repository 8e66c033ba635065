"""Session fixtures: one coffer server with HTTP and HTTPS listeners, the
test credentials, and clients pointed at it.

The server runs from build/coffer (or COFFER_BIN) with a fresh data
directory and a certificate made at test time; it is stopped by pid at the
end. After every test the server's stderr is checked for sanitizer reports
and the process for an unexpected exit, so a crash is blamed on the test
that caused it.
"""

import os

import pytest

from clients import (ACCESS_KEY, SECRET_KEY, Endpoint, client_env,
                     find_cli_v1, find_cli_v2, write_aws_files)
from server import SANITIZER_MARKS, CofferServer, make_cert, server_env


@pytest.fixture(scope="session")
def aws_files(tmp_path_factory):
    """(config, credentials) files for every client of the session."""
    return write_aws_files(tmp_path_factory.mktemp("aws"),
                           ACCESS_KEY, SECRET_KEY)


@pytest.fixture(scope="session", autouse=True)
def process_env(aws_files):
    """This process's own AWS_ variables, for boto3 in-process: the test
    ones only, so nothing from outside leaks into a client."""
    mp = pytest.MonkeyPatch()
    for name in list(os.environ):
        if name.startswith("AWS_"):
            mp.delenv(name)
    for name, value in client_env(aws_files, ACCESS_KEY, SECRET_KEY).items():
        if name.startswith("AWS_"):
            mp.setenv(name, value)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def coffer(tmp_path_factory):
    """The running server; .cert is the CA bundle for its HTTPS port."""
    work = tmp_path_factory.mktemp("coffer")
    cert, key = make_cert(work)
    srv = CofferServer(work, server_env(ACCESS_KEY, SECRET_KEY),
                       tls=(cert, key))
    srv.cert = cert
    srv.start()
    yield srv

    srv.stop()
    tail = srv.stderr_text()[-8000:]
    if any(mark in tail for mark in SANITIZER_MARKS):
        raise AssertionError("server printed sanitizer reports at exit:\n"
                             + tail)


@pytest.fixture(autouse=True)
def server_health(coffer):
    """Fails a test during which the server died or reported a fault."""
    coffer.check_running()
    start = coffer.stderr_path.stat().st_size
    yield

    with open(coffer.stderr_path, "rb") as f:
        f.seek(start)
        new = f.read().decode(errors="replace")
    if any(mark in new for mark in SANITIZER_MARKS):
        pytest.fail("server printed sanitizer reports during this test:\n"
                    + new[-8000:])
    if coffer.proc.poll() is not None:
        pytest.fail("server exited with %d during this test:\n%s"
                    % (coffer.proc.returncode, coffer.log_tail()))


@pytest.fixture(scope="session", params=("http", "https"))
def endpoint(request, coffer, aws_files):
    """The server over each transport in turn."""
    return Endpoint(coffer, aws_files, request.param)


@pytest.fixture(scope="session")
def http_endpoint(coffer, aws_files):
    return Endpoint(coffer, aws_files, "http")


@pytest.fixture(scope="session")
def payloads(tmp_path_factory):
    """The recipe's files: picture.png (any bytes) and a 20 MiB file."""
    d = tmp_path_factory.mktemp("payloads")
    (d / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200000))
    (d / "big20.bin").write_bytes(os.urandom(20 * 1024 * 1024))
    return d


@pytest.fixture(scope="session")
def clis():
    """{'v1': (argv or None, why missing), 'v2': ...}, looked up once."""
    return {"v1": find_cli_v1(), "v2": find_cli_v2()}
