/* syncer.h - the agent's file work and flushes, off its event loop.
 *
 * The loop writes small checkpoint records into the page cache (fileio.h's
 * sync_later) and hands the paths to flush to the syncer; work that creates
 * or removes files, which the file system can make cost milliseconds, goes
 * to it whole as a job. One worker thread runs the jobs and fsyncs the
 * paths in batches, in the order they came, so a burst of writes costs a few
 * flushes, not one each, and the loop never waits for a disk. What depends
 * on a write being durable (an answer to a client, a state a client can
 * see) waits for a barrier instead: a callback run from the loop once
 * everything handed over before it has run and been flushed. Barriers fire
 * in the order they were asked for. */
#pragma once

#include <event2/event.h>

#include "basic/fileio.h"

struct syncer;

typedef void (*syncer_fn)(int r, void *userdata);

/* A syncer whose callbacks run from base. */
int syncer_new(struct event_base *base, struct syncer **ret);
/* Run what is queued and flush what is pending (this waits: the agent
 * stops), then free. Barriers and jobs' done callbacks still pending are
 * dropped without being called. NULL is fine. */
void syncer_free(struct syncer *s);
/* The sync_later to pass to writes whose flush the syncer owns. */
struct sync_later *syncer_later(struct syncer *s);
/* Call fn(r, userdata) from the loop once every path handed over so far is
 * flushed: r = 0, or the first flush error of the batches concerned (a
 * file removed meanwhile is no error). 0 and *ret_handle (may be NULL) for
 * syncer_cancel(); 1 when nothing is pending: fn is not called, the caller
 * goes on at once. */
int syncer_barrier(struct syncer *s, syncer_fn fn, void *userdata, void **ret_handle);
/* Forget a pending barrier: fn will not be called. */
void syncer_cancel(struct syncer *s, void *handle);

/* File work that must not run on the loop (creating files, removing trees:
 * the file system can take milliseconds per inode under load).
 * work(userdata, later) runs on the worker thread, in order with every
 * other job and flush, and hands what it writes to later; then
 * done(r, userdata) runs from the loop with work's result, or the flush's
 * error. work must touch only what userdata owns; done is always called
 * (unless the agent stops first), so userdata lives until then. */
int syncer_run(struct syncer *s, int (*work)(void *userdata, struct sync_later *later),
               void (*done)(int r, void *userdata), void *userdata);
/* Batches flushed and paths handed over in them, for metrics. */
void syncer_stats(const struct syncer *s, uint64_t *ret_batches, uint64_t *ret_paths);
