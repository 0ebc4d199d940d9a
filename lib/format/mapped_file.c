/* mapped_file.c - whole files as bytes: mapped read-only, or read into owned memory. */
#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void ais__load_opts_default(ais__load_opts *o) {
    o->max_file_bytes = (uint64_t)1 << 40;
    o->map_weights = true;
    o->verify_data = true;
    o->source_mapped = false;
}

void ais__drop_pages(const void *p, size_t n) {
    static size_t page;
    if (!page) {
        long ps = sysconf(_SC_PAGESIZE);
        page = ps > 0 ? (size_t)ps : 4096;
    }
    uintptr_t begin = (uintptr_t)p, end;
    if (n < page || __builtin_add_overflow(begin, n, &end)) return;
    begin = (begin + page - 1) & ~(uintptr_t)(page - 1);
    end &= ~(uintptr_t)(page - 1);
    if (end > begin) (void)madvise((void *)begin, end - begin, MADV_DONTNEED);
}

/* The whole file into 64-byte aligned memory, so raw tensors can be used in place as they would
 * be from a mapping. */
static ais_status ais__file_read_all(int fd, const char *path, size_t size, ais__file *f) {
    uint8_t *buf = ais__malloc_aligned(size ? size : 1, AIS__ALIGN);
    if (!buf) return ais__oom(size, path);
    size_t done = 0;
    while (done < size) {
        ssize_t n = read(fd, buf + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = errno;
            ais__free(buf);
            if (n == 0)
                return ais__error(AIS_E_IO, "%s: file shrank while reading (%zu of %zu bytes)",
                                  path, done, size);
            return ais__error(AIS_E_IO, "%s: cannot read: %s", path, strerror(err));
        }
        done += (size_t)n;
    }
    f->data = buf;
    f->mapped = false;
    return AIS_OK;
}

ais_status ais__file_open(const char *path, uint64_t max_bytes, bool map, ais__file **out) {
    *out = NULL;
    if (!path) return ais__error(AIS_E_INVALID_ARGUMENT, "file path is NULL");
    int fd;
    uint64_t size64;
    AIS__CHECK(ais__open_regular(path, "file", &fd, &size64));
    ais_status st = AIS_OK;
    if (size64 > max_bytes || size64 > SIZE_MAX) {
        st = ais__error(AIS_E_LIMIT, "%s: %llu bytes, more than the limit of %llu", path,
                        (unsigned long long)size64, (unsigned long long)max_bytes);
        goto done;
    }
    ais__file *f = ais__calloc(1, sizeof *f);
    if (!f) {
        st = ais__oom(sizeof *f, "file");
        goto done;
    }
    f->size = (size_t)size64;
    /* An empty file cannot be mapped; the readers reject it with a better message. */
    if (map && f->size > 0) {
        void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            st = ais__error(AIS_E_IO, "%s: cannot map %zu bytes: %s", path, f->size,
                            strerror(errno));
            ais__free(f);
            goto done;
        }
        f->data = p;
        f->mapped = true;
    } else if ((st = ais__file_read_all(fd, path, f->size, f)) != AIS_OK) {
        ais__free(f);
        goto done;
    }
    *out = f;
done:
    close(fd);
    return st;
}

void ais__file_close(ais__file *f) {
    if (!f) return;
    if (f->mapped)
        munmap((void *)f->data, f->size);
    else
        ais__free((void *)f->data);
    ais__free(f);
}

void ais__file_release(void *file) { ais__file_close(file); }
