/* client.h - the `portiso` commands that talk to a running agent over its
 * HTTP API (Mesos v1 operator calls). Each has the cli.h shape: it takes the
 * arguments after the program name (argv[0] is the command's name), prints
 * its own output and returns the exit status (0, 1 failure, 2 bad usage).
 * The agent is --agent=HOST:PORT or --agent=/path/to/api.sock, else
 * $PORTISO_AGENT (same forms), else its default unix socket
 * /run/portiso/api.sock. */
#pragma once

#include <stdbool.h>

/* Consume an option given before the command name (--agent=...,
 * --json); false if arg is not one. */
bool client_global_option(const char *arg);
/* Whether --json came before the command name (scan honours it too). */
bool client_global_json(void);

/* `portiso launch ID [--ports=R] [--parent=ID] [--network=N] [--env=K=V] -- CMD...` */
int cmd_launch(int argc, char **argv);
/* `portiso wait ID`: block until the container ends; print how it ended. */
int cmd_wait(int argc, char **argv);
/* `portiso kill ID [--signal=N]` (default SIGKILL: destroy the container). */
int cmd_kill(int argc, char **argv);
/* `portiso remove ID`: forget a terminated container. */
int cmd_remove(int argc, char **argv);
/* `portiso update ID --ports=RANGES`: replace a root container's ports. */
int cmd_update(int argc, char **argv);
/* `portiso ps`: a table of containers with allocated and listening ports. */
int cmd_ps(int argc, char **argv);
/* `portiso events [--follow]`: the agent's recent container events (GET_EVENTS). */
int cmd_events(int argc, char **argv);
