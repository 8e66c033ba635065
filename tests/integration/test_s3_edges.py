"""S3's wire at its edges: version ids on a server that keeps only the
null version, object keys that XML 1.0 cannot carry or that are not
UTF-8, the characters and lengths of tags, and the checksum of one part
of a multipart object.
"""

import base64
import hashlib
import http.client
import ssl
import xml.etree.ElementTree as ET
import zlib
from urllib.parse import unquote

import pytest

from clients import ACCESS_KEY, SECRET_KEY, unique_name
from server import REGION

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(http_endpoint):
    return http_endpoint.boto3("s3")


@pytest.fixture
def bucket(s3):
    name = unique_name("edge")
    s3.create_bucket(Bucket=name)
    return name


def error_of(excinfo):
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def raw(endpoint, method, path, body=b"", headers=None):
    """method path (already percent-encoded, sent as is), signed with
    SigV4 by botocore.  (status, headers, body bytes)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=endpoint.url + path, data=body,
                     headers=dict(headers or {}))
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3",
                REGION).add_auth(req)
    host, port = endpoint.url.split("//")[1].split(":")
    if endpoint.ca:
        ctx = ssl.create_default_context(cafile=str(endpoint.ca))
        conn = http.client.HTTPSConnection(host, int(port), context=ctx,
                                           timeout=30)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path, body=body,
                     headers=dict(req.headers.items()))
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def xml_of(body):
    """The parsed document; fails the test when it is not XML 1.0."""
    return ET.fromstring(body)


def local(tag):
    return tag.rsplit("}", 1)[-1]


def texts(root, name):
    return [e.text or "" for e in root.iter() if local(e.tag) == name]


# ---- version ids ----------------------------------------------------------


BAD_VERSIONS = ["3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", "abc", "NULL"]


def test_null_version_is_the_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    got = s3.get_object(Bucket=bucket, Key="k", VersionId="null")
    assert got["Body"].read() == b"data"
    head = s3.head_object(Bucket=bucket, Key="k", VersionId="null")
    assert head["ContentLength"] == 4
    s3.put_object_tagging(Bucket=bucket, Key="k", VersionId="null",
                          Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    tags = s3.get_object_tagging(Bucket=bucket, Key="k", VersionId="null")
    assert tags["TagSet"] == [{"Key": "a", "Value": "b"}]
    s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId="null")
    s3.delete_object(Bucket=bucket, Key="k", VersionId="null")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k")
    assert error_of(e)[1] == 404


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_other_version_is_refused(s3, bucket, version):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data",
                  Tagging="keep=yes")
    calls = [
        lambda: s3.get_object(Bucket=bucket, Key="k", VersionId=version),
        lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId=version),
        lambda: s3.get_object_tagging(Bucket=bucket, Key="k",
                                      VersionId=version),
        lambda: s3.put_object_tagging(
            Bucket=bucket, Key="k", VersionId=version,
            Tagging={"TagSet": [{"Key": "x", "Value": "y"}]}),
        lambda: s3.delete_object_tagging(Bucket=bucket, Key="k",
                                         VersionId=version),
    ]
    for i, call in enumerate(calls):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("InvalidArgument", 400), i
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k", VersionId=version)
    assert error_of(e)[1] == 400    # a HEAD reply has no body
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", VersionId=version)
    assert e.value.response["Error"]["Message"] == \
        "Invalid version id specified"
    # Nothing was served, deleted or changed.
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"data"
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == \
        [{"Key": "keep", "Value": "yes"}]


def test_empty_version_is_refused(s3, bucket, http_endpoint):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    status, _, body = raw(http_endpoint, "GET",
                          "/%s/k?versionId=" % bucket)
    assert status == 400
    assert b"<Code>InvalidArgument</Code>" in body
    assert b"Version id cannot be the empty string" in body


def test_delete_objects_checks_each_version(s3, bucket):
    for k in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a", "VersionId": "null"},
        {"Key": "b", "VersionId": "nope"},
        {"Key": "c"}]})
    deleted = {d["Key"]: d.get("VersionId") for d in resp["Deleted"]}
    assert deleted == {"a": "null", "c": None}
    assert [(e["Key"], e["VersionId"], e["Code"]) for e in resp["Errors"]] \
        == [("b", "nope", "InvalidArgument")]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["b"]


def test_copy_source_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    resp = s3.copy_object(Bucket=bucket, Key="dst",
                          CopySource={"Bucket": bucket, "Key": "src",
                                      "VersionId": "null"})
    # An unversioned source has no version to report.
    assert "CopySourceVersionId" not in resp
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == \
        b"source"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst2",
                       CopySource={"Bucket": bucket, "Key": "src",
                                   "VersionId": "abc"})
    assert error_of(e) == ("InvalidArgument", 400)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=up,
                            PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "src",
                                        "VersionId": "abc"})
    assert error_of(e) == ("InvalidArgument", 400)
    part = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=up,
                               PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "src",
                                           "VersionId": "null"})
    assert "CopySourceVersionId" not in part
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=up)


# ---- keys -----------------------------------------------------------------


ODD_KEYS = ["ctl\x01key", "del\x7fkey", "tab\tkey", "nl\nkey", "cr\rkey",
            "amp&<lt>\"'"]


def test_odd_keys_round_trip(s3, bucket, http_endpoint):
    for k in ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    for k in ODD_KEYS:
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == \
            k.encode()
    # boto3 asks for encoding-type=url and gets every key back exactly.
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(listed) == sorted(ODD_KEYS)
    listed = [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]]
    assert sorted(listed) == sorted(ODD_KEYS)
    # Without it the listing is still XML 1.0; what XML cannot carry
    # (U+0001) shows as U+FFFD, the rest exactly.
    for query in ("", "?list-type=2"):
        status, _, body = raw(http_endpoint, "GET",
                              "/%s%s" % (bucket, query))
        assert status == 200
        keys = texts(xml_of(body), "Key")
        want = [k.replace("\x01", "\ufffd") for k in ODD_KEYS]
        assert sorted(keys) == sorted(want)


def test_odd_keys_in_uploads_and_parts(s3, bucket):
    for k in ODD_KEYS:
        up = s3.create_multipart_upload(Bucket=bucket, Key=k)
        assert up["Key"] in (k, k.replace("\x01", "\ufffd"))
        parts = s3.list_parts(Bucket=bucket, Key=k, UploadId=up["UploadId"])
        assert parts["Key"] in (k, k.replace("\x01", "\ufffd"))
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert sorted(u["Key"] for u in uploads) == \
        sorted(k.replace("\x01", "\ufffd") for k in ODD_KEYS)
    # encoding-type=url gives the exact keys (boto3 leaves them encoded
    # for this call).
    encoded = s3.list_multipart_uploads(Bucket=bucket, EncodingType="url")
    assert encoded["EncodingType"] == "url"
    assert sorted(unquote(u["Key"]) for u in encoded["Uploads"]) == \
        sorted(ODD_KEYS)
    with pytest.raises(ClientError) as e:
        s3.list_multipart_uploads(Bucket=bucket, EncodingType="base64")
    assert error_of(e) == ("InvalidArgument", 400)
    for u in uploads:
        key = u["Key"].replace("\ufffd", "\x01")
        s3.abort_multipart_upload(Bucket=bucket, Key=key,
                                  UploadId=u["UploadId"])


def test_odd_keys_in_errors_and_deletes(s3, bucket, http_endpoint):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="gone\x01")
    assert error_of(e) == ("NoSuchKey", 404)
    assert e.value.response["Error"]["Key"] == "gone\ufffd"
    status, _, body = raw(http_endpoint, "GET", "/%s/gone%%01" % bucket)
    assert status == 404 and xml_of(body) is not None
    keys = ["del\x7fkey", "tab\tkey", "nl\nkey"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == sorted(keys)


@pytest.mark.parametrize("path", ["h%FF", "a%C0%AFb", "x%ED%A0%80",
                                  "y%F4%90%80%80", "z%E2%82"])
def test_key_not_utf8_is_refused(s3, bucket, http_endpoint, path):
    status, _, body = raw(http_endpoint, "PUT",
                          "/%s/%s" % (bucket, path), body=b"x")
    assert status == 400
    assert texts(xml_of(body), "Message") == \
        ["Couldn't parse the specified URI."]
    status, _, _ = raw(http_endpoint, "GET", "/%s/%s" % (bucket, path))
    assert status == 400
    status, _, body = raw(http_endpoint, "GET", "/%s" % bucket)
    assert status == 200 and texts(xml_of(body), "Key") == []
    s3.put_object(Bucket=bucket, Key="dst", Body=b"x")
    status, _, body = raw(http_endpoint, "PUT", "/%s/dst" % bucket,
                          headers={"x-amz-copy-source":
                                   "/%s/%s" % (bucket, path)})
    assert status == 400
    assert texts(xml_of(body), "Code") == ["InvalidArgument"]


# ---- tags -----------------------------------------------------------------


# Letters, numbers and spaces of any script pass; symbols, controls and
# emoji do not; lengths count characters, not bytes.
TAG_CASES = [
    ("é" * 128, "日" * 256, True),
    ("Grüße", "naïve façade", True),
    ("ключ", "значение", True),
    ("٣٤", "数字 ２", True),
    ("nb\u00a0space", "ideographic\u3000space", True),
    ("a+-=._:/@ b", "", True),
    ("é" * 129, "v", False),
    ("k", "日" * 257, False),
    ("emoji😀", "v", False),
    ("k", "€", False),
    ("k", "a\u0085b", False),
    ("k", "tab\tin", False),
    ("k", "star*", False),
]


@pytest.mark.parametrize("key,value,ok", TAG_CASES)
def test_tag_text(s3, bucket, key, value, ok):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="old=1")
    tagging = {"TagSet": [{"Key": key, "Value": value}]}
    if not ok:
        with pytest.raises(ClientError) as e:
            s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagging)
        assert error_of(e) == ("InvalidTag", 400)
    else:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagging)
    got = s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]
    assert got == (tagging["TagSet"] if ok else [{"Key": "old",
                                                  "Value": "1"}])


def test_tag_header_not_utf8_is_refused(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="k=%FF")
    assert error_of(e) == ("InvalidTag", 400)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x",
                  Tagging="k=%C3%A9t%C3%A9")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == \
        [{"Key": "k", "Value": "été"}]


# ---- the checksum of a part -------------------------------------------------


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_part_checksum_mode(s3, bucket):
    p1, p2 = b"a" * (5 * MIB), b"tail of the object"
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp",
                                    ChecksumAlgorithm="CRC32")["UploadId"]
    parts = []
    for n, data in ((1, p1), (2, p2)):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up,
                           PartNumber=n, Body=data,
                           ChecksumAlgorithm="CRC32")
        parts.append({"PartNumber": n, "ETag": r["ETag"],
                      "ChecksumCRC32": r["ChecksumCRC32"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": parts})
    for n, data in ((1, p1), (2, p2)):
        got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=n,
                            ChecksumMode="ENABLED")
        assert got["ChecksumCRC32"] == crc32_b64(data)
        assert got["PartsCount"] == 2
        assert got["Body"].read() == data
        head = s3.head_object(Bucket=bucket, Key="mp", PartNumber=n,
                              ChecksumMode="ENABLED")
        assert head["ChecksumCRC32"] == crc32_b64(data)


def test_part_checksum_of_upload_without_checksums(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1,
                       Body=b"only part")
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]})
    head = s3.head_object(Bucket=bucket, Key="mp", PartNumber=1,
                          ChecksumMode="ENABLED")
    assert not [k for k in head if k.startswith("Checksum")]


def test_part_one_of_single_put_has_object_checksum(s3, bucket):
    s3.put_object(Bucket=bucket, Key="one", Body=b"single body",
                  ChecksumAlgorithm="CRC32")
    head = s3.head_object(Bucket=bucket, Key="one", PartNumber=1,
                          ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32_b64(b"single body")
    ranged = s3.get_object(Bucket=bucket, Key="one", Range="bytes=0-3",
                           ChecksumMode="ENABLED")
    assert "ChecksumCRC32" not in ranged
    assert ranged["Body"].read() == b"sing"


def test_key_not_utf8_is_invalid_uri(bucket, http_endpoint):
    status, _, body = raw(http_endpoint, "PUT", "/%s/a%%FFb" % bucket,
                          body=b"x")
    assert status == 400
    assert texts(xml_of(body), "Code") == ["InvalidURI"]


# ---- XML request bodies ---------------------------------------------------

TAGGING_WITH_ENTITY = (b'<?xml version="1.0"?>'
                       b'<!DOCTYPE Tagging [<!ENTITY e "internal">]>'
                       b'<Tagging><TagSet><Tag><Key>k</Key>'
                       b'<Value>&e;</Value></Tag></TagSet></Tagging>')


def md5_header(body):
    """These PUTs need a Content-MD5 (or a checksum), as on AWS."""
    return {"Content-MD5": base64.b64encode(
        hashlib.md5(body).digest()).decode()}


def test_xml_with_a_dtd_is_refused(s3, bucket, http_endpoint):
    s3.put_object(Bucket=bucket, Key="o", Body=b"x")
    status, _, body = raw(http_endpoint, "PUT", "/%s/o?tagging" % bucket,
                          body=TAGGING_WITH_ENTITY,
                          headers=md5_header(TAGGING_WITH_ENTITY))
    assert status == 400
    assert texts(xml_of(body), "Code") == ["MalformedXML"]
    assert s3.get_object_tagging(Bucket=bucket, Key="o")["TagSet"] == []


@pytest.mark.parametrize("path", ["/{b}/o?tagging", "/{b}?tagging",
                                  "/{b}?encryption",
                                  "/{b}?publicAccessBlock"])
def test_empty_xml_body_is_missing_body(s3, bucket, http_endpoint, path):
    s3.put_object(Bucket=bucket, Key="o", Body=b"x")
    status, _, body = raw(http_endpoint, "PUT", path.format(b=bucket),
                          headers=md5_header(b""))
    assert status == 400
    assert texts(xml_of(body), "Code") == ["MissingRequestBodyError"]


# ---- headers coffer takes but does not act on ----------------------------

def test_storage_class_must_be_known(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="o", Body=b"x",
                      StorageClass="BOGUS")
    assert error_of(e) == ("InvalidStorageClass", 400)
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="m",
                                   StorageClass="BOGUS")
    assert error_of(e) == ("InvalidStorageClass", 400)
    s3.put_object(Bucket=bucket, Key="o", Body=b"x",
                  StorageClass="STANDARD_IA")
    assert s3.get_object(Bucket=bucket, Key="o")["Body"].read() == b"x"


@pytest.mark.parametrize("acl", ["public-read", "authenticated-read"])
def test_acls_other_than_the_owners_are_refused(s3, bucket, acl):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="o", Body=b"x", ACL=acl)
    assert error_of(e) == ("AccessControlListNotSupported", 400)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="o", Body=b"x",
                      GrantRead='uri="http://acs.amazonaws.com/groups/'
                                'global/AllUsers"')
    assert error_of(e) == ("AccessControlListNotSupported", 400)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="o")
    for ok in ("private", "bucket-owner-full-control"):
        s3.put_object(Bucket=bucket, Key="o", Body=b"x", ACL=ok)
