/*
 * serve.c: the per-request pipeline of DESIGN.md section 1 and the two
 * ways of running it (section 7).
 *
 *   method -> configuration -> body -> signature -> JSON -> sinks -> answer
 *
 * Nothing unauthenticated reaches the JSON parser, and the 200 is written
 * only after every sink has durably taken the event.  Every other outcome
 * is answered from answer.c's table and explained in one error-log line.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "hookline.h"

extern char **environ;

/* Buffers bigger than this are freed after each request (flat RSS). */
#define KEEP_BYTES (64 * 1024)

/* What lives from one request to the next. */
struct hl_server {
	struct hl_config_cache *config;
	struct sink_log *log;
	struct hl_plugins *plugins;
	struct hl_buf body;
	struct hl_buf rec;
};

static volatile sig_atomic_t stopping;

/* A server with nothing cached yet, or NULL when out of memory. */
struct hl_server *
serve_new(void)
{
	struct hl_server *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->config = config_cache_new();
	c->log = sink_log_new();
	c->plugins = plugin_cache_new();
	if (c->config == NULL || c->log == NULL || c->plugins == NULL) {
		serve_free(c);
		return NULL;
	}
	return c;
}

/*
 * Unloads the plugins, closes the log, wipes the secrets and frees; NULL
 * does nothing.
 */
void
serve_free(struct hl_server *c)
{
	if (c == NULL)
		return;
	plugin_cache_free(c->plugins);
	config_cache_free(c->config);
	sink_log_free(c->log);
	free(c->body.p);
	free(c->rec.p);
	free(c);
}

/*
 * Verifies the signature header, if a secret is configured.  *sig gets the
 * header value and *scheme "sha1" or "sha256" (NULL when unsigned events
 * are allowed and nothing was verified).
 */
static enum hl_err
check_signature(const struct hl_io *io, const struct hl_config *cfg,
    const struct hl_buf *body, const char **sig, const char **scheme,
    const char **why)
{
	enum hl_alg alg = HL_ALG_SHA256;
	EVP_MAC_CTX *ctx;

	/* When both headers came, the SHA-256 one decides. */
	if ((*sig = io_param(io, "HTTP_X_HUB_SIGNATURE_256")) == NULL) {
		*sig = io_param(io, "HTTP_X_HUB_SIGNATURE");
		alg = HL_ALG_SHA1;
	}
	*scheme = NULL;
	if (cfg->secret == NULL)
		return HL_OK; /* HOOKLINE_ALLOW_UNSIGNED=1 and no secret */
	if (*sig == NULL) {
		*why = "no X-Hub-Signature or X-Hub-Signature-256 header";
		return HL_ESIG;
	}
	*scheme = alg == HL_ALG_SHA1 ? "sha1" : "sha256";
	if ((ctx = config_hmac(cfg, alg)) == NULL) {
		*why = "cannot set up HMAC (OpenSSL)";
		return HL_EINTERNAL;
	}
	return sig_verify(ctx, alg, *sig, (const unsigned char *)body->p,
	    body->len, why);
}

/* Formats the event's line and appends it to the log. */
static enum hl_err
store_log(struct hl_server *c, struct hl_io *io, const struct hl_config *cfg,
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
	if (buf_reserve(&c->rec, record_max(&r)) == -1) {
		snprintf(why, wl, "out of memory for the log record");
		return HL_EINTERNAL;
	}
	c->rec.len = record_format(c->rec.p, &r);
	rc = sink_log_append(c->log, cfg->log, cfg->sync, &r.when, c->rec.p,
	    c->rec.len, why, wl);
	if (*sink_log_note(c->log) != '\0')
		io_log(io, "%s", sink_log_note(c->log));
	return rc;
}

/*
 * Hands the event to every configured sink, the log first: when the
 * plugin then fails, the event is already safe and the retry that the
 * 503 asks for is deduplicated by its id.
 */
static enum hl_err
store(struct hl_server *c, struct hl_io *io, const struct hl_config *cfg,
    const struct hl_event *ev, const char *sig, const char *scheme, char *why,
    size_t wl)
{
	struct hl_plugin *p = NULL;
	enum hl_err rc;

	/* A plugin that cannot be loaded is a configuration error: found
	 * before anything is written. */
	if (cfg->plugin != NULL &&
	    (rc = plugin_get(c->plugins, cfg->plugin, cfg->plugin_arg, io, &p,
	         why, wl)) !=
	        HL_OK)
		return rc;
	if (cfg->log != NULL &&
	    (rc = store_log(c, io, cfg, ev, sig, why, wl)) != HL_OK)
		return rc;
	if (p == NULL)
		return HL_OK;
	return plugin_handle(p, io, ev, scheme, io_param(io, "REMOTE_ADDR"),
	    why, wl);
}

/*
 * Serves one request on io, start to finish: reads it, answers it, and
 * logs why when the answer is not 200.  Returns the outcome.
 */
enum hl_err
serve_request(struct hl_server *c, struct hl_io *io)
{
	char why[HL_WHY_MAX] = "", out[512];
	const char *swhy = NULL, *sig = NULL, *scheme = NULL, *method, *remote,
	           *uri;
	const struct hl_config *cfg = NULL;
	struct hl_event ev;
	enum hl_err rc;

	memset(&ev, 0, sizeof(ev));
	if ((rc = request_check_method(io)) != HL_OK)
		goto done;
	if ((rc = config_get(c->config, io, &cfg, why, sizeof(why))) != HL_OK)
		goto done;
	if ((rc = request_read_body(io, cfg->max_body, cfg->read_timeout,
	         &c->body, why, sizeof(why))) != HL_OK)
		goto done;
	if ((rc = check_signature(io, cfg, &c->body, &sig, &scheme, &swhy)) !=
	    HL_OK)
		goto done;
	if ((rc = event_parse(&ev, c->body.p, c->body.len, &swhy)) != HL_OK)
		goto done;
	rc = store(c, io, cfg, &ev, sig, scheme, why, sizeof(why));
done:
	if (io_write(io, out, answer_format(out, sizeof(out), rc, ev.id)) !=
	        0 &&
	    rc == HL_OK)
		io_log(io, "event %s stored, but the answer could not be sent",
		    ev.id);
	if (rc != HL_OK) {
		method = io_param(io, "REQUEST_METHOD");
		remote = io_param(io, "REMOTE_ADDR");
		uri = io_param(io, "REQUEST_URI");
		if (uri == NULL)
			uri = io_param(io, "SCRIPT_NAME");
		io_log(io, "%s \"%.16s %.200s\": %d %s: %s",
		    remote ? remote : "-", method ? method : "-",
		    uri ? uri : "-", answer_status(rc), answer_message(rc),
		    swhy != NULL           ? swhy
		        : why[0] != '\0'   ? why
		        : rc == HL_EMETHOD ? "only POST is accepted"
		                           : "-");
	}
	event_clear(&ev);
	buf_release(&c->body, KEEP_BYTES);
	buf_release(&c->rec, KEEP_BYTES);
	return rc;
}

/* Serves the one request of a CGI process. Returns the exit status. */
int
serve_cgi(void)
{
	struct hl_io io = {NULL, environ, 0};
	struct hl_server *c;

	char path[4096];

	if ((c = serve_new()) == NULL) {
		io_log(&io, "out of memory at start");
		return 1;
	}
	/* Under suEXEC no SetEnv arrives: hookline.conf says it instead. */
	if (conffile_path(path, sizeof(path)) == 0)
		config_cache_use_file(c->config, path);
	serve_request(c, &io);
	serve_free(c);
	return 0;
}

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
}

/*
 * Serves FastCGI requests on the listening socket at fd 0 until SIGTERM,
 * SIGINT or SIGHUP.  Those signals are blocked while a request is served,
 * so a request in progress is finished (its event stored and answered)
 * before the process exits; they interrupt only the wait for the next
 * connection.  Returns the exit status.
 */
int
serve_fcgi(void)
{
	FCGX_Request req;
	struct sigaction sa;
	sigset_t stops;
	struct hl_server *c;
	int rc = 0;

	if (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&req, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0 ||
	    (c = serve_new()) == NULL) {
		io_log(NULL, "cannot initialise FastCGI");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: accept(2) must return */
	sigemptyset(&sa.sa_mask);
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGHUP);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	for (;;) {
		sigprocmask(SIG_UNBLOCK, &stops, NULL);
		if (stopping)
			break;
		if (FCGX_Accept_r(&req) < 0) {
			rc = stopping ? 0 : 1;
			break;
		}
		sigprocmask(SIG_BLOCK, &stops, NULL);
		struct hl_io io = {&req, req.envp, 0};
		serve_request(c, &io);
		io_finish(&io);
	}
	if (rc != 0)
		io_log(NULL, "FastCGI accept failed; exiting");
	FCGX_Free(&req, 1);
	serve_free(c);
	return rc;
}
