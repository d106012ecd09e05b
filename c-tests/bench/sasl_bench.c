/* sasl_bench: complete in-process SASL handshakes through the real libsasl2,
 * client and server in one process, to compare our OAUTHBEARER and XOAUTH2
 * with libsasl2's own ANONYMOUS (floor: no lookup at all) and PLAIN with the
 * sasldb auxprop (what most servers use today).
 *
 *   sasl_bench PLUGIN_DIR FIXTURES BENCH_DIR COMMAND [options]
 *
 * PLUGIN_DIR holds libanonymous.so, libplain.so, libsasldb.so and our
 * libsasloauth.so; FIXTURES is `make fixtures`' directory; BENCH_DIR holds
 * sasldb (user alice, password in BENCH_PASSWORD below) and
 * tokens-{rs256,ps256,es256,es384,eddsa}.txt (one distinct valid JWT a line, for
 * "cold").
 *
 * Commands (each is one process: one sasl_server_init + sasl_client_init):
 *   run [--secs S] [--cold K] [--only TEXT]  one run of every scenario (or of those whose
 *                              name holds TEXT), 1 and 2 threads; cold: K handshakes per
 *                              thread (ES384: K / 4, at least 20); prints
 *                              "R <scenario>|<threads>|<handshakes>|<wall s>|<s in server
 *                              calls, summed over threads>|<thread CPU s, summed>"
 *   mem [--conns N]            heap bytes per open server connection (mallinfo2)
 *   growth [--total N] [--every M]   N warm OAUTHBEARER ES256 handshakes, heap and RSS every M
 *   profile SCENARIO N         N handshakes of one scenario in profile_loop() (for callgrind)
 *   perconn [--secs S] [--rounds K]  a server whose options come only through each
 *                              connection's own GETOPT (as some applications give them),
 *                              with IP strings on both sides (so OAUTHBEARER sends host and
 *                              port): ANONYMOUS and OAUTHBEARER ES256 warm, alternated K
 *                              times, one thread; prints "C <scenario>|<round>|<handshakes>|
 *                              <wall s>|<thread CPU s>" and "Q <median CPU ratio>|<median
 *                              wall ratio>" (OAUTHBEARER / ANONYMOUS)
 *   list                       the scenario names
 *
 * Every handshake must end with SASL_OK on the server: anything else aborts
 * the program, so no figure can come from failed logins. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <sasl/sasl.h> /* must come before saslplug.h */
#include <sasl/saslplug.h>

#define SERVICE "imap"
#define SERVER_FQDN "server.example.com"
#define BENCH_USER "alice"
#define BENCH_PASSWORD "bench-password"
#define CB(fn) ((sasl_callback_ft)(void (*)(void))(fn))

static const char *plugin_dir, *fixtures, *bench_dir;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sasl_bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) die("out of memory");
    return p;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long n;
    if (!f) die("cannot open %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        die("cannot size %s", path);
    p = xmalloc((size_t)n + 1);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) die("cannot read %s", path);
    fclose(f);
    p[n] = '\0';
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ')) p[--n] = '\0';
    if (len) *len = (size_t)n;
    return p;
}

/* ---------------------------------------------------------------- options */

/* Process-wide options (sasl_server_init's GETOPT): FIXTURES/server.conf and
 * sasldb_path (the sasldb auxprop refuses to load without an existing file). */
#define MAX_OPTS 32
struct opt {
    const char *key, *value;
};
static struct opt global_opts[MAX_OPTS];
static int nglobal;

/* Per-connection options, answered first by the connection's own GETOPT.
 * libsasl2 reads auxprop_plugin through the connection at every lookup.
 * libsasl2 2.1.28 looks the user up in the auxprop plugins after every server
 * canon_user, and ANONYMOUS fails (SASL_NOMECH) when no auxprop plugin answers.
 * So ANONYMOUS and the OAuth mechanisms get "null": an auxprop plugin
 * registered by this program whose lookup returns SASL_OK at once (no lookup
 * at all, as the issue's floor asks); PLAIN gets the sasldb auxprop. */
enum aux { AUX_NONE, AUX_SASLDB, AUX_PERCONN, AUX_ISSUERS };
static struct opt aux_none[] = {{"auxprop_plugin", "null"}, {NULL, NULL}};
/* perconn: server.conf and auxprop_plugin null, per connection only. */
static struct opt conn_opts[MAX_OPTS + 2];
static int nconn_opts, per_conn;
static char sasldb_path[4096];
/* Two issuers (the fixture's and issuer B, each with its own key file) and
 * two claim rules the fixture tokens meet: what a server of several
 * providers runs with, against the single issuer of server.conf. */
static char issuers[4200], issuer_files[8400];
static struct opt aux_issuers[] = {
    {"auxprop_plugin", "null"},
    {"oauth_issuer", issuers},
    {"oauth_jwks_file", issuer_files},
    {"oauth_required_claims", "client_id=sasl-oauth-testkit aud=sasl-oauth-test"},
    {NULL, NULL},
};
static struct opt aux_sasldb[] = {
    {"pwcheck_method", "auxprop"},
    {"auxprop_plugin", "sasldb"},
    {"sasldb_path", sasldb_path},
    {NULL, NULL},
};

static void add_global(const char *key, const char *value)
{
    if (per_conn && strcmp(key, "sasldb_path") != 0) {
        if (nconn_opts == MAX_OPTS) die("too many options");
        conn_opts[nconn_opts].key = strdup(key);
        conn_opts[nconn_opts++].value = strdup(value);
        return;
    }
    if (nglobal == MAX_OPTS) die("too many options");
    global_opts[nglobal].key = strdup(key);
    global_opts[nglobal].value = strdup(value);
    nglobal++;
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t') s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) *--e = 0;
    return s;
}

static const char *lookup(const struct opt *t, int n, const char *key);
static void set_global(const char *key, const char *value);
static int two_issuers(void);

static void load_conf(void)
{
    char path[4096], line[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/server.conf", fixtures);
    if (!(f = fopen(path, "r"))) die("cannot open %s", path);
    while (fgets(line, sizeof line, f)) {
        char *k = trim(line), *colon;
        if (!*k || *k == '#') continue;
        if (!(colon = strchr(k, ':'))) die("bad line in %s", path);
        *colon = 0;
        add_global(trim(k), trim(colon + 1));
    }
    fclose(f);
    /* BENCH_CACHE_TTL: oauth_cache_ttl for the whole process. The plugin
     * builds its runtime from the global options at init and uses it for
     * every connection, so the cache is switched off here, not per connection. */
    if (getenv("BENCH_CACHE_TTL")) add_global("oauth_cache_ttl", getenv("BENCH_CACHE_TTL"));
    snprintf(sasldb_path, sizeof sasldb_path, "%s/sasldb", bench_dir);
    add_global("sasldb_path", sasldb_path);
    if (per_conn) add_global("auxprop_plugin", "null");
    snprintf(issuers, sizeof issuers, "%s https://issuer-b.example.test",
             lookup(per_conn ? conn_opts : global_opts, per_conn ? nconn_opts : nglobal, "oauth_issuer"));
    snprintf(issuer_files, sizeof issuer_files, "%s %s/jwks-b.json",
             lookup(per_conn ? conn_opts : global_opts, per_conn ? nconn_opts : nglobal, "oauth_jwks_file"),
             fixtures);
    /* BENCH_TWO_ISSUERS: the two issuers and claim rules for the whole
     * process, for the same reason as BENCH_CACHE_TTL: options a connection
     * gives are not read when init had options of its own. */
    if (two_issuers()) {
        for (const struct opt *o = aux_issuers; o->key; o++) set_global(o->key, o->value);
    }
}

/* add_global, or the new value of a key already there (the first one counts). */
static void set_global(const char *key, const char *value)
{
    for (int i = 0; i < nglobal; i++) {
        if (strcmp(global_opts[i].key, key) == 0) {
            global_opts[i].value = strdup(value);
            return;
        }
    }
    add_global(key, value);
}

static int two_issuers(void)
{
    return getenv("BENCH_TWO_ISSUERS") != NULL;
}

static const char *lookup(const struct opt *t, int n, const char *key)
{
    for (int i = 0; n < 0 ? t[i].key != NULL : i < n; i++)
        if (strcmp(t[i].key, key) == 0) return t[i].value;
    return NULL;
}

/* ctx: NULL for the process-wide callback, else a per-connection table. */
static int cb_getopt(void *ctx, const char *plugin_name, const char *option, const char **result,
                     unsigned *len)
{
    const char *v = NULL;
    (void)plugin_name;
    if (!option || !result) return SASL_BADPARAM;
    if (ctx) v = lookup(ctx, -1, option);
    if (!v) v = lookup(global_opts, nglobal, option);
    if (!v) return SASL_FAIL;
    *result = v;
    if (len) *len = (unsigned)strlen(v);
    return SASL_OK;
}

static int cb_getpath(void *ctx, const char **path)
{
    (void)ctx;
    *path = plugin_dir;
    return SASL_OK;
}

/* Errors and warnings only: a benchmark that logs is measuring stderr. */
static int cb_log(void *ctx, int level, const char *message)
{
    (void)ctx;
    if (level <= (getenv("BENCH_LOG") ? 7 : SASL_LOG_WARN)) fprintf(stderr, "sasl log [%d]: %s\n", level, message);
    return SASL_OK;
}

static sasl_callback_t server_global_cbs[] = {
    {SASL_CB_GETPATH, CB(cb_getpath), NULL},
    {SASL_CB_LOG, CB(cb_log), NULL},
    {SASL_CB_GETOPT, CB(cb_getopt), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};
static sasl_callback_t client_global_cbs[] = {
    {SASL_CB_GETPATH, CB(cb_getpath), NULL},
    {SASL_CB_LOG, CB(cb_log), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};
static sasl_callback_t conn_cbs_none[] = {
    {SASL_CB_GETOPT, CB(cb_getopt), aux_none},
    {SASL_CB_LIST_END, NULL, NULL},
};
static sasl_callback_t conn_cbs_perconn[] = {
    {SASL_CB_GETOPT, CB(cb_getopt), conn_opts},
    {SASL_CB_LIST_END, NULL, NULL},
};
static sasl_callback_t conn_cbs_issuers[] = {
    {SASL_CB_GETOPT, CB(cb_getopt), aux_issuers},
    {SASL_CB_LIST_END, NULL, NULL},
};
static sasl_callback_t conn_cbs_sasldb[] = {
    {SASL_CB_GETOPT, CB(cb_getopt), aux_sasldb},
    {SASL_CB_LIST_END, NULL, NULL},
};

/* ------------------------------------------------------------ scenarios */

enum mode { MODE_NONE, MODE_WARM, MODE_COLD };
enum { A_RS256, A_PS256, A_ES256, A_ES384, A_EDDSA, NALGS };
static const char *const alg_names[NALGS] = {"RS256", "PS256", "ES256", "ES384", "EdDSA"};
static const char *const alg_files[NALGS] = {"rs256", "ps256", "es256", "es384", "eddsa"};
/* Cold handshakes per thread and scenario: --cold K divided by this. An
 * ES384 verification takes 3 to 4 x ES256's (~170 us with aws-lc-rs), so its
 * cases get a quarter of the handshakes and last about as long as the others'. */
static const int alg_cold_div[NALGS] = {1, 1, 1, 4, 1};
/* XOAUTH2 differs from OAUTHBEARER only in its message: three algorithms
 * keep the run short. */
static const int alg_xoauth2[NALGS] = {1, 0, 1, 0, 1};

struct scenario {
    char name[64];
    const char *mech;
    int alg; /* -1: no token */
    enum mode mode;
    enum aux aux;
};

#define MAX_SCEN 32
static struct scenario scen[MAX_SCEN];
static int nscen;

static void add_scen(const char *mech, int alg, enum mode mode, enum aux aux, const char *name)
{
    struct scenario *s;
    if (nscen == MAX_SCEN) die("more than MAX_SCEN (%d) scenarios", MAX_SCEN);
    s = &scen[nscen++];
    s->mech = mech;
    s->alg = alg;
    s->mode = mode;
    s->aux = aux;
    snprintf(s->name, sizeof s->name, "%s", name);
}

#define CPU_LOOP "reference: CPU loop, no SASL"

static void build_scenarios(void)
{
    static const char *const mechs[] = {"OAUTHBEARER", "XOAUTH2"};
    char name[64];
    /* What two threads can get on this machine right now: a loop that touches
     * no shared memory (its "handshakes" are blocks of 100,000 iterations). */
    add_scen(NULL, -1, MODE_NONE, AUX_NONE, CPU_LOOP);
    add_scen("ANONYMOUS", -1, MODE_NONE, AUX_NONE, "ANONYMOUS");
    add_scen("PLAIN", -1, MODE_NONE, AUX_SASLDB, "PLAIN sasldb");
    for (int m = 0; m < 2; m++)
        for (int mode = MODE_WARM; mode <= MODE_COLD; mode++)
            for (int a = 0; a < NALGS; a++) {
                if (strcmp(mechs[m], "XOAUTH2") == 0 && !alg_xoauth2[a]) continue;
                snprintf(name, sizeof name, "%s %s %s", mechs[m], alg_names[a],
                         mode == MODE_WARM ? "warm" : "cold");
                add_scen(mechs[m], a, mode, AUX_NONE, name);
            }
    /* A server that offers PLAIN with sasldb and OAUTHBEARER: libsasl2 then
     * looks the token's user up in sasldb too (canon_user -> auxprop). */
    add_scen("OAUTHBEARER", A_ES256, MODE_WARM, AUX_SASLDB, "OAUTHBEARER ES256 warm +sasldb");
    add_scen("OAUTHBEARER", A_ES256, MODE_WARM, AUX_ISSUERS, "OAUTHBEARER ES256 warm two issuers");
    add_scen("OAUTHBEARER", A_ES256, MODE_COLD, AUX_ISSUERS, "OAUTHBEARER ES256 cold two issuers");
    /* perconn's pair: every option through the connection's own GETOPT. */
    add_scen("ANONYMOUS", -1, MODE_NONE, AUX_PERCONN, "ANONYMOUS per-connection options");
    add_scen("OAUTHBEARER", A_ES256, MODE_WARM, AUX_PERCONN,
             "OAUTHBEARER ES256 warm per-connection options");
}

static struct scenario *find_scen(const char *name)
{
    for (int i = 0; i < nscen; i++)
        if (strcmp(scen[i].name, name) == 0) return &scen[i];
    die("no scenario '%s' (see: list)", name);
}

/* ---------------------------------------------------------------- secrets */

static sasl_secret_t *make_secret(const char *s, size_t n)
{
    sasl_secret_t *p = xmalloc(sizeof(sasl_secret_t) + n + 1);
    p->len = n;
    memcpy(p->data, s, n);
    p->data[n] = 0;
    return p;
}

static sasl_secret_t *password;
static sasl_secret_t *warm_token[NALGS];
static sasl_secret_t **cold_tokens[NALGS];
static size_t ncold[NALGS], cold_next[NALGS];

static void load_tokens(int want_cold)
{
    char path[4096];
    password = make_secret(BENCH_PASSWORD, strlen(BENCH_PASSWORD));
    for (int a = 0; a < NALGS; a++) {
        size_t len;
        char *t;
        snprintf(path, sizeof path, "%s/tokens/%s.jwt", fixtures, alg_files[a]);
        t = slurp(path, &len);
        warm_token[a] = make_secret(t, len);
        free(t);
        if (!want_cold) continue;
        snprintf(path, sizeof path, "%s/tokens-%s.txt", bench_dir, alg_files[a]);
        t = slurp(path, &len);
        size_t cap = 1024, n = 0;
        cold_tokens[a] = xmalloc(cap * sizeof *cold_tokens[a]);
        for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
            size_t l = strlen(line);
            if (!l) continue;
            if (n == cap) {
                cap *= 2;
                cold_tokens[a] = realloc(cold_tokens[a], cap * sizeof *cold_tokens[a]);
                if (!cold_tokens[a]) die("out of memory");
            }
            cold_tokens[a][n++] = make_secret(line, l);
        }
        ncold[a] = n;
        free(t);
    }
}

/* ---------------------------------------------------------------- client */

/* One per thread: the credentials its client connections answer with. */
struct client {
    const char *authid;
    const sasl_secret_t *secret;
    sasl_callback_t cbs[4];
};

static int cb_simple(void *ctx, int id, const char **result, unsigned *len)
{
    struct client *c = ctx;
    /* SASL_CB_USER: empty = no authzid. Present so that libsasl2 does not
     * format an "Unable to find a callback" error on every client start. */
    const char *v = id == SASL_CB_AUTHNAME ? c->authid : "";
    if (!result) return SASL_BADPARAM;
    *result = v;
    if (len) *len = (unsigned)strlen(v);
    return SASL_OK;
}

static int cb_pass(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **psecret)
{
    struct client *c = ctx;
    (void)conn;
    if (id != SASL_CB_PASS || !psecret) return SASL_BADPARAM;
    *psecret = (sasl_secret_t *)c->secret;
    return SASL_OK;
}

static void client_init(struct client *c)
{
    c->authid = BENCH_USER;
    c->secret = NULL;
    c->cbs[0] = (sasl_callback_t){SASL_CB_AUTHNAME, CB(cb_simple), c};
    c->cbs[1] = (sasl_callback_t){SASL_CB_USER, CB(cb_simple), c};
    c->cbs[2] = (sasl_callback_t){SASL_CB_PASS, CB(cb_pass), c};
    c->cbs[3] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
}

static sasl_callback_t *server_cbs(enum aux aux)
{
    if (aux == AUX_PERCONN) return conn_cbs_perconn;
    if (aux == AUX_ISSUERS) return conn_cbs_issuers;
    return aux == AUX_SASLDB ? conn_cbs_sasldb : conn_cbs_none;
}

/* perconn: the connection's addresses, as a network server gives them. */
#define SERVER_IP "127.0.0.1;143"
#define CLIENT_IP "127.0.0.1;50143"
static const char *server_local_ip(void) { return per_conn ? SERVER_IP : NULL; }
static const char *server_remote_ip(void) { return per_conn ? CLIENT_IP : NULL; }

static sasl_conn_t *client_new(struct client *c)
{
    sasl_conn_t *cl = NULL;
    int rc = sasl_client_new(SERVICE, SERVER_FQDN, per_conn ? CLIENT_IP : NULL,
                             per_conn ? SERVER_IP : NULL, c->cbs, 0, &cl);
    if (rc != SASL_OK) die("sasl_client_new: %s", sasl_errstring(rc, NULL, NULL));
    return cl;
}

static sasl_conn_t *server_new(enum aux aux)
{
    sasl_conn_t *s = NULL;
    int rc = sasl_server_new(SERVICE, SERVER_FQDN, NULL, server_local_ip(), server_remote_ip(),
                             server_cbs(aux), 0, &s);
    if (rc != SASL_OK) die("sasl_server_new: %s", sasl_errstring(rc, NULL, NULL));
    return s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Adds the time of the server's calls to *server_s when it is not NULL. */
#define SERVER_CALL(call)                                                                          \
    do {                                                                                           \
        double t_ = server_s ? now_s() : 0;                                                        \
        call;                                                                                      \
        if (server_s) *server_s += now_s() - t_;                                                   \
    } while (0)

/* The exchange on two live connections; returns the server's last code. */
static int exchange(sasl_conn_t *cl, sasl_conn_t *sv, const char *mech, double *server_s)
{
    const char *out = NULL, *sout = NULL, *chosen = NULL;
    unsigned outlen = 0, soutlen = 0;
    int rc, crc, rounds = 0;

    crc = sasl_client_start(cl, mech, NULL, &out, &outlen, &chosen);
    if (crc != SASL_OK && crc != SASL_CONTINUE) {
        fprintf(stderr, "client start %s: %s\n", mech, sasl_errdetail(cl));
        return crc;
    }
    SERVER_CALL(rc = sasl_server_start(sv, mech, out, outlen, &sout, &soutlen));
    while (rc == SASL_CONTINUE && ++rounds < 8) {
        crc = sasl_client_step(cl, sout, soutlen, NULL, &out, &outlen);
        if (crc != SASL_OK && crc != SASL_CONTINUE) {
            fprintf(stderr, "client step %s: %s\n", mech, sasl_errdetail(cl));
            return crc;
        }
        SERVER_CALL(rc = sasl_server_step(sv, out, outlen, &sout, &soutlen));
    }
    if (rc != SASL_OK) fprintf(stderr, "server %s: %s\n", mech, sasl_errdetail(sv));
    return rc;
}

/* One complete handshake: new, start, steps, dispose on both sides. */
static void handshake(struct client *c, const struct scenario *s, double *server_s)
{
    sasl_conn_t *cl = client_new(c), *sv = NULL;
    int rc;
    SERVER_CALL(rc = sasl_server_new(SERVICE, SERVER_FQDN, NULL, server_local_ip(),
                                     server_remote_ip(), server_cbs(s->aux), 0, &sv));
    if (rc != SASL_OK) die("sasl_server_new: %s", sasl_errstring(rc, NULL, NULL));
    rc = exchange(cl, sv, s->mech, server_s);
    if (rc != SASL_OK) die("%s: handshake failed: %s", s->name, sasl_errstring(rc, NULL, NULL));
    sasl_dispose(&cl);
    SERVER_CALL(sasl_dispose(&sv));
}

static const sasl_secret_t *secret_for(const struct scenario *s)
{
    if (s->alg < 0) return password;
    return warm_token[s->alg];
}

/* n handshakes; cold: tokens[0..n) one each. noinline: callgrind's
 * --toggle-collect names this function. */
static void cpu_loop(long n)
{
    volatile unsigned long x = 0;
    for (long i = 0; i < n; i++)
        for (unsigned long j = 0; j < 100000; j++) x += j * j;
}

__attribute__((noinline)) void profile_loop(struct client *c, const struct scenario *s, long n,
                                            sasl_secret_t *const *tokens, double *server_s)
{
    if (!s->mech) {
        cpu_loop(n);
        return;
    }
    for (long i = 0; i < n; i++) {
        if (tokens) c->secret = tokens[i];
        handshake(c, s, server_s);
    }
}

/* Identity check once per scenario: the server says who logged in. */
static void check_identity(const struct scenario *s)
{
    struct client c;
    sasl_conn_t *cl = NULL, *sv;
    const char *user = NULL;
    client_init(&c);
    c.secret = secret_for(s);
    cl = client_new(&c);
    sv = server_new(s->aux);
    if (exchange(cl, sv, s->mech, NULL) != SASL_OK) die("%s: identity check handshake failed", s->name);
    if (sasl_getprop(sv, SASL_USERNAME, (const void **)&user) != SASL_OK || !user ||
        strncmp(user, s->alg < 0 && strcmp(s->mech, "ANONYMOUS") == 0 ? "anonymous" : BENCH_USER,
                5) != 0)
        die("%s: unexpected SASL_USERNAME %s", s->name, user ? user : "(null)");
    sasl_dispose(&cl);
    sasl_dispose(&sv);
}

/* ---------------------------------------------------------------- threads */

struct job {
    pthread_t tid;
    pthread_barrier_t *start;
    const struct scenario *s;
    long n;
    sasl_secret_t *const *tokens; /* cold: n tokens of its own */
    double t0, t1, server_s;      /* its own start and end; time in server calls */
    double cpu_s;                 /* its own CPU time (CLOCK_THREAD_CPUTIME_ID) */
};

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    struct client c;
    client_init(&c);
    c.secret = secret_for(j->s);
    pthread_barrier_wait(j->start);
    j->cpu_s = thread_cpu_s();
    j->t0 = now_s();
    profile_loop(&c, j->s, j->n, j->tokens, &j->server_s);
    j->t1 = now_s();
    j->cpu_s = thread_cpu_s() - j->cpu_s;
    return NULL;
}

/* n handshakes in each of `threads` threads. Returns the wall time from the
 * first thread's start to the last one's end (each thread reads the clock
 * itself: the main thread may not run at once when the barrier opens), and
 * the seconds spent in server calls, summed over the threads. */
static double timed(const struct scenario *s, int threads, long n, double *server_s,
                    double *cpu_s)
{
    struct job jobs[2];
    pthread_barrier_t start;
    double t0 = 0, t1 = 0;
    if (threads < 1 || threads > 2) die("threads");
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].start = &start;
        jobs[t].s = s;
        jobs[t].n = n;
        if (s->mode == MODE_COLD) {
            size_t a = (size_t)s->alg;
            if (cold_next[a] + (size_t)n > ncold[a]) die("%s: out of cold tokens", s->name);
            jobs[t].tokens = cold_tokens[a] + cold_next[a];
            cold_next[a] += (size_t)n;
        }
    }
    for (int t = 0; t < threads; t++)
        if (pthread_create(&jobs[t].tid, NULL, worker, &jobs[t]) != 0) die("pthread_create");
    if (server_s) *server_s = 0;
    if (cpu_s) *cpu_s = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(jobs[t].tid, NULL);
        if (t == 0 || jobs[t].t0 < t0) t0 = jobs[t].t0;
        if (t == 0 || jobs[t].t1 > t1) t1 = jobs[t].t1;
        if (server_s) *server_s += jobs[t].server_s;
        if (cpu_s) *cpu_s += jobs[t].cpu_s;
    }
    pthread_barrier_destroy(&start);
    return t1 - t0;
}

/* The "null" auxprop plugin: answers every lookup with nothing, at once. */
static int null_lookup(void *glob, sasl_server_params_t *sparams, unsigned flags,
                       const char *user, unsigned ulen)
{
    (void)glob, (void)sparams, (void)flags, (void)user, (void)ulen;
    return SASL_OK;
}

static sasl_auxprop_plug_t null_auxprop = {
    .auxprop_lookup = null_lookup,
    .name = "null",
};

static int null_auxprop_init(const sasl_utils_t *utils, int max_version, int *out_version,
                             sasl_auxprop_plug_t **plug, const char *plugname)
{
    (void)utils, (void)plugname;
    if (max_version < SASL_AUXPROP_PLUG_VERSION) return SASL_BADVERS;
    *out_version = SASL_AUXPROP_PLUG_VERSION;
    *plug = &null_auxprop;
    return SASL_OK;
}

static void init_sasl(void)
{
    int rc = sasl_server_init(server_global_cbs, NULL); /* NULL: no config file */
    if (rc != SASL_OK) die("sasl_server_init: %s", sasl_errstring(rc, NULL, NULL));
    rc = sasl_auxprop_add_plugin("null", null_auxprop_init);
    if (rc != SASL_OK) die("sasl_auxprop_add_plugin: %s", sasl_errstring(rc, NULL, NULL));
    rc = sasl_client_init(client_global_cbs);
    if (rc != SASL_OK) die("sasl_client_init: %s", sasl_errstring(rc, NULL, NULL));
}

/* ---------------------------------------------------------------- commands */

/* With --only: the scenarios whose name holds it. With the cache off
 * (BENCH_CACHE_TTL=0) they are reported as "... cold cache off" (distinct
 * tokens: nothing found, nothing inserted) and "... same token cache off"
 * (one token again and again: a full validation each time, warm CPU caches). */
static const char *only;

static int selected(const struct scenario *s)
{
    /* The two-issuer rows only in a process configured for them. */
    if ((s->aux == AUX_ISSUERS) != two_issuers()) return 0;
    return !only || strstr(s->name, only) != NULL;
}

static const char *reported_name(const struct scenario *s)
{
    static char buf[96];
    const char *ttl = getenv("BENCH_CACHE_TTL");
    size_t n = strlen(s->name);
    if (!ttl || strcmp(ttl, "0") != 0 || !s->mech || s->alg < 0) return s->name;
    if (s->mode == MODE_COLD) {
        snprintf(buf, sizeof buf, "%s cache off", s->name);
    } else {
        if (n < 5 || strcmp(s->name + n - 5, " warm") != 0) return s->name;
        snprintf(buf, sizeof buf, "%.*s same token cache off", (int)(n - 5), s->name);
    }
    return buf;
}

/* Cold handshakes per thread of algorithm a's scenarios for --cold K: K
 * divided by alg_cold_div, but never fewer than 20 (or K). scripts/bench.sh
 * mints as many. */
static long cold_for(int a, long k)
{
    long n = k / alg_cold_div[a], least = k < 20 ? k : 20;
    return n < least ? least : n;
}

static void cmd_run(double secs, long cold_k)
{
    long cold_n[NALGS];
    /* Every cold scenario (1+2 threads) needs its own tokens. */
    for (int a = 0; a < NALGS; a++) {
        long slices = 0;
        for (int i = 0; i < nscen; i++)
            if (scen[i].mode == MODE_COLD && scen[i].alg == a && scen[i].aux != AUX_PERCONN &&
                selected(&scen[i]))
                slices += 3;
        cold_n[a] = cold_for(a, cold_k);
        if (!slices) continue;
        if (cold_n[a] > (long)ncold[a] / slices) cold_n[a] = (long)ncold[a] / slices;
        if (cold_n[a] < 20)
            die("too few %s cold tokens (%ld per scenario)", alg_names[a], cold_n[a]);
    }
    for (int i = 0; i < nscen; i++) {
        const struct scenario *s = &scen[i];
        long n;
        if (s->aux == AUX_PERCONN) continue; /* perconn's, in a process of their own */
        if (!selected(s)) continue;
        if (s->mode == MODE_COLD) {
            n = cold_n[s->alg];
        } else {
            /* Warm-up (fills the cache for "warm") and calibration. */
            double t;
            if (s->mech) check_identity(s);
            t = timed(s, 1, 300, NULL, NULL) / 300;
            n = (long)(secs / t);
            if (n < 1000) n = 1000;
        }
        for (int threads = 1; threads <= 2; threads++) {
            double server_s, cpu_s, t = timed(s, threads, n, &server_s, &cpu_s);
            printf("R %s|%d|%ld|%.6f|%.6f|%.6f\n", reported_name(s), threads, n * threads, t, server_s,
                   cpu_s);
            fflush(stdout);
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *xs, int n)
{
    qsort(xs, (size_t)n, sizeof *xs, cmp_double);
    return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

/* The two per-connection scenarios, alternated so that both see the same
 * machine load; the ratios are of per-handshake times within each round. */
static void cmd_perconn(double secs, int rounds)
{
    const struct scenario *anon = find_scen("ANONYMOUS per-connection options");
    const struct scenario *oauth = find_scen("OAUTHBEARER ES256 warm per-connection options");
    const struct scenario *pair[2] = {anon, oauth};
    double cpu_ratio[64], wall_ratio[64];
    long n[2];
    if (rounds < 1 || rounds > 64) die("--rounds: 1 to 64");
    for (int k = 0; k < 2; k++) { /* identity check, warm-up, calibration */
        check_identity(pair[k]);
        n[k] = (long)(secs / (timed(pair[k], 1, 300, NULL, NULL) / 300));
        if (n[k] < 1000) n[k] = 1000;
    }
    for (int r = 0; r < rounds; r++) {
        double wall[2], cpu[2];
        for (int k = 0; k < 2; k++) {
            wall[k] = timed(pair[k], 1, n[k], NULL, &cpu[k]);
            printf("C %s|%d|%ld|%.6f|%.6f\n", pair[k]->name, r + 1, n[k], wall[k], cpu[k]);
        }
        cpu_ratio[r] = (cpu[1] / (double)n[1]) / (cpu[0] / (double)n[0]);
        wall_ratio[r] = (wall[1] / (double)n[1]) / (wall[0] / (double)n[0]);
    }
    printf("Q %.3f|%.3f\n", median(cpu_ratio, rounds), median(wall_ratio, rounds));
}

static size_t heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

enum mem_state { ST_AWAIT, ST_CHALLENGE, ST_DONE };

/* Heap bytes per server connection held open in `state`, for n connections. */
static double mem_per_conn(const struct scenario *s, enum mem_state st, int n, double *leak)
{
    sasl_conn_t **conns = xmalloc((size_t)n * sizeof *conns);
    struct client c;
    char msg[8192];
    size_t before, during, after;
    client_init(&c);
    c.secret = secret_for(s);

    /* The expired fixture token: refused, so the server sends its error challenge. */
    if (st == ST_CHALLENGE) {
        char path[4096], *t;
        snprintf(path, sizeof path, "%s/tokens/expired.jwt", fixtures);
        t = slurp(path, NULL);
        if (strcmp(s->mech, "OAUTHBEARER") == 0)
            snprintf(msg, sizeof msg, "n,,\001auth=Bearer %s\001\001", t);
        else
            snprintf(msg, sizeof msg, "user=%s\001auth=Bearer %s\001\001", BENCH_USER, t);
        free(t);
    }
    malloc_trim(0);
    before = heap_in_use();
    for (int i = 0; i < n; i++) {
        const char *out;
        unsigned outlen;
        int rc;
        conns[i] = server_new(s->aux);
        switch (st) {
        case ST_AWAIT: /* the mechanism is started, the client's message awaited */
            rc = sasl_server_start(conns[i], s->mech, NULL, 0, &out, &outlen);
            if (rc != SASL_CONTINUE) die("%s: start: %d", s->name, rc);
            break;
        case ST_CHALLENGE:
            rc = sasl_server_start(conns[i], s->mech, msg, (unsigned)strlen(msg), &out, &outlen);
            if (rc != SASL_CONTINUE || outlen == 0) die("%s: expected a challenge", s->name);
            break;
        case ST_DONE: { /* authenticated: what a server keeps for a session */
            sasl_conn_t *cl = NULL;
            if (sasl_client_new(SERVICE, SERVER_FQDN, NULL, NULL, c.cbs, 0, &cl) != SASL_OK)
                die("sasl_client_new");
            if (exchange(cl, conns[i], s->mech, NULL) != SASL_OK) die("%s: handshake", s->name);
            sasl_dispose(&cl);
            break;
        }
        }
    }
    during = heap_in_use();
    for (int i = 0; i < n; i++) sasl_dispose(&conns[i]);
    after = heap_in_use();
    free(conns);
    *leak = ((double)after - (double)before) / n;
    return ((double)during - (double)before) / n;
}

static void cmd_mem(int n)
{
    static const char *const names[] = {"ANONYMOUS", "PLAIN sasldb", "OAUTHBEARER ES256 warm",
                                        "XOAUTH2 ES256 warm"};
    static const char *const states[] = {"awaiting client message", "error challenge sent",
                                         "authenticated"};
    /* Warm up every path once so that lazily built globals are not counted. */
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        double leak;
        const struct scenario *s = find_scen(names[i]);
        check_identity(s);
        mem_per_conn(s, ST_AWAIT, 10, &leak);
        mem_per_conn(s, ST_DONE, 10, &leak);
        if (s->alg >= 0) mem_per_conn(s, ST_CHALLENGE, 10, &leak);
    }
    for (int st = ST_AWAIT; st <= ST_DONE; st++)
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            const struct scenario *s = find_scen(names[i]);
            double leak, per;
            if (st == ST_CHALLENGE && s->alg < 0) continue;
            per = mem_per_conn(s, (enum mem_state)st, n, &leak);
            printf("M %s|%s|%d|%.1f|%.1f\n", s->mech, states[st], n, per, leak);
        }
}

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void cmd_growth(long total, long every)
{
    const struct scenario *s = find_scen("OAUTHBEARER ES256 warm");
    struct client c;
    double t0 = now_s();
    client_init(&c);
    c.secret = secret_for(s);
    check_identity(s);
    printf("G 0|%zu|%ld|0.0\n", heap_in_use(), rss_kib());
    for (long done = 0; done < total;) {
        long n = every < total - done ? every : total - done;
        profile_loop(&c, s, n, NULL, NULL);
        done += n;
        printf("G %ld|%zu|%ld|%.1f\n", done, heap_in_use(), rss_kib(), now_s() - t0);
        fflush(stdout);
    }
}

/* One Redis round trip alone (PING over loopback, one connection), the
 * baseline of the shared-cache rows: printed as a row like the others. */
static void cmd_redis_ping(int port, long n)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    char buf[64];
    double t0;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("cannot connect to redis on port %d", port);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (int pass = 0; pass < 2; pass++) { /* a warm-up pass, then the timed one */
        t0 = now_s();
        for (long i = 0; i < n; i++) {
            ssize_t got = 0, r;
            if (write(fd, "*1\r\n$4\r\nPING\r\n", 14) != 14) die("redis: write failed");
            while (got < 7) {
                r = read(fd, buf + got, sizeof buf - (size_t)got);
                if (r <= 0) die("redis: read failed");
                got += r;
            }
            if (memcmp(buf, "+PONG\r\n", 7) != 0) die("redis: unexpected reply");
        }
    }
    printf("R redis PING round trip|1|%ld|%.6f|0|0\n", n, now_s() - t0);
    close(fd);
}

static void usage(void)
{
    fprintf(stderr, "usage: sasl_bench PLUGIN_DIR FIXTURES BENCH_DIR run [--secs S] [--cold K]\n"
                    "       sasl_bench PLUGIN_DIR FIXTURES BENCH_DIR mem [--conns N]\n"
                    "       sasl_bench PLUGIN_DIR FIXTURES BENCH_DIR growth [--total N] [--every M]\n"
                    "       sasl_bench PLUGIN_DIR FIXTURES BENCH_DIR profile SCENARIO N\n"
                    "       sasl_bench PLUGIN_DIR FIXTURES BENCH_DIR perconn [--secs S] [--rounds K]\n"
                    "       sasl_bench PLUGIN_DIR FIXTURES BENCH_DIR list\n"
                    "       sasl_bench PLUGIN_DIR FIXTURES BENCH_DIR redis-ping PORT N\n");
    exit(2);
}

static const char *flag(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 5; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

int main(int argc, char **argv)
{
    const char *cmd;
    if (argc < 5) usage();
    plugin_dir = argv[1];
    fixtures = argv[2];
    bench_dir = argv[3];
    cmd = argv[4];
    setvbuf(stdout, NULL, _IOLBF, 0);
    per_conn = strcmp(cmd, "perconn") == 0 ||
               (strcmp(cmd, "profile") == 0 && argc > 5 && strstr(argv[5], "per-connection"));
    build_scenarios();
    if (strcmp(cmd, "redis-ping") == 0) {
        if (argc < 7) usage();
        cmd_redis_ping(atoi(argv[5]), atol(argv[6]));
        return 0;
    }
    if (strcmp(cmd, "list") == 0) {
        for (int i = 0; i < nscen; i++)
            if (scen[i].mech) printf("%s\n", scen[i].name);
        return 0;
    }
    load_conf();
    load_tokens(strcmp(cmd, "run") == 0 ||
                (strcmp(cmd, "profile") == 0 && argc > 5 && find_scen(argv[5])->mode == MODE_COLD));
    init_sasl();
    if (strcmp(cmd, "run") == 0) {
        only = flag(argc, argv, "--only", NULL);
        cmd_run(atof(flag(argc, argv, "--secs", "0.3")), atol(flag(argc, argv, "--cold", "2000")));
    } else if (strcmp(cmd, "perconn") == 0) {
        cmd_perconn(atof(flag(argc, argv, "--secs", "0.3")), atoi(flag(argc, argv, "--rounds", "7")));
    } else if (strcmp(cmd, "mem") == 0) {
        cmd_mem(atoi(flag(argc, argv, "--conns", "1000")));
    } else if (strcmp(cmd, "growth") == 0) {
        cmd_growth(atol(flag(argc, argv, "--total", "1000000")),
                   atol(flag(argc, argv, "--every", "100000")));
    } else if (strcmp(cmd, "profile") == 0) {
        struct scenario *s;
        struct client c;
        long n;
        if (argc < 7) usage();
        s = find_scen(argv[5]);
        n = atol(argv[6]);
        if (!s->mech) die("not a SASL scenario");
        client_init(&c);
        c.secret = secret_for(s);
        check_identity(s); /* also fills the cache for warm, outside the profile */
        if (s->mode == MODE_COLD && (size_t)n > ncold[s->alg]) die("out of cold tokens");
        profile_loop(&c, s, n, s->mode == MODE_COLD ? cold_tokens[s->alg] : NULL, NULL);
        printf("P %s|%ld\n", s->name, n);
    } else {
        usage();
    }
    sasl_server_done();
    sasl_client_done();
    return 0;
}
