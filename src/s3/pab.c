/*
 * A bucket's public access block: Put/Get/DeletePublicAccessBlock
 * (s3-api.md §9) and s3_pab_load, the parsed settings for whoever
 * enforces them.  The four flags are stored as the document this file
 * writes, every flag spelled out; an element the client left out means
 * false.  Storing a block changes no decision here: enforcement
 * (BlockPublicPolicy, RestrictPublicBuckets) belongs to authorization.
 */
#include "s3/s3_int.h"

#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#define PAB_ROOT "PublicAccessBlockConfiguration"

static const char *const flag_names[] = {
    "BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
    "RestrictPublicBuckets",
};

static bool *
flag_of(struct s3_pab *p, size_t i)
{
    bool *flags[] = {
        &p->block_public_acls, &p->ignore_public_acls,
        &p->block_public_policy, &p->restrict_public_buckets,
    };

    return flags[i];
}

/* An xsd:boolean: true, false, 1 or 0. */
static int
parse_flag(const char *text, bool *out)
{
    if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
        *out = true;
    else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
        *out = false;
    else
        return CERR_MALFORMED_XML;
    return 0;
}

/* Parse a PublicAccessBlockConfiguration document into *out. */
static int
parse_pab(const struct buf *doc, struct s3_pab *out)
{
    xmlDoc *x = s3_xml_parse(doc, PAB_ROOT);
    size_t i;
    int rc = x ? 0 : doc->len == 0 ? CERR_MISSING_BODY : CERR_MALFORMED_XML;

    memset(out, 0, sizeof(*out));
    for (i = 0; rc == 0 && i < 4; i++) {
        char *v = s3_xml_text(s3_xml_root(x), flag_names[i]);

        if (v != NULL)
            rc = parse_flag(v, flag_of(out, i));
        free(v);
    }
    s3_xml_free(x);
    out->present = rc == 0;
    return rc;
}

static void
write_pab(struct s3_pab *p, struct buf *b)
{
    size_t i;

    buf_puts(b, "<" PAB_ROOT " xmlns=\"" S3_NS "\">");
    for (i = 0; i < 4; i++)
        buf_put_xml_elem(b, flag_names[i], *flag_of(p, i) ? "true"
                                                            : "false");
    buf_puts(b, "</" PAB_ROOT ">");
}

/*
 * The public access block of the request's bucket into *out: present
 * false (every flag false) when none is stored.  Loads the bucket.  0,
 * CERR_NO_SUCH_BUCKET, CERR_CORRUPT (a stored block that does not
 * parse), CERR_NOMEM.
 */
int
s3_pab_load(struct s3_req *r, struct s3_pab *out)
{
    struct buf b = BUF_INIT;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = s3_load_bucket(r)) != 0 || r->brec.public_access_block == NULL)
        return rc;
    buf_puts(&b, r->brec.public_access_block);
    rc = buf_failed(&b) ? CERR_NOMEM : parse_pab(&b, out);
    buf_free(&b);
    return rc == CERR_MALFORMED_XML ? CERR_CORRUPT : rc;
}

static int
authorize_bucket(struct s3_req *r, const char *action)
{
    int rc = s3_authorize_bucket(r, action);

    return rc == 0 ? s3_load_bucket(r) : rc;
}

static void
put_pab_finish(struct s3_req *r)
{
    struct s3_pab p;
    struct buf doc = BUF_INIT;
    int rc;

    rc = parse_pab(&r->xml, &p);
    if (rc == 0) {
        write_pab(&p, &doc);
        rc = buf_failed(&doc) ? CERR_NOMEM : 0;
    }
    if (rc == 0)
        rc = meta_bucket_set_config(r->app->meta, r->bucket,
                                    "public_access_block", doc.data);
    buf_free(&doc);
    if (rc != 0)
        s3_fail(r, rc);
    else
        s3_reply_empty(r, 200);
}

/* PUT /bucket?publicAccessBlock: stores the four flags (200). */
void
s3_put_public_access_block(struct s3_req *r)
{
    int rc = authorize_bucket(r, "s3:PutBucketPublicAccessBlock");

    if (rc == 0 && !s3_has_integrity_header(r))
        rc = err_set(&r->d, CERR_INVALID_REQUEST, "Missing required header "
                     "for this request: Content-MD5");
    if (rc == 0)
        rc = s3_want_xml_body(r, put_pab_finish);
    if (rc != 0)
        s3_fail(r, rc);
}

/* GET /bucket?publicAccessBlock: the flags, or 404
 * NoSuchPublicAccessBlockConfiguration. */
void
s3_get_public_access_block(struct s3_req *r)
{
    struct s3_pab p;
    struct buf b = BUF_INIT;
    int rc = authorize_bucket(r, "s3:GetBucketPublicAccessBlock");

    if (rc == 0)
        rc = s3_pab_load(r, &p);
    if (rc == 0 && !p.present) {
        snprintf(r->d.bucket, sizeof(r->d.bucket), "%s", r->bucket);
        rc = CERR_NO_SUCH_PAB;
    }
    if (rc != 0) {
        s3_fail(r, rc);
        return;
    }
    buf_puts(&b, S3_XML_DECL);
    write_pab(&p, &b);
    s3_reply_xml(r, 200, &b);
}

/* DELETE /bucket?publicAccessBlock: 204, also when there was none. */
void
s3_delete_public_access_block(struct s3_req *r)
{
    int rc = authorize_bucket(r, "s3:PutBucketPublicAccessBlock");

    if (rc == 0)
        rc = meta_bucket_set_config(r->app->meta, r->bucket,
                                    "public_access_block", NULL);
    if (rc != 0)
        s3_fail(r, rc);
    else
        s3_reply_empty(r, 204);
}
