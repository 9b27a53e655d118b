/*
 * redis.so: appends each verified event to a Redis stream with XADD, so
 * that several hookline hosts behind a load balancer feed one queue that
 * workers read with consumer groups (XREADGROUP).
 *
 * HOOKLINE_PLUGIN_ARG is blank-separated key=value words, all optional:
 *
 *   host=127.0.0.1 port=6379   where Redis listens (or socket=/path)
 *   stream=hookline            the stream key
 *   maxlen=0                   if > 0, XADD ... MAXLEN ~ maxlen
 *   timeout=2000               connect and command timeout, milliseconds
 *   password_file=/path        AUTH with the file's first line
 *
 * Each entry has the fields id (hex SHA-256 of the body), status (the
 * hotglue status, "" when absent) and body (the raw body).  One connection
 * per process, opened on first use and again after any failure.  When
 * Redis cannot take the event the verdict is RETRY (503): the sender
 * retries, nothing is lost, and a retry that Redis did take twice carries
 * the same id for consumers to deduplicate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <hookline/plugin.h>

#include "setting.h"

struct redis {
	const struct hookline_host *host;
	char *words; /* owned: the split argument */
	const char *addr; /* host name or address */
	const char *socket; /* Unix socket path, or NULL */
	const char *stream;
	char password[512]; /* empty when no AUTH */
	int port;
	long long maxlen;
	struct timeval timeout;
	redisContext *c; /* NULL when not connected */
};

static int
read_password(struct redis *r, const char *path)
{
	const char *why;

	if (setting_read_line(path, r->password, sizeof(r->password), &why) ==
	    -1) {
		r->host->log(r->host, "cannot read password_file %s: %s", path,
		    why);
		return -1;
	}
	return 0;
}

static int
redis_init(const struct hookline_host *host, const char *arg, void **state)
{
	struct redis *r = calloc(1, sizeof(*r));
	char *cursor, *w = NULL, *v = NULL;
	long long n;
	int more;

	if (r == NULL || (r->words = strdup(arg)) == NULL) {
		host->log(host, "out of memory");
		free(r);
		return -1;
	}
	r->host = host;
	r->addr = "127.0.0.1";
	r->port = 6379;
	r->stream = "hookline";
	r->timeout.tv_sec = 2;
	cursor = r->words;
	while ((more = setting_next(&cursor, &w, &v)) == 1) {
		if (strcmp(w, "host") == 0)
			r->addr = v;
		else if (strcmp(w, "socket") == 0)
			r->socket = v;
		else if (strcmp(w, "stream") == 0)
			r->stream = v;
		else if (strcmp(w, "port") == 0 &&
		    (n = setting_number(v, 1, 65535)) > 0)
			r->port = (int)n;
		else if (strcmp(w, "maxlen") == 0 &&
		    (n = setting_number(v, 0, 1LL << 40)) >= 0)
			r->maxlen = n;
		else if (strcmp(w, "timeout") == 0 &&
		    (n = setting_number(v, 1, 600000)) > 0) {
			r->timeout.tv_sec = n / 1000;
			r->timeout.tv_usec = (n % 1000) * 1000;
		} else if (strcmp(w, "password_file") == 0) {
			if (read_password(r, v) == -1)
				goto fail;
		} else {
			setting_rejoin(w, v); /* to quote the setting whole */
			goto bad;
		}
	}
	if (more == 0) {
		*state = r;
		return 0;
	}
bad:
	host->log(host,
	    "HOOKLINE_PLUGIN_ARG: bad setting \"%s\"; expected host=, port=, socket=, stream=, maxlen=, timeout= (ms) or password_file=",
	    w);
fail:
	memset(r->password, 0, sizeof(r->password));
	free(r->words);
	free(r);
	return -1;
}

static void
disconnect(struct redis *r)
{
	if (r->c != NULL)
		redisFree(r->c);
	r->c = NULL;
}

static void
redis_fini(void *state)
{
	struct redis *r = state;

	if (r == NULL)
		return;
	disconnect(r);
	memset(r->password, 0, sizeof(r->password));
	free(r->words);
	free(r);
}

/* Sends one command; returns its reply, or NULL with the link dropped. */
static redisReply *
command(struct redis *r, int argc, const char **argv, const size_t *lens)
{
	redisReply *reply = redisCommandArgv(r->c, argc, argv, lens);

	if (reply == NULL) {
		r->host->log(r->host, "redis: %s", r->c->errstr);
		disconnect(r);
	}
	return reply;
}

static int
connect_redis(struct redis *r)
{
	const char *argv[2] = {"AUTH", r->password};
	redisReply *reply;

	r->c = r->socket
	    ? redisConnectUnixWithTimeout(r->socket, r->timeout)
	    : redisConnectWithTimeout(r->addr, r->port, r->timeout);
	if (r->c == NULL || r->c->err) {
		r->host->log(r->host, "cannot connect to redis at %s:%d: %s",
		    r->socket ? r->socket : r->addr, r->socket ? 0 : r->port,
		    r->c ? r->c->errstr : "out of memory");
		disconnect(r);
		return -1;
	}
	if (redisSetTimeout(r->c, r->timeout) != REDIS_OK) {
		disconnect(r);
		return -1;
	}
	if (r->password[0] == '\0')
		return 0;
	if ((reply = command(r, 2, argv, NULL)) == NULL)
		return -1;
	if (reply->type == REDIS_REPLY_ERROR) {
		r->host->log(r->host, "redis AUTH: %s", reply->str);
		freeReplyObject(reply);
		disconnect(r);
		return -1;
	}
	freeReplyObject(reply);
	return 0;
}

static enum hookline_verdict
redis_handle(void *state, const struct hookline_event *ev)
{
	struct redis *r = state;
	char maxlen[24];
	const char *argv[12];
	size_t lens[12];
	redisReply *reply;
	int argc = 0;

#define ARG(s, n) (argv[argc] = (s), lens[argc++] = (n))
	ARG("XADD", 4);
	ARG(r->stream, strlen(r->stream));
	if (r->maxlen > 0) {
		snprintf(maxlen, sizeof(maxlen), "%lld", r->maxlen);
		ARG("MAXLEN", 6);
		ARG("~", 1);
		ARG(maxlen, strlen(maxlen));
	}
	ARG("*", 1);
	ARG("id", 2);
	ARG(ev->id, strlen(ev->id));
	ARG("status", 6);
	ARG(ev->status ? ev->status : "", ev->status ? strlen(ev->status) : 0);
	ARG("body", 4);
	ARG(ev->body, ev->len);
#undef ARG
	/* A second try on a fresh link: Redis may have restarted since. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (r->c == NULL && connect_redis(r) == -1)
			return HOOKLINE_RETRY;
		if ((reply = command(r, argc, argv, lens)) == NULL)
			continue;
		if (reply->type == REDIS_REPLY_ERROR) {
			r->host->log(r->host, "redis XADD %s: %s", r->stream,
			    reply->str);
			freeReplyObject(reply);
			return HOOKLINE_RETRY;
		}
		freeReplyObject(reply);
		return HOOKLINE_OK;
	}
	return HOOKLINE_RETRY;
}

static const struct hookline_plugin redis_plugin = {
    .abi_major = HOOKLINE_PLUGIN_ABI_MAJOR,
    .abi_minor = HOOKLINE_PLUGIN_ABI_MINOR,
    .name = "redis",
    .init = redis_init,
    .handle = redis_handle,
    .fini = redis_fini,
};

const struct hookline_plugin *
hookline_plugin_entry(void)
{
	return &redis_plugin;
}
