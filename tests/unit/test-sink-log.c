/*
 * test-sink-log: appends, file mode, rotation, strftime names, torn tails
 * and refusals, on real files in a temporary directory.
 */
#include <fcntl.h>
#include <time.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hookline.h"
#include "gsync.h"
#include "tap.h"

static char dir[] = "/tmp/hookline-sink-XXXXXX", why[HL_WHY_MAX],
    note[HL_WHY_MAX];
static struct timespec now = {1795933348, 0};

/* Appends rec to the log path (a pattern) as a request at now would. */
static enum hl_err
append_at(struct sink_log *s, const char *path, const char *rec,
    enum hl_sync sync, const struct timespec *when)
{
	struct hl_config cfg = {.log = path, .sync = sync};
	struct hl_request req = {.cfg = &cfg, .received = *when};
	struct hl_buf b = {(char *)rec, strlen(rec), strlen(rec)};
	enum hl_err rc = sink_log_append(s, &req, &b);

	snprintf(why, sizeof(why), "%s", req.why.text);
	snprintf(note, sizeof(note), "%s", req.note.text);
	return rc;
}

static enum hl_err
add_sync(struct sink_log *s, const char *path, const char *rec,
    enum hl_sync sync)
{
	return append_at(s, path, rec, sync, &now);
}

static enum hl_err
add(struct sink_log *s, const char *path, const char *rec)
{
	return add_sync(s, path, rec, HL_SYNC_GROUP);
}

/* The group-commit counters' file of the log file st describes. */
static const char *
shm_name(const struct stat *st)
{
	static char name[128];

	snprintf(name, sizeof(name), "/dev/shm/hookline-gsync2-%lu-%lu-%lu",
	    (unsigned long)geteuid(), (unsigned long)st->st_dev,
	    (unsigned long)st->st_ino);
	return name;
}

static char *
slurp(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return strcpy(buf, "(missing)");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

int
main(void)
{
	struct sink_log *s = sink_log_new();
	char path[256], moved[256], pat[256];
	struct stat st, sst;
	int fd;

	umask(077);
	ok(mkdtemp(dir) != NULL, "temporary directory");
	snprintf(path, sizeof(path), "%s/events.jsonl", dir);
	snprintf(moved, sizeof(moved), "%s/events.jsonl.1", dir);

	ok(add(s, path, "{\"a\":1}\n") == HL_OK, "first append creates");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640,
	    "created 0640 despite umask 077");
	ok(add(s, path, "{\"a\":2}\n") == HL_OK &&
	        strcmp(slurp(path), "{\"a\":1}\n{\"a\":2}\n") == 0,
	    "second append follows the first");

	ok(stat(path, &st) == 0 && stat(shm_name(&st), &sst) == 0,
	    "group-commit counters in %s", shm_name(&st));
	ok(rename(path, moved) == 0, "log moved away (logrotate)");
	ok(add(s, path, "{\"a\":3}\n") == HL_OK &&
	        strcmp(slurp(path), "{\"a\":3}\n") == 0 &&
	        strcmp(slurp(moved), "{\"a\":1}\n{\"a\":2}\n") == 0,
	    "after rotation a new file takes the record");
	ok(stat(shm_name(&st), &sst) == -1,
	    "the moved file's counters are removed from /dev/shm");
	ok(stat(path, &st) == 0 && stat(shm_name(&st), &sst) == 0,
	    "the new file has its own");
	ok(unlink(shm_name(&st)) == 0 && unlink(moved) == 0 &&
	        add(s, path, "{\"a\":3.5}\n") == HL_OK,
	    "counters removed under a running process: it keeps its own");

	ok(unlink(path) == 0 && add(s, path, "{\"a\":4}\n") == HL_OK &&
	        strcmp(slurp(path), "{\"a\":4}\n") == 0,
	    "deleted log is created again");
	ok(stat(path, &st) == 0 && stat(shm_name(&st), &sst) == 0,
	    "its counters");

	fd = open(path, O_WRONLY | O_APPEND);
	ok(write(fd, "{\"received\":\"2026-", 18) == 18,
	    "a writer dies mid-record");
	close(fd);
	ok(add(s, path, "{\"a\":5}\n") == HL_OK &&
	        strcmp(slurp(path), "{\"a\":4}\n{\"a\":5}\n") == 0 &&
	        strstr(note, "18 bytes") != NULL,
	    "torn record cut off before the next append");
	fd = open(path, O_WRONLY | O_APPEND);
	ok(write(fd, "{\"rec", 5) == 5, "a writer dies 5 bytes into a record");
	close(fd);
	ok(add(s, path, "{\"a\":5.5}\n") == HL_OK &&
	        strcmp(slurp(path), "{\"a\":4}\n{\"a\":5}\n{\"a\":5.5}\n") ==
	            0,
	    "that fragment is cut off too");
	fd = open(path, O_WRONLY | O_APPEND);
	ok(write(fd, "not hookline's", 14) == 14,
	    "someone else leaves a line without a newline");
	close(fd);
	ok(add(s, path, "{\"a\":5.7}\n") == HL_OK &&
	        strcmp(slurp(path), "{\"a\":4}\n{\"a\":5}\n{\"a\":5.5}\n"
	                            "not hookline's\n{\"a\":5.7}\n") == 0 &&
	        strstr(note, "did not write") != NULL,
	    "a line hookline did not write is kept and ended, not cut");
	ok(add(s, path, "{\"a\":6}\n") == HL_OK && *note == '\0',
	    "note cleared on a clean append");

	/* Anyone who may read the log can hold a shared lock on it. */
	{
		int rd = open(path, O_RDONLY);
		time_t t0 = time(NULL);

		ok(rd != -1 && flock(rd, LOCK_SH) == 0,
		    "a reader holds a shared lock on the log");
		ok(add_sync(s, path, "{\"a\":6.5}\n", HL_SYNC_NONE) ==
		            HL_ESTORE &&
		        strstr(why, "stayed locked") != NULL,
		    "the append gives up with a reason: %s", why);
		ok(time(NULL) - t0 >= 9 && time(NULL) - t0 <= 30,
		    "after the bounded wait (%lld s)",
		    (long long)(time(NULL) - t0));
		close(rd);
		ok(add(s, path, "{\"a\":6.6}\n") == HL_OK &&
		        strstr(slurp(path), "6.5") == NULL,
		    "once the lock is gone appends work, the refused one is "
		    "not there");
	}

	snprintf(pat, sizeof(pat), "%s/%%Y-%%m-%%d.jsonl", dir);
	snprintf(path, sizeof(path), "%s/2026-11-29.jsonl", dir);
	ok(add(s, pat, "{\"d\":1}\n") == HL_OK &&
	        strcmp(slurp(path), "{\"d\":1}\n") == 0,
	    "strftime pattern expanded in UTC");
	ok(stat(shm_name(&st), &sst) == 0 && unlink(shm_name(&st)) == 0,
	    "another HOOKLINE_LOG (another location) keeps its counters");
	ok(stat(path, &st) == 0, "day one");
	now.tv_sec += 86400;
	snprintf(path, sizeof(path), "%s/2026-11-30.jsonl", dir);
	ok(add(s, pat, "{\"d\":2}\n") == HL_OK &&
	        strcmp(slurp(path), "{\"d\":2}\n") == 0,
	    "next day, next file");
	ok(stat(shm_name(&st), &sst) == -1, "day one's counters went");
	ok(stat(path, &st) == 0 && unlink(shm_name(&st)) == 0,
	    "day two's counters (removed by the test)");

	/* The sharing is decided per request: locations may differ. */
	snprintf(path, sizeof(path), "%s/mixed.jsonl", dir);
	ok(add_sync(s, path, "{}\n", HL_SYNC_EACH) == HL_OK &&
	        stat(path, &st) == 0 && stat(shm_name(&st), &sst) == -1,
	    "HOOKLINE_SYNC=each: no counters");
	ok(add_sync(s, path, "{}\n", HL_SYNC_ALWAYS) == HL_OK &&
	        (stat(shm_name(&st), &sst) == 0) == gsync_worth(fd = open(path,
	                                                 O_RDONLY)),
	    "then always: counters where gsync_worth() says so");
	close(fd);
	ok(add_sync(s, path, "{}\n", HL_SYNC_GROUP) == HL_OK &&
	        stat(shm_name(&st), &sst) == 0 && unlink(shm_name(&st)) == 0,
	    "then group, in the same process: counters");

	snprintf(moved, sizeof(moved), "%s/nowhere.jsonl", dir);
	snprintf(path, sizeof(path), "%s/dangling.jsonl", dir);
	ok(symlink(moved, path) == 0 &&
	        add(s, path, "{}\n") == HL_ESTORE &&
	        strstr(why, "symbolic link") != NULL,
	    "a symbolic link to nothing: 503, no endless retry (%s)", why);

	snprintf(path, sizeof(path), "%s/no/such/dir/x.jsonl", dir);
	ok(add(s, path, "{}\n") == HL_ESTORE && strstr(why, "No such") != NULL,
	    "missing directory: 503 with the reason");
	ok(add(s, dir, "{}\n") == HL_ECONFIG, "a directory as log: 500");
	ok(add(s, "/dev/null", "{}\n") == HL_ECONFIG, "a device as log: 500");

	sink_log_free(s);
	sink_log_free(NULL);
	return tap_done();
}
