/*
 * postgres.so: inserts each verified event into a PostgreSQL table and
 * acknowledges it only once the commit returned, so that several hookline
 * hosts behind a load balancer feed one table that workers take rows from
 * with SELECT ... FOR UPDATE SKIP LOCKED.
 *
 * HOOKLINE_PLUGIN_ARG is blank-separated key=value words:
 *
 *   table=NAME        required: the table (or schema.table), whose DDL
 *                     hookline-postgres(3) gives
 *   timeout=5000      what each event may take, milliseconds: connecting,
 *                     inserting, trying again while the server is down
 *   anything else     a libpq connection keyword (host=, port=, dbname=,
 *                     user=, sslmode=, passfile=, ...), passed as it is
 *
 * password= is refused: the password comes from ~/.pgpass or the file
 * that PGPASSFILE (or passfile=) names, never from the argument.  Values
 * cannot hold blanks; a dbname= is never read as a connection string.
 *
 * Each event is one autocommitted statement, prepared once per connection:
 *
 *   INSERT INTO table (id, received, scheme, delivery, status, body, raw)
 *   VALUES ($1, now(), $2, $3, $4, COALESCE($6, $5)::jsonb, $5)
 *   ON CONFLICT (id) DO NOTHING
 *
 * with the body sent once, byte for byte, as the text $5; $6 is NULL but
 * for a body that starts with a byte order mark, which hookline accepts
 * and jsonb does not: then it is the body after the mark.  A session whose
 * synchronous_commit is off gets it set on: a commit that returned is on
 * disk.  OK once the statement completed (a retry of a stored event
 * completes too, adding no row); RETRY (503) when the server cannot be
 * reached, does not answer within the timeout or fails the statement;
 * REJECT (422) when PostgreSQL refuses the data itself (SQLSTATE classes
 * 22 and 54, e.g. a \u0000 that jsonb cannot hold).  One connection per
 * process, made in init(); after it broke, or while the server is down or
 * starting up, an event tries again (a fresh connection, every 100 ms)
 * until the timeout is spent: a restart shorter than that costs no 503.
 *
 * init() fails (500, with the server's reason) when the server refuses the
 * login or, once connected, the INSERT does not prepare (no such table or
 * column, no unique index on id, no privilege); a server that is down then
 * is no configuration error: init() succeeds and events get 503 until it
 * is back.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <hookline/plugin.h>

#include "setting.h"

#define MAX_KEYWORDS 48
#define IDENT_MAX 63 /* PostgreSQL's NAMEDATALEN - 1 */
#define STMT "hookline_insert"
#define TEXTOID 25 /* pg_type.oid of text */
#define NPARAMS 6 /* of the INSERT */
#define BOM "\xef\xbb\xbf" /* UTF-8's byte order mark */
#define RETRY_PAUSE_MS 100 /* between tries while the server is down */

struct postgres {
	const struct hookline_host *host;
	char *words; /* owned: the split argument */
	/* libpq keywords and values, into words, NULL-terminated */
	const char *keys[MAX_KEYWORDS + 3];
	const char *values[MAX_KEYWORDS + 3];
	int nkeys;
	const char *table; /* into words */
	int timeout; /* milliseconds */
	char sql[256 + 2 * IDENT_MAX];
	PGconn *conn; /* NULL when not connected */
	int login_refused; /* the last connect failed at authentication */
	char why[600]; /* the last failure, one line */
};

/* Sets p->why from prefix and text, on one line. */
static void
set_why(struct postgres *p, const char *prefix, const char *text)
{
	size_t n;
	char *c;

	snprintf(p->why, sizeof(p->why), "%s%s", prefix, text ? text : "");
	for (c = p->why; *c != '\0'; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
	for (n = strlen(p->why); n > 0 && p->why[n - 1] == ' '; n--)
		p->why[n - 1] = '\0';
}

/* Whether s[0..n) is an unquoted SQL identifier. */
static int
ident_ok(const char *s, size_t n)
{
	if (n == 0 || n > IDENT_MAX || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z') ||
		        (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/* Whether s is NAME or SCHEMA.NAME, unquoted. */
static int
table_ok(const char *s)
{
	const char *dot = strchr(s, '.');

	if (dot == NULL)
		return ident_ok(s, strlen(s));
	return ident_ok(s, (size_t)(dot - s)) &&
	    ident_ok(dot + 1, strlen(dot + 1));
}

/* Whether key is one of libpq's connection keywords. */
static int
libpq_keyword(const char *key)
{
	PQconninfoOption *all = PQconndefaults(), *o;
	int found = 0;

	for (o = all; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, key) == 0)
			found = 1;
	PQconninfoFree(all);
	return found;
}

/* Adds key=value unless the argument gave key. */
static void
default_keyword(struct postgres *p, const char *key, const char *value)
{
	for (int i = 0; i < p->nkeys; i++)
		if (strcmp(p->keys[i], key) == 0)
			return;
	p->keys[p->nkeys] = key;
	p->values[p->nkeys++] = value;
}

/* Reads the settings into p; returns 0, or -1 with the reason logged. */
static int
parse(struct postgres *p)
{
	char *cursor = p->words, *k, *v;
	long long n;
	int r;

	p->timeout = 5000;
	while ((r = setting_next(&cursor, &k, &v)) != 0) {
		if (r == -1)
			goto bad;
		if (strcmp(k, "table") == 0 && table_ok(v))
			p->table = v;
		else if (strcmp(k, "timeout") == 0 &&
		    (n = setting_number(v, 1, 600000)) > 0)
			p->timeout = (int)n;
		else if (strcmp(k, "password") == 0) {
			p->host->log(p->host,
			    "HOOKLINE_PLUGIN_ARG: password= is refused: put the password in ~/.pgpass, or in the file that PGPASSFILE or passfile= names");
			return -1;
		} else if (strcmp(k, "table") != 0 &&
		    strcmp(k, "timeout") != 0 && libpq_keyword(k) &&
		    p->nkeys < MAX_KEYWORDS) {
			p->keys[p->nkeys] = k;
			p->values[p->nkeys++] = v;
		} else {
			setting_rejoin(k, v);
			goto bad;
		}
	}
	if (p->table == NULL) {
		p->host->log(p->host,
		    "HOOKLINE_PLUGIN_ARG: table= is required (the table to insert into; hookline-postgres(3) gives its DDL)");
		return -1;
	}
	default_keyword(p, "application_name", "hookline");
	/* The body is UTF-8, whatever the argument or the locale says (the
	 * last of a keyword's values counts). */
	p->keys[p->nkeys] = "client_encoding";
	p->values[p->nkeys++] = "UTF8";
	p->keys[p->nkeys] = p->values[p->nkeys] = NULL;
	snprintf(p->sql, sizeof(p->sql),
	    "INSERT INTO %s (id, received, scheme, delivery, status, body, raw) VALUES ($1, now(), $2, $3, $4, COALESCE($6, $5)::jsonb, $5) ON CONFLICT (id) DO NOTHING",
	    p->table);
	return 0;
bad:
	p->host->log(p->host,
	    "HOOKLINE_PLUGIN_ARG: bad setting \"%s\"; expected table= (an SQL name), timeout= (ms) or a libpq connection keyword (host=, port=, dbname=, user=, passfile=, sslmode=, ...)",
	    k);
	return -1;
}

/* Milliseconds until deadline, at least 0. */
static int
ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000LL +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 600000 ? 600000 : (int)ms;
}

/*
 * Waits for events on the connection's socket until the deadline.
 * Returns 1 when ready, 0 at the deadline, -1 on error (p->why set).
 */
static int
wait_socket(struct postgres *p, short events, const struct timespec *deadline)
{
	struct pollfd pfd = {.fd = PQsocket(p->conn), .events = events};

	if (pfd.fd < 0) {
		set_why(p, "", PQerrorMessage(p->conn));
		return -1;
	}
	for (;;) {
		int ms = ms_left(deadline), r;

		if (ms == 0) {
			snprintf(p->why, sizeof(p->why),
			    "no answer within %d ms", p->timeout);
			return 0;
		}
		if ((r = poll(&pfd, 1, ms)) > 0)
			return 1;
		if (r == -1 && errno != EINTR) {
			set_why(p, "poll: ", strerror(errno));
			return -1;
		}
	}
}

static void
disconnect(struct postgres *p)
{
	PQfinish(p->conn);
	p->conn = NULL;
}

/*
 * Flushes what PQsend*() queued and returns the command's last result
 * (the caller PQclear()s it), or NULL with p->why set when the deadline
 * passed or the link failed.
 */
static PGresult *
await_result(struct postgres *p, const struct timespec *deadline)
{
	PGresult *r, *last = NULL;
	int f;

	while ((f = PQflush(p->conn)) == 1)
		if (wait_socket(p, POLLIN | POLLOUT, deadline) <= 0)
			return NULL;
		else if (!PQconsumeInput(p->conn))
			goto broken;
	if (f == -1)
		goto broken;
	for (;;) {
		while (PQisBusy(p->conn))
			if (wait_socket(p, POLLIN, deadline) <= 0) {
				PQclear(last);
				return NULL;
			} else if (!PQconsumeInput(p->conn))
				goto broken;
		if ((r = PQgetResult(p->conn)) == NULL)
			break;
		PQclear(last);
		last = r;
	}
	if (last != NULL)
		return last;
broken:
	PQclear(last);
	set_why(p, "", PQerrorMessage(p->conn));
	return NULL;
}

/* The result's SQLSTATE, "" when it has none. */
static const char *
sqlstate(const PGresult *r)
{
	const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return s != NULL ? s : "";
}

/*
 * Awaits the result of what was sent (sent: what PQsend*() returned) and
 * checks its status.  Returns 0; 1 when the server refused it, p->why
 * then naming what and the server's reason; -1 when the link failed.
 */
static int
check_result(struct postgres *p, int sent, ExecStatusType want,
    const char *what, const struct timespec *deadline)
{
	char line[sizeof(p->why)];
	PGresult *r;
	const char *msg;
	int ret = 0;

	if (!sent) {
		set_why(p, "", PQerrorMessage(p->conn));
		return -1;
	}
	if ((r = await_result(p, deadline)) == NULL)
		return -1;
	if (PQresultStatus(r) != want) {
		msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		snprintf(line, sizeof(line), "%s: %s (SQLSTATE %s)", what,
		    msg != NULL ? msg : PQresultErrorMessage(r), sqlstate(r));
		set_why(p, "", line);
		ret = PQstatus(p->conn) == CONNECTION_BAD ? -1 : 1;
	}
	PQclear(r);
	return ret;
}

/*
 * Makes a connected session ready: synchronous_commit on if it was off,
 * the INSERT prepared and planned once (planning checks the privileges,
 * which PREPARE does not).  Returns 0, 1 when the server refused the
 * INSERT (p->why says why: no such table, ...), -1 when the link failed.
 */
static int
prepare(struct postgres *p, const struct timespec *deadline)
{
	static const Oid types[NPARAMS] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	    TEXTOID, TEXTOID};
	char what[IDENT_MAX * 2 + 16];
	int r;

	r = check_result(p,
	    PQsendQuery(p->conn,
	        "SELECT set_config('synchronous_commit', 'on', false) WHERE current_setting('synchronous_commit') = 'off'"),
	    PGRES_TUPLES_OK, "synchronous_commit", deadline);
	if (r != 0)
		return r;
	snprintf(what, sizeof(what), "table %s", p->table);
	r = check_result(p,
	    PQsendPrepare(p->conn, STMT, p->sql, NPARAMS, types),
	    PGRES_COMMAND_OK, what, deadline);
	if (r != 0)
		return r;
	return check_result(p,
	    PQsendQuery(p->conn,
	        "EXPLAIN EXECUTE " STMT "('', NULL, NULL, NULL, '{}', NULL)"),
	    PGRES_TUPLES_OK, what, deadline);
}

/*
 * Connects and prepares before the deadline.  Returns 0, 1 when the
 * server refused the INSERT, -1 when there is no usable connection
 * (p->login_refused says whether the login was refused).  p->why says
 * why; p->conn is NULL unless 0 is returned.
 */
static int
connect_pg(struct postgres *p, const struct timespec *deadline)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int r;

	p->login_refused = 0;
	if ((p->conn = PQconnectStartParams(p->keys, p->values, 0)) == NULL) {
		set_why(p, "", "out of memory");
		return -1;
	}
	if (PQstatus(p->conn) == CONNECTION_BAD)
		st = PGRES_POLLING_FAILED;
	while (st == PGRES_POLLING_READING || st == PGRES_POLLING_WRITING) {
		r = wait_socket(p,
		    st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
		if (r <= 0) {
			disconnect(p);
			return -1;
		}
		st = PQconnectPoll(p->conn);
	}
	if (st != PGRES_POLLING_OK) {
		set_why(p, "", PQerrorMessage(p->conn));
		p->login_refused = PQconnectionNeedsPassword(p->conn) ||
		    PQconnectionUsedPassword(p->conn);
		disconnect(p);
		return -1;
	}
	if (PQsetnonblocking(p->conn, 1) != 0) {
		set_why(p, "", PQerrorMessage(p->conn));
		disconnect(p);
		return -1;
	}
	if ((r = prepare(p, deadline)) != 0)
		disconnect(p);
	return r;
}

static void
deadline_in(struct timespec *t, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

static void
postgres_fini(void *state)
{
	struct postgres *p = state;

	if (p == NULL)
		return;
	disconnect(p);
	free(p->words);
	free(p);
}

static int
postgres_init(const struct hookline_host *host, const char *arg, void **state)
{
	struct postgres *p = calloc(1, sizeof(*p));
	struct timespec deadline;
	int r;

	if (p == NULL || (p->words = strdup(arg)) == NULL) {
		host->log(host, "out of memory");
		free(p);
		return -1;
	}
	p->host = host;
	if (parse(p) == -1)
		goto fail;
	/*
	 * A refused login or a table that does not fit is a configuration
	 * error (500, said now); a server that is down is an outage (503
	 * per event until it is back).
	 */
	deadline_in(&deadline, p->timeout);
	if ((r = connect_pg(p, &deadline)) != 0) {
		if (r == 1 || p->login_refused) {
			host->log(host, "%s", p->why);
			goto fail;
		}
		host->log(host, "cannot connect yet (events get 503): %s",
		    p->why);
	}
	*state = p;
	return 0;
fail:
	postgres_fini(p);
	return -1;
}

/* What one try at inserting an event came to. */
enum try {
	TRY_OK,
	TRY_REJECT, /* PostgreSQL refuses the data: 422 */
	TRY_FAILED, /* the statement failed: 503 at once */
	TRY_NO_LINK, /* no connection: again after a pause */
	TRY_BROKEN /* the link broke (a restart): again */
};

/*
 * One try at the INSERT, connecting first if need be.  p->why says what
 * went wrong; the connection is dropped unless the try succeeded or the
 * data was refused.
 */
static enum try
try_insert(struct postgres *p, const char *const values[NPARAMS],
    const int lengths[NPARAMS], const int formats[NPARAMS],
    const struct timespec *deadline)
{
	char line[sizeof(p->why)];
	const char *code, *msg;
	enum try t;
	PGresult *r;
	int c;

	if (p->conn == NULL && (c = connect_pg(p, deadline)) != 0)
		return c == 1 ? TRY_FAILED : TRY_NO_LINK;
	if (!PQsendQueryPrepared(p->conn, STMT, NPARAMS, values, lengths,
	        formats, 0)) {
		set_why(p, "", PQerrorMessage(p->conn));
		disconnect(p);
		return TRY_BROKEN;
	}
	r = await_result(p, deadline);
	if (r == NULL || PQstatus(p->conn) == CONNECTION_BAD) {
		if (r != NULL)
			set_why(p, "", PQresultErrorMessage(r));
		PQclear(r);
		disconnect(p);
		return TRY_BROKEN;
	}
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		PQclear(r);
		return TRY_OK;
	}
	code = sqlstate(r);
	/* Data the server will never take: retrying cannot help. */
	t = strncmp(code, "22", 2) == 0 || strncmp(code, "54", 2) == 0
	    ? TRY_REJECT
	    : TRY_FAILED;
	msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	snprintf(line, sizeof(line), "insert into %s: %s (SQLSTATE %s)",
	    p->table, msg != NULL ? msg : PQresultErrorMessage(r), code);
	set_why(p, "", line);
	PQclear(r);
	/*
	 * Whatever else failed (a standby after a failover, a statement a
	 * pooler discarded), the next event starts on a fresh connection.
	 */
	if (t == TRY_FAILED)
		disconnect(p);
	return t;
}

static enum hookline_verdict
postgres_handle(void *state, const struct hookline_event *ev)
{
	struct postgres *p = state;
	const char *delivery = p->host->abi_minor >= 1 ? ev->delivery : NULL;
	size_t bom = ev->len >= 3 && memcmp(ev->body, BOM, 3) == 0 ? 3 : 0;
	const char *const values[NPARAMS] = {ev->id, ev->scheme, delivery,
	    ev->status, ev->body, bom ? ev->body + bom : NULL};
	/* The body goes as text in binary form: its exact bytes, once. */
	const int lengths[NPARAMS] = {0, 0, 0, 0, (int)ev->len,
	    (int)(ev->len - bom)};
	const int formats[NPARAMS] = {0, 0, 0, 0, 1, 1};
	struct timespec deadline;
	enum try t;

	if (ev->len > 0x3fffffff) {
		p->host->log(p->host,
		    "event %s: %zu bytes, too large: rejected", ev->id,
		    ev->len);
		return HOOKLINE_REJECT;
	}
	deadline_in(&deadline, p->timeout);
	/*
	 * A server that restarted is found again at once; one that is down
	 * or starting up is tried again until the timeout is spent.  An
	 * INSERT whose answer was lost and that is sent again adds no row.
	 */
	for (int tries = 0;; tries++) {
		t = try_insert(p, values, lengths, formats, &deadline);
		if (t == TRY_OK)
			return HOOKLINE_OK;
		if (t == TRY_REJECT) {
			p->host->log(p->host, "event %s: %s: rejected", ev->id,
			    p->why);
			return HOOKLINE_REJECT;
		}
		if (t == TRY_FAILED || p->login_refused ||
		    ms_left(&deadline) <= RETRY_PAUSE_MS)
			break;
		if (t == TRY_NO_LINK || tries > 0)
			poll(NULL, 0, RETRY_PAUSE_MS);
	}
	p->host->log(p->host, "event %s: %s", ev->id, p->why);
	return HOOKLINE_RETRY;
}

static const struct hookline_plugin postgres_plugin = {
    .abi_major = HOOKLINE_PLUGIN_ABI_MAJOR,
    .abi_minor = HOOKLINE_PLUGIN_ABI_MINOR,
    .name = "postgres",
    .init = postgres_init,
    .handle = postgres_handle,
    .fini = postgres_fini,
};

const struct hookline_plugin *
hookline_plugin_entry(void)
{
	return &postgres_plugin;
}
