/* Loading: libsasl2 finds the plugin through SASL_CB_GETPATH, lists both
 * mechanisms on both sides, and offers them on the server only when configured.
 *   test_load PLUGIN_DIR FIXTURES                       configured (server.conf)
 *   test_load PLUGIN_DIR FIXTURES --unconfigured        no getopt callback at all
 *   test_load PLUGIN_DIR FIXTURES --omit KEY            server.conf minus KEY
 *   test_load PLUGIN_DIR FIXTURES --set KEY=VALUE       server.conf with KEY changed
 *   ... --per-conn           options only through each connection's getopt
 *   ... --expect-log TEXT    (repeatable) a log line must contain TEXT (init
 *                            logs go to syslog: use it with --per-conn)
 * Each configuration needs its own process: libsasl2 is initialised once. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const mechs[] = {"OAUTHBEARER", "XOAUTH2"};
/* Extra callbacks of each server connection (--per-conn: the options). */
static const sasl_callback_t *conn_cbs;

static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ') p++;
        if (strncasecmp(p, word, n) == 0 && (p[n] == ' ' || p[n] == '\0')) return 1;
        p = strchr(p, ' ');
    }
    return 0;
}

/* What sasl_{server,client}_plugin_info reported for one mechanism. */
struct seen {
    int found;
    char plugname[64];
    unsigned security_flags, features;
};
static struct seen server_seen[2], client_seen[2];

static void record(struct seen *tab, const char *plugname, const char *mech,
                   unsigned sec, unsigned feat)
{
    for (int i = 0; i < 2; i++) {
        if (strcasecmp(mech, mechs[i]) != 0) continue;
        tab[i].found++;
        snprintf(tab[i].plugname, sizeof tab[i].plugname, "%s", plugname ? plugname : "");
        tab[i].security_flags = sec;
        tab[i].features = feat;
    }
}

static void server_info(server_sasl_mechanism_t *m, sasl_info_callback_stage_t stage, void *rock)
{
    (void)rock;
    if (stage == SASL_INFO_LIST_MECH && m && m->plug)
        record(server_seen, m->plugname, m->plug->mech_name, m->plug->security_flags,
               m->plug->features);
}

static void client_info(client_sasl_mechanism_t *m, sasl_info_callback_stage_t stage, void *rock)
{
    (void)rock;
    if (stage == SASL_INFO_LIST_MECH && m && m->plug)
        record(client_seen, m->plugname, m->plug->mech_name, m->plug->security_flags,
               m->plug->features);
}

static void check_tables(struct seen *tab, const char *side)
{
    char name[128];
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s plugin table lists %s from sasloauth", side, mechs[i]);
        if (!t_check(tab[i].found == 1 && strcmp(tab[i].plugname, "sasloauth") == 0, name,
                     "found %d time(s), plugin name \"%s\"", tab[i].found, tab[i].plugname))
            continue;
        /* docs/platform.md §1.7: a bearer token is replayable, so no NOPLAINTEXT claim. */
        snprintf(name, sizeof name, "%s %s security flags NOANONYMOUS|PASS_CREDENTIALS, not NOPLAINTEXT",
                 side, mechs[i]);
        t_check((tab[i].security_flags & (SASL_SEC_NOANONYMOUS | SASL_SEC_PASS_CREDENTIALS)) ==
                        (SASL_SEC_NOANONYMOUS | SASL_SEC_PASS_CREDENTIALS) &&
                    !(tab[i].security_flags & SASL_SEC_NOPLAINTEXT),
                name, "security_flags 0x%x", tab[i].security_flags);
        snprintf(name, sizeof name, "%s %s features WANT_CLIENT_FIRST|ALLOWS_PROXY", side, mechs[i]);
        t_check((tab[i].features & (SASL_FEAT_WANT_CLIENT_FIRST | SASL_FEAT_ALLOWS_PROXY)) ==
                    (SASL_FEAT_WANT_CLIENT_FIRST | SASL_FEAT_ALLOWS_PROXY),
                name, "features 0x%x", tab[i].features);
    }
}

static void check_server_list(int configured)
{
    const char *list = NULL;
    unsigned len = 0;
    int count = 0, rc;
    char name[128];
    sasl_conn_t *s = t_server_new(conn_cbs);

    rc = sasl_listmech(s, NULL, "", " ", "", &list, &len, &count);
    /* with nothing offered libsasl2 may answer SASL_NOMECH: that is "not offered" too */
    t_check(rc == SASL_OK || (!configured && rc == SASL_NOMECH), "server sasl_listmech",
            "%s (errdetail: %s)", t_rcname(rc), sasl_errdetail(s));
    if (rc != SASL_OK) list = "";
    printf("# server mechanisms: %s\n", list);
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "server %s %s", configured ? "offers" : "does not offer",
                 mechs[i]);
        t_check(has_word(list, mechs[i]) == configured, name, "server list: \"%s\"", list);
    }
    sasl_dispose(&s);
}

/* Not offered must also mean not usable: sasl_server_start refuses the mech. */
static void check_server_start_refused(void)
{
    char *tok = t_token("rs256");
    struct buf m = {0};
    const char *out = NULL;
    unsigned outlen = 0;
    sasl_conn_t *s = t_server_new(conn_cbs);
    int rc;

    b_str(&m, "n,," KV "auth=Bearer ");
    b_str(&m, tok);
    b_str(&m, KV KV);
    rc = sasl_server_start(s, "OAUTHBEARER", m.p, (unsigned)m.len, &out, &outlen);
    t_check_rc(rc, SASL_NOMECH, "server without a valid configuration refuses to start OAUTHBEARER", s);
    t_check_no_leak(tok, s, NULL, NULL, "server start without a valid configuration");
    sasl_dispose(&s);
    b_free(&m);
    free(tok);
}

static void check_client_list(void)
{
    struct creds c = {.authid = "alice", .token = "unused"};
    const char *list = NULL;
    unsigned len = 0;
    int count = 0, rc;
    char name[128];
    sasl_conn_t *cl = t_client_new(&c);

    rc = sasl_listmech(cl, NULL, "", " ", "", &list, &len, &count);
    t_check_rc(rc, SASL_OK, "client sasl_listmech", cl);
    if (rc != SASL_OK) list = "";
    printf("# client mechanisms: %s\n", list);
    for (int i = 0; i < 2; i++) { /* the client side needs no configuration */
        snprintf(name, sizeof name, "client offers %s", mechs[i]);
        t_check(has_word(list, mechs[i]), name, "client list: \"%s\"", list);
    }
    sasl_dispose(&cl);
    t_creds_free(&c);
}

int main(int argc, char **argv)
{
    int configured = 1, with_getopt = 1, nexpect = 0;
    const char *missing = NULL, *expect[8];
    struct timespec t0, t1;

    t_init(argc, argv);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--unconfigured") == 0) {
            with_getopt = 0;
            configured = 0;
        } else if (strcmp(argv[i], "--omit") == 0 && i + 1 < argc) {
            missing = argv[++i];
            t_opt_set(missing, NULL);
            configured = 0;
        } else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && strchr(argv[i + 1], '=')) {
            static char key[256];
            const char *eq = strchr(argv[++i], '=');
            snprintf(key, sizeof key, "%.*s", (int)(eq - argv[i]), argv[i]);
            t_opt_set(key, eq + 1);
            missing = key;
            configured = 0;
        } else if (strcmp(argv[i], "--per-conn") == 0) {
            conn_cbs = t_conn_getopt();
            with_getopt = 0;
        } else if (strcmp(argv[i], "--expect-log") == 0 && i + 1 < argc && nexpect < 8) {
            expect[nexpect++] = argv[++i];
        } else {
            fprintf(stderr, "unknown flag %s\n", argv[i]);
            return 2;
        }
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    t_server_init(with_getopt);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* the plugin's init (options, near-miss probe, key files) dominates this */
    printf("# sasl_server_init took %.3f ms\n",
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    t_check(1, configured ? "sasl_server_init (configured)" : "sasl_server_init (not configured)", "-");
    sasl_server_plugin_info(NULL, server_info, NULL);
    check_tables(server_seen, "server");
    check_server_list(configured);
    for (int i = 0; i < nexpect; i++) /* before a leak check clears the lines */
        t_check(t_log_contains(expect[i]), t_name("the log line names \"%s\"", expect[i]),
                "no log line contains it");
    if (!configured) {
        check_server_start_refused();
        if (missing) /* informational: the log line may have gone to syslog from plug_init */
            printf("# (the plugin should log one line naming %s; see log: lines above or syslog)\n",
                   missing);
    }

    t_client_init();
    sasl_client_plugin_info(NULL, client_info, NULL);
    check_tables(client_seen, "client");
    check_client_list();

    t_done();
    return t_summary();
}
