/*
 * gsync.h: group commit, fdatasyncs shared between the processes that
 * append to one log (gsync.c says how).  Private to sink_log.c.
 */
#ifndef HOOKLINE_GSYNC_H
#define HOOKLINE_GSYNC_H

#include <stdint.h>
#include <sys/types.h>

struct gsync;

int gsync_worth(int);
struct gsync *gsync_open(dev_t, ino_t);
void gsync_close(struct gsync *);
void gsync_forget(dev_t, ino_t);
uint64_t gsync_ticket(struct gsync *);
void gsync_written(struct gsync *, uint64_t);
int gsync_sync(struct gsync *, int, uint64_t);

#endif /* HOOKLINE_GSYNC_H */
