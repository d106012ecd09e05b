/* No panic crosses the C boundary (docs/protocol.md §6.3). With the plugin built
 * with the test-hooks feature (`make plugin-hooks`), the token
 * `sasl-oauth-test-panic` makes the server's validator panic. The FFI guard
 * must turn that into SASL_FAIL with an errdetail saying "internal error",
 * the process must stay alive, and the same process must then complete good
 * exchanges (no lock left poisoned, no state left half-changed): one after
 * another, after a hundred panics, and with threads panicking while others log
 * in.
 *
 * Usage: test_panic HOOKS_PLUGIN_DIR FIXTURES
 */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PANIC_TOKEN "sasl-oauth-test-panic"

static char *good;

/* Own callbacks: the harness's log callback (common.c) is not thread-safe. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct buf logs; /* every log line, for the leak check */

static int cb_log(void *ctx, int level, const char *message)
{
    (void)ctx, (void)level;
    t_logdir_write("log", message);
    pthread_mutex_lock(&log_lock);
    b_str(&logs, message ? message : "");
    b_str(&logs, "\n");
    pthread_mutex_unlock(&log_lock);
    return SASL_OK;
}

static sasl_callback_t global_cbs[] = {
    {SASL_CB_GETPATH, CB(t_cb_getpath), NULL},
    {SASL_CB_LOG, CB(cb_log), NULL},
    {SASL_CB_GETOPT, CB(t_cb_getopt), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

/* Real mutexes for libsasl2, as a threaded server (slapd) gives it. */
static void *m_alloc(void)
{
    pthread_mutex_t *m = malloc(sizeof *m);
    if (m) pthread_mutex_init(m, NULL);
    return m;
}
static int m_lock(void *m) { return pthread_mutex_lock(m) == 0 ? SASL_OK : SASL_FAIL; }
static int m_unlock(void *m) { return pthread_mutex_unlock(m) == 0 ? SASL_OK : SASL_FAIL; }
static void m_free(void *m)
{
    pthread_mutex_destroy(m);
    free(m);
}

/* Server start with `msg`; returns the rc, the errdetail into `detail`. */
static int server_once(const char *mech, const char *msg, size_t len, char *detail, size_t n)
{
    sasl_conn_t *s = NULL;
    const char *out = NULL;
    unsigned outlen = 0;
    int rc;
    if (sasl_server_new(SERVICE, SERVER_FQDN, NULL, NULL, NULL, NULL, 0, &s) != SASL_OK) return -999;
    rc = sasl_server_start(s, mech, msg, (unsigned)len, &out, &outlen);
    if (rc == SASL_OK && detail) {
        const char *u = NULL;
        sasl_getprop(s, SASL_USERNAME, (const void **)&u);
        snprintf(detail, n, "%s", u ? u : "");
    } else if (detail) {
        snprintf(detail, n, "%s", t_detail(s));
    }
    sasl_dispose(&s);
    return rc;
}

static void message(struct buf *m, const char *mech, const char *tok)
{
    m->len = 0;
    if (strcmp(mech, "OAUTHBEARER") == 0) {
        b_str(m, "n,," KV "auth=Bearer ");
        b_str(m, tok);
        b_str(m, KV KV);
    } else if (strcmp(mech, "XOAUTH2") == 0) {
        b_str(m, "user=alice" KV "auth=Bearer ");
        b_str(m, tok);
        b_str(m, KV KV);
    } else {
        b_str(m, "GET / HTTP/1.1\r\nHost: " SERVER_FQDN "\r\nAuthorization: Bearer ");
        b_str(m, tok);
        b_str(m, "\r\n\r\n");
    }
}

static int good_login(const char *mech, char *user, size_t n)
{
    struct buf m = {0};
    int rc;
    message(&m, mech, good);
    rc = server_once(mech, m.p, m.len, user, n);
    b_free(&m);
    return rc;
}

static void panics(const char *mech)
{
    struct buf m = {0};
    char d[1024], user[256];
    int rc;

    message(&m, mech, PANIC_TOKEN);
    rc = server_once(mech, m.p, m.len, d, sizeof d);
    t_check(rc == SASL_FAIL, t_name("%s: a panicking validator gives SASL_FAIL", mech), "got %s (errdetail \"%s\")",
            t_rcname(rc), d);
    t_check(t_contains_ci(d, "internal error"), t_name("%s: errdetail says internal error", mech),
            "errdetail \"%s\"", d);
    t_check(strstr(d, PANIC_TOKEN) == NULL, t_name("%s: errdetail does not hold the token", mech),
            "errdetail \"%s\"", d);
    rc = good_login(mech, user, sizeof user);
    t_check(rc == SASL_OK && strcmp(user, "alice") == 0,
            t_name("%s: the same process then logs alice in", mech), "got %s, user \"%s\"", t_rcname(rc), user);
    b_free(&m);
}

/* Through our client plugin too: the client sends the panic token. */
static void client_panics(void)
{
    struct creds cr = {.authid = "alice", .token = PANIC_TOKEN};
    sasl_conn_t *c = t_client_new(&cr), *s = t_server_new(NULL);
    struct hs hs;
    t_handshake(c, s, "OAUTHBEARER", NULL, NULL, &hs);
    t_check(hs.server_rc == SASL_FAIL, "client<->server OAUTHBEARER, panic token: server SASL_FAIL",
            "server %s", t_rcname(hs.server_rc));
    t_check_detail(s, "internal error", "client<->server OAUTHBEARER, panic token: errdetail says internal error");
    t_check_no_leak(PANIC_TOKEN, s, c, hs.challenge, "client<->server OAUTHBEARER, panic token");
    sasl_dispose(&c);
    sasl_dispose(&s);
    t_creds_free(&cr);

    cr = (struct creds){.authid = "alice", .token = good};
    c = t_client_new(&cr);
    s = t_server_new(NULL);
    t_handshake(c, s, "OAUTHBEARER", NULL, NULL, &hs);
    t_check_rc(hs.server_rc, SASL_OK, "client<->server OAUTHBEARER after the panic: SASL_OK", s);
    t_check_prop(s, SASL_USERNAME, "alice", "client<->server OAUTHBEARER after the panic: SASL_USERNAME alice");
    sasl_dispose(&c);
    sasl_dispose(&s);
    t_creds_free(&cr);
}

/* Threads: half panic, half log in, at the same time. */
struct tres {
    int id;
    long panics_ok, panics_bad, logins_ok, logins_bad;
};

static void *worker(void *arg)
{
    struct tres *r = arg;
    static const char *const mechs[] = {"OAUTHBEARER", "XOAUTH2", "OAUTH"};
    struct buf m = {0};
    char d[512];
    for (int i = 0; i < 200; i++) {
        const char *mech = mechs[(i + r->id) % 3];
        int rc;
        if ((i + r->id) % 2) {
            message(&m, mech, PANIC_TOKEN);
            rc = server_once(mech, m.p, m.len, d, sizeof d);
            if (rc == SASL_FAIL && t_contains_ci(d, "internal error")) r->panics_ok++;
            else r->panics_bad++;
        } else {
            message(&m, mech, good);
            rc = server_once(mech, m.p, m.len, d, sizeof d);
            if (rc == SASL_OK && strcmp(d, "alice") == 0) r->logins_ok++;
            else r->logins_bad++;
        }
    }
    b_free(&m);
    return NULL;
}

static void threads(void)
{
    enum { N = 4 };
    pthread_t th[N];
    struct tres r[N];
    long pok = 0, pbad = 0, lok = 0, lbad = 0;
    memset(r, 0, sizeof r);
    for (int i = 0; i < N; i++) {
        r[i].id = i;
        if (pthread_create(&th[i], NULL, worker, &r[i]) != 0) {
            t_check(0, "pthread_create", "failed");
            return;
        }
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        pok += r[i].panics_ok, pbad += r[i].panics_bad, lok += r[i].logins_ok, lbad += r[i].logins_bad;
    }
    t_check(pbad == 0 && pok == 400, "4 threads: every panic gives SASL_FAIL with \"internal error\"",
            "%ld right, %ld wrong", pok, pbad);
    t_check(lbad == 0 && lok == 400, "4 threads: every good login meanwhile gives SASL_OK alice",
            "%ld right, %ld wrong", lok, lbad);
}

int main(int argc, char **argv)
{
    static const char *const mechs[] = {"OAUTHBEARER", "XOAUTH2", "OAUTH"};
    char user[256];
    int rc, bad = 0;

    t_init(argc, argv);
    good = t_token("rs256");
    /* the cache would answer a repeated good token without the validator */
    t_opt_set("oauth_cache_ttl", "0");
    t_opt_set("oauth_authorization_endpoint", "https://issuer.example.test/oauth2/authorize");
    t_opt_set("oauth_token_endpoint", "https://issuer.example.test/oauth2/token");
    sasl_set_mutex(m_alloc, m_lock, m_unlock, m_free);
    if (!t_check(sasl_server_init(global_cbs, NULL) == SASL_OK, "sasl_server_init", "failed") ||
        !t_check(sasl_client_init(global_cbs) == SASL_OK, "sasl_client_init", "failed"))
        return t_summary();

    rc = good_login("OAUTHBEARER", user, sizeof user);
    t_check(rc == SASL_OK && strcmp(user, "alice") == 0, "a good login before any panic",
            "got %s, user \"%s\"", t_rcname(rc), user);
    for (size_t i = 0; i < sizeof mechs / sizeof *mechs; i++) panics(mechs[i]);
    client_panics();

    /* A hundred panics in a row, then good logins still work. */
    for (int i = 0; i < 100; i++) {
        struct buf m = {0};
        message(&m, "OAUTHBEARER", PANIC_TOKEN);
        if (server_once("OAUTHBEARER", m.p, m.len, NULL, 0) != SASL_FAIL) bad++;
        b_free(&m);
    }
    t_check(bad == 0, "100 panics in a row: each SASL_FAIL", "%d not SASL_FAIL", bad);
    for (size_t i = 0; i < sizeof mechs / sizeof *mechs; i++) {
        rc = good_login(mechs[i], user, sizeof user);
        t_check(rc == SASL_OK && strcmp(user, "alice") == 0,
                t_name("%s: good login after 100 panics", mechs[i]), "got %s, user \"%s\"", t_rcname(rc), user);
    }
    threads();
    t_check(getpid() > 0, "the process is alive at the end", "-");
    t_check(!logs.p || strstr(logs.p, PANIC_TOKEN) == NULL, "no log line holds the panic token",
            "found in the log");
    t_check(logs.p && t_contains_ci(logs.p, "internal error"), "the panic is logged as an internal error",
            "no log line says internal error");

    free(good);
    b_free(&logs);
    t_done();
    return t_summary();
}
