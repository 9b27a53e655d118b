/*
 * test-plugin: the plugin loader's cache of instances.  A process keeps
 * at most a few (path, argument) instances: one more unloads the least
 * recently used, calling its fini(); a reused one is not initialised
 * again; bare names resolve only in the plugin directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookline.h"
#include "tap.h"

static char rec[] = "/tmp/hookline-test-plugin-XXXXXX";
static struct hl_plugins *c;
static char why[HL_WHY_MAX];

/* plugin_get for a configuration naming plugin name with argument arg. */
static enum hl_err
get(const char *name, const char *arg, struct hl_plugin **p)
{
	struct hl_io io = {NULL, NULL, 0};
	struct hl_config cfg = {.plugin = name, .plugin_arg = arg};
	struct hl_request req = {.io = &io, .cfg = &cfg};
	enum hl_err rc = plugin_get(c, &req, p);

	snprintf(why, sizeof(why), "%s", req.why.text);
	return rc;
}

/* How many lines of the record file start with what. */
static int
count(const char *what)
{
	char line[512];
	FILE *f = fopen(rec, "r");
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strncmp(line, what, strlen(what)) == 0;
	fclose(f);
	return n;
}

int
main(void)
{
	const char *build = getenv("HOOKLINE_BUILDDIR");
	char so[4096], arg[600];
	struct hl_plugin *p, *first = NULL;
	int fd = mkstemp(rec);

	c = plugin_cache_new();
	ok(c != NULL && fd != -1, "cache and record file");
	close(fd);
	snprintf(so, sizeof(so), "%s/tests/plugins/.libs/verdict.so",
	    build != NULL ? build : ".");
	for (int i = 0; i < 6; i++) {
		snprintf(arg, sizeof(arg), "ok record=%s n=%d", rec, i);
		ok(get(so, arg, &p) == HL_OK,
		    "instance %d loaded %s", i, why);
		if (i == 0)
			first = p;
	}
	ok(count("init") == 6, "6 distinct arguments: 6 inits (%d)",
	    count("init"));
	ok(count("fini") == 2, "the 2 least recently used were unloaded (%d)",
	    count("fini"));
	snprintf(arg, sizeof(arg), "ok record=%s n=5", rec);
	ok(get(so, arg, &p) == HL_OK &&
	        count("init") == 6,
	    "a loaded instance is reused, not initialised again");
	snprintf(arg, sizeof(arg), "ok record=%s n=0", rec);
	ok(get(so, arg, &p) == HL_OK &&
	        count("init") == 7 && count("fini") == 3 && first != NULL,
	    "an unloaded one is loaded again when asked for");
	ok(get("../../tmp/evil", "", &p) ==
	            HL_ECONFIG &&
	        strstr(why, "absolute path or a bare plugin name") != NULL,
	    "a relative path is refused");
	ok(get("nosuchplugin", "", &p) ==
	            HL_ECONFIG &&
	        strstr(why, PKGLIBDIR "/nosuchplugin.so") != NULL,
	    "a bare name is looked for in the plugin directory only: %s", why);
	plugin_cache_free(c);
	plugin_cache_free(NULL);
	ok(count("fini") == 7, "freeing the cache calls every fini (%d)",
	    count("fini"));
	unlink(rec);
	return tap_done();
}
