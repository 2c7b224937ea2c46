/* test-sources.c - what the workload sources read, without an engine:
 * Docker Engine API inspects, image inspects, lists and event lines
 * (engine-json.c), declarations files (adopt-decl.c), the event ring
 * (event-log.c) and --workload_sources validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../ports/assert-ports.h"
#include "agent/adopt-decl.h"
#include "agent/engine-json.h"
#include "agent/event-log.h"
#include "agent/flags.h"

/* Trimmed from a real Podman 4.3 compat inspect of a host-network container. */
static const char INSPECT[] =
    "{\"Id\":\"29d1bafcc2ba\",\"Name\":\"/web.1\",\"Image\":\"sha256:afa9\","
    "\"State\":{\"Running\":true,\"Pid\":21775,\"ExitCode\":0},"
    "\"HostConfig\":{\"NetworkMode\":\"host\"},"
    "\"Config\":{\"Labels\":{\"portiso.ports\":\"[25000-25000, 9000-9001]\"},"
    "\"ExposedPorts\":{\"8080/tcp\":{},\"53/udp\":{}}}}";

static void test_inspect(void **state)
{
        struct engine_container c = {};
        struct errbuf e = {};

        (void)state;
        assert_int_equal(engine_parse_inspect(INSPECT, strlen(INSPECT), &c, &e), 0);
        assert_string_equal(c.id, "29d1bafcc2ba");
        assert_string_equal(c.name, "web.1");
        assert_string_equal(c.image, "sha256:afa9");
        assert_true(c.running);
        assert_true(c.host_network);
        assert_int_equal(c.pid, 21775);
        assert_true(c.has_label);
        assert_string_equal(c.label_error, "");
        assert_set(&c.label_ports, "[9000-9001, 25000-25000]");
        assert_set(&c.exposed, "[53-53, 8080-8080]");
        engine_container_done(&c);
}

static void test_inspect_variants(void **state)
{
        static const char bridge[] = "{\"Id\":\"a\",\"State\":{\"Running\":false,\"ExitCode\":137},"
                                     "\"HostConfig\":{\"NetworkMode\":\"bridge\"}}";
        static const char bad_label[] = "{\"Id\":\"b\",\"State\":{},\"Config\":{\"Labels\":"
                                        "{\"portiso.ports\":\"8080\"}}}";
        static const char bad_port[] = "{\"Id\":\"c\",\"State\":{},\"Config\":{\"ExposedPorts\":"
                                       "{\"http/tcp\":{}}}}";
        struct engine_container c = {};
        struct errbuf e = {};

        (void)state;
        assert_int_equal(engine_parse_inspect(bridge, strlen(bridge), &c, &e), 0);
        assert_false(c.running);
        assert_false(c.host_network);
        assert_false(c.has_label);
        assert_int_equal(c.exit_code, 137);
        assert_true(portset_is_empty(&c.exposed));
        engine_container_done(&c);

        assert_int_equal(engine_parse_inspect(bad_label, strlen(bad_label), &c, &e), 0);
        assert_true(c.has_label);
        assert_string_not_equal(c.label_error, "");
        engine_container_done(&c);

        assert_int_equal(engine_parse_inspect(bad_port, strlen(bad_port), &c, &e), -EINVAL);
        assert_contains(e.msg, "http/tcp");
        assert_int_equal(engine_parse_inspect("{\"Id\":1}", 8, &c, &e), -EINVAL);
        assert_int_equal(engine_parse_inspect("nope", 4, &c, &e), -EINVAL);
        assert_one_line(e.msg);
}

static void test_image_list_event(void **state)
{
        static const char image[] = "{\"Config\":{\"ExposedPorts\":{\"31000/tcp\":{}}}}";
        static const char list[] = "[{\"Id\":\"x1\"},{\"Names\":[\"/n\"]},{\"Id\":\"x2\"}]";
        static const char start[] = "{\"status\":\"start\",\"id\":\"x1\",\"Type\":\"container\","
                                    "\"Action\":\"start\",\"Actor\":{\"ID\":\"x1\"}}";
        static const char image_ev[] = "{\"Type\":\"image\",\"Action\":\"pull\","
                                       "\"Actor\":{\"ID\":\"i\"}}";
        _cleanup_portset_ struct portset ports = PORTSET_INIT;
        struct errbuf e = {};
        char **ids = NULL, *id = NULL, *action = NULL;
        size_t n = 0;

        (void)state;
        assert_int_equal(engine_parse_image_exposed(image, strlen(image), &ports, &e), 0);
        assert_set(&ports, "[31000-31000]");
        assert_int_equal(engine_parse_list(list, strlen(list), &ids, &n, &e), 0);
        assert_int_equal(n, 2);
        assert_string_equal(ids[0], "x1");
        assert_string_equal(ids[1], "x2");
        for (size_t i = 0; i < n; i++)
                free(ids[i]);
        free(ids);
        assert_int_equal(engine_parse_list("{}", 2, &ids, &n, &e), -EINVAL);

        assert_int_equal(engine_parse_event(start, strlen(start), &id, &action), 1);
        assert_string_equal(id, "x1");
        assert_string_equal(action, "start");
        free(id);
        free(action);
        assert_int_equal(engine_parse_event(image_ev, strlen(image_ev), &id, &action), 0);
        assert_int_equal(engine_parse_event("{", 1, &id, &action), -EINVAL);
}

static void test_container_id(void **state)
{
        char *id;

        (void)state;
        id = engine_container_id("podman", "web.1 x/y");
        assert_string_equal(id, "podman:web_1_x_y");
        free(id);
        char long_name[300];
        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        assert_null(engine_container_id("docker", long_name));
}

static void test_decl(void **state)
{
        static const char text[] = "# nginx\n\n  cgroup = system.slice/nginx.service \n"
                                   "cgroup=nomad.slice/share.slice/*.web.scope\n"
                                   "ports = [80-80, 443-443]\n";
        struct adopt_decl d = {};
        struct errbuf e = {};

        (void)state;
        assert_int_equal(adopt_decl_parse(text, &d, &e), 0);
        assert_int_equal(d.n_cgroups, 2);
        assert_string_equal(d.cgroups[0], "system.slice/nginx.service");
        assert_string_equal(d.cgroups[1], "nomad.slice/share.slice/*.web.scope");
        assert_null(d.cgroups[2]);
        assert_set(&d.ports, "[80-80, 443-443]");
        adopt_decl_done(&d);

        assert_int_equal(adopt_decl_parse("cgroup = a\nports = []\n", &d, &e), 0);
        assert_true(portset_is_empty(&d.ports));
        adopt_decl_done(&d);
}

static void test_decl_errors(void **state)
{
        static const struct {
                const char *text, *msg;
        } cases[] = {
            {"cgroup = a\nports = foo\n", "line 2: ports:"},
            {"cgroup = /abs\nports = []\n", "line 1: cgroup '/abs' must be relative"},
            {"cgroup = a/../b\nports = []\n", "must not contain '..'"},
            {"cgroup = ..\nports = []\n", "must not contain '..'"},
            {"cgroup = a\nports = []\nports = []\n", "line 3: ports given twice"},
            {"cgroup = a\nport = []\n", "line 2: unknown key 'port'"},
            {"cgroup a\n", "line 1: expected 'key = value'"},
            {"cgroup = \nports = []\n", "line 1: cgroup must not be empty"},
            {"ports = []\n", "no 'cgroup = ...' line"},
            {"cgroup = a\n", "no 'ports = [...]' line"},
        };
        struct adopt_decl d = {};

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct errbuf e = {};
                assert_int_equal(adopt_decl_parse(cases[i].text, &d, &e), -EINVAL);
                assert_contains(e.msg, cases[i].msg);
                assert_one_line(e.msg);
        }
        /* "a..b" is a name, not a climb. */
        struct errbuf e = {};
        assert_int_equal(adopt_decl_parse("cgroup = a..b\nports = []\n", &d, &e), 0);
        adopt_decl_done(&d);
}

struct seen {
        uint64_t seqs[EVENT_LOG_SIZE + 8];
        size_t n;
};

static void collect(const struct event_log_entry *e, void *userdata)
{
        struct seen *s = userdata;
        s->seqs[s->n++] = e->seq;
}

static void test_event_log(void **state)
{
        static struct event_log l; /* 1024 entries: not on the stack */
        static struct seen s;

        (void)state;
        event_log_foreach(&l, 0, collect, &s);
        assert_int_equal(s.n, 0);
        event_log_add(&l, "adopted", "podman:a", "podman", "x");
        event_log_add(&l, "ended", "a", NULL, NULL);
        event_log_foreach(&l, 0, collect, &s);
        assert_int_equal(s.n, 2);
        assert_int_equal(s.seqs[0], 1);
        assert_string_equal(l.v[2].source, "api");
        s.n = 0;
        event_log_foreach(&l, 1, collect, &s);
        assert_int_equal(s.n, 1);
        assert_int_equal(s.seqs[0], 2);
        /* Overflow keeps the newest EVENT_LOG_SIZE. */
        for (int i = 0; i < EVENT_LOG_SIZE + 5; i++)
                event_log_add(&l, "violation", "c", "cgroups", "m");
        s.n = 0;
        event_log_foreach(&l, 0, collect, &s);
        assert_int_equal(s.n, EVENT_LOG_SIZE);
        assert_int_equal(s.seqs[0], EVENT_LOG_SIZE + 7 - EVENT_LOG_SIZE + 1);
        assert_int_equal(s.seqs[s.n - 1], EVENT_LOG_SIZE + 7);
        event_log_done(&l);
}

#define ARGV(...) ((char *[]){"portiso-agent", __VA_ARGS__})
#define ARGC(...) ((int)(sizeof(ARGV(__VA_ARGS__)) / sizeof(char *)))
#define PARSE(f, e, ...) agent_flags_parse((f), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (e))

static void test_flags(void **state)
{
        struct agent_flags f = {};
        struct errbuf e = {};

        (void)state;
        assert_int_equal(PARSE(&f, &e, "--port=5051"), 0);
        assert_int_equal(f.sources, WORKLOAD_SOURCE_API);
        assert_string_equal(f.podman_socket, "/run/podman/podman.sock");
        assert_string_equal(f.docker_socket, "/var/run/docker.sock");
        assert_string_equal(f.adopt_dir, "/etc/portiso/adopt.d");
        agent_flags_done(&f);
        assert_int_equal(PARSE(&f, &e, "--workload_sources=podman,cgroups,docker"), 0);
        assert_int_equal(f.sources,
                         WORKLOAD_SOURCE_PODMAN | WORKLOAD_SOURCE_CGROUPS | WORKLOAD_SOURCE_DOCKER);
        agent_flags_done(&f);
        assert_int_equal(PARSE(&f, &e, "--workload_sources=api,rkt"), -EINVAL);
        assert_contains(e.msg, "--workload_sources: unknown source 'rkt'");
        assert_int_equal(PARSE(&f, &e, "--workload_sources="), -EINVAL);
        assert_int_equal(PARSE(&f, &e, "--workload_sources=podman", "--podman_socket="), -EINVAL);
        assert_contains(e.msg, "--podman_socket");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_inspect),
            cmocka_unit_test(test_inspect_variants),
            cmocka_unit_test(test_image_list_event),
            cmocka_unit_test(test_container_id),
            cmocka_unit_test(test_decl),
            cmocka_unit_test(test_decl_errors),
            cmocka_unit_test(test_event_log),
            cmocka_unit_test(test_flags),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
