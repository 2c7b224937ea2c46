/* sockdiag.h - listening sockets from NETLINK_SOCK_DIAG (libmnl).
 *
 * One request per (family, protocol), one receive loop, a parser that turns
 * attributes into a flat `struct listener` (as iproute2's ss does). TCP
 * sockets in LISTEN and UDP sockets that are bound and unconnected (what
 * `ss -lu` shows) are "listeners". The netlink socket is kept open across
 * dumps: the watch loop dumps every interval. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"

enum {
        SOCKDIAG_TCP = 1 << 0,
        SOCKDIAG_UDP = 1 << 1,
};

struct listener {
        uint8_t family;   /* AF_INET or AF_INET6 */
        uint8_t protocol; /* IPPROTO_TCP or IPPROTO_UDP */
        uint16_t port;    /* host byte order */
        union {
                struct in_addr v4;
                struct in6_addr v6;
        } addr;             /* local address */
        uint64_t inode;     /* socket inode, as in /proc/<pid>/fd -> socket:[inode] */
        uint64_t cgroup_id; /* cgroup v2 id of the creating task, 0 if not reported */
};

struct listener_table {
        struct listener *v;
        size_t n;
        size_t alloc;
};

struct sockdiag;

/* Open a NETLINK_SOCK_DIAG socket. */
int sockdiag_new(struct sockdiag **ret);
/* Close it; NULL is fine. */
void sockdiag_free(struct sockdiag *sd);
/* Replace *out with every listener of the given protocols (SOCKDIAG_* mask),
 * IPv4 and IPv6. Retries the dump on EINTR / an interrupted (NLM_F_DUMP_INTR)
 * dump, handles multi-part replies and NLMSG_ERROR. */
int sockdiag_dump(struct sockdiag *sd, unsigned protocols, struct listener_table *out);
/* The same for the listeners whose local port is port (!= 0) alone: the
 * kernel filters, so the cost does not grow with the host's listeners on
 * other ports. */
int sockdiag_dump_port(struct sockdiag *sd, unsigned protocols, uint16_t port,
                       struct listener_table *out);
/* Use a receive buffer of size bytes (>= 64); a datagram that does not fit
 * grows it and redoes the dump. The default (32 KiB) fits any dump datagram;
 * tests shrink it to exercise the regrowth. */
int sockdiag_set_buffer_size(struct sockdiag *sd, size_t size);
/* True once a dump saw INET_DIAG_CGROUP_ID on some socket (kernel >= 5.7). */
bool sockdiag_has_cgroup_id(const struct sockdiag *sd);

/* The cgroup v2 id of the open TCP socket (established, or half-closed by
 * its owner) whose local end is addr:port and whose remote end is
 * server_addr:server_port: the client end of a connection made on this host
 * to a local server. With server_addr (same family) the kernel looks the
 * socket up by its 4-tuple, a hash lookup; without it one dump of the
 * family's open TCP sockets is searched for addr:port with remote port
 * server_port (its cost grows with the host's sockets). -ENOENT if there is none (the
 * client is on another host or in another network namespace), -EOPNOTSUPP
 * if the kernel reports no cgroup ids. */
int sockdiag_find_tcp_client(struct sockdiag *sd, uint8_t family, const void *addr, uint16_t port,
                             const void *server_addr, uint16_t server_port,
                             uint64_t *ret_cgroup_id);

/* Parse "tcp", "udp" or "tcp,udp" into a SOCKDIAG_* mask; -EINVAL otherwise. */
int sockdiag_protocols_from_string(const char *s, unsigned *ret);

/* Free the table's storage. */
void listener_table_clear(struct listener_table *t);
/* Append one entry. */
int listener_table_push(struct listener_table *t, const struct listener *l);

DEFINE_TRIVIAL_CLEANUP_FUNC(struct sockdiag *, sockdiag_free);
static inline void listener_table_clearp(struct listener_table *t)
{
        listener_table_clear(t);
}
#define _cleanup_listener_table_ _cleanup_(listener_table_clearp)
