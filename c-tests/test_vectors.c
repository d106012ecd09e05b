/* Raw client messages fed to sasl_server_start/sasl_server_step: the forms real
 * clients send, the malformed ones, and the failure exchange after a challenge. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OB "OAUTHBEARER"
#define XO "XOAUTH2"

static char *tok;                    /* valid rs256 token for alice */
static char scope[256], oidc[512];   /* expected challenge fields, from server.conf */

/* Templates: "%T" the token, "%0" a NUL byte, "%L" 70 KiB, "%M" 60 KiB of 'A'. */
static void expand(struct buf *b, const char *tmpl, const char *token)
{
    static char big[70 * 1024];
    memset(big, 'A', sizeof big);
    for (const char *p = tmpl; *p; p++) {
        if (p[0] != '%' || !p[1]) {
            b_add(b, p, 1);
            continue;
        }
        switch (*++p) {
        case 'T': b_str(b, token); break;
        case '0': b_add(b, "", 1); break;
        case 'L': b_add(b, big, 70 * 1024); break;
        case 'M': b_add(b, big, 60 * 1024); break;
        default: b_add(b, p - 1, 2); break;
        }
    }
}

/* The application allows any proxying: lets escaped authzids reach SASL_USERNAME. */
static int allow_all(sasl_conn_t *conn, void *ctx, const char *req, unsigned rlen, const char *auth,
                     unsigned alen, const char *realm, unsigned urlen, struct propctx *propctx)
{
    (void)conn, (void)ctx, (void)req, (void)rlen, (void)auth, (void)alen, (void)realm, (void)urlen,
        (void)propctx;
    return SASL_OK;
}

static const sasl_callback_t allow_all_cbs[] = {
    {SASL_CB_PROXY_POLICY, CB(allow_all), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

struct vec {
    const char *mech, *name, *tmpl;
    int want;
    const char *detail; /* errdetail substring (case-insensitive); NULL: none asked */
    const char *user;   /* SASL_USERNAME on SASL_OK */
    int proxy;          /* server conn with an allow-all proxy policy */
};

static const struct vec vecs[] = {
    /* accepted */
    {OB, "RFC 7628 4.1 shape", "n,a=alice," KV "host=server.example.com" KV "port=143" KV "auth=Bearer %T" KV KV, SASL_OK, NULL, "alice", 0},
    {OB, "curl form", "n,a=alice," KV "host=127.0.0.1" KV "port=993" KV "auth=Bearer %T" KV KV, SASL_OK, NULL, "alice", 0},
    {OB, "mutt form", "n,a=alice," KV "host=imap.example.com" KV "port=143" KV "auth=Bearer %T" KV KV, SASL_OK, NULL, "alice", 0},
    {OB, "curl form, unescaped a= with @", "n,a=alice@example.com," KV "host=127.0.0.1" KV "port=143" KV "auth=Bearer %T" KV KV, SASL_OK, NULL, "alice@example.com", 1},
    {OB, "imapclient form (no host/port)", "n,," KV "auth=Bearer %T" KV KV, SASL_OK, NULL, "alice", 0},
    {OB, "Kafka form (extension key)", "n,," KV "auth=Bearer %T" KV "ext=x" KV KV, SASL_OK, NULL, "alice", 0},
    {OB, "bearer in lower case", "n,," KV "auth=bearer %T" KV KV, SASL_OK, NULL, "alice", 0},
    {OB, "BEARER in upper case", "n,," KV "auth=BEARER %T" KV KV, SASL_OK, NULL, "alice", 0},
    {OB, "two spaces after Bearer", "n,," KV "auth=Bearer  %T" KV KV, SASL_OK, NULL, "alice", 0},
    {OB, "escaped authzid =2C", "n,a=al=2Cice," KV "auth=Bearer %T" KV KV, SASL_OK, NULL, "al,ice", 1},
    {OB, "escaped authzid =3D", "n,a=a=3Db," KV "auth=Bearer %T" KV KV, SASL_OK, NULL, "a=b", 1},
    {OB, "gs2 flag y", "y,," KV "auth=Bearer %T" KV KV, SASL_OK, NULL, "alice", 0},
    {OB, "gs2 non-standard flag F", "F,n,," KV "auth=Bearer %T" KV KV, SASL_OK, NULL, "alice", 0},
    {OB, "60 KiB message (under the limit)", "n,," KV "auth=Bearer %T" KV "pad=%M" KV KV, SASL_OK, NULL, "alice", 0},
    {XO, "plain form", "user=alice" KV "auth=Bearer %T" KV KV, SASL_OK, NULL, "alice", 0},
    {XO, "vendor key ignored", "user=alice" KV "auth=Bearer %T" KV "vendor=x" KV KV, SASL_OK, NULL, "alice", 0},
    /* identity refused by libsasl2's default proxy policy */
    {OB, "authzid bob, default policy", "n,a=bob," KV "auth=Bearer %T" KV KV, SASL_BADAUTH, NULL, NULL, 0},
    {XO, "user=bob, default policy", "user=bob" KV "auth=Bearer %T" KV KV, SASL_BADAUTH, NULL, NULL, 0},
    /* protocol errors */
    {OB, "bad escape =2B", "n,a=al=2Bice," KV "auth=Bearer %T" KV KV, SASL_BADPROT, "escape", NULL, 0},
    {OB, "bad escape, lone = at end", "n,a=alice=," KV "auth=Bearer %T" KV KV, SASL_BADPROT, "escape", NULL, 0},
    {OB, "p= channel binding", "p=tls-unique,," KV "auth=Bearer %T" KV KV, SASL_BADPROT, "channel binding", NULL, 0},
    {OB, "duplicate auth key", "n,," KV "auth=Bearer %T" KV "auth=Bearer %T" KV KV, SASL_BADPROT, "duplicate", NULL, 0},
    {OB, "duplicate host key", "n,," KV "host=a.example" KV "host=b.example" KV "auth=Bearer %T" KV KV, SASL_BADPROT, "duplicate", NULL, 0},
    {OB, "no auth key", "n,," KV "host=server.example.com" KV "port=143" KV KV, SASL_BADPROT, "auth", NULL, 0},
    {OB, "missing final \\x01", "n,," KV "auth=Bearer %T" KV, SASL_BADPROT, "terminat", NULL, 0},
    {OB, "NUL byte in a value", "n,," KV "host=serv%0er" KV "auth=Bearer %T" KV KV, SASL_BADPROT, "NUL", NULL, 0},
    {OB, "NUL byte in the authzid", "n,a=al%0ice," KV "auth=Bearer %T" KV KV, SASL_BADPROT, "NUL", NULL, 0},
    {OB, "70 KiB message", "n,," KV "auth=Bearer %T" KV "pad=%L" KV KV, SASL_BADPROT, "too long", NULL, 0},
    {OB, "lone \\x01 as first message", KV, SASL_BADPROT, "", NULL, 0},
    {XO, "duplicate auth key", "user=alice" KV "auth=Bearer %T" KV "auth=Bearer %T" KV KV, SASL_BADPROT, "duplicate", NULL, 0},
    {XO, "duplicate user key", "user=alice" KV "user=alice" KV "auth=Bearer %T" KV KV, SASL_BADPROT, "duplicate", NULL, 0},
    {XO, "no auth key", "user=alice" KV KV, SASL_BADPROT, "auth", NULL, 0},
    {XO, "missing final \\x01", "user=alice" KV "auth=Bearer %T" KV, SASL_BADPROT, "terminat", NULL, 0},
    {XO, "NUL byte", "user=al%0ice" KV "auth=Bearer %T" KV KV, SASL_BADPROT, "NUL", NULL, 0},
    {XO, "70 KiB message", "user=alice" KV "auth=Bearer %T" KV "pad=%L" KV KV, SASL_BADPROT, "too long", NULL, 0},
};

static void run_vec(const struct vec *v)
{
    struct buf m = {0};
    const char *out = NULL;
    unsigned outlen = 0;
    char name[256], chal[1024] = "";
    sasl_conn_t *s = t_server_new(v->proxy ? allow_all_cbs : NULL);
    int rc;

    snprintf(name, sizeof name, "%s %s", v->mech, v->name);
    expand(&m, v->tmpl, tok);
    rc = sasl_server_start(s, v->mech, m.p, (unsigned)m.len, &out, &outlen);
    if (rc == SASL_CONTINUE && out) snprintf(chal, sizeof chal, "%.*s", (int)outlen, out);
    if (!t_check_rc(rc, v->want, name, s) && chal[0]) printf("#   challenge: %s\n", chal);
    if (rc == SASL_OK && v->want == SASL_OK && v->user) {
        t_check_prop(s, SASL_USERNAME, v->user, t_name("%s: SASL_USERNAME", name));
        t_check_prop(s, SASL_AUTHUSER, "alice", t_name("%s: SASL_AUTHUSER", name));
    }
    if (v->detail) {
        const char *n = t_name("%s: errdetail", name);
        if (v->detail[0])
            t_check_detail(s, v->detail, n);
        else /* any reason, but a reason */
            t_check(t_detail(s)[0] != '\0', n, "empty errdetail: \"%s\"", sasl_errdetail(s));
    }
    t_check_no_leak(tok, s, NULL, chal, name);
    sasl_dispose(&s);
    b_free(&m);
}

/* Check the error challenge's JSON fields. */
static void check_challenge(const char *mech, const char *chal, const char *status, const char *name)
{
    char got[512];
    int bearer = strcmp(mech, OB) == 0;
    struct { const char *key, *want; } f[] = {
        {"status", status},
        {"scope", scope},
        {bearer ? "openid-configuration" : "schemes", bearer ? oidc : "bearer"},
    };
    t_check(chal[0] == '{' && chal[strlen(chal) - 1] == '}', t_name("%s: challenge is a JSON object", name), "challenge: \"%s\"", chal);
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        got[0] = '\0';
        t_check(t_json_field(chal, f[i].key, got, sizeof got) && strcmp(got, f[i].want) == 0,
                t_name("%s: challenge %s", name, f[i].key),
                "expected \"%s\", challenge: %s", f[i].want, chal);
    }
}

/* First message refused with a challenge, then `answer` -> SASL_BADAUTH. */
static void exchange(const char *mech, const char *name, const char *first, const char *token,
                     const char *status, const char *answer, const char *detail)
{
    struct buf m = {0}, a = {0};
    const char *out = NULL;
    unsigned outlen = 0;
    char chal[1024] = "";
    sasl_conn_t *s = t_server_new(NULL);
    int rc;

    expand(&m, first, token);
    expand(&a, answer, tok);
    rc = sasl_server_start(s, mech, m.p, (unsigned)m.len, &out, &outlen);
    if (t_check_rc(rc, SASL_CONTINUE, t_name("%s %s: challenge (SASL_CONTINUE)", mech, name), s)) {
        snprintf(chal, sizeof chal, "%.*s", (int)outlen, out ? out : "");
        check_challenge(mech, chal, status, t_name("%s %s", mech, name));
        rc = sasl_server_step(s, a.p ? a.p : "", (unsigned)a.len, &out, &outlen);
        t_check_rc(rc, SASL_BADAUTH, t_name("%s %s: next message -> SASL_BADAUTH", mech, name), s);
        if (detail) {
            t_check_detail(s, detail, t_name("%s %s: errdetail", mech, name));
        }
    }
    /* the answer may carry the valid token too */
    if (token != tok) t_check_no_leak_keep(tok, s, NULL, chal, t_name("%s %s (answer)", mech, name));
    t_check_no_leak(token, s, NULL, chal, t_name("%s %s", mech, name));
    sasl_dispose(&s);
    b_free(&m);
    b_free(&a);
}

/* Without an initial response libsasl2 sends the empty challenge itself. */
static void no_initial_response(const char *mech, const char *tmpl)
{
    struct buf m = {0};
    const char *out = NULL;
    unsigned outlen = 0;
    const char *name = t_name("%s without initial response", mech);
    sasl_conn_t *s = t_server_new(NULL);
    int rc = sasl_server_start(s, mech, NULL, 0, &out, &outlen);

    t_check(rc == SASL_CONTINUE && outlen == 0, t_name("%s: empty challenge", name), "%s, %u bytes",
            t_rcname(rc), outlen);
    expand(&m, tmpl, tok);
    rc = sasl_server_step(s, m.p, (unsigned)m.len, &out, &outlen);
    t_check_rc(rc, SASL_OK, t_name("%s: message in step -> SASL_OK", name), s);
    t_check_no_leak(tok, s, NULL, NULL, name);
    sasl_dispose(&s);
    b_free(&m);
}

int main(int argc, char **argv)
{
    char *expired, *noscope;
    const char *ob_valid = "n,," KV "auth=Bearer %T" KV KV;
    const char *xo_valid = "user=alice" KV "auth=Bearer %T" KV KV;

    t_init(argc, argv);
    snprintf(scope, sizeof scope, "%s", t_opt_get("oauth_required_scope") ? t_opt_get("oauth_required_scope") : "mail");
    snprintf(oidc, sizeof oidc, "%s/.well-known/openid-configuration",
             t_opt_get("oauth_issuer") ? t_opt_get("oauth_issuer") : "https://issuer.example.test");
    t_server_init(1);
    tok = t_token("rs256");
    expired = t_token("expired");
    noscope = t_token("no-scope");

    for (size_t i = 0; i < sizeof vecs / sizeof *vecs; i++) run_vec(&vecs[i]);

    no_initial_response(OB, ob_valid);
    no_initial_response(XO, xo_valid);

    /* The failure exchange: client answers per mechanism, or misbehaves. */
    exchange(OB, "expired, then \\x01", ob_valid, expired, "invalid_token", KV, "expired");
    exchange(OB, "expired, then empty", ob_valid, expired, "invalid_token", "", "expired");
    exchange(OB, "expired, then the full valid message", ob_valid, expired, "invalid_token", ob_valid, NULL);
    exchange(OB, "missing scope, then \\x01", ob_valid, noscope, "insufficient_scope", KV, "scope");
    exchange(OB, "discovery (empty auth=), then \\x01", "n,," KV "auth=" KV KV, tok, "invalid_token", KV, NULL);
    exchange(OB, "RFC 7628 4.1 example token (not a JWT), then \\x01",
             "n,a=user@example.com," KV "host=server.example.com" KV "port=143" KV "auth=Bearer %T" KV KV,
             "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "invalid_token", KV, NULL);
    exchange(XO, "expired, then empty", xo_valid, expired, "401", "", "expired");
    exchange(XO, "expired, then the full valid message", xo_valid, expired, "401", xo_valid, NULL);
    exchange(XO, "missing scope, then empty", xo_valid, noscope, "403", "", "scope");
    exchange(XO, "discovery (empty auth=), then empty", "user=alice" KV "auth=" KV KV, tok, "401", "", NULL);

    free(tok);
    free(expired);
    free(noscope);
    t_done();
    return t_summary();
}
