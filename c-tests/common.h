/* Shared helpers for the C tests: load the plugin through libsasl2 exactly as a
 * server application does, and report results as `ok - name` / `not ok - name`. */
#ifndef SASLOAUTH_CTESTS_COMMON_H
#define SASLOAUTH_CTESTS_COMMON_H

#include <stddef.h>
#include <sasl/sasl.h> /* must come before saslplug.h */
#include <sasl/saslplug.h>

#define SERVICE "imap"
#define SERVER_FQDN "server.example.com"
/* void (*)(void) is GCC's generic function type: no -Wcast-function-type. */
#define CB(fn) ((sasl_callback_ft)(void (*)(void))(fn))
#define KV "\001" /* OAUTHBEARER/XOAUTH2 separator; octal so "\001auth" stays one byte */

extern const char *plugin_dir; /* argv[1] */
extern const char *fixtures;   /* argv[2] */

/* Parse argv[1], argv[2] and FIXTURES/server.conf; exits with usage on error. */
void t_init(int argc, char **argv);

/* Option table served by the getopt callback (read from server.conf). */
const char *t_opt_get(const char *key);
/* SASL_CB_GETOPT answering from that table, and SASL_CB_GETPATH giving
 * PLUGIN_DIR, for programs that build their own callback lists. */
int t_cb_getopt(void *ctx, const char *plugin_name, const char *option, const char **result, unsigned *len);
int t_cb_getpath(void *ctx, const char **path);
void t_opt_set(const char *key, const char *value); /* value NULL = remove */

/* A GETOPT callback serving the option table, for sasl_server_new: options
 * given per connection only (as some applications do). */
const sasl_callback_t *t_conn_getopt(void);

/* sasl_server_init / sasl_client_init with GETPATH + LOG (+ GETOPT if with_getopt). */
void t_server_init(int with_getopt);
void t_client_init(void);
void t_done(void);

/* sasl_server_new("imap", "server.example.com", no realm, extra per-conn callbacks). */
sasl_conn_t *t_server_new(const sasl_callback_t *callbacks);

/* Client credentials served by client callbacks; NULL authzid: no SASL_CB_USER answer. */
struct creds {
    const char *authid;
    const char *authzid;
    const char *token;
    sasl_callback_t cbs[4];
    sasl_secret_t *secret;
};
/* c must outlive the connection: its callbacks point into it. */
sasl_conn_t *t_client_new(struct creds *c);
/* The same with sasl_client_new flags (SASL_SUCCESS_DATA, ...). */
sasl_conn_t *t_client_new_flags(struct creds *c, unsigned flags);
void t_creds_free(struct creds *c);

/* FIXTURES/tokens/NAME.jwt as a malloc'd string (exits if missing). */
char *t_token(const char *name);

/* sasl_errdetail without libsasl2's "SASL(n): text: " leader, never NULL. */
const char *t_detail(sasl_conn_t *conn);
int t_contains_ci(const char *hay, const char *needle);

/* Result of one in-process client<->server exchange. */
struct hs {
    int client_rc;         /* last client return code */
    int server_rc;         /* last server return code */
    int rounds;            /* server calls made */
    const char *mech;      /* mechanism chosen by the client */
    char challenge[1024];  /* first non-empty server challenge, NUL-terminated */
    char client_detail[1024]; /* client errdetail after it answered a challenge */
};
/* interact: called on SASL_INTERACT to fill the prompts; NULL means INTERACT fails. */
typedef void interact_fn(sasl_interact_t *prompts, void *ctx);
void t_handshake(sasl_conn_t *client, sasl_conn_t *server, const char *mechs,
                 interact_fn *interact, void *ctx, struct hs *out);

/* printf into one of a few rotating static buffers: for composing check names. */
const char *t_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checks. */
int t_check(int cond, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int t_check_rc(int got, int want, const char *name, sasl_conn_t *conn);
int t_check_detail(sasl_conn_t *conn, const char *substr, const char *name);
int t_check_prop(sasl_conn_t *conn, int prop, const char *want, const char *name);
/* The token (and its signature part) appears in no log line, no errdetail of
 * the given conns, and no extra text (e.g. a challenge). */
int t_check_no_leak(const char *token, sasl_conn_t *a, sasl_conn_t *b,
                    const char *extra, const char *name);
/* Same, but keeps the log lines for a further check (for a second token). */
int t_check_no_leak_keep(const char *token, sasl_conn_t *a, sasl_conn_t *b,
                         const char *extra, const char *name);
void t_log_clear(void);
/* Whether a log line received since the last t_log_clear holds NEEDLE. */
int t_log_contains(const char *needle);
/* Prints "N passed, N failed" and returns the exit status. */
int t_summary(void);

/* Growable byte buffer for raw client messages (they hold \x01 and maybe NUL). */
struct buf {
    char *p;
    size_t len, cap;
};
void b_add(struct buf *b, const void *data, size_t len);
void b_str(struct buf *b, const char *s);
void b_free(struct buf *b);

/* Value of a top-level string field of a flat JSON object, copied into out;
 * returns 0 if absent. Enough for the error challenges. */
int t_json_field(const char *json, const char *key, char *out, size_t outlen);

const char *t_rcname(int rc);

/* SASL_OAUTH_TEST_LOGDIR (when set): every log line the harness receives and
 * every errdetail it reads are appended to $SASL_OAUTH_TEST_LOGDIR/c/PROG.PID.log
 * as "KIND: text" lines, for secrets_scan.sh to grep after the whole suite.
 * Tests that invent secrets of their own (tokens they mint) list them, one a
 * line, in PROG.PID.secrets there. Both are no-ops without the variable, and
 * thread-safe. */
void t_logdir_write(const char *kind, const char *text);
void t_logdir_secret(const char *secret);

#endif
