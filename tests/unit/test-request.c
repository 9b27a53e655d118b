/*
 * test-request: method and length checks and body reading in CGI mode,
 * with a real pipe on standard input.
 */
#include <string.h>
#include <unistd.h>

#include "hookline.h"
#include "tap.h"

static struct hl_buf body;
static char why[HL_WHY_MAX];

/* Reads a body declared as cl (NULL: undeclared) from a pipe holding data. */
static enum hl_err
rd(const char *cl, const char *data, size_t max)
{
	char var[64];
	char *params[] = {var, NULL};
	struct hl_io io = {NULL, params};
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
	rc = request_read_body(&io, max, &body, why, sizeof(why));
	close(0);
	return rc;
}

int
main(void)
{
	struct hl_io io = {NULL, (char *[]){"REQUEST_METHOD=POST", NULL}};

	ok(request_check_method(&io) == HL_OK, "POST accepted");
	io.params = (char *[]){"REQUEST_METHOD=GET", NULL};
	ok(request_check_method(&io) == HL_EMETHOD, "GET refused");
	io.params = (char *[]){"REQUEST_METHOD=post", NULL};
	ok(request_check_method(&io) == HL_EMETHOD, "lowercase post refused");
	io.params = (char *[]){NULL};
	ok(request_check_method(&io) == HL_EMETHOD, "no method refused");

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
