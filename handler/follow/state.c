/*
 * state.c: the committed position, in DIR/state, and the lock that keeps
 * a second hookline-follow out of DIR.
 *
 * The file is text, one item per line, read back strictly:
 *
 *   hookline-follow-state 1
 *   log /var/log/hookline/events.jsonl
 *   since 2026-11-30T00:00:00.000000Z
 *   file <received> <offset> <fp length> <fp hex> <dev> <ino> <name>
 *   seen <next seq> <seq synced to DIR/seen>
 *   id <seq> <event id> <seconds>
 *   end
 *
 * ("-" stands for an empty time.)  A commit writes DIR/state.tmp, fsyncs
 * it, renames it over DIR/state and fsyncs DIR: after a crash or a power
 * cut at any moment DIR/state is the old version or the new one, whole
 * (tests/robust/follow_powerloss.py checks the order on traces).  The
 * name of a file is only for messages; its fingerprint finds it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow.h"

#define MAGIC "hookline-follow-state 1"
/* A state file larger than this is not one we wrote. */
#define STATE_MAX (16 << 20)

/* Frees what st holds; st is left empty. */
void
state_clear(struct fl_state *st)
{
	for (size_t i = 0; i < st->nfiles; i++)
		free(st->files[i].name);
	free(st->files);
	free(st->ids);
	free(st->log);
	memset(st, 0, sizeof(*st));
}

static void
time_in(char *out, const char *s)
{
	snprintf(out, FL_RECEIVED_MAX, "%s", strcmp(s, "-") == 0 ? "" : s);
}

/* Parses one "file ..." line (after the keyword) into p. */
static int
parse_file(char *s, struct fl_pos *p)
{
	char received[FL_RECEIVED_MAX], fp[65];
	unsigned long long off, dev, ino;
	size_t fplen;
	int used = 0;

	if (sscanf(s, "%39s %llu %zu %64s %llu %llu %n", received, &off, &fplen,
	        fp, &dev, &ino, &used) != 6 ||
	    used == 0 || fplen == 0 || fplen > FL_FP_MAX || off > INT64_MAX ||
	    strlen(fp) != 2 * sizeof(p->fp) ||
	    hex_decode(fp, p->fp, sizeof(p->fp)) == -1)
		return -1;
	time_in(p->received, received);
	p->offset = (off_t)off;
	p->fp_len = fplen;
	p->dev = (dev_t)dev;
	p->ino = (ino_t)ino;
	return (p->name = strdup(s + used)) == NULL ? -1 : 0;
}

static int
parse_id(const char *s, struct fl_seen_id *id)
{
	long long when;
	uint64_t seq;
	int used = 0;

	if (sscanf(s, "%" SCNu64 " %64s %lld%n", &seq, id->id, &when, &used) !=
	        3 ||
	    s[used] != '\0' || strlen(id->id) != 64)
		return -1;
	id->seq = seq;
	id->when = when;
	return 0;
}

/* Appends one element of size sz to *arr (n of them). */
static int
push(void *arr, size_t *n, size_t sz)
{
	void **a = arr, *p = realloc(*a, (*n + 1) * sz);

	if (p == NULL)
		return -1;
	*a = p;
	memset((char *)p + *n * sz, 0, sz);
	(*n)++;
	return 0;
}

static enum fl_err
parse(char *text, struct fl_state *st, const char *path, char *why, size_t wl)
{
	char *line, *save = NULL;
	int n = 0, ended = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *arg = strchr(line, ' ');

		n++;
		if (ended)
			goto bad;
		if (n == 1) {
			if (strcmp(line, MAGIC) != 0)
				goto bad;
			continue;
		}
		if (strcmp(line, "end") == 0) {
			ended = 1;
			continue;
		}
		if (arg == NULL)
			goto bad;
		*arg++ = '\0';
		if (strcmp(line, "log") == 0 && st->log == NULL) {
			if ((st->log = strdup(arg)) == NULL)
				goto nomem;
		} else if (strcmp(line, "since") == 0) {
			if (strlen(arg) >= FL_RECEIVED_MAX)
				goto bad;
			time_in(st->since, arg);
		} else if (strcmp(line, "file") == 0) {
			if (push(&st->files, &st->nfiles, sizeof(*st->files)) ==
			    -1)
				goto nomem;
			if (parse_file(arg, &st->files[st->nfiles - 1]) == -1)
				goto bad;
		} else if (strcmp(line, "seen") == 0) {
			if (sscanf(arg, "%" SCNu64 " %" SCNu64, &st->seen_next,
			        &st->seen_synced) != 2 ||
			    st->seen_synced > st->seen_next)
				goto bad;
		} else if (strcmp(line, "id") == 0) {
			if (push(&st->ids, &st->nids, sizeof(*st->ids)) == -1)
				goto nomem;
			if (parse_id(arg, &st->ids[st->nids - 1]) == -1)
				goto bad;
		} else
			goto bad;
	}
	if (!ended || st->log == NULL)
		goto bad;
	return FL_OK;
bad:
	snprintf(why, wl,
	    "%s is damaged (line %d): move it away to start "
	    "over at the file LOG names now",
	    path, n);
	return FL_ESTATE;
nomem:
	snprintf(why, wl, "out of memory");
	return FL_ENOMEM;
}

/*
 * Reads DIR/state into st (emptied first).  A missing file is a first
 * start: FL_OK with st->exists 0.  Returns FL_ESTATE with why set when it
 * cannot be read or is damaged, FL_ENOMEM.
 */
enum fl_err
state_load(const char *dir, struct fl_state *st, char *why, size_t wl)
{
	char path[PATH_MAX], *text = NULL;
	enum fl_err rc = FL_ESTATE;
	struct stat sb;
	size_t got = 0;
	ssize_t n;
	int fd;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/state", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return FL_OK;
		snprintf(why, wl, "cannot open %s: %s", path, strerror(errno));
		return FL_ESTATE;
	}
	if (fstat(fd, &sb) == -1 || sb.st_size > STATE_MAX) {
		snprintf(why, wl, "cannot read %s: %s", path,
		    sb.st_size > STATE_MAX ? "too large" : strerror(errno));
		goto done;
	}
	if ((text = malloc((size_t)sb.st_size + 1)) == NULL) {
		snprintf(why, wl, "out of memory");
		rc = FL_ENOMEM;
		goto done;
	}
	while (got < (size_t)sb.st_size &&
	    (n = read(fd, text + got, (size_t)sb.st_size - got)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, wl, "cannot read %s: %s", path,
			    strerror(errno));
			goto done;
		}
		got += (size_t)n;
	}
	text[got] = '\0';
	st->exists = 1;
	if ((rc = parse(text, st, path, why, wl)) != FL_OK)
		state_clear(st);
done:
	free(text);
	close(fd);
	return rc;
}

static void
time_out(FILE *f, const char *t)
{
	fputs(*t != '\0' ? t : "-", f);
}

/* The file's text: st as the header of this file shows it. */
static char *
format(const struct fl_state *st, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (f == NULL)
		return NULL;
	fprintf(f, MAGIC "\nlog %s\nsince ", st->log);
	time_out(f, st->since);
	fputc('\n', f);
	for (size_t i = 0; i < st->nfiles; i++) {
		const struct fl_pos *p = &st->files[i];

		fputs("file ", f);
		time_out(f, p->received);
		fprintf(f, " %lld %zu ", (long long)p->offset, p->fp_len);
		for (size_t k = 0; k < sizeof(p->fp); k++)
			fprintf(f, "%02x", p->fp[k]);
		fprintf(f, " %llu %llu ", (unsigned long long)p->dev,
		    (unsigned long long)p->ino);
		/* Only for messages: a newline must not end the line. */
		for (const char *c = p->name; *c != '\0'; c++)
			fputc(*c == '\n' ? '?' : *c, f);
		fputc('\n', f);
	}
	fprintf(f, "seen %" PRIu64 " %" PRIu64 "\n", st->seen_next,
	    st->seen_synced);
	for (size_t i = 0; i < st->nids; i++)
		fprintf(f, "id %" PRIu64 " %s %lld\n", st->ids[i].seq,
		    st->ids[i].id, (long long)st->ids[i].when);
	fputs("end\n", f);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* fsyncs the directory dir, so that a name made or renamed in it is
 * durable.  Returns 0, or -1 with errno set. */
int
state_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * Commits st to DIR/state durably: temporary file, fsync, rename, fsync
 * of DIR.  Returns FL_OK, or FL_ESTATE with why set (the old state stays
 * in place: nothing is skipped), FL_ENOMEM.
 */
enum fl_err
state_save(const char *dir, const struct fl_state *st, char *why, size_t wl)
{
	char tmp[PATH_MAX], path[PATH_MAX], *text;
	const char *step = "write", *obj = tmp;
	size_t len, off = 0;
	ssize_t n;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/state.tmp", dir);
	snprintf(path, sizeof(path), "%s/state", dir);
	if ((text = format(st, &len)) == NULL) {
		snprintf(why, wl, "out of memory");
		return FL_ENOMEM;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1)
		goto fail;
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			close(fd);
			goto fail;
		}
		off += (size_t)n;
	}
	step = "sync";
	if (fsync(fd) == -1) {
		close(fd);
		goto fail;
	}
	if (close(fd) == -1)
		goto fail;
	step = "rename it to";
	obj = path;
	if (rename(tmp, path) == -1)
		goto fail;
	step = "sync the directory";
	obj = dir;
	if (state_sync_dir(dir) == -1)
		goto fail;
	free(text);
	return FL_OK;
fail:
	snprintf(why, wl, "cannot commit the position: cannot %s %s: %s", step,
	    obj, strerror(errno));
	free(text);
	return FL_ESTATE;
}

/*
 * Makes DIR (not its parents; mode 0700) if it is missing and takes its
 * lock, DIR/lock, for as long as this process lives.  A POSIX record
 * lock, not flock(2): it belongs to the process, so a command spawned an
 * instant before hookline-follow was killed (and not yet past its exec)
 * does not hold it on.  Returns FL_OK, FL_EBUSY when another
 * hookline-follow holds it, FL_ESTATE, each with why set.
 */
enum fl_err
state_lock(const char *dir, int *fd, char *why, size_t wl)
{
	struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char path[PATH_MAX];
	struct stat sb;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(why, wl, "cannot make the state directory %s: %s", dir,
		    strerror(errno));
		return FL_ESTATE;
	}
	if (stat(dir, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		snprintf(why, wl, "the state directory %s is no directory",
		    dir);
		return FL_ESTATE;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/lock", dir) >=
	    sizeof(path) - 16) {
		snprintf(why, wl, "the state directory's path is too long");
		return FL_ESTATE;
	}
	if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		snprintf(why, wl, "cannot open %s: %s", path, strerror(errno));
		return FL_ESTATE;
	}
	if (fcntl(*fd, F_SETLK, &lk) == -1) {
		int busy = errno == EACCES || errno == EAGAIN;

		if (busy)
			snprintf(why, wl, "another hookline-follow uses %s",
			    dir);
		else
			snprintf(why, wl, "cannot lock %s: %s", dir,
			    strerror(errno));
		close(*fd);
		*fd = -1;
		return busy ? FL_EBUSY : FL_ESTATE;
	}
	return FL_OK;
}
