/* test_sequence.c - sequence values and operators against naive references, and sessions that
 * carry sequences and strings between nodes (shape changes between runs, no leaks, refusals). */
#include <string.h>

#include "runtime/model.h"
#include "ops/op.h"
#include "test_util.h"

static ais_status run1(const char *op, ais_attrs *at, const ais_tensor *a, const ais_tensor *b,
                       const ais_tensor *c, ais_tensor **out) {
    const ais_tensor *in[3] = {a, b, c};
    size_t n = c ? 3 : b ? 2 : a ? 1 : 0;
    *out = NULL;
    return ais_test_run_op(op, at, in, n, out, 1);
}

static ais_tensor *scalar_i64(int64_t v) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I64, NULL, 0, &t));
    *(int64_t *)ais_tensor_data(t) = v;
    return t;
}

static void assert_same_tensor(const ais_tensor *a, const ais_tensor *b) {
    assert_int_equal(ais_tensor_dtype(a), ais_tensor_dtype(b));
    assert_true(ais__tensor_same_shape(a, b));
    assert_memory_equal(ais_tensor_data(a), ais_tensor_data(b), ais_tensor_nbytes(a));
}

/* Construct, Insert (all positions, negative too), Erase, At, Length vs a list kept here. */
static void test_list_ops(void **state) {
    (void)state;
    enum { N = 4 };
    ais_tensor *x[N + 1];
    for (int i = 0; i <= N; i++)
        x[i] = ais_test_rand_f32(AIS_SHAPE((int64_t)ais_test_randint(0, 3), 2), -1, 1);
    ais_tensor *seq = NULL;
    const ais_tensor *in[N] = {x[0], x[1], x[2], x[3]};
    AIS_ASSERT_OK(ais_test_run_op("SequenceConstruct", NULL, in, N, &seq, 1));
    const ais_tensor *ref[N + 1] = {x[0], x[1], x[2], x[3]};
    size_t n = N;
    for (int64_t p = -(int64_t)n; p <= (int64_t)n; p++) {
        ais_tensor *pos = scalar_i64(p), *s2 = NULL, *len = NULL;
        AIS_ASSERT_OK(run1("SequenceInsert", NULL, seq, x[N], pos, &s2));
        AIS_ASSERT_OK(run1("SequenceLength", NULL, s2, NULL, NULL, &len));
        assert_int_equal(*(int64_t *)ais_tensor_data(len), n + 1);
        size_t at = (size_t)(p < 0 ? p + (int64_t)n : p);
        for (size_t k = 0; k <= n; k++) {
            const ais_tensor *want = k < at ? ref[k] : k == at ? x[N] : ref[k - 1];
            ais_tensor *kk = scalar_i64((int64_t)k - (k % 2 ? (int64_t)n + 1 : 0)), *got = NULL;
            AIS_ASSERT_OK(run1("SequenceAt", NULL, s2, kk, NULL, &got));
            assert_same_tensor(got, want);
            ais_tensor_destroy(got);
            ais_tensor_destroy(kk);
        }
        ais_tensor_destroy(pos);
        ais_tensor_destroy(len);
        ais_tensor_destroy(s2);
    }
    /* insert without a position appends; erase without one drops the last */
    ais_tensor *s3 = NULL, *s4 = NULL, *last = NULL, *m1 = scalar_i64(-1);
    AIS_ASSERT_OK(run1("SequenceInsert", NULL, seq, x[N], NULL, &s3));
    AIS_ASSERT_OK(run1("SequenceAt", NULL, s3, m1, NULL, &last));
    assert_same_tensor(last, x[N]);
    ais_tensor_destroy(last);
    AIS_ASSERT_OK(run1("SequenceErase", NULL, s3, NULL, NULL, &s4));
    AIS_ASSERT_OK(run1("SequenceAt", NULL, s4, m1, NULL, &last));
    assert_same_tensor(last, x[N - 1]);
    ais_tensor_destroy(last);
    /* erase at 1 */
    ais_tensor *one = scalar_i64(1), *s5 = NULL, *got = NULL;
    AIS_ASSERT_OK(run1("SequenceErase", NULL, seq, one, NULL, &s5));
    AIS_ASSERT_OK(run1("SequenceAt", NULL, s5, one, NULL, &got));
    assert_same_tensor(got, x[2]);
    ais_tensor_destroy(got);
    /* copies of sequences are deep enough to outlive the original */
    ais_tensor *cp = NULL;
    AIS_ASSERT_OK(ais_tensor_copy(seq, &cp));
    ais_tensor_destroy(seq);
    AIS_ASSERT_OK(run1("SequenceAt", NULL, cp, one, NULL, &got));
    assert_same_tensor(got, x[1]);
    ais_tensor_destroy(got);

    /* errors: position range, dtype, a tensor where a sequence belongs */
    ais_tensor *big = scalar_i64(N), *bad = NULL, *i32 = NULL;
    AIS_ASSERT_STATUS(run1("SequenceAt", NULL, cp, big, NULL, &bad), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("position 4 is out of range [-4, 3]");
    AIS_ASSERT_STATUS(run1("SequenceErase", NULL, cp, big, NULL, &bad), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I32, AIS_SHAPE(2), &i32));
    AIS_ASSERT_STATUS(run1("SequenceInsert", NULL, cp, i32, NULL, &bad), AIS_E_DTYPE);
    ais_test_assert_error_contains("holds f32 tensors, the tensor is i32");
    AIS_ASSERT_STATUS(run1("SequenceAt", NULL, cp, i32, NULL, &bad), AIS_E_SHAPE);
    ais_test_assert_error_contains("scalar");
    AIS_ASSERT_STATUS(run1("SequenceLength", NULL, x[0], NULL, NULL, &bad), AIS_E_DTYPE);
    ais_test_assert_error_contains("must be a sequence");
    AIS_ASSERT_STATUS(run1("Relu", NULL, cp, NULL, NULL, &bad), AIS_E_DTYPE);
    ais_test_assert_error_contains("sequence");
    const ais_tensor *mixed[2] = {x[0], i32};
    AIS_ASSERT_STATUS(ais_test_run_op("SequenceConstruct", NULL, mixed, 2, &bad, 1), AIS_E_DTYPE);
    assert_null(bad);
    ais_tensor *empty = NULL;
    AIS_ASSERT_OK(run1("SequenceEmpty", NULL, NULL, NULL, NULL, &empty));
    AIS_ASSERT_STATUS(run1("SequenceErase", NULL, empty, NULL, NULL, &bad), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("empty");
    ais_tensor *drop[] = {empty, i32, big, cp, one, s5, s4, s3, m1};
    for (size_t i = 0; i < AIS__ARRAY_LEN(drop); i++) ais_tensor_destroy(drop[i]);
    for (int i = 0; i <= N; i++) ais_tensor_destroy(x[i]);
}

/* SplitToSequence (no split / scalar / list; keepdims) then ConcatFromSequence back, each
 * checked element by element against index arithmetic. */
static void test_split_concat(void **state) {
    (void)state;
    for (int iter = 0; iter < 24; iter++) {
        int64_t d0 = ais_test_randint(1, 4), d1 = ais_test_randint(1, 5), d2 = ais_test_randint(1, 3);
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(d0, d1, d2), -1, 1);
        const float *px = ais_tensor_data(x);
        int64_t axis = ais_test_randint(-3, 2), ax = axis < 0 ? axis + 3 : axis;
        int64_t dims[3] = {d0, d1, d2}, dim = dims[ax];
        int mode = iter % 3; /* 0: no split, 1: scalar, 2: list */
        ais_attrs *at = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&at));
        AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", axis));
        int keep = iter % 2;
        if (mode == 0) AIS_ASSERT_OK(ais_attrs_set_int(at, "keepdims", keep));
        int64_t lens[8], nl = 0;
        ais_tensor *split = NULL;
        if (mode == 0) {
            for (int64_t i = 0; i < dim; i++) lens[nl++] = 1;
        } else if (mode == 1) {
            int64_t c = ais_test_randint(1, 3);
            split = scalar_i64(c);
            for (int64_t left = dim; left > 0; left -= c) lens[nl++] = left < c ? left : c;
        } else {
            int64_t left = dim;
            while (left > 0) {
                /* zero-length pieces allowed, but the last free slot takes the rest */
                int64_t c = nl == 7 ? left : ais_test_randint(0, left);
                lens[nl++] = c;
                left -= c;
            }
            AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I64, AIS_SHAPE(nl), &split));
            memcpy(ais_tensor_data(split), lens, (size_t)nl * sizeof(int64_t));
        }
        ais_tensor *seq = NULL, *len = NULL;
        AIS_ASSERT_OK(run1("SplitToSequence", at, x, split, NULL, &seq));
        AIS_ASSERT_OK(run1("SequenceLength", NULL, seq, NULL, NULL, &len));
        assert_int_equal(*(int64_t *)ais_tensor_data(len), nl);
        int64_t start = 0;
        bool squeezed = mode == 0 && !keep;
        for (int64_t k = 0; k < nl; k++) {
            ais_tensor *kk = scalar_i64(k), *item = NULL;
            AIS_ASSERT_OK(run1("SequenceAt", NULL, seq, kk, NULL, &item));
            assert_int_equal(ais_tensor_ndim(item), squeezed ? 2 : 3);
            const float *pi = ais_tensor_data(item);
            size_t q = 0;
            for (int64_t a = 0; a < d0; a++)
                for (int64_t b = 0; b < d1; b++)
                    for (int64_t c = 0; c < d2; c++) {
                        int64_t idx[3] = {a, b, c};
                        if (idx[ax] < start || idx[ax] >= start + lens[k]) continue;
                        assert_float_equal(pi[q++], px[(a * d1 + b) * d2 + c], 0);
                    }
            assert_int_equal(q, ais_tensor_size(item));
            start += lens[k];
            ais_tensor_destroy(item);
            ais_tensor_destroy(kk);
        }
        /* concatenating the pieces again gives x back (not for squeezed pieces: stack them) */
        ais_attrs *ca = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&ca));
        AIS_ASSERT_OK(ais_attrs_set_int(ca, "axis", axis));
        if (squeezed) AIS_ASSERT_OK(ais_attrs_set_int(ca, "new_axis", 1));
        ais_tensor *y = NULL;
        if (nl > 0) {
            AIS_ASSERT_OK(run1("ConcatFromSequence", ca, seq, NULL, NULL, &y));
            assert_same_tensor(y, x);
            ais_tensor_destroy(y);
        }
        ais_attrs_destroy(ca);
        ais_attrs_destroy(at);
        ais_tensor_destroy(len);
        ais_tensor_destroy(seq);
        ais_tensor_destroy(split);
        ais_tensor_destroy(x);
    }
}

/* ConcatFromSequence with new_axis stacks at every position, negative axes included. */
static void test_concat_new_axis(void **state) {
    (void)state;
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    const ais_tensor *in[2] = {a, b};
    ais_tensor *seq = NULL, *y = NULL;
    AIS_ASSERT_OK(ais_test_run_op("SequenceConstruct", NULL, in, 2, &seq, 1));
    const float *pa = ais_tensor_data(a), *pb = ais_tensor_data(b);
    for (int64_t axis = -3; axis <= 2; axis++) {
        ais_attrs *at = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&at));
        AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", axis));
        AIS_ASSERT_OK(ais_attrs_set_int(at, "new_axis", 1));
        AIS_ASSERT_OK(run1("ConcatFromSequence", at, seq, NULL, NULL, &y));
        int64_t ax = axis < 0 ? axis + 3 : axis;
        assert_int_equal(ais_tensor_ndim(y), 3);
        assert_int_equal(ais_tensor_shape(y)[ax], 2);
        const float *py = ais_tensor_data(y);
        const int64_t *yd = ais_tensor_shape(y);
        for (int64_t i = 0; i < yd[0]; i++)
            for (int64_t j = 0; j < yd[1]; j++)
                for (int64_t k = 0; k < yd[2]; k++) {
                    int64_t idx[3] = {i, j, k}, src[2], q = 0;
                    for (int d = 0; d < 3; d++)
                        if (d != ax) src[q++] = idx[d];
                    const float *p = idx[ax] ? pb : pa;
                    assert_float_equal(py[(i * yd[1] + j) * yd[2] + k], p[src[0] * 3 + src[1]], 0);
                }
        ais_tensor_destroy(y);
        ais_attrs_destroy(at);
    }
    /* errors: axis out of range, shapes that disagree, an empty sequence, no axis */
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", 2));
    AIS_ASSERT_STATUS(run1("ConcatFromSequence", at, seq, NULL, NULL, &y), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("axis 2 is out of range for rank 2");
    AIS_ASSERT_STATUS(run1("ConcatFromSequence", NULL, seq, NULL, NULL, &y),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("axis");
    ais_tensor *c = ais_test_rand_f32(AIS_SHAPE(3, 3), -1, 1), *seq2 = NULL, *e = NULL;
    AIS_ASSERT_OK(run1("SequenceInsert", NULL, seq, c, NULL, &seq2));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", 1));
    AIS_ASSERT_STATUS(run1("ConcatFromSequence", at, seq2, NULL, NULL, &y), AIS_E_SHAPE);
    ais_test_assert_error_contains("tensor 2 has shape [3, 3], tensor 0 [2, 3]");
    AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", 0));
    AIS_ASSERT_OK(run1("ConcatFromSequence", at, seq2, NULL, NULL, &y));
    assert_int_equal(ais_tensor_shape(y)[0], 7);
    ais_tensor_destroy(y);
    AIS_ASSERT_OK(run1("SequenceEmpty", NULL, NULL, NULL, NULL, &e));
    AIS_ASSERT_STATUS(run1("ConcatFromSequence", at, e, NULL, NULL, &y), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("empty");
    /* split lengths that do not add up */
    ais_tensor *sp = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I64, AIS_SHAPE(2), &sp));
    ((int64_t *)ais_tensor_data(sp))[0] = 1;
    ((int64_t *)ais_tensor_data(sp))[1] = 2;
    AIS_ASSERT_STATUS(run1("SplitToSequence", at, a, sp, NULL, &y), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("sum to 2");
    ais_tensor *drop[] = {sp, e, seq2, c, seq, a, b};
    for (size_t i = 0; i < AIS__ARRAY_LEN(drop); i++) ais_tensor_destroy(drop[i]);
    ais_attrs_destroy(at);
}

/* ---- sessions ---- */

static void add_node(ais__graph *g, const char *op, ais_attrs *at, const char *const *ins,
                     size_t n_in, const char *out) {
    const char *outs[1] = {out};
    AIS_ASSERT_OK(ais__graph_add_node(g, out, op, "", at, ins, n_in, outs, 1, NULL));
}

static void add_io(ais__graph *g, const char *name, ais_dtype dt, int32_t ndim, bool input) {
    int32_t v;
    AIS_ASSERT_OK(ais__graph_value(g, name, &v));
    if (input) {
        int64_t dims[2] = {-1, -1};
        AIS_ASSERT_OK(ais__graph_declare(g, v, dt, ndim, dims, NULL));
        AIS_ASSERT_OK(ais__graph_add_input(g, v));
    } else {
        AIS_ASSERT_OK(ais__graph_add_output(g, v));
    }
}

/* x [b, 3] -> SplitToSequence(axis 0) -> insert x at 0 -> concat(axis 0) = [x; rows of x]
 * and the length b + 1; also a sequence output "seq2" when `seq_out`. */
static ais_model *seq_model(bool seq_out, int64_t opt_level) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    add_io(g, "x", AIS_DTYPE_F32, 2, true);
    const char *in1[1] = {"x"};
    add_node(g, "SplitToSequence", NULL, in1, 1, "seq");
    ais_tensor *zero = scalar_i64(0);
    int32_t zv;
    AIS_ASSERT_OK(ais__graph_value(g, "zero", &zv));
    AIS_ASSERT_OK(ais__graph_set_constant(g, zv, zero));
    const char *in3[3] = {"seq", "x", "zero"};
    add_node(g, "SequenceInsert", NULL, in3, 3, "seq2");
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", 0));
    const char *in_s[1] = {"seq2"};
    add_node(g, "ConcatFromSequence", at, in_s, 1, "y");
    add_node(g, "SequenceLength", NULL, in_s, 1, "len");
    add_io(g, "y", AIS_DTYPE_F32, 2, false);
    add_io(g, "len", AIS_DTYPE_I64, 0, false);
    if (seq_out) add_io(g, "seq2", AIS_DTYPE_UNDEFINED, 0, false);
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_OPT_LEVEL, opt_level));
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, o, &m));
    ais_options_destroy(o);
    return m;
}

static void test_session_sequences(void **state) {
    (void)state;
    ais_test_alloc_install(-1, false);
    long live0 = ais_test_alloc_live();
    for (int64_t opt = 0; opt <= 2; opt += 2) {
        ais_model *m = seq_model(false, opt);
        ais_session *s = NULL;
        AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
        for (int run = 0; run < 4; run++) {
            int64_t b = run % 2 ? 5 : 2;
            ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(b, 3), -1, 1);
            ais_tensor *out[2] = {NULL, NULL};
            const ais_tensor *in[1] = {x};
            AIS_ASSERT_OK(ais_session_run(s, NULL, in, 1, NULL, out, 2));
            assert_int_equal(ais_tensor_shape(out[0])[0], 2 * b);
            const float *px = ais_tensor_data(x), *py = ais_tensor_data(out[0]);
            for (int64_t i = 0; i < 2 * b * 3; i++)
                assert_float_equal(py[i], px[i % (b * 3)], 0);
            assert_int_equal(*(int64_t *)ais_tensor_data(out[1]), b + 1);
            ais_tensor_destroy(out[0]);
            ais_tensor_destroy(out[1]);
            ais_tensor_destroy(x);
        }
        ais_session_destroy(s);
        ais_model_destroy(m);
    }
    /* a sequence output is fetched into a NULL slot: x, then the rows of x */
    ais_model *m = seq_model(true, 2);
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    ais_tensor *out[3] = {NULL, NULL, NULL};
    const ais_tensor *in[1] = {x};
    AIS_ASSERT_OK(ais_session_run(s, NULL, in, 1, NULL, out, 3));
    assert_int_equal(ais_tensor_dtype(out[2]), AIS_DTYPE_SEQUENCE);
    assert_int_equal(ais_sequence_length(out[2]), 3);
    assert_int_equal(ais_sequence_elem_dtype(out[2]), AIS_DTYPE_F32);
    assert_same_tensor(ais_sequence_at(out[2], 0), x);
    for (size_t r = 0; r < 2; r++) {
        const ais_tensor *row = ais_sequence_at(out[2], r + 1);
        assert_int_equal(ais_tensor_shape(row)[0], 1);
        assert_memory_equal(ais_tensor_data(row), (float *)ais_tensor_data(x) + 3 * r,
                            3 * sizeof(float));
    }
    assert_null(ais_sequence_at(out[2], 3));
    for (int k = 0; k < 3; k++) ais_tensor_destroy(out[k]);
    /* a tensor given for a sequence output is refused, and created outputs are taken back */
    out[0] = out[1] = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, NULL, 0, &out[2]));
    AIS_ASSERT_STATUS(ais_session_run(s, NULL, in, 1, NULL, out, 3), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("'seq2' is a sequence");
    assert_null(out[0]);
    ais_tensor_destroy(out[2]);
    ais_tensor_destroy(x);
    ais_session_destroy(s);
    ais_model_destroy(m);
    assert_int_equal(ais_test_alloc_live(), live0);
    ais_test_alloc_remove();
}

/* strings through a session: x (string [n]) -> StringNormalizer -> Identity -> y, twice with
 * different n, into new and caller-provided outputs. */
static void test_session_strings(void **state) {
    (void)state;
    ais_test_alloc_install(-1, false);
    long live0 = ais_test_alloc_live();
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    add_io(g, "x", AIS_DTYPE_STRING, 1, true);
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_string(at, "case_change_action", "UPPER"));
    const char *stop[1] = {"drop"};
    AIS_ASSERT_OK(ais_attrs_set_strings(at, "stopwords", stop, 1));
    const char *in1[1] = {"x"}, *in2[1] = {"n"};
    add_node(g, "StringNormalizer", at, in1, 1, "n");
    add_node(g, "Identity", NULL, in2, 1, "y");
    add_io(g, "y", AIS_DTYPE_STRING, 1, false);
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, NULL, &m));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    const char *v1[3] = {"a", "drop", "Bc"}, *v2[5] = {"DROP", "x", "yz", "drop", "w"};
    const char *w1[2] = {"A", "BC"}, *w2[3] = {"X", "YZ", "W"};
    for (int run = 0; run < 4; run++) {
        bool first = run % 2 == 0;
        ais_tensor *x = NULL, *y = NULL;
        AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(first ? 3 : 5), first ? v1 : v2, &x));
        if (run >= 2) AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_STRING, AIS_SHAPE(first ? 2 : 3), &y));
        const ais_tensor *in[1] = {x};
        AIS_ASSERT_OK(ais_session_run(s, NULL, in, 1, NULL, &y, 1));
        ais_tensor_destroy(x);
        assert_int_equal(ais_tensor_size(y), first ? 2 : 3);
        for (size_t i = 0; i < ais_tensor_size(y); i++)
            assert_string_equal(ais_tensor_string_at(y, i), first ? w1[i] : w2[i]);
        ais_tensor_destroy(y);
    }
    /* a numeric tensor for the string input */
    ais_tensor *f = NULL, *y = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(2), &f));
    const ais_tensor *in[1] = {f};
    AIS_ASSERT_STATUS(ais_session_run(s, NULL, in, 1, NULL, &y, 1), AIS_E_DTYPE);
    ais_test_assert_error_contains("expected dtype string, got f32");
    ais_tensor_destroy(f);
    ais_session_destroy(s);
    ais_model_destroy(m);
    assert_int_equal(ais_test_alloc_live(), live0);
    ais_test_alloc_remove();
}

typedef struct sweep_ctx {
    ais_model *m;
    ais_session *s;
    ais_tensor *x, *out[2];
} sweep_ctx;

static ais_status sweep_fn(void *p) {
    sweep_ctx *c = p;
    AIS__CHECK(ais_session_create(c->m, NULL, &c->s));
    const ais_tensor *in[1] = {c->x};
    return ais_session_run(c->s, NULL, in, 1, NULL, c->out, 2);
}

static void test_oom_sweep(void **state) {
    (void)state;
    sweep_ctx c = {.m = seq_model(false, 2), .x = ais_test_rand_f32(AIS_SHAPE(3, 3), -1, 1)};
    long n = AIS_TEST_OOM_SWEEP("session with sequences", sweep_fn, &c, 400, AIS_OWN_SESSION(&c.s),
                                AIS_OWN_TENSORS(c.out));
    assert_true(n >= 10);
    ais_tensor_destroy(c.x);
    ais_model_destroy(c.m);
}

/* The public sequence API: copies, accessors on non-sequences, refusals naming the problem. */
static void test_public_sequence(void **state) {
    (void)state;
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1), *b = ais_test_rand_f32(AIS_SHAPE(0), 0, 1);
    const ais_tensor *items[2] = {a, b};
    ais_tensor *seq = NULL;
    AIS_ASSERT_OK(ais_tensor_create_sequence(AIS_DTYPE_F32, items, 2, &seq));
    assert_int_equal(ais_tensor_dtype(seq), AIS_DTYPE_SEQUENCE);
    assert_int_equal(ais_tensor_ndim(seq), 0);
    assert_int_equal(ais_sequence_length(seq), 2);
    assert_same_tensor(ais_sequence_at(seq, 0), a);
    assert_same_tensor(ais_sequence_at(seq, 1), b);
    /* items are copies: writing the caller's tensor leaves the sequence alone */
    float before = ((float *)ais_tensor_data(a))[0];
    ((float *)ais_tensor_data(a))[0] = before + 1;
    assert_float_equal(((const float *)ais_tensor_data(ais_sequence_at(seq, 0)))[0], before, 0);
    ais_tensor *cp = NULL;
    AIS_ASSERT_OK(ais_tensor_copy(seq, &cp));
    ais_tensor_destroy(seq);
    assert_int_equal(ais_sequence_length(cp), 2);
    assert_float_equal(((const float *)ais_tensor_data(ais_sequence_at(cp, 0)))[0], before, 0);
    ais_tensor_destroy(cp);
    /* empty */
    AIS_ASSERT_OK(ais_tensor_create_sequence(AIS_DTYPE_I64, NULL, 0, &seq));
    assert_int_equal(ais_sequence_length(seq), 0);
    assert_int_equal(ais_sequence_elem_dtype(seq), AIS_DTYPE_I64);
    assert_null(ais_sequence_at(seq, 0));
    /* a sequence cannot be an item; accessors on tensors and NULL */
    const ais_tensor *nested[1] = {seq};
    ais_tensor *bad = a;
    AIS_ASSERT_STATUS(ais_tensor_create_sequence(AIS_DTYPE_SEQUENCE, nested, 1, &bad), AIS_E_DTYPE);
    ais_test_assert_error_contains("not a tensor dtype");
    assert_null(bad);
    AIS_ASSERT_STATUS(ais_tensor_create_sequence(AIS_DTYPE_I64, nested, 1, &bad), AIS_E_DTYPE);
    ais_test_assert_error_contains("item 0 is sequence");
    ais_tensor_destroy(seq);
    assert_int_equal(ais_sequence_length(a), 0);
    assert_int_equal(ais_sequence_elem_dtype(a), AIS_DTYPE_UNDEFINED);
    assert_null(ais_sequence_at(a, 0));
    assert_null(ais_sequence_at(NULL, 0));
    assert_int_equal(ais_sequence_length(NULL), 0);
    AIS_ASSERT_STATUS(ais_tensor_create_sequence(AIS_DTYPE_I64, items, 2, &bad), AIS_E_DTYPE);
    ais_test_assert_error_contains("item 0 is f32, elem_dtype is i64");
    const ais_tensor *holes[2] = {a, NULL};
    AIS_ASSERT_STATUS(ais_tensor_create_sequence(AIS_DTYPE_F32, holes, 2, &bad),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("item 1 is NULL");
    AIS_ASSERT_STATUS(ais_tensor_create_sequence(AIS_DTYPE_F32, NULL, 1, &bad),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("items is NULL");
    AIS_ASSERT_STATUS(ais_tensor_create_sequence(AIS_DTYPE_F32, items, 2, NULL),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_tensor_create(AIS_DTYPE_SEQUENCE, NULL, 0, &bad), AIS_E_DTYPE);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
}

/* A sequence graph input: s (sequence) and t -> SequenceInsert -> Identity -> out (sequence),
 * fed with sequences of different lengths and item shapes. */
static void test_session_sequence_input(void **state) {
    (void)state;
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    add_io(g, "s", AIS_DTYPE_SEQUENCE, 0, true);
    add_io(g, "t", AIS_DTYPE_F32, -1, true);
    const char *ins[2] = {"s", "t"}, *in1[1] = {"mid"};
    add_node(g, "SequenceInsert", NULL, ins, 2, "mid");
    add_node(g, "Identity", NULL, in1, 1, "out");
    add_io(g, "out", AIS_DTYPE_UNDEFINED, 0, false);
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, NULL, &m));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    for (int run = 0; run < 4; run++) {
        size_t n = (size_t)ais_test_randint(0, 3);
        ais_tensor *items[3], *t = ais_test_rand_f32(AIS_SHAPE(run + 1), -1, 1), *seq = NULL;
        for (size_t i = 0; i < n; i++) items[i] = ais_test_rand_f32(AIS_SHAPE(2, run), -1, 1);
        AIS_ASSERT_OK(ais_tensor_create_sequence(AIS_DTYPE_F32, (const ais_tensor *const *)items,
                                                 n, &seq));
        const ais_tensor *in[2] = {seq, t};
        ais_tensor *out = NULL;
        AIS_ASSERT_OK(ais_session_run(s, NULL, in, 2, NULL, &out, 1));
        assert_int_equal(ais_sequence_length(out), n + 1);
        for (size_t i = 0; i < n; i++) assert_same_tensor(ais_sequence_at(out, i), items[i]);
        assert_same_tensor(ais_sequence_at(out, n), t);
        ais_tensor_destroy(out);
        /* a tensor where the sequence belongs */
        in[0] = t;
        AIS_ASSERT_STATUS(ais_session_run(s, NULL, in, 2, NULL, &out, 1), AIS_E_DTYPE);
        ais_test_assert_error_contains("input 's': expected dtype sequence");
        for (size_t i = 0; i < n; i++) ais_tensor_destroy(items[i]);
        ais_tensor_destroy(seq);
        ais_tensor_destroy(t);
    }
    ais_session_destroy(s);
    ais_model_destroy(m);
}

typedef struct seq_sweep {
    ais_tensor *items[3], *seq, *copy;
} seq_sweep;

static ais_status seq_sweep_fn(void *p) {
    seq_sweep *c = p;
    AIS__CHECK(ais_tensor_create_sequence(AIS_DTYPE_F32, (const ais_tensor *const *)c->items, 3,
                                          &c->seq));
    return ais_tensor_copy(c->seq, &c->copy);
}

static void test_public_sequence_oom(void **state) {
    (void)state;
    seq_sweep c = {{NULL}, NULL, NULL};
    for (int i = 0; i < 3; i++) c.items[i] = ais_test_rand_f32(AIS_SHAPE(i + 1, 2), -1, 1);
    long n = AIS_TEST_OOM_SWEEP("ais_tensor_create_sequence", seq_sweep_fn, &c, 100,
                                AIS_OWN_TENSOR(&c.seq), AIS_OWN_TENSOR(&c.copy));
    assert_true(n >= 4);
    for (int i = 0; i < 3; i++) ais_tensor_destroy(c.items[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_ops),          cmocka_unit_test(test_split_concat),
        cmocka_unit_test(test_concat_new_axis),   cmocka_unit_test(test_session_sequences),
        cmocka_unit_test(test_session_strings),   cmocka_unit_test(test_oom_sweep),
        cmocka_unit_test(test_public_sequence),   cmocka_unit_test(test_session_sequence_input),
        cmocka_unit_test(test_public_sequence_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
