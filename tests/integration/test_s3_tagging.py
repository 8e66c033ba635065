"""Object and bucket tagging and the public access block through boto3,
both aws CLIs and raw requests: the tag limits and their error codes,
x-amz-tagging on PutObject and multipart uploads, x-amz-tagging-count,
the tag condition keys in bucket policies, NoSuchTagSet and
NoSuchPublicAccessBlockConfiguration.
"""

import base64
import hashlib
import json

import pytest

from clients import show, unique_name

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

MIB = 1024 * 1024


def error_of(excinfo):
    """(error code, HTTP status) of a ClientError."""
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def tagset(pairs):
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def pairs_of(resp):
    return sorted((t["Key"], t["Value"]) for t in resp["TagSet"])


@pytest.fixture(scope="module")
def s3(http_endpoint):
    return http_endpoint.boto3("s3")


@pytest.fixture
def bucket(s3):
    name = unique_name("tags")
    s3.create_bucket(Bucket=name)
    return name


def raw_put(s3, bucket, key, body, md5=True):
    """A PutObjectTagging whose body the test writes itself, signed by
    boto3 (a before-sign hook swaps the serialized request); md5=False
    sends no integrity header at all."""
    def swap(request, **_):
        request.data = body
        del request.headers["Content-MD5"]
        if md5:
            request.headers["Content-MD5"] = base64.b64encode(
                hashlib.md5(body).digest()).decode()
        for name in list(request.headers):
            if name.lower().startswith("x-amz-checksum") or \
                    name.lower() == "x-amz-sdk-checksum-algorithm":
                del request.headers[name]

    events = s3.meta.events
    events.register_first("before-sign.s3.PutObjectTagging", swap)
    try:
        return s3.put_object_tagging(Bucket=bucket, Key=key,
                                     Tagging=tagset([("a", "b")]))
    finally:
        events.unregister("before-sign.s3.PutObjectTagging", swap)


# ---- object tagging -----------------------------------------------------


def test_object_tagging_round_trip(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="k")

    tags = [("Project", "coffer"), ("with space", "a+b=c/d:e@f"),
            ("é", "ü"), ("empty", "")]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(tags))
    assert pairs_of(s3.get_object_tagging(Bucket=bucket, Key="k")) == \
        sorted(tags)
    assert s3.head_object(Bucket=bucket, Key="k")["TagCount"] == 4
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 4

    # A PUT replaces the whole set; the body and ETag stay.
    etag = s3.head_object(Bucket=bucket, Key="k")["ETag"]
    s3.put_object_tagging(Bucket=bucket, Key="k",
                          Tagging=tagset([("only", "1")]))
    assert pairs_of(s3.get_object_tagging(Bucket=bucket, Key="k")) == [
        ("only", "1")]
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"x" and got["ETag"] == etag

    res = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="k")


def test_put_object_with_tagging_header(s3, bucket):
    s3.put_object(Bucket=bucket, Key="h", Body=b"x",
                  Tagging="a=1&b=two%20words&c=x%2By&d")
    assert pairs_of(s3.get_object_tagging(Bucket=bucket, Key="h")) == [
        ("a", "1"), ("b", "two words"), ("c", "x+y"), ("d", "")]
    # Overwriting without the header leaves the new object untagged.
    s3.put_object(Bucket=bucket, Key="h", Body=b"y")
    assert s3.get_object_tagging(Bucket=bucket, Key="h")["TagSet"] == []


def test_multipart_tags_apply_at_complete(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m",
                                     Tagging="stage=mpu")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="m", UploadId=uid, PartNumber=1,
                          Body=b"p" * 100)
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="m")
    assert error_of(e) == ("NoSuchKey", 404)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="m", UploadId=uid, MultipartUpload={"Parts": [{
            "PartNumber": 1, "ETag": part["ETag"]}]})
    assert pairs_of(s3.get_object_tagging(Bucket=bucket, Key="m")) == [
        ("stage", "mpu")]


def test_object_tag_limits(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(
        [("k%d" % i, "v") for i in range(10)] + []))
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(
        [("k" * 128, "v" * 256), ("ü" * 128, "é" * 256)]))
    invalid = [
        [("k%d" % i, "v") for i in range(11)],
        [("k" * 129, "v")],
        [("ü" * 129, "v")],
        [("k", "v" * 257)],
        [("dup", "1"), ("dup", "2")],
        [("bad!", "v")],
        [("k", "bad#value")],
    ]
    for tags in invalid:
        with pytest.raises(ClientError) as e:
            s3.put_object_tagging(Bucket=bucket, Key="k",
                                  Tagging=tagset(tags))
        assert error_of(e) == ("InvalidTag", 400), tags
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="t", Body=b"x",
                      Tagging="&".join("k%d=v" % i for i in range(11)))
    assert error_of(e) == ("InvalidTag", 400)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="=v")
    assert error_of(e) == ("InvalidTag", 400)
    for header in ("a=1&a=2", "a=%zz"):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging=header)
        assert error_of(e) == ("InvalidArgument", 400), header
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="t")
    assert error_of(e) == ("404", 404)


def test_object_tagging_errors(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for call in (lambda: s3.get_object_tagging(Bucket=bucket, Key="no"),
                 lambda: s3.delete_object_tagging(Bucket=bucket, Key="no"),
                 lambda: s3.put_object_tagging(Bucket=bucket, Key="no",
                                               Tagging=tagset([("a", "b")]))):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket="no-such-" + bucket, Key="k")
    assert error_of(e) == ("NoSuchBucket", 404)

    for body in (b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet>"
                 b"</Tagging>", b"<Tagging/>", b"not xml"):
        with pytest.raises(ClientError) as e:
            raw_put(s3, bucket, "k", body)
        assert error_of(e) == ("MalformedXML", 400), body
    with pytest.raises(ClientError) as e:
        raw_put(s3, bucket, "k", b"<Tagging><TagSet/></Tagging>", md5=False)
    assert error_of(e) == ("InvalidRequest", 400)
    raw_put(s3, bucket, "k",
            b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            b"<TagSet><Tag><Key>ns</Key><Value>ok</Value></Tag></TagSet>"
            b"</Tagging>")
    assert pairs_of(s3.get_object_tagging(Bucket=bucket, Key="k")) == [
        ("ns", "ok")]


def deny(bucket, action, condition):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": action,
        "Resource": "arn:aws:s3:::%s/*" % bucket, "Condition": condition}]})


def test_existing_tag_condition(s3, bucket):
    s3.put_object(Bucket=bucket, Key="secret", Body=b"s",
                  Tagging="class=secret")
    s3.put_object(Bucket=bucket, Key="public", Body=b"p",
                  Tagging="class=public")
    s3.put_bucket_policy(Bucket=bucket, Policy=deny(
        bucket, ["s3:GetObject", "s3:GetObjectTagging"],
        {"StringEquals": {"s3:ExistingObjectTag/class": "secret"}}))
    assert s3.get_object(Bucket=bucket, Key="public")["Body"].read() == b"p"
    for call in (s3.get_object, s3.get_object_tagging):
        with pytest.raises(ClientError) as e:
            call(Bucket=bucket, Key="secret")
        assert error_of(e) == ("AccessDenied", 403)
    # The tag is the object's own: change it and the object reads.
    s3.put_object_tagging(Bucket=bucket, Key="secret",
                          Tagging=tagset([("class", "public")]))
    assert s3.get_object(Bucket=bucket, Key="secret")["Body"].read() == b"s"


def test_request_tag_condition(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=deny(
        bucket, ["s3:PutObject", "s3:PutObjectTagging"],
        {"StringEquals": {"s3:RequestObjectTag/env": "prod"}}))
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="n", Body=b"x", Tagging="env=prod")
    assert error_of(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="k",
                              Tagging=tagset([("env", "prod")]))
    assert error_of(e) == ("AccessDenied", 403)
    s3.put_object(Bucket=bucket, Key="n", Body=b"x", Tagging="env=dev")
    s3.put_object_tagging(Bucket=bucket, Key="k",
                          Tagging=tagset([("env", "dev")]))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cli_object_tagging(http_endpoint, clis, version, s3, bucket,
                            tmp_path):
    aws = http_endpoint.aws(clis, version, str(tmp_path))
    (tmp_path / "f").write_bytes(b"cli")
    res = aws.run("s3api", "put-object", "--bucket", bucket, "--key", "c",
                  "--body", "f", "--tagging", "from=cli&n=1")
    assert res.returncode == 0, show(res)
    out = aws.json("s3api", "get-object-tagging", "--bucket", bucket,
                   "--key", "c")
    assert pairs_of(out) == [("from", "cli"), ("n", "1")]
    res = aws.run("s3api", "put-object-tagging", "--bucket", bucket,
                  "--key", "c", "--tagging",
                  "TagSet=[{Key=k,Value=v},{Key=x,Value=y}]")
    assert res.returncode == 0, show(res)
    assert pairs_of(s3.get_object_tagging(Bucket=bucket, Key="c")) == [
        ("k", "v"), ("x", "y")]
    got = aws.json("s3api", "get-object", "--bucket", bucket, "--key", "c",
                   str(tmp_path / "out"))
    assert got["TagCount"] == 2
    res = aws.run("s3api", "delete-object-tagging", "--bucket", bucket,
                  "--key", "c")
    assert res.returncode == 0, show(res)
    res = aws.run("s3api", "put-object-tagging", "--bucket", bucket,
                  "--key", "c", "--tagging", "TagSet=[{Key=bad!,Value=v}]")
    assert res.returncode == aws.api_error_rc, show(res)
    assert "InvalidTag" in res.stderr


# ---- bucket tagging -----------------------------------------------------


def test_bucket_tagging(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_of(e) == ("NoSuchTagSet", 404)

    tags = [("k%02d" % i, "v%d" % i) for i in range(50)]
    res = s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset(tags))
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert pairs_of(s3.get_bucket_tagging(Bucket=bucket)) == tags
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset([("env", "dev")]))
    assert pairs_of(s3.get_bucket_tagging(Bucket=bucket)) == [("env", "dev")]

    for bad in ([("k%d" % i, "v") for i in range(51)], [("aws:x", "v")],
                [("a", "1"), ("a", "2")], [("k" * 129, "v")]):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset(bad))
        assert error_of(e) == ("InvalidTag", 400)
    assert pairs_of(s3.get_bucket_tagging(Bucket=bucket)) == [("env", "dev")]

    res = s3.delete_bucket_tagging(Bucket=bucket)
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_of(e) == ("NoSuchTagSet", 404)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket="no-such-" + bucket)
    assert error_of(e) == ("NoSuchBucket", 404)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cli_bucket_tagging(http_endpoint, clis, version, bucket, tmp_path):
    aws = http_endpoint.aws(clis, version, str(tmp_path))
    res = aws.run("s3api", "get-bucket-tagging", "--bucket", bucket)
    assert res.returncode == aws.api_error_rc and "NoSuchTagSet" in \
        res.stderr, show(res)
    res = aws.run("s3api", "put-bucket-tagging", "--bucket", bucket,
                  "--tagging", "TagSet=[{Key=team,Value=storage}]")
    assert res.returncode == 0, show(res)
    out = aws.json("s3api", "get-bucket-tagging", "--bucket", bucket)
    assert pairs_of(out) == [("team", "storage")]
    res = aws.run("s3api", "delete-bucket-tagging", "--bucket", bucket)
    assert res.returncode == 0, show(res)


# ---- public access block ------------------------------------------------


def test_public_access_block(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket=bucket)
    assert error_of(e) == ("NoSuchPublicAccessBlockConfiguration", 404)

    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    got = s3.get_public_access_block(Bucket=bucket)
    assert got["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": False, "IgnorePublicAcls": False,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True}

    full = {"BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    s3.put_public_access_block(Bucket=bucket,
                               PublicAccessBlockConfiguration=full)
    got = s3.get_public_access_block(Bucket=bucket)
    assert got["PublicAccessBlockConfiguration"] == full

    res = s3.delete_public_access_block(Bucket=bucket)
    assert res["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket=bucket)
    assert error_of(e) == ("NoSuchPublicAccessBlockConfiguration", 404)
    with pytest.raises(ClientError) as e:
        s3.put_public_access_block(
            Bucket="no-such-" + bucket,
            PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    assert error_of(e) == ("NoSuchBucket", 404)


def test_public_access_block_malformed(s3, bucket):
    def swap(request, **_):
        body = (b"<PublicAccessBlockConfiguration><BlockPublicAcls>maybe"
                b"</BlockPublicAcls></PublicAccessBlockConfiguration>")
        request.data = body
        request.headers["Content-MD5"] = base64.b64encode(
            hashlib.md5(body).digest()).decode()
        for name in list(request.headers):
            if name.lower().startswith(("x-amz-checksum",
                                        "x-amz-sdk-checksum")):
                del request.headers[name]

    event = "before-sign.s3.PutPublicAccessBlock"
    s3.meta.events.register_first(event, swap)
    try:
        with pytest.raises(ClientError) as e:
            s3.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    finally:
        s3.meta.events.unregister(event, swap)
    assert error_of(e) == ("MalformedXML", 400)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cli_public_access_block(http_endpoint, clis, version, bucket,
                                 tmp_path):
    aws = http_endpoint.aws(clis, version, str(tmp_path))
    res = aws.run("s3api", "put-public-access-block", "--bucket", bucket,
                  "--public-access-block-configuration",
                  "BlockPublicAcls=true,IgnorePublicAcls=true")
    assert res.returncode == 0, show(res)
    out = aws.json("s3api", "get-public-access-block", "--bucket", bucket)
    assert out["PublicAccessBlockConfiguration"]["IgnorePublicAcls"] is True
    assert out["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is \
        False
    res = aws.run("s3api", "delete-public-access-block", "--bucket", bucket)
    assert res.returncode == 0, show(res)
    res = aws.run("s3api", "get-public-access-block", "--bucket", bucket)
    assert res.returncode == aws.api_error_rc, show(res)
    assert "NoSuchPublicAccessBlockConfiguration" in res.stderr
