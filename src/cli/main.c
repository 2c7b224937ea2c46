/* main.c - `portiso`: dispatch to a subcommand.
 *
 * The subcommands live in a table (name, function, one-line summary) so that
 * adding one is adding a row; `portiso --help` is generated from the same
 * table. Each subcommand parses its own flags. */
#include <stdio.h>
#include <string.h>

#include "basic/macro.h"
#include "cli/cli.h"
#include "cli/client.h"

struct command {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
};

static const struct command commands[] = {
    {"scan", cmd_scan, "list the ports every container cgroup listens on (no agent needed)"},
    {"launch", cmd_launch, "launch a container on the agent: launch ID [--ports=R] -- CMD..."},
    {"wait", cmd_wait, "wait for a container to end and show how it ended"},
    {"kill", cmd_kill, "send a signal to a container (default SIGKILL: destroy it)"},
    {"remove", cmd_remove, "forget a terminated container"},
    {"update", cmd_update, "replace a root container's ports: update ID --ports=R"},
    {"ps", cmd_ps, "list the agent's containers with allocated and listening ports"},
    {"events", cmd_events, "print the agent's recent container events (--follow: keep polling)"},
};

static void usage(FILE *f)
{
        fputs("Usage: portiso [--agent=HOST:PORT|SOCKET] [--json] [--principal=P --secret=S] "
              "COMMAND [FLAGS...]\n"
              "  or:  portiso --help | --version\n"
              "\n"
              "The agent is reached on its unix socket /run/portiso/api.sock unless\n"
              "--agent or $PORTISO_AGENT names another socket (an absolute path) or\n"
              "a TCP address. Credentials for a TCP agent: --principal/--secret, or\n"
              "$PORTISO_CREDENTIALS naming a file in the agent's --http_credentials format.\n"
              "\n"
              "Options:\n"
              "  --agent=HOST:PORT|SOCKET  the agent's API\n"
              "  --json                    print the agent's JSON answer as is\n"
              "  --principal=P --secret=S  credentials for a TCP agent\n"
              "\n"
              "Commands:\n",
              f);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
        fputs("\nRun 'portiso COMMAND --help' for the flags of a command.\n", f);
}

int main(int argc, char **argv)
{
        /* Options before the command (--agent=HOST:PORT, --json) apply to it. */
        while (argc > 1 && client_global_option(argv[1])) {
                argv[1] = argv[0];
                argc--, argv++;
        }
        if (argc < 2) {
                usage(stderr);
                return CLI_EXIT_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf("portiso %s\n", PORTISO_VERSION);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].run(argc - 1, argv + 1);

        fprintf(stderr, "portiso: unknown command '%s' (see 'portiso --help')\n", argv[1]);
        return CLI_EXIT_USAGE;
}
