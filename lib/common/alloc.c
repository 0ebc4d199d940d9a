/* alloc.c - the one allocator of the library, replaceable by the application. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

static void *ais__default_alloc(void *user_data, size_t size, size_t alignment) {
    (void)user_data;
    void *p = NULL;
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    if (posix_memalign(&p, alignment, size ? size : 1) != 0) return NULL;
    return p;
}

static void ais__default_free(void *user_data, void *ptr) {
    (void)user_data;
    free(ptr);
}

static ais_alloc_fn ais__alloc_fn = ais__default_alloc;
static ais_free_fn ais__free_fn = ais__default_free;
static void *ais__alloc_ud;

AIS_API ais_status ais_set_allocator(ais_alloc_fn alloc_fn, ais_free_fn free_fn, void *user_data) {
    if (!alloc_fn && !free_fn) {
        ais__alloc_fn = ais__default_alloc;
        ais__free_fn = ais__default_free;
        ais__alloc_ud = NULL;
        return AIS_OK;
    }
    if (!alloc_fn || !free_fn)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_set_allocator: alloc_fn and free_fn must both be set or both NULL");
    ais__alloc_fn = alloc_fn;
    ais__free_fn = free_fn;
    ais__alloc_ud = user_data;
    return AIS_OK;
}

void *ais__malloc_aligned(size_t size, size_t alignment) {
    return ais__alloc_fn(ais__alloc_ud, size, alignment);
}

void *ais__malloc(size_t size) { return ais__alloc_fn(ais__alloc_ud, size, 16); }

void *ais__calloc(size_t count, size_t size) {
    size_t total;
    if (!ais__mul_size(count, size, &total)) return NULL;
    void *p = ais__malloc(total);
    if (p) memset(p, 0, total);
    return p;
}

void ais__free(void *ptr) {
    if (ptr) ais__free_fn(ais__alloc_ud, ptr);
}

void *ais__realloc(void *ptr, size_t old_size, size_t new_size) {
    void *p = ais__malloc(new_size);
    if (!p) return NULL;
    if (ptr) {
        memcpy(p, ptr, AIS__MIN(old_size, new_size));
        ais__free(ptr);
    }
    return p;
}

char *ais__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = ais__malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}
