/* The mechanisms of the original KITTEN draft through the real libsasl2, our
 * plugin on both sides (docs/protocol.md §2.3, §2.4):
 *   OAUTH    (HTTP-style): client<->server with a JWT, the discovery round
 *            (client without a token: the server's 401 names the endpoints,
 *            the client's errdetail too, the exchange fails), raw messages:
 *            discovery then a token in the same exchange, request lines other
 *            than `GET / HTTP/1.1` (SASL_BADPROT), refused tokens (401/403).
 *   OAUTH10A (OAuth 1.0a signatures): client<->server with HMAC-SHA256 and
 *            HMAC-SHA1 from a client token file, and messages captured from a
 *            real client exchange then replayed (nonce refused), tampered
 *            (host, port), stripped of host or port (SASL_BADPROT); correct
 *            signatures for the server's own name (serverFQDN, any case)
 *            accepted, for another host refused.
 *   and the server's port as every client mechanism reads it (OAUTHBEARER's
 *   port=): from sasl_client_new's address or a later sasl_setprop.
 *
 * Usage: test_oauth_mechs PLUGIN_DIR FIXTURES [--stale | --alias | --slides ISSUER]
 *   (no flag)        everything above, JWTs from FIXTURES, endpoints configured
 *   --stale          oauth10a_max_skew 1: a message captured 3 s earlier is refused
 *                    (libsasl2 reads the options once per process: its own run)
 *   --alias          oauth_accepted_hosts names an alias: signatures for the alias
 *                    and for the server's own name accepted, for another host refused
 *   --slides ISSUER  the deck's example, base64 exactly as on the wire, logs in as
 *                    scooter@altavista.com: ISSUER is the test identity provider
 *                    (tests/idp) that knows its token (POST /admin/static-token);
 *                    tokens are introspected there, endpoints discovered there.
 *                    Run by e2e/cyrus_oauth_mechs.sh, which starts the provider.
 */
#define _GNU_SOURCE /* memmem */
#include "common.h"

#include <sasl/saslutil.h> /* sasl_decode64 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OA "OAUTH"
#define O1 "OAUTH10A"
#define CRLF "\r\n"

/* Endpoints configured for the OAUTH challenge (default run). */
#define AUTHZ_URI "https://issuer.example.test/oauth2/authorize"
#define TOKEN_URI "https://issuer.example.test/oauth2/token"

/* The client's view of the server: libsasl2's "ip;port" strings. */
#define LOCAL_IPPORT "127.0.0.1;50143"
#define REMOTE_IPPORT "127.0.0.1;143"

/* The deck's example, base64 exactly as on the wire, and the token in it. */
static const char SLIDES_B64[] =
    "R0VUIC8gSFRUUC8xLjENClVzZXI6IHNjb290ZXJAYWx0YXZpc3RhLmNvbQ0KSG9zdDogaW1hcC55YWhvby5jb20NCkF1"
    "dGhvcml6YXRpb246IFRva2VuIHRva2VuPSJ2RjlkZnQ0cW1UYzJOdmIzUmxja0JoYkhSaGRtbHpkR0V1WTI5dENnPT0i"
    "DQoNCg==";
static const char SLIDES_TOKEN[] = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==";
static const char SLIDES_USER[] = "scooter@altavista.com";

/* OAUTH10A credentials: the server's file and the client's token files. The
 * secrets hold characters that RFC 5849 percent-encodes in the HMAC key. */
#define CONSUMER_KEY "ck-mail client"
#define CONSUMER_SECRET "cs/te st&1"
#define TOKEN_KEY "tk-alice"
#define TOKEN_SECRET "ts+alice=/"
/* The alias of the --alias run (configured in mixed case, sent in lower case:
 * libsasl2 lowercases the client's serverFQDN), and a host that is not this server. */
#define ALIAS "Mail.Example.NET"
#define ALIAS_SENT "mail.example.net"
#define OTHER_HOST "other.example"

static char tmpdir[256];
static char creds_file[512], tf_sha256[512], tf_sha1[512], tf_badsecret[512], tf_conf[512];
static char *tok; /* valid rs256 JWT for alice */
static char scope[256];

/* ------------------------------------------------------------ files */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        t_check(0, "test files are written", "cannot write %s", path);
        exit(t_summary());
    }
}

static void cleanup(void)
{
    const char *files[] = {creds_file, tf_sha256, tf_sha1, tf_badsecret, tf_conf};
    if (!tmpdir[0]) return;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (files[i][0]) unlink(files[i]);
    rmdir(tmpdir);
}

/* Killed (e.g. by the Makefile's timeout): remove our files all the same. */
static void on_signal(int sig)
{
    cleanup(); /* unlink and rmdir only: async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void token_file(char *path, size_t n, const char *name, const char *secret, const char *method)
{
    char text[1024];
    snprintf(path, n, "%s/%s", tmpdir, name);
    snprintf(text, sizeof text,
             "{\"oauth_consumer_key\": \"%s\", \"oauth_consumer_secret\": \"%s\",\n"
             " \"oauth_token\": \"%s\", \"oauth_token_secret\": \"%s\"%s%s%s}\n",
             CONSUMER_KEY, CONSUMER_SECRET, TOKEN_KEY, secret,
             method ? ", \"oauth_signature_method\": \"" : "", method ? method : "",
             method ? "\"" : "");
    write_file(path, text);
}

static void make_files(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/oauth-mechs.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        t_check(0, "a private directory is made", "mkdtemp %s failed", tmpdir);
        exit(t_summary());
    }
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    snprintf(creds_file, sizeof creds_file, "%s/oauth10a-credentials.json", tmpdir);
    write_file(creds_file,
               "{\"consumers\": {\"" CONSUMER_KEY "\": {\"secret\": \"" CONSUMER_SECRET "\"}},\n"
               " \"tokens\": {\"" TOKEN_KEY "\": {\"secret\": \"" TOKEN_SECRET "\", \"user\": \"alice\","
               " \"consumer\": \"" CONSUMER_KEY "\"}}}\n");
    token_file(tf_sha256, sizeof tf_sha256, "oauth1-sha256.json", TOKEN_SECRET, NULL);
    token_file(tf_sha1, sizeof tf_sha1, "oauth1-sha1.json", TOKEN_SECRET, "HMAC-SHA1");
    token_file(tf_badsecret, sizeof tf_badsecret, "oauth1-wrong-secret.json", "not-the-secret", NULL);
    chmod(tf_sha256, 0600);
    /* The client reads its own configuration file at init: an empty private one. */
    snprintf(tf_conf, sizeof tf_conf, "%s/sasl-oauth.conf", tmpdir);
    write_file(tf_conf, "# defaults, and every client mechanism\nmechanisms: OAUTHBEARER XOAUTH2 OAUTH10A OAUTH\n");
    setenv("SASL_OAUTH_CONF", tf_conf, 1);
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

/* Like t_client_new, but the client knows the server's address and port
 * (iplocalport/ipremoteport: SASL_IPREMOTEPORT), as an IMAP client does, and
 * names the server `fqdn` (the host OAUTH10A signs for). */
static sasl_conn_t *client_new_for(struct creds *c, const char *fqdn, const char *remote)
{
    sasl_conn_t *conn = NULL;
    size_t tl = strlen(c->token);
    int n = 0, rc;

    c->secret = malloc(sizeof(sasl_secret_t) + tl);
    if (!c->secret) abort();
    c->secret->len = tl;
    memcpy(c->secret->data, c->token, tl + 1);
    c->cbs[n++] = (sasl_callback_t){SASL_CB_AUTHNAME, CB(cb_simple), c};
    if (c->authzid) c->cbs[n++] = (sasl_callback_t){SASL_CB_USER, CB(cb_simple), c};
    c->cbs[n++] = (sasl_callback_t){SASL_CB_PASS, CB(cb_pass), c};
    c->cbs[n] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    rc = sasl_client_new(SERVICE, fqdn, remote ? LOCAL_IPPORT : NULL, remote, c->cbs, 0, &conn);
    if (rc != SASL_OK) {
        t_check(0, "sasl_client_new", "%s", t_rcname(rc));
        exit(t_summary());
    }
    return conn;
}

static sasl_conn_t *client_new(struct creds *c, const char *remote)
{
    return client_new_for(c, SERVER_FQDN, remote);
}

struct run {
    struct creds cr;
    sasl_conn_t *c, *s;
    struct hs hs;
};

static void run(struct run *r, const char *mech, const char *authid, const char *authzid,
                const char *secret, const char *remote)
{
    memset(r, 0, sizeof *r);
    r->cr.authid = authid;
    r->cr.authzid = authzid;
    r->cr.token = secret;
    r->c = client_new(&r->cr, remote);
    r->s = t_server_new(NULL);
    t_handshake(r->c, r->s, mech, NULL, NULL, &r->hs);
}

static void run_free(struct run *r)
{
    sasl_dispose(&r->c);
    sasl_dispose(&r->s);
    t_creds_free(&r->cr);
}

static void check_ok(struct run *r, const char *mech, const char *name, const char *user)
{
    if (!t_check_rc(r->hs.server_rc, SASL_OK, t_name("%s: server SASL_OK", name), r->s)) {
        printf("#   client rc %s, client errdetail: %s\n#   challenge: %s\n",
               t_rcname(r->hs.client_rc), sasl_errdetail(r->c), r->hs.challenge);
        return;
    }
    t_check(r->hs.mech && strcmp(r->hs.mech, mech) == 0, t_name("%s: the client chose %s", name, mech),
            "chose %s", r->hs.mech ? r->hs.mech : "(none)");
    t_check_prop(r->s, SASL_USERNAME, user, t_name("%s: SASL_USERNAME", name));
    t_check_prop(r->s, SASL_AUTHUSER, user, t_name("%s: SASL_AUTHUSER", name));
    t_check(r->hs.rounds == 1, t_name("%s: done in one server call (client first)", name),
            "%d server calls", r->hs.rounds);
}

/* The client's first message to a server it names `fqdn`, captured: what a
 * client sends on the wire. */
static int capture_for(const char *fqdn, const char *mech, const char *secret, const char *remote,
                       struct buf *out, sasl_conn_t **keep)
{
    static struct creds kept; /* the callbacks of a kept connection point into it */
    struct creds cr = {.authid = "alice", .token = secret};
    sasl_conn_t *c;
    const char *cout = NULL, *chosen = NULL;
    unsigned coutlen = 0;
    int rc;

    if (keep) { /* the previous kept connection was disposed of by the caller */
        t_creds_free(&kept);
        kept = cr;
        c = client_new_for(&kept, fqdn, remote);
    } else {
        c = client_new_for(&cr, fqdn, remote);
    }
    rc = sasl_client_start(c, mech, NULL, &cout, &coutlen, &chosen);

    out->len = 0;
    if (rc == SASL_CONTINUE || rc == SASL_OK) b_add(out, cout ? cout : "", coutlen);
    if (keep) {
        *keep = c; /* the caller reads its errdetail, then disposes of it */
        return rc;
    }
    sasl_dispose(&c);
    t_creds_free(&cr);
    return rc;
}

static int capture(const char *mech, const char *secret, const char *remote, struct buf *out,
                   sasl_conn_t **keep)
{
    return capture_for(SERVER_FQDN, mech, secret, remote, out, keep);
}

/* ------------------------------------------------------------ raw server */

struct srv {
    sasl_conn_t *s;
    int rc;
    char out[2048]; /* last server output, NUL-terminated */
};

static void srv_begin(struct srv *v, const char *mech, const void *msg, size_t len)
{
    const char *out = NULL;
    unsigned outlen = 0;
    v->s = t_server_new(NULL);
    v->rc = sasl_server_start(v->s, mech, msg, (unsigned)len, &out, &outlen);
    snprintf(v->out, sizeof v->out, "%.*s", (int)outlen, out ? out : "");
}

static void srv_next(struct srv *v, const void *msg, size_t len)
{
    const char *out = NULL;
    unsigned outlen = 0;
    v->rc = sasl_server_step(v->s, msg, (unsigned)len, &out, &outlen);
    snprintf(v->out, sizeof v->out, "%.*s", (int)outlen, out ? out : "");
}

static void srv_end(struct srv *v)
{
    sasl_dispose(&v->s);
}

/* The OAUTH challenge the server must send (docs/protocol.md §2.4). */
static const char *oauth_challenge(char *out, size_t n, int status, const char *error,
                                   const char *authz, const char *token_uri)
{
    snprintf(out, n, "HTTP/1.1 %d %s" CRLF "WWW-Authenticate: Bearer realm=\"" SERVICE
                  "\", error=\"%s\", scope=\"%s\", authorization_uri=\"%s\", token_uri=\"%s\"" CRLF CRLF,
                  status, status == 403 ? "Forbidden" : "Unauthorized", error, scope, authz, token_uri);
    return out;
}

/* Printable form of a message for diagnostics (\r\n and \x01 shown). */
static const char *shown(const char *s)
{
    static char b[2][2048];
    static int k;
    char *o = b[k++ % 2];
    size_t n = 0;
    for (; *s && n + 5 < sizeof b[0]; s++) {
        if (*s == '\r') { memcpy(o + n, "\\r", 2); n += 2; }
        else if (*s == '\n') { memcpy(o + n, "\\n", 2); n += 2; }
        else if (*s == '\001') { memcpy(o + n, "^A", 2); n += 2; }
        else o[n++] = *s;
    }
    o[n] = '\0';
    return o;
}

/* An error challenge (SASL_CONTINUE) then, whatever `answer`, SASL_BADAUTH
 * with `detail` in the errdetail. `challenge_want`: exact challenge, or NULL
 * for OAUTH10A's JSON with status `status`. */
static void refused(const char *mech, const char *name, const void *msg, size_t len,
                    const char *challenge_want, const char *status, const char *answer,
                    size_t answer_len, const char *detail)
{
    struct srv v;
    srv_begin(&v, mech, msg, len);
    if (!t_check_rc(v.rc, SASL_CONTINUE, t_name("%s %s: error challenge (SASL_CONTINUE)", mech, name), v.s)) {
        srv_end(&v);
        return;
    }
    if (challenge_want) {
        t_check(strcmp(v.out, challenge_want) == 0, t_name("%s %s: the challenge", mech, name),
                "got \"%s\", expected \"%s\"", shown(v.out), shown(challenge_want));
    } else {
        char got[128] = "";
        t_json_field(v.out, "status", got, sizeof got);
        t_check(v.out[0] == '{' && strcmp(got, status) == 0,
                t_name("%s %s: JSON challenge, status %s", mech, name, status), "challenge: %s", v.out);
    }
    if (strcmp(mech, O1) == 0) t_check_no_leak(TOKEN_SECRET, v.s, NULL, v.out, t_name("%s %s", mech, name));
    srv_next(&v, answer, answer_len);
    t_check_rc(v.rc, SASL_BADAUTH, t_name("%s %s: then SASL_BADAUTH", mech, name), v.s);
    t_check_detail(v.s, detail, t_name("%s %s: errdetail says \"%s\"", mech, name, detail));
    srv_end(&v);
}

/* ------------------------------------------------------------ OAUTH */

/* An OAUTH request; auth NULL: no Authorization header. The credential is
 * `scheme` then `token` then `end` (e.g. Token token=" JWT "). */
static void request(struct buf *b, const char *line, const char *user, const char *scheme,
                    const char *token, const char *end)
{
    b->len = 0;
    b_str(b, line);
    b_str(b, CRLF);
    if (user) {
        b_str(b, "User: ");
        b_str(b, user);
        b_str(b, CRLF);
    }
    b_str(b, "Host: " SERVER_FQDN CRLF);
    if (scheme) {
        b_str(b, "Authorization: ");
        b_str(b, scheme);
        b_str(b, token ? token : "");
        b_str(b, end ? end : "");
        b_str(b, CRLF);
    }
    b_str(b, CRLF);
}

static void offered(void)
{
    const char *list = NULL;
    sasl_conn_t *s = t_server_new(NULL);
    int rc = sasl_listmech(s, NULL, " ", " ", " ", &list, NULL, NULL);
    t_check(rc == SASL_OK && list && strstr(list, " OAUTH ") && strstr(list, " OAUTH10A "),
            "the server offers OAUTH and OAUTH10A", "%s: \"%s\"", t_rcname(rc), list ? list : "");
    sasl_dispose(&s);
}

static void oauth_handshakes(void)
{
    struct run r;
    char *expired = t_token("expired");
    const char *bob = "bob";
    char want[1024];

    run(&r, OA, "alice", NULL, tok, REMOTE_IPPORT);
    check_ok(&r, OA, "OAUTH client<->server, valid JWT", "alice");
    t_check_no_leak(tok, r.s, r.c, r.hs.challenge, "OAUTH client<->server, valid JWT");
    run_free(&r);

    run(&r, OA, "alice", "alice", tok, REMOTE_IPPORT);
    check_ok(&r, OA, "OAUTH client<->server, User: alice", "alice");
    run_free(&r);

    run(&r, OA, "alice", bob, tok, REMOTE_IPPORT);
    t_check_rc(r.hs.server_rc, SASL_BADAUTH, "OAUTH client<->server, User: bob (default proxy policy)", r.s);
    run_free(&r);

    /* The discovery round: the client has no token (empty password). */
    run(&r, OA, "alice", "alice", "", REMOTE_IPPORT);
    t_check(strcmp(r.hs.challenge, oauth_challenge(want, sizeof want, 401, "invalid_token", AUTHZ_URI, TOKEN_URI)) == 0,
            "OAUTH discovery round: the server answers 401 naming the configured endpoints",
            "challenge \"%s\"", shown(r.hs.challenge));
    t_check(t_contains_ci(r.hs.client_detail, "authorization_uri " AUTHZ_URI) &&
                t_contains_ci(r.hs.client_detail, "token_uri " TOKEN_URI),
            "OAUTH discovery round: the client's errdetail names both endpoints",
            "client errdetail \"%s\"", r.hs.client_detail);
    t_check(t_contains_ci(r.hs.client_detail, "asks for a token"),
            "OAUTH discovery round: the client's errdetail says the server asks for a token",
            "client errdetail \"%s\"", r.hs.client_detail);
    t_check(r.hs.client_rc == SASL_CONTINUE && r.hs.rounds == 2,
            "OAUTH discovery round: the client answers the 401 (empty response)",
            "client rc %s after %d server calls", t_rcname(r.hs.client_rc), r.hs.rounds);
    t_check_rc(r.hs.server_rc, SASL_BADAUTH, "OAUTH discovery round: the exchange ends in failure", r.s);
    t_check_detail(r.s, "discovery", "OAUTH discovery round: server errdetail says discovery");
    run_free(&r);

    /* A token the server refuses: the 401, the client's empty answer, failure. */
    run(&r, OA, "alice", NULL, expired, REMOTE_IPPORT);
    t_check(strcmp(r.hs.challenge, oauth_challenge(want, sizeof want, 401, "invalid_token", AUTHZ_URI, TOKEN_URI)) == 0,
            "OAUTH client<->server, expired JWT: 401 invalid_token", "challenge \"%s\"", shown(r.hs.challenge));
    t_check(t_contains_ci(r.hs.client_detail, "refused the token") && t_contains_ci(r.hs.client_detail, "invalid_token"),
            "OAUTH client<->server, expired JWT: client errdetail has the status",
            "client errdetail \"%s\"", r.hs.client_detail);
    t_check_rc(r.hs.server_rc, SASL_BADAUTH, "OAUTH client<->server, expired JWT: SASL_BADAUTH", r.s);
    t_check_detail(r.s, "expired", "OAUTH client<->server, expired JWT: server errdetail says expired");
    t_check_no_leak(expired, r.s, r.c, r.hs.challenge, "OAUTH client<->server, expired JWT");
    run_free(&r);
    free(expired);
}

static void oauth_raw(void)
{
    struct buf m = {0}, m2 = {0};
    struct srv v;
    char *expired = t_token("expired"), *noscope = t_token("no-scope");
    char challenge401[1024], challenge403[1024];
    const char *lines[][3] = { /* request line, what is wrong, errdetail */
        {"POST / HTTP/1.1", "POST", "GET / HTTP/1.1"},
        {"GET /imap HTTP/1.1", "path /imap", "GET / HTTP/1.1"},
        {"GET / HTTP/1.0", "HTTP/1.0", "GET / HTTP/1.1"},
        {"get / HTTP/1.1", "lower-case get", "GET / HTTP/1.1"},
        {"GET  / HTTP/1.1", "two spaces", "HTTP request"},
        {"GET / HTTP/1.1 extra", "trailing word", "HTTP request"},
    };

    oauth_challenge(challenge401, sizeof challenge401, 401, "invalid_token", AUTHZ_URI, TOKEN_URI);
    oauth_challenge(challenge403, sizeof challenge403, 403, "insufficient_scope", AUTHZ_URI, TOKEN_URI);

    /* Accepted forms. */
    request(&m, "GET / HTTP/1.1", "alice", "Bearer ", tok, NULL);
    srv_begin(&v, OA, m.p, m.len);
    if (t_check_rc(v.rc, SASL_OK, "OAUTH raw: Authorization: Bearer JWT, User: alice -> SASL_OK", v.s))
        t_check_prop(v.s, SASL_USERNAME, "alice", "OAUTH raw: Bearer: SASL_USERNAME alice");
    srv_end(&v);

    request(&m, "GET / HTTP/1.1", NULL, "Token token=\"", tok, "\"");
    srv_begin(&v, OA, m.p, m.len);
    if (t_check_rc(v.rc, SASL_OK, "OAUTH raw: the draft's Authorization: Token token=\"JWT\" -> SASL_OK", v.s))
        t_check_prop(v.s, SASL_USERNAME, "alice", "OAUTH raw: Token form: SASL_USERNAME alice");
    srv_end(&v);

    /* Discovery, then a request with a token in the same exchange. */
    request(&m, "GET / HTTP/1.1", "alice", NULL, NULL, NULL);
    request(&m2, "GET / HTTP/1.1", "alice", "Bearer ", tok, NULL);
    srv_begin(&v, OA, m.p, m.len);
    if (t_check_rc(v.rc, SASL_CONTINUE, "OAUTH raw: discovery request (no Authorization) -> SASL_CONTINUE", v.s)) {
        t_check(strcmp(v.out, challenge401) == 0, "OAUTH raw: discovery -> 401 with authorization_uri and token_uri",
                "got \"%s\"", shown(v.out));
        srv_next(&v, m2.p, m2.len);
        if (t_check_rc(v.rc, SASL_OK, "OAUTH raw: discovery, then a valid request in the same exchange -> SASL_OK", v.s)) {
            t_check_prop(v.s, SASL_USERNAME, "alice", "OAUTH raw: after discovery: SASL_USERNAME alice");
            t_check_prop(v.s, SASL_AUTHUSER, "alice", "OAUTH raw: after discovery: SASL_AUTHUSER alice");
        }
    }
    srv_end(&v);

    /* An empty Authorization value is a discovery request too. */
    request(&m, "GET / HTTP/1.1", NULL, "", NULL, NULL);
    refused(OA, "raw: empty Authorization (discovery), then empty message", m.p, m.len, challenge401,
            NULL, "", 0, "discovery");

    /* Discovery twice: the second request without a token is refused. */
    request(&m, "GET / HTTP/1.1", NULL, NULL, NULL, NULL);
    srv_begin(&v, OA, m.p, m.len);
    srv_next(&v, m.p, m.len);
    t_check(v.rc == SASL_CONTINUE && strcmp(v.out, challenge401) == 0,
            "OAUTH raw: discovery twice: the second gets the 401 as a refusal",
            "%s, \"%s\"", t_rcname(v.rc), shown(v.out));
    srv_next(&v, "", 0);
    t_check_rc(v.rc, SASL_BADAUTH, "OAUTH raw: discovery twice: then SASL_BADAUTH", v.s);
    srv_end(&v);

    /* Refused tokens: 401 (or 403 for the scope), then failure on the next message. */
    request(&m, "GET / HTTP/1.1", NULL, "Bearer ", expired, NULL);
    refused(OA, "raw: expired JWT, then empty message", m.p, m.len, challenge401, NULL, "", 0, "expired");
    request(&m2, "GET / HTTP/1.1", NULL, "Bearer ", tok, NULL);
    refused(OA, "raw: expired JWT, then a valid request (still refused)", m.p, m.len, challenge401, NULL,
            m2.p, m2.len, "expired");
    request(&m, "GET / HTTP/1.1", NULL, "Bearer ", noscope, NULL);
    refused(OA, "raw: JWT without the scope", m.p, m.len,
            challenge403, NULL, "", 0, "scope");

    /* The request line must be exactly GET / HTTP/1.1. */
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        request(&m, lines[i][0], "alice", "Bearer ", tok, NULL);
        srv_begin(&v, OA, m.p, m.len);
        t_check_rc(v.rc, SASL_BADPROT, t_name("OAUTH raw: request line \"%s\" (%s) -> SASL_BADPROT", lines[i][0], lines[i][1]), v.s);
        t_check_detail(v.s, lines[i][2], t_name("OAUTH raw: request line %s: errdetail says \"%s\"", lines[i][1], lines[i][2]));
        t_check_no_leak(tok, v.s, NULL, v.out, t_name("OAUTH raw: request line %s", lines[i][1]));
        srv_end(&v);
    }

    /* Malformed requests are protocol errors too. */
    m.len = 0;
    b_str(&m, "GET / HTTP/1.1" CRLF "Authorization: Bearer x" CRLF); /* no empty line */
    srv_begin(&v, OA, m.p, m.len);
    t_check_rc(v.rc, SASL_BADPROT, "OAUTH raw: request without its final empty line -> SASL_BADPROT", v.s);
    srv_end(&v);
    m.len = 0;
    b_str(&m, "GET / HTTP/1.1" CRLF "User: a" CRLF "User: b" CRLF CRLF);
    srv_begin(&v, OA, m.p, m.len);
    t_check_rc(v.rc, SASL_BADPROT, "OAUTH raw: duplicate User header -> SASL_BADPROT", v.s);
    t_check_detail(v.s, "duplicate", "OAUTH raw: duplicate User header: errdetail says duplicate");
    srv_end(&v);

    /* The deck's example: with a JWT-only validator its token is unknown (401). */
    {
        char dec[1024];
        unsigned declen = 0;
        int rc = sasl_decode64(SLIDES_B64, (unsigned)strlen(SLIDES_B64), dec, sizeof dec, &declen);
        if (t_check_rc(rc, SASL_OK, "OAUTH slides' example: base64 decodes", NULL))
            refused(OA, "slides' example, token unknown to a JWT-only validator", dec, declen,
                    challenge401, NULL, "", 0, "not a JWT");
    }

    b_free(&m);
    b_free(&m2);
    free(expired);
    free(noscope);
}

/* ------------------------------------------------------------ OAUTH10A */

static const char *file_secret(const char *path)
{
    return t_name("file:%s", path);
}

static void oauth10a_handshakes(void)
{
    struct run r;
    sasl_conn_t *c = NULL;
    struct buf m = {0};
    int rc;

    run(&r, O1, "alice", NULL, file_secret(tf_sha256), REMOTE_IPPORT);
    check_ok(&r, O1, "OAUTH10A client<->server, HMAC-SHA256 (token file default)", "alice");
    t_check_no_leak(TOKEN_SECRET, r.s, r.c, r.hs.challenge, "OAUTH10A HMAC-SHA256");
    run_free(&r);

    run(&r, O1, "alice", NULL, file_secret(tf_sha1), REMOTE_IPPORT);
    check_ok(&r, O1, "OAUTH10A client<->server, HMAC-SHA1", "alice");
    run_free(&r);

    run(&r, O1, "alice", "alice", file_secret(tf_sha256), REMOTE_IPPORT);
    check_ok(&r, O1, "OAUTH10A client<->server, authzid alice (a=alice)", "alice");
    run_free(&r);

    /* A wrong token secret: the server's JSON challenge, the client's \x01, failure. */
    run(&r, O1, "alice", NULL, file_secret(tf_badsecret), REMOTE_IPPORT);
    {
        char got[64] = "";
        t_json_field(r.hs.challenge, "status", got, sizeof got);
        t_check(strcmp(got, "invalid_token") == 0, "OAUTH10A client<->server, wrong token secret: challenge invalid_token",
                "challenge \"%s\"", r.hs.challenge);
    }
    t_check(t_contains_ci(r.hs.client_detail, "invalid_token"),
            "OAUTH10A client<->server, wrong token secret: client errdetail has the status",
            "client errdetail \"%s\"", r.hs.client_detail);
    t_check_rc(r.hs.server_rc, SASL_BADAUTH, "OAUTH10A client<->server, wrong token secret: SASL_BADAUTH", r.s);
    t_check_detail(r.s, "OAuth signature not accepted (bad signature or unknown oauth_token)",
                   "OAUTH10A client<->server, wrong token secret: errdetail says signature");
    run_free(&r);

    /* Without the server's port the client cannot sign (SASL_IPREMOTEPORT unset). */
    rc = capture(O1, file_secret(tf_sha256), NULL, &m, &c);
    t_check(rc != SASL_OK && rc != SASL_CONTINUE,
            "OAUTH10A client without the server's port: refuses to sign", "client rc %s", t_rcname(rc));
    t_check_detail(c, "port", "OAUTH10A client without the server's port: errdetail says port");
    sasl_dispose(&c);

    /* OAUTH10A with a plain token (no token file): a clear client error. */
    rc = capture(O1, "just-a-bearer-token", REMOTE_IPPORT, &m, &c);
    t_check(rc != SASL_OK && rc != SASL_CONTINUE,
            "OAUTH10A client with a bearer token instead of a token file: refused", "client rc %s", t_rcname(rc));
    t_check_detail(c, "token file", "OAUTH10A client with a bearer token: errdetail asks for a token file");
    sasl_dispose(&c);
    b_free(&m);
}

/* The server's port as the client reads it: from SASL_IPREMOTEPORT given to
 * sasl_client_new or set later with sasl_setprop, and none without one. */
static void client_port(void)
{
    static const char hostport[] = KV "host=" SERVER_FQDN KV "port=143" KV "auth=Bearer ";
    struct creds cr = {.authid = "alice", .token = "abc.def"};
    struct buf m = {0};
    sasl_conn_t *c;
    const char *cout = NULL, *chosen = NULL;
    unsigned coutlen = 0;
    int rc;

    rc = capture("OAUTHBEARER", "abc.def", REMOTE_IPPORT, &m, NULL);
    t_check(rc == SASL_CONTINUE && memmem(m.p, m.len, hostport, strlen(hostport)) != NULL,
            "OAUTHBEARER client given the server's address: sends host and port", "rc %s, message \"%s\"",
            t_rcname(rc), shown(m.p));
    rc = capture("OAUTHBEARER", "abc.def", NULL, &m, NULL);
    t_check(rc == SASL_CONTINUE && memmem(m.p, m.len, "port=", 5) == NULL,
            "OAUTHBEARER client without the server's address: no port", "rc %s, message \"%s\"",
            t_rcname(rc), shown(m.p));

    c = client_new_for(&cr, SERVER_FQDN, NULL);
    t_check_rc(sasl_setprop(c, SASL_IPREMOTEPORT, REMOTE_IPPORT), SASL_OK,
               "OAUTHBEARER client: SASL_IPREMOTEPORT set after sasl_client_new", c);
    rc = sasl_client_start(c, "OAUTHBEARER", NULL, &cout, &coutlen, &chosen);
    t_check(rc == SASL_CONTINUE && cout && memmem(cout, coutlen, hostport, strlen(hostport)) != NULL,
            "OAUTHBEARER client, address set with sasl_setprop: sends its port", "rc %s", t_rcname(rc));
    sasl_dispose(&c);
    t_creds_free(&cr);
    b_free(&m);
}

/* Replace the first `from` in b by `to`; 0 when absent. */
static int replace(struct buf *b, const char *from, const char *to)
{
    struct buf o = {0};
    char *p = memmem(b->p, b->len, from, strlen(from));
    if (!p) return 0;
    b_add(&o, b->p, (size_t)(p - b->p));
    b_str(&o, to);
    b_add(&o, p + strlen(from), b->len - (size_t)(p - b->p) - strlen(from));
    b_free(b);
    *b = o;
    return 1;
}

static void oauth10a_raw(void)
{
    struct buf m = {0}, t = {0};
    struct srv v;
    int rc;

    /* A message captured from a real client exchange, sent twice: the second
     * exchange is a replay of its nonce. */
    rc = capture(O1, file_secret(tf_sha256), REMOTE_IPPORT, &m, NULL);
    if (!t_check(rc == SASL_CONTINUE && m.len > 0, "OAUTH10A: the client's first message is captured",
                 "client rc %s", t_rcname(rc)))
        return;
    t_check(memmem(m.p, m.len, KV "host=" SERVER_FQDN KV "port=143" KV "auth=OAuth ", strlen(KV "host=" SERVER_FQDN KV "port=143" KV "auth=OAuth ")) != NULL &&
                memmem(m.p, m.len, "oauth_signature_method=\"HMAC-SHA256\"", 36) != NULL,
            "OAUTH10A: the client sends host (serverFQDN), port (SASL_IPREMOTEPORT) and an HMAC-SHA256 OAuth header",
            "message \"%s\"", shown(m.p));
    t_check(memmem(m.p, m.len, TOKEN_SECRET, strlen(TOKEN_SECRET)) == NULL &&
                memmem(m.p, m.len, "te st", 5) == NULL,
            "OAUTH10A: the client's message holds no secret", "message \"%s\"", shown(m.p));

    srv_begin(&v, O1, m.p, m.len);
    if (t_check_rc(v.rc, SASL_OK, "OAUTH10A raw: the captured message -> SASL_OK", v.s))
        t_check_prop(v.s, SASL_USERNAME, "alice", "OAUTH10A raw: SASL_USERNAME is the token's user");
    srv_end(&v);
    refused(O1, "raw: the same message again (replayed nonce)", m.p, m.len, NULL, "invalid_token",
            KV, 1, "replay");
    refused(O1, "raw: the same message a third time", m.p, m.len, NULL, "invalid_token", KV, 1, "nonce");

    /* Tampered copies of a fresh message: the signature no longer matches. */
    rc = capture(O1, file_secret(tf_sha1), REMOTE_IPPORT, &m, NULL);
    b_free(&t);
    b_add(&t, m.p, m.len);
    if (t_check(replace(&t, KV "port=143" KV, KV "port=144" KV), "OAUTH10A raw: port found to tamper with", "message \"%s\"", shown(m.p)))
        refused(O1, "raw: port 143 changed to 144", t.p, t.len, NULL, "invalid_token", KV, 1, "signature");
    b_free(&t);
    b_add(&t, m.p, m.len);
    if (t_check(replace(&t, "host=" SERVER_FQDN, "host=server.example.con"), "OAUTH10A raw: host found to tamper with", "message \"%s\"", shown(m.p)))
        refused(O1, "raw: host changed by one character (not this server)", t.p, t.len, NULL, "invalid_request", KV, 1,
                "host 'server.example.con'");
    b_free(&t);
    b_add(&t, m.p, m.len);
    if (replace(&t, "oauth_token=\"" TOKEN_KEY "\"", "oauth_token=\"" TOKEN_KEY "\",oauth_extra=\"1\""))
        refused(O1, "raw: an OAuth parameter added", t.p, t.len, NULL, "invalid_token", KV, 1, "signature");
    b_free(&t);
    b_add(&t, m.p, m.len);
    if (replace(&t, KV "auth=", KV "mthd=GET" KV "auth="))
        refused(O1, "raw: mthd=GET added (the signed method was POST)", t.p, t.len, NULL, "invalid_token", KV, 1, "signature");
    /* The forgeries did not use up the nonce: the untouched message still logs in. */
    srv_begin(&v, O1, m.p, m.len);
    t_check_rc(v.rc, SASL_OK, "OAUTH10A raw: the untouched message after its forged copies -> SASL_OK", v.s);
    srv_end(&v);

    /* Other refusals. */
    b_free(&t);
    rc = capture(O1, file_secret(tf_sha256), REMOTE_IPPORT, &m, NULL);
    b_add(&t, m.p, m.len);
    if (replace(&t, "HMAC-SHA256", "PLAINTEXT"))
        refused(O1, "raw: oauth_signature_method PLAINTEXT", t.p, t.len, NULL, "invalid_token", KV, 1, "PLAINTEXT");
    b_free(&t);
    b_add(&t, m.p, m.len);
    if (replace(&t, "oauth_consumer_key=\"", "oauth_consumer_key=\"x"))
        refused(O1, "raw: unknown consumer key", t.p, t.len, NULL, "invalid_token", KV, 1, "consumer");
    /* An unknown token gets the client the same text as a bad signature. */
    b_free(&t);
    b_add(&t, m.p, m.len);
    if (t_check(replace(&t, "oauth_token=\"" TOKEN_KEY "\"", "oauth_token=\"tk-nobody\""),
                "OAUTH10A raw: token found to replace", "message \"%s\"", shown(m.p)))
        refused(O1, "raw: unknown oauth_token (errdetail as for a bad signature)", t.p, t.len, NULL, "invalid_token",
                KV, 1, "OAuth signature not accepted (bad signature or unknown oauth_token)");

    /* host and port are required: protocol errors. */
    b_free(&t);
    b_add(&t, m.p, m.len);
    if (t_check(replace(&t, KV "host=" SERVER_FQDN KV, KV), "OAUTH10A raw: host removed", "message \"%s\"", shown(m.p))) {
        srv_begin(&v, O1, t.p, t.len);
        t_check_rc(v.rc, SASL_BADPROT, "OAUTH10A raw: no host key -> SASL_BADPROT", v.s);
        t_check_detail(v.s, "host", "OAUTH10A raw: no host key: errdetail says host");
        srv_end(&v);
    }
    b_free(&t);
    b_add(&t, m.p, m.len);
    if (t_check(replace(&t, KV "port=143" KV, KV), "OAUTH10A raw: port removed", "message \"%s\"", shown(m.p))) {
        srv_begin(&v, O1, t.p, t.len);
        t_check_rc(v.rc, SASL_BADPROT, "OAUTH10A raw: no port key -> SASL_BADPROT", v.s);
        t_check_detail(v.s, "port", "OAUTH10A raw: no port key: errdetail says port");
        srv_end(&v);
    }
    b_free(&t);
    b_add(&t, m.p, m.len);
    if (replace(&t, KV "port=143" KV, KV "port=0143" KV)) {
        srv_begin(&v, O1, t.p, t.len);
        t_check_rc(v.rc, SASL_BADPROT, "OAUTH10A raw: port 0143 (not a decimal port) -> SASL_BADPROT", v.s);
        srv_end(&v);
    }
    /* ... and the untouched message still logs in (no nonce was spent). */
    srv_begin(&v, O1, m.p, m.len);
    t_check_rc(v.rc, SASL_OK, "OAUTH10A raw: the untouched message after the refused variants -> SASL_OK", v.s);
    srv_end(&v);

    b_free(&m);
    b_free(&t);
}

/* OAUTH10A signatures cover the host: correct signatures made by our client
 * for the server's own name (the serverFQDN given to sasl_server_new, in any
 * case) and, with oauth_accepted_hosts, for an alias log in; one for another
 * host is refused before its signature is checked. */
static void oauth10a_hosts(const char *alias)
{
    const char *hosts[] = {SERVER_FQDN, alias ? ALIAS_SENT : NULL};
    struct buf m = {0};
    struct srv v;
    int rc;

    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        char want[256];
        if (!hosts[i]) continue;
        rc = capture_for(hosts[i], O1, file_secret(tf_sha256), REMOTE_IPPORT, &m, NULL);
        snprintf(want, sizeof want, KV "host=%s" KV, hosts[i]);
        if (!t_check(rc == SASL_CONTINUE && memmem(m.p, m.len, want, strlen(want)),
                     t_name("OAUTH10A signed for host %s: captured", hosts[i]), "client rc %s", t_rcname(rc)))
            continue;
        srv_begin(&v, O1, m.p, m.len);
        t_check_rc(v.rc, SASL_OK, t_name("OAUTH10A signed for host %s (%s) -> SASL_OK", hosts[i],
                                         i == 0 ? "the server's own name" : "alias " ALIAS " in oauth_accepted_hosts"), v.s);
        srv_end(&v);
    }
    /* The host in another case: the same name (and the same signature: the
     * base string has the host in lower case). */
    rc = capture(O1, file_secret(tf_sha256), REMOTE_IPPORT, &m, NULL);
    if (t_check(rc == SASL_CONTINUE && replace(&m, "host=" SERVER_FQDN, "host=SERVER.Example.COM"),
                "OAUTH10A signed for host SERVER.Example.COM: captured", "client rc %s", t_rcname(rc))) {
        srv_begin(&v, O1, m.p, m.len);
        t_check_rc(v.rc, SASL_OK, "OAUTH10A signed for host SERVER.Example.COM (the server's name, another case) -> SASL_OK", v.s);
        srv_end(&v);
    }
    rc = capture_for(OTHER_HOST, O1, file_secret(tf_sha256), REMOTE_IPPORT, &m, NULL);
    if (t_check(rc == SASL_CONTINUE && m.len > 0, "OAUTH10A signed for host " OTHER_HOST ": captured",
                "client rc %s", t_rcname(rc)))
        refused(O1, "correctly signed for host " OTHER_HOST " (another server)", m.p, m.len, NULL,
                "invalid_request", KV, 1, "host '" OTHER_HOST "'");
    if (!alias) {
        rc = capture_for(ALIAS_SENT, O1, file_secret(tf_sha256), REMOTE_IPPORT, &m, NULL);
        if (t_check(rc == SASL_CONTINUE && m.len > 0, "OAUTH10A signed for host " ALIAS_SENT ": captured",
                    "client rc %s", t_rcname(rc)))
            refused(O1, "signed for " ALIAS_SENT " without oauth_accepted_hosts", m.p, m.len, NULL,
                    "invalid_request", KV, 1, "oauth_accepted_hosts");
    }
    b_free(&m);
}

/* ------------------------------------------------------------ modes */

static void stale(void)
{
    struct buf m = {0}, m2 = {0};
    struct srv v;

    capture(O1, file_secret(tf_sha256), REMOTE_IPPORT, &m, NULL);
    capture(O1, file_secret(tf_sha256), REMOTE_IPPORT, &m2, NULL);
    srv_begin(&v, O1, m2.p, m2.len);
    t_check_rc(v.rc, SASL_OK, "OAUTH10A oauth10a_max_skew 1: a fresh message -> SASL_OK", v.s);
    srv_end(&v);
    sleep(3);
    if (m.len > 0)
        refused(O1, "oauth10a_max_skew 1: a message signed 3 s ago (stale timestamp)", m.p, m.len, NULL,
                "invalid_token", KV, 1, "window");
    else
        t_check(0, "OAUTH10A stale timestamp: message captured", "no message");
    b_free(&m);
    b_free(&m2);
}

static void slides(const char *issuer)
{
    char dec[1024], bad[1024];
    unsigned declen = 0;
    struct srv v;
    struct buf m = {0};
    char challenge401[2048], authz[256], token_uri[256];
    snprintf(authz, sizeof authz, "%s/auth", issuer);
    snprintf(token_uri, sizeof token_uri, "%s/token", issuer);
    oauth_challenge(challenge401, sizeof challenge401, 401, "invalid_token", authz, token_uri);
    int rc = sasl_decode64(SLIDES_B64, (unsigned)strlen(SLIDES_B64), dec, sizeof dec, &declen);

    if (!t_check_rc(rc, SASL_OK, "OAUTH slides' example: base64 decodes", NULL)) return;
    t_check(declen < sizeof dec && memmem(dec, declen, SLIDES_TOKEN, strlen(SLIDES_TOKEN)) != NULL,
            "OAUTH slides' example: it carries the token vF9d...Cg==", "decoded \"%.*s\"", (int)declen, dec);

    srv_begin(&v, OA, dec, declen);
    if (t_check_rc(v.rc, SASL_OK, "OAUTH slides' example (exact bytes) -> SASL_OK", v.s)) {
        t_check_prop(v.s, SASL_USERNAME, SLIDES_USER, "OAUTH slides' example: SASL_USERNAME scooter@altavista.com");
        t_check_prop(v.s, SASL_AUTHUSER, SLIDES_USER, "OAUTH slides' example: SASL_AUTHUSER scooter@altavista.com");
    } else {
        printf("#   server output: %s\n", shown(v.out));
    }
    srv_end(&v);

    /* Again (the result cache may answer): still the same identity. */
    srv_begin(&v, OA, dec, declen);
    if (t_check_rc(v.rc, SASL_OK, "OAUTH slides' example, second login -> SASL_OK", v.s))
        t_check_prop(v.s, SASL_USERNAME, SLIDES_USER, "OAUTH slides' example, second login: SASL_USERNAME");
    srv_end(&v);

    /* One character of the token changed: the provider does not know it. */
    memcpy(bad, dec, declen);
    {
        char *p = memmem(bad, declen, SLIDES_TOKEN, strlen(SLIDES_TOKEN));
        if (p) p[0] = 'w';
    }
    refused(OA, "slides' example with one token character changed (introspection: inactive)", bad, declen,
            challenge401, NULL, "", 0, "not active");

    /* Discovery: the endpoints come from the issuer's discovery document. */
    request(&m, "GET / HTTP/1.1", SLIDES_USER, NULL, NULL, NULL);
    srv_begin(&v, OA, m.p, m.len);
    if (t_check_rc(v.rc, SASL_CONTINUE, "OAUTH discovery (endpoints not configured) -> SASL_CONTINUE", v.s)) {
        t_check(strcmp(v.out, challenge401) == 0,
                "OAUTH discovery: 401 names the provider's discovered authorization and token endpoints",
                "got \"%s\", expected \"%s\"", shown(v.out), shown(challenge401));
        /* then the slides' request in the same exchange */
        srv_next(&v, dec, declen);
        if (t_check_rc(v.rc, SASL_OK, "OAUTH discovery, then the slides' request in the same exchange -> SASL_OK", v.s))
            t_check_prop(v.s, SASL_USERNAME, SLIDES_USER, "OAUTH discovery, then the slides' request: SASL_USERNAME");
    }
    srv_end(&v);
    /* Our own client with the slides' token and user: the same login. */
    {
        struct run r;
        run(&r, OA, SLIDES_USER, SLIDES_USER, SLIDES_TOKEN, REMOTE_IPPORT);
        check_ok(&r, OA, "OAUTH client<->server with the slides' token and User", SLIDES_USER);
        t_check_no_leak(SLIDES_TOKEN, r.s, r.c, r.hs.challenge, "OAUTH client<->server with the slides' token");
        run_free(&r);
    }
    t_check_no_leak(SLIDES_TOKEN, NULL, NULL, NULL, "OAUTH slides' example");
    b_free(&m);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 3 ? argv[3] : "";
    const char *issuer = NULL;

    t_init(argc, argv);
    if (strcmp(mode, "--slides") == 0) {
        if (argc < 5) {
            fprintf(stderr, "usage: %s PLUGIN_DIR FIXTURES --slides ISSUER\n", argv[0]);
            return 2;
        }
        issuer = argv[4];
    } else if (mode[0] && strcmp(mode, "--stale") != 0 && strcmp(mode, "--alias") != 0) {
        fprintf(stderr, "usage: %s PLUGIN_DIR FIXTURES [--stale | --alias | --slides ISSUER]\n", argv[0]);
        return 2;
    }
    make_files();

    if (issuer) {
        /* Validation against the test identity provider: opaque tokens
         * introspected as resource-server, endpoints from discovery. */
        t_opt_set("oauth_jwks_file", NULL);
        t_opt_set("oauth_audience", NULL);
        t_opt_set("oauth_issuer", issuer);
        t_opt_set("oauth_client_id", "resource-server");
        t_opt_set("oauth_client_secret", "rs-secret");
        t_opt_set("oauth_required_scope", "mail");
    } else {
        t_opt_set("oauth_authorization_endpoint", AUTHZ_URI);
        t_opt_set("oauth_token_endpoint", TOKEN_URI);
        t_opt_set("oauth10a_credentials_file", creds_file);
        if (strcmp(mode, "--stale") == 0) t_opt_set("oauth10a_max_skew", "1");
        if (strcmp(mode, "--alias") == 0) t_opt_set("oauth_accepted_hosts", "imap.example.org " ALIAS);
    }
    snprintf(scope, sizeof scope, "%s", t_opt_get("oauth_required_scope") ? t_opt_get("oauth_required_scope") : "");
    t_server_init(1);
    t_client_init();

    if (issuer) {
        slides(issuer);
    } else if (strcmp(mode, "--stale") == 0) {
        stale();
    } else if (strcmp(mode, "--alias") == 0) {
        oauth10a_hosts(ALIAS);
    } else {
        tok = t_token("rs256");
        offered();
        oauth_handshakes();
        oauth_raw();
        oauth10a_handshakes();
        client_port();
        oauth10a_raw();
        oauth10a_hosts(NULL);
        free(tok);
    }
    t_done();
    return t_summary();
}
