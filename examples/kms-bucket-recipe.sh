#!/usr/bin/env bash
# The KMS-bucket recipe, run against a coffer server with the stock aws CLI:
# a customer key and its alias, a bucket whose default encryption is that
# key with a bucket key, a policy that refuses unencrypted uploads, and
# uploads that pass or are refused. Each command is printed as typed, then
# its output; the refused uploads are shown failing and the walk goes on.
#
# usage: [ENDPOINT=http://127.0.0.1:9000] examples/kms-bucket-recipe.sh
#
# The aws CLI must find the server's credentials, e.g. AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY set to the ones the server was started with, or
# AWS_SHARED_CREDENTIALS_FILE pointing at DATA/credentials. Exits 0 when
# every step behaved as the recipe says, 1 otherwise.
set -uo pipefail

ENDPOINT=${ENDPOINT:-http://127.0.0.1:9000}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_EC2_METADATA_DISABLED=true
export AWS_PAGER=""

# Names of this run, so the recipe can be walked again on the same server.
run=$(date +%s)-$$
BUCKET=recipe-$run
BUCKET2=recipe-$run-nopolicy
ALIAS=alias/mybucketkey-$run

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
unexpected=0

# Prints a command the way one would type it, quoting what needs quotes;
# aws_ is shown as the aws command it runs.
show() {
    local line="" arg
    if [ "$1" = aws_ ]; then
        shift
        set -- aws --endpoint-url "$ENDPOINT" "$@"
    fi
    for arg in "$@"; do
        if [[ $arg =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
            line+=" $arg"
        else
            line+=" '${arg//\'/\'\\\'\'}'"
        fi
    done
    printf '\n$%s\n' "$line"
}

# Notes a step that did not do what the recipe says.
surprise() {
    echo ">>> unexpected: $1"
    unexpected=$((unexpected + 1))
}

# Runs and shows a command that should succeed.
ok() {
    show "$@"
    "$@"
    local rc=$?
    [ $rc -eq 0 ] || surprise "exit $rc, expected success"
}

# Runs and shows a command that should fail with the error code $1.
refused() {
    local code=$1
    shift
    show "$@"
    "$@" 2>"$work/stderr"
    local rc=$?
    cat "$work/stderr"
    echo "(exit $rc)"
    if [ $rc -eq 0 ]; then
        surprise "the command succeeded, expected $code"
    elif ! grep -q "($code)" "$work/stderr"; then
        surprise "expected the error $code"
    fi
}

# The aws CLI pointed at the server.
aws_() {
    aws --endpoint-url "$ENDPOINT" "$@"
}

echo "== files: picture.png and a 20 MiB big20.bin in $work"
printf '\x89PNG\r\n\x1a\n' >picture.png
head -c 4096 /dev/urandom >>picture.png
head -c $((20 * 1024 * 1024)) /dev/urandom >big20.bin

echo
echo "== 1. a customer managed key"
show aws_ kms create-key \
    --tags TagKey=Name,TagValue=MyBucketKey --description "bucket CMK" \
    --query KeyMetadata.KeyId --output text
KEY_ID=$(aws_ kms create-key --tags TagKey=Name,TagValue=MyBucketKey \
    --description "bucket CMK" --query KeyMetadata.KeyId --output text)
echo "$KEY_ID"
if ! [[ $KEY_ID =~ ^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$ ]]; then
    surprise "no key id; nothing else can work"
    exit 1
fi

echo
echo "== 2. an alias for it"
ok aws_ kms create-alias --alias-name "$ALIAS" --target-key-id "$KEY_ID"
ok aws_ kms list-aliases --query "Aliases[?AliasName=='$ALIAS']"
ok aws_ kms describe-key --key-id "$ALIAS"

echo
echo "== 3. a bucket encrypted by default with that key, bucket key on"
ok aws_ s3api create-bucket --bucket "$BUCKET"
ok aws_ s3api put-bucket-encryption --bucket "$BUCKET" \
    --server-side-encryption-configuration \
    '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"'"$KEY_ID"'"},"BucketKeyEnabled":true}]}'
ok aws_ s3api get-bucket-encryption --bucket "$BUCKET"

echo
echo "== 4. a policy that refuses uploads not encrypted with SSE-KMS"
cat >bucket-policy.json <<EOF
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "DenyUnEncryptedObjectUploads",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "s3:PutObject",
      "Resource": "arn:aws:s3:::$BUCKET/*",
      "Condition": {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}
      }
    }
  ]
}
EOF
ok cat bucket-policy.json
ok aws_ s3api put-bucket-policy --bucket "$BUCKET" \
    --policy file://bucket-policy.json
ok aws_ s3api get-bucket-policy --bucket "$BUCKET"

echo
echo "== 5. an encrypted upload passes"
ok aws_ s3 cp ./picture.png "s3://$BUCKET" \
    --sse aws:kms --sse-kms-key-id "$KEY_ID"
ok aws_ s3 cp "s3://$BUCKET/picture.png" back.png
ok cmp picture.png back.png
ok aws_ s3api head-object --bucket "$BUCKET" --key picture.png

echo
echo "== 6. an upload without encryption headers is refused"
refused AccessDenied aws_ s3 cp ./picture.png "s3://$BUCKET"

echo
echo "== 7. the same with 20 MiB, sent as a multipart upload"
ok aws_ s3 cp ./big20.bin "s3://$BUCKET" \
    --sse aws:kms --sse-kms-key-id "$KEY_ID"
ok aws_ s3 cp "s3://$BUCKET/big20.bin" back20.bin
ok cmp big20.bin back20.bin
ok aws_ s3api head-object --bucket "$BUCKET" --key big20.bin
refused AccessDenied aws_ s3 cp ./big20.bin "s3://$BUCKET/big-plain.bin"

echo
echo "== 8. single quotes: the bucket default names the key \${KEY_ID}"
echo "   (a second bucket, without a policy)"
ok aws_ s3api create-bucket --bucket "$BUCKET2"
ok aws_ s3api put-bucket-encryption --bucket "$BUCKET2" \
    --server-side-encryption-configuration \
    '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"${KEY_ID}"},"BucketKeyEnabled":true}]}'
ok aws_ s3api get-bucket-encryption --bucket "$BUCKET2"
refused KMS.NotFoundException aws_ s3 cp ./picture.png "s3://$BUCKET2"

echo
if [ $unexpected -eq 0 ]; then
    echo "recipe done: every step behaved as expected"
    exit 0
fi
echo "recipe done: $unexpected step(s) did not behave as expected"
exit 1
