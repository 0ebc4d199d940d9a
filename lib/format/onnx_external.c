/*
 * onnx_external.c - ONNX external data: tensors whose bytes live in a file beside the model.
 * Each file is mapped read-only once and the graph keeps the mapping alive, so the weights are
 * used in place. (This is a small private mapping helper rather than ais__file_open so that the
 * model reader does not depend on how the top-level file loader reads its file.)
 */
#include "onnx_tensor.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct ais__onnx_map {
    void *addr;
    size_t size;
} ais__onnx_map;

static void ais__onnx_map_release(void *ctx) {
    ais__onnx_map *m = ctx;
    if (m->addr) munmap(m->addr, m->size);
    ais__free(m);
}

/* Data files must stay inside the model's folder: a model from elsewhere must not be able to
 * read /etc/passwd or ../../secret into a tensor. */
static ais_status ais__check_location(const char *loc) {
    if (!loc[0]) return ais__error(AIS_E_FORMAT, "external data location is empty");
    if (loc[0] == '/' || strchr(loc, '\\'))
        return ais__error(AIS_E_FORMAT,
                          "external data location '%s' must be a relative path with '/' "
                          "separators",
                          loc);
    for (const char *p = loc; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return ais__error(AIS_E_FORMAT,
                              "external data location '%s' leaves the model's folder ('..')", loc);
        p += n;
        if (*p == '/') p++;
    }
    return AIS_OK;
}

/* Opened beneath the model's folder without following links (safe_open.c), so a location that
 * passes the checks above still cannot reach /etc/passwd through a symlink placed beside the
 * model. */
static ais_status ais__open_data(const ais__onnx_ext *ext, const char *loc, int *fd, size_t *size) {
    uint64_t size64;
    AIS__CHECK(ais__open_beneath(ext->base_dir, loc, "external data file", fd, &size64));
    if (size64 > SIZE_MAX) {
        close(*fd);
        *fd = -1;
        return ais__error(AIS_E_LIMIT, "external data file '%s' is too large", loc);
    }
    *size = (size_t)size64;
    return AIS_OK;
}

/* The mapping of `loc`, mapped on first use and held by the graph. */
static ais_status ais__mapped(ais__onnx_ext *ext, const char *loc, const ais__onnx_extfile **out) {
    for (size_t i = 0; i < ext->n_files; i++) {
        if (strcmp(ext->files[i].location, loc) == 0) {
            *out = &ext->files[i];
            return AIS_OK;
        }
    }
    if (ext->n_files >= AIS__ONNX_MAX_EXT_FILES)
        return ais__error(AIS_E_LIMIT, "more than %d external data files", AIS__ONNX_MAX_EXT_FILES);
    ais__onnx_extfile *files =
        ais__realloc(ext->files, ext->n_files * sizeof *files, (ext->n_files + 1) * sizeof *files);
    if (!files) return ais__oom((ext->n_files + 1) * sizeof *files, "external data files");
    ext->files = files;
    ais__onnx_extfile *ef = &files[ext->n_files];
    ef->location = ais__strdup(loc);
    if (!ef->location) return ais__oom(strlen(loc) + 1, "external data location");
    ais__onnx_map *m = ais__calloc(1, sizeof *m);
    if (!m) {
        ais__free(ef->location);
        return ais__oom(sizeof *m, "external data mapping");
    }
    int fd = -1;
    size_t size = 0;
    ais_status st = ais__open_data(ext, loc, &fd, &size);
    if (st == AIS_OK && size > 0) {
        void *addr = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (addr == MAP_FAILED)
            st = ais__error(AIS_E_IO, "cannot map external data file '%s': %s", loc,
                            strerror(errno));
        else
            m->addr = addr, m->size = size;
    }
    if (fd >= 0) close(fd);
    if (st != AIS_OK) {
        ais__free(m);
        ais__free(ef->location);
        return st;
    }
    if ((st = ais__graph_hold(ext->g, ais__onnx_map_release, m)) != AIS_OK) {
        ais__free(ef->location);
        return st;
    }
    ef->data = m->addr;
    ef->size = m->size;
    ext->n_files++;
    *out = ef;
    return AIS_OK;
}

static ais_status ais__range_check(const char *loc, uint64_t offset, bool has_length,
                                   uint64_t length, size_t nbytes, size_t file_size) {
    if (has_length && length != nbytes)
        return ais__error(AIS_E_FORMAT,
                          "external data in '%s': length is %llu bytes, the dims need %zu", loc,
                          (unsigned long long)length, nbytes);
    if (offset > file_size || nbytes > file_size - offset)
        return ais__error(AIS_E_FORMAT,
                          "external data in '%s': %zu bytes at offset %llu run past the end of "
                          "the file (%zu bytes)",
                          loc, nbytes, (unsigned long long)offset, file_size);
    return AIS_OK;
}

ais_status ais__onnx_external(ais__onnx_ext *ext, const char *location, uint64_t offset,
                              bool has_length, uint64_t length, ais_dtype dtype,
                              const int64_t *dims, size_t ndim, size_t nbytes, ais_tensor **out) {
    *out = NULL;
    AIS__CHECK(ais__check_location(location));
    if (ext->map && ext->g) {
        const ais__onnx_extfile *ef = NULL;
        AIS__CHECK(ais__mapped(ext, location, &ef));
        AIS__CHECK(ais__range_check(location, offset, has_length, length, nbytes, ef->size));
        if (nbytes == 0) return ais__tensor_new(dtype, dims, ndim, out);
        return ais__onnx_tensor_from_bytes(ext, true, dtype, dims, ndim, ef->data + (size_t)offset,
                                           nbytes, out);
    }
    /* Not mapping: read the range into an owned tensor. */
    int fd;
    size_t size;
    AIS__CHECK(ais__open_data(ext, location, &fd, &size));
    ais_status st = ais__range_check(location, offset, has_length, length, nbytes, size);
    ais_tensor *t = NULL;
    if (st == AIS_OK) st = ais__tensor_new(dtype, dims, ndim, &t);
    for (size_t done = 0; st == AIS_OK && done < nbytes;) {
        ssize_t n = pread(fd, (char *)t->data + done, nbytes - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            st = ais__error(AIS_E_IO, "reading external data '%s': %s", location,
                            n < 0 ? strerror(errno) : "unexpected end of file");
        else
            done += (size_t)n;
    }
    close(fd);
    if (st != AIS_OK) {
        ais_tensor_destroy(t);
        return st;
    }
    ext->copied += nbytes;
    *out = t;
    return AIS_OK;
}
