/*
 * main.c: starts hookline-follow (hookline-follow(1)) and is the only
 * place that exits.  The exit status of each error is in one table.
 */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "follow.h"

/* hookline-follow(1), EXIT STATUS. */
static const int exit_status[FL_ERR__MAX] = {
    [FL_OK] = 0,
    [FL_EUSAGE] = 2,
    [FL_ESTATE] = 1,
    [FL_ELOG] = 1,
    [FL_ENOMEM] = 1,
    [FL_EBUSY] = 1,
    [FL_EFAILED] = 3,
    [FL_ERETRY] = 75,
    [FL_ESTDOUT] = 1,
};

int
main(int argc, char *argv[])
{
	char why[FL_WHY_MAX] = "";
	struct fl_opts o;
	enum fl_err rc;

	if ((rc = opts_parse(&o, argc, argv, why, sizeof(why))) != FL_OK) {
		fprintf(stderr, "hookline-follow: %s\n%s", why, opts_usage());
		opts_free(&o);
		return exit_status[rc];
	}
	if (o.help || o.version) {
		fputs(o.help ? opts_usage()
		             : "hookline-follow " PACKAGE_VERSION "\n",
		    stdout);
		opts_free(&o);
		return 0;
	}
	rc = follow_run(&o, why, sizeof(why));
	if (rc != FL_OK && *why != '\0')
		say("%s", why);
	opts_free(&o);
	return exit_status[rc];
}
