/*
 * main.c: hookline's entry point.  The same binary serves FastCGI when the
 * web server (or spawn-fcgi, or systemd) hands it a listening socket on
 * fd 0, and one CGI request otherwise.  This is the only place that exits.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <fcgiapp.h>
#include <openssl/crypto.h>

#include "config.h"
#include "hookline.h"

int
main(int argc, char *argv[])
{
	if (argc == 2 &&
	    (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		puts(PACKAGE_STRING);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr,
		    "usage: hookline [--version]\n"
		    "Run by a web server as FastCGI or CGI; see "
		    "hookline(8).\n");
		return 2;
	}
	/* A client that went away must not kill us before the log is synced. */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * hookline needs OpenSSL's built-in HMAC and SHA only: reading
	 * openssl.cnf (engines, providers) at each CGI start is wasted work,
	 * the atexit clean-up frees memory the kernel takes back anyway, and
	 * the error strings (0.95 M instructions to load, 12% of a CGI run)
	 * are never printed.
	 */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
	        OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
	    NULL);
	return FCGX_IsCGI() ? serve_cgi() : serve_fcgi();
}
