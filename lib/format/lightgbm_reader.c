/*
 * lightgbm_reader.c - LightGBM text models (Booster.save_model("m.txt")) as one
 * TreeEnsembleRegressor (see tree_model.h for the graph's inputs and outputs).
 *
 * A header of key=value lines, then one "Tree=i" block per tree; tree i adds to class
 * i % num_tree_per_iteration. An internal node sends x <= threshold left; a child < 0 is leaf ~c.
 * decision_type bit 0 marks a categorical split (refused), bit 1 default-left, bits 2-3 the
 * missing type: None (NaN is compared as 0.0), Zero (refused: it also captures |x| <= 1e-35) or
 * NaN (NaN goes the default way). The bytes are copied once into a NUL-terminated buffer and
 * parsed line by line; every count and index is bounded.
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

enum { LGB_FEAT, LGB_THR, LGB_DEC, LGB_LEFT, LGB_RIGHT, LGB_LEAF, LGB_NFIELDS };
static const char *const ais__lgb_fields[LGB_NFIELDS] = {
    "split_feature", "threshold", "decision_type", "left_child", "right_child", "leaf_value"};

/* One tree's fields have been read into f; adds its nodes. parents: scratch of L bytes. */
static ais_status ais__lgb_emit(ais__tree_ens *e, size_t t, size_t L, double *const *f,
                                uint8_t *parents) {
    int64_t target = (int64_t)(t % e->n_targets);
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
        if (d & 1)
            return ais__error(AIS_E_UNSUPPORTED,
                              "tree %zu node %zu: categorical splits are not supported", t, i);
        if (missing == 1 || missing == 3)
            return ais__error(AIS_E_UNSUPPORTED,
                              "tree %zu node %zu: missing type %s is not supported", t, i,
                              missing == 1 ? "Zero (zero_as_missing)" : "3");
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
    long long L = 0;
    const char *vals[LGB_NFIELDS] = {0};
    char *line;
    while ((line = ais__lgb_line(p)) && *line) {
        const char *v;
        if ((v = ais__lgb_value(line, "num_leaves")))
            AIS__CHECK(ais__lgb_int(v, "num_leaves", 1, AIS__TREES_MAX_TREE_NODES / 2, &L));
        else if ((v = ais__lgb_value(line, "is_linear")) && strcmp(v, "0") != 0)
            return ais__error(AIS_E_UNSUPPORTED, "tree %zu: linear trees are not supported", t);
        else if ((v = ais__lgb_value(line, "num_cat")) && strcmp(v, "0") != 0)
            return ais__error(AIS_E_UNSUPPORTED, "tree %zu: categorical splits are not supported",
                              t);
        for (int k = 0; k < LGB_NFIELDS; k++)
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
    return ais__lgb_emit(e, t, (size_t)L, f, parents);
}

static ais_status ais__lgb_parse(ais__lgb *p, ais__tree_ens *e, double **f, uint8_t *parents,
                                 ais__graph **out) {
    long long n_class = 1, per_iter = 0, max_feat = -1;
    char objective[128] = "";
    char *line;
    bool tree_seen = false;
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
            return ais__error(AIS_E_UNSUPPORTED,
                              "average_output (random forest mode) is not supported");
        }
    }
    if (!line) return ais__error(AIS_E_FORMAT, "truncated: no \"end of trees\" line");
    if (t == 0) return ais__error(AIS_E_FORMAT, "the model has no trees");
    ais__trees_prob prob = AIS__TREES_PROB_NONE;
    if (strcmp(objective, "binary sigmoid:1") == 0 || strncmp(objective, "cross_entropy", 13) == 0)
        prob = AIS__TREES_PROB_SIGMOID;
    else if (strncmp(objective, "multiclass ", 11) == 0)
        prob = AIS__TREES_PROB_SOFTMAX;
    return ais__tree_ens_graph(e, "BRANCH_LEQ", prob, "lightgbm", objective, out);
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
    double *fbuf = ais__malloc(LGB_NFIELDS * per * sizeof(double));
    uint8_t *parents = ais__malloc(2 * per);
    ais_status st;
    if (!p.buf || !e || !fbuf || !parents) {
        st = ais__oom(LGB_NFIELDS * per * sizeof(double), "LightGBM model");
    } else {
        memcpy(p.buf, data, size);
        p.buf[size] = 0;
        p.pos = p.buf;
        p.end = p.buf + size;
        p.per = per;
        double *f[LGB_NFIELDS];
        for (int k = 0; k < LGB_NFIELDS; k++)
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
