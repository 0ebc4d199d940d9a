/*
 * profile.c - feature profiles: what a reference (training data) or a live window looked like,
 * per feature. Numeric: count, missing, min, max, mean, variance (Welford) and a seeded
 * reservoir sample (Vitter's algorithm R); categorical: exact counts per category while
 * building, the top K plus "other" once serialized. The byte layout is the .ais DRIFT section's
 * (docs/ais-format.md), checked by an XXH64 trailer; its reader treats the bytes as hostile.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "drift.h"
#include "profile.h"

#define AIS__PROFILE_VERSION 1u
#define AIS__MAX_FEATURES (1u << 16)
#define AIS__MAX_SAMPLE (1u << 24)
#define AIS__MAX_NAME 4096u

typedef struct ais__category {
    char *name;
    uint64_t count;
} ais__category;

typedef struct ais__feature {
    char *name;
    ais_feature_kind kind;
    uint64_t count, missing, seen; /* seen: finite numbers offered to the reservoir */
    double min, max, mean, m2;
    double *sample;
    uint32_t n_sample;
    ais__category *cats;
    size_t n_cats, cap_cats;
    uint64_t other;          /* categories folded away (a deserialized top K) */
    ais_drift_method method; /* ais_profile_set_method; not stored */
    double threshold;
} ais__feature;

struct ais_profile {
    uint32_t sample_size, top_k;
    uint64_t seed, rng;
    ais__feature *f;
    size_t n, cap;
};

/* splitmix64: small, seedable, and the same on every platform */
static uint64_t ais__next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

AIS_API ais_status ais_profile_create(uint32_t sample_size, uint32_t top_k, uint64_t seed,
                                      ais_profile **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_create: out is NULL");
    *out = NULL;
    if (sample_size > AIS__MAX_SAMPLE)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_profile_create: sample_size %u is above "
                          "%u",
                          sample_size, AIS__MAX_SAMPLE);
    ais_profile *p = ais__calloc(1, sizeof *p);
    if (!p) return ais__oom(sizeof *p, "profile");
    p->sample_size = sample_size ? sample_size : 5000;
    p->top_k = top_k ? top_k : 100;
    p->seed = p->rng = seed;
    *out = p;
    return AIS_OK;
}

static void ais__feature_free(ais__feature *f) {
    ais__free(f->name);
    ais__free(f->sample);
    for (size_t i = 0; i < f->n_cats; i++)
        ais__free(f->cats[i].name);
    ais__free(f->cats);
}

AIS_API void ais_profile_destroy(ais_profile *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++)
        ais__feature_free(&p->f[i]);
    ais__free(p->f);
    ais__free(p);
}

AIS_API ais_status ais_profile_add_feature(ais_profile *p, const char *name, ais_feature_kind kind,
                                           size_t *index) {
    if (!p || !name)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_add_feature: %s is NULL",
                          !p ? "profile" : "name");
    if (kind != AIS_FEATURE_NUMERIC && kind != AIS_FEATURE_CATEGORICAL)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_profile_add_feature: '%s': unknown kind "
                          "%d",
                          name, (int)kind);
    if (strlen(name) > AIS__MAX_NAME || p->n >= AIS__MAX_FEATURES)
        return ais__error(AIS_E_LIMIT,
                          "ais_profile_add_feature: '%.64s': a name is at most %u "
                          "bytes, a profile at most %u features",
                          name, AIS__MAX_NAME, AIS__MAX_FEATURES);
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->f[i].name, name) == 0)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "ais_profile_add_feature: '%s' is there "
                              "already",
                              name);
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        ais__feature *f = ais__realloc(p->f, p->cap * sizeof *f, cap * sizeof *f);
        if (!f) return ais__oom(cap * sizeof *f, "profile features");
        p->f = f;
        p->cap = cap;
    }
    ais__feature *f = &p->f[p->n];
    memset(f, 0, sizeof *f);
    f->name = ais__strdup(name);
    if (!f->name) return ais__oom(strlen(name) + 1, "profile feature name");
    f->kind = kind;
    f->min = INFINITY;
    f->max = -INFINITY;
    if (index) *index = p->n;
    p->n++;
    return AIS_OK;
}

static ais_status ais__feature_at(const ais_profile *p, size_t i, ais_feature_kind kind,
                                  const char *who) {
    if (!p) return ais__error(AIS_E_INVALID_ARGUMENT, "%s: profile is NULL", who);
    if (i >= p->n)
        return ais__error(AIS_E_NOT_FOUND, "%s: feature %zu, the profile has %zu", who, i, p->n);
    if (kind != p->f[i].kind)
        return ais__error(AIS_E_DTYPE, "%s: feature '%s' is %s", who, p->f[i].name,
                          p->f[i].kind == AIS_FEATURE_NUMERIC ? "numeric" : "categorical");
    return AIS_OK;
}

AIS_API ais_status ais_profile_observe_numbers(ais_profile *p, size_t feature, const double *values,
                                               size_t n) {
    AIS__CHECK(ais__feature_at(p, feature, AIS_FEATURE_NUMERIC, "ais_profile_observe_numbers"));
    if (n && !values)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_observe_numbers: values is NULL");
    ais__feature *f = &p->f[feature];
    if (!f->sample) {
        f->sample = ais__malloc((size_t)p->sample_size * sizeof *f->sample);
        if (!f->sample) return ais__oom((size_t)p->sample_size * 8, "profile sample");
    }
    for (size_t i = 0; i < n; i++) {
        double x = values[i];
        f->count++;
        if (!isfinite(x)) { /* NaN and infinities: missing, as drift leaves them out */
            f->missing++;
            continue;
        }
        f->seen++;
        if (x < f->min) f->min = x;
        if (x > f->max) f->max = x;
        double d = x - f->mean;
        f->mean += d / (double)f->seen;
        f->m2 += d * (x - f->mean);
        if (f->n_sample < p->sample_size) {
            f->sample[f->n_sample++] = x;
        } else {
            uint64_t j = ais__next(&p->rng) % f->seen;
            if (j < p->sample_size) f->sample[j] = x;
        }
    }
    return AIS_OK;
}

static ais_status ais__count_category(ais__feature *f, const char *s, uint64_t k) {
    for (size_t i = 0; i < f->n_cats; i++)
        if (strcmp(f->cats[i].name, s) == 0) {
            f->cats[i].count += k;
            return AIS_OK;
        }
    if (f->n_cats == f->cap_cats) {
        size_t cap = f->cap_cats ? 2 * f->cap_cats : 16;
        ais__category *c = ais__realloc(f->cats, f->cap_cats * sizeof *c, cap * sizeof *c);
        if (!c) return ais__oom(cap * sizeof *c, "profile categories");
        f->cats = c;
        f->cap_cats = cap;
    }
    char *name = ais__strdup(s);
    if (!name) return ais__oom(strlen(s) + 1, "profile category");
    f->cats[f->n_cats].name = name;
    f->cats[f->n_cats].count = k;
    f->n_cats++;
    return AIS_OK;
}

AIS_API ais_status ais_profile_observe_strings(ais_profile *p, size_t feature,
                                               const char *const *values, size_t n) {
    AIS__CHECK(ais__feature_at(p, feature, AIS_FEATURE_CATEGORICAL, "ais_profile_observe_strings"));
    if (n && !values)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_observe_strings: values is NULL");
    ais__feature *f = &p->f[feature];
    for (size_t i = 0; i < n; i++) {
        f->count++;
        if (!values[i]) {
            f->missing++;
            continue;
        }
        AIS__CHECK(ais__count_category(f, values[i], 1));
    }
    return AIS_OK;
}

AIS_API ais_status ais_profile_set_method(ais_profile *p, size_t feature, ais_drift_method method,
                                          double threshold) {
    if (!p) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_set_method: profile is NULL");
    if (feature >= p->n)
        return ais__error(AIS_E_NOT_FOUND,
                          "ais_profile_set_method: feature %zu, the profile "
                          "has %zu",
                          feature, p->n);
    if ((int)method < AIS_DRIFT_AUTO || (int)method > AIS_DRIFT_PSI ||
        !(threshold >= 0 && isfinite(threshold)))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_profile_set_method: method %d, threshold "
                          "%g (expected an ais_drift_method and a finite threshold >= 0)",
                          (int)method, threshold);
    if (p->f[feature].kind == AIS_FEATURE_CATEGORICAL &&
        (method == AIS_DRIFT_KS || method == AIS_DRIFT_WASSERSTEIN))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_profile_set_method: '%s' is categorical; "
                          "%s needs numeric values",
                          p->f[feature].name, ais_drift_method_name(method));
    p->f[feature].method = method;
    p->f[feature].threshold = threshold;
    return AIS_OK;
}

void ais__profile_method(const ais_profile *p, size_t i, ais_drift_method *m, double *threshold) {
    *m = p->f[i].method;
    *threshold = p->f[i].threshold;
}

AIS_API size_t ais_profile_feature_count(const ais_profile *p) { return p ? p->n : 0; }

AIS_API ais_status ais_profile_feature_info(const ais_profile *p, size_t i, const char **name,
                                            ais_feature_kind *kind, uint64_t *count,
                                            uint64_t *missing, double *min, double *max,
                                            double *mean, double *variance) {
    if (!p) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_feature_info: profile is NULL");
    if (i >= p->n)
        return ais__error(AIS_E_NOT_FOUND,
                          "ais_profile_feature_info: feature %zu, the profile "
                          "has %zu",
                          i, p->n);
    const ais__feature *f = &p->f[i];
    bool num = f->kind == AIS_FEATURE_NUMERIC && f->seen;
    if (name) *name = f->name;
    if (kind) *kind = f->kind;
    if (count) *count = f->count;
    if (missing) *missing = f->missing;
    if (min) *min = num ? f->min : NAN;
    if (max) *max = num ? f->max : NAN;
    if (mean) *mean = num ? f->mean : NAN;
    if (variance) *variance = num ? f->m2 / (double)f->seen : NAN; /* ddof 0, as np.var */
    return AIS_OK;
}

AIS_API ais_status ais_profile_find(const ais_profile *p, const char *name, size_t *index) {
    if (!p || !name || !index)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_find: an argument is NULL");
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->f[i].name, name) == 0) {
            *index = i;
            return AIS_OK;
        }
    return ais__error(AIS_E_NOT_FOUND, "the profile has no feature '%s'", name);
}

AIS_API ais_status ais_profile_sample(const ais_profile *p, size_t feature, const double **values,
                                      size_t *n) {
    AIS__CHECK(ais__feature_at(p, feature, AIS_FEATURE_NUMERIC, "ais_profile_sample"));
    if (!values || !n)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_sample: an out-pointer is NULL");
    *values = p->f[feature].sample;
    *n = p->f[feature].n_sample;
    return AIS_OK;
}

AIS_API size_t ais_profile_category_count(const ais_profile *p, size_t feature) {
    if (!p || feature >= p->n || p->f[feature].kind != AIS_FEATURE_CATEGORICAL) return 0;
    return p->f[feature].n_cats;
}

AIS_API ais_status ais_profile_category_at(const ais_profile *p, size_t feature, size_t index,
                                           const char **name, uint64_t *count) {
    AIS__CHECK(ais__feature_at(p, feature, AIS_FEATURE_CATEGORICAL, "ais_profile_category_at"));
    const ais__feature *f = &p->f[feature];
    if (index > f->n_cats)
        return ais__error(AIS_E_NOT_FOUND,
                          "ais_profile_category_at: category %zu of '%s', "
                          "which has %zu",
                          index, f->name, f->n_cats);
    if (name) *name = index < f->n_cats ? f->cats[index].name : NULL;
    if (count) *count = index < f->n_cats ? f->cats[index].count : f->other;
    return AIS_OK;
}

/* ---- bytes ---- */

typedef struct ais__wbuf {
    uint8_t *p;
    size_t size, len;
} ais__wbuf;

static void ais__w(ais__wbuf *b, const void *src, size_t n) {
    if (b->p && b->len + n <= b->size) memcpy(b->p + b->len, src, n);
    b->len += n;
}
static void ais__w32(ais__wbuf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    ais__w(b, x, 4);
}
static void ais__w64(ais__wbuf *b, uint64_t v) {
    ais__w32(b, (uint32_t)v);
    ais__w32(b, (uint32_t)(v >> 32));
}
static void ais__wf64(ais__wbuf *b, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    ais__w64(b, v);
}
static void ais__wstr(ais__wbuf *b, const char *s) {
    size_t n = strlen(s);
    ais__w32(b, (uint32_t)n);
    ais__w(b, s, n);
}

static int ais__cmp_cat(const void *x, const void *y) {
    const ais__category *a = x, *b = y;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return strcmp(a->name, b->name); /* ties by name: the same bytes every time */
}

AIS_API ais_status ais_profile_serialize(const ais_profile *cp, void *buf, size_t size,
                                         size_t *written) {
    if (!cp || !written)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_serialize: %s is NULL",
                          !cp ? "profile" : "written");
    if (!buf && size)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_profile_serialize: buf is NULL with size "
                          "%zu",
                          size);
    ais_profile *p = (ais_profile *)cp; /* sorting the categories changes no content */
    ais__wbuf b = {buf, size, 0};
    ais__w(&b, "AISPROF", 8);
    ais__w32(&b, AIS__PROFILE_VERSION);
    ais__w32(&b, (uint32_t)p->n);
    ais__w32(&b, p->sample_size);
    ais__w32(&b, p->top_k);
    ais__w64(&b, p->seed);
    for (size_t i = 0; i < p->n; i++) {
        ais__feature *f = &p->f[i];
        ais__wstr(&b, f->name);
        ais__w32(&b, (uint32_t)f->kind);
        ais__w64(&b, f->count);
        ais__w64(&b, f->missing);
        if (f->kind == AIS_FEATURE_NUMERIC) {
            ais__w64(&b, f->seen);
            ais__wf64(&b, f->min);
            ais__wf64(&b, f->max);
            ais__wf64(&b, f->mean);
            ais__wf64(&b, f->m2);
            ais__w32(&b, f->n_sample);
            for (uint32_t k = 0; k < f->n_sample; k++)
                ais__wf64(&b, f->sample[k]);
        } else {
            if (f->n_cats) qsort(f->cats, f->n_cats, sizeof *f->cats, ais__cmp_cat);
            size_t keep = f->n_cats < p->top_k ? f->n_cats : p->top_k;
            uint64_t other = f->other;
            for (size_t k = keep; k < f->n_cats; k++)
                other += f->cats[k].count;
            ais__w32(&b, (uint32_t)keep);
            for (size_t k = 0; k < keep; k++) {
                ais__wstr(&b, f->cats[k].name);
                ais__w64(&b, f->cats[k].count);
            }
            ais__w64(&b, other);
        }
    }
    size_t body = b.len;
    ais__w64(&b, b.p && body + 8 <= size ? XXH64(b.p, body, 0) : 0);
    if (!buf) {
        *written = b.len;
        return AIS_OK;
    }
    if (b.len > size) {
        *written = b.len;
        return ais__error(AIS_E_LIMIT,
                          "ais_profile_serialize: %zu bytes needed, the buffer has "
                          "%zu",
                          b.len, size);
    }
    *written = b.len;
    return AIS_OK;
}

typedef struct ais__rbuf {
    const uint8_t *p;
    size_t size, at;
    const char *err;
} ais__rbuf;

static bool ais__r(ais__rbuf *r, void *dst, size_t n, const char *what) {
    if (r->err) return false;
    if (n > r->size - r->at) {
        r->err = what;
        return false;
    }
    memcpy(dst, r->p + r->at, n);
    r->at += n;
    return true;
}
static uint32_t ais__r32(ais__rbuf *r, const char *what) {
    uint8_t x[4] = {0, 0, 0, 0};
    ais__r(r, x, 4, what);
    return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}
static uint64_t ais__r64(ais__rbuf *r, const char *what) {
    uint64_t lo = ais__r32(r, what);
    return lo | (uint64_t)ais__r32(r, what) << 32;
}
static double ais__rf64(ais__rbuf *r, const char *what) {
    uint64_t v = ais__r64(r, what);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

#define AIS__BAD(...) ais__error(AIS_E_FORMAT, "drift profile: " __VA_ARGS__)

/* A string of at most AIS__MAX_NAME bytes without NUL, copied. */
static ais_status ais__rstr(ais__rbuf *r, const char *what, char **out) {
    *out = NULL;
    uint32_t n = ais__r32(r, what);
    if (r->err) return AIS__BAD("truncated at byte %zu (%s)", r->at, what);
    if (n > AIS__MAX_NAME || n > r->size - r->at)
        return AIS__BAD("%s at byte %zu: length %u (at most %u, and %zu bytes remain)", what, r->at,
                        n, AIS__MAX_NAME, r->size - r->at);
    if (memchr(r->p + r->at, 0, n)) return AIS__BAD("%s at byte %zu holds a NUL byte", what, r->at);
    char *s = ais__malloc((size_t)n + 1);
    if (!s) return ais__oom((size_t)n + 1, what);
    memcpy(s, r->p + r->at, n);
    s[n] = 0;
    r->at += n;
    *out = s;
    return AIS_OK;
}

static ais_status ais__read_feature(ais_profile *p, ais__rbuf *r, size_t i) {
    char *name;
    AIS__CHECK(ais__rstr(r, "feature name", &name));
    uint32_t kind = ais__r32(r, "feature kind");
    if (!r->err && kind != AIS_FEATURE_NUMERIC && kind != AIS_FEATURE_CATEGORICAL) {
        ais_status bad = AIS__BAD("feature %zu ('%s'): kind %u", i, name, kind);
        ais__free(name); /* after the message, which names it */
        return bad;
    }
    size_t idx;
    ais_status st = r->err ? AIS__BAD("truncated at byte %zu", r->at)
                           : ais_profile_add_feature(p, name, (ais_feature_kind)kind, &idx);
    ais__free(name);
    if (st != AIS_OK)
        return st == AIS_E_OUT_OF_MEMORY ? st : AIS__BAD("feature %zu: %s", i, ais_last_error());
    ais__feature *f = &p->f[idx];
    f->count = ais__r64(r, "count");
    f->missing = ais__r64(r, "missing");
    if (!r->err && f->missing > f->count)
        return AIS__BAD("feature '%s': %llu missing of %llu values", f->name,
                        (unsigned long long)f->missing, (unsigned long long)f->count);
    if (f->kind == AIS_FEATURE_NUMERIC) {
        f->seen = ais__r64(r, "seen");
        f->min = ais__rf64(r, "min");
        f->max = ais__rf64(r, "max");
        f->mean = ais__rf64(r, "mean");
        f->m2 = ais__rf64(r, "m2");
        uint32_t ns = ais__r32(r, "sample size");
        if (r->err) return AIS__BAD("truncated at byte %zu (%s)", r->at, r->err);
        if (f->seen != f->count - f->missing)
            return AIS__BAD("feature '%s': %llu values seen, count - missing is %llu", f->name,
                            (unsigned long long)f->seen,
                            (unsigned long long)(f->count - f->missing));
        if (ns > p->sample_size || ns > f->seen || (uint64_t)ns * 8 > r->size - r->at)
            return AIS__BAD("feature '%s': a sample of %u values (the profile keeps at most %u, "
                            "%zu bytes remain)",
                            f->name, ns, p->sample_size, r->size - r->at);
        if (f->seen && !(isfinite(f->min) && isfinite(f->max) && f->min <= f->max &&
                         isfinite(f->mean) && isfinite(f->m2) && f->m2 >= 0))
            return AIS__BAD("feature '%s': min, max, mean or m2 is not a finite, ordered value",
                            f->name);
        if (ns) {
            f->sample = ais__malloc((size_t)p->sample_size * sizeof *f->sample);
            if (!f->sample) return ais__oom((size_t)p->sample_size * 8, "profile sample");
        }
        for (uint32_t k = 0; k < ns; k++) {
            double x = ais__rf64(r, "sample");
            if (!isfinite(x))
                return AIS__BAD("feature '%s': sample value %u is not finite", f->name, k);
            f->sample[k] = x;
        }
        f->n_sample = ns;
    } else {
        uint32_t nc = ais__r32(r, "category count");
        if (r->err) return AIS__BAD("truncated at byte %zu (%s)", r->at, r->err);
        if (nc > p->top_k || (uint64_t)nc * 12 > r->size - r->at)
            return AIS__BAD("feature '%s': %u categories (at most %u, %zu bytes remain)", f->name,
                            nc, p->top_k, r->size - r->at);
        uint64_t sum = 0;
        for (uint32_t k = 0; k < nc; k++) {
            char *c;
            AIS__CHECK(ais__rstr(r, "category", &c));
            uint64_t cnt = ais__r64(r, "category count");
            if (r->err) {
                ais__free(c);
                return AIS__BAD("truncated at byte %zu", r->at);
            }
            for (size_t q = 0; q < f->n_cats; q++)
                if (strcmp(f->cats[q].name, c) == 0) {
                    ais__free(c);
                    return AIS__BAD("feature '%s': category listed twice", f->name);
                }
            if (cnt > UINT64_MAX - sum) {
                ais__free(c);
                return AIS__BAD("feature '%s': category counts overflow", f->name);
            }
            st = ais__count_category(f, c, cnt);
            ais__free(c);
            AIS__CHECK(st);
            sum += cnt;
        }
        f->other = ais__r64(r, "other");
        if (r->err) return AIS__BAD("truncated at byte %zu", r->at);
        if (sum + f->other != f->count - f->missing)
            return AIS__BAD("feature '%s': the category counts add up to %llu, count - missing "
                            "is %llu",
                            f->name, (unsigned long long)(sum + f->other),
                            (unsigned long long)(f->count - f->missing));
    }
    return AIS_OK;
}

AIS_API ais_status ais_profile_deserialize(const void *data, size_t size, ais_profile **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_deserialize: out is NULL");
    *out = NULL;
    if (!data && size)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_profile_deserialize: data is NULL");
    const uint8_t *d = data;
    if (size < 8 + 4 * 4 + 8 + 8 || memcmp(d, "AISPROF", 8) != 0)
        return AIS__BAD("%zu bytes without the AISPROF header", size);
    uint64_t want;
    memcpy(&want, d + size - 8, 8); /* little-endian hosts only, as the whole library */
    if (XXH64(d, size - 8, 0) != want)
        return ais__error(AIS_E_CHECKSUM,
                          "drift profile: the checksum does not match the %zu "
                          "bytes",
                          size - 8);
    ais__rbuf r = {d, size - 8, 8, NULL};
    uint32_t version = ais__r32(&r, "version"), n = ais__r32(&r, "feature count");
    uint32_t sample = ais__r32(&r, "sample size"), topk = ais__r32(&r, "top k");
    uint64_t seed = ais__r64(&r, "seed");
    if (version != AIS__PROFILE_VERSION)
        return ais__error(AIS_E_UNSUPPORTED,
                          "drift profile: layout version %u (this library "
                          "reads %u)",
                          version, AIS__PROFILE_VERSION);
    if (n > AIS__MAX_FEATURES || sample == 0 || sample > AIS__MAX_SAMPLE || topk == 0)
        return AIS__BAD("%u features, sample size %u, top k %u", n, sample, topk);
    ais_profile *p;
    AIS__CHECK(ais_profile_create(sample, topk, seed, &p));
    for (uint32_t i = 0; i < n; i++) {
        ais_status st = ais__read_feature(p, &r, i);
        if (st != AIS_OK) {
            ais_profile_destroy(p);
            return st;
        }
    }
    if (r.at != r.size) {
        ais_profile_destroy(p);
        return AIS__BAD("%zu bytes left over after %u features", r.size - r.at, n);
    }
    *out = p;
    return AIS_OK;
}

/* ---- comparing two profiles ---- */

ais_status ais__profile_clone(const ais_profile *p, ais_profile **out) {
    AIS__CHECK(ais_profile_create(p->sample_size, p->top_k, p->seed, out));
    ais_profile *c = *out;
    c->rng = p->rng;
    ais_status st = AIS_OK;
    for (size_t i = 0; i < p->n && st == AIS_OK; i++) {
        const ais__feature *a = &p->f[i];
        if ((st = ais_profile_add_feature(c, a->name, a->kind, NULL)) != AIS_OK) break;
        ais__feature *b = &c->f[i];
        char *name = b->name;
        *b = *a;
        b->name = name;
        b->sample = NULL;
        b->cats = NULL;
        b->n_cats = b->cap_cats = 0;
        if (a->sample) {
            b->sample = ais__malloc((size_t)p->sample_size * sizeof *b->sample);
            if (!b->sample) {
                st = ais__oom((size_t)p->sample_size * 8, "profile copy");
                break;
            }
            memcpy(b->sample, a->sample, a->n_sample * sizeof *a->sample);
        }
        if (a->n_cats) {
            b->cats = ais__calloc(a->n_cats, sizeof *b->cats);
            if (!b->cats) {
                st = ais__oom(a->n_cats * sizeof *b->cats, "profile copy");
                break;
            }
            b->cap_cats = a->n_cats;
            for (size_t k = 0; k < a->n_cats; k++, b->n_cats++) {
                b->cats[k].count = a->cats[k].count;
                if (!(b->cats[k].name = ais__strdup(a->cats[k].name))) {
                    st = ais__oom(strlen(a->cats[k].name) + 1, "profile copy");
                    break;
                }
            }
        }
    }
    if (st != AIS_OK) {
        ais_profile_destroy(c);
        *out = NULL;
    }
    return st;
}

const double *ais__profile_sample(const ais_profile *p, size_t i, size_t *n) {
    *n = p->f[i].n_sample;
    return p->f[i].sample;
}

/* The count of category `name` in f, or -1 when f does not list it. */
static int64_t ais__cat_count(const ais__feature *f, const char *name) {
    for (size_t i = 0; i < f->n_cats; i++)
        if (strcmp(f->cats[i].name, name) == 0) return (int64_t)f->cats[i].count;
    return -1;
}

/* Counts of the reference's categories (and "other", and the current's new ones) on both
 * sides. A current category the reference folded into "other" counts there; one the reference
 * never saw (and had no "other") is a category of its own with a reference count of 0. */
ais_status ais__profile_counts(const ais_profile *ref, size_t ri, const ais_profile *cur, size_t ci,
                               uint64_t **rc, uint64_t **cc, size_t *k) {
    const ais__feature *a = &ref->f[ri], *b = &cur->f[ci];
    size_t cap = a->n_cats + b->n_cats + 1;
    *rc = ais__calloc(cap, sizeof **rc);
    *cc = ais__calloc(cap, sizeof **cc);
    if (!*rc || !*cc) {
        ais__free(*rc);
        ais__free(*cc);
        *rc = *cc = NULL;
        return ais__oom(cap * 16, "drift counts");
    }
    size_t n = 0;
    for (size_t i = 0; i < a->n_cats; i++, n++) {
        (*rc)[n] = a->cats[i].count;
        int64_t c = ais__cat_count(b, a->cats[i].name);
        (*cc)[n] = c < 0 ? 0 : (uint64_t)c;
    }
    size_t other = n++;
    (*rc)[other] = a->other;
    (*cc)[other] = b->other;
    for (size_t i = 0; i < b->n_cats; i++) {
        if (ais__cat_count(a, b->cats[i].name) >= 0) continue;
        if (a->other) {
            (*cc)[other] += b->cats[i].count;
        } else {
            (*cc)[n++] = b->cats[i].count;
        }
    }
    *k = n;
    return AIS_OK;
}
