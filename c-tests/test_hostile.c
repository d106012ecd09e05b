/* Hostile tokens in well-formed messages: each is refused with a challenge, the
 * next client message ends in SASL_BADAUTH, and errdetail names the failed check
 * without ever containing the token. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *token, *detail;
    int scope; /* refused for its scope: insufficient_scope / 403 */
} hostile[] = {
    {"expired", "expired", 0},
    {"notyet", "not yet valid", 0},
    {"wrong-iss", "issuer", 0},
    {"wrong-aud", "audience", 0},
    {"no-scope", "scope", 1},
    {"alg-none", "algorithm", 0},
    {"hs256-rsakey", "algorithm", 0},
    {"unknown-kid", "kid", 0},
    {"bad-sig", "signature", 0},
    {"wrong-typ", "typ", 0},
};

static void refuse(const char *mech, const char *tname, const char *detail, int scope_case)
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
            refuse(mechs[m], hostile[i].token, hostile[i].detail, hostile[i].scope);
    t_done();
    return t_summary();
}
