/*
 * test-gsync: group commit across real processes.  fdatasync is replaced
 * here by a counting version (the static library's call binds to this
 * definition), which can also be slowed down or made to fail, so that the
 * test decides when syncs overlap instead of hoping that they do.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hookline.h"
#include "gsync.h"
#include "tap.h"

/* Shared between the test's processes. */
static struct {
	int calls; /* fdatasync calls, all processes */
	int slow_ms; /* the next call sleeps this long, once */
	int fail; /* calls fail with EIO */
	int go[2]; /* pipe: the slow call tells the writers to start */
} *fake;

int
fdatasync(int fd)
{
	__atomic_add_fetch(&fake->calls, 1, __ATOMIC_SEQ_CST);
	if (__atomic_exchange_n(&fake->slow_ms, 0, __ATOMIC_SEQ_CST) != 0) {
		/* Let the writers in, then hold the sync mutex a while. */
		(void)!write(fake->go[1], "gogogo", 6); /* one per writer */
		usleep(500 * 1000);
	}
	if (fake->fail) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fdatasync, fd);
}

static char dir[] = "/tmp/hookline-gsync-XXXXXX";

/*
 * Appends one line to fd as sink_log.c does, under the file's flock (and
 * opens *g there first if it is NULL); returns the line's ticket.
 */
static uint64_t
append(struct gsync **g, int fd, const struct stat *st)
{
	uint64_t t;

	if (flock(fd, LOCK_EX) == -1)
		return 0;
	if (*g == NULL)
		*g = gsync_open(st->st_dev, st->st_ino);
	t = gsync_ticket(*g);
	if (write(fd, "{}\n", 3) == 3)
		gsync_written(*g, t);
	flock(fd, LOCK_UN);
	return t;
}

/* Appends one line to fd and waits for it to be durable, in a child. */
static pid_t
writer(int fd, const struct stat *st, int wait_go)
{
	pid_t pid = fork();
	struct gsync *g = NULL;
	uint64_t t;
	char c[2];

	if (pid != 0)
		return pid;
	if (wait_go && read(fake->go[0], c, 2) != 2)
		_exit(3);
	t = append(&g, fd, st);
	if (g == NULL)
		_exit(2);
	_exit(gsync_sync(g, fd, t) == 0 ? 0 : 1);
}

static int
reap(int n)
{
	int st, good = 0;

	for (int i = 0; i < n; i++)
		if (wait(&st) > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			good++;
	return good;
}

/*
 * One writer whose sync takes 500 ms, and three that write while it runs;
 * returns how many of the four made their record durable.
 */
static int
four_writers(int fd, const struct stat *st)
{
	fake->slow_ms = 500;
	writer(fd, st, 0);
	for (int i = 0; i < 3; i++)
		writer(fd, st, 1);
	return reap(4);
}

static void
shm_path_of(char *p, size_t n, dev_t dev, ino_t ino)
{
	snprintf(p, n, "/dev/shm/hookline-gsync2-%ju-%ju-%ju",
	    (uintmax_t)geteuid(), (uintmax_t)dev, (uintmax_t)ino);
}

int
main(void)
{
	char path[256], shm[256], other[300];
	struct gsync *g, *late;
	uint64_t t, t2;
	struct stat st, sst;
	int fd, fd2, pfd[2], good;

	fake = mmap(NULL, sizeof(*fake), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fake == MAP_FAILED || pipe(pfd) == -1 || mkdtemp(dir) == NULL)
		return 99;
	fake->go[0] = pfd[0];
	fake->go[1] = pfd[1];
	snprintf(path, sizeof(path), "%s/events.jsonl", dir);
	fd = open(path, O_RDWR | O_CREAT | O_APPEND, 0640);
	if (fd == -1 || fstat(fd, &st) == -1)
		return 99;
	shm_path_of(shm, sizeof(shm), st.st_dev, st.st_ino);

	ok(gsync_sync(NULL, fd, 0) == 0 && fake->calls == 1,
	    "without shared counters: one fdatasync");
	/* The oracle is coreutils' name of the filesystem, not statfs(2)'s
	 * magic numbers gsync_worth() reads: ext4 shows as "ext2/ext3". */
	{
		char cmd[200], type[64] = "";
		FILE *p;

		snprintf(cmd, sizeof(cmd), "stat -f -c %%T %s", dir);
		if ((p = popen(cmd, "r")) != NULL) {
			if (fgets(type, sizeof(type), p) == NULL)
				type[0] = '\0';
			pclose(p);
		}
		type[strcspn(type, "\n")] = '\0';
		ok(type[0] != '\0' &&
		        gsync_worth(fd) == (strcmp(type, "ext2/ext3") != 0 &&
		                               strcmp(type, "tmpfs") != 0),
		    "group commit by default on %s (%s): %s", dir, type,
		    gsync_worth(fd) ? "yes" : "no");
	}
	fd2 = open("/dev/shm", O_RDONLY | O_DIRECTORY);
	ok(fd2 != -1 && !gsync_worth(fd2), "not on tmpfs");
	close(fd2);
	g = NULL;
	t = append(&g, fd, &st);
	ok(g != NULL, "counters for the log file");
	ok(stat(shm, &sst) == 0 && (sst.st_mode & 0777) == 0600 &&
	        sst.st_uid == geteuid(),
	    "named after uid, device and inode, mode 0600");
	fake->calls = 0;
	ok(gsync_sync(g, fd, t) == 0 && fake->calls == 1,
	    "a lone writer syncs itself");
	ok(gsync_sync(g, fd, t) == 0 && fake->calls == 1,
	    "a covered record needs no sync");

	/*
	 * A process that opened the log after another one wrote vouches
	 * only for what was written after its open: Linux may have reported
	 * an error on the older record to someone else already, and then
	 * reports none to a descriptor opened later.
	 */
	fake->calls = 0;
	t = append(&g, fd, &st);
	late = NULL;
	t2 = append(&late, fd, &st);
	good = late != NULL && gsync_sync(late, fd, t2) == 0 &&
	    gsync_sync(g, fd, t) == 0;
	ok(good && fake->calls == 2,
	    "a newer process's sync does not cover an older record (%d "
	    "fdatasyncs)",
	    fake->calls);
	gsync_close(late);

	/*
	 * The first writer's sync takes 500 ms; three more write while it
	 * runs.  Its sync began before their writes, so it cannot cover
	 * them; the next leader's does, for all three.
	 */
	fake->calls = 0;
	good = four_writers(fd, &st);
	ok(good == 4, "four concurrent writers: all durable");
	ok(fake->calls == 2,
	    "four concurrent writers: 2 fdatasyncs, not 4 (%d)", fake->calls);

	/* A failed sync is reported, and from then on nobody relies on
	 * another process's sync. */
	fake->calls = 0;
	fake->fail = 1;
	errno = 0;
	t = append(&g, fd, &st);
	ok(gsync_sync(g, fd, t) == -1 && errno == EIO, "a failed sync: EIO");
	fake->fail = 0;
	good = four_writers(fd, &st);
	ok(good == 4 && fake->calls == 5,
	    "after a failure each of 4 writers syncs itself (%d fdatasyncs)",
	    fake->calls - 1);
	gsync_close(g);

	/* Counters that may be another file's, or someone else's, are not
	 * trusted. */
	snprintf(other, sizeof(other), "%s.other", shm);
	ok(link(shm, other) == 0 && gsync_open(st.st_dev, st.st_ino) == NULL,
	    "an object with a second name (a hard link) is refused");
	ok(unlink(shm) == 0 && rename(other, shm) == 0 &&
	        (g = gsync_open(st.st_dev, st.st_ino)) != NULL,
	    "one name again: accepted");
	gsync_close(g);
	shm_path_of(other, sizeof(other), st.st_dev, st.st_ino + 1);
	ok(rename(shm, other) == 0 &&
	        gsync_open(st.st_dev, st.st_ino + 1) == NULL,
	    "the counters of another file are refused");
	unlink(other);
	gsync_forget(st.st_dev, st.st_ino);
	ok(access(shm, F_OK) == -1 && errno == ENOENT, "forget removes the name");
	fd = open(shm, O_RDWR | O_CREAT | O_EXCL, 0644);
	ok(fd != -1 && fchmod(fd, 0644) == 0 &&
	        gsync_open(st.st_dev, st.st_ino) == NULL,
	    "an object others can read is refused");
	/* Giving the object away needs root, and a root that may: not the
	 * root of a user namespace that maps no other user. */
	if (geteuid() != 0)
		tap_skip("an object another user owns is refused",
		    "giving a file to another user needs root");
	else if (fchmod(fd, 0600) != 0 || fchown(fd, 65534, 65534) != 0)
		tap_skip("an object another user owns is refused",
		    "cannot give a file to nobody here (a user namespace?)");
	else
		ok(gsync_open(st.st_dev, st.st_ino) == NULL,
		    "an object another user owns is refused");
	close(fd);
	unlink(shm);
	unlink(path);
	rmdir(dir);
	return tap_done();
}
