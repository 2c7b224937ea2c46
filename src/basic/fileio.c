/* fileio.c - whole-file reads and atomic writes; see fileio.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

int read_full_file(const char *path, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, alloc = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();

        for (;;) {
                if (len + 1 >= alloc) {
                        size_t want = alloc ? alloc * 2 : 4096;
                        if (want > (size_t)256 << 20)
                                return -EFBIG;
                        char *n = realloc(buf, want);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                        alloc = want;
                }
                ssize_t k = read(fd, buf + len, alloc - len - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int read_one_line_file(const char *path, char **ret)
{
        char *s;
        size_t len;
        int r = read_full_file(path, &s, &len);

        if (r < 0)
                return r;
        if (len > 0 && s[len - 1] == '\n')
                s[len - 1] = '\0';
        *ret = s;
        return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
        const char *p = data;

        while (len > 0) {
                ssize_t k = write(fd, p, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                len -= (size_t)k;
        }
        return 0;
}

int sync_path(const char *path, bool is_dir, struct sync_later *later)
{
        _cleanup_close_ int fd = -1;

        if (later)
                return later->add(later, path, is_dir);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (is_dir ? O_DIRECTORY : 0));
        if (fd < 0)
                return negative_errno();
        if (fsync(fd) < 0)
                return negative_errno();
        return 0;
}

int fsync_directory(const char *path)
{
        return sync_path(path, true, NULL);
}

static int parent_dir(const char *path, char **ret)
{
        char *dir = strdup(path), *slash;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash == dir)
                slash[1] = '\0';
        else if (slash)
                *slash = '\0';
        else
                strcpy(dir, ".");
        *ret = dir;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                      struct sync_later *later)
{
        _cleanup_free_ char *dir = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        r = parent_dir(path, &dir);
        if (r < 0)
                return r;

        if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
                return -ENOMEM;

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return negative_errno();
        r = write_all(fd, data, len);
        if (r >= 0 && !later && fsync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = negative_errno();
        if (r >= 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        /* Later: the content, then the name (both before anyone is told). */
        if (later && (r = later->add(later, path, false)) < 0)
                return r;
        return sync_path(dir, true, later);
}

/* data padded with blanks to size bytes, the last one a newline. */
static char *padded(const void *data, size_t len, size_t size)
{
        char *buf = malloc(size);

        if (!buf)
                return NULL;
        memcpy(buf, data, len);
        memset(buf + len, ' ', size - len);
        buf[size - 1] = '\n';
        return buf;
}

int reserve_record_file(const char *path, size_t size, mode_t mode, struct sync_later *later)
{
        _cleanup_free_ char *buf = NULL;

        if (size == 0)
                return -EINVAL;
        buf = padded("", 0, size);
        if (!buf)
                return -ENOMEM;
        return write_file_atomic(path, buf, size, mode, later);
}

int write_record_file(const char *path, const void *data, size_t len, struct sync_later *later)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t size;
        ssize_t k;

        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        size = (size_t)st.st_size;
        if (size == 0)
                return -ENOENT; /* not a reservation (or a torn one) */
        if (len >= size)
                return -E2BIG;
        buf = padded(data, len, size);
        if (!buf)
                return -ENOMEM;
        /* One write at offset 0: never a partial record we would append to. */
        do
                k = pwrite(fd, buf, size, 0);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return negative_errno();
        if ((size_t)k != size)
                return -EIO;
        if (later)
                return later->add(later, path, false);
        if (fdatasync(fd) < 0)
                return negative_errno();
        return 0;
}

int rename_durably(const char *oldpath, const char *newpath, struct sync_later *later)
{
        _cleanup_free_ char *a = NULL, *b = NULL;
        int r;

        r = parent_dir(oldpath, &a);
        if (r >= 0)
                r = parent_dir(newpath, &b);
        if (r < 0)
                return r;
        if (rename(oldpath, newpath) < 0)
                return negative_errno();
        r = sync_path(a, true, later);
        if (r >= 0 && strcmp(a, b) != 0)
                r = sync_path(b, true, later);
        return r;
}

int write_string_file(const char *path, const char *s)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return negative_errno();
        return write_all(fd, s, strlen(s));
}

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = NULL;
        struct stat st;

        /* Mostly the directory, or all but its last component, exists: one
         * or two system calls then, not one per component. */
        if (stat(path, &st) == 0)
                return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
        if (mkdir(path, mode) == 0)
                return 0;
        if (errno != ENOENT && errno != EEXIST)
                return negative_errno();
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *s = '/';
        }
        if (mkdir(p, mode) < 0) {
                if (errno != EEXIST)
                        return negative_errno();
                if (stat(p, &st) < 0)
                        return negative_errno();
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
        }
        return 0;
}

static int rm_rf_at(int dfd, const char *name)
{
        struct stat st;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? negative_errno() : 0;

        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return negative_errno();
        }
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                int k = rm_rf_at(dirfd(d), de->d_name);
                if (k < 0 && r == 0)
                        r = k;
        }
        closedir(d);
        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = negative_errno();
        return r;
}

int rm_rf(const char *path)
{
        if (!path || !*path || strcmp(path, "/") == 0)
                return -EINVAL;
        return rm_rf_at(AT_FDCWD, path);
}

int lock_directory(const char *path, int *ret_fd)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}
