/*
 * deadline.c: a bound on blocking system calls that have no timeout of
 * their own: reading a request body through libfcgi (whose reads block
 * until the web server sends more) or from a CGI's standard input, and
 * flock(2) on a log that someone else holds locked.
 *
 * An interval timer sends SIGALRM, whose handler is installed without
 * SA_RESTART, so the blocked call returns EINTR.  After the deadline the
 * timer keeps firing every few milliseconds: a caller that checked
 * deadline_passed() just before the first signal and then blocked is
 * woken by the next one.  One deadline at a time per process.
 */
#include <signal.h>
#include <string.h>
#include <sys/time.h>

#include "hookline.h"

/* How often SIGALRM repeats once the deadline has passed. */
#define REPEAT_US 20000

static volatile sig_atomic_t passed;

static void
on_alarm(int sig)
{
	(void)sig;
	passed = 1;
}

/* Starts a deadline ms milliseconds from now.  Returns 0, or -1. */
int
deadline_arm(unsigned ms)
{
	struct itimerval it = {
	    .it_interval = {0, REPEAT_US},
	    .it_value = {ms / 1000, (suseconds_t)(ms % 1000) * 1000},
	};
	static int installed;
	struct sigaction sa;

	if (!installed) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm; /* no SA_RESTART: calls return */
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGALRM, &sa, NULL) == -1)
			return -1;
		installed = 1;
	}
	passed = 0;
	if (ms == 0)
		it.it_value.tv_usec = 1;
	return setitimer(ITIMER_REAL, &it, NULL);
}

/* Stops the timer; a SIGALRM already sent is harmless. */
void
deadline_disarm(void)
{
	static const struct itimerval off;

	setitimer(ITIMER_REAL, &off, NULL);
}

/* Whether the deadline armed last has passed. */
int
deadline_passed(void)
{
	return passed;
}
