/* Concurrency (docs/protocol.md §6.3): one sasl_server_init and one sasl_client_init, then
 * THREADS threads each doing many exchanges at once, as slapd calls a plugin
 * from its worker threads. Each thread has its own connections; the cases mix
 * good, refused (expired, bad signature, wrong audience, missing scope,
 * alg none, unknown kid, authzid not allowed) and malformed messages over
 * OAUTHBEARER, XOAUTH2 and OAUTH, raw messages and our client plugin. Every
 * result must be right: a good token gives SASL_OK with its own user as
 * SASL_USERNAME (never another thread's), a refused one the error challenge
 * then SASL_BADAUTH with the reason in the errdetail.
 *
 * Like slapd, the application gives libsasl2 real mutexes (sasl_set_mutex).
 *
 * Usage: test_threads PLUGIN_DIR FIXTURES [--iterations N] [--threads T] [--no-cache]
 *   --iterations N  exchanges per thread (default 20000)
 *   --no-cache      oauth_cache_ttl 0: every good token is verified again
 *                   (its own run: libsasl2 reads the options once per process)
 * Under helgrind: memcheck.sh --helgrind runs it with few iterations.
 */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum kind { GOOD, REFUSED, PROXY, BADPROT };
enum path { RAW, CLIENT };

struct tcase {
    const char *name;
    const char *mech;
    enum path path;
    const char *token;   /* fixture token name; "" for discovery */
    const char *authzid; /* a= / user= / User:, or NULL */
    enum kind kind;
    const char *want;    /* GOOD: SASL_USERNAME; REFUSED: errdetail substring */
};

static const struct tcase cases[] = {
    {"OAUTHBEARER rs256 -> alice", "OAUTHBEARER", RAW, "rs256", NULL, GOOD, "alice"},
    {"OAUTHBEARER ps256 a=alice -> alice", "OAUTHBEARER", RAW, "ps256", "alice", GOOD, "alice"},
    {"OAUTHBEARER es256 -> alice", "OAUTHBEARER", RAW, "es256", NULL, GOOD, "alice"},
    {"OAUTHBEARER eddsa -> alice", "OAUTHBEARER", RAW, "eddsa", NULL, GOOD, "alice"},
    {"OAUTHBEARER bob -> bob", "OAUTHBEARER", RAW, "bob", NULL, GOOD, "bob"},
    {"XOAUTH2 user=alice rs256 -> alice", "XOAUTH2", RAW, "rs256", "alice", GOOD, "alice"},
    {"XOAUTH2 user=bob bob -> bob", "XOAUTH2", RAW, "bob", "bob", GOOD, "bob"},
    {"XOAUTH2 user=bob with alice's token -> SASL_BADAUTH", "XOAUTH2", RAW, "rs256", "bob", PROXY, NULL},
    {"OAUTHBEARER a=alice with bob's token -> SASL_BADAUTH", "OAUTHBEARER", RAW, "bob", "alice", PROXY, NULL},
    {"OAUTHBEARER expired -> refused", "OAUTHBEARER", RAW, "expired", NULL, REFUSED, "expired"},
    {"XOAUTH2 expired -> refused", "XOAUTH2", RAW, "expired", "alice", REFUSED, "expired"},
    {"OAUTHBEARER bad signature -> refused", "OAUTHBEARER", RAW, "bad-sig", NULL, REFUSED, "signature"},
    {"XOAUTH2 wrong audience -> refused", "XOAUTH2", RAW, "wrong-aud", "alice", REFUSED, "audience"},
    {"OAUTHBEARER missing scope -> refused", "OAUTHBEARER", RAW, "no-scope", NULL, REFUSED, "scope"},
    {"XOAUTH2 alg none -> refused", "XOAUTH2", RAW, "alg-none", "alice", REFUSED, "algorithm"},
    {"OAUTHBEARER unknown kid -> refused", "OAUTHBEARER", RAW, "unknown-kid", NULL, REFUSED, "kid"},
    {"OAUTHBEARER discovery -> refused", "OAUTHBEARER", RAW, "", NULL, REFUSED, "no token"},
    {"OAUTH User: alice eddsa -> alice", "OAUTH", RAW, "eddsa", "alice", GOOD, "alice"},
    {"OAUTH bob -> bob", "OAUTH", RAW, "bob", NULL, GOOD, "bob"},
    {"OAUTH expired -> refused", "OAUTH", RAW, "expired", NULL, REFUSED, "expired"},
    {"OAUTHBEARER NUL byte -> SASL_BADPROT", "OAUTHBEARER", RAW, "rs256", NULL, BADPROT, "NUL"},
    {"client<->server OAUTHBEARER es256 -> alice", "OAUTHBEARER", CLIENT, "es256", NULL, GOOD, "alice"},
    {"client<->server XOAUTH2 bob -> bob", "XOAUTH2", CLIENT, "bob", "bob", GOOD, "bob"},
    {"client<->server OAUTHBEARER expired -> refused", "OAUTHBEARER", CLIENT, "expired", NULL, REFUSED, "expired"},
    {"client<->server OAUTH rs256 -> alice", "OAUTH", CLIENT, "rs256", NULL, GOOD, "alice"},
};
#define NCASES ((int)(sizeof cases / sizeof *cases))

static char *tokens[NCASES];
static long iterations = 20000;
static int nthreads = 8;

/* ------------------------------------------------------------ callbacks */

static long log_lines;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* Whether this thread's log lines and errdetails go to SASL_OAUTH_TEST_LOGDIR:
 * only during its first KEEP_LOGS exchanges (every case is covered by then;
 * hundreds of thousands of copies would only slow the threads down). */
#define KEEP_LOGS 200
static __thread int keep_logs = 1;

static int cb_log(void *ctx, int level, const char *message)
{
    (void)ctx, (void)level;
    pthread_mutex_lock(&log_lock);
    log_lines++;
    pthread_mutex_unlock(&log_lock);
    if (keep_logs) t_logdir_write("log", message);
    return SASL_OK;
}

static sasl_callback_t global_cbs[] = {
    {SASL_CB_GETPATH, CB(t_cb_getpath), NULL},
    {SASL_CB_LOG, CB(cb_log), NULL},
    {SASL_CB_GETOPT, CB(t_cb_getopt), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

/* Real mutexes for libsasl2, as slapd gives it (its defaults lock nothing). */
static void *m_alloc(void)
{
    pthread_mutex_t *m = malloc(sizeof *m);
    if (m) pthread_mutex_init(m, NULL);
    return m;
}
static int m_lock(void *m)
{
    return pthread_mutex_lock(m) == 0 ? SASL_OK : SASL_FAIL;
}
static int m_unlock(void *m)
{
    return pthread_mutex_unlock(m) == 0 ? SASL_OK : SASL_FAIL;
}
static void m_free(void *m)
{
    pthread_mutex_destroy(m);
    free(m);
}

/* Client credentials: per exchange, on the thread's stack. */
struct ccreds {
    const char *authid, *token;
    sasl_secret_t *secret;
    sasl_callback_t cbs[3];
};

static int cb_simple(void *ctx, int id, const char **result, unsigned *len)
{
    struct ccreds *c = ctx;
    if (id != SASL_CB_AUTHNAME || !result) return SASL_FAIL;
    *result = c->authid;
    if (len) *len = (unsigned)strlen(c->authid);
    return SASL_OK;
}

static int cb_pass(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **psecret)
{
    struct ccreds *c = ctx;
    (void)conn;
    if (id != SASL_CB_PASS || !psecret) return SASL_FAIL;
    *psecret = c->secret;
    return SASL_OK;
}

/* ------------------------------------------------------------ one exchange */

struct result {
    int id;
    long runs[NCASES], bad[NCASES];
    char first[NCASES][512]; /* the first wrong result of each case, in words */
};

/* t_detail without the copy to SASL_OAUTH_TEST_LOGDIR. */
static const char *detail_of(sasl_conn_t *conn)
{
    const char *d = sasl_errdetail(conn), *p;
    if (!d) return "";
    if (strncmp(d, "SASL(", 5) == 0 && (p = strstr(d, "): ")) && (p = strstr(p + 3, ": "))) return p + 2;
    return d;
}

static void message(struct buf *m, const struct tcase *c, const char *tok)
{
    m->len = 0;
    if (strcmp(c->mech, "OAUTHBEARER") == 0) {
        b_str(m, "n,");
        if (c->authzid) {
            b_str(m, "a=");
            b_str(m, c->authzid);
        }
        b_str(m, "," KV "host=" SERVER_FQDN KV "port=143" KV "auth=Bearer ");
        if (c->kind == BADPROT) {
            b_add(m, tok, 10);
            b_add(m, "", 1); /* a NUL byte inside the token */
            b_str(m, tok + 10);
        } else {
            b_str(m, tok);
        }
        b_str(m, KV KV);
    } else if (strcmp(c->mech, "XOAUTH2") == 0) {
        b_str(m, "user=");
        b_str(m, c->authzid ? c->authzid : "");
        b_str(m, KV "auth=Bearer ");
        b_str(m, tok);
        b_str(m, KV KV);
    } else { /* OAUTH */
        b_str(m, "GET / HTTP/1.1\r\n");
        if (c->authzid) {
            b_str(m, "User: ");
            b_str(m, c->authzid);
            b_str(m, "\r\n");
        }
        b_str(m, "Host: " SERVER_FQDN "\r\nAuthorization: Bearer ");
        b_str(m, tok);
        b_str(m, "\r\n\r\n");
    }
}

/* Runs case c; returns NULL when the result is right, else what was wrong. */
static const char *run_case(const struct tcase *c, const char *tok, struct buf *m, char *why, size_t n)
{
    sasl_conn_t *s = NULL, *cl = NULL;
    const char *out = NULL, *user = NULL, *d;
    unsigned outlen = 0;
    int rc, challenged = 0;
    struct ccreds cr = {.authid = c->authzid ? c->authzid : "alice", .token = tok};

    if (sasl_server_new(SERVICE, SERVER_FQDN, NULL, NULL, NULL, NULL, 0, &s) != SASL_OK) {
        snprintf(why, n, "sasl_server_new failed");
        return why;
    }
    if (c->path == RAW) {
        message(m, c, tok);
        rc = sasl_server_start(s, c->mech, m->p, (unsigned)m->len, &out, &outlen);
        if (rc == SASL_CONTINUE) {
            challenged = 1;
            /* the answer each mechanism's clients send after an error */
            rc = strcmp(c->mech, "OAUTHBEARER") == 0 ? sasl_server_step(s, KV, 1, &out, &outlen)
                                                      : sasl_server_step(s, "", 0, &out, &outlen);
        }
    } else {
        const char *cout = NULL, *chosen = NULL;
        unsigned coutlen = 0;
        size_t tl = strlen(tok);
        int crc;
        cr.secret = malloc(sizeof(sasl_secret_t) + tl);
        if (!cr.secret) abort();
        cr.secret->len = tl;
        memcpy(cr.secret->data, tok, tl + 1);
        cr.cbs[0] = (sasl_callback_t){SASL_CB_AUTHNAME, CB(cb_simple), &cr};
        cr.cbs[1] = (sasl_callback_t){SASL_CB_PASS, CB(cb_pass), &cr};
        cr.cbs[2] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
        if (sasl_client_new(SERVICE, SERVER_FQDN, "127.0.0.1;50143", "127.0.0.1;143", cr.cbs, 0, &cl) !=
            SASL_OK) {
            snprintf(why, n, "sasl_client_new failed");
            sasl_dispose(&s);
            free(cr.secret);
            return why;
        }
        crc = sasl_client_start(cl, c->mech, NULL, &cout, &coutlen, &chosen);
        rc = SASL_NOTDONE;
        if (crc == SASL_CONTINUE || crc == SASL_OK)
            rc = sasl_server_start(s, c->mech, cout, coutlen, &out, &outlen);
        if (rc == SASL_CONTINUE) {
            challenged = 1;
            crc = sasl_client_step(cl, out, outlen, NULL, &cout, &coutlen);
            rc = crc == SASL_CONTINUE || crc == SASL_OK ? sasl_server_step(s, cout, coutlen, &out, &outlen)
                                                        : SASL_NOTDONE;
        }
    }

    d = keep_logs ? t_detail(s) : detail_of(s);
    why[0] = '\0';
    switch (c->kind) {
    case GOOD:
        if (rc != SASL_OK)
            snprintf(why, n, "%s (%s)", t_rcname(rc), d);
        else if (sasl_getprop(s, SASL_USERNAME, (const void **)&user) != SASL_OK || !user ||
                 strcmp(user, c->want) != 0)
            snprintf(why, n, "SASL_OK but SASL_USERNAME \"%s\", expected \"%s\"", user ? user : "(null)",
                     c->want);
        break;
    case REFUSED:
        if (!challenged || rc != SASL_BADAUTH || !t_contains_ci(d, c->want))
            snprintf(why, n, "%s%s, errdetail \"%s\" (expected a challenge, SASL_BADAUTH, \"%s\")",
                     challenged ? "challenge, then " : "", t_rcname(rc), d, c->want);
        break;
    case PROXY:
        if (rc != SASL_BADAUTH || challenged)
            snprintf(why, n, "%s%s, errdetail \"%s\" (expected SASL_BADAUTH)",
                     challenged ? "challenge, then " : "", t_rcname(rc), d);
        break;
    case BADPROT:
        if (rc != SASL_BADPROT || !t_contains_ci(d, c->want))
            snprintf(why, n, "%s, errdetail \"%s\" (expected SASL_BADPROT, \"%s\")", t_rcname(rc), d, c->want);
        break;
    }
    if (cl && keep_logs) t_logdir_write("errdetail", sasl_errdetail(cl));
    sasl_dispose(&s);
    if (cl) sasl_dispose(&cl);
    free(cr.secret);
    return why[0] ? why : NULL;
}

static void *worker(void *arg)
{
    struct result *r = arg;
    struct buf m = {0};
    char why[512];
    for (long i = 0; i < iterations; i++) {
        keep_logs = i < KEEP_LOGS;
        /* each thread walks the cases in its own order */
        int k = (int)((i * 7 + r->id * 3) % NCASES);
        const char *bad = run_case(&cases[k], tokens[k], &m, why, sizeof why);
        r->runs[k]++;
        if (bad && r->bad[k]++ == 0) snprintf(r->first[k], sizeof r->first[k], "%s", bad);
    }
    b_free(&m);
    return NULL;
}

int main(int argc, char **argv)
{
    struct result *res;
    pthread_t *th;
    struct timespec t0, t1;
    long total = 0;
    double secs;

    t_init(argc, argv);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            iterations = atol(argv[++i]);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            nthreads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-cache") == 0) {
            t_opt_set("oauth_cache_ttl", "0");
        } else {
            fprintf(stderr, "usage: %s PLUGIN_DIR FIXTURES [--iterations N] [--threads T] [--no-cache]\n",
                    argv[0]);
            return 2;
        }
    }
    if (nthreads < 1 || nthreads > 64 || iterations < 1) return 2;
    /* The OAUTH challenge names these; configured, so that no exchange waits for
     * (failed) discovery of issuer.example.test. */
    t_opt_set("oauth_authorization_endpoint", "https://issuer.example.test/oauth2/authorize");
    t_opt_set("oauth_token_endpoint", "https://issuer.example.test/oauth2/token");
    for (int k = 0; k < NCASES; k++) tokens[k] = cases[k].token[0] ? t_token(cases[k].token) : strdup("");

    sasl_set_mutex(m_alloc, m_lock, m_unlock, m_free);
    if (!t_check(sasl_server_init(global_cbs, NULL) == SASL_OK, "sasl_server_init", "failed") ||
        !t_check(sasl_client_init(global_cbs) == SASL_OK, "sasl_client_init", "failed"))
        return t_summary();

    /* One result block per thread: no two threads write the same memory. */
    res = calloc((size_t)nthreads, sizeof *res);
    th = calloc((size_t)nthreads, sizeof *th);
    if (!res || !th) abort();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int t = 0; t < nthreads; t++) res[t].id = t;
    for (int t = 0; t < nthreads; t++)
        if (pthread_create(&th[t], NULL, worker, &res[t]) != 0) {
            t_check(0, "pthread_create", "thread %d", t);
            return t_summary();
        }
    for (int t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    for (int k = 0; k < NCASES; k++) {
        long runs = 0, bad = 0;
        const char *first = NULL;
        for (int t = 0; t < nthreads; t++) {
            runs += res[t].runs[k];
            bad += res[t].bad[k];
            if (!first && res[t].bad[k]) first = res[t].first[k];
        }
        total += runs;
        t_check(runs > 0 && bad == 0, t_name("%s (%ld exchanges on %d threads)", cases[k].name, runs, nthreads),
                "%ld wrong; first: %s", bad, first ? first : "(none ran)");
    }
    t_check(total == iterations * nthreads, t_name("%ld exchanges in all", total), "expected %ld",
            iterations * nthreads);
    printf("# %d threads x %ld exchanges = %ld in %.2f s (%.0f/s), %ld log lines%s\n", nthreads, iterations,
           total, secs, (double)total / secs, log_lines,
           t_opt_get("oauth_cache_ttl") ? ", oauth_cache_ttl 0" : "");

    for (int k = 0; k < NCASES; k++) free(tokens[k]);
    free(res);
    free(th);
    sasl_server_done();
    sasl_client_done();
    return t_summary();
}
