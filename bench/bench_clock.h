/* bench_clock.h - the clocks and the median every benchmark program times with (header-only: the
 * bench_*.c glob makes each .c file a program). */
#ifndef AIS_BENCH_CLOCK_H
#define AIS_BENCH_CLOCK_H

#include <stdlib.h>
#include <time.h>

/* Wall time in seconds, monotonic. */
static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process, every thread: with T threads it shows what a call costs the
 * machine (spinning OpenMP workers included); with one thread it is the figure to trust on a
 * loaded machine, where a long run gets preempted and wall time also measures the neighbours. */
static inline double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* qsort order of doubles. */
static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (n >= 1); sorts v. */
static inline double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
