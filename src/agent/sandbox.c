/* sandbox.c - see sandbox.h.
 *
 * The relative part below the work directory follows from the id alone
 * ("a/b" -> "containers/a/containers/b", checkpoint.h's layout), so the
 * work directory is the sandbox path minus that suffix, and only that
 * operator-chosen prefix is opened the ordinary way. Kernels before 5.6 have
 * no openat2: there the last component at least is opened O_NOFOLLOW. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/sandbox.h"
#include "basic/macro.h"

#define SANDBOX_SUBDIR "containers"

/* "containers/a/containers/b" for "a/b" into buf; -ENAMETOOLONG. */
static int sandbox_relative(const char *id, char *buf, size_t size)
{
        size_t n = 0;

        for (const char *p = id; *p;) {
                size_t k = strcspn(p, "/");
                size_t need = strlen(SANDBOX_SUBDIR) + 1 + k + 1;
                if (k == 0 || n + need + 1 > size)
                        return -ENAMETOOLONG;
                if (n > 0)
                        buf[n++] = '/';
                memcpy(buf + n, SANDBOX_SUBDIR "/", strlen(SANDBOX_SUBDIR) + 1);
                n += strlen(SANDBOX_SUBDIR) + 1;
                memcpy(buf + n, p, k);
                n += k;
                p += k + (p[k] == '/');
        }
        buf[n] = '\0';
        return n > 0 ? 0 : -EINVAL;
}

static int open_beneath(const char *sandbox, const char *id)
{
        char rel[4096], base[4096];
        size_t ls = strlen(sandbox), lr;
        int r;

        r = sandbox_relative(id, rel, sizeof(rel));
        if (r < 0)
                return r;
        lr = strlen(rel);
        if (ls <= lr + 1 || ls - lr >= sizeof(base) || sandbox[ls - lr - 1] != '/' ||
            strcmp(sandbox + ls - lr, rel) != 0)
                return -EINVAL;
        memcpy(base, sandbox, ls - lr - 1);
        base[ls - lr - 1] = '\0';

        _cleanup_close_ int dfd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        struct open_how how = {
            .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
        if (fd < 0 && errno == ENOSYS)
                fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        return fd < 0 ? negative_errno() : fd;
}

int sandbox_enter(const char *sandbox, const char *id, uid_t uid, gid_t gid)
{
        _cleanup_close_ int fd = open_beneath(sandbox, id);

        if (fd < 0)
                return fd;
        if (uid != 0 && fchown(fd, uid, gid) < 0)
                return negative_errno();
        if (fchdir(fd) < 0)
                return negative_errno();
        return 0;
}
