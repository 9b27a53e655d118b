# scripts/lib.sh: what scripts/serve, check, fuzz and bench share.  Sourced,
# not run.

# Debian packages: to build; to serve behind lighttpd and try it as the
# README does (curl, jq); to run the tests (every web server hookline is
# proven behind, Redis for the redis plugin, clang for the fuzz targets,
# mandoc to lint the man pages, debootstrap for the fresh-root tests).
# The same names on every supported release; what differs is derived
# (fuzz_packages).
BUILD_DEPS="autoconf automake libtool make gcc libc6-dev pkg-config libfcgi-dev libcjson-dev libssl-dev libhiredis-dev"
SERVE_DEPS="lighttpd curl jq"
TEST_DEPS="python3 valgrind wrk logrotate systemd cppcheck e2fsprogs apache2 apache2-suexec-pristine acl libapache2-mod-fcgid nginx spawn-fcgi redis-server mandoc debootstrap libnats-dev libpq-dev nats-server postgresql"

# The Debian releases scripts/serve and scripts/check are run on, and
# proven on by tests/fresh/ (each in a root that has nothing but git).
SUPPORTED_RELEASES="12 13"

# Says so when this is not a supported Debian release; carries on.
check_release() {
	local id version
	id=$(. /etc/os-release 2>/dev/null && echo "${ID:-}")
	version=$(. /etc/os-release 2>/dev/null && echo "${VERSION_ID:-}")
	case " $SUPPORTED_RELEASES " in
	*" $version "*) [ "$id" = debian ] && return 0 ;;
	esac
	echo "warning: ${id:-unknown} ${version:-?} is not a supported release (Debian $SUPPORTED_RELEASES); trying anyway" >&2
}

# Installs the named packages that are not installed yet.  A web server
# package installed here is not started by its maintainer scripts: hookline
# runs its own instance on 127.0.0.1, and a fresh machine should not start
# answering on port 80 of every interface because of this script.
need_packages() {
	missing=
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing:$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "error: run as root, or install these Debian packages first:$missing" >&2
		exit 1
	fi
	policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		policy=1
	fi
	rc=0
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $missing; } >/tmp/hookline-apt.log 2>&1 || rc=$?
	[ -n "$policy" ] && rm -f /usr/sbin/policy-rc.d
	if [ "$rc" != 0 ]; then
		tail -20 /tmp/hookline-apt.log >&2
		echo "error: apt-get install$missing failed" >&2
		exit 1
	fi
}

# Generates configure when it is missing or older than its sources.  The
# scripts build under build/: a tree configured in place (the README's
# build by hand) would make their configure stop.
ensure_configure() {
	if [ -f config.status ]; then
		echo "error: $PWD is configured in place (./configure); the scripts build in build/:" >&2
		echo "run 'make distclean' here first" >&2
		exit 1
	fi
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
		./autogen.sh >/dev/null 2>&1 || { ./autogen.sh; exit 1; }
	fi
}

# clang-format for make format-check, where the release's is the version
# the tree is formatted with (14, Debian 12's; elsewhere the check says
# SKIP with the version it found).
format_packages() {
	if apt-cache show clang-format 2>/dev/null | grep -q '^Version: 1:14\.'; then
		need_packages clang-format
	fi
}

# clang and its libFuzzer and sanitizer runtimes, for the fuzz targets.
# The runtimes are libclang-rt-N-dev, N the major version of the release's
# clang (14 on Debian 12, 19 on Debian 13): read from the clang package's
# dependency on clang-N once clang is installed.
fuzz_packages() {
	local v
	need_packages clang
	v=$(dpkg-query -W -f='${Depends}' clang | sed -n 's/.*clang-\([0-9][0-9]*\).*/\1/p')
	if [ -z "$v" ]; then
		echo "error: cannot tell the version of clang from: $(dpkg-query -W -f='${Depends}' clang)" >&2
		exit 1
	fi
	need_packages "libclang-rt-$v-dev"
}
