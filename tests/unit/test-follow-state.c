/*
 * test-follow-state: hookline-follow's state file (state.c) on real
 * files: a first start, a round trip of every field, damaged files
 * refused, a failed commit leaving the old state whole, and the lock.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "follow/follow.h"
#include "tap.h"

static char dir[] = "/tmp/hookline-follow-state-XXXXXX", why[FL_WHY_MAX];

static void
put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* What state_lock says in another process. */
static int
other_lock(void)
{
	int status, fd;
	pid_t pid = fork();

	if (pid == 0)
		_exit(state_lock(dir, &fd, why, sizeof(why)));
	if (pid == -1 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int
main(void)
{
	struct fl_state st, back;
	struct fl_pos pos[2];
	struct fl_seen_id ids[1];
	char path[256];
	struct stat sb;
	int lock = -1;

	ok(mkdtemp(dir) != NULL, "temporary directory");
	why[0] = '\0';
	ok(state_load(dir, &st, why, sizeof(why)) == FL_OK && !st.exists &&
	        st.nfiles == 0,
	    "no state file: a first start");
	state_clear(&st);

	memset(&st, 0, sizeof(st));
	memset(pos, 0, sizeof(pos));
	st.log = "/var/log/hookline/%Y-%m-%d.jsonl";
	strcpy(st.since, "2026-11-30T00:00:00.000000Z");
	strcpy(pos[0].received, "2026-11-29T23:59:59.999999Z");
	memset(pos[0].fp, 0xab, sizeof(pos[0].fp));
	pos[0].fp_len = 300;
	pos[0].offset = 123456789012LL;
	pos[0].dev = 2049;
	pos[0].ino = 77;
	pos[0].name = "/var/log/hookline/2026-11-29 with space.jsonl";
	pos[1].received[0] = '\0';
	pos[1].fp[31] = 1;
	pos[1].fp_len = 1024;
	pos[1].name = "/odd\nname";
	st.files = pos;
	st.nfiles = 2;
	st.seen_next = 70;
	st.seen_synced = 64;
	ids[0].seq = 69;
	strcpy(ids[0].id, "8c9619a4fdc66ae0bb6f6229fda3cb5f340179f7f234f7de08fcf2ac5132430a");
	ids[0].when = 1796000000;
	st.ids = ids;
	st.nids = 1;
	ok(state_save(dir, &st, why, sizeof(why)) == FL_OK, "saved (%s)", why);
	snprintf(path, sizeof(path), "%s/state.tmp", dir);
	ok(stat(path, &sb) == -1, "no temporary file left behind");
	snprintf(path, sizeof(path), "%s/state", dir);
	ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "state is 0600");
	ok(state_load(dir, &back, why, sizeof(why)) == FL_OK && back.exists,
	    "loaded back (%s)", why);
	ok(back.log && strcmp(back.log, st.log) == 0 &&
	        strcmp(back.since, st.since) == 0,
	    "log and since");
	ok(back.nfiles == 2 &&
	        strcmp(back.files[0].received, pos[0].received) == 0 &&
	        memcmp(back.files[0].fp, pos[0].fp, 32) == 0 &&
	        back.files[0].fp_len == 300 &&
	        back.files[0].offset == 123456789012LL &&
	        back.files[0].dev == 2049 && back.files[0].ino == 77 &&
	        strcmp(back.files[0].name, pos[0].name) == 0,
	    "a file's position, fingerprint, inode and name (spaces kept)");
	ok(back.nfiles == 2 && back.files[1].received[0] == '\0' &&
	        back.files[1].fp[31] == 1 && back.files[1].fp_len == 1024 &&
	        strcmp(back.files[1].name, "/odd?name") == 0,
	    "an empty time, and a newline in a name cannot end the line");
	ok(back.seen_next == 70 && back.seen_synced == 64 && back.nids == 1 &&
	        back.ids[0].seq == 69 && strcmp(back.ids[0].id, ids[0].id) == 0 &&
	        back.ids[0].when == 1796000000,
	    "the window's counters and its unsynced ids");
	state_clear(&back);

	put("state", "hookline-follow-state 1\nlog /l\nfile - 1 2 zz 0 0 x\nend\n");
	ok(state_load(dir, &back, why, sizeof(why)) == FL_ESTATE &&
	        strstr(why, "damaged (line 3)") != NULL,
	    "a bad fingerprint is refused (%s)", why);
	put("state", "hookline-follow-state 1\nlog /l\nsince -\n");
	ok(state_load(dir, &back, why, sizeof(why)) == FL_ESTATE,
	    "a file without its end is refused (%s)", why);
	put("state", "hookline-follow-state 2\nlog /l\nend\n");
	ok(state_load(dir, &back, why, sizeof(why)) == FL_ESTATE,
	    "another version is refused");
	put("state", "hookline-follow-state 1\nlog /l\nwhat 1\nend\n");
	ok(state_load(dir, &back, why, sizeof(why)) == FL_ESTATE,
	    "an unknown item is refused");
	put("state", "hookline-follow-state 1\nlog /l\nseen 3 5\nend\n");
	ok(state_load(dir, &back, why, sizeof(why)) == FL_ESTATE,
	    "synced beyond next is refused");
	put("state", "hookline-follow-state 1\nlog /l\nend\nlog /m\n");
	ok(state_load(dir, &back, why, sizeof(why)) == FL_ESTATE,
	    "nothing may follow the end");
	put("state", "hookline-follow-state 1\nlog /l\nend\n");
	ok(state_load(dir, &back, why, sizeof(why)) == FL_OK &&
	        back.nfiles == 0 && strcmp(back.log, "/l") == 0,
	    "a minimal state");
	state_clear(&back);

	/* A commit that cannot rename leaves the old state whole: here a
	 * directory stands where the state goes. */
	snprintf(path, sizeof(path), "%s/state", dir);
	unlink(path);
	mkdir(path, 0700);
	ok(state_save(dir, &st, why, sizeof(why)) == FL_ESTATE &&
	        strstr(why, "cannot commit the position") != NULL,
	    "a failed commit says so (%s)", why);
	rmdir(path);

	ok(state_lock(dir, &lock, why, sizeof(why)) == FL_OK && lock != -1,
	    "lock taken");
	ok(other_lock() == FL_EBUSY, "another process is refused it");
	close(lock);
	ok(other_lock() == FL_OK, "free again once the first holder let go");
	snprintf(path, sizeof(path), "%s/made", dir);
	ok(state_lock(path, &lock, why, sizeof(why)) == FL_OK &&
	        stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0700,
	    "a missing state directory is made, mode 0700");
	close(lock);
	snprintf(path, sizeof(path), "%s/no/such", dir);
	ok(state_lock(path, &lock, why, sizeof(why)) == FL_ESTATE,
	    "its parents are not (%s)", why);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	(void)!system(path);
	return tap_done();
}
