/* cli.h - the subcommands of `portiso`, one function each.
 *
 * main.c dispatches on argv[1] through a table of these; each takes the
 * arguments after the program name (argv[0] is the subcommand's name), prints
 * its own output and returns the process exit status: 0 success, 1 failure,
 * 2 bad usage. */
#pragma once

/* Exit status for a bad flag or argument (as getopt-based tools use). */
#define CLI_EXIT_USAGE 2

/* `portiso scan`: the ports every container cgroup listens on, no agent. */
int cmd_scan(int argc, char **argv);
