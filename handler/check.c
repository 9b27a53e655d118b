/*
 * check.c: "hookline --check", the configuration in plain words.
 *
 * A shared-hosting customer sees only "server misconfigured" and usually
 * cannot read the web server's error log.  Run from their shell, where
 * the program sits (or with the environment the web server gives it),
 * this reads the settings exactly as a CGI request would (hookline.conf
 * beside the program, else the environment), then tries what a request
 * would need: the secret, the log's directory, the plugin.  It says what
 * to change, never what the secret is.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hookline.h"

extern char **environ;

static const char *const sync_names[] = {
    [HL_SYNC_ALWAYS] = "always",
    [HL_SYNC_GROUP] = "group",
    [HL_SYNC_EACH] = "each",
    [HL_SYNC_NONE] = "none",
};

/* Whether the log (a path or strftime pattern) can be appended to now. */
static int
check_log(const char *pattern)
{
	char path[PATH_MAX], dir[PATH_MAX], *slash;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (strftime(path, sizeof(path), pattern, &tm) == 0) {
#pragma GCC diagnostic pop
		printf("problem: HOOKLINE_LOG %s expands to nothing\n",
		    pattern);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (access(path, F_OK) == 0) {
		if (access(path, W_OK) == -1) {
			printf(
			    "problem: the log %s exists but this user (uid %ld) cannot write it: %s\n",
			    path, (long)geteuid(), strerror(errno));
			return -1;
		}
		printf("ok: log %s exists and can be appended to\n", path);
		return 0;
	}
	if (access(dir, W_OK | X_OK) == -1) {
		printf(
		    "problem: the log %s cannot be created: directory %s: %s (create it, writable by uid %ld)\n",
		    path, dir, strerror(errno), (long)geteuid());
		return -1;
	}
	printf("ok: log %s will be created (mode 0640) in %s\n", path, dir);
	return 0;
}

/*
 * Prints what the configuration is and whether a request could be
 * served; returns the exit status: 0 usable, 1 not.
 */
int
check_run(void)
{
	struct hl_config_cache *cache = config_cache_new();
	struct hl_plugins *plugins = plugin_cache_new();
	struct hl_io io = {NULL, environ, 0};
	struct hl_request req = {.io = &io};
	const struct hl_config *cfg;
	struct hl_plugin *p;
	char path[PATH_MAX];
	int bad = 0, file = 0;

	if (cache == NULL || plugins == NULL) {
		puts("problem: out of memory");
		return 1;
	}
	if (conffile_path(path, sizeof(path)) == 0)
		file = config_cache_use_file(cache, path);
	if (file == 1)
		printf(
		    "settings: %s (the environment's HOOKLINE_* are ignored)\n",
		    path);
	else if (file == 0)
		printf("settings: the environment (no %s)\n",
		    conffile_path(path, sizeof(path)) == 0 ? path
		                                           : "hookline.conf");
	if (config_get(cache, &req) != HL_OK) {
		printf("problem: %s\n", req.why.text);
		bad = 1;
		goto done;
	}
	cfg = req.cfg;
	if (cfg->secret != NULL)
		printf("ok: secret of %zu bytes read (not shown)\n",
		    cfg->secret_len);
	else
		puts(
		    "warning: no secret; HOOKLINE_ALLOW_UNSIGNED=1 accepts anyone's events");
	printf("ok: body limit %zu bytes, read timeout %u s, sync %s\n",
	    cfg->max_body, cfg->read_timeout, sync_names[cfg->sync]);
	if (cfg->log != NULL && check_log(cfg->log) == -1)
		bad = 1;
	if (cfg->plugin != NULL) {
		if (plugin_get(plugins, &req, &p) != HL_OK) {
			printf("problem: %s\n", req.why.text);
			bad = 1;
		} else
			printf("ok: plugin %s loaded and initialised\n",
			    cfg->plugin);
	}
done:
	puts(bad
	        ? "not usable: every request would get 500 (or 503); change what is named above"
	        : "usable: signed events will be stored");
	plugin_cache_free(plugins);
	config_cache_free(cache);
	return bad;
}
