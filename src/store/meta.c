/*
 * Public entry points of the metadata store: thin dispatchers to the back
 * end's struct meta_ops, plus the back-end-independent _clear helpers.
 */
#include "store/meta.h"
#include "store/blob.h"
