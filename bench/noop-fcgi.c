/*
 * noop-fcgi.c: the floor of the FastCGI path for scripts/bench.
 *
 * A FastCGI responder that does the least a webhook receiver must: it
 * accepts each request on the listening socket at fd 0 (as lighttpd's
 * bin-path spawning hands it), reads the whole body, and answers 204 with
 * no body.  Same library (libfcgi, FCGX API) and same spawning as
 * hookline, so the difference between the two is hookline's own work.
 */
#include <signal.h>

#include <fcgiapp.h>

int
main(void)
{
	static const char answer[] = "Status: 204 No Content\r\n\r\n";
	FCGX_Request req;
	char buf[16384];
	int n;

	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		do
			n = FCGX_GetStr(buf, sizeof(buf), req.in);
		while (n > 0);
		FCGX_PutStr(answer, sizeof(answer) - 1, req.out);
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, 1);
	return 0;
}
