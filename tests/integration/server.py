"""Starting and stopping a coffer server for the integration tests.

Everything here stays on loopback: ports are picked by binding 127.0.0.1:0,
the TLS certificate names IP 127.0.0.1 only, and readiness is checked by
connecting to the listening ports until they accept (bounded wait).
"""

import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 10.0
START_ATTEMPTS = 3
STOP_TIMEOUT = 10.0
ACCOUNT_ID = "111122223333"
REGION = "us-east-1"

# Text that the sanitizers print when they find a fault.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:")


class ExitedDuringStart(RuntimeError):
    pass


def server_env(access_key=None, secret_key=None):
    """A server environment: this process's, without AWS_ or COFFER_
    variables, plus the root credentials when given."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "COFFER_"))}
    if access_key:
        env["COFFER_ROOT_ACCESS_KEY_ID"] = access_key
        env["COFFER_ROOT_SECRET_ACCESS_KEY"] = secret_key
    return env


def coffer_binary():
    """The server binary under test: COFFER_BIN, else build/coffer."""
    return Path(os.environ.get("COFFER_BIN", REPO / "build" / "coffer"))


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(directory):
    """Makes a self-signed EC P-256 certificate for IP 127.0.0.1.

    Returns (cert path, key path). The certificate is also the CA bundle
    the clients trust, so TLS is verified for real.
    """
    cert = Path(directory) / "cert.pem"
    key = Path(directory) / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=coffer-test",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60)
    return cert, key


def _accepts(port, cert=None):
    """True once the port takes a connection and, with cert, completes a
    TLS handshake trusting that certificate."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            if cert:
                ctx = ssl.create_default_context(cafile=str(cert))
                with ctx.wrap_socket(s, server_hostname="127.0.0.1"):
                    pass
            return True
    except OSError:
        return False


class CofferServer:
    """One `coffer server` process with its data directory and logs.

    env holds the server's whole environment. With tls set to
    (cert, key) an HTTPS listener is added beside the HTTP one.
    """

    def __init__(self, workdir, env, tls=None):
        self.workdir = Path(workdir)
        self.data = self.workdir / "data"
        self.stdout_path = self.workdir / "server.stdout"
        self.stderr_path = self.workdir / "server.stderr"
        self.env = env
        self.tls = tls
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.proc = None

    @property
    def http_url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def https_url(self):
        return "https://127.0.0.1:%d" % self.tls_port

    def argv(self):
        argv = [str(coffer_binary()), "server",
                "--data", str(self.data),
                "--listen", "127.0.0.1:%d" % self.port,
                "--region", REGION, "--account-id", ACCOUNT_ID]
        if self.tls:
            argv += ["--tls-listen", "127.0.0.1:%d" % self.tls_port,
                     "--tls-cert", str(self.tls[0]),
                     "--tls-key", str(self.tls[1])]
        return argv

    def start(self):
        """Starts the server and waits until every port is ready.

        A server that exits during start is tried again on fresh ports, up
        to START_ATTEMPTS times in all: a run beside this one may have
        taken a port between its pick and the server's bind. Raises
        RuntimeError, with the end of the server's stderr, if every attempt
        exits or the ports stay closed for START_TIMEOUT seconds.
        """
        binary = coffer_binary()
        if not os.access(binary, os.X_OK):
            raise RuntimeError("no server binary at %s (build it first, or "
                               "set COFFER_BIN)" % binary)

        for attempt in range(1, START_ATTEMPTS + 1):
            self._launch()
            try:
                self._wait_ready()
                return
            except ExitedDuringStart:
                if attempt == START_ATTEMPTS:
                    raise
                self.port = free_port()
                self.tls_port = free_port() if self.tls else None

    def _launch(self):
        # Appending keeps every attempt's output for the checks on it.
        with open(self.stdout_path, "ab") as out, \
                open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(self.argv(), env=self.env,
                                         stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err,
                                         cwd=self.workdir)

    def _wait_ready(self):
        ports = [(self.port, None)]
        if self.tls:
            ports.append((self.tls_port, self.tls[0]))
        deadline = time.monotonic() + START_TIMEOUT
        while not all(_accepts(port, cert) for port, cert in ports):
            if self.proc.poll() is not None:
                raise ExitedDuringStart(
                    "server exited with %d during start:\n%s"
                    % (self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server not ready after %.0f s:\n%s"
                                   % (START_TIMEOUT, self.log_tail()))
            time.sleep(0.05)

    def check_running(self):
        """Raises RuntimeError if the server process has exited."""
        if self.proc.poll() is not None:
            raise RuntimeError("server is not running (exit %d):\n%s"
                               % (self.proc.returncode, self.log_tail()))

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        return self.proc.returncode

    def stderr_text(self):
        return self.stderr_path.read_text(errors="replace")

    def output_bytes(self):
        """Everything the server wrote to stdout and stderr so far."""
        return self.stdout_path.read_bytes() + self.stderr_path.read_bytes()

    def log_tail(self, lines=40):
        return "\n".join(self.stderr_text().splitlines()[-lines:])
