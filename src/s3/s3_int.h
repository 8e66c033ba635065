/*
 * What the files of the S3 module share: the parsed request, the
 * operation table, reply writers, authorization and body plumbing.
 */
#ifndef COFFER_S3_S3_INT_H
#define COFFER_S3_S3_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "http/http.h"
#include "kms/kms.h"
#include "sse/sse.h"
#include "store/meta.h"
#include "util/buf.h"
#include "util/err.h"

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"
#define S3_XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define S3_MAX_KEY 1024
#define S3_MAX_PUT (5LL * 1024 * 1024 * 1024)
#define S3_MIN_PART (5LL * 1024 * 1024)
#define S3_MAX_PARTS 10000
#define S3_XML_BODY_MAX (2 * 1024 * 1024)

struct s3_param {
    char *name;                     /* percent-decoded */
    char *value;                    /* percent-decoded, "" when absent */
    bool has_value;
};

struct s3_req;
struct iam_identity;

/*
 * One operation: `start` runs on the headers and either replies or sets
 * `sink`/`finish` to take the body.  `finish` runs after the body passed
 * every integrity check.
 */
struct s3_opdef {
    const char *name;               /* "PutObject" */
    void (*start)(struct s3_req *r);
};

struct s3_req {
    struct http_exchange *x;
    struct coffer *app;
    const struct s3_opdef *op;
    char bucket[64];
    char *key;                      /* decoded object key, NULL for bucket */
    struct s3_param *params;
    size_t nparams;
    struct sigv4_auth auth;
    struct iam_identity *ident;     /* the caller's identity policies */
    struct kms_caller caller;
    char via_service[64];
    struct meta_bucket brec;        /* loaded by s3_load_bucket */
    bool have_brec;

    /* The body: decoded by auth_body, delivered to sink. */
    struct auth_body *body;
    int (*sink)(struct s3_req *r, const void *data, size_t len);
    void (*finish)(struct s3_req *r);
    void (*cleanup)(struct s3_req *r);
    struct buf xml;                 /* for operations with small bodies */
    void *opstate;

    int err;                        /* first failure while receiving */
    struct err_detail d;
};

/* request.c */
const char *s3_param(const struct s3_req *r, const char *name);
bool s3_has_param(const struct s3_req *r, const char *name);
const char *s3_header(const struct s3_req *r, const char *lname);
int s3_load_bucket(struct s3_req *r);
void s3_caller_fill(struct s3_req *r);
int s3_version_id_check(const char *v, const char *arg,
                        struct err_detail *d);
int s3_version_check(struct s3_req *r);

/* reply.c */
void s3_fail(struct s3_req *r, int code);
void s3_fail_msg(struct s3_req *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void s3_reply_xml(struct s3_req *r, int status, struct buf *xml);
void s3_reply_empty(struct s3_req *r, int status);
void s3_xml_open(struct buf *b, const char *root);
void s3_add_sse_headers(struct s3_req *r, const struct meta_sse *rec,
                        const struct sse_request *req, enum sse_op op);
void s3_quote_etag(const char *etag, char *out, size_t cap);
size_t s3_utf8_next(const char *s, size_t n, uint32_t *cp);
bool s3_utf8_valid(const char *s);
void s3_xml_put(struct buf *b, const char *s);
void s3_xml_put_elem(struct buf *b, const char *tag, const char *text);

/* authz.c */
struct policy_ctx;
int s3_identity_load(struct s3_req *r);
void s3_identity_release(struct s3_req *r);
struct policy;
int s3_policy_accept(struct s3_req *r, const struct policy *p);
int s3_authorize_missing(struct s3_req *r);
int s3_authorize(struct s3_req *r, const char *action, const char *resource,
                 struct policy_ctx *extra);
int s3_authorize_put(struct s3_req *r, const char *sse, const char *kms_id);
int s3_authorize_bucket(struct s3_req *r, const char *action);
void s3_bucket_arn(const char *bucket, const char *key, struct buf *out);

/* body.c */
int s3_want_body(struct s3_req *r, void (*finish)(struct s3_req *r));
int s3_want_xml_body(struct s3_req *r, void (*finish)(struct s3_req *r));
bool s3_has_integrity_header(const struct s3_req *r);
void s3_remove_garbage(struct s3_req *r, struct meta_garbage *g);
void s3_random_etag(char out[33]);

/* writer.c: one encrypted body on its way to a blob */
struct blob_writer;
struct sse_writer;
struct s3_writer {
    struct blob_writer *bw;
    struct sse_writer *sw;
    uint8_t salt[32];
};
int s3_writer_open(struct s3_req *r, const struct sse_key *okey,
                   const struct meta_sse *rec, const char *upload_id,
                   int part_number, struct s3_writer *w);
int s3_writer_start(struct s3_req *r, struct sse_key *okey,
                    const struct meta_sse *rec, const char *upload_id,
                    int part_number, struct s3_writer *w);
int s3_writer_sink(struct s3_req *r, const void *data, size_t len);
int s3_writer_commit(struct s3_writer *w, char id[33]);
void s3_writer_abort(struct s3_writer *w);
int s3_object_headers(struct s3_req *r, char **out);
int s3_check_length(struct s3_req *r, int64_t max);
int s3_check_write_headers(struct s3_req *r);

/* pins.c: bodies that replies in flight still read */
void s3_pins_lookup_begin(void);
void s3_pins_lookup_end(void);
int s3_pins_hold(const struct meta_object *o);
void s3_pins_release(struct blob_store *bs, const struct meta_object *o);
void s3_pins_remove(struct blob_store *bs, const struct meta_garbage *g);

/* xmlbody.c: request documents, namespace or not, no DTDs */
struct _xmlDoc;
struct _xmlNode;
struct _xmlDoc *s3_xml_parse(const struct buf *b, const char *root);
struct _xmlNode *s3_xml_root(struct _xmlDoc *doc);
struct _xmlNode *s3_xml_child(struct _xmlNode *n, const char *name);
struct _xmlNode *s3_xml_next(struct _xmlNode *n, const char *name);
int s3_xml_count(struct _xmlNode *n, const char *name);
/* Text of a child element (malloc'd, caller frees), NULL when absent. */
char *s3_xml_text(struct _xmlNode *n, const char *name);
void s3_xml_free(struct _xmlDoc *doc);

/* read.c: an object's plaintext by offset, across its bodies */
struct blob_store;
struct s3_body_reader {
    struct blob_store *blobs;
    const struct meta_object *obj;  /* borrowed */
    struct sse_key okey;
    size_t cur;                     /* index of the body open in rd */
    struct sse_reader *rd;
    uint64_t end;                   /* reads end before this offset */
};
void s3_body_reader_init(struct s3_body_reader *br, struct blob_store *bs,
                         const struct meta_object *obj,
                         const struct sse_key *okey);
void s3_body_reader_limit(struct s3_body_reader *br, uint64_t end);
int s3_body_reader_read(struct s3_body_reader *br, uint64_t off, void *buf,
                        size_t max, size_t *got);
void s3_body_reader_close(struct s3_body_reader *br);
int s3_check_sigv2_kms(struct s3_req *r, int mode);

/* tagset.c: tag sets of objects and buckets */
#define S3_OBJECT_TAGS_MAX 10
#define S3_BUCKET_TAGS_MAX 50
struct s3_tag {
    char *key;
    char *value;
};
struct s3_tagset {
    struct s3_tag *v;
    size_t n;
};
int s3_tagset_parse_query(const char *text, struct s3_tagset *out,
                          struct err_detail *d);
int s3_tagset_parse_xml(const struct buf *body, struct s3_tagset *out,
                        struct err_detail *d);
int s3_tagset_check(const struct s3_tagset *t, bool bucket,
                    struct err_detail *d);
int s3_tagset_to_query(const struct s3_tagset *t, char **out);
void s3_tagset_to_xml(const struct s3_tagset *t, struct buf *b);
int s3_tagset_to_ctx(const struct s3_tagset *t, struct policy_ctx *c,
                     const char *prefix, const char *keys_name);
void s3_tagset_free(struct s3_tagset *t);

/* tagging.c: tags on writes, and in policy contexts */
int s3_tagging_from_request(struct s3_req *r, char **out);
int s3_tagging_request_ctx(struct s3_req *r, struct policy_ctx *c);
int s3_tagging_existing_ctx(const char *stored, struct policy_ctx *c);
size_t s3_tagging_count(const char *stored);

/* pab.c: a bucket's public access block, parsed */
struct s3_pab {
    bool present;                   /* one is stored */
    bool block_public_acls;
    bool ignore_public_acls;
    bool block_public_policy;
    bool restrict_public_buckets;
};
int s3_pab_load(struct s3_req *r, struct s3_pab *out);

/* copy.c: the copy source header and the part range */
int s3_copy_source_parse(const char *value, char bucket[64], char **key,
                         struct err_detail *d);
int s3_copy_range_parse(const char *value, int64_t size, int64_t *first,
                        int64_t *len, struct err_detail *d);
int s3_copy_size_check(int64_t size, struct err_detail *d);

/* Operations, one file per group. */
void s3_list_buckets(struct s3_req *r);
void s3_create_bucket(struct s3_req *r);
void s3_head_bucket(struct s3_req *r);
void s3_delete_bucket(struct s3_req *r);
void s3_get_bucket_location(struct s3_req *r);
void s3_put_bucket_encryption(struct s3_req *r);
void s3_get_bucket_encryption(struct s3_req *r);
void s3_delete_bucket_encryption(struct s3_req *r);
void s3_put_bucket_policy(struct s3_req *r);
void s3_get_bucket_policy(struct s3_req *r);
void s3_delete_bucket_policy(struct s3_req *r);
void s3_get_bucket_policy_status(struct s3_req *r);
void s3_list_objects(struct s3_req *r);
void s3_list_objects_v2(struct s3_req *r);
void s3_put_object(struct s3_req *r);
void s3_get_object(struct s3_req *r);
void s3_head_object(struct s3_req *r);
void s3_delete_object(struct s3_req *r);
void s3_delete_objects(struct s3_req *r);
int s3_upload_fetch(struct s3_req *r, struct meta_upload *u);
int s3_part_number(struct s3_req *r, int *out);
/* read.c: conditional requests */
enum s3_cond {
    S3_COND_HOLD,
    S3_COND_IF_MATCH,
    S3_COND_IF_UNMODIFIED_SINCE,
    S3_COND_IF_NONE_MATCH,
    S3_COND_IF_MODIFIED_SINCE,
};
bool s3_etag_matches(const char *cond, const char *etag);
enum s3_cond s3_conditions(struct s3_req *r, const char *prefix,
                           const struct meta_object *o);

void s3_create_multipart(struct s3_req *r);
void s3_upload_part(struct s3_req *r);
void s3_complete_multipart(struct s3_req *r);
void s3_abort_multipart(struct s3_req *r);
void s3_list_parts(struct s3_req *r);
void s3_list_uploads(struct s3_req *r);
void s3_copy_object(struct s3_req *r);
void s3_upload_part_copy(struct s3_req *r);
void s3_put_object_tagging(struct s3_req *r);
void s3_get_object_tagging(struct s3_req *r);
void s3_delete_object_tagging(struct s3_req *r);
void s3_put_bucket_tagging(struct s3_req *r);
void s3_get_bucket_tagging(struct s3_req *r);
void s3_delete_bucket_tagging(struct s3_req *r);
void s3_put_public_access_block(struct s3_req *r);
void s3_get_public_access_block(struct s3_req *r);
void s3_delete_public_access_block(struct s3_req *r);

#endif
