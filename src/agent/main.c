/* main.c - portiso-agent: flags, the event loop, the containerizer and the
 * HTTP API.
 *
 * SIGTERM and SIGINT only leave the loop: containers, their supervisors and
 * their cgroups stay, and the next agent recovers them (as a Mesos agent
 * restart does). The per-container supervisor is a program of its own
 * (portiso-supervisor, see launcher.h), found at startup. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "agent/api.h"
#include "agent/containerizer.h"
#include "agent/enforcer-bpf.h"
#include "agent/flags.h"
#include "agent/launcher.h"
#include "agent/sources.h"
#include "basic/log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct event_base *, event_base_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct event *, event_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct containerizer *, containerizer_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct api *, api_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sources *, sources_free);

static void agent_flags_donep(struct agent_flags *f)
{
        agent_flags_done(f);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *userdata)
{
        (void)what;
        log_info("Received signal %d (%s); stopping the agent, containers keep running", (int)sig,
                 strsignal((int)sig));
        event_base_loopbreak(userdata);
}

static void on_child_signal(evutil_socket_t sig, short what, void *userdata)
{
        (void)sig;
        (void)what;
        (void)userdata;
        launcher_reap_children();
}

static int run(int argc, char **argv)
{
        _cleanup_(agent_flags_donep) struct agent_flags flags = {};
        _cleanup_(event_base_freep) struct event_base *base = NULL;
        _cleanup_(event_freep) struct event *sigchld = NULL;
        _cleanup_(event_freep) struct event *sigterm = NULL;
        _cleanup_(event_freep) struct event *sigint = NULL;
        _cleanup_(containerizer_freep) struct containerizer *cz = NULL;
        _cleanup_(bpf_enforcer_freep) struct bpf_enforcer *enf = NULL;
        _cleanup_(sources_freep) struct sources *sources = NULL; /* freed before cz */
        _cleanup_(api_freep) struct api *api = NULL;
        struct errbuf e = {};
        int r;

        r = agent_flags_parse(&flags, argc, argv, &e);
        if (r == 1)
                return 0;
        if (r < 0) {
                fprintf(stderr, "portiso-agent: %s\n", e.msg);
                return 1;
        }

        r = launcher_find_supervisor(&e);
        if (r < 0) {
                fprintf(stderr, "portiso-agent: %s\n", e.msg);
                return 1;
        }
        signal(SIGPIPE, SIG_IGN);
        /* Beyond ~1000 containers the default soft limit of 1024 would fail
         * launches (one pidfd per supervisor) and recoveries. */
        r = launcher_raise_fd_limit();
        if (r < 0)
                log_warning_errno(r, "Failed to raise the open file limit: %m");
        base = event_base_new();
        if (!base) {
                log_error("Failed to create the event loop");
                return 1;
        }
        sigchld = evsignal_new(base, SIGCHLD, on_child_signal, NULL);
        sigterm = evsignal_new(base, SIGTERM, on_stop_signal, base);
        sigint = evsignal_new(base, SIGINT, on_stop_signal, base);
        if (!sigchld || !sigterm || !sigint || event_add(sigchld, NULL) < 0 ||
            event_add(sigterm, NULL) < 0 || event_add(sigint, NULL) < 0) {
                log_error("Failed to install signal handlers");
                return 1;
        }

        r = containerizer_new(base, &flags, &cz, &e);
        if (r < 0) {
                log_error_errno(r, "Failed to start the containerizer: %s", e.msg);
                return 1;
        }
        r = bpf_enforcer_new(base, &flags, cz, &enf);
        if (r < 0) {
                log_error_errno(r, "Failed to start the eBPF features: %m");
                return 1;
        }
        r = containerizer_recover(cz);
        if (r < 0)
                return 1;
        r = sources_start(base, &flags, cz, &sources);
        if (r < 0) {
                log_error_errno(r, "Failed to start the workload sources: %m");
                return 1;
        }
        r = api_new(base, &flags, cz, &api, &e);
        if (r < 0) {
                if (e.msg[0])
                        log_error_errno(r, "Failed to serve the API: %s", e.msg);
                else
                        log_error_errno(r, "Failed to serve the API: %m");
                return 1;
        }
        log_info("Agent started on %s:%u (isolation '%s', work_dir %s, workload sources '%s')",
                 flags.ip, (unsigned)flags.port, flags.isolation, flags.work_dir,
                 flags.workload_sources);

        if (event_base_dispatch(base) < 0) {
                log_error("The event loop failed");
                return 1;
        }
        log_info("Agent stopped");
        /* The API goes first: it cancels its pending waits on the containerizer. */
        api_free(TAKE_PTR(api));
        containerizer_shutdown(cz);
        return 0;
}

int main(int argc, char **argv)
{
        return run(argc, argv);
}
