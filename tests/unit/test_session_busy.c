/* test_session_busy.c - a session misused from several threads at once: concurrent runs are
 * refused with AIS_E_BUSY (never a wrong result), destroying a session waits for a run in
 * flight, destroying the model under running sessions only drops the caller's reference, and
 * ais_session_node_info is refused while a run is in flight. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"

#define T 4
#define RUNS 300

static const char *const in_name[1] = {"pixels"};
static const char *const out_names[2] = {"probabilities", "digit"};

static ais_model *load_digits(void) {
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(AIS_SOURCE_DIR "/models/digits_mlp.onnx", NULL, &m));
    return m;
}

/* Outputs of `x` from a private session: what every run of the shared one must give. */
static void reference(ais_model *m, const ais_tensor *x, ais_tensor **out) {
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    out[0] = out[1] = NULL;
    AIS_ASSERT_OK(ais_session_run(s, (const char **)in_name, &x, 1, out_names, out, 2));
    ais_session_destroy(s);
}

static bool same_tensor(const ais_tensor *a, const ais_tensor *b) {
    return ais_tensor_dtype(a) == ais_tensor_dtype(b) && ais_tensor_ndim(a) == ais_tensor_ndim(b) &&
           memcmp(ais_tensor_shape(a), ais_tensor_shape(b), ais_tensor_ndim(a) * 8) == 0 &&
           ais_tensor_nbytes(a) == ais_tensor_nbytes(b) &&
           memcmp(ais_tensor_data(a), ais_tensor_data(b), ais_tensor_nbytes(a)) == 0;
}

typedef struct hammer {
    ais_session *s;
    const ais_tensor *x;
    ais_tensor *want[2];
    atomic_int *go;
    int ok, busy, wrong, other;
    char msg[256];
} hammer;

static void *hammer_main(void *arg) {
    hammer *h = arg;
    while (!atomic_load(h->go)) {
    }
    for (int r = 0; r < RUNS; r++) {
        ais_tensor *out[2] = {NULL, NULL};
        ais_status st = ais_session_run(h->s, (const char **)in_name, &h->x, 1, out_names, out, 2);
        if (st == AIS_OK) {
            if (same_tensor(out[0], h->want[0]) && same_tensor(out[1], h->want[1]))
                h->ok++;
            else
                h->wrong++;
        } else if (st == AIS_E_BUSY) {
            h->busy++;
            if (out[0] || out[1]) h->wrong++; /* a refused call leaves the slots alone */
            if (!strstr(ais_last_error(), "already running")) h->other++;
            sched_yield(); /* let the thread that holds it finish, so all threads get runs */
        } else {
            h->other++;
            snprintf(h->msg, sizeof h->msg, "%s: %s", ais_status_name(st), ais_last_error());
        }
        ais_tensor_destroy(out[0]);
        ais_tensor_destroy(out[1]);
    }
    return NULL;
}

/* Four threads on one session, each with its own batch size (so plans are rebuilt under the
 * others' feet if two runs ever overlapped). */
static void test_one_session_four_threads(void **state) {
    (void)state;
    ais_model *m = load_digits();
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    atomic_int go = 0;
    hammer h[T];
    ais_tensor *x[T];
    pthread_t th[T];
    for (int t = 0; t < T; t++) {
        memset(&h[t], 0, sizeof h[t]);
        x[t] = ais_test_rand_f32(AIS_SHAPE(50 + 37 * t, 64), 0, 16);
        reference(m, x[t], h[t].want);
        h[t].s = s;
        h[t].x = x[t];
        h[t].go = &go;
        assert_int_equal(pthread_create(&th[t], NULL, hammer_main, &h[t]), 0);
    }
    atomic_store(&go, 1);
    int ok = 0, busy = 0;
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        if (h[t].other) fail_msg("thread %d: %d unexpected failures: %s", t, h[t].other, h[t].msg);
        assert_int_equal(h[t].wrong, 0);
        assert_int_equal(h[t].ok + h[t].busy, RUNS);
        ok += h[t].ok;
        busy += h[t].busy;
    }
    assert_true(ok > 0);
    print_message("one session, %d threads: %d runs ok, %d refused busy\n", T, ok, busy);
    /* the session is free again and still right */
    ais_tensor *out[2] = {NULL, NULL};
    const ais_tensor *x0 = x[0];
    AIS_ASSERT_OK(ais_session_run(s, (const char **)in_name, &x0, 1, out_names, out, 2));
    assert_true(same_tensor(out[0], h[0].want[0]));
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    ais_session_destroy(s);
    for (int t = 0; t < T; t++) {
        ais_tensor_destroy(x[t]);
        ais_tensor_destroy(h[t].want[0]);
        ais_tensor_destroy(h[t].want[1]);
    }
    ais_model_destroy(m);
}

typedef struct long_run {
    ais_session *s;
    const ais_tensor *x;
    ais_tensor *out[2];
    ais_status st;
    atomic_int started, done;
} long_run;

static void *long_run_main(void *arg) {
    long_run *r = arg;
    atomic_store(&r->started, 1);
    r->st = ais_session_run(r->s, (const char **)in_name, &r->x, 1, out_names, r->out, 2);
    atomic_store(&r->done, 1);
    return NULL;
}

/* Waits until the other thread is inside its run: a probe run is then refused as busy. */
static void wait_until_running(long_run *r) {
    while (!atomic_load(&r->started)) {
    }
    const ais_tensor *tiny = NULL;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(1, 64), 0, 16);
    tiny = x;
    for (;;) {
        ais_tensor *out[2] = {NULL, NULL};
        ais_status st = ais_session_run(r->s, (const char **)in_name, &tiny, 1, out_names, out, 2);
        ais_tensor_destroy(out[0]);
        ais_tensor_destroy(out[1]);
        /* OK: ours won the race before the thread's run began, or after it ended */
        if (st == AIS_E_BUSY || atomic_load(&r->done)) break;
        AIS_ASSERT_OK(st);
    }
    ais_tensor_destroy(x);
}

/* Destroying a session and the model while a run is in flight on another thread: the run ends
 * with the right result and nothing is freed under it (ASan / TSan builds check the memory). */
static void test_destroy_during_run(void **state) {
    (void)state;
    for (int round = 0; round < 8; round++) {
        ais_model *m = load_digits();
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(4096, 64), 0, 16);
        ais_tensor *want[2];
        reference(m, x, want);
        long_run r;
        memset(&r, 0, sizeof r);
        AIS_ASSERT_OK(ais_session_create(m, NULL, &r.s));
        r.x = x;
        /* the session holds its own reference: the caller's can go before the run starts */
        if (round % 2) ais_model_destroy(m);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, long_run_main, &r), 0);
        wait_until_running(&r);
        if (round % 2 == 0) ais_model_destroy(m);
        ais_session_destroy(r.s); /* waits for the run */
        pthread_join(th, NULL);
        AIS_ASSERT_OK(r.st);
        assert_true(same_tensor(r.out[0], want[0]));
        assert_true(same_tensor(r.out[1], want[1]));
        ais_tensor_destroy(r.out[0]);
        ais_tensor_destroy(r.out[1]);
        ais_tensor_destroy(want[0]);
        ais_tensor_destroy(want[1]);
        ais_tensor_destroy(x);
    }
}

/* Readers during a run on another thread: ais_session_node_info is refused with AIS_E_BUSY
 * (leaving the out-parameters alone) instead of reading the placement a run rewrites (and a
 * run that starts while it reads is refused the same way), the count stays right, and both
 * answer normally once the run is over. */
static void test_node_info_during_run(void **state) {
    (void)state;
    ais_model *m = load_digits();
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(4096, 64), 0, 16);
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    const size_t n = ais_session_node_count(s);
    assert_true(n > 0);
    int refused = 0;
    /* Up to 2000 rounds: on a loaded machine the reader may not get a core while a run is in
     * flight for many rounds in a row (faster kernels made each run's window short). */
    for (int round = 0; round < 2000 && !refused; round++) {
        long_run r;
        memset(&r, 0, sizeof r);
        r.s = s;
        r.x = x;
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, long_run_main, &r), 0);
        while (!atomic_load(&r.started)) {
        }
        while (!atomic_load(&r.done)) {
            const char *name = "untouched", *op = "untouched";
            ais_backend be = (ais_backend)77;
            assert_int_equal(ais_session_node_count(s), n);
            ais_status st = ais_session_node_info(s, 0, &name, &op, &be);
            if (st == AIS_E_BUSY) {
                refused++;
                assert_string_equal(name, "untouched");
                assert_string_equal(op, "untouched");
                assert_int_equal(be, 77);
                assert_non_null(strstr(ais_last_error(), "ais_session_node_info"));
            } else {
                AIS_ASSERT_OK(st); /* before the run took the flag, or after it let go */
            }
        }
        pthread_join(th, NULL);
        /* the reader takes the flag too: a run that starts while it reads is the one refused */
        if (r.st == AIS_E_BUSY) {
            assert_null(r.out[0]);
            assert_null(r.out[1]);
        } else {
            AIS_ASSERT_OK(r.st);
        }
        ais_tensor_destroy(r.out[0]);
        ais_tensor_destroy(r.out[1]);
    }
    assert_true(refused > 0);
    /* the reader does not leave the flag set: the session runs and answers again */
    const char *name = NULL, *op = NULL;
    ais_backend be = (ais_backend)77;
    AIS_ASSERT_OK(ais_session_node_info(s, n - 1, &name, &op, &be));
    assert_non_null(name);
    assert_non_null(op);
    assert_int_equal(be, AIS_BACKEND_CPU);
    ais_tensor *out[2] = {NULL, NULL};
    const ais_tensor *x0 = x;
    AIS_ASSERT_OK(ais_session_run(s, (const char **)in_name, &x0, 1, out_names, out, 2));
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    ais_session_destroy(s);
    ais_tensor_destroy(x);
    ais_model_destroy(m);
}

static void test_busy_status_text(void **state) {
    (void)state;
    assert_string_equal(ais_status_name(AIS_E_BUSY), "AIS_E_BUSY");
    assert_string_equal(ais_status_string(AIS_E_BUSY), "in use by another thread");
    assert_string_equal(ais_status_name((ais_status)(AIS_E_BUSY + 1)), "AIS_E_UNKNOWN");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_status_text),
        cmocka_unit_test(test_one_session_four_threads),
        cmocka_unit_test(test_destroy_during_run),
        cmocka_unit_test(test_node_info_during_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
