/*
 * jetstream.so: publishes each verified event to NATS JetStream and
 * acknowledges it only once the stream has stored it (with replicas, once
 * a quorum of them has), so that several hookline hosts behind a load
 * balancer feed one replicated stream that workers read with durable
 * consumers.
 *
 * HOOKLINE_PLUGIN_ARG is blank-separated key=value words:
 *
 *   subject=hooks.{status}   required; {status} is replaced by the event's
 *                            status, reduced to [A-Za-z0-9_-] ("_" when
 *                            absent), so that consumers can filter on it
 *   servers=nats://h:p,...   the cluster (default nats://127.0.0.1:4222);
 *                            the client fails over and reconnects
 *   stream=NAME              only an acknowledgement from this stream counts
 *   timeout=2000             connect and acknowledgement wait, milliseconds
 *   creds=/path              a NATS credentials file (user JWT and NKey seed)
 *   user=NAME password_file=/path   user and password, the password from
 *                            the file's first line
 *
 * Credentials come from files only: a server URL with user:password@ is
 * refused.  Each message carries the raw body, the header Nats-Msg-Id set
 * to the event's id (the SHA-256 of the body), so that the stream's
 * duplicate window drops a sender's retry of an event already stored,
 * and Hookline-Scheme and Hookline-Delivery when the event has them.
 *
 * One connection per process, made in init() (a wrong password fails
 * init: 500) or, when no server answers then, on first use.  OK once the
 * publish acknowledgement came; RETRY (503) when none came within the
 * timeout (no quorum, no server, no stream for the subject) or the stream
 * refused the message; REJECT (422) for a body above the server's
 * max_payload.  A RETRY may still have been stored: the sender's retry
 * carries the same Nats-Msg-Id, and the stream keeps one copy.
 *
 * libnats runs threads of its own: this object is linked -z nodelete
 * (hookline's dlclose() must not unmap code they run), and the last
 * instance's fini() closes the library and waits for them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>
#include <hookline/plugin.h>

#include "setting.h"

#define MAX_SERVERS 16
#define TEMPLATE_MAX 256 /* subject template, bytes */
#define STATUS_TOKEN_MAX 64 /* {status} after reduction, bytes */
#define STATUS_VAR "{status}"
#define HEADER_MAX 256 /* longest Hookline-* header value sent */
#define CLOSE_WAIT_MS 5000
#define RETRY_PAUSE_MS 50 /* between tries while there is no leader */

struct jetstream {
	const struct hookline_host *host;
	char *words; /* owned: the split argument */
	const char *servers[MAX_SERVERS]; /* into words */
	int nservers;
	const char *subject; /* the template, into words */
	const char *stream; /* NULL: any stream */
	int64_t timeout; /* milliseconds */
	char password[512]; /* from password_file=, wiped once copied */
	natsOptions *opts; /* owned */
	natsConnection *nc; /* NULL when not connected */
	jsCtx *js; /* with nc */
};

/* Open instances; the last fini() closes libnats (see the top). */
static int instances;

static void
jetstream_log(const struct jetstream *j, const char *what, natsStatus s)
{
	const char *detail = nats_GetLastError(NULL);

	j->host->log(j->host, "%s: %s%s%s", what, natsStatus_GetText(s),
	    detail != NULL && detail[0] != '\0' ? ": " : "",
	    detail != NULL ? detail : "");
}

/* Whether s is a subject template we can publish to. */
static int
template_ok(const char *s)
{
	const char *p;

	if (strlen(s) > TEMPLATE_MAX || s[0] == '.')
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (*p == '{') {
			if (strncmp(p, STATUS_VAR, strlen(STATUS_VAR)) != 0)
				return 0;
			p += strlen(STATUS_VAR) - 1;
		} else if (*p <= ' ' || *p > '~' || *p == '*' || *p == '>' ||
		    *p == '}' || (*p == '.' && (p[1] == '.' || p[1] == '\0')))
			return 0;
	}
	return 1;
}

/*
 * Splits servers= at commas into j->servers; refuses credentials in a
 * URL.  Returns 0, or -1 with the reason logged.
 */
static int
split_servers(struct jetstream *j, char *list)
{
	char *s, *save = NULL;

	j->nservers = 0;
	for (s = strtok_r(list, ",", &save); s != NULL;
	     s = strtok_r(NULL, ",", &save)) {
		if (strchr(s, '@') != NULL) {
			j->host->log(j->host,
			    "HOOKLINE_PLUGIN_ARG: servers= holds credentials (user:password@); give them in creds= or user= and password_file= instead");
			return -1;
		}
		if (j->nservers == MAX_SERVERS) {
			j->host->log(j->host,
			    "HOOKLINE_PLUGIN_ARG: servers= names more than %d servers",
			    MAX_SERVERS);
			return -1;
		}
		j->servers[j->nservers++] = s;
	}
	if (j->nservers == 0) {
		j->host->log(j->host,
		    "HOOKLINE_PLUGIN_ARG: servers= names no server");
		return -1;
	}
	return 0;
}

/* Reads the settings into j; returns 0, or -1 with the reason logged. */
static int
parse(struct jetstream *j)
{
	static char default_server[] = "nats://127.0.0.1:4222";
	char *cursor = j->words, *k, *v;
	const char *user = NULL, *password_file = NULL, *creds = NULL;
	const char *why;
	long long n;
	int r;

	j->servers[0] = default_server;
	j->nservers = 1;
	j->timeout = 2000;
	while ((r = setting_next(&cursor, &k, &v)) != 0) {
		if (r == -1)
			goto bad;
		if (strcmp(k, "subject") == 0 && template_ok(v))
			j->subject = v;
		else if (strcmp(k, "servers") == 0) {
			if (split_servers(j, v) == -1)
				return -1;
		} else if (strcmp(k, "stream") == 0)
			j->stream = v;
		else if (strcmp(k, "timeout") == 0 &&
		    (n = setting_number(v, 1, 600000)) > 0)
			j->timeout = n;
		else if (strcmp(k, "creds") == 0)
			creds = v;
		else if (strcmp(k, "user") == 0)
			user = v;
		else if (strcmp(k, "password_file") == 0)
			password_file = v;
		else {
			setting_rejoin(k, v);
			goto bad;
		}
	}
	if (j->subject == NULL) {
		j->host->log(j->host,
		    "HOOKLINE_PLUGIN_ARG: subject= is required (the subject to publish to, e.g. subject=hooks.{status})");
		return -1;
	}
	if ((user == NULL) != (password_file == NULL) ||
	    (user != NULL && creds != NULL)) {
		j->host->log(j->host,
		    "HOOKLINE_PLUGIN_ARG: user= and password_file= go together, and not with creds=");
		return -1;
	}
	if (password_file != NULL &&
	    setting_read_line(password_file, j->password, sizeof(j->password),
	        &why) == -1) {
		j->host->log(j->host, "cannot read password_file %s: %s",
		    password_file, why);
		return -1;
	}
	if (creds != NULL) {
		FILE *f = fopen(creds, "r");

		if (f == NULL) {
			j->host->log(j->host, "cannot read creds %s: %s", creds,
			    strerror(errno));
			return -1;
		}
		fclose(f);
	}
	if (natsOptions_Create(&j->opts) != NATS_OK ||
	    natsOptions_SetServers(j->opts, j->servers, j->nservers) !=
	        NATS_OK ||
	    natsOptions_SetTimeout(j->opts, j->timeout) != NATS_OK ||
	    natsOptions_SetName(j->opts, "hookline") != NATS_OK ||
	    /* Fail over at once, and never give up. */
	    natsOptions_SetMaxReconnect(j->opts, -1) != NATS_OK ||
	    natsOptions_SetReconnectWait(j->opts, 100) != NATS_OK ||
	    /* A publish in flight when the link drops answers RETRY now. */
	    natsOptions_SetFailRequestsOnDisconnect(j->opts, true) != NATS_OK ||
	    (creds != NULL &&
	        natsOptions_SetUserCredentialsFromFiles(j->opts, creds, NULL) !=
	            NATS_OK) ||
	    (user != NULL &&
	        natsOptions_SetUserInfo(j->opts, user, j->password) !=
	            NATS_OK)) {
		jetstream_log(j, "cannot set the connection's options",
		    NATS_ERR);
		return -1;
	}
	/* The options hold their own copy. */
	memset(j->password, 0, sizeof(j->password));
	return 0;
bad:
	j->host->log(j->host,
	    "HOOKLINE_PLUGIN_ARG: bad setting \"%s\"; expected subject= (letters, digits, \"-_.\" and {status}), servers=, stream=, timeout= (ms), creds=, or user= with password_file=",
	    k);
	return -1;
}

static void
disconnect(struct jetstream *j)
{
	jsCtx_Destroy(j->js);
	j->js = NULL;
	if (j->nc != NULL) {
		natsConnection_Close(j->nc);
		natsConnection_Destroy(j->nc);
	}
	j->nc = NULL;
}

/* Connects to the cluster; returns the status, NATS_OK when connected. */
static natsStatus
connect_nats(struct jetstream *j)
{
	natsStatus s = natsConnection_Connect(&j->nc, j->opts);

	if (s == NATS_OK)
		s = natsConnection_JetStream(&j->js, j->nc, NULL);
	if (s != NATS_OK) {
		jetstream_log(j, "cannot connect to NATS", s);
		disconnect(j);
	}
	return s;
}

static void
jetstream_fini(void *state)
{
	struct jetstream *j = state;

	if (j == NULL)
		return;
	disconnect(j);
	natsOptions_Destroy(j->opts);
	memset(j->password, 0, sizeof(j->password));
	free(j->words);
	free(j);
	/* The library's threads end with its last user. */
	if (--instances == 0)
		nats_CloseAndWait(CLOSE_WAIT_MS);
}

static int
jetstream_init(const struct hookline_host *host, const char *arg, void **state)
{
	struct jetstream *j = calloc(1, sizeof(*j));
	natsStatus s;

	if (j == NULL || (j->words = strdup(arg)) == NULL) {
		host->log(host, "out of memory");
		free(j);
		return -1;
	}
	j->host = host;
	instances++;
	if (parse(j) == -1)
		goto fail;
	/*
	 * A refused login is a configuration error (500, said now); a
	 * cluster that does not answer yet is an outage (503 per event).
	 */
	s = connect_nats(j);
	if (s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED)
		goto fail;
	*state = j;
	return 0;
fail:
	jetstream_fini(j);
	return -1;
}

/*
 * The subject for this event: the template with each {status} replaced
 * by the status reduced to a safe token.  out holds TEMPLATE_MAX bytes
 * plus STATUS_TOKEN_MAX per {status}: the caller sizes it.
 */
static void
subject_for(const char *template, const char *status, char *out)
{
	const char *p;
	char token[STATUS_TOKEN_MAX + 1];
	size_t n = 0;

	if (status != NULL)
		for (; n < STATUS_TOKEN_MAX && status[n] != '\0'; n++) {
			char c = status[n];

			token[n] = (c >= 'a' && c <= 'z') ||
			        (c >= 'A' && c <= 'Z') ||
			        (c >= '0' && c <= '9') || c == '-'
			    ? c
			    : '_';
		}
	if (n == 0)
		token[n++] = '_';
	token[n] = '\0';
	for (p = template; *p != '\0'; p++) {
		if (strncmp(p, STATUS_VAR, strlen(STATUS_VAR)) == 0) {
			memcpy(out, token, n);
			out += n;
			p += strlen(STATUS_VAR) - 1;
		} else
			*out++ = *p;
	}
	*out = '\0';
}

/* Whether s may travel as a header value: short, printable ASCII. */
static int
header_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++)
		if (s[n] < ' ' || s[n] > '~' || n >= HEADER_MAX)
			return 0;
	return n > 0;
}

/* Whether a failed publish may succeed if tried again in a moment. */
static int
transient(natsStatus s, jsErrCode jerr)
{
	return s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_DISCONNECTED ||
	    (s == NATS_ERR && jerr == JSClusterNotAvailErr);
}

static enum hookline_verdict
jetstream_handle(void *state, const struct hookline_event *ev)
{
	struct jetstream *j = state;
	/* At most TEMPLATE_MAX / 8 {status} in TEMPLATE_MAX bytes. */
	char subject[TEMPLATE_MAX + TEMPLATE_MAX / 8 * STATUS_TOKEN_MAX + 1];
	const char *delivery = NULL;
	enum hookline_verdict verdict = HOOKLINE_RETRY;
	natsMsg *msg = NULL;
	jsPubAck *ack = NULL;
	jsPubOptions po;
	jsErrCode jerr = 0;
	natsStatus s;
	int64_t deadline = nats_Now() + j->timeout;

	if (j->nc != NULL &&
	    natsConnection_Status(j->nc) == NATS_CONN_STATUS_CLOSED)
		disconnect(j);
	if (j->nc == NULL && connect_nats(j) != NATS_OK)
		return HOOKLINE_RETRY;
	if (ev->len > (size_t)natsConnection_GetMaxPayload(j->nc)) {
		j->host->log(j->host,
		    "event %s: %zu bytes, above the server's max_payload (%lld): rejected",
		    ev->id, ev->len,
		    (long long)natsConnection_GetMaxPayload(j->nc));
		return HOOKLINE_REJECT;
	}
	subject_for(j->subject, ev->status, subject);
	if (j->host->abi_minor >= 1)
		delivery = ev->delivery;
	s = natsMsg_Create(&msg, subject, NULL, ev->body, (int)ev->len);
	if (s == NATS_OK && header_ok(ev->scheme))
		s = natsMsgHeader_Set(msg, "Hookline-Scheme", ev->scheme);
	if (s == NATS_OK && header_ok(delivery))
		s = natsMsgHeader_Set(msg, "Hookline-Delivery", delivery);
	if (s != NATS_OK) {
		jetstream_log(j, "cannot build the message", s);
		goto done;
	}
	jsPubOptions_Init(&po);
	po.MsgId = ev->id; /* the stream's duplicate window keys on it */
	po.ExpectStream = j->stream;
	/*
	 * No leader for a moment (an election after a node died) or no link
	 * (failing over): try again until the timeout is spent.  The same
	 * Nats-Msg-Id makes a repeat harmless.
	 */
	for (int64_t left = j->timeout;;) {
		po.MaxWait = left;
		s = js_PublishMsg(&ack, j->js, msg, &po, &jerr);
		left = deadline - nats_Now();
		if (!transient(s, jerr) || left <= RETRY_PAUSE_MS)
			break;
		nats_Sleep(RETRY_PAUSE_MS);
		left -= RETRY_PAUSE_MS;
	}
	if (s == NATS_OK)
		verdict = HOOKLINE_OK;
	else if (s == NATS_TIMEOUT)
		j->host->log(j->host,
		    "publish %s to %s: no acknowledgement within %lld ms",
		    ev->id, subject, (long long)j->timeout);
	else if (s == NATS_NO_RESPONDERS)
		j->host->log(j->host,
		    "publish %s: no stream with a leader took subject %s within %lld ms",
		    ev->id, subject, (long long)j->timeout);
	else {
		char what[sizeof(subject) + 96];

		snprintf(what, sizeof(what), "publish %s to %s (error %d)",
		    ev->id, subject, (int)jerr);
		jetstream_log(j, what, s);
	}
done:
	jsPubAck_Destroy(ack);
	natsMsg_Destroy(msg);
	return verdict;
}

static const struct hookline_plugin jetstream_plugin = {
    .abi_major = HOOKLINE_PLUGIN_ABI_MAJOR,
    .abi_minor = HOOKLINE_PLUGIN_ABI_MINOR,
    .name = "jetstream",
    .init = jetstream_init,
    .handle = jetstream_handle,
    .fini = jetstream_fini,
};

const struct hookline_plugin *
hookline_plugin_entry(void)
{
	return &jetstream_plugin;
}
