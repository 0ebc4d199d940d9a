/*
 * common.h - internal basics shared by every module: errors, allocation, logging, threads, and
 * overflow-checked size arithmetic. Depends on nothing else in lib/.
 */
#ifndef AIS_COMMON_H
#define AIS_COMMON_H

#include <aistack/ais_base.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define AIS__PRINTF(f, a) __attribute__((format(printf, f, a)))
#define AIS__LIKELY(x) __builtin_expect(!!(x), 1)
#define AIS__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define AIS__PRINTF(f, a)
#define AIS__LIKELY(x) (x)
#define AIS__UNLIKELY(x) (x)
#endif

#define AIS__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define AIS__MIN(a, b) ((a) < (b) ? (a) : (b))
#define AIS__MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- errors (status.c) ---- */

/* Sets this thread's last-error message and returns `status`, so callers write
 * `return ais__error(AIS_E_SHAPE, "MatMul: ...", ...);`. */
ais_status ais__error_set(ais_status status, const char *fmt, ...) AIS__PRINTF(2, 3);
ais_status ais__verror(ais_status status, const char *fmt, va_list ap);
/* A macro, so that the compiler sees the (usually constant, non-zero) status that is returned:
 * otherwise gcc -O3 cannot tell that a failing helper returns early and warns that out-params
 * may be used uninitialized. `status` is evaluated twice: pass a constant or a plain variable. */
#define ais__error(status, ...) (ais__error_set((status), __VA_ARGS__), (status))
/* Prepends "prefix: " to the current message (e.g. the node name when an operator failed). */
void ais__error_prefix(const char *fmt, ...) AIS__PRINTF(1, 2);
/* The shorthand for an allocation failure. */
ais_status ais__oom_set(size_t bytes, const char *what);
#define ais__oom(bytes, what) (ais__oom_set((bytes), (what)), AIS_E_OUT_OF_MEMORY)

#define AIS__CHECK(expr)                                                                           \
    do {                                                                                           \
        ais_status ais__st_ = (expr);                                                              \
        if (ais__st_ != AIS_OK) return ais__st_;                                                   \
    } while (0)

/* ---- memory (alloc.c) ---- */

/* Default alignment of tensor data: a cache line, enough for AVX-512 loads. */
#define AIS__ALIGN 64

/* All allocations of lib/ go through these. They return NULL on failure without setting an
 * error: the caller knows what it was allocating and reports it (ais__oom). */
void *ais__malloc(size_t size);
void *ais__calloc(size_t count, size_t size);
void *ais__malloc_aligned(size_t size, size_t alignment);
void ais__free(void *ptr);
/* Like realloc, through the allocator: on failure the old block is unchanged. */
void *ais__realloc(void *ptr, size_t old_size, size_t new_size);
char *ais__strdup(const char *s);

/* Checked arithmetic: false on overflow. */
static inline bool ais__mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool ais__add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* Monotonic nanoseconds (pool spin back-off, metrics' latencies, profiling; threadpool.c). */
uint64_t ais__now_ns(void);

/* The metrics' cheap clock (ticks.c): ais__ticks() counts ticks of ais__ticks_ns_per_tick
 * nanoseconds: the invariant time-stamp counter (one rdtsc) where the CPU has one, else
 * CLOCK_MONOTONIC nanoseconds (1 ns a tick). ais__ticks_init() decides and calibrates, once
 * per process (about 2 ms); call it before the first ais__ticks(), and never compare ticks read
 * before it with ticks read after. */
void ais__ticks_init(void);
extern bool ais__ticks_tsc;
extern double ais__ticks_ns_per_tick;
static inline uint64_t ais__ticks(void) {
#if defined(__x86_64__) || defined(__i386__)
    if (AIS__LIKELY(ais__ticks_tsc)) return __builtin_ia32_rdtsc();
#endif
    return ais__now_ns();
}

/* ---- logging (log.c) ---- */

void ais__log(ais_log_level level, const char *fmt, ...) AIS__PRINTF(2, 3);

/* ---- threads (threadpool.c) ---- */

/* A handle on the process's one set of workers: it carries the width of its jobs (how many
 * threads, the caller included, may work on one parallel_for). The workers are shared by every
 * handle, so the process never has more than max(width) - 1 of them. */
typedef struct ais__pool ais__pool;

/* A handle of width `threads` (<= 0: the process-wide setting at this moment). Starts the
 * workers it needs now; when the system refuses threads, jobs use the workers there are. */
ais_status ais__pool_create(int32_t threads, ais__pool **out);
/* No-op for NULL and for the process-wide handle. */
void ais__pool_destroy(ais__pool *pool);
int32_t ais__pool_threads(const ais__pool *pool);

/* fn(ctx, begin, end) over [0, n) in chunks of at least `grain`, split across up to the handle's
 * width of threads (the caller works too). pool may be NULL (serial). When another caller's job
 * holds the workers, this one runs on the calling thread. Returns when every chunk is done. */
typedef void (*ais__range_fn)(void *ctx, size_t begin, size_t end);
void ais__parallel_for(ais__pool *pool, size_t n, size_t grain, ais__range_fn fn, void *ctx);

/* How long an idle worker spins for the next job before it sleeps (and a caller for the
 * workers' last chunks), in microseconds: $AIS_POOL_SPIN_US, read once (default 100, at most
 * 100000, 0: never spin). set overrides it for the process (tests, tools); a negative value
 * goes back to the environment's. */
int32_t ais__pool_spin_us(void);
void ais__pool_set_spin_us(int32_t us);

/* The process-wide handle of ais_set_num_threads(): never NULL, never freed; its width follows
 * later calls of ais_set_num_threads(). */
ais__pool *ais__default_pool(void);
/* Online CPUs. */
int32_t ais__cpu_count(void);
/* Physical cores this process may run on (SMT siblings counted once); online CPUs when sysfs
 * has no topology. The default of ais_set_num_threads(). */
int32_t ais__cpu_physical_count(void);
/* Sets the process-wide width (0: the physical cores). ais_set_num_threads() calls it. */
ais_status ais__default_pool_set_threads(int32_t threads);

/* Which handle the code running on this thread works for, so that a BLAS call deep inside a
 * kernel can ask how many threads it may use (ais__blas_width) without a parameter through
 * every layer. bind saves the previous binding in *saved; unbind restores it. */
typedef struct ais__pool_binding {
    ais__pool *pool;
    bool bound;
} ais__pool_binding;
void ais__pool_bind(ais__pool *pool, ais__pool_binding *saved);
void ais__pool_unbind(const ais__pool_binding *saved);
/* Threads a BLAS call on this thread may use: 1 inside a pool job (the job already fills the
 * threads), the bound handle's width, else the process-wide setting. */
int32_t ais__blas_width(void);

#endif /* AIS_COMMON_H */
