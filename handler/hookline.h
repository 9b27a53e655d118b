/*
 * hookline.h: internal interfaces shared by the handler's modules.
 *
 * One module per job: io.c (FastCGI or CGI transport), request.c (method,
 * length, body), config.c (HOOKLINE_* settings), sig.c (signature check),
 * event.c (JSON validation, event id), record.c (log line), sink_log.c (the
 * event log), gsync.c (fdatasyncs shared between processes), plugin.c (the plugin sink, see hookline/plugin.h), answer.c
 * (error table and HTTP answer), serve.c (the per-request pipeline and the
 * accept loop).  main.c only starts it.
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
 * HTTP status and JSON body (DESIGN.md section 4 lives there alone).
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
	HL_ETIMEOUT, /* 408: the body did not arrive within HOOKLINE_READ_TIMEOUT */
	HL_ERR__MAX
};

/* Length of the longest reason text a step hands back for the error log. */
#define HL_WHY_MAX 256

/* ---- answer.c ---------------------------------------------------------- */

int answer_status(enum hl_err);
const char *answer_message(enum hl_err);
size_t answer_format(char *, size_t, enum hl_err, const char *);

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

const char *io_param(const struct hl_io *, const char *);
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
enum hl_alg { HL_ALG_NONE, HL_ALG_SHA1, HL_ALG_SHA256 };

/*
 * The settings that apply to one request.  Owned by the config cache in
 * config.c; valid until the next config_get() call.
 */
struct hl_config {
	const unsigned char *secret; /* NULL when unsigned requests allowed */
	size_t secret_len;
	size_t max_body;
	enum hl_sync sync;
	const char *log; /* path or strftime pattern, or NULL */
	const char *plugin; /* shared object path, or NULL */
	const char *plugin_arg; /* never NULL */
	unsigned read_timeout; /* seconds for the whole body */
};

struct hl_config_cache;

struct hl_config_cache *config_cache_new(void);
void config_cache_free(struct hl_config_cache *);
enum hl_err config_get(struct hl_config_cache *, struct hl_io *,
    const struct hl_config **, char *, size_t);
int config_parse_size(const char *, size_t *);
EVP_MAC_CTX *config_hmac(const struct hl_config *, enum hl_alg);

/* ---- request.c --------------------------------------------------------- */

/* A growable byte buffer; the body is NUL-terminated for convenience. */
struct hl_buf {
	char *p;
	size_t len;
	size_t cap;
};

int buf_reserve(struct hl_buf *, size_t);
void buf_release(struct hl_buf *, size_t);

enum hl_err request_check_method(const struct hl_io *);
enum hl_err request_read_body(struct hl_io *, size_t, unsigned,
    struct hl_buf *, char *, size_t);

/* ---- sig.c ------------------------------------------------------------- */

#define HL_MAC_MAX 32 /* SHA-256 */

int sig_hmac_key(EVP_MAC_CTX **, enum hl_alg, const unsigned char *, size_t);
enum hl_err sig_parse(const char *, enum hl_alg, unsigned char *,
    const char **);
enum hl_err sig_verify(EVP_MAC_CTX *, enum hl_alg, const char *,
    const unsigned char *, size_t, const char **);

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
int event_json_text_ok(const unsigned char *, size_t, const char **);
enum hl_err event_parse(struct hl_event *, const char *, size_t, const char **);
void event_clear(struct hl_event *);

/* ---- record.c ---------------------------------------------------------- */

/* What one log line says; all borrowed. */
struct hl_record {
	struct timespec when;
	const char *id;
	const char *remote; /* may be NULL */
	const char *signature; /* header value as received, may be NULL */
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
enum hl_err sink_log_append(struct sink_log *, const char *, enum hl_sync,
    const struct timespec *, const char *, size_t, char *, size_t);
const char *sink_log_note(const struct sink_log *);

/* ---- gsync.c ----------------------------------------------------------- */

struct gsync;

int gsync_worth(int);
struct gsync *gsync_open(dev_t, ino_t);
void gsync_close(struct gsync *);
void gsync_forget(dev_t, ino_t);
uint64_t gsync_ticket(struct gsync *);
void gsync_written(struct gsync *, uint64_t);
int gsync_sync(struct gsync *, int, uint64_t);

/* ---- builtin.c (static builds only) ----------------------------------- */

struct hookline_plugin;

const struct hookline_plugin *builtin_plugin(const char *);
const char *builtin_names(void);

/* ---- plugin.c --------------------------------------------------------- */

struct hl_plugin;
struct hl_plugins;

struct hl_plugins *plugin_cache_new(void);
void plugin_cache_free(struct hl_plugins *);
enum hl_err plugin_get(struct hl_plugins *, const char *, const char *,
    struct hl_io *, struct hl_plugin **, char *, size_t);
enum hl_err plugin_handle(struct hl_plugin *, struct hl_io *,
    const struct hl_event *, const char *, const char *, char *, size_t);

/* ---- serve.c ----------------------------------------------------------- */

struct hl_server;

struct hl_server *serve_new(void);
void serve_free(struct hl_server *);
enum hl_err serve_request(struct hl_server *, struct hl_io *);
int serve_cgi(void);
int serve_fcgi(void);

#endif /* HOOKLINE_H */
