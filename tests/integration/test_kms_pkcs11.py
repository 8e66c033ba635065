"""The root key held by a PKCS#11 token: a SoftHSM2 token made in a
temporary directory (SOFTHSM2_CONF points at a configuration made here),
a server started with --root-key-pkcs11, and what a restart, a wrong PIN
and a missing PIN do.
"""

import shutil
import subprocess

import pytest

from clients import ACCESS_KEY, SECRET_KEY, boto3_client
from server import SANITIZER_MARKS, CofferServer, server_env

pytest.importorskip("boto3")

MODULES = ["/usr/lib/softhsm/libsofthsm2.so",
           "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"]
PIN = "246810"
TOKEN = "coffer-test"
KEY_LABEL = "coffer-root-wrap"


def softhsm_module():
    for path in MODULES:
        if shutil.os.path.exists(path):
            return path
    return None


class TokenServer(CofferServer):
    """A server whose root key is sealed by a key on the token."""

    def __init__(self, workdir, env, module):
        super().__init__(workdir, env)
        self.module = module

    def argv(self):
        return super().argv() + ["--root-key-pkcs11", self.module,
                                 "--pkcs11-token", TOKEN,
                                 "--pkcs11-key", KEY_LABEL]


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    """(module path, environment with SOFTHSM2_CONF) for a fresh token."""
    module = softhsm_module()
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is not installed (Debian package softhsm2)")
    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text("directories.tokendir = %s\nobjectstore.backend = file\n"
                    "log.level = ERROR\n" % (d / "tokens"))
    env = server_env(ACCESS_KEY, SECRET_KEY)
    env["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label",
                    TOKEN, "--pin", PIN, "--so-pin", "13579135"], env=env,
                   check=True, capture_output=True, timeout=60)
    return module, env


def test_token_root_key_survives_restart(token, tmp_path):
    module, env = token
    env = dict(env, COFFER_PKCS11_PIN=PIN)
    srv = TokenServer(tmp_path, env, module)
    srv.start()
    try:
        kms = boto3_client("kms", srv.http_url, ACCESS_KEY, SECRET_KEY)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key, Plaintext=b"held by the token",
                           EncryptionContext={"a": "b"})["CiphertextBlob"]
        assert srv.stop() == 0

        # Only the sealed root key is on disk, and the token's key is
        # one that never leaves it.
        assert (srv.data / "root.key.wrapped").stat().st_size == 61
        assert (srv.data / "root.key.wrapped").stat().st_mode & 0o777 == \
            0o600
        assert not (srv.data / "root.key").exists()
        if shutil.which("pkcs11-tool"):
            listed = subprocess.run(
                ["pkcs11-tool", "--module", module, "--token-label", TOKEN,
                 "--login", "--pin", PIN, "--list-objects"], env=env,
                capture_output=True, text=True, timeout=60).stdout
            assert KEY_LABEL in listed and "never extractable" in listed

        srv.start()
        kms = boto3_client("kms", srv.http_url, ACCESS_KEY, SECRET_KEY)
        out = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})
        assert out["Plaintext"] == b"held by the token"
    finally:
        srv.stop()
    assert not any(m in srv.stderr_text() for m in SANITIZER_MARKS), \
        srv.stderr_text()[-8000:]

    # An altered sealed file is refused at start, saying so.
    sealed = srv.data / "root.key.wrapped"
    data = bytearray(sealed.read_bytes())
    data[20] ^= 1
    sealed.write_bytes(bytes(data))
    with pytest.raises(RuntimeError) as e:
        srv.start()
    assert "does not open with this token's key" in str(e.value)


@pytest.mark.parametrize("pin,words", [
    ("000000", "PIN"),
    (None, "COFFER_PKCS11_PIN"),
], ids=["wrong-pin", "no-pin"])
def test_token_start_refused_without_the_right_pin(token, tmp_path, pin,
                                                   words):
    module, env = token
    env = dict(env)
    if pin is not None:
        env["COFFER_PKCS11_PIN"] = pin
    srv = TokenServer(tmp_path, env, module)
    with pytest.raises(RuntimeError) as e:
        srv.start()
    assert words in str(e.value)
    assert not (srv.data / "root.key.wrapped").exists()


def test_token_flags_go_together(tmp_path):
    res = subprocess.run([str(CofferServer(tmp_path, {}).argv()[0]),
                          "server", "--root-key-pkcs11", "/nonexistent.so"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2
    assert "--pkcs11-token" in res.stderr
