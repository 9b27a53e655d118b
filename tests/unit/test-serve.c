/*
 * test-serve: the whole pipeline, serve_request(), for CGI-like requests
 * whose body comes from a pipe: each outcome answered with its status and
 * explained on the error stream, the accepted event in the log.  The web
 * servers in front are tests/integration's business.
 */
#define _GNU_SOURCE /* O_TMPFILE */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookline.h"
#include "tap.h"

static char dir[] = "/tmp/hookline-test-serve-XXXXXX", logvar[128];
static char out[4096], err[4096];
static int null;

/* Reads what fd holds now into buf (cap bytes), NUL-terminated. */
static void
slurp(int fd, char *buf, size_t cap)
{
	ssize_t n;
	size_t len = 0;

	lseek(fd, 0, SEEK_SET);
	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
}

/*
 * Serves one request: params plus HOOKLINE_SECRET and HOOKLINE_LOG, the
 * body on stdin.  out and err get the answer and the error line.
 */
static enum hl_err
serve(struct hl_server *srv, const char *body, const char *sig,
    const char *method)
{
	char cl[64], sg[128], me[64];
	char *params[] = {me, cl, sg, "HOOKLINE_SECRET=k", logvar,
	    "REMOTE_ADDR=192.0.2.1", "REQUEST_URI=/hook", NULL};
	struct hl_io io = {NULL, params, 0};
	int p[2], o = open(dir, O_TMPFILE | O_RDWR, 0600),
	          e = open(dir, O_TMPFILE | O_RDWR, 0600), so = dup(1),
	          se = dup(2);
	enum hl_err rc;

	snprintf(me, sizeof(me), "REQUEST_METHOD=%s", method);
	snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(body));
	snprintf(sg, sizeof(sg), "HTTP_X_HUB_SIGNATURE=%s", sig);
	if (pipe(p) == -1 ||
	    write(p[1], body, strlen(body)) != (ssize_t)strlen(body))
		return HL_ERR__MAX;
	close(p[1]);
	dup2(p[0], 0);
	close(p[0]);
	fflush(stdout);
	dup2(o, 1);
	dup2(e, 2);
	rc = serve_request(srv, &io);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	slurp(o, out, sizeof(out));
	slurp(e, err, sizeof(err));
	close(o);
	close(e);
	dup2(null, 0); /* fd 0 stays taken: pipe() must not get it */
	return rc;
}

int
main(void)
{
	/* HMAC-SHA1 of {"a":1} keyed with "k". */
	const char *good = "sha1=7b4ab6898ab862077e9caf504b39982f2bc41453";
	struct hl_server *srv = NULL;
	char path[200], line[4096];
	FILE *f;

	null = open("/dev/null", O_RDONLY);
	dup2(null, 0);
	ok(mkdtemp(dir) != NULL && (srv = serve_new()) != NULL, "set up");
	snprintf(logvar, sizeof(logvar), "HOOKLINE_LOG=%s/events.jsonl", dir);
	ok(serve(srv, "{\"a\":1}", "0000000000000000000000000000000000000000",
	       "POST") == HL_ESIG &&
	        strstr(out, "Status: 401") != NULL &&
	        strstr(err, "401 invalid signature: signature does not match") !=
	            NULL &&
	        strstr(err, "\"POST /hook\"") != NULL,
	    "wrong signature: 401, and the error line says why");
	ok(serve(srv, "{}", "x", "GET") == HL_EMETHOD &&
	        strstr(out, "Allow: POST") != NULL &&
	        strstr(err, "only POST is accepted") != NULL,
	    "GET: 405, only POST is accepted");
	ok(serve(srv, "{\"a\":1}", good, "POST") == HL_OK &&
	        strstr(out, "Status: 200") != NULL && err[0] == '\0',
	    "a signed event: 200, nothing in the error log (%s)", err);
	snprintf(path, sizeof(path), "%s/events.jsonl", dir);
	ok((f = fopen(path, "r")) != NULL && fgets(line, sizeof(line), f) &&
	        strstr(line, ",\"event\":{\"a\":1}}\n") != NULL &&
	        strstr(line, "\"remote\":\"192.0.2.1\"") != NULL,
	    "its line in the log");
	if (f != NULL)
		fclose(f);
	unlink(path);
	rmdir(dir);
	serve_free(srv);
	serve_free(NULL);
	return tap_done();
}
