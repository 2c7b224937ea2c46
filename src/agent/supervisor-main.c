/* supervisor-main.c - portiso-supervisor, the per-container supervisor
 * program (supervisor.h), as an executable of its own.
 *
 * The agent starts one per launch. It is not the agent binary re-executed:
 * that links libcurl, libevent, libbpf and protobuf-c, and the dynamic
 * loader's work for those ~40 libraries (and GnuTLS' load-time setup) cost
 * about 10 ms of CPU per exec, which a storm of launches paid on the CPUs
 * the agent's loop needs. This one links only what it uses. */
#include <stdio.h>

#include "agent/supervisor.h"

int main(int argc, char **argv)
{
        if (!supervisor_mode(argc, argv)) {
                fprintf(stderr, "portiso-supervisor: started by portiso-agent for each container, "
                                "not by hand\n");
                return 2;
        }
        return supervisor_main(argc, argv);
}
