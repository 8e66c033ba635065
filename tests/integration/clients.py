"""The clients the integration tests drive: aws CLI v1, aws CLI v2, boto3.

Every client gets its credentials, region, config and credentials files
from the test session, and AWS_EC2_METADATA_DISABLED=true, so it never looks
for credentials anywhere else. HTTPS clients trust the test certificate
through AWS_CA_BUNDLE (or boto3's verify=); verification is never turned off.
"""

import importlib.util
import json
import os
import secrets
import shutil
import string
import subprocess
import sys
import uuid

import pytest

from server import REGION

CLIENT_TIMEOUT = 120

# Exit codes of the aws CLI: `aws s3 cp` failures, and service errors from
# s3api or kms, which differ between the two major versions.
S3_CP_FAILED = 1
API_ERROR_RC = {"v1": 255, "v2": 254}


def _random(alphabet, n):
    return "".join(secrets.choice(alphabet) for _ in range(n))


# The session's root credentials, given to the server through its
# environment and to every client.
ACCESS_KEY = "AKIA" + _random(string.ascii_uppercase + string.digits, 16)
SECRET_KEY = _random(string.ascii_letters + string.digits + "+/", 40)


def unique_name(prefix):
    """A bucket or alias name no other test uses."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def base_env():
    """This process's environment without any AWS_ variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def write_aws_files(directory, access_key, secret_key):
    """Writes a config and a credentials file for the test account.

    The s3 settings are the CLI's defaults, written out because the tests
    rely on them: 20 MiB goes up as parts of 8, 8 and 4 MiB, in parallel.
    Returns (config path, credentials path).
    """
    config = directory / "config"
    config.write_text(
        "[default]\n"
        "region = %s\n"
        "output = json\n"
        "cli_pager =\n"
        "s3 =\n"
        "    max_concurrent_requests = 10\n"
        "    multipart_threshold = 8MB\n"
        "    multipart_chunksize = 8MB\n" % REGION)
    credentials = directory / "credentials"
    credentials.touch(mode=0o600)
    credentials.write_text(
        "[default]\n"
        "aws_access_key_id = %s\n"
        "aws_secret_access_key = %s\n" % (access_key, secret_key))
    return config, credentials


def client_env(files, access_key, secret_key, ca_bundle=None):
    """The environment for one client process (or for in-process boto3)."""
    env = base_env()
    env.update({
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(files[0]),
        "AWS_SHARED_CREDENTIALS_FILE": str(files[1]),
        "AWS_PAGER": "",
    })
    if ca_bundle:
        env["AWS_CA_BUNDLE"] = str(ca_bundle)
    return env


def _version(argv):
    try:
        res = subprocess.run(argv + ["--version"], env=base_env(),
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (res.stdout + res.stderr).strip()


def find_cli_v1():
    """The aws CLI v1 as an argv prefix, or (None, why not).

    The one on PATH outside /usr/bin (Debian's /usr/bin/aws is v2), else
    `python3 -m awscli` with this interpreter.
    """
    usr_bin = os.path.realpath("/usr/bin")
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and os.path.realpath(d) != usr_bin]
    candidates = []
    found = shutil.which("aws", path=os.pathsep.join(dirs))
    if found:
        candidates.append([found])
    if importlib.util.find_spec("awscli") is not None:
        candidates.append([sys.executable, "-m", "awscli"])

    for argv in candidates:
        if _version(argv).startswith("aws-cli/1."):
            return argv, None
    return None, "no aws CLI v1 found on PATH outside /usr/bin"


def find_cli_v2():
    """Debian's aws CLI v2 (/usr/bin/aws), or (None, why not)."""
    argv = ["/usr/bin/aws"]
    if not os.access(argv[0], os.X_OK):
        return None, "no /usr/bin/aws (Debian package awscli, CLI v2)"
    version = _version(argv)
    if not version.startswith("aws-cli/2."):
        return None, "/usr/bin/aws is not CLI v2: %r" % version
    return argv, None


class Aws:
    """One aws CLI bound to an endpoint, an environment and a directory."""

    def __init__(self, version, argv, endpoint, env, cwd):
        self.version = version
        self.argv = argv
        self.endpoint = endpoint
        self.env = env
        self.cwd = cwd
        self.api_error_rc = API_ERROR_RC[version]

    def run(self, *args):
        """Runs `aws --endpoint-url URL ARGS...`; returns the
        CompletedProcess (text stdout and stderr)."""
        cmd = self.argv + ["--endpoint-url", self.endpoint] + list(args)
        return subprocess.run(cmd, env=self.env, cwd=self.cwd,
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=CLIENT_TIMEOUT)

    def json(self, *args):
        """Runs a command that must succeed and returns its JSON output."""
        res = self.run(*args)
        assert res.returncode == 0, show(res)
        return json.loads(res.stdout)


def show(res):
    """A CompletedProcess as text for an assertion message."""
    return ("command: %s\nexit: %d\nstdout: %s\nstderr: %s"
            % (" ".join(map(str, res.args)), res.returncode,
               res.stdout[-2000:], res.stderr[-2000:]))


def boto3_client(service, endpoint, access_key, secret_key, ca_bundle=None):
    """A boto3 client that never retries, so tests see every raw error."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=10, read_timeout=CLIENT_TIMEOUT,
                    retries={"total_max_attempts": 1})
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        verify=str(ca_bundle) if ca_bundle else None, config=config)


class Endpoint:
    """Where and how a client reaches the server over one transport."""

    def __init__(self, coffer, aws_files, transport):
        self.transport = transport
        self.ca = coffer.cert if transport == "https" else None
        self.url = coffer.https_url if self.ca else coffer.http_url
        self.env = client_env(aws_files, ACCESS_KEY, SECRET_KEY, self.ca)

    def boto3(self, service, access_key=ACCESS_KEY, secret_key=SECRET_KEY):
        return boto3_client(service, self.url, access_key, secret_key,
                            self.ca)

    def aws(self, clis, version, cwd):
        """The aws CLI `version` over this endpoint; skips if absent."""
        argv, why = clis[version]
        if argv is None:
            pytest.skip(why)
        return Aws(version, argv, self.url, self.env, cwd)
