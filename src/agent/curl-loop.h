/* curl-loop.h - HTTP requests over unix sockets on the agent's event loop.
 *
 * libcurl's multi interface driven by libevent: curl tells us which sockets
 * to watch and when its next timeout is (CURLMOPT_SOCKETFUNCTION,
 * CURLMOPT_TIMERFUNCTION), libevent tells curl when a socket is ready or the
 * timer fired (curl_multi_socket_action). No call here waits: a request
 * answers through its callbacks on a later loop turn. A streaming request
 * (an engine's event stream) delivers its body line by line as it arrives.
 *
 * Callbacks run outside every libcurl callback, so they may start or cancel
 * requests (this one included). */
#pragma once

#include <event2/event.h>
#include <stddef.h>

struct curl_loop;
struct curl_req;

/* A request ended: error 0 and the HTTP status with the body (NUL-terminated;
 * empty for a stream, whose lines went to the line callback), or a negative
 * errno with curl's one-line reason in body. The request is freed after. */
typedef void (*curl_done_fn)(int error, long status, const char *body, size_t len, void *userdata);
/* One line of a streaming body, without its newline. */
typedef void (*curl_line_fn)(const char *line, size_t len, void *userdata);

/* Create on base. -ENOMEM, -EIO if libcurl cannot start. */
int curl_loop_new(struct event_base *base, struct curl_loop **ret);
/* Cancel every request (no callbacks) and free. NULL is fine. */
void curl_loop_free(struct curl_loop *l);
/* Start METHOD http://localhost<path> over the unix socket. timeout_ms 0 =
 * none (streams). on_line NULL buffers the body for done (at most 16 MiB).
 * *ret_req (may be NULL) is for curl_req_cancel() until done is called. */
int curl_loop_request(struct curl_loop *l, const char *socket_path, const char *method,
                      const char *path, long timeout_ms, curl_line_fn on_line, curl_done_fn done,
                      void *userdata, struct curl_req **ret_req);
/* Stop a request; its callbacks are never called again. */
void curl_req_cancel(struct curl_req *r);
/* Requests in flight. */
size_t curl_loop_active(const struct curl_loop *l);
