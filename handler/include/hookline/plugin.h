/*
 * hookline/plugin.h: the ABI between hookline and its plugins.
 *
 * A plugin is a shared object that exports one function,
 * hookline_plugin_entry(), returning a descriptor.  hookline loads it with
 * dlopen(RTLD_NOW | RTLD_LOCAL) and refuses it (500, one error-log line)
 * when the symbol is missing, the ABI major differs, the minor is newer
 * than hookline's, or a descriptor field is NULL.  init() runs once per
 * process (per plugin path and argument), handle() once per verified
 * event, after the event log (if any) took it, fini() at exit.
 *
 * A plugin links no hookline symbol: everything it may call comes in
 * struct hookline_host.  See hookline-plugin(3).
 *
 * Build one outside hookline's tree with
 *   cc -shared -fPIC $(pkg-config --cflags hookline-plugin) -o my.so my.c
 */
#ifndef HOOKLINE_PLUGIN_H
#define HOOKLINE_PLUGIN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Major changes break plugins (hookline refuses other majors); minor
 * changes only add at the end of structs, and hookline refuses a plugin
 * built against a newer minor than its own.
 */
#define HOOKLINE_PLUGIN_ABI_MAJOR 1u
#define HOOKLINE_PLUGIN_ABI_MINOR 1u

/* The name of the one symbol a plugin exports. */
#define HOOKLINE_PLUGIN_ENTRY "hookline_plugin_entry"

/* What handle() decides; hookline answers 200, 503 or 422. */
enum hookline_verdict {
	HOOKLINE_OK = 0, /* stored for good: 200 */
	HOOKLINE_RETRY = 1, /* not stored now, the sender should retry: 503 */
	HOOKLINE_REJECT = 2 /* refused for good, do not retry: 422 */
};

/*
 * One verified event.  Everything is borrowed for the duration of the
 * handle() call: copy what you keep.  Strings are NUL-terminated.
 */
struct hookline_event {
	const char *body; /* the raw body, exactly as signed */
	size_t len; /* its length in bytes */
	const char *id; /* hex SHA-256 of the body (retries share it) */
	const char *scheme; /* what verified it: "sha1" or "sha256" (hub),
	                       "standard", "stripe", "shopify", "gitlab";
	                       NULL when unsigned */
	const char *remote; /* client address, or NULL */
	const char *status; /* common hotglue fields, NULL when absent */
	const char *job_id;
	const char *flow_id;
	const char *tenant;
	/* ABI 1.1: the sender's delivery id (webhook-id, X-GitHub-Delivery,
	 * X-Shopify-Webhook-Id, GitLab's Idempotency-Key), or NULL.  Read it
	 * only when host->abi_minor >= 1. */
	const char *delivery;
};

/* What hookline offers a plugin; valid from init() until fini() returns. */
struct hookline_host {
	unsigned abi_major;
	unsigned abi_minor;
	/* One line in the web server's error log, prefixed with the plugin's
	 * name.  Never log the secret or whole bodies. */
	void (*log)(const struct hookline_host *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
	void *priv; /* hookline's own; do not touch */
};

/* The descriptor that hookline_plugin_entry() returns. */
struct hookline_plugin {
	unsigned abi_major; /* HOOKLINE_PLUGIN_ABI_MAJOR */
	unsigned abi_minor; /* HOOKLINE_PLUGIN_ABI_MINOR */
	const char *name; /* short, for log lines */
	/* Sets *state; arg is HOOKLINE_PLUGIN_ARG ("" when unset), borrowed.
	 * Returns 0, or -1 (then hookline answers 500 and tries again on a
	 * later request). */
	int (*init)(const struct hookline_host *host, const char *arg,
	    void **state);
	enum hookline_verdict (
	    *handle)(void *state, const struct hookline_event *event);
	void (*fini)(void *state);
};

const struct hookline_plugin *hookline_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* HOOKLINE_PLUGIN_H */
