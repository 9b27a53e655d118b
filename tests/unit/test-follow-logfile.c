/*
 * test-follow-logfile: one file of the log (logfile.c) and the set of
 * files (logset.c), on real files: only complete lines, a writer's lock
 * respected, a torn fragment replaced as hookline replaces it never read
 * as a line, truncation and in-place rewrites noticed by fingerprint,
 * candidate names, and what a scan adopts, adds and leaves alone.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow/follow.h"
#include "tap.h"

static char dir[] = "/tmp/hookline-follow-file-XXXXXX", why[FL_WHY_MAX];

#define REC(t, n) \
	"{\"received\":\"2026-11-30T" t "Z\",\"id\":\"" n \
	"\",\"remote\":null,\"signature\":null,\"event\":{\"a\":1}}\n"
#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static const char *
path_of(const char *name)
{
	static char buf[4][256];
	static int k;
	char *b = buf[k++ % 4];

	snprintf(b, 256, "%s/%s", dir, name);
	return b;
}

static void
write_file(const char *name, const char *text, int append)
{
	int fd = open(path_of(name),
	    O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);

	if (fd != -1) {
		(void)!write(fd, text, strlen(text));
		close(fd);
	}
}

/* A logfile open on name, identified. */
static struct logfile *
open_file(const char *name)
{
	struct logfile *lf = logfile_new();

	lf->name = strdup(path_of(name));
	lf->fd = open(lf->name, O_RDONLY);
	logfile_identify(lf->fd, lf->fp, &lf->fp_len, lf->received,
	    sizeof(lf->received));
	return lf;
}

/* The next line taken, as a string ("" when none). */
static const char *
next_line(struct logfile *lf)
{
	static char buf[1024];
	const char *line;
	size_t len;
	off_t start;

	if (logfile_take(lf, &line, &len, &start) == -1)
		return "";
	snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
	return buf;
}

static void
test_file(void)
{
	struct logfile *lf;
	unsigned char fp[32];
	char received[FL_RECEIVED_MAX], big[FL_FP_MAX + 10];
	size_t fp_len;
	int fd, writer;

	write_file("a", REC("10:00:00.000001", ID_A) REC("10:00:01.000000", ID_B)
	    "{\"received\":\"2026-11-30T10:00:02", 0);
	lf = open_file("a");
	ok(lf->fp_len == strlen(REC("10:00:00.000001", ID_A)) &&
	        strcmp(lf->received, "2026-11-30T10:00:00.000001Z") == 0,
	    "identified by its first line, ordered by its first record's time");
	ok(logfile_fill(lf, 1, why, sizeof(why)) == FILL_LINES, "lines read");
	ok(strstr(next_line(lf), ID_A) != NULL && strstr(next_line(lf), ID_B) != NULL,
	    "two complete lines, in order");
	ok(!logfile_has_line(lf) && *next_line(lf) == '\0' &&
	        lf->tail == (off_t)strlen("{\"received\":\"2026-11-30T10:00:02"),
	    "the record without its newline is not taken (%lld bytes wait)",
	    (long long)lf->tail);
	ok(logfile_fill(lf, 1, why, sizeof(why)) == FILL_NONE,
	    "nothing new: no line");

	/* hookline cuts a torn fragment off and appends the next record: the
	 * fragment's bytes never come out as (part of) a line. */
	fd = open(path_of("a"), O_WRONLY);
	(void)!ftruncate(fd, (off_t)(2 * strlen(REC("10:00:00.000001", ID_A))));
	close(fd);
	write_file("a", REC("10:00:03.000000", ID_C), 1);
	ok(logfile_fill(lf, 1, why, sizeof(why)) == FILL_LINES &&
	        strncmp(next_line(lf), REC("10:00:03.000000", ID_C),
	            strlen(REC("10:00:03.000000", ID_C)) - 1) == 0 &&
	        *next_line(lf) == '\0',
	    "a fragment cut off and a record appended: that record, whole, "
	    "and no more");

	/* A writer holding the lock: the reader waits its turn. */
	write_file("a", REC("10:00:04.000000", ID_A), 1);
	writer = open(path_of("a"), O_RDWR);
	flock(writer, LOCK_EX);
	ok(logfile_fill(lf, 1, why, sizeof(why)) == FILL_BUSY,
	    "a writer's exclusive lock: busy, not read");
	flock(writer, LOCK_UN);
	close(writer);
	ok(logfile_fill(lf, 1, why, sizeof(why)) == FILL_LINES &&
	        strstr(next_line(lf), "10:00:04") != NULL,
	    "read once the lock is free");

	/* Truncated and rewritten past the offset (copytruncate, then new
	 * events): the fingerprint tells. */
	write_file("a", REC("11:00:00.000000", ID_C) REC("11:00:00.000001", ID_C)
	    REC("11:00:00.000002", ID_C) REC("11:00:00.000003", ID_C)
	    REC("11:00:00.000004", ID_C), 0);
	ok(logfile_fill(lf, 1, why, sizeof(why)) == FILL_REPLACED,
	    "rewritten in place, grown past the offset: replaced");
	write_file("a", "", 0);
	ok(logfile_fill(lf, 1, why, sizeof(why)) == FILL_REPLACED,
	    "truncated below the offset: replaced");
	logfile_free(lf);

	write_file("b", "{\"received\":\"2026-11-30T12:00", 0);
	fd = open(path_of("b"), O_RDONLY);
	ok(logfile_identify(fd, fp, &fp_len, received, sizeof(received)) == 0,
	    "no complete first line: not identified yet");
	close(fd);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file("b", big, 0);
	fd = open(path_of("b"), O_RDONLY);
	ok(logfile_identify(fd, fp, &fp_len, received, sizeof(received)) == 0,
	    "a first line longer than %d bytes without its newline: not yet "
	    "(a torn record is replaced by the next writer)",
	    FL_FP_MAX);
	close(fd);
	write_file("b", "\n", 1);
	fd = open(path_of("b"), O_RDONLY);
	ok(logfile_identify(fd, fp, &fp_len, received, sizeof(received)) == 1 &&
	        fp_len == FL_FP_MAX && *received == '\0',
	    "once it has its newline, its start identifies it; not a record, "
	    "so no time");
	close(fd);
	write_file("b", "{\"received\":\"torn", 1);
	fd = open(path_of("b"), O_RDONLY);
	ok(logfile_identify(fd, fp, &fp_len, received, sizeof(received)) == 1 &&
	        fp_len == FL_FP_MAX,
	    "and with a torn record after it too");
	close(fd);
	logfile_free(NULL);
}

static void
test_set(void)
{
	struct logset *ls;
	struct logfile *lf;
	char now[256];
	time_t t = 1796047200; /* 2026-11-30T14:00:00Z */

	ok(logset_new("relative", why, sizeof(why)) == NULL,
	    "a LOG without a directory is refused (%s)", why);
	ok(logset_new("/var/log/%Y/x.jsonl", why, sizeof(why)) == NULL,
	    "a pattern in a directory is refused (%s)", why);
	ls = logset_new("/var/log/hookline/events.jsonl", why, sizeof(why));
	ok(ls != NULL && !ls->is_pattern, "a plain path");
	ok(logset_candidate(ls, "events.jsonl") &&
	        logset_candidate(ls, "events.jsonl.1") &&
	        logset_candidate(ls, "events.jsonl-20261130") &&
	        !logset_candidate(ls, "events.jsonl.2.gz") &&
	        !logset_candidate(ls, "events.jsonlx") &&
	        !logset_candidate(ls, "state"),
	    "its candidates: itself and what logrotate renames it to, "
	    "never compressed");
	logset_free(ls);
	ls = logset_new("/var/log/hookline/%Y-%m-%d_%H[1]*.jsonl", why,
	    sizeof(why));
	ok(ls != NULL && ls->is_pattern, "a strftime pattern");
	ok(logset_candidate(ls, "2026-11-30_14[1]*.jsonl") &&
	        logset_candidate(ls, "2026-11-30_14[1]x.jsonl") == 0 &&
	        !logset_candidate(ls, "2026-11-30_14[1]*.jsonl.gz"),
	    "its candidates: the names it expands to; [ and * are literal");
	logset_expand(ls, t, now, sizeof(now));
	ok(strcmp(now, "/var/log/hookline/2026-11-30_14[1]*.jsonl") == 0,
	    "expanded in UTC");
	logset_free(ls);

	/* A scan: first start, rotated file older, the file LOG names. */
	write_file("ev.jsonl.1", REC("09:00:00.000000", ID_A), 0);
	write_file("ev.jsonl", REC("10:00:00.000000", ID_B), 0);
	write_file("ev.jsonl.2.gz", "\x1f\x8b compressed", 0);
	ls = logset_new(path_of("ev.jsonl"), why, sizeof(why));
	strcpy(ls->since, "2026-11-30T13:59:45.000000Z");
	ok(logset_scan(ls, t, 1, why, sizeof(why)) == FL_OK && ls->n == 1 &&
	        strcmp(ls->files[0]->name, path_of("ev.jsonl")) == 0,
	    "first start: only the file LOG names, from its start");
	ok(logset_scan(ls, t, 0, why, sizeof(why)) == FL_OK && ls->n == 1,
	    "a second scan adds nothing");
	/* logrotate renames it; hookline makes a new one. */
	rename(path_of("ev.jsonl"), path_of("ev.jsonl.1"));
	write_file("ev.jsonl", REC("14:00:01.000000", ID_C), 0);
	ok(logset_scan(ls, t, 0, why, sizeof(why)) == FL_OK && ls->n == 2 &&
	        strcmp(ls->files[0]->name, path_of("ev.jsonl.1")) == 0 &&
	        strcmp(ls->files[1]->name, path_of("ev.jsonl")) == 0,
	    "after a rename: the same file under its new name, then the new");
	/* What a restart sees: positions by fingerprint, nothing open. */
	lf = logfile_new();
	memcpy(lf, ls->files[0], sizeof(*lf));
	lf->fd = -1;
	lf->name = strdup("/gone/name");
	lf->buf = NULL;
	lf->cap = lf->buf_len = 0;
	lf->next = lf->committed = 5;
	logset_free(ls);
	ls = logset_new(path_of("ev.jsonl"), why, sizeof(why));
	strcpy(ls->since, "2026-11-30T14:00:01.000000Z");
	logset_add(ls, lf);
	rename(path_of("ev.jsonl.1"), path_of("ev.jsonl-20261130"));
	ok(logset_scan(ls, t, 0, why, sizeof(why)) == FL_OK && ls->n == 2 &&
	        ls->files[0] == lf && lf->fd != -1 && lf->next == 5 &&
	        strcmp(lf->name, path_of("ev.jsonl-20261130")) == 0,
	    "a restart finds a renamed file by its first line, at its offset");
	ok(strcmp(ls->files[1]->received, "2026-11-30T14:00:01.000000Z") == 0,
	    "and the newer file, not older than since");
	logset_free(ls);
}

int
main(void)
{
	char cmd[256];

	ok(mkdtemp(dir) != NULL, "temporary directory");
	test_file();
	test_set();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	return tap_done();
}
