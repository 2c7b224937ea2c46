/* user.h - the Unix user a task runs as, resolved and then become.
 *
 * A name is resolved through NSS (getpwnam_r, getgrouplist). With the usual
 * `files` source in nsswitch.conf that reads /etc/passwd and /etc/group and
 * is quick; with LDAP or sssd it can block on the network. The agent looks a
 * name up once in the LAUNCH handler, to answer 400 for an unknown user at
 * once (a known risk on NSS-over-network hosts: the loop waits for that one
 * lookup); the supervisor, a process of its own, resolves it again with the
 * supplementary groups right before it forks the task, and the task becomes
 * that user with task_user_become() before it opens a file or execs. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "basic/errbuf.h"
#include "basic/macro.h"

struct task_user {
        char *name;
        uid_t uid;
        gid_t gid;     /* primary group */
        gid_t *groups; /* supplementary groups, the primary one included */
        size_t n_groups;
};

/* uid and primary gid of user name; -ENOENT (line "unknown user 'x'") if there
 * is no such user, other negative errnos when the lookup itself failed. */
int user_lookup(const char *name, uid_t *ret_uid, gid_t *ret_gid, struct errbuf *e);
/* Name of uid, malloc'd; -ENOENT if the uid has no passwd entry. */
int user_name_of_uid(uid_t uid, char **ret);
/* Resolve name with its supplementary groups. */
int task_user_resolve(const char *name, struct task_user *ret, struct errbuf *e);
/* Free the contents of u. */
void task_user_done(struct task_user *u);
/* setgroups, setgid, setuid (in that order: the last drops the right to the
 * others), then check that root cannot be regained. Only async-signal-safe
 * calls: fit for a child between fork and exec. */
int task_user_become(const struct task_user *u);
