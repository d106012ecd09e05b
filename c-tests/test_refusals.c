/* Hostile tokens in well-formed messages: each is refused with a challenge, the
 * next client message ends in SASL_BADAUTH, and errdetail names the failed check
 * without ever containing the token. Some servers (svnserve) show errdetail to
 * the unauthenticated client: it names no configured value (issuer, audience,
 * scope, clock skew), which only the server's log line gives. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *token, *detail;
    int scope; /* refused for its scope: insufficient_scope / 403 */
    /* in the log line, never in errdetail: an option's value, or a text */
    const char *log_only_opt, *log_only_text;
} hostile[] = {
    {"expired", "expired", 0, NULL, "clock skew"},
    {"notyet", "not yet valid", 0, NULL, "clock skew"},
    {"wrong-iss", "issuer", 0, "oauth_issuer", NULL},
    {"wrong-aud", "audience", 0, "oauth_audience", NULL},
    {"no-scope", "scope", 1, "oauth_required_scope", NULL},
    {"alg-none", "algorithm", 0, NULL, NULL},
    {"hs256-rsakey", "algorithm", 0, NULL, NULL},
    {"unknown-kid", "kid", 0, NULL, NULL},
    {"bad-sig", "signature", 0, NULL, NULL},
    {"wrong-typ", "typ", 0, NULL, NULL},
};

static void refuse(const char *mech, const char *tname, const char *detail, int scope_case,
                   const char *log_only)
{
    int bearer = strcmp(mech, "OAUTHBEARER") == 0;
    const char *status = bearer ? (scope_case ? "insufficient_scope" : "invalid_token")
                                : (scope_case ? "403" : "401");
    char *tok = t_token(tname);
    struct buf m = {0};
    const char *out = NULL;
    unsigned outlen = 0;
    char name[128], chal[1024] = "", got[128] = "";
    sasl_conn_t *s = t_server_new(NULL);
    int rc;

    t_log_clear();
    snprintf(name, sizeof name, "%s %s", mech, tname);
    b_str(&m, bearer ? "n,a=alice," KV "host=server.example.com" KV "port=143" KV "auth=Bearer "
                     : "user=alice" KV "auth=Bearer ");
    b_str(&m, tok);
    b_str(&m, KV KV);

    rc = sasl_server_start(s, mech, m.p, (unsigned)m.len, &out, &outlen);
    if (t_check_rc(rc, SASL_CONTINUE, t_name("%s: challenge (SASL_CONTINUE)", name), s)) {
        snprintf(chal, sizeof chal, "%.*s", (int)outlen, out ? out : "");
        t_json_field(chal, "status", got, sizeof got);
        t_check(strcmp(got, status) == 0, t_name("%s: challenge status %s", name, status),
                "challenge: %s", chal);

        /* the answer each mechanism's clients send after an error */
        rc = sasl_server_step(s, bearer ? KV : "", bearer ? 1 : 0, &out, &outlen);
        t_check_rc(rc, SASL_BADAUTH, t_name("%s: then SASL_BADAUTH", name), s);
        t_check_detail(s, detail, t_name("%s: errdetail names the check", name));
        if (log_only) {
            t_check(!strstr(t_detail(s), log_only),
                    t_name("%s: errdetail without the configured \"%s\"", name, log_only),
                    "errdetail: %s", t_detail(s));
            t_check(t_log_contains(log_only),
                    t_name("%s: the log line has \"%s\"", name, log_only), "not logged");
        }
    }
    t_check_no_leak(tok, s, NULL, chal, name);
    sasl_dispose(&s);
    b_free(&m);
    free(tok);
}

int main(int argc, char **argv)
{
    static const char *const mechs[] = {"OAUTHBEARER", "XOAUTH2"};

    t_init(argc, argv);
    t_server_init(1);
    for (int m = 0; m < 2; m++)
        for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++)
            refuse(mechs[m], hostile[i].token, hostile[i].detail, hostile[i].scope,
                   hostile[i].log_only_opt ? t_opt_get(hostile[i].log_only_opt)
                                           : hostile[i].log_only_text);
    t_done();
    return t_summary();
}
