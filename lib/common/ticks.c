/*
 * ticks.c - the metrics' cheap clock: the CPU's time-stamp counter where it is invariant (ticks
 * at one rate whatever the core's frequency or sleep state, and in step across cores), read with
 * one rdtsc; CLOCK_MONOTONIC elsewhere. Why: a run of the digits MLP at batch 1 takes ~3.3 us,
 * and two clock_gettime calls (41-48 ns each on this project's VM, 25-32 ns for a bare rdtsc)
 * were most of the metrics' 2.1 % overhead against a 2 % budget.
 */
#include <pthread.h>
#include <time.h>

#include "common.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

bool ais__ticks_tsc;
double ais__ticks_ns_per_tick = 1.0;
static pthread_once_t ais__ticks_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) || defined(__i386__)
/* A (CLOCK_MONOTONIC ns, TSC) pair read close together: the TSC read sits between two clock
 * reads, and the tightest of a few tries wins (a preemption in between would skew it). */
static void ais__ticks_pair(double *ns, double *tsc) {
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t a = ais__now_ns(), t = __builtin_ia32_rdtsc(), b = ais__now_ns();
        if (b - a < best) {
            best = b - a;
            *ns = (double)a + (double)(b - a) / 2;
            *tsc = (double)t;
        }
    }
}
#endif

static void ais__ticks_calibrate(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    /* CPUID 0x80000007 EDX bit 8: invariant TSC */
    if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u) return;
    __get_cpuid(0x80000007u, &a, &b, &c, &d);
    if (!(d & (1u << 8))) return;
    /* 2 ms against CLOCK_MONOTONIC, once per process: the pair reads bound the error to well
     * under 0.1 %, plenty for latency histograms. */
    double n0 = 0, t0 = 0, n1 = 0, t1 = 0;
    ais__ticks_pair(&n0, &t0);
    uint64_t until = ais__now_ns() + 2000000u;
    while (ais__now_ns() < until) {
    }
    ais__ticks_pair(&n1, &t1);
    if (!(t1 > t0 && n1 > n0)) return;
    ais__ticks_ns_per_tick = (n1 - n0) / (t1 - t0);
    ais__ticks_tsc = true;
#endif
}

void ais__ticks_init(void) { pthread_once(&ais__ticks_once, ais__ticks_calibrate); }
