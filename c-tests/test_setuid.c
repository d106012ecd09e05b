/* A client application as a setuid program would be: it loads our plugin
 * through the real libsasl2 (from PLUGIN_DIR, by SASL_CB_GETPATH: libsasl2
 * ignores SASL_PATH in a set-id process) and starts one OAUTHBEARER login with
 * SECRET as its SASL_CB_PASS secret. Driven by c-tests/e2e/setuid.sh, which
 * installs it setuid root, runs it as `nobody` with a hostile environment, and
 * checks what it did.
 *
 *   test_setuid PLUGIN_DIR SECRET
 *
 * Prints "uid=U euid=E", then "start rc=N" and "detail: TEXT" (the client's
 * errdetail); exit status 0 when sasl_client_start returned SASL_OK or
 * SASL_CONTINUE, 1 when it failed, 2 on a set-up error. */
#include <sasl/sasl.h> /* must come before saslplug.h */
#include <sasl/saslplug.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CB(fn) ((sasl_callback_ft)(void (*)(void))(fn))

static const char *plugin_dir, *secret_text;
static sasl_secret_t *secret;

static int getpath(void *context, const char **path)
{
    (void)context;
    *path = plugin_dir;
    return SASL_OK;
}

static int log_cb(void *context, int level, const char *message)
{
    (void)context;
    fprintf(stderr, "log: [%d] %s\n", level, message);
    return SASL_OK;
}

static int authname(void *context, int id, const char **result, unsigned *len)
{
    (void)context;
    (void)id;
    *result = "alice";
    if (len) *len = 5;
    return SASL_OK;
}

static int getsecret(sasl_conn_t *conn, void *context, int id, sasl_secret_t **out)
{
    (void)conn;
    (void)context;
    (void)id;
    *out = secret;
    return SASL_OK;
}

int main(int argc, char **argv)
{
    static sasl_callback_t global[] = {
        {SASL_CB_GETPATH, CB(getpath), NULL},
        {SASL_CB_LOG, CB(log_cb), NULL},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    static sasl_callback_t per_conn[] = {
        {SASL_CB_AUTHNAME, CB(authname), NULL},
        {SASL_CB_PASS, CB(getsecret), NULL},
        {SASL_CB_LIST_END, NULL, NULL},
    };
    static unsigned char buf[sizeof(sasl_secret_t) + 4096];
    sasl_conn_t *conn = NULL;
    const char *out = NULL, *chosen = NULL, *detail;
    unsigned outlen = 0;
    size_t n;
    int rc;

    if (argc != 3) {
        fprintf(stderr, "usage: test_setuid PLUGIN_DIR SECRET\n");
        return 2;
    }
    plugin_dir = argv[1];
    secret_text = argv[2];
    n = strlen(secret_text);
    if (n >= 4096) return 2;
    secret = (sasl_secret_t *)buf;
    secret->len = n;
    memcpy(secret->data, secret_text, n);

    printf("uid=%u euid=%u\n", (unsigned)getuid(), (unsigned)geteuid());
    rc = sasl_client_init(global);
    if (rc != SASL_OK) {
        printf("sasl_client_init rc=%d\n", rc);
        return 2;
    }
    rc = sasl_client_new("smtp", "mail.example.com", NULL, NULL, per_conn, 0, &conn);
    if (rc != SASL_OK) {
        printf("sasl_client_new rc=%d\n", rc);
        return 2;
    }
    rc = sasl_client_start(conn, "OAUTHBEARER", NULL, &out, &outlen, &chosen);
    detail = sasl_errdetail(conn);
    printf("start rc=%d\n", rc);
    printf("detail: %s\n", detail ? detail : "");
    sasl_dispose(&conn);
    sasl_client_done();
    return rc == SASL_OK || rc == SASL_CONTINUE ? 0 : 1;
}
