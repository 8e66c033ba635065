"""Bucket policies as AWS evaluates them, against the running server:
anonymous callers, deny without TLS (aws:SecureTransport), source-address
conditions (loopback addresses only: 127.0.0.1 against 127.0.0.2), the
recipe's encryption Deny applied to users, and the linter (coffer admin
policy lint, and the warnings logged at PutBucketPolicy).
"""

import json

import pytest

from access_helpers import (User, admin, allow, anonymous_s3, bucket_arn,
                            error_of, identity, signed_get)
from clients import ACCESS_KEY, S3_CP_FAILED, SECRET_KEY, Endpoint, show
from clients import unique_name

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError


@pytest.fixture
def s3(http_endpoint):
    return http_endpoint.boto3("s3")


@pytest.fixture
def bucket(s3):
    name = unique_name("pol")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="public/a.txt", Body=b"open")
    s3.put_object(Bucket=name, Key="secret/b.txt", Body=b"closed")
    return name


def policy(*statements):
    return json.dumps({"Version": "2012-10-17",
                       "Statement": list(statements)})


def everyone(effect, action, resource, **extra):
    st = {"Effect": effect, "Principal": "*", "Action": action,
          "Resource": resource}
    st.update(extra)
    return st


# ---- Anonymous callers ------------------------------------------------------

def test_anonymous_refused_without_policy(endpoint, bucket):
    anon = anonymous_s3(endpoint)
    for call in (lambda: anon.list_buckets(),
                 lambda: anon.get_object(Bucket=bucket, Key="public/a.txt"),
                 lambda: anon.list_objects_v2(Bucket=bucket),
                 lambda: anon.put_object(Bucket=bucket, Key="x", Body=b"x")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("AccessDenied", 403)


def test_anonymous_read_by_policy(endpoint, s3, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(everyone(
        "Allow", "s3:GetObject", bucket_arn(bucket, "public/*"))))
    anon = anonymous_s3(endpoint)
    got = anon.get_object(Bucket=bucket, Key="public/a.txt")
    assert got["Body"].read() == b"open"
    with pytest.raises(ClientError) as e:
        anon.get_object(Bucket=bucket, Key="secret/b.txt")
    assert error_of(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        anon.put_object(Bucket=bucket, Key="public/new", Body=b"x")
    assert error_of(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        anon.list_objects_v2(Bucket=bucket)
    assert error_of(e) == ("AccessDenied", 403)
    status = s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]
    assert status["IsPublic"] is True


def test_anonymous_missing_key_is_403_without_list(endpoint, s3, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(everyone(
        "Allow", "s3:GetObject", bucket_arn(bucket, "*"))))
    with pytest.raises(ClientError) as e:
        anonymous_s3(endpoint).get_object(Bucket=bucket, Key="nope")
    assert error_of(e) == ("AccessDenied", 403)


def test_anonymous_read_with_cli(coffer, aws_files, clis, tmp_path, s3,
                                 bucket):
    """aws s3 cp --no-sign-request of an object a policy makes public."""
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(everyone(
        "Allow", "s3:GetObject", bucket_arn(bucket, "public/*"))))
    aws = Endpoint(coffer, aws_files, "https").aws(clis, "v2", tmp_path)
    res = aws.run("s3", "cp", "--no-sign-request",
                  "s3://%s/public/a.txt" % bucket, "got.txt")
    assert res.returncode == 0, show(res)
    assert (tmp_path / "got.txt").read_bytes() == b"open"
    res = aws.run("s3", "cp", "--no-sign-request",
                  "s3://%s/secret/b.txt" % bucket, "no.txt")
    assert res.returncode == S3_CP_FAILED, show(res)


# ---- Public access block ----------------------------------------------------

def put_block(s3, bucket, **flags):
    conf = {"BlockPublicAcls": False, "IgnorePublicAcls": False,
            "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    conf.update(flags)
    s3.put_public_access_block(Bucket=bucket,
                               PublicAccessBlockConfiguration=conf)


def test_block_public_policy_refuses_public_policy(s3, bucket):
    put_block(s3, bucket, BlockPublicPolicy=True)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy(everyone(
            "Allow", "s3:GetObject", bucket_arn(bucket, "*"))))
    assert error_of(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert error_of(e) == ("NoSuchBucketPolicy", 404)
    # A condition on the source address makes it not public (policy.md).
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(everyone(
        "Allow", "s3:GetObject", bucket_arn(bucket, "*"),
        Condition={"IpAddress": {"aws:SourceIp": "127.0.0.1"}})))
    # So is a Deny for everyone.
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_unencrypted(bucket))


def test_restrict_public_buckets(coffer, tmp_path, endpoint, s3, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(everyone(
        "Allow", "s3:GetObject", bucket_arn(bucket, "public/*"))))
    anon = anonymous_s3(endpoint)
    anon.get_object(Bucket=bucket, Key="public/a.txt")
    user = User(coffer, tmp_path)

    put_block(s3, bucket, RestrictPublicBuckets=True)
    with pytest.raises(ClientError) as e:
        anon.get_object(Bucket=bucket, Key="public/a.txt")
    assert error_of(e) == ("AccessDenied", 403)
    # Callers of the bucket owner's account keep the public grant.
    got = user.client(endpoint).get_object(Bucket=bucket, Key="public/a.txt")
    assert got["Body"].read() == b"open"

    s3.delete_public_access_block(Bucket=bucket)
    anon.get_object(Bucket=bucket, Key="public/a.txt")


# ---- TLS --------------------------------------------------------------------

def deny_plain_http(bucket):
    return policy(everyone("Deny", "s3:*",
                           [bucket_arn(bucket), bucket_arn(bucket, "*")],
                           Condition={"Bool": {
                               "aws:SecureTransport": "false"}}))


def test_deny_without_tls_boto3(coffer, aws_files, s3, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_plain_http(bucket))
    plain = Endpoint(coffer, aws_files, "http").boto3("s3")
    tls = Endpoint(coffer, aws_files, "https").boto3("s3")
    with pytest.raises(ClientError) as e:
        plain.get_object(Bucket=bucket, Key="public/a.txt")
    assert error_of(e) == ("AccessDenied", 403)
    assert tls.get_object(Bucket=bucket,
                          Key="public/a.txt")["Body"].read() == b"open"
    # The owner may always remove the policy that locks it out (§3.1).
    plain.delete_bucket_policy(Bucket=bucket)
    plain.get_object(Bucket=bucket, Key="public/a.txt")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_deny_without_tls_cli(coffer, aws_files, clis, tmp_path, s3,
                              bucket, version):
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_plain_http(bucket))
    src = tmp_path / "up.txt"
    src.write_bytes(b"upload")
    plain = Endpoint(coffer, aws_files, "http").aws(clis, version, tmp_path)
    res = plain.run("s3", "cp", str(src), "s3://%s/up.txt" % bucket)
    assert res.returncode == S3_CP_FAILED, show(res)
    assert "AccessDenied" in res.stderr
    tls = Endpoint(coffer, aws_files, "https").aws(clis, version, tmp_path)
    res = tls.run("s3", "cp", str(src), "s3://%s/up.txt" % bucket)
    assert res.returncode == 0, show(res)


def test_tls_version_condition(coffer, aws_files, s3, bucket):
    """s3:TlsVersion: present over HTTPS only (policy.md §5)."""
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(everyone(
        "Deny", "s3:GetObject", bucket_arn(bucket, "*"),
        Condition={"NumericLessThan": {"s3:TlsVersion": "1.2"}})))
    tls = Endpoint(coffer, aws_files, "https").boto3("s3")
    tls.get_object(Bucket=bucket, Key="public/a.txt")
    # Absent on plain HTTP: NumericLessThan is then false, nothing denied.
    s3.get_object(Bucket=bucket, Key="public/a.txt")


# ---- Source addresses -------------------------------------------------------

def test_source_ip_condition(http_endpoint, s3, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(everyone(
        "Deny", "s3:GetObject", bucket_arn(bucket, "*"),
        Condition={"NotIpAddress": {"aws:SourceIp": "127.0.0.1/32"}})))
    path = "/%s/public/a.txt" % bucket
    status, body = signed_get(http_endpoint, "127.0.0.1", path, ACCESS_KEY,
                              SECRET_KEY)
    assert (status, body) == (200, b"open")
    status, body = signed_get(http_endpoint, "127.0.0.2", path, ACCESS_KEY,
                              SECRET_KEY)
    assert status == 403 and b"AccessDenied" in body


def test_source_ip_allow_for_anonymous(endpoint, s3, bucket):
    """IpAddress in an Allow for "*" (vectors 23, 25), over each transport:
    only the listed loopback address reads anonymously."""
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(everyone(
        "Allow", "s3:GetObject", bucket_arn(bucket, "public/*"),
        Condition={"IpAddress": {"aws:SourceIp": ["127.0.0.2"]}})))
    anon = anonymous_s3(endpoint)
    with pytest.raises(ClientError) as e:
        anon.get_object(Bucket=bucket, Key="public/a.txt")
    assert error_of(e) == ("AccessDenied", 403)
    status, body = _unsigned_from(endpoint, "127.0.0.2",
                                  "/%s/public/a.txt" % bucket)
    assert (status, body) == (200, b"open")


def _unsigned_from(endpoint, source_ip, path):
    import http.client
    import ssl

    host, port = endpoint.url.split("//")[1].split(":")
    if endpoint.ca:
        conn = http.client.HTTPSConnection(
            host, int(port), source_address=(source_ip, 0), timeout=30,
            context=ssl.create_default_context(cafile=str(endpoint.ca)))
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=30,
                                          source_address=(source_ip, 0))
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# ---- The recipe's Deny, for users -------------------------------------------

def deny_unencrypted(bucket):
    return policy({
        "Sid": "DenyUnEncryptedObjectUploads", "Effect": "Deny",
        "Principal": "*", "Action": "s3:PutObject",
        "Resource": bucket_arn(bucket, "*"),
        "Condition": {"StringNotEquals": {
            "s3:x-amz-server-side-encryption": "aws:kms"}}})


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_recipe_deny_applies_to_users(coffer, aws_files, clis, tmp_path, s3,
                                      bucket, version):
    """Vector 13: the Deny hits a user whose identity policy allows
    PutObject; with --sse aws:kms (the aws/s3 key, usable through S3 by
    the account's callers) the upload goes through."""
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_unencrypted(bucket))
    user = User(coffer, tmp_path, policies={"put": identity(allow(
        ["s3:PutObject", "s3:GetObject"], bucket_arn(bucket, "*")))})
    endpoint = Endpoint(coffer, aws_files, "https")
    aws = endpoint.aws(clis, version, tmp_path)
    aws.env = user.env(endpoint, aws_files)
    src = tmp_path / "f.txt"
    src.write_bytes(b"payload")

    res = aws.run("s3", "cp", str(src), "s3://%s/plain.txt" % bucket)
    assert res.returncode == S3_CP_FAILED and "AccessDenied" in res.stderr
    res = aws.run("s3", "cp", str(src), "s3://%s/enc.txt" % bucket,
                  "--sse", "aws:kms")
    assert res.returncode == 0, show(res)
    head = s3.head_object(Bucket=bucket, Key="enc.txt")
    assert head["ServerSideEncryption"] == "aws:kms"


# ---- The linter -------------------------------------------------------------

def lint(coffer, tmp_path, doc, *opts):
    path = tmp_path / "lint.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return admin(coffer, "policy", "lint", *opts, path, check=False)


def test_lint_explains_and_flags_recipe_trap(coffer, tmp_path):
    res = lint(coffer, tmp_path, deny_unencrypted("lint-bucket"))
    assert res.returncode == 0, show(res)
    out = res.stdout
    assert out.startswith("bucket policy of bucket lint-bucket, 1 warning")
    assert ('statement "DenyUnEncryptedObjectUploads": denies '
            "s3:PutObject on arn:aws:s3:::lint-bucket/* to everyone "
            "(anonymous callers included) when "
            's3:x-amz-server-side-encryption is not "aws:kms" '
            "(or the key is absent).") in out
    assert "whatever the bucket default" in out


def test_lint_flags_key_some_actions_never_carry(coffer, tmp_path):
    res = lint(coffer, tmp_path, json.loads(policy(everyone(
        "Deny", "s3:*", ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
        Condition={"StringNotEquals": {"s3:prefix": "home/"}}))))
    assert res.returncode == 0, show(res)
    assert "s3:prefix never comes with" in res.stdout
    assert ("StringNotEquals is always true for those and this Deny "
            "refuses every such request") in res.stdout


def test_lint_flags_resource_that_never_matches(coffer, tmp_path):
    doc = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
        "Resource": "arn:aws:s3:::b/*"}]}
    res = lint(coffer, tmp_path, doc)
    assert res.returncode == 0, show(res)
    assert res.stdout.startswith("identity policy, 1 warning")
    assert "s3:ListBucket never applies" in res.stdout


def test_lint_refuses_what_s3_refuses(coffer, tmp_path):
    res = lint(coffer, tmp_path, '{"Statement": [{"Effect": "Maybe", '
               '"Principal": "*", "Action": "s3:GetObject", '
               '"Resource": "arn:aws:s3:::b/*"}]}')
    assert res.returncode == 1
    assert "Invalid effect: Maybe" in res.stdout
    res = lint(coffer, tmp_path, json.loads(policy(everyone(
        "Allow", "s3:GetObject", "arn:aws:s3:::b/*",
        Condition={"StringEquals": {"s3:NoSuchKey": "x"}}))))
    assert res.returncode == 1 and "invalid condition key" in res.stdout


def test_put_bucket_policy_logs_lint_warnings(coffer, s3, bucket):
    start = coffer.stderr_path.stat().st_size
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_unencrypted(bucket))
    with open(coffer.stderr_path, "rb") as f:
        f.seek(start)
        new = f.read().decode(errors="replace")
    assert ("policy of bucket %s: warning: statement "
            '"DenyUnEncryptedObjectUploads"' % bucket) in new
