/*
 * hl-events.c: hookline's per-event path, for callgrind (scripts/bench).
 *
 *   HOOKLINE_SECRET=... hl-events N BODY LOG SIGNATURE
 *
 * Runs N times the steps that serve.c's handle() runs for one verified
 * event, through the very objects hookline is linked from
 * (handler/libhookline.a): method check, config_get() over a fixed
 * parameter array like the one lighttpd sends, the body read (CGI path:
 * BODY is put on fd 0 and read again for each event), signature check,
 * event_parse(), record_max()/record_format(), sink_log_append() to LOG
 * with HOOKLINE_SYNC=none, the answer's formatting, event_clear() and the
 * buffer release.  One more event runs first, outside the count, as the
 * first request of a FastCGI process would; LOG gets N + 1 lines.  Only the
 * transport (FCGX streams, io_write) is left out: the no-op FastCGI floor pays
 * for it too.
 *
 * The settings come from the process environment, as lighttpd's
 * bin-environment gives them: HOOKLINE_SECRET from the caller (never on
 * the command line), HOOKLINE_LOG and HOOKLINE_SYNC set here.  Every
 * event must be stored; the exit status is 1 otherwise.
 *
 * The loop is in bench_events() so that callgrind can count it alone
 * (--toggle-collect=bench_events).  Keep it in step with handle().
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookline.h"

/* What serve.c keeps from one request to the next (its struct ctx). */
struct bctx {
	struct hl_config_cache *config;
	struct sink_log *log;
	struct hl_buf body;
	struct hl_buf rec;
};

/* serve.c's KEEP_BYTES. */
#define KEEP_BYTES (64 * 1024)

/* serve.c's check_signature(). */
static enum hl_err
check_signature(const struct hl_io *io, const struct hl_config *cfg,
    const struct hl_buf *body, const char **sig, const char **why)
{
	enum hl_alg alg = HL_ALG_SHA256;

	if ((*sig = io_param(io, "HTTP_X_HUB_SIGNATURE_256")) == NULL) {
		*sig = io_param(io, "HTTP_X_HUB_SIGNATURE");
		alg = HL_ALG_SHA1;
	}
	if (cfg->secret == NULL)
		return HL_OK;
	if (*sig == NULL) {
		*why = "no signature header";
		return HL_ESIG;
	}
	return sig_verify(config_hmac(cfg, alg), alg, *sig,
	    (const unsigned char *)body->p, body->len, why);
}

/* serve.c's store(), the log sink only. */
static enum hl_err
store(struct bctx *c, struct hl_io *io, const struct hl_config *cfg,
    const struct hl_event *ev, const char *sig, char *why, size_t wl)
{
	struct hl_record r;
	enum hl_err rc;

	clock_gettime(CLOCK_REALTIME, &r.when);
	r.id = ev->id;
	r.remote = io_param(io, "REMOTE_ADDR");
	r.signature = sig;
	r.body = ev->body;
	r.len = ev->len;
	if (buf_reserve(&c->rec, record_max(&r)) == -1)
		return HL_EINTERNAL;
	c->rec.len = record_format(c->rec.p, &r);
	rc = sink_log_append(c->log, cfg->log, cfg->sync, &r.when, c->rec.p,
	    c->rec.len, why, wl);
	if (*sink_log_note(c->log) != '\0')
		fprintf(stderr, "hl-events: %s\n", sink_log_note(c->log));
	return rc;
}

/* serve.c's handle() for one request, minus the transport. */
static enum hl_err
one_event(struct bctx *c, struct hl_io *io, size_t *answer_len)
{
	char why[HL_WHY_MAX] = "", out[512];
	const char *swhy = NULL, *sig = NULL;
	const struct hl_config *cfg = NULL;
	struct hl_event ev;
	enum hl_err rc;

	memset(&ev, 0, sizeof(ev));
	if ((rc = request_check_method(io)) != HL_OK)
		goto done;
	if ((rc = config_get(c->config, io, &cfg, why, sizeof(why))) != HL_OK)
		goto done;
	if (lseek(STDIN_FILENO, 0, SEEK_SET) == -1) {
		rc = HL_EINTERNAL;
		goto done;
	}
	if ((rc = request_read_body(io, cfg->max_body, &c->body, why,
	         sizeof(why))) != HL_OK)
		goto done;
	if ((rc = check_signature(io, cfg, &c->body, &sig, &swhy)) != HL_OK)
		goto done;
	if ((rc = event_parse(&ev, c->body.p, c->body.len, &swhy)) != HL_OK)
		goto done;
	rc = store(c, io, cfg, &ev, sig, why, sizeof(why));
done:
	*answer_len = answer_format(out, sizeof(out), rc, ev.id);
	if (rc != HL_OK)
		fprintf(stderr, "hl-events: %d %s: %s\n", answer_status(rc),
		    answer_message(rc),
		    swhy != NULL         ? swhy
		        : why[0] != '\0' ? why
		                         : "-");
	event_clear(&ev);
	buf_release(&c->body, KEEP_BYTES);
	buf_release(&c->rec, KEEP_BYTES);
	return rc;
}

/* The measured loop: n events.  Returns how many were stored. */
__attribute__((noinline)) static long
bench_events(struct bctx *c, struct hl_io *io, long n)
{
	size_t alen = 0;
	long ok = 0;

	for (long i = 0; i < n; i++)
		if (one_event(c, io, &alen) == HL_OK && alen > 0)
			ok++;
	return ok;
}

int
main(int argc, char *argv[])
{
	char clen[32], hclen[40], sig[160];
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
	    "HTTP_HOST=127.0.0.1:8080", sig, hclen, NULL};
	struct hl_io io = {NULL, params};
	struct bctx c;
	struct stat st;
	size_t alen;
	long n, ok;
	int fd;

	if (argc != 5 || (n = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr,
		    "usage: HOOKLINE_SECRET=... hl-events N BODY LOG "
		    "SIGNATURE\n");
		return 2;
	}
	if ((fd = open(argv[2], O_RDONLY)) == -1 || fstat(fd, &st) == -1 ||
	    dup2(fd, STDIN_FILENO) == -1) {
		perror(argv[2]);
		return 2;
	}
	snprintf(clen, sizeof(clen), "CONTENT_LENGTH=%lld",
	    (long long)st.st_size);
	snprintf(hclen, sizeof(hclen), "HTTP_%s", clen);
	snprintf(sig, sizeof(sig), "HTTP_X_HUB_SIGNATURE=%.120s", argv[4]);
	if (getenv("HOOKLINE_SECRET") == NULL ||
	    setenv("HOOKLINE_LOG", argv[3], 1) == -1 ||
	    setenv("HOOKLINE_SYNC", "none", 1) == -1) {
		fprintf(stderr, "hl-events: set HOOKLINE_SECRET\n");
		return 2;
	}
	memset(&c, 0, sizeof(c));
	if ((c.config = config_cache_new()) == NULL ||
	    (c.log = sink_log_new()) == NULL)
		return 1;
	/* One event first, outside the count: the configuration is parsed,
	 * the HMAC keyed and the log opened once per process, not per event. */
	if (one_event(&c, &io, &alen) != HL_OK)
		return 1;
	ok = bench_events(&c, &io, n);
	config_cache_free(c.config);
	sink_log_free(c.log);
	free(c.body.p);
	free(c.rec.p);
	printf("events %ld stored %ld (+1 warm-up)\n", n, ok);
	return ok == n ? 0 : 1;
}
