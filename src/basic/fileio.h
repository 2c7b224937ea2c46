/* fileio.h - whole-file reads and crash-safe writes.
 *
 * Checkpoints must never be seen half written: write_file_atomic() writes a
 * temporary file in the same directory, fsyncs it, renames it over the target
 * and fsyncs the directory, so after a crash the old or the new content is
 * there, never a mix.
 *
 * A rename needs free space for the new file, which a full disk does not
 * have. What must be writable even then is a reserved record: a file created
 * at its full, fixed size ahead of time and later overwritten in place with
 * one pwrite(2) and an fdatasync(2), which on a file system that overwrites
 * in place (ext4, xfs, tmpfs) allocates nothing. Its unused tail is padded
 * with spaces, so a record that was reserved but never written reads as
 * blank.
 *
 * Each write either flushes before it returns or, given a struct
 * sync_later, stops at the page cache and names what must still be flushed.
 * The page cache is all another process, or this one restarted after a crash
 * of its own, needs to read the write; only a crash of the machine can lose
 * it. The owner of the sync_later flushes the named paths off the caller's
 * path and holds back whatever depends on them (an answer) until then
 * (agent/syncer.h). A machine crash before that flush may leave such a file
 * empty or torn, as if the write had half happened: its reader must reject
 * that (the checkpoint parsers demand a record's end marker), and nothing
 * that depended on the write has been told. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sync_later {
        /* Remember that path (a file, or a directory whose entries changed)
         * must be flushed; < 0 if it cannot be remembered. */
        int (*add)(struct sync_later *l, const char *path, bool is_dir);
};

/* Read a whole file into a NUL-terminated malloc'd buffer. */
int read_full_file(const char *path, char **ret, size_t *ret_len);
/* Read a file and strip one trailing newline. */
int read_one_line_file(const char *path, char **ret);
/* Write data to path atomically and durably (temp + fsync + rename + dir
 * fsync; with later, the two flushes are handed to it). */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                      struct sync_later *later);
/* Create path as a record of exactly size bytes of blanks (atomically and
 * durably, as write_file_atomic()); an existing file is replaced. */
int reserve_record_file(const char *path, size_t size, mode_t mode, struct sync_later *later);
/* Overwrite a reserved record in place with data padded to its size, then
 * fdatasync (or hand that to later). -ENOENT if it was never reserved,
 * -E2BIG if data does not fit (len must be below the size: the last byte is
 * always a newline). */
int write_record_file(const char *path, const void *data, size_t len, struct sync_later *later);
/* Rename oldpath to newpath and fsync the directories of both (or hand
 * them to later). */
int rename_durably(const char *oldpath, const char *newpath, struct sync_later *later);
/* fsync a file or a directory now (later == NULL) or hand it to later. */
int sync_path(const char *path, bool is_dir, struct sync_later *later);
/* Write a string to an existing file (e.g. cgroup control files), no O_CREAT. */
int write_string_file(const char *path, const char *s);
/* mkdir -p with the given mode; existing directories are fine. */
int mkdir_p(const char *path, mode_t mode);
/* rm -rf; a missing path is fine. Refuses "/" and "". */
int rm_rf(const char *path);
/* fsync the directory at path. */
int fsync_directory(const char *path);
/* Take an exclusive, non-blocking flock(2) on the directory at path; the lock
 * lives as long as *ret_fd (O_CLOEXEC) stays open. -EBUSY if someone holds it. */
int lock_directory(const char *path, int *ret_fd);
