/*
 * safe_open.c - the one way the library opens a file for reading (see format.h).
 *
 * Every open uses O_NONBLOCK, so that a FIFO (or a terminal, a socket) named where a model or a
 * tensor is expected does not block the loading thread forever; fstat then refuses anything that
 * is not a regular file before a byte is read, and O_NONBLOCK is cleared again (it means nothing
 * for regular files today, but a read must never see EAGAIN if that changes).
 *
 * Files that a model names (ONNX external data) are opened beneath the model's folder with no
 * symbolic link in the part of the path that the model wrote: openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) where the kernel has it (Linux 5.6), else one openat(O_NOFOLLOW) per
 * component from a directory descriptor. Both refuse every link, also one that stays inside the
 * folder, so the rule is the same on every kernel (docs/design-decisions.md).
 */
#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__linux__) && !defined(SYS_openat2)
#define SYS_openat2 437 /* the same number on every architecture (asm-generic) */
#endif

/* struct open_how and the RESOLVE_ flags of <linux/openat2.h>, which older C libraries lack. */
typedef struct ais__open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
} ais__open_how;
#define AIS__RESOLVE_NO_MAGICLINKS 0x02u
#define AIS__RESOLVE_NO_SYMLINKS 0x04u
#define AIS__RESOLVE_BENEATH 0x08u

#define AIS__OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

static const char *ais__file_kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
}

/* fstat, refuse what is not a regular file, clear O_NONBLOCK; closes fd on failure. */
static ais_status ais__finish_open(int fd, const char *what, const char *path, uint64_t *size) {
    struct stat sb;
    ais_status st = AIS_OK;
    if (fstat(fd, &sb) != 0) {
        st = ais__error(AIS_E_IO, "%s %s: cannot stat: %s", what, path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        st = ais__error(AIS_E_IO, "%s %s is %s, not a regular file", what, path,
                        ais__file_kind(sb.st_mode));
    } else {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
            st = ais__error(AIS_E_IO, "%s %s: fcntl: %s", what, path, strerror(errno));
    }
    if (st != AIS_OK) {
        close(fd);
        return st;
    }
    *size = (uint64_t)sb.st_size;
    return AIS_OK;
}

ais_status ais__open_regular(const char *path, const char *what, int *fd, uint64_t *size) {
    *fd = -1;
    int f;
    do
        f = open(path, AIS__OPEN_FLAGS);
    while (f < 0 && errno == EINTR);
    if (f < 0) return ais__error(AIS_E_IO, "%s %s: cannot open: %s", what, path, strerror(errno));
    AIS__CHECK(ais__finish_open(f, what, path, size));
    *fd = f;
    return AIS_OK;
}

ais_status ais__create_regular(const char *path, const char *what, int *fd) {
    *fd = -1;
    int f;
    /* No O_TRUNC yet: the file is cut only once it is known to be a regular file. O_NONBLOCK
     * makes a FIFO without a reader fail (ENXIO) instead of waiting for one. */
    do
        f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0666);
    while (f < 0 && errno == EINTR);
    if (f < 0) {
        if (errno == ENXIO)
            return ais__error(AIS_E_IO, "%s %s is a FIFO (named pipe), not a regular file", what,
                              path);
        return ais__error(AIS_E_IO, "%s %s: cannot create: %s", what, path, strerror(errno));
    }
    uint64_t size;
    AIS__CHECK(ais__finish_open(f, what, path, &size));
    if (size > 0 && ftruncate(f, 0) != 0) {
        ais_status st =
            ais__error(AIS_E_IO, "%s %s: cannot truncate: %s", what, path, strerror(errno));
        close(f);
        return st;
    }
    *fd = f;
    return AIS_OK;
}

/* The message for a component that could not be opened without following a link. */
static ais_status ais__beneath_fail(int dirfd, const char *comp, const char *what, const char *rel,
                                    int err) {
    struct stat sb;
    if (fstatat(dirfd, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode)) err = ELOOP;
    if (err == ELOOP)
        return ais__error(AIS_E_IO,
                          "%s '%s': '%s' is a symbolic link, and links are not followed in paths "
                          "that a model names",
                          what, rel, comp);
    return ais__error(AIS_E_IO, "%s '%s': cannot open '%s': %s", what, rel, comp, strerror(err));
}

ais_status ais__open_beneath_walk(int dirfd, const char *rel, const char *what, int *fd) {
    *fd = -1;
    size_t n = strlen(rel);
    char *buf = ais__malloc(n + 1);
    if (!buf) return ais__oom(n + 1, "path");
    memcpy(buf, rel, n + 1);
    int cur = dirfd;
    ais_status st = AIS_OK;
    char *p = buf;
    for (;;) {
        char *slash = strchr(p, '/');
        if (slash) *slash = 0;
        bool last = !slash;
        if (!*p || strcmp(p, ".") == 0) {
            if (last) {
                st = ais__error(AIS_E_IO, "%s '%s' names a folder, not a file", what, rel);
                break;
            }
            p = slash + 1;
            continue;
        }
        if (strcmp(p, "..") == 0) {
            st = ais__error(AIS_E_IO, "%s '%s' leaves the model's folder ('..')", what, rel);
            break;
        }
        int next;
        int flags =
            last ? AIS__OPEN_FLAGS | O_NOFOLLOW : O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW;
        do
            next = openat(cur, p, flags);
        while (next < 0 && errno == EINTR);
        if (next < 0) {
            st = ais__beneath_fail(cur, p, what, rel, errno);
            break;
        }
        if (cur != dirfd) close(cur);
        cur = next;
        if (last) break;
        p = slash + 1;
    }
    if (st != AIS_OK) {
        if (cur != dirfd) close(cur);
    } else {
        *fd = cur;
    }
    ais__free(buf);
    return st;
}

ais_status ais__open_beneath(const char *base_dir, const char *rel, const char *what, int *fd,
                             uint64_t *size) {
    *fd = -1;
    if (!rel[0] || rel[0] == '/')
        return ais__error(AIS_E_IO, "%s '%s' is not a relative path", what, rel);
    int dirfd;
    /* The folder itself came from the caller (the model's own path), so links in it are
     * followed like in any path a program is given. */
    do
        dirfd = open(base_dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
    while (dirfd < 0 && errno == EINTR);
    if (dirfd < 0)
        return ais__error(AIS_E_IO, "%s '%s': cannot open the model's folder %s: %s", what, rel,
                          base_dir, strerror(errno));
    int f = -1;
    ais_status st = AIS_OK;
#ifdef SYS_openat2
    ais__open_how how = {.flags = AIS__OPEN_FLAGS,
                         .resolve = AIS__RESOLVE_BENEATH | AIS__RESOLVE_NO_SYMLINKS |
                                    AIS__RESOLVE_NO_MAGICLINKS};
    long r;
    do
        r = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    while (r < 0 && (errno == EINTR || errno == EAGAIN));
    if (r >= 0) {
        f = (int)r;
    } else if (errno == ENOSYS || errno == EPERM || errno == E2BIG || errno == EINVAL) {
        /* An old kernel, or a seccomp filter that does not know openat2: walk by hand. */
        st = ais__open_beneath_walk(dirfd, rel, what, &f);
    } else if (errno == ELOOP || errno == EXDEV) {
        /* Which component is the link: the walk names it (and refuses it the same way). */
        st = ais__open_beneath_walk(dirfd, rel, what, &f);
        if (st == AIS_OK) {
            close(f);
            f = -1;
            st = ais__error(AIS_E_IO, "%s '%s' resolves outside the model's folder", what, rel);
        }
    } else {
        st =
            ais__error(AIS_E_IO, "%s %s/%s: cannot open: %s", what, base_dir, rel, strerror(errno));
    }
#else
    st = ais__open_beneath_walk(dirfd, rel, what, &f);
#endif
    close(dirfd);
    if (st != AIS_OK) return st;
    AIS__CHECK(ais__finish_open(f, what, rel, size));
    *fd = f;
    return AIS_OK;
}
