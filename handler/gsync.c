/*
 * gsync.c: group commit, so that concurrent processes appending to one log
 * share their fdatasync(2) calls.
 *
 * With HOOKLINE_SYNC=always every 2xx waits for an fdatasync that began
 * after its record was written.  One fdatasync covers every record written
 * before it began, whoever wrote it, so when N processes wait at once one
 * sync can serve all N.  Used with HOOKLINE_SYNC=group, and with =always
 * on the filesystems where it measured no slower (gsync_worth).
 *
 * The processes holding one log file share counters in a POSIX shared
 * memory object named after the effective uid and the file's device and
 * inode, and record that device and inode in it:
 *
 *   seq     tickets: a writer takes ++seq under the log's flock, just
 *           before its write(2);
 *   done    the ticket of the last write that returned, set under the same
 *           flock: writes are serialized, so every ticket <= done is a
 *           finished write;
 *   synced  every ticket <= synced is on disk.
 *
 * A writer with ticket t is done when synced >= t.  Otherwise it takes the
 * object's flock (the sync mutex, released by the kernel if its holder
 * dies), looks again (a sync may have finished while it waited), and if
 * still uncovered becomes the leader: it reads s = done, calls fdatasync
 * and, when that succeeded, raises synced to s.  The writers that queued
 * behind it then find their tickets covered and return without an
 * fdatasync (later ones without even the flock).  Tickets, not file offsets: a
 * file truncated under us (logrotate's copytruncate) or an object left from an
 * earlier file with the same inode cannot make a new record look covered, as a
 * new ticket is above every synced value.
 *
 * Whose success counts.  Linux reports a writeback error to each open file
 * that was opened before the error was first reported (and to later ones
 * while nobody has seen it); a file opened after someone saw it gets 0
 * from fdatasync although pages were lost.  So a leader vouches only for
 * writes made after it opened the log: it raises synced only when every
 * ticket up to the one current when it set up its counters (open_seq,
 * after it had opened the log) is already synced; otherwise its success
 * counts for itself alone and the older writers sync on their own, older
 * descriptors.  A leader's failed sync also poisons the object: every
 * process holding it then syncs alone, as with HOOKLINE_SYNC=each.  Its
 * name is removed on rotation, so a new file starts afresh.
 *
 * When the object cannot be used (no room in /dev/shm, a name someone else
 * owns or made, the counters of another file) gsync_open returns NULL and
 * the caller syncs each record itself: slower, never less durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "hookline.h"
#include "gsync.h"

/* The counters are shared between processes: no lock may hide in libatomic. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

/* The layout is read by bench/benchlib.py too (seq / syncs = group size). */
struct gsync_shared {
	_Atomic uint64_t seq;
	_Atomic uint64_t synced;
	_Atomic uint64_t syncs; /* fdatasyncs made by leaders */
	_Atomic uint64_t done;
	_Atomic uint64_t dev, ino; /* the log file's, plus 1 (0: not yet set) */
	_Atomic uint32_t poisoned;
};

struct gsync {
	int fd; /* the shared object, also the sync mutex (flock) */
	struct gsync_shared *sh;
	uint64_t open_seq; /* seq at gsync_open, after the log was opened */
};

/*
 * Whether sharing syncs pays on the filesystem holding fd, for
 * HOOKLINE_SYNC=always: not on ext4, whose journal (jbd2) already merges
 * concurrent fdatasyncs into one commit, so that waiting for another
 * process's sync only adds a wake-up to each event's latency; not on
 * tmpfs, which has nothing to sync.  Everywhere else it measured faster
 * or no slower: the figures per filesystem are in docs/benchmarks.md.
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
	/* "2": the layout of struct gsync_shared.  A new layout needs a new
	 * name, or processes of two versions would misread each other. */
	snprintf(name, cap, "/hookline-gsync2-%ju-%ju-%ju",
	    (uintmax_t)geteuid(), (uintmax_t)dev, (uintmax_t)ino);
}

/* Records dev:ino in a new object, or checks that it is there already. */
static int
claim(struct gsync_shared *sh, dev_t dev, ino_t ino)
{
	uint64_t d = (uint64_t)dev + 1, i = (uint64_t)ino + 1, zero = 0;

	atomic_compare_exchange_strong(&sh->ino, &zero, i);
	zero = 0;
	atomic_compare_exchange_strong(&sh->dev, &zero, d);
	return atomic_load(&sh->ino) == i && atomic_load(&sh->dev) == d;
}

/*
 * The shared counters for the log file dev:ino, or NULL when they cannot
 * be had (the caller then syncs alone).  Called with the log's flock held,
 * after the log was opened: open_seq is read then.
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
	 * Anyone can create a name in /dev/shm, and where hard links are
	 * not protected link our object of one log under the name of
	 * another.  An object we do not own, that others may write or that
	 * has a second name could claim syncs that never happened: do
	 * without it.  Its page is allocated now (posix_fallocate): touching
	 * an unallocated page of a full tmpfs through the mapping would kill
	 * the process with SIGBUS.
	 */
	if (fstat(fd, &ost) == -1 || !S_ISREG(ost.st_mode) ||
	    ost.st_uid != geteuid() || (ost.st_mode & 077) != 0 ||
	    ost.st_nlink != 1 ||
	    posix_fallocate(fd, 0, sizeof(struct gsync_shared)) != 0) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, sizeof(struct gsync_shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	if (!claim(p, dev, ino) || (g = malloc(sizeof(*g))) == NULL) {
		munmap(p, sizeof(struct gsync_shared));
		close(fd);
		return NULL;
	}
	g->fd = fd;
	g->sh = p;
	g->open_seq = atomic_load(&g->sh->seq);
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

/* A ticket for the write about to be made, under the log's flock; 0 if g
 * is NULL. */
uint64_t
gsync_ticket(struct gsync *g)
{
	return g == NULL ? 0 : atomic_fetch_add(&g->sh->seq, 1) + 1;
}

/* The write of ticket t returned whole, still under the log's flock. */
void
gsync_written(struct gsync *g, uint64_t t)
{
	if (g != NULL)
		atomic_store(&g->sh->done, t);
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
 * Makes the record of ticket t, written to logfd by this process (the
 * write returned), durable.  0 on success, -1 with errno set when the data
 * may not be on disk.  g NULL: a plain fdatasync.
 */
int
gsync_sync(struct gsync *g, int logfd, uint64_t t)
{
	struct gsync_shared *sh = g != NULL ? g->sh : NULL;
	uint64_t s, before;
	int rc, e;

	if (sh == NULL || atomic_load(&sh->poisoned))
		return datasync(logfd);
	if (atomic_load(&sh->synced) >= t)
		return 0;
	while (flock(g->fd, LOCK_EX) == -1)
		if (errno != EINTR)
			return datasync(logfd);
	rc = 0;
	before = atomic_load(&sh->synced);
	if (atomic_load(&sh->poisoned))
		rc = datasync(logfd);
	else if (before < t) {
		s = atomic_load(&sh->done);
		atomic_fetch_add(&sh->syncs, 1);
		if ((rc = datasync(logfd)) == -1)
			atomic_store(&sh->poisoned, 1);
		else if (before >= g->open_seq)
			atomic_store(&sh->synced, s);
	}
	e = errno;
	flock(g->fd, LOCK_UN);
	errno = e;
	return rc;
}
