/*
 * ais_base.h - version, status codes, error messages, allocator and logging.
 *
 * This header is part of the stable C ABI of libaistack. Every name it declares starts with
 * ais_ or AIS_. Enum values are written out and never renumbered; new values go at the end.
 *
 * Threads: unless a function says otherwise, it may be called from any thread. The error
 * message of a failed call is kept per thread (see ais_last_error()).
 */
#ifndef AISTACK_AIS_BASE_H
#define AISTACK_AIS_BASE_H

#include <stddef.h>
#include <stdint.h>

/* ---- version: the single source of truth for CMake, the soname and ais_version_number() ----
 * MAJOR (the soname) changes only when the ABI breaks; MINOR goes up when names are added
 * (functions, enum values, options), so ais_version_number() tells a program whether the loaded
 * library has them; PATCH for fixes only. */
#define AIS_VERSION_MAJOR 0
#define AIS_VERSION_MINOR 2
#define AIS_VERSION_PATCH 0
#define AIS_VERSION_NUMBER (AIS_VERSION_MAJOR * 10000 + AIS_VERSION_MINOR * 100 + AIS_VERSION_PATCH)
#define AIS__STRINGIFY2(x) #x
#define AIS__STRINGIFY(x) AIS__STRINGIFY2(x)
#define AIS_VERSION_STRING                                                                         \
    AIS__STRINGIFY(AIS_VERSION_MAJOR) "." AIS__STRINGIFY(AIS_VERSION_MINOR) "." AIS__STRINGIFY(    \
        AIS_VERSION_PATCH)

/* ---- export macro: only names marked AIS_API leave the shared library ---- */
#if defined(_WIN32)
#if defined(AIS_BUILDING_LIBRARY)
#define AIS_API __declspec(dllexport)
#else
#define AIS_API
#endif
#elif defined(__GNUC__) && defined(AIS_BUILDING_LIBRARY)
#define AIS_API __attribute__((visibility("default")))
#else
#define AIS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version as AIS_VERSION_NUMBER of the library actually loaded (which may be newer
 * than the header a program was compiled with; same major version means ABI compatible). */
AIS_API uint32_t ais_version_number(void);
/* "MAJOR.MINOR.PATCH" of the loaded library; a static string. */
AIS_API const char *ais_version_string(void);

/*
 * Status codes. Every function that can fail returns one; AIS_OK is zero. After a failure,
 * ais_last_error() on the same thread says what went wrong, naming the file, node, input or field.
 * A node is named "node 'conv1' (Conv)", or "graph.node[17] (Add)" when the file gives it no name
 * (17: its position among the graph's nodes in the file).
 */
typedef enum ais_status {
    AIS_OK = 0,
    AIS_E_INVALID_ARGUMENT = 1, /* a NULL pointer, an out-of-range value, a bad attribute */
    AIS_E_OUT_OF_MEMORY = 2,    /* an allocation failed; nothing was lost or leaked */
    AIS_E_SHAPE = 3,            /* shapes (or ranks) do not agree */
    AIS_E_DTYPE = 4,            /* an element type is not accepted here */
    AIS_E_UNSUPPORTED = 5,      /* unknown operator, opset, attribute value or feature */
    AIS_E_IO = 6,               /* a file could not be opened, read, written or mapped */
    AIS_E_FORMAT = 7,           /* a file or buffer is malformed, truncated or corrupt */
    AIS_E_NOT_FOUND = 8,        /* a named input, output, attribute or key does not exist */
    AIS_E_LIMIT = 9,            /* a size or count exceeds a limit of the library */
    AIS_E_CHECKSUM = 10,        /* stored data does not match its checksum */
    AIS_E_NO_DEVICE = 11,       /* the requested device (e.g. a CUDA GPU) is not available */
    AIS_E_DEVICE = 12,          /* the device runtime reported an error */
    AIS_E_INTERNAL = 13,        /* a bug in libaistack: please report it with the message */
    AIS_E_SCHEMA = 14,          /* a record does not match the pipeline's schema */
    AIS_E_BUSY = 15             /* the object is in use by another thread (a session already
                                   running a call); nothing was changed */
} ais_status;

/* Static name of a status ("AIS_E_SHAPE"); "AIS_E_UNKNOWN" for values this version lacks. */
AIS_API const char *ais_status_name(ais_status status);
/* Static one-line description of a status. Never NULL. */
AIS_API const char *ais_status_string(ais_status status);
/*
 * The message that explains the most recent failed call on this thread. Never NULL; "" when no
 * call has failed on this thread. Valid until the next failing call on the same thread. A
 * successful call does not clear it.
 */
AIS_API const char *ais_last_error(void);

/*
 * Allocator. Every allocation of the library goes through these two functions.
 * alloc_fn must return memory aligned to `alignment` (a power of two, at most 4096), or NULL.
 * Passing NULL for both restores the default (the C library).
 * Not thread-safe: set it before creating any object, or after destroying all of them, since
 * memory is returned to the allocator that is current at the time it is freed.
 */
typedef void *(*ais_alloc_fn)(void *user_data, size_t size, size_t alignment);
typedef void (*ais_free_fn)(void *user_data, void *ptr);
AIS_API ais_status ais_set_allocator(ais_alloc_fn alloc_fn, ais_free_fn free_fn, void *user_data);

/* Logging: the library never prints; it passes messages to this callback (none by default). */
typedef enum ais_log_level {
    AIS_LOG_ERROR = 1,
    AIS_LOG_WARN = 2,
    AIS_LOG_INFO = 3,
    AIS_LOG_DEBUG = 4
} ais_log_level;
typedef void (*ais_log_fn)(void *user_data, ais_log_level level, const char *message);
/* Messages at `max_level` or more severe go to `fn`; fn == NULL silences the library.
 * The callback may be called from any thread the library runs on. */
AIS_API void ais_set_log_callback(ais_log_fn fn, void *user_data, ais_log_level max_level);

/*
 * The process-wide thread count: used by the eager operator API (ais_op_run) and by every session
 * that does not set its own (AIS_OPT_THREADS 0, the default), including sessions created before
 * the call. The default, and what 0 sets, is the number of physical cores this process may run on
 * (SMT siblings counted once), as in ONNX Runtime; 1 runs everything on the calling thread. Range
 * [0, 1024]; AIS_E_INVALID_ARGUMENT outside it.
 *
 * All sessions share one set of worker threads: the process has at most (the largest count in
 * use) - 1 workers, however many sessions exist. When several threads run sessions at once, a
 * parallel kernel that finds the workers busy runs on its own calling thread.
 *
 * The library never changes the BLAS library's process-wide setting behind the caller's back: a
 * matrix product large enough for OpenBLAS to split runs with the calling session's count for
 * that call only (under a lock), and the previous setting is restored.
 *
 * ais_get_num_threads() returns the current process-wide count. Both may be called from any
 * thread; a change applies to kernels that start after it.
 */
AIS_API ais_status ais_set_num_threads(int32_t threads);
AIS_API int32_t ais_get_num_threads(void);

/*
 * CPU instruction sets. The library picks the best level this processor and its operating system
 * support (AVX-512 needs the OS to save the ZMM registers) and runs its CPU kernels with it; the
 * level can be lowered, never raised above that:
 *   - the environment variable AIS_CPU_ISA=scalar|avx2|avx512|avx512_vnni, read once, when the
 *     first kernel runs (an unknown value is ignored with a warning through the log callback);
 *   - ais_set_cpu_isa(), process-wide, at any time while no operator runs.
 * The level in effect is the lowest of the three. Results of different levels agree within
 * floating-point rounding (a few ulp for exp, erf, tanh and sigmoid), not bit for bit.
 */
typedef enum ais_cpu_isa {
    AIS_CPU_ISA_SCALAR = 0,      /* portable C (what the compiler's baseline makes of it) */
    AIS_CPU_ISA_AVX2 = 1,        /* AVX2 + FMA */
    AIS_CPU_ISA_AVX512 = 2,      /* AVX-512 F, BW, VL, DQ */
    AIS_CPU_ISA_AVX512_VNNI = 3, /* AVX-512 with VNNI */
    AIS_CPU_ISA_BEST = 255       /* no limit: the best the CPU has */
} ais_cpu_isa;
/* Limits the CPU kernels to `isa` for the whole process. A level above what the CPU (or
 * AIS_CPU_ISA) allows is not an error: the best allowed level is used, and ais_get_cpu_isa() says
 * which. AIS_CPU_ISA_BEST lifts this limit again. AIS_E_INVALID_ARGUMENT for a value that is
 * not one of the enum's. */
AIS_API ais_status ais_set_cpu_isa(ais_cpu_isa isa);
/* The level the CPU kernels run with now (never AIS_CPU_ISA_BEST). */
AIS_API ais_cpu_isa ais_get_cpu_isa(void);
/* "scalar", "avx2", "avx512", "avx512_vnni", "best"; "unknown" for other values. Static text. */
AIS_API const char *ais_cpu_isa_name(ais_cpu_isa isa);

#ifdef __cplusplus
}
#endif
#endif /* AISTACK_AIS_BASE_H */
