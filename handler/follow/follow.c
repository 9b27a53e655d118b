/*
 * follow.c: the loop of hookline-follow.  It reads complete lines from
 * the log's files (logset.c, logfile.c), runs the command for each event
 * (child.c), or prints it, and commits the position (state.c) once the
 * events before it are done.
 *
 * Every line taken becomes a job, in the order taken; a file's committed
 * offset is the start of its first job not done, so the position never
 * passes an event that has not finished, whatever -j allows to run at
 * once.  A job is done when its command exited 0 (its id joins the
 * window, seen.c), when it went to the dead-letter file (dead.c), or when
 * it was skipped (--match, or its id succeeded recently).  Exit 75, a
 * signal or the timeout makes it wait and run again, with exponential
 * backoff, never skipped.  At most -j jobs that ran a command are not
 * committed yet, so that a crash repeats at most -j events.
 *
 * The loop waits in poll(2) for the log's directory (inotify), the
 * commands' exits (pidfds), a stop signal (signalfd) and the next
 * deadline, and only then: it never polls the files on a timer.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "follow.h"

/* A writer holds a file's lock: look again this soon. */
#define BUSY_MS 5
/* The log's directory and its parent are missing: look again this soon. */
#define MISSING_DIR_MS 1000
/* Lines taken but not committed, skipped ones included: a bound on
 * memory while one slow command holds the position back. */
#define JOBS_LIST_MAX 65536

enum job_state { JOB_RUNNING, JOB_WAITING, JOB_DONE };

/* One line taken from the log. */
struct job {
	struct logfile *lf; /* borrowed from the logset */
	off_t start, end; /* the line's place in lf */
	char *text; /* owned copy of the line; NULL once done */
	size_t len; /* its length, without the newline */
	struct fl_line rec;
	enum job_state state;
	int ran; /* a command ran for it: counts against -j */
	unsigned attempts;
	long due_ms; /* JOB_WAITING: when to run again */
	struct child child;
	struct job *next;
};

struct follower {
	const struct fl_opts *o;
	struct logset *ls;
	struct seen *seen;
	int first; /* no state was found: a first start */
	struct job *head, *tail;
	unsigned njobs; /* in the list */
	unsigned nran; /* in the list, with ran set */
	int sigfd;
	int stopping; /* take no more lines; exit once commands are done */
	int dirty; /* something to commit */
	int busy; /* a file's lock was busy */
	int caught_up; /* the last look found no complete line anywhere */
	int again; /* lines were read: look again before waiting */
	int dir_gone; /* the log's directory is missing (said once) */
	enum fl_err fatal; /* stop at once */
	enum fl_err result; /* what to exit with once stopped */
	char why[FL_WHY_MAX];
};

static void
job_free(struct job *j)
{
	line_clear(&j->rec);
	free(j->text);
	free(j);
}

/* Marks j done: its text is no longer needed. */
static void
job_done(struct follower *f, struct job *j)
{
	j->state = JOB_DONE;
	line_clear(&j->rec);
	free(j->text);
	j->text = NULL;
	f->dirty = 1;
}

/* Removes the done jobs that no unfinished job of their file precedes,
 * moving each file's committed offset past them. */
static void
settle(struct follower *f)
{
	struct logfile *blocked[FL_FILES_MAX];
	struct job **pp = &f->head, *j;
	size_t nb = 0, k;

	f->tail = NULL;
	while ((j = *pp) != NULL) {
		for (k = 0; k < nb && blocked[k] != j->lf; k++)
			;
		if (j->state != JOB_DONE || k < nb) {
			if (j->state != JOB_DONE && k == nb &&
			    nb < FL_FILES_MAX)
				blocked[nb++] = j->lf;
			f->tail = j;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		j->lf->committed = j->end;
		j->lf->inflight--;
		/* A file that went missing is dropped once idle. */
		if (j->lf->fd == -1 && j->lf->inflight == 0)
			f->ls->rescan = 1;
		f->njobs--;
		if (j->ran)
			f->nran--;
		job_free(j);
		f->dirty = 1;
	}
}

static long
backoff(const struct fl_opts *o, unsigned attempts)
{
	long ms = o->backoff_min_ms;

	for (unsigned i = 1; i < attempts && ms < (long)o->backoff_max_ms; i++)
		ms *= 2;
	return ms < (long)o->backoff_max_ms ? ms : (long)o->backoff_max_ms;
}

static void job_verdict(struct follower *, struct job *, enum fl_verdict, int,
    const char *);

/* Runs (or runs again) the command for j. */
static void
job_start(struct follower *f, struct job *j)
{
	char why[FL_WHY_MAX];

	j->attempts++;
	if (child_spawn(&j->child, f->o->argv, &j->rec, f->o->timeout_ms, why,
	        sizeof(why)) == FL_OK)
		j->state = JOB_RUNNING;
	else
		job_verdict(f, j, FL_RETRY, -1, why); /* as exec says 503 */
}

/* Acts on the verdict of j's command. */
static void
job_verdict(struct follower *f, struct job *j, enum fl_verdict v, int code,
    const char *why)
{
	char dir_why[FL_WHY_MAX];

	switch (v) {
	case FL_RUNNING:
		return;
	case FL_DONE:
		seen_add(f->seen, j->rec.id, (int64_t)time(NULL));
		job_done(f, j);
		return;
	case FL_RETRY:
		j->state = JOB_WAITING;
		j->due_ms = now_ms() + backoff(f->o, j->attempts);
		if (f->o->once) {
			say("event %s (%s, offset %lld): %s %s; stopping "
			    "(--once): the next run retries it",
			    j->rec.id, j->lf->name, (long long)j->start,
			    f->o->argv[0], why);
			f->stopping = 1;
			if (f->result == FL_OK)
				f->result = FL_ERETRY;
			return;
		}
		say("event %s (%s, offset %lld): %s %s; retry %u in %.3g s",
		    j->rec.id, j->lf->name, (long long)j->start, f->o->argv[0],
		    why, j->attempts,
		    (double)backoff(f->o, j->attempts) / 1000);
		return;
	case FL_FAILED:
		if (f->o->stop_on_failure) {
			say("event %s (%s, offset %lld): %s %s; stopping "
			    "(--stop-on-failure): the next start runs it again",
			    j->rec.id, j->lf->name, (long long)j->start,
			    f->o->argv[0], why);
			j->state = JOB_WAITING;
			j->due_ms = -1;
			f->stopping = 1;
			f->result = FL_EFAILED;
			return;
		}
		if ((f->fatal = dead_append(f->o->state_dir, j->text, j->len,
		         code, NULL, dir_why, sizeof(dir_why))) != FL_OK) {
			snprintf(f->why, sizeof(f->why), "%s", dir_why);
			return;
		}
		say("event %s (%s, offset %lld): %s %s; written to "
		    "%s/deadletter.jsonl",
		    j->rec.id, j->lf->name, (long long)j->start, f->o->argv[0],
		    why, f->o->state_dir);
		job_done(f, j);
		return;
	}
}

/* Whether an unfinished job has this id (a duplicate waits for it). */
static int
id_running(const struct follower *f, const char *id)
{
	for (const struct job *j = f->head; j != NULL; j = j->next)
		if (j->state != JOB_DONE && strcmp(j->rec.id, id) == 0)
			return 1;
	return 0;
}

/* Prints one event's line and its newline (no command given). */
static int
print_line(const char *text, size_t len)
{
	size_t off = 0;
	ssize_t n;

	/* The newline follows the line in the file's buffer. */
	while (off < len + 1) {
		if ((n = write(STDOUT_FILENO, text + off, len + 1 - off)) ==
		        -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/*
 * Takes the next line of the oldest file that has one and acts on it.
 * Returns 1 when a line was taken, 0 when none can be taken now.
 */
static int
take(struct follower *f)
{
	struct logfile *lf = NULL;
	const char *text, *why;
	struct job *j;
	size_t len;
	off_t start;

	for (size_t i = 0; i < f->ls->n && lf == NULL; i++)
		if (logfile_has_line(f->ls->files[i]))
			lf = f->ls->files[i];
	if (lf == NULL || logfile_take(lf, &text, &len, &start) == -1)
		return 0;
	/* A copy of len bytes: a foreign line may hold a NUL. */
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->text = malloc(len + 1)) == NULL) {
		free(j);
		lf->next = start;
		f->fatal = FL_ENOMEM;
		snprintf(f->why, sizeof(f->why), "out of memory");
		return 0;
	}
	memcpy(j->text, text, len);
	j->text[len] = '\0';
	j->len = len;
	j->lf = lf;
	j->start = start;
	j->end = lf->next;
	j->child.pid = j->child.pidfd = -1;
	if (line_parse(&j->rec, j->text, len, &why) == -1) {
		if ((f->fatal = dead_append(f->o->state_dir, j->text, len, -1,
		         why, f->why, sizeof(f->why))) != FL_OK) {
			lf->next = start;
			job_free(j);
			return 0;
		}
		say("%s, offset %lld: %s; written to %s/deadletter.jsonl",
		    lf->name, (long long)start, why, f->o->state_dir);
		j->state = JOB_DONE;
	} else if (id_running(f, j->rec.id)) {
		lf->next = start; /* after the same event's other run */
		job_free(j);
		return 0;
	} else if (!line_match(&j->rec, f->o->matches, f->o->nmatches) ||
	    seen_has(f->seen, j->rec.id, (int64_t)time(NULL)))
		j->state = JOB_DONE;
	else if (f->o->argv == NULL) {
		if (print_line(text, len) == -1) {
			lf->next = start;
			job_free(j);
			f->fatal = FL_ESTDOUT;
			snprintf(f->why, sizeof(f->why),
			    "cannot write to standard output: %s",
			    strerror(errno));
			return 0;
		}
		seen_add(f->seen, j->rec.id, (int64_t)time(NULL));
		j->state = JOB_DONE;
	} else {
		j->ran = 1;
		f->nran++;
		job_start(f, j);
	}
	if (j->state == JOB_DONE)
		job_done(f, j);
	lf->inflight++;
	f->njobs++;
	if (f->tail != NULL)
		f->tail->next = j;
	else
		f->head = j;
	f->tail = j;
	return 1;
}

/* Takes lines while -j allows. */
static void
dispatch(struct follower *f)
{
	while (!f->stopping && f->fatal == FL_OK && f->nran < f->o->jobs &&
	    f->njobs < JOBS_LIST_MAX && take(f))
		f->again = 1; /* the last line taken: more may be there */
}

/* Drops the files that could not be found again, once idle. */
static void
drop_missing(struct follower *f)
{
	for (size_t i = 0; i < f->ls->n;) {
		struct logfile *lf = f->ls->files[i];

		if (lf->fd != -1 || lf->inflight > 0) {
			i++;
			continue;
		}
		say("cannot find %s (first record %s) any more: what followed "
		    "offset %lld in it is lost",
		    lf->name, *lf->received ? lf->received : "unknown",
		    (long long)lf->committed);
		logset_drop(f->ls, i);
		f->dirty = 1;
	}
}

/* A file no longer starts as it did: someone truncated or rewrote it. */
static void
replaced(struct follower *f, struct logfile *lf)
{
	say("%s was truncated or rewritten in place (at offset %lld); "
	    "looking for its old content elsewhere (a copytruncate copy)",
	    lf->name, (long long)lf->next);
	close(lf->fd);
	lf->fd = -1;
	lf->buf_off = lf->next;
	lf->buf_len = 0;
	lf->tail = 0;
	f->ls->rescan = 1;
}

/* Reads what the files without a waiting line got. */
static void
fill(struct follower *f)
{
	f->busy = 0;
	f->caught_up = 1;
	f->again = 0;
	for (size_t i = 0; i < f->ls->n && f->fatal == FL_OK; i++) {
		struct logfile *lf = f->ls->files[i];

		if (logfile_has_line(lf)) {
			f->caught_up = 0;
			continue;
		}
		switch (logfile_fill(lf, 1, f->why, sizeof(f->why))) {
		case FILL_NONE:
			break;
		case FILL_LINES:
			f->caught_up = 0;
			f->again = 1;
			break;
		case FILL_BUSY:
			f->busy = 1;
			f->caught_up = 0;
			break;
		case FILL_REPLACED:
			replaced(f, lf);
			f->caught_up = 0;
			break;
		case FILL_ERROR:
			f->fatal = FL_ELOG;
			break;
		}
	}
}

/*
 * Finishes the files that a newer one superseded FL_GRACE_S ago: read to
 * their end once more, under the lock, then closed and forgotten.
 * Returns the milliseconds until the next one is due, or -1.
 */
static long
retire(struct follower *f)
{
	time_t now = time(NULL), t;
	long next = -1;

	for (size_t i = 0; i + 1 < f->ls->n; i++) {
		struct logfile *lf = f->ls->files[i];

		if (lf->inflight > 0 || logfile_has_line(lf) || lf->fd == -1)
			continue;
		if (received_time(f->ls->files[i + 1]->received, &t) == 0 &&
		    now < t + FL_GRACE_S) {
			long ms = (long)(t + FL_GRACE_S - now) * 1000;

			if (next == -1 || ms < next)
				next = ms;
			continue;
		}
		switch (logfile_fill(lf, 1, f->why, sizeof(f->why))) {
		case FILL_NONE:
			break;
		case FILL_REPLACED:
			replaced(f, lf);
			continue;
		case FILL_ERROR:
			f->fatal = FL_ELOG;
			return -1;
		case FILL_BUSY:
			f->busy = 1;
			continue;
		case FILL_LINES:
			f->again = 1; /* a late record: take it first */
			continue;
		}
		if (lf->tail > 0)
			say("%s ends in %lld bytes of a record that was never "
			    "completed (a writer died mid-write; never "
			    "acknowledged): skipped",
			    lf->name, (long long)lf->tail);
		logset_drop(f->ls, i--);
		f->dirty = 1;
	}
	return next;
}

/* Commits the position (and the window's new ids). */
static void
commit(struct follower *f)
{
	struct fl_state st;
	size_t n = 0;

	memset(&st, 0, sizeof(st));
	if ((f->fatal = seen_sync(f->seen, 0, f->why, sizeof(f->why))) != FL_OK)
		return;
	st.log = (char *)f->o->log; /* borrowed for the call */
	memcpy(st.since, f->ls->since, sizeof(st.since));
	if ((st.files = calloc(f->ls->n + 1, sizeof(*st.files))) == NULL ||
	    seen_export(f->seen, &st) == -1) {
		f->fatal = FL_ENOMEM;
		snprintf(f->why, sizeof(f->why), "out of memory");
		goto done;
	}
	for (size_t i = 0; i < f->ls->n; i++, n++) {
		const struct logfile *lf = f->ls->files[i];
		struct fl_pos *p = &st.files[n];

		memcpy(p->received, lf->received, sizeof(p->received));
		memcpy(p->fp, lf->fp, sizeof(p->fp));
		p->fp_len = lf->fp_len;
		p->offset = lf->committed;
		p->dev = lf->dev;
		p->ino = lf->ino;
		p->name = lf->name; /* borrowed */
	}
	st.nfiles = n;
	if ((f->fatal = state_save(f->o->state_dir, &st, f->why,
	         sizeof(f->why))) == FL_OK)
		f->dirty = 0;
done:
	free(st.files);
	free(st.ids);
}

/* Collects exits and passes deadlines; fds[] tells which pidfds fired. */
static void
reap(struct follower *f, const struct pollfd *fds, size_t nfds)
{
	char why[FL_WHY_MAX];
	long now = now_ms();
	enum fl_verdict v;
	int code;

	for (struct job *j = f->head; j != NULL && f->fatal == FL_OK;
	     j = j->next) {
		int fired = j->child.pidfd == -1; /* no pidfd: look each time */

		if (j->state == JOB_WAITING && !f->stopping && j->due_ms >= 0 &&
		    now >= j->due_ms) {
			job_start(f, j);
			continue;
		}
		if (j->state != JOB_RUNNING)
			continue;
		for (size_t i = 0; i < nfds && !fired; i++)
			fired =
			    fds[i].fd == j->child.pidfd && fds[i].revents != 0;
		if (now < j->child.deadline_ms && !fired)
			continue;
		v = child_reap(&j->child, now >= j->child.deadline_ms, &code,
		    why, sizeof(why));
		job_verdict(f, j, v, code, why);
	}
}

/* The longest poll may wait, in ms (-1: until something happens). */
static long
wait_ms(const struct follower *f, long retire_ms)
{
	long now = now_ms(), t = retire_ms, d;

	for (const struct job *j = f->head; j != NULL; j = j->next) {
		d = -1;
		if (j->state == JOB_RUNNING)
			d = j->child.pidfd == -1 ? 10
			                         : j->child.deadline_ms - now;
		else if (j->state == JOB_WAITING && !f->stopping &&
		    j->due_ms >= 0)
			d = j->due_ms - now;
		if (d != -1 && (t == -1 || d < t))
			t = d < 0 ? 0 : d;
	}
	if (f->again || f->ls->rescan)
		return 0;
	if (f->busy && (t == -1 || t > BUSY_MS))
		t = BUSY_MS;
	/* Neither the directory nor its parent to watch: look now and then. */
	if (f->ls->wd == -1 && f->ls->pwd == -1 &&
	    (t == -1 || t > MISSING_DIR_MS))
		t = MISSING_DIR_MS;
	return t;
}

static int
running(const struct follower *f)
{
	for (const struct job *j = f->head; j != NULL; j = j->next)
		if (j->state == JOB_RUNNING)
			return 1;
	return 0;
}

/* Reads the stop signals that came. */
static void
signals(struct follower *f)
{
	struct signalfd_siginfo si;

	while (read(f->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (!f->stopping)
			say("signal %u: stopping once the running commands "
			    "are done",
			    si.ssi_signo);
		f->stopping = 1;
	}
}

/* Waits for the next thing to do. */
static void
wait_next(struct follower *f, long retire_ms)
{
	struct pollfd fds[2 + 256];
	size_t n = 0;
	long t = wait_ms(f, retire_ms);

	fds[n++] = (struct pollfd){f->sigfd, POLLIN, 0};
	if (f->ls->ino_fd != -1)
		fds[n++] = (struct pollfd){f->ls->ino_fd, POLLIN, 0};
	for (const struct job *j = f->head; j != NULL && n < 2 + 256;
	     j = j->next)
		if (j->state == JOB_RUNNING && j->child.pidfd != -1)
			fds[n++] = (struct pollfd){j->child.pidfd, POLLIN, 0};
	if (poll(fds, (nfds_t)n, t > 0x7fffffff ? 0x7fffffff : (int)t) == -1 &&
	    errno != EINTR) {
		f->fatal = FL_ELOG;
		snprintf(f->why, sizeof(f->why), "poll: %s", strerror(errno));
		return;
	}
	if (fds[0].revents)
		signals(f);
	if (n > 1 && fds[1].fd == f->ls->ino_fd && fds[1].revents)
		logset_events(f->ls);
	reap(f, fds, n);
}

/* Sets up what the loop needs: the state, the window, the files. */
static enum fl_err
start(struct follower *f, struct fl_state *st, char *why, size_t wl)
{
	enum fl_err rc;
	sigset_t set;

	if (f->o->argv != NULL &&
	    (rc = child_check(f->o->argv[0], why, wl)) != FL_OK)
		return rc;
	if ((rc = state_load(f->o->state_dir, st, why, wl)) != FL_OK)
		return rc;
	if (st->exists && strcmp(st->log, f->o->log) != 0) {
		snprintf(why, wl,
		    "%s/state follows %.200s, not %.200s: give "
		    "each log a state directory of its own",
		    f->o->state_dir, st->log, f->o->log);
		return FL_ESTATE;
	}
	if ((rc = seen_open(&f->seen, f->o->state_dir, f->o->dedupe_count,
	         f->o->dedupe_age_s, st, why, wl)) != FL_OK)
		return rc;
	if ((f->ls = logset_new(f->o->log, why, wl)) == NULL)
		return FL_EUSAGE;
	f->first = !st->exists;
	if (f->first)
		received_format(f->ls->since, sizeof(f->ls->since),
		    time(NULL) - FL_GRACE_S);
	else
		memcpy(f->ls->since, st->since, sizeof(f->ls->since));
	for (size_t i = 0; i < st->nfiles; i++) {
		const struct fl_pos *p = &st->files[i];
		struct logfile *lf = logfile_new();

		if (lf == NULL || (lf->name = strdup(p->name)) == NULL) {
			logfile_free(lf);
			snprintf(why, wl, "out of memory");
			return FL_ENOMEM;
		}
		memcpy(lf->received, p->received, sizeof(lf->received));
		memcpy(lf->fp, p->fp, sizeof(lf->fp));
		lf->fp_len = p->fp_len;
		lf->next = lf->committed = lf->buf_off = p->offset;
		lf->dev = p->dev;
		lf->ino = p->ino;
		if (logset_add(f->ls, lf) == NULL) {
			snprintf(why, wl, "%s/state names more than %d files",
			    f->o->state_dir, FL_FILES_MAX);
			return FL_ESTATE;
		}
	}
	/* Stop signals are read in the loop; a closed pipe is an error
	 * returned by write(2), not a death. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (f->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		snprintf(why, wl, "cannot set up signals: %s", strerror(errno));
		return FL_ELOG;
	}
	f->dirty = 1; /* a first commit proves DIR writable */
	return FL_OK;
}

/* One look at the directory, when something changed there. */
static void
scan(struct follower *f)
{
	size_t before = f->ls->n;

	if ((f->ls->wd == -1 || f->ls->pwd == -1) &&
	    logset_watch(f->ls) == -1) {
		f->fatal = FL_ELOG;
		snprintf(f->why, sizeof(f->why), "inotify: %s",
		    strerror(errno));
		return;
	}
	if (f->ls->rescan) {
		if ((f->fatal = logset_scan(f->ls, time(NULL), f->first, f->why,
		         sizeof(f->why))) != FL_OK)
			return;
		f->first = 0;
		drop_missing(f);
		if (f->ls->n != before)
			f->dirty = 1;
	}
	if (f->ls->wd == -1 && !f->dir_gone)
		say("%s does not exist: waiting for it", f->ls->dir);
	else if (f->ls->wd != -1 && f->dir_gone)
		say("%s is back", f->ls->dir);
	f->dir_gone = f->ls->wd == -1;
}

/*
 * Follows o->log until a stop signal, --once caught up, or an error.
 * Returns FL_OK, or the reason it stopped with why set.
 */
enum fl_err
follow_run(const struct fl_opts *o, char *why, size_t wl)
{
	struct follower f;
	struct fl_state st;
	enum fl_err rc;
	int lock = -1;
	long retire_ms;

	memset(&f, 0, sizeof(f));
	memset(&st, 0, sizeof(st));
	f.o = o;
	f.sigfd = -1;
	if ((rc = state_lock(o->state_dir, &lock, why, wl)) != FL_OK ||
	    (rc = start(&f, &st, why, wl)) != FL_OK)
		goto done;
	for (;;) {
		scan(&f);
		if (f.fatal == FL_OK)
			fill(&f);
		/* What finished is committed before its place is given to
		 * another command: a crash repeats at most -j events. */
		settle(&f);
		if (f.fatal == FL_OK && f.dirty)
			commit(&f);
		if (f.fatal == FL_OK)
			dispatch(&f);
		settle(&f);
		/* All taken: there may be more behind what was read. */
		for (size_t i = 0; i < f.ls->n && f.again; i++)
			if (logfile_has_line(f.ls->files[i]))
				f.again = 0;
		retire_ms = f.fatal == FL_OK ? retire(&f) : -1;
		if (f.fatal == FL_OK && f.dirty)
			commit(&f);
		if (f.fatal != FL_OK) {
			/* What was done before is kept, unless committing
			 * itself failed. */
			if (f.fatal != FL_ESTATE && f.fatal != FL_ENOMEM &&
			    f.dirty) {
				enum fl_err first = f.fatal;
				char why2[FL_WHY_MAX];

				memcpy(why2, f.why, sizeof(why2));
				f.fatal = FL_OK;
				settle(&f);
				commit(&f);
				if (f.fatal == FL_OK) {
					f.fatal = first;
					memcpy(f.why, why2, sizeof(why2));
				}
			}
			break;
		}
		if (f.stopping && !running(&f))
			break;
		if (o->once && f.caught_up && f.head == NULL && !f.busy &&
		    !f.ls->rescan)
			break;
		wait_next(&f, retire_ms);
	}
	rc = f.fatal != FL_OK ? f.fatal : f.result;
	/* A stop at a command's verdict was said when it came. */
	snprintf(why, wl, "%s", f.fatal != FL_OK ? f.why : "");
done:
	while (f.head != NULL) {
		struct job *j = f.head;
		char jwhy[FL_WHY_MAX];
		int code;

		f.head = j->next;
		/* A fatal stop leaves commands running, whose events are not
		 * committed: the next start runs them again, and must not
		 * find the old ones still at work. */
		if (j->state == JOB_RUNNING && j->child.pid > 0) {
			say("stopping: killed the command of event %s, which "
			    "runs again at the next start",
			    j->rec.id);
			child_reap(&j->child, 1, &code, jwhy, sizeof(jwhy));
		}
		if (j->child.pidfd != -1)
			close(j->child.pidfd);
		job_free(j);
	}
	logset_free(f.ls);
	seen_free(f.seen);
	state_clear(&st);
	if (f.sigfd != -1)
		close(f.sigfd);
	if (lock != -1)
		close(lock);
	return rc;
}
