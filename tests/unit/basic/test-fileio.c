/* test-fileio.c - unit tests of whole-file reads, atomic writes, mkdir_p, rm_rf.
 *
 * Real files in a private directory (mkdtemp under /tmp) that the group
 * teardown removes with plain libc calls, so a broken rm_rf() cannot leave
 * litter behind or hide its own failure. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/fileio.h"

static char tmpdir[] = "/tmp/portiso-test-fileio.XXXXXX";

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path) < 0 ? -1 : 0;
}

static int group_setup(void **state)
{
        (void)state;
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
        (void)state;
        return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Format tmpdir/name into buf and return it. */
static const char *path_of(char *buf, size_t size, const char *name)
{
        snprintf(buf, size, "%s/%s", tmpdir, name);
        return buf;
}

static void put(const char *path, const char *content)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static bool exists(const char *path)
{
        struct stat st;
        return lstat(path, &st) == 0;
}

static void test_read_full_file(void **state)
{
        (void)state;
        char p[512];
        char *s = NULL;
        size_t len = 0;

        put(path_of(p, sizeof(p), "small"), "hello\nworld\n");
        assert_int_equal(read_full_file(p, &s, &len), 0);
        assert_string_equal(s, "hello\nworld\n");
        assert_int_equal(len, 12);
        free(s);

        /* Without a length out-parameter. */
        assert_int_equal(read_full_file(p, &s, NULL), 0);
        assert_string_equal(s, "hello\nworld\n");
        free(s);

        put(path_of(p, sizeof(p), "empty"), "");
        assert_int_equal(read_full_file(p, &s, &len), 0);
        assert_string_equal(s, "");
        assert_int_equal(len, 0);
        free(s);

        /* Several times the initial 4 KiB buffer, exact content. */
        size_t big_len = 100000;
        char *big = malloc(big_len + 1);
        assert_non_null(big);
        for (size_t i = 0; i < big_len; i++)
                big[i] = (char)('a' + i % 26);
        big[big_len] = '\0';
        put(path_of(p, sizeof(p), "big"), big);
        assert_int_equal(read_full_file(p, &s, &len), 0);
        assert_int_equal(len, big_len);
        assert_memory_equal(s, big, big_len + 1);
        free(s);
        free(big);

        /* Kernel pseudo-files report size 0 but have content. */
        assert_int_equal(read_full_file("/proc/self/stat", &s, &len), 0);
        assert_true(len > 0);
        free(s);

        s = (char *)0x1;
        assert_int_equal(read_full_file(path_of(p, sizeof(p), "missing"), &s, &len), -ENOENT);
        assert_ptr_equal(s, (char *)0x1);
        assert_int_equal(read_full_file(tmpdir, &s, &len), -EISDIR);
}

static void test_read_one_line_file(void **state)
{
        (void)state;
        char p[512];
        char *s;

        put(path_of(p, sizeof(p), "line"), "0::/portiso/c1\n");
        assert_int_equal(read_one_line_file(p, &s), 0);
        assert_string_equal(s, "0::/portiso/c1");
        free(s);

        put(p, "no newline");
        assert_int_equal(read_one_line_file(p, &s), 0);
        assert_string_equal(s, "no newline");
        free(s);

        /* Only one trailing newline is stripped. */
        put(p, "a\nb\n\n");
        assert_int_equal(read_one_line_file(p, &s), 0);
        assert_string_equal(s, "a\nb\n");
        free(s);

        assert_int_equal(read_one_line_file(path_of(p, sizeof(p), "nope"), &s), -ENOENT);
}

static size_t count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

static void test_write_file_atomic(void **state)
{
        (void)state;
        char dir[512], p[600];
        struct stat st;
        char *s;

        snprintf(dir, sizeof(dir), "%s/atomic", tmpdir);
        assert_int_equal(mkdir(dir, 0755), 0);
        snprintf(p, sizeof(p), "%s/state.json", dir);

        mode_t old = umask(022);
        assert_int_equal(write_file_atomic(p, "{\"a\":1}", 7, 0640, NULL), 0);
        umask(old);
        assert_int_equal(read_full_file(p, &s, NULL), 0);
        assert_string_equal(s, "{\"a\":1}");
        free(s);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);

        /* Replacing: new content, a new inode (renamed over), no temp left. */
        ino_t first = st.st_ino;
        assert_int_equal(write_file_atomic(p, "{\"a\":2,\"b\":true}", 16, 0600, NULL), 0);
        assert_int_equal(read_full_file(p, &s, NULL), 0);
        assert_string_equal(s, "{\"a\":2,\"b\":true}");
        free(s);
        assert_int_equal(stat(p, &st), 0);
        assert_int_not_equal(st.st_ino, first);
        assert_int_equal(count_entries(dir), 1);

        /* Binary data with NULs and zero length. */
        assert_int_equal(write_file_atomic(p, "x\0y", 3, 0600, NULL), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_size, 3);
        assert_int_equal(write_file_atomic(p, "", 0, 0600, NULL), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_size, 0);

        /* A path without a directory part is relative to the cwd. */
        int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(cwd >= 0);
        assert_int_equal(chdir(dir), 0);
        int r = write_file_atomic("plain", "p", 1, 0600, NULL);
        assert_int_equal(fchdir(cwd), 0);
        close(cwd);
        assert_int_equal(r, 0);
        snprintf(p, sizeof(p), "%s/plain", dir);
        assert_int_equal(read_full_file(p, &s, NULL), 0);
        assert_string_equal(s, "p");
        free(s);

        /* Missing directory: the error, and nothing created. */
        snprintf(p, sizeof(p), "%s/nodir/state.json", tmpdir);
        assert_int_equal(write_file_atomic(p, "x", 1, 0600, NULL), -ENOENT);
        assert_false(exists(p));
        assert_int_equal(count_entries(dir), 2);
}

static void test_write_string_file(void **state)
{
        (void)state;
        char p[512];
        char *s;

        put(path_of(p, sizeof(p), "control"), "old content");
        assert_int_equal(write_string_file(p, "1"), 0);
        assert_int_equal(read_full_file(p, &s, NULL), 0);
        /* No O_TRUNC, as for cgroup control files: overwrites in place. */
        assert_string_equal(s, "1ld content");
        free(s);

        /* Never creates. */
        assert_int_equal(write_string_file(path_of(p, sizeof(p), "absent"), "1"), -ENOENT);
        assert_false(exists(p));
}

static void test_mkdir_p(void **state)
{
        (void)state;
        char p[512];
        struct stat st;

        assert_int_equal(mkdir_p(path_of(p, sizeof(p), "m/a/b/c"), 0755), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));

        /* Existing is fine, and a trailing slash too. */
        assert_int_equal(mkdir_p(p, 0755), 0);
        assert_int_equal(mkdir_p(path_of(p, sizeof(p), "m/a/"), 0755), 0);
        assert_int_equal(mkdir_p(path_of(p, sizeof(p), "m/x//y"), 0755), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));

        /* A file in the way of a component below it. */
        put(path_of(p, sizeof(p), "m/file"), "");
        assert_int_equal(mkdir_p(path_of(p, sizeof(p), "m/file/sub"), 0755), -ENOTDIR);
}

static void test_rm_rf(void **state)
{
        (void)state;
        char p[512], outside[512], link[512];

        assert_int_equal(mkdir_p(path_of(p, sizeof(p), "rm/a/b/c"), 0755), 0);
        put(path_of(p, sizeof(p), "rm/a/f1"), "1");
        put(path_of(p, sizeof(p), "rm/a/b/c/f2"), "2");

        /* A symlink to a directory outside: removed, not followed. */
        assert_int_equal(mkdir_p(path_of(outside, sizeof(outside), "keep"), 0755), 0);
        put(path_of(p, sizeof(p), "keep/precious"), "x");
        assert_int_equal(symlink(outside, path_of(link, sizeof(link), "rm/a/link")), 0);

        assert_int_equal(rm_rf(path_of(p, sizeof(p), "rm")), 0);
        assert_false(exists(p));
        assert_true(exists(path_of(p, sizeof(p), "keep/precious")));

        /* A single file, then a missing path. */
        put(path_of(p, sizeof(p), "single"), "s");
        assert_int_equal(rm_rf(p), 0);
        assert_false(exists(p));
        assert_int_equal(rm_rf(p), 0);

        /* Refuses the dangerous ones. */
        assert_int_equal(rm_rf("/"), -EINVAL);
        assert_int_equal(rm_rf(""), -EINVAL);
        assert_int_equal(rm_rf(NULL), -EINVAL);
}

static void test_fsync_directory(void **state)
{
        (void)state;
        char p[512];

        assert_int_equal(fsync_directory(tmpdir), 0);
        assert_int_equal(fsync_directory(path_of(p, sizeof(p), "gone")), -ENOENT);
        put(path_of(p, sizeof(p), "plainfile"), "");
        assert_int_equal(fsync_directory(p), -ENOTDIR);
}

static void test_record_files(void **state)
{
        (void)state;
        char p[512], *text = NULL;
        size_t len = 0;
        struct stat st;

        path_of(p, sizeof(p), "record");
        assert_int_equal(write_record_file(p, "x", 1, NULL), -ENOENT); /* never reserved */
        assert_int_equal(reserve_record_file(p, 32, 0600, NULL), 0);
        assert_int_equal(read_full_file(p, &text, &len), 0);
        assert_int_equal(len, 32);
        assert_int_equal(strspn(text, " "), 31); /* blanks, then a newline */
        assert_int_equal(text[31], '\n');
        free(text);

        assert_int_equal(write_record_file(p, "hello\n", 6, NULL), 0);
        assert_int_equal(write_record_file(p, "hi\n", 3, NULL), 0); /* shorter: no tail left */
        assert_int_equal(read_full_file(p, &text, &len), 0);
        assert_int_equal(len, 32);
        assert_int_equal(strncmp(text, "hi\n", 3), 0);
        assert_int_equal(strspn(text + 3, " "), 28);
        free(text);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_size, 32);

        /* What does not fit is refused, the record untouched. */
        char big[40];
        memset(big, 'y', sizeof(big));
        assert_int_equal(write_record_file(p, big, 32, NULL), -E2BIG);
        assert_int_equal(write_record_file(p, big, sizeof(big), NULL), -E2BIG);
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        assert_int_equal(strncmp(text, "hi\n", 3), 0);
        free(text);
}

static void test_rename_durably(void **state)
{
        (void)state;
        char a[512], b[512];

        put(path_of(a, sizeof(a), "ren-a"), "a");
        assert_int_equal(rename_durably(a, path_of(b, sizeof(b), "ren-b"), NULL), 0);
        assert_false(exists(a));
        assert_true(exists(b));
        assert_int_equal(rename_durably(a, b, NULL), -ENOENT);
}

/* A sync_later that records what it is handed. */
struct collect {
        struct sync_later later;
        char paths[8][512];
        bool dirs[8];
        size_t n;
        int fail; /* what add() returns when non-zero */
};

static int collect_add(struct sync_later *l, const char *path, bool is_dir)
{
        struct collect *c = (struct collect *)l;

        if (c->fail)
                return c->fail;
        assert_true(c->n < 8);
        snprintf(c->paths[c->n], sizeof(c->paths[c->n]), "%s", path);
        c->dirs[c->n++] = is_dir;
        return 0;
}

static void test_writes_later(void **state)
{
        (void)state;
        struct collect c = {.later = {collect_add}};
        char p[512], q[512], *text = NULL;

        /* The content is there at once; file, then directory, to flush. */
        path_of(p, sizeof(p), "later");
        assert_int_equal(write_file_atomic(p, "{}", 2, 0600, &c.later), 0);
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        assert_string_equal(text, "{}");
        free(text);
        assert_int_equal(c.n, 2);
        assert_string_equal(c.paths[0], p);
        assert_false(c.dirs[0]);
        assert_string_equal(c.paths[1], tmpdir);
        assert_true(c.dirs[1]);

        /* A record overwritten in place names itself only. */
        c.n = 0;
        path_of(q, sizeof(q), "later-record");
        assert_int_equal(reserve_record_file(q, 16, 0600, &c.later), 0);
        assert_int_equal(c.n, 2);
        c.n = 0;
        assert_int_equal(write_record_file(q, "r\n", 2, &c.later), 0);
        assert_int_equal(c.n, 1);
        assert_string_equal(c.paths[0], q);
        assert_false(c.dirs[0]);

        /* A rename names both directories (one here). */
        c.n = 0;
        char renamed[512];
        assert_int_equal(
            rename_durably(q, path_of(renamed, sizeof(renamed), "later-renamed"), &c.later), 0);
        assert_int_equal(c.n, 1);
        assert_true(c.dirs[0]);
        assert_int_equal(sync_path(tmpdir, true, &c.later), 0);
        assert_int_equal(c.n, 2);

        /* What cannot be remembered fails the write. */
        c.fail = -ENOMEM;
        assert_int_equal(write_file_atomic(p, "{}", 2, 0600, &c.later), -ENOMEM);
        assert_int_equal(sync_path(tmpdir, true, NULL), 0); /* now */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_read_full_file),    cmocka_unit_test(test_read_one_line_file),
            cmocka_unit_test(test_write_file_atomic), cmocka_unit_test(test_write_string_file),
            cmocka_unit_test(test_mkdir_p),           cmocka_unit_test(test_rm_rf),
            cmocka_unit_test(test_fsync_directory),   cmocka_unit_test(test_record_files),
            cmocka_unit_test(test_rename_durably),    cmocka_unit_test(test_writes_later),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
