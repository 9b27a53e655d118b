/*
 * shim-trace.so: an LD_PRELOAD shim for hookline's robustness tests.  It
 * records, in the order one process does them, what matters to
 * durability, and can make the log's disk fail on demand.
 *
 * With HLSHIM_TRACE=<file> and HLSHIM_DIR=<directory of the log>, each of
 * these calls appends one line to the trace file (one write(2) with
 * O_APPEND, so lines of several processes never mix):
 *
 *   O pid ret path                open(2) of a file in HLSHIM_DIR
 *   W pid ret len dev:ino id      write(2) to a file in HLSHIM_DIR; id is
 *                                 the record's "id" (or -)
 *   B pid dev:ino                 an fdatasync/fsync of a file in HLSHIM_DIR
 *                                 begins (written before the call)
 *   S pid ret dev:ino call        that fdatasync/fsync returned
 *   D pid ret path                fsync of a directory (HLSHIM_DIR itself)
 *   R pid status id               a write elsewhere (the FastCGI socket,
 *                                 CGI's stdout) that carries a response:
 *                                 "Status: NNN", and the 200's id (or -);
 *                                 written before the call
 *
 * ret is the call's result (-errno on failure).  With HLSHIM_FAIL=write,
 * write-short, fdatasync or open (and optionally HLSHIM_FAIL_EVERY=N: only
 * every Nth such call), calls on files in HLSHIM_DIR fail with EIO (a
 * short write writes half the bytes, as a disk that fills up midway does)
 * instead of reaching the disk.
 *
 * Nothing here knows hookline's internals: it sees what the kernel would.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);
static int (*real_open)(const char *, int, ...);

static int trace_fd = -2; /* -2: not set up yet, -1: no tracing */
static const char *dir;
static size_t dirlen;
static const char *fail;
static long fail_every = 1, fail_count;

static void
setup(void)
{
	const char *t, *e;

	if (trace_fd != -2)
		return;
	real_write =
	    (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	dir = getenv("HLSHIM_DIR");
	dirlen = dir != NULL ? strlen(dir) : 0;
	fail = getenv("HLSHIM_FAIL");
	if ((e = getenv("HLSHIM_FAIL_EVERY")) != NULL && atol(e) > 0)
		fail_every = atol(e);
	t = getenv("HLSHIM_TRACE");
	trace_fd = t == NULL
	    ? -1
	    : (int)syscall(SYS_open, t,
	          O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

static void
trace(const char *fmt, ...)
{
	char line[512];
	int n, saved = errno; /* the traced call's errno is the caller's */
	va_list ap;

	if (trace_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!syscall(SYS_write, trace_fd, line, (size_t)n);
	errno = saved;
}

/* Whether path is HLSHIM_DIR or a file directly in it. */
static int
in_dir(const char *path)
{
	return dir != NULL && strncmp(path, dir, dirlen) == 0 &&
	    (path[dirlen] == '\0' || path[dirlen] == '/');
}

/* 1 when fd is open on HLSHIM_DIR or a file in it; fills path and st. */
static int
watched(int fd, char *path, size_t cap, struct stat *st)
{
	char link[64];
	ssize_t n;

	if (dir == NULL || fd < 0 || fd == trace_fd)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, cap - 1)) <= 0)
		return 0;
	path[n] = '\0';
	return in_dir(path) && fstat(fd, st) == 0;
}

static int
failing(const char *what)
{
	if (fail == NULL || strcmp(fail, what) != 0)
		return 0;
	return ++fail_count % fail_every == 0;
}

/* Copies the 64 hex digits after "id":" in buf (n bytes) to id, or "-". */
static void
find_id(const char *buf, size_t n, char id[65])
{
	const char *p = memmem(buf, n, "\"id\":\"", 6);

	strcpy(id, "-");
	if (p != NULL && (size_t)(p + 6 + 64 - buf) <= n) {
		memcpy(id, p + 6, 64);
		id[64] = '\0';
	}
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	char path[4096], id[65];
	const char *st_line;
	struct stat st;
	ssize_t r;
	int status;

	setup();
	if (watched(fd, path, sizeof(path), &st) && S_ISREG(st.st_mode)) {
		if (failing("write")) {
			errno = EIO;
			r = -1;
		} else if (failing("write-short") && n > 1)
			r = real_write(fd, buf, n / 2);
		else
			r = real_write(fd, buf, n);
		find_id(buf, n, id);
		trace("W %ld %ld %zu %lu:%lu %s", (long)getpid(),
		    r < 0 ? -(long)errno : (long)r, n, (unsigned long)st.st_dev,
		    (unsigned long)st.st_ino, id);
		return r;
	}
	/* Traced before it is written: a sync must have returned before the
	 * answer could leave, not merely before this line. */
	if (trace_fd >= 0 && n > 0 &&
	    (st_line = memmem(buf, n, "Status: ", 8)) != NULL &&
	    sscanf(st_line + 8, "%3d", &status) == 1) {
		find_id(buf, n, id);
		trace("R %ld %d %s", (long)getpid(), status, id);
	}
	return real_write(fd, buf, n);
}

static int
sync_call(int fd, int data, int (*real)(int))
{
	char path[4096];
	struct stat st;
	int r;

	setup();
	if (!watched(fd, path, sizeof(path), &st))
		return real(fd);
	/* A sync covers the writes that returned before it began: the
	 * trace file's order of B and W lines shows which those were. */
	if (S_ISREG(st.st_mode))
		trace("B %ld %lu:%lu", (long)getpid(), (unsigned long)st.st_dev,
		    (unsigned long)st.st_ino);
	if (S_ISREG(st.st_mode) && failing("fdatasync")) {
		errno = EIO;
		r = -1;
	} else
		r = real(fd);
	if (S_ISDIR(st.st_mode))
		trace("D %ld %d %s", (long)getpid(), r < 0 ? -errno : r, path);
	else
		trace("S %ld %d %lu:%lu %s", (long)getpid(), r < 0 ? -errno : r,
		    (unsigned long)st.st_dev, (unsigned long)st.st_ino,
		    data ? "fdatasync" : "fsync");
	return r;
}

int
fdatasync(int fd)
{
	setup();
	return sync_call(fd, 1, real_fdatasync);
}

int
fsync(int fd)
{
	setup();
	return sync_call(fd, 0, real_fsync);
}

int
open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int r;

	setup();
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (!in_dir(path))
		return real_open(path, flags, mode);
	if (failing("open")) {
		errno = EIO;
		r = -1;
	} else
		r = real_open(path, flags, mode);
	trace("O %ld %d %s", (long)getpid(), r < 0 ? -errno : 0, path);
	return r;
}

/* _FORTIFY_SOURCE turns some two-argument open(2) calls into this. */
int __open_2(const char *, int);

int
__open_2(const char *path, int flags)
{
	return open(path, flags);
}
