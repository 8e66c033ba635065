/*
 * Bodies that replies in flight still read.  A GET looks an object up
 * and then streams its bodies for as long as the client takes; a DELETE
 * or overwrite that commits meanwhile releases those bodies.  Their
 * files must outlive the reply, so a released body that a reply holds
 * is only marked, and the last reply to let go removes it.
 *
 * The lookup lock closes the gap between a GET's metadata read and its
 * pin: removal takes it exclusively, so a body is either pinned before
 * the remover looks, or the GET read the new state.  Lookups share it.
 * A crash loses only marks: the start-up sweep removes what no row holds.
 */
#include "s3/s3_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/blob.h"

#define PIN_BUCKETS 1024

struct pin {
    char id[33];
    unsigned count;
    bool doomed;                    /* released: remove at the last unpin */
    struct pin *next;
};

static pthread_rwlock_t lookup_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pin *table[PIN_BUCKETS];

static struct pin **
slot(const char *id)
{
    /* Blob ids are random hex: their first characters hash well. */
    unsigned h = (unsigned)strtoul((char[]){ id[0], id[1], id[2], 0 },
                                   NULL, 16);

    return &table[h % PIN_BUCKETS];
}

static struct pin *
find(const char *id)
{
    struct pin *p;

    for (p = *slot(id); p != NULL; p = p->next)
        if (strcmp(p->id, id) == 0)
            return p;
    return NULL;
}

void
s3_pins_lookup_begin(void)
{
    pthread_rwlock_rdlock(&lookup_lock);
}

void
s3_pins_lookup_end(void)
{
    pthread_rwlock_unlock(&lookup_lock);
}

/*
 * Pin every body of `o` (call between lookup_begin and lookup_end).
 * CERR_NOMEM leaves nothing pinned.
 */
int
s3_pins_hold(const struct meta_object *o)
{
    size_t i;
    int rc = 0;

    pthread_mutex_lock(&table_lock);
    for (i = 0; i < o->nbodies; i++) {
        struct pin *p = find(o->bodies[i].blob_id);

        if (p == NULL) {
            p = calloc(1, sizeof(*p));
            if (p == NULL) {
                rc = CERR_NOMEM;
                break;
            }
            snprintf(p->id, sizeof(p->id), "%s", o->bodies[i].blob_id);
            p->next = *slot(p->id);
            *slot(p->id) = p;
        }
        p->count++;
    }
    pthread_mutex_unlock(&table_lock);
    if (rc != 0) {
        struct meta_object part = *o;

        part.nbodies = i;
        s3_pins_release(NULL, &part);
    }
    return rc;
}

static void
unlink_pin(struct pin *gone)
{
    struct pin **pp = slot(gone->id);

    while (*pp != gone)
        pp = &(*pp)->next;
    *pp = gone->next;
}

/* Let go of o's bodies; remove those released meanwhile. */
void
s3_pins_release(struct blob_store *bs, const struct meta_object *o)
{
    size_t i;

    pthread_mutex_lock(&table_lock);
    for (i = 0; i < o->nbodies; i++) {
        struct pin *p = find(o->bodies[i].blob_id);

        if (p == NULL || --p->count > 0)
            continue;
        unlink_pin(p);
        if (p->doomed && bs != NULL)
            blob_remove(bs, p->id);
        free(p);
    }
    pthread_mutex_unlock(&table_lock);
}

/*
 * Remove released bodies, or mark those a reply still reads.  Returns
 * with every id either removed or left to its last reader.
 */
void
s3_pins_remove(struct blob_store *bs, const struct meta_garbage *g)
{
    size_t i;

    pthread_rwlock_wrlock(&lookup_lock);
    pthread_mutex_lock(&table_lock);
    for (i = 0; i < g->n; i++) {
        struct pin *p = find(g->ids[i]);

        if (p != NULL)
            p->doomed = true;
        else
            blob_remove(bs, g->ids[i]);
    }
    pthread_mutex_unlock(&table_lock);
    pthread_rwlock_unlock(&lookup_lock);
}
