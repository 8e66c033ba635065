/*
 * Public entry points for IAM users, access keys and identity policies:
 * dispatchers to the back end's struct meta_ops, and the list helpers.
 * As in meta.c, every output is zeroed first.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>


/* Create a user; CERR_IAM_ENTITY_EXISTS when the name or id is taken. */
int
meta_user_create(struct meta *m, const struct meta_user *u)
{
    return m->ops->user_create(m, u);
}

/* One user by name; CERR_IAM_NO_SUCH_ENTITY. */
int
meta_user_get(struct meta *m, const char *name, struct meta_user *out)
{
    memset(out, 0, sizeof(*out));
    return m->ops->user_get(m, name, out);
}

/* Every user by name; *out plain malloc'd. */
int
meta_user_list(struct meta *m, struct meta_user **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return m->ops->user_list(m, out, n);
}

/* Delete a user (with its keys and policies when force); see meta.h. */
int
meta_user_delete(struct meta *m, const char *name, bool force)
{
    return m->ops->user_delete(m, name, force);
}

/* Store a new access key; see meta.h for the failures. */
int
meta_access_key_create(struct meta *m, const struct meta_access_key *k)
{
    return m->ops->access_key_create(m, k);
}

/* A key and (when user is not NULL) its user; CERR_IAM_NO_SUCH_ENTITY. */
int
meta_access_key_get(struct meta *m, const char *akid,
                    struct meta_access_key *out, struct meta_user *user)
{
    memset(out, 0, sizeof(*out));
    if (user != NULL)
        memset(user, 0, sizeof(*user));
    return m->ops->access_key_get(m, akid, out, user);
}

/* A user's keys, oldest first; *out plain malloc'd. */
int
meta_access_key_list(struct meta *m, const char *user_name,
                     struct meta_access_key **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return m->ops->access_key_list(m, user_name, out, n);
}

/* Mark a key Active or Inactive; CERR_IAM_NO_SUCH_ENTITY. */
int
meta_access_key_set_active(struct meta *m, const char *akid, bool active)
{
    return m->ops->access_key_set_active(m, akid, active);
}

/* Delete a key; CERR_IAM_NO_SUCH_ENTITY. */
int
meta_access_key_delete(struct meta *m, const char *akid)
{
    return m->ops->access_key_delete(m, akid);
}

/* Attach or replace a user's policy; CERR_IAM_NO_SUCH_ENTITY. */
int
meta_user_policy_put(struct meta *m, const char *user_name,
                     const char *name, const char *document, int64_t now_ms)
{
    return m->ops->user_policy_put(m, user_name, name, document, now_ms);
}

/* Detach a user's policy; CERR_IAM_NO_SUCH_ENTITY. */
int
meta_user_policy_delete(struct meta *m, const char *user_name,
                        const char *name)
{
    return m->ops->user_policy_delete(m, user_name, name);
}

/* A user's policies with documents; free with meta_user_policy_list_free. */
int
meta_user_policy_list(struct meta *m, const char *user_name,
                      struct meta_user_policy **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return m->ops->user_policy_list(m, user_name, out, n);
}

/* Free a policy list and its documents; NULL is fine. */
void
meta_user_policy_list_free(struct meta_user_policy *v, size_t n)
{
    size_t i;

    for (i = 0; v != NULL && i < n; i++)
        free(v[i].document);
    free(v);
}
