/* Shared helpers for the C tests; see common.h. */
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char *plugin_dir;
const char *fixtures;

static int passed, failed;

/* ---- options from FIXTURES/server.conf, served through SASL_CB_GETOPT ---- */

#define MAX_OPTS 64
static struct { char *key, *value; } opts[MAX_OPTS];
static int nopts;

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("not ok - fatal: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failed++;
    exit(t_summary());
}

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s)) s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

const char *t_opt_get(const char *key)
{
    for (int i = 0; i < nopts; i++)
        if (strcmp(opts[i].key, key) == 0) return opts[i].value;
    return NULL;
}

void t_opt_set(const char *key, const char *value)
{
    for (int i = 0; i < nopts; i++) {
        if (strcmp(opts[i].key, key) != 0) continue;
        free(opts[i].value);
        if (value) {
            opts[i].value = strdup(value);
        } else { /* remove: move the last entry here */
            free(opts[i].key);
            opts[i] = opts[--nopts];
        }
        return;
    }
    if (!value) return;
    if (nopts == MAX_OPTS) fatal("too many options");
    opts[nopts].key = strdup(key);
    opts[nopts].value = strdup(value);
    nopts++;
}

static void load_conf(const char *path)
{
    char line[4096];
    FILE *f = fopen(path, "r");
    if (!f) fatal("cannot open %s", path);
    while (fgets(line, sizeof line, f)) {
        char *colon, *key = trim(line);
        if (*key == '\0' || *key == '#') continue;
        colon = strchr(key, ':');
        if (!colon) fatal("bad line in %s: %s", path, key);
        *colon = '\0';
        t_opt_set(trim(key), trim(colon + 1));
    }
    fclose(f);
    if (nopts == 0) fatal("%s holds no options", path);
}

/* libsasl2 asks with the bare option name ("oauth_issuer"); plugin_name is
 * "sasloauth" or NULL and does not change the answer. */
int t_cb_getopt(void *ctx, const char *plugin_name, const char *option,
                     const char **result, unsigned *len)
{
    const char *v;
    (void)ctx;
    (void)plugin_name;
    if (!option || !result) return SASL_BADPARAM;
    v = t_opt_get(option);
    if (!v) return SASL_FAIL;
    *result = v;
    if (len) *len = (unsigned)strlen(v);
    return SASL_OK;
}

int t_cb_getpath(void *ctx, const char **path)
{
    (void)ctx;
    *path = plugin_dir;
    return SASL_OK;
}

/* ---- log callback: print and keep every line so tests can look for leaks ---- */

static struct buf logbuf;
static const char *logdir_prog = "c-test"; /* basename of argv[0], for SASL_OAUTH_TEST_LOGDIR */

static int cb_log(void *ctx, int level, const char *message)
{
    (void)ctx;
    if (!message) message = "(null)";
    t_logdir_write("log", message);
    fprintf(stderr, "log: [%d] %s\n", level, message);
    b_str(&logbuf, message);
    b_str(&logbuf, "\n");
    return SASL_OK;
}

int t_log_contains(const char *needle)
{
    return logbuf.p && strstr(logbuf.p, needle) != NULL;
}

void t_log_clear(void)
{
    logbuf.len = 0;
    if (logbuf.p) logbuf.p[0] = '\0';
}

/* ---- init ---- */

void t_init(int argc, char **argv)
{
    char path[4096];
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep ok/not ok lines in order with stderr */
    if (argc < 3) {
        fprintf(stderr, "usage: %s PLUGIN_DIR FIXTURES [flags]\n", argv[0]);
        exit(2);
    }
    plugin_dir = argv[1];
    fixtures = argv[2];
    logdir_prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    snprintf(path, sizeof path, "%s/server.conf", fixtures);
    load_conf(path);
    /* The client mechanisms are registered only when the client's file names
     * them: FIXTURES/client.conf does, unless the caller chose another file. */
    snprintf(path, sizeof path, "%s/client.conf", fixtures);
    setenv("SASL_OAUTH_CONF", path, 0);
}

static sasl_callback_t server_cbs[] = {
    {SASL_CB_GETPATH, CB(t_cb_getpath), NULL},
    {SASL_CB_LOG, CB(cb_log), NULL},
    {SASL_CB_GETOPT, CB(t_cb_getopt), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

/* The client gets no GETOPT: client processes have no configuration. */
static sasl_callback_t client_cbs[] = {
    {SASL_CB_GETPATH, CB(t_cb_getpath), NULL},
    {SASL_CB_LOG, CB(cb_log), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

const sasl_callback_t *t_conn_getopt(void)
{
    static const sasl_callback_t cbs[] = {
        {SASL_CB_GETOPT, CB(t_cb_getopt), NULL},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    return cbs;
}

void t_server_init(int with_getopt)
{
    int rc;
    if (!with_getopt) server_cbs[2].id = SASL_CB_LIST_END;
    /* appname NULL: libsasl2 reads no config file, options come only from us */
    rc = sasl_server_init(server_cbs, NULL);
    if (rc != SASL_OK) fatal("sasl_server_init: %s", t_rcname(rc));
}

void t_client_init(void)
{
    int rc = sasl_client_init(client_cbs);
    if (rc != SASL_OK) fatal("sasl_client_init: %s", t_rcname(rc));
}

void t_done(void)
{
    sasl_server_done();
    sasl_client_done();
}

sasl_conn_t *t_server_new(const sasl_callback_t *callbacks)
{
    sasl_conn_t *conn = NULL;
    int rc = sasl_server_new(SERVICE, SERVER_FQDN, NULL, NULL, NULL, callbacks, 0, &conn);
    if (rc != SASL_OK) fatal("sasl_server_new: %s", t_rcname(rc));
    return conn;
}

/* ---- client credentials ---- */

static int cb_simple(void *ctx, int id, const char **result, unsigned *len)
{
    struct creds *c = ctx;
    const char *v = id == SASL_CB_AUTHNAME ? c->authid : id == SASL_CB_USER ? c->authzid : NULL;
    if (!v || !result) return SASL_FAIL;
    *result = v;
    if (len) *len = (unsigned)strlen(v);
    return SASL_OK;
}

static int cb_pass(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **psecret)
{
    struct creds *c = ctx;
    (void)conn;
    if (id != SASL_CB_PASS || !psecret || !c->secret) return SASL_FAIL;
    *psecret = c->secret;
    return SASL_OK;
}

sasl_conn_t *t_client_new(struct creds *c)
{
    return t_client_new_flags(c, 0);
}

sasl_conn_t *t_client_new_flags(struct creds *c, unsigned flags)
{
    sasl_conn_t *conn = NULL;
    int n = 0, rc;
    size_t tl = strlen(c->token);

    c->secret = malloc(sizeof(sasl_secret_t) + tl);
    if (!c->secret) fatal("out of memory");
    c->secret->len = tl;
    memcpy(c->secret->data, c->token, tl + 1);

    c->cbs[n++] = (sasl_callback_t){SASL_CB_AUTHNAME, CB(cb_simple), c};
    if (c->authzid) /* no SASL_CB_USER at all when there is no authzid */
        c->cbs[n++] = (sasl_callback_t){SASL_CB_USER, CB(cb_simple), c};
    c->cbs[n++] = (sasl_callback_t){SASL_CB_PASS, CB(cb_pass), c};
    c->cbs[n] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};

    rc = sasl_client_new(SERVICE, SERVER_FQDN, NULL, NULL, c->cbs, flags, &conn);
    if (rc != SASL_OK) fatal("sasl_client_new: %s", t_rcname(rc));
    return conn;
}

void t_creds_free(struct creds *c)
{
    free(c->secret);
    c->secret = NULL;
}

char *t_token(const char *name)
{
    char path[4096];
    struct buf b = {0};
    char chunk[4096];
    size_t n;
    FILE *f;

    snprintf(path, sizeof path, "%s/tokens/%s.jwt", fixtures, name);
    f = fopen(path, "rb");
    if (!f) fatal("cannot open token %s", path);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) b_add(&b, chunk, n);
    fclose(f);
    b_add(&b, "", 1);
    b.len--;
    while (b.len > 0 && isspace((unsigned char)b.p[b.len - 1])) b.p[--b.len] = '\0';
    if (b.len == 0) fatal("empty token %s", path);
    return b.p;
}

/* ---- errdetail ---- */

const char *t_detail(sasl_conn_t *conn)
{
    /* libsasl2 formats "SASL(%d): %s: <detail>"; the %s (sasl_errstring) has
     * no ": ", and words like "authentication" in it must not satisfy a check. */
    const char *d = conn ? sasl_errdetail(conn) : NULL, *p;
    if (!d) return "";
    t_logdir_write("errdetail", d);
    if (strncmp(d, "SASL(", 5) == 0 && (p = strstr(d, "): ")) && (p = strstr(p + 3, ": ")))
        return p + 2;
    return d;
}

int t_contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return n == 0;
}

/* ---- handshake ---- */

void t_handshake(sasl_conn_t *client, sasl_conn_t *server, const char *mechs,
                 interact_fn *interact, void *ctx, struct hs *out)
{
    sasl_interact_t *prompts = NULL;
    const char *cout = NULL, *sout = NULL;
    unsigned coutlen = 0, soutlen = 0;
    int rc = SASL_FAIL, i;

    memset(out, 0, sizeof *out);
    out->server_rc = SASL_NOTDONE;
    for (i = 0; i < 4; i++) {
        rc = sasl_client_start(client, mechs, &prompts, &cout, &coutlen, &out->mech);
        if (rc != SASL_INTERACT || !interact) break;
        interact(prompts, ctx);
    }
    out->client_rc = rc;
    if (rc != SASL_OK && rc != SASL_CONTINUE) return;

    rc = sasl_server_start(server, out->mech, cout, coutlen, &sout, &soutlen);
    out->rounds = 1;
    while (rc == SASL_CONTINUE && out->rounds < 8) { /* bounded: a loop is a failure */
        int crc = SASL_FAIL;
        if (soutlen > 0 && !out->challenge[0])
            snprintf(out->challenge, sizeof out->challenge, "%.*s", (int)soutlen, sout);
        prompts = NULL;
        for (i = 0; i < 4; i++) {
            crc = sasl_client_step(client, sout, soutlen, &prompts, &cout, &coutlen);
            if (crc != SASL_INTERACT || !interact) break;
            interact(prompts, ctx);
        }
        out->client_rc = crc;
        if (soutlen > 0)
            snprintf(out->client_detail, sizeof out->client_detail, "%s", t_detail(client));
        if (crc != SASL_OK && crc != SASL_CONTINUE) break;
        rc = sasl_server_step(server, cout, coutlen, &sout, &soutlen);
        out->rounds++;
    }
    out->server_rc = rc;
    t_logdir_write("errdetail", sasl_errdetail(server));
    t_logdir_write("errdetail", sasl_errdetail(client));
}

/* ---- checks ---- */

const char *t_name(const char *fmt, ...)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    return b;
}

int t_check(int cond, const char *name, const char *fmt, ...)
{
    va_list ap;
    if (cond) {
        printf("ok - %s\n", name);
        passed++;
        return 1;
    }
    printf("not ok - %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    failed++;
    return 0;
}

int t_check_rc(int got, int want, const char *name, sasl_conn_t *conn)
{
    return t_check(got == want, name, "expected %s, got %s (errdetail: %s)", t_rcname(want),
                   t_rcname(got), conn ? sasl_errdetail(conn) : "-");
}

int t_check_detail(sasl_conn_t *conn, const char *substr, const char *name)
{
    const char *d = t_detail(conn);
    return t_check(t_contains_ci(d, substr), name, "errdetail lacks \"%s\": \"%s\"", substr, d);
}

int t_check_prop(sasl_conn_t *conn, int prop, const char *want, const char *name)
{
    const char *v = NULL;
    int rc = sasl_getprop(conn, prop, (const void **)&v);
    return t_check(rc == SASL_OK && v && strcmp(v, want) == 0, name,
                   "expected \"%s\", got %s \"%s\"", want, t_rcname(rc), v ? v : "(null)");
}

static const char *leak_in(const char *needle, sasl_conn_t *a, sasl_conn_t *b, const char *extra)
{
    const char *d;
    if (a) t_logdir_write("errdetail", sasl_errdetail(a));
    if (b) t_logdir_write("errdetail", sasl_errdetail(b));
    if (logbuf.p && strstr(logbuf.p, needle)) return "a log line";
    if (a && (d = sasl_errdetail(a)) && strstr(d, needle)) return "errdetail (first conn)";
    if (b && (d = sasl_errdetail(b)) && strstr(d, needle)) return "errdetail (second conn)";
    if (extra && strstr(extra, needle)) return "server output";
    return NULL;
}

int t_check_no_leak_keep(const char *token, sasl_conn_t *a, sasl_conn_t *b, const char *extra,
                         const char *name)
{
    const char *where = leak_in(token, a, b, extra);
    const char *sig = strrchr(token, '.');
    /* the signature alone is the secret part of a JWT: look for it too */
    if (!where && sig && strlen(sig + 1) >= 16) where = leak_in(sig + 1, a, b, extra);
    return t_check(where == NULL, t_name("%s: token not leaked", name), "token found in %s", where);
}

int t_check_no_leak(const char *token, sasl_conn_t *a, sasl_conn_t *b, const char *extra,
                    const char *name)
{
    int ok = t_check_no_leak_keep(token, a, b, extra, name);
    t_log_clear(); /* attribute any later leak to its own test */
    return ok;
}

int t_summary(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}

/* ---- buffers, JSON, names ---- */

void b_add(struct buf *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->len + len + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) fatal("out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0'; /* handy for printing; never counted in len */
}

void b_str(struct buf *b, const char *s)
{
    b_add(b, s, strlen(s));
}

void b_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int t_json_field(const char *json, const char *key, char *out, size_t outlen)
{
    char pat[256];
    const char *p;
    size_t n = 0;

    snprintf(pat, sizeof pat, "\"%s\"", key);
    for (p = strstr(json, pat); p; p = strstr(p + 1, pat)) {
        const char *q = p + strlen(pat);
        while (isspace((unsigned char)*q)) q++;
        if (*q != ':') continue; /* that was a value, not a key */
        q++;
        while (isspace((unsigned char)*q)) q++;
        if (*q != '"') return 0;
        for (q++; *q && *q != '"'; q++) {
            if (*q == '\\' && q[1]) q++; /* \" and \/ as the plain character */
            if (n + 1 < outlen) out[n++] = *q;
        }
        if (*q != '"') return 0;
        out[n] = '\0';
        return 1;
    }
    return 0;
}

const char *t_rcname(int rc)
{
    static char other[32];
    switch (rc) {
    case SASL_CONTINUE: return "SASL_CONTINUE";
    case SASL_OK: return "SASL_OK";
    case SASL_FAIL: return "SASL_FAIL";
    case SASL_NOMEM: return "SASL_NOMEM";
    case SASL_BUFOVER: return "SASL_BUFOVER";
    case SASL_NOMECH: return "SASL_NOMECH";
    case SASL_BADPROT: return "SASL_BADPROT";
    case SASL_NOTDONE: return "SASL_NOTDONE";
    case SASL_BADPARAM: return "SASL_BADPARAM";
    case SASL_TRYAGAIN: return "SASL_TRYAGAIN";
    case SASL_BADMAC: return "SASL_BADMAC";
    case SASL_NOTINIT: return "SASL_NOTINIT";
    case SASL_INTERACT: return "SASL_INTERACT";
    case SASL_BADSERV: return "SASL_BADSERV";
    case SASL_WRONGMECH: return "SASL_WRONGMECH";
    case SASL_BADAUTH: return "SASL_BADAUTH";
    case SASL_NOAUTHZ: return "SASL_NOAUTHZ";
    case SASL_TOOWEAK: return "SASL_TOOWEAK";
    case SASL_ENCRYPT: return "SASL_ENCRYPT";
    case SASL_TRANS: return "SASL_TRANS";
    case SASL_EXPIRED: return "SASL_EXPIRED";
    case SASL_DISABLED: return "SASL_DISABLED";
    case SASL_NOUSER: return "SASL_NOUSER";
    case SASL_BADVERS: return "SASL_BADVERS";
    case SASL_UNAVAIL: return "SASL_UNAVAIL";
    case SASL_NOVERIFY: return "SASL_NOVERIFY";
    case SASL_BADBINDING: return "SASL_BADBINDING";
    default:
        snprintf(other, sizeof other, "SASL code %d", rc);
        return other;
    }
}

/* ---- SASL_OAUTH_TEST_LOGDIR: what secrets_scan.sh greps after the suite ---- */

static pthread_mutex_t logdir_lock = PTHREAD_MUTEX_INITIALIZER;
static int logdir_fd[2] = {-1, -1}; /* .log, .secrets */
static int logdir_off;              /* no variable, or the directory cannot be made */

/* Opens $SASL_OAUTH_TEST_LOGDIR/c/PROG.PID.SUFFIX once; -1 when off. Call locked. */
static int logdir_open(int which)
{
    const char *dir = getenv("SASL_OAUTH_TEST_LOGDIR");
    char path[4096];
    if (logdir_off || logdir_fd[which] >= 0) return logdir_fd[which];
    if (!dir || !*dir) {
        logdir_off = 1;
        return -1;
    }
    snprintf(path, sizeof path, "%s/c", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) logdir_off = 1;
    if (mkdir(path, 0700) != 0 && errno != EEXIST) logdir_off = 1;
    if (logdir_off) {
        fprintf(stderr, "# SASL_OAUTH_TEST_LOGDIR: cannot make %s: logs not kept\n", path);
        return -1;
    }
    snprintf(path, sizeof path, "%s/c/%s.%ld.%s", dir, logdir_prog, (long)getpid(),
             which ? "secrets" : "log");
    logdir_fd[which] = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logdir_fd[which] < 0) {
        fprintf(stderr, "# SASL_OAUTH_TEST_LOGDIR: cannot open %s: logs not kept\n", path);
        logdir_off = 1;
    }
    return logdir_fd[which];
}

static void logdir_record(int which, const char *kind, const char *text)
{
    struct buf line = {0};
    int fd;
    if (!text || !*text) return;
    pthread_mutex_lock(&logdir_lock);
    fd = logdir_open(which);
    if (fd >= 0) {
        if (kind) {
            b_str(&line, kind);
            b_str(&line, ": ");
        }
        b_str(&line, text);
        b_str(&line, "\n");
        /* one write per line: O_APPEND keeps forked children's lines whole */
        if (write(fd, line.p, line.len) != (ssize_t)line.len) logdir_off = 1;
        b_free(&line);
    }
    pthread_mutex_unlock(&logdir_lock);
}

void t_logdir_write(const char *kind, const char *text)
{
    logdir_record(0, kind, text);
}

void t_logdir_secret(const char *secret)
{
    logdir_record(1, NULL, secret);
}
