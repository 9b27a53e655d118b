/*
 * hl-events.c: hookline's per-event path, for callgrind (scripts/bench).
 *
 *   HOOKLINE_SECRET=... hl-events N BODY LOG SIGNATURE
 *   HOOKLINE_SECRET=... HOOKLINE_SCHEME=... hl-events N BODY LOG HTTP_NAME=VALUE...
 *
 * Runs N requests through serve_request(), the very function hookline's
 * FastCGI loop calls, linked from the same objects (handler/libhookline.a):
 * method check, config_get() over a fixed parameter array like the one
 * lighttpd sends, the body read (CGI transport: BODY is on fd 0, rewound
 * for each event), signature check, event_parse(), the log line,
 * sink_log_append() to LOG with HOOKLINE_SYNC=none, and the answer (to
 * /dev/null).  One more event runs first, outside the count, as the first
 * request of a FastCGI process would; LOG gets N + 1 lines.
 *
 * The settings come from the process environment, as lighttpd's
 * bin-environment gives them: HOOKLINE_SECRET from the caller (never on
 * the command line), HOOKLINE_LOG and HOOKLINE_SYNC set here.  SIGNATURE
 * is X-Hub-Signature's value; the second form, told apart by its first
 * argument's "HTTP_", gives one to four headers of any scheme as CGI
 * parameters (HTTP_WEBHOOK_SIGNATURE=...).  Every event must be stored;
 * the exit status is 1 otherwise.
 *
 * The loop is in bench_events() so that callgrind can count it alone
 * (--toggle-collect=bench_events).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookline.h"

/* One request: the body rewound, then what hookline does with it. */
static enum hl_err
one_event(struct hl_server *srv, struct hl_io *io)
{
	if (lseek(STDIN_FILENO, 0, SEEK_SET) == -1)
		return HL_EINTERNAL;
	return serve_request(srv, io);
}

/* The measured loop: n events.  Returns how many were stored. */
__attribute__((noinline)) static long
bench_events(struct hl_server *srv, struct hl_io *io, long n)
{
	long ok = 0;

	for (long i = 0; i < n; i++)
		if (one_event(srv, io) == HL_OK)
			ok++;
	return ok;
}

int
main(int argc, char *argv[])
{
	char clen[32], hclen[40], sig[512];
	/* What lighttpd 1.4 sends for wrk's POST (filled in below). */
	char *params[] = {"FCGI_ROLE=RESPONDER", clen,
	    "QUERY_STRING=", "REQUEST_URI=/hook", "REDIRECT_STATUS=200",
	    "SCRIPT_NAME=/hook", "SCRIPT_FILENAME=/srv/www/hook",
	    "DOCUMENT_ROOT=/srv/www", "REQUEST_METHOD=POST",
	    "SERVER_PROTOCOL=HTTP/1.1", "SERVER_SOFTWARE=lighttpd/1.4.69",
	    "GATEWAY_INTERFACE=CGI/1.1", "REQUEST_SCHEME=http",
	    "SERVER_PORT=8080", "SERVER_ADDR=127.0.0.1",
	    "SERVER_NAME=127.0.0.1", "REMOTE_ADDR=127.0.0.1",
	    "REMOTE_PORT=49578", "CONTENT_TYPE=application/json",
	    "HTTP_HOST=127.0.0.1:8080", sig, hclen, NULL, NULL, NULL, NULL};
	struct hl_io io = {NULL, params, 0};
	struct hl_server *srv;
	struct stat st;
	long n, ok;
	int fd;

	if (argc < 5 || argc > 8 || (n = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr,
		    "usage: HOOKLINE_SECRET=... hl-events N BODY LOG SIGNATURE | HTTP_NAME=VALUE...\n");
		return 2;
	}
	if ((fd = open(argv[2], O_RDONLY)) == -1 || fstat(fd, &st) == -1 ||
	    dup2(fd, STDIN_FILENO) == -1) {
		perror(argv[2]);
		return 2;
	}
	if ((fd = open("/dev/null", O_WRONLY)) == -1 ||
	    dup2(fd, STDOUT_FILENO) == -1) {
		perror("/dev/null");
		return 2;
	}
	snprintf(clen, sizeof(clen), "CONTENT_LENGTH=%lld",
	    (long long)st.st_size);
	snprintf(hclen, sizeof(hclen), "HTTP_%s", clen);
	if (strncmp(argv[4], "HTTP_", 5) != 0)
		snprintf(sig, sizeof(sig), "HTTP_X_HUB_SIGNATURE=%.400s",
		    argv[4]);
	else {
		/* NAME=VALUE parameters in the slots after the last one. */
		snprintf(sig, sizeof(sig), "%.500s", argv[4]);
		for (int i = 5, k = 22; i < argc; i++, k++)
			params[k] = argv[i];
	}
	if (getenv("HOOKLINE_SECRET") == NULL ||
	    setenv("HOOKLINE_LOG", argv[3], 1) == -1 ||
	    setenv("HOOKLINE_SYNC", "none", 1) == -1) {
		fprintf(stderr, "hl-events: set HOOKLINE_SECRET\n");
		return 2;
	}
	if ((srv = serve_new()) == NULL)
		return 1;
	/* One event first, outside the count: the configuration is parsed,
	 * the HMAC keyed and the log opened once per process, not per event. */
	if (one_event(srv, &io) != HL_OK)
		return 1;
	ok = bench_events(srv, &io, n);
	serve_free(srv);
	fprintf(stderr, "events %ld stored %ld (+1 warm-up)\n", n, ok);
	return ok == n ? 0 : 1;
}
