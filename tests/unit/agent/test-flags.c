/* test-flags.c - agent flag parsing and validation (flags.c): defaults,
 * environment fallbacks and their precedence, boolean forms, every Mesos
 * validation case, unknown flags and --help. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/flags.h"
#include "linux/sockdiag.h"
#include "ports/duration.h"

#define ARGV(...) ((char *[]){"portiso-agent", __VA_ARGS__})
#define ARGC(...) ((int)(sizeof(ARGV(__VA_ARGS__)) / sizeof(char *)))
#define PARSE(f, e, ...) agent_flags_parse((f), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (e))

static void clear_env(void)
{
        static const char *const vars[] = {"MESOS_PORT",
                                           "PORTISO_PORT",
                                           "MESOS_ENFORCE_CONTAINER_PORTS",
                                           "PORTISO_ENFORCE_CONTAINER_PORTS",
                                           "MESOS_WORK_DIR",
                                           "PORTISO_WORK_DIR",
                                           "PORTISO_CONTAINER_PORTS_ISOLATED_RANGE"};
        for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
                unsetenv(vars[i]);
}

static int setup(void **state)
{
        (void)state;
        clear_env();
        return 0;
}

/* Parse expecting -EINVAL; the error line must contain `needle`. */
static void expect_error(int argc, char **argv, const char *needle)
{
        struct agent_flags f = {};
        struct errbuf e = {};

        assert_int_equal(agent_flags_parse(&f, argc, argv, &e), -EINVAL);
        if (!strstr(e.msg, needle))
                fail_msg("error '%s' does not contain '%s'", e.msg, needle);
        assert_null(strchr(e.msg, '\n'));
        agent_flags_done(&f);
}

static void test_defaults(void **state)
{
        struct agent_flags f = {};
        struct errbuf e = {};

        (void)state;
        assert_int_equal(agent_flags_parse(&f, 1, ARGV(NULL), &e), 0);
        assert_string_equal(f.work_dir, "/var/lib/portiso");
        assert_string_equal(f.runtime_dir, "/run/portiso");
        assert_string_equal(f.ip, "127.0.0.1");
        assert_int_equal(f.port, 5051);
        assert_string_equal(f.isolation, "network/ports");
        assert_true(f.isolation_network_ports);
        assert_false(f.isolation_network_cni);
        assert_string_equal(f.launcher, "linux");
        assert_null(f.resources);
        assert_false(f.enforce_container_ports);
        assert_false(f.check_agent_port_range_only);
        assert_null(f.container_ports_isolated_range);
        assert_int_equal(f.container_ports_watch_interval_ns, 30 * NSEC_PER_SEC);
        assert_string_equal(f.cgroups_hierarchy, "/sys/fs/cgroup");
        assert_string_equal(f.cgroups_root, "portiso");
        assert_int_equal(f.container_ports_instant_detection, -1);
        assert_false(f.container_ports_prevent_bind);
        assert_int_equal(f.container_ports_protocols, SOCKDIAG_TCP);
        /* No ports resource: the Mesos default [31000-32000]; all ports count. */
        assert_int_equal(portset_count(&f.agent_ports), 1001);
        assert_true(portset_contains(&f.agent_ports, 31000));
        assert_true(portset_contains(&f.agent_ports, 32000));
        assert_int_equal(portset_count(&f.isolated), 65536);
        agent_flags_done(&f);
}

static void test_values(void **state)
{
        struct agent_flags f = {};
        struct errbuf e = {};

        (void)state;
        assert_int_equal(
            PARSE(&f, &e, "--port=33005", "--ip=::1", "--work_dir=/tmp/w",
                  "--container_ports_watch_interval=100ms", "--container_ports_protocols=tcp,udp",
                  "--isolation=", "--launcher=posix", "--container_ports_instant_detection=false"),
            0);
        assert_int_equal(f.port, 33005);
        assert_string_equal(f.ip, "::1");
        assert_string_equal(f.work_dir, "/tmp/w");
        assert_int_equal(f.container_ports_watch_interval_ns, 100 * NSEC_PER_MSEC);
        assert_int_equal(f.container_ports_protocols, SOCKDIAG_TCP | SOCKDIAG_UDP);
        assert_false(f.isolation_network_ports);
        assert_false(f.isolation_network_cni);
        assert_int_equal(f.container_ports_instant_detection, 0);
        agent_flags_done(&f);

        assert_int_equal(PARSE(&f, &e, "--isolation=network/cni,network/ports"), 0);
        assert_true(f.isolation_network_ports);
        assert_true(f.isolation_network_cni);
        agent_flags_done(&f);
}

static void test_bool_forms(void **state)
{
        struct agent_flags f = {};
        struct errbuf e = {};

        (void)state;
        assert_int_equal(PARSE(&f, &e, "--enforce_container_ports"), 0);
        assert_true(f.enforce_container_ports);
        agent_flags_done(&f);
        assert_int_equal(PARSE(&f, &e, "--enforce_container_ports", "--no-enforce_container_ports"),
                         0);
        assert_false(f.enforce_container_ports);
        agent_flags_done(&f);
        assert_int_equal(PARSE(&f, &e, "--enforce_container_ports=true"), 0);
        assert_true(f.enforce_container_ports);
        agent_flags_done(&f);
        assert_int_equal(PARSE(&f, &e, "--enforce_container_ports=false"), 0);
        assert_false(f.enforce_container_ports);
        agent_flags_done(&f);
        assert_int_equal(PARSE(&f, &e, "--container_ports_prevent_bind"), 0);
        assert_true(f.container_ports_prevent_bind);
        agent_flags_done(&f);
        assert_int_equal(PARSE(&f, &e, "--no-container_ports_instant_detection"), 0);
        assert_int_equal(f.container_ports_instant_detection, 0);
        agent_flags_done(&f);
        expect_error(ARGC("--enforce_container_ports=maybe"),
                     ARGV("--enforce_container_ports=maybe"), "--enforce_container_ports");
        expect_error(ARGC("--no-port"), ARGV("--no-port"), "--port: not a boolean flag");
}

static void test_env(void **state)
{
        struct agent_flags f = {};
        struct errbuf e = {};

        (void)state;
        setenv("MESOS_PORT", "33001", 1);
        assert_int_equal(agent_flags_parse(&f, 1, ARGV(NULL), &e), 0);
        assert_int_equal(f.port, 33001);
        agent_flags_done(&f);

        /* PORTISO_ beats MESOS_ ... */
        setenv("PORTISO_PORT", "33002", 1);
        assert_int_equal(agent_flags_parse(&f, 1, ARGV(NULL), &e), 0);
        assert_int_equal(f.port, 33002);
        agent_flags_done(&f);

        /* ... and the command line beats both. */
        assert_int_equal(PARSE(&f, &e, "--port=33003"), 0);
        assert_int_equal(f.port, 33003);
        agent_flags_done(&f);

        setenv("MESOS_ENFORCE_CONTAINER_PORTS", "true", 1);
        setenv("MESOS_WORK_DIR", "/tmp/mesos-work", 1);
        assert_int_equal(agent_flags_parse(&f, 1, ARGV(NULL), &e), 0);
        assert_true(f.enforce_container_ports);
        assert_string_equal(f.work_dir, "/tmp/mesos-work");
        agent_flags_done(&f);

        /* A bad environment value names the flag and the variable. */
        setenv("PORTISO_PORT", "x", 1);
        expect_error(1, ARGV(NULL), "--port (from PORTISO_PORT)");
        setenv("PORTISO_CONTAINER_PORTS_ISOLATED_RANGE", "foo", 1);
        unsetenv("PORTISO_PORT");
        expect_error(1, ARGV(NULL), "--container_ports_isolated_range");
        clear_env();
}

static void test_isolated_range(void **state)
{
        struct agent_flags f = {};
        struct errbuf e = {};

        (void)state;
        expect_error(ARGC("--container_ports_isolated_range=[100-65536]"),
                     ARGV("--container_ports_isolated_range=[100-65536]"),
                     "--container_ports_isolated_range");
        expect_error(ARGC("--container_ports_isolated_range=foo"),
                     ARGV("--container_ports_isolated_range=foo"),
                     "--container_ports_isolated_range: invalid ranges 'foo'");
        expect_error(ARGC("--container_ports_isolated_range=100"),
                     ARGV("--container_ports_isolated_range=100"),
                     "--container_ports_isolated_range");
        assert_int_equal(PARSE(&f, &e, "--container_ports_isolated_range=[31000-32000]"), 0);
        assert_int_equal(portset_count(&f.isolated), 1001);
        assert_true(portset_contains(&f.isolated, 31000));
        assert_false(portset_contains(&f.isolated, 30999));
        agent_flags_done(&f);
        /* Both range flags together. */
        expect_error(
            ARGC("--container_ports_isolated_range=[31000-32000]", "--check_agent_port_range_only"),
            ARGV("--container_ports_isolated_range=[31000-32000]", "--check_agent_port_range_only"),
            "--check_agent_port_range_only");
}

static void test_resources(void **state)
{
        struct agent_flags f = {};
        struct errbuf e = {};

        (void)state;
        assert_int_equal(PARSE(&f, &e, "--resources=cpus:2;ports:[33000-33010]",
                               "--check_agent_port_range_only"),
                         0);
        assert_int_equal(portset_count(&f.agent_ports), 11);
        assert_true(portset_equal(&f.isolated, &f.agent_ports));
        agent_flags_done(&f);

        /* No ports resource: defaults to [31000-32000]. */
        assert_int_equal(PARSE(&f, &e, "--resources=cpus:2", "--check_agent_port_range_only"), 0);
        assert_int_equal(portset_count(&f.agent_ports), 1001);
        assert_int_equal(portset_count(&f.isolated), 1001);
        agent_flags_done(&f);

        /* Given but empty: nothing protected under --check_agent_port_range_only. */
        assert_int_equal(PARSE(&f, &e, "--resources=ports:[]", "--check_agent_port_range_only"), 0);
        assert_true(portset_is_empty(&f.agent_ports));
        assert_true(portset_is_empty(&f.isolated));
        agent_flags_done(&f);

        assert_int_equal(
            PARSE(&f, &e,
                  "--resources=[{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":"
                  "[{\"begin\":33000,\"end\":33001}]}}]"),
            0);
        assert_int_equal(portset_count(&f.agent_ports), 2);
        agent_flags_done(&f);

        expect_error(ARGC("--resources=ports:[5-1]"), ARGV("--resources=ports:[5-1]"),
                     "--resources: ");
}

static void test_validation(void **state)
{
        (void)state;
        expect_error(ARGC("--launcher=posix"), ARGV("--launcher=posix"),
                     "--launcher: the network/ports isolator requires --launcher=linux");
        expect_error(ARGC("--launcher=docker"), ARGV("--launcher=docker"), "--launcher");
        expect_error(ARGC("--isolation=network/ports,posix/cpu"),
                     ARGV("--isolation=network/ports,posix/cpu"),
                     "--isolation: unknown isolator 'posix/cpu'");
        expect_error(ARGC("--port=0"), ARGV("--port=0"), "--port");
        expect_error(ARGC("--port=65536"), ARGV("--port=65536"), "--port");
        expect_error(ARGC("--port=12ab"), ARGV("--port=12ab"), "--port");
        expect_error(ARGC("--container_ports_watch_interval=0secs"),
                     ARGV("--container_ports_watch_interval=0secs"),
                     "--container_ports_watch_interval");
        expect_error(ARGC("--container_ports_watch_interval=fast"),
                     ARGV("--container_ports_watch_interval=fast"),
                     "--container_ports_watch_interval");
        expect_error(ARGC("--container_ports_protocols=sctp"),
                     ARGV("--container_ports_protocols=sctp"), "--container_ports_protocols");
        expect_error(ARGC("--container_ports_protocols=tcp,"),
                     ARGV("--container_ports_protocols=tcp,"), "--container_ports_protocols");
        expect_error(ARGC("--ip=localhost"), ARGV("--ip=localhost"), "--ip");
        expect_error(ARGC("--ip=300.1.1.1"), ARGV("--ip=300.1.1.1"), "--ip");
        expect_error(ARGC("--cgroups_root=/abs"), ARGV("--cgroups_root=/abs"), "--cgroups_root");
        expect_error(ARGC("--container_ports_instant_detection=sometimes"),
                     ARGV("--container_ports_instant_detection=sometimes"),
                     "--container_ports_instant_detection");
}

static void test_unknown_and_shape(void **state)
{
        (void)state;
        expect_error(ARGC("--bogus=1"), ARGV("--bogus=1"), "--bogus: unknown flag");
        expect_error(ARGC("--no-bogus"), ARGV("--no-bogus"), "unknown flag");
        expect_error(ARGC("--port"), ARGV("--port"), "--port: missing value");
        expect_error(ARGC("stray"), ARGV("stray"), "unexpected argument 'stray'");
}

static void test_help(void **state)
{
        struct agent_flags f = {};
        struct errbuf e = {};
        char *buf = NULL;
        size_t len = 0;
        FILE *out;

        (void)state;
        /* --help returns 1 (it printed to stdout) and leaves nothing allocated. */
        fflush(stdout);
        int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        int r = PARSE(&f, &e, "--port=33004", "--help");
        fflush(stdout);
        dup2(saved, 1);
        close(saved);
        close(devnull);
        assert_int_equal(r, 1);
        assert_null(f.work_dir);

        out = open_memstream(&buf, &len);
        assert_non_null(out);
        agent_flags_help(out);
        fclose(out);
        static const char *const names[] = {"work_dir",
                                            "runtime_dir",
                                            "ip",
                                            "port",
                                            "isolation",
                                            "launcher",
                                            "resources",
                                            "enforce_container_ports",
                                            "check_agent_port_range_only",
                                            "container_ports_isolated_range",
                                            "container_ports_watch_interval",
                                            "cgroups_hierarchy",
                                            "cgroups_root",
                                            "container_ports_instant_detection",
                                            "container_ports_prevent_bind",
                                            "container_ports_protocols"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                char want[128];
                snprintf(want, sizeof(want), "--%s", names[i]);
                if (!strstr(buf, want))
                        fail_msg("--help does not mention %s", want);
        }
        assert_non_null(strstr(buf, "(default: 30secs)"));
        /* Booleans and tri-states show the values they take without '='. */
        assert_non_null(strstr(buf, "--enforce_container_ports[=true|false]\n"));
        assert_non_null(strstr(buf, "--container_ports_instant_detection[=true|false|auto]\n"));
        assert_non_null(strstr(buf, "--port=VALUE\n"));
        free(buf);
}

struct seen {
        int n;
        char interval[32];
        char detection[32];
        char protocols[32];
};

static void on_flag(const char *name, const char *value, void *userdata)
{
        struct seen *s = userdata;

        s->n++;
        if (strcmp(name, "container_ports_watch_interval") == 0)
                snprintf(s->interval, sizeof(s->interval), "%s", value);
        if (strcmp(name, "container_ports_instant_detection") == 0)
                snprintf(s->detection, sizeof(s->detection), "%s", value);
        if (strcmp(name, "container_ports_protocols") == 0)
                snprintf(s->protocols, sizeof(s->protocols), "%s", value);
}

static void test_trust_flags(void **state)
{
        char path[] = "/tmp/portiso-test-creds-XXXXXX";
        struct agent_flags f = {};
        struct errbuf e = {};
        char arg[64];
        int fd;

        (void)state;
        assert_int_equal(agent_flags_parse(&f, 1, ARGV(NULL), &e), 0);
        assert_true(f.switch_user);
        assert_string_equal(f.default_container_user, "nobody");
        assert_false(f.allow_root_containers);
        assert_null(f.http_credentials);
        assert_false(f.has_credentials);
        assert_string_equal(f.http_authenticators, "basic");
        assert_true(f.authenticate_http_readwrite); /* unlike Mesos */
        assert_false(f.authenticate_http_readonly);
        agent_flags_done(&f);

        fd = mkstemp(path);
        assert_true(fd >= 0);
        static const char creds[] = "{\"credentials\":[{\"principal\":\"ops\",\"secret\":\"s\"}]}";
        assert_int_equal(write(fd, creds, sizeof(creds) - 1), (ssize_t)sizeof(creds) - 1);
        close(fd);
        snprintf(arg, sizeof(arg), "--http_credentials=%s", path);
        assert_int_equal(PARSE(&f, &e, arg, "--authenticate_http_readonly"), 0);
        assert_true(f.has_credentials);
        assert_int_equal(f.credentials.n, 1);
        assert_string_equal(f.credentials.v[0].principal, "ops");
        agent_flags_done(&f);
        unlink(path);

        assert_int_equal(PARSE(&f, &e, arg), -EINVAL); /* gone now */
        assert_non_null(strstr(e.msg, "--http_credentials: "));
        assert_non_null(strstr(e.msg, path));
        assert_int_equal(PARSE(&f, &e, "--http_authenticators=basic,digest"), -EINVAL);
        assert_non_null(strstr(e.msg, "only 'basic'"));
        assert_int_equal(PARSE(&f, &e, "--authenticate_http_readonly"), -EINVAL);
        assert_non_null(strstr(e.msg, "needs --http_credentials"));
        assert_int_equal(PARSE(&f, &e, "--default_container_user="), -EINVAL);
}

static void test_foreach(void **state)
{
        struct agent_flags f = {};
        struct errbuf e = {};
        struct seen s = {};

        (void)state;
        assert_int_equal(PARSE(&f, &e, "--container_ports_watch_interval=200ms",
                               "--container_ports_protocols=udp,tcp"),
                         0);
        agent_flags_foreach(&f, on_flag, &s);
        assert_int_equal(s.n, 36);
        assert_string_equal(s.interval, "200ms");
        assert_string_equal(s.detection, "auto");
        assert_string_equal(s.protocols, "tcp,udp");
        agent_flags_done(&f);
}

/* The API's listeners and HTTP limits: defaults, derived socket path, units. */
static void test_http_flags(void **state)
{
        struct agent_flags f = {};
        struct errbuf e = {};

        (void)state;
        assert_int_equal(PARSE(&f, &e, "--runtime_dir=/tmp/rt"), 0);
        assert_string_equal(f.api_socket, "/tmp/rt/api.sock");
        assert_null(f.api_socket_group);
        assert_int_equal(f.http_max_body_size, 1 << 20);
        assert_int_equal(f.http_max_header_size, 64 << 10);
        assert_int_equal(f.http_max_connections, 1024);
        assert_int_equal(f.http_idle_timeout_ns, 60 * NSEC_PER_SEC);
        assert_int_equal(f.http_header_timeout_ns, 20 * NSEC_PER_SEC);
        assert_int_equal(f.http_body_timeout_ns, 30 * NSEC_PER_SEC);
        agent_flags_done(&f);

        assert_int_equal(PARSE(&f, &e, "--api_socket=", "--http_max_body_size=4096B",
                               "--http_max_header_size=2KB", "--http_max_connections=7"),
                         0);
        assert_string_equal(f.api_socket, "");
        assert_int_equal(f.http_max_body_size, 4096);
        assert_int_equal(f.http_max_header_size, 2048);
        assert_int_equal(f.http_max_connections, 7);
        agent_flags_done(&f);

        static const char *const bad[] = {
            "--api_socket=relative.sock", "--api_socket_group=",      "--http_max_body_size=1XB",
            "--http_max_body_size=0",     "--http_max_body_size=8GB", "--http_max_connections=0",
            "--http_max_connections=-1",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *argv[] = {"portiso-agent", (char *)bad[i], NULL};
                assert_int_equal(agent_flags_parse(&f, 2, argv, &e), -EINVAL);
                assert_non_null(strstr(e.msg, "--"));
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(test_defaults, setup),
            cmocka_unit_test_setup(test_trust_flags, setup),
            cmocka_unit_test_setup(test_values, setup),
            cmocka_unit_test_setup(test_bool_forms, setup),
            cmocka_unit_test_setup(test_env, setup),
            cmocka_unit_test_setup(test_isolated_range, setup),
            cmocka_unit_test_setup(test_resources, setup),
            cmocka_unit_test_setup(test_validation, setup),
            cmocka_unit_test_setup(test_unknown_and_shape, setup),
            cmocka_unit_test_setup(test_help, setup),
            cmocka_unit_test_setup(test_foreach, setup),
            cmocka_unit_test_setup(test_http_flags, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
