/* Tokens shaped like the identity providers', through the real libsasl2, each
 * scenario with its own options (a connection's getopt, so one process runs
 * them all): claim rules met and not met, a mapped user name, two issuers
 * whose keys never serve each other, and a Keycloak-shaped key set whose
 * encryption key never verifies a token; Okta, authentik and Zitadel with the
 * README's lines. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mechs[] = {"OAUTHBEARER", "XOAUTH2"};

static const char *fixture(const char *file)
{
    return t_name("%s/%s", fixtures, file);
}

/* One client <-> server exchange with the current options. */
static void login(const char *mech, const char *scenario, const char *tname, const char *user,
                  const char *refusal)
{
    struct creds cr = {0};
    struct hs hs;
    sasl_conn_t *c, *s;
    char *tok = t_token(tname);
    const char *name = t_name("%s %s: %s", scenario, mech, tname);

    cr.authid = user;
    cr.token = tok;
    c = t_client_new(&cr);
    s = t_server_new(t_conn_getopt());
    t_handshake(c, s, mech, NULL, NULL, &hs);
    if (!refusal) {
        if (t_check_rc(hs.server_rc, SASL_OK, t_name("%s accepted", name), s))
            t_check_prop(s, SASL_USERNAME, user, t_name("%s: SASL_USERNAME %s", name, user));
    } else {
        t_check_rc(hs.server_rc, SASL_BADAUTH, t_name("%s refused", name), s);
        t_check_detail(s, refusal, t_name("%s: errdetail names %s", name, refusal));
    }
    t_check_no_leak(tok, s, c, hs.challenge, name);
    sasl_dispose(&c);
    sasl_dispose(&s);
    t_creds_free(&cr);
    free(tok);
}

/* Keycloak: realm role, group and verified e-mail required; the login name
 * is preferred_username before the @, lowercased. */
static void claim_rules_and_user_names(const char *mech)
{
    t_opt_set("oauth_required_claims", "realm_access.roles=mail groups=mail-users email_verified=true");
    t_opt_set("oauth_username_claim", "preferred_username sub");
    t_opt_set("oauth_username_format", "%n");
    t_opt_set("oauth_username_lowercase", "yes");
    login(mech, "claim rules", "keycloak", "alice.smith", NULL);
    login(mech, "claim rules", "keycloak-no-role", "alice.smith", "realm_access.roles");
    /* The default token has none of the claims: the first rule fails. */
    login(mech, "claim rules", "rs256", "alice", "realm_access.roles");
    t_opt_set("oauth_required_claims", NULL);
    /* No preferred_username: the next claim of the list, sub. */
    login(mech, "user name list", "rs256", "alice", NULL);
    t_opt_set("oauth_username_claim", NULL);
    /* The README's Keycloak lines: the profile puts the user name in
     * preferred_username and the roles in realm_access.roles. */
    t_opt_set("oauth_provider", "keycloak");
    t_opt_set("oauth_required_roles", "mail");
    login(mech, "keycloak profile", "keycloak", "alice.smith", NULL);
    login(mech, "keycloak profile", "keycloak-no-role", "alice.smith", "realm_access.roles");
    t_opt_set("oauth_provider", NULL);
    t_opt_set("oauth_required_roles", NULL);
    t_opt_set("oauth_username_format", NULL);
    t_opt_set("oauth_username_lowercase", NULL);
}

/* Issuer B's key set holds another key under issuer A's kid ed-1. */
static void two_issuers(const char *mech, const char *issuer_a)
{
    char issuers[2048], files[8192];
    snprintf(issuers, sizeof issuers, "%s https://issuer-b.example.test", issuer_a);
    snprintf(files, sizeof files, "%s %s", fixture("jwks.json"), fixture("jwks-b.json"));
    login(mech, "one issuer", "issuer-b", "bob", "issuer");
    t_opt_set("oauth_issuer", issuers);
    t_opt_set("oauth_jwks_file", files);
    login(mech, "two issuers", "eddsa", "alice", NULL);
    login(mech, "two issuers", "issuer-b", "bob", NULL);
    login(mech, "two issuers", "issuer-b-signed-by-a", "bob", "signature");
    t_opt_set("oauth_issuer", issuer_a);
    t_opt_set("oauth_jwks_file", fixture("jwks.json"));
}

static void keycloak_key_set(const char *mech)
{
    t_opt_set("oauth_jwks_file", fixture("jwks-keycloak.json"));
    login(mech, "keycloak keys", "rs256", "alice", NULL);
    login(mech, "keycloak keys", "keycloak-enc-key", "alice", "kid");
    t_opt_set("oauth_jwks_file", fixture("jwks.json"));
}

/* The README's lines for Entra: the profile and the tenant give the issuer,
 * preferred_username the name; the app role is required. */
static void entra(const char *mech, const char *issuer_a)
{
    t_opt_set("oauth_issuer", NULL);
    t_opt_set("oauth_provider", "entra");
    t_opt_set("oauth_tenant", "9188040d-6c67-4c5b-b112-36a304b66dad");
    t_opt_set("oauth_required_roles", "Mail.Send");
    t_opt_set("oauth_username_format", "%n");
    t_opt_set("oauth_username_lowercase", "yes");
    login(mech, "entra", "entra", "alice", NULL);
    login(mech, "entra", "entra-other-tenant", "alice", "issuer");
    t_opt_set("oauth_required_roles", "Mail.Admin");
    login(mech, "entra", "entra", "alice", "roles");
    t_opt_set("oauth_required_roles", NULL);
    t_opt_set("oauth_tenant", NULL);
    /* Google: the profile gives the issuer and the e-mail as the name. */
    t_opt_set("oauth_provider", "google");
    t_opt_set("oauth_username_format", NULL);
    t_opt_set("oauth_username_lowercase", NULL);
    t_opt_set("oauth_required_claims", "email_verified=true hd=example.com");
    login(mech, "google", "google", "alice@example.com", NULL);
    login(mech, "google", "google-unverified", "alice@example.com", "email_verified");
    t_opt_set("oauth_required_claims", NULL);
    t_opt_set("oauth_provider", NULL);
    t_opt_set("oauth_issuer", issuer_a);
}

/* One provider's README lines (imapd.conf's, without "sasl_"), in place of
 * the fixture's configuration, with its key set from a file in place of the
 * discovered one (and a secret file for Zitadel's). NULL ends the list. */
struct line { const char *key, *value; };
static const char *const base_keys[] = {"oauth_issuer", "oauth_audience", "oauth_jwks_file",
                                        "oauth_required_scope"};
static char *base_values[4];

static void set_lines(const struct line *lines)
{
    for (; lines->key; lines++)
        t_opt_set(lines->key, strstr(lines->key, "_file") ? fixture(lines->value) : lines->value);
}

static void unset_lines(const struct line *lines)
{
    for (; lines->key; lines++) t_opt_set(lines->key, NULL);
}

static void use_lines(const struct line *lines, const char *jwks)
{
    for (int i = 0; i < 4; i++) {
        base_values[i] = strdup(t_opt_get(base_keys[i]));
        t_opt_set(base_keys[i], NULL);
    }
    set_lines(lines);
    t_opt_set("oauth_jwks_file", fixture(jwks));
}

static void drop_lines(const struct line *lines)
{
    unset_lines(lines);
    for (int i = 0; i < 4; i++) {
        t_opt_set(base_keys[i], base_values[i]);
        free(base_values[i]);
    }
}

/* README "Okta": sub is the user's login; groups as the roles claim. */
static const struct line okta_lines[] = {
    {"oauth_provider", "okta"},
    {"oauth_issuer", "https://example.okta.com/oauth2/default"},
    {"oauth_audience", "api://mail"},
    {"oauth_required_scope", "mail"},
    {"oauth_required_roles", "mail-users"},
    {NULL, NULL}};

/* README "Authentik": the issuer ends with a slash; no scope in its tokens. */
static const struct line authentik_lines[] = {
    {"oauth_provider", "authentik"},
    {"oauth_issuer", "https://auth.example.com/application/o/mail/"},
    {"oauth_audience", "mail-client-id"},
    {"oauth_required_roles", "mail-users"},
    {NULL, NULL}};

/* README "Zitadel": JWT access tokens, whose user name an Action adds. */
static const struct line zitadel_lines[] = {
    {"oauth_provider", "zitadel"},
    {"oauth_issuer", "https://mail-example.zitadel.cloud"},
    {"oauth_audience", "301234567890123456"},
    {"oauth_required_roles", "mail"},
    {NULL, NULL}};

/* ... and the credentials for introspecting opaque tokens; the secret file is
 * the fixture's. A JWT naming the issuer is still verified locally. */
static const struct line zitadel_client_lines[] = {
    {"oauth_client_id", "301234567890123457"},
    {"oauth_client_secret_file", "zitadel-secret"},
    {NULL, NULL}};

/* Okta, authentik and Zitadel with the README's lines and key sets shaped
 * like theirs (testkit/src/provider_shapes.rs cites each format): a login,
 * a claim rule not met, a token of another issuer of the same provider. */
static void okta_authentik_zitadel(const char *mech)
{
    use_lines(okta_lines, "jwks-okta.json");
    login(mech, "okta", "okta", "alice@example.com", NULL);
    login(mech, "okta", "okta-no-group", "alice@example.com", "groups");
    login(mech, "okta", "okta-other-server", "alice@example.com", "issuer");
    drop_lines(okta_lines);
    use_lines(authentik_lines, "jwks-authentik.json");
    login(mech, "authentik", "authentik", "alice", NULL);
    login(mech, "authentik", "authentik-no-group", "alice", "groups");
    login(mech, "authentik", "authentik-other-app", "alice", "issuer");
    drop_lines(authentik_lines);
    use_lines(zitadel_lines, "jwks-zitadel.json");
    login(mech, "zitadel", "zitadel", "alice@mail-example.zitadel.cloud", NULL);
    login(mech, "zitadel", "zitadel-no-role", "alice@mail-example.zitadel.cloud",
          "urn:zitadel:iam:org:project:roles");
    login(mech, "zitadel", "zitadel-other-instance", "alice@mail-example.zitadel.cloud", "issuer");
    /* Without the Action's claim, Zitadel's JWT names no user. */
    login(mech, "zitadel", "zitadel-no-name", "alice@mail-example.zitadel.cloud", "username");
    set_lines(zitadel_client_lines);
    login(mech, "zitadel introspection", "zitadel", "alice@mail-example.zitadel.cloud", NULL);
    login(mech, "zitadel introspection", "zitadel-no-role", "alice@mail-example.zitadel.cloud",
          "urn:zitadel:iam:org:project:roles");
    unset_lines(zitadel_client_lines);
    drop_lines(zitadel_lines);
}

int main(int argc, char **argv)
{
    char issuer[1024];

    t_init(argc, argv);
    snprintf(issuer, sizeof issuer, "%s", t_opt_get("oauth_issuer"));
    t_server_init(0);
    t_client_init();
    for (int m = 0; m < 2; m++) {
        claim_rules_and_user_names(mechs[m]);
        two_issuers(mechs[m], issuer);
        keycloak_key_set(mechs[m]);
        entra(mechs[m], issuer);
        okta_authentik_zitadel(mechs[m]);
    }
    t_done();
    return t_summary();
}
