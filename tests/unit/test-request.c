/*
 * test-request: method and length checks and body reading in CGI mode,
 * with a real pipe on standard input; and the CGI answer that first reads
 * what is left of a refused body.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hookline.h"
#include "tap.h"

static struct hl_buf body;
static char why[HL_WHY_MAX];

/* request_read_body for io with body limit max, 30 s to read it. */
static enum hl_err
read_req(struct hl_io *io, size_t max)
{
	struct hl_config cfg = {.max_body = max, .read_timeout = 30};
	struct hl_request req = {.io = io, .cfg = &cfg, .body = &body};
	enum hl_err rc = request_read_body(&req);

	snprintf(why, sizeof(why), "%s", req.why.text);
	return rc;
}

/* request_check_method for io. */
static enum hl_err
method(struct hl_io *io)
{
	struct hl_request req = {.io = io};

	return request_check_method(&req);
}

/* Reads a body declared as cl (NULL: undeclared) from a pipe holding data. */
static enum hl_err
rd(const char *cl, const char *data, size_t max)
{
	char var[64];
	char *params[] = {var, NULL};
	struct hl_io io = {NULL, params, 0};
	int p[2];
	enum hl_err rc;

	snprintf(var, sizeof(var), cl ? "CONTENT_LENGTH=%s" : "X=%s",
	    cl ? cl : "");
	if (pipe(p) == -1)
		return HL_ERR__MAX;
	if (write(p[1], data, strlen(data)) != (ssize_t)strlen(data))
		return HL_ERR__MAX;
	close(p[1]);
	if (p[0] != 0) {
		dup2(p[0], 0);
		close(p[0]);
	}
	rc = read_req(&io, max);
	close(0);
	return rc;
}

/*
 * Runs one CGI request in a child: params as its environment, stdin
 * holding data, read with limit max (want is what the read returns), then
 * the child answers.  The parent keeps its end of stdin open, as a web
 * server does until it has written the whole body, or closes it when eof
 * is set, as Apache does then; afterwards it counts what the child left
 * unread.  Returns that count, or -1 when the child failed (it is killed
 * after 10 s, should it wait for input that never comes).
 */
static long
cgi_left_unread(char **params, const char *data, size_t max, enum hl_err want,
    int eof)
{
	struct hl_io io = {NULL, params, 0};
	char buf[4096], ans[64];
	int in[2], out[2], status;
	long left = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(in) == -1 || pipe(out) == -1)
		return -1;
	/* Everything fits in the pipe: the writes never wait for the child. */
	if (write(in[1], data, strlen(data)) != (ssize_t)strlen(data))
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		alarm(10);
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		if (read_req(&io, max) != want)
			_exit(1);
		_exit(io_write(&io, "answer\n", 7) == 0 ? 0 : 1);
	}
	if (eof)
		close(in[1]);
	close(out[1]);
	n = read(out[0], ans, sizeof(ans));
	close(out[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || n != 7)
		return -1;
	fcntl(in[0], F_SETFL, O_NONBLOCK);
	while ((n = read(in[0], buf, sizeof(buf))) > 0)
		left += n;
	close(in[0]);
	if (!eof)
		close(in[1]);
	return left;
}

int
main(void)
{
	struct hl_io io = {NULL, (char *[]){"REQUEST_METHOD=POST", NULL}, 0};
	static char big[40000 + 5];

	/* First, while this process has read nothing as a CGI: the count of
	 * body bytes read is per process, as a CGI process is per request. */
	memset(big, 'x', 40000);
	memcpy(big + 40000, "tail", 5);
	ok(cgi_left_unread((char *[]){"CONTENT_LENGTH=40000", NULL}, big, 10,
	       HL_ETOOBIG, 0) == 4,
	    "CGI: a body refused unread is read to its declared end before "
	    "the answer, not past it");
	ok(cgi_left_unread((char *[]){"CONTENT_LENGTH=2", NULL}, "{}tail", 10,
	       HL_OK, 0) == 4,
	    "CGI: a body read whole is not read further before the answer");
	ok(cgi_left_unread((char *[]){"CONTENT_LENGTH=x", NULL}, "{}tail", 10,
	       HL_EBADLENGTH, 0) == 6,
	    "CGI: nothing is read behind an invalid length");
	ok(cgi_left_unread((char *[]){"HTTP_TRANSFER_ENCODING=chunked", NULL},
	       "{}tail", 10, HL_ENOLENGTH, 1) == 0,
	    "CGI: a chunked body (411) is read to the end of input before the "
	    "answer");
	ok(cgi_left_unread((char *[]){"REQUEST_METHOD=POST", NULL}, "{}tail",
	       10, HL_ENOLENGTH, 0) == 6,
	    "CGI: without a length or a chunked body nothing more is read");

	ok(method(&io) == HL_OK, "POST accepted");
	io.params = (char *[]){"REQUEST_METHOD=GET", NULL};
	ok(method(&io) == HL_EMETHOD, "GET refused");
	io.params = (char *[]){"REQUEST_METHOD=post", NULL};
	ok(method(&io) == HL_EMETHOD, "lowercase post refused");
	io.params = (char *[]){NULL};
	ok(method(&io) == HL_EMETHOD, "no method refused");

	ok(rd("2", "{}", 10) == HL_OK && body.len == 2 &&
	        memcmp(body.p, "{}\0", 3) == 0,
	    "body read, NUL-terminated");
	ok(rd("10", "{}", 10) == HL_EINCOMPLETE, "body shorter than declared");
	ok(rd("2", "{}xyz", 10) == HL_OK && body.len == 2,
	    "bytes past the declared length ignored");
	ok(rd("0", "", 10) == HL_OK && body.len == 0, "empty body read");
	ok(rd("10", "0123456789", 10) == HL_OK, "body exactly at the limit");
	ok(rd("11", "0123456789a", 10) == HL_ETOOBIG,
	    "body one byte over the limit");
	ok(rd("99999999999999999999", "", 10) == HL_EBADLENGTH,
	    "overflowing length refused");
	ok(rd("1000000000000", "", 10) == HL_ETOOBIG, "huge length refused");
	ok(rd("-1", "", 10) == HL_EBADLENGTH, "negative length refused");
	ok(rd("+1", "x", 10) == HL_EBADLENGTH, "signed length refused");
	ok(rd("1x", "x", 10) == HL_EBADLENGTH, "trailing junk refused");
	ok(rd("abc", "", 10) == HL_EBADLENGTH, "non-numeric length refused");
	ok(rd(NULL, "{}", 10) == HL_ENOLENGTH, "CGI without length: 411");
	ok(rd("", "{}", 10) == HL_ENOLENGTH, "CGI with empty length: 411");

	buf_release(&body, 0);
	ok(body.p == NULL && body.cap == 0, "buffer released");
	return tap_done();
}
