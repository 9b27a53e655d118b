/*
 * shim-wipe.so: an LD_PRELOAD shim that reports memory given back to the
 * allocator while it still holds the secret, without a debugger.
 *
 * With HLWIPE_SECRET=<the secret> and HLWIPE_TRACE=<file>, every free(3)
 * and every realloc(3) that moves a block first searches the whole block
 * (malloc_usable_size) for the secret's bytes.  A hit appends one line to
 * the trace file:
 *
 *   FREED pid size module+offset
 *
 * where module+offset is the code that called free or realloc (resolve
 * with addr2line -f -e module offset).  A process that wipes its secret
 * buffers before freeing them (OPENSSL_cleanse, explicit_bzero) leaves no
 * line.  Memory never freed (the process environment, a buffer alive at
 * exit) is out of its sight: the test pairs it with a clean exit.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void (*real_free)(void *);
static void *(*real_realloc)(void *, size_t);
static int state; /* 0: not set up, 1: setting up, 2: ready */
static const char *secret;
static size_t secret_len;
static int trace_fd = -1;

static void
setup(void)
{
	const char *t;

	if (state != 0)
		return;
	state = 1;
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	secret = getenv("HLWIPE_SECRET");
	secret_len = secret != NULL ? strlen(secret) : 0;
	if ((t = getenv("HLWIPE_TRACE")) != NULL)
		trace_fd = (int)syscall(SYS_open, t,
		    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	state = 2;
}

static void
report(void *p, size_t size, void *caller)
{
	char line[512];
	Dl_info info;
	int n;

	if (dladdr(caller, &info) != 0 && info.dli_fname != NULL)
		n = snprintf(line, sizeof(line), "FREED %ld %zu %s+0x%lx\n",
		    (long)getpid(), size, info.dli_fname,
		    (unsigned long)((uintptr_t)caller -
		        (uintptr_t)info.dli_fbase));
	else
		n = snprintf(line, sizeof(line), "FREED %ld %zu ?+%p\n",
		    (long)getpid(), size, caller);
	if (n > 0 && trace_fd >= 0)
		(void)!syscall(SYS_write, trace_fd, line,
		    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	(void)p;
}

static int
holds_secret(void *p, size_t *size)
{
	*size = malloc_usable_size(p);
	return secret_len > 0 && *size >= secret_len &&
	    memmem(p, *size, secret, secret_len) != NULL;
}

void
free(void *p)
{
	size_t size;

	if (state != 2) {
		setup();
		if (state != 2)
			return; /* freed while dlsym runs: leaked, harmless */
	}
	if (p != NULL && holds_secret(p, &size))
		report(p, size, __builtin_return_address(0));
	real_free(p);
}

void *
realloc(void *p, size_t n)
{
	size_t size = 0;
	int had;
	void *q;

	setup();
	if (real_realloc == NULL)
		return NULL;
	had = p != NULL && holds_secret(p, &size);
	q = real_realloc(p, n);
	if (had && q != NULL && q != p)
		report(p, size, __builtin_return_address(0));
	return q;
}
