/* tombs.h - deleting, on a thread of its own, the trees that REMOVE renamed
 * aside.
 *
 * REMOVE_CONTAINER renames a container's checkpoint and sandbox to
 * "tombs" (durably: that rename is what the answer waits for) and hands
 * them here. Deleting a tree costs one unlink per file, and a task may have
 * left a million in its sandbox: on the loop that would freeze every call
 * and every kill for as long; on the syncer's worker it would hold up every
 * launch's flush behind it. So a thread of its own deletes them, one after
 * another, at the lowest priority. A tomb not yet deleted when the agent
 * stops (or that could not be queued) is swept at the next start
 * (checkpoint_sweep()); nobody reads a tomb. */
#pragma once

#include <stddef.h>

struct tombs;

/* Start the deleting thread. */
int tombs_new(struct tombs **ret);
/* Queue a tomb for deletion, taking path (freed here in all cases). On
 * -ENOMEM the tomb stays on disk for the next start's sweep. */
int tombs_bury(struct tombs *t, char *path);
/* Tombs queued or being deleted. */
size_t tombs_pending(struct tombs *t);
/* Stop once the tomb being deleted, if any, is gone; the queued ones wait
 * for the next start's sweep. NULL is fine. */
void tombs_free(struct tombs *t);
