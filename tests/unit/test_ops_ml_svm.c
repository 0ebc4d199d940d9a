/*
 * test_ops_ml_svm.c - SVMClassifier, SVMRegressor, CategoryMapper, FeatureVectorizer and
 * TreeEnsemble (opset 5) against naive references written here: kernels and one-vs-one votes in
 * double, libsvm's pairwise coupling in double, dictionaries by linear search, and opset-5 trees
 * walked node by node from their attribute arrays. Hostile attributes must give errors that
 * name the problem; allocation failures must be clean.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "test_util.h"

#define ML "ai.onnx.ml"

static ais_status run_ml(const char *op, int64_t opset, const ais_attrs *a,
                         const ais_tensor *const *in, size_t n_in, ais_tensor **out, size_t n_out) {
    for (size_t i = 0; i < n_out; i++)
        out[i] = NULL;
    return ais_op_run_opset(ML, op, opset, a, in, n_in, out, n_out);
}

static ais_tensor *new_tensor(ais_dtype dt, const int64_t *shape, size_t ndim) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_create(dt, shape, ndim, &t));
    memset(ais_tensor_data(t), 0, ais_tensor_size(t) * ais_dtype_size(dt));
    return t;
}

/* ---- SVM references ---- */

enum { K_LINEAR, K_POLY, K_RBF, K_SIGMOID };
static const char *const KERNELS[] = {"LINEAR", "POLY", "RBF", "SIGMOID"};

static double kernel_ref(int k, const float *x, const float *v, size_t f, const float *kp) {
    double dot = 0, d2 = 0;
    for (size_t i = 0; i < f; i++) {
        dot += (double)x[i] * v[i];
        d2 += ((double)x[i] - v[i]) * ((double)x[i] - v[i]);
    }
    switch (k) {
    case K_POLY: return pow(kp[0] * dot + kp[1], kp[2]);
    case K_RBF: return exp(-kp[0] * d2);
    case K_SIGMOID: return tanh(kp[0] * dot + kp[1]);
    default: return dot;
    }
}

/* libsvm's multiclass_probability in double (Wu, Lin and Weng 2004). */
static void coupling_ref(size_t k, const double *r, double *p) {
    double q[8][8], qp[8];
    for (size_t t = 0; t < k; t++) {
        p[t] = 1.0 / (double)k;
        q[t][t] = 0;
        for (size_t j = 0; j < t; j++) {
            q[t][t] += r[j * k + t] * r[j * k + t];
            q[t][j] = q[j][t];
        }
        for (size_t j = t + 1; j < k; j++) {
            q[t][t] += r[j * k + t] * r[j * k + t];
            q[t][j] = -r[j * k + t] * r[t * k + j];
        }
    }
    for (int it = 0; it < 1000; it++) {
        double pqp = 0, err = 0;
        for (size_t t = 0; t < k; t++) {
            qp[t] = 0;
            for (size_t j = 0; j < k; j++)
                qp[t] += q[t][j] * p[j];
            pqp += p[t] * qp[t];
        }
        for (size_t t = 0; t < k; t++)
            err = fmax(err, fabs(qp[t] - pqp));
        if (err < 1e-9) break;
        for (size_t t = 0; t < k; t++) {
            double diff = (-qp[t] + pqp) / q[t][t];
            p[t] += diff;
            pqp = (pqp + diff * (diff * q[t][t] + 2 * qp[t])) / (1 + diff) / (1 + diff);
            for (size_t j = 0; j < k; j++) {
                qp[j] = (qp[j] + diff * q[t][j]) / (1 + diff);
                p[j] /= (1 + diff);
            }
        }
    }
}

static void test_svm_regressor(void **state) {
    (void)state;
    for (int iter = 0; iter < 40; iter++) {
        int k = iter % 4;
        bool linear_mode = iter % 5 == 4, one_class = iter % 7 == 3;
        size_t n = (size_t)ais_test_randint(0, 9), f = (size_t)ais_test_randint(1, 6);
        size_t v = linear_mode ? 0 : (size_t)ais_test_randint(1, 12);
        float sv[12 * 6], coef[12], rho = (float)ais_test_uniform(-1, 1);
        float kp[3] = {(float)ais_test_uniform(0.05, 0.5), (float)ais_test_uniform(-1, 1),
                       (float)ais_test_randint(1, 4)};
        ais_test_fill_uniform(sv, v * f, -2, 2);
        ais_test_fill_uniform(coef, linear_mode ? f : v, -1, 1);
        ais_attrs *a;
        AIS_ASSERT_OK(ais_attrs_create(&a));
        AIS_ASSERT_OK(ais_attrs_set_string(a, "kernel_type", KERNELS[k]));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "kernel_params", kp, 3));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", coef, linear_mode ? f : v));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "rho", &rho, 1));
        AIS_ASSERT_OK(ais_attrs_set_int(a, "one_class", one_class));
        if (!linear_mode) {
            AIS_ASSERT_OK(ais_attrs_set_floats(a, "support_vectors", sv, v * f));
            AIS_ASSERT_OK(ais_attrs_set_int(a, "n_supports", (int64_t)v));
        }
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE((int64_t)n, (int64_t)f), -2, 2);
        ais_tensor *y;
        AIS_ASSERT_OK(run_ml("SVMRegressor", 1, a, (const ais_tensor *const[]){x}, 1, &y, 1));
        assert_int_equal(ais_tensor_ndim(y), 2);
        assert_int_equal(ais_tensor_shape(y)[0], (int64_t)n);
        const float *xv = ais_tensor_data(x);
        double want[9];
        for (size_t r = 0; r < n; r++) {
            double s = rho;
            if (linear_mode)
                s += kernel_ref(K_LINEAR, xv + r * f, coef, f, kp);
            else
                for (size_t j = 0; j < v; j++)
                    s += coef[j] * kernel_ref(k, xv + r * f, sv + j * f, f, kp);
            want[r] = one_class ? (s > 0 ? 1 : -1) : s;
            if (one_class && fabs(s) < 1e-4) /* within rounding of 0: either side */
                want[r] = ((const float *)ais_tensor_data(y))[r];
        }
        ais_test_assert_close_values(y, want, n, 1e-4, 1e-4);
        ais_tensor_destroy(y);
        /* double and int64 X give the same as float X holding the same values */
        ais_tensor *xd = new_tensor(AIS_DTYPE_F64, AIS_SHAPE((int64_t)n, (int64_t)f));
        for (size_t i = 0; i < n * f; i++)
            ((double *)ais_tensor_data(xd))[i] = xv[i];
        AIS_ASSERT_OK(run_ml("SVMRegressor", 1, a, (const ais_tensor *const[]){xd}, 1, &y, 1));
        ais_test_assert_close_values(y, want, n, 1e-4, 1e-4);
        ais_tensor_destroy(y);
        ais_tensor_destroy(xd);
        ais_tensor_destroy(x);
        ais_attrs_destroy(a);
    }
}

/* A random libsvm-form classifier: c classes, vpc[i] vectors each, f features. */
typedef struct svc_model {
    size_t c, f, v, vpc[6];
    int k;
    float kp[3], sv[40 * 5], coef[5 * 40], rho[15], pa[15], pb[15];
} svc_model;

static void svc_random(svc_model *m, int k) {
    m->c = (size_t)ais_test_randint(2, 5);
    m->f = (size_t)ais_test_randint(1, 5);
    m->k = k;
    m->v = 0;
    for (size_t i = 0; i < m->c; i++)
        m->v += m->vpc[i] = (size_t)ais_test_randint(1, 6);
    m->kp[0] = (float)ais_test_uniform(0.05, 0.5);
    m->kp[1] = (float)ais_test_uniform(-0.5, 0.5);
    m->kp[2] = (float)ais_test_randint(2, 3);
    ais_test_fill_uniform(m->sv, m->v * m->f, -2, 2);
    ais_test_fill_uniform(m->coef, (m->c - 1) * m->v, -1, 1);
    ais_test_fill_uniform(m->rho, m->c * (m->c - 1) / 2, -0.5, 0.5);
    ais_test_fill_uniform(m->pa, m->c * (m->c - 1) / 2, -3, -0.5);
    ais_test_fill_uniform(m->pb, m->c * (m->c - 1) / 2, -0.3, 0.3);
}

static ais_attrs *svc_attrs(const svc_model *m, bool proba, bool strings) {
    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    size_t np = m->c * (m->c - 1) / 2;
    int64_t vpc[6], labels[6];
    for (size_t i = 0; i < m->c; i++) {
        vpc[i] = (int64_t)m->vpc[i];
        labels[i] = 10 + 3 * (int64_t)i;
    }
    AIS_ASSERT_OK(ais_attrs_set_string(a, "kernel_type", KERNELS[m->k]));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "kernel_params", m->kp, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "vectors_per_class", vpc, m->c));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "support_vectors", m->sv, m->v * m->f));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", m->coef, (m->c - 1) * m->v));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "rho", m->rho, np));
    if (proba) {
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "prob_a", m->pa, np));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "prob_b", m->pb, np));
    }
    if (strings) {
        const char *names[6] = {"a", "bb", "ccc", "d", "e", "f"};
        AIS_ASSERT_OK(ais_attrs_set_strings(a, "classlabels_strings", names, m->c));
    } else {
        AIS_ASSERT_OK(ais_attrs_set_ints(a, "classlabels_ints", labels, m->c));
    }
    return a;
}

/* Reference for one row: pairwise scores, the winning class (first with most votes), and Z. */
static size_t svc_ref(const svc_model *m, const float *x, bool proba, double *z, double *margin) {
    double kv[40], pair[15];
    size_t votes[6] = {0}, start[6], idx = 0;
    for (size_t j = 0; j < m->v; j++)
        kv[j] = kernel_ref(m->k, x, m->sv + j * m->f, m->f, m->kp);
    for (size_t i = 0, at = 0; i < m->c; at += m->vpc[i], i++)
        start[i] = at;
    *margin = INFINITY;
    for (size_t i = 0; i < m->c; i++)
        for (size_t j = i + 1; j < m->c; j++) {
            double s = m->rho[idx];
            for (size_t t = 0; t < m->vpc[i]; t++)
                s += m->coef[(j - 1) * m->v + start[i] + t] * kv[start[i] + t];
            for (size_t t = 0; t < m->vpc[j]; t++)
                s += m->coef[i * m->v + start[j] + t] * kv[start[j] + t];
            pair[idx++] = s;
            *margin = fmin(*margin, fabs(s));
            votes[s > 0 ? i : j]++;
        }
    size_t best = 0;
    for (size_t i = 1; i < m->c; i++)
        if (votes[i] > votes[best]) best = i;
    if (proba) {
        double r[36] = {0};
        idx = 0;
        for (size_t i = 0; i < m->c; i++)
            for (size_t j = i + 1; j < m->c; j++, idx++) {
                double p = 1 - 1 / (1 + exp(-(pair[idx] * m->pa[idx] + m->pb[idx])));
                p = fmin(fmax(p, 1e-7), 1 - 1e-7);
                r[i * m->c + j] = p;
                r[j * m->c + i] = 1 - p;
            }
        coupling_ref(m->c, r, z);
    } else if (m->c > 2) {
        memcpy(z, pair, idx * sizeof *z);
    } else {
        z[0] = -pair[0];
        z[1] = pair[0];
    }
    return best;
}

static void test_svm_classifier(void **state) {
    (void)state;
    for (int iter = 0; iter < 48; iter++) {
        svc_model m;
        svc_random(&m, iter % 4);
        bool proba = (iter / 4) % 2, strings = (iter / 8) % 2;
        ais_attrs *a = svc_attrs(&m, proba, strings);
        size_t n = (size_t)ais_test_randint(1, 9);
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE((int64_t)n, (int64_t)m.f), -2, 2);
        ais_tensor *y[2];
        AIS_ASSERT_OK(run_ml("SVMClassifier", 1, a, (const ais_tensor *const[]){x}, 1, y, 2));
        size_t zw = proba ? m.c : m.c > 2 ? m.c * (m.c - 1) / 2 : 2;
        assert_int_equal(ais_tensor_shape(y[1])[1], (int64_t)zw);
        const float *xv = ais_tensor_data(x), *zv = ais_tensor_data(y[1]);
        for (size_t r = 0; r < n; r++) {
            double z[15], margin;
            size_t best = svc_ref(&m, xv + r * m.f, proba, z, &margin);
            if (margin > 1e-4) { /* a vote decided by rounding may differ */
                if (strings) {
                    const char *names[6] = {"a", "bb", "ccc", "d", "e", "f"};
                    assert_string_equal(ais_tensor_string_at(y[0], r), names[best]);
                } else {
                    assert_int_equal(((const int64_t *)ais_tensor_data(y[0]))[r],
                                     10 + 3 * (int64_t)best);
                }
            }
            double sum = 0;
            for (size_t j = 0; j < zw; j++) {
                /* probabilities: the operator stops at libsvm's coarse 0.005 / k */
                double tol = proba ? 0.02 : 1e-4 * fmax(1, fabs(z[j]));
                if (fabs(zv[r * zw + j] - z[j]) > tol)
                    fail_msg("row %zu column %zu: %g, expected %g (c %zu kernel %s proba %d)", r, j,
                             zv[r * zw + j], z[j], m.c, KERNELS[m.k], proba);
                sum += zv[r * zw + j];
            }
            if (proba) assert_true(fabs(sum - 1) < 1e-4);
        }
        ais_tensor_destroy(y[0]);
        ais_tensor_destroy(y[1]);
        /* the label output alone */
        AIS_ASSERT_OK(run_ml("SVMClassifier", 1, a, (const ais_tensor *const[]){x}, 1, y, 1));
        ais_tensor_destroy(y[0]);
        ais_tensor_destroy(x);
        ais_attrs_destroy(a);
    }
}

/* The liblinear form: one weight row per class, rho[0] added to each. */
static void test_svm_classifier_linear_form(void **state) {
    (void)state;
    float coef[3 * 4], rho = 0.25f;
    ais_test_fill_uniform(coef, 12, -1, 1);
    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", coef, 12));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "rho", &rho, 1));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "classlabels_ints", (const int64_t[]){5, 6, 7}, 3));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(7, 4), -2, 2), *y[2];
    AIS_ASSERT_OK(run_ml("SVMClassifier", 1, a, (const ais_tensor *const[]){x}, 1, y, 2));
    const float *xv = ais_tensor_data(x);
    for (size_t r = 0; r < 7; r++) {
        double s[3];
        size_t best = 0;
        for (size_t c = 0; c < 3; c++) {
            s[c] = rho + kernel_ref(K_LINEAR, xv + r * 4, coef + c * 4, 4, NULL);
            if (s[c] > s[best]) best = c;
        }
        assert_int_equal(((const int64_t *)ais_tensor_data(y[0]))[r], 5 + (int64_t)best);
        for (size_t c = 0; c < 3; c++)
            assert_true(fabs(((const float *)ais_tensor_data(y[1]))[r * 3 + c] - s[c]) < 1e-5);
    }
    ais_tensor_destroy(y[0]);
    ais_tensor_destroy(y[1]);
    ais_tensor_destroy(x);
    ais_attrs_destroy(a);
}

static void expect_error(const char *op, int64_t opset, ais_attrs *a, const ais_tensor *x,
                         size_t n_out, const char *needle) {
    ais_tensor *y[2];
    ais_status st = run_ml(op, opset, a, (const ais_tensor *const[]){x}, 1, y, n_out);
    if (st == AIS_OK) fail_msg("%s accepted attributes that should fail with '%s'", op, needle);
    ais_test_assert_error_contains(needle);
    assert_null(y[0]);
}

static void test_svm_hostile(void **state) {
    (void)state;
    svc_model m;
    svc_random(&m, K_RBF);
    m.c = 3;
    m.vpc[0] = 2, m.vpc[1] = 3, m.vpc[2] = 1;
    m.v = 6;
    m.f = 2;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 2), -1, 1);
    ais_tensor *x3 = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    ais_attrs *a = svc_attrs(&m, true, false);
    expect_error("SVMClassifier", 1, a, x3, 2, "X has 3 features, the model expects 2");
    /* vectors_per_class sums to 7 but 6 vectors of 2 features are given: 12 % 7 != 0 */
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "vectors_per_class", (const int64_t[]){2, 3, 2}, 3));
    expect_error("SVMClassifier", 1, a, x, 2, "not a positive multiple of the 7 vectors");
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "vectors_per_class", (const int64_t[]){2, -3, 1}, 3));
    expect_error("SVMClassifier", 1, a, x, 2, "vectors_per_class[1] is -3");
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "vectors_per_class", (const int64_t[]){2, 4}, 2));
    expect_error("SVMClassifier", 1, a, x, 2, "vectors_per_class has 2 entries for 3 class");
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "vectors_per_class", (const int64_t[]){2, 3, 1}, 3));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", m.coef, 11));
    expect_error("SVMClassifier", 1, a, x, 2, "11 coefficients, expected (classes - 1)");
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", m.coef, 12));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "rho", m.rho, 2));
    expect_error("SVMClassifier", 1, a, x, 2, "rho has 2 values, expected one per class pair");
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "rho", m.rho, 3));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "prob_b", m.pb, 2));
    expect_error("SVMClassifier", 1, a, x, 2, "prob_a has 3 values but prob_b has 2");
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "prob_a", m.pa, 2));
    expect_error("SVMClassifier", 1, a, x, 2, "expected one per class pair (3)");
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "prob_a", m.pa, 3));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "prob_b", m.pb, 3));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "kernel_type", "CUBIC"));
    expect_error("SVMClassifier", 1, a, x, 2, "kernel_type must be");
    AIS_ASSERT_OK(ais_attrs_set_string(a, "kernel_type", "POLY"));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "kernel_params", m.kp, 2));
    expect_error("SVMClassifier", 1, a, x, 2, "kernel_params must hold 3 values");
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "kernel_params", m.kp, 3));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "post_transform", "SQUARE"));
    expect_error("SVMClassifier", 1, a, x, 2, "post_transform must be");
    AIS_ASSERT_OK(ais_attrs_set_string(a, "post_transform", "NONE"));
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "classlabels_strings", (const char *[]){"x"}, 1));
    expect_error("SVMClassifier", 1, a, x, 2, "only one of classlabels_ints");
    ais_attrs_destroy(a);
    /* one class with support vectors */
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "classlabels_ints", (const int64_t[]){1}, 1));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "vectors_per_class", (const int64_t[]){2}, 1));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "support_vectors", m.sv, 4));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", m.coef, 2));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "rho", m.rho, 1));
    expect_error("SVMClassifier", 1, a, x, 2, "needs 2 or more classes");
    ais_attrs_destroy(a);
    /* regressor */
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", m.coef, 3));
    expect_error("SVMRegressor", 1, a, x, 1, "rho must hold 1 value");
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "rho", m.rho, 1));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "n_supports", 3));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "support_vectors", m.sv, 7));
    expect_error("SVMRegressor", 1, a, x, 1, "not a positive multiple of n_supports 3");
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "support_vectors", m.sv, 6));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", m.coef, 2));
    expect_error("SVMRegressor", 1, a, x, 1, "2 coefficients for 3 support vectors");
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", m.coef, 3));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "n_targets", 2));
    expect_error("SVMRegressor", 1, a, x, 1, "n_targets must be 1");
    AIS_ASSERT_OK(ais_attrs_set_int(a, "n_targets", 1));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "n_supports", -1));
    expect_error("SVMRegressor", 1, a, x, 1, "n_supports must be >= 0");
    AIS_ASSERT_OK(ais_attrs_set_int(a, "n_supports", 3));
    expect_error("SVMRegressor", 1, a, x3, 1, "X has 3 features, the model expects 2");
    ais_attrs_destroy(a);
    ais_tensor_destroy(x);
    ais_tensor_destroy(x3);
}

/* ---- CategoryMapper and FeatureVectorizer ---- */

static void test_category_mapper(void **state) {
    (void)state;
    const char *cats[5] = {"red", "green", "blue", "green", ""};
    const int64_t ids[5] = {7, 3, 11, 4, 3};
    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "cats_strings", cats, 5));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "cats_int64s", ids, 5));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "default_int64", -5));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "default_string", "?"));
    /* strings -> ints: the last of equal keys wins (green -> 4) */
    const char *xs[6] = {"green", "pink", "", "blue", "red", "Red"};
    ais_tensor *x, *y;
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(2, 3), xs, &x));
    AIS_ASSERT_OK(run_ml("CategoryMapper", 1, a, (const ais_tensor *const[]){x}, 1, &y, 1));
    const int64_t want_i[6] = {4, -5, 3, 11, 7, -5};
    assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_I64);
    assert_int_equal(ais_tensor_ndim(y), 2);
    assert_memory_equal(ais_tensor_data(y), want_i, sizeof want_i);
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
    /* ints -> strings: 3 appears twice, the last ("") wins */
    x = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(5), (const double[]){3, 11, 0, 4, 7});
    AIS_ASSERT_OK(run_ml("CategoryMapper", 1, a, (const ais_tensor *const[]){x}, 1, &y, 1));
    const char *want_s[5] = {"", "blue", "?", "green", "red"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(ais_tensor_string_at(y, i), want_s[i]);
    ais_tensor_destroy(y);
    /* hostile */
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "cats_int64s", ids, 4));
    expect_error("CategoryMapper", 1, a, x, 1, "cats_strings has 5 entries but cats_int64s has 4");
    ais_tensor_destroy(x);
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "cats_int64s", ids, 5));
    x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2), (const double[]){1, 2});
    expect_error("CategoryMapper", 1, a, x, 1, "X");
    ais_tensor_destroy(x);
    ais_attrs_destroy(a);
}

static void test_feature_vectorizer(void **state) {
    (void)state;
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(3, 2), -1, 1);
    ais_tensor *b = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(3, 3),
                                    (const double[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    ais_tensor *c = ais_test_tensor(AIS_DTYPE_F64, AIS_SHAPE(3, 1), (const double[]){.5, -1, 2});
    ais_attrs *at;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    /* b is cut to 2 columns, c padded to 3 */
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "inputdimensions", (const int64_t[]){2, 2, 3}, 3));
    ais_tensor *y;
    AIS_ASSERT_OK(
        run_ml("FeatureVectorizer", 1, at, (const ais_tensor *const[]){a, b, c}, 3, &y, 1));
    assert_int_equal(ais_tensor_shape(y)[1], 7);
    const float *av = ais_tensor_data(a);
    double want[21];
    for (size_t r = 0; r < 3; r++) {
        double row[7] = {av[r * 2],
                         av[r * 2 + 1],
                         (double)(r * 3 + 1),
                         (double)(r * 3 + 2),
                         ((const double *)ais_tensor_data(c))[r],
                         0,
                         0};
        memcpy(want + r * 7, row, sizeof row);
    }
    ais_test_assert_close_values(y, want, 21, 0, 0);
    ais_tensor_destroy(y);
    /* hostile */
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "inputdimensions", (const int64_t[]){2, 2}, 2));
    ais_status st =
        run_ml("FeatureVectorizer", 1, at, (const ais_tensor *const[]){a, b, c}, 3, &y, 1);
    assert_int_not_equal(st, AIS_OK);
    ais_test_assert_error_contains("inputdimensions has 2 entries for 3 inputs");
    ais_tensor *d = ais_test_rand_f32(AIS_SHAPE(2, 2), -1, 1);
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "inputdimensions", (const int64_t[]){2, -2}, 2));
    st = run_ml("FeatureVectorizer", 1, at, (const ais_tensor *const[]){a, a}, 2, &y, 1);
    ais_test_assert_error_contains("inputdimensions[1] is -2");
    AIS_ASSERT_OK(ais_attrs_set_ints(at, "inputdimensions", (const int64_t[]){2, 2}, 2));
    st = run_ml("FeatureVectorizer", 1, at, (const ais_tensor *const[]){a, d}, 2, &y, 1);
    assert_int_not_equal(st, AIS_OK);
    ais_test_assert_error_contains("input 1 has 2 rows, input 0 has 3");
    ais_tensor_destroy(d);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(c);
    ais_attrs_destroy(at);
}

/* ---- TreeEnsemble (opset 5) ---- */

#define T5_MAX 256
typedef struct t5 {
    size_t n, n_leaves, n_roots, n_members, n_targets;
    int64_t feat[T5_MAX], tid[T5_MAX], fid[T5_MAX], tleaf[T5_MAX], fleaf[T5_MAX], miss[T5_MAX];
    uint8_t mode[T5_MAX];
    float split[T5_MAX], members[T5_MAX], lw[T5_MAX];
    size_t mbeg[T5_MAX], mend[T5_MAX];
    int64_t lt[T5_MAX], roots[16];
} t5;

static size_t t5_build(t5 *t, int depth, size_t nf) {
    size_t i = t->n++;
    t->feat[i] = ais_test_randint(0, (int64_t)nf - 1);
    t->mode[i] = (uint8_t)ais_test_randint(0, 6);
    t->split[i] = t->mode[i] >= 4 ? (float)ais_test_randint(0, 3) : (float)ais_test_uniform(-1, 1);
    t->miss[i] = ais_test_randint(0, 1);
    if (t->mode[i] == 6) {
        t->mbeg[i] = t->n_members;
        size_t k = (size_t)ais_test_randint(0, 2);
        for (size_t j = 0; j < k; j++)
            t->members[t->n_members++] = (float)ais_test_randint(0, 3);
        t->mend[i] = t->n_members;
        t->members[t->n_members++] = NAN;
    }
    for (int side = 0; side < 2; side++) {
        int64_t *ids = side ? t->fid : t->tid, *leafs = side ? t->fleaf : t->tleaf;
        if (depth <= 1 || ais_test_randint(0, 5) == 0) {
            leafs[i] = 1;
            ids[i] = (int64_t)t->n_leaves;
            t->lt[t->n_leaves] = ais_test_randint(0, (int64_t)t->n_targets - 1);
            t->lw[t->n_leaves++] = (float)ais_test_uniform(-1, 1);
        } else {
            leafs[i] = 0;
            ids[i] = (int64_t)t5_build(t, depth - 1, nf);
        }
    }
    return i;
}

static void t5_random(t5 *t, size_t trees, size_t nf, size_t nt) {
    memset(t, 0, sizeof *t);
    t->n_targets = nt;
    for (size_t k = 0; k < trees; k++)
        t->roots[t->n_roots++] = (int64_t)t5_build(t, 4, nf);
}

static ais_attrs *t5_attrs(const t5 *t, int agg) {
    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    ais_tensor *m, *s, *w, *mv = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_U8, AIS_SHAPE((int64_t)t->n), &m));
    memcpy(ais_tensor_data(m), t->mode, t->n);
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE((int64_t)t->n), &s));
    memcpy(ais_tensor_data(s), t->split, t->n * sizeof(float));
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE((int64_t)t->n_leaves), &w));
    memcpy(ais_tensor_data(w), t->lw, t->n_leaves * sizeof(float));
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "nodes_modes", m));
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "nodes_splits", s));
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "leaf_weights", w));
    if (t->n_members) {
        AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE((int64_t)t->n_members), &mv));
        memcpy(ais_tensor_data(mv), t->members, t->n_members * sizeof(float));
        AIS_ASSERT_OK(ais_attrs_set_tensor(a, "membership_values", mv));
    }
    ais_tensor_destroy(m);
    ais_tensor_destroy(s);
    ais_tensor_destroy(w);
    ais_tensor_destroy(mv);
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_featureids", t->feat, t->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_truenodeids", t->tid, t->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_falsenodeids", t->fid, t->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_trueleafs", t->tleaf, t->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_falseleafs", t->fleaf, t->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_missing_value_tracks_true", t->miss, t->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "leaf_targetids", t->lt, t->n_leaves));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "tree_roots", t->roots, t->n_roots));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "n_targets", (int64_t)t->n_targets));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "aggregate_function", agg));
    return a;
}

static bool t5_true(const t5 *t, size_t i, float x) {
    if (isnan(x)) return t->miss[i] || t->mode[i] == 5;
    float v = t->split[i];
    switch (t->mode[i]) {
    case 0: return x <= v;
    case 1: return x < v;
    case 2: return x >= v;
    case 3: return x > v;
    case 4: return x == v;
    case 5: return x != v;
    default:
        for (size_t k = t->mbeg[i]; k < t->mend[i]; k++)
            if (t->members[k] == x) return true;
        return false;
    }
}

static void t5_ref(const t5 *t, const float *x, int agg, double *out) {
    double acc[4];
    bool seen[4] = {false};
    for (size_t j = 0; j < t->n_targets; j++)
        acc[j] = 0;
    for (size_t r = 0; r < t->n_roots; r++) {
        size_t i = (size_t)t->roots[r];
        size_t leaf;
        for (;;) {
            bool go = t5_true(t, i, x[t->feat[i]]);
            int64_t id = go ? t->tid[i] : t->fid[i];
            if (go ? t->tleaf[i] : t->fleaf[i]) {
                leaf = (size_t)id;
                break;
            }
            i = (size_t)id;
        }
        size_t tg = (size_t)t->lt[leaf];
        double w = t->lw[leaf];
        if (agg == 2)
            acc[tg] = seen[tg] ? fmin(acc[tg], w) : w;
        else if (agg == 3)
            acc[tg] = seen[tg] ? fmax(acc[tg], w) : w;
        else
            acc[tg] += w;
        seen[tg] = true;
    }
    for (size_t j = 0; j < t->n_targets; j++)
        out[j] = agg == 0 ? acc[j] / (double)t->n_roots : acc[j];
}

static t5 g_t5;

static void test_tree_ensemble_v5(void **state) {
    (void)state;
    for (int iter = 0; iter < 40; iter++) {
        int agg = iter % 4;
        size_t nf = 4, nt = (size_t)ais_test_randint(1, 3), n = (size_t)ais_test_randint(0, 30);
        t5_random(&g_t5, (size_t)ais_test_randint(1, 8), nf, nt);
        ais_attrs *a = t5_attrs(&g_t5, agg);
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE((int64_t)n, (int64_t)nf), -1.5, 1.5);
        float *xv = ais_tensor_data(x);
        for (size_t i = 0; i < n * nf; i++) {
            if (ais_test_randint(0, 3) == 0) xv[i] = (float)ais_test_randint(0, 3);
            if (ais_test_randint(0, 9) == 0) xv[i] = NAN;
        }
        ais_tensor *y;
        AIS_ASSERT_OK(run_ml("TreeEnsemble", 5, a, (const ais_tensor *const[]){x}, 1, &y, 1));
        assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_F32);
        double want[30 * 3];
        for (size_t r = 0; r < n; r++)
            t5_ref(&g_t5, xv + r * nf, agg, want + r * nt);
        ais_test_assert_close_values(y, want, n * nt, 1e-5, 1e-5);
        ais_tensor_destroy(y);
        /* the same in double */
        ais_tensor *xd = new_tensor(AIS_DTYPE_F64, AIS_SHAPE((int64_t)n, (int64_t)nf));
        for (size_t i = 0; i < n * nf; i++)
            ((double *)ais_tensor_data(xd))[i] = xv[i];
        AIS_ASSERT_OK(run_ml("TreeEnsemble", 5, a, (const ais_tensor *const[]){xd}, 1, &y, 1));
        assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_F64);
        ais_test_assert_close_values(y, want, n * nt, 1e-5, 1e-5);
        ais_tensor_destroy(y);
        ais_tensor_destroy(xd);
        ais_tensor_destroy(x);
        ais_attrs_destroy(a);
    }
}

static void test_tree_ensemble_v5_hostile(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 4), -1, 1);
    t5_random(&g_t5, 2, 4, 2);
    t5 *t = &g_t5;
    ais_attrs *a = t5_attrs(t, 1);
    ais_tensor *y;
    AIS_ASSERT_OK(run_ml("TreeEnsemble", 5, a, (const ais_tensor *const[]){x}, 1, &y, 1));
    ais_tensor_destroy(y);
    /* opset 4 has no TreeEnsemble */
    assert_int_not_equal(run_ml("TreeEnsemble", 4, a, (const ais_tensor *const[]){x}, 1, &y, 1),
                         AIS_OK);
    AIS_ASSERT_OK(ais_attrs_set_int(a, "aggregate_function", 7));
    expect_error("TreeEnsemble", 5, a, x, 1, "aggregate_function must be");
    AIS_ASSERT_OK(ais_attrs_set_int(a, "aggregate_function", 1));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "post_transform", 9));
    expect_error("TreeEnsemble", 5, a, x, 1, "post_transform must be");
    AIS_ASSERT_OK(ais_attrs_set_int(a, "post_transform", 0));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "tree_roots", (const int64_t[]){0, 9999}, 2));
    expect_error("TreeEnsemble", 5, a, x, 1, "tree_roots[1] = 9999 is not a node");
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "tree_roots", t->roots, t->n_roots));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_trueleafs", t->tleaf, t->n - 1));
    expect_error("TreeEnsemble", 5, a, x, 1, "nodes_trueleafs has");
    /* a child index out of range, then a cycle back to the root */
    int64_t tid[T5_MAX];
    memcpy(tid, t->tid, sizeof tid);
    int64_t tleaf[T5_MAX];
    memcpy(tleaf, t->tleaf, sizeof tleaf);
    tleaf[0] = 1;
    tid[0] = (int64_t)t->n_leaves + 5;
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_trueleafs", tleaf, t->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_truenodeids", tid, t->n));
    expect_error("TreeEnsemble", 5, a, x, 1, "leaf index");
    tleaf[0] = 0;
    tid[0] = 0;
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_trueleafs", tleaf, t->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_truenodeids", tid, t->n));
    expect_error("TreeEnsemble", 5, a, x, 1, "cycle");
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_trueleafs", t->tleaf, t->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_truenodeids", t->tid, t->n));
    int64_t lt[T5_MAX];
    memcpy(lt, t->lt, sizeof lt);
    lt[0] = 2;
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "leaf_targetids", lt, t->n_leaves));
    expect_error("TreeEnsemble", 5, a, x, 1, "leaf_targetids[0] is 2");
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "leaf_targetids", t->lt, t->n_leaves));
    /* a mode beyond BRANCH_MEMBER, and a member node without membership_values */
    ais_tensor *m;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_U8, AIS_SHAPE((int64_t)t->n), &m));
    memset(ais_tensor_data(m), 0, t->n);
    ((uint8_t *)ais_tensor_data(m))[0] = 7;
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "nodes_modes", m));
    expect_error("TreeEnsemble", 5, a, x, 1, "nodes_modes[0] is 7");
    ais_attrs_destroy(a);
    t->n_members = 0;
    a = t5_attrs(t, 1);
    ((uint8_t *)ais_tensor_data(m))[0] = 6;
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "nodes_modes", m));
    expect_error("TreeEnsemble", 5, a, x, 1, "no membership_values");
    ais_tensor_destroy(m);
    /* features beyond X */
    ais_tensor *x2 = ais_test_rand_f32(AIS_SHAPE(2, 1), -1, 1);
    t5_random(t, 1, 4, 1);
    for (size_t i = 0; i < t->n; i++)
        t->feat[i] = 3;
    ais_attrs_destroy(a);
    a = t5_attrs(t, 1);
    expect_error("TreeEnsemble", 5, a, x2, 1, "feature");
    ais_tensor_destroy(x2);
    ais_tensor_destroy(x);
    ais_attrs_destroy(a);
}

/* ---- allocation failures ---- */

typedef struct sweep_ctx {
    const char *op;
    int64_t opset;
    ais_attrs *attrs;
    const ais_tensor *in[3];
    size_t n_in, n_out;
    ais_tensor *out[2];
} sweep_ctx;

static ais_status sweep_run(void *p) {
    sweep_ctx *c = p;
    return run_ml(c->op, c->opset, c->attrs, c->in, c->n_in, c->out, c->n_out);
}

static void test_oom(void **state) {
    (void)state;
    svc_model m;
    svc_random(&m, K_POLY);
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, (int64_t)m.f), -1, 1);
    ais_tensor *xd = new_tensor(AIS_DTYPE_F64, AIS_SHAPE(3, (int64_t)m.f));
    sweep_ctx c = {.op = "SVMClassifier", .opset = 1, .n_in = 1, .n_out = 2, .in = {xd}};
    c.attrs = svc_attrs(&m, true, true);
    assert_true(AIS_TEST_OOM_SWEEP("SVMClassifier", sweep_run, &c, 300, AIS_OWN_TENSORS(c.out)) >=
                1);
    ais_attrs_destroy(c.attrs);
    c = (sweep_ctx){.op = "SVMRegressor", .opset = 1, .n_in = 1, .n_out = 1, .in = {x}};
    AIS_ASSERT_OK(ais_attrs_create(&c.attrs));
    AIS_ASSERT_OK(ais_attrs_set_floats(c.attrs, "coefficients", m.coef, 2));
    AIS_ASSERT_OK(ais_attrs_set_floats(c.attrs, "rho", m.rho, 1));
    AIS_ASSERT_OK(ais_attrs_set_floats(c.attrs, "support_vectors", m.sv, 2 * m.f));
    AIS_ASSERT_OK(ais_attrs_set_int(c.attrs, "n_supports", 2));
    AIS_ASSERT_OK(ais_attrs_set_string(c.attrs, "kernel_type", "RBF"));
    assert_true(AIS_TEST_OOM_SWEEP("SVMRegressor", sweep_run, &c, 300, AIS_OWN_TENSORS(c.out)) >=
                1);
    ais_attrs_destroy(c.attrs);
    /* CategoryMapper to strings */
    ais_tensor *xi = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(4), (const double[]){1, 2, 3, 9});
    c = (sweep_ctx){.op = "CategoryMapper", .opset = 1, .n_in = 1, .n_out = 1, .in = {xi}};
    AIS_ASSERT_OK(ais_attrs_create(&c.attrs));
    AIS_ASSERT_OK(
        ais_attrs_set_strings(c.attrs, "cats_strings", (const char *[]){"a", "b", "c"}, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(c.attrs, "cats_int64s", (const int64_t[]){3, 2, 1}, 3));
    assert_true(AIS_TEST_OOM_SWEEP("CategoryMapper", sweep_run, &c, 300, AIS_OWN_TENSORS(c.out)) >=
                1);
    ais_attrs_destroy(c.attrs);
    /* FeatureVectorizer */
    c = (sweep_ctx){.op = "FeatureVectorizer", .opset = 1, .n_in = 2, .n_out = 1, .in = {x, xd}};
    AIS_ASSERT_OK(ais_attrs_create(&c.attrs));
    AIS_ASSERT_OK(
        ais_attrs_set_ints(c.attrs, "inputdimensions", (const int64_t[]){(int64_t)m.f, 2}, 2));
    assert_true(
        AIS_TEST_OOM_SWEEP("FeatureVectorizer", sweep_run, &c, 300, AIS_OWN_TENSORS(c.out)) >= 1);
    ais_attrs_destroy(c.attrs);
    /* TreeEnsemble with member sets, f16 X */
    t5_random(&g_t5, 3, 4, 2);
    ais_tensor *xh;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F16, AIS_SHAPE(5, 4), &xh));
    memset(ais_tensor_data(xh), 0, 5 * 4 * 2);
    c = (sweep_ctx){.op = "TreeEnsemble", .opset = 5, .n_in = 1, .n_out = 1, .in = {xh}};
    c.attrs = t5_attrs(&g_t5, 1);
    assert_true(AIS_TEST_OOM_SWEEP("TreeEnsemble", sweep_run, &c, 2000, AIS_OWN_TENSORS(c.out)) >=
                1);
    ais_attrs_destroy(c.attrs);
    ais_tensor_destroy(xh);
    ais_tensor_destroy(xi);
    ais_tensor_destroy(xd);
    ais_tensor_destroy(x);
}

/* ---- rows split across a pool ---- */

/* A model of any size, on the heap: c classes (0: a regressor), v vectors, f features. */
typedef struct big_model {
    size_t c, v, f;
    int k;
    float kp[3], *sv, *coef, rho[10], pa[10], pb[10];
    int64_t vpc[5];
} big_model;

static void big_random(big_model *m, size_t c, size_t v, size_t f, int k) {
    m->c = c;
    m->v = v;
    m->f = f;
    m->k = k;
    /* small gamma and coef0 keep POLY and SIGMOID off their flat ends */
    m->kp[0] = (float)ais_test_uniform(0.5, 1) / (float)f;
    m->kp[1] = (float)ais_test_uniform(-0.3, 0.3);
    m->kp[2] = 3;
    m->sv = malloc(v * f * sizeof(float));
    m->coef = malloc((c > 1 ? c - 1 : 1) * v * sizeof(float));
    assert_non_null(m->sv);
    assert_non_null(m->coef);
    ais_test_fill_uniform(m->sv, v * f, -1, 1);
    ais_test_fill_uniform(m->coef, (c > 1 ? c - 1 : 1) * v, -1, 1);
    ais_test_fill_uniform(m->rho, 10, -0.5, 0.5);
    ais_test_fill_uniform(m->pa, 10, -3, -0.5);
    ais_test_fill_uniform(m->pb, 10, -0.3, 0.3);
    size_t left = v;
    for (size_t i = 0; i < c; i++) {
        m->vpc[i] = i + 1 < c ? (int64_t)(v / c) : (int64_t)left;
        left -= (size_t)m->vpc[i];
    }
}

static ais_attrs *big_attrs(const big_model *m, bool proba, bool strings) {
    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    size_t np = m->c * (m->c - (m->c > 0)) / 2;
    AIS_ASSERT_OK(ais_attrs_set_string(a, "kernel_type", KERNELS[m->k]));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "kernel_params", m->kp, 3));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "support_vectors", m->sv, m->v * m->f));
    if (m->c == 0) {
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", m->coef, m->v));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "rho", m->rho, 1));
        AIS_ASSERT_OK(ais_attrs_set_int(a, "n_supports", (int64_t)m->v));
        return a;
    }
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "vectors_per_class", m->vpc, m->c));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", m->coef, (m->c - 1) * m->v));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "rho", m->rho, np));
    if (proba) {
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "prob_a", m->pa, np));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "prob_b", m->pb, np));
    }
    if (strings) {
        AIS_ASSERT_OK(ais_attrs_set_strings(a, "classlabels_strings",
                                            (const char *[]){"a", "bb", "ccc", "d", "e"}, m->c));
    } else {
        AIS_ASSERT_OK(
            ais_attrs_set_ints(a, "classlabels_ints", (const int64_t[]){7, 5, 3, 1, -1}, m->c));
    }
    return a;
}

/* The operator on `pool` (NULL: serial), prepared as a session prepares it. */
static ais_status run_pool(const char *op, const ais_attrs *a, ais__pool *pool, const ais_tensor *x,
                           ais_tensor **y, size_t n_out) {
    const ais__op_def *def = ais__op_find(ML, op, 1);
    assert_non_null(def);
    ais__op_ctx ctx = {.op_type = op, .node_name = "", .opset = 1, .attrs = a, .pool = pool};
    void *st = NULL;
    ais_status s = def->prepare(&ctx, &st);
    ctx.state = st;
    for (size_t i = 0; i < n_out; i++)
        y[i] = NULL;
    if (s == AIS_OK) s = ais__op_invoke(def, &ctx, (const ais_tensor *const[]){x}, 1, y, n_out);
    if (st) def->release(st);
    ais__op_ctx_release(&ctx);
    return s;
}

static void assert_same_tensor(const ais_tensor *a, const ais_tensor *b) {
    assert_int_equal(ais_tensor_dtype(a), ais_tensor_dtype(b));
    assert_int_equal(ais_tensor_size(a), ais_tensor_size(b));
    if (ais_tensor_dtype(a) == AIS_DTYPE_STRING) {
        for (size_t i = 0; i < ais_tensor_size(a); i++)
            assert_string_equal(ais_tensor_string_at(a, i), ais_tensor_string_at(b, i));
        return;
    }
    assert_memory_equal(ais_tensor_data(a), ais_tensor_data(b), ais_tensor_nbytes(a));
}

/*
 * Serial, 1, 2 and 4 threads give the same bits, on odd row counts (a last partial block, a
 * last block of one row) and models whose kernel products are cut into several column chunks
 * (f 40: 48 vectors per product). The serial result is checked against the double reference
 * (decision values of regressors and two-class classifiers) so that the chunks are right too.
 */
static void test_svm_threads(void **state) {
    (void)state;
    ais__pool *pools[3] = {NULL, NULL, NULL};
    const int32_t counts[3] = {1, 2, 4};
    for (int i = 0; i < 3; i++)
        AIS_ASSERT_OK(ais__pool_create(counts[i], &pools[i]));
    const size_t row_counts[] = {1, 129, 1001, 2305};
    for (int iter = 0; iter < 16; iter++) {
        int k = iter % 4;
        size_t c = (size_t)(iter / 4) % 4 + (iter / 4 % 4 ? 1 : 0); /* 0 (regressor), 2, 3, 4 */
        size_t f = iter % 3 == 0 ? 40 : (size_t)ais_test_randint(1, 9);
        size_t v = (size_t)ais_test_randint(c ? (int64_t)c : 1, 130);
        bool proba = iter % 2 == 1 && c > 0, strings = iter % 5 == 2 && c > 0;
        big_model m;
        big_random(&m, c, v, f, k);
        ais_attrs *a = big_attrs(&m, proba, strings);
        const char *op = c ? "SVMClassifier" : "SVMRegressor";
        size_t n_out = c ? 2 : 1;
        for (size_t ri = 0; ri < AIS__ARRAY_LEN(row_counts); ri++) {
            size_t rows = row_counts[ri];
            ais_tensor *x = ais_test_rand_f32(AIS_SHAPE((int64_t)rows, (int64_t)f), -1, 1);
            if (iter % 4 == 3) { /* f64 X: rows converted into each worker's scratch */
                ais_tensor *xd = new_tensor(AIS_DTYPE_F64, AIS_SHAPE((int64_t)rows, (int64_t)f));
                for (size_t i = 0; i < rows * f; i++)
                    ((double *)ais_tensor_data(xd))[i] = ((const float *)ais_tensor_data(x))[i];
                ais_tensor_destroy(x);
                x = xd;
            }
            ais_tensor *ref[2], *y[2];
            AIS_ASSERT_OK(run_pool(op, a, NULL, x, ref, n_out));
            if ((c == 0 || (c == 2 && !proba)) && ais_tensor_dtype(x) == AIS_DTYPE_F32) {
                const float *xv = ais_tensor_data(x), *z = ais_tensor_data(ref[n_out - 1]);
                for (size_t r = 0; r < rows; r += 7) {
                    double d = m.rho[0];
                    for (size_t j = 0; j < v; j++)
                        d += m.coef[j] * kernel_ref(k, xv + r * f, m.sv + j * f, f, m.kp);
                    double got = z[r * n_out + n_out - 1];
                    if (fabs(got - d) > 1e-3 * fmax(1, fabs(d)))
                        fail_msg("row %zu: %g, expected %g (kernel %s, %zu vectors, f %zu)", r, got,
                                 d, KERNELS[k], v, f);
                }
            }
            for (int p = 0; p < 3; p++) {
                AIS_ASSERT_OK(run_pool(op, a, pools[p], x, y, n_out));
                for (size_t o = 0; o < n_out; o++) {
                    assert_same_tensor(ref[o], y[o]);
                    ais_tensor_destroy(y[o]);
                }
            }
            for (size_t o = 0; o < n_out; o++)
                ais_tensor_destroy(ref[o]);
            ais_tensor_destroy(x);
        }
        ais_attrs_destroy(a);
        free(m.sv);
        free(m.coef);
    }
    for (int i = 0; i < 3; i++)
        ais__pool_destroy(pools[i]);
}

/* Allocation failures on the split path: string labels, probabilities, f64 X, 4 threads. */
typedef struct pool_sweep {
    const char *op;
    const ais_attrs *a;
    ais__pool *pool;
    const ais_tensor *x;
    size_t n_out;
    ais_tensor *y[2];
} pool_sweep;

static ais_status pool_sweep_run(void *p) {
    pool_sweep *c = p;
    return run_pool(c->op, c->a, c->pool, c->x, c->y, c->n_out);
}

static void test_svm_threads_oom(void **state) {
    (void)state;
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(4, &pool));
    big_model m;
    big_random(&m, 3, 60, 7, K_RBF);
    ais_tensor *x = new_tensor(AIS_DTYPE_F64, AIS_SHAPE(777, 7));
    pool_sweep c = {
        .op = "SVMClassifier", .a = big_attrs(&m, true, true), .pool = pool, .x = x, .n_out = 2};
    assert_true(AIS_TEST_OOM_SWEEP("SVMClassifier on 4 threads", pool_sweep_run, &c, 2000,
                                   AIS_OWN_TENSORS(c.y)) >= 1);
    ais_attrs_destroy((ais_attrs *)c.a);
    m.c = 0;
    c = (pool_sweep){
        .op = "SVMRegressor", .a = big_attrs(&m, false, false), .pool = pool, .x = x, .n_out = 1};
    assert_true(AIS_TEST_OOM_SWEEP("SVMRegressor on 4 threads", pool_sweep_run, &c, 300,
                                   AIS_OWN_TENSORS(c.y)) >= 1);
    ais_attrs_destroy((ais_attrs *)c.a);
    free(m.sv);
    free(m.coef);
    ais_tensor_destroy(x);
    ais__pool_destroy(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_svm_regressor),
        cmocka_unit_test(test_svm_classifier),
        cmocka_unit_test(test_svm_classifier_linear_form),
        cmocka_unit_test(test_svm_hostile),
        cmocka_unit_test(test_category_mapper),
        cmocka_unit_test(test_feature_vectorizer),
        cmocka_unit_test(test_tree_ensemble_v5),
        cmocka_unit_test(test_tree_ensemble_v5_hostile),
        cmocka_unit_test(test_oom),
        cmocka_unit_test(test_svm_threads),
        cmocka_unit_test(test_svm_threads_oom),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
