/*
 * serve.c: the per-request pipeline (docs/design.md) and the two ways of
 * running it, FastCGI and CGI.
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

/* Formats the event's line and appends it to the log. */
static enum hl_err
store_log(struct hl_server *c, struct hl_request *req)
{
	struct hl_record r = {
	    .when = req->received,
	    .id = req->ev.id,
	    .remote = io_param(req->io, "REMOTE_ADDR"),
	    .signature = req->signature,
	    .scheme = sig_scheme_name(req->cfg->scheme),
	    .delivery = req->delivery,
	    .key = req->key,
	    .timestamp = req->timestamp,
	    .body = req->ev.body,
	    .len = req->ev.len,
	};
	enum hl_err rc;

	if (buf_reserve(&c->rec, record_max(&r)) == -1) {
		why_set(&req->why, "out of memory for the log record");
		return HL_EINTERNAL;
	}
	c->rec.len = record_format(c->rec.p, &r);
	rc = sink_log_append(c->log, req, &c->rec);
	if (req->note.text[0] != '\0')
		io_log(req->io, "%s", req->note.text);
	return rc;
}

/*
 * Hands the event to every configured sink, the log first: when the
 * plugin then fails, the event is already safe and the retry that the
 * 503 asks for is deduplicated by its id.
 */
static enum hl_err
store(struct hl_server *c, struct hl_request *req)
{
	struct hl_plugin *p = NULL;
	enum hl_err rc;

	/* A plugin that cannot be loaded is a configuration error: found
	 * before anything is written. */
	if (req->cfg->plugin != NULL &&
	    (rc = plugin_get(c->plugins, req, &p)) != HL_OK)
		return rc;
	/* After plugin_get(), whose init may take seconds (a database that
	 * is down): the time names the log file of a strftime pattern, and
	 * hookline-follow counts on a record being at most the lock wait
	 * late. */
	clock_gettime(CLOCK_REALTIME, &req->received);
	if (req->cfg->log != NULL && (rc = store_log(c, req)) != HL_OK)
		return rc;
	return p == NULL ? HL_OK : plugin_handle(p, req);
}

/*
 * Answers req with outcome rc, and says why in the error log when it is
 * not 200: one line naming the client, the request and the reason.
 */
static void
answer(struct hl_request *req, enum hl_err rc)
{
	char out[ANSWER_MAX];
	const char *method = io_param(req->io, "REQUEST_METHOD"),
	           *remote = io_param(req->io, "REMOTE_ADDR"),
	           *uri = io_param(req->io, "REQUEST_URI");
	size_t n = answer_format(out, sizeof(out), rc, req->ev.id);

	if (io_write(req->io, out, n) != 0 && rc == HL_OK)
		io_log(req->io,
		    "event %s stored, but the answer could not be sent",
		    req->ev.id);
	if (rc == HL_OK)
		return;
	if (uri == NULL)
		uri = io_param(req->io, "SCRIPT_NAME");
	io_log(req->io, "%s \"%.16s %.200s\": %d %s: %s", remote ? remote : "-",
	    method ? method : "-", uri ? uri : "-", answer_status(rc),
	    answer_message(rc), req->why.text[0] != '\0' ? req->why.text : "-");
}

/*
 * Serves one request on io, start to finish, in the order that keeps the
 * promises of docs/design.md: nothing unauthenticated reaches the JSON
 * parser, and nothing is answered 200 before every sink took the event.
 * Returns the outcome.
 */
enum hl_err
serve_request(struct hl_server *c, struct hl_io *io)
{
	struct hl_request req = {.io = io, .body = &c->body};
	enum hl_err rc;

	if ((rc = request_check_method(&req)) == HL_OK &&
	    (rc = config_get(c->config, &req)) == HL_OK &&
	    (rc = request_read_body(&req)) == HL_OK &&
	    (rc = sig_check(&req)) == HL_OK &&
	    (rc = event_parse(&req.ev, req.body->p, req.body->len, &req.why)) ==
	        HL_OK)
		rc = store(c, &req);
	answer(&req, rc);
	event_clear(&req.ev);
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
