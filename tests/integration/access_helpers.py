"""Helpers for the access-control tests: `coffer admin` against the session
server's data directory, users with their own keys, clients signed as
them or not at all, and requests sent from a chosen loopback source
address.

Every address used is on loopback (127.0.0.0/8); every client gets the
test credentials, region and files of the session through its Endpoint.
"""

import http.client
import json
import ssl
import subprocess

from clients import client_env, show, unique_name
from server import ACCOUNT_ID, REGION, coffer_binary

ADMIN_TIMEOUT = 60


def admin(coffer, *args, check=True):
    """Runs `coffer admin --data DATA ARGS...`; returns the
    CompletedProcess, asserting success unless check is False."""
    res = subprocess.run([str(coffer_binary()), "admin", "--data",
                          str(coffer.data)] + [str(a) for a in args],
                         env=coffer.env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True,
                         timeout=ADMIN_TIMEOUT)
    if check:
        assert res.returncode == 0, show(res)
    return res


class User:
    """An IAM user of the session's account with one access key."""

    def __init__(self, coffer, tmp_path, name=None, policies=None):
        self.coffer = coffer
        self.tmp_path = tmp_path
        self.name = name or unique_name("user")
        out = json.loads(admin(coffer, "user", "create", self.name).stdout)
        self.arn = out["User"]["Arn"]
        self.user_id = out["User"]["UserId"]
        key = json.loads(admin(coffer, "key", "create", self.name).stdout)
        self.access_key = key["AccessKey"]["AccessKeyId"]
        self.secret_key = key["AccessKey"]["SecretAccessKey"]
        for pname, doc in (policies or {}).items():
            self.attach(pname, doc)

    def attach(self, pname, doc):
        """Attaches an identity policy (a dict) under pname."""
        path = self.tmp_path / ("%s-%s.json" % (self.name, pname))
        path.write_text(json.dumps(doc))
        admin(self.coffer, "policy", "attach", self.name, pname, path)

    def detach(self, pname):
        admin(self.coffer, "policy", "detach", self.name, pname)

    def client(self, endpoint, service="s3"):
        return endpoint.boto3(service, access_key=self.access_key,
                              secret_key=self.secret_key)

    def env(self, endpoint, aws_files):
        """An aws CLI environment signing as this user."""
        return client_env(aws_files, self.access_key, self.secret_key,
                          endpoint.ca)


def identity(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource, **extra):
    st = {"Effect": "Allow", "Action": action, "Resource": resource}
    st.update(extra)
    return st


def deny(action, resource, **extra):
    st = {"Effect": "Deny", "Action": action, "Resource": resource}
    st.update(extra)
    return st


def bucket_arn(bucket, key=None):
    return "arn:aws:s3:::%s%s" % (bucket, "/" + key if key else "")


def root_arn():
    return "arn:aws:iam::%s:root" % ACCOUNT_ID


def anonymous_s3(endpoint):
    """A boto3 S3 client that signs nothing (botocore's UNSIGNED)."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(signature_version=UNSIGNED,
                    retries={"total_max_attempts": 1})
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint.url, region_name=REGION,
        verify=str(endpoint.ca) if endpoint.ca else None, config=config)


def error_of(excinfo):
    """(error code, HTTP status) of a botocore ClientError."""
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def signed_get(endpoint, source_ip, path, access_key, secret_key):
    """GET path (e.g. /bucket/key) signed with SigV4 by botocore, sent
    over a connection bound to source_ip (a loopback address).  Returns
    (status, body bytes)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = endpoint.url + path
    req = AWSRequest(method="GET", url=url)
    S3SigV4Auth(Credentials(access_key, secret_key), "s3",
                REGION).add_auth(req)
    host, port = endpoint.url.split("//")[1].split(":")
    if endpoint.ca:
        ctx = ssl.create_default_context(cafile=str(endpoint.ca))
        conn = http.client.HTTPSConnection(host, int(port), context=ctx,
                                           source_address=(source_ip, 0),
                                           timeout=30)
    else:
        conn = http.client.HTTPConnection(host, int(port),
                                          source_address=(source_ip, 0),
                                          timeout=30)
    try:
        conn.request("GET", path, headers=dict(req.headers.items()))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()

