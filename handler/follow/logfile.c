/*
 * logfile.c: one file of hookline's log, read one complete line at a
 * time.
 *
 * A file is known by its fingerprint, the SHA-256 of its first line (at
 * most FL_FP_MAX bytes: the first record's time and id, unique), as
 * Filebeat and Vector know theirs, not by its name or inode: logrotate
 * renames files, a strftime pattern moves on to new ones, and a deleted
 * file's inode is reused.  The fingerprint is checked again at every read,
 * so a file truncated or rewritten in place (copytruncate) is noticed
 * even when it has grown back past the offset.
 *
 * Only complete lines count: a record without its final newline is still
 * being written, or was cut short by a writer that died (hookline cuts
 * such a fragment off before the next append).  Reads happen under a
 * shared flock(2), which hookline's writers respect: without it a read
 * could see the start of a fragment and the end of the record that
 * replaced it, and take the mix for one line.  Lines read are made
 * durable with fdatasync(2) before they are handed out, so that nothing
 * is acted on that a power cut could still take back, and no committed
 * offset ever points past the end of what the disk holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "follow.h"

/* At most this much is read at once, unless one line is longer. */
#define READ_MAX (4 << 20)

/* A closed file. Returns NULL when out of memory. */
struct logfile *
logfile_new(void)
{
	struct logfile *lf = calloc(1, sizeof(*lf));

	if (lf != NULL)
		lf->fd = -1;
	return lf;
}

/* Closes and frees; NULL does nothing. */
void
logfile_free(struct logfile *lf)
{
	if (lf == NULL)
		return;
	if (lf->fd != -1)
		close(lf->fd);
	free(lf->name);
	free(lf->buf);
	free(lf);
}

static int
hash(const char *p, size_t n, unsigned char out[32])
{
	unsigned int len = 0;

	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32
	    ? 0
	    : -1;
}

static ssize_t
pread_full(int fd, char *p, size_t n, off_t off)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = pread(fd, p + got, n - got, off + (off_t)got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * Whether the first line of the file at fd, which has no newline in its
 * first `from` bytes, is complete all the same: the file ends with a
 * newline, or one comes further on.  1, 0, or -1 on a read error.  A
 * torn first record (a writer that died) is not: hookline replaces it,
 * and a fingerprint of it would name a file that no longer exists.
 */
static int
first_line_complete(int fd, off_t from)
{
	char buf[65536];
	struct stat st;
	ssize_t r;

	if (fstat(fd, &st) == -1)
		return -1;
	if (st.st_size > 0 && pread_full(fd, buf, 1, st.st_size - 1) == 1 &&
	    buf[0] == '\n')
		return 1;
	for (off_t off = from; off < st.st_size; off += r) {
		if ((r = pread_full(fd, buf, sizeof(buf), off)) <= 0)
			return r == 0 ? 0 : -1;
		if (memchr(buf, '\n', (size_t)r) != NULL)
			return 1;
	}
	return 0;
}

/*
 * Identifies the file open at fd: fp gets the SHA-256 of its first line
 * (newline included, at most FL_FP_MAX bytes) and *fp_len that length,
 * received (rl bytes) the first record's time, "" when the first line is
 * not a record.  Returns 1; 0 when there is no complete first line yet,
 * or a writer holds the lock (try again later); -1 on a read error.
 */
int
logfile_identify(int fd, unsigned char *fp, size_t *fp_len, char *received,
    size_t rl)
{
	char buf[FL_FP_MAX];
	const char *nl;
	ssize_t n;
	int whole = 1;

	if (flock(fd, LOCK_SH | LOCK_NB) == -1)
		return errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	n = pread_full(fd, buf, sizeof(buf), 0);
	if (n == (ssize_t)sizeof(buf) && memchr(buf, '\n', sizeof(buf)) == NULL)
		whole = first_line_complete(fd, n);
	flock(fd, LOCK_UN);
	if (n == -1 || whole == -1)
		return -1;
	if ((nl = memchr(buf, '\n', (size_t)n)) != NULL)
		n = nl - buf + 1;
	else if (n < (ssize_t)sizeof(buf) || !whole)
		return 0;
	if (hash(buf, (size_t)n, fp) == -1)
		return -1;
	*fp_len = (size_t)n;
	line_received(buf, (size_t)n, received, rl);
	return 1;
}

/* Whether the file at lf->fd still starts with lf's first line. */
static int
same_start(const struct logfile *lf)
{
	char buf[FL_FP_MAX];
	unsigned char fp[32];

	if (pread_full(lf->fd, buf, lf->fp_len, 0) != (ssize_t)lf->fp_len ||
	    hash(buf, lf->fp_len, fp) == -1)
		return 0;
	return memcmp(fp, lf->fp, sizeof(fp)) == 0;
}

static int
grow(struct logfile *lf, size_t want)
{
	size_t cap = lf->cap ? lf->cap : 65536;
	char *p;

	while (cap < want)
		cap *= 2;
	if (cap == lf->cap)
		return 0;
	if ((p = realloc(lf->buf, cap)) == NULL)
		return -1;
	lf->buf = p;
	lf->cap = cap;
	return 0;
}

/*
 * Reads what was appended to lf since the last call, keeping the complete
 * lines.  With sync, they are made durable first (fdatasync).  Returns
 * FILL_LINES when new complete lines are waiting, FILL_NONE when there are
 * none, FILL_BUSY when a writer holds the lock (try again in a moment),
 * FILL_REPLACED when the file no longer starts with lf's first line or
 * shrank below what was read (truncated in place), FILL_ERROR with why
 * set.  A copytruncate copy that ends before what was read
 * (lf->short_copy, logset.c) is FILL_NONE until it grows past it.
 */
enum fl_fill
logfile_fill(struct logfile *lf, int sync, char *why, size_t wl)
{
	off_t end = lf->buf_off + (off_t)lf->buf_len, size, want;
	size_t keep, got = 0;
	struct stat st;
	ssize_t n;

	if (lf->fd == -1)
		return FILL_NONE;
	if (fstat(lf->fd, &st) == -1)
		goto fail;
	if (st.st_size < end)
		return lf->short_copy ? FILL_NONE : FILL_REPLACED;
	lf->short_copy = 0; /* from here on, a shrink is a truncation */
	if (st.st_size == end + lf->tail)
		return FILL_NONE;
	if (flock(lf->fd, LOCK_SH | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK || errno == EINTR)
			return FILL_BUSY;
		goto fail;
	}
	if (fstat(lf->fd, &st) == -1) {
		flock(lf->fd, LOCK_UN);
		goto fail;
	}
	size = st.st_size;
	if (size < end || !same_start(lf)) {
		flock(lf->fd, LOCK_UN);
		return FILL_REPLACED;
	}
	/* Keep only the lines not taken yet. */
	keep = (size_t)(end - lf->next);
	if (keep > 0)
		memmove(lf->buf, lf->buf + (lf->next - lf->buf_off), keep);
	lf->buf_off = lf->next;
	lf->buf_len = keep;
	for (;;) {
		want = size - end - (off_t)got;
		if (want <= 0)
			break;
		if (want > READ_MAX)
			want = READ_MAX;
		if (grow(lf, lf->buf_len + got + (size_t)want) == -1) {
			flock(lf->fd, LOCK_UN);
			snprintf(why, wl, "out of memory reading %s", lf->name);
			return FILL_ERROR;
		}
		n = pread_full(lf->fd, lf->buf + lf->buf_len + got,
		    (size_t)want, end + (off_t)got);
		if (n == -1) {
			flock(lf->fd, LOCK_UN);
			goto fail;
		}
		got += (size_t)n;
		if (n < want)
			break; /* shorter than fstat said: take what is there */
		/* Enough for now once a whole line is in. */
		if (memchr(lf->buf + lf->buf_len, '\n', got) != NULL)
			break;
	}
	flock(lf->fd, LOCK_UN);
	/* What follows the last newline is read again next time. */
	{
		char *start = lf->buf + lf->buf_len, *p = start + got;

		while (p > start && p[-1] != '\n')
			p--;
		lf->tail = (off_t)(start + got - p);
		lf->buf_len += (size_t)(p - start);
		if (p == start)
			return FILL_NONE;
	}
	if (sync && fdatasync(lf->fd) == -1)
		goto fail;
	return FILL_LINES;
fail:
	snprintf(why, wl, "cannot read %s: %s", lf->name, strerror(errno));
	return FILL_ERROR;
}

/* Whether a complete line is waiting to be taken. */
int
logfile_has_line(const struct logfile *lf)
{
	return lf->next < lf->buf_off + (off_t)lf->buf_len;
}

/*
 * Takes the next complete line: *line (valid until the next fill) and
 * *len without its newline, *start its offset in the file.  Returns 0, or
 * -1 when no complete line is waiting.
 */
int
logfile_take(struct logfile *lf, const char **line, size_t *len, off_t *start)
{
	const char *p, *nl;
	size_t left;

	if (!logfile_has_line(lf))
		return -1;
	p = lf->buf + (lf->next - lf->buf_off);
	left = (size_t)(lf->buf_off + (off_t)lf->buf_len - lf->next);
	nl = memchr(p, '\n', left); /* there is one: buf ends in '\n' */
	*line = p;
	*len = (size_t)(nl - p);
	*start = lf->next;
	lf->next += (off_t)(nl - p) + 1;
	return 0;
}
