/* checkpoint.h - what the agent must remember about a container across its
 * own restarts, under <work_dir>/meta/containers/:
 *
 *   <root>/config.json                    container_config (command, allocation, network)
 *   <root>/supervisor                     "<pid> <start time> <main pid> <boot id>"
 *   <root>/exit_status                    the main process' wait(2) status (by the supervisor)
 *   <root>/termination.json               limitation/reason/message (by the agent)
 *   <root>/containers/<child>/...         a nested container, same layout
 *
 * Nested containers live below a `containers/` directory, as in Mesos' own
 * runtime layout, so no child id can ever clash with a file name.
 *
 * config.json is written with write_file_atomic(): after a crash a reader
 * sees the old or the new content, never a torn one; a write that fails
 * (a full disk) leaves the old one. The three records a container writes
 * later, possibly on a disk that has filled up since (supervisor,
 * exit_status, termination.json), are reserved at launch at their full size
 * and overwritten in place (see fileio.h), so that they cannot fail for want
 * of space; a reserved record never written reads as absent (-ENOENT). Each
 * is smaller than what disks write atomically (one sector for the two
 * one-line records, one page for termination.json); the parsers demand a
 * record's end marker (a newline, a closing brace), so one torn anyway reads
 * as corrupt rather than as a shorter value. A removed container's
 * directory is first renamed to "<name>.removed" (a name no id can have),
 * so that the removal is one durable step, then deleted; recovery deletes
 * any such directory left by a crash.
 *
 * Every write takes a struct sync_later (fileio.h): NULL flushes before it
 * returns (the supervisor, a separate process, writes so); the agent passes
 * its syncer's, so that its event loop never waits for a disk and its
 * answers wait for the flush instead. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "agent/container.h"
#include "basic/errbuf.h"
#include "basic/fileio.h"

/* Path of a container's checkpoint directory ("a/b" -> <meta>/a/containers/b). */
int checkpoint_dir(const char *work_dir, const char *id, char **ret);
/* Same layout for the sandbox: <work_dir>/containers/a/containers/b. */
int sandbox_dir(const char *work_dir, const char *id, char **ret);

/* Write config.json (the directory is created). */
int checkpoint_write_config(const char *dir, const struct container_config *cfg,
                            struct sync_later *later);
/* The same in two halves, for a write away from the config: its text
 * (malloc'd, NULL when out of memory), and the write of that text. */
char *checkpoint_format_config(const struct container_config *cfg);
int checkpoint_write_config_text(const char *dir, const char *text, struct sync_later *later);
/* Read config.json into *ret (replaced); -EINVAL etc. with a line in *e. */
int checkpoint_read_config(const char *dir, struct container_config *ret, struct errbuf *e);

struct checkpoint_supervisor {
        pid_t pid;
        uint64_t start_time; /* /proc/<pid>/stat field 22, clock ticks after boot */
        pid_t main_pid;
        char boot_id[40]; /* /proc/sys/kernel/random/boot_id, "" if unknown */
};
/* Reserve the supervisor, exit_status and termination.json records (blank,
 * full size) in dir, which must exist. */
int checkpoint_reserve(const char *dir, struct sync_later *later);
/* Write the supervisor record. */
int checkpoint_write_supervisor(const char *dir, const struct checkpoint_supervisor *s,
                                struct sync_later *later);
/* Read it; -ENOENT if absent, -EINVAL (line in *e) if corrupt. */
int checkpoint_read_supervisor(const char *dir, struct checkpoint_supervisor *ret,
                               struct errbuf *e);

/* Write the main process' wait status. */
int checkpoint_write_exit_status(const char *dir, int status, struct sync_later *later);
/* Read it; -ENOENT if absent, -EINVAL (line in *e) if corrupt. */
int checkpoint_read_exit_status(const char *dir, int *ret, struct errbuf *e);

/* Write termination.json (state, reason, message, limitation). */
int checkpoint_write_termination(const char *dir, const struct container_termination *t,
                                 struct sync_later *later);
/* Read it into *t (its state/reason/message/limitation are set; the exit
 * status is left alone). -ENOENT if absent. */
int checkpoint_read_termination(const char *dir, struct container_termination *t, struct errbuf *e);

/* Every checkpointed container id below <work_dir>/meta/containers, parents
 * before their nested containers ("a", "a/b"). Directories whose names are
 * not valid ids are skipped. */
int checkpoint_list(const char *work_dir, char ***ret, size_t *ret_n);
/* Remove a container's checkpoint (and its nested ones') durably: once this
 * returns 0 (and later has flushed) no restart sees it again. A failure
 * removes nothing. */
int checkpoint_remove(const char *work_dir, const char *id, struct sync_later *later);
/* The same for any directory (a sandbox): entomb it, then delete the tomb.
 * 0 once the rename is durable (a missing dir is fine). */
int remove_tree_durably(const char *dir, struct sync_later *later);
/* Rename dir to a tomb of its own, "<dir>.<n>.removed", and fsync (or hand
 * that to later): from then on it is gone for every reader, and deleting
 * the tomb can wait (a crash leaves it to checkpoint_sweep()). *ret_tomb is
 * the tomb's path, NULL if dir did not exist. */
int entomb_durably(const char *dir, struct sync_later *later, char **ret_tomb);
/* checkpoint_remove() without the deletion: the checkpoint's tomb. */
int checkpoint_entomb(const char *work_dir, const char *id, struct sync_later *later,
                      char **ret_tomb);
/* Delete the "*.removed" directories a crash left below the checkpoints and
 * sandboxes; the number deleted. */
size_t checkpoint_sweep(const char *work_dir);
