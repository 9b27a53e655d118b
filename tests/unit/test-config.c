/*
 * test-config: HOOKLINE_* settings from request parameters and the process
 * environment, the cache, and every refusal of a bad value.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hookline.h"
#include "tap.h"

static struct hl_config_cache *cache;
static char why[HL_WHY_MAX];

/* config_get for a request whose parameters are the NULL-ended list. */
static enum hl_err
get(const struct hl_config **cfg, char **params)
{
	struct hl_io io = {NULL, params, 0};
	struct hl_request req = {.io = &io};
	enum hl_err rc = config_get(cache, &req);

	snprintf(why, sizeof(why), "%s", req.why.text);
	if (cfg != NULL)
		*cfg = req.cfg;
	return rc;
}

#define REQ(...) ((char *[]){__VA_ARGS__, NULL})

static void
sizes(void)
{
	size_t n = 0;

	ok(config_parse_size("1", &n) == 0 && n == 1, "size 1");
	ok(config_parse_size("1M", &n) == 0 && n == 1048576, "size 1M");
	ok(config_parse_size("64k", &n) == 0 && n == 65536, "size 64k");
	ok(config_parse_size("64K", &n) == 0 && n == 65536, "size 64K");
	ok(config_parse_size("768M", &n) == 0, "size 768M is the limit");
	ok(config_parse_size("769M", &n) == -1 &&
	        config_parse_size("1024M", &n) == -1,
	    "size 769M refused (a record is one write: under 2 GiB)");
	ok(config_parse_size("0", &n) == -1, "size 0 refused");
	ok(config_parse_size("-1", &n) == -1, "negative size refused");
	ok(config_parse_size(" 1", &n) == -1, "leading space refused");
	ok(config_parse_size("1MB", &n) == -1, "suffix MB refused");
	ok(config_parse_size("1m", &n) == -1, "suffix m (milli) refused");
	ok(config_parse_size("", &n) == -1, "empty size refused");
	ok(config_parse_size("99999999999999999999999", &n) == -1,
	    "overflow refused");
}

static void
secret_file(void)
{
	char path[] = "/tmp/hookline-secret-XXXXXX", var[64];
	const struct hl_config *cfg;
	int fd = mkstemp(path);

	ok(fd != -1 && write(fd, "s3cret\n", 7) == 7, "secret file written");
	snprintf(var, sizeof(var), "HOOKLINE_SECRET_FILE=%s", path);
	fchmod(fd, 0640);
	ok(get(&cfg, REQ(var, "HOOKLINE_LOG=/tmp/x")) == HL_OK &&
	        cfg->secret_len == 6 && memcmp(cfg->secret, "s3cret", 6) == 0,
	    "0640 secret file read, trailing newline dropped");
	fchmod(fd, 0644);
	ok(get(NULL, REQ(var, "HOOKLINE_LOG=/tmp/x")) == HL_ECONFIG &&
	        strstr(why, "others") != NULL && strstr(why, "s3cret") == NULL,
	    "world-readable secret file refused, secret not in the reason");
	fchmod(fd, 0600);
	ok(write(fd, "x", 1) == 1 &&
	        get(&cfg, REQ(var, "HOOKLINE_LOG=/tmp/x")) == HL_OK &&
	        cfg->nkeys == 2 && config_key(cfg, 1)->text_len == 1 &&
	        config_key(cfg, 1)->text[0] == 'x',
	    "changed secret file read again: a second line, a second secret");
	ok(ftruncate(fd, 0) == 0, "secret file emptied");
	ok(get(NULL, REQ(var, "HOOKLINE_LOG=/tmp/x")) == HL_ECONFIG &&
	        strstr(why, "empty") != NULL,
	    "empty secret file refused");
	close(fd);
	unlink(path);
	/* A FIFO would block open(2) until someone writes to it. */
	ok(mkfifo(path, 0600) == 0, "a FIFO in place of the secret file");
	alarm(10);
	ok(get(NULL, REQ(var, "HOOKLINE_LOG=/tmp/x")) == HL_ECONFIG &&
	        strstr(why, "not a regular file") != NULL,
	    "FIFO refused at once, without blocking");
	alarm(0);
	unlink(path);
	ok(get(NULL, REQ(var, "HOOKLINE_LOG=/tmp/x")) == HL_ECONFIG &&
	        strstr(why, "HOOKLINE_SECRET_FILE") != NULL,
	    "missing secret file refused");
}

int
main(void)
{
	const struct hl_config *a, *b;

	unsetenv("HOOKLINE_SECRET");
	cache = config_cache_new();
	sizes();

	ok(get(NULL, REQ("HOOKLINE_LOG=/tmp/x")) == HL_ECONFIG &&
	        strstr(why, "no secret") != NULL,
	    "no secret refused");
	ok(get(&a, REQ("HOOKLINE_LOG=/tmp/x", "HOOKLINE_ALLOW_UNSIGNED=1")) ==
	            HL_OK &&
	        a->secret == NULL && a->nkeys == 0,
	    "no secret with HOOKLINE_ALLOW_UNSIGNED=1");
	ok(get(NULL,
	       REQ("HOOKLINE_LOG=/tmp/x", "HOOKLINE_ALLOW_UNSIGNED=yes")) ==
	            HL_ECONFIG &&
	        strstr(why, "HOOKLINE_ALLOW_UNSIGNED") != NULL,
	    "HOOKLINE_ALLOW_UNSIGNED=yes refused");
	ok(get(NULL, REQ("HOOKLINE_SECRET=s")) == HL_ECONFIG &&
	        strstr(why, "HOOKLINE_LOG") != NULL,
	    "no sink refused");
	ok(get(NULL, REQ("HOOKLINE_SECRET=s", "HOOKLINE_LOG=x.jsonl")) ==
	            HL_ECONFIG &&
	        strstr(why, "absolute") != NULL,
	    "relative log path refused");
	ok(get(NULL,
	       REQ("HOOKLINE_SECRET=s", "HOOKLINE_LOG=/x",
	           "HOOKLINE_SYNC=sometimes")) == HL_ECONFIG &&
	        strstr(why, "HOOKLINE_SYNC") != NULL,
	    "bad HOOKLINE_SYNC refused");
	ok(get(NULL,
	       REQ("HOOKLINE_SECRET=s", "HOOKLINE_LOG=/x",
	           "HOOKLINE_MAX_BODY=lots")) == HL_ECONFIG &&
	        strstr(why, "HOOKLINE_MAX_BODY") != NULL,
	    "bad max body refused");
	ok(get(NULL,
	       REQ("HOOKLINE_SECRET=s", "HOOKLINE_SECRET_FILE=/f",
	           "HOOKLINE_LOG=/x")) == HL_ECONFIG &&
	        strstr(why, "both") != NULL,
	    "secret and secret file together refused");

	ok(get(&a, REQ("HOOKLINE_SECRET=s", "HOOKLINE_LOG=/x")) == HL_OK &&
	        a->max_body == 1048576 && a->sync == HL_SYNC_ALWAYS &&
	        a->plugin == NULL && strcmp(a->plugin_arg, "") == 0,
	    "defaults: 1M, sync always");
	ok(get(&b, REQ("HOOKLINE_SECRET=s", "HOOKLINE_LOG=/x")) == HL_OK &&
	        a == b,
	    "unchanged settings come from the cache");
	ok(get(&b, REQ("HOOKLINE_SECRET=t", "HOOKLINE_LOG=/x")) == HL_OK &&
	        b->secret_len == 1 && b->secret[0] == 't',
	    "changed secret seen");
	ok(get(&b,
	       REQ("HOOKLINE_SECRET=t", "HOOKLINE_LOG=/x", "HOOKLINE_SYNC=none",
	           "HOOKLINE_MAX_BODY=2k")) == HL_OK &&
	        b->sync == HL_SYNC_NONE && b->max_body == 2048,
	    "sync none, 2k");
	ok(get(&b, REQ("HOOKLINE_SECRET=t", "HOOKLINE_LOG=/x",
	               "HOOKLINE_SYNC=group")) == HL_OK &&
	        b->sync == HL_SYNC_GROUP,
	    "sync group");
	ok(get(&b, REQ("HOOKLINE_SECRET=t", "HOOKLINE_LOG=/x",
	               "HOOKLINE_SYNC=each")) == HL_OK &&
	        b->sync == HL_SYNC_EACH,
	    "sync each");

	/* Two locations served by one process alternate without re-parsing. */
	{
		const struct hl_config *x, *y, *x2, *y2;

		get(&x, REQ("HOOKLINE_SECRET=x", "HOOKLINE_LOG=/x"));
		get(&y, REQ("HOOKLINE_SECRET=y", "HOOKLINE_LOG=/y"));
		get(&x2, REQ("HOOKLINE_SECRET=x", "HOOKLINE_LOG=/x"));
		get(&y2, REQ("HOOKLINE_SECRET=y", "HOOKLINE_LOG=/y"));
		ok(x == x2 && y == y2 && x != y && x->secret[0] == 'x' &&
		        y->secret[0] == 'y',
		    "alternating locations are both served from the cache");
	}

	/*
	 * Exactly one layer: the process environment when it sets any
	 * HOOKLINE_* variable, the request's parameters otherwise.
	 */
	setenv("HOOKLINE_SECRET", "env", 1);
	setenv("HOOKLINE_LOG", "/env.jsonl", 1);
	ok(get(&b, REQ("SERVER_NAME=x")) == HL_OK && b->secret_len == 3 &&
	        strcmp(b->log, "/env.jsonl") == 0,
	    "process environment used");
	ok(get(&b, REQ("HOOKLINE_SECRET=req", "HOOKLINE_LOG=/req")) == HL_OK &&
	        memcmp(b->secret, "env", 3) == 0 &&
	        strcmp(b->log, "/env.jsonl") == 0,
	    "a request cannot change what the process environment sets");
	ok(get(&b, REQ("HOOKLINE_SECRET=req")) == HL_OK &&
	        memcmp(b->secret, "env", 3) == 0,
	    "nor pair its own secret with the process's log");
	ok(get(&b, REQ("HOOKLINE_MAX_BODY=768M", "HOOKLINE_SYNC=none",
	               "HOOKLINE_READ_TIMEOUT=3600")) == HL_OK &&
	        b->max_body == 1048576 && b->sync == HL_SYNC_ALWAYS &&
	        b->read_timeout == 30,
	    "nor set what the process environment leaves at its default");
	ok(get(&b, REQ("HOOKLINE_SECRET_FILE=/nonexistent",
	               "HOOKLINE_PLUGIN=/tmp/evil.so",
	               "HOOKLINE_PLUGIN_ARG=/bin/cp a b")) == HL_OK &&
	        b->plugin == NULL && strcmp(b->plugin_arg, "") == 0 &&
	        memcmp(b->secret, "env", 3) == 0,
	    "nor name a plugin, its argument or a secret file");
	unsetenv("HOOKLINE_SECRET");
	setenv("HOOKLINE_MAX_BODY", "2k", 1);
	ok(get(NULL, REQ("HOOKLINE_SECRET=req")) == HL_ECONFIG &&
	        strstr(why, "no secret") != NULL,
	    "one variable in the environment is enough to pin the process");
	unsetenv("HOOKLINE_MAX_BODY");
	unsetenv("HOOKLINE_LOG");
	ok(get(NULL, REQ("HOOKLINE_SECRET=", "HOOKLINE_SECRET=req",
	                 "HOOKLINE_LOG=/req")) == HL_ECONFIG &&
	        strstr(why, "no secret") != NULL,
	    "the first of duplicate parameters wins, even when empty");
	ok(get(NULL, REQ("HOOKLINE_SECRET=s", "HOOKLINE_PLUGIN=/p.so")) ==
	            HL_ECONFIG &&
	        strstr(why, "HOOKLINE_PLUGIN is set by the request") != NULL,
	    "a plugin from the request parameters is refused");
	ok(get(NULL, REQ("HOOKLINE_SECRET=s", "HOOKLINE_LOG=/x",
	               "HOOKLINE_PLUGIN_ARG=-t 1 /bin/true")) == HL_ECONFIG &&
	        strstr(why, "HOOKLINE_PLUGIN_ARG") != NULL,
	    "and so is its argument");
	setenv("HOOKLINE_SECRET", "s", 1);
	setenv("HOOKLINE_PLUGIN", "/p.so", 1);
	setenv("HOOKLINE_PLUGIN_ARG", "a b", 1);
	ok(get(&b, REQ("SERVER_NAME=x")) == HL_OK && b->log == NULL &&
	        strcmp(b->plugin, "/p.so") == 0 &&
	        strcmp(b->plugin_arg, "a b") == 0,
	    "a plugin from the environment, alone, is somewhere to store "
	    "events");
	unsetenv("HOOKLINE_SECRET");
	unsetenv("HOOKLINE_PLUGIN");
	unsetenv("HOOKLINE_PLUGIN_ARG");

	ok(get(&b, REQ("HOOKLINE_SECRET=s", "HOOKLINE_LOG=/x",
	               "HOOKLINE_READ_TIMEOUT=5")) == HL_OK &&
	        b->read_timeout == 5,
	    "read timeout 5 s");
	ok(get(&b, REQ("HOOKLINE_SECRET=s", "HOOKLINE_LOG=/x")) == HL_OK &&
	        b->read_timeout == 30,
	    "read timeout defaults to 30 s");
	ok(get(&b, REQ("HOOKLINE_SECRET=s", "HOOKLINE_LOG=/x",
	               "HOOKLINE_TOLERANCE=86400")) == HL_OK &&
	        b->tolerance == 86400,
	    "tolerance up to a day (86400 s)");
	ok(get(NULL, REQ("HOOKLINE_SECRET=s", "HOOKLINE_LOG=/x",
	                 "HOOKLINE_TOLERANCE=86401")) == HL_ECONFIG &&
	        strstr(why, "HOOKLINE_TOLERANCE") != NULL,
	    "tolerance over a day refused");
	{
		static const char *const bad[] = {"0", "3601", "-1", "1s",
		    " 1", "99999999999999999999"};
		char var[64];

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(var, sizeof(var), "HOOKLINE_READ_TIMEOUT=%s",
			    bad[i]);
			ok(get(NULL, REQ("HOOKLINE_SECRET=s", "HOOKLINE_LOG=/x",
			                 var)) == HL_ECONFIG &&
			        strstr(why, "HOOKLINE_READ_TIMEOUT") != NULL,
			    "read timeout \"%s\" refused", bad[i]);
		}
	}

	secret_file();
	config_cache_free(cache);
	config_cache_free(NULL);
	return tap_done();
}
