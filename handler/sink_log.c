/*
 * sink_log.c: appends records to the event log (docs/design.md, "Durability").
 *
 * Many processes (a FastCGI pool, CGI children, two web servers) append to
 * one file.  Each record goes out in one write(2) under an exclusive
 * flock(2), so records never interleave.  Under the same lock:
 *
 *  - the path is compared with the open file: when logrotate moved it away
 *    (or someone deleted it) the new file at the path is opened, so nothing
 *    is written into a file that is about to be compressed;
 *  - a last byte other than '\n' means a writer died in the middle of a
 *    record (kill -9 can cut a large write short).  That record was never
 *    acknowledged, so the fragment is cut off rather than left to corrupt
 *    the line that follows; only a fragment that starts like a record is
 *    cut, any other last line is ended with a newline (repair_tail);
 *  - the lock is waited for at most LOCK_WAIT_MS: anyone who may read the
 *    log can take a shared flock on it, and must not stall every worker;
 *  - a short write (disk full) is undone with ftruncate, so a failed
 *    append leaves no torn line either.
 *
 * The fdatasync(2) that makes a record durable runs after the lock is
 * released, so other writers are not held up by the disk, and is shared
 * with the other processes appending to the same file (gsync.c).  New files are
 * created 0640, and every process that opens the log syncs its directory
 * so that the name is durable before that process acknowledges anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "hookline.h"
#include "gsync.h"

/* The longest wait for the log's lock before answering 503. */
#define LOCK_WAIT_MS 10000

struct sink_log {
	int fd; /* -1 when no file is open */
	char *path; /* owned: the path fd was opened from */
	int dir_synced; /* the name of path is known durable */
	dev_t dev; /* the open file's identity, to notice rotation */
	ino_t ino;
	off_t end; /* where our last record ended, -1 if unknown */
	struct gsync *gs; /* shared syncs, NULL if none (yet) */
	int gs_tried; /* gsync_open was called for this file */
	int worth; /* gsync_worth() of this file, -1 until asked */
	int shared; /* the last record's sync is shared (group commit) */
	char *pattern; /* owned: HOOKLINE_LOG of the open file */
	uint64_t ticket; /* gsync ticket of our last record */
};

/* A closed log. Returns NULL when out of memory. */
struct sink_log *
sink_log_new(void)
{
	struct sink_log *s = calloc(1, sizeof(*s));

	if (s != NULL) {
		s->fd = -1;
		s->worth = -1;
	}
	return s;
}

static void
log_close(struct sink_log *s)
{
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	s->dir_synced = 0;
	gsync_close(s->gs);
	s->gs = NULL;
	s->gs_tried = 0;
	s->worth = -1;
	s->end = -1;
	free(s->path);
	s->path = NULL;
}

/* Closes the file; NULL does nothing. */
void
sink_log_free(struct sink_log *s)
{
	if (s == NULL)
		return;
	log_close(s);
	free(s->pattern);
	free(s);
}

/*
 * Makes the name of the file at path durable: fsyncs the directory that
 * holds it, where symbolic links lead (path itself otherwise).
 */
static int
sync_dir(const char *path)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash;
	size_t n;
	int fd, rc;

	if (realpath(path, real) != NULL)
		path = real;
	slash = strrchr(path, '/');
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof(dir))
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static enum hl_err
log_open(struct sink_log *s, const char *path, struct hl_why *why)
{
	/* Read access too: the torn-record check reads the last byte. */
	const int flags = O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY;
	struct stat st;
	int fd, created = 0;

	log_close(s);
	for (int tries = 0; tries < 8; tries++) {
		if ((fd = open(path, flags)) != -1 || errno != ENOENT)
			break;
		if ((fd = open(path, flags | O_CREAT | O_EXCL, 0640)) != -1) {
			created = 1;
			break;
		}
		/* ENOENT, then EEXIST: another process created the file an
		 * instant ago (try again), or path is a symbolic link to
		 * nothing, which O_EXCL never follows (give up). */
		if (errno != EEXIST ||
		    (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)))
			break;
	}
	if (fd == -1 && errno == EEXIST) {
		why_set(why,
		    "cannot open log %s: a symbolic link to a missing file",
		    path);
		return HL_ESTORE;
	}
	if (fd == -1) {
		why_set(why, "cannot open log %s: %s", path, strerror(errno));
		return errno == EISDIR ? HL_ECONFIG : HL_ESTORE;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		why_set(why, "HOOKLINE_LOG: %s is not a regular file", path);
		close(fd);
		return HL_ECONFIG;
	}
	/* 0640 whatever the umask: the web server's group reads the log. */
	if (created && fchmod(fd, 0640) == -1) {
		why_set(why, "cannot set up log %s: %s", path, strerror(errno));
		close(fd);
		return HL_ESTORE;
	}
	if ((s->path = strdup(path)) == NULL) {
		why_set(why, "out of memory");
		close(fd);
		return HL_EINTERNAL;
	}
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->end = -1;
	return HL_OK;
}

/*
 * Repairs a file that does not end in '\n' (it is *size bytes long; *size
 * gets the new length).  When its last line is the start of a record, a
 * writer died in the middle of one (kill -9 can cut a large write short):
 * that record was never acknowledged, and is cut off.  Any other last line
 * is not hookline's to remove (HOOKLINE_LOG names a file that held
 * something else): it is ended with a newline instead, and nothing is
 * lost.  The caller holds the lock.
 */
static int
repair_tail(struct sink_log *s, off_t *size, struct hl_why *note)
{
	char buf[4096];
	off_t end = *size, start;
	size_t k;
	ssize_t n;

	while (end > 0) {
		start = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
		if ((n = pread(s->fd, buf, (size_t)(end - start), start)) <= 0)
			return -1;
		for (ssize_t i = n - 1; i >= 0; i--)
			if (buf[i] == '\n') {
				end = start + i + 1;
				goto found;
			}
		end = start;
	}
found:
	k = *size - end < (off_t)strlen(RECORD_PREFIX) ? (size_t)(*size - end)
	                                               : strlen(RECORD_PREFIX);
	if ((n = pread(s->fd, buf, k, end)) != (ssize_t)k)
		return -1;
	if (memcmp(buf, RECORD_PREFIX, k) != 0) {
		why_set(note,
		    "%s ended in a line that hookline did not write; a newline was added after it",
		    s->path);
		if (write(s->fd, "\n", 1) != 1)
			return -1;
		*size += 1;
		return 0;
	}
	why_set(note,
	    "cut %lld bytes of a torn record (a writer died mid-write) off the end of %s",
	    (long long)(*size - end), s->path);
	*size = end;
	return ftruncate(s->fd, end);
}

/*
 * Appends rec under the lock.  Returns HL_OK, or HL_ESTORE with req->why
 * set; *rotated is set instead when the file at the path is no longer the
 * open one, and the caller must reopen and try again.
 */
static enum hl_err
append_locked(struct sink_log *s, struct hl_request *req,
    const struct hl_buf *rec, int *rotated)
{
	enum hl_sync sync = req->cfg->sync;
	struct hl_why *why = &req->why;
	struct stat st;
	off_t size;
	ssize_t n;
	char last;

	/* One stat of the path tells both whether the file was rotated away
	 * (no file there, or another one) and how long it is. */
	if (stat(s->path, &st) == -1 || st.st_dev != s->dev ||
	    st.st_ino != s->ino) {
		*rotated = 1;
		return HL_OK;
	}
	size = st.st_size;
	/* Where our own last record ended, the file ends in '\n'. */
	if (size > 0 && size != s->end &&
	    (pread(s->fd, &last, 1, size - 1) != 1 ||
	        (last != '\n' && repair_tail(s, &size, &req->note) == -1))) {
		why_set(why, "cannot check the end of log %s: %s", s->path,
		    strerror(errno));
		return HL_ESTORE;
	}
	/*
	 * Group commit, decided per request (locations may differ): the
	 * counters are set up, and the ticket taken, under this lock and
	 * after the file was opened (gsync.c says why).
	 */
	if (sync == HL_SYNC_ALWAYS && s->worth == -1)
		s->worth = gsync_worth(s->fd);
	s->shared =
	    sync == HL_SYNC_GROUP || (sync == HL_SYNC_ALWAYS && s->worth);
	if (s->shared && !s->gs_tried) {
		s->gs = gsync_open(s->dev, s->ino);
		s->gs_tried = 1;
	}
	s->ticket = gsync_ticket(s->gs);
	do
		n = write(s->fd, rec->p, rec->len);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)rec->len) {
		s->end = size + (off_t)rec->len;
		gsync_written(s->gs, s->ticket);
		return HL_OK;
	}
	if (n >= 0)
		errno = ENOSPC;
	why_set(why, "cannot write to log %s: %s", s->path, strerror(errno));
	/* Leave no partial record behind; if this fails, the next append
	 * cuts it. */
	(void)!ftruncate(s->fd, size);
	s->end = -1;
	return HL_ESTORE;
}

/*
 * Takes the exclusive lock on the open file, waiting at most LOCK_WAIT_MS
 * for it: hookline's own writers hold it for one write(2), so a longer
 * wait means someone else (a reader's shared flock) holds it.  Returns
 * HL_OK, or HL_ESTORE with why set.
 */
static enum hl_err
lock(struct sink_log *s, struct hl_why *why)
{
	int r, err;

	if (flock(s->fd, LOCK_EX | LOCK_NB) == 0)
		return HL_OK;
	if (errno == EWOULDBLOCK) {
		if (deadline_arm(LOCK_WAIT_MS) == -1)
			goto fail;
		while ((r = flock(s->fd, LOCK_EX)) == -1 && errno == EINTR &&
		    !deadline_passed())
			;
		err = errno;
		deadline_disarm();
		if (r == 0)
			return HL_OK;
		errno = err;
		if (deadline_passed()) {
			why_set(why,
			    "log %s stayed locked by another process for %d s (a reader holding flock on it?)",
			    s->path, LOCK_WAIT_MS / 1000);
			return HL_ESTORE;
		}
	}
fail:
	why_set(why, "cannot lock log %s: %s", s->path, strerror(errno));
	return HL_ESTORE;
}

/*
 * The path of the log for a record received at *when: pattern expanded
 * with strftime(3) in UTC into buf (PATH_MAX bytes), or pattern itself.
 * Returns NULL with why set when it expands to nothing.
 */
static const char *
log_path(const char *pattern, const struct timespec *when, char *buf,
    struct hl_why *why)
{
	struct tm tm;
	size_t n;

	if (strchr(pattern, '%') == NULL)
		return pattern;
	gmtime_r(&when->tv_sec, &tm);
	/* The pattern is the administrator's, as strftime(3) intends. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = strftime(buf, PATH_MAX, pattern, &tm);
#pragma GCC diagnostic pop
	if (n == 0) {
		why_set(why,
		    "HOOKLINE_LOG: pattern %.200s expands to nothing or too long a path",
		    pattern);
		return NULL;
	}
	return buf;
}

/*
 * Opens path unless it is the open file, and remembers the pattern it
 * came from: a strftime pattern that moved on to a new file means nobody
 * writes the old one any more (another location's log is no reason).
 */
static enum hl_err
log_switch(struct sink_log *s, const char *pattern, const char *path,
    struct hl_why *why)
{
	enum hl_err rc;

	if (s->fd != -1 && strcmp(s->path, path) == 0)
		return HL_OK;
	if (s->gs != NULL && s->pattern != NULL &&
	    strcmp(s->pattern, pattern) == 0)
		gsync_forget(s->dev, s->ino);
	if ((rc = log_open(s, path, why)) != HL_OK)
		return rc;
	/* Only to tell a new period from another location: without it (no
	 * memory) nothing is forgotten. */
	if (s->pattern == NULL || strcmp(s->pattern, pattern) != 0) {
		free(s->pattern);
		s->pattern = strdup(pattern);
	}
	return HL_OK;
}

/*
 * Makes the appended record durable.  The directory is synced by every
 * process that opens the file, not only by the one that created it:
 * another process may open a file created an instant ago and acknowledge
 * an event before the creator made the new name durable.  Once per process
 * and file, not per event.
 */
static enum hl_err
log_sync(struct sink_log *s, const char *path, struct hl_why *why)
{
	if ((!s->dir_synced && sync_dir(path) == -1) ||
	    gsync_sync(s->shared ? s->gs : NULL, s->fd, s->ticket) == -1) {
		why_set(why, "cannot sync log %s: %s", path, strerror(errno));
		/* The record may or may not be on disk: a retry is safe. */
		log_close(s);
		return HL_ESTORE;
	}
	s->dir_synced = 1;
	return HL_OK;
}

/*
 * Appends rec (one whole line) to req's log, HOOKLINE_LOG expanded at the
 * time the event was received.  With HOOKLINE_SYNC other than none the
 * record is on disk when HL_OK is returned.  Otherwise returns HL_ESTORE
 * (or HL_ECONFIG) with req->why set, and the log holds no part of rec.
 * A repair on the way (a torn record cut off) is told in req->note.
 */
enum hl_err
sink_log_append(struct sink_log *s, struct hl_request *req,
    const struct hl_buf *rec)
{
	char buf[PATH_MAX];
	const char *pattern = req->cfg->log, *path;
	enum hl_err rc = HL_OK;
	int rotated = 1;

	if ((path = log_path(pattern, &req->received, buf, &req->why)) == NULL)
		return HL_ECONFIG;
	/* A few tries: each retry means the file was just rotated away. */
	for (int tries = 0; tries < 4 && rotated; tries++) {
		rotated = 0;
		if ((rc = log_switch(s, pattern, path, &req->why)) != HL_OK ||
		    (rc = lock(s, &req->why)) != HL_OK)
			return rc;
		rc = append_locked(s, req, rec, &rotated);
		flock(s->fd, LOCK_UN);
		if (!rotated)
			break;
		/* Rotated away: nobody will open that file by its path again. */
		if (s->gs != NULL)
			gsync_forget(s->dev, s->ino);
		log_close(s);
	}
	if (rotated) {
		why_set(&req->why, "log %s keeps changing under us", path);
		return HL_ESTORE;
	}
	if (rc != HL_OK || req->cfg->sync == HL_SYNC_NONE)
		return rc;
	return log_sync(s, path, &req->why);
}
