"""KMS across time, restarts and the audit trail, on a server of this
module's own whose days last one second (COFFER_TEST_DAY_SECONDS, which
exists for tests only):

* ciphertexts made before a rotation, an alias change and a restart still
  decrypt after them;
* a key whose deletion window passes is gone with everything under it:
  Decrypt answers NotFoundException, an S3 GET of an object under it
  answers 400 KMS.NotFoundException, also when the window ended while the
  server was down;
* the audit trail accounts for every KMS call a test made, as counted by
  the client, and `coffer admin audit verify` finds an edited line.
"""

import json
import shutil
import subprocess
import time

import pytest

from clients import ACCESS_KEY, SECRET_KEY, boto3_client, show, unique_name
from server import SANITIZER_MARKS, CofferServer, coffer_binary, server_env

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

DAY_SECONDS = 1
CTX = {"purpose": "lifecycle"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    env = server_env(ACCESS_KEY, SECRET_KEY)
    env["COFFER_TEST_DAY_SECONDS"] = str(DAY_SECONDS)
    s = CofferServer(tmp_path_factory.mktemp("kms-days"), env)
    s.start()
    yield s
    s.stop()
    assert not any(m in s.stderr_text() for m in SANITIZER_MARKS), \
        s.stderr_text()[-8000:]


def restart(s):
    assert s.stop() == 0
    s.start()


def client(s, service):
    return boto3_client(service, s.http_url, ACCESS_KEY, SECRET_KEY)


def code_of(excinfo):
    resp = excinfo.value.response
    return (resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"],
            resp["Error"].get("Message", ""))


def admin(s, *args):
    return subprocess.run([str(coffer_binary()), "admin"] + list(args),
                          env=s.env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


def counters(s):
    res = admin(s, "--data", str(s.data), "audit", "--json")
    assert res.returncode == 0, show(res)
    return json.loads(res.stdout)


def test_test_day_is_warned_about(srv):
    assert "COFFER_TEST_DAY_SECONDS" in srv.stderr_text()
    help_text = subprocess.run([str(coffer_binary()), "server", "--help"],
                               capture_output=True, text=True,
                               timeout=30).stdout
    assert "COFFER_TEST_DAY_SECONDS" not in help_text


def test_old_ciphertexts_survive_rotation_alias_change_restart(srv):
    kms, s3 = client(srv, "kms"), client(srv, "s3")
    a = kms.create_key()["KeyMetadata"]
    b = kms.create_key()["KeyMetadata"]
    alias = unique_name("alias/moving")
    kms.create_alias(AliasName=alias, TargetKeyId=a["KeyId"])
    bucket = unique_name("life")
    s3.create_bucket(Bucket=bucket)

    old = kms.encrypt(KeyId=alias, Plaintext=b"before",
                      EncryptionContext=CTX)["CiphertextBlob"]
    dk = kms.generate_data_key(KeyId=alias, KeySpec="AES_256")
    s3.put_object(Bucket=bucket, Key="old", Body=b"object before",
                  ServerSideEncryption="aws:kms", SSEKMSKeyId=alias)

    kms.rotate_key_on_demand(KeyId=a["KeyId"])
    rotated = kms.encrypt(KeyId=alias, Plaintext=b"rotated",
                          EncryptionContext=CTX)["CiphertextBlob"]
    kms.update_alias(AliasName=alias, TargetKeyId=b["KeyId"])
    moved = kms.encrypt(KeyId=alias, Plaintext=b"moved")
    assert moved["KeyId"] == b["Arn"]
    restart(srv)

    kms, s3 = client(srv, "kms"), client(srv, "s3")
    for blob, ctx, want, arn in ((old, CTX, b"before", a["Arn"]),
                                 (rotated, CTX, b"rotated", a["Arn"]),
                                 (moved["CiphertextBlob"], {}, b"moved",
                                  b["Arn"])):
        out = kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
        assert (out["Plaintext"], out["KeyId"]) == (want, arn)
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] \
        == dk["Plaintext"]
    assert s3.get_object(Bucket=bucket, Key="old")["Body"].read() == \
        b"object before"
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == \
        b["KeyId"]


def _deleted(kms, key_id):
    try:
        kms.describe_key(KeyId=key_id)
    except ClientError as e:
        return e.response["Error"]["Code"] == "NotFoundException"
    return False


def test_deleted_key_takes_its_data(srv):
    kms, s3 = client(srv, "kms"), client(srv, "s3")
    key = kms.create_key()["KeyMetadata"]
    alias = unique_name("alias/doomed")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"doomed")
    bucket = unique_name("doomed")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="plain-kms", Body=b"x" * 1000,
                  ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    s3.put_object(Bucket=bucket, Key="bucket-key", Body=b"y" * 1000,
                  ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"],
                  BucketKeyEnabled=True)

    out = kms.schedule_key_deletion(KeyId=key["KeyId"],
                                    PendingWindowInDays=7)
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob["CiphertextBlob"])
    assert code_of(e)[:2] == ("KMSInvalidStateException", 400)

    # Seven test days later the key is gone for good.
    deadline = time.time() + 7 * DAY_SECONDS + 10
    time.sleep(max(0, out["DeletionDate"].timestamp() - time.time()) + 0.5)
    while not _deleted(kms, key["KeyId"]) and time.time() < deadline:
        time.sleep(0.5)

    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob["CiphertextBlob"])
    code, status, message = code_of(e)
    assert (code, status) == ("NotFoundException", 400)
    assert message == "Key '%s' does not exist" % key["Arn"]
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=alias)
    assert code_of(e)[:2] == ("NotFoundException", 400)
    assert key["KeyId"] not in [k["KeyId"] for k in
                                kms.list_keys(Limit=1000)["Keys"]]
    for obj in ("plain-kms", "bucket-key"):
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=bucket, Key=obj)
        code, status, message = code_of(e)
        assert (code, status) == ("KMS.NotFoundException", 400), obj
        assert "does not exist" in message, message


def test_window_ending_while_down_deletes_at_start(srv):
    kms = client(srv, "kms")
    key = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert srv.stop() == 0
    time.sleep(7 * DAY_SECONDS + 1)
    srv.start()

    # Nothing has touched the key since the start: the sweep deleted it.
    per_key = counters(srv)["Counters"].get(key["Arn"], {})
    assert per_key.get("DeleteKey") == {"Calls": 1, "Failed": 0}
    assert _deleted(client(srv, "kms"), key["KeyId"])


def test_audit_accounts_for_every_kms_call(srv):
    kms, s3 = client(srv, "kms"), client(srv, "s3")
    key = kms.create_key()["KeyMetadata"]
    arn = key["Arn"]
    bucket = unique_name("audit")
    s3.create_bucket(Bucket=bucket)
    before = counters(srv)

    # Direct calls, counted by the client as they are made.
    made = {}

    def call(op, fn, **kwargs):
        made[op] = made.get(op, 0) + 1
        try:
            return fn(**kwargs)
        except ClientError:
            return None

    blobs = [call("Encrypt", kms.encrypt, KeyId=arn, Plaintext=b"%d" % i,
                  EncryptionContext=CTX)["CiphertextBlob"] for i in range(5)]
    for blob in blobs:
        call("Decrypt", kms.decrypt, CiphertextBlob=blob,
             EncryptionContext=CTX)
    call("Decrypt", kms.decrypt, CiphertextBlob=blobs[0])     # fails
    call("GenerateDataKey", kms.generate_data_key, KeyId=arn,
         KeySpec="AES_256")
    call("GenerateDataKeyWithoutPlaintext",
         kms.generate_data_key_without_plaintext, KeyId=arn,
         NumberOfBytes=64)
    call("ReEncrypt", kms.re_encrypt, CiphertextBlob=blobs[1],
         SourceEncryptionContext=CTX, DestinationKeyId=arn)

    # S3's calls: without a bucket key, one GenerateDataKey per PUT and
    # one Decrypt per GET.
    for i in range(3):
        s3.put_object(Bucket=bucket, Key="o%d" % i, Body=b"z",
                      ServerSideEncryption="aws:kms", SSEKMSKeyId=arn)
        made["GenerateDataKey"] += 1
    for i in range(3):
        s3.get_object(Bucket=bucket, Key="o%d" % i)["Body"].read()
        made["Decrypt"] += 1

    after = counters(srv)
    old = before["Counters"].get(arn, {})
    new = after["Counters"][arn]
    for op, n in made.items():
        got = new[op]["Calls"] - old.get(op, {}).get("Calls", 0)
        assert got == n, (op, got, n)
    assert new["Decrypt"]["Failed"] - old.get("Decrypt", {}).get(
        "Failed", 0) == 1
    assert after["KmsCalls"] - before["KmsCalls"] == sum(made.values())

    res = admin(srv, "audit", "verify", "--data", str(srv.data))
    assert res.returncode == 0, show(res)
    assert "intact" in res.stdout


def test_audit_verify_reports_the_first_broken_link(srv, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(srv.data / "audit", copy / "audit")
    files = sorted((copy / "audit").iterdir())
    lines = files[-1].read_text().splitlines(keepends=True)
    assert len(lines) >= 3
    lines[1] = lines[1].replace('"outcome":"ok"', '"outcome":"OK"', 1)
    if lines[1] == files[-1].read_text().splitlines(keepends=True)[1]:
        lines[1] = lines[1].replace('"time":"2', '"time":"1', 1)
    files[-1].write_text("".join(lines))

    res = admin(srv, "audit", "verify", "--data", str(copy))
    assert res.returncode == 1, show(res)
    assert "%s line 3" % files[-1].name in res.stdout, res.stdout
