/*
 * exec.so: runs a command for each verified event, and acknowledges the
 * event only once the command succeeded ("run my script on each event").
 *
 * HOOKLINE_PLUGIN_ARG is "[-t seconds] command [argument ...]", split at
 * blanks: no shell, no quoting, no expansion (write a script for more).
 * The command gets the raw body on standard input, descriptors 0-2 and no
 * other, and an environment of exactly these variables:
 *
 *   PATH      hookline's, or /usr/local/bin:/usr/bin:/bin when it has none
 *   HOME  LANG  LC_ALL  TZ                    hookline's, when set
 *   HOOKLINE_EVENT_ID  HOOKLINE_EVENT_STATUS  HOOKLINE_JOB_ID
 *   HOOKLINE_FLOW_ID   HOOKLINE_TENANT        HOOKLINE_REMOTE_ADDR
 *   HOOKLINE_SIGNATURE_SCHEME                 the event's, when present
 *
 * An allowlist, because in CGI mode hookline's environment is the request:
 * every client header as HTTP_* (HTTP_PROXY among them) and, after an
 * Apache internal redirect, the secret again as REDIRECT_HOOKLINE_SECRET.
 * HOME stays because git, ssh and most tools look for their settings there;
 * the service manager or the web server's configuration sets it, never a
 * client.  No other descriptor, because libfcgi does not mark the FastCGI
 * connection close-on-exec: on it the command could forge hookline's answer.
 *
 * Its standard output and error go, line by line, to the web server's
 * error log.  The timeout (-t, default 10 s) covers the whole exchange:
 * feeding the body, reading the output, waiting for the exit.  Exit 0 is
 * OK (200); exit 75 (EX_TEMPFAIL), death by a signal, or running past the
 * timeout (then its whole process group is killed) is RETRY (503); any
 * other exit status is REJECT (422).  A command may leave its input unread:
 * only its exit status counts.
 */
/* asprintf, pipe2, posix_spawn_file_actions_addclosefrom_np (glibc 2.34) */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hookline/plugin.h>

#define EX_TEMPFAIL 75
#define MAX_ARGS 64
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* What the command's environment takes from hookline's, besides PATH. */
static const char *const passed[] = {"HOME", "LANG", "LC_ALL", "TZ"};

/* The event's fields, by variable name. */
static const struct {
	const char *name;
	size_t off;
} fields[] = {
    {"HOOKLINE_EVENT_ID", offsetof(struct hookline_event, id)},
    {"HOOKLINE_EVENT_STATUS", offsetof(struct hookline_event, status)},
    {"HOOKLINE_JOB_ID", offsetof(struct hookline_event, job_id)},
    {"HOOKLINE_FLOW_ID", offsetof(struct hookline_event, flow_id)},
    {"HOOKLINE_TENANT", offsetof(struct hookline_event, tenant)},
    {"HOOKLINE_REMOTE_ADDR", offsetof(struct hookline_event, remote)},
    {"HOOKLINE_SIGNATURE_SCHEME", offsetof(struct hookline_event, scheme)},
};

/* PATH, the passed variables, the event's fields, the terminating NULL. */
#define ENV_MAX (1 + NITEMS(passed) + NITEMS(fields) + 1)

/* How supervise() left the command. */
enum end {
	END_EXITED, /* it exited and was reaped: its status is known */
	END_KILL, /* it is still running and must be killed */
	END_LOST /* it cannot be waited for: neither status nor kill */
};

struct exec {
	const struct hookline_host *host;
	char *words; /* owned copy of the argument, split */
	char *argv[MAX_ARGS + 1];
	int timeout_ms;
};

/*
 * Splits x->words ("[-t seconds] command [argument ...]") into x->argv
 * and x->timeout_ms.  Returns 0, or -1 after saying why.
 */
static int
parse_arg(struct exec *x)
{
	const struct hookline_host *host = x->host;
	char *w, *save = NULL, *end;
	int n = 0;
	long t;

	for (w = strtok_r(x->words, " \t", &save); w != NULL;
	     w = strtok_r(NULL, " \t", &save)) {
		if (n == 0 && strcmp(w, "-t") == 0) {
			w = strtok_r(NULL, " \t", &save);
			t = w ? strtol(w, &end, 10) : 0;
			if (w == NULL || *end != '\0' || t < 1 || t > 3600) {
				host->log(host,
				    "-t wants seconds from 1 to 3600");
				return -1;
			}
			x->timeout_ms = (int)t * 1000;
			continue;
		}
		if (n == MAX_ARGS) {
			host->log(host, "more than %d arguments", MAX_ARGS);
			return -1;
		}
		x->argv[n++] = w;
	}
	if (n == 0) {
		host->log(host,
		    "HOOKLINE_PLUGIN_ARG must name the command to run");
		return -1;
	}
	if (strchr(x->argv[0], '/') != NULL && access(x->argv[0], X_OK) != 0) {
		host->log(host, "cannot execute %s: %s", x->argv[0],
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * A SIGCHLD ignored survives exec, so a careless parent of the web server
 * (or of hookline in CGI mode) can leave it so.  Then the kernel reaps our
 * commands itself, waitpid() fails with ECHILD and no exit status is ever
 * known.  hookline starts no other child and sets no SIGCHLD handler, so
 * taking the default back harms nothing.  Returns 0, or -1.
 */
static int
default_sigchld(void)
{
	struct sigaction sa;

	if (sigaction(SIGCHLD, NULL, &sa) == -1)
		return -1;
	return sa.sa_handler == SIG_IGN && signal(SIGCHLD, SIG_DFL) == SIG_ERR
	    ? -1
	    : 0;
}

static int
exec_init(const struct hookline_host *host, const char *arg, void **state)
{
	struct exec *x = calloc(1, sizeof(*x));

	if (x == NULL || (x->words = strdup(arg)) == NULL) {
		host->log(host, "out of memory");
		free(x);
		return -1;
	}
	x->host = host;
	x->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (parse_arg(x) == -1)
		goto fail;
	if (default_sigchld() == -1) {
		host->log(host, "cannot restore SIGCHLD: %s", strerror(errno));
		goto fail;
	}
	*state = x;
	return 0;
fail:
	free(x->words);
	free(x);
	return -1;
}

static void
exec_fini(void *state)
{
	struct exec *x = state;

	if (x != NULL)
		free(x->words);
	free(x);
}

/* Appends "name=value" to env, *n entries so far; NULL adds nothing. */
static int
env_add(char *env[ENV_MAX], size_t *n, const char *name, const char *value)
{
	if (value == NULL)
		return 0;
	if (asprintf(&env[*n], "%s=%s", name, value) == -1) {
		env[*n] = NULL;
		return -1;
	}
	(*n)++;
	return 0;
}

/*
 * Fills env (all NULL on entry) with the command's environment: the
 * allowlist at the top of this file, nothing else.  The strings are
 * allocated; the caller frees them all, also after a failure (-1, out of
 * memory).
 */
static int
child_env(const struct hookline_event *ev, char *env[ENV_MAX])
{
	const char *path = getenv("PATH");
	size_t n = 0;

	/* An empty PATH would search the working directory. */
	if (path == NULL || *path == '\0')
		path = DEFAULT_PATH;
	if (env_add(env, &n, "PATH", path) == -1)
		return -1;
	for (size_t i = 0; i < NITEMS(passed); i++)
		if (env_add(env, &n, passed[i], getenv(passed[i])) == -1)
			return -1;
	for (size_t i = 0; i < NITEMS(fields); i++) {
		const char *v =
		    *(const char *const *)((const char *)ev + fields[i].off);

		if (env_add(env, &n, fields[i].name, v) == -1)
			return -1;
	}
	return 0;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static int
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Starts the command in its own process group (so that a timeout kills
 * all of it) with in as its standard input, out as its standard output
 * and error, every other descriptor closed, env as its environment, and
 * none of hookline's blocked signals or ignored SIGPIPE.  posix_spawn()
 * rather than fork(): no copy of hookline's page tables, and no code of
 * ours between fork and exec.  The closefrom action (glibc 2.34; it uses
 * close_range) closes in the child whatever is open, without touching
 * hookline's own descriptors: libfcgi opens the connection without
 * close-on-exec, and so may any library loaded into the process.
 * Returns 0 with *pid set, or an errno value.
 */
static int
spawn(struct exec *x, int in, int out, char *env[ENV_MAX], pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF;
	int rc;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	if ((rc = posix_spawn_file_actions_adddup2(&fa, in, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, out, 1)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, out, 2)) == 0 &&
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
	    (rc = posix_spawnattr_setpgroup(&attr, 0)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&attr, &defaults)) == 0 &&
	    (rc = posix_spawnattr_setflags(&attr, flags)) == 0)
		rc = posix_spawnp(pid, x->argv[0], &fa, &attr, x->argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

/* Logs the complete lines in buf (*len bytes) and keeps the rest. */
static void
log_lines(struct exec *x, char *buf, size_t *len, int flush)
{
	char *nl, *p = buf;

	while ((nl = memchr(p, '\n', *len - (size_t)(p - buf))) != NULL) {
		x->host->log(x->host, "%s: %.*s", x->argv[0], (int)(nl - p), p);
		p = nl + 1;
	}
	*len -= (size_t)(p - buf);
	memmove(buf, p, *len);
	if (*len > 0 && (flush || *len > 512)) {
		x->host->log(x->host, "%s: %.*s", x->argv[0], (int)*len, buf);
		*len = 0;
	}
}

/*
 * Reads what the command wrote on out (non-blocking) into buf, logging
 * whole lines.  Returns 1 when it read some, 0 when there is nothing now,
 * -1 at the end of the output (or an error, which ends it too).
 */
static int
take_output(struct exec *x, int out, char *buf, size_t size, size_t *blen)
{
	ssize_t n = read(out, buf + *blen, size - *blen);

	if (n > 0) {
		*blen += (size_t)n;
		log_lines(x, buf, blen, *blen == size);
		return 1;
	}
	return n == -1 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
}

/* One command's exchange: the body going in, its output coming out. */
struct exchange {
	struct exec *x;
	const struct hookline_event *ev;
	int in, out, pidfd; /* -1 once closed (pidfd: none) */
	size_t off; /* bytes of the body written */
	size_t blen; /* bytes of output in buf, not yet a whole line */
	char buf[1024];
};

static void
close_fd(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

/* The descriptors to wait for now, in fds; returns their number. */
static int
watch(const struct exchange *e, struct pollfd fds[3])
{
	int nf = 0;

	if (e->in != -1)
		fds[nf++] = (struct pollfd){e->in, POLLOUT, 0};
	if (e->out != -1)
		fds[nf++] = (struct pollfd){e->out, POLLIN, 0};
	if (e->pidfd != -1)
		fds[nf++] = (struct pollfd){e->pidfd, POLLIN, 0};
	return nf;
}

/* Moves what poll() said is ready: more body in, more output out. */
static void
pump(struct exchange *e, const struct pollfd *fds, int nf)
{
	ssize_t n;

	for (int i = 0; i < nf; i++) {
		if (fds[i].revents == 0)
			continue;
		if (fds[i].fd == e->in) {
			/* hookline ignores SIGPIPE: a command that stopped
			 * reading gives EPIPE, and only its exit status
			 * counts. */
			n = write(e->in, e->ev->body + e->off,
			    e->ev->len - e->off);
			if (n > 0)
				e->off += (size_t)n;
			else if (n == -1 && errno != EAGAIN && errno != EINTR)
				close_fd(&e->in);
		} else if (fds[i].fd == e->out &&
		    take_output(e->x, e->out, e->buf, sizeof(e->buf),
		        &e->blen) == -1)
			close_fd(&e->out);
	}
}

/*
 * Feeds the body to the command, copies its output to the log, and waits
 * for its exit, all in one poll() loop against one deadline: a command
 * that echoes its input fills its output pipe while we fill its input, and
 * one that never reads must not hold us past the timeout.  in and out are
 * the non-blocking ends of its pipes, taken over and closed here.
 * Returns END_EXITED with *status set, END_KILL when it ran past the
 * deadline or cannot be watched (logged here), or END_LOST.
 */
static enum end
supervise(struct exec *x, pid_t pid, int in, int out,
    const struct hookline_event *ev, int *status)
{
	struct exchange e = {x, ev, in, out, pidfd_open(pid, 0), 0, 0, ""};
	long deadline = now_ms() + x->timeout_ms, left;
	enum end end = END_KILL;
	struct pollfd fds[3];
	pid_t w;
	int nf;

	for (;;) {
		if ((w = waitpid(pid, status, WNOHANG)) == pid) {
			end = END_EXITED;
			break;
		}
		if (w == -1 && errno != EINTR) {
			x->host->log(x->host, "cannot wait for %s: %s",
			    x->argv[0], strerror(errno));
			end = END_LOST;
			break;
		}
		if (e.in != -1 && e.off == ev->len)
			close_fd(&e.in); /* its end of input */
		if ((left = deadline - now_ms()) <= 0) {
			x->host->log(x->host,
			    "%s ran past %d s for event %s; killed", x->argv[0],
			    x->timeout_ms / 1000, ev->id);
			break;
		}
		nf = watch(&e, fds);
		/* Without a pidfd (old kernel) exits are noticed by ticks. */
		if (poll(fds, (nfds_t)nf,
		        e.pidfd != -1 || left < 10 ? (int)left : 10) == -1 &&
		    errno != EINTR) {
			x->host->log(x->host, "cannot watch %s: %s; killed",
			    x->argv[0], strerror(errno));
			break;
		}
		pump(&e, fds, nf);
	}
	/* What it wrote just before it exited may still be in the pipe; a
	 * grandchild holding the pipe open must not keep us past the
	 * deadline. */
	while (end == END_EXITED && e.out != -1 && now_ms() < deadline &&
	    take_output(x, e.out, e.buf, sizeof(e.buf), &e.blen) == 1)
		;
	log_lines(x, e.buf, &e.blen, 1);
	close_fd(&e.in);
	close_fd(&e.out);
	close_fd(&e.pidfd);
	return end;
}

static enum hookline_verdict
exec_handle(void *state, const struct hookline_event *ev)
{
	struct exec *x = state;
	char *env[ENV_MAX] = {NULL};
	int in[2] = {-1, -1}, out[2] = {-1, -1}, status = 0, rc;
	enum hookline_verdict v = HOOKLINE_RETRY;
	enum end end;
	pid_t pid;

	/* Only our ends are non-blocking: the command's stdin and stdout
	 * are as any program expects them. */
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    nonblock(in[1]) == -1 || nonblock(out[0]) == -1 ||
	    child_env(ev, env) == -1) {
		x->host->log(x->host, "cannot set up %s: %s", x->argv[0],
		    strerror(errno));
		goto done;
	}
	rc = spawn(x, in[0], out[1], env, &pid);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (rc != 0) {
		x->host->log(x->host, "cannot run %s: %s", x->argv[0],
		    strerror(rc));
		goto done;
	}
	end = supervise(x, pid, in[1], out[0], ev, &status);
	in[1] = out[0] = -1; /* closed by supervise() */
	if (end == END_KILL) {
		/* Not reaped yet, so pid still names it and its group.  It
		 * may have left the group: the wait below must not hang. */
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
	}
	if (end != END_EXITED)
		goto done;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		v = HOOKLINE_OK;
	else if (WIFEXITED(status) && WEXITSTATUS(status) != EX_TEMPFAIL) {
		v = HOOKLINE_REJECT;
		x->host->log(x->host, "%s exited %d for event %s: rejected",
		    x->argv[0], WEXITSTATUS(status), ev->id);
	} else
		x->host->log(x->host, "%s %s %d for event %s: retry later",
		    x->argv[0], WIFEXITED(status) ? "exited" : "died of signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		    ev->id);
done:
	for (int i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (out[i] != -1)
			close(out[i]);
	}
	for (size_t i = 0; i < ENV_MAX; i++)
		free(env[i]);
	return v;
}

static const struct hookline_plugin exec_plugin = {
    .abi_major = HOOKLINE_PLUGIN_ABI_MAJOR,
    .abi_minor = HOOKLINE_PLUGIN_ABI_MINOR,
    .name = "exec",
    .init = exec_init,
    .handle = exec_handle,
    .fini = exec_fini,
};

const struct hookline_plugin *
hookline_plugin_entry(void)
{
	return &exec_plugin;
}
