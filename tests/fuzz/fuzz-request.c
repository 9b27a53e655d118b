/*
 * fuzz-request: a whole request, from CGI parameters and a body to the
 * answer and the log, through serve_request(), the very function
 * hookline's FastCGI loop calls.  The request runs as CGI (no FastCGI stream): its parameters
 * are the input's, its body is on fd 0 (a memfd) and its answer goes to
 * fd 1 (another memfd); the context (configuration cache, open log) lives
 * from one input to the next, as in the FastCGI loop.
 *
 * Input: parameter lines NAME=VALUE, a blank line, then the body.  Some
 * lines steer the harness instead of being passed on:
 *   SIGN=sha1 | sha256 | both   add a correct signature header for the
 *                               body (a fuzzer cannot forge an HMAC), keyed
 *                               with the secret the request should use
 *   LOG=0..5                    which log: a file, a strftime pattern, a
 *                               missing directory, a directory, /dev/null
 *   CL=none                     no CONTENT_LENGTH (otherwise the body's
 *                               length, unless the input sets one)
 * For safety HOOKLINE_LOG and HOOKLINE_PLUGIN(_ARG) from the input are
 * dropped (the log is always under a private directory in /dev/shm, and
 * nothing is ever dlopen()ed), HOOKLINE_SECRET_FILE is confined to a few
 * fixture files, and HOOKLINE_SYNC=always becomes none (no disk flush per
 * input).
 *
 * Checked: the answer is one of hookline(8)'s answers, with a one-line
 * JSON body; a 200 has the body's SHA-256 as id, the body is a JSON object
 * in strict JSON (oracle.h), and the log's new last line is its record
 * with the body verbatim; any other answer leaves the log untouched.
 * Run with -close_fd_mask=3: hookline's error lines go to stderr, and
 * libFuzzer still reports crashes on its own copy of stderr.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hookline.h"
#include "gsync.h"
#include "oracle.h"

#define MAXP 32
#define FILE_SECRET "fixture-file-secret-Qx7"
#define ENV_SECRET "fixture-env-secret-Lm2"
#define LOG_LIMIT (8 * 1024 * 1024)

static char dir[] = "/dev/shm/hookline-fuzz-request-XXXXXX";
static char events[128];
static struct hl_server *srv;
static int ready;

static void
cleanup(void)
{
	char cmd[128], path[400];
	struct dirent *e;
	struct stat st;
	DIR *d;

	/* The logs' group-commit counters (HOOKLINE_SYNC=group) go too. */
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
				gsync_forget(st.st_dev, st.st_ino);
		}
		closedir(d);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

static void
fixture(const char *name, const char *content, mode_t mode)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	CHECK(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

/* Done on the first input: libFuzzer redirects fds 1 and 2 after init. */
static void
setup(void)
{
	int in, out;

	if (mkdtemp(dir) == NULL) /* /dev/shm missing: fall back to /tmp */
		CHECK(mkdtemp(memcpy(dir, "/tmp/hookline-fuzz-request-XXXXXX",
		          sizeof(dir))) != NULL);
	atexit(cleanup);
	snprintf(events, sizeof(events), "%s/events.jsonl", dir);
	fixture("s0600", FILE_SECRET "\n", 0600);
	fixture("s0644", FILE_SECRET "\n", 0644);
	fixture("empty", "", 0600);
	setenv("HOOKLINE_SECRET", ENV_SECRET, 1);
	unsetenv("HOOKLINE_SECRET_FILE");
	unsetenv("HOOKLINE_LOG");
	unsetenv("HOOKLINE_PLUGIN");
	unsetenv("HOOKLINE_PLUGIN_ARG");
	unsetenv("HOOKLINE_MAX_BODY");
	unsetenv("HOOKLINE_SYNC");
	unsetenv("HOOKLINE_ALLOW_UNSIGNED");
	CHECK((in = memfd_create("body", 0)) != -1);
	CHECK((out = memfd_create("answer", 0)) != -1);
	CHECK(dup2(in, 0) == 0 && dup2(out, 1) == 1);
	close(in);
	close(out);
	CHECK((srv = serve_new()) != NULL);
	ready = 1;
}

static off_t
size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Keeps a log (a strftime pattern expanded as sink_log.c does) small. */
static void
bound(const char *pattern)
{
	char path[256];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (strftime(path, sizeof(path), pattern, &tm) == 0)
		return;
#pragma GCC diagnostic pop
	if (size_of(path) > LOG_LIMIT)
		CHECK(truncate(path, 0) == 0);
}

static void
add(char **params, int *np, const char *fmt, const char *a, const char *b)
{
	char *p;

	if (*np >= MAXP || asprintf(&p, fmt, a, b) == -1)
		return;
	params[(*np)++] = p;
}

static void
sign(char **params, int *np, int sha256, const char *secret,
    const unsigned char *body, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	HMAC(sha256 ? EVP_sha256() : EVP_sha1(), secret, (int)strlen(secret),
	    body, len, mac, &maclen);
	hex_encode(hex, mac, maclen);
	if (sha256)
		add(params, np, "HTTP_X_HUB_SIGNATURE_256=%s%s",
		    "sha256=", hex);
	else
		add(params, np, "HTTP_X_HUB_SIGNATURE=%s%s", "", hex);
}

/* Checks the record at the end of the log against the body. */
static void
check_logged(const unsigned char *body, size_t len, const char *id,
    off_t before)
{
	off_t after = size_of(events);
	char *line, *ev;
	size_t n;
	int fd, object, depth;

	CHECK(after > before);
	n = (size_t)(after - (before > 0 ? before : 0));
	CHECK((line = malloc(n + 1)) != NULL);
	CHECK((fd = open(events, O_RDONLY)) != -1);
	CHECK(pread(fd, line, n, before > 0 ? before : 0) == (ssize_t)n);
	close(fd);
	line[n] = '\0';
	CHECK(line[n - 1] == '\n' && memchr(line, '\n', n) == line + n - 1);
	CHECK(oracle_json((unsigned char *)line, n - 1, &object, &depth) &&
	    object);
	CHECK(strstr(line, id) != NULL);
	CHECK((ev = strstr(line, ",\"event\":")) != NULL);
	ev += 9;
	if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
		body += 3, len -= 3;
	CHECK((size_t)(line + n - 2 - ev) == len);
	for (size_t k = 0; k < len; k++)
		CHECK((unsigned char)ev[k] ==
		    (body[k] == '\r' || body[k] == '\n' ? ' ' : body[k]));
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *params[MAXP + 1], *text, *line, *save = NULL, answer[1024], *ans;
	const char *req_secret = NULL, *secret, *logpath = events;
	const char *cl_given = NULL; /* in text: the first CONTENT_LENGTH */
	const unsigned char *body;
	int np = 0, signwith = 0, file = 0, cl = 1, method = 0, object, depth;
	int status;
	size_t blen, hlen;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	char id[2 * EVP_MAX_MD_SIZE + 1], want[128];
	const char *sep;
	struct hl_io io;
	off_t before;
	ssize_t got;

	if (!ready)
		setup();
	sep = memmem(data, size, "\n\n", 2);
	hlen = sep != NULL ? (size_t)(sep - (const char *)data) : size;
	body = sep != NULL ? (const unsigned char *)sep + 2 : data + size;
	blen = (size_t)(data + size - body);
	if ((text = strndup((const char *)data, hlen)) == NULL)
		return 0;

	for (line = strtok_r(text, "\n", &save); line != NULL && np < MAXP - 8;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "SIGN=", 5) == 0) {
			signwith = strcmp(line + 5, "sha256") == 0 ? 2
			    : strcmp(line + 5, "both") == 0        ? 3
			                                           : 1;
			continue;
		}
		if (strncmp(line, "LOG=", 4) == 0) {
			static char alt[160];
			static const char *const names[] = {"events.jsonl",
			    "no/such/dir/e.jsonl", "%Y-%m-%d.jsonl", "",
			    "%%%Q%.jsonl%", NULL};
			int k = (line[4] & 0xff) % 6;

			if (names[k] == NULL)
				logpath = "/dev/null";
			else {
				snprintf(alt, sizeof(alt), "%s/%s", dir,
				    names[k]);
				if (k == 3)
					alt[strlen(alt) - 1] = '\0';
				logpath = alt;
			}
			continue;
		}
		if (strcmp(line, "CL=none") == 0) {
			cl = 0;
			continue;
		}
		if (strncmp(line, "HOOKLINE_LOG=", 13) == 0 ||
		    strncmp(line, "HOOKLINE_PLUGIN", 15) == 0)
			continue;
		if (strncmp(line, "HOOKLINE_SECRET_FILE=", 21) == 0) {
			const char *f = strstr(line, "0644") ? "s0644"
			    : strstr(line, "empty")          ? "empty"
			    : strstr(line, "none")           ? "missing"
			                                     : "s0600";

			add(params, &np, "HOOKLINE_SECRET_FILE=%s/%s", dir, f);
			file = 1;
			continue;
		}
		if (strcmp(line, "HOOKLINE_SYNC=always") == 0)
			strcpy(line + 14, "none");
		if (strncmp(line, "CONTENT_LENGTH=", 15) == 0 &&
		    cl_given == NULL)
			cl = 0, cl_given = line + 15;
		if (strncmp(line, "REQUEST_METHOD=", 15) == 0)
			method = 1;
		if ((params[np] = strdup(line)) == NULL)
			break;
		if (strncmp(line, "HOOKLINE_SECRET=", 16) == 0 &&
		    req_secret == NULL)
			req_secret = params[np] + 16;
		np++;
	}
	add(params, &np, "HOOKLINE_LOG=%s%s", logpath, "");
	if (!method)
		add(params, &np, "REQUEST_METHOD=%s%s", "POST", "");
	if (cl) {
		char n[32];

		snprintf(n, sizeof(n), "%zu", blen);
		add(params, &np, "CONTENT_LENGTH=%s%s", n, "");
	}
	/* The secret the request should be verified with (config.c's
	 * layering: a request's own secret pair wins as a whole). */
	secret = req_secret != NULL && *req_secret != '\0' ? req_secret
	    : file                                         ? FILE_SECRET
	                                                   : ENV_SECRET;
	if (signwith & 1)
		sign(params, &np, 0, secret, body, blen);
	if (signwith & 2)
		sign(params, &np, 1, secret, body, blen);
	params[np] = NULL;

	/* The body on fd 0, an empty answer on fd 1, a bounded log. */
	CHECK(ftruncate(0, 0) == 0 && lseek(0, 0, SEEK_SET) == 0);
	CHECK(blen == 0 || write(0, body, blen) == (ssize_t)blen);
	CHECK(lseek(0, 0, SEEK_SET) == 0);
	CHECK(ftruncate(1, 0) == 0 && lseek(1, 0, SEEK_SET) == 0);
	bound(events);
	if (strchr(logpath, '%') != NULL)
		bound(logpath);
	before = size_of(events);

	io.fcgx = NULL;
	io.params = params;
	io.abandoned = 0;
	serve_request(srv, &io);

	got = pread(1, answer, sizeof(answer) - 1, 0);
	CHECK(got > 0);
	answer[got] = '\0';
	CHECK(sscanf(answer, "Status: %d ", &status) == 1);
	CHECK(status == 200 || status == 400 || status == 401 ||
	    status == 405 || status == 411 || status == 413 || status == 422 ||
	    status == 500 || status == 503);
	CHECK((ans = strstr(answer, "\r\n\r\n")) != NULL);
	ans += 4;
	CHECK(strchr(ans, '\n') == answer + got - 1);
	CHECK(oracle_json((unsigned char *)ans, strlen(ans) - 1, &object,
	          &depth) &&
	    object);
	if (status == 200) {
		/* What was read: the declared length, when one was given. */
		if (cl_given != NULL) {
			unsigned long long n = strtoull(cl_given, NULL, 10);

			CHECK(n <= blen);
			blen = (size_t)n;
		}
		CHECK(oracle_json(body, blen, &object, &depth) && object);
		CHECK(EVP_Digest(body, blen, md, &mdlen, EVP_sha256(), NULL));
		hex_encode(id, md, mdlen);
		snprintf(want, sizeof(want), "{\"ok\":true,\"id\":\"%s\"}\n",
		    id);
		CHECK(strcmp(ans, want) == 0);
		if (logpath == events)
			check_logged(body, blen, id, before);
	} else
		CHECK(size_of(events) == before);

	for (int i = 0; i < np; i++)
		free(params[i]);
	free(text);
	return 0;
}
