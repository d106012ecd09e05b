/* Many handshakes of every mechanism, success and failure paths, our plugin on
 * both sides of libsasl2: the workload that `make memcheck` runs under valgrind
 * (memcheck.sh). Every result is checked, but only one summary line per case
 * is printed (the first mismatch of a case is shown in full).
 *
 * Usage: stress PLUGIN_DIR FIXTURES [ITERATIONS]   (default 100; ~30 exchanges each)
 *
 * Per iteration:
 *   client<->server: OAUTHBEARER (four algorithms, with and without authzid,
 *     token file), XOAUTH2, OAUTH, OAUTH10A (HMAC-SHA256 and -SHA1), the
 *     SASL_INTERACT path; refusals: expired, bad signature, missing scope,
 *     authzid refused by the proxy policy, OAUTH discovery without a token,
 *     OAUTH10A with a wrong secret;
 *   raw server messages: an OAUTH10A message and its replay, OAUTH discovery
 *     then a token in the same exchange, protocol errors of every mechanism,
 *     connections disposed of in the middle of an exchange;
 *   client only: hostile server challenges, OAUTH10A without a token file.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCAL_IPPORT "127.0.0.1;50143"
#define REMOTE_IPPORT "127.0.0.1;143"

#define CONSUMER_KEY "stress-consumer"
#define CONSUMER_SECRET "stress-consumer-secret"
#define TOKEN_KEY "stress-token"
#define TOKEN_SECRET "stress-token-secret"

static char tmpdir[256], creds_file[512], tf_sha256[512], tf_sha1[512], tf_bad[512],
    tf_bearer[512], conf_file[512];
static char *tok_alg[4], *tok_expired, *tok_badsig, *tok_noscope;
static long handshakes;

/* ------------------------------------------------------------ tallies */

enum { MAXCASES = 64 };
static struct tally {
    const char *name;
    long runs, bad;
} tallies[MAXCASES];
static int ntallies;

/* Records one result of case `name`; the first failure is printed in full. */
static void tally(const char *name, int good, const char *fmt, const char *a, const char *b)
{
    struct tally *t = NULL;
    for (int i = 0; i < ntallies; i++)
        if (strcmp(tallies[i].name, name) == 0) t = &tallies[i];
    if (!t) {
        if (ntallies == MAXCASES) abort();
        t = &tallies[ntallies++];
        t->name = strdup(name);
    }
    t->runs++;
    if (!good) {
        if (t->bad++ == 0) {
            printf("# first failure of \"%s\": ", name);
            printf(fmt, a ? a : "", b ? b : "");
            printf("\n");
        }
    }
}

/* ------------------------------------------------------------ files */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        t_check(0, "stress files are written", "cannot write %s", path);
        exit(t_summary());
    }
    chmod(path, 0600);
}

static void cleanup(void)
{
    const char *files[] = {creds_file, tf_sha256, tf_sha1, tf_bad, tf_bearer, conf_file};
    if (!tmpdir[0]) return;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (files[i][0]) unlink(files[i]);
    rmdir(tmpdir);
}

static void make_files(void)
{
    char text[8192];
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/stress.XXXXXX", t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        t_check(0, "a private directory is made", "mkdtemp %s", tmpdir);
        exit(t_summary());
    }
    atexit(cleanup);
    snprintf(creds_file, sizeof creds_file, "%s/oauth10a.json", tmpdir);
    write_file(creds_file,
               "{\"consumers\": {\"" CONSUMER_KEY "\": {\"secret\": \"" CONSUMER_SECRET "\"}},\n"
               " \"tokens\": {\"" TOKEN_KEY "\": {\"secret\": \"" TOKEN_SECRET
               "\", \"user\": \"alice\", \"consumer\": \"" CONSUMER_KEY "\"}}}\n");
#define O1FILE(var, name, secret, method)                                                          \
    snprintf(var, sizeof var, "%s/" name, tmpdir);                                                 \
    snprintf(text, sizeof text,                                                                    \
             "{\"oauth_consumer_key\": \"" CONSUMER_KEY "\", \"oauth_consumer_secret\": \"" CONSUMER_SECRET \
             "\", \"oauth_token\": \"" TOKEN_KEY "\", \"oauth_token_secret\": \"%s\"%s}\n",        \
             secret, method);                                                                      \
    write_file(var, text)
    O1FILE(tf_sha256, "o1-sha256.json", TOKEN_SECRET, "");
    O1FILE(tf_sha1, "o1-sha1.json", TOKEN_SECRET, ", \"oauth_signature_method\": \"HMAC-SHA1\"");
    O1FILE(tf_bad, "o1-bad.json", "not-the-token-secret", "");
    /* A bearer token file far from expiry: read, never refreshed. */
    snprintf(tf_bearer, sizeof tf_bearer, "%s/bearer.json", tmpdir);
    snprintf(text, sizeof text, "{\"access_token\": \"%s\", \"expires_at\": %ld}\n", tok_alg[0],
             (long)time(NULL) + 3000);
    write_file(tf_bearer, text);
    snprintf(conf_file, sizeof conf_file, "%s/sasl-oauth.conf", tmpdir);
    write_file(conf_file, "# defaults, and every client mechanism\nmechanisms: OAUTHBEARER XOAUTH2 OAUTH10A OAUTH\n");
    setenv("SASL_OAUTH_CONF", conf_file, 1);
}

/* ------------------------------------------------------------ client */

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

/* callbacks 0: callbacks without procs (the SASL_INTERACT path). */
static sasl_conn_t *client_new(struct creds *c, int callbacks)
{
    sasl_conn_t *conn = NULL;
    size_t tl = strlen(c->token);
    int n = 0, rc;

    c->secret = malloc(sizeof(sasl_secret_t) + tl);
    if (!c->secret) abort();
    c->secret->len = tl;
    memcpy(c->secret->data, c->token, tl + 1);
    if (callbacks) {
        c->cbs[n++] = (sasl_callback_t){SASL_CB_AUTHNAME, CB(cb_simple), c};
        if (c->authzid) c->cbs[n++] = (sasl_callback_t){SASL_CB_USER, CB(cb_simple), c};
        c->cbs[n++] = (sasl_callback_t){SASL_CB_PASS, CB(cb_pass), c};
    } else { /* listed without procs: libsasl2 answers SASL_INTERACT (imtest, ldapwhoami) */
        c->cbs[n++] = (sasl_callback_t){SASL_CB_USER, NULL, NULL};
        c->cbs[n++] = (sasl_callback_t){SASL_CB_AUTHNAME, NULL, NULL};
        c->cbs[n++] = (sasl_callback_t){SASL_CB_PASS, NULL, NULL};
    }
    c->cbs[n] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    rc = sasl_client_new(SERVICE, SERVER_FQDN, LOCAL_IPPORT, REMOTE_IPPORT, c->cbs, 0, &conn);
    if (rc != SASL_OK) {
        t_check(0, "sasl_client_new", "%s", t_rcname(rc));
        exit(t_summary());
    }
    return conn;
}

/* Fills libsasl2's prompts the way imtest and ldapwhoami do. */
static void interact(sasl_interact_t *p, void *ctx)
{
    struct creds *c = ctx;
    for (; p && p->id != SASL_CB_LIST_END; p++) {
        const char *v = p->id == SASL_CB_AUTHNAME ? c->authid
                        : p->id == SASL_CB_USER   ? (c->authzid ? c->authzid : "")
                        : p->id == SASL_CB_PASS   ? c->token
                                                  : "";
        p->result = v;
        p->len = (unsigned)strlen(v);
    }
}

static const sasl_callback_t proxy_none[] = {{SASL_CB_LIST_END, NULL, NULL}};

/* One exchange through both plugins. want_user NULL: a refusal (SASL_BADAUTH). */
static void exchange(const char *name, const char *mech, const char *authid, const char *authzid,
                     const char *secret, int callbacks, const char *want_user)
{
    struct creds cr = {.authid = authid, .authzid = authzid, .token = secret};
    sasl_conn_t *c = client_new(&cr, callbacks), *s = t_server_new(proxy_none);
    struct hs hs;
    const char *user = NULL;

    t_handshake(c, s, mech, callbacks ? NULL : interact, &cr, &hs);
    handshakes++;
    if (want_user) {
        int ok = hs.server_rc == SASL_OK && hs.mech && strcmp(hs.mech, mech) == 0 &&
                 sasl_getprop(s, SASL_USERNAME, (const void **)&user) == SASL_OK && user &&
                 strcmp(user, want_user) == 0;
        tally(name, ok, "server %s, errdetail \"%s\"", t_rcname(hs.server_rc), sasl_errdetail(s));
    } else {
        tally(name, hs.server_rc == SASL_BADAUTH && hs.rounds == 2 && hs.challenge[0],
              "server %s, errdetail \"%s\"", t_rcname(hs.server_rc), sasl_errdetail(s));
    }
    sasl_dispose(&c);
    sasl_dispose(&s);
    t_creds_free(&cr);
}

/* The client's first message for mech, captured. */
static int capture(const char *mech, const char *secret, struct buf *out)
{
    struct creds cr = {.authid = "alice", .token = secret};
    sasl_conn_t *c = client_new(&cr, 1);
    const char *cout = NULL, *chosen = NULL;
    unsigned coutlen = 0;
    int rc = sasl_client_start(c, mech, NULL, &cout, &coutlen, &chosen);
    out->len = 0;
    if (rc == SASL_CONTINUE || rc == SASL_OK) b_add(out, cout ? cout : "", coutlen);
    sasl_dispose(&c);
    t_creds_free(&cr);
    return rc;
}

/* ------------------------------------------------------------ raw server */

/* Server start with msg; if a challenge comes, answer with `next`. Returns the final rc. */
static int raw(const char *mech, const void *msg, size_t len, const void *next, size_t nextlen,
               int *challenged, char *detail, size_t dlen)
{
    sasl_conn_t *s = t_server_new(NULL);
    const char *out = NULL;
    unsigned outlen = 0;
    int rc = sasl_server_start(s, mech, msg, (unsigned)len, &out, &outlen);
    *challenged = 0;
    if (rc == SASL_CONTINUE) {
        *challenged = 1;
        rc = sasl_server_step(s, next, (unsigned)nextlen, &out, &outlen);
    }
    if (detail) snprintf(detail, dlen, "%s", t_detail(s));
    sasl_dispose(&s);
    handshakes++;
    return rc;
}

static void badprot(const char *name, const char *mech, const void *msg, size_t len)
{
    int ch;
    char d[512];
    int rc = raw(mech, msg, len, "", 0, &ch, d, sizeof d);
    tally(name, rc == SASL_BADPROT && !ch && d[0], "got %s (errdetail \"%s\")", t_rcname(rc), d);
}

#define BADPROT(name, mech, lit) badprot(name, mech, lit, sizeof(lit) - 1)

static void raw_cases(int i)
{
    struct buf m = {0}, big = {0};
    char d[512];
    int rc, ch;

    /* OAUTH10A: a real client's message, then the same message again. */
    rc = capture("OAUTH10A", t_name("file:%s", i % 2 ? tf_sha1 : tf_sha256), &m);
    tally("OAUTH10A capture", rc == SASL_CONTINUE && m.len > 0, "client %s%s", t_rcname(rc), "");
    rc = raw("OAUTH10A", m.p, m.len, KV, 1, &ch, d, sizeof d);
    tally("OAUTH10A raw message -> SASL_OK", rc == SASL_OK && !ch, "got %s (%s)", t_rcname(rc), d);
    rc = raw("OAUTH10A", m.p, m.len, KV, 1, &ch, d, sizeof d);
    tally("OAUTH10A replayed message -> challenge, SASL_BADAUTH", rc == SASL_BADAUTH && ch,
          "got %s (%s)", t_rcname(rc), d);

    /* OAUTH: discovery, then a request with a token in the same exchange. */
    {
        sasl_conn_t *s = t_server_new(NULL);
        const char *out = NULL;
        unsigned outlen = 0;
        const char *disc = "GET / HTTP/1.1\r\nHost: " SERVER_FQDN "\r\n\r\n";
        b_free(&m);
        b_str(&m, "GET / HTTP/1.1\r\nUser: alice\r\nHost: " SERVER_FQDN "\r\nAuthorization: Bearer ");
        b_str(&m, tok_alg[i % 4]);
        b_str(&m, "\r\n\r\n");
        rc = sasl_server_start(s, "OAUTH", disc, (unsigned)strlen(disc), &out, &outlen);
        if (rc == SASL_CONTINUE) rc = sasl_server_step(s, m.p, (unsigned)m.len, &out, &outlen);
        tally("OAUTH raw discovery then token -> SASL_OK", rc == SASL_OK, "got %s (%s)", t_rcname(rc),
              sasl_errdetail(s));
        sasl_dispose(&s);
        handshakes++;
    }

    /* A refused token, the connection disposed of before the client answers. */
    {
        sasl_conn_t *s = t_server_new(NULL);
        const char *out = NULL;
        unsigned outlen = 0;
        b_free(&m);
        b_str(&m, "n,,\001auth=Bearer ");
        b_str(&m, tok_expired);
        b_str(&m, KV KV);
        rc = sasl_server_start(s, "OAUTHBEARER", m.p, (unsigned)m.len, &out, &outlen);
        tally("OAUTHBEARER refused, disposed during the challenge", rc == SASL_CONTINUE, "got %s%s",
              t_rcname(rc), "");
        sasl_dispose(&s);
        handshakes++;
    }

    /* Protocol errors of each mechanism. */
    BADPROT("OAUTHBEARER bad = escape -> SASL_BADPROT", "OAUTHBEARER", "n,a=al=ice,\001auth=Bearer x\001\001");
    BADPROT("OAUTHBEARER NUL byte -> SASL_BADPROT", "OAUTHBEARER", "n,,\001auth=Bearer a\0b\001\001");
    BADPROT("OAUTHBEARER p=tls-unique -> SASL_BADPROT", "OAUTHBEARER", "p=tls-unique,,\001auth=Bearer x\001\001");
    BADPROT("OAUTHBEARER duplicate auth -> SASL_BADPROT", "OAUTHBEARER", "n,,\001auth=Bearer x\001auth=Bearer y\001\001");
    BADPROT("OAUTHBEARER no terminator -> SASL_BADPROT", "OAUTHBEARER", "n,,\001auth=Bearer x\001");
    BADPROT("OAUTHBEARER lone \\x01 first -> SASL_BADPROT", "OAUTHBEARER", "\001");
    BADPROT("OAUTHBEARER invalid UTF-8 -> SASL_BADPROT", "OAUTHBEARER", "n,a=\xff\xfe,\001auth=Bearer x\001\001");
    b_str(&big, "n,,\001auth=Bearer ");
    while (big.len < 70 * 1024) b_str(&big, "abcdefghijklmnopqrstuvwxyz0123456789");
    b_str(&big, KV KV);
    badprot("OAUTHBEARER 70 KiB message -> SASL_BADPROT", "OAUTHBEARER", big.p, big.len);
    BADPROT("XOAUTH2 no auth key -> SASL_BADPROT", "XOAUTH2", "user=alice\001\001");
    BADPROT("XOAUTH2 Basic scheme -> SASL_BADPROT", "XOAUTH2", "user=alice\001auth=Basic eA==\001\001");
    BADPROT("OAUTH POST request -> SASL_BADPROT", "OAUTH", "POST / HTTP/1.1\r\nHost: h\r\n\r\n");
    BADPROT("OAUTH no final empty line -> SASL_BADPROT", "OAUTH", "GET / HTTP/1.1\r\nHost: h\r\n");
    BADPROT("OAUTH10A without host and port -> SASL_BADPROT", "OAUTH10A", "n,,\001auth=OAuth oauth_token=\"x\"\001\001");
    b_free(&m);
    b_free(&big);
}

/* ------------------------------------------------------------ client only */

static void client_cases(void)
{
    static const struct {
        const char *mech, *challenge;
    } hostile[] = {
        {"OAUTHBEARER", "{\"status\":\"invalid_token\"}"},
        {"OAUTHBEARER", "{not json"},
        {"OAUTHBEARER", "{\"status\":\"\x1b[31m\",\"scope\":\"\x01\x02\"}"},
        {"OAUTHBEARER", "{\"status\":{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]}}"},
        {"XOAUTH2", "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"mail\"}"},
        {"XOAUTH2", "\xff\xfe garbage"},
        {"OAUTH", "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"imap\", error=\"invalid_token\"\r\n\r\n"},
        {"OAUTH", "HTTP/1.1 999 \x01\r\n\r\n"},
        {"OAUTH", "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Token realm=\"x\", error=\"discovery\", auth_uri=\"https://a\", token_uri=\"https://t\"\r\n\r\n"},
    };
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        struct creds cr = {.authid = "alice", .token = tok_alg[0]};
        sasl_conn_t *c = client_new(&cr, 1);
        const char *cout = NULL, *chosen = NULL;
        unsigned coutlen = 0;
        int rc = sasl_client_start(c, hostile[i].mech, NULL, &cout, &coutlen, &chosen);
        if (rc == SASL_CONTINUE)
            rc = sasl_client_step(c, hostile[i].challenge, (unsigned)strlen(hostile[i].challenge),
                                  NULL, &cout, &coutlen);
        /* an error answer (\x01 / empty) or a client error; never SASL_OK */
        tally(t_name("client: %s hostile challenge", hostile[i].mech), rc != SASL_OK,
              "client %s on challenge \"%s\"", t_rcname(rc), hostile[i].challenge);
        sasl_dispose(&c);
        t_creds_free(&cr);
        handshakes++;
    }
    {
        struct creds cr = {.authid = "alice", .token = "plain-bearer-token"};
        sasl_conn_t *c = client_new(&cr, 1);
        const char *cout = NULL, *chosen = NULL;
        unsigned coutlen = 0;
        int rc = sasl_client_start(c, "OAUTH10A", NULL, &cout, &coutlen, &chosen);
        tally("client: OAUTH10A without a token file is refused", rc != SASL_OK && rc != SASL_CONTINUE,
              "client %s%s", t_rcname(rc), "");
        sasl_dispose(&c);
        t_creds_free(&cr);
    }
    { /* a client disposed of right after its first message */
        struct creds cr = {.authid = "alice", .token = tok_alg[1]};
        sasl_conn_t *c = client_new(&cr, 1);
        const char *cout = NULL, *chosen = NULL;
        unsigned coutlen = 0;
        int rc = sasl_client_start(c, "XOAUTH2", NULL, &cout, &coutlen, &chosen);
        tally("client: disposed after its first message", rc == SASL_CONTINUE, "client %s%s",
              t_rcname(rc), "");
        sasl_dispose(&c);
        t_creds_free(&cr);
    }
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    static const char *const algs[] = {"rs256", "ps256", "es256", "eddsa"};
    long iterations = argc > 3 ? atol(argv[3]) : 100;
    struct timespec t0, t1;

    t_init(argc, argv);
    for (int a = 0; a < 4; a++) tok_alg[a] = t_token(algs[a]);
    tok_expired = t_token("expired");
    tok_badsig = t_token("bad-sig");
    tok_noscope = t_token("no-scope");
    make_files();
    t_opt_set("oauth10a_credentials_file", creds_file);
    t_opt_set("oauth_authorization_endpoint", "https://issuer.example.test/oauth2/authorize");
    t_opt_set("oauth_token_endpoint", "https://issuer.example.test/oauth2/token");
    t_server_init(1);
    t_client_init();

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < iterations; i++) {
        int k = (int)(i % 4);
        exchange("OAUTHBEARER valid token -> SASL_OK alice", "OAUTHBEARER", "alice",
                 i % 2 ? "alice" : NULL, tok_alg[k], 1, "alice");
        exchange("XOAUTH2 valid token -> SASL_OK alice", "XOAUTH2", "alice", NULL, tok_alg[k], 1, "alice");
        exchange("OAUTH valid token -> SASL_OK alice", "OAUTH", "alice", i % 2 ? "alice" : NULL,
                 tok_alg[k], 1, "alice");
        exchange("OAUTH10A -> SASL_OK alice", "OAUTH10A", "alice", NULL,
                 t_name("file:%s", i % 2 ? tf_sha1 : tf_sha256), 1, "alice");
        exchange("OAUTHBEARER token file -> SASL_OK alice", "OAUTHBEARER", "alice", NULL,
                 t_name("file:%s", tf_bearer), 1, "alice");
        exchange("XOAUTH2 through SASL_INTERACT prompts -> SASL_OK alice", "XOAUTH2", "alice", NULL,
                 tok_alg[k], 0, "alice");
        exchange("OAUTHBEARER expired -> SASL_BADAUTH", "OAUTHBEARER", "alice", NULL, tok_expired, 1, NULL);
        exchange("XOAUTH2 expired -> SASL_BADAUTH", "XOAUTH2", "alice", NULL, tok_expired, 1, NULL);
        exchange("XOAUTH2 bad signature -> SASL_BADAUTH", "XOAUTH2", "alice", NULL, tok_badsig, 1, NULL);
        exchange("OAUTHBEARER missing scope -> SASL_BADAUTH", "OAUTHBEARER", "alice", NULL, tok_noscope, 1,
                 NULL);
        exchange("OAUTH expired -> SASL_BADAUTH", "OAUTH", "alice", NULL, tok_expired, 1, NULL);
        exchange("OAUTH discovery without a token -> SASL_BADAUTH", "OAUTH", "alice", "alice", "", 1, NULL);
        exchange("OAUTH10A wrong token secret -> SASL_BADAUTH", "OAUTH10A", "alice", NULL,
                 t_name("file:%s", tf_bad), 1, NULL);
        { /* authzid bob: libsasl2's default proxy policy refuses, after our canon_user */
            struct creds cr = {.authid = "alice", .authzid = "bob", .token = tok_alg[k]};
            sasl_conn_t *c = client_new(&cr, 1), *s = t_server_new(NULL);
            struct hs hs;
            t_handshake(c, s, "OAUTHBEARER", NULL, NULL, &hs);
            handshakes++;
            tally("OAUTHBEARER authzid bob (proxy policy) -> SASL_BADAUTH", hs.server_rc == SASL_BADAUTH,
                  "server %s%s", t_rcname(hs.server_rc), "");
            sasl_dispose(&c);
            sasl_dispose(&s);
            t_creds_free(&cr);
        }
        raw_cases((int)i);
        client_cases();
        if (i % 16 == 15) t_log_clear(); /* keep the harness's log buffer small */
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);

    for (int i = 0; i < ntallies; i++)
        t_check(tallies[i].bad == 0, t_name("%s (%ld runs)", tallies[i].name, tallies[i].runs),
                "%ld of %ld runs wrong", tallies[i].bad, tallies[i].runs);
    printf("# %ld exchanges in %.1f s (%ld iterations)\n", handshakes,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, iterations);

    for (int a = 0; a < 4; a++) free(tok_alg[a]);
    free(tok_expired);
    free(tok_badsig);
    free(tok_noscope);
    t_done();
    return t_summary();
}
