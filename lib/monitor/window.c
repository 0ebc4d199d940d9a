/*
 * window.c - a session's live window of inputs and predictions (window.h says how it is written
 * and read across threads).
 */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "window.h"

/* A cell: a number, or a category code. Committed codes: -1 missing, 0..R-1 the reference's
 * listed categories, AIS__UNSEEN + u the u-th interned string. Staged codes may also be
 * -2 - offset: a string copied into the staging arena at that offset, not interned yet. */
typedef union ais__cell {
    double d;
    int64_t c;
} ais__cell;

#define AIS__UNSEEN ((int64_t)1 << 40)

/* Open addressing over strings: slot holds an index into `names`, or -1. */
typedef struct ais__strmap {
    int32_t *slot;
    size_t mask;
} ais__strmap;

typedef struct ais__wfeat {
    ais_feature_kind kind;
    char **cats; /* the reference's listed categories (copies) */
    size_t n_cats;
    ais__strmap map;
    double last_label; /* ais__window_set_label's one-entry cache: value -> code */
    int64_t last_code;
} ais__wfeat;

struct ais__window {
    ais__wfeat *f;
    size_t nf;
    uint32_t cap;
    bool last;
    uint64_t rng, seen;
    ais__cell *cells; /* cap x nf, row-major */
    /* interned strings the reference does not list (shared by the features) */
    char **unseen;
    size_t n_unseen;
    ais__strmap unseen_map;
    /* staging, writer only */
    ais__cell *stage;
    size_t stage_rows, stage_cap;
    char *arena;
    size_t arena_len, arena_cap;
    /* the handshake (window.h) */
    atomic_int writing, reading;
};

static uint64_t ais__hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ^ (h >> 29);
}

static ais_status ais__map_init(ais__strmap *m, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->slot = ais__malloc(cap * sizeof *m->slot);
    if (!m->slot) return ais__oom(cap * sizeof *m->slot, "drift window");
    memset(m->slot, 0xff, cap * sizeof *m->slot);
    m->mask = cap - 1;
    return AIS_OK;
}

/* The index of s among names through m, or -1; *at receives the empty slot it would take. */
static int32_t ais__map_find(const ais__strmap *m, char *const *names, const char *s, size_t *at) {
    size_t i = (size_t)ais__hash(s) & m->mask;
    while (m->slot[i] >= 0) {
        if (strcmp(names[m->slot[i]], s) == 0) return m->slot[i];
        i = (i + 1) & m->mask;
    }
    if (at) *at = i;
    return -1;
}

ais_status ais__window_create(const ais_profile *ref, uint32_t rows, bool last, uint64_t seed,
                              ais__window **out) {
    *out = NULL;
    if (!rows) return ais__error(AIS_E_INVALID_ARGUMENT, "drift window: 0 rows");
    ais__window *w = ais__calloc(1, sizeof *w);
    if (!w) return ais__oom(sizeof *w, "drift window");
    w->nf = ais_profile_feature_count(ref);
    w->cap = rows;
    w->last = last;
    w->rng = seed;
    atomic_init(&w->writing, 0);
    atomic_init(&w->reading, 0);
    ais_status st = AIS_OK;
    size_t cells;
    if (!ais__mul_size(rows, w->nf ? w->nf : 1, &cells) || cells > ((size_t)1 << 28)) {
        st = ais__error(AIS_E_LIMIT, "drift window: %u rows of %zu features is too large", rows,
                        w->nf);
        goto fail;
    }
    w->f = ais__calloc(w->nf ? w->nf : 1, sizeof *w->f);
    w->cells = ais__malloc(cells * sizeof *w->cells);
    if (!w->f || !w->cells) {
        st = ais__oom(cells * sizeof *w->cells, "drift window");
        goto fail;
    }
    for (size_t i = 0; i < w->nf && st == AIS_OK; i++) {
        ais__wfeat *f = &w->f[i];
        ais_profile_feature_info(ref, i, NULL, &f->kind, NULL, NULL, NULL, NULL, NULL, NULL);
        f->last_label = NAN;
        if (f->kind != AIS_FEATURE_CATEGORICAL) continue;
        f->n_cats = ais_profile_category_count(ref, i);
        f->cats = ais__calloc(f->n_cats ? f->n_cats : 1, sizeof *f->cats);
        if (!f->cats) {
            st = ais__oom(f->n_cats * sizeof *f->cats, "drift window");
            break;
        }
        if ((st = ais__map_init(&f->map, f->n_cats)) != AIS_OK) break;
        for (size_t k = 0; k < f->n_cats; k++) {
            const char *name = NULL;
            ais_profile_category_at(ref, i, k, &name, NULL);
            if (!(f->cats[k] = ais__strdup(name ? name : ""))) {
                st = ais__oom(strlen(name ? name : "") + 1, "drift window");
                break;
            }
            size_t at;
            if (ais__map_find(&f->map, f->cats, f->cats[k], &at) < 0) f->map.slot[at] = (int32_t)k;
        }
    }
    if (st == AIS_OK) {
        *out = w;
        return AIS_OK;
    }
fail:
    ais__window_destroy(w);
    return st;
}

void ais__window_destroy(ais__window *w) {
    if (!w) return;
    for (size_t i = 0; w->f && i < w->nf; i++) {
        for (size_t k = 0; w->f[i].cats && k < w->f[i].n_cats; k++)
            ais__free(w->f[i].cats[k]);
        ais__free(w->f[i].cats);
        ais__free(w->f[i].map.slot);
    }
    for (size_t u = 0; u < w->n_unseen; u++)
        ais__free(w->unseen[u]);
    ais__free(w->unseen);
    ais__free(w->unseen_map.slot);
    ais__free(w->f);
    ais__free(w->cells);
    ais__free(w->stage);
    ais__free(w->arena);
    ais__free(w);
}

size_t ais__window_feature_count(const ais__window *w) { return w->nf; }

/* ---- writing ---- */

ais_status ais__window_stage(ais__window *w, size_t n) {
    size_t cells;
    if (!ais__mul_size(n, w->nf, &cells))
        return ais__error(AIS_E_LIMIT, "drift window: %zu rows", n);
    if (cells > w->stage_cap) {
        ais__cell *s = ais__realloc(w->stage, w->stage_cap * sizeof *s, cells * sizeof *s);
        if (!s) return ais__oom(cells * sizeof *s, "drift window staging");
        w->stage = s;
        w->stage_cap = cells;
    }
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < w->nf; i++) {
            if (w->f[i].kind == AIS_FEATURE_NUMERIC)
                w->stage[r * w->nf + i].d = NAN;
            else
                w->stage[r * w->nf + i].c = -1;
        }
    w->stage_rows = n;
    w->arena_len = 0;
    return AIS_OK;
}

void ais__window_set_number(ais__window *w, size_t row, size_t i, double v) {
    if (row < w->stage_rows && i < w->nf && w->f[i].kind == AIS_FEATURE_NUMERIC)
        w->stage[row * w->nf + i].d = v;
}

double *ais__window_stage_numbers(ais__window *w, size_t *stride) {
    /* ais__cell is a union whose first member is the double: its address is the cell's */
    _Static_assert(sizeof(ais__cell) == sizeof(double), "a cell is one double");
    *stride = w->nf;
    return &w->stage[0].d;
}

ais_status ais__window_set_string(ais__window *w, size_t row, size_t i, const char *s) {
    if (row >= w->stage_rows || i >= w->nf || w->f[i].kind != AIS_FEATURE_CATEGORICAL || !s)
        return AIS_OK;
    ais__wfeat *f = &w->f[i];
    int32_t k = ais__map_find(&f->map, f->cats, s, NULL);
    if (k >= 0) {
        w->stage[row * w->nf + i].c = k;
        return AIS_OK;
    }
    /* Not a reference category: kept in the arena until the commit interns it (the caller's
     * string may not outlive the call, e.g. a JSON line's parse). */
    size_t len = strlen(s) + 1;
    if (w->arena_len + len > w->arena_cap) {
        size_t cap = w->arena_cap ? w->arena_cap : 256;
        while (cap < w->arena_len + len)
            cap *= 2;
        char *a = ais__realloc(w->arena, w->arena_cap, cap);
        if (!a) return ais__oom(cap, "drift window staging");
        w->arena = a;
        w->arena_cap = cap;
    }
    memcpy(w->arena + w->arena_len, s, len);
    w->stage[row * w->nf + i].c = -2 - (int64_t)w->arena_len;
    w->arena_len += len;
    return AIS_OK;
}

ais_status ais__window_set_label(ais__window *w, size_t row, size_t i, double v) {
    if (row >= w->stage_rows || i >= w->nf || w->f[i].kind != AIS_FEATURE_CATEGORICAL)
        return AIS_OK;
    ais__wfeat *f = &w->f[i];
    if (isnan(v)) return AIS_OK; /* missing */
    /* classifiers repeat a few labels: skip the formatting for the last one seen */
    if (v == f->last_label && f->last_code >= 0) {
        w->stage[row * w->nf + i].c = f->last_code;
        return AIS_OK;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%.17g", v);
    AIS__CHECK(ais__window_set_string(w, row, i, buf));
    int64_t c = w->stage[row * w->nf + i].c;
    if (c >= 0) {
        f->last_label = v;
        f->last_code = c;
    }
    return AIS_OK;
}

/* The code of an unseen category (inside the write section). */
static ais_status ais__intern(ais__window *w, const char *s, int64_t *code) {
    if (!w->unseen_map.slot) {
        AIS__CHECK(ais__map_init(&w->unseen_map, AIS__WINDOW_MAX_UNSEEN + 1));
        w->unseen = ais__calloc(AIS__WINDOW_MAX_UNSEEN + 1, sizeof *w->unseen);
        if (!w->unseen) return ais__oom(AIS__WINDOW_MAX_UNSEEN * sizeof *w->unseen, "drift window");
    }
    if (w->n_unseen == AIS__WINDOW_MAX_UNSEEN) s = AIS__WINDOW_OVERFLOW;
    size_t at;
    int32_t u = ais__map_find(&w->unseen_map, w->unseen, s, &at);
    if (u < 0) {
        char *copy = ais__strdup(s);
        if (!copy) return ais__oom(strlen(s) + 1, "drift window");
        u = (int32_t)w->n_unseen++;
        w->unseen[u] = copy;
        w->unseen_map.slot[at] = u;
    }
    *code = AIS__UNSEEN + u;
    return AIS_OK;
}

static void ais__write_enter(ais__window *w) {
    for (;;) {
        atomic_store_explicit(&w->writing, 1, memory_order_seq_cst);
        if (!atomic_load_explicit(&w->reading, memory_order_seq_cst)) return;
        /* a reader is copying: step back, wait for its copy to end, then try again */
        atomic_store_explicit(&w->writing, 0, memory_order_release);
        while (atomic_load_explicit(&w->reading, memory_order_acquire))
            sched_yield();
    }
}

static void ais__write_leave(ais__window *w) {
    atomic_store_explicit(&w->writing, 0, memory_order_release);
}

/* splitmix64, as profiles use */
static uint64_t ais__wnext(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

ais_status ais__window_commit(ais__window *w, size_t n) {
    if (n > w->stage_rows) n = w->stage_rows;
    ais_status st = AIS_OK;
    ais__write_enter(w);
    for (size_t r = 0; r < n; r++) {
        uint64_t slot;
        if (w->seen < w->cap)
            slot = w->seen;
        else if (w->last)
            slot = w->seen % w->cap;
        else /* Vitter's algorithm R: row number `seen` replaces a slot with probability cap/seen */
            slot = ais__wnext(&w->rng) % (w->seen + 1);
        w->seen++;
        if (slot >= w->cap) continue;
        ais__cell *dst = &w->cells[slot * w->nf], *src = &w->stage[r * w->nf];
        for (size_t i = 0; i < w->nf; i++) {
            ais__cell c = src[i];
            if (w->f[i].kind == AIS_FEATURE_CATEGORICAL && c.c <= -2) {
                int64_t code = -1;
                if (st == AIS_OK) st = ais__intern(w, w->arena + (-2 - c.c), &code);
                c.c = code;
            }
            dst[i] = c;
        }
    }
    ais__write_leave(w);
    w->stage_rows = 0;
    return st;
}

/* ---- reading ---- */

/* Readers count themselves in `reading` (two may read one window at once: ais_session_drift
 * from two threads); the writer waits while it is not 0. */
static void ais__read_enter(ais__window *w) {
    atomic_fetch_add_explicit(&w->reading, 1, memory_order_seq_cst);
    while (atomic_load_explicit(&w->writing, memory_order_seq_cst))
        sched_yield();
}

static void ais__read_leave(ais__window *w) {
    atomic_fetch_sub_explicit(&w->reading, 1, memory_order_release);
}

uint64_t ais__window_rows(ais__window *w) {
    ais__read_enter(w);
    uint64_t n = w->seen < w->cap ? w->seen : w->cap;
    ais__read_leave(w);
    return n;
}

uint32_t ais__window_capacity(const ais__window *w) { return w->cap; }

ais_status ais__window_current_profile(const ais_profile *ref, uint64_t rows, ais_profile **out) {
    /* every row kept: the current side is the window itself, not a sample of it */
    uint64_t size = rows < 2 ? 2 : rows;
    if (size > ((uint64_t)1 << 24)) size = (uint64_t)1 << 24;
    AIS__CHECK(ais_profile_create((uint32_t)size, 0, 0, out));
    for (size_t i = 0; i < ais_profile_feature_count(ref); i++) {
        const char *name;
        ais_feature_kind kind;
        ais_profile_feature_info(ref, i, &name, &kind, NULL, NULL, NULL, NULL, NULL, NULL);
        ais_status st = ais_profile_add_feature(*out, name, kind, NULL);
        if (st != AIS_OK) {
            ais_profile_destroy(*out);
            *out = NULL;
            return st;
        }
    }
    return AIS_OK;
}

ais_status ais__window_observe(ais__window *w, ais_profile *cur) {
    /* Copy under the handshake (the writer waits at most this long), observe after. */
    ais__read_enter(w);
    size_t n = (size_t)(w->seen < w->cap ? w->seen : w->cap), nu = w->n_unseen;
    size_t n_cells = n * w->nf;
    ais__cell *cells = ais__malloc((n_cells ? n_cells : 1) * sizeof *cells);
    char **unseen = ais__malloc((nu ? nu : 1) * sizeof *unseen);
    if (cells) memcpy(cells, w->cells, n * w->nf * sizeof *cells);
    if (unseen && nu) memcpy(unseen, w->unseen, nu * sizeof *unseen);
    ais__read_leave(w);
    /* The interned strings are never freed before the window, and the caller keeps the
     * window alive: the copied pointers stay good. */
    ais_status st = AIS_OK;
    double *num = ais__malloc((n ? n : 1) * sizeof *num);
    const char **str = ais__malloc((n ? n : 1) * sizeof *str);
    if (!cells || !unseen || !num || !str) st = ais__oom(n * w->nf * sizeof *cells, "drift window");
    size_t base = ais_profile_feature_count(cur) >= w->nf ? 0 : SIZE_MAX;
    if (base) st = st ? st : ais__error(AIS_E_INVALID_ARGUMENT, "drift window: features differ");
    for (size_t i = 0; i < w->nf && st == AIS_OK; i++) {
        const ais__wfeat *f = &w->f[i];
        if (f->kind == AIS_FEATURE_NUMERIC) {
            for (size_t r = 0; r < n; r++)
                num[r] = cells[r * w->nf + i].d;
            st = ais_profile_observe_numbers(cur, i, num, n);
            continue;
        }
        for (size_t r = 0; r < n; r++) {
            int64_t c = cells[r * w->nf + i].c;
            str[r] = c < 0                                               ? NULL
                     : c < (int64_t)f->n_cats                            ? f->cats[c]
                     : c - AIS__UNSEEN < (int64_t)nu && c >= AIS__UNSEEN ? unseen[c - AIS__UNSEEN]
                                                                         : NULL;
        }
        st = ais_profile_observe_strings(cur, i, str, n);
    }
    ais__free(cells);
    ais__free(unseen);
    ais__free(num);
    ais__free(str);
    return st;
}
