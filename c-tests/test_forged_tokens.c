/* Forged and malformed tokens and messages, through the real libsasl2.
 * Every input is refused with a reason: SASL_BADPROT, or the error challenge
 * then SASL_BADAUTH (or libsasl2's own SASL_BADAUTH after our canon_user);
 * never SASL_OK, never a crash; each answered in bounded time (LIMIT_MS);
 * neither the errdetail nor any log line holds raw control bytes from the
 * client or the token.
 *
 * Tokens whose claims must be reached (the signature is checked first) are
 * built here and signed by the testkit (FIXTURES/testkit sign, a co-process:
 * key ed is keys/ed.pk8.der, EdDSA, kid ed-1; rsa is keys/rsa.der, RS256, kid
 * rsa-1; evil is an attacker's Ed25519 key in no JWKS); others are hand-made
 * and unsigned where an earlier check fails first. The fixed vectors are
 * tables (protocol messages, token shapes); the generated ones (sizes,
 * nesting) are code.
 *
 * Usage: test_forged_tokens PLUGIN_DIR FIXTURES [--many-keys | --huge-jwks]
 *   (no flag)     the corpus: messages of the four mechanisms, JWT headers and
 *                 claims, jku/x5u never followed (a listener on 127.0.0.1 must
 *                 see no connection), kid path traversal, duplicate keys, exp
 *                 out of range, deep nesting, 1 MB tokens, bad base64, ...
 *   --many-keys   the server's JWKS file holds 5000 keys: init, good tokens,
 *                 an unknown kid, a kid-less token that makes every key be
 *                 tried: each in bounded time; then the file is replaced by one
 *                 over 1 MiB: the old keys stay in use.
 *   --huge-jwks   a JWKS file over 1 MiB at init: the server mechanisms are not
 *                 offered, quickly.
 *   (one run each: libsasl2 reads the options once per process)
 */
#define _GNU_SOURCE /* memmem */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LIMIT_MS 1000.0 /* bounded time: every answer within this */
static double limit_ms = LIMIT_MS; /* raised for the kid-less tokens of --many-keys only */
/* The bound catches hangs, not slowness: under valgrind (memcheck.sh sets
 * SASL_OAUTH_TEST_TIME_SCALE) every answer takes tens of times longer. */
static double time_scale = 1.0;
#define ISS "https://issuer.example.test"
#define AUD "sasl-oauth-test"
#define HOSTPORT KV "host=" SERVER_FQDN KV "port=143" KV

/* The testkit's key names; UNSIGNED: the signature is "c2lnbmF0dXJl" (not a real one). */
enum key { UNSIGNED, ED, RSA, EVIL };
static const char *const key_names[] = {"", "ed", "rsa", "evil"};
static char evil_x[64]; /* the attacker's public key, base64url */
static long now;
static char tmpdir[256];

/* ------------------------------------------------------------ log capture */

static struct buf logs; /* the log lines of the current case */

static int cb_log(void *ctx, int level, const char *message)
{
    (void)ctx, (void)level;
    if (!message) message = "(null)";
    t_logdir_write("log", message);
    if (getenv("HOSTILE_VERBOSE")) fprintf(stderr, "log: [%d] %s\n", level, message);
    b_str(&logs, message);
    b_add(&logs, "\n", 1);
    return SASL_OK;
}

static sasl_callback_t global_cbs[] = {
    {SASL_CB_GETPATH, CB(t_cb_getpath), NULL},
    {SASL_CB_LOG, CB(cb_log), NULL},
    {SASL_CB_GETOPT, CB(t_cb_getopt), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

/* ------------------------------------------------------------ helpers */

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void die(const char *what)
{
    t_check(0, what, "set-up failed");
    exit(t_summary());
}

static char *slurp(const char *path, size_t *len)
{
    struct buf b = {0};
    char chunk[65536];
    size_t n;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) b_add(&b, chunk, n);
    fclose(f);
    b_add(&b, "", 1);
    if (len) *len = b.len - 1;
    return b.p;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) die(t_name("write %s", path));
}

/* Where a raw control byte is (C0, DEL, or C1 as UTF-8), or NULL. */
static const char *control_byte(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' && s == logs.p) continue; /* our own line separator */
        if (c < 0x20 || c == 0x7f) return s + i;
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            return s + i;
    }
    return NULL;
}

/* ------------------------------------------------------------ base64url, JWT */

static char *b64url(const void *data, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = data;
    char *out = malloc(n / 3 * 4 + 8), *o = out;
    size_t i;
    if (!out) abort();
    for (i = 0; i + 2 < n; i += 3) {
        *o++ = al[p[i] >> 2];
        *o++ = al[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        *o++ = al[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
        *o++ = al[p[i + 2] & 63];
    }
    if (n - i == 1) {
        *o++ = al[p[i] >> 2];
        *o++ = al[(p[i] & 3) << 4];
    } else if (n - i == 2) {
        *o++ = al[p[i] >> 2];
        *o++ = al[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        *o++ = al[(p[i + 1] & 15) << 2];
    }
    *o = '\0';
    return out;
}

/* ------------------------------------------------------------ the signer */

static FILE *signer_in, *signer_out; /* requests to, answers from `testkit sign` */
static pid_t signer_pid;
static struct buf answer;

static void signer_start(void)
{
    int to[2], from[2];
    const char *kit = t_name("%s/testkit", fixtures);
    const char *keys = t_name("%s/keys", fixtures);
    if (pipe(to) != 0 || pipe(from) != 0) die("pipe for the signer");
    signer_pid = fork();
    if (signer_pid < 0) die("fork the signer");
    if (signer_pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]), close(to[1]), close(from[0]), close(from[1]);
        execl(kit, kit, "sign", "--keys", keys, (char *)NULL);
        fprintf(stderr, "exec %s: %s (make fixtures)\n", kit, strerror(errno));
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    signer_in = fdopen(to[1], "w");
    signer_out = fdopen(from[0], "r");
    if (!signer_in || !signer_out) die("fdopen the signer's pipes");
}

static void signer_stop(void)
{
    if (!signer_in) return;
    fclose(signer_in);
    fclose(signer_out);
    waitpid(signer_pid, NULL, 0);
    signer_in = NULL;
    b_free(&answer);
}

/* One request line to the signer; its answer line, without the newline. */
static const char *signer_ask(const char *what, const char *arg, size_t arglen)
{
    int c;
    if (fprintf(signer_in, "%s ", what) < 0 || fwrite(arg, 1, arglen, signer_in) != arglen ||
        fputc('\n', signer_in) == EOF || fflush(signer_in) != 0)
        die("write to the signer (FIXTURES/testkit sign)");
    answer.len = 0;
    while ((c = fgetc(signer_out)) != EOF && c != '\n') {
        char ch = (char)c;
        b_add(&answer, &ch, 1);
    }
    if (c == EOF || answer.len == 0) die("an answer from the signer (FIXTURES/testkit sign)");
    return answer.p;
}

/* header.claims.signature, signed by the testkit with `key`. Lengths allow NULs. */
static char *jwt_n(const char *h, size_t hl, const char *c, size_t cl, enum key key)
{
    char *hb = b64url(h, hl), *cb = b64url(c, cl);
    const char *sig;
    struct buf t = {0};
    b_str(&t, hb);
    b_str(&t, ".");
    b_str(&t, cb);
    sig = key == UNSIGNED ? "c2lnbmF0dXJl" : signer_ask(key_names[key], t.p, t.len);
    b_str(&t, ".");
    b_str(&t, sig);
    free(hb);
    free(cb);
    t_logdir_secret(t.p); /* for secrets_scan.sh */
    return t.p;
}

static char *jwt(const char *h, const char *c, enum key key)
{
    return jwt_n(h, strlen(h), c, strlen(c), key);
}

#define ED_HDR "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"typ\":\"at+jwt\"}"

/* The fixture claims with `extra` members added (or replacing: see claims_with). */
static const char *claims(const char *extra)
{
    return t_name("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"alice\",\"scope\":\"openid mail\","
                  "\"exp\":%ld,\"iat\":%ld%s%s}",
                  now + 3600, now - 10, extra && *extra ? "," : "", extra ? extra : "");
}

/* ------------------------------------------------------------ messages */

enum mech { OB, XO, OA };
static const char *const mech_names[] = {"OAUTHBEARER", "XOAUTH2", "OAUTH"};

static void msg_token(struct buf *m, enum mech mech, const char *tok, size_t toklen)
{
    m->len = 0;
    switch (mech) {
    case OB: b_str(m, "n,a=alice," HOSTPORT "auth=Bearer "); break;
    case XO: b_str(m, "user=alice" KV "auth=Bearer "); break;
    case OA: b_str(m, "GET / HTTP/1.1\r\nUser: alice\r\nHost: " SERVER_FQDN "\r\nAuthorization: Bearer "); break;
    }
    b_add(m, tok, toklen);
    b_str(m, mech == OA ? "\r\n\r\n" : KV KV);
}

/* ------------------------------------------------------------ the checks */

enum want {
    EXPECT_OK,      /* SASL_OK (a control: the input is fine) */
    EXPECT_BADPROT, /* SASL_BADPROT at once */
    EXPECT_REFUSED, /* the error challenge, then SASL_BADAUTH */
    EXPECT_ANY      /* any refusal: BADPROT, or BADAUTH with or without the challenge */
};

/* Per-connection callbacks for the next exchanges (NULL: libsasl2's defaults). */
static const sasl_callback_t *conn_cbs;

/* An application that lets alice act as anyone (an admin account). */
static int allow_alice_as_anyone(sasl_conn_t *conn, void *ctx, const char *req, unsigned rlen, const char *auth,
                                 unsigned alen, const char *realm, unsigned urlen, struct propctx *propctx)
{
    (void)conn, (void)ctx, (void)req, (void)rlen, (void)realm, (void)urlen, (void)propctx;
    return alen == 5 && memcmp(auth, "alice", 5) == 0 ? SASL_OK : SASL_NOAUTHZ;
}

static const sasl_callback_t permissive_cbs[] = {
    {SASL_CB_PROXY_POLICY, CB(allow_alice_as_anyone), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

struct verdict {
    int rc, challenged;
    double ms;
    char detail[2048]; /* the errdetail */
    char user[512];    /* SASL_USERNAME after SASL_OK */
};

/* Sends msg as the client's first message; after a challenge, the answer
 * each mechanism's clients send. */
static void exchange(const char *mech, const void *msg, size_t len, struct verdict *v)
{
    sasl_conn_t *s = NULL;
    const char *out = NULL;
    unsigned outlen = 0;
    struct timespec t0;
    int rc;

    memset(v, 0, sizeof *v);
    if (sasl_server_new(SERVICE, SERVER_FQDN, NULL, NULL, NULL, conn_cbs, 0, &s) != SASL_OK) die("sasl_server_new");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = sasl_server_start(s, mech, msg, (unsigned)len, &out, &outlen);
    if (rc == SASL_CONTINUE) {
        v->challenged = 1;
        if (strcmp(mech, "XOAUTH2") == 0 || strcmp(mech, "OAUTH") == 0)
            rc = sasl_server_step(s, "", 0, &out, &outlen);
        else
            rc = sasl_server_step(s, KV, 1, &out, &outlen);
    }
    v->ms = ms_since(&t0);
    v->rc = rc;
    if (rc == SASL_OK) {
        const char *u = NULL;
        sasl_getprop(s, SASL_USERNAME, (const void **)&u);
        snprintf(v->user, sizeof v->user, "%s", u ? u : "");
    } else {
        snprintf(v->detail, sizeof v->detail, "%s", t_detail(s));
    }
    sasl_dispose(&s);
}

static const char *verdict_text(const struct verdict *v)
{
    return t_name("%s%s (%s), %.1f ms", v->challenged ? "challenge, then " : "", t_rcname(v->rc),
                  v->rc == SASL_OK ? t_name("SASL_USERNAME \"%s\"", v->user) : v->detail, v->ms);
}

/* The whole check of one hostile input. reason: substring the errdetail must
 * hold (case-insensitive), NULL for any non-empty reason; secret: what must
 * not appear in the errdetail or the log (the token), or NULL. */
/* s with control bytes shown as '?', for our own output. */
static const char *shown(const char *s)
{
    static char out[4][600];
    static int k;
    char *o = out[k++ % 4];
    size_t i;
    for (i = 0; s[i] && i + 1 < sizeof out[0]; i++) o[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    o[i] = '\0';
    return o;
}

static void check(const char *name_, const char *mech, const void *msg, size_t len, enum want want,
                  const char *reason, const char *secret)
{
    struct verdict v;
    const char *bad, *sig;
    char name[400]; /* name_ may be one of t_name's rotating buffers */
    int right;

    snprintf(name, sizeof name, "%s", name_);

    logs.len = 0;
    if (logs.p) logs.p[0] = '\0';
    exchange(mech, msg, len, &v);

    switch (want) {
    case EXPECT_OK: right = v.rc == SASL_OK && strcmp(v.user, reason ? reason : "alice") == 0; break;
    case EXPECT_BADPROT: right = v.rc == SASL_BADPROT && !v.challenged; break;
    case EXPECT_REFUSED: right = v.rc == SASL_BADAUTH && v.challenged; break;
    default: right = v.rc == SASL_BADPROT || v.rc == SASL_BADAUTH; break;
    }
    t_check(right,
            t_name("%s %s: %s", mech, name,
                   want == EXPECT_OK        ? "SASL_OK"
                   : want == EXPECT_BADPROT ? "SASL_BADPROT"
                   : want == EXPECT_REFUSED ? "challenge, then SASL_BADAUTH"
                                       : "refused"),
            "%s", shown(verdict_text(&v)));
    if (want != EXPECT_OK)
        t_check(v.detail[0] && (!reason || t_contains_ci(v.detail, reason)),
                t_name("%s %s: reason%s%s%s: %s", mech, name, reason ? " says \"" : "", reason ? reason : "",
                       reason ? "\"" : "", shown(v.detail)),
                "errdetail \"%s\"", shown(v.detail));
    t_check(v.ms < limit_ms * time_scale, t_name("%s %s: answered in %.1f ms", mech, name, v.ms), "limit %.0f ms",
            limit_ms * time_scale);

    bad = control_byte(v.detail, strlen(v.detail)) ? "a raw control byte in the errdetail" : NULL;
    if (!bad && control_byte(v.user, strlen(v.user))) bad = "a raw control byte in SASL_USERNAME";
    if (!bad && logs.p && control_byte(logs.p, logs.len)) bad = "a raw control byte in a log line";
    if (!bad && secret && strlen(secret) >= 8) {
        sig = strrchr(secret, '.');
        if (strstr(v.detail, secret) || (logs.p && strstr(logs.p, secret)))
            bad = "the token";
        else if (sig && strlen(sig + 1) >= 16 &&
                 (strstr(v.detail, sig + 1) || (logs.p && strstr(logs.p, sig + 1))))
            bad = "the token's signature";
    }
    t_check(bad == NULL, t_name("%s %s: errdetail, log lines and identity clean", mech, name), "found %s (%s)",
            bad, shown(verdict_text(&v)));
}

/* A token in each mechanism's message. */
static void check_token(const char *name_, const char *tok, size_t toklen, enum want want, const char *reason,
                        int mechs /* bit 0 OB, 1 XO, 2 OA */)
{
    struct buf m = {0};
    char name[400];
    snprintf(name, sizeof name, "%s", name_);
    for (int k = 0; k < 3; k++) {
        if (!(mechs & (1 << k))) continue;
        msg_token(&m, (enum mech)k, tok, toklen);
        check(name, mech_names[k], m.p, m.len, want, reason, tok);
    }
    b_free(&m);
}

#define ALL 7
#define RAW(name, mech, lit, want, reason) check(name, mech, lit, sizeof(lit) - 1, want, reason, NULL)

/* A raw message with GOODTOKEN replaced by a valid signed token: the hostile
 * part is then the only thing wrong with it. */
static char *good_token;
static void check_good(const char *name, const char *mech, const char *msg, size_t len, enum want want,
                       const char *reason)
{
    struct buf m = {0};
    const char *p = memmem(msg, len, "GOODTOKEN", 9);
    if (!p) die("GOODTOKEN placeholder");
    b_add(&m, msg, (size_t)(p - msg));
    b_str(&m, good_token);
    b_add(&m, p + 9, len - (size_t)(p - msg) - 9);
    check(name, mech, m.p, m.len, want, reason, good_token);
    b_free(&m);
}
#define GOOD(name, mech, lit, want, reason) check_good(name, mech, lit, sizeof(lit) - 1, want, reason)

/* ------------------------------------------------------------ the corpus */

static void controls(void)
{
    char *t = jwt(ED_HDR, claims(NULL), ED);
    good_token = strdup(t);
    check_token("control: a JWT signed here with the fixture key (EdDSA)", t, strlen(t), EXPECT_OK, "alice", ALL);
    free(t);
    t = jwt("{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"typ\":\"at+jwt\"}", claims(NULL), RSA);
    check_token("control: a JWT signed here with the fixture key (RS256)", t, strlen(t), EXPECT_OK, "alice", ALL);
    free(t);
}

static void protocol(void)
{
    struct buf m = {0};

    /* Invalid UTF-8: in the authzid / user / User:, and in the token. */
    RAW("invalid UTF-8 in the authzid", "OAUTHBEARER", "n,a=al\xff\xfeice," HOSTPORT "auth=Bearer a.b.c" KV KV,
        EXPECT_BADPROT, "UTF-8");
    RAW("overlong UTF-8 '/' (C0 AF) in the authzid", "OAUTHBEARER",
        "n,a=\xc0\xaf" "etc," HOSTPORT "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "UTF-8");
    RAW("UTF-16 surrogate as UTF-8 (ED A0 80) in the authzid", "OAUTHBEARER",
        "n,a=\xed\xa0\x80," HOSTPORT "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "UTF-8");
    RAW("truncated UTF-8 sequence at the end of the authzid", "OAUTHBEARER",
        "n,a=alice\xe2\x82," HOSTPORT "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "UTF-8");
    RAW("invalid UTF-8 in user=", "XOAUTH2", "user=\xc3\x28" KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "UTF-8");
    RAW("invalid UTF-8 in User:", "OAUTH",
        "GET / HTTP/1.1\r\nUser: \xff\xff\r\nHost: " SERVER_FQDN "\r\nAuthorization: Bearer a.b.c\r\n\r\n", EXPECT_BADPROT, NULL);
    RAW("invalid UTF-8 in the token", "OAUTHBEARER", "n,," HOSTPORT "auth=Bearer ab\xff.cd.ef" KV KV, EXPECT_BADPROT,
        "UTF-8");
    RAW("invalid UTF-8 in the authzid", "OAUTH10A",
        "n,a=\xff," HOSTPORT "auth=OAuth oauth_token=\"x\"" KV KV, EXPECT_BADPROT, "UTF-8");

    /* NUL bytes. */
    RAW("NUL in the authzid", "OAUTHBEARER", "n,a=ali\0ce," HOSTPORT "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "NUL");
    RAW("NUL in the token", "OAUTHBEARER", "n,," HOSTPORT "auth=Bearer a.b\0.c" KV KV, EXPECT_BADPROT, "NUL");
    RAW("NUL in a key", "OAUTHBEARER", "n,," KV "ho\0st=x" KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "NUL");
    RAW("NUL after the final \\x01", "OAUTHBEARER", "n,," KV "auth=Bearer a.b.c" KV KV "\0", EXPECT_BADPROT, "NUL");
    RAW("NUL in user=", "XOAUTH2", "user=al\0ice" KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "NUL");
    RAW("NUL in a header", "OAUTH", "GET / HTTP/1.1\r\nHost: server.example.com\0x\r\nAuthorization: Bearer a.b.c\r\n\r\n",
        EXPECT_BADPROT, "NUL");
    RAW("NUL in the OAuth header", "OAUTH10A", "n,," HOSTPORT "auth=OAuth oauth_token=\"\0\"" KV KV, EXPECT_BADPROT,
        "NUL");

    /* Bad = escapes in the authzid. */
    RAW("authzid ending in '='", "OAUTHBEARER", "n,a=alice=," HOSTPORT "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "escape");
    RAW("authzid '=='", "OAUTHBEARER", "n,a===," HOSTPORT "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "escape");
    RAW("authzid with =41", "OAUTHBEARER", "n,a=x=41," HOSTPORT "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "escape");
    RAW("authzid with =2G", "OAUTHBEARER", "n,a=x=2G," HOSTPORT "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "escape");
    RAW("authzid with =2 at the end", "OAUTHBEARER", "n,a=x=2," HOSTPORT "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT,
        "escape");
    RAW("authzid with =00 (an escaped NUL)", "OAUTHBEARER", "n,a=x=00," HOSTPORT "auth=Bearer a.b.c" KV KV,
        EXPECT_BADPROT, "escape");
    RAW("authzid with =\\xff", "OAUTHBEARER", "n,a=x=\xff\xff," HOSTPORT "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, NULL);
    RAW("bad escape", "OAUTH10A", "n,a=x=zz," HOSTPORT "auth=OAuth oauth_token=\"x\"" KV KV, EXPECT_BADPROT, "escape");

    /* Control bytes in the token (outside RFC 6750 b64token). */
    RAW("\\x02 in the token", "OAUTHBEARER", "n,," HOSTPORT "auth=Bearer ab\x02" "cd" KV KV, EXPECT_BADPROT, NULL);
    RAW("ESC [31m in the token", "OAUTHBEARER", "n,," HOSTPORT "auth=Bearer ab\x1b[31mcd" KV KV, EXPECT_BADPROT, NULL);
    RAW("DEL in the token", "XOAUTH2", "user=alice" KV "auth=Bearer ab\x7f" "cd" KV KV, EXPECT_BADPROT, NULL);
    RAW("CR LF in the token", "XOAUTH2", "user=alice" KV "auth=Bearer ab\r\ncd" KV KV, EXPECT_BADPROT, NULL);
    RAW("TAB inside the token", "OAUTHBEARER", "n,," HOSTPORT "auth=Bearer ab\tcd" KV KV, EXPECT_BADPROT, NULL);
    RAW("C1 control (U+0085) in the token", "OAUTHBEARER", "n,," HOSTPORT "auth=Bearer ab\xc2\x85" "cd" KV KV,
        EXPECT_BADPROT, NULL);
    RAW("ESC in the token", "OAUTH",
        "GET / HTTP/1.1\r\nHost: " SERVER_FQDN "\r\nAuthorization: Bearer ab\x1b[2Jcd\r\n\r\n", EXPECT_BADPROT, NULL);

    /* Control bytes where the parser takes any text: refused all the same,
     * and never echoed raw. */
    GOOD("ESC in the authzid, good token", "OAUTHBEARER", "n,a=ali\x1b[31mce," HOSTPORT "auth=Bearer GOODTOKEN" KV KV,
         EXPECT_ANY, NULL);
    GOOD("DEL in the authzid, good token", "OAUTHBEARER", "n,a=alice\x7f," HOSTPORT "auth=Bearer GOODTOKEN" KV KV,
         EXPECT_ANY, NULL);
    GOOD("CR LF in the authzid, good token", "OAUTHBEARER", "n,a=alice\r\nX-Injected: 1," HOSTPORT "auth=Bearer GOODTOKEN" KV KV,
         EXPECT_ANY, NULL);
    GOOD("C1 control (U+009B) in the authzid, good token", "OAUTHBEARER", "n,a=al\xc2\x9bice," HOSTPORT "auth=Bearer GOODTOKEN" KV KV,
         EXPECT_ANY, NULL);
    GOOD("control bytes in user=, good token", "XOAUTH2", "user=al\x02\x03\x7fice" KV "auth=Bearer GOODTOKEN" KV KV,
         EXPECT_ANY, NULL);
    GOOD("ESC in the host (oauth_accepted_hosts set), good token", "OAUTHBEARER",
         "n,," KV "host=server\x1b[2J.example.com" KV "port=143" KV "auth=Bearer GOODTOKEN" KV KV, EXPECT_ANY, NULL);
    GOOD("another host (oauth_accepted_hosts set), good token", "OAUTHBEARER",
         "n,," KV "host=evil.example.com" KV "port=143" KV "auth=Bearer GOODTOKEN" KV KV, EXPECT_REFUSED, "host");
    GOOD("C1 control (U+009B) in User:, good token", "OAUTH",
         "GET / HTTP/1.1\r\nUser: al\xc2\x9bice\r\nHost: " SERVER_FQDN "\r\nAuthorization: Bearer GOODTOKEN\r\n\r\n",
         EXPECT_ANY, NULL);
    /* The same with an application whose proxy policy lets alice be anyone:
     * the authzid must still never come out as a SASL_USERNAME holding
     * control characters (log injection in every application). */
    conn_cbs = permissive_cbs;
    GOOD("control: a=bob, alice may act as anyone", "OAUTHBEARER", "n,a=bob," HOSTPORT "auth=Bearer GOODTOKEN" KV KV,
         EXPECT_OK, "bob");
    GOOD("CR LF in the authzid, alice may act as anyone", "OAUTHBEARER",
         "n,a=bob\r\nX-Injected: 1," HOSTPORT "auth=Bearer GOODTOKEN" KV KV, EXPECT_ANY, NULL);
    GOOD("ESC in the authzid, alice may act as anyone", "OAUTHBEARER",
         "n,a=bo\x1b[8mb," HOSTPORT "auth=Bearer GOODTOKEN" KV KV, EXPECT_ANY, NULL);
    GOOD("C1 control (U+0085 NEL) in the authzid, alice may act as anyone", "OAUTHBEARER",
         "n,a=bob\xc2\x85root," HOSTPORT "auth=Bearer GOODTOKEN" KV KV, EXPECT_ANY, NULL);
    GOOD("C1 control (U+0085 NEL) in User:, alice may act as anyone", "OAUTH",
         "GET / HTTP/1.1\r\nUser: bob\xc2\x85root\r\nHost: " SERVER_FQDN "\r\nAuthorization: Bearer GOODTOKEN\r\n\r\n",
         EXPECT_ANY, NULL);
    GOOD("control bytes in user=, alice may act as anyone", "XOAUTH2", "user=bob\x1b[8m" KV "auth=Bearer GOODTOKEN" KV KV,
         EXPECT_ANY, NULL);
    GOOD("CR LF in user=, alice may act as anyone", "XOAUTH2", "user=bob\r\nX-Injected: 1" KV "auth=Bearer GOODTOKEN" KV KV,
         EXPECT_ANY, NULL);
    GOOD("C1 control (U+0085 NEL) in user=, alice may act as anyone", "XOAUTH2",
         "user=bob\xc2\x85root" KV "auth=Bearer GOODTOKEN" KV KV, EXPECT_ANY, NULL);
    conn_cbs = NULL;
    GOOD("ESC in the Host: header, good token", "OAUTH",
         "GET / HTTP/1.1\r\nHost: server\x1b.example.com\r\nAuthorization: Bearer GOODTOKEN\r\n\r\n", EXPECT_ANY, NULL);
    RAW("ESC in the realm", "OAUTH10A",
        "n,," HOSTPORT "auth=OAuth realm=\"\x1b[2J\",oauth_token=\"x\"" KV KV, EXPECT_ANY, NULL);

    /* Framing. */
    RAW("empty message", "OAUTHBEARER", "", EXPECT_BADPROT, NULL);
    RAW("empty message", "XOAUTH2", "", EXPECT_BADPROT, NULL);
    RAW("GS2 header only", "OAUTHBEARER", "n,,", EXPECT_BADPROT, NULL);
    RAW("no final \\x01", "OAUTHBEARER", "n,," KV "auth=Bearer a.b.c" KV, EXPECT_BADPROT, "terminat");
    RAW("no final \\x01", "XOAUTH2", "user=alice" KV "auth=Bearer a.b.c" KV, EXPECT_BADPROT, "terminat");
    RAW("three final \\x01", "OAUTHBEARER", "n,," KV "auth=Bearer a.b.c" KV KV KV, EXPECT_BADPROT, NULL);
    RAW("lone \\x01 as first message", "OAUTHBEARER", KV, EXPECT_BADPROT, NULL);
    RAW("lone \\x01 as first message", "XOAUTH2", KV, EXPECT_BADPROT, NULL);
    RAW("p=tls-unique", "OAUTHBEARER", "p=tls-unique,," KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "channel binding");
    RAW("unknown cb flag x", "OAUTHBEARER", "x,," KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, NULL);
    RAW("b= instead of a=", "OAUTHBEARER", "n,b=alice," KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, NULL);
    RAW("no comma after the authzid", "OAUTHBEARER", "n,a=alice" KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, NULL);
    RAW("empty authzid a=", "OAUTHBEARER", "n,a=," KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, NULL);
    RAW("duplicate auth key", "OAUTHBEARER", "n,," KV "auth=Bearer a" KV "auth=Bearer b" KV KV, EXPECT_BADPROT,
        "duplicate");
    RAW("duplicate host key", "OAUTHBEARER", "n,," HOSTPORT "host=x" KV "auth=Bearer a" KV KV, EXPECT_BADPROT,
        "duplicate");
    RAW("duplicate user key", "XOAUTH2", "user=alice" KV "user=bob" KV "auth=Bearer a" KV KV, EXPECT_BADPROT,
        "duplicate");
    RAW("AUTH in upper case (keys are case-sensitive)", "OAUTHBEARER", "n,," KV "AUTH=Bearer a.b.c" KV KV,
        EXPECT_BADPROT, "auth");
    RAW("no auth key", "XOAUTH2", "user=alice" KV KV, EXPECT_BADPROT, "auth");
    RAW("a key without '='", "OAUTHBEARER", "n,," KV "host" KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, NULL);
    RAW("an empty key", "OAUTHBEARER", "n,," KV "=x" KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, NULL);
    RAW("Basic scheme", "XOAUTH2", "user=alice" KV "auth=Basic YWxpY2U6cHc=" KV KV, EXPECT_BADPROT, "Bearer");
    RAW("Bearer without a space", "OAUTHBEARER", "n,," KV "auth=Bearera.b.c" KV KV, EXPECT_BADPROT, "Bearer");
    RAW("two tokens", "OAUTHBEARER", "n,," KV "auth=Bearer a.b.c d.e.f" KV KV, EXPECT_BADPROT, "token");
    RAW("token '='", "OAUTHBEARER", "n,," KV "auth=Bearer ===" KV KV, EXPECT_BADPROT, "token");
    RAW("port 0143", "OAUTHBEARER", "n,," KV "host=h" KV "port=0143" KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "port");
    RAW("port 99999", "OAUTHBEARER", "n,," KV "host=h" KV "port=99999" KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT,
        "port");
    RAW("port -1", "OAUTHBEARER", "n,," KV "host=h" KV "port=-1" KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "port");
    RAW("port +143", "OAUTHBEARER", "n,," KV "host=h" KV "port=+143" KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "port");
    RAW("port 18446744073709551759", "OAUTHBEARER",
        "n,," KV "host=h" KV "port=18446744073709551759" KV "auth=Bearer a.b.c" KV KV, EXPECT_BADPROT, "port");

    /* The draft's HTTP request. */
    /* httparse takes a bare LF as a line end (RFC 9112 §2.2 allows a recipient to) */
    GOOD("control: bare LF line ends are taken as CRLF", "OAUTH",
         "GET / HTTP/1.1\nHost: " SERVER_FQDN "\nAuthorization: Bearer GOODTOKEN\n\n", EXPECT_OK, "alice");
    RAW("data after the request", "OAUTH",
        "GET / HTTP/1.1\r\nHost: " SERVER_FQDN "\r\n\r\nGET / HTTP/1.1\r\nAuthorization: Bearer a.b.c\r\n\r\n", EXPECT_BADPROT, NULL);
    RAW("duplicate Authorization", "OAUTH",
        "GET / HTTP/1.1\r\nAuthorization: Bearer a.b.c\r\nAuthorization: Bearer d.e.f\r\n\r\n", EXPECT_BADPROT,
        "duplicate");
    RAW("obs-fold continuation line", "OAUTH",
        "GET / HTTP/1.1\r\nUser: alice\r\n bob\r\nAuthorization: Bearer a.b.c\r\n\r\n", EXPECT_BADPROT, NULL);
    RAW("header name with a space", "OAUTH", "GET / HTTP/1.1\r\nUser name: alice\r\n\r\n", EXPECT_BADPROT, NULL);
    RAW("Authorization: Bearer with two tokens", "OAUTH",
        "GET / HTTP/1.1\r\nAuthorization: Bearer a b\r\n\r\n", EXPECT_ANY, NULL);
    m.len = 0;
    b_str(&m, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 100; i++) b_str(&m, t_name("X-Header-%d: v\r\n", i));
    b_str(&m, "Authorization: Bearer a.b.c\r\n\r\n");
    check("100 headers", "OAUTH", m.p, m.len, EXPECT_BADPROT, "headers", NULL);

    /* OAUTH10A's OAuth header. */
    RAW("unterminated quote", "OAUTH10A", "n,," HOSTPORT "auth=OAuth oauth_token=\"x" KV KV, EXPECT_ANY, NULL);
    RAW("duplicate oauth_nonce", "OAUTH10A",
        "n,," HOSTPORT "auth=OAuth oauth_consumer_key=\"k\",oauth_token=\"t\",oauth_signature_method=\"HMAC-SHA256\","
        "oauth_timestamp=\"1\",oauth_nonce=\"a\",oauth_nonce=\"b\",oauth_signature=\"x\"" KV KV,
        EXPECT_ANY, NULL);
    RAW("oauth_timestamp 1e400", "OAUTH10A",
        "n,," HOSTPORT "auth=OAuth oauth_consumer_key=\"k\",oauth_token=\"t\",oauth_signature_method=\"HMAC-SHA256\","
        "oauth_timestamp=\"1e400\",oauth_nonce=\"a\",oauth_signature=\"x\"" KV KV,
        EXPECT_ANY, NULL);
    RAW("oauth_timestamp 2^64", "OAUTH10A",
        "n,," HOSTPORT "auth=OAuth oauth_consumer_key=\"k\",oauth_token=\"t\",oauth_signature_method=\"HMAC-SHA256\","
        "oauth_timestamp=\"18446744073709551616\",oauth_nonce=\"a\",oauth_signature=\"x\"" KV KV,
        EXPECT_ANY, NULL);
    RAW("bad percent-encoding", "OAUTH10A",
        "n,," HOSTPORT "auth=OAuth oauth_consumer_key=\"%zz\",oauth_token=\"%\",oauth_signature_method=\"HMAC-SHA256\","
        "oauth_timestamp=\"1\",oauth_nonce=\"a\",oauth_signature=\"%C3%28\"" KV KV,
        EXPECT_ANY, NULL);

    /* Size: over 64 KiB in every mechanism, and the boundary. */
    for (int k = 0; k < 4; k++) {
        static const char *const mechs4[] = {"OAUTHBEARER", "XOAUTH2", "OAUTH", "OAUTH10A"};
        m.len = 0;
        b_str(&m, k == 2 ? "GET / HTTP/1.1\r\nAuthorization: Bearer " : k == 1 ? "user=alice" KV "auth=Bearer "
                                                                                : "n,," HOSTPORT "auth=Bearer ");
        while (m.len < 70 * 1024) b_str(&m, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        b_str(&m, k == 2 ? "\r\n\r\n" : KV KV);
        check("70 KiB message", mechs4[k], m.p, m.len, EXPECT_BADPROT, "too long", NULL);
    }
    m.len = 0;
    b_str(&m, "n,," HOSTPORT "auth=Bearer ");
    while (m.len < 65536 - 2) b_str(&m, "a");
    m.len = 65536 - 2;
    b_str(&m, KV KV);
    check("message of exactly 64 KiB: not too long (the token is refused)", "OAUTHBEARER", m.p, m.len, EXPECT_REFUSED,
          "JWT", NULL);
    m.len = 65536 - 2;
    b_str(&m, "a" KV KV);
    check("message of 64 KiB + 1", "OAUTHBEARER", m.p, m.len, EXPECT_BADPROT, "too long", NULL);
    b_free(&m);
}

/* ------------------------------------------------------------ token vectors */

/* The claims of a vector: $EXP stands for now + 3600, $IAT for now - 10. */
#define CLAIMS_OF(sub, scope, extra)                                                                        \
    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" sub "\",\"scope\":\"" scope "\",\"exp\":$EXP,\"iat\":$IAT" \
    extra "}"
#define FIXTURE_CLAIMS(extra) CLAIMS_OF("alice", "openid mail", extra)
/* Without the default exp: the vector gives it. */
#define NOEXP_CLAIMS(claim) "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"alice\",\"scope\":\"openid mail\"," claim "}"
/* Without the default sub: the vector gives it. */
#define NOSUB_CLAIMS(claim) "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"scope\":\"openid mail\",\"exp\":$EXP," claim "}"

/* A token built from its header and claims. header NULL: ED_HDR; header_len
 * 0: strlen (a length lets a NUL in); claims NULL: FIXTURE_CLAIMS(""). */
struct vector {
    const char *name, *header;
    size_t header_len;
    const char *claims;
    enum key key;
    enum want want;
    const char *reason;
    int mechs;
};

#define ALG(h, key, reason) {"header " h, h, 0, NULL, key, EXPECT_REFUSED, reason, 1}
#define NUM(claim, reason, mechs) {"claims " claim " (signed)", NULL, 0, NOEXP_CLAIMS(claim), ED, EXPECT_REFUSED, reason, mechs}
#define SUB(claim, reason, mechs) {"claims " claim " (signed)", NULL, 0, NOSUB_CLAIMS(claim), ED, EXPECT_REFUSED, reason, mechs}
#define SIGNED(name, h, claims, reason, mechs) {name, h, 0, claims, ED, EXPECT_REFUSED, reason, mechs}

static const struct vector vectors[] = {
    /* Algorithms. */
    ALG("{\"alg\":\"none\",\"kid\":\"ed-1\"}", UNSIGNED, "alg"),
    ALG("{\"alg\":\"None\",\"kid\":\"ed-1\"}", UNSIGNED, "alg"),
    ALG("{\"alg\":\"NONE\"}", UNSIGNED, "alg"),
    ALG("{\"alg\":\"HS256\",\"kid\":\"ed-1\"}", UNSIGNED, "alg"),
    ALG("{\"alg\":\"EdDSA \",\"kid\":\"ed-1\"}", UNSIGNED, "alg"),
    ALG("{\"alg\":\"eddsa\",\"kid\":\"ed-1\"}", UNSIGNED, "alg"),
    ALG("{\"alg\":null,\"kid\":\"ed-1\"}", UNSIGNED, "alg"),
    ALG("{\"alg\":[\"EdDSA\"],\"kid\":\"ed-1\"}", UNSIGNED, "alg"),
    ALG("{\"kid\":\"ed-1\"}", UNSIGNED, "alg"),
    ALG("{\"alg\":\"RS256\",\"kid\":\"ed-1\"}", ED, "kid"),
    ALG("{\"alg\":\"ES256\",\"kid\":\"rsa-1\"}", ED, "kid"),

    /* crit, typ. */
    SIGNED("header crit [\"exp\"] (signed)", "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"crit\":[\"exp\"]}", NULL, "crit", ALL),
    SIGNED("header crit [] (signed)", "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"crit\":[],\"x\":1}", NULL, "crit", 1),
    SIGNED("typ with a NUL (\\u0000)", "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"typ\":\"at+jwt\\u0000\"}", NULL, "typ", 1),
    SIGNED("typ with ESC (\\u001b)", "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"typ\":\"\\u001b[2Jat+jwt\"}", NULL, "typ", 1),
    SIGNED("typ a number", "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"typ\":7}", NULL, "typ", 1),

    /* Duplicate JSON keys. */
    SIGNED("header with alg twice", "{\"alg\":\"EdDSA\",\"alg\":\"none\",\"kid\":\"ed-1\"}", NULL, "unique", ALL),
    SIGNED("header with kid twice", "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"kid\":\"rsa-1\"}", NULL, "unique", 1),
    SIGNED("header with kid twice, once escaped (k\\u0069d)", "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"k\\u0069d\":\"rsa-1\"}",
           NULL, "unique", 1),
    SIGNED("claims with sub twice (signed)", NULL, FIXTURE_CLAIMS(",\"sub\":\"admin\""), "unique", ALL),
    SIGNED("claims with sub twice, once escaped (s\\u0075b, signed)", NULL, FIXTURE_CLAIMS(",\"s\\u0075b\":\"admin\""),
           "unique", 1),
    SIGNED("claims with exp twice (signed)", NULL, FIXTURE_CLAIMS(",\"exp\":99999999999"), "unique", 1),
    SIGNED("claims with aud twice (signed)", NULL, FIXTURE_CLAIMS(",\"aud\":\"other-service\""), "unique", 1),

    /* Numbers out of range (signed). */
    NUM("\"exp\":1e400", NULL, ALL),
    NUM("\"exp\":-1e400", NULL, ALL),
    NUM("\"exp\":-1", "exp", 1),
    NUM("\"exp\":\"1\"", "exp", 1),
    NUM("\"exp\":\"99999999999\"", "exp", 1),
    NUM("\"exp\":18446744073709551616", "exp", 1),
    NUM("\"exp\":18446744073709551615", "exp", 1),
    NUM("\"exp\":9223372036854775808", "exp", 1),
    NUM("\"exp\":100000000000", "exp", 1),
    NUM("\"exp\":1e11", "exp", 1),
    NUM("\"exp\":null", "exp", 1),
    NUM("\"exp\":true", "exp", 1),
    NUM("\"exp\":[99999999999]", "exp", 1),
    NUM("\"exp\":{\"$numberLong\":\"99999999999\"}", "exp", 1),
    NUM("\"exp\":NaN", NULL, 1),
    NUM("\"exp\":Infinity", NULL, 1),
    NUM("\"exp\":0x7fffffff", NULL, 1),
    NUM("\"exp\":00099999999999", NULL, 1),
    NUM("\"exp\":99999999999,\"nbf\":1e400", NULL, 1),
    NUM("\"exp\":99999999999,\"nbf\":-5", "nbf", 1),
    NUM("\"exp\":99999999999,\"iat\":18446744073709551616", "iat", 1),
    NUM("\"exp\":99999999999,\"nbf\":\"0\"", "nbf", 1),

    /* Invalid UTF-8 and bad strings in the claims (signed), and in the header. */
    SIGNED("claims with invalid UTF-8 in sub (signed)", NULL, CLAIMS_OF("al\xff" "ce", "openid mail", ""), "claims", ALL),
    SIGNED("claims with overlong UTF-8 in sub (signed)", NULL, CLAIMS_OF("al\xc0\xaf" "e", "openid mail", ""), "claims", 1),
    SIGNED("claims with a UTF-8-encoded surrogate in scope (signed)", NULL, CLAIMS_OF("alice", "\xed\xa0\x80" "nid mail", ""),
           "claims", 1),
    SIGNED("header with invalid UTF-8 in kid", "{\"alg\":\"EdDSA\",\"kid\":\"ed\xff\"}", NULL, "header", 1),
    {"header with a NUL after the object", "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}\0", 29, NULL, ED, EXPECT_REFUSED, "header", 1},
    SUB("\"sub\":\"\\ud800\"", "claims", 1),
    SUB("\"sub\":\"al\\u0000ice\"", "sub", 1),
    SUB("\"sub\":\"al\\u001b[31mice\"", "sub", ALL),
    SUB("\"sub\":\"al\\u007fice\"", "sub", 1),
    SUB("\"sub\":\"al\\u0085ice\"", "sub", 1),
    SUB("\"sub\":\"alice\\n\"", "sub", 1),
    SUB("\"sub\":\"\"", "sub", 1),
    SUB("\"sub\":42", "sub", 1),
    SUB("\"sub\":[\"alice\"]", "sub", 1),
    SUB("\"sub\":null", "sub", 1),
    SIGNED("claims with ESC in iss (signed)", NULL,
           "{\"iss\":\"\\u001b[2J" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"alice\",\"exp\":$EXP}", "issuer", ALL),
    SIGNED("claims with aud nested in an array (signed)", NULL,
           "{\"iss\":\"" ISS "\",\"aud\":[[\"" AUD "\"]],\"sub\":\"alice\",\"exp\":$EXP}", "audience", 1),
    SIGNED("claims with control characters in aud (signed)", NULL,
           "{\"iss\":\"" ISS "\",\"aud\":\"\\u0007\\u001b[2J\",\"sub\":\"alice\",\"exp\":$EXP}", "audience", 1),
    SIGNED("claims with iss a number (signed)", NULL, "{\"iss\":42,\"aud\":\"" AUD "\",\"sub\":\"alice\",\"exp\":$EXP}",
           "iss", 1),
    SIGNED("claims an array (signed)", NULL, "[]", "claims", 1),
    SIGNED("claims empty (signed)", NULL, "", "claims", 1),
};

/* Claims text with $EXP and $IAT replaced (a rotating buffer). */
static const char *expand(const char *tmpl)
{
    static struct buf out[2];
    static int k;
    struct buf *b = &out[k++ % 2];
    b->len = 0;
    b_add(b, "", 0);
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "$EXP", 4) == 0) {
            b_str(b, t_name("%ld", now + 3600));
            p += 4;
        } else if (strncmp(p, "$IAT", 4) == 0) {
            b_str(b, t_name("%ld", now - 10));
            p += 4;
        } else {
            b_add(b, p++, 1);
        }
    }
    return b->p;
}

static void check_vector(const struct vector *v)
{
    const char *h = v->header ? v->header : ED_HDR;
    const char *c = expand(v->claims ? v->claims : FIXTURE_CLAIMS(""));
    char *t = jwt_n(h, v->header_len ? v->header_len : strlen(h), c, strlen(c), v->key);
    check_token(v->name, t, strlen(t), v->want, v->reason, v->mechs);
    free(t);
}

/* A text of `count` copies of `unit` between `head` and `tail`. */
static void repeated(struct buf *b, const char *head, const char *unit, size_t count, const char *tail)
{
    b->len = 0;
    b_str(b, head);
    for (size_t i = 0; i < count; i++) b_str(b, unit);
    b_str(b, tail);
}

/* The fixture claims (as FIXTURE_CLAIMS("")) with `member` added, the rest of
 * the text `count` copies of `unit`, then `tail`. */
static void claims_with_repeat(struct buf *b, const char *member, const char *unit, size_t count, const char *tail)
{
    const char *c = expand(FIXTURE_CLAIMS(""));
    b->len = 0;
    b_add(b, c, strlen(c) - 1); /* without the final } */
    b_str(b, member);
    for (size_t i = 0; i < count; i++) b_str(b, unit);
    b_str(b, tail);
}

/* Structure, base64 and every table vector; then the generated ones: sizes
 * and nesting that a table cannot spell. */
static void jwt_shapes(void)
{
    struct buf big = {0};
    char *t;
    char *c = strdup(claims(NULL)); /* claims() returns a rotating buffer */

    /* Structure and base64. */
    static const struct {
        const char *name, *tok;
        enum want want;
        const char *reason;
    } shapes[] = {
        {"two parts", "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9", EXPECT_REFUSED, "JWT"},
        {"four parts", "a.b.c.d", EXPECT_REFUSED, "JWT"},
        {"only dots", "..", EXPECT_ANY, NULL},
        {"empty parts", "a..c", EXPECT_ANY, NULL},
        {"header 'null'", "bnVsbA.e30.c2ln", EXPECT_REFUSED, "header"},
        {"header '[]'", "W10.e30.c2ln", EXPECT_REFUSED, "header"},
        {"header a JSON string", "ImFsZyI.e30.c2ln", EXPECT_REFUSED, "header"},
        {"header padded with '=' (not base64url)", "eyJhbGciOiJFZERTQSJ9=.e30.c2ln", EXPECT_ANY, NULL},
        {"header with '+' and '/' (standard base64)", "eyJhbGciOiJFZERTQSJ9+/.e30.c2ln", EXPECT_REFUSED, "base64"},
        {"signature padded with '='", "eyJhbGciOiJFZERTQSJ9.e30.c2lnbmF0dXJl==", EXPECT_REFUSED, NULL},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        check_token(shapes[i].name, shapes[i].tok, strlen(shapes[i].tok), shapes[i].want, shapes[i].reason, 1);

    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) check_vector(&vectors[i]);

    /* Overlong parts: a 48 KiB header (base64url of 36 KiB of JSON), unsigned. */
    repeated(&big, "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"pad\":\"",
             "################################################################", 36 * 1024 / 64, "\"}");
    t = jwt_n(big.p, big.len, c, strlen(c), UNSIGNED);
    check_token("a 48 KiB header, bad signature", t, strlen(t), EXPECT_REFUSED, "signature", ALL);
    free(t);

    /* A signed token whose signature's last character differs only in the
     * unused low bits: the same bytes, another string. */
    t = jwt(ED_HDR, c, ED);
    {
        size_t n = strlen(t);
        static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *p = strchr(al, t[n - 1]);
        /* an Ed25519 signature is 64 bytes: 86 characters, the last holding 4 bits + 2 unused */
        if (p) t[n - 1] = al[(p - al) | 1];
        check_token("signature with non-canonical base64url (unused bits set)", t, n, EXPECT_REFUSED, NULL, 1);
    }
    free(t);

    repeated(&big, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"scope\":\"openid mail\",\"exp\":", "", 0, "");
    b_str(&big, t_name("%ld,\"sub\":\"", now + 3600));
    for (int i = 0; i < 300; i++) b_str(&big, "a");
    b_str(&big, "\"}");
    t = jwt(ED_HDR, big.p, ED);
    check_token("claims with a 300-character sub (signed)", t, strlen(t), EXPECT_REFUSED, "sub", 1);
    free(t);

    /* Deep nesting: in the header (unsigned; it is parsed first) and in the
     * claims (signed), far past any parser's recursion limit. */
    repeated(&big, "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"x\":", "[", 20000, "");
    for (int i = 0; i < 20000; i++) b_str(&big, "]");
    b_str(&big, "}");
    t = jwt_n(big.p, big.len, c, strlen(c), UNSIGNED);
    check_token("header nested 20000 deep", t, strlen(t), EXPECT_REFUSED, "header", ALL);
    free(t);
    claims_with_repeat(&big, ",\"x\":", "[", 20000, "");
    for (int i = 0; i < 20000; i++) b_str(&big, "]");
    b_str(&big, "}");
    t = jwt_n(ED_HDR, strlen(ED_HDR), big.p, big.len, ED);
    check_token("claims nested 20000 deep (signed)", t, strlen(t), EXPECT_REFUSED, "claims", ALL);
    free(t);
    claims_with_repeat(&big, ",\"x\":", "[", 100, "");
    for (int i = 0; i < 100; i++) b_str(&big, "]");
    b_str(&big, "}");
    t = jwt_n(ED_HDR, strlen(ED_HDR), big.p, big.len, ED);
    check_token("control: claims nested 100 deep (signed) are fine", t, strlen(t), EXPECT_OK, "alice", 1);
    free(t);

    /* Big: a 1 MB JWT (message over 64 KiB), and a 45 KiB one inside the limit. */
    claims_with_repeat(&big, ",\"pad\":\"", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 1000 * 1000 / 64, "\"}");
    t = jwt_n(ED_HDR, strlen(ED_HDR), big.p, big.len, ED);
    check_token("a 1 MB JWT (signed)", t, strlen(t), EXPECT_BADPROT, "too long", ALL);
    free(t);
    claims_with_repeat(&big, ",\"pad\":\"", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 45 * 1024 / 64, "\"}");
    t = jwt_n(ED_HDR, strlen(ED_HDR), big.p, big.len, ED);
    check_token("control: a 60 KiB JWT inside the limit (signed) is fine", t, strlen(t), EXPECT_OK, "alice", 1);
    free(t);
    repeated(&big, "{\"iss\":\"" ISS "\",\"sub\":\"alice\",\"exp\":99999999999,\"aud\":[", "\"x\",", 8000, "\"y\"]}");
    t = jwt_n(ED_HDR, strlen(ED_HDR), big.p, big.len, ED);
    check_token("claims with 8000 audiences, none ours (signed)", t, strlen(t), EXPECT_REFUSED, "audience", 1);
    free(t);
    b_free(&big);
    free(c);
}

/* kid with path traversal and other tricks: only ever a key in our JWKS. */
static void kids(void)
{
    static const char *const k[] = {
        "../../../../../../etc/passwd",
        "/etc/passwd",
        "file:///etc/passwd",
        "..%2f..%2f..%2fetc%2fpasswd",
        "..\\\\..\\\\..\\\\windows\\\\win.ini",
        "ed-1/../ed-1",
        "./ed-1",
        "ed-1\\u0000",
        "\\u0000",
        "ed-1\\u001b[2J\\u0007",
        "' OR '1'='1",
        "",
        "ED-1",
    };
    char *c = strdup(claims(NULL));
    char *t;
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
        t = jwt(t_name("{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", k[i]), c, ED);
        check_token(t_name("kid \"%s\" (signed by ed-1's key)", k[i]), t, strlen(t), EXPECT_REFUSED, "kid",
                    i == 0 || i == 9 ? ALL : 1);
        free(t);
    }
    t = jwt("{\"alg\":\"EdDSA\",\"kid\":42}", c, ED);
    check_token("kid a number", t, strlen(t), EXPECT_REFUSED, "kid", 1);
    free(t);
    t = jwt("{\"alg\":\"EdDSA\",\"kid\":[\"ed-1\"]}", c, ED);
    check_token("kid an array", t, strlen(t), EXPECT_REFUSED, "kid", 1);
    free(t);
    {
        struct buf h = {0};
        b_str(&h, "{\"alg\":\"EdDSA\",\"kid\":\"");
        for (int i = 0; i < 5000; i++) b_str(&h, "../");
        b_str(&h, "\"}");
        t = jwt(h.p, c, ED);
        check_token("kid of 15000 characters", t, strlen(t), EXPECT_REFUSED, "kid", 1);
        free(t);
        b_free(&h);
    }
    free(c);
}

/* jku, x5u, jwk, x5c: never followed, never trusted. A listener on 127.0.0.1
 * stands where they point; nothing may connect to it. */
static void key_urls(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), port, conns = 0;
    char *c = strdup(claims(NULL));
    char *t, hdr[2048];

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 16) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0)
        die("listen on 127.0.0.1");
    port = ntohs(a.sin_port);

    /* Signed by a key the server does not know, with a URL that would give it. */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"EdDSA\",\"kid\":\"evil-1\",\"jku\":\"http://127.0.0.1:%d/jwks.json\"}", port);
    t = jwt(hdr, c, EVIL);
    check_token("jku to 127.0.0.1 with an unknown kid (attacker's key)", t, strlen(t), EXPECT_REFUSED, "kid", ALL);
    free(t);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"jku\":\"http://127.0.0.1:%d/jwks.json\"}", port);
    t = jwt(hdr, c, EVIL);
    check_token("jku to 127.0.0.1, kid ed-1, signed by the attacker's key", t, strlen(t), EXPECT_REFUSED, "signature", 1);
    free(t);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"EdDSA\",\"jku\":\"http://127.0.0.1:%d/jwks.json\"}", port);
    t = jwt(hdr, c, EVIL);
    check_token("jku to 127.0.0.1, no kid, signed by the attacker's key", t, strlen(t), EXPECT_REFUSED, "signature", 1);
    free(t);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"EdDSA\",\"kid\":\"evil-1\",\"x5u\":\"http://127.0.0.1:%d/cert.pem\"}", port);
    t = jwt(hdr, c, EVIL);
    check_token("x5u to 127.0.0.1 (attacker's key)", t, strlen(t), EXPECT_REFUSED, "kid", 1);
    free(t);
    snprintf(hdr, sizeof hdr,
             "{\"alg\":\"EdDSA\",\"kid\":\"evil-1\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}}", evil_x);
    t = jwt(hdr, c, EVIL);
    check_token("embedded jwk of the attacker's key", t, strlen(t), EXPECT_REFUSED, "kid", 1);
    free(t);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"EdDSA\",\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}}", evil_x);
    t = jwt(hdr, c, EVIL);
    check_token("embedded jwk of the attacker's key, no kid", t, strlen(t), EXPECT_REFUSED, "signature", 1);
    free(t);
    t = jwt("{\"alg\":\"RS256\",\"kid\":\"evil-1\",\"x5c\":[\"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\"]}", c, RSA);
    check_token("x5c with a certificate chain", t, strlen(t), EXPECT_REFUSED, "kid", 1);
    free(t);
    /* Our own key's signature with a jku beside it: the URL is ignored. */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\",\"jku\":\"http://127.0.0.1:%d/jwks.json\",\"x5u\":\"http://127.0.0.1:%d/x\"}",
             port, port);
    t = jwt(hdr, c, ED);
    check_token("jku and x5u beside ed-1's own signature: ignored, the fixture key decides", t, strlen(t), EXPECT_OK,
                "alice", 1);
    free(t);

    for (;;) { /* nothing may have connected meanwhile */
        int s = accept(ls, NULL, NULL);
        if (s < 0) break;
        conns++;
        close(s);
    }
    t_check(conns == 0, t_name("jku/x5u never followed: no connection to 127.0.0.1:%d", port), "%d connections", conns);
    close(ls);
    free(c);
}

/* ------------------------------------------------------------ JWKS size modes */

/* A JWKS: n Ed25519 keys with random x (kids k-00000...), then the fixture's
 * keys. Returns its length. */
static size_t make_jwks(const char *path, int n, const char *kid_fmt, size_t pad)
{
    size_t flen = 0;
    char *fixture = slurp(t_name("%s/jwks.json", fixtures), &flen), *open_, *close_;
    struct buf j = {0};
    unsigned char x[32];
    FILE *r = fopen("/dev/urandom", "rb");
    if (!fixture || !r) die("read the fixture JWKS");
    open_ = strchr(fixture, '[');
    close_ = strrchr(fixture, ']');
    if (!open_ || !close_) die("parse the fixture JWKS");
    b_str(&j, "{\"keys\":[");
    for (int i = 0; i < n; i++) {
        char *xb;
        if (fread(x, 1, sizeof x, r) != sizeof x) die("read /dev/urandom");
        xb = b64url(x, sizeof x);
        b_str(&j, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"use\":\"sig\",\"kid\":\"");
        b_str(&j, t_name(kid_fmt, i));
        b_str(&j, "\",\"x\":\"");
        b_str(&j, xb);
        b_str(&j, "\"},");
        free(xb);
    }
    b_add(&j, open_ + 1, (size_t)(close_ - open_ - 1));
    b_str(&j, "]");
    if (pad) {
        b_str(&j, ",\"padding\":\"");
        while (j.len < pad) b_str(&j, "................................................................");
        b_str(&j, "\"");
    }
    b_str(&j, "}\n");
    write_file(path, j.p, j.len);
    fclose(r);
    free(fixture);
    n = (int)j.len;
    b_free(&j);
    return (size_t)n;
}

static int offers(const char *mech)
{
    const char *list = NULL;
    sasl_conn_t *s = NULL;
    int rc, found;
    if (sasl_server_new(SERVICE, SERVER_FQDN, NULL, NULL, NULL, NULL, 0, &s) != SASL_OK) die("sasl_server_new");
    rc = sasl_listmech(s, NULL, " ", " ", " ", &list, NULL, NULL);
    found = rc == SASL_OK && list && strstr(list, t_name(" %s ", mech)) != NULL;
    sasl_dispose(&s);
    return found;
}

static void many_keys(void)
{
    char path[512], *t;
    struct timespec t0;
    double ms;
    size_t len;
    struct timeval later[2];

    snprintf(path, sizeof path, "%s/jwks-5000.json", tmpdir);
    len = make_jwks(path, 5000, "k-%05d", 0);
    t_opt_set("oauth_jwks_file", path);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!t_check(sasl_server_init(global_cbs, NULL) == SASL_OK, "sasl_server_init", "failed")) return;
    ms = ms_since(&t0);
    t_check(ms < 2000, t_name("init with a JWKS of 5000 keys and the fixture's (%zu bytes) in %.0f ms", len, ms), "too slow");
    t_check(offers("OAUTHBEARER"), "the server offers OAUTHBEARER with 5000 keys and the fixture's", "not offered");

    t = t_token("rs256");
    check_token("fixture rs256 (kid rsa-1, after 5000 other keys)", t, strlen(t), EXPECT_OK, "alice", ALL);
    free(t);
    t = t_token("eddsa");
    check_token("fixture eddsa (kid ed-1)", t, strlen(t), EXPECT_OK, "alice", 1);
    free(t);
    t = t_token("unknown-kid");
    check_token("fixture unknown-kid", t, strlen(t), EXPECT_REFUSED, "kid", ALL);
    free(t);
    t = jwt("{\"alg\":\"EdDSA\",\"kid\":\"k-04999\"}", claims(NULL), EVIL);
    check_token("kid of a listed key, attacker's signature", t, strlen(t), EXPECT_REFUSED, "signature", 1);
    free(t);
    /* A token without kid may not make the server try thousands of keys: with
     * more than 8 candidates it is refused at once, whoever signed it. */
    t = jwt("{\"alg\":\"EdDSA\"}", claims(NULL), EVIL);
    check_token("EdDSA without kid, attacker's signature: refused without trying 5001 keys", t, strlen(t),
                EXPECT_REFUSED, "no kid", ALL);
    free(t);
    t = jwt("{\"alg\":\"EdDSA\"}", claims(NULL), ED);
    check_token("EdDSA without kid, ed-1's signature: refused too (name the kid)", t, strlen(t), EXPECT_REFUSED,
                "no kid", 1);
    free(t);
    limit_ms = LIMIT_MS;

    /* The file is replaced by one over 1 MiB: refused at reload, the old keys stay. */
    len = make_jwks(path, 10, "big-%d", 1100 * 1024);
    gettimeofday(&later[0], NULL);
    later[0].tv_sec += 10;
    later[1] = later[0];
    utimes(path, later);
    sleep(1); /* the file is looked at again at most once a second on an unknown kid */
    t = t_token("unknown-kid");
    check_token(t_name("after the file became %zu bytes: unknown kid (makes it look again)", len), t, strlen(t),
                EXPECT_REFUSED, "kid", 1);
    free(t);
    t = t_token("rs256");
    check_token("after the file became over 1 MiB: the old keys still verify rs256", t, strlen(t), EXPECT_OK, "alice", 1);
    free(t);
    t = jwt("{\"alg\":\"EdDSA\",\"kid\":\"big-1\"}", claims(NULL), EVIL);
    check_token("after the file became over 1 MiB: its keys were not loaded", t, strlen(t), EXPECT_REFUSED, "kid", 1);
    free(t);
    unlink(path);
}

static void huge_jwks(void)
{
    char path[512];
    struct timespec t0;
    double ms;
    size_t len;
    snprintf(path, sizeof path, "%s/jwks-huge.json", tmpdir);
    len = make_jwks(path, 100, "k-%d", 1100 * 1024);
    t_opt_set("oauth_jwks_file", path);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!t_check(sasl_server_init(global_cbs, NULL) == SASL_OK, "sasl_server_init (the plugin loads)", "failed"))
        return;
    ms = ms_since(&t0);
    t_check(ms < 2000, t_name("init with a JWKS file of %zu bytes in %.0f ms", len, ms), "too slow");
    t_check(!offers("OAUTHBEARER") && !offers("XOAUTH2"),
            "a JWKS over 1 MiB: OAUTHBEARER and XOAUTH2 are not offered", "offered");
    {
        char *tok = t_token("rs256");
        struct buf m = {0};
        struct verdict v;
        msg_token(&m, OB, tok, strlen(tok));
        exchange("OAUTHBEARER", m.p, m.len, &v);
        t_check(v.rc != SASL_OK && v.rc != SASL_CONTINUE,
                "a JWKS over 1 MiB: sasl_server_start OAUTHBEARER fails at once", "%s", verdict_text(&v));
        b_free(&m);
        free(tok);
    }
    unlink(path);
}

/* ------------------------------------------------------------ main */

static char creds[512];

#define O1CREDS                                                                                    \
    "{\"consumers\": {\"k\": {\"secret\": \"hostile2-consumer-secret\"}},\n"                     \
    " \"tokens\": {\"t\": {\"secret\": \"hostile2-token-secret\", \"user\": \"alice\", \"consumer\": \"k\"}}}\n"

static void cleanup(void)
{
    if (creds[0]) unlink(creds);
    if (tmpdir[0]) rmdir(tmpdir);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 3 ? argv[3] : "";
    const char *td = getenv("TMPDIR");
    struct timespec t0;

    t_init(argc, argv);
    setvbuf(stderr, NULL, _IOLBF, 0);
    if (getenv("SASL_OAUTH_TEST_TIME_SCALE") && atof(getenv("SASL_OAUTH_TEST_TIME_SCALE")) >= 1.0)
        time_scale = atof(getenv("SASL_OAUTH_TEST_TIME_SCALE"));
    now = (long)time(NULL);
    signer_start();
    snprintf(evil_x, sizeof evil_x, "%s", signer_ask("x", "evil", 4));
    snprintf(tmpdir, sizeof tmpdir, "%s/forged_tokens.XXXXXX", td ? td : "/tmp");
    if (!mkdtemp(tmpdir)) die("mkdtemp");
    atexit(cleanup);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (strcmp(mode, "--many-keys") == 0) {
        many_keys();
    } else if (strcmp(mode, "--huge-jwks") == 0) {
        huge_jwks();
    } else if (mode[0]) {
        fprintf(stderr, "usage: %s PLUGIN_DIR FIXTURES [--many-keys | --huge-jwks]\n", argv[0]);
        return 2;
    } else {
        /* a host with control bytes must be refused by the host check, and shown sanitized */
        t_opt_set("oauth_accepted_hosts", SERVER_FQDN);
        /* OAUTH10A is offered only with consumer credentials */
        snprintf(creds, sizeof creds, "%s/oauth10a.json", tmpdir);
        write_file(creds, O1CREDS, strlen(O1CREDS));
        t_opt_set("oauth10a_credentials_file", creds);
        t_opt_set("oauth_authorization_endpoint", ISS "/oauth2/authorize");
        t_opt_set("oauth_token_endpoint", ISS "/oauth2/token");
        if (!t_check(sasl_server_init(global_cbs, NULL) == SASL_OK, "sasl_server_init", "failed"))
            return t_summary();
        controls();
        protocol();
        jwt_shapes();
        kids();
        key_urls();
    }
    printf("# %.0f ms in all\n", ms_since(&t0));
    signer_stop();
    b_free(&logs);
    free(good_token);
    sasl_server_done();
    return t_summary();
}
