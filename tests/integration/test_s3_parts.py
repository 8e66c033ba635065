"""GetObject and HeadObject with ?partNumber through boto3 and both aws
CLIs: a part's bytes with 206, Content-Range and x-amz-mp-parts-count,
part 1 of a single PUT, and the errors (416 InvalidPartNumber, 400 for a
bad number or a Range beside it), on plain and encrypted objects.
"""

import os

import pytest

from clients import show, unique_name

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

MIB = 1024 * 1024


def error_of(excinfo):
    """(error code, HTTP status) of a ClientError."""
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def s3(http_endpoint):
    return http_endpoint.boto3("s3")


@pytest.fixture(scope="module")
def bucket(s3):
    name = unique_name("parts")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module", params=["AES256", "aws:kms"])
def multipart(request, s3, bucket):
    """A three-part object, (key, parts), under each SSE mode."""
    key = "mp-" + request.param.replace(":", "-")
    chunks = [os.urandom(5 * MIB + 1), os.urandom(5 * MIB), os.urandom(777)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key,
                                     ServerSideEncryption=request.param)
    uid = uid["UploadId"]
    parts = []
    for n, chunk in enumerate(chunks, 1):
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid,
                              PartNumber=n, Body=chunk)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                 MultipartUpload={"Parts": parts})
    return key, chunks


def test_get_each_part(s3, bucket, multipart):
    key, chunks = multipart
    total = sum(len(c) for c in chunks)
    etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
    offset = 0
    for n, chunk in enumerate(chunks, 1):
        got = s3.get_object(Bucket=bucket, Key=key, PartNumber=n)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentLength"] == len(chunk)
        assert got["ContentRange"] == "bytes %d-%d/%d" % (
            offset, offset + len(chunk) - 1, total)
        assert got["PartsCount"] == 3
        assert got["ETag"] == etag
        assert got["Body"].read() == chunk
        offset += len(chunk)

    head = s3.head_object(Bucket=bucket, Key=key, PartNumber=2)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentLength"] == len(chunks[1])
    assert head["PartsCount"] == 3
    # Without partNumber there is no parts count.
    assert "PartsCount" not in s3.head_object(Bucket=bucket, Key=key)


def test_part_errors(s3, bucket, multipart):
    key, _ = multipart
    for call in (s3.get_object, s3.head_object):
        with pytest.raises(ClientError) as e:
            call(Bucket=bucket, Key=key, PartNumber=4)
        code, status = error_of(e)
        assert status == 416
        if call is s3.get_object:
            assert code == "InvalidPartNumber"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key=key, PartNumber=10001)
    assert error_of(e) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key=key, PartNumber=1,
                      Range="bytes=0-1")
    assert error_of(e) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing", PartNumber=1)
    assert error_of(e) == ("NoSuchKey", 404)


def test_single_put_is_one_part(s3, bucket):
    data = os.urandom(1000)
    s3.put_object(Bucket=bucket, Key="single", Body=data)
    got = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == "bytes 0-999/1000"
    assert "PartsCount" not in got
    assert got["Body"].read() == data
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="single", PartNumber=2)
    assert error_of(e) == ("InvalidPartNumber", 416)

    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty", PartNumber=1)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == b""


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cli_get_part(http_endpoint, clis, version, s3, bucket, multipart,
                      tmp_path):
    key, chunks = multipart
    aws = http_endpoint.aws(clis, version, str(tmp_path))
    out = aws.json("s3api", "get-object", "--bucket", bucket, "--key", key,
                   "--part-number", "3", "part3")
    assert out["PartsCount"] == 3
    assert (tmp_path / "part3").read_bytes() == chunks[2]
    res = aws.run("s3api", "get-object", "--bucket", bucket, "--key", key,
                  "--part-number", "9", "part9")
    assert res.returncode == aws.api_error_rc, show(res)
    assert "InvalidPartNumber" in res.stderr
