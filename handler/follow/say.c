/*
 * say.c: hookline-follow's messages, one line each on standard error
 * (the journal under systemd), with a prefix to grep for:
 *
 *   hookline-follow[4711]: event 8c96...: /usr/local/bin/deploy exited 3;
 *       written to /var/lib/hookline-follow/deploy/deadletter.jsonl
 *
 * Each line goes out in one write(2), so that the lines of the commands,
 * which share standard error, do not cut into it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "follow.h"

/* Writes one line: the prefix, the formatted message, a newline. */
void
say(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n, k;

	n = snprintf(line, sizeof(line),
	    "hookline-follow[%ld]: ", (long)getpid());
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	n += k;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
