/*
 * verdict.c: a test plugin that answers what its argument says and
 * records what it was given.  HOOKLINE_PLUGIN_ARG words:
 *
 *   ok | retry | reject | abort | bogus   the verdict (abort: abort()s)
 *   record=/path   appends "init", "handle <fields>" and "fini" lines
 *   log=/path      answers REJECT unless the event's id is already in that
 *                  file: proves that the log is written before the plugin
 *   sleep=N        init takes N seconds (a database that is down)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hookline/plugin.h>

struct state {
	const struct hookline_host *host;
	char mode[16];
	char record[256];
	char log[256];
};

/* Appends "what rest\n" to the record file, if there is one. */
static void
record(const struct state *s, const char *what, const char *rest)
{
	char line[2048];
	int fd, n;

	if (s->record[0] == '\0')
		return;
	n = snprintf(line, sizeof(line), "%s%s%s\n", what, *rest ? " " : "",
	    rest);
	if ((fd = open(s->record, O_WRONLY | O_APPEND | O_CREAT, 0644)) == -1)
		return;
	if (write(fd, line, (size_t)n) != n)
		s->host->log(s->host, "short write to %s", s->record);
	close(fd);
}

static int
v_init(const struct hookline_host *host, const char *arg, void **out)
{
	struct state *s = calloc(1, sizeof(*s));
	char buf[600], *w, *save = NULL;

	if (s == NULL)
		return -1;
	s->host = host;
	snprintf(buf, sizeof(buf), "%s", arg);
	strcpy(s->mode, "ok");
	for (w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
		if (strncmp(w, "record=", 7) == 0)
			snprintf(s->record, sizeof(s->record), "%s", w + 7);
		else if (strncmp(w, "log=", 4) == 0)
			snprintf(s->log, sizeof(s->log), "%s", w + 4);
		else if (strncmp(w, "sleep=", 6) == 0)
			sleep((unsigned)atoi(w + 6));
		else
			snprintf(s->mode, sizeof(s->mode), "%s", w);
	record(s, "init", arg);
	*out = s;
	return 0;
}

static int
in_log(const struct state *s, const char *id)
{
	static char buf[1 << 20];
	FILE *f = fopen(s->log, "r");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, id) != NULL;
}

static enum hookline_verdict
v_handle(void *state, const struct hookline_event *ev)
{
	struct state *s = state;
	char fields[1024];

	snprintf(fields, sizeof(fields), "%s %zu %s %s %s %s %s %s %s", ev->id,
	    ev->len, ev->scheme ? ev->scheme : "-",
	    ev->remote ? ev->remote : "-", ev->status ? ev->status : "-",
	    ev->job_id ? ev->job_id : "-", ev->flow_id ? ev->flow_id : "-",
	    ev->tenant ? ev->tenant : "-", s->mode);
	record(s, "handle", fields);
	if (s->log[0] != '\0' && !in_log(s, ev->id)) {
		s->host->log(s->host, "event %s is not in the log yet", ev->id);
		return HOOKLINE_REJECT;
	}
	if (strcmp(s->mode, "retry") == 0)
		return HOOKLINE_RETRY;
	if (strcmp(s->mode, "reject") == 0)
		return HOOKLINE_REJECT;
	if (strcmp(s->mode, "abort") == 0)
		abort();
	if (strcmp(s->mode, "bogus") == 0)
		return (enum hookline_verdict)42;
	return HOOKLINE_OK;
}

static void
v_fini(void *state)
{
	struct state *s = state;

	record(s, "fini", "");
	free(s);
}

static const struct hookline_plugin verdict = {
	.abi_major = HOOKLINE_PLUGIN_ABI_MAJOR,
	.abi_minor = HOOKLINE_PLUGIN_ABI_MINOR,
	.name = "verdict",
	.init = v_init,
	.handle = v_handle,
	.fini = v_fini,
};

const struct hookline_plugin *
hookline_plugin_entry(void)
{
	return &verdict;
}
