/*
 * bad.c: plugins that hookline must refuse, one per -D variant:
 * NO_ENTRY (no hookline_plugin_entry), ABI_MAJOR / ABI_MINOR (other
 * versions), INCOMPLETE (no handle), INIT_FAIL (init returns -1).
 */
#include <hookline/plugin.h>

#ifndef ABI_MAJOR
#define ABI_MAJOR HOOKLINE_PLUGIN_ABI_MAJOR
#endif
#ifndef ABI_MINOR
#define ABI_MINOR HOOKLINE_PLUGIN_ABI_MINOR
#endif

static int
bad_init(const struct hookline_host *host, const char *arg, void **state)
{
	(void)arg;
	*state = 0;
#ifdef INIT_FAIL
	host->log(host, "refusing to start, as asked");
	return -1;
#else
	(void)host;
	return 0;
#endif
}

static enum hookline_verdict
bad_handle(void *state, const struct hookline_event *ev)
{
	(void)state;
	(void)ev;
	return HOOKLINE_OK;
}

static void
bad_fini(void *state)
{
	(void)state;
}

static const struct hookline_plugin bad = {
	.abi_major = ABI_MAJOR,
	.abi_minor = ABI_MINOR,
	.name = "bad",
	.init = bad_init,
#ifndef INCOMPLETE
	.handle = bad_handle,
#endif
	.fini = bad_fini,
};

#ifdef NO_ENTRY
const struct hookline_plugin *not_the_entry(void);
const struct hookline_plugin *
not_the_entry(void)
#else
const struct hookline_plugin *
hookline_plugin_entry(void)
#endif
{
	(void)bad_handle;
	return &bad;
}
