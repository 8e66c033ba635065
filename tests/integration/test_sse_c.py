"""SSE-C through boto3: customer-provided keys on PUT, GET, HEAD and
multipart (every part and Complete) over HTTPS, refused over plain HTTP,
with the checks and answers of sse.md section 10 (rows 27 to 33 and 35 of
section 13).
"""

import base64
import hashlib
import os
import re

import pytest

from clients import Endpoint
from sse_helpers import (MIB, SSEC_KEY, SSEC_KEY2, SSEC_KEY_B64, SSEC_MD5,
                         ClientError, error_of, extra_headers, headers_of,
                         key_md5, new_bucket, new_key, set_rule, ssec)

H_ALG = "x-amz-server-side-encryption-customer-algorithm"
H_KEY = "x-amz-server-side-encryption-customer-key"
H_MD5 = "x-amz-server-side-encryption-customer-key-MD5"
H_SSE = "x-amz-server-side-encryption"
PART = 5 * MIB


@pytest.fixture(scope="module")
def tls(coffer, aws_files):
    return Endpoint(coffer, aws_files, "https")


@pytest.fixture(scope="module")
def s3(tls):
    return tls.boto3("s3")


@pytest.fixture(scope="module")
def plain_s3(http_endpoint):
    return http_endpoint.boto3("s3")


@pytest.fixture
def bucket(s3):
    return new_bucket(s3, "ssec")


def ssec_view(resp):
    h = headers_of(resp)
    return {name: h[name] for name in (H_SSE, H_ALG.lower(), H_MD5.lower(),
                                       "x-amz-server-side-encryption-aws-"
                                       "kms-key-id") if name in h}


WANT = {H_ALG: "AES256", H_MD5.lower(): SSEC_MD5}


def assert_absent(s3, bucket, key):
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert error_of(e) == ("404", 404)


def test_botocore_vector():
    assert base64.b64encode(SSEC_KEY).decode() == SSEC_KEY_B64
    assert key_md5() == SSEC_MD5


# Row 27.
def test_put_get_head_with_key(s3, bucket):
    body = os.urandom(150000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, **ssec())
    assert ssec_view(put) == WANT
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == SSEC_MD5
    assert re.match(r'^"[0-9a-f]{32}"$', put["ETag"])
    assert put["ETag"].strip('"') != hashlib.md5(body).hexdigest()

    got = s3.get_object(Bucket=bucket, Key="k", **ssec())
    assert got["Body"].read() == body
    assert ssec_view(got) == WANT
    head = s3.head_object(Bucket=bucket, Key="k", **ssec())
    assert ssec_view(head) == WANT
    assert head["ContentLength"] == len(body)


def test_ssec_beats_bucket_kms_default(s3, tls, bucket):
    key_id, _ = new_key(tls.boto3("kms"))
    set_rule(s3, bucket, key_id, bucket_key=True)
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x", **ssec())
    assert ssec_view(put) == WANT
    assert ssec_view(s3.head_object(Bucket=bucket, Key="k", **ssec())) == WANT


def test_bucket_key_flag_with_ssec_ignored(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x",
                        BucketKeyEnabled=True, **ssec())
    assert ssec_view(put) == WANT
    assert "x-amz-server-side-encryption-bucket-key-enabled" not in \
        headers_of(put)


def test_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"", **ssec())
    assert s3.get_object(Bucket=bucket, Key="k", **ssec())["Body"].read() \
        == b""


# Row 28.
def test_plain_http_refused(plain_s3, s3, bucket):
    for call in (lambda: plain_s3.put_object(Bucket=bucket, Key="k",
                                             Body=b"x", **ssec()),
                 lambda: plain_s3.create_multipart_upload(
                     Bucket=bucket, Key="k", **ssec())):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("InvalidRequest", 400)
        assert "secure connection" in e.value.response["Error"]["Message"]
    assert_absent(s3, bucket, "k")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_plain_http_read_refused(plain_s3, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret", **ssec())
    with pytest.raises(ClientError) as e:
        plain_s3.get_object(Bucket=bucket, Key="k", **ssec())
    assert error_of(e) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as e:
        plain_s3.head_object(Bucket=bucket, Key="k", **ssec())
    assert error_of(e) == ("400", 400)


def test_plain_http_part_refused(plain_s3, s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="k", **ssec())
    with pytest.raises(ClientError) as e:
        plain_s3.upload_part(Bucket=bucket, Key="k", PartNumber=1,
                             UploadId=up["UploadId"], Body=b"x", **ssec())
    assert error_of(e) == ("InvalidRequest", 400)


# Rows 29 and 30.
def test_read_without_key_invalid_request(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", **ssec())
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert error_of(e) == ("InvalidRequest", 400)
    assert "correct parameters" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k")
    assert error_of(e) == ("400", 400)


def test_read_with_other_key_access_denied(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", **ssec())
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", **ssec(SSEC_KEY2))
    assert error_of(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k", **ssec(SSEC_KEY2))
    assert error_of(e) == ("403", 403)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", Range="bytes=0-0",
                      **ssec(SSEC_KEY2))
    assert error_of(e) == ("AccessDenied", 403)


# Row 31 and the order of checks of sse.md section 10.
def test_with_sse_header_incompatible(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x",
                      ServerSideEncryption="AES256", **ssec())
    assert error_of(e) == ("InvalidArgument", 400)
    assert "incompatible" in e.value.response["Error"]["Message"]
    assert_absent(s3, bucket, "k")


@pytest.mark.parametrize("headers,remove,words", [
    ({H_MD5: "AAAAAAAAAAAAAAAAAAAAAA=="}, (), "calculated MD5"),
    ({}, (H_MD5,), "calculated MD5"),
    ({}, (H_ALG,), "valid encryption algorithm"),
    ({}, (H_KEY,), "appropriate secret key"),
    ({H_KEY: base64.b64encode(b"k" * 16).decode(),
      H_MD5: base64.b64encode(hashlib.md5(b"k" * 16).digest()).decode()},
     (), "secret key was invalid"),
], ids=["md5-zero", "md5-missing", "no-algorithm", "no-key", "short-key"])
def test_bad_trio_invalid_argument(s3, bucket, headers, remove, words):
    with extra_headers(s3, "PutObject", headers, remove):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="k", Body=b"x", **ssec())
    assert error_of(e) == ("InvalidArgument", 400)
    assert words in e.value.response["Error"]["Message"]
    assert_absent(s3, bucket, "k")


# Row 32.
def test_algorithm_aes128_refused(s3, bucket):
    with extra_headers(s3, "PutObject", {H_ALG: "AES128"}):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="k", Body=b"x", **ssec())
    assert error_of(e) == ("InvalidEncryptionAlgorithmError", 400)


# Row 35.
def test_key_on_plain_object_invalid_request(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", **ssec())
    assert error_of(e) == ("InvalidRequest", 400)
    assert "not applicable" in e.value.response["Error"]["Message"]


def test_delete_needs_no_key(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", **ssec())
    s3.delete_object(Bucket=bucket, Key="k")
    assert_absent(s3, bucket, "k")


def test_overwrite_with_other_key(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", **ssec())
    s3.put_object(Bucket=bucket, Key="k", Body=b"two", **ssec(SSEC_KEY2))
    assert s3.get_object(Bucket=bucket, Key="k",
                         **ssec(SSEC_KEY2))["Body"].read() == b"two"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", **ssec())
    assert error_of(e) == ("AccessDenied", 403)


def test_ranges(s3, bucket):
    data = os.urandom(3 * 65536 + 17)
    s3.put_object(Bucket=bucket, Key="k", Body=data, **ssec())
    for first, last in ((0, 0), (65535, 65536), (65530, 2 * 65536 + 5),
                        (len(data) - 1, len(data) - 1)):
        got = s3.get_object(Bucket=bucket, Key="k",
                            Range="bytes=%d-%d" % (first, last), **ssec())
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["Body"].read() == data[first:last + 1]
        assert ssec_view(got) == WANT


# Multipart: every part and Complete; row 33.
def test_multipart_every_part_and_complete(s3, bucket):
    data = os.urandom(2 * PART + 777)
    up = s3.create_multipart_upload(Bucket=bucket, Key="k", **ssec())
    assert ssec_view(up) == WANT
    parts = []
    for n, start in enumerate(range(0, len(data), PART), 1):
        resp = s3.upload_part(Bucket=bucket, Key="k", PartNumber=n,
                              UploadId=up["UploadId"],
                              Body=data[start:start + PART], **ssec())
        assert ssec_view(resp) == WANT
        assert re.match(r'^"[0-9a-f]{32}"$', resp["ETag"])
        parts.append({"PartNumber": n, "ETag": resp["ETag"]})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=up["UploadId"],
        MultipartUpload={"Parts": parts}, **ssec())
    assert ssec_view(done) == {}
    assert re.match(r'^"[0-9a-f]{32}-3"$', done["ETag"])

    got = s3.get_object(Bucket=bucket, Key="k", **ssec())
    assert got["Body"].read() == data
    assert ssec_view(got) == WANT
    edge = s3.get_object(Bucket=bucket, Key="k", **ssec(),
                         Range="bytes=%d-%d" % (PART - 3, 2 * PART + 3))
    assert edge["Body"].read() == data[PART - 3:2 * PART + 4]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert error_of(e) == ("InvalidRequest", 400)


def test_multipart_complete_without_trio(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="k", **ssec())
    resp = s3.upload_part(Bucket=bucket, Key="k", PartNumber=1,
                          UploadId=up["UploadId"], Body=b"abc", **ssec())
    s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1,
                                    "ETag": resp["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="k",
                         **ssec())["Body"].read() == b"abc"


def test_multipart_part_without_or_with_other_key(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="k", **ssec())
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", PartNumber=1,
                       UploadId=up["UploadId"], Body=b"x")
    assert error_of(e) == ("InvalidRequest", 400)
    assert "Subsequent part requests" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", PartNumber=1,
                       UploadId=up["UploadId"], Body=b"x",
                       **ssec(SSEC_KEY2))
    assert error_of(e) == ("InvalidRequest", 400)
    assert "did not match" in e.value.response["Error"]["Message"]
    assert s3.list_parts(Bucket=bucket, Key="k",
                         UploadId=up["UploadId"]).get("Parts", []) == []

    ok = s3.upload_part(Bucket=bucket, Key="k", PartNumber=1,
                        UploadId=up["UploadId"], Body=b"x", **ssec())
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1,
                                        "ETag": ok["ETag"]}]},
            **ssec(SSEC_KEY2))
    assert error_of(e) == ("InvalidRequest", 400)
    assert_absent(s3, bucket, "k")


def test_multipart_trio_on_other_upload_invalid_request(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="k")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", PartNumber=1,
                       UploadId=up["UploadId"], Body=b"x", **ssec())
    assert error_of(e) == ("InvalidRequest", 400)
