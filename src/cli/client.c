/* client.c - `portiso launch|wait|kill|remove|update|ps|events`: the agent's client.
 *
 * Every command builds one Mesos v1 agent.Call in protobuf-JSON, POSTs it to
 * the agent's /api/v1 with the blocking client of http.c, and prints the
 * answer for people (or, with --json, the agent's JSON as is). Nested
 * containers are named "root/child" on the command line, the form the agent
 * uses for cgroup paths too, and become ContainerID chains here. Errors from
 * the agent are shown as one line, "portiso: <status>: <reason>", and make the
 * command exit 1. */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/strbuf.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/credentials.h"
#include "cli/http.h"
#include "ports/ranges.h"
#include "ports/resources.h"

#define _cleanup_json_ _cleanup_(json_decrefp)
#define CLIENT_TIMEOUT_SEC 60
/* Where the agent serves its API by default (--runtime_dir=/run/portiso). */
#define CLIENT_DEFAULT_AGENT "/run/portiso/api.sock"

/* Options given before the command name (`portiso --agent=H:P ps`). */
static const char *global_agent;
static bool global_json;

bool client_global_option(const char *arg)
{
        if (strncmp(arg, "--agent=", 8) == 0) {
                global_agent = arg + 8;
                return true;
        }
        if (strcmp(arg, "--json") == 0) {
                global_json = true;
                return true;
        }
        return credentials_global_option(arg);
}

bool client_global_json(void)
{
        return global_json;
}

struct client {
        const char *agent; /* HOST:PORT or a unix socket's absolute path */
        bool json;
        const char *parent; /* --parent=ID */
        const char *ports;  /* --ports=RANGES */
        const char *network;
        const char *signal;
        bool follow;
        json_t *env; /* EnvironmentVariable objects from --env=K=V */
};

enum {
        OPT_AGENT = 0x100,
        OPT_JSON,
        OPT_PARENT,
        OPT_PORTS,
        OPT_NETWORK,
        OPT_ENV,
        OPT_SIGNAL,
        OPT_FOLLOW,
};

static void client_done(struct client *cl)
{
        json_decref(cl->env);
}

/* Parse the flags of a command; `allowed` lists the command-specific ones.
 * Returns the index of the first positional argument, or -1 after printing
 * a usage error (or 0 after --help). */
static int client_parse(struct client *cl, int argc, char **argv, const char *usage,
                        const int *allowed)
{
        static const struct option options[] = {
            {"agent", required_argument, NULL, OPT_AGENT},
            {"json", no_argument, NULL, OPT_JSON},
            {"parent", required_argument, NULL, OPT_PARENT},
            {"ports", required_argument, NULL, OPT_PORTS},
            {"network", required_argument, NULL, OPT_NETWORK},
            {"env", required_argument, NULL, OPT_ENV},
            {"signal", required_argument, NULL, OPT_SIGNAL},
            {"follow", no_argument, NULL, OPT_FOLLOW},
            {"help", no_argument, NULL, 'h'},
            {},
        };
        int c;

        *cl = (struct client){.agent = global_agent, .json = global_json};
        optind = 0; /* full re-initialisation in glibc */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                bool ok = c == OPT_AGENT || c == OPT_JSON || c == 'h';
                for (const int *a = allowed; a && *a; a++)
                        ok = ok || *a == c;
                if (c == '?' || !ok) {
                        fprintf(stderr, "portiso %s: unknown or misplaced flag '%s'\nUsage: %s\n",
                                argv[0], argv[optind - 1], usage);
                        return -1;
                }
                switch (c) {
                case 'h':
                        printf("Usage: %s\n", usage);
                        return 0;
                case OPT_AGENT:
                        cl->agent = optarg;
                        break;
                case OPT_JSON:
                        cl->json = true;
                        break;
                case OPT_PARENT:
                        cl->parent = optarg;
                        break;
                case OPT_PORTS:
                        cl->ports = optarg;
                        break;
                case OPT_NETWORK:
                        cl->network = optarg;
                        break;
                case OPT_SIGNAL:
                        cl->signal = optarg;
                        break;
                case OPT_FOLLOW:
                        cl->follow = true;
                        break;
                case OPT_ENV: {
                        const char *eq = strchr(optarg, '=');
                        if (!eq || eq == optarg) {
                                fprintf(stderr, "portiso %s: --env expects NAME=VALUE, got '%s'\n",
                                        argv[0], optarg);
                                return -1;
                        }
                        if (!cl->env)
                                cl->env = json_array();
                        json_array_append_new(cl->env, json_pack("{s:s%, s:s, s:s}", "name", optarg,
                                                                 (size_t)(eq - optarg), "value",
                                                                 eq + 1, "type", "VALUE"));
                        break;
                }
                }
        }
        if (!cl->agent)
                cl->agent = getenv("PORTISO_AGENT") ?: CLIENT_DEFAULT_AGENT;
        return optind;
}

/* Print the agent's refusal as one line. */
static void print_http_error(const struct http_response *resp)
{
        bool text = resp->body_len > 0 &&
                    (!resp->content_type || strncmp(resp->content_type, "text/plain", 10) == 0 ||
                     strncmp(resp->content_type, "application/json", 16) == 0);
        const char *reason = text ? resp->body : resp->reason;
        int len = (int)strcspn(reason, "\r\n");

        fprintf(stderr, "portiso: %d: %.*s\n", resp->status, len, reason);
}

/* POST one call; on 2xx store the parsed answer (NULL when the body is empty)
 * and return 0, else print one line and return 1. */
static int client_call(const struct client *cl, json_t *call, unsigned timeout_sec,
                       json_t **ret_answer, int *ret_status)
{
        _cleanup_json_ json_t *c = call;
        _cleanup_(http_agent_done) struct http_agent agent = {};
        _cleanup_free_ char *body = c ? json_dumps(c, JSON_COMPACT) : NULL;
        struct http_response resp = {};
        struct errbuf e = {};

        if (!body) {
                fprintf(stderr, "portiso: out of memory\n");
                return 1;
        }
        if (http_agent_parse(cl->agent, &agent, &e) < 0) {
                fprintf(stderr, "portiso: %s\n", e.msg);
                return CLI_EXIT_USAGE;
        }
        _cleanup_free_ char *authorization = NULL;
        if (credentials_authorization(&authorization, &e) < 0) {
                fprintf(stderr, "portiso: %s\n", e.msg);
                return CLI_EXIT_USAGE;
        }
        http_set_authorization(authorization);
        int r = http_request(&agent, "POST", "/api/v1", "application/json", body, timeout_sec,
                             &resp, &e);
        http_set_authorization(NULL);
        if (r < 0) {
                fprintf(stderr, "portiso: %s\n", e.msg);
                return 1;
        }
        if (resp.status < 200 || resp.status > 299) {
                print_http_error(&resp);
                http_response_done(&resp);
                return 1;
        }
        if (ret_status)
                *ret_status = resp.status;
        if (ret_answer) {
                json_error_t jerr;
                *ret_answer = resp.body_len ? json_loadb(resp.body, resp.body_len, 0, &jerr) : NULL;
                if (resp.body_len && !*ret_answer) {
                        fprintf(stderr, "portiso: invalid JSON from the agent: %s\n", jerr.text);
                        http_response_done(&resp);
                        return 1;
                }
        }
        http_response_done(&resp);
        return 0;
}

/* ContainerID chain for "root/child" (optionally below --parent). */
static json_t *container_id_json(const char *parent, const char *id)
{
        _cleanup_free_ char *full = NULL;
        json_t *cur = NULL;

        if (asprintf(&full, "%s%s%s", parent ?: "", parent ? "/" : "", id) < 0)
                return NULL;
        for (char *save = NULL, *p = strtok_r(full, "/", &save); p;
             p = strtok_r(NULL, "/", &save)) {
                json_t *next = cur ? json_pack("{s:s, s:o}", "value", p, "parent", cur)
                                   : json_pack("{s:s}", "value", p);
                if (!next)
                        return NULL;
                cur = next;
        }
        return cur ?: json_pack("{s:s}", "value", "");
}

/* {"type": T, "<field>": {"container_id": ...}} for the id commands. */
static json_t *id_call(const char *type, const char *field, const struct client *cl, const char *id)
{
        json_t *cid = container_id_json(cl->parent, id);
        return cid ? json_pack("{s:s, s:{s:o}}", "type", type, field, "container_id", cid) : NULL;
}

/* Mesos resources JSON for --ports=RANGES; prints the error itself. */
static json_t *ports_resources(const char *text)
{
        _cleanup_portset_ struct portset ports = PORTSET_INIT;
        struct errbuf e = {};

        if (ranges_parse(text, &ports, &e) < 0) {
                fprintf(stderr, "portiso: --ports: %s\n", e.msg);
                return NULL;
        }
        return resources_ports_to_json(&ports);
}

/* Parse a command that names exactly one container. Returns 1 with *ret_id
 * set when the command should run, 0 after --help, or -1 after printing a
 * usage error. */
static int client_parse_id(struct client *cl, int argc, char **argv, const char *usage,
                           const int *allowed, const char **ret_id)
{
        int first = client_parse(cl, argc, argv, usage, allowed);
        if (first <= 0)
                return first;
        if (argc - first != 1) {
                fprintf(stderr, "portiso %s: expected exactly one container id\nUsage: %s\n",
                        argv[0], usage);
                return -1;
        }
        *ret_id = argv[first];
        return 1;
}

/* Parse a command that takes flags only; returns as client_parse_id(). */
static int client_parse_flags(struct client *cl, int argc, char **argv, const char *usage,
                              const int *allowed)
{
        int first = client_parse(cl, argc, argv, usage, allowed);
        if (first <= 0)
                return first;
        if (first != argc) {
                fprintf(stderr, "portiso %s: unexpected argument '%s'\nUsage: %s\n", argv[0],
                        argv[first], usage);
                return -1;
        }
        return 1;
}

/* The agent's JSON as is, for --json. */
static void print_json(const json_t *json, size_t flags)
{
        _cleanup_free_ char *s = json_dumps(json, flags);
        printf("%s\n", s ?: "{}");
}

int cmd_launch(int argc, char **argv)
{
        static const char usage[] =
            "portiso launch ID [--ports=RANGES] [--parent=ID] [--network=NAME] "
            "[--env=NAME=VALUE]... [--agent=HOST:PORT|SOCKET] -- COMMAND...\n"
            "  one COMMAND word runs through /bin/sh -c; several are exec'd as argv";
        static const int allowed[] = {OPT_PARENT, OPT_PORTS, OPT_NETWORK, OPT_ENV, 0};
        _cleanup_(client_done) struct client cl = {};

        int first = client_parse(&cl, argc, argv, usage, allowed);
        if (first <= 0)
                return first < 0 ? CLI_EXIT_USAGE : 0;
        /* getopt permutes: the id and the command (after "--") are what is left. */
        char **rest = argv + first;
        int nrest = argc - first;
        if (nrest < 1) {
                fprintf(stderr, "portiso launch: missing container id\nUsage: %s\n", usage);
                return CLI_EXIT_USAGE;
        }
        const char *id = rest[0];
        rest++, nrest--;
        if (nrest < 1) {
                fprintf(stderr, "portiso launch: missing command after '--'\nUsage: %s\n", usage);
                return CLI_EXIT_USAGE;
        }

        _cleanup_json_ json_t *cmd = json_object();
        json_object_set_new(cmd, "shell", json_boolean(nrest == 1));
        json_object_set_new(cmd, "value", json_string(rest[0]));
        if (nrest > 1) {
                json_t *args = json_array();
                for (int i = 0; i < nrest; i++)
                        json_array_append_new(args, json_string(rest[i]));
                json_object_set_new(cmd, "arguments", args);
        }
        if (cl.env)
                json_object_set_new(cmd, "environment", json_pack("{s:O}", "variables", cl.env));

        json_t *cid = container_id_json(cl.parent, id);
        _cleanup_json_ json_t *launch =
            json_pack("{s:o, s:O}", "container_id", cid, "command", cmd);
        if (!launch)
                return 1;
        if (cl.ports) {
                json_t *res = ports_resources(cl.ports);
                if (!res)
                        return CLI_EXIT_USAGE;
                json_object_set_new(launch, "resources", res);
        }
        if (cl.network)
                json_object_set_new(launch, "container",
                                    json_pack("{s:s, s:[{s:s}]}", "type", "MESOS", "network_infos",
                                              "name", cl.network));

        int status = 0;
        int r = client_call(
            &cl, json_pack("{s:s, s:O}", "type", "LAUNCH_CONTAINER", "launch_container", launch),
            CLIENT_TIMEOUT_SEC, NULL, &status);
        if (r != 0)
                return r;
        if (status == 202)
                fprintf(stderr, "portiso: container '%s' already exists\n", id);
        else if (!cl.json)
                printf("%s%s%s\n", cl.parent ?: "", cl.parent ? "/" : "", id);
        return 0;
}

/* "exited with status 3" / "killed by signal 9 (KILL)". */
static void describe_exit_status(int status, struct strbuf *out)
{
        if (WIFEXITED(status))
                strbuf_addf(out, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                strbuf_addf(out, "killed by signal %d (SIG%s)", WTERMSIG(status),
                            sigabbrev_np(WTERMSIG(status)) ?: "?");
        else
                strbuf_addf(out, "wait status %d", status);
}

/* The human form of a WaitContainer answer. */
static void print_termination(const char *id, const json_t *w)
{
        _cleanup_strbuf_ struct strbuf line = STRBUF_INIT;
        const json_t *status = json_object_get(w, "exit_status");
        const char *state = json_string_value(json_object_get(w, "state"));
        const char *reason = json_string_value(json_object_get(w, "reason"));
        const char *message = json_string_value(json_object_get(w, "message"));
        const json_t *limitation = json_object_get(w, "limitation");

        if (json_is_integer(status))
                describe_exit_status((int)json_integer_value(status), &line);
        else
                strbuf_puts(&line, "ended (exit status unknown)");
        printf("container %s %s\n", id, strbuf_str(&line));
        if (state)
                printf("  state:      %s\n", state);
        if (reason)
                printf("  reason:     %s\n", reason);
        if (limitation) {
                _cleanup_portset_ struct portset ports = PORTSET_INIT;
                bool has_ports;
                if (resources_ports_from_json(json_object_get(limitation, "resources"), &ports,
                                              &has_ports, NULL) >= 0) {
                        _cleanup_free_ char *text = portset_to_string(&ports);
                        printf("  limitation: ports %s\n", text ?: "?");
                }
        }
        if (message)
                printf("  message:    %s\n", message);
}

int cmd_wait(int argc, char **argv)
{
        static const char usage[] =
            "portiso wait ID [--parent=ID] [--json] [--agent=HOST:PORT|SOCKET]";
        static const int allowed[] = {OPT_PARENT, 0};
        _cleanup_(client_done) struct client cl = {};
        _cleanup_json_ json_t *answer = NULL;
        const char *id;

        int r = client_parse_id(&cl, argc, argv, usage, allowed, &id);
        if (r <= 0)
                return r < 0 ? CLI_EXIT_USAGE : 0;
        r = client_call(&cl, id_call("WAIT_CONTAINER", "wait_container", &cl, id), 0, &answer,
                        NULL);
        if (r != 0)
                return r;
        const json_t *w = json_object_get(answer, "wait_container");
        if (cl.json) {
                print_json(answer, JSON_INDENT(2));
        } else {
                /* The full "root/child" id, as launch prints it. */
                _cleanup_strbuf_ struct strbuf name = STRBUF_INIT;
                if (cl.parent)
                        strbuf_addf(&name, "%s/", cl.parent);
                strbuf_puts(&name, id);
                print_termination(strbuf_str(&name), w);
        }
        return 0;
}

/* Signal by number or name ("9", "KILL", "SIGTERM"). */
static int parse_signal(const char *s)
{
        char *end;
        long n = strtol(s, &end, 10);
        if (*s && !*end)
                return n >= 1 && n < NSIG ? (int)n : -1;
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (int i = 1; i < NSIG; i++) {
                const char *abbrev = sigabbrev_np(i);
                if (abbrev && strcasecmp(abbrev, s) == 0)
                        return i;
        }
        return -1;
}

int cmd_kill(int argc, char **argv)
{
        static const char usage[] =
            "portiso kill ID [--signal=N|NAME] [--parent=ID] [--agent=HOST:PORT|SOCKET]";
        static const int allowed[] = {OPT_PARENT, OPT_SIGNAL, 0};
        _cleanup_(client_done) struct client cl = {};
        const char *id;

        int r = client_parse_id(&cl, argc, argv, usage, allowed, &id);
        if (r <= 0)
                return r < 0 ? CLI_EXIT_USAGE : 0;
        json_t *call = id_call("KILL_CONTAINER", "kill_container", &cl, id);
        if (cl.signal) {
                int sig = parse_signal(cl.signal);
                if (sig < 0) {
                        json_decref(call);
                        fprintf(stderr, "portiso kill: unknown signal '%s'\n", cl.signal);
                        return CLI_EXIT_USAGE;
                }
                json_object_set_new(json_object_get(call, "kill_container"), "signal",
                                    json_integer(sig));
        }
        return client_call(&cl, call, CLIENT_TIMEOUT_SEC, NULL, NULL);
}

int cmd_remove(int argc, char **argv)
{
        static const char usage[] = "portiso remove ID [--parent=ID] [--agent=HOST:PORT|SOCKET]";
        static const int allowed[] = {OPT_PARENT, 0};
        _cleanup_(client_done) struct client cl = {};
        const char *id;

        int r = client_parse_id(&cl, argc, argv, usage, allowed, &id);
        if (r <= 0)
                return r < 0 ? CLI_EXIT_USAGE : 0;
        return client_call(&cl, id_call("REMOVE_CONTAINER", "remove_container", &cl, id),
                           CLIENT_TIMEOUT_SEC, NULL, NULL);
}

int cmd_update(int argc, char **argv)
{
        static const char usage[] = "portiso update ID --ports=RANGES [--agent=HOST:PORT|SOCKET]";
        static const int allowed[] = {OPT_PORTS, OPT_PARENT, 0};
        _cleanup_(client_done) struct client cl = {};
        const char *id;

        int r = client_parse_id(&cl, argc, argv, usage, allowed, &id);
        if (r <= 0)
                return r < 0 ? CLI_EXIT_USAGE : 0;
        if (!cl.ports) {
                fprintf(stderr, "portiso update: --ports=RANGES is required\nUsage: %s\n", usage);
                return CLI_EXIT_USAGE;
        }
        json_t *res = ports_resources(cl.ports);
        if (!res)
                return CLI_EXIT_USAGE;
        json_t *call = id_call("UPDATE_CONTAINER", "update_container", &cl, id);
        json_object_set_new(json_object_get(call, "update_container"), "resources", res);
        return client_call(&cl, call, CLIENT_TIMEOUT_SEC, NULL, NULL);
}

/* "root/child" from a ContainerID chain. */
static void container_id_path(const json_t *cid, struct strbuf *out)
{
        const json_t *parent = json_object_get(cid, "parent");
        if (parent) {
                container_id_path(parent, out);
                strbuf_putc(out, '/');
        }
        strbuf_puts(out, json_string_value(json_object_get(cid, "value")) ?: "?");
}

/* Ranges text of a JSON Value.Ranges, or "-" when absent. */
static char *ranges_text(const json_t *ranges)
{
        _cleanup_portset_ struct portset set = PORTSET_INIT;
        if (!ranges || ranges_from_json(ranges, &set, NULL) < 0)
                return strdup("-");
        return portset_to_string(&set);
}

static char *allocated_text(const json_t *resources)
{
        _cleanup_portset_ struct portset set = PORTSET_INIT;
        bool has_ports = false;
        if (!resources || resources_ports_from_json(resources, &set, &has_ports, NULL) < 0 ||
            !has_ports)
                return strdup("-");
        return portset_to_string(&set);
}

int cmd_ps(int argc, char **argv)
{
        static const char usage[] = "portiso ps [--json] [--agent=HOST:PORT|SOCKET]";
        _cleanup_(client_done) struct client cl = {};
        _cleanup_json_ json_t *answer = NULL;

        int r = client_parse_flags(&cl, argc, argv, usage, NULL);
        if (r <= 0)
                return r < 0 ? CLI_EXIT_USAGE : 0;
        r = client_call(&cl, json_pack("{s:s}", "type", "GET_PORTS"), CLIENT_TIMEOUT_SEC, &answer,
                        NULL);
        if (r != 0)
                return r;
        if (cl.json) {
                print_json(answer, JSON_INDENT(2));
                return 0;
        }

        const json_t *list = json_object_get(json_object_get(answer, "get_ports"), "containers");
        size_t n = json_array_size(list);
        /* Rows of PS_COLUMNS columns; widths computed before printing. */
        enum { PS_COLUMNS = 8 };
        _cleanup_free_ char **cells = calloc((n + 1) * PS_COLUMNS, sizeof(char *));
        if (!cells)
                return 1;
        static const char *const header[PS_COLUMNS] = {
            "ID", "PARENT", "STATE", "ALLOCATED", "LISTENING", "DENIED", "SOURCE", "LIMITATION"};
        for (int k = 0; k < PS_COLUMNS; k++)
                cells[k] = strdup(header[k]);
        for (size_t i = 0; i < n; i++) {
                const json_t *c = json_array_get(list, i);
                const json_t *cid = json_object_get(c, "container_id");
                const json_t *lim =
                    json_object_get(json_object_get(c, "termination"), "limitation");
                struct strbuf id = STRBUF_INIT, parent = STRBUF_INIT;
                container_id_path(cid, &id);
                if (json_object_get(cid, "parent"))
                        container_id_path(json_object_get(cid, "parent"), &parent);
                else
                        strbuf_puts(&parent, "-");
                char **row = cells + (i + 1) * PS_COLUMNS;
                row[0] = strbuf_detach(&id);
                row[1] = strbuf_detach(&parent);
                row[2] = strdup(json_string_value(json_object_get(c, "state")) ?: "?");
                row[3] = allocated_text(json_object_get(c, "resources"));
                row[4] = ranges_text(json_object_get(c, "listening"));
                /* Binds bind prevention refused (port 0: an autobind). */
                row[5] = json_object_get(c, "denied") ? ranges_text(json_object_get(c, "denied"))
                                                      : strdup("-");
                row[6] = strdup(json_string_value(json_object_get(c, "source")) ?: "api");
                row[7] = allocated_text(json_object_get(lim, "resources"));
        }
        size_t width[PS_COLUMNS] = {};
        for (size_t i = 0; i < (n + 1) * PS_COLUMNS; i++)
                width[i % PS_COLUMNS] = MAX(width[i % PS_COLUMNS], cells[i] ? strlen(cells[i]) : 1);
        for (size_t i = 0; i < n + 1; i++) {
                for (int k = 0; k < PS_COLUMNS; k++)
                        printf(k < PS_COLUMNS - 1 ? "%-*s  " : "%-*s\n",
                               k < PS_COLUMNS - 1 ? (int)width[k] : 0,
                               cells[i * PS_COLUMNS + k] ?: "?");
        }
        for (size_t i = 0; i < (n + 1) * PS_COLUMNS; i++)
                free(cells[i]);
        return 0;
}

/* One event as a line: time, type, container, source, message. */
static void print_event(const json_t *ev)
{
        struct strbuf id = STRBUF_INIT;
        double t = json_number_value(json_object_get(ev, "time"));
        time_t sec = (time_t)t;
        struct tm tm;
        char when[32] = "?";

        container_id_path(json_object_get(ev, "container_id"), &id);
        if (gmtime_r(&sec, &tm))
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        printf("%s.%03dZ  %-9s  %s  %s%s%s\n", when, (int)((t - (double)sec) * 1000),
               json_string_value(json_object_get(ev, "type")) ?: "?", strbuf_str(&id) ?: "?",
               json_string_value(json_object_get(ev, "source")) ?: "?",
               json_object_get(ev, "message") ? "  " : "",
               json_string_value(json_object_get(ev, "message")) ?: "");
        strbuf_release(&id);
        fflush(stdout);
}

int cmd_events(int argc, char **argv)
{
        static const char usage[] = "portiso events [--follow] [--json] [--agent=HOST:PORT]";
        static const int allowed[] = {OPT_FOLLOW, 0};
        _cleanup_(client_done) struct client cl = {};
        json_int_t after = 0;

        int r = client_parse_flags(&cl, argc, argv, usage, allowed);
        if (r <= 0)
                return r < 0 ? CLI_EXIT_USAGE : 0;
        for (;;) {
                _cleanup_json_ json_t *answer = NULL;
                r = client_call(
                    &cl,
                    json_pack("{s:s, s:{s:I}}", "type", "GET_EVENTS", "get_events", "after", after),
                    CLIENT_TIMEOUT_SEC, &answer, NULL);
                if (r != 0)
                        return r;
                const json_t *body = json_object_get(answer, "get_events");
                const json_t *ev;
                size_t i;
                json_array_foreach(json_object_get(body, "events"), i, ev)
                {
                        if (cl.json) {
                                print_json(ev, JSON_COMPACT);
                                fflush(stdout);
                        } else
                                print_event(ev);
                }
                after = json_integer_value(json_object_get(body, "last"));
                if (!cl.follow)
                        return 0;
                usleep(250 * 1000); /* the CLI polls; the agent never waits */
        }
}
