/* Server-side validation against a real identity provider (tests/idp), through
 * the real libsasl2, client and server in one process (docs/protocol.md §3.3; process model: docs/architecture.md §4.5):
 * discovery, JWKS, introspection, revocation, the result cache, key rotation,
 * outages, and the process model (fork, chroot after init).
 *
 * Run by e2e/idp_harness.sh, which starts the provider and writes FIXTURES:
 *   test_process PLUGIN_DIR FIXTURES --part PART --get-token PATH [--set KEY=VALUE]...
 * FIXTURES/server.conf holds the options (oauth_issuer is the provider),
 * FIXTURES/tokens/NAME.jwt tokens fetched from it; PATH is tests/idp/get-token.sh,
 * used for tokens that must be minted during the run (after a rotation, fresh
 * ones that no cache has seen). The provider's admin endpoints are driven with
 * curl. One part per process: libsasl2 reads the options once, at init.
 *
 * PART: basic     JWT (RS256, ES256, EdDSA; keys from discovery) and opaque tokens
 *                 (introspection) log in; wrong audience, missing scope, bad
 *                 signature, unknown opaque token are refused; nothing fetched
 *                 at init, discovery and JWKS fetched once.
 *       revoke    (run with oauth_cache_ttl 0) a revoked opaque token is refused.
 *       fork      init, fork, authenticate in the child (cold and warm parent).
 *       chroot    init, first login, then a child chroots into an empty
 *                 directory and authenticates (JWT and introspection).
 *       rotation  new signing keys accepted without restart; a flood of
 *                 made-up kids causes at most one JWKS fetch.
 *       outage    (run with oauth_timeout 1000) hang, 503, garbage and slow
 *                 answers are SASL_TRYAGAIN within the timeout, never SASL_OK.
 *       cache     (run with oauth_cache_ttl 5) a revoked opaque token is still
 *                 accepted while cached and refused once the entry is gone.
 *       withdraw  (run with oauth_jwks_max_age 5, oauth_cache_ttl 0) the provider
 *                 rotates and drops its old key: a token signed by it is refused
 *                 within max_age + a few seconds, a new one accepted; JWKS
 *                 fetches stay bounded; a failing /jwks leaves the last set in use. */
#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* An IdP outage must end within oauth_timeout (1000 ms in the outage part);
 * this bound leaves room for a slow machine, not for a second timeout. */
#define OUTAGE_MAX_MS 3000

static const char *get_token; /* tests/idp/get-token.sh */
static const char *issuer;    /* oauth_issuer = the provider's base URL */

/* ------------------------------------------------------------ shell helpers */

/* Runs a shell command; its stdout, trimmed, as a malloc'd string; NULL when
 * it fails (its stderr goes to ours). */
static char *shf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *shf(const char *fmt, ...)
{
    char cmd[8192], chunk[4096];
    struct buf b = {0};
    va_list ap;
    size_t n;
    FILE *p;
    int status;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fflush(stderr);
    p = popen(cmd, "r");
    if (!p) return NULL;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) b_add(&b, chunk, n);
    status = pclose(p);
    b_add(&b, "", 1);
    b.len--;
    while (b.len > 0 && (b.p[b.len - 1] == '\n' || b.p[b.len - 1] == '\r' || b.p[b.len - 1] == ' '))
        b.p[--b.len] = '\0';
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "# command failed (status %d): %.200s\n", status, cmd);
        b_free(&b);
        return NULL;
    }
    return b.p;
}

/* A fresh token of KIND from the provider (get-token.sh KIND); exits on failure. */
static char *mint(const char *kind)
{
    char *t = shf("'%s' '%s' %s", get_token, issuer, kind);
    if (!t || !*t) {
        t_check(0, t_name("the provider issues a %s token", kind), "get-token.sh failed");
        exit(t_summary());
    }
    return t;
}

/* POST to an admin endpoint (path with its query); 1 on success. */
static int admin_post(const char *path_query)
{
    char *out = shf("curl -sS -f -X POST '%s%s'", issuer, path_query);
    int ok = out != NULL;
    free(out);
    if (!ok) t_check(0, t_name("admin request %s", path_query), "curl failed");
    return ok;
}

static void idp_mode(const char *mode, const char *path, int delay_ms)
{
    char q[256];
    int n = snprintf(q, sizeof q, "/admin/mode?mode=%s", mode);
    if (path) n += snprintf(q + n, sizeof q - n, "&path=%s", path);
    if (delay_ms > 0) snprintf(q + n, sizeof q - n, "&delay=%d", delay_ms);
    admin_post(q);
}

/* Requests the provider has counted for PATH since the last reset; -1 on error. */
static long idp_counter(const char *path)
{
    char key[256], *json = shf("curl -sS -f '%s/admin/counters'", issuer), *p;
    long v = 0;
    if (!json) return -1;
    snprintf(key, sizeof key, "\"%s\":", path);
    p = strstr(json, key);
    if (p) v = strtol(p + strlen(key), NULL, 10);
    free(json);
    return v;
}

/* Revokes a token at the provider (as the client it was issued to). */
static int idp_revoke(const char *token)
{
    char *out = shf("curl -sS -f -u sasl-oauth-test:test-secret --data-urlencode 'token=%s' "
                    "'%s/token/revocation'", token, issuer);
    int ok = out != NULL;
    free(out);
    return ok;
}

/* The provider's own introspection answer for a token (malloc'd JSON or NULL). */
static char *idp_introspect(const char *token)
{
    return shf("curl -sS -u resource-server:rs-secret --data-urlencode 'token=%s' "
               "'%s/token/introspection'", token, issuer);
}

/* ------------------------------------------------------------ base64url, JWT */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url_encode(struct buf *out, const char *in, size_t len)
{
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < len) v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < len) v |= (unsigned char)in[i + 2];
        char q[4] = {b64chars[(v >> 18) & 63], b64chars[(v >> 12) & 63], b64chars[(v >> 6) & 63],
                     b64chars[v & 63]};
        b_add(out, q, len - i >= 3 ? 4 : len - i + 1);
    }
}

/* The decoded header of a JWT, NUL-terminated into out. */
static void jwt_header(const char *jwt, char *out, size_t outlen)
{
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;
    for (const char *p = jwt; *p && *p != '.'; p++) {
        const char *c = strchr(b64chars, *p);
        if (!c) break;
        acc = (acc << 6) | (unsigned)(c - b64chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 < outlen) out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[n] = '\0';
}

static void jwt_kid(const char *jwt, char *kid, size_t len)
{
    char header[1024];
    jwt_header(jwt, header, sizeof header);
    if (!t_json_field(header, "kid", kid, len)) kid[0] = '\0';
}

/* ------------------------------------------------------------ logins */

struct result {
    int rc;          /* the server's last return code */
    int client_rc;
    int rounds;      /* server calls */
    long ms;         /* wall time of the whole exchange */
    char user[128];  /* SASL_USERNAME after SASL_OK */
    char detail[512];
    char challenge[1024];
};

static long elapsed_ms(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1000L + (b->tv_nsec - a->tv_nsec) / 1000000L;
}

/* One client-first exchange: client authid alice, no authzid, TOKEN as password. */
static void login(const char *mech, const char *token, struct result *r)
{
    struct creds cr = {.authid = "alice", .authzid = NULL, .token = token};
    sasl_conn_t *c, *s;
    struct timespec a, b;
    const char *u = NULL;
    struct hs hs;

    memset(r, 0, sizeof *r);
    c = t_client_new(&cr);
    s = t_server_new(NULL);
    clock_gettime(CLOCK_MONOTONIC, &a);
    t_handshake(c, s, mech, NULL, NULL, &hs);
    clock_gettime(CLOCK_MONOTONIC, &b);
    r->rc = hs.server_rc;
    r->client_rc = hs.client_rc;
    r->rounds = hs.rounds;
    r->ms = elapsed_ms(&a, &b);
    if (r->rc == SASL_OK && sasl_getprop(s, SASL_USERNAME, (const void **)&u) == SASL_OK && u)
        snprintf(r->user, sizeof r->user, "%s", u);
    snprintf(r->detail, sizeof r->detail, "%s", t_detail(s));
    snprintf(r->challenge, sizeof r->challenge, "%s", hs.challenge);
    sasl_dispose(&c);
    sasl_dispose(&s);
    t_creds_free(&cr);
}

static int want_ok(const struct result *r, const char *name)
{
    return t_check(r->rc == SASL_OK && strcmp(r->user, "alice") == 0, name,
                   "expected SASL_OK as alice, got %s as '%s' after %d server call(s), %ld ms "
                   "(errdetail: %s; challenge: %s)",
                   t_rcname(r->rc), r->user, r->rounds, r->ms, r->detail, r->challenge);
}

/* A refused login: an error challenge with STATUS (SASL_CONTINUE), the client's
 * answer, then SASL_BADAUTH with WHY in the errdetail. */
static int want_refused(const struct result *r, const char *status, const char *why,
                        const char *name)
{
    char got[64] = "";
    t_json_field(r->challenge, "status", got, sizeof got);
    return t_check(r->rc == SASL_BADAUTH && r->rounds == 2 && strcmp(got, status) == 0 &&
                       t_contains_ci(r->detail, why),
                   name,
                   "expected challenge status %s then SASL_BADAUTH with \"%s\"; got %s after %d "
                   "server call(s) (challenge: %s; errdetail: %s)",
                   status, why, t_rcname(r->rc), r->rounds, r->challenge, r->detail);
}

/* A temporary failure: SASL_TRYAGAIN from the first server call (no challenge
 * round), within max_ms. */
static int want_tryagain(const struct result *r, long max_ms, const char *name)
{
    int ok = t_check(r->rc == SASL_TRYAGAIN && r->rounds == 1 && r->ms <= max_ms, name,
                     "expected SASL_TRYAGAIN from the first server call within %ld ms; got %s "
                     "after %d server call(s), %ld ms (errdetail: %s; challenge: %s)",
                     max_ms, t_rcname(r->rc), r->rounds, r->ms, r->detail, r->challenge);
    printf("#   %s: %s in %ld ms, errdetail: %s\n", name, t_rcname(r->rc), r->ms, r->detail);
    return ok;
}

/* ------------------------------------------------------------ child processes */

#define MAX_LOGINS 8
struct job {
    int n;
    struct {
        const char *mech, *token;
    } login[MAX_LOGINS];
    const char *jail; /* chroot here first (NULL: no chroot) */
    const char *flood; /* then flood(flood, flood_n) (NULL: none) */
    int flood_n;
};

struct flood_result {
    int refused;  /* SASL_BADAUTH naming the kid */
    int accepted; /* SASL_OK: must never happen */
    char first[600]; /* the first result and errdetail */
};

struct child_report {
    int jailed;      /* 1: chroot done and / is empty; 0: no chroot asked; <0: -errno */
    int n;
    struct result r[MAX_LOGINS];
    struct flood_result flood;
};

static void flood(const char *jwt, int n, struct flood_result *out);

/* Is "/" an empty directory (only . and ..)? */
static int root_is_empty(void)
{
    DIR *d = opendir("/");
    struct dirent *e;
    int entries = 0;
    if (!d) return 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) entries++;
    closedir(d);
    return entries == 0;
}

/* Forks; the child (optionally chrooted) does the logins of JOB and sends the
 * results back through a pipe, then exits 0. Returns 1 when the child ran to
 * its end (checked: exit status 0 and a whole report). */
static int in_child(const struct job *job, struct child_report *rep, const char *name)
{
    int fd[2], status = 0;
    size_t got = 0;
    ssize_t n;
    pid_t pid;

    memset(rep, 0, sizeof *rep);
    if (pipe(fd) != 0) return t_check(0, name, "pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) return t_check(0, name, "fork: %s", strerror(errno));
    if (pid == 0) {
        struct child_report me;
        size_t off = 0;
        memset(&me, 0, sizeof me);
        close(fd[0]);
        alarm(30); /* a hang in the child becomes SIGALRM, seen by the parent */
        if (job->jail) {
            if (chroot(job->jail) != 0 || chdir("/") != 0)
                me.jailed = -errno;
            else
                me.jailed = root_is_empty() ? 1 : -ENOTEMPTY;
        }
        if (me.jailed >= 0) {
            for (int i = 0; i < job->n; i++, me.n++)
                login(job->login[i].mech, job->login[i].token, &me.r[i]);
            if (job->flood) flood(job->flood, job->flood_n, &me.flood);
        }
        while (off < sizeof me) {
            n = write(fd[1], (char *)&me + off, sizeof me - off);
            if (n <= 0) _exit(3);
            off += (size_t)n;
        }
        _exit(0);
    }
    close(fd[1]);
    while (got < sizeof *rep && (n = read(fd[0], (char *)rep + got, sizeof *rep - got)) > 0)
        got += (size_t)n;
    close(fd[0]);
    waitpid(pid, &status, 0);
    return t_check(WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == sizeof *rep, name,
                   "child %s %d, report %zu of %zu bytes",
                   WIFSIGNALED(status) ? "killed by signal" : "exit status",
                   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), got,
                   sizeof *rep);
}

/* ------------------------------------------------------------ helpers */

static int threads(void)
{
    char line[256];
    int n = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    fclose(f);
    return n;
}

static void init_both(void)
{
    t_server_init(1);
    t_client_init();
}

static const char *const mechs[] = {"OAUTHBEARER", "XOAUTH2"};

/* ------------------------------------------------------------ parts */

static void part_basic(void)
{
    static const char *const jwts[] = {"rs256", "es256", "eddsa"};
    struct result r;
    long disc, jwks, intro;
    char *tok, *bad;

    admin_post("/admin/counters/reset");
    init_both();
    t_check(threads() == 1, "no thread started at init", "%d threads after sasl_server_init",
            threads());
    disc = idp_counter("/.well-known/openid-configuration");
    jwks = idp_counter("/jwks");
    t_check(disc == 0 && jwks == 0, "nothing fetched at init (the network is used lazily)",
            "discovery fetched %ld times, JWKS %ld times", disc, jwks);

    for (int m = 0; m < 2; m++) {
        for (size_t i = 0; i < sizeof jwts / sizeof *jwts; i++) {
            tok = t_token(jwts[i]);
            login(mechs[m], tok, &r);
            want_ok(&r, t_name("%s: JWT %s from the provider (keys from discovery) logs in as alice",
                               mechs[m], jwts[i]));
            free(tok);
        }
        tok = t_token("opaque");
        login(mechs[m], tok, &r);
        want_ok(&r, t_name("%s: opaque token (introspection, discovered endpoint) logs in as alice",
                           mechs[m]));
        free(tok);
    }
    disc = idp_counter("/.well-known/openid-configuration");
    jwks = idp_counter("/jwks");
    intro = idp_counter("/token/introspection");
    t_check(disc == 1 && jwks == 1, "discovery and the JWKS fetched once for six JWT logins",
            "discovery fetched %ld times, JWKS %ld times", disc, jwks);
    t_check(intro == 1, "the opaque token was introspected once for two logins (cached)",
            "%ld introspection requests", intro);
    printf("# threads after logins over HTTP: %d\n", threads());

    tok = t_token("wrong-aud");
    login("OAUTHBEARER", tok, &r);
    want_refused(&r, "invalid_token", "audience", "JWT for another audience is refused");
    t_check_no_leak(tok, NULL, NULL, r.challenge, "JWT for another audience");
    login("XOAUTH2", tok, &r);
    want_refused(&r, "401", "audience", "XOAUTH2: JWT for another audience is refused");
    free(tok);

    tok = t_token("opaque-other");
    login("OAUTHBEARER", tok, &r);
    want_refused(&r, "invalid_token", "audience",
                 "opaque token for another audience is refused (aud from introspection)");
    t_check_no_leak(tok, NULL, NULL, r.challenge, "opaque token for another audience");
    free(tok);

    tok = t_token("no-scope");
    login("OAUTHBEARER", tok, &r);
    want_refused(&r, "insufficient_scope", "scope", "JWT without the scope mail is refused");
    free(tok);

    /* A real token with one signature character changed (the middle one, so
     * that it is not just padding bits). */
    tok = t_token("rs256");
    bad = strdup(tok);
    {
        char *sig = strrchr(bad, '.') + 1;
        size_t mid = strlen(sig) / 2;
        sig[mid] = sig[mid] == 'A' ? 'B' : 'A';
    }
    login("OAUTHBEARER", bad, &r);
    want_refused(&r, "invalid_token", "signature", "JWT with a altered signature is refused");
    free(bad);
    free(tok);

    login("OAUTHBEARER", "made-up-opaque-token-0123456789", &r);
    want_refused(&r, "invalid_token", "not active",
                 "an opaque token unknown to the provider is refused (active: false)");
}

/* oauth_cache_ttl 0: every login asks the provider, a revocation counts at once. */
static void part_revoke(void)
{
    struct result r;
    char *tok, *json;
    long before, after;

    init_both();
    tok = mint("opaque");
    before = idp_counter("/token/introspection");
    login("OAUTHBEARER", tok, &r);
    want_ok(&r, "cache off: opaque token logs in");
    login("XOAUTH2", tok, &r);
    want_ok(&r, "cache off: the same opaque token logs in again");
    after = idp_counter("/token/introspection");
    t_check(after - before == 2, "cache off: each login introspected the token",
            "%ld introspection requests for two logins", after - before);

    t_check(idp_revoke(tok), "the provider revokes the token", "revocation request failed");
    json = idp_introspect(tok);
    t_check(json && strstr(json, "\"active\":false"), "the provider now says active: false",
            "introspection answered %s", json ? json : "(nothing)");
    free(json);
    login("OAUTHBEARER", tok, &r);
    want_refused(&r, "invalid_token", "not active", "cache off: the revoked opaque token is refused");
    t_check_no_leak(tok, NULL, NULL, r.challenge, "revoked opaque token");
    login("XOAUTH2", tok, &r);
    want_refused(&r, "401", "not active", "cache off: XOAUTH2 refuses the revoked opaque token too");
    free(tok);
}

static void check_child_logins(const struct child_report *rep, const struct job *job,
                               const char *what)
{
    for (int i = 0; i < job->n; i++)
        want_ok(&rep->r[i], t_name("%s: %s %s logs in as alice", what, job->login[i].mech,
                                   strncmp(job->login[i].token, "ey", 2) == 0 ? "JWT" : "opaque token"));
}

/* Servers fork after SASL init (Cyrus prefork, Postfix): a child must work
 * whether or not the parent has used the network before the fork. */
static void part_fork(void)
{
    struct child_report rep;
    struct result r;
    struct job job;
    char *j1 = mint("jwt"), *o1 = mint("opaque"), *j2 = mint("jwt"), *o2 = mint("opaque");
    char *j3 = mint("jwt-es256"), *o3 = mint("opaque"), *o4 = mint("opaque");

    init_both();
    /* Cold: the parent has fetched nothing; the child discovers on its own. */
    job = (struct job){.n = 3,
                       .login = {{"OAUTHBEARER", j1}, {"OAUTHBEARER", o1}, {"XOAUTH2", j1}}};
    if (in_child(&job, &rep, "init, fork: the child (parent cold) ran its logins"))
        check_child_logins(&rep, &job, "child of a cold parent");

    /* The parent is unchanged by its child: it fetches for itself. */
    login("OAUTHBEARER", j2, &r);
    want_ok(&r, "parent after its child: JWT logs in");
    login("OAUTHBEARER", o2, &r);
    want_ok(&r, "parent after its child: opaque token logs in (its own HTTP connection)");

    /* Warm: keys, discovery and an HTTP connection are in the parent's memory. */
    job = (struct job){.n = 3,
                       .login = {{"OAUTHBEARER", j3}, {"OAUTHBEARER", o3}, {"XOAUTH2", o2}}};
    if (in_child(&job, &rep, "fork after logins: the child (parent warm) ran its logins"))
        check_child_logins(&rep, &job, "child of a warm parent");

    login("OAUTHBEARER", o4, &r);
    want_ok(&r, "parent after a warm child: a fresh opaque token logs in");

    free(j1), free(o1), free(j2), free(o2), free(j3), free(o3), free(o4);
}

/* Postfix's smtpd chroots after SASL init into a jail without CA bundle or
 * resolver files: everything read from files was read at init, the network
 * (here plain http to 127.0.0.1) still works. The child is jailed, not us. */
static void part_chroot(void)
{
    char jail[] = "/tmp/sasl-oauth-jail.XXXXXX";
    struct child_report rep;
    struct result r;
    struct job job;
    char *j0 = mint("jwt"), *o0 = mint("opaque");
    char *j1 = mint("jwt"), *e1 = mint("jwt-eddsa"), *o1 = mint("opaque");
    char *jc = mint("jwt-es256"), *oc = mint("opaque");
    char *other = t_token("wrong-aud");

    if (geteuid() != 0) {
        t_check(1, "chroot # SKIP: not root", "%s", "");
        goto out;
    }
    if (!mkdtemp(jail)) {
        t_check(0, "an empty directory for the jail", "mkdtemp: %s", strerror(errno));
        goto out;
    }
    init_both();

    /* Cold: chroot right after init; discovery and keys are fetched in the jail. */
    job = (struct job){.n = 2, .login = {{"OAUTHBEARER", jc}, {"OAUTHBEARER", oc}}, .jail = jail};
    if (in_child(&job, &rep, "chroot right after init: the child ran its logins") &&
        t_check(rep.jailed == 1, "chroot right after init: the child is in an empty root",
                "chroot: %s", strerror(-rep.jailed)))
        check_child_logins(&rep, &job, "jailed right after init");

    /* Warm: a first login fetched discovery and the JWKS before the chroot. */
    login("OAUTHBEARER", j0, &r);
    want_ok(&r, "before the chroot: JWT logs in (discovery, JWKS fetched)");
    login("OAUTHBEARER", o0, &r);
    want_ok(&r, "before the chroot: opaque token logs in (introspection)");
    job = (struct job){.n = 4,
                       .login = {{"OAUTHBEARER", j1},
                                 {"XOAUTH2", e1},
                                 {"OAUTHBEARER", o1},
                                 {"OAUTHBEARER", other}},
                       .jail = jail};
    if (in_child(&job, &rep, "chroot after a first login: the child ran its logins") &&
        t_check(rep.jailed == 1, "chroot after a first login: the child is in an empty root",
                "chroot: %s", strerror(-rep.jailed))) {
        want_ok(&rep.r[0], "in the jail: a fresh RS256 JWT logs in (keys fetched before)");
        want_ok(&rep.r[1], "in the jail: a fresh EdDSA JWT logs in over XOAUTH2");
        want_ok(&rep.r[2], "in the jail: a fresh opaque token logs in (introspection over 127.0.0.1)");
        want_refused(&rep.r[3], "invalid_token", "audience",
                     "in the jail: a JWT for another audience is still refused");
    }
    login("OAUTHBEARER", o1, &r);
    want_ok(&r, "the parent (not jailed) still logs in");
    rmdir(jail);
out:
    free(j0), free(o0), free(j1), free(e1), free(o1), free(jc), free(oc), free(other);
}

/* N logins with JWT's claims and signature under headers naming made-up kids. */
static void flood(const char *jwt, int n, struct flood_result *out)
{
    char hdr[256];
    struct result r;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n; i++) {
        struct buf t = {0};
        int len = snprintf(hdr, sizeof hdr,
                           "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"made-up-%d-%ld\"}", i,
                           (long)getpid());
        b64url_encode(&t, hdr, (size_t)len);
        b_str(&t, strchr(jwt, '.'));
        login("OAUTHBEARER", t.p, &r);
        if (r.rc == SASL_BADAUTH && t_contains_ci(r.detail, "kid")) out->refused++;
        if (r.rc == SASL_OK) out->accepted++;
        if (i == 0) snprintf(out->first, sizeof out->first, "%s: %s", t_rcname(r.rc), r.detail);
        b_free(&t);
    }
}

/* The provider rotates its signing keys; the plugin, running, accepts the new
 * kids after one JWKS fetch. Tokens naming made-up kids must not make it fetch
 * the JWKS each time (at most once a minute). The flood runs in a child, so
 * that its refetch (if any) does not stand in the way of the parent's, a
 * minute being longer than this test. */
static void part_rotation(void)
{
    char kid_a[128], kid_b[128], kid_e[128];
    struct child_report rep;
    struct flood_result fl;
    struct result r;
    struct job job;
    char *a, *a2, *b, *e, *c;
    long jwks, base;

    admin_post("/admin/counters/reset");
    init_both();
    a = mint("jwt");
    a2 = mint("jwt");
    login("OAUTHBEARER", a, &r);
    want_ok(&r, "before rotation: JWT logs in");
    jwks = idp_counter("/jwks");
    t_check(jwks == 1, "before rotation: one JWKS fetch", "%ld JWKS fetches", jwks);

    /* The flood, in a child of the process that has the keys. */
    base = idp_counter("/jwks");
    job = (struct job){.n = 0, .flood = a, .flood_n = 50};
    if (in_child(&job, &rep, "a child with the keys ran the flood of made-up kids")) {
        printf("# first made-up kid: %s\n", rep.flood.first);
        t_check(rep.flood.refused == 50 && rep.flood.accepted == 0,
                "50 tokens with made-up kids are refused (unknown kid)",
                "%d refused naming the kid, %d accepted", rep.flood.refused, rep.flood.accepted);
        jwks = idp_counter("/jwks");
        printf("# JWKS fetches during the flood: %ld\n", jwks - base);
        t_check(jwks >= 0 && jwks - base <= 1, "50 made-up kids caused at most one JWKS fetch",
                "%ld JWKS fetches during the flood", jwks - base);
    }

    admin_post("/admin/rotate");
    b = mint("jwt");
    e = mint("jwt-es256");
    jwt_kid(a, kid_a, sizeof kid_a);
    jwt_kid(b, kid_b, sizeof kid_b);
    jwt_kid(e, kid_e, sizeof kid_e);
    t_check(kid_b[0] && strcmp(kid_a, kid_b) != 0, "a token minted after rotation has a new kid",
            "kid before %s, after %s", kid_a, kid_b);
    base = idp_counter("/jwks");
    login("OAUTHBEARER", b, &r);
    want_ok(&r, t_name("after rotation: RS256 JWT with the new kid %s logs in without restart",
                       kid_b));
    login("OAUTHBEARER", e, &r);
    want_ok(&r, t_name("after rotation: ES256 JWT with the new kid %s logs in", kid_e));
    login("OAUTHBEARER", a2, &r);
    want_ok(&r, "after rotation: a JWT signed with the old (still published) key logs in");
    jwks = idp_counter("/jwks");
    t_check(jwks - base == 1, "the rotation cost exactly one JWKS fetch",
            "%ld JWKS fetches for the new kids", jwks - base);

    /* A second wave right after that fetch: no fetch at all. */
    base = jwks;
    flood(b, 20, &fl);
    t_check(fl.refused == 20 && fl.accepted == 0,
            "after rotation: 20 more made-up kids are refused", "%d refused, %d accepted",
            fl.refused, fl.accepted);
    jwks = idp_counter("/jwks");
    t_check(jwks == base, "after rotation: 20 more made-up kids caused no JWKS fetch",
            "%ld JWKS fetches", jwks - base);

    c = mint("jwt");
    login("OAUTHBEARER", c, &r);
    want_ok(&r, "after the floods: a fresh JWT still logs in");
    free(a), free(a2), free(b), free(e), free(c);
}

struct outage {
    const char *mode;
    int delay_ms;
};
static const struct outage outages[] = {
    {"hang", 0},     /* never answers: the timeout must end it */
    {"error", 0},    /* 503 */
    {"garbage", 0},  /* 200 with a non-JSON body */
    {"slow", 2500},  /* answers, but after the timeout */
};
#define NOUTAGES (sizeof outages / sizeof *outages)

/* oauth_timeout 1000: an identity provider that hangs, fails, answers garbage
 * or too late is a temporary failure (SASL_TRYAGAIN) within about the timeout,
 * never an acceptance; the login after it is back works. */
static void part_outage(void)
{
    struct child_report rep;
    struct result r;
    struct job job;
    char *j0, *o0, *o, *j;

    init_both();
    /* Cold: nothing fetched yet, the provider misbehaves on every path. Each
     * mode in its own child, so that the parent stays cold and no earlier
     * failure (remembered for a few seconds) stands in for this one. */
    for (size_t i = 0; i < NOUTAGES; i++) {
        const char *m = outages[i].mode;
        j = mint("jwt");
        o = mint("opaque");
        idp_mode(m, NULL, outages[i].delay_ms);
        job = (struct job){.n = 2, .login = {{"OAUTHBEARER", j}, {"OAUTHBEARER", o}}};
        if (in_child(&job, &rep, t_name("outage %s, nothing fetched yet: the child ran", m))) {
            want_tryagain(&rep.r[0], OUTAGE_MAX_MS,
                          t_name("outage %s, discovery fails: a JWT gets SASL_TRYAGAIN", m));
            want_tryagain(&rep.r[1], OUTAGE_MAX_MS,
                          t_name("outage %s, discovery fails: an opaque token gets SASL_TRYAGAIN", m));
        }
        idp_mode("normal", NULL, 0);
        free(j);
        free(o);
    }

    /* Warm: discovery and keys fetched; introspection misbehaves. */
    j0 = mint("jwt");
    o0 = mint("opaque");
    login("OAUTHBEARER", j0, &r);
    want_ok(&r, "provider normal: JWT logs in");
    login("OAUTHBEARER", o0, &r);
    want_ok(&r, "provider normal: opaque token logs in");
    for (size_t i = 0; i < NOUTAGES; i++) {
        const char *m = outages[i].mode;
        o = mint("opaque");
        idp_mode(m, "/token/introspection", outages[i].delay_ms);
        login("OAUTHBEARER", o, &r);
        want_tryagain(&r, OUTAGE_MAX_MS,
                      t_name("outage %s at the introspection endpoint: a fresh opaque token gets "
                             "SASL_TRYAGAIN", m));
        if (i == 1) { /* once is enough: the same code path for every mode */
            login("XOAUTH2", o, &r);
            want_tryagain(&r, OUTAGE_MAX_MS,
                          t_name("outage %s at the introspection endpoint: XOAUTH2 too", m));
        }
        idp_mode("normal", NULL, 0);
        login("OAUTHBEARER", o, &r);
        want_ok(&r, t_name("after outage %s: the same token logs in (the failure was not kept)", m));
        free(o);
    }

    /* Every path misbehaves, but a JWT signed with a key fetched before needs
     * no request: it is verified locally (designed behaviour, not a lapse). */
    j = mint("jwt");
    idp_mode("error", NULL, 0);
    login("OAUTHBEARER", j, &r);
    want_ok(&r, "provider answering 503 everywhere: a fresh JWT with a known kid is verified locally");
    login("OAUTHBEARER", o0, &r);
    want_ok(&r, "provider answering 503 everywhere: an opaque token accepted before is served "
                "from the cache");
    idp_mode("normal", NULL, 0);

    /* Slow within the timeout is not an outage. */
    o = mint("opaque");
    idp_mode("slow", "/token/introspection", 300);
    login("OAUTHBEARER", o, &r);
    want_ok(&r, "introspection answering after 300 ms (timeout 1000 ms): opaque token logs in");
    idp_mode("normal", NULL, 0);
    free(j), free(o), free(j0), free(o0);
}

/* oauth_cache_ttl 5. The trade-off this shows: the cache saves one request to
 * the provider per login, but a token revoked at the provider is still
 * accepted until its entry expires, up to oauth_cache_ttl seconds after the
 * check that put it there (never past the token's exp). Where revocation must
 * take effect at once, set oauth_cache_ttl 0 and pay one introspection per
 * login (see the revoke part). JWTs are never asked about: revocation cannot
 * reach them at all before their exp; keep their lifetime short. */
static void part_cache(void)
{
    struct result r;
    struct timespec t0, now;
    long before, after, waited;
    char *tok, *json;

    init_both();
    tok = mint("opaque");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    login("OAUTHBEARER", tok, &r);
    want_ok(&r, "cache ttl 5: opaque token logs in (introspected, result cached)");

    t_check(idp_revoke(tok), "the provider revokes the token", "revocation request failed");
    json = idp_introspect(tok);
    t_check(json && strstr(json, "\"active\":false"), "the provider now says active: false",
            "introspection answered %s", json ? json : "(nothing)");
    free(json);

    before = idp_counter("/token/introspection");
    login("OAUTHBEARER", tok, &r);
    want_ok(&r, "revoked but cached: still accepted within the TTL (the trade-off)");
    login("XOAUTH2", tok, &r);
    want_ok(&r, "revoked but cached: XOAUTH2 shares the cache");
    after = idp_counter("/token/introspection");
    t_check(after == before, "cached logins did not ask the provider",
            "%ld introspection requests", after - before);

    /* The entry lives 5 s from the first check (whole seconds): wait past it. */
    clock_gettime(CLOCK_MONOTONIC, &now);
    waited = elapsed_ms(&t0, &now);
    if (waited < 6000) usleep((useconds_t)(6000 - waited) * 1000);
    login("OAUTHBEARER", tok, &r);
    want_refused(&r, "invalid_token", "not active",
                 "after the TTL: the revoked token is refused (introspected again)");
    login("OAUTHBEARER", tok, &r);
    want_refused(&r, "invalid_token", "not active", "the refusal is not cached as a success");
    free(tok);
}

/* Within max_age (5 s) + this, a withdrawn key must be refused. */
#define WITHDRAW_MAX_MS 9000

/* oauth_jwks_max_age 5, oauth_cache_ttl 0 (every login checks the signature).
 * The provider rotates and drops the old key: this process, which accepted a
 * token signed by it, must stop trusting it once its key set is older than
 * max_age, without a fetch per login; the provider's new key is accepted.
 * Then /jwks fails: the last good set keeps serving (oauth_jwks_max_stale). */
static void part_withdraw(void)
{
    struct timespec t0, now;
    struct result r;
    char *a, *a2, *b;
    long jwks, ms = 0;
    int logins = 0, accepted = 0;

    admin_post("/admin/counters/reset");
    init_both();
    a = mint("jwt");
    a2 = mint("jwt");
    login("OAUTHBEARER", a, &r);
    want_ok(&r, "before the withdrawal: a JWT logs in");

    admin_post("/admin/rotate?drop_old=1");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    b = mint("jwt");
    /* Another token of the withdrawn key, every 250 ms, until it is refused. */
    for (;;) {
        login("OAUTHBEARER", a2, &r);
        logins++;
        clock_gettime(CLOCK_MONOTONIC, &now);
        ms = elapsed_ms(&t0, &now);
        if (r.rc != SASL_OK || ms > WITHDRAW_MAX_MS) break;
        accepted++;
        usleep(250 * 1000);
    }
    printf("# withdrawn key: accepted %d time(s), then %s after %ld ms (%s)\n", accepted,
           t_rcname(r.rc), ms, r.detail);
    want_refused(&r, "invalid_token", "kid",
                 t_name("a JWT signed by the withdrawn key is refused within %d ms",
                        WITHDRAW_MAX_MS));
    t_check(ms <= WITHDRAW_MAX_MS, "the refusal came within max_age + 4 s", "after %ld ms", ms);
    login("OAUTHBEARER", a, &r);
    want_refused(&r, "invalid_token", "kid",
                 "the JWT accepted before the withdrawal is refused now");
    login("OAUTHBEARER", b, &r);
    want_ok(&r, "a JWT signed by the provider's new key logs in");
    logins += 2;
    jwks = idp_counter("/jwks");
    printf("# %ld JWKS fetches for %d logins\n", jwks, logins + 1);
    t_check(jwks >= 2 && jwks <= 3 && logins >= 10,
            "JWKS fetches are bounded by max_age, not one per login",
            "%ld JWKS fetches for %d logins", jwks, logins + 1);

    /* The set fetched at the refusal expires; the refetch fails. */
    idp_mode("error", "/jwks", 0);
    usleep(6 * 1000 * 1000);
    t_log_clear();
    login("OAUTHBEARER", b, &r);
    want_ok(&r, "/jwks failing after max_age: the last good key set still serves "
                "(within oauth_jwks_max_stale)");
    t_check(t_log_contains("using signing keys") && t_log_contains("oauth_jwks_max_stale"),
            "the stale key set is used with a warning in the log", "no such log line");
    t_check(idp_counter("/jwks") > jwks, "the expired set was asked for again",
            "no JWKS request after the set expired");
    idp_mode("normal", NULL, 0);
    free(a), free(a2), free(b);
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    const char *part = NULL;

    t_init(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--part") == 0 && i + 1 < argc) {
            part = argv[++i];
        } else if (strcmp(argv[i], "--get-token") == 0 && i + 1 < argc) {
            get_token = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
            char *kv = strdup(argv[++i]), *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "--set needs KEY=VALUE\n");
                return 2;
            }
            *eq = '\0';
            t_opt_set(kv, eq + 1);
            free(kv);
        } else {
            fprintf(stderr, "unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    issuer = t_opt_get("oauth_issuer");
    if (!part || !get_token || !issuer) {
        fprintf(stderr, "usage: %s PLUGIN_DIR FIXTURES --part "
                        "basic|revoke|fork|chroot|rotation|outage|cache|withdraw --get-token PATH "
                        "[--set KEY=VALUE]... (server.conf must set oauth_issuer)\n",
                argv[0]);
        return 2;
    }

    if (strcmp(part, "basic") == 0) part_basic();
    else if (strcmp(part, "revoke") == 0) part_revoke();
    else if (strcmp(part, "fork") == 0) part_fork();
    else if (strcmp(part, "chroot") == 0) part_chroot();
    else if (strcmp(part, "rotation") == 0) part_rotation();
    else if (strcmp(part, "outage") == 0) part_outage();
    else if (strcmp(part, "cache") == 0) part_cache();
    else if (strcmp(part, "withdraw") == 0) part_withdraw();
    else {
        fprintf(stderr, "unknown part %s\n", part);
        return 2;
    }
    t_done();
    return t_summary();
}
