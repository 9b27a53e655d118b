/*
 * fuzz-config: the configuration parser.
 *
 * Input: request parameters, one NAME=VALUE per line (the dictionary
 * config.dict names the HOOKLINE_* variables).  When the first byte is
 * odd, the process environment holds HOOKLINE_SECRET and HOOKLINE_LOG:
 * then it alone decides, whatever the parameters say.  HOOKLINE_SECRET_FILE values are confined to a
 * directory of fixtures made at start (secret files of modes 0600, 0640,
 * 0644, 0606, 0602, an empty one, an oversized one, a directory): a
 * fuzzer must not open arbitrary paths, and a FIFO would hang it.
 *
 * config_get() runs twice per input on a cache kept across inputs, as in
 * the FastCGI loop: both answers must agree (same status, same cached
 * settings).  An accepted configuration must be coherent (a sink, a body
 * limit from 1 byte to 768 MiB, the secret byte for byte as given); a
 * refusal must say why, never quoting the secret.  config_parse_size()
 * is also checked against its own oracle on the whole input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hookline.h"
#include "oracle.h"

#define MAXP 16
#define ORDINARY                                                               \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "      \
	"_-.,:;()"                                                             \
	"\"'/=%"
#define FILE_SECRET "fixture-file-secret-Qx7"
#define ENV_SECRET "fixture-env-secret-Lm2"

static char fixtures[] = "/tmp/hookline-fuzz-config-XXXXXX";
static struct hl_config_cache *cache;

static void
fixture(const char *name, const char *content, size_t len, mode_t mode)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fixtures, name);
	CHECK((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	CHECK(write(fd, content, len) == (ssize_t)len);
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

static void
cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", fixtures);
	(void)!system(cmd);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char big[5000];
	char path[128];

	(void)argc;
	(void)argv;
	CHECK(mkdtemp(fixtures) != NULL);
	atexit(cleanup);
	fixture("s0600", FILE_SECRET "\n", sizeof(FILE_SECRET), 0600);
	fixture("s0640", FILE_SECRET "\r\n", sizeof(FILE_SECRET) + 1, 0640);
	fixture("s0644", FILE_SECRET, sizeof(FILE_SECRET) - 1, 0644);
	fixture("s0606", FILE_SECRET, sizeof(FILE_SECRET) - 1, 0606);
	fixture("s0602", FILE_SECRET, sizeof(FILE_SECRET) - 1, 0602);
	fixture("empty", "", 0, 0600);
	fixture("newline", "\n", 1, 0600);
	memset(big, 'b', sizeof(big));
	fixture("big", big, sizeof(big), 0600);
	snprintf(path, sizeof(path), "%s/dir", fixtures);
	CHECK(mkdir(path, 0700) == 0);
	unsetenv("HOOKLINE_SECRET");
	unsetenv("HOOKLINE_LOG");
	unsetenv("HOOKLINE_READ_TIMEOUT");
	unsetenv("HOOKLINE_SECRET_FILE");
	unsetenv("HOOKLINE_MAX_BODY");
	unsetenv("HOOKLINE_SYNC");
	unsetenv("HOOKLINE_ALLOW_UNSIGNED");
	unsetenv("HOOKLINE_PLUGIN");
	unsetenv("HOOKLINE_PLUGIN_ARG");
	CHECK((cache = config_cache_new()) != NULL);
	return 0;
}

/* HOOKLINE_MAX_BODY's largest value (config.c's MAX_BODY_LIMIT). */
#define LIMIT (768ULL << 20)

/* Oracle of config_parse_size(): digits, optional k/K/M, 1 B to 768 MiB. */
static int
size_oracle(const char *s, size_t *out)
{
	unsigned long long n = 0, mul = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (unsigned)(*p - '0');
		if (n > LIMIT)
			n = LIMIT + 1; /* saturate: too big anyway */
	}
	if (*p == 'k' || *p == 'K')
		mul = 1024, p++;
	else if (*p == 'M')
		mul = 1024 * 1024, p++;
	if (*p != '\0' || n == 0 || n * mul > LIMIT)
		return -1;
	*out = (size_t)(n * mul);
	return 0;
}

/* Is s a substring of any value in the parameters other than skip? */
static int
elsewhere(char **params, int np, int skip, const char *s)
{
	for (int i = 0; i < np; i++)
		if (i != skip && strstr(params[i], s) != NULL)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *line, *save = NULL, *params[MAXP + 1];
	char why[HL_WHY_MAX], why2[HL_WHY_MAX];
	const struct hl_config *cfg = NULL, *cfg2 = NULL;
	const char *secret = NULL;
	struct hl_io io;
	enum hl_err rc, rc2;
	size_t sz, sz2;
	int np = 0, si = -1, pinned = size > 0 && (data[0] & 1);

	if (size > 8192 || (text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	/* config_parse_size() on the first line, against its oracle. */
	{
		char *eol = strchr(text, '\n');
		char keep = 0;

		if (eol != NULL)
			keep = *eol, *eol = '\0';
		sz = sz2 = 0;
		CHECK(config_parse_size(text, &sz) == size_oracle(text, &sz2));
		CHECK(sz == sz2);
		if (eol != NULL)
			*eol = keep;
	}

	for (line = strtok_r(text, "\n", &save); line != NULL && np < MAXP;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "HOOKLINE_SECRET_FILE=", 21) == 0) {
			/* Confined to the fixtures: the name's letters only. */
			char *p, *v = line + 21, *out;

			if ((out = malloc(strlen(fixtures) + strlen(v) + 30)) ==
			    NULL)
				break;
			p = out +
			    sprintf(out, "HOOKLINE_SECRET_FILE=%s/", fixtures);
			for (; *v != '\0'; v++)
				if ((*v >= 'a' && *v <= 'z') ||
				    (*v >= '0' && *v <= '9'))
					*p++ = *v;
			*p = '\0';
			params[np++] = out;
			continue;
		}
		if ((params[np] = strdup(line)) == NULL)
			break;
		if (strncmp(line, "HOOKLINE_SECRET=", 16) == 0 && si == -1)
			si = np, secret = params[np] + 16;
		np++;
	}
	params[np] = NULL;
	io.fcgx = NULL;
	io.params = params;
	io.abandoned = 0;
	if (pinned) {
		setenv("HOOKLINE_SECRET", ENV_SECRET, 1);
		setenv("HOOKLINE_LOG", "/var/log/hookline/env.jsonl", 1);
	}

	{
		struct hl_request r1 = {.io = &io}, r2 = {.io = &io};

		rc = config_get(cache, &r1);
		rc2 = config_get(cache, &r2);
		cfg = r1.cfg;
		cfg2 = r2.cfg;
		memcpy(why, r1.why.text, sizeof(why));
		memcpy(why2, r2.why.text, sizeof(why2));
	}
	CHECK(rc == rc2);
	CHECK(rc == HL_OK || rc == HL_ECONFIG || rc == HL_EINTERNAL);
	if (rc == HL_OK) {
		CHECK(cfg == cfg2); /* unchanged: from the cache */
		CHECK(cfg->log != NULL || cfg->plugin != NULL);
		CHECK(cfg->log == NULL || cfg->log[0] == '/');
		CHECK(cfg->max_body >= 1 && cfg->max_body <= LIMIT);
		CHECK(cfg->sync == HL_SYNC_ALWAYS || cfg->sync == HL_SYNC_GROUP ||
		    cfg->sync == HL_SYNC_EACH || cfg->sync == HL_SYNC_NONE);
		CHECK(cfg->plugin_arg != NULL);
		CHECK((cfg->secret == NULL) == (cfg->nkeys == 0));
		for (int k = 0; k < cfg->nkeys; k++)
			CHECK(config_hmac(cfg, k, HL_ALG_SHA1) != NULL &&
			    config_hmac(cfg, k, HL_ALG_SHA256) != NULL);
		if (cfg->secret != NULL)
			CHECK(cfg->secret_len > 0);
		/* The process's settings are final; otherwise a request's
		 * own non-empty secret is used byte for byte, and a plugin
		 * never comes from a request. */
		if (pinned)
			CHECK(cfg->secret_len == strlen(ENV_SECRET) &&
			    memcmp(cfg->secret, ENV_SECRET, cfg->secret_len) ==
			        0 &&
			    strcmp(cfg->log, "/var/log/hookline/env.jsonl") == 0);
		else if (secret != NULL && *secret != '\0')
			CHECK(cfg->secret_len == strlen(secret) &&
			    memcmp(cfg->secret, secret, cfg->secret_len) == 0);
		CHECK(cfg->plugin == NULL);
	} else {
		CHECK(why[0] != '\0' && strcmp(why, why2) == 0);
		if (!elsewhere(params, np, -1, FILE_SECRET))
			CHECK(strstr(why, FILE_SECRET) == NULL);
		if (!elsewhere(params, np, -1, ENV_SECRET))
			CHECK(strstr(why, ENV_SECRET) == NULL);
		/* Only a secret with a character that no message's own text
		 * holds can be told apart from that text. */
		if (secret != NULL && strlen(secret) >= 8 &&
		    secret[strspn(secret, ORDINARY)] != '\0' &&
		    !elsewhere(params, np, si, secret))
			CHECK(strstr(why, secret) == NULL);
	}
	unsetenv("HOOKLINE_SECRET");
	unsetenv("HOOKLINE_LOG");
	for (int i = 0; i < np; i++)
		free(params[i]);
	free(text);
	return 0;
}
