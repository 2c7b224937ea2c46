/* http.c - a blocking HTTP/1.1 client, one request per connection; see http.h.
 *
 * The response is read whole into a strbuf (agent answers are small) and then
 * parsed in place: status line, headers up to the blank line, and a body
 * bounded by Content-Length, decoded from chunks, or running to EOF. */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "basic/strbuf.h"
#include "cli/http.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct addrinfo *, freeaddrinfo);

#define HTTP_DEFAULT_PORT 5051

int http_parse_address(const char *text, char **ret_host, uint16_t *ret_port, struct errbuf *e)
{
        const char *host = text, *host_end, *colon;

        if (!text || !*text)
                return errbuf_set(e, -EINVAL, "empty agent address");
        if (text[0] == '[') {
                host = text + 1;
                host_end = strchr(host, ']');
                if (!host_end)
                        return errbuf_set(e, -EINVAL, "invalid agent address '%s'", text);
                colon = host_end[1] == ':' ? host_end + 1 : NULL;
                if (!colon && host_end[1])
                        return errbuf_set(e, -EINVAL, "invalid agent address '%s'", text);
        } else {
                colon = strrchr(text, ':');
                host_end = colon ?: text + strlen(text);
        }

        unsigned long port = HTTP_DEFAULT_PORT;
        if (colon) {
                char *end;
                errno = 0;
                port = strtoul(colon + 1, &end, 10);
                if (errno || end == colon + 1 || *end || port == 0 || port > 65535)
                        return errbuf_set(e, -EINVAL, "invalid port in agent address '%s'", text);
        }
        if (host_end == host)
                return errbuf_set(e, -EINVAL, "missing host in agent address '%s'", text);
        char *h = strndup(host, host_end - host);
        if (!h)
                return -ENOMEM;
        *ret_host = h;
        *ret_port = (uint16_t)port;
        return 0;
}

static int http_connect(const char *host, uint16_t port, unsigned timeout_sec, int *ret_fd,
                        struct errbuf *e)
{
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        _cleanup_(freeaddrinfop) struct addrinfo *ai = NULL;
        char service[8];
        int r = -EHOSTUNREACH;

        snprintf(service, sizeof(service), "%u", port);
        int g = getaddrinfo(host, service, &hints, &ai);
        if (g != 0)
                return errbuf_set(e, -EHOSTUNREACH, "cannot resolve '%s': %s", host,
                                  gai_strerror(g));

        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                _cleanup_close_ int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        r = negative_errno();
                        continue;
                }
                struct timeval tv = {.tv_sec = timeout_sec};
                if (timeout_sec) {
                        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                }
                if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
                        r = negative_errno();
                        continue;
                }
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        return errbuf_set(e, r, "cannot connect to %s:%u: %s", host, port, strerror(-r));
}

static int write_all(int fd, const char *data, size_t len)
{
        while (len > 0) {
                ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                data += n;
                len -= n;
        }
        return 0;
}

/* Decode a chunked body in place; returns the decoded length or -EBADMSG. */
static ssize_t dechunk(char *body, size_t len)
{
        size_t in = 0, out = 0;

        for (;;) {
                char *end;
                unsigned long n = strtoul(body + in, &end, 16);
                char *eol = memmem(end, len - (end - body), "\r\n", 2);
                if (end == body + in || !eol)
                        return -EBADMSG;
                in = eol + 2 - body;
                if (n == 0)
                        return out;
                if (n > len - in)
                        return -EBADMSG;
                memmove(body + out, body + in, n);
                out += n;
                in += n + 2; /* the chunk's CRLF */
                if (in > len)
                        return -EBADMSG;
        }
}

int http_parse_response(char *raw, size_t len, struct http_response *ret, struct errbuf *e)
{
        char *hdr_end = memmem(raw, len, "\r\n\r\n", 4);
        if (!hdr_end)
                return errbuf_set(e, -EBADMSG, "truncated HTTP response from the agent");
        *hdr_end = '\0';
        char *body = hdr_end + 4;
        size_t body_len = len - (body - raw);

        char *save = NULL;
        char *line = strtok_r(raw, "\r\n", &save);
        int status;
        int reason_at = 0;
        if (!line || sscanf(line, "HTTP/1.%*d %d %n", &status, &reason_at) < 1)
                return errbuf_set(e, -EBADMSG, "invalid HTTP status line from the agent");

        _cleanup_free_ char *reason = strdup(reason_at ? line + reason_at : "");
        _cleanup_free_ char *ctype = NULL;
        long content_length = -1;
        bool chunked = false;
        while ((line = strtok_r(NULL, "\r\n", &save))) {
                char *colon = strchr(line, ':');
                if (!colon)
                        continue;
                *colon = '\0';
                char *value = colon + 1 + strspn(colon + 1, " \t");
                if (strcasecmp(line, "Content-Type") == 0) {
                        free(ctype);
                        ctype = strdup(value);
                } else if (strcasecmp(line, "Content-Length") == 0) {
                        char *end;
                        errno = 0;
                        content_length = strtol(value, &end, 10);
                        if (errno || end == value || content_length < 0)
                                return errbuf_set(e, -EBADMSG,
                                                  "invalid Content-Length from the agent");
                } else if (strcasecmp(line, "Transfer-Encoding") == 0 &&
                           strcasestr(value, "chunked")) {
                        chunked = true;
                }
        }

        if (chunked) {
                ssize_t n = dechunk(body, body_len);
                if (n < 0)
                        return errbuf_set(e, (int)n, "invalid chunked body from the agent");
                body_len = n;
        } else if (content_length >= 0) {
                if ((size_t)content_length > body_len)
                        return errbuf_set(e, -EBADMSG, "truncated HTTP body from the agent");
                body_len = content_length;
        }
        char *b = strndup(body, body_len);
        if (!b || !reason)
                return -ENOMEM;
        *ret = (struct http_response){
            .status = status,
            .reason = TAKE_PTR(reason),
            .content_type = TAKE_PTR(ctype),
            .body = b,
            .body_len = body_len,
        };
        return 0;
}

int http_request(const char *host, uint16_t port, const char *method, const char *path,
                 const char *content_type, const char *body, unsigned timeout_sec,
                 struct http_response *ret, struct errbuf *e)
{
        _cleanup_strbuf_ struct strbuf req = STRBUF_INIT;
        _cleanup_strbuf_ struct strbuf resp = STRBUF_INIT;
        _cleanup_close_ int fd = -1;
        bool v6 = strchr(host, ':');

        int r = http_connect(host, port, timeout_sec, &fd, e);
        if (r < 0)
                return r;

        strbuf_addf(&req, "%s %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nConnection: close\r\n", method,
                    path, v6 ? "[" : "", host, v6 ? "]" : "", port);
        strbuf_puts(&req, "Accept: application/json\r\n");
        if (body)
                strbuf_addf(&req, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                            content_type ?: "application/json", strlen(body));
        strbuf_puts(&req, "\r\n");
        if (body)
                strbuf_puts(&req, body);
        if (req.oom)
                return -ENOMEM;
        r = write_all(fd, req.buf, req.len);
        if (r < 0)
                return errbuf_set(e, r, "cannot send the request to %s:%u: %s", host, port,
                                  strerror(-r));

        for (;;) {
                char buf[16384];
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = negative_errno();
                        return errbuf_set(e, r, "cannot read the answer from %s:%u: %s", host, port,
                                          r == -EAGAIN ? "timed out" : strerror(-r));
                }
                if (n == 0)
                        break;
                strbuf_add(&resp, buf, n);
        }
        if (resp.oom)
                return -ENOMEM;
        if (resp.len == 0)
                return errbuf_set(e, -EBADMSG, "the agent at %s:%u closed the connection", host,
                                  port);
        return http_parse_response(resp.buf, resp.len, ret, e);
}

void http_response_done(struct http_response *r)
{
        free(r->reason);
        free(r->content_type);
        free(r->body);
        *r = (struct http_response){};
}
