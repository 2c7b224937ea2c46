/* procfd.c - socket inodes held by a process, from /proc/<pid>/fd.
 *
 * Called for every process of every container on each reconciliation, so it
 * reads the directory with getdents64 into a stack buffer and each link with
 * readlinkat() on the directory fd: no DIR stream, no path building and no
 * allocation per fd. A process or fd that disappears while we look simply
 * holds nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/array.h"
#include "basic/macro.h"
#include "procfd.h"

struct linux_dirent64 {
        uint64_t d_ino;
        int64_t d_off;
        unsigned short d_reclen;
        unsigned char d_type;
        char d_name[];
};

static int inodes_push(uint64_t **v, size_t *n, size_t *alloc, uint64_t ino)
{
        return ARRAY_PUSH(*v, *n, *alloc, ino);
}

/* "socket:[12345]" -> 12345; 0 if the link is not a socket. */
static uint64_t parse_socket_link(const char *s, size_t len)
{
        static const char prefix[] = "socket:[";
        uint64_t ino = 0;
        size_t i;

        if (len < sizeof(prefix) + 1 || memcmp(s, prefix, sizeof(prefix) - 1) != 0 ||
            s[len - 1] != ']')
                return 0;
        for (i = sizeof(prefix) - 1; i < len - 1; i++) {
                if (s[i] < '0' || s[i] > '9' || ino > (UINT64_MAX - 9) / 10)
                        return 0;
                ino = ino * 10 + (uint64_t)(s[i] - '0');
        }
        return ino;
}

int procfd_socket_inodes(pid_t pid, uint64_t **v, size_t *n, size_t *alloc)
{
        char path[64], buf[8192] __attribute__((aligned(8)));
        _cleanup_close_ int dfd = -1;
        size_t appended = 0, n_start = *n;
        int r = 0;

        if (pid <= 0)
                return -EINVAL;
        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT || errno == ESRCH ? 0 : negative_errno();

        while (r >= 0) {
                long k = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
                if (k < 0) {
                        if (errno == ENOENT || errno == ESRCH)
                                break; /* the process exited under us */
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        break;
                }
                if (k == 0)
                        break;
                for (long off = 0; r >= 0 && off < k;) {
                        const struct linux_dirent64 *de = (const void *)(buf + off);
                        char link[64];
                        ssize_t l;
                        uint64_t ino;

                        off += de->d_reclen;
                        if (de->d_name[0] == '.')
                                continue;
                        l = readlinkat(dfd, de->d_name, link, sizeof(link));
                        if (l < 0) {
                                if (errno == ENOENT || errno == ESRCH)
                                        continue; /* fd closed meanwhile */
                                r = negative_errno();
                                break;
                        }
                        ino = parse_socket_link(link, (size_t)l);
                        if (ino == 0)
                                continue;
                        r = inodes_push(v, n, alloc, ino);
                        appended++;
                }
        }
        if (r < 0) {
                *n = n_start; /* all or nothing */
                return r;
        }
        return (int)MIN(appended, (size_t)INT32_MAX);
}
