/*
 * main.c: hookline's entry point.  The same binary serves FastCGI when the
 * web server (or spawn-fcgi, or systemd) hands it a listening socket on
 * fd 0, and one CGI request otherwise.  This is the only place that exits.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <fcgiapp.h>

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
	return FCGX_IsCGI() ? serve_cgi() : serve_fcgi();
}
