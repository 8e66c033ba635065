/*
 * Key rotation: a rotation adds a key material and makes it current; new
 * ciphertexts use it and old blobs still name theirs, so they keep
 * decrypting.  Automatic rotation has no timer: a key whose rotation date
 * has passed is rotated the next time it is loaded (kms_key_rotate_due),
 * before anything is encrypted under it.
 */
#include "kms/kms_int.h"
#include "crypto/crypto.h"
#include "util/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ON_DEMAND 25

/* Add a material of `type` ("AUTOMATIC", "ON_DEMAND") and make it the
 * key's current one; key->current_material follows. */
static int
rotate(struct kms *k, struct meta_kms_key *key, const char *type)
{
    struct meta_kms_material mat;
    uint8_t raw[32];
    int rc;

    rc = kms_material_new(k, key->key_id, &mat, raw);
    crypto_wipe(raw, sizeof(raw));
    if (rc != 0)
        return rc;
    snprintf(mat.rotation_type, sizeof(mat.rotation_type), "%s", type);
    rc = meta_kms_material_add(k->meta, &mat, mat.material_id);
    if (rc == 0)
        memcpy(key->current_material, mat.material_id,
               sizeof(key->current_material));
    crypto_wipe(&mat, sizeof(mat));
    return rc;
}

/*
 * Rotate key when automatic rotation is on and its date has passed; the
 * next date moves on by whole periods.  Serialized within the process so
 * that two requests do not both rotate.  0 or a store error.
 */
int
kms_key_rotate_due(struct kms *k, struct meta_kms_key *key)
{
    int64_t now = time_now_ms(), period;
    struct meta_kms_key cur;
    int rc = 0;

    if (!key->rotation_enabled || key->next_rotation_ms > now ||
        strcmp(key->state, "Enabled") != 0 || key->rotation_days <= 0)
        return 0;

    pthread_mutex_lock(&k->create_mu);
    memset(&cur, 0, sizeof(cur));
    rc = meta_kms_key_get(k->meta, key->key_id, &cur);
    if (rc == 0 && cur.rotation_enabled && cur.next_rotation_ms <= now) {
        rc = rotate(k, &cur, "AUTOMATIC");
        period = (int64_t)cur.rotation_days * k->day_ms;
        while (rc == 0 && cur.next_rotation_ms <= now)
            cur.next_rotation_ms += period;
        if (rc == 0)
            rc = meta_kms_key_update(k->meta, &cur);
    }
    if (rc == 0) {
        memcpy(key->current_material, cur.current_material,
               sizeof(key->current_material));
        key->next_rotation_ms = cur.next_rotation_ms;
    }
    meta_kms_key_clear(&cur);
    pthread_mutex_unlock(&k->create_mu);
    return rc;
}

/* KeyId* (id or ARN), loaded and authorized for action. */
static int
target(struct kms_req *r, const char *action, struct meta_kms_key *key)
{
    const char *ref = NULL;
    int rc;

    memset(key, 0, sizeof(*key));
    rc = kms_arg_str(r, "KeyId", "keyId", true, 1, 2048, &ref);
    rc = rc ? rc : kms_key_find(r, ref, false, key);
    rc = rc ? rc : kms_authorize(r, key, NULL, action, NULL);
    return rc;
}

/* Rotation settings need an enabled customer key. */
static int
changeable(struct kms_req *r, const struct meta_kms_key *key)
{
    int rc = kms_key_usable(r->k, key, r->d);

    if (rc == 0 && strcmp(key->manager, "AWS") == 0)
        rc = err_set(r->d, CERR_KMS_UNSUPPORTED, "%s is an AWS managed key "
                     "and its rotation cannot be changed.", r->arn);
    return rc;
}

/* EnableKeyRotation: RotationPeriodInDays 90-2560, default 365. */
int
kms_op_enable_rotation(struct kms_req *r)
{
    struct meta_kms_key key;
    int64_t days = 365;
    int rc;

    rc = target(r, "kms:EnableKeyRotation", &key);
    rc = rc ? rc : kms_arg_int(r, "RotationPeriodInDays",
                               "rotationPeriodInDays", false, 90, 2560,
                               &days, NULL);
    rc = rc ? rc : changeable(r, &key);
    if (rc == 0) {
        key.rotation_enabled = true;
        key.rotation_days = (int)days;
        key.next_rotation_ms = time_now_ms() + days * r->k->day_ms;
        rc = meta_kms_key_update(r->k->meta, &key);
    }
    meta_kms_key_clear(&key);
    return rc;
}

/* DisableKeyRotation. */
int
kms_op_disable_rotation(struct kms_req *r)
{
    struct meta_kms_key key;
    int rc;

    rc = target(r, "kms:DisableKeyRotation", &key);
    rc = rc ? rc : changeable(r, &key);
    if (rc == 0) {
        key.rotation_enabled = false;
        key.next_rotation_ms = 0;
        rc = meta_kms_key_update(r->k->meta, &key);
    }
    meta_kms_key_clear(&key);
    return rc;
}

/* GetKeyRotationStatus: allowed in every key state. */
int
kms_op_rotation_status(struct kms_req *r)
{
    struct meta_kms_key key;
    int rc;

    rc = target(r, "kms:GetKeyRotationStatus", &key);
    if (rc == 0 && json_object_set_new(r->res, "KeyRotationEnabled",
                                       json_boolean(key.rotation_enabled)))
        rc = CERR_NOMEM;
    rc = rc ? rc : kms_json_str(r->res, "KeyId", r->arn);
    if (rc == 0 && key.rotation_enabled) {
        if (json_object_set_new(r->res, "RotationPeriodInDays",
                                json_integer(key.rotation_days)) != 0)
            rc = CERR_NOMEM;
        rc = rc ? rc : kms_json_time(r->res, "NextRotationDate",
                                     key.next_rotation_ms);
    }
    meta_kms_key_clear(&key);
    return rc;
}

/* How many on-demand rotations a key has had. */
static int
count_on_demand(struct kms *k, const char *key_id, size_t *n)
{
    struct meta_kms_material *v = NULL;
    size_t cnt = 0, i;
    int rc;

    *n = 0;
    rc = meta_kms_material_list(k->meta, key_id, &v, &cnt);
    for (i = 0; rc == 0 && i < cnt; i++)
        *n += strcmp(v[i].rotation_type, "ON_DEMAND") == 0;
    if (v != NULL)
        crypto_wipe(v, cnt * sizeof(*v));
    free(v);
    return rc;
}

/* RotateKeyOnDemand: at most 25 per key. */
int
kms_op_rotate_now(struct kms_req *r)
{
    struct meta_kms_key key;
    size_t n = 0;
    int rc;

    rc = target(r, "kms:RotateKeyOnDemand", &key);
    rc = rc ? rc : changeable(r, &key);
    rc = rc ? rc : count_on_demand(r->k, key.key_id, &n);
    if (rc == 0 && n >= MAX_ON_DEMAND)
        rc = err_set(r->d, CERR_KMS_LIMIT, "%s has reached the limit of %d "
                     "on-demand rotations.", r->arn, MAX_ON_DEMAND);
    if (rc == 0) {
        pthread_mutex_lock(&r->k->create_mu);
        rc = rotate(r->k, &key, "ON_DEMAND");
        pthread_mutex_unlock(&r->k->create_mu);
    }
    rc = rc ? rc : kms_json_str(r->res, "KeyId", r->arn);
    meta_kms_key_clear(&key);
    return rc;
}

static const char *const include_values[] = {
    "ALL_KEY_MATERIAL", "ROTATIONS_ONLY", NULL
};

/* One element of Rotations. */
static json_t *
rotation_json(struct kms_req *r, const struct meta_kms_material *m,
              const struct meta_kms_key *key)
{
    bool current = strcmp(m->material_id, key->current_material) == 0;
    json_t *o;

    o = json_pack("{s:s}", "KeyId", r->arn);
    if (o == NULL || kms_json_time(o, "RotationDate", m->created_ms) ||
        (m->rotation_type[0] != '\0' &&
         kms_json_str(o, "RotationType", m->rotation_type)) ||
        kms_json_str(o, "KeyMaterialId", m->material_id) ||
        kms_json_str(o, "KeyMaterialState", current ? "CURRENT"
                                                    : "NON_CURRENT")) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Append the page of materials after `marker` to arr; *next is the last
 * material shown when more follow, else NULL. */
static int
rotation_page(struct kms_req *r, const struct meta_kms_key *key,
              const struct meta_kms_material *v, size_t n, bool all,
              const char *marker, size_t limit, json_t *arr,
              const char **next)
{
    bool started = marker == NULL;
    const char *last = NULL;
    size_t i, shown = 0;

    *next = NULL;
    for (i = 0; i < n; i++) {
        if (!all && v[i].rotation_type[0] == '\0')
            continue;
        if (!started) {
            started = strcmp(v[i].material_id, marker) == 0;
            continue;
        }
        if (shown == limit) {
            *next = last;
            break;
        }
        if (json_array_append_new(arr, rotation_json(r, &v[i], key)) != 0)
            return CERR_NOMEM;
        last = v[i].material_id;
        shown++;
    }
    if (!started)
        return err_set(r->d, CERR_KMS_INVALID_MARKER, "Invalid marker %s",
                       marker);
    return 0;
}

/* ListKeyRotations: Limit (1-1000, 100), Marker, IncludeKeyMaterial. */
int
kms_op_list_rotations(struct kms_req *r)
{
    struct meta_kms_material *v = NULL;
    const char *marker = NULL, *inc = "ROTATIONS_ONLY", *next = NULL;
    struct meta_kms_key key;
    size_t n = 0;
    json_t *arr = NULL;
    int64_t limit;
    int rc;

    rc = target(r, "kms:ListKeyRotations", &key);
    rc = rc ? rc : kms_arg_limit(r, 1000, 100, &limit);
    rc = rc ? rc : kms_arg_str(r, "Marker", "marker", false, 1, 1024,
                               &marker);
    rc = rc ? rc : kms_arg_enum(r, "IncludeKeyMaterial",
                                "includeKeyMaterial", include_values, &inc);
    rc = rc ? rc : meta_kms_material_list(r->k->meta, key.key_id, &v, &n);
    if (rc == 0 && (arr = json_array()) == NULL)
        rc = CERR_NOMEM;
    rc = rc ? rc : rotation_page(r, &key, v, n, inc == include_values[0],
                                 marker, (size_t)limit, arr, &next);
    if (rc == 0) {
        rc = json_object_set_new(r->res, "Rotations", arr) ? CERR_NOMEM : 0;
        arr = NULL;
    }
    if (rc == 0 && json_object_set_new(r->res, "Truncated",
                                       json_boolean(next != NULL)))
        rc = CERR_NOMEM;
    if (rc == 0 && next != NULL)
        rc = kms_json_str(r->res, "NextMarker", next);
    json_decref(arr);
    if (v != NULL)
        crypto_wipe(v, n * sizeof(*v));
    free(v);
    meta_kms_key_clear(&key);
    return rc;
}
