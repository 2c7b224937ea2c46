/* event-log.h - the agent's recent container events, for `portiso events`.
 *
 * A bounded ring of what happened to containers (adopted from a workload
 * source, a port violation, stopped for it, ended, forgotten), each with a
 * sequence number that only grows. A client asks for the events after the
 * last number it saw (GET_EVENTS) and polls for more: no stream to keep open
 * on the agent's loop, and a slow client costs nothing. When more than the
 * ring holds happened between two polls the oldest are gone; the client sees
 * it from the gap in the numbers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define EVENT_LOG_SIZE 1024

struct event_log_entry {
        uint64_t seq;    /* 1, 2, ... */
        int64_t time_ns; /* CLOCK_REALTIME */
        char *kind;      /* "adopted", "violation", "stopped", "ended", "forgotten" */
        char *container; /* container id */
        char *source;    /* "api", "docker", "podman", "cgroups" */
        char *message;   /* one line, may be NULL */
};

struct event_log {
        struct event_log_entry v[EVENT_LOG_SIZE];
        uint64_t next_seq; /* seq of the next entry; 0 before the first */
};

/* Append one event; the oldest is dropped when the ring is full. Running out
 * of memory drops the message only. */
void event_log_add(struct event_log *l, const char *kind, const char *container, const char *source,
                   const char *message);
/* Call fn for every retained event with seq > after, oldest first. */
void event_log_foreach(const struct event_log *l, uint64_t after,
                       void (*fn)(const struct event_log_entry *e, void *userdata), void *userdata);
/* Free every entry. */
void event_log_done(struct event_log *l);
