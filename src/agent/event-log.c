/* event-log.c - the ring of recent container events; see event-log.h.
 *
 * Entry seq lives in slot seq % EVENT_LOG_SIZE, so the retained events are
 * the last EVENT_LOG_SIZE numbers and a lookup needs no search. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/event-log.h"

static void entry_clear(struct event_log_entry *e)
{
        free(e->kind);
        free(e->container);
        free(e->source);
        free(e->message);
        *e = (struct event_log_entry){};
}

void event_log_add(struct event_log *l, const char *kind, const char *container, const char *source,
                   const char *message)
{
        struct timespec ts;
        struct event_log_entry *e;

        if (l->next_seq == 0)
                l->next_seq = 1;
        e = &l->v[l->next_seq % EVENT_LOG_SIZE];
        entry_clear(e);
        clock_gettime(CLOCK_REALTIME, &ts);
        e->kind = strdup(kind);
        e->container = strdup(container);
        e->source = strdup(source ? source : "api");
        e->message = message ? strdup(message) : NULL;
        if (!e->kind || !e->container || !e->source) {
                entry_clear(e); /* an empty slot is skipped by readers */
                return;
        }
        e->seq = l->next_seq++;
        e->time_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void event_log_foreach(const struct event_log *l, uint64_t after,
                       void (*fn)(const struct event_log_entry *e, void *userdata), void *userdata)
{
        uint64_t first;

        if (l->next_seq == 0)
                return;
        first = l->next_seq > EVENT_LOG_SIZE ? l->next_seq - EVENT_LOG_SIZE : 1;
        if (after + 1 > first)
                first = after + 1;
        for (uint64_t s = first; s < l->next_seq; s++) {
                const struct event_log_entry *e = &l->v[s % EVENT_LOG_SIZE];
                if (e->seq == s)
                        fn(e, userdata);
        }
}

void event_log_done(struct event_log *l)
{
        for (size_t i = 0; i < EVENT_LOG_SIZE; i++)
                entry_clear(&l->v[i]);
        l->next_seq = 0;
}
