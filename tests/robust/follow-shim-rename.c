/*
 * follow-shim-rename.so: an LD_PRELOAD shim for hookline-follow's
 * power-loss test, loaded next to shim-trace.so (which records opens,
 * writes and syncs of files in HLSHIM_DIR).  It adds the one call that
 * the state file's durability also rests on, rename(2), to the same
 * trace file (HLSHIM_TRACE, one write with O_APPEND per line):
 *
 *   N pid ret dev:ino to content
 *
 * dev:ino is the file renamed (taken before the call, so that it matches
 * shim-trace.so's W and S lines for it), to is the target's path, and
 * content is what the file holds, its newlines written as '|' (at most
 * 16 KiB: a state file).  Nothing here knows hookline-follow's internals
 * beyond that it renames files.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CONTENT_MAX 16384

int
rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);
	static char content[CONTENT_MAX], line[CONTENT_MAX + 4096];
	const char *trace = getenv("HLSHIM_TRACE");
	struct stat st;
	ssize_t got = 0;
	int fd, r, saved, n, ok;

	if (real == NULL)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT,
		    "rename");
	/* The file as it is before the call: after it, it is the target. */
	ok = trace != NULL && stat(from, &st) == 0;
	if (ok && (fd = (int)syscall(SYS_open, from, O_RDONLY | O_CLOEXEC)) != -1) {
		got = read(fd, content, sizeof(content));
		close(fd);
	}
	r = real(from, to);
	saved = errno;
	if (!ok)
		return r;
	n = snprintf(line, 4096, "N %ld %d %lu:%lu %s ", (long)getpid(),
	    r == 0 ? 0 : -saved, (unsigned long)st.st_dev,
	    (unsigned long)st.st_ino, to);
	for (ssize_t i = 0; i < got; i++)
		line[n++] = content[i] == '\n' ? '|' : content[i];
	line[n++] = '\n';
	if ((fd = (int)syscall(SYS_open, trace,
	         O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) != -1) {
		(void)!syscall(SYS_write, fd, line, (size_t)n);
		close(fd);
	}
	errno = saved;
	return r;
}
