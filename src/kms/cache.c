/*
 * What a KMS call would otherwise re-read on every call: key rows, the
 * key an alias names, and parsed key policies.
 *
 * Rows and aliases are kept with the value of the store's KMS generation
 * (META_KMS_GENERATION) read before they were: every change to a key, its
 * materials or an alias adds one to it in the same transaction, whoever
 * makes it (this process, another server on the same database, an
 * operator's tool).  A cached entry is used only while the generation
 * read at the start of the call is still the one it was kept with, so a
 * disabled key is refused on the very next call, at the price of one
 * small read per call instead of the row.  Reading the generation first
 * matters: a row read after it is at least as new as it.
 *
 * Parsed policies need no generation: an entry is the parse of one exact
 * policy text, used only when the row just loaded carries that text.
 * They are shared by the calls evaluating them (the tree is immutable),
 * so each is reference-counted and freed by the last user once evicted.
 *
 * Grants are not cached: they are read only when the key policy alone
 * does not allow a call.
 */
#include "kms/kms_int.h"
#include "policy/policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A parsed key policy, shared; refs counts its slot and its users. */
struct kms_parsed {
    unsigned refs;
    char key_id[KMS_KEY_ID_LEN + 1];
    char *text;
    struct policy *p;
};

/* The generation now, 0 before the first KMS write.  0 or a store
 * error. */
static int
generation(struct kms *k, int64_t *gen)
{
    char text[32];
    int rc;

    *gen = 0;
    rc = meta_setting_get(k->meta, META_KMS_GENERATION, text, sizeof(text));
    if (rc == CERR_NO_SUCH_KEY)
        return 0;
    if (rc == 0)
        *gen = strtoll(text, NULL, 10);
    return rc;
}

static void
row_wipe(struct kms_row *e)
{
    meta_kms_key_clear(&e->key);
    memset(e, 0, sizeof(*e));
}

/* A deep copy of src into dst (the caller clears dst).  CERR_NOMEM. */
static int
key_copy(struct meta_kms_key *dst, const struct meta_kms_key *src)
{
    *dst = *src;
    dst->description = NULL;
    dst->policy = NULL;
    if (src->description != NULL &&
        (dst->description = strdup(src->description)) == NULL)
        return CERR_NOMEM;
    if (src->policy != NULL && (dst->policy = strdup(src->policy)) == NULL)
        return CERR_NOMEM;
    return 0;
}

/* The cached row of key_id at generation gen into *key; false on a miss
 * (or when the copy cannot be made). */
static bool
row_hit(struct kms *k, const char *key_id, int64_t gen,
        struct meta_kms_key *key)
{
    bool hit = false;
    size_t i;

    pthread_mutex_lock(&k->cache_mu);
    for (i = 0; i < KMS_ROW_SLOTS; i++) {
        struct kms_row *e = &k->rows[i];

        if (!e->live || strcmp(e->key.key_id, key_id) != 0)
            continue;
        if (e->gen == gen && key_copy(key, &e->key) == 0) {
            e->used = ++k->cache_tick;
            hit = true;
        } else {
            meta_kms_key_clear(key);
        }
        break;
    }
    pthread_mutex_unlock(&k->cache_mu);
    return hit;
}

/* Keep a copy of key as read at generation gen, in its old slot, a free
 * one or the least recently used. */
static void
row_keep(struct kms *k, const struct meta_kms_key *key, int64_t gen)
{
    struct kms_row *victim = &k->rows[0];
    size_t i;

    pthread_mutex_lock(&k->cache_mu);
    for (i = 0; i < KMS_ROW_SLOTS; i++) {
        struct kms_row *e = &k->rows[i];

        if (!e->live || strcmp(e->key.key_id, key->key_id) == 0) {
            victim = e;
            break;
        }
        if (e->used < victim->used)
            victim = e;
    }
    if (!victim->live || victim->gen <= gen) {
        row_wipe(victim);
        if (key_copy(&victim->key, key) == 0) {
            victim->live = true;
            victim->gen = gen;
            victim->used = ++k->cache_tick;
        } else {
            row_wipe(victim);
        }
    }
    pthread_mutex_unlock(&k->cache_mu);
}

/*
 * The row of key_id into *key (clear with meta_kms_key_clear): from the
 * cache while the generation is unchanged, else from the store.  0,
 * CERR_KMS_NOT_FOUND or a store error.
 */
int
kms_row_get(struct kms *k, const char *key_id, struct meta_kms_key *key)
{
    int64_t gen;
    int rc;

    memset(key, 0, sizeof(*key));
    rc = generation(k, &gen);
    if (rc != 0)
        return rc;
    if (row_hit(k, key_id, gen, key))
        return 0;
    rc = meta_kms_key_get(k->meta, key_id, key);
    if (rc == 0)
        row_keep(k, key, gen);
    return rc;
}

/* The slot caching alias `name`, NULL none.  Called with cache_mu. */
static struct kms_alias_ent *
alias_slot(struct kms *k, const char *name)
{
    size_t i;

    for (i = 0; i < KMS_ALIAS_SLOTS; i++)
        if (k->aliases[i].live && strcmp(k->aliases[i].name, name) == 0)
            return &k->aliases[i];
    return NULL;
}

/* Keep alias `name` -> key_id as read at generation gen. */
static void
alias_keep(struct kms *k, const char *name, const char *key_id, int64_t gen)
{
    struct kms_alias_ent *e;

    pthread_mutex_lock(&k->cache_mu);
    e = alias_slot(k, name);
    if (e == NULL)
        e = &k->aliases[k->alias_next++ % KMS_ALIAS_SLOTS];
    if (!e->live || e->gen <= gen) {
        e->live = true;
        e->gen = gen;
        snprintf(e->name, sizeof(e->name), "%s", name);
        snprintf(e->key_id, sizeof(e->key_id), "%s", key_id);
    }
    pthread_mutex_unlock(&k->cache_mu);
}

/*
 * The key id alias `name` points at, into key_id: cached like rows.  0,
 * CERR_KMS_NOT_FOUND or a store error.
 */
int
kms_alias_key(struct kms *k, const char *name,
              char key_id[KMS_KEY_ID_LEN + 1])
{
    struct meta_kms_alias al;
    struct kms_alias_ent *e;
    int64_t gen;
    bool hit;
    int rc;

    rc = generation(k, &gen);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&k->cache_mu);
    e = alias_slot(k, name);
    hit = e != NULL && e->gen == gen;
    if (hit)
        memcpy(key_id, e->key_id, KMS_KEY_ID_LEN + 1);
    pthread_mutex_unlock(&k->cache_mu);
    if (hit)
        return 0;

    rc = meta_kms_alias_get(k->meta, name, &al);
    if (rc != 0)
        return rc;
    memcpy(key_id, al.key_id, KMS_KEY_ID_LEN + 1);
    if (strlen(name) < sizeof(e->name))
        alias_keep(k, name, al.key_id, gen);
    return 0;
}

static void
parsed_unref(struct kms_parsed *e)
{
    if (e == NULL || --e->refs > 0)
        return;
    policy_free(e->p);
    free(e->text);
    free(e);
}

/* A new entry for key's policy text, holding one reference. */
static int
parsed_new(const struct meta_kms_key *key, struct kms_parsed **out)
{
    struct kms_parsed *e;
    int rc;

    *out = NULL;
    e = calloc(1, sizeof(*e));
    if (e == NULL || (e->text = strdup(key->policy)) == NULL) {
        free(e);
        return CERR_NOMEM;
    }
    e->refs = 1;
    snprintf(e->key_id, sizeof(e->key_id), "%s", key->key_id);
    rc = policy_parse(key->policy, strlen(key->policy), POLICY_KEY, "",
                      &e->p, NULL);
    if (rc != 0) {
        parsed_unref(e);
        return rc == CERR_NOMEM ? rc : CERR_CORRUPT;
    }
    *out = e;
    return 0;
}

/* Put e in key's slot (or a free or the next one), the cache holding a
 * reference of its own. */
static void
parsed_keep(struct kms *k, struct kms_parsed *e)
{
    struct kms_parsed **slot = NULL;
    size_t i;

    for (i = 0; i < KMS_POLICY_SLOTS && slot == NULL; i++)
        if (k->parsed[i] == NULL ||
            strcmp(k->parsed[i]->key_id, e->key_id) == 0)
            slot = &k->parsed[i];
    if (slot == NULL)
        slot = &k->parsed[k->parsed_next++ % KMS_POLICY_SLOTS];
    parsed_unref(*slot);
    e->refs++;
    *slot = e;
}

/*
 * The parsed policy of key (its policy text, non-NULL) into *p, shared:
 * give *ref back with kms_policy_release.  0, CERR_NOMEM, or CERR_CORRUPT
 * when the stored text no longer parses.
 */
int
kms_policy_acquire(struct kms *k, const struct meta_kms_key *key,
                   const struct policy **p, struct kms_parsed **ref)
{
    struct kms_parsed *e = NULL;
    size_t i;
    int rc;

    pthread_mutex_lock(&k->cache_mu);
    for (i = 0; i < KMS_POLICY_SLOTS && e == NULL; i++)
        if (k->parsed[i] != NULL &&
            strcmp(k->parsed[i]->key_id, key->key_id) == 0 &&
            strcmp(k->parsed[i]->text, key->policy) == 0)
            e = k->parsed[i];
    if (e != NULL)
        e->refs++;
    pthread_mutex_unlock(&k->cache_mu);

    if (e == NULL) {
        rc = parsed_new(key, &e);
        if (rc != 0)
            return rc;
        pthread_mutex_lock(&k->cache_mu);
        parsed_keep(k, e);
        pthread_mutex_unlock(&k->cache_mu);
    }
    *p = e->p;
    *ref = e;
    return 0;
}

/* Give back what kms_policy_acquire lent (NULL allowed). */
void
kms_policy_release(struct kms *k, struct kms_parsed *ref)
{
    if (ref == NULL)
        return;
    pthread_mutex_lock(&k->cache_mu);
    parsed_unref(ref);
    pthread_mutex_unlock(&k->cache_mu);
}

/* Drop every cached row, alias and parsed policy (at close). */
void
kms_rows_flush(struct kms *k)
{
    size_t i;

    pthread_mutex_lock(&k->cache_mu);
    for (i = 0; i < KMS_ROW_SLOTS; i++)
        row_wipe(&k->rows[i]);
    for (i = 0; i < KMS_POLICY_SLOTS; i++) {
        parsed_unref(k->parsed[i]);
        k->parsed[i] = NULL;
    }
    memset(k->aliases, 0, sizeof(k->aliases));
    pthread_mutex_unlock(&k->cache_mu);
}
