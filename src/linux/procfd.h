/* procfd.h - the sockets a process holds, from /proc/<pid>/fd.
 *
 * Each fd symlink that reads "socket:[<inode>]" is a socket the process holds,
 * whoever created it. Processes exit while we look: a vanished pid or fd is
 * not an error, it simply holds nothing. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Append the socket inodes held by pid to *v (a malloc'd array grown as
 * needed, *n entries, *alloc capacity). Returns the number appended; 0 if the
 * process is gone. */
int procfd_socket_inodes(pid_t pid, uint64_t **v, size_t *n, size_t *alloc);
