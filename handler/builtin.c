/*
 * builtin.c: the plugins linked into a statically linked hookline
 * (configure --enable-static-binaries, scripts/static).  Such a hookline
 * has no dynamic loader, so plugin.c looks bare HOOKLINE_PLUGIN names up
 * here instead of in PKGLIBDIR.  Each entry is a plugin's own source from
 * plugins/, compiled once more with its entry function renamed
 * (-Dhookline_plugin_entry=hookline_builtin_NAME, Makefile.am), so that
 * the same code runs whether it is loaded or linked in.
 */
#include <stdio.h>
#include <string.h>

#include "hookline.h"
#include "hookline/plugin.h"

const struct hookline_plugin *hookline_builtin_exec(void);

static const struct {
	const char *name;
	const struct hookline_plugin *(*entry)(void);
} builtins[] = {
    {"exec", hookline_builtin_exec},
};

#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

/*
 * The descriptor of the plugin built in under name, or NULL when there is
 * none.  The descriptor is the plugin's own static data, never freed.
 */
const struct hookline_plugin *
builtin_plugin(const char *name)
{
	for (size_t i = 0; i < NBUILTINS; i++)
		if (strcmp(builtins[i].name, name) == 0)
			return builtins[i].entry();
	return NULL;
}

/*
 * The built-in plugins' names, comma-separated, for error messages: a
 * static string, built on the first call.
 */
const char *
builtin_names(void)
{
	static char names[128];
	size_t len = 0;

	if (names[0] != '\0')
		return names;
	for (size_t i = 0; i < NBUILTINS && len < sizeof(names); i++)
		len += (size_t)snprintf(names + len, sizeof(names) - len,
		    "%s%s", i > 0 ? ", " : "", builtins[i].name);
	return names;
}
