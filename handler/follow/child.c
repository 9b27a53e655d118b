/*
 * child.c: runs the command for one event, as the exec plugin does
 * (handler/plugins/exec.c), but without a web server waiting.
 *
 * The command is run without a shell, in a process group of its own (so
 * that a timeout kills all of it, and a Ctrl-C meant for
 * hookline-follow does not reach it), with the default signal
 * dispositions and mask.  Its standard input is the event's body, from a
 * memfd (a file: the command may read it at its own pace, or
 * not at all, and nobody blocks on a pipe); its standard output and error
 * are hookline-follow's.  Its environment is an allowlist, never the
 * whole of ours:
 *
 *   PATH HOME LANG LC_ALL TZ (when set), HOOKLINE_EVENT_ID,
 *   HOOKLINE_EVENT_STATUS, HOOKLINE_JOB_ID, HOOKLINE_FLOW_ID,
 *   HOOKLINE_TENANT, HOOKLINE_REMOTE_ADDR, HOOKLINE_SIGNATURE_SCHEME
 *
 * (a field the event lacks is unset).  The verdicts are the exec
 * plugin's: exit 0 is done; exit 75 (EX_TEMPFAIL), a signal or the
 * timeout is a retry; any other exit is a failure for good.
 */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "follow.h"

#define EX_TEMPFAIL 75

/* Ours, passed on when set: what the exec plugin passes (HOME for git
 * and ssh), so that one script serves either. */
static const char *const passed[] = {"PATH", "HOME", "LANG", "LC_ALL", "TZ"};
#define NPASSED (sizeof(passed) / sizeof(*passed))
#define NEVENT 7

/*
 * Whether cmd can be run: a path must be executable, a bare name must be
 * found so in $PATH (as posix_spawnp looks for it).  Returns FL_OK, or
 * FL_EUSAGE with why set: a command that cannot run would only be
 * retried for ever.
 */
enum fl_err
child_check(const char *cmd, char *why, size_t wl)
{
	const char *path = getenv("PATH"), *p, *end;
	char full[4096];

	if (strchr(cmd, '/') != NULL) {
		if (access(cmd, X_OK) == 0)
			return FL_OK;
		snprintf(why, wl, "cannot execute %s: %s", cmd,
		    strerror(errno));
		return FL_EUSAGE;
	}
	for (p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0'; p = end) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)snprintf(full, sizeof(full), "%.*s/%s",
		        end == p ? 1 : (int)(end - p), end == p ? "." : p,
		        cmd) < sizeof(full) &&
		    access(full, X_OK) == 0)
			return FL_OK;
		if (*end == ':')
			end++;
	}
	snprintf(why, wl, "%s: no such command in PATH", cmd);
	return FL_EUSAGE;
}

/* Milliseconds of CLOCK_MONOTONIC. */
long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/*
 * The command's environment for event l, into env (NPASSED + NEVENT + 1
 * entries); the strings made are also in made[], which the caller frees.
 * Returns 0, or -1 when out of memory.
 */
static int
child_env(const struct fl_line *l, char **env, char **made)
{
	const struct {
		const char *name, *value;
	} ev[NEVENT] = {
	    {"HOOKLINE_EVENT_ID", l->id},
	    {"HOOKLINE_EVENT_STATUS", l->status},
	    {"HOOKLINE_JOB_ID", l->job_id},
	    {"HOOKLINE_FLOW_ID", l->flow_id},
	    {"HOOKLINE_TENANT", l->tenant},
	    {"HOOKLINE_REMOTE_ADDR", l->remote},
	    {"HOOKLINE_SIGNATURE_SCHEME", l->scheme},
	};
	size_t n = 0, k = 0;
	const char *v;

	for (size_t i = 0; i < NPASSED; i++)
		if ((v = getenv(passed[i])) != NULL) {
			if (asprintf(&made[k], "%s=%s", passed[i], v) == -1)
				return -1;
			env[n++] = made[k++];
		}
	for (size_t i = 0; i < NEVENT; i++)
		if (ev[i].value != NULL) {
			if (asprintf(&made[k], "%s=%s", ev[i].name,
			        ev[i].value) == -1)
				return -1;
			env[n++] = made[k++];
		}
	env[n] = NULL;
	return 0;
}

/* A memfd holding the body, at offset 0; -1 with errno set. */
static int
body_fd(const char *body, size_t len)
{
	int fd = memfd_create("hookline-event", MFD_CLOEXEC);
	size_t off = 0;
	ssize_t n;

	if (fd == -1)
		return -1;
	while (off < len) {
		if ((n = write(fd, body + off, len - off)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Starts argv (borrowed) for event l with a deadline timeout_ms away.
 * Returns FL_OK with c filled, or FL_EFAILED with why set when it could
 * not be started (a retry: the exec plugin says 503 then too).
 */
enum fl_err
child_spawn(struct child *c, char *const argv[], const struct fl_line *l,
    unsigned timeout_ms, char *why, size_t wl)
{
	char *env[NPASSED + NEVENT + 1], *made[NPASSED + NEVENT] = {NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int in, rc;

	c->pid = -1;
	c->pidfd = -1;
	if ((in = body_fd(l->body, l->body_len)) == -1 ||
	    child_env(l, env, made) == -1) {
		rc = errno;
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGHUP);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr,
	    POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	        POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(&c->pid, argv[0], &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		c->pid = -1;
		goto fail;
	}
	close(in);
	for (size_t i = 0; i < NPASSED + NEVENT; i++)
		free(made[i]);
	/* Without a pidfd (an old kernel) the loop polls for the exit. */
	c->pidfd = (int)pidfd_open(c->pid, 0);
	c->deadline_ms = now_ms() + (long)timeout_ms;
	return FL_OK;
fail:
	if (in != -1)
		close(in);
	for (size_t i = 0; i < NPASSED + NEVENT; i++)
		free(made[i]);
	snprintf(why, wl, "cannot be run: %s", strerror(rc));
	return FL_EFAILED;
}

/*
 * Collects the command's exit.  With timed_out, kills its whole process
 * group first.  Returns FL_RUNNING when it has not exited yet, otherwise
 * its verdict, with *code its exit status (or -1) and why saying what
 * happened unless it succeeded.
 */
enum fl_verdict
child_reap(struct child *c, int timed_out, int *code, char *why, size_t wl)
{
	int status;
	pid_t r;

	*code = -1;
	if (timed_out) {
		/* Not reaped yet, so pid still names it and its group.  It
		 * may have left the group: the wait below must not hang. */
		kill(-c->pid, SIGKILL);
		kill(c->pid, SIGKILL);
	}
	while ((r = waitpid(c->pid, &status, timed_out ? 0 : WNOHANG)) == -1 &&
	    errno == EINTR)
		;
	if (r == 0)
		return FL_RUNNING;
	if (c->pidfd != -1)
		close(c->pidfd);
	c->pidfd = -1;
	c->pid = -1;
	if (r == -1) {
		snprintf(why, wl, "lost track of the command: %s",
		    strerror(errno));
		return FL_RETRY;
	}
	if (timed_out) {
		snprintf(why, wl, "ran past its time limit; killed");
		return FL_RETRY;
	}
	if (WIFSIGNALED(status)) {
		snprintf(why, wl, "died of signal %d", WTERMSIG(status));
		return FL_RETRY;
	}
	*code = WEXITSTATUS(status);
	if (*code == 0)
		return FL_DONE;
	snprintf(why, wl, "exited %d", *code);
	return *code == EX_TEMPFAIL ? FL_RETRY : FL_FAILED;
}
