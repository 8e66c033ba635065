"""How a request names its bucket and proves who sent it, beyond the
signed header: virtual-hosted addressing (a server started with
--domain), and presigned URLs, SigV2 (what the aws CLI v1 and boto3 make
by default for an endpoint of their own) and SigV4, with expiry,
tampering, the s3:signatureversion condition key and SSE-KMS objects.

The virtual-hosted names (BUCKET.s3.coffer.test) resolve to 127.0.0.1
inside this process only: boto3's address lookup is patched for that
one domain, so nothing is ever asked of a DNS server.
"""

import json
import re
import socket
import time
from email.utils import formatdate
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from clients import ACCESS_KEY, SECRET_KEY, show, unique_name
from server import (REGION, SANITIZER_MARKS, CofferServer, server_env)

pytest.importorskip("boto3")
requests = pytest.importorskip("requests")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

DOMAIN = "s3.coffer.test"


def error_of(excinfo):
    """(error code, HTTP status) of a ClientError."""
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def code_of(resp):
    """The <Code> of an S3 error reply."""
    m = re.search(r"<Code>([^<]*)</Code>", resp.text)
    return m.group(1) if m else None


def client(url, signature_version=None, addressing_style="auto"):
    import boto3
    from botocore.config import Config

    config = Config(signature_version=signature_version,
                    s3={"addressing_style": addressing_style},
                    retries={"total_max_attempts": 1})
    return boto3.session.Session().client(
        "s3", endpoint_url=url, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=config)


def email_date(when):
    """An HTTP date, as a Date header carries it."""
    return formatdate(when, usegmt=True)


def with_query(url, **changes):
    """url with query parameters replaced (None removes one)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


# ---- presigned URLs -----------------------------------------------------


@pytest.fixture(scope="module")
def s3(http_endpoint):
    return http_endpoint.boto3("s3")


@pytest.fixture(scope="module")
def bucket(s3):
    name = unique_name("urls")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def v4(http_endpoint):
    return client(http_endpoint.url, "s3v4")


def test_default_presign_is_sigv2_and_works(s3, bucket):
    key = "dir/a b+c é.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"sigv2 body")
    url = s3.generate_presigned_url("get_object", ExpiresIn=300,
                                    Params={"Bucket": bucket, "Key": key})
    assert "AWSAccessKeyId=" in url and "X-Amz-Algorithm" not in url
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200 and resp.content == b"sigv2 body"

    # A signed subresource: the response-content-type override.
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": key, "ResponseContentType": "text/x-v2"})
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/x-v2"

    url = s3.generate_presigned_url("put_object", Params={
        "Bucket": bucket, "Key": "uploaded"})
    resp = requests.put(url, data=b"put through a v2 URL", timeout=30)
    assert resp.status_code == 200, resp.text
    got = s3.get_object(Bucket=bucket, Key="uploaded")
    assert got["Body"].read() == b"put through a v2 URL"

    # Signed with a Content-Type: the upload must send the same one.
    url = s3.generate_presigned_url("put_object", Params={
        "Bucket": bucket, "Key": "typed", "ContentType": "text/plain"})
    resp = requests.put(url, data=b"t", timeout=30,
                        headers={"Content-Type": "text/plain"})
    assert resp.status_code == 200, resp.text
    resp = requests.put(url, data=b"t", timeout=30,
                        headers={"Content-Type": "text/html"})
    assert resp.status_code == 403
    assert code_of(resp) == "SignatureDoesNotMatch"


def test_sigv2_refusals(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = s3.generate_presigned_url("get_object", ExpiresIn=1,
                                    Params={"Bucket": bucket, "Key": "k"})
    good = s3.generate_presigned_url("get_object",
                                     Params={"Bucket": bucket, "Key": "k"})
    sig = dict(parse_qsl(urlsplit(good).query))["Signature"]
    cases = [
        (with_query(good, Signature=("A" if sig[0] != "A" else "B") +
                    sig[1:]), 403, "SignatureDoesNotMatch"),
        (with_query(good, Expires=str(int(time.time()) + 100000)), 403,
         "SignatureDoesNotMatch"),
        (with_query(good, AWSAccessKeyId="AKIANOTAKEY000000000"), 403,
         "InvalidAccessKeyId"),
        (with_query(good, Expires=None), 403, "AccessDenied"),
        (good.replace("/k?", "/other?"), 403, "SignatureDoesNotMatch"),
    ]
    for target, status, code in cases:
        resp = requests.get(target, timeout=30)
        assert (resp.status_code, code_of(resp)) == (status, code), target
    time.sleep(2.2)
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 403 and code_of(resp) == "AccessDenied"
    assert "expired" in resp.text


def test_sigv4_presign_get_put_and_expiry(v4, s3, bucket):
    s3.put_object(Bucket=bucket, Key="v4 key", Body=b"sigv4 body")
    url = v4.generate_presigned_url("get_object", ExpiresIn=300,
                                    Params={"Bucket": bucket,
                                            "Key": "v4 key"})
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200 and resp.content == b"sigv4 body"
    url = v4.generate_presigned_url("put_object", Params={
        "Bucket": bucket, "Key": "v4 put"})
    resp = requests.put(url, data=b"v4 upload", timeout=30)
    assert resp.status_code == 200, resp.text
    assert s3.get_object(Bucket=bucket,
                         Key="v4 put")["Body"].read() == b"v4 upload"
    url = v4.generate_presigned_url("get_object", ExpiresIn=1, Params={
        "Bucket": bucket, "Key": "v4 key"})
    time.sleep(2.2)
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 403 and code_of(resp) == "AccessDenied"


@pytest.fixture(scope="module")
def v2(http_endpoint):
    """boto3 signing every request with "AWS key:signature" headers."""
    return client(http_endpoint.url, "s3")


def test_signature_version_condition_key(s3, v2, v4, bucket):
    name = unique_name("sigver")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::%s/*" % name,
            "Condition": {"StringEquals": {"s3:signatureversion": "AWS"}},
        }]}))
    params = {"Bucket": name, "Key": "k"}
    resp = requests.get(s3.generate_presigned_url("get_object",
                                                  Params=params), timeout=30)
    assert resp.status_code == 403 and code_of(resp) == "AccessDenied"
    resp = requests.get(v4.generate_presigned_url("get_object",
                                                  Params=params), timeout=30)
    assert resp.status_code == 200
    # SigV2 in the Authorization header is "AWS" too.
    with pytest.raises(ClientError) as e:
        v2.get_object(Bucket=name, Key="k")
    assert error_of(e) == ("AccessDenied", 403)


# ---- SigV2 in the Authorization header ------------------------------------


def test_sigv2_header_round_trip(v2, bucket):
    key = "v2/a b+c é.txt"
    v2.put_object(Bucket=bucket, Key=key, Body=b"v2 body",
                  ContentType="text/plain", Metadata={"m": "1"},
                  Tagging="t=1")
    got = v2.get_object(Bucket=bucket, Key=key, Range="bytes=0-1")
    assert got["Body"].read() == b"v2"
    head = v2.head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "text/plain"
    assert head["Metadata"] == {"m": "1"}
    listed = v2.list_objects_v2(Bucket=bucket, Prefix="v2/")["Contents"]
    assert [o["Key"] for o in listed] == [key]
    v2.copy_object(Bucket=bucket, Key="v2/copy",
                   CopySource={"Bucket": bucket, "Key": key})
    v2.put_object_tagging(Bucket=bucket, Key="v2/copy", Tagging={
        "TagSet": [{"Key": "k", "Value": "v"}]})
    assert v2.get_object_tagging(Bucket=bucket, Key="v2/copy")[
        "TagSet"] == [{"Key": "k", "Value": "v"}]
    up = v2.create_multipart_upload(Bucket=bucket, Key="v2/mp")["UploadId"]
    part = v2.upload_part(Bucket=bucket, Key="v2/mp", UploadId=up,
                          PartNumber=1, Body=b"part")
    v2.complete_multipart_upload(
        Bucket=bucket, Key="v2/mp", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1,
                                    "ETag": part["ETag"]}]})
    assert v2.get_object(Bucket=bucket, Key="v2/mp")["Body"].read() == \
        b"part"
    v2.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": key}, {"Key": "v2/copy"}, {"Key": "v2/mp"}]})
    assert "Contents" not in v2.list_objects_v2(Bucket=bucket, Prefix="v2/")


def test_sigv2_header_refusals(http_endpoint, v2, bucket):
    v2.put_object(Bucket=bucket, Key="k", Body=b"x")
    import boto3
    from botocore.config import Config

    wrong = boto3.session.Session().client(
        "s3", endpoint_url=http_endpoint.url, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key="x" + SECRET_KEY,
        config=Config(signature_version="s3",
                      retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        wrong.get_object(Bucket=bucket, Key="k")
    assert error_of(e) == ("SignatureDoesNotMatch", 403)
    url = "%s/%s/k" % (http_endpoint.url, bucket)
    for headers, code in [
        ({"Authorization": "AWS %s:%s" % (ACCESS_KEY, "A" * 28)},
         "AccessDenied"),
        ({"Authorization": "AWS AKIANOTAKEY000000000:%s" % ("A" * 28),
          "Date": email_date(time.time())}, "InvalidAccessKeyId"),
        ({"Authorization": "AWS %s:%s" % (ACCESS_KEY, "A" * 28),
          "Date": email_date(time.time())}, "SignatureDoesNotMatch"),
        ({"Authorization": "AWS %s:%s" % (ACCESS_KEY, "A" * 28),
          "Date": email_date(time.time() - 3600)}, "RequestTimeTooSkewed"),
        ({"Authorization": "AWS nocolon"}, "AuthorizationHeaderMalformed"),
    ]:
        resp = requests.get(url, headers=headers, timeout=30)
        assert code_of(resp) == code, headers
        assert resp.status_code in (400, 403)


def test_sigv2_header_refuses_kms_objects(v2, v4, bucket, http_endpoint):
    kms = http_endpoint.boto3("kms")
    arn = kms.create_key(Description="sigv2 header")["KeyMetadata"]["Arn"]
    v4.put_object(Bucket=bucket, Key="kms2", Body=b"secret",
                  ServerSideEncryption="aws:kms", SSEKMSKeyId=arn)
    with pytest.raises(ClientError) as e:
        v2.get_object(Bucket=bucket, Key="kms2")
    assert error_of(e) == ("InvalidArgument", 400)


def test_sigv2_refuses_kms_objects(s3, v4, bucket, http_endpoint):
    kms = http_endpoint.boto3("kms")
    arn = kms.create_key(Description="sigv2")["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=bucket, Key="kms", Body=b"secret",
                  ServerSideEncryption="aws:kms", SSEKMSKeyId=arn)
    params = {"Bucket": bucket, "Key": "kms"}
    resp = requests.get(s3.generate_presigned_url("get_object",
                                                  Params=params), timeout=30)
    assert resp.status_code == 400 and code_of(resp) == "InvalidArgument"
    assert "Signature Version 4" in resp.text
    resp = requests.get(v4.generate_presigned_url("get_object",
                                                  Params=params), timeout=30)
    assert resp.status_code == 200 and resp.content == b"secret"
    # Nor may a SigV2 request ask for SSE-KMS.
    url = s3.generate_presigned_url("put_object", Params={
        "Bucket": bucket, "Key": "v2 kms", "ServerSideEncryption": "aws:kms"})
    resp = requests.put(url, data=b"x", timeout=30, headers={
        "x-amz-server-side-encryption": "aws:kms"})
    assert resp.status_code == 400 and code_of(resp) == "InvalidArgument"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cli_presign(http_endpoint, clis, version, s3, bucket, tmp_path):
    aws = http_endpoint.aws(clis, version, str(tmp_path))
    s3.put_object(Bucket=bucket, Key="cli presign", Body=b"from the CLI")
    res = aws.run("s3", "presign", "s3://%s/cli presign" % bucket,
                  "--expires-in", "120")
    assert res.returncode == 0, show(res)
    url = res.stdout.strip()
    # CLI v1 signs with SigV2 by default, v2 with SigV4.
    assert ("AWSAccessKeyId=" in url) == (version == "v1"), url
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200 and resp.content == b"from the CLI"


# ---- virtual-hosted addressing ------------------------------------------


class DomainServer(CofferServer):
    """A coffer server that also serves BUCKET.<DOMAIN> hosts."""

    def argv(self):
        return super().argv() + ["--domain", DOMAIN]


@pytest.fixture(scope="module")
def vhost(tmp_path_factory):
    srv = DomainServer(tmp_path_factory.mktemp("vhost"),
                       server_env(ACCESS_KEY, SECRET_KEY))
    srv.start()
    yield srv
    srv.stop()
    tail = srv.stderr_text()[-8000:]
    assert not any(mark in tail for mark in SANITIZER_MARKS), tail


@pytest.fixture
def resolve_domain(monkeypatch):
    """Names under DOMAIN resolve to 127.0.0.1, in this process only."""
    real = socket.getaddrinfo

    def lookup(host, *args, **kwargs):
        if isinstance(host, str) and (host == DOMAIN or
                                      host.endswith("." + DOMAIN)):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


@pytest.fixture
def vurl(vhost, resolve_domain):
    return "http://%s:%d" % (DOMAIN, vhost.port)


@pytest.mark.parametrize("sigver", [None, "s3v4"])
def test_virtual_hosted_round_trip(vurl, sigver):
    c = client(vurl, sigver, "virtual")
    name = unique_name("vh")
    c.create_bucket(Bucket=name)
    c.head_bucket(Bucket=name)
    for key in ("top", "dir/sub key+x", "dir/"):
        c.put_object(Bucket=name, Key=key, Body=key.encode())
        assert c.get_object(Bucket=name, Key=key)["Body"].read() == \
            key.encode()
    listed = c.list_objects_v2(Bucket=name, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/",
                                                      "dir/sub key+x"]
    assert [o["Key"] for o in c.list_objects(Bucket=name)["Contents"]] == [
        "dir/", "dir/sub key+x", "top"]
    c.copy_object(Bucket=name, Key="copy", CopySource="%s/top" % name)
    c.put_object_tagging(Bucket=name, Key="copy", Tagging={"TagSet": [
        {"Key": "v", "Value": "h"}]})
    assert c.get_object_tagging(Bucket=name, Key="copy")["TagSet"] == [
        {"Key": "v", "Value": "h"}]
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket=name, Key="absent")
    assert error_of(e) == ("NoSuchKey", 404)

    url = c.generate_presigned_url("get_object", Params={
        "Bucket": name, "Key": "dir/sub key+x"})
    assert urlsplit(url).hostname == "%s.%s" % (name, DOMAIN)
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200 and resp.content == b"dir/sub key+x"
    url = c.generate_presigned_url("put_object", Params={
        "Bucket": name, "Key": "via url"})
    assert requests.put(url, data=b"u", timeout=30).status_code == 200

    for key in ("top", "dir/", "dir/sub key+x", "copy", "via url"):
        c.delete_object(Bucket=name, Key=key)
    c.delete_bucket(Bucket=name)


def test_path_style_still_served(vhost, vurl):
    """The domain itself, and any other host, are path style."""
    name = unique_name("ps")
    for url in (vurl, vhost.http_url):
        c = client(url, "s3v4", "path")
        if url == vurl:
            c.create_bucket(Bucket=name)
        c.put_object(Bucket=name, Key="k", Body=url.encode())
        assert c.get_object(Bucket=name, Key="k")["Body"].read() == \
            url.encode()
        assert name in [b["Name"] for b in c.list_buckets()["Buckets"]]
    virtual = client(vurl, "s3v4", "virtual")
    assert [o["Key"] for o in
            virtual.list_objects_v2(Bucket=name)["Contents"]] == ["k"]


def v2_signed(http_endpoint, method, path, headers=None, body=b""):
    """Headers of a SigV2 (Authorization: AWS) request, signed by
    botocore for `path`."""
    from botocore.auth import HmacV1Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=http_endpoint.url + path,
                     data=body, headers=dict(headers or {}))
    HmacV1Auth(Credentials(ACCESS_KEY, SECRET_KEY)).add_auth(req)
    return dict(req.headers.items())


def test_sigv2_cannot_choose_operations_it_does_not_sign(
        http_endpoint, v2, bucket):
    v2.put_object(Bucket=bucket, Key="keep", Body=b"k")
    with pytest.raises(ClientError) as e:
        v2.get_bucket_encryption(Bucket=bucket)
    assert error_of(e) == ("InvalidRequest", 400)
    # A signature for DELETE /bucket replayed with ?publicAccessBlock.
    signed = v2_signed(http_endpoint, "DELETE", "/%s/" % bucket)
    resp = requests.delete("%s/%s/" % (http_endpoint.url, bucket),
                           headers=signed, timeout=30)
    assert code_of(resp) == "BucketNotEmpty"     # the signature is good
    for sub in ("publicAccessBlock", "encryption", "policyStatus"):
        resp = requests.delete("%s/%s/?%s" % (http_endpoint.url, bucket,
                                              sub),
                               headers=signed, timeout=30)
        assert resp.status_code == 400 and \
            code_of(resp) == "InvalidRequest", sub


def test_sigv2_header_signs_headers_not_parameters(http_endpoint, v2,
                                                   bucket):
    """A signed header moved into the query no longer matches."""
    v2.put_object(Bucket=bucket, Key="src", Body=b"source")
    path = "/%s/dst" % bucket
    signed = v2_signed(http_endpoint, "PUT", path,
                       {"x-amz-copy-source": "/%s/src" % bucket})
    del signed["x-amz-copy-source"]
    resp = requests.put("%s%s?x-amz-copy-source=%%2F%s%%2Fsrc"
                        % (http_endpoint.url, path, bucket),
                        headers=signed, data=b"other", timeout=30)
    assert resp.status_code == 403
    assert code_of(resp) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as e:
        v2.head_object(Bucket=bucket, Key="dst")
    assert error_of(e)[1] == 404
