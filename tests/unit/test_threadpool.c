/*
 * test_threadpool.c - the shared pool's waiting (issue 11 item 4): workers spin a bounded time
 * between back-to-back jobs (AIS_POOL_SPIN_US) and then sleep; every job's chunks are each done
 * exactly once whatever the spin setting; a worker, not only the caller, takes part in jobs that
 * follow each other closely; and an idle pool is asleep (no thread left running) soon after the
 * spin time.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "test_util.h"

#define N_ITEMS 512

typedef struct job {
    atomic_int hits[N_ITEMS];
    atomic_int by_other_thread; /* chunks run by a thread other than the caller */
    pthread_t caller;
} job;

static void busy_ns(long ns) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < ns);
}

static void count_range(void *ctx, size_t begin, size_t end) {
    job *j = ctx;
    for (size_t i = begin; i < end; i++)
        atomic_fetch_add(&j->hits[i], 1);
    if (!pthread_equal(pthread_self(), j->caller)) atomic_fetch_add(&j->by_other_thread, 1);
    busy_ns(2000); /* a small kernel's chunk */
}

/* Runs `jobs` jobs back to back; every item must be hit once per job. Returns how many jobs a
 * worker took part in. */
static int run_jobs(ais__pool *pool, int jobs) {
    static job j;
    int joined = 0;
    for (int r = 0; r < jobs; r++) {
        for (int i = 0; i < N_ITEMS; i++)
            atomic_store(&j.hits[i], 0);
        atomic_store(&j.by_other_thread, 0);
        j.caller = pthread_self();
        ais__parallel_for(pool, N_ITEMS, 16, count_range, &j);
        for (int i = 0; i < N_ITEMS; i++)
            assert_int_equal(atomic_load(&j.hits[i]), 1);
        joined += atomic_load(&j.by_other_thread) > 0;
    }
    return joined;
}

static void test_back_to_back_jobs_with_spin(void **state) {
    (void)state;
    ais__pool_set_spin_us(500);
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    /* With spinning the worker is awake when the next job comes and joins nearly all of them on
     * an idle machine; on a loaded one the scheduler may not run it for milliseconds, so jobs
     * go on (up to 20 s) until it has joined some. */
    int joined = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        joined += run_jobs(pool, 200);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (joined < 10 && t.tv_sec - t0.tv_sec < 20);
    assert_true(joined >= 10);
    ais__pool_destroy(pool);
    ais__pool_set_spin_us(-1);
}

static void test_jobs_without_spin(void **state) {
    (void)state;
    ais__pool_set_spin_us(0);
    assert_int_equal(ais__pool_spin_us(), 0);
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(3, &pool));
    (void)run_jobs(pool, 200);
    ais__pool_destroy(pool);
    ais__pool_set_spin_us(-1);
}

/* A narrow job on workers a wider handle started: the submit wakes only as many sleepers as the
 * job can take (threadpool.c); every chunk is still done once, with sleeping workers (no spin)
 * and with spinning ones, and the wide handle's jobs after it still get their helpers. */
static void test_narrow_jobs_on_more_workers(void **state) {
    (void)state;
    ais__pool *wide = NULL, *narrow = NULL;
    AIS_ASSERT_OK(ais__pool_create(4, &wide));
    AIS_ASSERT_OK(ais__pool_create(2, &narrow));
    for (int spin = 0; spin < 2; spin++) {
        ais__pool_set_spin_us(spin ? 2000 : 0);
        /* without spinning a worker joins a job only when the submit woke it: jobs go on (up to
         * 20 s on a loaded machine) until some narrow job had a worker's help */
        int joined = 0;
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        (void)run_jobs(wide, 20);
        do {
            usleep(1000); /* every worker asleep (or spinning, with spin) by the next job */
            joined += run_jobs(narrow, 1);
            clock_gettime(CLOCK_MONOTONIC, &t);
        } while (joined < 5 && t.tv_sec - t0.tv_sec < 20);
        (void)run_jobs(wide, 20);
        assert_true(joined >= 5);
    }
    ais__pool_destroy(narrow);
    ais__pool_destroy(wide);
    ais__pool_set_spin_us(-1);
}

static void test_spin_setting_from_environment(void **state) {
    (void)state;
    setenv("AIS_POOL_SPIN_US", "37", 1);
    ais__pool_set_spin_us(-1);
    assert_int_equal(ais__pool_spin_us(), 37);
    setenv("AIS_POOL_SPIN_US", "0", 1);
    ais__pool_set_spin_us(-1);
    assert_int_equal(ais__pool_spin_us(), 0);
    setenv("AIS_POOL_SPIN_US", "999999999", 1); /* clamped */
    ais__pool_set_spin_us(-1);
    assert_int_equal(ais__pool_spin_us(), 100000);
    setenv("AIS_POOL_SPIN_US", "12us", 1); /* not a number: the default, with a warning */
    ais__pool_set_spin_us(-1);
    assert_int_equal(ais__pool_spin_us(), 100);
    setenv("AIS_POOL_SPIN_US", "-5", 1);
    ais__pool_set_spin_us(-1);
    assert_int_equal(ais__pool_spin_us(), 100);
    unsetenv("AIS_POOL_SPIN_US");
    ais__pool_set_spin_us(-1);
    assert_int_equal(ais__pool_spin_us(), 100);
    ais__pool_set_spin_us(250);
    assert_int_equal(ais__pool_spin_us(), 250);
    ais__pool_set_spin_us(-1);
}

/* Threads of this process other than the caller whose state is R (running or runnable). */
static int running_other_threads(void) {
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    pid_t self = (pid_t)gettid();
    int running = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == self) continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *close = strrchr(buf, ')'); /* the name may contain spaces */
        if (close && close[1] == ' ' && close[2] == 'R') running++;
    }
    closedir(d);
    return running;
}

static void test_idle_workers_go_to_sleep(void **state) {
    (void)state;
    ais__pool_set_spin_us(2000);
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    (void)run_jobs(pool, 20);
    /* The spin is bounded: long after it, no worker may still be running. A scheduler can leave
     * a sleeping thread briefly runnable, so look a few times. */
    int running = 1;
    for (int tries = 0; tries < 20 && running; tries++) {
        usleep(50000);
        running = running_other_threads();
    }
    assert_int_equal(running, 0);
    ais__pool_destroy(pool);
    ais__pool_set_spin_us(-1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_back_to_back_jobs_with_spin),
        cmocka_unit_test(test_jobs_without_spin),
        cmocka_unit_test(test_narrow_jobs_on_more_workers),
        cmocka_unit_test(test_spin_setting_from_environment),
        cmocka_unit_test(test_idle_workers_go_to_sleep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
