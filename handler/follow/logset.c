/*
 * logset.c: the files that make up one log, oldest first.
 *
 * LOG names one file (logrotate renames it to LOG.1, LOG-20261130, ...,
 * and hookline creates a new one) or is a strftime(3) pattern (hookline
 * moves on to a new file each period).  Either way the log is a sequence
 * of files in one directory, and the files sort by the time of their
 * first record, which is read from the file, never guessed from a name.
 * A scan of the directory finds:
 *
 *  - the files already followed, by inode (they are open), wherever a
 *    rename put them;
 *  - files that the state file names but that are not open yet (at
 *    start, or after a truncation), by fingerprint: a renamed file, or
 *    the copy that logrotate's copytruncate made;
 *  - new files: those whose first record is not older than the newest
 *    file known (since), and, on the very first start, the file LOG names
 *    now.  Older unknown files were finished before, or are not ours.
 *
 * Compressed files are never candidates: a file compressed before it was
 * read to its end is lost to hookline-follow, which is why logrotate's
 * delaycompress matters (deploy/logrotate/hookline has it).
 *
 * Waiting is inotify(7) on the directory: a file created, renamed,
 * removed or appended to there wakes the loop.  Its parent is watched
 * too, for the directory itself going away and coming back: inotify does
 * not report the removal of a directory to its own watch while a file of
 * it is still open (and hookline-follow keeps one open).  The strftime
 * conversions must all be in the file name, so that one directory holds
 * every file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow.h"

#define PARENT_MASK                                                            \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)
#define WATCH_MASK                                                             \
	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_MODIFY |     \
	    IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |       \
	    IN_ONLYDIR)

static const char *const compressed[] = {".gz", ".bz2", ".xz", ".zst", ".lz4",
    ".lzma", ".Z", ".zip"};

/*
 * The fnmatch(3) pattern of the names a strftime pattern expands to:
 * each conversion (with its flags, width and E or O modifier) matches
 * anything, "%%" is a percent sign, other characters stand for
 * themselves.
 */
static char *
glob_of(const char *pat)
{
	char *out = malloc(2 * strlen(pat) + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (const char *p = pat; *p != '\0'; p++) {
		if (*p == '%' && p[1] == '%') {
			*o++ = '%';
			p++;
		} else if (*p == '%') {
			p++;
			while (*p != '\0' && strchr("_-0^#", *p) != NULL)
				p++;
			while (*p >= '0' && *p <= '9')
				p++;
			if (*p == 'E' || *p == 'O')
				p++;
			if (*p == '\0')
				break;
			if (o == out || o[-1] != '*')
				*o++ = '*';
		} else {
			if (strchr("*?[\\", *p) != NULL)
				*o++ = '\\';
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/*
 * The log named by pattern (borrowed; copied).  Returns NULL with why set
 * when the pattern cannot be followed, or when out of memory.
 */
struct logset *
logset_new(const char *pattern, char *why, size_t wl)
{
	struct logset *ls = calloc(1, sizeof(*ls));
	const char *slash = strrchr(pattern, '/');

	if (ls == NULL)
		goto nomem;
	ls->ino_fd = -1;
	ls->wd = -1;
	ls->pwd = -1;
	ls->rescan = 1;
	if (slash == NULL || slash[1] == '\0') {
		snprintf(why, wl, "LOG %.200s names no file", pattern);
		goto fail;
	}
	if (memchr(pattern, '%', (size_t)(slash - pattern)) != NULL) {
		snprintf(why, wl,
		    "LOG %.200s: strftime conversions are "
		    "only followed in the file name, not in directories",
		    pattern);
		goto fail;
	}
	ls->is_pattern = strchr(slash + 1, '%') != NULL;
	if ((ls->pattern = strdup(pattern)) == NULL ||
	    (ls->dir = strndup(pattern,
	         slash == pattern ? 1 : (size_t)(slash - pattern))) == NULL ||
	    (ls->base = strdup(slash + 1)) == NULL ||
	    (ls->base_glob = glob_of(slash + 1)) == NULL)
		goto nomem;
	/* The directory's parent, and its name there ("/" has neither). */
	slash = strrchr(ls->dir, '/');
	if (slash[1] != '\0') {
		ls->dir_name = slash + 1;
		if ((ls->parent = strndup(ls->dir,
		         slash == ls->dir ? 1 : (size_t)(slash - ls->dir))) ==
		    NULL)
			goto nomem;
	}
	return ls;
nomem:
	snprintf(why, wl, "out of memory");
fail:
	logset_free(ls);
	return NULL;
}

/* Closes every file and the watch; NULL does nothing. */
void
logset_free(struct logset *ls)
{
	if (ls == NULL)
		return;
	for (size_t i = 0; i < ls->n; i++)
		logfile_free(ls->files[i]);
	if (ls->ino_fd != -1)
		close(ls->ino_fd);
	free(ls->pattern);
	free(ls->dir);
	free(ls->parent);
	free(ls->base);
	free(ls->base_glob);
	free(ls);
}

/* Whether a name in the directory may be a file of this log. */
int
logset_candidate(const struct logset *ls, const char *name)
{
	size_t n = strlen(name), bl = strlen(ls->base);

	for (size_t i = 0; i < sizeof(compressed) / sizeof(*compressed); i++) {
		size_t cl = strlen(compressed[i]);

		if (n > cl && strcmp(name + n - cl, compressed[i]) == 0)
			return 0;
	}
	if (ls->is_pattern)
		return fnmatch(ls->base_glob, name, FNM_PERIOD) == 0;
	/* LOG itself, and what logrotate renames it to. */
	return strncmp(name, ls->base, bl) == 0 &&
	    (name[bl] == '\0' || name[bl] == '.' || name[bl] == '-');
}

/* The path LOG names at time t (UTC), into out. */
void
logset_expand(const struct logset *ls, time_t t, char *out, size_t ol)
{
	struct tm tm;

	if (!ls->is_pattern || gmtime_r(&t, &tm) == NULL) {
		snprintf(out, ol, "%s", ls->pattern);
		return;
	}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	/* The pattern is the administrator's, as in HOOKLINE_LOG. */
	if (strftime(out, ol, ls->pattern, &tm) == 0)
		out[0] = '\0';
#pragma GCC diagnostic pop
}

/*
 * Adds lf (owned from now on) in its place: after every file whose first
 * record is not newer.  Returns lf, or NULL (lf freed) when FL_FILES_MAX
 * files are followed already.
 */
struct logfile *
logset_add(struct logset *ls, struct logfile *lf)
{
	size_t i = ls->n;

	if (ls->n == FL_FILES_MAX) {
		logfile_free(lf);
		return NULL;
	}
	while (i > 0 && strcmp(ls->files[i - 1]->received, lf->received) > 0) {
		ls->files[i] = ls->files[i - 1];
		i--;
	}
	ls->files[i] = lf;
	ls->n++;
	if (strcmp(lf->received, ls->since) > 0)
		memcpy(ls->since, lf->received, sizeof(ls->since));
	return lf;
}

/* Closes and forgets the i-th file. */
void
logset_drop(struct logset *ls, size_t i)
{
	logfile_free(ls->files[i]);
	memmove(ls->files + i, ls->files + i + 1,
	    (ls->n - i - 1) * sizeof(*ls->files));
	ls->n--;
}

/*
 * Sees one directory entry: a file followed already, one the state names
 * (adopted at its offset), a new one, or none of these.
 */
static enum fl_err
scan_one(struct logset *ls, const char *path, const char *now_path, int first,
    char *why, size_t wl)
{
	char received[FL_RECEIVED_MAX];
	unsigned char fp[32];
	struct logfile *lf;
	struct stat st;
	size_t fp_len;
	int fd, r;

	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return FL_OK; /* gone since readdir, or no file */
	for (size_t i = 0; i < ls->n; i++) {
		lf = ls->files[i];
		if (lf->fd != -1 && lf->dev == st.st_dev &&
		    lf->ino == st.st_ino) {
			if (strcmp(lf->name, path) != 0) {
				char *p = strdup(path);

				if (p == NULL)
					goto nomem;
				free(lf->name);
				lf->name = p;
			}
			return FL_OK;
		}
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT)
			return FL_OK;
		snprintf(why, wl, "cannot open %s: %s", path, strerror(errno));
		return FL_ELOG;
	}
	if ((r = logfile_identify(fd, fp, &fp_len, received,
	         sizeof(received))) != 1) {
		close(fd);
		if (r == 0) {
			ls->pending = 1;
			return FL_OK;
		}
		snprintf(why, wl, "cannot read %s: %s", path, strerror(errno));
		return FL_ELOG;
	}
	for (size_t i = 0; i < ls->n; i++) {
		lf = ls->files[i];
		if (lf->fp_len != fp_len || memcmp(lf->fp, fp, sizeof(fp)) != 0)
			continue;
		if (lf->fd != -1) {
			close(fd); /* another name for a file followed */
			return FL_OK;
		}
		{
			char *p = strdup(path);

			if (p == NULL) {
				close(fd);
				goto nomem;
			}
			free(lf->name);
			lf->name = p;
			lf->fd = fd;
			lf->dev = st.st_dev;
			lf->ino = st.st_ino;
			/* A copy holds the same bytes at the same offsets.
			 * One that ends before what was read was made while
			 * hookline still appended to the original, whose
			 * records past it ran: it holds nothing unread. */
			lf->buf_off = lf->next;
			lf->buf_len = 0;
			lf->tail = 0;
			lf->short_copy = st.st_size < lf->next;
			if (lf->short_copy)
				say("%s ends at offset %lld, before offset %lld "
				    "read from the file it is a copy of: "
				    "nothing in it is left to run unless it grows",
				    path, (long long)st.st_size,
				    (long long)lf->next);
			return FL_OK;
		}
	}
	if (strcmp(received, ls->since) < 0 &&
	    !(first && strcmp(path, now_path) == 0)) {
		close(fd); /* older than what we follow: done before */
		return FL_OK;
	}
	if ((lf = logfile_new()) == NULL || (lf->name = strdup(path)) == NULL) {
		close(fd);
		logfile_free(lf);
		goto nomem;
	}
	lf->fd = fd;
	lf->dev = st.st_dev;
	lf->ino = st.st_ino;
	memcpy(lf->received, received, sizeof(received));
	memcpy(lf->fp, fp, sizeof(fp));
	lf->fp_len = fp_len;
	if (logset_add(ls, lf) == NULL) {
		ls->pending = 1; /* taken up once older files are done */
		say("%d files of %s are followed already; %s waits",
		    FL_FILES_MAX, ls->pattern, path);
	}
	return FL_OK;
nomem:
	snprintf(why, wl, "out of memory");
	return FL_ENOMEM;
}

/*
 * Looks through the directory (see the top of this file).  now is the
 * time LOG is expanded at; first says that no state was found, so the
 * file LOG names now is followed from its start whatever its age.
 * Returns FL_OK (a missing directory is no error: it may come back), or
 * FL_ELOG or FL_ENOMEM with why set.
 */
enum fl_err
logset_scan(struct logset *ls, time_t now, int first, char *why, size_t wl)
{
	char path[PATH_MAX], now_path[PATH_MAX];
	enum fl_err rc = FL_OK;
	struct dirent *de;
	struct stat sb;
	DIR *d;

	ls->rescan = 0;
	ls->pending = 0;
	logset_expand(ls, now, now_path, sizeof(now_path));
	/* A directory removed (inotify does not always say so while a file
	 * of it is open) or replaced: its watch is given up, and taken
	 * again on the path. */
	if (ls->wd != -1 &&
	    (stat(ls->dir, &sb) == -1 || sb.st_dev != ls->dir_dev ||
	        sb.st_ino != ls->dir_ino)) {
		inotify_rm_watch(ls->ino_fd, ls->wd);
		ls->wd = -1;
		if (logset_watch(ls) == -1) {
			snprintf(why, wl, "inotify: %s", strerror(errno));
			return FL_ELOG;
		}
		ls->rescan = 0;
	}
	if ((d = opendir(ls->dir)) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return FL_OK;
		snprintf(why, wl, "cannot read directory %s: %s", ls->dir,
		    strerror(errno));
		return FL_ELOG;
	}
	while (rc == FL_OK && (de = readdir(d)) != NULL) {
		if (!logset_candidate(ls, de->d_name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s",
		        strcmp(ls->dir, "/") == 0 ? "" : ls->dir,
		        de->d_name) >= sizeof(path))
			continue;
		rc = scan_one(ls, path, now_path, first, why, wl);
	}
	closedir(d);
	return rc;
}

/*
 * Watches the directory, if it exists (again).  Returns the inotify
 * descriptor to poll, or -1 with errno set when inotify cannot be had.
 */
int
logset_watch(struct logset *ls)
{
	struct stat sb;

	if (ls->ino_fd == -1 &&
	    (ls->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	if (ls->pwd == -1 && ls->dir_name != NULL)
		ls->pwd =
		    inotify_add_watch(ls->ino_fd, ls->parent, PARENT_MASK);
	if (ls->wd == -1 &&
	    (ls->wd = inotify_add_watch(ls->ino_fd, ls->dir, WATCH_MASK)) !=
	        -1) {
		ls->rescan = 1; /* what happened while nobody watched */
		if (stat(ls->dir, &sb) == 0) {
			ls->dir_dev = sb.st_dev;
			ls->dir_ino = sb.st_ino;
		}
	}
	return ls->ino_fd;
}

/*
 * Reads the pending inotify events.  Sets ls->rescan when the directory's
 * files changed (and ls->wd to -1 when the directory itself went away).
 * Returns 1 when a file of the log may have grown, 0 otherwise.
 */
int
logset_events(struct logset *ls)
{
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	int grew = 0;
	ssize_t n;

	while ((n = read(ls->ino_fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				ls->rescan = grew = 1; /* events were lost */
				continue;
			}
			if (ev->wd == ls->pwd && ev->wd != -1) {
				/* The directory itself went, came or moved. */
				if (ev->mask & IN_IGNORED)
					ls->pwd = -1;
				else if (ev->len > 0 &&
				    strcmp(ev->name, ls->dir_name) == 0)
					ls->rescan = grew = 1;
				continue;
			}
			if (ev->wd != ls->wd)
				continue; /* from a watch given up before */
			if (ev->mask &
			    (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
				/* Gone or renamed: watch the path afresh. */
				inotify_rm_watch(ls->ino_fd, ls->wd);
				ls->wd = -1;
				ls->rescan = grew = 1;
				continue;
			}
			if (ev->len == 0 || !logset_candidate(ls, ev->name))
				continue;
			if (ev->mask &
			    (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
			        IN_DELETE | IN_ATTRIB))
				ls->rescan = 1;
			if (ls->pending)
				ls->rescan = 1;
			grew = 1;
		}
	return grew;
}
