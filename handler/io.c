/*
 * io.c: the transport under one request.  FastCGI goes through libfcgi's
 * FCGX streams; CGI uses the process environment and fds 0, 1 and 2.
 * Everything above this file is the same code for both modes.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <openssl/crypto.h>

#include "hookline.h"

/* How long an abandoned FastCGI connection may still be read from. */
#define FINISH_GRACE_MS 2000

/*
 * CGI: bytes of the body read from standard input so far.  A CGI process
 * serves exactly one request, so one counter per process is that request's.
 */
static unsigned long long cgi_body_read;

/*
 * The declared length of the body: IO_LENGTH_NONE when CONTENT_LENGTH is
 * missing or empty, IO_LENGTH_BAD when it is not a plain decimal number,
 * else IO_LENGTH_OK with *len set.
 */
enum io_length
io_content_length(const struct hl_io *io, unsigned long long *len)
{
	const char *cl = io_param(io, "CONTENT_LENGTH");
	char *end;

	if (cl == NULL || *cl == '\0')
		return IO_LENGTH_NONE;
	if (*cl < '0' || *cl > '9')
		return IO_LENGTH_BAD;
	errno = 0;
	*len = strtoull(cl, &end, 10);
	return *end != '\0' || errno != 0 ? IO_LENGTH_BAD : IO_LENGTH_OK;
}

/* The value of request parameter name, or NULL. Borrowed from the request. */
const char *
io_param(const struct hl_io *io, const char *name)
{
	return io->params == NULL ? NULL : FCGX_GetParam(name, io->params);
}

/*
 * FastCGI: after the read deadline, the rest of the body is not wanted,
 * and the connection's record stream is out of step: it is closed after
 * the answer (io_finish).
 */
static void
abandon_input(struct hl_io *io)
{
	io->fcgx->keepConnection = 0;
	io->abandoned = 1;
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
		if (got < n && FCGX_GetError(io->fcgx->in) != 0) {
			if (deadline_passed())
				abandon_input(io);
			return -1;
		}
		return (long)got;
	}
	while (got < n) {
		r = read(STDIN_FILENO, buf + got, n - got);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR && !deadline_passed())
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	cgi_body_read += got;
	return (long)got;
}

/*
 * CGI: reads and drops whatever is left of the body, so that the answer
 * reaches the client.  Refusals (413, 411, 405, 500) are decided before
 * the body is read, and a script that exits with its input unread makes
 * the Unix socket of Apache's mod_cgid report a reset: Apache then drops
 * the connection instead of sending the answer.  (libfcgi does the same
 * for FastCGI when it closes a connection.)  A declared body is read to
 * CONTENT_LENGTH and never past it, where the server need not signal an
 * end.  A chunked body comes without CONTENT_LENGTH but with
 * HTTP_TRANSFER_ENCODING, and the server ends the input after it (Apache
 * does): it is read to that end.  Stops early at end of input or on an
 * error.  The web server has accepted every byte of the body already, so
 * reading it costs no more than it did.
 */
static void
cgi_drain(const struct hl_io *io)
{
	unsigned long long len = ULLONG_MAX;
	char buf[16384];
	size_t want;
	ssize_t r;

	/* A client too slow to send the body is not waited for twice. */
	if (deadline_passed())
		return;
	switch (io_content_length(io, &len)) {
	case IO_LENGTH_NONE:
		if (io_param(io, "HTTP_TRANSFER_ENCODING") == NULL)
			return;
		len = ULLONG_MAX;
		break;
	case IO_LENGTH_BAD:
		return;
	case IO_LENGTH_OK:
		break;
	}
	while (cgi_body_read < len) {
		want = len - cgi_body_read > sizeof(buf)
		    ? sizeof(buf)
		    : (size_t)(len - cgi_body_read);
		r = read(STDIN_FILENO, buf, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		cgi_body_read += (size_t)r;
	}
}

/*
 * Writes all of buf to the web server.  In CGI mode what is left of the
 * body is read and dropped first (see cgi_drain).  Returns 0, or -1 on
 * error.
 */
int
io_write(struct hl_io *io, const char *buf, size_t n)
{
	ssize_t r;

	if (io->fcgx != NULL) {
		/* No flush: FCGX_Finish_r sends the answer and the end of
		 * the request together, one write(2) instead of two. */
		return FCGX_PutStr(buf, (int)n, io->fcgx->out) == (int)n ? 0
		                                                         : -1;
	}
	cgi_drain(io);
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
 * Ends a FastCGI request: sends the answer and the end of the request,
 * wipes the secrets among the parameters and lets libfcgi free them.  On
 * closing, libfcgi reads what the web server still sends until it stops;
 * after an abandoned body (a client trickling it) that is bounded by
 * FINISH_GRACE_MS.  The server must be able to send a little more of the
 * body before it reads the answer: Apache's mod_proxy_fcgi answers 503
 * instead of the 408 when its write fails, so the connection is not shut
 * for reading earlier.
 */
void
io_finish(struct hl_io *io)
{
	io_wipe_secrets(io);
	if (io->abandoned)
		deadline_arm(FINISH_GRACE_MS);
	FCGX_Finish_r(io->fcgx);
	if (io->abandoned)
		deadline_disarm();
	io->abandoned = 0;
}

/*
 * Wipes the values of the request's parameters that hold a secret
 * (HOOKLINE_SECRET and Apache's REDIRECT_ copies of it, and GitLab's
 * X-Gitlab-Token, which is the secret itself): libfcgi frees its
 * parameter buffers without clearing them, and a later core or heap reuse
 * must not show them.
 */
void
io_wipe_secrets(struct hl_io *io)
{
	const char *token = sig_params(HL_SCHEME_GITLAB)->signature;
	size_t tl = strlen(token);
	char *eq;

	for (char **p = io->params; p != NULL && *p != NULL; p++)
		if ((eq = strchr(*p, '=')) != NULL &&
		    (memmem(*p, (size_t)(eq - *p), "HOOKLINE_SECRET", 15) !=
		            NULL ||
		        ((size_t)(eq - *p) == tl && memcmp(*p, token, tl) == 0)))
			OPENSSL_cleanse(eq + 1, strlen(eq + 1));
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
