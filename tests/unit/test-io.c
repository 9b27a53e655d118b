/*
 * test-io: the transport's parts that need no web server: parameters,
 * the declared length, wiping the parameters that carry a secret, and a
 * CGI read that gives up at the deadline.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hookline.h"
#include "tap.h"

static enum io_length
length(const char *cl, unsigned long long *n)
{
	char var[64];
	struct hl_io io = {NULL, (char *[]){var, NULL}, 0};

	snprintf(var, sizeof(var), "CONTENT_LENGTH=%s", cl);
	return io_content_length(&io, n);
}

int
main(void)
{
	char a[] = "HOOKLINE_SECRET=s3cret", b[] = "REDIRECT_HOOKLINE_SECRET=s3cret",
	     c[] = "REDIRECT_REDIRECT_HOOKLINE_SECRET_FILE=/etc/x",
	     d[] = "HTTP_X_HUB_SIGNATURE=s3cret", e[] = "NOEQUALS",
	     g[] = "HTTP_X_GITLAB_TOKEN=s3cret",
	     h[] = "HTTP_X_GITLAB_TOKEN_X=s3cret";
	char *params[] = {a, b, c, d, e, g, h, NULL};
	struct hl_io io = {NULL, params, 0};
	unsigned long long n = 0;
	char buf[16];
	int p[2];

	ok(strcmp(io_param(&io, "HTTP_X_HUB_SIGNATURE"), "s3cret") == 0,
	    "a parameter's value");
	ok(io_param(&io, "MISSING") == NULL, "a missing parameter is NULL");
	ok(length("123", &n) == IO_LENGTH_OK && n == 123, "length 123");
	ok(length("0", &n) == IO_LENGTH_OK && n == 0, "length 0");
	ok(length("", &n) == IO_LENGTH_NONE, "empty length is none");
	ok(io_content_length(&io, &n) == IO_LENGTH_NONE, "no length at all");
	ok(length("-1", &n) == IO_LENGTH_BAD, "negative length refused");
	ok(length(" 1", &n) == IO_LENGTH_BAD, "leading space refused");
	ok(length("1x", &n) == IO_LENGTH_BAD, "trailing junk refused");
	ok(length("99999999999999999999999", &n) == IO_LENGTH_BAD,
	    "overflow refused");

	io_wipe_secrets(&io);
	ok(memcmp(a, "HOOKLINE_SECRET=\0\0\0\0\0\0", 22) == 0,
	    "HOOKLINE_SECRET's value wiped, its name kept");
	ok(memcmp(b + 25, "\0\0\0\0\0\0", 6) == 0,
	    "Apache's REDIRECT_ copy wiped too");
	ok(c[39] == '\0', "and the secret file's path");
	ok(memcmp(g, "HTTP_X_GITLAB_TOKEN=\0\0\0\0\0\0", 26) == 0,
	    "GitLab's token, which is the secret itself");
	ok(strcmp(d, "HTTP_X_HUB_SIGNATURE=s3cret") == 0 &&
	        strcmp(e, "NOEQUALS") == 0 &&
	        strcmp(h, "HTTP_X_GITLAB_TOKEN_X=s3cret") == 0,
	    "other parameters untouched");

	/* CGI: a body that does not come gives up at the deadline. */
	ok(pipe(p) == 0 && dup2(p[0], 0) == 0, "stdin is a pipe nobody writes");
	io.params = (char *[]){"CONTENT_LENGTH=10", NULL};
	alarm(20);
	ok(deadline_arm(200) == 0 && io_read(&io, buf, sizeof(buf)) == -1 &&
	        deadline_passed(),
	    "a CGI read returns -1 once the deadline passed");
	deadline_disarm();
	alarm(0);
	return tap_done();
}
