"""CopyObject and UploadPartCopy through boto3 and both aws CLIs: the
metadata and tagging directives, the copy-source conditions, copying an
object onto itself, the source's encryption re-done in the destination's
mode (SSE-S3, SSE-KMS, SSE-C, multipart sources), authorization of both
sides, part ranges, the error codes these produce, and that a large copy
does not grow the server's memory.
"""

import concurrent.futures
import datetime
import hashlib
import json
import os

import pytest

from clients import Endpoint, show, unique_name

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

MIB = 1024 * 1024
DAY = datetime.timedelta(days=1)
SSEC_KEY = os.urandom(32)
OTHER_KEY = os.urandom(32)


def error_of(excinfo):
    """(error code, HTTP status) of a ClientError."""
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def ssec(key, prefix="SSECustomer"):
    """boto3 parameters naming a customer key (boto3 adds the MD5)."""
    return {prefix + "Algorithm": "AES256", prefix + "Key": key}


@pytest.fixture(scope="module")
def s3(http_endpoint):
    return http_endpoint.boto3("s3")


@pytest.fixture(scope="module")
def https(coffer, aws_files):
    return Endpoint(coffer, aws_files, "https")


@pytest.fixture(scope="module")
def s3s(https):
    """boto3 over HTTPS, for SSE-C."""
    return https.boto3("s3")


@pytest.fixture(scope="module")
def kms(http_endpoint):
    return http_endpoint.boto3("kms")


@pytest.fixture(scope="module")
def key_arn(kms):
    return kms.create_key(Description="copy tests")["KeyMetadata"]["Arn"]


@pytest.fixture
def src(s3):
    name = unique_name("csrc")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def dst(s3):
    name = unique_name("cdst")
    s3.create_bucket(Bucket=name)
    return name


def put_sample(s3, bucket, key="dir/a b+c.txt", size=100000, **extra):
    data = os.urandom(size)
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="text/x-a",
                  Metadata={"colour": "blue"}, CacheControl="max-age=5",
                  **extra)
    return data


# ---- CopyObject ---------------------------------------------------------


def test_copy_keeps_bytes_metadata_and_tags(s3, src, dst):
    data = put_sample(s3, src, Tagging="team=red&tier=one%20two")
    res = s3.copy_object(Bucket=dst, Key="copied",
                         CopySource={"Bucket": src, "Key": "dir/a b+c.txt"})
    result = res["CopyObjectResult"]
    assert result["ETag"] == '"%s"' % md5_hex(data)
    assert res["ServerSideEncryption"] == "AES256"

    got = s3.get_object(Bucket=dst, Key="copied")
    assert got["Body"].read() == data
    assert got["ETag"] == result["ETag"]
    assert got["LastModified"] == result["LastModified"].replace(
        microsecond=0)
    assert got["ContentType"] == "text/x-a"
    assert got["CacheControl"] == "max-age=5"
    assert got["Metadata"] == {"colour": "blue"}
    assert got["TagCount"] == 2
    tags = s3.get_object_tagging(Bucket=dst, Key="copied")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [
        ("team", "red"), ("tier", "one two")]


def test_copy_source_string_forms(s3, src, dst):
    """boto3 percent-encodes a string source as it stands: here with a
    leading '/', and with the null version."""
    data = put_sample(s3, src, key="k+1 é")
    s3.copy_object(Bucket=dst, Key="a", CopySource="/%s/k+1 é" % src)
    s3.copy_object(Bucket=dst, Key="b",
                   CopySource="%s/k+1 é?versionId=null" % src)
    for key in ("a", "b"):
        assert s3.get_object(Bucket=dst, Key=key)["Body"].read() == data


def test_copy_replace_directives(s3, src, dst):
    put_sample(s3, src, Tagging="old=1")
    s3.copy_object(Bucket=dst, Key="r", MetadataDirective="REPLACE",
                   ContentType="application/x-new", Metadata={"n": "2"},
                   TaggingDirective="REPLACE", Tagging="new=2&more=3",
                   CopySource={"Bucket": src, "Key": "dir/a b+c.txt"})
    head = s3.head_object(Bucket=dst, Key="r")
    assert head["ContentType"] == "application/x-new"
    assert head["Metadata"] == {"n": "2"}
    assert "CacheControl" not in head
    tags = s3.get_object_tagging(Bucket=dst, Key="r")["TagSet"]
    assert sorted(t["Key"] for t in tags) == ["more", "new"]

    # REPLACE without x-amz-tagging drops the tags.
    s3.copy_object(Bucket=dst, Key="r2", TaggingDirective="REPLACE",
                   CopySource={"Bucket": src, "Key": "dir/a b+c.txt"})
    assert s3.get_object_tagging(Bucket=dst, Key="r2")["TagSet"] == []


def test_copy_conditions(s3, src, dst):
    data = put_sample(s3, src)
    head = s3.head_object(Bucket=src, Key="dir/a b+c.txt")
    etag, modified = head["ETag"], head["LastModified"]
    source = {"Bucket": src, "Key": "dir/a b+c.txt"}
    failing = [
        {"CopySourceIfMatch": '"0123"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": modified + DAY},
        {"CopySourceIfUnmodifiedSince": modified - DAY},
        {"CopySourceIfNoneMatch": etag,
         "CopySourceIfModifiedSince": modified - DAY},
    ]
    for cond in failing:
        with pytest.raises(ClientError) as e:
            s3.copy_object(Bucket=dst, Key="c", CopySource=source, **cond)
        assert error_of(e) == ("PreconditionFailed", 412), cond
    passing = [
        {"CopySourceIfMatch": etag},
        {"CopySourceIfNoneMatch": '"0123"'},
        {"CopySourceIfModifiedSince": modified - DAY},
        {"CopySourceIfUnmodifiedSince": modified + DAY},
        # A true If-Match wins over a false If-Unmodified-Since.
        {"CopySourceIfMatch": etag,
         "CopySourceIfUnmodifiedSince": modified - DAY},
    ]
    for cond in passing:
        s3.copy_object(Bucket=dst, Key="c", CopySource=source, **cond)
    assert s3.get_object(Bucket=dst, Key="c")["Body"].read() == data


def test_copy_onto_itself(s3, src, key_arn):
    data = put_sample(s3, src, key="self")
    source = {"Bucket": src, "Key": "self"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=src, Key="self", CopySource=source)
    assert error_of(e) == ("InvalidRequest", 400)
    assert "copy an object to itself" in e.value.response["Error"]["Message"]

    s3.copy_object(Bucket=src, Key="self", CopySource=source,
                   MetadataDirective="REPLACE", Metadata={"v": "2"})
    assert s3.head_object(Bucket=src, Key="self")["Metadata"] == {"v": "2"}

    # Naming an encryption, even the one it has, counts as a change.
    s3.copy_object(Bucket=src, Key="self", CopySource=source,
                   ServerSideEncryption="AES256")
    res = s3.copy_object(Bucket=src, Key="self", CopySource=source,
                         ServerSideEncryption="aws:kms",
                         SSEKMSKeyId=key_arn)
    assert res["SSEKMSKeyId"] == key_arn
    got = s3.get_object(Bucket=src, Key="self")
    assert got["ServerSideEncryption"] == "aws:kms"
    assert got["Body"].read() == data

    # So does a bucket whose default encryption was configured.
    s3.put_bucket_encryption(
        Bucket=src, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "AES256"}}]})
    s3.copy_object(Bucket=src, Key="self", CopySource=source)
    got = s3.get_object(Bucket=src, Key="self")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == data


def test_copy_errors(s3, src, dst):
    put_sample(s3, src)
    cases = [
        ({"CopySource": "%s/nope" % src}, ("NoSuchKey", 404)),
        ({"CopySource": "no-such-bucket-%s/k" % src}, ("NoSuchBucket", 404)),
        ({"CopySource": src}, ("InvalidArgument", 400)),
        ({"CopySource": "%s/" % src}, ("InvalidArgument", 400)),
        ({"CopySource": "%s/dir/a b+c.txt?versionId=3HL4kqtJ" % src},
         ("InvalidArgument", 400)),
        ({"CopySource": "%s/dir/a b+c.txt" % src,
          "MetadataDirective": "MERGE"}, ("InvalidArgument", 400)),
        ({"CopySource": "%s/dir/a b+c.txt" % src,
          "TaggingDirective": "KEEP"}, ("InvalidArgument", 400)),
        ({"CopySource": "%s/dir/a b+c.txt" % src,
          "TaggingDirective": "REPLACE",
          "Tagging": "&".join("k%d=v" % i for i in range(11))},
         ("InvalidTag", 400)),
    ]
    for params, expected in cases:
        with pytest.raises(ClientError) as e:
            s3.copy_object(Bucket=dst, Key="x", **params)
        assert error_of(e) == expected, params
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="no-such-dest-" + dst, Key="x",
                       CopySource="%s/dir/a b+c.txt" % src)
    assert error_of(e) == ("NoSuchBucket", 404)
    assert "Contents" not in s3.list_objects_v2(Bucket=dst)


def test_copy_kms_source_into_plain_bucket(s3, src, dst, key_arn):
    data = put_sample(s3, src, ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=key_arn)
    res = s3.copy_object(Bucket=dst, Key="plain",
                         CopySource={"Bucket": src, "Key": "dir/a b+c.txt"})
    assert res["ServerSideEncryption"] == "AES256"
    assert "SSEKMSKeyId" not in res
    got = s3.get_object(Bucket=dst, Key="plain")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == data


def test_copy_into_kms_with_bucket_key(s3, src, dst, key_arn):
    data = put_sample(s3, src)
    res = s3.copy_object(Bucket=dst, Key="kms", ServerSideEncryption="aws:kms",
                         SSEKMSKeyId=key_arn, BucketKeyEnabled=True,
                         CopySource={"Bucket": src, "Key": "dir/a b+c.txt"})
    assert res["SSEKMSKeyId"] == key_arn
    assert res["BucketKeyEnabled"] is True
    # SSE-KMS ETags say nothing about the plaintext (ruling 4).
    assert res["CopyObjectResult"]["ETag"] != '"%s"' % md5_hex(data)
    got = s3.get_object(Bucket=dst, Key="kms")
    assert got["BucketKeyEnabled"] is True
    assert got["Body"].read() == data


def test_copy_takes_destination_bucket_default(s3, src, dst, key_arn):
    data = put_sample(s3, src)
    s3.put_bucket_encryption(
        Bucket=dst, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}]})
    res = s3.copy_object(Bucket=dst, Key="d",
                         CopySource={"Bucket": src, "Key": "dir/a b+c.txt"})
    assert res["ServerSideEncryption"] == "aws:kms"
    assert res["SSEKMSKeyId"] == key_arn
    assert s3.get_object(Bucket=dst, Key="d")["Body"].read() == data


def test_copy_kms_key_states(s3, kms, src, dst):
    """KMS errors reach a copy from either side."""
    source_key = kms.create_key()["KeyMetadata"]["Arn"]
    dest_key = kms.create_key()["KeyMetadata"]["Arn"]
    put_sample(s3, src, key="kms", ServerSideEncryption="aws:kms",
               SSEKMSKeyId=source_key)
    put_sample(s3, src, key="plain")
    kms.disable_key(KeyId=source_key)
    kms.disable_key(KeyId=dest_key)
    try:
        with pytest.raises(ClientError) as e:
            s3.copy_object(Bucket=dst, Key="x", CopySource="%s/kms" % src)
        assert error_of(e) == ("KMS.DisabledException", 400)
        with pytest.raises(ClientError) as e:
            s3.copy_object(Bucket=dst, Key="x", CopySource="%s/plain" % src,
                           ServerSideEncryption="aws:kms",
                           SSEKMSKeyId=dest_key)
        assert error_of(e) == ("KMS.DisabledException", 400)
    finally:
        kms.enable_key(KeyId=source_key)
        kms.enable_key(KeyId=dest_key)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=dst, Key="x", CopySource="%s/plain" % src,
                       ServerSideEncryption="aws:kms",
                       SSEKMSKeyId="fake-key-id")
    assert error_of(e) == ("KMS.NotFoundException", 400)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=dst, Key="x",
                       CopySource="%s/%s" % (src, "k" * 1025))
    assert error_of(e) == ("KeyTooLongError", 400)
    assert "Contents" not in s3.list_objects_v2(Bucket=dst)
    s3.copy_object(Bucket=dst, Key="x", CopySource="%s/kms" % src)


def test_copy_multipart_source(s3, src, dst):
    chunks = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1000)]
    up = s3.create_multipart_upload(Bucket=src, Key="mp")["UploadId"]
    parts = []
    for n, chunk in enumerate(chunks, 1):
        etag = s3.upload_part(Bucket=src, Key="mp", UploadId=up, PartNumber=n,
                              Body=chunk)["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    s3.complete_multipart_upload(Bucket=src, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": parts})
    data = b"".join(chunks)
    res = s3.copy_object(Bucket=dst, Key="single", CopySource="%s/mp" % src)
    # The copy is one body: its ETag is the MD5 of the whole.
    assert res["CopyObjectResult"]["ETag"] == '"%s"' % md5_hex(data)
    got = s3.get_object(Bucket=dst, Key="single", Range="bytes=5242870-5242889")
    assert got["Body"].read() == data[5242870:5242890]
    assert s3.get_object(Bucket=dst, Key="single")["Body"].read() == data


def test_copy_ssec_both_ways(s3s, src, dst):
    data = put_sample(s3s, src, key="c", **ssec(SSEC_KEY))
    source = {"Bucket": src, "Key": "c"}
    with pytest.raises(ClientError) as e:
        s3s.copy_object(Bucket=dst, Key="x", CopySource=source)
    assert error_of(e) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as e:
        s3s.copy_object(Bucket=dst, Key="x", CopySource=source,
                        **ssec(OTHER_KEY, "CopySourceSSECustomer"))
    assert error_of(e) == ("AccessDenied", 403)

    # SSE-C to SSE-S3, then SSE-C to SSE-C under another key.
    s3s.copy_object(Bucket=dst, Key="plain", CopySource=source,
                    **ssec(SSEC_KEY, "CopySourceSSECustomer"))
    assert s3s.get_object(Bucket=dst, Key="plain")["Body"].read() == data
    res = s3s.copy_object(Bucket=dst, Key="rekeyed", CopySource=source,
                          **ssec(SSEC_KEY, "CopySourceSSECustomer"),
                          **ssec(OTHER_KEY))
    assert res["SSECustomerAlgorithm"] == "AES256"
    assert "ServerSideEncryption" not in res
    got = s3s.get_object(Bucket=dst, Key="rekeyed", **ssec(OTHER_KEY))
    assert got["Body"].read() == data
    with pytest.raises(ClientError) as e:
        s3s.get_object(Bucket=dst, Key="rekeyed", **ssec(SSEC_KEY))
    assert error_of(e) == ("AccessDenied", 403)

    # The copy-source trio on a source that is not SSE-C is refused.
    with pytest.raises(ClientError) as e:
        s3s.copy_object(Bucket=dst, Key="y", CopySource="%s/plain" % dst,
                        **ssec(SSEC_KEY, "CopySourceSSECustomer"))
    assert error_of(e) == ("InvalidRequest", 400)


def test_copy_ssec_refused_over_plain_http(s3, src, dst):
    put_sample(s3, src, key="p")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=dst, Key="x", CopySource="%s/p" % src,
                       **ssec(SSEC_KEY))
    assert error_of(e) == ("InvalidRequest", 400)


def policy(bucket, effect, action, resource, condition=None):
    stmt = {"Effect": effect, "Principal": "*", "Action": action,
            "Resource": "arn:aws:s3:::%s/%s" % (bucket, resource)}
    if condition:
        stmt["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


def test_copy_authorizes_source_with_its_bucket_policy(s3, src, dst):
    put_sample(s3, src, key="secret")
    put_sample(s3, src, key="open")
    s3.put_bucket_policy(Bucket=src, Policy=policy(
        src, "Deny", "s3:GetObject", "secret"))
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=dst, Key="x", CopySource="%s/secret" % src)
    assert error_of(e) == ("AccessDenied", 403)
    s3.copy_object(Bucket=dst, Key="x", CopySource="%s/open" % src)


def test_copy_missing_source_without_list_is_403(s3, src, dst):
    """A caller who may not list the source bucket cannot tell a missing
    source key from a forbidden one."""
    put_sample(s3, src, key="there")
    s3.put_bucket_policy(Bucket=src, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::%s" % src}]}))
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=dst, Key="x", CopySource="%s/absent" % src)
    assert error_of(e) == ("AccessDenied", 403)
    s3.copy_object(Bucket=dst, Key="x", CopySource="%s/there" % src)


def test_copy_condition_keys_reach_destination_policy(s3, src, dst):
    put_sample(s3, src, key="a")
    put_sample(s3, src, key="b")
    s3.put_bucket_policy(Bucket=dst, Policy=policy(
        dst, "Deny", "s3:PutObject", "*",
        {"StringEquals": {"s3:x-amz-copy-source": "%s/a" % src}}))
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=dst, Key="x", CopySource="%s/a" % src)
    assert error_of(e) == ("AccessDenied", 403)
    s3.copy_object(Bucket=dst, Key="x", CopySource="%s/b" % src)

    s3.put_bucket_policy(Bucket=dst, Policy=policy(
        dst, "Deny", "s3:PutObject", "*",
        {"StringEquals": {"s3:x-amz-metadata-directive": "REPLACE"}}))
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=dst, Key="y", CopySource="%s/a" % src,
                       MetadataDirective="REPLACE")
    assert error_of(e) == ("AccessDenied", 403)
    s3.copy_object(Bucket=dst, Key="y", CopySource="%s/a" % src)


def test_copy_while_source_is_overwritten(http_endpoint, s3, src, dst):
    """Copies racing overwrites of their source each copy one whole
    version: the bodies a copy reads outlive the overwrite."""
    versions = [os.urandom(3 * MIB) for _ in range(4)]
    s3.put_object(Bucket=src, Key="hot", Body=versions[0])

    def overwrite(body):
        http_endpoint.boto3("s3").put_object(Bucket=src, Key="hot",
                                             Body=body)

    def copy(n):
        c = http_endpoint.boto3("s3")
        c.copy_object(Bucket=dst, Key="c%d" % n, CopySource="%s/hot" % src)
        return c.get_object(Bucket=dst, Key="c%d" % n)["Body"].read()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        writes = [pool.submit(overwrite, v) for v in versions[1:] * 2]
        copies = [pool.submit(copy, n) for n in range(6)]
        for f in writes:
            f.result()
        for f in copies:
            assert f.result() in versions


def server_peak_rss_kib(coffer):
    with open("/proc/%d/status" % coffer.proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def test_copy_streams_without_growing_memory(coffer, s3, src, dst, tmp_path):
    """A 96 MiB copy (and part copy) raise the server's peak resident
    memory by far less than the object's size."""
    size = 96 * MIB
    path = tmp_path / "big"
    with open(path, "wb") as f:
        for _ in range(size // MIB):
            f.write(os.urandom(MIB))
    s3.upload_file(str(path), src, "big")
    before = server_peak_rss_kib(coffer)
    s3.copy_object(Bucket=dst, Key="big", CopySource="%s/big" % src)
    up = s3.create_multipart_upload(Bucket=dst, Key="big2")["UploadId"]
    s3.upload_part_copy(Bucket=dst, Key="big2", UploadId=up, PartNumber=1,
                        CopySource="%s/big" % src)
    grown = server_peak_rss_kib(coffer) - before
    assert grown < 32 * 1024, "peak RSS grew by %d KiB" % grown
    s3.abort_multipart_upload(Bucket=dst, Key="big2", UploadId=up)
    head = s3.head_object(Bucket=dst, Key="big")
    assert head["ContentLength"] == size


# ---- UploadPartCopy -----------------------------------------------------


def test_upload_part_copy_ranges(s3, src, dst):
    data = os.urandom(10 * MIB + 123)
    s3.put_object(Bucket=src, Key="s", Body=data)
    tail = os.urandom(1000)
    up = s3.create_multipart_upload(Bucket=dst, Key="m", Tagging="from=mpu",
                                    ServerSideEncryption="AES256")
    uid = up["UploadId"]
    cut = 5 * MIB
    p1 = s3.upload_part_copy(Bucket=dst, Key="m", UploadId=uid, PartNumber=1,
                             CopySource="%s/s" % src,
                             CopySourceRange="bytes=0-%d" % (cut - 1))
    p2 = s3.upload_part_copy(Bucket=dst, Key="m", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": src, "Key": "s"},
                             CopySourceRange="bytes=%d-%d" % (cut,
                                                             len(data) - 1))
    p3 = s3.upload_part(Bucket=dst, Key="m", UploadId=uid, PartNumber=3,
                        Body=tail)
    assert p1["CopyPartResult"]["ETag"] == '"%s"' % md5_hex(data[:cut])
    assert p1["ServerSideEncryption"] == "AES256"
    listed = s3.list_parts(Bucket=dst, Key="m", UploadId=uid)["Parts"]
    assert [p["Size"] for p in listed] == [cut, len(data) - cut, 1000]
    parts = [{"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
             {"PartNumber": 3, "ETag": p3["ETag"]}]
    s3.complete_multipart_upload(Bucket=dst, Key="m", UploadId=uid,
                                 MultipartUpload={"Parts": parts})
    got = s3.get_object(Bucket=dst, Key="m")
    assert got["Body"].read() == data + tail
    assert got["TagCount"] == 1


def test_upload_part_copy_errors(s3, src, dst):
    s3.put_object(Bucket=src, Key="s", Body=b"x" * 1000)
    uid = s3.create_multipart_upload(Bucket=dst, Key="m")["UploadId"]
    base = {"Bucket": dst, "Key": "m", "UploadId": uid, "PartNumber": 1,
            "CopySource": "%s/s" % src}
    for rng in ("byte=0-1", "bytes=5-1", "bytes=-5", "bytes=1-", "bytes=a-2",
                "bytes=0-1,3-4"):
        with pytest.raises(ClientError) as e:
            s3.upload_part_copy(CopySourceRange=rng, **base)
        assert error_of(e) == ("InvalidArgument", 400), rng
    for rng in ("bytes=0-1000", "bytes=1000-1001"):
        with pytest.raises(ClientError) as e:
            s3.upload_part_copy(CopySourceRange=rng, **base)
        assert error_of(e) == ("InvalidArgument", 400), rng
        assert "size: 1000" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(**dict(base, UploadId="nope"))
    assert error_of(e) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(**dict(base, CopySource="%s/gone" % src))
    assert error_of(e) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(**dict(base, CopySourceIfMatch='"00"'))
    assert error_of(e) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(**dict(base, PartNumber=10001))
    assert error_of(e) == ("InvalidArgument", 400)
    assert s3.list_parts(Bucket=dst, Key="m", UploadId=uid).get("Parts",
                                                                 []) == []
    s3.upload_part_copy(CopySourceRange="bytes=999-999", **base)


def test_upload_part_copy_into_ssec_upload(s3s, src, dst, key_arn):
    data = os.urandom(5 * MIB + 7)
    s3s.put_object(Bucket=src, Key="k", Body=data,
                   ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)
    uid = s3s.create_multipart_upload(Bucket=dst, Key="m",
                                      **ssec(SSEC_KEY))["UploadId"]
    with pytest.raises(ClientError) as e:
        s3s.upload_part_copy(Bucket=dst, Key="m", UploadId=uid, PartNumber=1,
                             CopySource="%s/k" % src)
    assert error_of(e) == ("InvalidRequest", 400)
    part = s3s.upload_part_copy(Bucket=dst, Key="m", UploadId=uid,
                                PartNumber=1, CopySource="%s/k" % src,
                                **ssec(SSEC_KEY))
    assert part["SSECustomerAlgorithm"] == "AES256"
    s3s.complete_multipart_upload(
        Bucket=dst, Key="m", UploadId=uid, MultipartUpload={"Parts": [{
            "PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]},
        **ssec(SSEC_KEY))
    got = s3s.get_object(Bucket=dst, Key="m", **ssec(SSEC_KEY))
    assert got["Body"].read() == data


# ---- the aws CLI --------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cli_copy_object_and_cp(http_endpoint, clis, version, s3, src, dst,
                                tmp_path):
    aws = http_endpoint.aws(clis, version, str(tmp_path))
    small = put_sample(s3, src, key="small")
    big = os.urandom(20 * MIB)
    s3.put_object(Bucket=src, Key="big", Body=big, Metadata={"m": "1"})

    out = aws.json("s3api", "copy-object", "--bucket", dst, "--key",
                   "api", "--copy-source", "%s/small" % src,
                   "--metadata-directive", "REPLACE", "--metadata",
                   "x=y")
    assert out["CopyObjectResult"]["ETag"] == '"%s"' % md5_hex(small)
    assert s3.head_object(Bucket=dst, Key="api")["Metadata"] == {"x": "y"}

    res = aws.run("s3api", "copy-object", "--bucket", dst, "--key", "x",
                  "--copy-source", "%s/missing" % src)
    assert res.returncode == aws.api_error_rc, show(res)
    assert "NoSuchKey" in res.stderr

    # Past the 8 MiB threshold the CLI copies in parts (UploadPartCopy).
    for key in ("small", "big"):
        res = aws.run("s3", "cp", "s3://%s/%s" % (src, key),
                      "s3://%s/cp-%s" % (dst, key))
        assert res.returncode == 0, show(res)
    assert s3.get_object(Bucket=dst, Key="cp-small")["Body"].read() == small
    got = s3.get_object(Bucket=dst, Key="cp-big")
    assert got["Body"].read() == big
    assert got["ETag"].endswith('-3"')
    # CLI v2 carries metadata over to a multipart copy (--copy-props);
    # v1 does not, on AWS either.
    assert got["Metadata"] == ({"m": "1"} if version == "v2" else {})

    res = aws.run("s3", "mv", "s3://%s/cp-small" % dst,
                  "s3://%s/moved" % dst)
    assert res.returncode == 0, show(res)
    assert s3.get_object(Bucket=dst, Key="moved")["Body"].read() == small
    with pytest.raises(ClientError):
        s3.head_object(Bucket=dst, Key="cp-small")
