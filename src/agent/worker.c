/* worker.c - see worker.h. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent/worker.h"
#include "basic/macro.h"

static void on_efd(evutil_socket_t fd, short what, void *userdata)
{
        struct worker *w = userdata;
        uint64_t count;

        (void)what;
        (void)!read(fd, &count, sizeof(count));
        w->on_report(w->arg);
}

static void report_done(struct worker *w)
{
        if (w->ev)
                event_free(w->ev);
        if (w->efd >= 0)
                close(w->efd);
        w->ev = NULL;
        w->efd = -1;
}

int worker_start(struct worker *w, struct event_base *base, void (*on_report)(void *arg),
                 void *(*fn)(void *arg), void *arg)
{
        sigset_t all, saved;
        int r;

        *w = (struct worker){.efd = -1, .on_report = on_report, .arg = arg};
        if (base) {
                w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (w->efd < 0)
                        return negative_errno();
                w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, on_efd, w);
                if (!w->ev || event_add(w->ev, NULL) < 0) {
                        report_done(w);
                        return -ENOMEM;
                }
        }
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->wake, NULL);
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &saved);
        r = -pthread_create(&w->thread, NULL, fn, arg);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
        if (r < 0) {
                pthread_cond_destroy(&w->wake);
                pthread_mutex_destroy(&w->lock);
                report_done(w);
        }
        return r;
}

void worker_report(struct worker *w)
{
        const uint64_t one = 1;

        /* Cannot fail short of a counter at 2^64 - 2. */
        (void)!write(w->efd, &one, sizeof(one));
}

void worker_stop(struct worker *w)
{
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        report_done(w);
}
