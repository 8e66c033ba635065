"""The key service keeps key rows, aliases and parsed key policies in
memory; none of that may outlive a change.  Each test warms the cache
with a call, changes the key (its state, policy or alias), and expects
the very next call to see the change: here through the same server, and
through a second server on the same data directory, whose change the
first learns of only from the database.
"""

import json

import pytest

from clients import ACCESS_KEY, SECRET_KEY, boto3_client
from server import (ACCOUNT_ID, SANITIZER_MARKS, CofferServer,
                    server_env)

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two servers on one data directory: the second is started after the
    first has made the directory."""
    work = tmp_path_factory.mktemp("kms-cache")
    env = server_env(ACCESS_KEY, SECRET_KEY)
    first = CofferServer(work, env)
    first.start()
    second = CofferServer(work, env)
    second.start()
    yield first, second
    for s in (second, first):
        s.stop()
    assert not any(m in first.stderr_text() for m in SANITIZER_MARKS), \
        first.stderr_text()[-8000:]


def kms_of(s):
    return boto3_client("kms", s.http_url, ACCESS_KEY, SECRET_KEY)


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def gdk(kms, key):
    return kms.generate_data_key(KeyId=key, KeySpec="AES_256",
                                 EncryptionContext={"t": "cache"})


def gdk_error(kms, key):
    with pytest.raises(ClientError) as e:
        gdk(kms, key)
    return code(e)


@pytest.fixture(params=("same", "other"))
def writer(request, pair):
    """(the server that is called, the one that changes keys)."""
    first, second = pair
    user = kms_of(first)
    return user, kms_of(first if request.param == "same" else second)


def test_key_state_takes_effect_on_the_next_call(writer):
    kms, admin = writer
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = gdk(kms, key)["CiphertextBlob"]

    admin.disable_key(KeyId=key)
    assert gdk_error(kms, key) == "DisabledException"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"t": "cache"})
    assert code(e) == "DisabledException"

    admin.enable_key(KeyId=key)
    gdk(kms, key)
    admin.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert gdk_error(kms, key) == "KMSInvalidStateException"
    admin.cancel_key_deletion(KeyId=key)
    assert gdk_error(kms, key) == "DisabledException"
    admin.enable_key(KeyId=key)
    assert kms.decrypt(CiphertextBlob=blob,
                       EncryptionContext={"t": "cache"})["KeyId"].endswith(
                           key)


def test_key_policy_takes_effect_on_the_next_call(writer):
    kms, admin = writer
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    gdk(kms, key)
    root = "arn:aws:iam::%s:root" % ACCOUNT_ID
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*",
         "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": root},
         "Action": "kms:GenerateDataKey", "Resource": "*"}]}
    admin.put_key_policy(KeyId=key, PolicyName="default",
                         Policy=json.dumps(deny))
    assert gdk_error(kms, key) == "AccessDeniedException"

    deny["Statement"].pop()
    admin.put_key_policy(KeyId=key, PolicyName="default",
                         Policy=json.dumps(deny))
    gdk(kms, key)


def test_alias_change_takes_effect_on_the_next_call(writer):
    kms, admin = writer
    one = kms.create_key()["KeyMetadata"]["KeyId"]
    two = kms.create_key()["KeyMetadata"]["KeyId"]
    alias = "alias/cache-%s" % one[:8]
    admin.create_alias(AliasName=alias, TargetKeyId=one)
    assert gdk(kms, alias)["KeyId"].endswith(one)

    admin.update_alias(AliasName=alias, TargetKeyId=two)
    assert gdk(kms, alias)["KeyId"].endswith(two)
    admin.disable_key(KeyId=two)
    assert gdk_error(kms, alias) == "DisabledException"
    admin.delete_alias(AliasName=alias)
    assert gdk_error(kms, alias) == "NotFoundException"


def test_rotation_takes_effect_on_the_next_call(writer):
    kms, admin = writer
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    old = gdk(kms, key)["CiphertextBlob"]
    admin.rotate_key_on_demand(KeyId=key)
    new = gdk(kms, key)["CiphertextBlob"]
    # Bytes 37-68 of a blob are its material id: a new one after rotation.
    assert old[37:69] != new[37:69]
    for blob in (old, new):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"t": "cache"})
