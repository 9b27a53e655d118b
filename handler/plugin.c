/*
 * plugin.c: loads plugins (docs/design.md, hookline/plugin.h) and
 * hands them verified events.
 *
 * A plugin is loaded the first time a request names it and stays loaded
 * while it is among the PLUGIN_SLOTS (path, argument) pairs used last:
 * init() once per pair, fini() when it is pushed out or at exit.  The
 * bound matters in CGI mode and in a FastCGI pool that takes its
 * settings from the requests: an argument that varies must not open a
 * new instance (and its sockets) per value.  A refused plugin is not
 * remembered, so a fixed file is picked up by the next request without a
 * restart.
 *
 * Built with HOOKLINE_STATIC (configure --enable-static-binaries,
 * scripts/static) hookline has no dynamic loader: bare names are the
 * plugins linked in (builtin.c) and a path is refused.  Only plugin_path()
 * and plugin_load() differ between the two builds.
 */
#include "config.h"

#ifndef HOOKLINE_STATIC
#include <dlfcn.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline.h"
#include "hookline/plugin.h"

#ifndef PKGLIBDIR
#define PKGLIBDIR "/usr/local/lib/hookline"
#endif

struct hl_plugin {
	char *path; /* owned, as resolved */
	char *arg; /* owned */
	void *dl; /* dlopen handle; NULL when static */
	const struct hookline_plugin *desc;
	void *state; /* the plugin's, from init() */
	int initialised; /* init() succeeded: fini() is owed */
	struct hookline_host host; /* host.priv points back here */
	struct hl_io *io; /* the request being handled, or NULL */
};

/* As many plugin instances as the configuration cache has entries. */
#define PLUGIN_SLOTS 4

/* The loaded plugins, most recently used first. */
struct hl_plugins {
	struct hl_plugin *slot[PLUGIN_SLOTS]; /* NULL where unused */
};

static void
host_log(const struct hookline_host *host, const char *fmt, ...)
{
	const struct hl_plugin *p = host->priv;
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	io_log(p->io, "plugin %s: %s", p->desc->name, msg);
}

/* Calls fini() if init() succeeded, unloads and frees; NULL does nothing. */
static void
plugin_free(struct hl_plugin *p)
{
	if (p == NULL)
		return;
	if (p->initialised)
		p->desc->fini(p->state);
#ifndef HOOKLINE_STATIC
	if (p->dl != NULL)
		dlclose(p->dl);
#endif
	free(p->path);
	free(p->arg);
	free(p);
}

/* Checks the descriptor; returns NULL or what is wrong with it. */
static const char *
desc_problem(const struct hookline_plugin *d)
{
	if (d == NULL)
		return "hookline_plugin_entry() returned NULL";
	if (d->abi_major != HOOKLINE_PLUGIN_ABI_MAJOR)
		return "it was built for another major version of the ABI";
	if (d->abi_minor > HOOKLINE_PLUGIN_ABI_MINOR)
		return "it was built for a newer minor version of the ABI";
	if (d->name == NULL || d->init == NULL || d->handle == NULL ||
	    d->fini == NULL)
		return "its descriptor is incomplete (name, init, handle and fini are required)";
	return NULL;
}

#ifdef HOOKLINE_STATIC
#define STATIC_REFUSAL                                                         \
	"this hookline is statically linked and loads no shared objects; "     \
	"built in: "

/* A bare name stays as it is: it names a built-in plugin. */
static enum hl_err
plugin_path(const char *name, char *path, size_t pl, struct hl_why *why)
{
	if (strchr(name, '/') != NULL) {
		why_set(why,
		    "HOOKLINE_PLUGIN: cannot load %.200s: " STATIC_REFUSAL "%s",
		    name, builtin_names());
		return HL_ECONFIG;
	}
	snprintf(path, pl, "%s", name);
	return HL_OK;
}

/* Sets p->desc to the built-in plugin named p->path. */
static enum hl_err
plugin_load(struct hl_plugin *p, struct hl_why *why)
{
	if ((p->desc = builtin_plugin(p->path)) == NULL) {
		why_set(why,
		    "HOOKLINE_PLUGIN: no plugin \"%.200s\": " STATIC_REFUSAL
		    "%s",
		    p->path, builtin_names());
		return HL_ECONFIG;
	}
	return HL_OK;
}
#else
/* A bare name ("exec") is PKGLIBDIR/exec.so: it never leaves that
 * directory. */
static enum hl_err
plugin_path(const char *name, char *path, size_t pl, struct hl_why *why)
{
	if (strchr(name, '/') == NULL)
		snprintf(path, pl, "%s/%s.so", PKGLIBDIR, name);
	else if (name[0] != '/') {
		why_set(why,
		    "HOOKLINE_PLUGIN must be an absolute path or a bare plugin name, not \"%.200s\"",
		    name);
		return HL_ECONFIG;
	} else
		snprintf(path, pl, "%s", name);
	return HL_OK;
}

/* dlopen()s p->path and sets p->desc to what its entry function returns. */
static enum hl_err
plugin_load(struct hl_plugin *p, struct hl_why *why)
{
	const struct hookline_plugin *(*entry)(void);

	if ((p->dl = dlopen(p->path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		why_set(why, "HOOKLINE_PLUGIN: cannot load %s: %s", p->path,
		    dlerror());
		return HL_ECONFIG;
	}
	/* POSIX's way of turning the symbol into a function pointer. */
	*(void **)&entry = dlsym(p->dl, HOOKLINE_PLUGIN_ENTRY);
	if (entry == NULL) {
		why_set(why, "HOOKLINE_PLUGIN: %s does not export %s()",
		    p->path, HOOKLINE_PLUGIN_ENTRY);
		return HL_ECONFIG;
	}
	p->desc = entry();
	return HL_OK;
}
#endif

/* Loads p->path and checks its descriptor; *p gets a new plugin. */
static enum hl_err
plugin_open(struct hl_plugin *p, struct hl_why *why)
{
	const char *problem;

	if (plugin_load(p, why) != HL_OK)
		return HL_ECONFIG;
	if ((problem = desc_problem(p->desc)) != NULL) {
		why_set(why,
		    "HOOKLINE_PLUGIN: refusing %s: %s (ABI %u.%u, hookline has %u.%u)",
		    p->path, problem, p->desc ? p->desc->abi_major : 0,
		    p->desc ? p->desc->abi_minor : 0, HOOKLINE_PLUGIN_ABI_MAJOR,
		    HOOKLINE_PLUGIN_ABI_MINOR);
		return HL_ECONFIG;
	}
	p->host.abi_major = HOOKLINE_PLUGIN_ABI_MAJOR;
	p->host.abi_minor = HOOKLINE_PLUGIN_ABI_MINOR;
	p->host.log = host_log;
	p->host.priv = p;
	if (p->desc->init(&p->host, p->arg, &p->state) != 0) {
		p->state = NULL;
		why_set(why,
		    "HOOKLINE_PLUGIN: %s (%s): init failed; see the plugin's lines above",
		    p->desc->name, p->path);
		return HL_ECONFIG;
	}
	p->initialised = 1;
	return HL_OK;
}

/* No plugin loaded yet; NULL when out of memory. */
struct hl_plugins *
plugin_cache_new(void)
{
	return calloc(1, sizeof(struct hl_plugins));
}

/* Calls every loaded plugin's fini() and unloads it; NULL does nothing. */
void
plugin_cache_free(struct hl_plugins *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < PLUGIN_SLOTS; i++)
		plugin_free(c->slot[i]);
	free(c);
}

/* Moves slot i to the front, pushing the others back one. */
static void
to_front(struct hl_plugins *c, int i)
{
	struct hl_plugin *p = c->slot[i];

	memmove(&c->slot[1], &c->slot[0], (size_t)i * sizeof(p));
	c->slot[0] = p;
}

/*
 * The loaded plugin that req's configuration names (HOOKLINE_PLUGIN: an
 * absolute path, or a bare name such as "exec" for PKGLIBDIR/exec.so:
 * bare names never leave that directory) with its HOOKLINE_PLUGIN_ARG,
 * loading and initialising it on first use; the least recently used of
 * PLUGIN_SLOTS instances is unloaded to make room.  Returns HL_OK, or
 * HL_ECONFIG / HL_EINTERNAL with req->why set.
 */
enum hl_err
plugin_get(struct hl_plugins *c, struct hl_request *req, struct hl_plugin **out)
{
	const char *name = req->cfg->plugin, *arg = req->cfg->plugin_arg;
	struct hl_why *why = &req->why;
	char path[4096];
	struct hl_plugin *p;
	enum hl_err rc;
	int i;

	if ((rc = plugin_path(name, path, sizeof(path), why)) != HL_OK)
		return rc;
	for (i = 0; i < PLUGIN_SLOTS && c->slot[i] != NULL; i++)
		if (strcmp(c->slot[i]->path, path) == 0 &&
		    strcmp(c->slot[i]->arg, arg) == 0) {
			to_front(c, i);
			*out = c->slot[0];
			return HL_OK;
		}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->path = strdup(path)) == NULL ||
	    (p->arg = strdup(arg)) == NULL) {
		plugin_free(p);
		why_set(why, "out of memory loading a plugin");
		return HL_EINTERNAL;
	}
	p->io = req->io;
	rc = plugin_open(p, why);
	p->io = NULL;
	if (rc != HL_OK) {
		plugin_free(p);
		return rc;
	}
	if (i == PLUGIN_SLOTS) {
		i = PLUGIN_SLOTS - 1;
		plugin_free(c->slot[i]);
	}
	c->slot[i] = p;
	to_front(c, i);
	*out = p;
	return HL_OK;
}

/*
 * Hands req's event to plugin p, with the fields it is borrowed for the
 * call.  Returns HL_OK, HL_ESTORE (the plugin asked for a retry) or
 * HL_EREJECT, with req->why set.
 */
enum hl_err
plugin_handle(struct hl_plugin *p, struct hl_request *req)
{
	const struct hl_event *ev = &req->ev;
	struct hookline_event e = {
	    .body = ev->body,
	    .len = ev->len,
	    .id = ev->id,
	    .scheme = req->scheme,
	    .remote = io_param(req->io, "REMOTE_ADDR"),
	    .status = ev->status,
	    .job_id = ev->job_id,
	    .flow_id = ev->flow_id,
	    .tenant = ev->tenant,
	    .delivery = req->delivery,
	};
	enum hookline_verdict v;

	p->io = req->io;
	v = p->desc->handle(p->state, &e);
	p->io = NULL;
	switch (v) {
	case HOOKLINE_OK:
		return HL_OK;
	case HOOKLINE_REJECT:
		why_set(&req->why, "plugin %s rejected event %s", p->desc->name,
		    ev->id);
		return HL_EREJECT;
	case HOOKLINE_RETRY:
		why_set(&req->why, "plugin %s could not take event %s now",
		    p->desc->name, ev->id);
		return HL_ESTORE;
	}
	why_set(&req->why, "plugin %s answered %d, which is no verdict",
	    p->desc->name, (int)v);
	return HL_ESTORE;
}
