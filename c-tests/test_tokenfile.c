/* Client side token sources through the real libsasl2: the application gives
 * `file:/path/token.json` (or `cmd:…`, or a token) as its SASL_CB_PASS secret
 * and our plugin, loaded by libsasl2, logs in to our server plugin in the same
 * process (which validates the JWTs of the test identity provider named in
 * FIXTURES/server.conf). Driven by c-tests/e2e/tokenfile.sh, which starts the
 * provider, writes the token files and checks them afterwards.
 *
 *   test_tokenfile PLUGIN_DIR FIXTURES SECRET [options]
 *     --expect ok        the login succeeds (default)
 *     --expect fail      the login fails; with --detail, the client's errdetail says so
 *     --expect retry     the first login ends in SASL_TRYAGAIN from the client step
 *                        (server refused the token, the file was refreshed), the
 *                        second login with the new token succeeds
 *     --expect retry-fail  SASL_TRYAGAIN once, then the second login fails
 *                        without another SASL_TRYAGAIN (the plugin never loops)
 *     --mech M           OAUTHBEARER (default) or XOAUTH2
 *     --user NAME        authentication id (default alice)
 *     --detail TEXT      (repeatable) the client errdetail must contain TEXT
 *     --no-leak TEXT     (repeatable) TEXT appears in no errdetail and no log line;
 *                        the access, refresh token and client secret of a file:
 *                        secret's token file (before and after) are checked too
 *     --chroot DIR       after sasl_server_init/sasl_client_init, chroot into DIR
 *                        (the file: path is then inside DIR), as Postfix's smtp does
 *     --start-at MS      after init, wait until this Unix time in milliseconds
 *                        (lets many processes start the login at once)
 *     --name TEXT        prefix of the check names
 *
 * Prints "ok - …"/"not ok - …" and "N passed, N failed"; exit status 1 on failure.
 * The plugin's log lines go to stderr ("log: [level] …"). */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_MULTI 16

static const char *secret, *mech = "OAUTHBEARER", *user = "alice", *expect = "ok";
static const char *prefix = "", *chroot_dir;
static const char *details[MAX_MULTI], *noleaks[MAX_MULTI];
static int ndetails, nnoleaks;
static long long start_at;

/* Secrets of the token file, gathered before and after each login. */
static char *file_secrets[4 * MAX_MULTI];
static int nfile_secrets;

static void usage(void)
{
    fprintf(stderr, "usage: test_tokenfile PLUGIN_DIR FIXTURES SECRET [--expect ok|fail|retry|"
                    "retry-fail] [--mech M] [--user U] [--detail T]... [--no-leak T]... "
                    "[--chroot DIR] [--start-at MS] [--name T]\n");
    exit(2);
}

static const char *token_path(void)
{
    return strncmp(secret, "file:", 5) == 0 ? secret + 5 : NULL;
}

static char *slurp(const char *path)
{
    struct buf b = {0};
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) b_add(&b, chunk, n);
    fclose(f);
    b_add(&b, "", 1);
    return b.p;
}

/* A string field of the token file (flat JSON), or "" when absent. */
static void file_field(const char *key, char *out, size_t outlen)
{
    const char *path = token_path();
    char *json = path ? slurp(path) : NULL;
    out[0] = '\0';
    if (json && !t_json_field(json, key, out, outlen)) out[0] = '\0';
    free(json);
}

/* Remembers the file's current secrets for the leak checks. */
static void gather_secrets(void)
{
    static const char *const keys[] = {"access_token", "refresh_token", "client_secret"};
    char v[8192];
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        file_field(keys[i], v, sizeof v);
        if (strlen(v) < 8 || nfile_secrets == (int)(sizeof file_secrets / sizeof *file_secrets))
            continue;
        int seen = 0;
        for (int j = 0; j < nfile_secrets; j++) seen |= strcmp(file_secrets[j], v) == 0;
        if (!seen) file_secrets[nfile_secrets++] = strdup(v);
    }
}

static void wait_start(void)
{
    struct timespec now;
    if (!start_at) return;
    for (;;) {
        long long ms;
        clock_gettime(CLOCK_REALTIME, &now);
        ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        if (ms >= start_at) return;
        struct timespec d = {0, (long)((start_at - ms) > 50 ? 50 : (start_at - ms)) * 1000000L};
        nanosleep(&d, NULL);
    }
}

/* One login: a fresh client and server connection, one exchange. The checks on
 * secrets run while the connections (and their errdetail) still exist. */
struct attempt {
    struct hs hs;
    char client_detail[1024]; /* client errdetail at the end */
    char server_detail[1024];
    char username[256];       /* server's SASL_USERNAME when it said SASL_OK */
};

static void login(struct attempt *a, const char *what)
{
    struct creds cr = {.authid = user, .authzid = NULL, .token = secret};
    sasl_conn_t *c, *s;
    const char *v = NULL;

    memset(a, 0, sizeof *a);
    gather_secrets();
    c = t_client_new(&cr);
    s = t_server_new(NULL);
    t_handshake(c, s, mech, NULL, NULL, &a->hs);
    snprintf(a->client_detail, sizeof a->client_detail, "%s", t_detail(c));
    snprintf(a->server_detail, sizeof a->server_detail, "%s", t_detail(s));
    if (a->hs.server_rc == SASL_OK && sasl_getprop(s, SASL_USERNAME, (const void **)&v) == SASL_OK &&
        v)
        snprintf(a->username, sizeof a->username, "%s", v);
    fprintf(stderr, "# %s: client %s (%s), server %s (%s), %d server calls\n", what,
            t_rcname(a->hs.client_rc), a->client_detail, t_rcname(a->hs.server_rc),
            a->server_detail, a->hs.rounds);

    gather_secrets(); /* the refreshed ones too */
    for (int i = 0; i < nfile_secrets; i++)
        t_check_no_leak_keep(file_secrets[i], c, s, a->hs.challenge,
                             t_name("%s%s: token file secret #%d", prefix, what, i + 1));
    for (int i = 0; i < nnoleaks; i++)
        t_check_no_leak_keep(noleaks[i], c, s, a->hs.challenge,
                             t_name("%s%s: given secret #%d", prefix, what, i + 1));
    t_log_clear();
    sasl_dispose(&c);
    sasl_dispose(&s);
    t_creds_free(&cr);
}

static void check_ok(struct attempt *a, const char *what)
{
    /* client-first: the server may finish while the client still says SASL_CONTINUE */
    if (!t_check(a->hs.server_rc == SASL_OK &&
                     (a->hs.client_rc == SASL_OK || a->hs.client_rc == SASL_CONTINUE),
                 t_name("%s%s: %s login succeeds", prefix, what, mech),
                 "client %s (errdetail: %s), server %s (errdetail: %s)", t_rcname(a->hs.client_rc),
                 a->client_detail, t_rcname(a->hs.server_rc), a->server_detail))
        return;
    t_check(strcmp(a->username, user) == 0, t_name("%s%s: server's SASL_USERNAME is %s", prefix, what, user),
            "got \"%s\"", a->username);
}

static void check_details(struct attempt *a, const char *what)
{
    for (int i = 0; i < ndetails; i++)
        t_check(t_contains_ci(a->client_detail, details[i]),
                t_name("%s%s: client errdetail mentions \"%s\"", prefix, what, details[i]),
                "client errdetail: \"%s\"", a->client_detail);
}

int main(int argc, char **argv)
{
    struct attempt a1, a2;
    char before[8192], after[8192];
    int i;

    t_init(argc, argv);
    if (argc < 4) usage();
    secret = argv[3];
    for (i = 4; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        i++;
        if (strcmp(o, "--expect") == 0) expect = v;
        else if (strcmp(o, "--mech") == 0) mech = v;
        else if (strcmp(o, "--user") == 0) user = v;
        else if (strcmp(o, "--detail") == 0 && ndetails < MAX_MULTI) details[ndetails++] = v;
        else if (strcmp(o, "--no-leak") == 0 && nnoleaks < MAX_MULTI) noleaks[nnoleaks++] = v;
        else if (strcmp(o, "--chroot") == 0) chroot_dir = v;
        else if (strcmp(o, "--start-at") == 0) start_at = atoll(v);
        else if (strcmp(o, "--name") == 0) prefix = strdup(t_name("%s: ", v));
        else usage();
    }

    /* libsasl2 loads the plugin now; the client side reads SASL_OAUTH_CONF and
     * its trust anchors here, before any chroot. */
    t_server_init(1);
    t_client_init();

    if (chroot_dir) {
        int ok = chroot(chroot_dir) == 0 && chdir("/") == 0;
        if (!t_check(ok, t_name("%schroot into %s after SASL init", prefix, chroot_dir), "%s",
                     strerror(errno)))
            return t_summary();
    }
    wait_start();

    if (strcmp(expect, "ok") == 0) {
        login(&a1, "login");
        check_ok(&a1, "login");
        check_details(&a1, "login");
    } else if (strcmp(expect, "fail") == 0) {
        login(&a1, "login");
        t_check(a1.hs.server_rc != SASL_OK,
                t_name("%slogin: %s login fails", prefix, mech), "client %s, server %s",
                t_rcname(a1.hs.client_rc), t_rcname(a1.hs.server_rc));
        check_details(&a1, "login");
    } else if (strcmp(expect, "retry") == 0 || strcmp(expect, "retry-fail") == 0) {
        int again_fails = strcmp(expect, "retry-fail") == 0;
        file_field("access_token", before, sizeof before);
        login(&a1, "first login");
        file_field("access_token", after, sizeof after);
        t_check(a1.hs.client_rc == SASL_TRYAGAIN,
                t_name("%sfirst login: the server refuses the token, the client step returns "
                       "SASL_TRYAGAIN", prefix),
                "client %s (errdetail: %s), server %s (errdetail: %s), %d server calls",
                t_rcname(a1.hs.client_rc), a1.client_detail, t_rcname(a1.hs.server_rc),
                a1.server_detail, a1.hs.rounds);
        if (token_path())
            t_check(after[0] && strcmp(before, after) != 0,
                    t_name("%sfirst login: the token file holds a new access token", prefix),
                    "access_token %s", after[0] ? "unchanged" : "missing");
        check_details(&a1, "first login");
        login(&a2, "second login");
        if (!again_fails) {
            check_ok(&a2, "second login");
        } else {
            t_check(a2.hs.server_rc != SASL_OK && a2.hs.client_rc != SASL_TRYAGAIN,
                    t_name("%ssecond login: refused again, and no second SASL_TRYAGAIN", prefix),
                    "client %s (errdetail: %s), server %s", t_rcname(a2.hs.client_rc),
                    a2.client_detail, t_rcname(a2.hs.server_rc));
        }
    } else {
        usage();
    }

    for (i = 0; i < nfile_secrets; i++) free(file_secrets[i]);
    t_done();
    return t_summary();
}
