// Drives coffer with the AWS JavaScript SDK v3 for the integration tests.
//
// usage: node sdk.mjs SCENARIO ENDPOINT BUCKET
//
// Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and
// the region from AWS_REGION, all handed to the clients explicitly so the
// SDK never looks anywhere else; an HTTPS endpoint's certificate is
// trusted through NODE_EXTRA_CA_CERTS. Each scenario prints one JSON
// object of what it saw; the Python test makes the assertions. A failure
// the scenario did not expect exits non-zero with the error on stderr.

import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";

import {
    S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand,
    HeadObjectCommand, DeleteObjectCommand, DeleteObjectsCommand,
    CreateMultipartUploadCommand, UploadPartCommand,
    CompleteMultipartUploadCommand, ListPartsCommand, HeadBucketCommand,
    paginateListObjectsV2, ListObjectsV2Command, DeleteBucketCommand,
} from "@aws-sdk/client-s3";
import {
    KMSClient, CreateKeyCommand, EncryptCommand, DecryptCommand,
    GenerateDataKeyCommand, DescribeKeyCommand, ListKeysCommand,
    CreateAliasCommand,
} from "@aws-sdk/client-kms";

const MIB = 1024 * 1024;

function clientConfig(endpoint) {
    return {
        endpoint,
        region: process.env.AWS_REGION,
        credentials: {
            accessKeyId: process.env.AWS_ACCESS_KEY_ID,
            secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
        },
        maxAttempts: 1,
    };
}

// An S3 client that remembers the headers of every request it signs, so
// a scenario can say how the SDK sent a body (aws-chunked, trailers).
function s3Client(endpoint) {
    const client = new S3Client({ ...clientConfig(endpoint),
                                  forcePathStyle: true });
    client.sent = [];
    client.middlewareStack.add((next, context) => async (args) => {
        client.sent.push({ op: context.commandName,
                           headers: { ...args.request.headers } });
        return next(args);
    }, { step: "finalizeRequest", priority: "low", name: "recordHeaders" });
    return client;
}

function sha256(data) {
    return createHash("sha256").update(data).digest("hex");
}

async function bodyBytes(resp) {
    return Buffer.from(await resp.Body.transformToByteArray());
}

// Runs fn and returns the error's name and HTTP status, or "none".
async function failure(fn) {
    try {
        await fn();
    } catch (err) {
        return { name: err.name, status: err.$metadata?.httpStatusCode };
    }
    return { name: "none" };
}

function sentWith(client, op) {
    return client.sent.filter((s) => s.op === op).map((s) => ({
        encoding: s.headers["content-encoding"] ?? null,
        trailer: s.headers["x-amz-trailer"] ?? null,
        sha256: s.headers["x-amz-content-sha256"] ?? null,
        checksum: Object.keys(s.headers)
            .filter((h) => h.startsWith("x-amz-checksum-")).sort(),
    }));
}

// PutObject of a buffer and of a stream, GET back (with the SDK checking
// the CRC32 it asks for), ranges, HEAD, conditional and missing keys.
async function objects(endpoint, bucket) {
    const s3 = s3Client(endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const small = Buffer.from("hello from the JavaScript SDK\n");
    const big = randomBytes(3 * MIB + 17);
    const out = {};

    const first = await s3.send(new PutObjectCommand({
        Bucket: bucket, Key: "small.txt", Body: small,
        ContentType: "text/plain", Metadata: { origin: "js" } }));
    const put = await s3.send(new PutObjectCommand({
        Bucket: bucket, Key: "dir/big stream+.bin",
        Body: Readable.from([big.subarray(0, MIB), big.subarray(MIB)]),
        ContentLength: big.length }));
    out.putChecksumCRC32 = put.ChecksumCRC32 ?? null;
    out.putSent = sentWith(s3, "PutObjectCommand");

    const got = await s3.send(new GetObjectCommand({
        Bucket: bucket, Key: "dir/big stream+.bin",
        ChecksumMode: "ENABLED" }));
    out.bigMatches = sha256(await bodyBytes(got)) === sha256(big);
    out.getChecksumCRC32 = got.ChecksumCRC32 ?? null;

    const text = await s3.send(new GetObjectCommand({
        Bucket: bucket, Key: "small.txt" }));
    out.smallMatches = (await bodyBytes(text)).equals(small);
    out.smallETag = first.ETag;
    out.getETag = text.ETag;
    out.contentType = text.ContentType;
    out.metadata = text.Metadata;

    const ranged = await s3.send(new GetObjectCommand({
        Bucket: bucket, Key: "dir/big stream+.bin", Range: "bytes=-100" }));
    out.rangeMatches = (await bodyBytes(ranged)).equals(big.subarray(-100));
    out.contentRange = ranged.ContentRange;

    const head = await s3.send(new HeadObjectCommand({
        Bucket: bucket, Key: "dir/big stream+.bin" }));
    out.headLength = head.ContentLength;

    out.notModified = await failure(() => s3.send(new GetObjectCommand({
        Bucket: bucket, Key: "small.txt", IfNoneMatch: first.ETag })));
    out.preconditionFailed = await failure(() => s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: "small.txt",
                               IfMatch: '"0123456789abcdef"' })));
    out.missingGet = await failure(() => s3.send(new GetObjectCommand({
        Bucket: bucket, Key: "absent" })));
    out.missingHead = await failure(() => s3.send(new HeadObjectCommand({
        Bucket: bucket, Key: "absent" })));
    out.missingBucket = await failure(() => s3.send(new HeadBucketCommand({
        Bucket: bucket + "-absent" })));
    return out;
}

// Keys with spaces, '+', '%' and unicode, listed with the paginator
// (the SDK asks for encoding-type=url and decodes), then deleted with
// DeleteObjects (which must carry an integrity checksum).
async function listing(endpoint, bucket) {
    const s3 = s3Client(endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const keys = ["a b/c+d", "a b/e%f", "\u00fcml\u00e4ut/\u65e5\u672c",
                  "plain", "x/y/z", "x/\u00e9"];
    for (const key of keys)
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key,
                                             Body: key }));
    const out = { keys: [], pages: 0 };
    for await (const page of paginateListObjectsV2(
            { client: s3, pageSize: 2 }, { Bucket: bucket })) {
        out.pages += 1;
        for (const c of page.Contents ?? [])
            out.keys.push(c.Key);
    }
    const prefixed = await s3.send(new ListObjectsV2Command({
        Bucket: bucket, Prefix: "a b/" }));
    out.prefixed = (prefixed.Contents ?? []).map((c) => c.Key);
    const folded = await s3.send(new ListObjectsV2Command({
        Bucket: bucket, Delimiter: "/" }));
    out.foldedKeys = (folded.Contents ?? []).map((c) => c.Key);
    out.foldedPrefixes = (folded.CommonPrefixes ?? []).map((p) => p.Prefix);

    const del = await s3.send(new DeleteObjectsCommand({
        Bucket: bucket, Delete: { Objects: keys.map((k) => ({ Key: k })) } }));
    out.deleted = (del.Deleted ?? []).map((d) => d.Key);
    out.errors = del.Errors ?? [];
    out.deleteSent = sentWith(s3, "DeleteObjectsCommand");
    const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    out.keyCountAfter = after.KeyCount;
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    return out;
}

// A multipart upload: a 5 MiB part sent as a stream and a small last part
// as a buffer, each with the SDK's default CRC32, then Complete.
async function multipart(endpoint, bucket) {
    const s3 = s3Client(endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const key = "multi/part.bin";
    const chunks = [randomBytes(5 * MIB), randomBytes(1234)];
    const created = await s3.send(new CreateMultipartUploadCommand({
        Bucket: bucket, Key: key, ChecksumAlgorithm: "CRC32" }));
    const parts = [];
    for (let i = 0; i < chunks.length; i++) {
        const body = i === 0 ? Readable.from([chunks[i]]) : chunks[i];
        const resp = await s3.send(new UploadPartCommand({
            Bucket: bucket, Key: key, UploadId: created.UploadId,
            PartNumber: i + 1, Body: body, ContentLength: chunks[i].length,
        }));
        parts.push({ PartNumber: i + 1, ETag: resp.ETag,
                     ChecksumCRC32: resp.ChecksumCRC32 });
    }
    const listed = await s3.send(new ListPartsCommand({
        Bucket: bucket, Key: key, UploadId: created.UploadId }));
    const done = await s3.send(new CompleteMultipartUploadCommand({
        Bucket: bucket, Key: key, UploadId: created.UploadId,
        MultipartUpload: { Parts: parts } }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket,
                                                     Key: key }));
    return {
        partsListed: (listed.Parts ?? []).map((p) => p.PartNumber),
        partChecksums: parts.map((p) => p.ChecksumCRC32 ?? null),
        etag: done.ETag,
        matches: sha256(await bodyBytes(got)) ===
            sha256(Buffer.concat(chunks)),
        partSent: sentWith(s3, "UploadPartCommand"),
    };
}

// Every checksum algorithm the SDK offers, on a buffer (checksum header)
// and on a stream (aws-chunked trailer); read back with ChecksumMode,
// which makes the SDK check the returned checksum against the body.
async function checksums(endpoint, bucket) {
    const s3 = s3Client(endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const data = randomBytes(200000);
    const out = {};
    for (const alg of ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]) {
        for (const form of ["buffer", "stream"]) {
            const key = alg + "-" + form;
            const body = form === "stream" ? Readable.from([data]) : data;
            const put = await s3.send(new PutObjectCommand({
                Bucket: bucket, Key: key, Body: body,
                ContentLength: data.length, ChecksumAlgorithm: alg }));
            const got = await s3.send(new GetObjectCommand({
                Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
            out[key] = {
                put: put["Checksum" + alg] ?? null,
                got: got["Checksum" + alg] ?? null,
                matches: (await bodyBytes(got)).equals(data),
            };
        }
    }
    out.sent = sentWith(s3, "PutObjectCommand");
    return out;
}

// The KMS client: a key, an alias, Encrypt/Decrypt with a context,
// GenerateDataKey, and the error for a key that does not exist; then an
// S3 object under SSE-KMS with that key.
async function kms(endpoint, bucket) {
    const client = new KMSClient(clientConfig(endpoint));
    const key = await client.send(new CreateKeyCommand({
        Description: "JavaScript SDK test key" }));
    const keyId = key.KeyMetadata.KeyId;
    const alias = "alias/" + bucket;
    await client.send(new CreateAliasCommand({ AliasName: alias,
                                               TargetKeyId: keyId }));
    const plaintext = Buffer.from("secret words");
    const context = { purpose: "js test" };
    const enc = await client.send(new EncryptCommand({
        KeyId: alias, Plaintext: plaintext, EncryptionContext: context }));
    const dec = await client.send(new DecryptCommand({
        CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context }));
    const wrongContext = await failure(() => client.send(new DecryptCommand({
        CiphertextBlob: enc.CiphertextBlob,
        EncryptionContext: { purpose: "other" } })));
    const dataKey = await client.send(new GenerateDataKeyCommand({
        KeyId: keyId, KeySpec: "AES_256" }));
    const described = await client.send(new DescribeKeyCommand({
        KeyId: alias }));
    const listed = await client.send(new ListKeysCommand({ Limit: 1000 }));
    const missing = await failure(() => client.send(new DescribeKeyCommand({
        KeyId: "alias/does-not-exist-" + bucket })));

    const s3 = s3Client(endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const put = await s3.send(new PutObjectCommand({
        Bucket: bucket, Key: "sealed", Body: plaintext,
        ServerSideEncryption: "aws:kms", SSEKMSKeyId: keyId,
        BucketKeyEnabled: true }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket,
                                                     Key: "sealed" }));
    return {
        keyArn: key.KeyMetadata.Arn,
        decrypted: Buffer.from(dec.Plaintext).equals(plaintext),
        decryptKeyId: dec.KeyId,
        wrongContext,
        dataKeyLength: dataKey.Plaintext.length,
        dataKeyBlob: dataKey.CiphertextBlob.length > 0,
        describedId: described.KeyMetadata.KeyId,
        listed: listed.Keys.some((k) => k.KeyId === keyId),
        missing,
        putSSE: put.ServerSideEncryption,
        putKey: put.SSEKMSKeyId,
        putBucketKey: put.BucketKeyEnabled ?? null,
        getMatches: (await bodyBytes(got)).equals(plaintext),
        getSSE: got.ServerSideEncryption,
    };
}

const scenarios = { objects, listing, multipart, checksums, kms };

async function main() {
    const [name, endpoint, bucket] = process.argv.slice(2);
    if (!scenarios[name] || !endpoint || !bucket) {
        console.error("usage: node sdk.mjs " +
                      Object.keys(scenarios).join("|") + " ENDPOINT BUCKET");
        process.exit(2);
    }
    const out = await scenarios[name](endpoint, bucket);
    process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
    console.error(err.name + ": " + err.message);
    console.error(JSON.stringify(err.$metadata ?? {}));
    console.error(err.stack);
    process.exit(1);
});
