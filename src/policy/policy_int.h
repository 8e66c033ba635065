/*
 * Internals shared by the policy module's files: the parsed tree, the
 * tables of known actions, condition keys and operators, and the matching
 * helpers (wildcards, ARNs, addresses, numbers, dates, policy variables).
 *
 * A parsed policy lives in one arena: every node and string of the tree is
 * carved from it, so freeing the policy is freeing the arena, and a parse
 * that fails half-way leaks nothing.
 */
#ifndef COFFER_POLICY_INT_H
#define COFFER_POLICY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "policy/policy.h"
#include "util/buf.h"

/* A chain of blocks that everything of one policy is allocated from. */
struct arena {
    struct arena_block *head;
    bool failed;
};

void *arena_alloc(struct arena *a, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);
void arena_free(struct arena *a);

/*
 * A string element of a policy (a Resource, a String or ARN condition
 * value) once split around its policy variables.  TEXT keeps its `*` and
 * `?` as wildcards; QUOTED is ${*}, ${?} or ${$} and substituted values,
 * which never act as wildcards; VAR is ${key} or ${key, 'default'}.
 */
enum seg_kind { SEG_TEXT, SEG_QUOTED, SEG_VAR };

struct seg {
    enum seg_kind kind;
    const char *text;           /* TEXT/QUOTED: the text; VAR: key name */
    size_t len;
    const char *dflt;           /* VAR: the default, NULL if none */
};

/* One string element: `raw` as written, `segs` when it has variables. */
struct pattern {
    const char *raw;
    struct seg *segs;           /* NULL: no variables, use raw */
    size_t nsegs;
};

/* Families of condition operators; the operator table maps names here. */
enum cond_family {
    FAM_STR, FAM_ISTR, FAM_LIKE, FAM_NUM, FAM_DATE, FAM_BOOL, FAM_BIN,
    FAM_IP, FAM_ARN, FAM_NULL,
};

enum cond_cmp { CMP_EQ, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

enum cond_qual { QUAL_NONE, QUAL_ANY, QUAL_ALL };

struct cond_op {
    const char *name;
    enum cond_family fam;
    enum cond_cmp cmp;
    bool negated;
};

/* An address range: family 4 or 6, 16 bytes (IPv4 in the first 4). */
struct cidr {
    int family;
    uint8_t addr[16];
    int prefix;
};

/* One policy value of a condition, pre-parsed for its operator. */
struct cond_value {
    struct pattern pat;         /* string, like and ARN families */
    double num;                 /* numeric and date families (seconds) */
    bool flag;                  /* Bool and Null */
    struct cidr net;            /* IpAddress family */
};

/* One operator applied to one key: {"StringEquals": {"KEY": [values]}}. */
struct cond {
    const struct cond_op *op;
    enum cond_qual qual;
    bool if_exists;
    const char *key;            /* as written; compared case-insensitively */
    struct cond_value *vals;
    size_t nvals;
};

/* Who a statement names: Principal or NotPrincipal. */
struct principals {
    bool any;                   /* "*" or {"AWS": "*"} */
    const char **accounts;      /* 12-digit ids (root ARNs folded in) */
    size_t naccounts;
    const char **users;         /* user ARNs, compared exactly */
    size_t nusers;
};

struct stmt {
    const char *sid;            /* NULL when absent */
    bool deny;
    bool has_principal;         /* false in identity policies */
    bool not_principal;
    struct principals princ;
    bool not_action;
    const char **actions;
    size_t nactions;
    bool not_resource;
    struct pattern *resources;
    size_t nresources;
    struct cond *conds;
    size_t nconds;
};

struct policy {
    struct arena arena;
    enum policy_kind kind;
    bool v2012;                 /* Version 2012-10-17: variables on */
    struct stmt *stmts;
    size_t nstmts;
    char *warnings;             /* arena string or NULL */
};

/* What kind of resource an S3 action applies to. */
enum act_kind { ACT_SERVICE, ACT_BUCKET, ACT_OBJECT, ACT_KEY, ACT_KEYLESS };

struct action_info {
    const char *name;           /* "s3:GetObject" */
    enum act_kind kind;
    bool implemented;           /* false: AWS has it, coffer does not */
};

/* Where a condition key comes from and whether coffer fills it. */
enum key_class {
    KEY_UNKNOWN,                /* refuse: no such key */
    KEY_KNOWN,                  /* coffer fills it (policy.md §5, §9) */
    KEY_UNIMPLEMENTED,          /* AWS has it, coffer does not fill it */
    KEY_UNKNOWN_GLOBAL,         /* an aws: key coffer does not know */
};

struct key_info {
    enum key_class cls;
    const char *const *actions; /* s3: keys: the actions it applies to */
    bool single_valued_ctx;     /* kms:EncryptionContext:<k> */
};

/* The state of one policy_parse call. */
struct parser {
    struct policy *p;
    enum policy_kind kind;
    const char *bucket;
    struct err_detail *d;
    struct buf warn;            /* warnings, one per line */
    size_t index;               /* 1-based number of the statement */
    const char *sid;            /* its Sid, for warnings */
};

/* parse.c */
int policy_malformed(struct parser *ps, const char *msg);
void policy_warn(struct parser *ps, const char *what, const char *key);
bool policy_action_covers(const char *pattern, const char *action);

/* cond_parse.c: parse the Condition block of statement st. */
int policy_parse_conditions(struct parser *ps, json_t *v, struct stmt *st);

/* tables.c */
const struct action_info *policy_actions(size_t *n);
const struct cond_op *policy_op_find(const char *name, size_t len);
void policy_key_classify(const char *key, struct key_info *out);
bool policy_action_keyless(const char *action);

/* match.c */
bool policy_glob(const char *pat, const uint8_t *lit, size_t plen,
                 const char *s, size_t slen, bool icase);
bool policy_arn_match(const char *pat, const uint8_t *lit, size_t plen,
                      const char *s);
int policy_cidr_parse(const char *s, bool bare_is_host, struct cidr *out);
bool policy_cidr_contains(const struct cidr *net, const struct cidr *ip);
int policy_number_parse(const char *s, double *out);
int policy_date_parse(const char *s, double *out);
int policy_pattern_split(struct arena *a, const char *raw, size_t from,
                         struct pattern *out);

/* A lookup of context values, used to substitute policy variables. */
struct eval_state;
const char *policy_var_value(const struct eval_state *e, const char *key,
                             size_t len);
int policy_pattern_expand(const struct pattern *p,
                          const struct eval_state *e, struct buf *text,
                          struct buf *lit);

/* Case-insensitive ASCII comparisons, independent of the locale. */
int policy_strcasecmp(const char *a, const char *b);
bool policy_strncaseeq(const char *a, const char *b, size_t n);

#endif
