/*
 * io.c: the transport under one request.  FastCGI goes through libfcgi's
 * FCGX streams; CGI uses the process environment and fds 0, 1 and 2.
 * Everything above this file is the same code for both modes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "hookline.h"

/* The value of request parameter name, or NULL. Borrowed from the request. */
const char *
io_param(const struct hl_io *io, const char *name)
{
	return io->params == NULL ? NULL : FCGX_GetParam(name, io->params);
}

/*
 * Reads up to n bytes of the request body; fewer only at its end.
 * Returns the count read, or -1 on a transport error.
 */
long
io_read(struct hl_io *io, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	if (io->fcgx != NULL) {
		while (got < n) {
			size_t want = n - got > 1 << 30 ? 1 << 30 : n - got;
			int k = FCGX_GetStr(buf + got, (int)want, io->fcgx->in);

			if (k <= 0)
				break;
			got += (size_t)k;
		}
		if (got < n && FCGX_GetError(io->fcgx->in) != 0)
			return -1;
		return (long)got;
	}
	while (got < n) {
		r = read(STDIN_FILENO, buf + got, n - got);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return (long)got;
}

/* Writes all of buf to the web server.  Returns 0, or -1 on error. */
int
io_write(struct hl_io *io, const char *buf, size_t n)
{
	ssize_t r;

	if (io->fcgx != NULL) {
		if (FCGX_PutStr(buf, (int)n, io->fcgx->out) != (int)n)
			return -1;
		return FCGX_FFlush(io->fcgx->out) == 0 ? 0 : -1;
	}
	while (n > 0) {
		r = write(STDOUT_FILENO, buf, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * One line in the web server's error log: FastCGI's stderr stream, which
 * every server copies to its error log, or CGI's stderr.  When the stream
 * is gone (the server dropped the connection: a client that went away) the
 * line goes to the process's stderr instead, which FastCGI servers point
 * at their error log too.  The line starts with "hookline[pid]: " so that
 * it can be grepped for.
 */
void
io_log(struct hl_io *io, const char *fmt, ...)
{
	char line[1024];
	int n, k;
	va_list ap;

	n = snprintf(line, sizeof(line), "hookline[%ld]: ", (long)getpid());
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (k < 0)
		k = 0;
	n += k;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (io != NULL && io->fcgx != NULL &&
	    FCGX_PutStr(line, n, io->fcgx->err) == n &&
	    FCGX_FFlush(io->fcgx->err) == 0)
		return;
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
