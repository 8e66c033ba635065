/*
 * Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket
 * and GetBucketLocation.  coffer is one account in one region, so every
 * bucket belongs to the caller's account (rulings 1 and 2).
 */
#include "s3/s3_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "util/timefmt.h"

static const char *const bad_prefixes[] = {
    "xn--", "sthree-", "amzn-s3-demo-", NULL,
};
static const char *const bad_suffixes[] = {
    "-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3", NULL,
};

static bool
looks_like_ipv4(const char *s)
{
    int dots = 0;

    for (; *s; s++) {
        if (*s == '.')
            dots++;
        else if (!isdigit((unsigned char)*s))
            return false;
    }
    return dots == 3;
}

/* The naming rules of s3-api.md §6. */
static bool
valid_bucket_name(const char *name)
{
    size_t len = strlen(name), i;

    if (len < 3 || len > 63)
        return false;
    for (i = 0; i < len; i++) {
        char c = name[i];

        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) ||
              c == '.' || c == '-'))
            return false;
    }
    if (!isalnum((unsigned char)name[0]) ||
        !isalnum((unsigned char)name[len - 1]))
        return false;
    if (strstr(name, "..") || looks_like_ipv4(name))
        return false;
    for (i = 0; bad_prefixes[i]; i++)
        if (strncmp(name, bad_prefixes[i], strlen(bad_prefixes[i])) == 0)
            return false;
    for (i = 0; bad_suffixes[i]; i++) {
        size_t sl = strlen(bad_suffixes[i]);

        if (len >= sl && strcmp(name + len - sl, bad_suffixes[i]) == 0)
            return false;
    }
    return true;
}

void
s3_list_buckets(struct s3_req *r)
{
    struct meta_bucket *v = NULL;
    struct buf b = BUF_INIT;
    size_t n = 0, i;
    int rc;

    if ((rc = s3_authorize(r, "s3:ListAllMyBuckets", NULL, NULL)) != 0 ||
        (rc = meta_bucket_list(r->app->meta, &v, &n)) != 0) {
        s3_fail(r, rc);
        return;
    }
    s3_xml_open(&b, "ListAllMyBucketsResult");
    buf_puts(&b, "<Owner>");
    buf_put_xml_elem(&b, "ID", r->app->cfg.account);
    buf_put_xml_elem(&b, "DisplayName", r->app->cfg.account);
    buf_puts(&b, "</Owner><Buckets>");
    for (i = 0; i < n; i++) {
        char when[32];

        time_iso8601(v[i].created_ms, when);
        buf_puts(&b, "<Bucket>");
        buf_put_xml_elem(&b, "Name", v[i].name);
        buf_put_xml_elem(&b, "CreationDate", when);
        buf_puts(&b, "</Bucket>");
        meta_bucket_clear(&v[i]);
    }
    free(v);
    buf_puts(&b, "</Buckets></ListAllMyBucketsResult>");
    s3_reply_xml(r, 200, &b);
}

/* The LocationConstraint of a CreateBucketConfiguration body, if any. */
static int
location_of(struct s3_req *r, char *out, size_t cap)
{
    xmlDoc *doc;
    char *loc;

    out[0] = '\0';
    if (r->xml.len == 0)
        return 0;
    doc = s3_xml_parse(&r->xml, "CreateBucketConfiguration");
    if (doc == NULL)
        return CERR_MALFORMED_XML;
    loc = s3_xml_text(s3_xml_root(doc), "LocationConstraint");
    snprintf(out, cap, "%s", loc ? loc : "");
    free(loc);
    s3_xml_free(doc);
    return 0;
}

/* Rulings 1 and 2: the constraint must name the server's region. */
static int
check_location(struct s3_req *r, const char *loc)
{
    const char *region = r->app->cfg.region;
    bool east = strcmp(region, "us-east-1") == 0;

    if (!loc[0])
        return east ? 0 : CERR_ILLEGAL_LOCATION;
    if (east && strcmp(loc, "us-east-1") == 0)
        return CERR_INVALID_LOCATION;
    if (strcmp(loc, region) != 0)
        return err_set(&r->d, CERR_ILLEGAL_LOCATION, "The %s location "
                       "constraint is incompatible for the region specific "
                       "endpoint this request was sent to.", loc);
    return 0;
}

static void
create_bucket_finish(struct s3_req *r)
{
    struct meta_bucket b;
    char loc[64], where[80];
    int rc;

    if ((rc = location_of(r, loc, sizeof(loc))) != 0 ||
        (rc = check_location(r, loc)) != 0) {
        s3_fail(r, rc);
        return;
    }
    memset(&b, 0, sizeof(b));
    snprintf(b.name, sizeof(b.name), "%s", r->bucket);
    snprintf(b.location, sizeof(b.location), "%s", loc);
    b.created_ms = time_now_ms();

    rc = meta_bucket_create(r->app->meta, &b);
    if (rc == CERR_BUCKET_OWNED &&
        strcmp(r->app->cfg.region, "us-east-1") == 0)
        rc = 0;
    if (rc != 0) {
        snprintf(r->d.bucket, sizeof(r->d.bucket), "%s", r->bucket);
        s3_fail(r, rc);
        return;
    }
    snprintf(where, sizeof(where), "/%s", r->bucket);
    http_header(r->x, "Location", where);
    s3_reply_empty(r, 200);
}

void
s3_create_bucket(struct s3_req *r)
{
    int rc;

    if ((rc = s3_authorize_bucket(r, "s3:CreateBucket")) != 0) {
        s3_fail(r, rc);
        return;
    }
    if (!valid_bucket_name(r->bucket)) {
        snprintf(r->d.bucket, sizeof(r->d.bucket), "%s", r->bucket);
        s3_fail(r, CERR_INVALID_BUCKET_NAME);
        return;
    }
    if ((rc = s3_want_xml_body(r, create_bucket_finish)) != 0)
        s3_fail(r, rc);
}

void
s3_head_bucket(struct s3_req *r)
{
    int rc;

    if ((rc = s3_authorize_bucket(r, "s3:ListBucket")) != 0 ||
        (rc = s3_load_bucket(r)) != 0) {
        s3_fail(r, rc);
        return;
    }
    http_header(r->x, "x-amz-bucket-region", r->app->cfg.region);
    s3_reply_empty(r, 200);
}

void
s3_delete_bucket(struct s3_req *r)
{
    int rc;

    if ((rc = s3_authorize_bucket(r, "s3:DeleteBucket")) != 0 ||
        (rc = s3_load_bucket(r)) != 0 ||
        (rc = meta_bucket_delete(r->app->meta, r->bucket)) != 0) {
        if (rc == CERR_BUCKET_NOT_EMPTY)
            snprintf(r->d.bucket, sizeof(r->d.bucket), "%s", r->bucket);
        s3_fail(r, rc);
        return;
    }
    s3_reply_empty(r, 204);
}

void
s3_get_bucket_location(struct s3_req *r)
{
    struct buf b = BUF_INIT;
    int rc;

    if ((rc = s3_authorize_bucket(r, "s3:GetBucketLocation")) != 0 ||
        (rc = s3_load_bucket(r)) != 0) {
        s3_fail(r, rc);
        return;
    }
    s3_xml_open(&b, "LocationConstraint");
    buf_put_xml(&b, r->brec.location);
    buf_puts(&b, "</LocationConstraint>");
    s3_reply_xml(r, 200, &b);
}
