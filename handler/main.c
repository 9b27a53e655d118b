/*
 * main.c: hookline's entry point.  The same binary serves FastCGI when the
 * web server (or spawn-fcgi, or systemd) hands it a listening socket on
 * fd 0, and one CGI request otherwise.  This is the only place that exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <fcgiapp.h>
#include <openssl/crypto.h>

#include "config.h"
#include "hookline.h"

/*
 * The process holds secrets (the HMAC keys, request parameters): a crash
 * must not write them into a core file that others may read, nor let
 * another process of the same user read its memory.  HOOKLINE_CORE_DUMPS=1
 * in the environment hookline is started with turns dumps back on for
 * debugging (hookline(8)).
 */
static void
no_core_dumps(void)
{
	const char *on = getenv("HOOKLINE_CORE_DUMPS");
	struct rlimit rl;

	if (on != NULL && strcmp(on, "1") == 0)
		return;
	if (getrlimit(RLIMIT_CORE, &rl) == 0) {
		rl.rlim_cur = 0;
		setrlimit(RLIMIT_CORE, &rl);
	}
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int
main(int argc, char *argv[])
{
	if (argc == 2 &&
	    (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		/* The OpenSSL that checks the signatures: a static hookline
		 * carries its own, and only a new binary brings its fixes. */
#ifdef HOOKLINE_STATIC
		printf("%s (statically linked; plugins built in: %s)\n",
		    PACKAGE_STRING, builtin_names());
#else
		puts(PACKAGE_STRING);
#endif
		puts(OpenSSL_version(OPENSSL_VERSION));
		return 0;
	}
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--check") != 0)) {
		fprintf(stderr,
		    "usage: hookline [--check | --version]\n"
		    "Run by a web server as FastCGI or CGI; see "
		    "hookline(8).\n");
		return 2;
	}
	/* A client that went away must not kill us before the log is synced. */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Inherited as ignored, SIGCHLD would make the kernel reap the exec
	 * plugin's commands before it can learn how they ended.
	 */
	signal(SIGCHLD, SIG_DFL);
	no_core_dumps();
	/*
	 * hookline needs OpenSSL's built-in HMAC and SHA only: reading
	 * openssl.cnf (engines, providers) at each CGI start is wasted work,
	 * the atexit clean-up frees memory the kernel takes back anyway, and
	 * the error strings (a tenth of a CGI run's instructions to load,
	 * docs/benchmarks.md) are never printed.
	 */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
	        OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
	    NULL);
	if (argc == 2)
		return check_run();
	return FCGX_IsCGI() ? serve_cgi() : serve_fcgi();
}
