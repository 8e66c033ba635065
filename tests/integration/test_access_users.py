"""Users and access keys: `coffer admin user|key|policy` against the data
directory of the running server, authentication as a user, identity
policies evaluated as AWS does (policy.md §3), and changes made by the
admin command counting on the very next request.
"""

import json
import os

import pytest

from access_helpers import (User, admin, allow, bucket_arn, deny, error_of,
                            identity)
from clients import Endpoint, show, unique_name
from server import ACCOUNT_ID

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError


@pytest.fixture
def s3(http_endpoint):
    return http_endpoint.boto3("s3")


@pytest.fixture
def bucket(s3):
    name = unique_name("acc")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="docs/a.txt", Body=b"alpha")
    return name


def test_admin_user_and_key_lifecycle(coffer, tmp_path):
    name = unique_name("life")
    made = json.loads(admin(coffer, "user", "create", name).stdout)["User"]
    assert made["UserName"] == name
    assert made["Arn"] == "arn:aws:iam::%s:user/%s" % (ACCOUNT_ID, name)
    assert made["UserId"].startswith("AIDA") and len(made["UserId"]) == 21

    dup = admin(coffer, "user", "create", name, check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr

    key = json.loads(admin(coffer, "key", "create", name).stdout)
    key = key["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA")
    assert len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"

    listed = json.loads(admin(coffer, "key", "list", name).stdout)
    meta = listed["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in meta] == [key["AccessKeyId"]]
    assert "SecretAccessKey" not in meta[0]
    assert key["SecretAccessKey"] not in json.dumps(listed)

    admin(coffer, "key", "deactivate", key["AccessKeyId"])
    meta = json.loads(admin(coffer, "key", "list", name).stdout)
    assert meta["AccessKeyMetadata"][0]["Status"] == "Inactive"

    conflict = admin(coffer, "user", "delete", name, check=False)
    assert conflict.returncode == 1 and "access keys" in conflict.stderr
    admin(coffer, "key", "delete", key["AccessKeyId"])
    admin(coffer, "user", "delete", name)
    users = json.loads(admin(coffer, "user", "list").stdout)["Users"]
    assert name not in [u["UserName"] for u in users]


def test_admin_refuses_bad_input(coffer, tmp_path):
    assert admin(coffer, "user", "create", "no/slash",
                 check=False).returncode == 2
    assert admin(coffer, "key", "create", unique_name("ghost"),
                 check=False).returncode == 1
    assert admin(coffer, "user", check=False).returncode == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"Statement": {"Effect": "Allow"}}')
    user = User(coffer, tmp_path)
    res = admin(coffer, "policy", "attach", user.name, "p", bad, check=False)
    assert res.returncode == 1 and "MalformedPolicy" in res.stderr


def test_secret_key_never_stored_in_clear(coffer, tmp_path):
    user = User(coffer, tmp_path)
    secret = user.secret_key.encode()
    for root, _, files in os.walk(coffer.data):
        for f in files:
            path = os.path.join(root, f)
            with open(path, "rb") as fh:
                assert secret not in fh.read(), path
    assert secret not in coffer.output_bytes()


def test_user_without_policy_is_denied(coffer, tmp_path, http_endpoint,
                                       bucket):
    s3 = User(coffer, tmp_path).client(http_endpoint)
    for call in (lambda: s3.list_buckets(),
                 lambda: s3.list_objects_v2(Bucket=bucket),
                 lambda: s3.get_object(Bucket=bucket, Key="docs/a.txt"),
                 lambda: s3.put_object(Bucket=bucket, Key="x", Body=b"x")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("AccessDenied", 403)


def test_identity_policy_grants_exactly_its_actions(coffer, tmp_path,
                                                    endpoint, bucket):
    user = User(coffer, tmp_path, policies={"read": identity(
        allow("s3:GetObject", bucket_arn(bucket, "*")))})
    s3 = user.client(endpoint)
    assert s3.get_object(Bucket=bucket,
                         Key="docs/a.txt")["Body"].read() == b"alpha"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="new", Body=b"x")
    assert error_of(e) == ("AccessDenied", 403)
    # Without s3:ListBucket a missing key is 403, not 404 (policy.md §3).
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert error_of(e) == ("AccessDenied", 403)

    user.attach("list", identity(allow("s3:ListBucket", bucket_arn(bucket))))
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert error_of(e) == ("NoSuchKey", 404)


def test_explicit_deny_in_identity_policy_wins(coffer, tmp_path,
                                               http_endpoint, bucket):
    user = User(coffer, tmp_path, policies={
        "all": identity(allow("s3:*", "*")),
        "no-docs": identity(deny("s3:GetObject",
                                 bucket_arn(bucket, "docs/*")))})
    s3 = user.client(http_endpoint)
    s3.put_object(Bucket=bucket, Key="other/b", Body=b"b")
    assert s3.get_object(Bucket=bucket, Key="other/b")["Body"].read() == b"b"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="docs/a.txt")
    assert error_of(e) == ("AccessDenied", 403)


def test_deactivated_key_refused_at_once(coffer, tmp_path, endpoint,
                                         bucket):
    user = User(coffer, tmp_path, policies={"read": identity(
        allow("s3:GetObject", bucket_arn(bucket, "*")))})
    s3 = user.client(endpoint)
    s3.get_object(Bucket=bucket, Key="docs/a.txt")

    admin(coffer, "key", "deactivate", user.access_key)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="docs/a.txt")
    assert error_of(e) == ("InvalidAccessKeyId", 403)

    admin(coffer, "key", "activate", user.access_key)
    s3.get_object(Bucket=bucket, Key="docs/a.txt")

    admin(coffer, "key", "delete", user.access_key)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="docs/a.txt")
    assert error_of(e) == ("InvalidAccessKeyId", 403)


def test_detached_policy_stops_granting_at_once(coffer, tmp_path,
                                                http_endpoint, bucket):
    user = User(coffer, tmp_path, policies={"read": identity(
        allow("s3:GetObject", bucket_arn(bucket, "*")))})
    s3 = user.client(http_endpoint)
    s3.get_object(Bucket=bucket, Key="docs/a.txt")
    user.detach("read")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="docs/a.txt")
    assert error_of(e) == ("AccessDenied", 403)


def test_deleted_user_refused(coffer, tmp_path, http_endpoint, bucket):
    user = User(coffer, tmp_path, policies={"read": identity(
        allow("s3:GetObject", bucket_arn(bucket, "*")))})
    s3 = user.client(http_endpoint)
    s3.get_object(Bucket=bucket, Key="docs/a.txt")
    admin(coffer, "user", "delete", user.name, "--force")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="docs/a.txt")
    assert error_of(e) == ("InvalidAccessKeyId", 403)


def test_policy_variable_username(coffer, tmp_path, http_endpoint, bucket):
    """2012-10-17 policies substitute ${aws:username} (policy.md §6)."""
    doc = identity(allow(["s3:GetObject", "s3:PutObject"],
                         bucket_arn(bucket, "home/${aws:username}/*")))
    alice = User(coffer, tmp_path, policies={"home": doc})
    bob = User(coffer, tmp_path, policies={"home": doc})
    s3 = alice.client(http_endpoint)
    s3.put_object(Bucket=bucket, Key="home/%s/x" % alice.name, Body=b"a")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="home/%s/x" % bob.name, Body=b"a")
    assert error_of(e) == ("AccessDenied", 403)


def test_bucket_policy_naming_user_grants_directly(coffer, tmp_path,
                                                   http_endpoint, s3,
                                                   bucket):
    user = User(coffer, tmp_path)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user.arn},
                       "Action": "s3:GetObject",
                       "Resource": bucket_arn(bucket, "*")}]}))
    got = user.client(http_endpoint).get_object(Bucket=bucket,
                                                 Key="docs/a.txt")
    assert got["Body"].read() == b"alpha"


def test_bucket_policy_for_account_delegates_to_identity(coffer, tmp_path,
                                                         http_endpoint, s3,
                                                         bucket):
    """Allowing the account principal delegates: a user still needs an
    identity Allow (policy.md §3, vector 47)."""
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT_ID},
                       "Action": "s3:GetObject",
                       "Resource": bucket_arn(bucket, "*")}]}))
    user = User(coffer, tmp_path)
    with pytest.raises(ClientError) as e:
        user.client(http_endpoint).get_object(Bucket=bucket,
                                              Key="docs/a.txt")
    assert error_of(e) == ("AccessDenied", 403)


def test_bucket_policy_naming_unknown_user_refused(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::%s:user/%s"
                              % (ACCOUNT_ID, unique_name("nobody"))},
                "Action": "s3:GetObject",
                "Resource": bucket_arn(bucket, "*")}]}))
    assert error_of(e) == ("MalformedPolicy", 400)
    assert "Invalid principal" in e.value.response["Error"]["Message"]


def test_bucket_policy_over_20kb_refused(s3, bucket):
    statements = [{"Sid": "s%d" % i, "Effect": "Deny", "Principal": "*",
                   "Action": "s3:GetObject",
                   "Resource": bucket_arn(bucket, "p%05d/*" % i)}
                  for i in range(200)]
    text = json.dumps({"Version": "2012-10-17", "Statement": statements})
    assert len(text) > 20480
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=text)
    assert error_of(e) == ("MalformedPolicy", 400)


@pytest.mark.parametrize("version,transport", [("v1", "http"),
                                               ("v2", "https")])
def test_cli_as_user_with_prefix_restricted_listing(coffer, tmp_path,
                                                    aws_files, clis,
                                                    version, transport,
                                                    bucket, s3):
    """s3:prefix in an identity policy: the user lists only home/NAME/."""
    endpoint = Endpoint(coffer, aws_files, transport)
    user = User(coffer, tmp_path)
    home = "home/%s/" % user.name
    user.attach("list", identity(allow(
        "s3:ListBucket", bucket_arn(bucket),
        Condition={"StringLike": {"s3:prefix": [home + "*"]}})))
    s3.put_object(Bucket=bucket, Key=home + "mine.txt", Body=b"m")
    aws = endpoint.aws(clis, version, tmp_path)
    aws.env = user.env(endpoint, aws_files)

    res = aws.run("s3", "ls", "s3://%s/%s" % (bucket, home))
    assert res.returncode == 0, show(res)
    assert "mine.txt" in res.stdout
    res = aws.run("s3api", "list-objects-v2", "--bucket", bucket,
                  "--prefix", "docs/")
    assert res.returncode == aws.api_error_rc, show(res)
    assert "AccessDenied" in res.stderr
    res = aws.run("s3", "ls", "s3://%s" % bucket)
    assert res.returncode != 0 and "AccessDenied" in res.stderr


def test_create_bucket_acl_condition(coffer, tmp_path, http_endpoint, s3):
    """s3:x-amz-acl on CreateBucket (policy.md §5)."""
    user = User(coffer, tmp_path, policies={"create": identity(allow(
        "s3:CreateBucket", "*",
        Condition={"StringEquals": {"s3:x-amz-acl": "private"}}))})
    us3 = user.client(http_endpoint)
    name = unique_name("acl")
    with pytest.raises(ClientError) as e:
        us3.create_bucket(Bucket=name)
    assert error_of(e) == ("AccessDenied", 403)
    us3.create_bucket(Bucket=name, ACL="private")
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_tags_on_upload_need_put_object_tagging(coffer, tmp_path,
                                                http_endpoint, bucket):
    """PutObject with x-amz-tagging is also s3:PutObjectTagging (§7)."""
    user = User(coffer, tmp_path, policies={"put": identity(allow(
        "s3:PutObject", bucket_arn(bucket, "*")))})
    us3 = user.client(http_endpoint)
    us3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    with pytest.raises(ClientError) as e:
        us3.put_object(Bucket=bucket, Key="tagged", Body=b"t",
                       Tagging="class=public")
    assert error_of(e) == ("AccessDenied", 403)
    user.attach("tag", identity(allow(
        "s3:PutObjectTagging", bucket_arn(bucket, "*"),
        Condition={"StringEquals": {
            "s3:RequestObjectTag/class": "public"}})))
    us3.put_object(Bucket=bucket, Key="tagged", Body=b"t",
                   Tagging="class=public")
    with pytest.raises(ClientError) as e:
        us3.put_object(Bucket=bucket, Key="tagged", Body=b"t",
                       Tagging="class=secret")
    assert error_of(e) == ("AccessDenied", 403)


def test_get_with_version_id_is_get_object_version(coffer, tmp_path,
                                                   http_endpoint, bucket):
    user = User(coffer, tmp_path, policies={"get": identity(allow(
        "s3:GetObject", bucket_arn(bucket, "*")))})
    us3 = user.client(http_endpoint)
    us3.get_object(Bucket=bucket, Key="docs/a.txt")
    with pytest.raises(ClientError) as e:
        us3.get_object(Bucket=bucket, Key="docs/a.txt", VersionId="null")
    assert error_of(e) == ("AccessDenied", 403)


def test_deleting_a_named_version_is_delete_object_version(
        coffer, tmp_path, http_endpoint, s3, bucket):
    s3.put_object(Bucket=bucket, Key="v/a", Body=b"a")
    user = User(coffer, tmp_path, policies={"del": identity(
        allow("s3:DeleteObject", bucket_arn(bucket, "v/*")))})
    mine = user.client(http_endpoint)
    with pytest.raises(ClientError) as e:
        mine.delete_object(Bucket=bucket, Key="v/a", VersionId="null")
    assert error_of(e) == ("AccessDenied", 403)
    assert s3.get_object(Bucket=bucket, Key="v/a")["Body"].read() == b"a"

    user.attach("delv", identity(allow("s3:DeleteObjectVersion",
                                       bucket_arn(bucket, "v/*"))))
    mine.delete_object(Bucket=bucket, Key="v/a", VersionId="null")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="v/a")
    assert error_of(e)[1] == 404
