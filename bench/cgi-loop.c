/*
 * cgi-loop.c: times CGI executions the way a web server starts them
 * (scripts/bench).
 *
 *   cgi-loop N BODY PROGRAM...
 *
 * Starts each PROGRAM (a path, no arguments) N times, round-robin, one
 * execution at a time: posix_spawn(3) (what lighttpd uses to start a CGI
 * program), BODY opened afresh as its standard input, standard output to
 * /dev/null, standard error and the environment (the CGI variables) as
 * this process has them; then waitpid.  Alternating the programs exec by
 * exec means that a noisy neighbour slows them alike.  Prints one line per
 * program:
 *
 *   PROGRAM runs N failed F median_us M mean_us A min_us L
 *
 * A run fails when it cannot be started or does not exit 0.  Exit status
 * 1 if any failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One execution of prog; returns its wall time in microseconds, or -1. */
static double
run_once(const char *prog, const char *body)
{
	posix_spawn_file_actions_t fa;
	char *argv[2] = {(char *)prog, NULL};
	struct timespec t0, t1;
	int status, rc;
	pid_t pid;

	if (posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 0, body, O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY,
	        0) != 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = posix_spawn(&pid, prog, &fa, NULL, argv, environ);
	if (rc == 0)
		while (waitpid(pid, &status, 0) == -1)
			if (errno != EINTR) {
				rc = errno;
				break;
			}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return (double)(t1.tv_sec - t0.tv_sec) * 1e6 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
}

int
main(int argc, char *argv[])
{
	int nprog = argc - 3, bad = 0;
	double **t;
	long n, *failed, *got;

	if (argc < 4 || (n = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: cgi-loop N BODY PROGRAM...\n");
		return 2;
	}
	if ((t = calloc((size_t)nprog, sizeof(*t))) == NULL ||
	    (failed = calloc((size_t)nprog, sizeof(*failed))) == NULL ||
	    (got = calloc((size_t)nprog, sizeof(*got))) == NULL)
		return 1;
	for (int p = 0; p < nprog; p++)
		if ((t[p] = calloc((size_t)n, sizeof(**t))) == NULL)
			return 1;
	for (long i = 0; i < n; i++)
		for (int p = 0; p < nprog; p++) {
			double us = run_once(argv[3 + p], argv[2]);

			if (us < 0)
				failed[p]++;
			else
				t[p][got[p]++] = us;
		}
	for (int p = 0; p < nprog; p++) {
		double sum = 0;

		qsort(t[p], (size_t)got[p], sizeof(double), cmp_double);
		for (long i = 0; i < got[p]; i++)
			sum += t[p][i];
		printf("%s runs %ld failed %ld median_us %.1f mean_us %.1f "
		       "min_us %.1f\n",
		    argv[3 + p], n, failed[p], got[p] ? t[p][got[p] / 2] : 0.0,
		    got[p] ? sum / (double)got[p] : 0.0,
		    got[p] ? t[p][0] : 0.0);
		bad |= failed[p] != 0;
		free(t[p]);
	}
	free(t);
	free(failed);
	free(got);
	return bad;
}
