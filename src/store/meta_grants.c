/*
 * Public entry points for KMS grants: dispatchers to the back end's
 * struct meta_ops, and the _clear helpers.  As in meta.c, every output is
 * zeroed first, so the matching _clear is safe whatever a call returned.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

/* Store a new grant with its first token hash; see meta.h. */
int
meta_kms_grant_create(struct meta *m, const struct meta_kms_grant *g,
                      const uint8_t token_hash[32])
{
    return m->ops->kms_grant_create(m, g, token_hash);
}

/* Another token hash for a grant; CERR_KMS_NOT_FOUND. */
int
meta_kms_grant_token_add(struct meta *m, const char *grant_id,
                         const uint8_t token_hash[32])
{
    return m->ops->kms_grant_token_add(m, grant_id, token_hash);
}

/* One grant by id; CERR_KMS_NOT_FOUND.  Free with meta_kms_grant_clear. */
int
meta_kms_grant_get(struct meta *m, const char *grant_id,
                   struct meta_kms_grant *out)
{
    memset(out, 0, sizeof(*out));
    return m->ops->kms_grant_get(m, grant_id, NULL, out);
}

/* The grant one of whose tokens hashes to token_hash; CERR_KMS_NOT_FOUND. */
int
meta_kms_grant_by_token(struct meta *m, const uint8_t token_hash[32],
                        struct meta_kms_grant *out)
{
    memset(out, 0, sizeof(*out));
    return m->ops->kms_grant_get(m, NULL, token_hash, out);
}

/* Filtered grants in creation order; see meta.h. */
int
meta_kms_grant_list(struct meta *m, const char *key_id, const char *grantee,
                    const char *retiring, const char *name,
                    const char *after_id, size_t limit,
                    struct meta_kms_grant **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return m->ops->kms_grant_list(m, key_id, grantee, retiring, name,
                                  after_id ? after_id : "", limit, out, n);
}

/* Remove a grant and its tokens; CERR_KMS_NOT_FOUND. */
int
meta_kms_grant_delete(struct meta *m, const char *grant_id)
{
    return m->ops->kms_grant_delete(m, grant_id);
}

/* Free what a grant holds and zero it (NULL allowed). */
void
meta_kms_grant_clear(struct meta_kms_grant *g)
{
    if (g == NULL)
        return;
    free(g->constraints);
    memset(g, 0, sizeof(*g));
}

/* Free a listing from meta_kms_grant_list. */
void
meta_kms_grant_list_free(struct meta_kms_grant *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        meta_kms_grant_clear(&v[i]);
    free(v);
}
