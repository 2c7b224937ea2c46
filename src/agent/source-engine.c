/* source-engine.c - the Docker and Podman workload sources; see
 * source-engine.h.
 *
 * Level-triggered: an event only names a container; what to do comes from a
 * fresh inspect of it (running or not, where, with which ports). So a late,
 * repeated or replayed event costs one request and never a wrong state, and
 * the list after a reconnect is the same code run for every container. The
 * event stream is opened with `since` a little in the past, so a container
 * that starts between the list and the stream's subscription is replayed,
 * not missed. At most one inspect per container is in flight; an event that
 * arrives meanwhile asks for one more when it ends.
 *
 * A lost engine (stream ended, refused connection) is retried on a timer
 * with a doubling backoff; adopted containers stay isolated meanwhile, as
 * their cgroups still say who they are. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "agent/containerizer-adopt.h"
#include "agent/engine-json.h"
#include "agent/source-engine.h"
#include "basic/log.h"
#include "basic/time-util.h"
#include "linux/cgroup.h"

#define API "/v1.40"
#define RETRY_INIT BACKOFF_INIT(250 * 1000, 5000 * 1000) /* microseconds */
#define REQUEST_TIMEOUT_MS 10000
/* Replay this much of the past when (re)subscribing to events. */
#define EVENTS_REPLAY_SEC 2
/* {"type":["container"]} */
#define EVENTS_FILTER "%7B%22type%22%3A%5B%22container%22%5D%7D"

struct known {
        struct engine_source *s;
        char *engine_id;
        char *cz_id;          /* adopted under this id, else NULL */
        struct curl_req *req; /* inspect or image inspect in flight */
        struct curl_req *kill;
        struct engine_container info; /* between inspect and image inspect */
        bool again;                   /* inspect again when req ends */
        bool seen;                    /* in the list being reconciled */
        bool told;                    /* why it is not isolated was logged */
};

struct engine_source {
        struct curl_loop *curl;
        struct containerizer *cz;
        char *name;
        char *socket;
        struct curl_req *events, *list;
        struct event *retry;
        struct backoff retry_delay;
        bool lost_logged;
        struct known **v;
        size_t n;
};

static void reconcile(struct known *k);

/* ---- the table of containers the engine told us about ------------------- */

static struct known *known_find(struct engine_source *s, const char *engine_id)
{
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i]->engine_id, engine_id) == 0)
                        return s->v[i];
        return NULL;
}

static struct known *known_find_cz(struct engine_source *s, const char *cz_id)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i]->cz_id && strcmp(s->v[i]->cz_id, cz_id) == 0)
                        return s->v[i];
        return NULL;
}

static struct known *known_get(struct engine_source *s, const char *engine_id)
{
        struct known *k = known_find(s, engine_id), **v;

        if (k)
                return k;
        v = reallocarray(s->v, s->n + 1, sizeof(*v));
        if (!v)
                return NULL;
        s->v = v;
        k = calloc(1, sizeof(*k));
        if (!k || !(k->engine_id = strdup(engine_id))) {
                free(k);
                return NULL;
        }
        k->s = s;
        s->v[s->n++] = k;
        return k;
}

/* Forget k: the engine has no such container any more. */
static void known_drop(struct known *k)
{
        struct engine_source *s = k->s;

        if (k->cz_id)
                (void)containerizer_forget(s->cz, k->cz_id);
        curl_req_cancel(k->req);
        curl_req_cancel(k->kill);
        engine_container_done(&k->info);
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i] == k) {
                        s->v[i] = s->v[--s->n];
                        break;
                }
        free(k->engine_id);
        free(k->cz_id);
        free(k);
}

/* ---- stopping through the engine ----------------------------------------- */

static void on_kill_done(int error, long status, const char *body, size_t len, void *userdata)
{
        struct known *k = userdata;

        (void)len;
        k->kill = NULL;
        if (error < 0)
                log_warning("%s: cannot stop container %s: %s", k->s->name, k->engine_id, body);
        else if (status == 404 || status == 409)
                reconcile(k); /* already gone or stopped: learn its end */
        else if (status / 100 != 2)
                log_warning("%s: stopping container %s answered %ld: %.200s", k->s->name,
                            k->engine_id, status, body);
}

static void send_kill(struct known *k)
{
        _cleanup_free_ char *path = NULL;
        int r;

        if (k->kill)
                return;
        if (asprintf(&path, API "/containers/%s/kill?signal=KILL", k->engine_id) < 0)
                return;
        r = curl_loop_request(k->s->curl, k->s->socket, "POST", path, REQUEST_TIMEOUT_MS, NULL,
                              on_kill_done, k, &k->kill);
        if (r < 0)
                log_warning_errno(r, "%s: cannot stop container %s: %m", k->s->name, k->engine_id);
}

static void on_stop(struct containerizer *cz, const char *id, void *userdata)
{
        struct engine_source *s = userdata;
        struct known *k = known_find_cz(s, id);

        (void)cz;
        if (k)
                send_kill(k);
}

/* ---- from an inspect to an adoption ------------------------------------- */

static void tell_once(struct known *k, const char *why)
{
        if (k->told)
                return;
        k->told = true;
        log_info("%s: container %s (%s) is not isolated: %s", k->s->name, k->info.name,
                 k->engine_id, why);
}

static void adopt(struct known *k, const struct portset *ports)
{
        struct engine_source *s = k->s;
        const struct cg_hierarchy *h = containerizer_hierarchy(s->cz);
        _cleanup_free_ char *cgroup = NULL, *id = NULL;
        struct errbuf e = {};
        int r;

        r = cg_pid_get_path(h, k->info.pid, &cgroup);
        if (r < 0) {
                log_warning_errno(r, "%s: cannot find the cgroup of container %s (pid %d): %m",
                                  s->name, k->info.name, (int)k->info.pid);
                return;
        }
        id = engine_container_id(s->name, k->info.name[0] ? k->info.name : k->engine_id);
        if (!id)
                return tell_once(k, "its name does not make a container id");
        struct container_adoption a = {
            .source = s->name,
            .cgroup = cgroup,
            .pid = k->info.pid,
            .has_ports = true,
            .ports = ports,
            .stop = on_stop,
            .userdata = s,
        };
        r = containerizer_adopt(s->cz, id, &a, &e);
        if (r < 0) {
                log_warning("%s: cannot adopt container %s: %s", s->name, k->info.name,
                            e.msg[0] ? e.msg : strerror(-r));
                return;
        }
        free(k->cz_id);
        k->cz_id = TAKE_PTR(id);
        k->told = false;
}

static void inspect_finished(struct known *k)
{
        engine_container_done(&k->info);
        if (k->again) {
                k->again = false;
                reconcile(k);
        }
}

static void on_image_done(int error, long status, const char *body, size_t len, void *userdata)
{
        struct known *k = userdata;
        _cleanup_portset_ struct portset ports = PORTSET_INIT;
        struct errbuf e = {};

        k->req = NULL;
        if (error < 0 || status != 200)
                log_warning("%s: cannot inspect image %s of container %s: %s", k->s->name,
                            k->info.image, k->info.name, error < 0 ? body : "not found");
        else if (engine_parse_image_exposed(body, len, &ports, &e) < 0)
                log_warning("%s: image %s: %s", k->s->name, k->info.image, e.msg);
        else if (portset_is_empty(&ports))
                tell_once(k, "it declares no ports (no " ENGINE_PORTS_LABEL
                             " label, nothing exposed)");
        else
                adopt(k, &ports);
        inspect_finished(k);
}

/* What one fresh inspect says to do. Returns true when an image inspect
 * was started (the inspect is not finished yet). */
static bool act(struct known *k)
{
        struct engine_source *s = k->s;
        const struct engine_container *c = &k->info;
        const struct container *cur = k->cz_id ? containerizer_get(s->cz, k->cz_id) : NULL;
        _cleanup_free_ char *path = NULL;

        if (!c->running) {
                if (cur)
                        (void)containerizer_adopted_ended(s->cz, k->cz_id, true,
                                                          W_EXITCODE(c->exit_code & 0xff, 0));
                return false;
        }
        if (cur && cur->state == CONTAINER_DESTROYING) {
                send_kill(k); /* still running: the last stop was lost */
                return false;
        }
        if (cur && cur->state == CONTAINER_RUNNING)
                return false;
        if (!c->host_network) {
                log_debug("%s: container %s is not on the host network", s->name, c->name);
                return false;
        }
        if (c->has_label && c->label_error[0]) {
                tell_once(k, "its " ENGINE_PORTS_LABEL " label is not Mesos Ranges text");
                log_warning("%s: container %s: label " ENGINE_PORTS_LABEL ": %s", s->name, c->name,
                            c->label_error);
                return false;
        }
        if (c->has_label) {
                adopt(k, &c->label_ports);
                return false;
        }
        if (!portset_is_empty(&c->exposed)) {
                adopt(k, &c->exposed);
                return false;
        }
        if (!c->image) {
                tell_once(k, "it declares no ports");
                return false;
        }
        if (asprintf(&path, API "/images/%s/json", c->image) < 0)
                return false;
        return curl_loop_request(s->curl, s->socket, "GET", path, REQUEST_TIMEOUT_MS, NULL,
                                 on_image_done, k, &k->req) >= 0;
}

static void on_inspect_done(int error, long status, const char *body, size_t len, void *userdata)
{
        struct known *k = userdata;
        struct errbuf e = {};

        k->req = NULL;
        if (status == 404) {
                known_drop(k); /* removed */
                return;
        }
        if (error < 0 || status != 200)
                log_warning("%s: cannot inspect container %s: %s", k->s->name, k->engine_id,
                            error < 0 ? body : "unexpected status");
        else if (engine_parse_inspect(body, len, &k->info, &e) < 0)
                log_warning("%s: container %s: %s", k->s->name, k->engine_id, e.msg);
        else if (act(k))
                return;
        inspect_finished(k);
}

static void reconcile(struct known *k)
{
        _cleanup_free_ char *path = NULL;
        int r;

        if (k->req) {
                k->again = true;
                return;
        }
        if (asprintf(&path, API "/containers/%s/json", k->engine_id) < 0)
                return;
        r = curl_loop_request(k->s->curl, k->s->socket, "GET", path, REQUEST_TIMEOUT_MS, NULL,
                              on_inspect_done, k, &k->req);
        if (r < 0)
                log_warning_errno(r, "%s: cannot inspect container %s: %m", k->s->name,
                                  k->engine_id);
}

/* ---- the connection: event stream, list, reconnects ---------------------- */

static void connect_engine(struct engine_source *s);

static void lost(struct engine_source *s, const char *why)
{
        struct timeval tv = timeval_from_usec(backoff_next(&s->retry_delay));

        curl_req_cancel(TAKE_PTR(s->events));
        curl_req_cancel(TAKE_PTR(s->list));
        if (!s->lost_logged)
                log_warning("%s: engine API on %s unavailable (%s); retrying", s->name, s->socket,
                            why);
        s->lost_logged = true;
        evtimer_add(s->retry, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *userdata)
{
        (void)fd;
        (void)what;
        connect_engine(userdata);
}

static void on_event_line(const char *line, size_t len, void *userdata)
{
        static const char *const actions[] = {"start",  "die",  "died",   "destroy",
                                              "remove", "stop", "restart"};
        struct engine_source *s = userdata;
        _cleanup_free_ char *id = NULL, *action = NULL;
        int r = engine_parse_event(line, len, &id, &action);

        if (r <= 0) {
                if (r < 0)
                        log_debug("%s: ignoring an event line that is not JSON", s->name);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (strcmp(action, actions[i]) == 0) {
                        struct known *k = known_get(s, id);
                        log_debug("%s: event %s of %s", s->name, action, id);
                        if (k)
                                reconcile(k);
                        return;
                }
}

static void on_events_done(int error, long status, const char *body, size_t len, void *userdata)
{
        struct engine_source *s = userdata;
        char why[256];

        (void)len;
        s->events = NULL;
        if (error < 0)
                snprintf(why, sizeof(why), "%s", body);
        else
                snprintf(why, sizeof(why), "event stream ended with status %ld", status);
        lost(s, why);
}

static void on_list_done(int error, long status, const char *body, size_t len, void *userdata)
{
        struct engine_source *s = userdata;
        char **ids = NULL;
        size_t n = 0;
        struct errbuf e = {};
        char why[600];

        s->list = NULL;
        if (error < 0 || status != 200 || engine_parse_list(body, len, &ids, &n, &e) < 0) {
                snprintf(why, sizeof(why), "%s",
                         error < 0       ? body
                         : status != 200 ? "listing failed"
                                         : e.msg);
                return lost(s, why);
        }
        log_info("%s: following the engine on %s (%zu containers)", s->name, s->socket, n);
        s->lost_logged = false;
        s->retry_delay = RETRY_INIT;
        for (size_t i = 0; i < s->n; i++)
                s->v[i]->seen = false;
        for (size_t i = 0; i < n; i++) {
                struct known *k = known_get(s, ids[i]);
                if (k) {
                        k->seen = true;
                        reconcile(k);
                }
                free(ids[i]);
        }
        free(ids);
        /* Gone while we were not looking (known_drop() reorders the array). */
        for (size_t i = s->n; i-- > 0;)
                if (i < s->n && !s->v[i]->seen && !s->v[i]->req)
                        known_drop(s->v[i]);
}

static void connect_engine(struct engine_source *s)
{
        char path[256];
        int r;

        snprintf(path, sizeof(path), API "/events?since=%lld&filters=%s",
                 (long long)time(NULL) - EVENTS_REPLAY_SEC, EVENTS_FILTER);
        r = curl_loop_request(s->curl, s->socket, "GET", path, 0, on_event_line, on_events_done, s,
                              &s->events);
        if (r >= 0)
                r = curl_loop_request(s->curl, s->socket, "GET", API "/containers/json?all=true",
                                      REQUEST_TIMEOUT_MS, NULL, on_list_done, s, &s->list);
        if (r < 0)
                lost(s, strerror(-r));
}

int engine_source_new(struct event_base *base, struct curl_loop *curl, struct containerizer *cz,
                      const char *name, const char *socket_path, struct engine_source **ret)
{
        struct engine_source *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->curl = curl;
        s->cz = cz;
        s->retry_delay = RETRY_INIT;
        s->name = strdup(name);
        s->socket = strdup(socket_path);
        s->retry = evtimer_new(base, on_retry, s);
        if (!s->name || !s->socket || !s->retry) {
                engine_source_free(s);
                return -ENOMEM;
        }
        connect_engine(s);
        *ret = s;
        return 0;
}

void engine_source_free(struct engine_source *s)
{
        if (!s)
                return;
        curl_req_cancel(s->events);
        curl_req_cancel(s->list);
        for (size_t i = 0; i < s->n; i++) {
                struct known *k = s->v[i];
                curl_req_cancel(k->req);
                curl_req_cancel(k->kill);
                engine_container_done(&k->info);
                free(k->engine_id);
                free(k->cz_id);
                free(k);
        }
        free(s->v);
        if (s->retry)
                event_free(s->retry);
        free(s->name);
        free(s->socket);
        free(s);
}
