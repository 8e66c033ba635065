"""Listing through boto3 and the aws CLI: ListObjects v1 and v2 (prefix,
delimiter, CommonPrefixes, max-keys paging, start-after, markers and
continuation tokens, encoding-type=url with awkward keys), and the paging of
ListMultipartUploads and ListParts.

One bucket of awkward keys is made per module; every listing of it is
compared with the answer worked out here from the key list, in UTF-8 byte
order as S3 sorts.
"""

import urllib.parse

import pytest

from clients import unique_name

pytest.importorskip("boto3")
ClientError = pytest.importorskip("botocore.exceptions").ClientError

# Keys with spaces, '+', '%', unicode, a folder marker and nesting.
KEYS = [
    "a/",
    "a/b/c.txt",
    "a/b/d.txt",
    "a/d e.txt",
    "a/plus+x",
    "a/pct%41",
    "a/\u00fcn\u00ef/c\u00f6d\u00e9",
    "a+b/x",
    "top",
    "z z",
    "\u00fcn\u00ef",
    "\u65e5\u672c/\u8a9e",
]


def utf8_sorted(keys):
    return sorted(keys, key=lambda k: k.encode())


def expected(prefix="", delimiter=None):
    """(keys, common prefixes) S3 lists for prefix and delimiter."""
    keys, prefixes = [], []
    for key in utf8_sorted(KEYS):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        if delimiter and delimiter in rest:
            folded = prefix + rest[:rest.index(delimiter) + len(delimiter)]
            if folded not in prefixes:
                prefixes.append(folded)
        else:
            keys.append(key)
    return keys, prefixes


def error_of(excinfo):
    """(error code, HTTP status) of a ClientError."""
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def url(text):
    """How S3 writes text with encoding-type=url: every byte but the
    unreserved ones and '/' percent-encoded, space as %20, '+' as %2B."""
    return urllib.parse.quote(text, safe="/~")


@pytest.fixture(scope="module")
def s3(http_endpoint):
    return http_endpoint.boto3("s3")


@pytest.fixture(scope="module")
def listed(s3):
    """A bucket holding KEYS, each with a one-byte body."""
    name = unique_name("list")
    s3.create_bucket(Bucket=name)
    for key in KEYS:
        s3.put_object(Bucket=name, Key=key, Body=b"x")
    return name


def keys_of(resp):
    return [c["Key"] for c in resp.get("Contents", [])]


def prefixes_of(resp):
    return [p["Prefix"] for p in resp.get("CommonPrefixes", [])]


def page_v2(s3, bucket, **kw):
    """Every page of ListObjectsV2 by hand: (keys, prefixes, pages)."""
    keys, prefixes, pages = [], [], []
    token = None
    while True:
        args = dict(kw, ContinuationToken=token) if token else kw
        resp = s3.list_objects_v2(Bucket=bucket, **args)
        pages.append(resp)
        keys += keys_of(resp)
        prefixes += prefixes_of(resp)
        if not resp["IsTruncated"]:
            return keys, prefixes, pages
        token = resp["NextContinuationToken"]
        assert token


def test_v2_lists_every_key_in_utf8_order(s3, listed):
    resp = s3.list_objects_v2(Bucket=listed)
    assert keys_of(resp) == utf8_sorted(KEYS)
    assert resp["KeyCount"] == len(KEYS)
    assert resp["IsTruncated"] is False
    assert "NextContinuationToken" not in resp
    assert all(c["Size"] == 1 for c in resp["Contents"])
    assert all(c["StorageClass"] == "STANDARD" for c in resp["Contents"])


@pytest.mark.parametrize("prefix", ["a/", "a/b/", "a+", "\u00fcn", "none/"])
def test_v2_prefix(s3, listed, prefix):
    resp = s3.list_objects_v2(Bucket=listed, Prefix=prefix)
    assert keys_of(resp) == expected(prefix)[0]
    assert resp["Prefix"] == prefix


@pytest.mark.parametrize("prefix", ["a/b/", "top", "\u00fcn\u00ef/"])
def test_v2_delimiter_without_folding(s3, listed, prefix):
    resp = s3.list_objects_v2(Bucket=listed, Prefix=prefix, Delimiter="/")
    assert (keys_of(resp), prefixes_of(resp)) == expected(prefix, "/")


@pytest.mark.parametrize("prefix", ["", "a/"])
def test_v2_delimiter_common_prefixes(s3, listed, prefix):
    resp = s3.list_objects_v2(Bucket=listed, Prefix=prefix, Delimiter="/")
    assert (keys_of(resp), prefixes_of(resp)) == expected(prefix, "/")
    assert resp["KeyCount"] == sum(map(len, expected(prefix, "/")))
    assert resp["Delimiter"] == "/"


@pytest.mark.parametrize("max_keys", [1, 2, 5])
def test_v2_max_keys_pages_with_continuation_tokens(s3, listed, max_keys):
    keys, _, pages = page_v2(s3, listed, MaxKeys=max_keys)
    assert keys == utf8_sorted(KEYS)
    for page in pages:
        assert page["MaxKeys"] == max_keys
        assert page["KeyCount"] == len(keys_of(page)) <= max_keys
    assert len(pages) == -(-len(KEYS) // max_keys)
    for page, nxt in zip(pages, pages[1:]):
        assert nxt["ContinuationToken"] == page["NextContinuationToken"]


def test_v2_paging_with_delimiter_counts_each_prefix_once(s3, listed):
    keys, prefixes, pages = page_v2(s3, listed, MaxKeys=2, Delimiter="/")
    assert (keys, prefixes) == expected("", "/")
    for page in pages:
        assert page["KeyCount"] == (len(keys_of(page))
                                    + len(prefixes_of(page))) <= 2


def test_v2_max_keys_zero_is_empty_and_not_truncated(s3, listed):
    resp = s3.list_objects_v2(Bucket=listed, MaxKeys=0)
    assert keys_of(resp) == []
    assert resp["KeyCount"] == 0
    assert resp["IsTruncated"] is False


@pytest.mark.parametrize("after", ["a/b/c.txt", "a/pct", "top", "\uffff"])
def test_v2_start_after(s3, listed, after):
    resp = s3.list_objects_v2(Bucket=listed, StartAfter=after)
    want = [k for k in utf8_sorted(KEYS) if k.encode() > after.encode()]
    assert keys_of(resp) == want
    assert resp["StartAfter"] == after


def test_v2_start_after_then_tokens(s3, listed):
    keys, _, _ = page_v2(s3, listed, MaxKeys=2, StartAfter="a/d e.txt")
    assert keys == [k for k in utf8_sorted(KEYS)
                    if k.encode() > b"a/d e.txt"]


def test_v2_encoding_type_url_as_sent(s3, listed):
    """Asked for explicitly, botocore leaves the encoding in place, so the
    raw form is visible: space %20, '+' %2B, '%' %25, UTF-8 bytes."""
    resp = s3.list_objects_v2(Bucket=listed, EncodingType="url",
                              Prefix="a/", StartAfter="a/b/d.txt")
    want = [k for k in expected("a/")[0] if k.encode() > b"a/b/d.txt"]
    assert keys_of(resp) == [url(k) for k in want]
    assert "a/d%20e.txt" in keys_of(resp)
    assert "a/plus%2Bx" in keys_of(resp)
    assert "a/pct%2541" in keys_of(resp)
    assert resp["EncodingType"] == "url"
    assert resp["StartAfter"] == "a/b/d.txt"


def test_v2_encoding_of_prefix_and_start_after(s3, listed):
    resp = s3.list_objects_v2(Bucket=listed, EncodingType="url",
                              Prefix="a/\u00fcn", StartAfter="a/ +")
    assert resp["Prefix"] == url("a/\u00fcn")
    assert resp["StartAfter"] == "a/%20%2B"
    assert keys_of(resp) == [url("a/\u00fcn\u00ef/c\u00f6d\u00e9")]


def test_v2_botocore_decodes_what_it_asked_for(s3, listed):
    """boto3 adds encoding-type=url itself and decodes the answer."""
    resp = s3.list_objects_v2(Bucket=listed, Prefix="a/", StartAfter="a/ ")
    assert keys_of(resp) == expected("a/")[0][1:]
    assert resp["StartAfter"] == "a/ "


def test_v2_fetch_owner(s3, listed):
    plain = s3.list_objects_v2(Bucket=listed, MaxKeys=1)
    assert "Owner" not in plain["Contents"][0]
    owned = s3.list_objects_v2(Bucket=listed, MaxKeys=1, FetchOwner=True)
    assert owned["Contents"][0]["Owner"]["ID"]


def test_v2_paginator(s3, listed):
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=listed, PaginationConfig={"PageSize": 3})
    assert [k for p in pages for k in keys_of(p)] == utf8_sorted(KEYS)


def test_v1_lists_every_key_with_owner(s3, listed):
    resp = s3.list_objects(Bucket=listed)
    assert keys_of(resp) == utf8_sorted(KEYS)
    assert resp["IsTruncated"] is False
    assert all(c["Owner"]["ID"] for c in resp["Contents"])


def test_v1_marker_paging(s3, listed):
    """Without a delimiter there is no NextMarker: the client goes on
    from the last key it got."""
    keys, marker = [], ""
    while True:
        resp = s3.list_objects(Bucket=listed, MaxKeys=3, Marker=marker)
        assert resp["Marker"] == marker
        assert len(keys_of(resp)) <= 3
        keys += keys_of(resp)
        if not resp["IsTruncated"]:
            break
        marker = keys[-1]
    assert keys == utf8_sorted(KEYS)


@pytest.mark.parametrize("prefix", ["a/b/", "\u00fcn\u00ef/"])
def test_v1_prefix_and_delimiter_without_folding(s3, listed, prefix):
    resp = s3.list_objects(Bucket=listed, Prefix=prefix, Delimiter="/")
    assert (keys_of(resp), prefixes_of(resp)) == expected(prefix, "/")


def test_v1_delimiter_next_marker_paging(s3, listed):
    keys, prefixes, marker = [], [], ""
    while True:
        resp = s3.list_objects(Bucket=listed, MaxKeys=2, Delimiter="/",
                               Marker=marker)
        keys += keys_of(resp)
        prefixes += prefixes_of(resp)
        if not resp["IsTruncated"]:
            break
        marker = resp["NextMarker"]
    assert (keys, prefixes) == expected("", "/")


def test_v1_encoding_type_url(s3, listed):
    resp = s3.list_objects(Bucket=listed, EncodingType="url", Prefix="a/",
                           Marker="a/b/d.txt")
    want = [k for k in expected("a/")[0] if k.encode() > b"a/b/d.txt"]
    assert keys_of(resp) == [url(k) for k in want]
    assert resp["EncodingType"] == "url"


def test_v1_paginator_decodes(s3, listed):
    pages = s3.get_paginator("list_objects").paginate(
        Bucket=listed, PaginationConfig={"PageSize": 4})
    assert [k for p in pages for k in keys_of(p)] == utf8_sorted(KEYS)


@pytest.mark.parametrize("query, value", [
    ("MaxKeys", -1),
    ("EncodingType", "base64"),
    ("ContinuationToken", "not-a-token!"),
])
def test_v2_bad_arguments(s3, listed, query, value):
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=listed, **{query: value})
    assert error_of(e) == ("InvalidArgument", 400)


def test_listing_a_missing_bucket(s3):
    for call in (s3.list_objects, s3.list_objects_v2,
                 s3.list_multipart_uploads):
        with pytest.raises(ClientError) as e:
            call(Bucket=unique_name("absent"))
        assert error_of(e) == ("NoSuchBucket", 404)


@pytest.fixture(scope="module")
def uploads(s3):
    """A bucket with open uploads: two for one key, one each for others.
    Returns (bucket, [(key, upload id)] in listing order)."""
    name = unique_name("uploads")
    s3.create_bucket(Bucket=name)
    made = []
    for key in ["d/one", "d/one", "d/two", "e/thr ee", "f+our"]:
        resp = s3.create_multipart_upload(Bucket=name, Key=key)
        made.append((key, resp["UploadId"]))
    made.sort(key=lambda u: (u[0].encode(), u[1]))
    return name, made


def upload_ids(resp):
    return [(u["Key"], u["UploadId"]) for u in resp.get("Uploads", [])]


def test_list_uploads_all(s3, uploads):
    bucket, made = uploads
    resp = s3.list_multipart_uploads(Bucket=bucket)
    assert upload_ids(resp) == made
    assert resp["IsTruncated"] is False
    for upload in resp["Uploads"]:
        assert upload["Initiator"]["ID"] and upload["Owner"]["ID"]
        assert upload["StorageClass"] == "STANDARD"


@pytest.mark.parametrize("max_uploads", [1, 2, 3])
def test_list_uploads_paging(s3, uploads, max_uploads):
    bucket, made = uploads
    got, markers = [], {}
    while True:
        resp = s3.list_multipart_uploads(Bucket=bucket,
                                         MaxUploads=max_uploads, **markers)
        assert resp["MaxUploads"] == max_uploads
        assert len(upload_ids(resp)) <= max_uploads
        got += upload_ids(resp)
        if not resp["IsTruncated"]:
            break
        assert (resp["NextKeyMarker"], resp["NextUploadIdMarker"]) == \
            got[-1]
        markers = {"KeyMarker": resp["NextKeyMarker"],
                   "UploadIdMarker": resp["NextUploadIdMarker"]}
    assert got == made


def test_list_uploads_key_marker_alone_skips_the_key(s3, uploads):
    bucket, made = uploads
    resp = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="d/one")
    assert upload_ids(resp) == [u for u in made if u[0] != "d/one"]


def test_list_uploads_prefix(s3, uploads):
    bucket, made = uploads
    resp = s3.list_multipart_uploads(Bucket=bucket, Prefix="d/")
    assert upload_ids(resp) == [u for u in made if u[0].startswith("d/")]


def test_list_uploads_paginator(s3, uploads):
    bucket, made = uploads
    pages = s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 2})
    assert [u for p in pages for u in upload_ids(p)] == made


def test_list_uploads_delimiter(s3, uploads):
    bucket, made = uploads
    resp = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert upload_ids(resp) == [("f+our", made[-1][1])]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["d/", "e/"]


@pytest.fixture(scope="module")
def parts(s3, uploads):
    """An open upload with seven small parts: (bucket, key, id, etags)."""
    bucket = uploads[0]
    key = "p/parts"
    upload_id = s3.create_multipart_upload(Bucket=bucket,
                                           Key=key)["UploadId"]
    etags = {}
    for number in range(1, 8):
        resp = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                              PartNumber=number, Body=b"p" * number)
        etags[number] = resp["ETag"]
    yield bucket, key, upload_id, etags
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


@pytest.mark.parametrize("max_parts", [1, 3, 7, 1000])
def test_list_parts_paging(s3, parts, max_parts):
    bucket, key, upload_id, etags = parts
    got, marker = [], 0
    while True:
        resp = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id,
                             MaxParts=max_parts, PartNumberMarker=marker)
        assert resp["PartNumberMarker"] == marker
        assert resp["MaxParts"] == max_parts
        assert len(resp["Parts"]) <= max_parts
        got += [(p["PartNumber"], p["ETag"], p["Size"])
                for p in resp["Parts"]]
        if not resp["IsTruncated"]:
            break
        marker = resp["NextPartNumberMarker"]
        assert marker == got[-1][0]
    assert got == [(n, etags[n], n) for n in range(1, 8)]


def test_list_parts_paginator(s3, parts):
    bucket, key, upload_id, etags = parts
    pages = s3.get_paginator("list_parts").paginate(
        Bucket=bucket, Key=key, UploadId=upload_id,
        PaginationConfig={"PageSize": 2})
    assert [p["PartNumber"] for page in pages for p in page["Parts"]] == \
        list(range(1, 8))


def test_list_parts_of_unknown_upload(s3, parts):
    bucket, key, _, _ = parts
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key=key, UploadId="no-such-upload")
    assert error_of(e) == ("NoSuchUpload", 404)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cli_lists_awkward_keys(http_endpoint, clis, tmp_path, listed,
                                version):
    """The CLI always asks for encoding-type=url and decodes; paging by
    hand through --page-size must still give every key once."""
    aws = http_endpoint.aws(clis, version, tmp_path)
    got = aws.json("s3api", "list-objects-v2", "--bucket", listed,
                   "--page-size", "2")
    assert [c["Key"] for c in got["Contents"]] == utf8_sorted(KEYS)

    res = aws.run("s3", "ls", "--recursive", "s3://%s/" % listed)
    assert res.returncode == 0, res.stderr
    names = [line.split(None, 3)[3] for line in res.stdout.splitlines()]
    assert names == utf8_sorted(KEYS)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cli_ls_shows_folders(http_endpoint, clis, tmp_path, listed,
                              version):
    aws = http_endpoint.aws(clis, version, tmp_path)
    res = aws.run("s3", "ls", "s3://%s/" % listed)
    assert res.returncode == 0, res.stderr
    folders = [line.split(None, 1)[1] for line in res.stdout.splitlines()
               if line.split()[0] == "PRE"]
    files = [line.split(None, 3)[3] for line in res.stdout.splitlines()
             if line.split()[0] != "PRE"]
    keys, prefixes = expected("", "/")
    assert folders == prefixes
    assert files == keys


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cli_list_uploads_and_parts(http_endpoint, clis, tmp_path, parts,
                                    version):
    aws = http_endpoint.aws(clis, version, tmp_path)
    bucket, key, upload_id, _ = parts
    got = aws.json("s3api", "list-parts", "--bucket", bucket, "--key", key,
                   "--upload-id", upload_id, "--page-size", "3")
    assert [p["PartNumber"] for p in got["Parts"]] == list(range(1, 8))
    got = aws.json("s3api", "list-multipart-uploads", "--bucket", bucket,
                   "--prefix", "p/")
    assert [(u["Key"], u["UploadId"]) for u in got["Uploads"]] == \
        [(key, upload_id)]
