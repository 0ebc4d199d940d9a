/*
 * safe_open.c - the one way the library opens a file for reading (see format.h).
 *
 * Every open uses O_NONBLOCK, so that a FIFO (or a terminal, a socket) named where a model or a
 * tensor is expected does not block the loading thread forever; fstat then refuses anything that
 * is not a regular file before a byte is read, and O_NONBLOCK is cleared again (it means nothing
 * for regular files today, but a read must never see EAGAIN if that changes).
 */
#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AIS__OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

static const char *ais__file_kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
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

