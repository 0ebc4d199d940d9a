/*
 * test_threads.c - the thread model (issue 10 item 4): sessions without their own count follow
 * ais_set_num_threads (default: the physical cores), sessions with different counts in one
 * process give the same results, all sessions share one set of workers (so 8 sessions on a
 * small machine do not start 8 sets of threads: counted in /proc/self/task), and neither
 * creating nor running a session changes OpenBLAS's process-wide thread count.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/graph.h"
#include "runtime/model.h"
#include "test_util.h"

extern int openblas_get_num_threads(void);

#define ROWS 256
#define K 192
#define COLS 160

/* z = Relu(x W) + x W: a product large enough for OpenBLAS to split and elementwise work large
 * enough for our pool. */
static ais_model *make_model(ais_tensor **w_out) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(ROWS, K), NULL);
    ais_tensor *w = ais_test_rand_f32(AIS_SHAPE(K, COLS), -1, 1);
    ais_tensor *w_copy = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(K, COLS), &w_copy));
    memcpy(ais_tensor_data(w_copy), ais_tensor_data(w), ais_tensor_nbytes(w));
    ais_test_graph_const(g, "w", w);
    ais_test_graph_node(g, "mm", "MatMul", "x", "w", "y");
    ais_test_graph_node(g, "relu", "Relu", "y", NULL, "r");
    ais_test_graph_node(g, "add", "Add", "r", "y", "z");
    ais_test_graph_output(g, "z");
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, NULL, &m));
    *w_out = w_copy;
    return m;
}

/* The same, computed here in double. */
static void reference(const float *x, const float *w, float *z) {
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < COLS; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++)
                acc += (double)x[i * K + k] * w[k * COLS + j];
            z[i * COLS + j] = (float)(acc > 0 ? 2 * acc : acc);
        }
}

static ais_session *session_with(ais_model *m, int64_t threads) {
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    if (threads >= 0) AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_THREADS, threads));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, o, &s));
    ais_options_destroy(o);
    return s;
}

static void run_and_check(ais_session *s, const ais_tensor *x, const float *want) {
    const ais_tensor *in[1] = {x};
    ais_tensor *out[1] = {NULL};
    AIS_ASSERT_OK(ais_session_run(s, NULL, in, 1, NULL, out, 1));
    const float *z = ais_tensor_data(out[0]);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        assert_true(fabsf(z[i] - want[i]) <= 1e-3f + 1e-4f * fabsf(want[i]));
    ais_tensor_destroy(out[0]);
}

static int count_tasks(void) {
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Physical cores counted here independently of the library: distinct (package, core_id). */
static int physical_cores(void) {
    long seen[1024];
    int n = 0;
    for (int cpu = 0; cpu < 1024; cpu++) {
        char path[128];
        long core = -1, pkg = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fscanf(f, "%ld", &core) != 1) core = -1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id",
                 cpu);
        if ((f = fopen(path, "r")) != NULL) {
            if (fscanf(f, "%ld", &pkg) != 1) pkg = 0;
            fclose(f);
        }
        if (core < 0) continue;
        long key = pkg * 1000003L + core;
        bool dup = false;
        for (int i = 0; i < n; i++)
            dup = dup || seen[i] == key;
        if (!dup) seen[n++] = key;
    }
    return n;
}

static void test_default_is_physical_cores(void **state) {
    (void)state;
    int phys = physical_cores();
    if (phys > 0) {
        cpu_set_t set;
        /* affinity may hide some cores from the process; the library then counts fewer */
        if (sched_getaffinity(0, sizeof set, &set) == 0 &&
            CPU_COUNT(&set) >= sysconf(_SC_NPROCESSORS_ONLN))
            assert_int_equal(ais_get_num_threads(), phys);
    }
    assert_true(ais_get_num_threads() >= 1);
    AIS_ASSERT_OK(ais_set_num_threads(3));
    assert_int_equal(ais_get_num_threads(), 3);
    AIS_ASSERT_OK(ais_set_num_threads(0));
    if (phys > 0) assert_true(ais_get_num_threads() <= phys);
    AIS_ASSERT_STATUS(ais_set_num_threads(-1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("ais_set_num_threads");
    AIS_ASSERT_STATUS(ais_set_num_threads(1025), AIS_E_INVALID_ARGUMENT);
}

/* Two sessions with different counts, used alternately and then at once from two threads. */
typedef struct run_job {
    ais_session *s;
    const ais_tensor *x;
    const float *want;
    int reps;
    int64_t threads;
    ais_model *m;
    int *max_tasks;
} run_job;

static void *run_many(void *arg) {
    run_job *j = arg;
    for (int r = 0; r < j->reps; r++)
        run_and_check(j->s, j->x, j->want);
    return NULL;
}

static void test_two_sessions_different_counts(void **state) {
    (void)state;
    ais_tensor *w = NULL;
    ais_model *m = make_model(&w);
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(ROWS, K), -1, 1);
    float *want = malloc(sizeof(float) * ROWS * COLS);
    assert_non_null(want);
    reference(ais_tensor_data(x), ais_tensor_data(w), want);
    int blas_before = openblas_get_num_threads();
    ais_session *one = session_with(m, 1), *three = session_with(m, 3);
    /* creating sessions leaves BLAS's process-wide count alone */
    assert_int_equal(openblas_get_num_threads(), blas_before);
    for (int r = 0; r < 3; r++) {
        run_and_check(one, x, want);
        run_and_check(three, x, want);
    }
    /* and so does running them, whatever their counts */
    assert_int_equal(openblas_get_num_threads(), blas_before);
    pthread_t t1, t2;
    run_job j1 = {.s = one, .x = x, .want = want, .reps = 10};
    run_job j2 = {.s = three, .x = x, .want = want, .reps = 10};
    assert_int_equal(pthread_create(&t1, NULL, run_many, &j1), 0);
    assert_int_equal(pthread_create(&t2, NULL, run_many, &j2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(openblas_get_num_threads(), blas_before);
    ais_session_destroy(one);
    ais_session_destroy(three);
    ais_tensor_destroy(x);
    ais_tensor_destroy(w);
    ais_model_destroy(m);
    free(want);
}

/* Eight sessions, each on its own thread, with the machine's core count each (the worst case
 * for per-session pools) and the default count: results are right and the process has at most
 * cores + a few threads of its own beyond the application's. */
static atomic_int g_max_tasks;
static atomic_bool g_stop;

static void *monitor(void *arg) {
    (void)arg;
    while (!atomic_load(&g_stop)) {
        int n = count_tasks();
        if (n > atomic_load(&g_max_tasks)) atomic_store(&g_max_tasks, n);
        usleep(200);
    }
    return NULL;
}

static void test_eight_sessions_bounded_threads(void **state) {
    (void)state;
    ais_tensor *w = NULL;
    ais_model *m = make_model(&w);
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(ROWS, K), -1, 1);
    float *want = malloc(sizeof(float) * ROWS * COLS);
    assert_non_null(want);
    reference(ais_tensor_data(x), ais_tensor_data(w), want);
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    enum { N = 8 };
    /* the application's own threads: this one, the monitor and the N runners */
    int base = count_tasks();
    ais_session *s[N];
    for (int i = 0; i < N; i++)
        s[i] = session_with(m, i % 2 ? cores : -1);
    /* Sessions alone start at most cores - 1 workers in all. Threads that OpenBLAS started at
     * load time are in `base` already. */
    assert_true(count_tasks() <= base + cores);
    atomic_store(&g_max_tasks, 0);
    atomic_store(&g_stop, false);
    pthread_t mon, t[N];
    run_job j[N];
    assert_int_equal(pthread_create(&mon, NULL, monitor, NULL), 0);
    for (int i = 0; i < N; i++) {
        j[i] = (run_job){.s = s[i], .x = x, .want = want, .reps = 6};
        assert_int_equal(pthread_create(&t[i], NULL, run_many, &j[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    atomic_store(&g_stop, true);
    pthread_join(mon, NULL);
    int ours = atomic_load(&g_max_tasks) - (base + 1 + N);
    printf("threads: %d at start, at most %d while 8 sessions ran (%d beyond the application's; "
           "%d cores)\n",
           base, atomic_load(&g_max_tasks), ours, cores);
    /* This test runs first, so no workers existed: the shared pool adds cores - 1, OpenBLAS at
     * most as many again (when it started with fewer, e.g. OPENBLAS_NUM_THREADS=1), and one is
     * slack. Per-session pools added (N / 2) * (cores - 1) = 4 (cores - 1) before. */
    assert_true(ours <= 2 * (cores - 1) + 1);
    for (int i = 0; i < N; i++)
        ais_session_destroy(s[i]);
    ais_tensor_destroy(x);
    ais_tensor_destroy(w);
    ais_model_destroy(m);
    free(want);
}

/* A default session follows ais_set_num_threads, even one made before the call: with 1 thread
 * no worker is started by it, with more they are (when the machine allows threads at all). */
static void test_default_session_follows_setting(void **state) {
    (void)state;
    ais_tensor *w = NULL;
    ais_model *m = make_model(&w);
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(ROWS, K), -1, 1);
    float *want = malloc(sizeof(float) * ROWS * COLS);
    assert_non_null(want);
    reference(ais_tensor_data(x), ais_tensor_data(w), want);
    AIS_ASSERT_OK(ais_set_num_threads(1));
    ais_session *s = session_with(m, -1);
    run_and_check(s, x, want);
    int serial = count_tasks();
    int want_threads = (int)sysconf(_SC_NPROCESSORS_ONLN) + 2;
    AIS_ASSERT_OK(ais_set_num_threads(want_threads));
    run_and_check(s, x, want);
    /* the session created under 1 thread now shares want_threads - 1 workers (more than the
     * previous test started) */
    assert_true(count_tasks() >= serial + 2);
    AIS_ASSERT_OK(ais_set_num_threads(0));
    ais_session_destroy(s);
    ais_tensor_destroy(x);
    ais_tensor_destroy(w);
    ais_model_destroy(m);
    free(want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        /* these two first: each counts the workers it starts */
        cmocka_unit_test(test_eight_sessions_bounded_threads),
        cmocka_unit_test(test_default_session_follows_setting),
        cmocka_unit_test(test_default_is_physical_cores),
        cmocka_unit_test(test_two_sessions_different_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
