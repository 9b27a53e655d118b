/*
 * gsync.c: group commit, so that concurrent processes appending to one log
 * share their fdatasync(2) calls.
 *
 * With HOOKLINE_SYNC=always every 2xx waits for an fdatasync that began
 * after its record was written.  One fdatasync covers every record written
 * before it began, whoever wrote it, so when N processes wait at once one
 * sync can serve all N.  Used with HOOKLINE_SYNC=group, and with =always
 * on the filesystems where it measured faster (gsync_worth).  The processes holding one log file share two
 * counters in a POSIX shared memory object named after the file's device
 * and inode (and the effective uid):
 *
 *   seq     tickets handed out: a writer takes ticket ++seq only after its
 *           write(2) returned, so every ticket <= seq is a finished write;
 *   synced  every ticket <= synced is on disk.
 *
 * A writer with ticket t is done when synced >= t.  Otherwise it takes the
 * object's flock (the sync mutex, released by the kernel if its holder
 * dies), looks again (a sync may have finished while it waited), and if
 * still uncovered becomes the leader: it reads s = seq, calls fdatasync
 * and, only when that succeeded, raises synced to s.  The writers that
 * queued behind it then find their tickets covered and return without a
 * system call.
 *
 * Tickets, not file offsets: a file truncated under us (logrotate's
 * copytruncate) or an object left over from an earlier file that had the
 * same inode number cannot make a new record look covered, because a new
 * ticket is always above every synced value.
 *
 * A failed fdatasync poisons the object for good: the kernel reports a
 * writeback error once per open file, so after one a later "successful"
 * sync by another process proves nothing about pages that were dropped.
 * From then on every process syncs its own records, as with
 * HOOKLINE_SYNC=each, and sees the error on its own descriptor.
 *
 * When the object cannot be used (no /dev/shm, another user owns the name)
 * gsync_open returns NULL and the caller syncs each record itself:
 * slower, never less durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "hookline.h"

/* The layout is read by bench/bench.py too (seq / syncs = group size). */
struct gsync_shared {
	_Atomic uint64_t seq;
	_Atomic uint64_t synced;
	_Atomic uint64_t syncs; /* fdatasyncs made by leaders */
	_Atomic uint32_t poisoned;
};

struct gsync {
	int fd; /* the shared object, also the sync mutex (flock) */
	struct gsync_shared *sh;
};

/*
 * Whether sharing syncs pays on the filesystem holding fd, for
 * HOOKLINE_SYNC=always.  Group commit against one fdatasync per event,
 * durable throughput through lighttpd (scripts/bench, docs/benchmarks.md):
 * btrfs 7-8x (concurrent fsyncs of one file serialize there), XFS about
 * 1.05x, ext4 with a journal 0.8-0.95x and without one about 1x: jbd2
 * already merges concurrent fdatasyncs into one commit, and waiting for
 * another process's sync adds a wake-up to each event's latency.  tmpfs
 * has nothing to sync.
 */
int
gsync_worth(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) == -1)
		return 0;
	return sf.f_type != EXT4_SUPER_MAGIC && sf.f_type != TMPFS_MAGIC;
}

static void
gsync_name(char *name, size_t cap, dev_t dev, ino_t ino)
{
	/* "1": the layout of struct gsync_shared.  A new layout needs a new
	 * name, or processes of two versions would misread each other. */
	snprintf(name, cap, "/hookline-gsync1-%lu-%lu-%lu",
	    (unsigned long)geteuid(), (unsigned long)dev, (unsigned long)ino);
}

/*
 * The shared counters for the log file dev:ino, or NULL when they cannot
 * be had (the caller then syncs alone).
 */
struct gsync *
gsync_open(dev_t dev, ino_t ino)
{
	char name[96];
	struct gsync *g;
	struct stat ost;
	void *p;
	int fd;

	gsync_name(name, sizeof(name), dev, ino);
	if ((fd = shm_open(name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	         0600)) == -1)
		return NULL;
	/*
	 * Anyone can create a name in /dev/shm.  An object we do not own,
	 * or that others may write, could claim syncs that never happened:
	 * do without it.  The page is allocated now (posix_fallocate, which
	 * also sets the size): touching an unallocated page of a full tmpfs
	 * through the mapping would kill the process with SIGBUS.
	 */
	if (fstat(fd, &ost) == -1 || ost.st_uid != geteuid() ||
	    (ost.st_mode & 077) != 0 ||
	    posix_fallocate(fd, 0, sizeof(struct gsync_shared)) != 0) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, sizeof(struct gsync_shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED || (g = malloc(sizeof(*g))) == NULL) {
		if (p != MAP_FAILED)
			munmap(p, sizeof(struct gsync_shared));
		close(fd);
		return NULL;
	}
	g->fd = fd;
	g->sh = p;
	return g;
}

/* Unmaps; NULL does nothing.  The object stays for the other processes. */
void
gsync_close(struct gsync *g)
{
	if (g == NULL)
		return;
	munmap(g->sh, sizeof(*g->sh));
	close(g->fd);
	free(g);
}

/*
 * Removes the name of a log file's counters, once that file was rotated
 * away, so that /dev/shm does not collect them.  Always safe: processes
 * that mapped the object keep it, and one that opens the name afterwards
 * gets fresh counters, which only means it shares syncs with fewer others.
 */
void
gsync_forget(dev_t dev, ino_t ino)
{
	char name[96];

	gsync_name(name, sizeof(name), dev, ino);
	(void)shm_unlink(name);
}

static int
datasync(int fd)
{
	int rc;

	while ((rc = fdatasync(fd)) == -1 && errno == EINTR)
		;
	return rc;
}

/*
 * Makes durable every record this process wrote to logfd so far (the
 * write(2) has returned).  0 on success, -1 with errno set when the data
 * may not be on disk.  g NULL: a plain fdatasync.
 */
int
gsync_sync(struct gsync *g, int logfd)
{
	uint64_t t, s;
	int rc, e;

	if (g == NULL || atomic_load(&g->sh->poisoned))
		return datasync(logfd);
	t = atomic_fetch_add(&g->sh->seq, 1) + 1;
	if (atomic_load(&g->sh->synced) >= t)
		return 0;
	while (flock(g->fd, LOCK_EX) == -1)
		if (errno != EINTR)
			return datasync(logfd);
	rc = 0;
	if (atomic_load(&g->sh->poisoned))
		rc = datasync(logfd);
	else if (atomic_load(&g->sh->synced) < t) {
		s = atomic_load(&g->sh->seq);
		atomic_fetch_add(&g->sh->syncs, 1);
		if ((rc = datasync(logfd)) == 0)
			atomic_store(&g->sh->synced, s);
		else
			atomic_store(&g->sh->poisoned, 1);
	}
	e = errno;
	flock(g->fd, LOCK_UN);
	errno = e;
	return rc;
}
