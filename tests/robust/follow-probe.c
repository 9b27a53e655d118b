/*
 * follow-probe: the command hookline-follow's tests run for each event.
 *
 *   follow-probe [-s MS] [-x CODE] [-r TRIES] [-m STATUS=CODE]
 *       [-S STATUS=MS] [-i PREFIX=CODE] OUT
 *
 * It reads its standard input to the end and appends to OUT (one write,
 * O_APPEND, so that runs at once never mix) a line when it starts and a
 * line when it ends:
 *
 *   P <id> <pid> <start ns>
 *   X <id> <ok|bad> <pid> <start ns> <end ns> <bytes> <code>
 *
 * where id is $HOOKLINE_EVENT_ID, ok means that the SHA-256 of what came
 * on standard input is that id (hookline's id is the SHA-256 of the body,
 * so a body cut short, or read from a torn line, is "bad"), and the times
 * are CLOCK_REALTIME.  Then it sleeps MS milliseconds (-s) and exits with
 * CODE (-x, default 0); with -r, it exits 75 the first TRIES times it runs
 * for an event (counted in OUT.tries/<id>); with -m, CODE when
 * $HOOKLINE_EVENT_STATUS is STATUS, and with -S it sleeps MS when it is;
 * with -i, CODE when the id starts with PREFIX (a share of any events).
 * Built in C: Python's start-up would dominate the 20,000 runs of the
 * kill test.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
append(const char *path, const char *line)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	if (fd == -1 || write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		perror(path);
		exit(70);
	}
	close(fd);
}

/* How many times this ran for id before (and counts this run). */
static int
tries(const char *out, const char *id)
{
	char path[4096];
	int fd, n;

	snprintf(path, sizeof(path), "%s.tries", out);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s.tries/%s", out, id);
	if ((fd = open(path, O_RDWR | O_CREAT | O_APPEND, 0644)) == -1)
		return 0;
	n = (int)lseek(fd, 0, SEEK_END);
	(void)!write(fd, ".", 1);
	close(fd);
	return n;
}

/* The number after "STATUS=" in arg when the event's status is STATUS,
 * else dflt. */
static int
when_status(const char *arg, int dflt)
{
	const char *status = getenv("HOOKLINE_EVENT_STATUS"), *eq;

	if (arg == NULL || status == NULL || (eq = strchr(arg, '=')) == NULL)
		return dflt;
	if (strlen(status) != (size_t)(eq - arg) ||
	    strncmp(status, arg, (size_t)(eq - arg)) != 0)
		return dflt;
	return atoi(eq + 1);
}

int
main(int argc, char *argv[])
{
	const char *id = getenv("HOOKLINE_EVENT_ID"), *match = NULL, *slow = NULL,
		   *prefix = NULL;
	unsigned char md[EVP_MAX_MD_SIZE], buf[65536];
	char line[512], hex[65];
	long long start = now_ns();
	int c, code = 0, retries = -1, sleep_ms = 0, ok;
	unsigned int mdlen = 0;
	size_t total = 0;
	EVP_MD_CTX *ctx;
	ssize_t n;

	while ((c = getopt(argc, argv, "s:x:r:m:S:i:")) != -1)
		switch (c) {
		case 's':
			sleep_ms = atoi(optarg);
			break;
		case 'x':
			code = atoi(optarg);
			break;
		case 'r':
			retries = atoi(optarg);
			break;
		case 'm':
			match = optarg;
			break;
		case 'S':
			slow = optarg;
			break;
		case 'i':
			prefix = optarg;
			break;
		default:
			return 64;
		}
	if (optind != argc - 1 || id == NULL) {
		fprintf(stderr, "usage: follow-probe [-s MS] [-x CODE] [-r TRIES] "
		    "[-m STATUS=CODE] [-S STATUS=MS] [-i PREFIX=CODE] OUT "
		    "(with HOOKLINE_EVENT_ID set)\n");
		return 64;
	}
	snprintf(line, sizeof(line), "P %.64s %ld %lld\n", id, (long)getpid(),
	    start);
	append(argv[optind], line);
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		return 70;
	while ((n = read(0, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return 70;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (size_t)n;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	ok = strcmp(hex, id) == 0;
	sleep_ms = when_status(slow, sleep_ms);
	if (sleep_ms > 0) {
		struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
	if (retries >= 0 && tries(argv[optind], id) < retries)
		code = 75;
	code = when_status(match, code);
	if (prefix != NULL && strchr(prefix, '=') != NULL &&
	    strncmp(id, prefix, (size_t)(strchr(prefix, '=') - prefix)) == 0)
		code = atoi(strchr(prefix, '=') + 1);
	snprintf(line, sizeof(line), "X %.64s %s %ld %lld %lld %zu %d\n", id,
	    ok ? "ok" : "bad", (long)getpid(), start, now_ns(), total, code);
	append(argv[optind], line);
	return code;
}
