/*
 * dead.c: DIR/deadletter.jsonl, where an event goes whose command failed
 * for good (any exit status but 0 and 75), so that following can go on
 * and nothing is lost.  One JSON line each, appended and made durable
 * before the position moves past the event:
 *
 *   {"failed":"2026-11-30T10:00:00.123456Z","exit":3,"record":<log line>}
 *
 * The log line is embedded as it stands (it is a JSON object), so the
 * event can be fed back as is.  A line of the log that is not one of
 * hookline's records goes there too, as a string, with the reason:
 *
 *   {"failed":"...","error":"not a hookline record","line":"..."}
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "follow.h"

/* The current time as hookline writes "received" (UTC, microseconds). */
void
time_format(char *out, size_t ol)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, ol, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (long)(ts.tv_nsec / 1000));
}

/* Appends text as a JSON string to f. */
static void
put_string(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/*
 * Appends the line (len bytes, no newline) to DIR/deadletter.jsonl,
 * durably: with its command's exit status code, or, when code is -1, as
 * a line that is not a record, for the reason error.  Returns FL_OK, or
 * FL_ESTATE with why set (the file is left as it was).
 */
enum fl_err
dead_append(const char *dir, const char *line, size_t len, int code,
    const char *error, char *why, size_t wl)
{
	char path[PATH_MAX], now[FL_RECEIVED_MAX], *rec = NULL;
	size_t rlen = 0, off = 0;
	struct stat st;
	int fd, created;
	FILE *f;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/deadletter.jsonl", dir);
	time_format(now, sizeof(now));
	if ((f = open_memstream(&rec, &rlen)) == NULL)
		goto nomem;
	fprintf(f, "{\"failed\":\"%s\",", now);
	if (code >= 0) {
		fprintf(f, "\"exit\":%d,\"record\":", code);
		fwrite(line, 1, len, f);
	} else {
		fputs("\"error\":", f);
		put_string(f, error, strlen(error));
		fputs(",\"line\":", f);
		put_string(f, line, len);
	}
	fputs("}\n", f);
	if (ferror(f) | fclose(f)) {
		free(rec);
		goto nomem;
	}
	created = stat(path, &st) == -1;
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	         0600)) == -1)
		goto fail;
	if (fstat(fd, &st) == -1) {
		close(fd);
		goto fail;
	}
	while (off < rlen) {
		if ((n = write(fd, rec + off, rlen - off)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n == 0 ? ENOSPC : errno;

			/* No half line left behind. */
			(void)!ftruncate(fd, st.st_size);
			close(fd);
			errno = err;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fdatasync(fd) == -1) {
		close(fd);
		goto fail;
	}
	close(fd);
	if (created && state_sync_dir(dir) == -1)
		goto fail;
	free(rec);
	return FL_OK;
fail:
	snprintf(why, wl, "cannot write the dead-letter file %s: %s", path,
	    strerror(errno));
	free(rec);
	return FL_ESTATE;
nomem:
	snprintf(why, wl, "out of memory");
	return FL_ENOMEM;
}
