/*
 * Listings: ListObjects (v1), ListObjectsV2, ListParts and
 * ListMultipartUploads.  Keys come from the store in byte order; a
 * delimiter folds every key that shares the part up to its first
 * delimiter into one CommonPrefixes entry, which counts once toward
 * max-keys.  Continuation tokens are the base64url text of the position
 * to resume after, so they need no server-side state.
 */
#include "s3/s3_int.h"

#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "util/codec.h"
#include "util/timefmt.h"

#define LIST_MAX 1000
#define LIST_BATCH 1000

struct listing {
    const char *prefix;
    const char *delimiter;
    bool url;                       /* encoding-type=url */
    bool owner;                     /* v2 fetch-owner / always in v1 */
    size_t max;
    struct buf contents;            /* <Contents> and <CommonPrefixes> */
    size_t count;
    bool truncated;
    char *last;                     /* resume position after this page */
};

static void
put_text(struct buf *b, const char *tag, const char *text, bool url)
{
    buf_printf(b, "<%s>", tag);
    if (url)
        uri_encode(b, text, strlen(text), true);
    else
        s3_xml_put(b, text);
    buf_printf(b, "</%s>", tag);
}

/* Token <-> position: base64url without padding. */
static void
token_encode(const char *pos, struct buf *out)
{
    size_t start = out->len, i;

    buf_put_base64(out, pos, strlen(pos));
    for (i = start; i < out->len; i++) {
        if (out->data[i] == '+')
            out->data[i] = '-';
        else if (out->data[i] == '/')
            out->data[i] = '_';
    }
    while (out->len > start && out->data[out->len - 1] == '=')
        out->data[--out->len] = '\0';
}

static int
token_decode(const char *tok, char *out, size_t cap)
{
    struct buf b = BUF_INIT;
    size_t i, n;
    int rc;

    buf_puts(&b, tok);
    for (i = 0; i < b.len; i++) {
        if (b.data[i] == '-')
            b.data[i] = '+';
        else if (b.data[i] == '_')
            b.data[i] = '/';
    }
    while (b.len % 4)
        buf_putc(&b, '=');
    rc = base64_decode(b.data, b.len, out, cap - 1, &n);
    buf_free(&b);
    if (rc != 0)
        return err_set(NULL, CERR_INVALID_ARGUMENT, "bad token");
    out[n] = '\0';
    return 0;
}

static void
add_object(struct s3_req *r, struct listing *l, const struct meta_object *o)
{
    struct buf *b = &l->contents;
    char when[32], size[24];

    time_iso8601(o->mtime_ms, when);
    snprintf(size, sizeof(size), "%lld", (long long)o->size);
    buf_puts(b, "<Contents>");
    put_text(b, "Key", o->key, l->url);
    buf_put_xml_elem(b, "LastModified", when);
    buf_printf(b, "<ETag>&quot;%s&quot;</ETag>", o->etag);
    if (o->checksum_alg[0])
        buf_put_xml_elem(b, "ChecksumAlgorithm", o->checksum_alg);
    buf_put_xml_elem(b, "Size", size);
    buf_put_xml_elem(b, "StorageClass", "STANDARD");
    if (l->owner) {
        buf_puts(b, "<Owner>");
        buf_put_xml_elem(b, "ID", r->app->cfg.account);
        buf_put_xml_elem(b, "DisplayName", r->app->cfg.account);
        buf_puts(b, "</Owner>");
    }
    buf_puts(b, "</Contents>");
}

/*
 * The common prefix `key` rolls into, written to cp, or false when the
 * key stands on its own.
 */
static bool
common_prefix(const struct listing *l, const char *key, struct buf *cp)
{
    size_t plen = strlen(l->prefix);
    const char *hit;

    if (!l->delimiter || !l->delimiter[0])
        return false;
    hit = strstr(key + plen, l->delimiter);
    if (hit == NULL)
        return false;
    buf_reset(cp);
    buf_append(cp, key, (size_t)(hit - key) + strlen(l->delimiter));
    return true;
}

static int
set_last(struct listing *l, const char *pos, bool skip_prefix)
{
    size_t n = strlen(pos);

    free(l->last);
    l->last = malloc(n + 2);
    if (l->last == NULL)
        return CERR_NOMEM;
    memcpy(l->last, pos, n + 1);
    /* 0xff never occurs in UTF-8: resuming after it skips the prefix. */
    if (skip_prefix) {
        l->last[n] = (char)0xff;
        l->last[n + 1] = '\0';
    }
    return 0;
}

/*
 * A marker a client echoes back from NextMarker or NextKeyMarker names a
 * common prefix when it ends with the delimiter: resume after everything
 * under it, or the prefix would be listed again.
 */
static void
resume_point(const char *marker, const char *delim, char *out, size_t cap)
{
    size_t ml = strlen(marker), dl = delim ? strlen(delim) : 0;

    snprintf(out, cap, "%s", marker);
    if (dl > 0 && ml >= dl && strcmp(marker + ml - dl, delim) == 0 &&
        ml + 1 < cap) {
        out[ml] = (char)0xff;
        out[ml + 1] = '\0';
    }
}

/* The position a client sees: without the byte that skips a prefix. */
static void
shown_position(const char *pos, char *out, size_t cap)
{
    size_t n;

    snprintf(out, cap, "%s", pos);
    n = strlen(out);
    if (n > 0 && (unsigned char)out[n - 1] == 0xff)
        out[n - 1] = '\0';
}

/* Walk the bucket from `after`, filling one page. */
static int
walk(struct s3_req *r, struct listing *l, const char *after)
{
    struct buf cp = BUF_INIT;
    char *pos = strdup(after);
    int rc = pos ? 0 : CERR_NOMEM;

    while (rc == 0 && !l->truncated && l->max > 0) {
        struct meta_object *v = NULL;
        size_t n = 0, i;

        rc = meta_object_list(r->app->meta, r->bucket, l->prefix, pos,
                              LIST_BATCH, &v, &n);
        for (i = 0; rc == 0 && i < n; i++) {
            bool folded = common_prefix(l, v[i].key, &cp);

            if (l->count == l->max) {
                l->truncated = true;
                break;
            }
            if (folded) {
                buf_puts(&l->contents, "<CommonPrefixes>");
                put_text(&l->contents, "Prefix", cp.data, l->url);
                buf_puts(&l->contents, "</CommonPrefixes>");
                rc = set_last(l, cp.data, true);
            } else {
                add_object(r, l, &v[i]);
                rc = set_last(l, v[i].key, false);
            }
            l->count++;
            if (folded)
                break;      /* re-query past the folded prefix */
        }
        free(pos);
        pos = l->last ? strdup(l->last) : NULL;
        meta_object_list_free(v, n);
        if (n == 0 || (i == n && n < LIST_BATCH))
            break;
        if (pos == NULL)
            rc = CERR_NOMEM;
    }
    free(pos);
    buf_free(&cp);
    return rc;
}

static int
parse_max(struct s3_req *r, const char *name, size_t *out)
{
    const char *s = s3_param(r, name);
    char *end;
    long n;

    *out = LIST_MAX;
    if (s == NULL)
        return 0;
    n = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || n < 0) {
        err_set_argument(&r->d, name, s);
        return err_set(&r->d, CERR_INVALID_ARGUMENT, "Provided %s not an "
                       "integer or within integer range", name);
    }
    *out = n > LIST_MAX ? LIST_MAX : (size_t)n;
    return 0;
}

/*
 * ?encoding-type: absent, or "url" (keys percent-encoded in the reply,
 * the one way to get a key XML 1.0 cannot carry) into *url.  0 or
 * CERR_INVALID_ARGUMENT.
 */
static int
encoding_param(struct s3_req *r, bool *url)
{
    const char *enc = s3_param(r, "encoding-type");

    *url = enc != NULL;
    if (enc == NULL || strcmp(enc, "url") == 0)
        return 0;
    err_set_argument(&r->d, "encoding-type", enc);
    return err_set(&r->d, CERR_INVALID_ARGUMENT, "Invalid Encoding "
                   "Method specified in Request");
}

static int
list_prepare(struct s3_req *r, struct listing *l)
{
    struct policy_ctx *c = policy_ctx_new();
    struct buf arn = BUF_INIT;
    int rc;

    if (c == NULL)
        return CERR_NOMEM;
    memset(l, 0, sizeof(*l));
    l->prefix = s3_param(r, "prefix") ? s3_param(r, "prefix") : "";
    l->delimiter = s3_param(r, "delimiter");
    if (s3_param(r, "prefix"))
        policy_ctx_add(c, "s3:prefix", l->prefix);
    if (l->delimiter)
        policy_ctx_add(c, "s3:delimiter", l->delimiter);
    policy_ctx_add(c, "s3:max-keys", s3_param(r, "max-keys")
                                    ? s3_param(r, "max-keys") : "1000");
    s3_bucket_arn(r->bucket, NULL, &arn);
    rc = s3_authorize(r, "s3:ListBucket", arn.data, c);
    buf_free(&arn);
    if (rc != 0 || (rc = s3_load_bucket(r)) != 0 ||
        (rc = encoding_param(r, &l->url)) != 0)
        return rc;
    return parse_max(r, "max-keys", &l->max);
}

static void
listing_free(struct listing *l)
{
    buf_free(&l->contents);
    free(l->last);
}

void
s3_list_objects_v2(struct s3_req *r)
{
    const char *tok = s3_param(r, "continuation-token");
    const char *sa = s3_param(r, "start-after");
    const char *fo = s3_param(r, "fetch-owner");
    struct listing l;
    struct buf b = BUF_INIT;
    char after[S3_MAX_KEY + 8];
    int rc;

    rc = list_prepare(r, &l);
    l.owner = fo && strcmp(fo, "true") == 0;
    snprintf(after, sizeof(after), "%s", sa ? sa : "");
    if (rc == 0 && tok && token_decode(tok, after, sizeof(after)) != 0)
        rc = err_set(&r->d, CERR_INVALID_ARGUMENT, "The continuation token "
                     "provided is incorrect");
    if (rc == 0)
        rc = walk(r, &l, after);
    if (rc != 0) {
        listing_free(&l);
        s3_fail(r, rc);
        return;
    }

    s3_xml_open(&b, "ListBucketResult");
    buf_put_xml_elem(&b, "Name", r->bucket);
    put_text(&b, "Prefix", l.prefix, l.url);
    if (l.delimiter)
        put_text(&b, "Delimiter", l.delimiter, l.url);
    buf_printf(&b, "<MaxKeys>%zu</MaxKeys>", l.max);
    if (l.url)
        buf_put_xml_elem(&b, "EncodingType", "url");
    buf_printf(&b, "<KeyCount>%zu</KeyCount>", l.count);
    buf_printf(&b, "<IsTruncated>%s</IsTruncated>",
               l.truncated ? "true" : "false");
    if (tok)
        buf_put_xml_elem(&b, "ContinuationToken", tok);
    if (l.truncated) {
        buf_puts(&b, "<NextContinuationToken>");
        token_encode(l.last, &b);
        buf_puts(&b, "</NextContinuationToken>");
    }
    if (sa)
        put_text(&b, "StartAfter", sa, l.url);
    buf_append(&b, l.contents.data, l.contents.len);
    buf_puts(&b, "</ListBucketResult>");
    listing_free(&l);
    s3_reply_xml(r, 200, &b);
}

void
s3_list_objects(struct s3_req *r)
{
    const char *marker = s3_param(r, "marker");
    struct listing l;
    struct buf b = BUF_INIT;
    char after[S3_MAX_KEY + 8], next[S3_MAX_KEY + 8];
    int rc;

    rc = list_prepare(r, &l);
    l.owner = true;
    resume_point(marker ? marker : "", l.delimiter, after, sizeof(after));
    if (rc == 0)
        rc = walk(r, &l, after);
    if (rc != 0) {
        listing_free(&l);
        s3_fail(r, rc);
        return;
    }

    s3_xml_open(&b, "ListBucketResult");
    buf_put_xml_elem(&b, "Name", r->bucket);
    put_text(&b, "Prefix", l.prefix, l.url);
    put_text(&b, "Marker", marker ? marker : "", l.url);
    if (l.truncated && l.delimiter) {
        shown_position(l.last, next, sizeof(next));
        put_text(&b, "NextMarker", next, l.url);
    }
    buf_printf(&b, "<MaxKeys>%zu</MaxKeys>", l.max);
    if (l.delimiter)
        put_text(&b, "Delimiter", l.delimiter, l.url);
    if (l.url)
        buf_put_xml_elem(&b, "EncodingType", "url");
    buf_printf(&b, "<IsTruncated>%s</IsTruncated>",
               l.truncated ? "true" : "false");
    buf_append(&b, l.contents.data, l.contents.len);
    buf_puts(&b, "</ListBucketResult>");
    listing_free(&l);
    s3_reply_xml(r, 200, &b);
}

static void
owner_xml(struct s3_req *r, struct buf *b, const char *tag)
{
    buf_printf(b, "<%s>", tag);
    buf_put_xml_elem(b, "ID", r->app->cfg.account);
    buf_put_xml_elem(b, "DisplayName", r->app->cfg.account);
    buf_printf(b, "</%s>", tag);
}

static void
part_xml(struct buf *b, const struct meta_body *p, const char *alg)
{
    char when[32];

    time_iso8601(p->mtime_ms, when);
    buf_printf(b, "<Part><PartNumber>%d</PartNumber>", p->part_number);
    buf_put_xml_elem(b, "LastModified", when);
    buf_printf(b, "<ETag>&quot;%s&quot;</ETag>", p->etag);
    buf_printf(b, "<Size>%lld</Size>", (long long)p->size);
    if (alg[0] && p->checksum[0]) {
        buf_printf(b, "<Checksum%s>", alg);
        buf_put_xml(b, p->checksum);
        buf_printf(b, "</Checksum%s>", alg);
    }
    buf_puts(b, "</Part>");
}

void
s3_list_parts(struct s3_req *r)
{
    const char *id = s3_param(r, "uploadId");
    const char *pm = s3_param(r, "part-number-marker");
    struct meta_upload u;
    struct meta_body *v = NULL;
    struct buf b = BUF_INIT, arn = BUF_INIT;
    size_t n = 0, max, i;
    int marker = pm ? atoi(pm) : 0;
    int rc;

    memset(&u, 0, sizeof(u));
    s3_bucket_arn(r->bucket, r->key, &arn);
    rc = s3_authorize(r, "s3:ListMultipartUploadParts", arn.data, NULL);
    buf_free(&arn);
    if (rc == 0 && (rc = s3_load_bucket(r)) == 0 &&
        (rc = parse_max(r, "max-parts", &max)) == 0 &&
        (rc = meta_upload_get(r->app->meta, r->bucket, r->key, id,
                              &u)) == 0)
        rc = meta_part_list(r->app->meta, id, marker, max + 1, &v, &n);
    if (rc != 0) {
        if (rc == CERR_NO_SUCH_UPLOAD)
            snprintf(r->d.upload_id, sizeof(r->d.upload_id), "%s", id);
        meta_upload_clear(&u);
        s3_fail(r, rc);
        return;
    }

    s3_xml_open(&b, "ListPartsResult");
    buf_put_xml_elem(&b, "Bucket", r->bucket);
    s3_xml_put_elem(&b, "Key", r->key);
    buf_put_xml_elem(&b, "UploadId", id);
    owner_xml(r, &b, "Initiator");
    owner_xml(r, &b, "Owner");
    buf_put_xml_elem(&b, "StorageClass", "STANDARD");
    buf_printf(&b, "<PartNumberMarker>%d</PartNumberMarker>", marker);
    if (n > max)
        buf_printf(&b, "<NextPartNumberMarker>%d</NextPartNumberMarker>",
                   v[max - 1].part_number);
    buf_printf(&b, "<MaxParts>%zu</MaxParts>", max);
    buf_printf(&b, "<IsTruncated>%s</IsTruncated>",
               n > max ? "true" : "false");
    if (u.checksum_alg[0])
        buf_put_xml_elem(&b, "ChecksumAlgorithm", u.checksum_alg);
    for (i = 0; i < n && i < max; i++)
        part_xml(&b, &v[i], u.checksum_alg);
    buf_puts(&b, "</ListPartsResult>");
    free(v);
    meta_upload_clear(&u);
    s3_reply_xml(r, 200, &b);
}

static void
upload_xml(struct s3_req *r, struct buf *b, const struct meta_upload *u,
           bool url)
{
    char when[32];

    time_iso8601(u->created_ms, when);
    buf_puts(b, "<Upload>");
    put_text(b, "Key", u->key, url);
    buf_put_xml_elem(b, "UploadId", u->upload_id);
    owner_xml(r, b, "Initiator");
    owner_xml(r, b, "Owner");
    buf_put_xml_elem(b, "StorageClass", "STANDARD");
    buf_put_xml_elem(b, "Initiated", when);
    if (u->checksum_alg[0])
        buf_put_xml_elem(b, "ChecksumAlgorithm", u->checksum_alg);
    buf_puts(b, "</Upload>");
}

struct upload_page {
    const char *prefix;
    const char *delimiter;
    size_t max;
    bool url;                       /* encoding-type=url */
    struct buf entries;             /* <Upload> and <CommonPrefixes> */
    size_t count;
    bool truncated;
    char next_key[S3_MAX_KEY + 8];
    char next_id[128];
};

/* Fill one page of uploads, folding keys by the delimiter as objects. */
static int
walk_uploads(struct s3_req *r, struct upload_page *pg, const char *km,
             const char *im)
{
    struct listing l;
    struct buf cp = BUF_INIT;
    char key[S3_MAX_KEY + 8], id[128];
    int rc = 0;

    memset(&l, 0, sizeof(l));
    l.prefix = pg->prefix;
    l.delimiter = pg->delimiter;
    resume_point(km, pg->delimiter, key, sizeof(key));
    snprintf(id, sizeof(id), "%s", im);
    while (rc == 0 && !pg->truncated && pg->max > 0) {
        struct meta_upload *v = NULL;
        size_t n = 0, i;

        rc = meta_upload_list(r->app->meta, r->bucket, pg->prefix, key, id,
                              LIST_BATCH, &v, &n);
        for (i = 0; rc == 0 && i < n; i++) {
            bool folded = common_prefix(&l, v[i].key, &cp);

            if (pg->count == pg->max) {
                pg->truncated = true;
                break;
            }
            pg->count++;
            if (folded) {
                buf_puts(&pg->entries, "<CommonPrefixes>");
                put_text(&pg->entries, "Prefix", cp.data, pg->url);
                buf_puts(&pg->entries, "</CommonPrefixes>");
                /* 0xff never occurs in UTF-8: skip the whole prefix. */
                snprintf(key, sizeof(key), "%s\xff", cp.data);
                id[0] = '\0';
                break;
            }
            upload_xml(r, &pg->entries, &v[i], pg->url);
            snprintf(key, sizeof(key), "%s", v[i].key);
            snprintf(id, sizeof(id), "%s", v[i].upload_id);
        }
        meta_upload_list_free(v, n);
        if (n < LIST_BATCH && i == n)
            break;
    }
    shown_position(key, pg->next_key, sizeof(pg->next_key));
    snprintf(pg->next_id, sizeof(pg->next_id), "%s", id);
    buf_free(&cp);
    return rc;
}

void
s3_list_uploads(struct s3_req *r)
{
    const char *km = s3_param(r, "key-marker");
    const char *im = s3_param(r, "upload-id-marker");
    struct upload_page pg;
    struct buf b = BUF_INIT;
    int rc;

    memset(&pg, 0, sizeof(pg));
    pg.prefix = s3_param(r, "prefix") ? s3_param(r, "prefix") : "";
    pg.delimiter = s3_param(r, "delimiter");
    rc = s3_authorize_bucket(r, "s3:ListBucketMultipartUploads");
    if (rc == 0 && (rc = s3_load_bucket(r)) == 0 &&
        (rc = encoding_param(r, &pg.url)) == 0 &&
        (rc = parse_max(r, "max-uploads", &pg.max)) == 0)
        rc = walk_uploads(r, &pg, km ? km : "", im ? im : "");
    if (rc != 0) {
        buf_free(&pg.entries);
        s3_fail(r, rc);
        return;
    }

    s3_xml_open(&b, "ListMultipartUploadsResult");
    buf_put_xml_elem(&b, "Bucket", r->bucket);
    put_text(&b, "KeyMarker", km ? km : "", pg.url);
    s3_xml_put_elem(&b, "UploadIdMarker", im ? im : "");
    if (pg.truncated) {
        put_text(&b, "NextKeyMarker", pg.next_key, pg.url);
        s3_xml_put_elem(&b, "NextUploadIdMarker", pg.next_id);
    }
    put_text(&b, "Prefix", pg.prefix, pg.url);
    if (pg.delimiter)
        put_text(&b, "Delimiter", pg.delimiter, pg.url);
    if (pg.url)
        buf_put_xml_elem(&b, "EncodingType", "url");
    buf_printf(&b, "<MaxUploads>%zu</MaxUploads>", pg.max);
    buf_printf(&b, "<IsTruncated>%s</IsTruncated>",
               pg.truncated ? "true" : "false");
    buf_append(&b, pg.entries.data, pg.entries.len);
    buf_puts(&b, "</ListMultipartUploadsResult>");
    buf_free(&pg.entries);
    s3_reply_xml(r, 200, &b);
}
