/*
 * hookline.h: internal interfaces shared by the handler's modules.
 *
 * One module per job: io.c (FastCGI or CGI transport), request.c (method,
 * length, body), config.c (HOOKLINE_* settings), sig.c (signature check),
 * event.c (JSON validation, event id), record.c (log line), sink_log.c (the
 * event log), gsync.c (fdatasyncs shared between processes), plugin.c (the
 * plugin sink, see hookline/plugin.h), answer.c (error table and HTTP answer),
 * serve.c (the per-request pipeline and the accept loop).  main.c only starts
 * it.
 */
#ifndef HOOKLINE_H
#define HOOKLINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

/*
 * Every fallible step returns one of these.  answer.c maps each to its
 * HTTP status and JSON body (the answer table of hookline(8) lives there
 * alone).
 */
enum hl_err {
	HL_OK = 0,
	HL_EMETHOD, /* 405: not POST */
	HL_ENOLENGTH, /* 411: CGI request without CONTENT_LENGTH */
	HL_EBADLENGTH, /* 400: CONTENT_LENGTH not a decimal number */
	HL_ETOOBIG, /* 413: body over HOOKLINE_MAX_BODY */
	HL_EINCOMPLETE, /* 400: body shorter than declared */
	HL_ESIG, /* 401: signature missing, malformed or wrong */
	HL_EJSON, /* 400: not a JSON object in UTF-8 */
	HL_ECONFIG, /* 500: bad HOOKLINE_* setting */
	HL_ESTORE, /* 503: a sink could not store the event */
	HL_EREJECT, /* 422: a sink refused the event for good */
	HL_EINTERNAL, /* 503: out of memory or a library failure; worth a retry */
	HL_ETIMEOUT, /* 408: the body did not arrive within
	                HOOKLINE_READ_TIMEOUT */
	HL_ERR__MAX
};

/* Length of the longest reason text a step hands back for the error log. */
#define HL_WHY_MAX 256

/*
 * Why a step failed, for the error log: every fallible function returns
 * an enum hl_err and, when it is not HL_OK, says why in one of these
 * (never quoting a secret).  why_set() formats it.
 */
struct hl_why {
	char text[HL_WHY_MAX];
};

void why_set(struct hl_why *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- answer.c ---------------------------------------------------------- */

int answer_status(enum hl_err);
const char *answer_message(enum hl_err);
/* Room for any whole answer, headers and body (answer_format). */
#define ANSWER_MAX 512

size_t answer_format(char *, size_t, enum hl_err, const char *);

/* ---- check.c ----------------------------------------------------------- */

int check_run(void);

/* ---- conffile.c -------------------------------------------------------- */

int conffile_path(char *, size_t);
int conffile_read(const char *, char ***, struct hl_why *);
void conffile_free(char **);

/* ---- deadline.c -------------------------------------------------------- */

int deadline_arm(unsigned);
void deadline_disarm(void);
int deadline_passed(void);

/* ---- io.c -------------------------------------------------------------- */

struct FCGX_Request;

/*
 * One request's transport: the FastCGI request, or (fcgx == NULL) the CGI
 * process's environment and standard streams.  Borrowed from the caller.
 */
struct hl_io {
	struct FCGX_Request *fcgx;
	char **params;
	int abandoned; /* the body was given up on: close after the answer */
};

enum io_length { IO_LENGTH_OK, IO_LENGTH_NONE, IO_LENGTH_BAD };

const char *io_param(const struct hl_io *, const char *);
enum io_length io_content_length(const struct hl_io *, unsigned long long *);
long io_read(struct hl_io *, char *, size_t);
int io_write(struct hl_io *, const char *, size_t);
void io_finish(struct hl_io *);
void io_wipe_secrets(struct hl_io *);
void io_log(struct hl_io *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- config.c ---------------------------------------------------------- */

/*
 * always: fdatasync before 2xx, shared between processes where that pays
 * (gsync.c); group: always shared; each: one fdatasync per record.
 */
enum hl_sync { HL_SYNC_ALWAYS, HL_SYNC_GROUP, HL_SYNC_EACH, HL_SYNC_NONE };
enum hl_alg { HL_ALG_NONE, HL_ALG_SHA1, HL_ALG_SHA256, HL_ALG_COUNT };

/* The senders' signature schemes (sig.c), HOOKLINE_SCHEME. */
enum hl_scheme {
	HL_SCHEME_HUB, /* X-Hub-Signature: hotglue, GitHub */
	HL_SCHEME_STANDARD, /* Standard Webhooks 1.0 */
	HL_SCHEME_STRIPE,
	HL_SCHEME_SHOPIFY,
	HL_SCHEME_GITLAB,
	HL_SCHEME_COUNT
};

/* One configured secret: its text and its HMAC key (config.c). */
struct hl_key {
	const unsigned char *text; /* as typed into the sender, borrowed */
	size_t text_len;
	unsigned char *mac; /* the HMAC key: the text, or decoded */
	size_t mac_len;
	EVP_MAC_CTX *hmac[HL_ALG_COUNT]; /* by enum hl_alg, keyed on use */
};

/* At most this many secrets at once (rotation: old and new). */
#define HL_KEYS_MAX 8

/* The secrets of one configuration (config.c). */
struct hl_keys;

/*
 * The settings that apply to one request.  Owned by the config cache in
 * config.c; valid until the next config_get() call.
 */
struct hl_config {
	const unsigned char *secret; /* the first secret; NULL when unsigned */
	size_t secret_len;
	size_t max_body;
	enum hl_sync sync;
	const char *log; /* path or strftime pattern, or NULL */
	const char *plugin; /* shared object path, or NULL */
	const char *plugin_arg; /* never NULL */
	unsigned read_timeout; /* seconds for the whole body */
	enum hl_scheme scheme; /* HOOKLINE_SCHEME */
	unsigned tolerance; /* seconds a signed timestamp may be off */
	int nkeys; /* secrets: 0 when unsigned requests are allowed */
	struct hl_keys *keys; /* for config_key() and config_hmac() */
};

struct hl_config_cache;

struct hl_config_cache *config_cache_new(void);
void config_cache_free(struct hl_config_cache *);
struct hl_request;
enum hl_err config_get(struct hl_config_cache *, struct hl_request *);
int config_cache_use_file(struct hl_config_cache *, const char *);
int config_parse_size(const char *, size_t *);
unsigned char *config_secret_next(unsigned char **, unsigned char *, size_t *);
const struct hl_key *config_key(const struct hl_config *, int);
EVP_MAC_CTX *config_hmac(const struct hl_config *, int, enum hl_alg);

/* ---- request.c --------------------------------------------------------- */

/* A growable byte buffer; the body is NUL-terminated for convenience. */
struct hl_buf {
	char *p;
	size_t len;
	size_t cap;
};

int buf_reserve(struct hl_buf *, size_t);
void buf_release(struct hl_buf *, size_t);

enum hl_err request_check_method(struct hl_request *);
enum hl_err request_read_body(struct hl_request *);

/* ---- sig.c ------------------------------------------------------------- */

#define HL_MAC_MAX 32 /* SHA-256 */

/* Scheme s's headers, as CGI parameters; NULL where it has none. */
struct sig_params {
	const char *signature; /* hub: X-Hub-Signature-256 */
	const char *signature_alt; /* hub: X-Hub-Signature */
	const char *delivery; /* the sender's delivery id */
	const char *timestamp; /* standard: signed besides the body */
};

const struct sig_params *sig_params(enum hl_scheme);
int sig_scheme(const char *, enum hl_scheme *);
const char *sig_scheme_name(enum hl_scheme);
int sig_hmac_key(EVP_MAC_CTX **, enum hl_alg, const unsigned char *, size_t);
ssize_t sig_b64_decode(const char *, size_t, unsigned char *, size_t);
enum hl_err sig_check(struct hl_request *);
enum hl_err sig_parse(const char *, enum hl_alg, unsigned char *,
    struct hl_why *);
enum hl_err sig_verify(EVP_MAC_CTX *, enum hl_alg, const char *,
    const unsigned char *, size_t, struct hl_why *);

/* ---- event.c ----------------------------------------------------------- */

/*
 * A verified event.  body is borrowed; the parsed tree and the borrowed
 * field pointers into it live until event_clear().
 */
struct hl_event {
	const char *body;
	size_t len;
	char id[65]; /* lowercase hex SHA-256 of the raw body */
	struct cJSON *root;
	const char *status; /* common hotglue fields, NULL when absent */
	const char *job_id;
	const char *flow_id;
	const char *tenant;
};

void hex_encode(char *, const unsigned char *, size_t);
enum hl_err event_parse(struct hl_event *, const char *, size_t,
    struct hl_why *);
void event_clear(struct hl_event *);
size_t event_utf8_len(const unsigned char *, size_t);

/* ---- serve.c: the request ---------------------------------------------- */

/*
 * One request, start to finish: what each step of the pipeline (serve.c)
 * reads and fills in, the way slowcgi hands one struct request to every
 * step.  Everything is borrowed from the server or the transport for the
 * request's lifetime, but ev, which event_clear() releases.
 */
struct hl_request {
	struct hl_io *io; /* transport and parameters */
	const struct hl_config *cfg; /* from the config cache */
	struct hl_buf *body; /* the raw body, NUL-terminated */
	const char *signature; /* the header as received, or NULL */
	const char *scheme; /* what verified it ("sha1"), or NULL */
	int key; /* which secret verified it (1 = first), 0: none */
	const char *delivery; /* the sender's delivery id, or NULL */
	const char *timestamp; /* what the scheme signs besides the body */
	time_t now; /* the clock a signed timestamp is held against */
	struct hl_event ev; /* the verified event */
	struct timespec received; /* when it was stored */
	struct hl_why why; /* why the outcome is not HL_OK */
	struct hl_why note; /* something repaired on the way, or "" */
};

/* ---- record.c ---------------------------------------------------------- */

/* What one log line says; all borrowed. */
struct hl_record {
	struct timespec when;
	const char *id;
	const char *remote; /* may be NULL */
	const char *signature; /* header value as received, may be NULL */
	const char *scheme; /* HOOKLINE_SCHEME's name */
	const char *delivery; /* the sender's delivery id, may be NULL */
	int key; /* which secret verified it (1 = first), 0: none */
	const char *timestamp; /* signed besides the body, may be NULL */
	const char *body;
	size_t len;
};

/* How every record starts: how the log tells its own torn lines. */
#define RECORD_PREFIX "{\"received\":\""

size_t record_max(const struct hl_record *);
size_t record_format(char *, const struct hl_record *);

/* ---- sink_log.c -------------------------------------------------------- */

struct sink_log;

struct sink_log *sink_log_new(void);
void sink_log_free(struct sink_log *);
enum hl_err sink_log_append(struct sink_log *, struct hl_request *,
    const struct hl_buf *);

/* ---- builtin.c (static builds only) ----------------------------------- */

struct hookline_plugin;

const struct hookline_plugin *builtin_plugin(const char *);
const char *builtin_names(void);

/* ---- plugin.c --------------------------------------------------------- */

struct hl_plugin;
struct hl_plugins;

struct hl_plugins *plugin_cache_new(void);
void plugin_cache_free(struct hl_plugins *);
enum hl_err plugin_get(struct hl_plugins *, struct hl_request *,
    struct hl_plugin **);
enum hl_err plugin_handle(struct hl_plugin *, struct hl_request *);

/* ---- serve.c ----------------------------------------------------------- */

struct hl_server;

struct hl_server *serve_new(void);
void serve_free(struct hl_server *);
enum hl_err serve_request(struct hl_server *, struct hl_io *);
int serve_cgi(void);
int serve_fcgi(void);

#endif /* HOOKLINE_H */
