/* curl-loop.c - libcurl's multi interface on libevent; see curl-loop.h.
 *
 * libcurl forbids calling back into the multi handle from its own callbacks
 * (CURLM_RECURSIVE_API_CALL), and our users start and cancel requests from
 * theirs. So the write callback only buffers and marks the request; after
 * every curl_multi_socket_action() returns, dispatch() hands complete lines
 * to their owners and then finishes the requests curl reports done. A
 * request cancelled while dispatch() runs is only unlinked and removed from
 * the multi handle then, and freed when dispatch() ends, so nothing it
 * iterates disappears under it. */
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "agent/curl-loop.h"
#include "basic/macro.h"
#include "basic/strbuf.h"

#define MAX_BODY (16u << 20)
#define MAX_LINE (1u << 20)

struct curl_req {
        LIST_ENTRY(curl_req) link;
        struct curl_loop *loop;
        CURL *easy;
        curl_line_fn on_line;
        curl_done_fn done;
        void *userdata;
        struct strbuf body;
        char errbuf[CURL_ERROR_SIZE];
        bool pending; /* unread lines in body */
        bool too_big;
};

struct curl_loop {
        struct event_base *base;
        CURLM *multi;
        struct event *timer;
        LIST_HEAD(, curl_req) reqs;
        LIST_HEAD(, curl_req) dead; /* cancelled during dispatch() */
        unsigned dispatching;
        size_t n;
};

struct curl_sock {
        struct event *ev;
};

static void dispatch(struct curl_loop *l);

static void on_socket(evutil_socket_t fd, short what, void *userdata)
{
        struct curl_loop *l = userdata;
        int running = 0;
        int action =
            (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

        curl_multi_socket_action(l->multi, fd, action, &running);
        dispatch(l);
}

static void on_timer(evutil_socket_t fd, short what, void *userdata)
{
        struct curl_loop *l = userdata;
        int running = 0;

        (void)fd;
        (void)what;
        curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        dispatch(l);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
        struct curl_loop *l = userp;
        struct curl_sock *cs = socketp;
        short events = EV_PERSIST;

        (void)easy;
        if (what == CURL_POLL_REMOVE) {
                if (cs) {
                        event_free(cs->ev);
                        free(cs);
                }
                curl_multi_assign(l->multi, s, NULL);
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EV_READ;
        if (what & CURL_POLL_OUT)
                events |= EV_WRITE;
        if (!cs) {
                cs = calloc(1, sizeof(*cs));
                if (!cs)
                        return -1;
                curl_multi_assign(l->multi, s, cs);
        } else {
                event_free(cs->ev);
        }
        cs->ev = event_new(l->base, s, events, on_socket, l);
        if (!cs->ev || event_add(cs->ev, NULL) < 0)
                return -1;
        return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
        struct curl_loop *l = userp;
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

        (void)multi;
        if (timeout_ms < 0)
                return evtimer_del(l->timer);
        return evtimer_add(l->timer, &tv);
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct curl_req *r = userdata;
        size_t n = size * nmemb;

        if (r->body.len + n > (r->on_line ? MAX_LINE : MAX_BODY)) {
                r->too_big = true;
                return 0; /* CURLE_WRITE_ERROR */
        }
        strbuf_add(&r->body, data, n);
        if (r->body.oom)
                return 0;
        if (r->on_line && memchr(data, '\n', n))
                r->pending = true;
        return n;
}

static void req_free(struct curl_req *r)
{
        curl_easy_cleanup(r->easy);
        strbuf_release(&r->body);
        free(r);
}

/* Out of the list and out of curl; freed now or when dispatch() ends. */
static void req_detach(struct curl_req *r)
{
        struct curl_loop *l = r->loop;

        LIST_REMOVE(r, link);
        l->n--;
        curl_multi_remove_handle(l->multi, r->easy);
        if (l->dispatching)
                LIST_INSERT_HEAD(&l->dead, r, link);
        else
                req_free(r);
}

void curl_req_cancel(struct curl_req *r)
{
        if (r)
                req_detach(r);
}

/* Hand the complete lines of r to its owner; stops if it cancels r. */
static void deliver_lines(struct curl_req *r, bool flush)
{
        size_t off = 0;

        r->pending = false;
        while (off < r->body.len) {
                char *nl = memchr(r->body.buf + off, '\n', r->body.len - off);
                size_t end = nl ? (size_t)(nl - r->body.buf) : r->body.len;

                if (!nl && !flush)
                        break;
                /* The line is copied out: the owner may cancel r meanwhile. */
                _cleanup_free_ char *line = strndup(r->body.buf + off, end - off);
                size_t len = end - off;
                off = nl ? end + 1 : end;
                if (!line)
                        continue;
                bool alive = true;
                struct curl_req *it;
                if (len > 0 && !(len == 1 && line[0] == '\r'))
                        r->on_line(line, len, r->userdata);
                LIST_FOREACH(it, &r->loop->dead, link) if (it == r) alive = false;
                if (!alive)
                        return;
        }
        if (off == 0)
                return;
        memmove(r->body.buf, r->body.buf + off, r->body.len - off);
        r->body.len -= off;
        r->body.buf[r->body.len] = '\0';
}

static int curl_errno(CURLcode c)
{
        switch (c) {
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_WRITE_ERROR:
                return -EFBIG;
        default:
                return -EIO;
        }
}

static void finish(struct curl_req *r, CURLcode code)
{
        curl_done_fn done = r->done;
        void *userdata = r->userdata;
        long status = 0;
        int error = 0;

        if (r->on_line)
                deliver_lines(r, true);
        /* deliver_lines() may have seen r cancelled. */
        struct curl_req *it;
        LIST_FOREACH(it, &r->loop->dead, link) if (it == r) return;

        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (code != CURLE_OK) {
                error = curl_errno(code);
                if (r->too_big)
                        snprintf(r->errbuf, sizeof(r->errbuf), "response too large");
                else if (!r->errbuf[0])
                        snprintf(r->errbuf, sizeof(r->errbuf), "%s", curl_easy_strerror(code));
        }
        _cleanup_free_ char *body = error ? strdup(r->errbuf) : strbuf_detach(&r->body);
        size_t len = body ? strlen(body) : 0;
        if (!error && r->body.oom)
                error = -ENOMEM;
        req_detach(r);
        done(error, status, body ? body : "", body ? len : 0, userdata);
}

static void dispatch(struct curl_loop *l)
{
        struct curl_req *r;
        CURLMsg *msg;
        int left;

        l->dispatching++;
        for (;;) {
                LIST_FOREACH(r, &l->reqs, link) if (r->pending) break;
                if (!r)
                        break;
                deliver_lines(r, false);
        }
        while ((msg = curl_multi_info_read(l->multi, &left))) {
                struct curl_req *req = NULL;
                if (msg->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
                if (req)
                        finish(req, msg->data.result);
        }
        if (--l->dispatching == 0)
                while ((r = LIST_FIRST(&l->dead))) {
                        LIST_REMOVE(r, link);
                        req_free(r);
                }
}

int curl_loop_new(struct event_base *base, struct curl_loop **ret)
{
        struct curl_loop *l;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -EIO;
        l = calloc(1, sizeof(*l));
        if (!l) {
                curl_global_cleanup();
                return -ENOMEM;
        }
        l->base = base;
        LIST_INIT(&l->reqs);
        LIST_INIT(&l->dead);
        l->multi = curl_multi_init();
        l->timer = evtimer_new(base, on_timer, l);
        if (!l->multi || !l->timer) {
                curl_loop_free(l);
                return -ENOMEM;
        }
        curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
        curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
        curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
        curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
        *ret = l;
        return 0;
}

void curl_loop_free(struct curl_loop *l)
{
        struct curl_req *r;

        if (!l)
                return;
        while ((r = LIST_FIRST(&l->reqs)))
                req_detach(r);
        while ((r = LIST_FIRST(&l->dead))) {
                LIST_REMOVE(r, link);
                req_free(r);
        }
        if (l->multi)
                curl_multi_cleanup(l->multi);
        if (l->timer)
                event_free(l->timer);
        free(l);
        curl_global_cleanup();
}

int curl_loop_request(struct curl_loop *l, const char *socket_path, const char *method,
                      const char *path, long timeout_ms, curl_line_fn on_line, curl_done_fn done,
                      void *userdata, struct curl_req **ret_req)
{
        _cleanup_free_ char *url = NULL;
        struct curl_req *r;

        if (asprintf(&url, "http://localhost%s", path) < 0)
                return -ENOMEM;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->loop = l;
        r->on_line = on_line;
        r->done = done;
        r->userdata = userdata;
        r->easy = curl_easy_init();
        if (!r->easy) {
                free(r);
                return -ENOMEM;
        }
        curl_easy_setopt(r->easy, CURLOPT_UNIX_SOCKET_PATH, socket_path);
        curl_easy_setopt(r->easy, CURLOPT_URL, url);
        curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
        if (strcmp(method, "POST") == 0) {
                curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
                curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, "");
                curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, 0L);
        }
        curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
        curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
        curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http");
        if (timeout_ms > 0)
                curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
        if (curl_multi_add_handle(l->multi, r->easy) != CURLM_OK) {
                req_free(r);
                return -EIO;
        }
        LIST_INSERT_HEAD(&l->reqs, r, link);
        l->n++;
        if (ret_req)
                *ret_req = r;
        return 0;
}

size_t curl_loop_active(const struct curl_loop *l)
{
        return l->n;
}
