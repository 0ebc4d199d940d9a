/*
 * backend_plugin.c - loads the CUDA backend from libaistack_cuda.so the first time a session asks
 * for it (backend_plugin.h has the contract), so that libaistack itself needs no CUDA library and
 * starts on any machine.
 *
 * Where: $AISTACK_CUDA_PLUGIN when set (a path; for tests and unusual installs), else beside the
 * libaistack that holds this code (dladdr; for the static library, the program), else the
 * install's libdir, else the dynamic loader's search (LD_LIBRARY_PATH, the caller's RUNPATH, the
 * cache). The result, a backend or the reason there is none, is kept for the process: a
 * missing plugin or driver does not appear later, and dlopen is not cheap. Only the
 * AISTACK_CUDA_PLUGIN case is looked at again when the variable changes (tests switch it).
 */
#define _GNU_SOURCE /* dladdr */
#include "backend_plugin.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AIS__PLUGIN_FILE "libaistack_cuda.so." AIS__STR(AIS_VERSION_MAJOR)
#define AIS__STR(x) AIS__STR2(x)
#define AIS__STR2(x) #x

static void ais__host_prefix(const char *fmt, va_list ap) {
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    ais__error_prefix("%s", buf);
}

static ais_status ais__host_geom(const ais__op_ctx *ctx, const ais_tensor *x, const int64_t *k,
                                 bool ceil_mode, ais__dense_geom *g) {
    return ais__dense_geom_init(ctx, x, k, ceil_mode, g);
}

static const ais__host_services ais__host = {
    .abi = AIS__PLUGIN_ABI,
    .lib_version = AIS_VERSION_NUMBER,
    .size_tensor = sizeof(ais_tensor),
    .size_op_def = sizeof(ais__op_def),
    .size_op_ctx = sizeof(ais__op_ctx),
    .size_attr = sizeof(ais__attr),
    .verror = ais__verror,
    .verror_prefix = ais__host_prefix,
    .oom_set = ais__oom_set,
    .malloc = ais__malloc,
    .calloc = ais__calloc,
    .realloc = ais__realloc,
    .free = ais__free,
    .dtype_size = ais_dtype_size,
    .dtype_name = ais_dtype_name,
    .shape_numel = ais__shape_numel,
    .shape_validate = ais__shape_validate,
    .tensor_init_borrowed = ais__tensor_init_borrowed,
    .broadcast_strides = ais__broadcast_strides,
    .load_f64 = ais__load_f64,
    .attr_find = ais__attr_find,
    .attr_int = ais__attr_int,
    .attr_float = ais__attr_float,
    .attr_string = ais__attr_string,
    .attr_ints = ais__attr_ints,
    .attr_floats = ais__attr_floats,
    .desc_from = ais__desc_from,
    .read_int_list = ais__read_int_list,
    .read_index_list = ais__read_index_list,
    .dense_geom_init = ais__host_geom,
};

typedef struct ais__plugin_state {
    bool tried;
    bool env_set;        /* AISTACK_CUDA_PLUGIN at the last try; a fixed buffer, not the */
    char env_seen[4096]; /* allocator: this state outlives every object */
    void *handle;
    const ais__backend *backend;
    char why[1024]; /* when backend is NULL */
} ais__plugin_state;

static pthread_mutex_t ais__plugin_lock = PTHREAD_MUTEX_INITIALIZER;
static ais__plugin_state ais__plugin;

/* The folder of the shared object (or executable, for the static library) holding this code. */
static bool ais__own_dir(char *buf, size_t size) {
    Dl_info info;
    if (!dladdr((const void *)&ais__host, &info) || !info.dli_fname) return false;
    const char *slash = strrchr(info.dli_fname, '/');
    if (!slash) return false;
    size_t n = (size_t)(slash - info.dli_fname);
    if (n + 1 > size) return false;
    memcpy(buf, info.dli_fname, n);
    buf[n] = 0;
    return true;
}

/* dlopen + handshake; on failure, why says so (the dlerror text included). */
static void ais__plugin_try(ais__plugin_state *ps, const char *path, bool *found) {
    *found = false;
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(ps->why, sizeof ps->why, "%s", e ? e : path);
        return;
    }
    *found = true;
    ais__plugin_entry_fn entry = NULL;
    void *sym = dlsym(h, AIS__PLUGIN_ENTRY);
    memcpy(&entry, &sym, sizeof entry); /* object to function pointer, without a warning */
    if (!entry) {
        const char *e = dlerror();
        snprintf(ps->why, sizeof ps->why, "%s is not an aistack backend plugin: %s", path,
                 e ? e : "no " AIS__PLUGIN_ENTRY);
        dlclose(h);
        return;
    }
    ais__plugin_info info = {0};
    char err[512] = "";
    int rc = entry(&ais__host, &info, err, sizeof err);
    if (rc == 0 && (info.abi != AIS__PLUGIN_ABI || info.lib_version != AIS_VERSION_NUMBER))
        snprintf(err, sizeof err, "it was built for library %u (plugin ABI %u), this is %u (%u)",
                 info.lib_version, info.abi, (unsigned)AIS_VERSION_NUMBER, AIS__PLUGIN_ABI),
            rc = 1;
    if (rc == 0 && (!info.backend || info.backend->version != AIS__BACKEND_VERSION))
        snprintf(err, sizeof err, "its backend table has version %u, this library reads %u",
                 info.backend ? info.backend->version : 0, AIS__BACKEND_VERSION),
            rc = 1;
    if (rc != 0) {
        snprintf(ps->why, sizeof ps->why, "%s does not match this libaistack %s: %s", path,
                 AIS_VERSION_STRING, err[0] ? err : "refused without a reason");
        dlclose(h);
        return;
    }
    ps->handle = h;
    ps->backend = info.backend;
}

static void ais__plugin_load(ais__plugin_state *ps, const char *env) {
    bool found = false;
    if (env && env[0]) {
        ais__plugin_try(ps, env, &found);
        return;
    }
    char dir[4096], path[4200];
    char first[1024] = "";
    if (ais__own_dir(dir, sizeof dir)) {
        snprintf(path, sizeof path, "%s/%s", dir, AIS__PLUGIN_FILE);
        ais__plugin_try(ps, path, &found);
        if (ps->backend || found) return; /* a plugin that is there but refused: say why */
        snprintf(first, sizeof first, "%s", ps->why);
    }
#ifdef AIS_PLUGIN_LIBDIR
    /* The install's libdir: a program that links the static library sits in bin/, not beside
     * the plugin. */
    snprintf(path, sizeof path, "%s/%s", AIS_PLUGIN_LIBDIR, AIS__PLUGIN_FILE);
    if (!first[0] || strcmp(path, first) != 0) {
        ais__plugin_try(ps, path, &found);
        if (ps->backend || found) return;
    }
#endif
    ais__plugin_try(ps, AIS__PLUGIN_FILE, &found);
    if (!ps->backend && !found && first[0]) {
        char second[1024];
        snprintf(second, sizeof second, "%s", ps->why);
        snprintf(ps->why, sizeof ps->why, "%.500s; %.500s", first, second);
    }
}

ais_status ais__backend_cuda_plugin(const ais__backend **out) {
    *out = NULL;
    pthread_mutex_lock(&ais__plugin_lock);
    ais__plugin_state *ps = &ais__plugin;
    const char *env = getenv("AISTACK_CUDA_PLUGIN");
    if (env && strlen(env) >= sizeof ps->env_seen) env = NULL; /* not a path we could open */
    bool env_changed = (env != NULL) != ps->env_set || (env && strcmp(env, ps->env_seen) != 0);
    /* A loaded plugin stays: its code may be in use by live sessions. */
    if (!ps->backend && (!ps->tried || env_changed)) {
        ps->env_set = env != NULL;
        snprintf(ps->env_seen, sizeof ps->env_seen, "%s", env ? env : "");
        ps->why[0] = 0;
        ais__plugin_load(ps, env);
        ps->tried = true;
    }
    const ais__backend *be = ps->backend;
    char why[sizeof ps->why];
    snprintf(why, sizeof why, "%s", ps->why);
    pthread_mutex_unlock(&ais__plugin_lock);
    if (be) {
        *out = be;
        return AIS_OK;
    }
    return ais__error(AIS_E_NO_DEVICE,
                      "the CUDA backend (plugin %s) could not be loaded: %s. Install it beside "
                      "libaistack, or set AISTACK_CUDA_PLUGIN to its path",
                      AIS__PLUGIN_FILE, why);
}
