"""SSE-S3, SSE-KMS and DSSE-KMS through boto3 (over HTTP, a sample over
HTTPS too): the
rows of sse.md section 13 that are not about copies or SSE-C, the reply
headers of PUT, GET, HEAD, CreateMultipartUpload, UploadPart and
CompleteMultipartUpload, the bucket default on every write path, the
per-request bucket-key flag overriding the bucket's both ways, and the
encryption context as KMS sees it in the audit trail.
"""

import base64
import hashlib
import json
import os
import re

import pytest

from clients import Endpoint
from sse_helpers import (CTX_AB, MIB, ClientError, audit_records, error_of,
                         extra_headers, headers_of, kms_arn, kms_calls,
                         new_bucket, new_key, request_id, set_rule)

H_SSE = "x-amz-server-side-encryption"
H_KID = "x-amz-server-side-encryption-aws-kms-key-id"
H_CTX = "x-amz-server-side-encryption-context"
H_BK = "x-amz-server-side-encryption-bucket-key-enabled"
PART = 5 * MIB


@pytest.fixture(scope="module")
def s3(http_endpoint):
    """The modes do not depend on the transport: plain HTTP here, and
    test_over_https runs a sample of them over HTTPS."""
    return http_endpoint.boto3("s3")


@pytest.fixture(scope="module")
def kms(http_endpoint):
    return http_endpoint.boto3("kms")


@pytest.fixture
def key(kms):
    return new_key(kms)


@pytest.fixture
def key2(kms):
    return new_key(kms, "second sse test key")


@pytest.fixture
def bucket(s3):
    return new_bucket(s3)


@pytest.fixture
def aws_s3_arn(kms):
    """The ARN of the AWS-managed alias/aws/s3 key (made on first use)."""
    return kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"]


def kms_put(s3, bucket, key, body, key_ref=None, **extra):
    args = {"ServerSideEncryption": "aws:kms"}
    if key_ref is not None:
        args["SSEKMSKeyId"] = key_ref
    args.update(extra)
    return s3.put_object(Bucket=bucket, Key=key, Body=body, **args)


def sse_view(resp):
    """The encryption a response reports, from its raw headers."""
    h = headers_of(resp)
    return {name: h[name] for name in (H_SSE, H_KID, H_BK, H_CTX)
            if name in h}


def assert_reads(s3, bucket, key, body, want):
    """GET and HEAD report `want` (as sse_view) and GET gives body back."""
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == body
    assert sse_view(got) == want
    assert sse_view(s3.head_object(Bucket=bucket, Key=key)) == want


def assert_absent(s3, bucket, key):
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert error_of(e) == ("404", 404)


# Row 1 (and the explicit form).
@pytest.mark.parametrize("explicit", [False, True], ids=["none", "AES256"])
def test_sse_s3_reported_on_put_get_head(s3, bucket, explicit):
    body = os.urandom(3000)
    args = {"ServerSideEncryption": "AES256"} if explicit else {}
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, **args)
    assert sse_view(put) == {H_SSE: "AES256"}
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    assert_reads(s3, bucket, "k", body, {H_SSE: "AES256"})


# Rows 3 and 4, plus the key ARN and alias ARN forms.
@pytest.mark.parametrize("form", ["key-id", "key-arn", "alias-name",
                                  "alias-arn"])
def test_sse_kms_key_forms_report_key_arn(s3, kms, bucket, key, form):
    key_id, key_arn = key
    alias = "alias/" + bucket
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    ref = {"key-id": key_id, "key-arn": key_arn, "alias-name": alias,
           "alias-arn": kms_arn(alias)}[form]
    body = os.urandom(5000)

    put = kms_put(s3, bucket, "k", body, ref)
    want = {H_SSE: "aws:kms", H_KID: key_arn}
    assert sse_view(put) == want
    assert re.match(r'^"[0-9a-f]{32}"$', put["ETag"])
    assert put["ETag"].strip('"') != hashlib.md5(
        body).hexdigest()
    assert_reads(s3, bucket, "k", body, want)


def test_alias_retarget_leaves_old_objects_alone(s3, kms, bucket, key, key2):
    alias = "alias/" + bucket
    kms.create_alias(AliasName=alias, TargetKeyId=key[0])
    kms_put(s3, bucket, "old", b"old", alias)
    kms.update_alias(AliasName=alias, TargetKeyId=key2[0])
    kms_put(s3, bucket, "new", b"new", alias)
    assert_reads(s3, bucket, "old", b"old", {H_SSE: "aws:kms", H_KID: key[1]})
    assert_reads(s3, bucket, "new", b"new",
                 {H_SSE: "aws:kms", H_KID: key2[1]})


# Row 5.
def test_sse_kms_without_key_uses_aws_s3_key(s3, bucket, aws_s3_arn):
    other = new_bucket(s3)
    for name in (bucket, other):
        put = kms_put(s3, name, "k", b"managed")
        assert sse_view(put) == {H_SSE: "aws:kms", H_KID: aws_s3_arn}
        assert_reads(s3, name, "k", b"managed",
                     {H_SSE: "aws:kms", H_KID: aws_s3_arn})


def test_aws_s3_key_listed_once_used(kms, aws_s3_arn):
    aliases = kms.list_aliases()["Aliases"]
    names = [a["AliasName"] for a in aliases]
    assert names.count("alias/aws/s3") == 1
    meta = kms.describe_key(KeyId=aws_s3_arn)["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"


# Row 6.
def test_bucket_key_flag_reported_everywhere(s3, bucket, key):
    put = kms_put(s3, bucket, "k", b"bk", key[0], BucketKeyEnabled=True)
    want = {H_SSE: "aws:kms", H_KID: key[1], H_BK: "true"}
    assert sse_view(put) == want
    assert put["BucketKeyEnabled"] is True
    assert_reads(s3, bucket, "k", b"bk", want)


def test_dsse_echoed_and_never_a_bucket_key(coffer, s3, bucket, key):
    body = os.urandom(70000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body,
                        ServerSideEncryption="aws:kms:dsse",
                        SSEKMSKeyId=key[0], BucketKeyEnabled=True)
    want = {H_SSE: "aws:kms:dsse", H_KID: key[1]}
    assert sse_view(put) == want
    assert_reads(s3, bucket, "k", body, want)
    calls = kms_calls(audit_records(coffer, request_id(put)))
    assert [c["operation"] for c in calls] == ["GenerateDataKey"]
    assert calls[0]["encryptionContext"] == {
        "aws:s3:arn": "arn:aws:s3:::%s/k" % bucket}


def test_dsse_without_key_uses_aws_s3_key(s3, bucket, aws_s3_arn):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"d",
                        ServerSideEncryption="aws:kms:dsse")
    assert sse_view(put) == {H_SSE: "aws:kms:dsse", H_KID: aws_s3_arn}


# Rows 7 to 10: a bucket default of aws:kms + K with bucket keys.
def test_default_rule_applies_to_headerless_put(s3, bucket, key):
    set_rule(s3, bucket, key[0], bucket_key=True)
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"ruled")
    want = {H_SSE: "aws:kms", H_KID: key[1], H_BK: "true"}
    assert sse_view(put) == want
    assert_reads(s3, bucket, "k", b"ruled", want)


def test_explicit_aes256_beats_kms_rule(s3, bucket, key):
    set_rule(s3, bucket, key[0], bucket_key=True)
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x",
                        ServerSideEncryption="AES256")
    assert sse_view(put) == {H_SSE: "AES256"}
    assert_reads(s3, bucket, "k", b"x", {H_SSE: "AES256"})


def test_request_key_beats_rule_key_rule_bucket_key_kept(s3, bucket, key,
                                                         key2):
    set_rule(s3, bucket, key[0], bucket_key=True)
    put = kms_put(s3, bucket, "k", b"x", key2[0])
    want = {H_SSE: "aws:kms", H_KID: key2[1], H_BK: "true"}
    assert sse_view(put) == want
    assert_reads(s3, bucket, "k", b"x", want)


def test_request_bucket_key_false_beats_rule_true(coffer, s3, bucket, key,
                                                  key2):
    set_rule(s3, bucket, key[0], bucket_key=True)
    put = kms_put(s3, bucket, "k", b"x", key2[0], BucketKeyEnabled=False)
    want = {H_SSE: "aws:kms", H_KID: key2[1]}
    assert sse_view(put) == want
    assert_reads(s3, bucket, "k", b"x", want)
    calls = kms_calls(audit_records(coffer, request_id(put)))
    assert [c["encryptionContext"] for c in calls] == [
        {"aws:s3:arn": "arn:aws:s3:::%s/k" % bucket}]


def test_request_bucket_key_true_beats_rule_false(s3, bucket, key):
    set_rule(s3, bucket, key[0], bucket_key=False)
    plain = s3.put_object(Bucket=bucket, Key="ruled", Body=b"r")
    assert sse_view(plain) == {H_SSE: "aws:kms", H_KID: key[1]}
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x",
                        BucketKeyEnabled=True)
    want = {H_SSE: "aws:kms", H_KID: key[1], H_BK: "true"}
    assert sse_view(put) == want
    assert_reads(s3, bucket, "k", b"x", want)


def test_request_aws_kms_without_key_ignores_rule_key(s3, bucket, key,
                                                      aws_s3_arn):
    set_rule(s3, bucket, key[0], bucket_key=False)
    put = kms_put(s3, bucket, "k", b"x")
    assert sse_view(put) == {H_SSE: "aws:kms", H_KID: aws_s3_arn}


def test_rule_without_key_means_aws_s3(s3, bucket, aws_s3_arn):
    set_rule(s3, bucket, None, bucket_key=False)
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert sse_view(put) == {H_SSE: "aws:kms", H_KID: aws_s3_arn}


def test_aes256_rule_with_bucket_key_reports_none(s3, bucket):
    set_rule(s3, bucket, None, bucket_key=True, algorithm="AES256")
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert sse_view(put) == {H_SSE: "AES256"}


def test_dsse_rule_applies_without_bucket_key(s3, bucket, key):
    set_rule(s3, bucket, key[0], bucket_key=True, algorithm="aws:kms:dsse")
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert sse_view(put) == {H_SSE: "aws:kms:dsse", H_KID: key[1]}


# Row 39.
def test_deleted_rule_forgets_its_key(s3, bucket, key, aws_s3_arn):
    set_rule(s3, bucket, key[0], bucket_key=False)
    resp = s3.delete_bucket_encryption(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert sse_view(kms_put(s3, bucket, "k", b"x")) == {
        H_SSE: "aws:kms", H_KID: aws_s3_arn}
    assert sse_view(s3.put_object(Bucket=bucket, Key="p", Body=b"x")) == {
        H_SSE: "AES256"}


def test_rule_change_leaves_objects_alone(s3, bucket, key, key2):
    set_rule(s3, bucket, key[0], bucket_key=True)
    s3.put_object(Bucket=bucket, Key="k", Body=b"first")
    set_rule(s3, bucket, key2[0], bucket_key=False)
    assert_reads(s3, bucket, "k", b"first",
                 {H_SSE: "aws:kms", H_KID: key[1], H_BK: "true"})


# Rows 14 and 15 through request headers.
def test_unknown_key_text_not_found(s3, bucket):
    with pytest.raises(ClientError) as e:
        kms_put(s3, bucket, "k", b"x", "fake-key-id")
    assert error_of(e) == ("KMS.NotFoundException", 400)
    assert "fake-key-id" in e.value.response["Error"]["Message"]
    assert_absent(s3, bucket, "k")


def test_unknown_key_uuid_not_found(s3, bucket):
    unknown = "6f0e2a7c-1b1d-4b3a-9d55-000000000000"
    with pytest.raises(ClientError) as e:
        kms_put(s3, bucket, "k", b"x", unknown)
    assert error_of(e) == ("KMS.NotFoundException", 400)
    assert "does not exist" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="k",
                                   ServerSideEncryption="aws:kms",
                                   SSEKMSKeyId=unknown)
    assert error_of(e) == ("KMS.NotFoundException", 400)
    assert_absent(s3, bucket, "k")


def test_unknown_alias_not_found(s3, bucket):
    with pytest.raises(ClientError) as e:
        kms_put(s3, bucket, "k", b"x", "alias/" + bucket + "-none")
    assert error_of(e) == ("KMS.NotFoundException", 400)


# Row 18 and the other header combinations of sse.md section 2.
@pytest.mark.parametrize("args", [
    {"ServerSideEncryption": "AES256", "SSEKMSKeyId": "K"},
    {"SSEKMSKeyId": "K"},
    {"SSEKMSEncryptionContext": CTX_AB},
    {"ServerSideEncryption": "aes:kms"},
    {"ServerSideEncryption": "AWS:KMS"},
    {"ServerSideEncryption": "aws:fsx"},
], ids=["aes256-with-kid", "kid-alone", "ctx-alone", "aes-kms", "uppercase",
        "fsx"])
def test_bad_header_combinations_invalid_argument(s3, bucket, key, args):
    args = {k: (key[0] if v == "K" else v) for k, v in args.items()}
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", **args)
    assert error_of(e) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="k", **args)
    assert error_of(e) == ("InvalidArgument", 400)
    assert_absent(s3, bucket, "k")


@pytest.mark.parametrize("value", ["", "yes", "1"])
def test_bad_bucket_key_flag_invalid_argument(s3, bucket, key, value):
    with extra_headers(s3, "PutObject", {H_BK: value}):
        with pytest.raises(ClientError) as e:
            kms_put(s3, bucket, "k", b"x", key[0])
    assert error_of(e) == ("InvalidArgument", 400)


def test_bucket_key_flag_with_aes256_ignored(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x",
                        ServerSideEncryption="AES256",
                        BucketKeyEnabled=True)
    assert sse_view(put) == {H_SSE: "AES256"}


# Rows 19 and 20: the context.
def test_context_echoed_on_put_and_given_to_kms(coffer, s3, bucket, key):
    put = kms_put(s3, bucket, "k", b"ctx", key[0],
                  SSEKMSEncryptionContext=CTX_AB)
    assert sse_view(put) == {H_SSE: "aws:kms", H_KID: key[1], H_CTX: CTX_AB}
    assert put["SSEKMSEncryptionContext"] == CTX_AB
    want_ctx = {"a": "b", "aws:s3:arn": "arn:aws:s3:::%s/k" % bucket}
    calls = kms_calls(audit_records(coffer, request_id(put)))
    assert [(c["operation"], c["encryptionContext"]) for c in calls] == [
        ("GenerateDataKey", want_ctx)]

    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"ctx"
    assert H_CTX not in headers_of(got)
    calls = kms_calls(audit_records(coffer, request_id(got)))
    assert [(c["operation"], c["encryptionContext"]) for c in calls] == [
        ("Decrypt", want_ctx)]


def test_context_with_matching_s3_arn_accepted(s3, bucket, key):
    ctx = {"aws:s3:arn": "arn:aws:s3:::%s/k" % bucket, "team": "blue"}
    b64 = base64.b64encode(json.dumps(ctx).encode()).decode()
    put = kms_put(s3, bucket, "k", b"x", key[0], SSEKMSEncryptionContext=b64)
    assert headers_of(put)[H_CTX] == b64
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_context_with_other_s3_arn_refused(s3, bucket, key):
    ctx = {"aws:s3:arn": "arn:aws:s3:::%s/other" % bucket}
    b64 = base64.b64encode(json.dumps(ctx).encode()).decode()
    with pytest.raises(ClientError) as e:
        kms_put(s3, bucket, "k", b"x", key[0], SSEKMSEncryptionContext=b64)
    assert error_of(e) == ("InvalidArgument", 400)
    assert_absent(s3, bucket, "k")


@pytest.mark.parametrize("value", [
    "!!", base64.b64encode(b"not json").decode(),
    base64.b64encode(b'["a","b"]').decode(),
    base64.b64encode(b'{"a":1}').decode(),
], ids=["not-base64", "not-json", "array", "number-value"])
def test_bad_context_invalid_argument(s3, bucket, key, value):
    with pytest.raises(ClientError) as e:
        kms_put(s3, bucket, "k", b"x", key[0], SSEKMSEncryptionContext=value)
    assert error_of(e) == ("InvalidArgument", 400)
    assert "Base64-encoded" in e.value.response["Error"]["Message"]
    assert_absent(s3, bucket, "k")


def test_context_with_bucket_key_bound_to_object(coffer, s3, bucket, key):
    put = kms_put(s3, bucket, "k", b"ctx", key[0], BucketKeyEnabled=True,
                  SSEKMSEncryptionContext=CTX_AB)
    assert sse_view(put) == {H_SSE: "aws:kms", H_KID: key[1], H_BK: "true",
                             H_CTX: CTX_AB}
    for rec in kms_calls(audit_records(coffer, request_id(put))):
        assert rec["encryptionContext"] == {
            "aws:s3:arn": "arn:aws:s3:::%s" % bucket}
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"ctx"


# Bucket keys as KMS sees them.
def test_bucket_key_context_is_bucket_arn_and_reused(coffer, s3, bucket, key):
    first = kms_put(s3, bucket, "a", b"a", key[0], BucketKeyEnabled=True)
    calls = kms_calls(audit_records(coffer, request_id(first)))
    assert [(c["operation"], c["encryptionContext"]) for c in calls] == [
        ("GenerateDataKey", {"aws:s3:arn": "arn:aws:s3:::%s" % bucket})]

    for name in ("b", "c", "d"):
        put = kms_put(s3, bucket, name, name.encode(), key[0],
                      BucketKeyEnabled=True)
        assert kms_calls(audit_records(coffer, request_id(put))) == []
        got = s3.get_object(Bucket=bucket, Key=name)
        assert got["Body"].read() == name.encode()
        assert kms_calls(audit_records(coffer, request_id(got))) == []


def test_without_bucket_key_one_call_per_object(coffer, s3, bucket, key):
    for name in ("a", "b"):
        put = kms_put(s3, bucket, name, b"x", key[0])
        calls = kms_calls(audit_records(coffer, request_id(put)))
        assert [c["operation"] for c in calls] == ["GenerateDataKey"]
        got = s3.get_object(Bucket=bucket, Key=name)
        calls = kms_calls(audit_records(coffer, request_id(got)))
        assert [c["operation"] for c in calls] == ["Decrypt"]


def test_head_makes_no_kms_call(coffer, s3, bucket, key):
    kms_put(s3, bucket, "k", b"x", key[0])
    head = s3.head_object(Bucket=bucket, Key="k")
    assert kms_calls(audit_records(coffer, request_id(head))) == []


# Rows 21 and 23: headers an operation does not take.
@pytest.mark.parametrize("name,value", [
    (H_SSE, "aws:kms"), (H_SSE, "AES256"), (H_BK, "true"),
    (H_KID, "alias/aws/s3"), (H_CTX, CTX_AB)])
def test_get_and_head_refuse_write_headers(s3, bucket, name, value):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with extra_headers(s3, "GetObject", {name: value}):
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=bucket, Key="k")
    assert error_of(e) == ("InvalidArgument", 400)
    with extra_headers(s3, "HeadObject", {name: value}):
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=bucket, Key="k")
    assert error_of(e) == ("400", 400)


def test_upload_part_refuses_sse_headers(s3, bucket, key):
    up = s3.create_multipart_upload(Bucket=bucket, Key="k",
                                    ServerSideEncryption="aws:kms",
                                    SSEKMSKeyId=key[0])
    for name, value in ((H_SSE, "aws:kms"), (H_KID, key[0]),
                        (H_BK, "true"), (H_CTX, CTX_AB)):
        with extra_headers(s3, "UploadPart", {name: value}):
            with pytest.raises(ClientError) as e:
                s3.upload_part(Bucket=bucket, Key="k", PartNumber=1,
                               UploadId=up["UploadId"], Body=b"x")
        assert error_of(e) == ("InvalidArgument", 400)
    assert s3.list_parts(Bucket=bucket, Key="k",
                         UploadId=up["UploadId"]).get("Parts", []) == []


# Row 22 and the multipart write path.
def multipart(s3, bucket, key, data, create_args, part_size=PART):
    """Create, parts, Complete; returns (create, [part replies], complete)."""
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **create_args)
    replies, parts = [], []
    for n, start in enumerate(range(0, len(data), part_size), 1):
        resp = s3.upload_part(Bucket=bucket, Key=key, PartNumber=n,
                              UploadId=up["UploadId"],
                              Body=data[start:start + part_size])
        replies.append(resp)
        parts.append({"PartNumber": n, "ETag": resp["ETag"]})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=up["UploadId"],
        MultipartUpload={"Parts": parts})
    return up, replies, done


def test_multipart_kms_bucket_key_reported_on_all_four(s3, bucket, key):
    data = os.urandom(PART + 1234)
    up, parts, done = multipart(s3, bucket, "k", data, {
        "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key[0],
        "BucketKeyEnabled": True})
    want = {H_SSE: "aws:kms", H_KID: key[1], H_BK: "true"}
    for resp in [up] + parts + [done]:
        assert sse_view(resp) == want
    assert re.match(r'^"[0-9a-f]{32}-2"$', done["ETag"])
    assert_reads(s3, bucket, "k", data, want)


def test_multipart_context_echoed_on_create_only(s3, bucket, key):
    data = os.urandom(1000)
    up, parts, done = multipart(s3, bucket, "k", data, {
        "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key[0],
        "SSEKMSEncryptionContext": CTX_AB})
    assert headers_of(up)[H_CTX] == CTX_AB
    for resp in parts + [done]:
        assert sse_view(resp) == {H_SSE: "aws:kms", H_KID: key[1]}
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == data


@pytest.mark.parametrize("create_args,want", [
    ({}, {H_SSE: "AES256"}),
    ({"ServerSideEncryption": "AES256"}, {H_SSE: "AES256"}),
    ({"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": "K"},
     {H_SSE: "aws:kms:dsse", H_KID: "K"}),
], ids=["none", "aes256", "dsse"])
def test_multipart_other_modes(s3, bucket, key, create_args, want):
    create_args = {k: (key[0] if v == "K" else v)
                   for k, v in create_args.items()}
    want = {k: (key[1] if v == "K" else v) for k, v in want.items()}
    data = os.urandom(PART + 10)
    up, parts, done = multipart(s3, bucket, "k", data, create_args)
    for resp in [up] + parts + [done]:
        assert sse_view(resp) == want
    assert_reads(s3, bucket, "k", data, want)


def test_multipart_takes_bucket_default(s3, bucket, key):
    set_rule(s3, bucket, key[0], bucket_key=True)
    data = os.urandom(PART + 10)
    up, parts, done = multipart(s3, bucket, "k", data, {})
    want = {H_SSE: "aws:kms", H_KID: key[1], H_BK: "true"}
    for resp in [up] + parts + [done]:
        assert sse_view(resp) == want
    assert_reads(s3, bucket, "k", data, want)


@pytest.mark.parametrize("rule_bk,req_bk", [(True, False), (False, True)],
                         ids=["rule-on-request-off", "rule-off-request-on"])
def test_multipart_request_bucket_key_beats_rule(s3, bucket, key, rule_bk,
                                                 req_bk):
    set_rule(s3, bucket, key[0], bucket_key=rule_bk)
    data = os.urandom(2000)
    up, parts, done = multipart(s3, bucket, "k", data,
                                {"BucketKeyEnabled": req_bk})
    want = {H_SSE: "aws:kms", H_KID: key[1]}
    if req_bk:
        want[H_BK] = "true"
    for resp in [up] + parts + [done]:
        assert sse_view(resp) == want
    assert_reads(s3, bucket, "k", data, want)


def test_multipart_explicit_aes256_beats_kms_rule(s3, bucket, key):
    set_rule(s3, bucket, key[0], bucket_key=True)
    up, parts, done = multipart(s3, bucket, "k", b"x" * 100,
                                {"ServerSideEncryption": "AES256"})
    for resp in [up] + parts + [done]:
        assert sse_view(resp) == {H_SSE: "AES256"}


def test_multipart_kms_parts_make_no_generate_calls(coffer, s3, bucket, key):
    """Without a bucket key a part costs one Decrypt of the upload's data
    key (sse.md section 7), never a new data key."""
    data = os.urandom(PART + 10)
    up, parts, done = multipart(s3, bucket, "k", data, {
        "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key[0]})
    ops = [c["operation"] for c in kms_calls(audit_records(
        coffer, request_id(up)))]
    assert ops == ["GenerateDataKey"]
    for resp in parts:
        ops = [c["operation"] for c in kms_calls(audit_records(
            coffer, request_id(resp)))]
        assert ops == ["Decrypt"]


# Row 36.
def test_range_across_segment_edge_row36(s3, bucket, key):
    data = os.urandom(200000)
    kms_put(s3, bucket, "k", data, key[0])
    got = s3.get_object(Bucket=bucket, Key="k", Range="bytes=65530-65545")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == "bytes 65530-65545/200000"
    assert got["Body"].read() == data[65530:65546]


# Row 40.
def test_key_policy_denying_generate_data_key_403(s3, kms, bucket, key):
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "root", "Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "no-data-keys", "Effect": "Deny", "Principal": {"AWS": "*"},
         "Action": "kms:GenerateDataKey*", "Resource": "*"}]}
    kms.put_key_policy(KeyId=key[0], PolicyName="default",
                       Policy=json.dumps(policy))
    for bk in (False, True):
        with pytest.raises(ClientError) as e:
            kms_put(s3, bucket, "k", b"x", key[0], BucketKeyEnabled=bk)
        assert error_of(e) == ("AccessDenied", 403)
    assert_absent(s3, bucket, "k")


def test_key_policy_denying_generate_after_bucket_key_cached_403(
        s3, kms, bucket, key):
    """A cached bucket key never lets through a caller the key policy
    now refuses."""
    kms_put(s3, bucket, "a", b"a", key[0], BucketKeyEnabled=True)
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow",
         "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": "*"},
         "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
         "Resource": "*"}]}
    kms.put_key_policy(KeyId=key[0], PolicyName="default",
                       Policy=json.dumps(policy))
    with pytest.raises(ClientError) as e:
        kms_put(s3, bucket, "b", b"b", key[0], BucketKeyEnabled=True)
    assert error_of(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="a")
    assert error_of(e) == ("AccessDenied", 403)


# Row 41.
def test_wrong_content_md5_bad_digest(s3, bucket, key):
    data = os.urandom(MIB)
    wrong = base64.b64encode(hashlib.md5(b"other").digest())
    with pytest.raises(ClientError) as e:
        kms_put(s3, bucket, "k", data, key[0], ContentMD5=wrong.decode())
    assert error_of(e) == ("BadDigest", 400)
    assert_absent(s3, bucket, "k")


def test_empty_object_every_mode(s3, bucket, key):
    for name, args in (("s3", {"ServerSideEncryption": "AES256"}),
                       ("kms", {"ServerSideEncryption": "aws:kms",
                                "SSEKMSKeyId": key[0]}),
                       ("bk", {"ServerSideEncryption": "aws:kms",
                               "SSEKMSKeyId": key[0],
                               "BucketKeyEnabled": True})):
        s3.put_object(Bucket=bucket, Key=name, Body=b"", **args)
        got = s3.get_object(Bucket=bucket, Key=name)
        assert got["ContentLength"] == 0
        assert got["Body"].read() == b""


def test_over_https(coffer, aws_files):
    """A sample of the rows above over HTTPS: the same answers."""
    tls = Endpoint(coffer, aws_files, "https")
    s3, kms = tls.boto3("s3"), tls.boto3("kms")
    bucket = new_bucket(s3)
    key_id, key_arn = new_key(kms)
    body = os.urandom(70000)
    assert sse_view(s3.put_object(Bucket=bucket, Key="s3", Body=body)) == {
        H_SSE: "AES256"}
    assert_reads(s3, bucket, "s3", body, {H_SSE: "AES256"})
    want = {H_SSE: "aws:kms", H_KID: key_arn, H_BK: "true"}
    put = kms_put(s3, bucket, "kms", body, key_id, BucketKeyEnabled=True,
                  SSEKMSEncryptionContext=CTX_AB)
    assert sse_view(put) == dict(want, **{H_CTX: CTX_AB})
    assert_reads(s3, bucket, "kms", body, want)
    data = os.urandom(PART + 10)
    up, parts, done = multipart(s3, bucket, "mp", data, {
        "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id,
        "BucketKeyEnabled": True})
    for resp in [up] + parts + [done]:
        assert sse_view(resp) == want
    assert_reads(s3, bucket, "mp", data, want)
    with pytest.raises(ClientError) as e:
        kms_put(s3, bucket, "bad", b"x", "fake-key-id")
    assert error_of(e) == ("KMS.NotFoundException", 400)
