/*
 * lightgbm_reader.c - LightGBM text models (Booster.save_model("m.txt")) as one
 * TreeEnsembleRegressor (see tree_model.h for the graph's inputs and outputs).
 *
 * A header of key=value lines, then one "Tree=i" block per tree; tree i adds to class
 * i % num_tree_per_iteration. An internal node sends x <= threshold left; a child < 0 is leaf ~c.
 * decision_type bit 1 is default-left, bits 2-3 the missing type: None (NaN is compared as 0.0),
 * Zero (NaN and every |x| <= 1e-35f go the default way) or NaN (NaN goes the default way); the
 * Zero type becomes a short chain of range tests. Bit 0 marks a categorical split: threshold is
 * an index k into cat_boundaries, and the value goes left when (int)x is set in the bitset
 * cat_threshold[cat_boundaries[k] .. cat_boundaries[k + 1]) (uint32 words, bit c % 32 of word
 * c / 32), right otherwise; NaN and negative (int)x go right (LightGBM 4.x Tree::
 * CategoricalDecision). The cast truncates toward zero, so category c covers [c, c + 1) and
 * category 0 covers (-1, 1): a chain of range tests expresses it exactly. The bytes are copied
 * once into a NUL-terminated buffer and parsed line by line; every count and index is bounded.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tree_model.h"

typedef struct {
    char *buf, *pos, *end;
    size_t line;
    size_t per; /* capacity of each per-field value buffer */
} ais__lgb;

/* The next line (NUL-terminated in place, '\r' dropped) or NULL at the end. */
static char *ais__lgb_line(ais__lgb *p) {
    if (p->pos >= p->end) return NULL;
    char *s = p->pos, *nl = memchr(s, '\n', (size_t)(p->end - s));
    char *e = nl ? nl : p->end;
    p->pos = nl ? nl + 1 : p->end;
    *e = 0;
    if (e > s && e[-1] == '\r') e[-1] = 0;
    p->line++;
    return s;
}

/* "key=value": the value when the line's key is `key`. */
static const char *ais__lgb_value(const char *line, const char *key) {
    size_t k = strlen(key);
    return strncmp(line, key, k) == 0 && line[k] == '=' ? line + k + 1 : NULL;
}

static ais_status ais__lgb_int(const char *s, const char *what, long long lo, long long hi,
                               long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || (*end && *end != ' ') || v < lo || v > hi)
        return ais__error(AIS_E_FORMAT, "%s: expected an integer in [%lld, %lld], got \"%.30s\"",
                          what, lo, hi, s);
    *out = v;
    return AIS_OK;
}

/* Exactly n space-separated numbers from s into v (as doubles). */
static ais_status ais__lgb_numbers(const char *s, size_t n, double *v, size_t tree,
                                   const char *field) {
    size_t k = 0;
    while (*s) {
        if (k == n)
            return ais__error(AIS_E_FORMAT, "tree %zu: %s has more than %zu values", tree, field,
                              n);
        char *end;
        v[k] = strtod(s, &end);
        if (end == s || (*end && *end != ' ') || isnan(v[k]))
            return ais__error(AIS_E_FORMAT, "tree %zu: %s[%zu] is not a number", tree, field, k);
        k++;
        s = *end ? end + 1 : end;
    }
    if (k != n)
        return ais__error(AIS_E_FORMAT, "tree %zu: %s has %zu values, expected %zu", tree, field, k,
                          n);
    return AIS_OK;
}

/* the first LGB_NFIELDS are in every tree, the categorical ones only where num_cat > 0 */
enum { LGB_FEAT, LGB_THR, LGB_DEC, LGB_LEFT, LGB_RIGHT, LGB_LEAF, LGB_NFIELDS };
enum { LGB_CATB = LGB_NFIELDS, LGB_CATT, LGB_NALL };
static const char *const ais__lgb_fields[LGB_NALL] = {
    "split_feature", "threshold",  "decision_type",  "left_child",
    "right_child",   "leaf_value", "cat_boundaries", "cat_threshold"};

/* LightGBM's kZeroThreshold: the Zero missing type takes |x| <= 1e-35f as missing. */
#define AIS__LGB_ZERO ((double)1e-35f)

/* A numerical split with missing type Zero: x in [-z, z] and NaN go to dflt, the rest by
 * x <= thr. */
static ais_status ais__lgb_zero_split(ais__tree_ens *e, size_t t, size_t i, int64_t feat,
                                      double thr, int64_t l, int64_t r, int64_t dflt,
                                      int64_t *next_id) {
    AIS__CHECK(ais__tree_ens_cut_scratch(e));
    double *v = e->cut_v;
    uint8_t *in = e->cut_incl;
    int64_t *d = e->cut_dest;
    size_t k = 0;
    const double z = AIS__LGB_ZERO;
    if (thr < -z) v[k] = thr, in[k] = 1, d[k++] = l;
    v[k] = -z, in[k] = 0, d[k++] = thr < -z ? r : l;
    v[k] = z, in[k] = 1, d[k++] = dflt;
    if (thr > z) v[k] = thr, in[k] = 1, d[k++] = l;
    d[k] = r;
    return ais__tree_ens_route(e, (int64_t)t, (int64_t)i, feat, k, dflt, next_id);
}

/* Categorical node i: the bitset cat_threshold[cat_boundaries[k] ..] decides. */
static ais_status ais__lgb_cat_split(ais__tree_ens *e, size_t t, size_t i, int64_t feat, double thr,
                                     size_t n_cat, double *const *f, int64_t l, int64_t r,
                                     int64_t *next_id) {
    if (thr < 0 || thr >= (double)n_cat || thr != floor(thr))
        return ais__error(AIS_E_FORMAT,
                          "tree %zu node %zu: categorical threshold %g is not an index below "
                          "num_cat %zu",
                          t, i, thr, n_cat);
    size_t k = (size_t)thr;
    size_t b = (size_t)f[LGB_CATB][k], end = (size_t)f[LGB_CATB][k + 1];
    size_t n = 0;
    AIS__CHECK(ais__tree_ens_cat_scratch(e, 64));
    for (size_t w = b; w < end; w++) {
        uint32_t bits = (uint32_t)f[LGB_CATT][w];
        for (unsigned j = 0; j < 32; j++) {
            if (!(bits >> j & 1)) continue;
            if (n >= 2 * (size_t)AIS__TREES_MAX_SPLIT_NODES)
                return ais__error(AIS_E_LIMIT, "tree %zu node %zu: over %u categories in one split",
                                  t, i, 2 * AIS__TREES_MAX_SPLIT_NODES);
            AIS__CHECK(ais__tree_ens_cat_scratch(e, n + 1));
            e->cats[n++] = (int64_t)(w - b) * 32 + j;
        }
    }
    if (n == 0)
        return ais__error(AIS_E_FORMAT, "tree %zu node %zu: categorical split with no categories",
                          t, i);
    return ais__tree_ens_categories(e, (int64_t)t, (int64_t)i, feat, e->cats, n, true, l, r, r,
                                    next_id);
}

/* One tree's fields have been read into f; adds its nodes. parents: scratch of 2 L bytes. */
static ais_status ais__lgb_emit(ais__tree_ens *e, size_t t, size_t L, size_t n_cat,
                                double *const *f, uint8_t *parents) {
    int64_t target = (int64_t)(t % e->n_targets);
    int64_t next_id = (int64_t)(2 * L - 1); /* ids of the chains' extra nodes */
    if (L == 1) return ais__tree_ens_leaf(e, (int64_t)t, 0, target, f[LGB_LEAF][0]);
    size_t ni = L - 1;
    memset(parents, 0, 2 * L);
    for (size_t i = 0; i < ni; i++) {
        double feat = f[LGB_FEAT][i], thr = f[LGB_THR][i], dec = f[LGB_DEC][i];
        int64_t ids[2];
        for (int s = 0; s < 2; s++) {
            double c = f[s ? LGB_RIGHT : LGB_LEFT][i];
            /* an internal child comes after its parent; a leaf ~c is below num_leaves */
            if (c != floor(c) || (c >= 0 && (c <= (double)i || c >= (double)ni)) ||
                (c < 0 && -c - 1 >= (double)L))
                return ais__error(AIS_E_FORMAT,
                                  "tree %zu node %zu: %s %g is out of range (%zu leaves)", t, i,
                                  ais__lgb_fields[s ? LGB_RIGHT : LGB_LEFT], c, L);
            size_t id = c >= 0 ? (size_t)c : ni + (size_t)(-c - 1);
            if (parents[id]++)
                return ais__error(AIS_E_FORMAT, "tree %zu node %zu: a child has two parents", t, i);
            ids[s] = (int64_t)id;
        }
        if (feat < 0 || feat != floor(feat) || feat >= (double)e->n_features)
            return ais__error(AIS_E_FORMAT, "tree %zu node %zu: split_feature %g is not below %zu",
                              t, i, feat, e->n_features);
        if (dec < 0 || dec > 255 || dec != floor(dec))
            return ais__error(AIS_E_FORMAT, "tree %zu node %zu: decision_type %g", t, i, dec);
        unsigned d = (unsigned)dec, missing = (d >> 2) & 3;
        if (d & 1) {
            AIS__CHECK(ais__lgb_cat_split(e, t, i, (int64_t)feat, thr, n_cat, f, ids[0], ids[1],
                                          &next_id));
            continue;
        }
        if (missing == 3)
            return ais__error(AIS_E_FORMAT, "tree %zu node %zu: missing type 3 does not exist", t,
                              i);
        if (missing == 1) {
            AIS__CHECK(ais__lgb_zero_split(e, t, i, (int64_t)feat, thr, ids[0], ids[1],
                                           (d & 2) ? ids[0] : ids[1], &next_id));
            continue;
        }
        /* LightGBM writes thresholds beyond every value as inf; NaN is refused when read. */
        bool miss_left = missing == 2 ? (d & 2) != 0 : 0.0 <= thr;
        AIS__CHECK(ais__tree_ens_branch(e, (int64_t)t, (int64_t)i, (int64_t)feat, thr, ids[0],
                                        ids[1], miss_left));
    }
    for (size_t l = 0; l < L; l++)
        AIS__CHECK(ais__tree_ens_leaf(e, (int64_t)t, (int64_t)(ni + l), target, f[LGB_LEAF][l]));
    return AIS_OK;
}

/* Reads the block of tree t (after its "Tree=" line) up to a blank line. */
static ais_status ais__lgb_tree(ais__lgb *p, ais__tree_ens *e, size_t t, double **f,
                                uint8_t *parents) {
    long long L = 0, n_cat = 0;
    const char *vals[LGB_NALL] = {0};
    char *line;
    while ((line = ais__lgb_line(p)) && *line) {
        const char *v;
        if ((v = ais__lgb_value(line, "num_leaves")))
            AIS__CHECK(ais__lgb_int(v, "num_leaves", 1, AIS__TREES_MAX_TREE_NODES / 2, &L));
        else if ((v = ais__lgb_value(line, "is_linear")) && strcmp(v, "0") != 0)
            return ais__error(AIS_E_UNSUPPORTED, "tree %zu: linear trees are not supported", t);
        else if ((v = ais__lgb_value(line, "num_cat")))
            AIS__CHECK(ais__lgb_int(v, "num_cat", 0, AIS__TREES_MAX_TREE_NODES, &n_cat));
        for (int k = 0; k < LGB_NALL; k++)
            if ((v = ais__lgb_value(line, ais__lgb_fields[k]))) vals[k] = v;
    }
    if (L == 0) return ais__error(AIS_E_FORMAT, "tree %zu: no num_leaves", t);
    if ((size_t)L > p->per)
        return ais__error(AIS_E_FORMAT, "tree %zu: num_leaves %lld cannot fit in the file", t, L);
    for (int k = 0; k < LGB_NFIELDS; k++) {
        size_t want = k == LGB_LEAF ? (size_t)L : (size_t)L - 1;
        if (!vals[k] && want)
            return ais__error(AIS_E_FORMAT, "tree %zu: field %s is missing", t, ais__lgb_fields[k]);
        AIS__CHECK(ais__lgb_numbers(vals[k] ? vals[k] : "", want, f[k], t, ais__lgb_fields[k]));
    }
    for (long long l = 0; l < L; l++)
        if (!isfinite(f[LGB_LEAF][l]))
            return ais__error(AIS_E_FORMAT, "tree %zu: leaf_value[%lld] is not finite", t, l);
    if (n_cat > 0) {
        if ((size_t)n_cat + 1 > p->per)
            return ais__error(AIS_E_FORMAT, "tree %zu: num_cat %lld cannot fit in the file", t,
                              n_cat);
        if (!vals[LGB_CATB] || !vals[LGB_CATT])
            return ais__error(AIS_E_FORMAT,
                              "tree %zu: num_cat %lld without cat_boundaries and "
                              "cat_threshold",
                              t, n_cat);
        AIS__CHECK(
            ais__lgb_numbers(vals[LGB_CATB], (size_t)n_cat + 1, f[LGB_CATB], t, "cat_boundaries"));
        /* the bitset words: as many as the last boundary says */
        double nw = f[LGB_CATB][n_cat];
        if (!(nw >= 0 && nw <= (double)p->per) || nw != floor(nw))
            return ais__error(AIS_E_FORMAT, "tree %zu: cat_boundaries[%lld] is %g", t, n_cat, nw);
        AIS__CHECK(ais__lgb_numbers(vals[LGB_CATT], (size_t)nw, f[LGB_CATT], t, "cat_threshold"));
        for (long long k = 0; k <= n_cat; k++) {
            double b = f[LGB_CATB][k];
            if (b != floor(b) || (k == 0 && b != 0) || (k > 0 && b < f[LGB_CATB][k - 1]))
                return ais__error(AIS_E_FORMAT,
                                  "tree %zu: cat_boundaries[%lld] %g, expected 0 first and then "
                                  "non-decreasing",
                                  t, k, b);
        }
        for (size_t w = 0; w < (size_t)nw; w++) {
            double b = f[LGB_CATT][w];
            if (!(b >= 0 && b <= 4294967295.0) || b != floor(b))
                return ais__error(AIS_E_FORMAT, "tree %zu: cat_threshold[%zu] %g is not a uint32",
                                  t, w, b);
        }
    }
    return ais__lgb_emit(e, t, (size_t)L, (size_t)n_cat, f, parents);
}

/* Whether the space-separated words of s include w. */
static bool ais__lgb_word(const char *s, const char *w) {
    size_t n = strlen(w);
    for (const char *p = s; (p = strstr(p, w)); p++)
        if ((p == s || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return true;
    return false;
}

/* The header must agree with itself: a multiclass objective has num_class >= 2 classes, the
 * same count in its "num_class:K" word, and one tree per class and round; the objectives with one
 * output (binary, regression, ranking, ...) have one of each. Only "custom" (a user objective,
 * which says nothing) is taken as it comes. */
static ais_status ais__lgb_header(const char *objective, long long n_class, long long per_iter) {
    bool multi = strncmp(objective, "multiclass", 10) == 0;
    if (multi) {
        if (n_class < 2)
            return ais__error(AIS_E_FORMAT, "objective \"%.60s\" needs num_class >= 2, got %lld",
                              objective, n_class);
        const char *k = strstr(objective, "num_class:");
        if (k && strtoll(k + 10, NULL, 10) != n_class)
            return ais__error(AIS_E_FORMAT, "objective \"%.60s\" disagrees with num_class=%lld",
                              objective, n_class);
        if (per_iter != n_class)
            return ais__error(AIS_E_FORMAT,
                              "num_tree_per_iteration is %lld, but a multiclass model with "
                              "num_class=%lld has one tree per class and round",
                              per_iter, n_class);
        return AIS_OK;
    }
    if (!objective[0] || strncmp(objective, "custom", 6) == 0) return AIS_OK;
    if (n_class != 1 || per_iter != 1)
        return ais__error(AIS_E_FORMAT,
                          "objective \"%.60s\" has one output, but num_class is %lld and "
                          "num_tree_per_iteration %lld",
                          objective, n_class, per_iter);
    return AIS_OK;
}

static ais_status ais__lgb_parse(ais__lgb *p, ais__tree_ens *e, double **f, uint8_t *parents,
                                 ais__graph **out) {
    long long n_class = 1, per_iter = 0, max_feat = -1;
    char objective[128] = "";
    char *line;
    bool tree_seen = false, average = false;
    size_t t = 0;
    while ((line = ais__lgb_line(p))) {
        const char *v;
        if ((v = ais__lgb_value(line, "Tree"))) {
            if (!tree_seen) {
                if (max_feat < 0) return ais__error(AIS_E_FORMAT, "no max_feature_idx line");
                if (per_iter == 0) per_iter = n_class;
                e->n_features = (size_t)max_feat + 1;
                e->n_targets = (size_t)per_iter;
                tree_seen = true;
            }
            long long id;
            AIS__CHECK(ais__lgb_int(v, "Tree=", 0, AIS__TREES_MAX_NODES, &id));
            if ((size_t)id != t)
                return ais__error(AIS_E_FORMAT, "line %zu: Tree=%lld, expected Tree=%zu", p->line,
                                  id, t);
            AIS__CHECK(ais__lgb_tree(p, e, t, f, parents));
            t++;
        } else if (strcmp(line, "end of trees") == 0) {
            break;
        } else if (tree_seen) {
            if (*line)
                return ais__error(AIS_E_FORMAT, "line %zu: expected Tree= or end of trees",
                                  p->line);
        } else if ((v = ais__lgb_value(line, "num_class"))) {
            AIS__CHECK(ais__lgb_int(v, "num_class", 1, AIS__TREES_MAX_TARGETS, &n_class));
        } else if ((v = ais__lgb_value(line, "num_tree_per_iteration"))) {
            AIS__CHECK(
                ais__lgb_int(v, "num_tree_per_iteration", 1, AIS__TREES_MAX_TARGETS, &per_iter));
        } else if ((v = ais__lgb_value(line, "max_feature_idx"))) {
            AIS__CHECK(
                ais__lgb_int(v, "max_feature_idx", 0, AIS__TREES_MAX_FEATURES - 1, &max_feat));
        } else if ((v = ais__lgb_value(line, "objective"))) {
            size_t n = strlen(v) < sizeof objective - 1 ? strlen(v) : sizeof objective - 1;
            memcpy(objective, v, n);
            objective[n] = 0;
        } else if (strcmp(line, "average_output") == 0) {
            average = true;
        }
    }
    if (!line) return ais__error(AIS_E_FORMAT, "truncated: no \"end of trees\" line");
    if (t == 0) return ais__error(AIS_E_FORMAT, "the model has no trees");
    AIS__CHECK(ais__lgb_header(objective, n_class, (long long)e->n_targets));
    if (t % e->n_targets)
        return ais__error(AIS_E_FORMAT, "%zu trees are not whole iterations of %zu trees", t,
                          e->n_targets);
    /* random forest mode: LightGBM's raw score is the sum, its prediction the sum divided by the
     * number of iterations */
    if (average) e->average = (double)(t / e->n_targets);
    /* Probabilities where they are a plain sigmoid or softmax of the raw score; other scalings
     * (binary sigmoid:2, ...) get only the margin output. */
    ais__trees_prob prob = AIS__TREES_PROB_NONE;
    if (strcmp(objective, "binary sigmoid:1") == 0 || strncmp(objective, "cross_entropy", 13) == 0)
        prob = AIS__TREES_PROB_SIGMOID;
    else if (strncmp(objective, "multiclassova ", 14) == 0 && ais__lgb_word(objective, "sigmoid:1"))
        prob = AIS__TREES_PROB_SIGMOID;
    else if (strncmp(objective, "multiclass ", 11) == 0)
        prob = AIS__TREES_PROB_SOFTMAX;
    return ais__tree_ens_graph(e, "BRANCH_LEQ", prob, objective, out);
}

ais_status ais__lightgbm_read(const void *data, size_t size, const ais__load_opts *o,
                              ais__graph **out) {
    (void)o;
    *out = NULL;
    if (size >= SIZE_MAX / 2) return ais__error(AIS_E_LIMIT, "model too large");
    ais__lgb p = {0};
    p.buf = ais__malloc(size + 1);
    ais__tree_ens *e = ais__malloc(sizeof *e);
    /* per-field values of one tree: at most one number per two bytes of the file */
    size_t per = size / 2 + 2;
    if (per > AIS__TREES_MAX_TREE_NODES) per = AIS__TREES_MAX_TREE_NODES;
    double *fbuf = ais__malloc(LGB_NALL * per * sizeof(double));
    uint8_t *parents = ais__malloc(2 * per);
    ais_status st;
    if (!p.buf || !e || !fbuf || !parents) {
        st = ais__oom(LGB_NALL * per * sizeof(double), "LightGBM model");
    } else {
        memcpy(p.buf, data, size);
        p.buf[size] = 0;
        p.pos = p.buf;
        p.end = p.buf + size;
        p.per = per;
        double *f[LGB_NALL];
        for (int k = 0; k < LGB_NALL; k++)
            f[k] = fbuf + (size_t)k * per;
        ais__tree_ens_init(e);
        st = ais__lgb_parse(&p, e, f, parents, out);
        ais__tree_ens_free(e);
    }
    ais__free(parents);
    ais__free(fbuf);
    ais__free(e);
    ais__free(p.buf);
    if (st != AIS_OK) ais__error_prefix("LightGBM text model");
    return st;
}
