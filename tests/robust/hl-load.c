/*
 * hl-load: a small, bounded HTTP/1.1 load driver for the robustness tests.
 *
 * Python's http.client costs more CPU per request than lighttpd and
 * hookline together, which on a 2-core box would make the 160,000-event
 * concurrency test take minutes.  This driver forks one process per
 * client; each keeps one keep-alive connection to 127.0.0.1 (never any
 * other address), sends its events one after the other, and writes one
 * result line per event to DIR/client-K.txt:
 *
 *   K J C PADLEN STATUS IDOK
 *
 * where the body it sent was exactly
 *
 *   {"w":K,"i":J,"pad":"CCCC...C"}      (PADLEN times the letter C)
 *
 * so that the test can rebuild every body byte for byte.  STATUS is the
 * HTTP status, or 0 when the connection failed before a status line came
 * (a FastCGI backend killed mid-request, a reset); IDOK is 1 when a 200
 * carried {"ok":true,"id":"<SHA-256 of the body>"}.  An event is never
 * re-sent: what the test counts as acknowledged is exactly what got a 200.
 * After a failure (no answer, or 5xx) the client waits 50 ms, as a real
 * sender backs off, so that a pool restarting its processes is not
 * raced through.
 *
 * The secret comes from $HOOKLINE_SECRET, never from the command line
 * (ps(1) shows arguments to every local user).  Every client stops at the
 * deadline (-T); events not sent by then are reported with STATUS -1.
 *
 * usage: hl-load -p PORT[,PORT...] -c CLIENTS -n EVENTS -o DIR
 *            [-u PATH] [-z MIN-MAX] [-L COUNT -Z MIN-MAX] [-T SECONDS]
 *            [-b FIRST (number of the first client, default 0)]
 *            [-k (send X-Hub-Signature-256 instead of X-Hub-Signature)]
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define MAX_PORTS 8
#define HEAD_MAX 16384

static struct {
	int ports[MAX_PORTS], nports;
	int clients, events, base; /* base: number of the first client */
	const char *dir, *path, *secret;
	size_t zmin, zmax; /* small body sizes */
	int large; /* large bodies per client */
	size_t lmin, lmax; /* their sizes */
	double deadline; /* CLOCK_MONOTONIC seconds */
	int sha256;
} opt = {.path = "/hook", .zmin = 100, .zmax = 2048};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
hex(char *out, const unsigned char *in, size_t n)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
connect_to(int port)
{
	struct sockaddr_in sa;
	struct timeval tv = {60, 0};
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Buffered reader over one connection. */
struct rd {
	int fd;
	char buf[65536];
	size_t off, len;
};

static int
rd_fill(struct rd *r)
{
	ssize_t n;

	if (r->off == r->len)
		r->off = r->len = 0;
	if (r->len == sizeof(r->buf)) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	do
		n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	r->len += (size_t)n;
	return 0;
}

/* Reads one CRLF-terminated line (without CRLF) into out. */
static int
rd_line(struct rd *r, char *out, size_t cap)
{
	char *nl;
	size_t n;

	for (;;) {
		nl = memchr(r->buf + r->off, '\n', r->len - r->off);
		if (nl != NULL)
			break;
		if (r->len - r->off >= cap || rd_fill(r) == -1)
			return -1;
	}
	n = (size_t)(nl - (r->buf + r->off));
	if (n >= cap)
		return -1;
	memcpy(out, r->buf + r->off, n);
	if (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	r->off = (size_t)(nl - r->buf) + 1;
	return 0;
}

/* Appends up to n body bytes to out (cap bytes); the rest is dropped. */
static int
rd_body(struct rd *r, size_t n, char *out, size_t *olen, size_t cap)
{
	while (n > 0) {
		size_t k;

		if (r->off == r->len && rd_fill(r) == -1)
			return -1;
		k = r->len - r->off < n ? r->len - r->off : n;
		if (*olen + k < cap) {
			memcpy(out + *olen, r->buf + r->off, k);
			*olen += k;
		}
		r->off += k;
		n -= k;
	}
	return 0;
}

/*
 * Reads one response.  Returns its status (and the body's start in out),
 * or 0 when the connection broke first.  *keep says whether the
 * connection may be reused.
 */
static int
read_response(struct rd *r, char *out, size_t cap, int *keep)
{
	char line[HEAD_MAX];
	size_t clen = 0, olen = 0;
	int status, chunked = 0, have_len = 0;

	*keep = 0;
	if (rd_line(r, line, sizeof(line)) == -1 ||
	    sscanf(line, "HTTP/1.%*d %d", &status) != 1)
		return 0;
	*keep = 1;
	for (;;) {
		if (rd_line(r, line, sizeof(line)) == -1)
			return *keep = 0, status;
		if (line[0] == '\0')
			break;
		if (strncasecmp(line, "Content-Length:", 15) == 0) {
			clen = strtoul(line + 15, NULL, 10);
			have_len = 1;
		} else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 &&
		    strstr(line, "chunked") != NULL)
			chunked = 1;
		else if (strncasecmp(line, "Connection:", 11) == 0 &&
		    strstr(line, "close") != NULL)
			*keep = 0;
	}
	if (chunked) {
		for (;;) {
			size_t k;

			if (rd_line(r, line, sizeof(line)) == -1)
				return *keep = 0, status;
			k = strtoul(line, NULL, 16);
			if (k == 0) {
				/* trailers, then an empty line */
				do
					if (rd_line(r, line, sizeof(line)) ==
					    -1)
						return *keep = 0, status;
				while (line[0] != '\0');
				break;
			}
			if (rd_body(r, k, out, &olen, cap) == -1 ||
			    rd_line(r, line, sizeof(line)) == -1)
				return *keep = 0, status;
		}
	} else if (have_len) {
		if (rd_body(r, clen, out, &olen, cap) == -1)
			return *keep = 0, status;
	} else
		*keep = 0; /* body to EOF: not worth reading */
	out[olen] = '\0';
	return status;
}

/* Size of event j of a client: mostly small, opt.large spread evenly. */
static size_t
body_size(int j, unsigned *seed)
{
	if (opt.large > 0 && j % (opt.events / opt.large) == 1 &&
	    j / (opt.events / opt.large) < opt.large) {
		int li = j / (opt.events / opt.large);

		/* The first large one is exactly the top of the range. */
		if (li == 0 || opt.large == 1)
			return opt.lmax;
		return opt.lmin +
		    (size_t)rand_r(seed) % (opt.lmax - opt.lmin + 1);
	}
	return opt.zmin + (size_t)rand_r(seed) % (opt.zmax - opt.zmin + 1);
}

static int
client(int k)
{
	char path[4096], head[1024], resp[4096], sig[2 * EVP_MAX_MD_SIZE + 1];
	unsigned char mac[EVP_MAX_MD_SIZE], md[EVP_MAX_MD_SIZE];
	unsigned int maclen, mdlen;
	char idhex[2 * EVP_MAX_MD_SIZE + 1], want[2 * EVP_MAX_MD_SIZE + 32];
	size_t cap = opt.lmax > opt.zmax ? opt.lmax : opt.zmax;
	unsigned seed;
	int port = opt.ports[k % opt.nports], fd = -1, keep = 0, status;
	struct rd *r = malloc(sizeof(*r));
	char *body = malloc(cap + 128);
	FILE *out;

	k += opt.base;
	seed = 0x9e3779b9u * (unsigned)(k + 1);
	snprintf(path, sizeof(path), "%s/client-%d.txt", opt.dir, k);
	if (r == NULL || body == NULL || (out = fopen(path, "w")) == NULL)
		return 1;
	for (int j = 0; j < opt.events; j++) {
		size_t size = body_size(j, &seed), pad, blen, hlen;
		char c = (char)('a' + (k * 7 + j) % 26);
		int pre;

		pre = snprintf(body, 64, "{\"w\":%d,\"i\":%d,\"pad\":\"", k, j);
		pad = size > (size_t)pre + 2 ? size - (size_t)pre - 2 : 0;
		memset(body + pre, c, pad);
		memcpy(body + pre + pad, "\"}", 2);
		blen = (size_t)pre + pad + 2;
		if (now() > opt.deadline) {
			fprintf(out, "%d %d %c %zu -1 0\n", k, j, c, pad);
			continue;
		}
		HMAC(opt.sha256 ? EVP_sha256() : EVP_sha1(), opt.secret,
		    (int)strlen(opt.secret), (unsigned char *)body, blen, mac,
		    &maclen);
		hex(sig, mac, maclen);
		EVP_Digest(body, blen, md, &mdlen, EVP_sha256(), NULL);
		hex(idhex, md, mdlen);
		hlen = (size_t)snprintf(head, sizeof(head),
		    "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Content-Type: application/json\r\n"
		    "%s: %s%s\r\nContent-Length: %zu\r\n\r\n",
		    opt.path,
		    opt.sha256 ? "X-Hub-Signature-256" : "X-Hub-Signature",
		    opt.sha256 ? "sha256=" : "sha1=", sig, blen);
		status = 0;
		for (int attempt = 0; attempt < 2 && status == 0; attempt++) {
			/* A second attempt only when the connection was
			 * found closed before anything was sent. */
			if (fd == -1) {
				if ((fd = connect_to(port)) == -1)
					break;
				r->fd = fd;
				r->off = r->len = 0;
			}
			if (send_all(fd, head, hlen) == -1) {
				close(fd);
				fd = -1;
				if (attempt == 0 && j > 0)
					continue;
				break;
			}
			if (send_all(fd, body, blen) == 0)
				status = read_response(r, resp,
				    sizeof(resp) - 1, &keep);
			else
				keep = 0;
			if (!keep || status == 0) {
				close(fd);
				fd = -1;
			}
			break;
		}
		snprintf(want, sizeof(want), "{\"ok\":true,\"id\":\"%s\"}",
		    idhex);
		fprintf(out, "%d %d %c %zu %d %d\n", k, j, c, pad, status,
		    status == 200 && strncmp(resp, want, strlen(want)) == 0);
		/* Like a real sender, back off a little after a failure:
		 * a pool that lost its processes needs a moment. */
		if (status == 0 || status >= 500)
			usleep(50 * 1000);
	}
	if (fd != -1)
		close(fd);
	free(body);
	free(r);
	return fclose(out) == 0 ? 0 : 1;
}

static int
range(const char *s, size_t *lo, size_t *hi)
{
	return sscanf(s, "%zu-%zu", lo, hi) == 2 && *lo <= *hi ? 0 : -1;
}

int
main(int argc, char *argv[])
{
	double seconds = 300;
	int c, failed = 0, st;
	char *p;

	while ((c = getopt(argc, argv, "p:c:n:o:u:z:L:Z:T:kb:")) != -1)
		switch (c) {
		case 'p':
			for (p = strtok(optarg, ",");
			     p != NULL && opt.nports < MAX_PORTS;
			     p = strtok(NULL, ","))
				opt.ports[opt.nports++] = atoi(p);
			break;
		case 'c':
			opt.clients = atoi(optarg);
			break;
		case 'n':
			opt.events = atoi(optarg);
			break;
		case 'o':
			opt.dir = optarg;
			break;
		case 'u':
			opt.path = optarg;
			break;
		case 'z':
			if (range(optarg, &opt.zmin, &opt.zmax) == -1)
				return 2;
			break;
		case 'L':
			opt.large = atoi(optarg);
			break;
		case 'Z':
			if (range(optarg, &opt.lmin, &opt.lmax) == -1)
				return 2;
			break;
		case 'T':
			seconds = atof(optarg);
			break;
		case 'k':
			opt.sha256 = 1;
			break;
		case 'b':
			opt.base = atoi(optarg);
			break;
		default:
			return 2;
		}
	opt.secret = getenv("HOOKLINE_SECRET");
	if (opt.nports == 0 || opt.clients <= 0 || opt.events <= 0 ||
	    opt.dir == NULL || opt.secret == NULL || opt.zmin < 32 ||
	    (opt.large > 0 && (opt.lmin < 32 || opt.large > opt.events / 2))) {
		fprintf(stderr,
		    "usage: HOOKLINE_SECRET=... hl-load -p PORT[,PORT] -c N "
		    "-n N -o DIR [-u PATH] [-z MIN-MAX] [-L N -Z MIN-MAX] "
		    "[-T S] [-b K] [-k]\n");
		return 2;
	}
	opt.deadline = now() + seconds;
	for (int k = 0; k < opt.clients; k++) {
		pid_t pid = fork();

		if (pid == -1)
			return 1;
		if (pid == 0)
			_exit(client(k));
	}
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	return failed == 0 ? 0 : 1;
}
