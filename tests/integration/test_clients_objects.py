"""Object reads and writes through boto3 and the aws CLI that the recipe
tests do not reach: Range forms, conditional GETs with AWS's precedence,
response-* overrides, metadata and content-header round trips,
DeleteObjects, CompleteMultipartUpload errors, the size and count limits,
the 404s, and consistency: read-after-write and concurrent PUTs of one key.
"""

import concurrent.futures
import datetime
import hashlib
import os

import pytest

from clients import ACCESS_KEY, SECRET_KEY, unique_name
from server import REGION

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

MIB = 1024 * 1024
DAY = datetime.timedelta(days=1)


def error_of(excinfo):
    """(error code, HTTP status) of a ClientError."""
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def status_of(resp):
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def headers_of(resp):
    return resp["ResponseMetadata"]["HTTPHeaders"]


def md5_etag(data):
    return '"%s"' % hashlib.md5(data).hexdigest()


def multipart_etag(chunks):
    digests = b"".join(hashlib.md5(c).digest() for c in chunks)
    return '"%s-%d"' % (hashlib.md5(digests).hexdigest(), len(chunks))


@pytest.fixture(scope="module")
def s3(http_endpoint):
    return http_endpoint.boto3("s3")


@pytest.fixture(scope="module")
def quiet_s3(http_endpoint):
    """A boto3 client that does not ask for response checksums, so that it
    does not add x-amz-checksum-mode to every GET (see the 304 test)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 1},
                    response_checksum_validation="when_required")
    return boto3.session.Session().client(
        "s3", endpoint_url=http_endpoint.url, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=config)


@pytest.fixture(scope="module")
def bucket(s3):
    name = unique_name("objects")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def stored(s3, bucket):
    """One 100 000-byte object: (key, data, ETag, Last-Modified)."""
    data = os.urandom(100000)
    put = s3.put_object(Bucket=bucket, Key="ranged", Body=data)
    head = s3.head_object(Bucket=bucket, Key="ranged")
    return "ranged", data, put["ETag"], head["LastModified"]


# ---- Range ----------------------------------------------------------------

@pytest.mark.parametrize("header, first, last", [
    ("bytes=0-0", 0, 0),
    ("bytes=0-99", 0, 99),
    ("bytes=65530-65545", 65530, 65545),
    ("bytes=99999-99999", 99999, 99999),
    ("bytes=500-", 500, 99999),
    ("bytes=-1", 99999, 99999),
    ("bytes=-70000", 30000, 99999),
    ("bytes=90000-200000", 90000, 99999),
    ("bytes=-200000", 0, 99999),
    ("bytes=0-99999999999999999999999", 0, 99999),
    ("bytes=-99999999999999999999999", 0, 99999),
])
def test_range_forms(s3, bucket, stored, header, first, last):
    key, data, etag, _ = stored
    resp = s3.get_object(Bucket=bucket, Key=key, Range=header)
    assert status_of(resp) == 206
    assert resp["ContentRange"] == "bytes %d-%d/%d" % (first, last,
                                                       len(data))
    assert resp["ContentLength"] == last - first + 1
    assert resp["ETag"] == etag
    assert resp["Body"].read() == data[first:last + 1]


@pytest.mark.parametrize("header", ["bytes=100000-", "bytes=100000-100005",
                                    "bytes=-0",
                                    "bytes=99999999999999999999999-"])
def test_unsatisfiable_range_is_416(s3, bucket, stored, header):
    key, data, _, _ = stored
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key=key, Range=header)
    assert error_of(e) == ("InvalidRange", 416)
    assert headers_of(e.value.response)["content-range"] == \
        "bytes */%d" % len(data)


@pytest.mark.parametrize("header", [
    "garbage", "bytes=5-2", "items=0-5", "bytes=0-1,5-6", "bytes=--1",
    "bytes=-+1", "bytes=+1-2", "bytes=1-+2", "bytes= 1-2", "bytes=1 -2",
    "bytes=- 1", "bytes=0x1-2", "bytes=1--2", "bytes=-",
    "bytes=", "bytes=1", "bytes=1-2-3", "bytes=a-b", "bytes=-1-2",
    "bytes=0-1,", "bytes=1-\t2"])
def test_ignored_range_gives_whole_object(s3, bucket, stored, header):
    key, data, _, _ = stored
    resp = s3.get_object(Bucket=bucket, Key=key, Range=header)
    assert status_of(resp) == 200
    assert "ContentRange" not in resp
    assert resp["Body"].read() == data


def test_range_of_empty_object_is_416(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="empty", Range="bytes=0-")
    assert error_of(e) == ("InvalidRange", 416)
    assert headers_of(e.value.response)["content-range"] == "bytes */0"


def test_range_across_multipart_parts(s3, bucket):
    chunks = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1000)]
    key = "mp-ranged"
    multipart_object(s3, bucket, key, chunks)
    data = b"".join(chunks)
    for first, last in [(5 * MIB - 10, 5 * MIB + 9),
                        (MIB, 10 * MIB + 500), (10 * MIB - 1, 10 * MIB)]:
        resp = s3.get_object(Bucket=bucket, Key=key,
                             Range="bytes=%d-%d" % (first, last))
        assert resp["Body"].read() == data[first:last + 1]
    resp = s3.get_object(Bucket=bucket, Key=key, Range="bytes=-1500")
    assert resp["Body"].read() == data[-1500:]


# ---- Conditional GETs -----------------------------------------------------

def conditions(etag, modified):
    """name -> (headers, status) after AWS's GetObject documentation: a
    true If-Match wins over a false If-Unmodified-Since, a false
    If-None-Match with a true If-Modified-Since is 304, and If-None-Match
    decides alone when both it and If-Modified-Since are present."""
    past, future = modified - DAY, modified + DAY
    other = '"0123456789abcdef0123456789abcdef"'
    return {
        "if-match": ({"IfMatch": etag}, 200),
        "if-match-star": ({"IfMatch": "*"}, 200),
        "if-match-other": ({"IfMatch": other}, 412),
        "if-none-match": ({"IfNoneMatch": etag}, 304),
        "if-none-match-star": ({"IfNoneMatch": "*"}, 304),
        "if-none-match-other": ({"IfNoneMatch": other}, 200),
        "modified-since-past": ({"IfModifiedSince": past}, 200),
        "modified-since-future": ({"IfModifiedSince": future}, 304),
        "modified-since-itself": ({"IfModifiedSince": modified}, 304),
        "unmodified-since-past": ({"IfUnmodifiedSince": past}, 412),
        "unmodified-since-future": ({"IfUnmodifiedSince": future}, 200),
        "match-beats-unmodified": ({"IfMatch": etag,
                                    "IfUnmodifiedSince": past}, 200),
        "none-match-false-modified-true": ({"IfNoneMatch": etag,
                                            "IfModifiedSince": past}, 304),
        "none-match-true-modified-false": ({"IfNoneMatch": other,
                                            "IfModifiedSince": future},
                                           200),
        "match-false-none-match-false": ({"IfMatch": other,
                                          "IfNoneMatch": etag}, 412),
    }


CONDITION_NAMES = list(conditions('"x"', datetime.datetime.now()))


def call_status(call, **kw):
    """(HTTP status, response or None) of a call that may fail."""
    try:
        resp = call(**kw)
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response
    return status_of(resp), resp


@pytest.mark.parametrize("name", CONDITION_NAMES)
def test_conditional_get(quiet_s3, bucket, stored, name):
    key, data, etag, modified = stored
    headers, want = conditions(etag, modified)[name]
    status, resp = call_status(quiet_s3.get_object, Bucket=bucket, Key=key,
                               **headers)
    assert status == want
    if want == 200:
        assert resp["Body"].read() == data
    elif want == 304:
        assert headers_of(resp)["etag"] == etag
        assert "last-modified" in headers_of(resp)
        assert headers_of(resp).get("content-length", "0") == "0"
    else:
        assert resp["Error"]["Code"] == "PreconditionFailed"


@pytest.mark.parametrize("name", CONDITION_NAMES)
def test_conditional_head(s3, bucket, stored, name):
    key, _, etag, modified = stored
    headers, want = conditions(etag, modified)[name]
    status, _ = call_status(s3.head_object, Bucket=bucket, Key=key,
                            **headers)
    assert status == want


def test_not_modified_with_default_boto3(s3, bucket, stored):
    key, _, etag, _ = stored
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key=key, IfNoneMatch=etag)
    assert error_of(e) == ("304", 304)


def test_conditional_range_get(s3, bucket, stored):
    key, data, etag, _ = stored
    resp = s3.get_object(Bucket=bucket, Key=key, IfMatch=etag,
                         Range="bytes=10-19")
    assert status_of(resp) == 206
    assert resp["Body"].read() == data[10:20]


# ---- Headers and metadata -------------------------------------------------

EXPIRES = datetime.datetime(2031, 2, 3, 4, 5, 6,
                            tzinfo=datetime.timezone.utc)
CONTENT = {
    "ContentType": "text/plain; charset=utf-8",
    "ContentEncoding": "gzip",
    "ContentDisposition": 'attachment; filename="a b+c.txt"',
    "ContentLanguage": "de-CH",
    "CacheControl": "max-age=3600, must-revalidate",
    "Expires": EXPIRES,
}
METADATA = {"color": "blue", "multi-word-name": "a  b\tc",
            "digits": "0123456789", "symbols": "!#$&'*+-.^_`|~=%/?"}


def test_content_headers_and_metadata_round_trip(s3, bucket):
    s3.put_object(Bucket=bucket, Key="headers", Body=b"hello",
                  Metadata=METADATA, **CONTENT)
    for resp in (s3.head_object(Bucket=bucket, Key="headers"),
                 s3.get_object(Bucket=bucket, Key="headers")):
        for name, value in CONTENT.items():
            assert resp[name] == value, name
        assert resp["Metadata"] == METADATA


def test_metadata_names_come_back_lowercase(s3, bucket):
    s3.put_object(Bucket=bucket, Key="case", Body=b"",
                  Metadata={"MixedCase": "Value Kept"})
    resp = s3.head_object(Bucket=bucket, Key="case")
    assert resp["Metadata"] == {"mixedcase": "Value Kept"}


def test_default_content_type(s3, bucket):
    s3.put_object(Bucket=bucket, Key="typeless", Body=b"x")
    resp = s3.head_object(Bucket=bucket, Key="typeless")
    assert resp["ContentType"] in ("binary/octet-stream",
                                   "application/octet-stream")


def test_overwrite_replaces_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="meta2", Body=b"1",
                  Metadata={"old": "1"}, ContentType="text/old")
    s3.put_object(Bucket=bucket, Key="meta2", Body=b"2",
                  Metadata={"new": "2"})
    resp = s3.head_object(Bucket=bucket, Key="meta2")
    assert resp["Metadata"] == {"new": "2"}
    assert resp["ContentType"] != "text/old"


def test_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="override", Body=b"body",
                  **CONTENT)
    resp = s3.get_object(
        Bucket=bucket, Key="override",
        ResponseContentType="image/png",
        ResponseContentDisposition='inline; filename="x.png"',
        ResponseContentEncoding="identity",
        ResponseContentLanguage="fr",
        ResponseCacheControl="no-store",
        ResponseExpires=EXPIRES + DAY)
    assert resp["ContentType"] == "image/png"
    assert resp["ContentDisposition"] == 'inline; filename="x.png"'
    assert resp["ContentEncoding"] == "identity"
    assert resp["ContentLanguage"] == "fr"
    assert resp["CacheControl"] == "no-store"
    assert resp["Expires"] == EXPIRES + DAY
    assert resp["Body"].read() == b"body"

    stored = s3.head_object(Bucket=bucket, Key="override")
    assert stored["ContentType"] == CONTENT["ContentType"]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cli_metadata_round_trip(http_endpoint, clis, tmp_path, bucket,
                                 version):
    aws = http_endpoint.aws(clis, version, tmp_path)
    (tmp_path / "f.txt").write_bytes(b"cli body\n")
    key = "cli-%s.txt" % version
    res = aws.run("s3", "cp", "f.txt", "s3://%s/%s" % (bucket, key),
                  "--content-type", "text/x-test", "--cache-control",
                  "no-cache", "--content-disposition", "inline",
                  "--metadata", "owner=cli,stage=test")
    assert res.returncode == 0, res.stderr
    got = aws.json("s3api", "head-object", "--bucket", bucket, "--key", key)
    assert got["ContentType"] == "text/x-test"
    assert got["CacheControl"] == "no-cache"
    assert got["ContentDisposition"] == "inline"
    assert got["Metadata"] == {"owner": "cli", "stage": "test"}


# ---- DeleteObjects --------------------------------------------------------

def put_keys(s3, bucket, keys):
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"d")


def listed_keys(s3, bucket, prefix):
    resp = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [c["Key"] for c in resp.get("Contents", [])]


def test_delete_objects_verbose(s3, bucket):
    keys = ["del/a", "del/b c", "del/d+e", "del/\u00fc"]
    put_keys(s3, bucket, keys)
    asked = keys + ["del/missing"]
    resp = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": k} for k in asked]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == sorted(asked)
    assert "Errors" not in resp
    assert listed_keys(s3, bucket, "del/") == []


def test_delete_objects_quiet(s3, bucket):
    keys = ["quiet/a", "quiet/b"]
    put_keys(s3, bucket, keys + ["quiet/kept"])
    resp = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": k} for k in keys + ["quiet/missing"]],
        "Quiet": True})
    assert "Deleted" not in resp and "Errors" not in resp
    assert listed_keys(s3, bucket, "quiet/") == ["quiet/kept"]


def test_delete_objects_over_1000_keys(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.delete_objects(Bucket=bucket, Delete={
            "Objects": [{"Key": "k%d" % i} for i in range(1001)]})
    assert error_of(e) == ("MalformedXML", 400)


def test_delete_objects_1000_keys(s3, bucket):
    resp = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": "n%d" % i} for i in range(1000)]})
    assert len(resp["Deleted"]) == 1000


# ---- CompleteMultipartUpload errors ---------------------------------------

@pytest.fixture
def upload(s3, bucket):
    """An upload with parts 1 (5 MiB), 2 and 3 (100 bytes each):
    (key, upload id, {number: (etag, data)})."""
    key = unique_name("mp")
    upload_id = s3.create_multipart_upload(Bucket=bucket,
                                           Key=key)["UploadId"]
    parts = {}
    for number, size in [(1, 5 * MIB), (2, 100), (3, 100)]:
        data = os.urandom(size)
        resp = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                              PartNumber=number, Body=data)
        assert resp["ETag"] == md5_etag(data)
        parts[number] = (resp["ETag"], data)
    return key, upload_id, parts


def complete(s3, bucket, key, upload_id, listed):
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                   for n, e in listed]})


def complete_error(s3, bucket, key, upload_id, listed):
    with pytest.raises(ClientError) as e:
        complete(s3, bucket, key, upload_id, listed)
    return error_of(e)


def test_complete_parts_out_of_order(s3, bucket, upload):
    key, upload_id, parts = upload
    listed = [(2, parts[2][0]), (1, parts[1][0])]
    assert complete_error(s3, bucket, key, upload_id, listed) == \
        ("InvalidPartOrder", 400)


def test_complete_repeated_part(s3, bucket, upload):
    key, upload_id, parts = upload
    listed = [(1, parts[1][0]), (1, parts[1][0])]
    assert complete_error(s3, bucket, key, upload_id, listed) == \
        ("InvalidPartOrder", 400)


def test_complete_missing_part(s3, bucket, upload):
    key, upload_id, parts = upload
    listed = [(1, parts[1][0]), (4, parts[2][0])]
    assert complete_error(s3, bucket, key, upload_id, listed) == \
        ("InvalidPart", 400)


def test_complete_wrong_etag(s3, bucket, upload):
    key, upload_id, parts = upload
    listed = [(1, parts[1][0]), (2, '"%s"' % ("0" * 32))]
    assert complete_error(s3, bucket, key, upload_id, listed) == \
        ("InvalidPart", 400)


def test_complete_small_part_not_last(s3, bucket, upload):
    key, upload_id, parts = upload
    listed = [(2, parts[2][0]), (3, parts[3][0])]
    assert complete_error(s3, bucket, key, upload_id, listed) == \
        ("EntityTooSmall", 400)


def test_complete_unknown_upload(s3, bucket, upload):
    key, _, parts = upload
    listed = [(1, parts[1][0])]
    assert complete_error(s3, bucket, key, "no-such-upload", listed) == \
        ("NoSuchUpload", 404)


def test_complete_no_parts(s3, bucket, upload):
    key, upload_id, _ = upload
    assert complete_error(s3, bucket, key, upload_id, []) == \
        ("MalformedXML", 400)


def test_failed_complete_leaves_upload_usable(s3, bucket, upload):
    """After each refused Complete the upload is still open; a good one
    then makes the object from the listed parts only, and the upload is
    gone."""
    key, upload_id, parts = upload
    bad = [(2, parts[2][0]), (3, parts[3][0])]
    assert complete_error(s3, bucket, key, upload_id, bad)[0] == \
        "EntityTooSmall"

    listed = [(1, parts[1][0]), (3, parts[3][0].strip('"'))]
    done = complete(s3, bucket, key, upload_id, listed)
    assert done["ETag"] == multipart_etag([parts[1][1], parts[3][1]])
    got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert got == parts[1][1] + parts[3][1]

    assert complete_error(s3, bucket, key, upload_id, listed) == \
        ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=bucket, Key=key,
                                  UploadId=upload_id)
    assert error_of(e) == ("NoSuchUpload", 404)


def test_abort_frees_upload(s3, bucket, upload):
    key, upload_id, _ = upload
    resp = s3.abort_multipart_upload(Bucket=bucket, Key=key,
                                     UploadId=upload_id)
    assert status_of(resp) == 204
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert error_of(e) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert error_of(e) == ("404", 404)


# ---- Limits ---------------------------------------------------------------

@pytest.mark.parametrize("key, ok", [
    ("k" * 1024, True),
    ("k" * 1025, False),
    ("\u00e9" * 512, True),
    ("\u00e9" * 513, False),
])
def test_key_length_limit_in_bytes(s3, bucket, key, ok):
    if ok:
        s3.put_object(Bucket=bucket, Key=key, Body=b"long")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == \
            b"long"
        return
    for call in (s3.put_object, s3.create_multipart_upload):
        with pytest.raises(ClientError) as e:
            call(Bucket=bucket, Key=key)
        assert error_of(e) == ("KeyTooLongError", 400)


@pytest.mark.parametrize("value_len, ok", [(2047, True), (2048, False)])
def test_metadata_limit(s3, bucket, value_len, ok):
    """2 KiB counts the names and values: 'a' plus 2047 bytes is the most."""
    metadata = {"a": "v" * value_len}
    if ok:
        s3.put_object(Bucket=bucket, Key="meta-max", Body=b"",
                      Metadata=metadata)
        resp = s3.head_object(Bucket=bucket, Key="meta-max")
        assert resp["Metadata"] == metadata
        return
    for call in (s3.put_object, s3.create_multipart_upload):
        with pytest.raises(ClientError) as e:
            call(Bucket=bucket, Key="meta-over", Metadata=metadata)
        assert error_of(e) == ("MetadataTooLarge", 400)


@pytest.mark.parametrize("number", [0, 10001, -1])
def test_part_number_out_of_range(s3, bucket, number):
    key = unique_name("pn")
    upload_id = s3.create_multipart_upload(Bucket=bucket,
                                           Key=key)["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                       PartNumber=number, Body=b"x")
    assert error_of(e) == ("InvalidArgument", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def test_part_number_10000_accepted(s3, bucket):
    key = unique_name("pn")
    upload_id = s3.create_multipart_upload(Bucket=bucket,
                                           Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                   PartNumber=10000, Body=b"x")
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert [p["PartNumber"] for p in parts["Parts"]] == [10000]
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


# ---- Buckets and 404s -----------------------------------------------------

def test_bucket_with_only_an_open_upload_is_not_empty(s3):
    name = unique_name("busy")
    s3.create_bucket(Bucket=name)
    upload_id = s3.create_multipart_upload(Bucket=name,
                                           Key="pending")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert error_of(e) == ("BucketNotEmpty", 409)

    s3.abort_multipart_upload(Bucket=name, Key="pending",
                              UploadId=upload_id)
    assert status_of(s3.delete_bucket(Bucket=name)) == 204
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert error_of(e) == ("404", 404)


def test_bucket_with_an_object_is_not_empty(s3):
    name = unique_name("busy")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert error_of(e) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)


def test_head_404s_have_no_body(s3, bucket):
    missing = unique_name("absent")
    for call, kw in [(s3.head_bucket, {"Bucket": missing}),
                     (s3.head_object, {"Bucket": missing, "Key": "k"}),
                     (s3.head_object, {"Bucket": bucket, "Key": "absent"})]:
        with pytest.raises(ClientError) as e:
            call(**kw)
        assert error_of(e) == ("404", 404)


def test_get_404s_name_the_missing_thing(s3, bucket):
    missing = unique_name("absent")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="absent/key")
    assert error_of(e) == ("NoSuchKey", 404)
    assert e.value.response["Error"]["Key"] == "absent/key"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=missing, Key="k")
    assert error_of(e) == ("NoSuchBucket", 404)
    assert e.value.response["Error"]["BucketName"] == missing


def test_delete_of_missing_key_is_204(s3, bucket):
    resp = s3.delete_object(Bucket=bucket, Key="never-there")
    assert status_of(resp) == 204


# ---- Consistency ----------------------------------------------------------

def test_read_after_write_overwrite_and_delete(s3, bucket):
    key = "consistent"
    for round_ in range(10):
        data = os.urandom(1000 + round_)
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == data
        assert got["ETag"] == md5_etag(data)
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentLength"] == len(data)
        assert listed_keys(s3, bucket, key) == [key]
        if round_ % 3 == 2:
            s3.delete_object(Bucket=bucket, Key=key)
            with pytest.raises(ClientError) as e:
                s3.get_object(Bucket=bucket, Key=key)
            assert error_of(e) == ("NoSuchKey", 404)
            assert listed_keys(s3, bucket, key) == []


def test_concurrent_puts_leave_one_complete_winner(http_endpoint, s3,
                                                    bucket):
    """Eight writers PUT different 1 MiB bodies to one key at once, three
    times each, while two readers keep reading it: every read and the
    final state is one whole body, with its own ETag, listed once."""
    key = "contended"
    bodies = [os.urandom(MIB) for _ in range(8)]
    etags = {md5_etag(b): b for b in bodies}
    s3.put_object(Bucket=bucket, Key=key, Body=bodies[0])

    def write(body):
        client = http_endpoint.boto3("s3")
        for _ in range(3):
            resp = client.put_object(Bucket=bucket, Key=key, Body=body)
            assert resp["ETag"] == md5_etag(body)

    def read(_):
        client = http_endpoint.boto3("s3")
        whole = []
        for _ in range(10):
            got = client.get_object(Bucket=bucket, Key=key)
            whole.append(etags.get(got["ETag"]) == got["Body"].read())
        return whole

    with concurrent.futures.ThreadPoolExecutor(len(bodies) + 2) as pool:
        writers = [pool.submit(write, b) for b in bodies]
        readers = [pool.submit(read, i) for i in range(2)]
        for f in writers:
            f.result()
        assert all(all(f.result()) for f in readers)

    got = s3.get_object(Bucket=bucket, Key=key)
    assert etags[got["ETag"]] == got["Body"].read()
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=key)
    assert [(c["Key"], c["Size"], c["ETag"]) for c in
            listing["Contents"]] == [(key, MIB, got["ETag"])]


def multipart_object(s3, bucket, key, chunks):
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for number, chunk in enumerate(chunks, 1):
        resp = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload,
                              PartNumber=number, Body=chunk)
        parts.append({"PartNumber": number, "ETag": resp["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                 MultipartUpload={"Parts": parts})


@pytest.mark.parametrize("change", ["delete", "overwrite"])
def test_get_in_progress_survives_a_change(s3, bucket, change):
    """A GET that has begun returns the version it began with, whole. The
    first part is larger than the socket buffers, so the server is still
    sending it when the key changes, and has not reached the second."""
    key = "changing-" + change
    chunks = [os.urandom(16 * MIB), os.urandom(1000)]
    multipart_object(s3, bucket, key, chunks)
    resp = s3.get_object(Bucket=bucket, Key=key)
    first = resp["Body"].read(MIB)

    if change == "delete":
        s3.delete_object(Bucket=bucket, Key=key)
    else:
        s3.put_object(Bucket=bucket, Key=key, Body=b"new")
    assert first + resp["Body"].read() == b"".join(chunks)


def test_concurrent_multipart_completes_of_one_key(s3, bucket):
    """Three uploads of one key complete at once: the object is one of
    them, whole."""
    key = "contended-mp"
    made = []
    for i in range(3):
        upload_id = s3.create_multipart_upload(Bucket=bucket,
                                               Key=key)["UploadId"]
        chunks = [os.urandom(5 * MIB), bytes([i]) * 1000]
        parts = []
        for number, chunk in enumerate(chunks, 1):
            resp = s3.upload_part(Bucket=bucket, Key=key,
                                  UploadId=upload_id, PartNumber=number,
                                  Body=chunk)
            parts.append((number, resp["ETag"]))
        made.append((upload_id, parts, b"".join(chunks)))

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        done = list(pool.map(
            lambda m: complete(s3, bucket, key, m[0], m[1]), made))
    assert all(status_of(d) == 200 for d in done)
    got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert got in [m[2] for m in made]
