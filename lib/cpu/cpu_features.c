/*
 * cpu_features.c - which instruction-set level this CPU and its OS support (cpuid and xgetbv,
 * asked once), the AIS_CPU_ISA and ais_set_cpu_isa() limits, and one kernel table per level.
 *
 * Every table the CPU can run is filled once, under pthread_once, and never written again; the
 * limits only choose which table ais__cpu() hands out, so changing them while another thread
 * reads a table is safe (the old table stays valid).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/common.h"
#include "cpu.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(AIS_CPU_X86)
#define AIS__CPU_HAVE_X86 1
#include <cpuid.h>
#endif

#define AIS__CPU_LEVELS 4

static pthread_once_t ais__cpu_once = PTHREAD_ONCE_INIT;
static ais__cpu_kernels ais__cpu_tables[AIS__CPU_LEVELS];
static ais_cpu_isa ais__cpu_hw = AIS_CPU_ISA_SCALAR;  /* written once, under ais__cpu_once */
static ais_cpu_isa ais__cpu_env = AIS_CPU_ISA_BEST;   /* the same */
static _Atomic int ais__cpu_limit = AIS_CPU_ISA_BEST; /* ais_set_cpu_isa() */

#ifdef AIS__CPU_HAVE_X86
static uint64_t ais__xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static ais_cpu_isa ais__cpu_probe(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return AIS_CPU_ISA_SCALAR;
    bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12);
    /* The instructions are there only if the OS saves their registers across context
     * switches: XMM|YMM state for AVX, and opmask|ZMM_Hi256|Hi16_ZMM for AVX-512. */
    if (!osxsave || !avx) return AIS_CPU_ISA_SCALAR;
    uint64_t xcr0 = ais__xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return AIS_CPU_ISA_SCALAR;
    if (__get_cpuid_max(0, NULL) < 7) return AIS_CPU_ISA_SCALAR;
    __cpuid_count(7, 0, a, b, c, d);
    bool avx2 = b & (1u << 5);
    if (!avx2 || !fma) return AIS_CPU_ISA_SCALAR;
    bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
    if (!(f && dq && bw && vl) || (xcr0 & 0xe0) != 0xe0) return AIS_CPU_ISA_AVX2;
    return (c & (1u << 11)) ? AIS_CPU_ISA_AVX512_VNNI : AIS_CPU_ISA_AVX512;
}
#else
static ais_cpu_isa ais__cpu_probe(void) { return AIS_CPU_ISA_SCALAR; }
#endif

static bool ais__cpu_parse(const char *s, ais_cpu_isa *isa) {
    static const char *const names[] = {"scalar", "avx2", "avx512", "avx512_vnni"};
    for (int i = 0; i < AIS__CPU_LEVELS; i++)
        if (strcasecmp(s, names[i]) == 0) {
            *isa = (ais_cpu_isa)i;
            return true;
        }
    return false;
}

static void ais__cpu_init(void) {
    ais__cpu_hw = ais__cpu_probe();
    const char *env = getenv("AIS_CPU_ISA");
    if (env && env[0] && !ais__cpu_parse(env, &ais__cpu_env))
        ais__log(AIS_LOG_WARN,
                 "AIS_CPU_ISA=\"%s\" is not one of scalar, avx2, avx512, avx512_vnni: ignored",
                 env);
    for (int l = 0; l <= (int)ais__cpu_hw; l++) {
        ais__cpu_kernels *k = &ais__cpu_tables[l];
        ais__cpu_fill_ref(k);
#ifdef AIS__CPU_HAVE_X86
        if (l >= AIS_CPU_ISA_AVX2) ais__cpu_fill_avx2(k);
        if (l >= AIS_CPU_ISA_AVX512) ais__cpu_fill_avx512(k);
#endif
        /* the int8 GEMM: AVX-512 VNNI's only kernels of its own */
        ais__cpu_fill_qgemm(k, l);
        k->isa = (ais_cpu_isa)l;
    }
}

static ais_cpu_isa ais__cpu_level(void) {
    pthread_once(&ais__cpu_once, ais__cpu_init);
    int l = (int)ais__cpu_hw;
    if ((int)ais__cpu_env < l) l = (int)ais__cpu_env;
    int lim = atomic_load_explicit(&ais__cpu_limit, memory_order_relaxed);
    if (lim < l) l = lim;
    return (ais_cpu_isa)l;
}

const ais__cpu_kernels *ais__cpu(void) { return &ais__cpu_tables[ais__cpu_level()]; }

const ais__cpu_kernels *ais__cpu_for(ais_cpu_isa isa) {
    pthread_once(&ais__cpu_once, ais__cpu_init);
    if ((int)isa < 0 || (int)isa >= AIS__CPU_LEVELS || isa > ais__cpu_hw) return NULL;
    return &ais__cpu_tables[isa];
}

ais_cpu_isa ais__cpu_isa_detected(void) {
    pthread_once(&ais__cpu_once, ais__cpu_init);
    return ais__cpu_hw;
}

AIS_API ais_status ais_set_cpu_isa(ais_cpu_isa isa) {
    if (isa != AIS_CPU_ISA_BEST && ((int)isa < 0 || (int)isa >= AIS__CPU_LEVELS))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_set_cpu_isa: isa %d is not an ais_cpu_isa value (0 to %d, or %d "
                          "for the best)",
                          (int)isa, AIS__CPU_LEVELS - 1, (int)AIS_CPU_ISA_BEST);
    atomic_store(&ais__cpu_limit, (int)isa);
    return AIS_OK;
}

AIS_API ais_cpu_isa ais_get_cpu_isa(void) { return ais__cpu_level(); }

AIS_API const char *ais_cpu_isa_name(ais_cpu_isa isa) {
    switch (isa) {
    case AIS_CPU_ISA_SCALAR: return "scalar";
    case AIS_CPU_ISA_AVX2: return "avx2";
    case AIS_CPU_ISA_AVX512: return "avx512";
    case AIS_CPU_ISA_AVX512_VNNI: return "avx512_vnni";
    case AIS_CPU_ISA_BEST: return "best";
    }
    return "unknown";
}
