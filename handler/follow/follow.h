/*
 * follow.h: the modules of hookline-follow, a durable consumer of
 * hookline's event log (hookline-follow(1)).
 *
 * One job per file: opts.c (the command line), line.c (one log line: its
 * fields, its body, --match), logfile.c (one file of the log: identity
 * and complete lines), logset.c (the files that make up the log, in
 * order, through rotation), state.c (the committed position, durably),
 * seen.c (the ids that succeeded recently), child.c (running the
 * command), dead.c (the dead-letter file), follow.c (the loop that ties
 * them together), say.c (messages).  main.c only starts it and is the
 * only place that exits.
 */
#ifndef FOLLOW_H
#define FOLLOW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/*
 * Every fallible step returns one of these; main.c maps each to the exit
 * status (fl_exit_status), so the contract of hookline-follow(1)'s EXIT
 * STATUS lives in one place.
 */
enum fl_err {
	FL_OK = 0,
	FL_EUSAGE, /* bad command line */
	FL_ESTATE, /* the state directory cannot be read or written */
	FL_ELOG, /* the log cannot be read */
	FL_ENOMEM, /* out of memory */
	FL_EBUSY, /* another hookline-follow uses the state directory */
	FL_EFAILED, /* a command failed for good, and --stop-on-failure */
	FL_ERETRY, /* --once: stopped at an event that must be retried */
	FL_ESTDOUT, /* standard output was closed (no command) */
	FL_ERR__MAX
};

/* Length of the longest reason text a step hands back. */
#define FL_WHY_MAX 512

/* The length of "2026-11-29T06:22:28.123456Z" plus room: how files sort. */
#define FL_RECEIVED_MAX 40

/* ---- opts.c ------------------------------------------------------------ */

/* One --match KEY=VALUE; both point into argv. */
struct fl_match {
	const char *key;
	size_t key_len;
	const char *value;
};

/* The command line.  Everything points into argv or is owned here. */
struct fl_opts {
	const char *state_dir;
	const char *log; /* a path or a strftime(3) pattern */
	char **argv; /* the command, NULL-terminated; NULL: print lines */
	unsigned jobs; /* -j: commands at once */
	unsigned timeout_ms; /* -t: a command's time limit */
	unsigned backoff_min_ms; /* --backoff MIN,MAX */
	unsigned backoff_max_ms;
	unsigned dedupe_count; /* 0: --no-dedupe */
	unsigned dedupe_age_s;
	int once; /* --once: exit when caught up */
	int stop_on_failure; /* --stop-on-failure */
	int help; /* -h, --help: print the usage, nothing else */
	int version; /* -V: print the version, nothing else */
	struct fl_match *matches; /* owned array */
	size_t nmatches;
};

enum fl_err opts_parse(struct fl_opts *, int, char **, char *, size_t);
void opts_free(struct fl_opts *);
const char *opts_usage(void);

/* ---- line.c ------------------------------------------------------------ */

/*
 * One record of the log, parsed.  text is borrowed from the caller; body
 * points into it; the other strings live in the parsed tree until
 * line_clear().
 */
struct fl_line {
	const char *text; /* the line without its newline */
	size_t len;
	const char *body; /* the "event" value exactly as in the line */
	size_t body_len;
	char id[65];
	const char *received;
	const char *remote; /* NULL when null */
	const char *scheme; /* as the exec plugin's: "sha1", "stripe"...; NULL
	                       when unverified */
	const char *status; /* the event's common hotglue fields, or NULL */
	const char *job_id;
	const char *flow_id;
	const char *tenant;
	struct cJSON *root;
	struct cJSON *event;
};

int line_parse(struct fl_line *, const char *, size_t, const char **);
void line_clear(struct fl_line *);
int line_match(const struct fl_line *, const struct fl_match *, size_t);
void line_received(const char *, size_t, char *, size_t);
int received_time(const char *, time_t *);
void received_format(char *, size_t, time_t);
int hex_decode(const char *, unsigned char *, size_t);

/* ---- logfile.c --------------------------------------------------------- */

/* How many bytes of a file's first line identify it (the fingerprint). */
#define FL_FP_MAX 1024

/*
 * One file of the log, open for reading.  Its identity is its
 * fingerprint: the SHA-256 of its first line (at most FL_FP_MAX bytes),
 * which holds the first record's time and id; dev and ino say where it
 * was last seen.  buf holds the complete lines read from [buf_off,
 * buf_off + buf_len) of the file; next is the offset of the first line
 * not yet taken.
 */
struct logfile {
	int fd; /* -1: not found (yet) */
	char *name; /* owned: the path it was last seen at */
	dev_t dev;
	ino_t ino;
	char received[FL_RECEIVED_MAX]; /* the first record's, "" if none */
	unsigned char fp[32];
	size_t fp_len; /* 0: no complete first line yet */
	off_t next;
	off_t committed; /* what the state file says (or will say) */
	char *buf;
	size_t cap;
	off_t buf_off;
	size_t buf_len;
	off_t tail; /* bytes after the last complete line, at the last read */
	unsigned inflight; /* events of this file not yet committed */
	int short_copy; /* a copy that ends before next: read, until it grows */
};

enum fl_fill { FILL_NONE, FILL_LINES, FILL_BUSY, FILL_REPLACED, FILL_ERROR };

struct logfile *logfile_new(void);
void logfile_free(struct logfile *);
int logfile_identify(int, unsigned char *, size_t *, char *, size_t);
enum fl_fill logfile_fill(struct logfile *, int, char *, size_t);
int logfile_take(struct logfile *, const char **, size_t *, off_t *);
int logfile_has_line(const struct logfile *);

/* ---- logset.c ---------------------------------------------------------- */

/* The files of a log, oldest first. */
#define FL_FILES_MAX 64

/*
 * A superseded file is read until its successor's first record is this
 * old: hookline takes an event's time before it writes the event, so a
 * late writer (one that waited up to 10 s for the lock) may still append
 * to the file of the period before.
 */
#define FL_GRACE_S 15

struct logset {
	char *pattern; /* owned: LOG as given */
	char *dir; /* owned: its directory */
	char *base_glob; /* owned: fnmatch(3) pattern of its files' names */
	char *base; /* owned: the plain name, when LOG is no pattern */
	int is_pattern;
	struct logfile *files[FL_FILES_MAX];
	size_t n;
	char since[FL_RECEIVED_MAX]; /* unknown files older than this are old */
	int ino_fd; /* inotify */
	int wd; /* the directory's watch, -1 when it is missing */
	char *parent; /* owned: the directory's parent */
	const char *dir_name; /* its name there, in dir; NULL for "/" */
	int pwd; /* the parent's watch, -1 when it is missing */
	dev_t dir_dev; /* the directory watched */
	ino_t dir_ino;
	int rescan; /* something changed in the directory */
	int pending; /* a candidate had no complete first line yet */
};

struct logset *logset_new(const char *, char *, size_t);
void logset_free(struct logset *);
int logset_candidate(const struct logset *, const char *);
enum fl_err logset_scan(struct logset *, time_t, int, char *, size_t);
int logset_watch(struct logset *);
int logset_events(struct logset *);
struct logfile *logset_add(struct logset *, struct logfile *);
void logset_drop(struct logset *, size_t);
void logset_expand(const struct logset *, time_t, char *, size_t);

/* ---- state.c ----------------------------------------------------------- */

/* One id that succeeded, at seq in the window's order. */
struct fl_seen_id {
	uint64_t seq;
	char id[65];
	int64_t when; /* seconds since the epoch */
};

/* Where a file of the log stands, as committed. */
struct fl_pos {
	char received[FL_RECEIVED_MAX];
	unsigned char fp[32];
	size_t fp_len;
	off_t offset;
	dev_t dev;
	ino_t ino;
	char *name; /* owned */
};

/*
 * The state directory's "state" file: the log it follows, where each file
 * of it stands, and the ids that succeeded since the window's own file
 * was last synced.  Everything is owned.
 */
struct fl_state {
	int exists; /* a state file was found */
	char *log;
	char since[FL_RECEIVED_MAX];
	struct fl_pos *files;
	size_t nfiles;
	uint64_t seen_next; /* the seq the next id will get */
	uint64_t seen_synced; /* ids below this seq are in the "seen" file */
	struct fl_seen_id *ids;
	size_t nids;
};

enum fl_err state_load(const char *, struct fl_state *, char *, size_t);
enum fl_err state_save(const char *, const struct fl_state *, char *, size_t);
void state_clear(struct fl_state *);
enum fl_err state_lock(const char *, int *, char *, size_t);
int state_sync_dir(const char *);

/* ---- seen.c ------------------------------------------------------------ */

/* ids are written to the window's file once this many wait in the state. */
#define FL_SEEN_BATCH 64

struct seen;

enum fl_err seen_open(struct seen **, const char *, unsigned, unsigned,
    const struct fl_state *, char *, size_t);
void seen_free(struct seen *);
int seen_has(const struct seen *, const char *, int64_t);
void seen_add(struct seen *, const char *, int64_t);
enum fl_err seen_sync(struct seen *, int, char *, size_t);
int seen_export(const struct seen *, struct fl_state *);

/* ---- child.c ----------------------------------------------------------- */

/* A command running for one event. */
struct child {
	pid_t pid;
	int pidfd;
	long deadline_ms; /* monotonic */
};

enum fl_verdict { FL_RUNNING, FL_DONE, FL_RETRY, FL_FAILED };

enum fl_err child_spawn(struct child *, char *const[], const struct fl_line *,
    unsigned, char *, size_t);
enum fl_verdict child_reap(struct child *, int, int *, char *, size_t);
enum fl_err child_check(const char *, char *, size_t);
long now_ms(void);

/* ---- dead.c ------------------------------------------------------------ */

enum fl_err dead_append(const char *, const char *, size_t, int, const char *,
    char *, size_t);
void time_format(char *, size_t);

/* ---- say.c ------------------------------------------------------------- */

void say(const char *, ...) __attribute__((format(printf, 1, 2)));

/* ---- follow.c ---------------------------------------------------------- */

enum fl_err follow_run(const struct fl_opts *, char *, size_t);

#endif /* FOLLOW_H */
