/* Client <-> server in one process, our plugin on both sides of libsasl2:
 * identities, proxy policy, the failure exchange and the SASL_INTERACT path. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mechs[] = {"OAUTHBEARER", "XOAUTH2"};
static const char *const algs[] = {"rs256", "ps256", "es256", "es384", "eddsa"};

/* One exchange and the connections it used (kept for sasl_getprop). */
struct run {
    struct creds cr;
    sasl_conn_t *c, *s;
    struct hs hs;
};

static void run(struct run *r, const char *mech, const char *authid, const char *authzid,
                const char *token, const sasl_callback_t *server_cbs)
{
    memset(r, 0, sizeof *r);
    r->cr.authid = authid;
    r->cr.authzid = authzid;
    r->cr.token = token;
    r->c = t_client_new(&r->cr);
    r->s = t_server_new(server_cbs);
    t_handshake(r->c, r->s, mech, NULL, NULL, &r->hs);
}

static void run_free(struct run *r)
{
    sasl_dispose(&r->c);
    sasl_dispose(&r->s);
    t_creds_free(&r->cr);
}

static void check_ok(struct run *r, const char *name, const char *user, const char *authuser,
                     const char *token)
{
    if (t_check_rc(r->hs.server_rc, SASL_OK, t_name("%s: server SASL_OK", name), r->s)) {
        t_check_prop(r->s, SASL_USERNAME, user, t_name("%s: SASL_USERNAME", name));
        t_check_prop(r->s, SASL_AUTHUSER, authuser, t_name("%s: SASL_AUTHUSER", name));
    } else {
        printf("#   client rc %s, client errdetail: %s\n", t_rcname(r->hs.client_rc),
               sasl_errdetail(r->c));
    }
    t_check_no_leak(token, r->s, r->c, r->hs.challenge, name);
}

/* The application's policy: alice may act as bob, anyone as themselves. */
static int allow_alice_as_bob(sasl_conn_t *conn, void *ctx, const char *req, unsigned rlen,
                              const char *auth, unsigned alen, const char *realm, unsigned urlen,
                              struct propctx *propctx)
{
    (void)ctx, (void)realm, (void)urlen, (void)propctx;
    if (rlen == alen && memcmp(req, auth, rlen) == 0) return SASL_OK;
    if (alen == 5 && memcmp(auth, "alice", 5) == 0 && rlen == 3 && memcmp(req, "bob", 3) == 0)
        return SASL_OK;
    sasl_seterror(conn, 0, "test policy: not allowed");
    return SASL_NOAUTHZ;
}

static const sasl_callback_t proxy_cbs[] = {
    {SASL_CB_PROXY_POLICY, CB(allow_alice_as_bob), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

static void valid_tokens(const char *mech)
{
    char name[128];
    for (size_t i = 0; i < sizeof algs / sizeof *algs; i++) {
        struct run r;
        char *tok = t_token(algs[i]);
        snprintf(name, sizeof name, "%s %s", mech, algs[i]);
        run(&r, mech, "alice", NULL, tok, NULL);
        check_ok(&r, name, "alice", "alice", tok);
        if (i == 0) { /* client-first: the initial response is the whole exchange */
            snprintf(name, sizeof name, "%s %s: done in one server call", mech, algs[i]);
            t_check(r.hs.rounds == 1, name, "%d server calls", r.hs.rounds);
        }
        run_free(&r);
        free(tok);
    }
}

static void identities(const char *mech, const char *tok, const char *bobtok)
{
    char name[128];
    struct run r;

    snprintf(name, sizeof name, "%s authzid = authid", mech);
    run(&r, mech, "alice", "alice", tok, NULL);
    check_ok(&r, name, "alice", "alice", tok);
    run_free(&r);

    snprintf(name, sizeof name, "%s empty authzid from SASL_CB_USER", mech);
    run(&r, mech, "alice", "", tok, NULL);
    check_ok(&r, name, "alice", "alice", tok);
    run_free(&r);

    snprintf(name, sizeof name, "%s authzid bob, default policy: SASL_BADAUTH", mech);
    run(&r, mech, "alice", "bob", tok, NULL);
    t_check_rc(r.hs.server_rc, SASL_BADAUTH, name, r.s);
    t_check_no_leak(tok, r.s, r.c, r.hs.challenge, name);
    run_free(&r);

    snprintf(name, sizeof name, "%s authzid bob, proxy policy allows", mech);
    run(&r, mech, "alice", "bob", tok, proxy_cbs);
    check_ok(&r, name, "bob", "alice", tok);
    run_free(&r);

    /* docs/protocol.md §2.5: the authid is what the token proves, never the client's claim.
     * Both clients name the login name (a=alice / user=alice), as curl and
     * mutt do: an authzid that bob's token may not take. Server-side, the
     * claim-free form (no a=) is covered by test_vectors. */
    snprintf(name, sizeof name, "%s bob's token, client name alice: SASL_BADAUTH", mech);
    run(&r, mech, "alice", NULL, bobtok, NULL);
    t_check_rc(r.hs.server_rc, SASL_BADAUTH, name, r.s);
    t_check_no_leak(bobtok, r.s, r.c, r.hs.challenge, name);
    run_free(&r);
}

/* Expired token end to end: challenge, client answer, SASL_BADAUTH. */
static void failure_exchange(const char *mech, const char *expired)
{
    int bearer = strcmp(mech, "OAUTHBEARER") == 0;
    const char *status = bearer ? "invalid_token" : "401";
    char name[128], got[128] = "";
    struct run r;

    snprintf(name, sizeof name, "%s expired token exchange", mech);
    run(&r, mech, "alice", NULL, expired, NULL);
    t_check_rc(r.hs.server_rc, SASL_BADAUTH, t_name("%s: server SASL_BADAUTH", name), r.s);
    t_check(r.hs.rounds == 2 && (r.hs.client_rc == SASL_CONTINUE || r.hs.client_rc == SASL_OK),
            t_name("%s: client answered the challenge", name), "%d server calls, last client rc %s",
            r.hs.rounds, t_rcname(r.hs.client_rc));
    t_json_field(r.hs.challenge, "status", got, sizeof got);
    t_check(strcmp(got, status) == 0, t_name("%s: challenge status %s", name, status), "challenge: %s",
            r.hs.challenge);
    t_check(t_contains_ci(r.hs.client_detail, status),
            t_name("%s: client errdetail mentions %s", name, status),
            "client errdetail after challenge: \"%s\"", r.hs.client_detail);
    t_check_detail(r.s, "expired", t_name("%s: server errdetail says expired", name));
    t_check_no_leak(expired, r.s, r.c, r.hs.challenge, name);
    run_free(&r);
}

/* What the client says after its token message depends on the application's
 * flags: SASL_CONTINUE without SASL_SUCCESS_DATA (mbsync aborts when a server
 * challenges a client that said SASL_OK), SASL_OK with it (svn fails on a
 * success without data while the client says SASL_CONTINUE). With the flag,
 * a valid token logs in with that one message; after an error challenge
 * libsasl2 lets no further client step run, and the login is refused. */
static void success_data(const char *mech, const char *tok, const char *expired)
{
    const char *out = NULL, *chosen = NULL, *sout = NULL;
    unsigned outlen = 0, soutlen = 0;
    struct creds cr = {.authid = "alice", .token = tok};
    sasl_conn_t *c, *s = NULL;
    int rc;

    c = t_client_new_flags(&cr, 0);
    rc = sasl_client_start(c, mech, NULL, &out, &outlen, &chosen);
    t_check(rc == SASL_CONTINUE && outlen > 0, t_name("%s without SASL_SUCCESS_DATA: start says SASL_CONTINUE with the message", mech),
            "rc %s, %u bytes", t_rcname(rc), outlen);
    sasl_dispose(&c);
    t_creds_free(&cr);

    c = t_client_new_flags(&cr, SASL_SUCCESS_DATA);
    rc = sasl_client_start(c, mech, NULL, &out, &outlen, &chosen);
    t_check(rc == SASL_OK && outlen > 0, t_name("%s with SASL_SUCCESS_DATA: start says SASL_OK with the message", mech),
            "rc %s, %u bytes (errdetail: %s)", t_rcname(rc), outlen, sasl_errdetail(c));
    if (sasl_server_new(SERVICE, SERVER_FQDN, NULL, NULL, NULL, NULL, SASL_SUCCESS_DATA, &s) != SASL_OK) {
        t_check(0, t_name("%s with SASL_SUCCESS_DATA: sasl_server_new", mech), "failed");
        goto out;
    }
    rc = sasl_server_start(s, mech, out, outlen, &sout, &soutlen);
    if (t_check_rc(rc, SASL_OK, t_name("%s with SASL_SUCCESS_DATA: the server accepts that one message", mech), s))
        t_check_prop(s, SASL_USERNAME, "alice", t_name("%s with SASL_SUCCESS_DATA: SASL_USERNAME", mech));
    t_check_no_leak(tok, s, c, "", t_name("%s with SASL_SUCCESS_DATA", mech));
    sasl_dispose(&c);
    sasl_dispose(&s);
    t_creds_free(&cr);

    /* A refused token: SASL_OK first, then the error challenge still answered. */
    cr = (struct creds){.authid = "alice", .token = expired};
    c = t_client_new_flags(&cr, SASL_SUCCESS_DATA);
    rc = sasl_client_start(c, mech, NULL, &out, &outlen, &chosen);
    t_check(rc == SASL_OK, t_name("%s with SASL_SUCCESS_DATA, expired token: start says SASL_OK", mech),
            "rc %s", t_rcname(rc));
    if (sasl_server_new(SERVICE, SERVER_FQDN, NULL, NULL, NULL, NULL, SASL_SUCCESS_DATA, &s) != SASL_OK)
        goto out;
    rc = sasl_server_start(s, mech, out, outlen, &sout, &soutlen);
    if (t_check_rc(rc, SASL_CONTINUE, t_name("%s with SASL_SUCCESS_DATA, expired token: the error challenge", mech), s)) {
        /* libsasl2 refuses any step after the mechanism said SASL_OK
         * (doneflag): the client fails, it never logs in. */
        rc = sasl_client_step(c, sout, soutlen, NULL, &out, &outlen);
        t_check(rc != SASL_OK && rc != SASL_CONTINUE,
                t_name("%s with SASL_SUCCESS_DATA, expired token: a step after SASL_OK fails", mech),
                "rc %s", t_rcname(rc));
        /* The application hangs up or sends an empty answer: refused. */
        rc = sasl_server_step(s, "", 0, &sout, &soutlen);
        t_check_rc(rc, SASL_BADAUTH, t_name("%s with SASL_SUCCESS_DATA, expired token: SASL_BADAUTH", mech), s);
        t_check_detail(s, "expired", t_name("%s with SASL_SUCCESS_DATA, expired token: server errdetail says expired", mech));
    }
    t_check_no_leak(expired, s, c, "", t_name("%s with SASL_SUCCESS_DATA, expired token", mech));
out:
    sasl_dispose(&c);
    if (s) sasl_dispose(&s);
    t_creds_free(&cr);
}

/* SASL_INTERACT: the application fills prompts instead of giving callbacks. */
struct prompts_seen {
    int calls;
    int user, authname, pass, other;
    const char *token;
};

static void fill(sasl_interact_t *p, void *ctx)
{
    struct prompts_seen *ps = ctx;
    ps->calls++;
    for (; p && p->id != SASL_CB_LIST_END; p++) {
        const char *v = "";
        switch (p->id) {
        case SASL_CB_USER: ps->user++; v = ""; break; /* no authzid, as ldapwhoami without -X */
        case SASL_CB_AUTHNAME: ps->authname++; v = "alice"; break;
        case SASL_CB_PASS: ps->pass++; v = ps->token; break;
        default: ps->other++; break;
        }
        p->result = v;
        p->len = (unsigned)strlen(v);
    }
}

/* Callbacks listed without a function: libsasl2 answers SASL_INTERACT for them
 * (libldap for ldapwhoami, imtest). */
static const sasl_callback_t null_procs[] = {
    {SASL_CB_USER, NULL, NULL},
    {SASL_CB_AUTHNAME, NULL, NULL},
    {SASL_CB_PASS, NULL, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

static void interact(const char *mech, const char *tok)
{
    struct prompts_seen ps = {.token = tok};
    char name[160];
    sasl_conn_t *c = NULL, *s;
    struct hs hs;
    int rc;

    snprintf(name, sizeof name, "%s SASL_INTERACT (callbacks without procs)", mech);
    rc = sasl_client_new(SERVICE, SERVER_FQDN, NULL, NULL, null_procs, 0, &c);
    if (!t_check_rc(rc, SASL_OK, t_name("%s: sasl_client_new", name), c)) return;
    s = t_server_new(NULL);
    t_handshake(c, s, mech, fill, &ps, &hs);

    if (!t_check(ps.calls >= 1, t_name("%s: sasl_client_start asked", name),
                 "no SASL_INTERACT; client rc %s (errdetail: %s)", t_rcname(hs.client_rc),
                 sasl_errdetail(c)))
        goto out;
    t_check(ps.authname == 1 && ps.pass == 1 && ps.user == 1,
            t_name("%s: prompts AUTHNAME, PASS and USER", name),
            "prompted USER %d, AUTHNAME %d, PASS %d, other %d times", ps.user, ps.authname,
            ps.pass, ps.other);
    if (t_check_rc(hs.server_rc, SASL_OK, t_name("%s: server SASL_OK", name), s)) {
        t_check_prop(s, SASL_USERNAME, "alice", t_name("%s: SASL_USERNAME", name));
    }
out:
    t_check_no_leak(tok, s, c, hs.challenge, name);
    sasl_dispose(&c);
    sasl_dispose(&s);
}

/* An application that lists no callbacks at all cannot be prompted: libsasl2
 * itself then refuses every mechanism needing a password (its have_prompts
 * check, as for PLAIN) before the plugin runs. $USER is unset so that
 * libsasl2's built-in AUTHNAME default cannot stand in. */
static void no_callbacks(const char *mech, const char *tok)
{
    char name[160];
    sasl_conn_t *c = NULL, *s;
    struct prompts_seen ps = {.token = tok};
    struct hs hs;

    snprintf(name, sizeof name, "%s with no callbacks at all", mech);
    if (!t_check_rc(sasl_client_new(SERVICE, SERVER_FQDN, NULL, NULL, NULL, 0, &c), SASL_OK,
                    t_name("%s: sasl_client_new", name), c))
        return;
    s = t_server_new(NULL);
    t_handshake(c, s, mech, fill, &ps, &hs);
    t_check(hs.client_rc == SASL_NOMECH && ps.calls == 0,
            t_name("%s: libsasl2 does not offer the mechanism", name),
            "client rc %s, prompted %d times", t_rcname(hs.client_rc), ps.calls);
    sasl_dispose(&c);
    sasl_dispose(&s);
}

int main(int argc, char **argv)
{
    char *tok, *bobtok, *expired;

    t_init(argc, argv);
    t_server_init(1);
    t_client_init();
    tok = t_token("rs256");
    bobtok = t_token("bob");
    expired = t_token("expired");

    for (int m = 0; m < 2; m++) {
        valid_tokens(mechs[m]);
        identities(mechs[m], tok, bobtok);
        failure_exchange(mechs[m], expired);
        interact(mechs[m], tok);
        success_data(mechs[m], tok, expired);
    }
    unsetenv("USER");
    unsetenv("USERNAME");
    for (int m = 0; m < 2; m++) no_callbacks(mechs[m], tok);

    free(tok);
    free(bobtok);
    free(expired);
    t_done();
    return t_summary();
}
