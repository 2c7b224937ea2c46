/* sockdiag.c - listening TCP and bound UDP sockets from NETLINK_SOCK_DIAG.
 *
 * One inet_diag_req_v2 dump per (family, protocol), parsed straight from the
 * receive buffer into the caller's listener table, as iproute2's ss does. The
 * netlink socket and the receive buffer live as long as the struct sockdiag,
 * so a dump in the watch loop costs a handful of syscalls and no allocation
 * beyond the table growing.
 *
 * Robustness rules, each for a reason:
 *   - replies are matched by sequence number, so leftovers of an abandoned
 *     dump can never be mistaken for the current one;
 *   - a dump the kernel marks NLM_F_DUMP_INTR (tables changed under it) is
 *     read to its end (a netlink socket runs one dump at a time) and redone;
 *   - a datagram larger than the buffer (MSG_TRUNC) or a lost one (ENOBUFS)
 *     leaves the socket mid-dump with data gone: the buffer is grown, the
 *     socket replaced, and the dump redone;
 *   - EINTR from recvmsg is simply retried.
 * The kernel adds INET_DIAG_CGROUP_ID to every reply when it has socket cgroup
 * data (kernel >= 5.7), with no request flag needed. */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>

#include "basic/array.h"
#include "sockdiag.h"

/* The kernel sizes dump datagrams by the largest recvmsg buffer it has seen,
 * capped at 32 KiB, so 32 KiB fits any datagram it sends. */
#define SOCKDIAG_BUFFER_SIZE (32u * 1024u)
#define SOCKDIAG_MAX_ATTEMPTS 16

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
#define SK_STATE_CLOSE 7
#define SK_STATE_LISTEN 10

struct sockdiag {
        struct mnl_socket *nl;
        uint32_t portid;
        uint32_t seq;
        char *buf;
        size_t buf_size;
        bool has_cgroup_id;
};

/* Result of one attempt at a sub-dump. */
enum {
        DUMP_DONE = 0,
        DUMP_RETRY = 1,  /* interrupted, read to its end: send it again */
        DUMP_REOPEN = 2, /* data lost mid-dump: new socket, then again */
};

static int sockdiag_open_socket(struct sockdiag *sd)
{
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);

        if (!nl)
                return negative_errno();
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = negative_errno();
                mnl_socket_close(nl);
                return r;
        }
        if (sd->nl)
                mnl_socket_close(sd->nl);
        sd->nl = nl;
        sd->portid = mnl_socket_get_portid(nl);
        return 0;
}

int sockdiag_new(struct sockdiag **ret)
{
        _cleanup_(sockdiag_freep) struct sockdiag *sd = calloc(1, sizeof(*sd));
        int r;

        if (!sd)
                return -ENOMEM;
        sd->buf_size = SOCKDIAG_BUFFER_SIZE;
        sd->buf = malloc(sd->buf_size);
        if (!sd->buf)
                return -ENOMEM;
        r = sockdiag_open_socket(sd);
        if (r < 0)
                return r;
        sd->seq = (uint32_t)time(NULL);
        *ret = TAKE_PTR(sd);
        return 0;
}

void sockdiag_free(struct sockdiag *sd)
{
        if (!sd)
                return;
        if (sd->nl)
                mnl_socket_close(sd->nl);
        free(sd->buf);
        free(sd);
}

bool sockdiag_has_cgroup_id(const struct sockdiag *sd)
{
        return sd->has_cgroup_id;
}

int sockdiag_set_buffer_size(struct sockdiag *sd, size_t size)
{
        char *b;

        if (size < 64)
                return -EINVAL;
        b = realloc(sd->buf, size);
        if (!b)
                return -ENOMEM;
        sd->buf = b;
        sd->buf_size = size;
        return 0;
}

void listener_table_clear(struct listener_table *t)
{
        free(t->v);
        *t = (struct listener_table){0};
}

int listener_table_push(struct listener_table *t, const struct listener *l)
{
        return ARRAY_PUSH(t->v, t->n, t->alloc, *l);
}

/* One request and what its replies do to the caller's result. */
struct query {
        struct nlmsghdr *request; /* sent again, with a new sequence number, per attempt */
        bool lookup;              /* an exact lookup: one reply, or ENOENT for none */
        void *userdata;
        /* An attempt begins: forget what an earlier one collected. */
        void (*restart)(void *userdata);
        /* One SOCK_DIAG_BY_FAMILY reply: < 0 fails the query, else read on. */
        int (*on_reply)(const struct nlmsghdr *nlh, void *userdata);
};

/* A dump request for (family, protocol) in the state the dump lists. With
 * port != 0 the kernel returns only sockets whose local port is port, by an
 * INET_DIAG_REQ_BYTECODE filter (sport == port), as `ss sport = :P`. */
#define DUMP_REQUEST_SIZE                                                                          \
        (MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct inet_diag_req_v2)) + MNL_ATTR_HDRLEN +         \
         2 * sizeof(struct inet_diag_bc_op))
static struct nlmsghdr *dump_request(char buf[static DUMP_REQUEST_SIZE], uint8_t family,
                                     uint8_t protocol, uint16_t port)
{
        struct nlmsghdr *nlh;
        struct inet_diag_req_v2 *r;

        memset(buf, 0, DUMP_REQUEST_SIZE);
        nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
        r->sdiag_family = family;
        r->sdiag_protocol = protocol;
        r->idiag_states = protocol == IPPROTO_TCP ? 1u << SK_STATE_LISTEN : 1u << SK_STATE_CLOSE;
        if (port != 0) {
                /* Accept: jump to the end (len); reject: jump past it (len + 4). */
                const struct inet_diag_bc_op ops[2] = {
                    {.code = INET_DIAG_BC_S_EQ,
                     .yes = 2 * sizeof(ops[0]),
                     .no = 3 * sizeof(ops[0])},
                    {.no = port},
                };
                mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, sizeof(ops), ops);
        }
        return nlh;
}

static int attr_cb(const struct nlattr *a, void *data)
{
        const struct nlattr **tb = data;
        uint16_t type = mnl_attr_get_type(a);

        if (type == INET_DIAG_CGROUP_ID && mnl_attr_validate(a, MNL_TYPE_U64) >= 0)
                tb[type] = a;
        return MNL_CB_OK;
}

/* Turn one SOCK_DIAG_BY_FAMILY message into a listener, if it is one. */
static int sockdiag_parse(struct sockdiag *sd, const struct nlmsghdr *nlh, uint8_t protocol,
                          struct listener_table *out)
{
        const struct nlattr *tb[INET_DIAG_MAX + 1] = {0};
        const struct inet_diag_msg *m;
        struct listener l = {0};

        if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*m))
                return -EBADMSG;
        m = mnl_nlmsg_get_payload(nlh);
        if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
                return 0;
        if (protocol == IPPROTO_TCP && m->idiag_state != SK_STATE_LISTEN)
                return 0;
        if (protocol == IPPROTO_UDP && m->idiag_state != SK_STATE_CLOSE)
                return 0;
        l.port = ntohs(m->id.idiag_sport);
        if (l.port == 0)
                return 0; /* unbound UDP socket: holds no port */

        l.family = m->idiag_family;
        l.protocol = protocol;
        if (l.family == AF_INET)
                memcpy(&l.addr.v4, m->id.idiag_src, sizeof(l.addr.v4));
        else
                memcpy(&l.addr.v6, m->id.idiag_src, sizeof(l.addr.v6));
        l.inode = m->idiag_inode;

        mnl_attr_parse(nlh, sizeof(*m), attr_cb, tb);
        if (tb[INET_DIAG_CGROUP_ID]) {
                l.cgroup_id = mnl_attr_get_u64(tb[INET_DIAG_CGROUP_ID]);
                sd->has_cgroup_id = true;
        }
        return listener_table_push(out, &l);
}

static ssize_t sockdiag_recv(struct sockdiag *sd, bool *ret_truncated)
{
        struct sockaddr_nl addr;
        struct iovec iov = {.iov_base = sd->buf, .iov_len = sd->buf_size};
        struct msghdr msg = {
            .msg_name = &addr,
            .msg_namelen = sizeof(addr),
            .msg_iov = &iov,
            .msg_iovlen = 1,
        };

        for (;;) {
                /* MSG_TRUNC makes recvmsg return the real datagram length. */
                ssize_t k = recvmsg(mnl_socket_get_fd(sd->nl), &msg, MSG_TRUNC);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (addr.nl_pid != 0)
                        continue; /* not from the kernel */
                *ret_truncated = (size_t)k > sd->buf_size || (msg.msg_flags & MSG_TRUNC);
                return k;
        }
}

/* Read the replies to one attempt at q: DUMP_DONE, DUMP_RETRY, DUMP_REOPEN
 * or a negative errno (the kernel's own error among them). */
static int query_receive(struct sockdiag *sd, const struct query *q)
{
        bool interrupted = false;

        for (;;) {
                bool truncated;
                ssize_t k = sockdiag_recv(sd, &truncated);
                int r;

                if (k == -ENOBUFS)
                        return DUMP_REOPEN;
                if (k < 0)
                        return (int)k;
                if (truncated) {
                        r = sockdiag_set_buffer_size(sd, MAX((size_t)k, sd->buf_size * 2));
                        return r < 0 ? r : DUMP_REOPEN;
                }

                int len = (int)k;
                for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)sd->buf;
                     mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
                        if (!mnl_nlmsg_portid_ok(nlh, sd->portid) || nlh->nlmsg_seq != sd->seq)
                                continue; /* stale reply of an abandoned dump */
                        if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
                                interrupted = true;
                        if (nlh->nlmsg_type == NLMSG_DONE)
                                return interrupted ? DUMP_RETRY : DUMP_DONE;
                        if (nlh->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
                                if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*err))
                                        return -EBADMSG;
                                if (q->lookup && err->error == -ENOENT)
                                        return DUMP_DONE; /* no such socket */
                                /* An error ends the dump; 0 would be an ACK. */
                                return err->error < 0 ? err->error : -EPROTO;
                        }
                        if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || interrupted)
                                continue;
                        r = q->on_reply(nlh, q->userdata);
                        if (r < 0)
                                return r;
                        if (q->lookup)
                                return DUMP_DONE; /* the only reply */
                }
        }
}

static int sockdiag_send(struct sockdiag *sd, const struct nlmsghdr *nlh)
{
        while (mnl_socket_sendto(sd->nl, nlh, nlh->nlmsg_len) < 0)
                if (errno != EINTR)
                        return negative_errno();
        return 0;
}

/* Send q and read its replies, again while the kernel interrupts the dump or
 * data is lost, at most SOCKDIAG_MAX_ATTEMPTS times. */
static int sockdiag_query(struct sockdiag *sd, const struct query *q)
{
        int r = -EAGAIN;

        for (int attempt = 0; attempt < SOCKDIAG_MAX_ATTEMPTS; attempt++) {
                q->restart(q->userdata);
                q->request->nlmsg_seq = ++sd->seq;
                r = sockdiag_send(sd, q->request);
                if (r >= 0)
                        r = query_receive(sd, q);
                if (r == DUMP_REOPEN) {
                        int k = sockdiag_open_socket(sd);
                        r = k < 0 ? k : DUMP_RETRY;
                }
                if (r != DUMP_RETRY)
                        break;
                r = -EAGAIN; /* if this was the last attempt */
        }
        if (r < 0)
                /* The socket may be mid-dump, and a netlink socket runs one
                 * dump at a time: start the next call on a fresh one. */
                (void)sockdiag_open_socket(sd);
        return r;
}

/* A dump appends its listeners to out from start on. */
struct dump {
        struct sockdiag *sd;
        uint8_t protocol;
        struct listener_table *out;
        size_t start;
};

static void dump_restart(void *userdata)
{
        struct dump *d = userdata;

        d->out->n = d->start;
}

static int dump_reply(const struct nlmsghdr *nlh, void *userdata)
{
        struct dump *d = userdata;

        return sockdiag_parse(d->sd, nlh, d->protocol, d->out);
}

static int sockdiag_dump_filtered(struct sockdiag *sd, unsigned protocols, uint16_t port,
                                  struct listener_table *out)
{
        static const uint8_t families[] = {AF_INET, AF_INET6};
        static const struct {
                unsigned mask;
                uint8_t protocol;
        } protos[] = {{SOCKDIAG_TCP, IPPROTO_TCP}, {SOCKDIAG_UDP, IPPROTO_UDP}};
        char req[DUMP_REQUEST_SIZE];

        out->n = 0;
        for (size_t p = 0; p < ELEMENTSOF(protos); p++) {
                if (!(protocols & protos[p].mask))
                        continue;
                for (size_t f = 0; f < ELEMENTSOF(families); f++) {
                        struct dump d = {sd, protos[p].protocol, out, out->n};
                        const struct query q = {
                            .request = dump_request(req, families[f], d.protocol, port),
                            .userdata = &d,
                            .restart = dump_restart,
                            .on_reply = dump_reply,
                        };
                        int r = sockdiag_query(sd, &q);
                        if (r < 0) {
                                out->n = 0;
                                return r;
                        }
                }
        }
        return 0;
}

int sockdiag_dump(struct sockdiag *sd, unsigned protocols, struct listener_table *out)
{
        return sockdiag_dump_filtered(sd, protocols, 0, out);
}

int sockdiag_dump_port(struct sockdiag *sd, unsigned protocols, uint16_t port,
                       struct listener_table *out)
{
        if (port == 0)
                return -EINVAL;
        return sockdiag_dump_filtered(sd, protocols, port, out);
}

/* TCP states of a client socket whose request a server may be reading. */
#define SK_STATES_OPEN ((1u << 1) | (1u << 4) | (1u << 5)) /* ESTABLISHED, FIN_WAIT1/2 */

/* A search for the client socket addr:port connected to server_port. */
struct find {
        uint8_t family;
        const void *addr;
        size_t alen;
        uint16_t port, server_port;
        bool found;
        uint64_t cgroup_id;
};

static void find_restart(void *userdata)
{
        struct find *f = userdata;

        f->found = false;
}

/* An exact lookup has one reply; one that is not the socket asked for (an
 * IPv4 one for a v4-mapped query) means none. A dump is read to its end. */
static int find_reply(const struct nlmsghdr *nlh, void *userdata)
{
        struct find *f = userdata;
        const struct nlattr *tb[INET_DIAG_MAX + 1] = {0};
        const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);

        if (f->found || nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*m))
                return 0;
        if (m->idiag_family != f->family || ntohs(m->id.idiag_sport) != f->port ||
            ntohs(m->id.idiag_dport) != f->server_port ||
            memcmp(m->id.idiag_src, f->addr, f->alen) != 0 ||
            !(SK_STATES_OPEN & (1u << m->idiag_state)))
                return 0;
        mnl_attr_parse(nlh, sizeof(*m), attr_cb, tb);
        if (!tb[INET_DIAG_CGROUP_ID])
                return -EOPNOTSUPP;
        f->cgroup_id = mnl_attr_get_u64(tb[INET_DIAG_CGROUP_ID]);
        f->found = true;
        return 0;
}

int sockdiag_find_tcp_client(struct sockdiag *sd, uint8_t family, const void *addr, uint16_t port,
                             const void *server_addr, uint16_t server_port, uint64_t *ret_cgroup_id)
{
        char req[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct inet_diag_req_v2))];
        struct find f = {
            .family = family,
            .addr = addr,
            .alen = family == AF_INET ? 4 : 16,
            .port = port,
            .server_port = server_port,
        };
        struct query q = {
            .lookup = server_addr != NULL,
            .userdata = &f,
            .restart = find_restart,
            .on_reply = find_reply,
        };
        struct inet_diag_req_v2 *r;
        int k;

        if (family != AF_INET && family != AF_INET6)
                return -EAFNOSUPPORT;
        memset(req, 0, sizeof(req));
        q.request = mnl_nlmsg_put_header(req);
        q.request->nlmsg_type = SOCK_DIAG_BY_FAMILY;
        q.request->nlmsg_flags = NLM_F_REQUEST | (q.lookup ? 0 : NLM_F_DUMP);
        r = mnl_nlmsg_put_extra_header(q.request, sizeof(*r));
        r->sdiag_family = family;
        r->sdiag_protocol = IPPROTO_TCP;
        r->idiag_states = SK_STATES_OPEN;
        if (q.lookup) {
                r->id.idiag_sport = htons(port);
                r->id.idiag_dport = htons(server_port);
                memcpy(r->id.idiag_src, addr, f.alen);
                memcpy(r->id.idiag_dst, server_addr, f.alen);
                r->id.idiag_cookie[0] = r->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
        }
        k = sockdiag_query(sd, &q);
        if (k < 0)
                return k;
        if (!f.found)
                return -ENOENT;
        *ret_cgroup_id = f.cgroup_id;
        return 0;
}

int sockdiag_protocols_from_string(const char *s, unsigned *ret)
{
        unsigned mask = 0;

        if (!*s)
                return -EINVAL;
        while (*s) {
                size_t n = strcspn(s, ",");
                if (n == 3 && strncmp(s, "tcp", 3) == 0)
                        mask |= SOCKDIAG_TCP;
                else if (n == 3 && strncmp(s, "udp", 3) == 0)
                        mask |= SOCKDIAG_UDP;
                else
                        return -EINVAL;
                s += n;
                if (*s == ',' && *++s == '\0')
                        return -EINVAL;
        }
        *ret = mask;
        return 0;
}
