/* Installing the plugin must not change what a password client picks.
 * libsasl2 ranks client mechanisms once, when it loads the plugins, and ties
 * go to the plugin loaded later (directory order); OAUTHBEARER and XOAUTH2
 * tie with PLAIN and LOGIN. So the system's PLAIN and LOGIN plugins and ours
 * go into private plugin directories (symlinks), one where readdir gives ours
 * first and one where it gives ours last, and a client facing a server that
 * offers "PLAIN LOGIN XOAUTH2 OAUTHBEARER" must pick PLAIN or LOGIN for its
 * password in both, unless its client configuration has a `mechanisms:` line.
 *
 *   test_coexist PLUGIN_DIR FIXTURES
 *
 * libsasl2 loads client plugins once per process: every case runs in a child
 * process that reports the chosen mechanism and first message through a pipe. */
#include "common.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYSTEM_PLUGINS
#define SYSTEM_PLUGINS "/usr/lib/x86_64-linux-gnu/sasl2"
#endif

#define SERVER_OFFERS "PLAIN LOGIN XOAUTH2 OAUTHBEARER"
#define PASSWORD "app-password-1234"

static char tmpdir[64];

/* What one client start gave. */
struct chosen {
    int rc;
    char mech[64];
    char out[2048];
};

static void make_link(const char *dir, const char *name, const char *target)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (symlink(target, path) != 0) {
        perror(path);
        exit(2);
    }
}

/* Where readdir puts our plugin in DIR: -1 before both PLAIN and LOGIN, 1
 * after both, 0 in between or not found. Also prints the order (as ls -f). */
static int our_place(const char *dir, const char *ours)
{
    int i = 0, at_ours = -1, at_plain = -1, at_login = -1;
    struct dirent *e;
    DIR *d = opendir(dir);
    if (!d) return 0;
    printf("# readdir order of %s:", dir);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        printf(" %s", e->d_name);
        if (!strcmp(e->d_name, ours)) at_ours = i;
        if (!strcmp(e->d_name, "libplain.so")) at_plain = i;
        if (!strcmp(e->d_name, "liblogin.so")) at_login = i;
        i++;
    }
    printf("\n");
    closedir(d);
    if (at_ours < 0 || at_plain < 0 || at_login < 0) return 0;
    if (at_ours < at_plain && at_ours < at_login) return -1;
    if (at_ours > at_plain && at_ours > at_login) return 1;
    return 0;
}

/* Makes two plugin directories, one where readdir gives our plugin first and
 * one where it gives it last, trying names and creation orders until both are
 * found (readdir's order depends on the file system). */
static void make_dirs(char *first, char *last, size_t len)
{
    static const char *names[] = {"libsasloauth.so", "liba.so", "libzzzz.so", "lib0.so",
                                  "libq.so", "libmoauth.so", "libxoauth.so", "lib9.so"};
    char ours[512], dir[300];
    int n = 0, have_first = 0, have_last = 0;
    snprintf(ours, sizeof ours, "%s/libsasloauth.so", plugin_dir);
    for (size_t i = 0; i < sizeof names / sizeof *names && !(have_first && have_last); i++) {
        for (int ours_created_first = 0; ours_created_first < 2; ours_created_first++) {
            snprintf(dir, sizeof dir, "%s/plugins-%d", tmpdir, n++);
            if (mkdir(dir, 0700) != 0) {
                perror(dir);
                exit(2);
            }
            if (ours_created_first) make_link(dir, names[i], ours);
            make_link(dir, "libplain.so", SYSTEM_PLUGINS "/libplain.so");
            make_link(dir, "liblogin.so", SYSTEM_PLUGINS "/liblogin.so");
            if (!ours_created_first) make_link(dir, names[i], ours);
            int place = our_place(dir, names[i]);
            if (place < 0 && !have_first) {
                snprintf(first, len, "%s", dir);
                have_first = 1;
            } else if (place > 0 && !have_last) {
                snprintf(last, len, "%s", dir);
                have_last = 1;
            }
        }
    }
    if (!have_first || !have_last) {
        printf("Bail out! could not make plugin directories in both readdir orders\n");
        exit(2);
    }
}

/* In a child: sasl_client_init with DIR and CONF, one sasl_client_start. */
static struct chosen start(const char *dir, const char *conf, const char *secret,
                           const char *mechlist)
{
    struct chosen r = {0};
    int fds[2], status = 0;
    pid_t pid;
    if (pipe(fds) != 0) exit(2);
    fflush(stdout);
    pid = fork();
    if (pid < 0) exit(2);
    if (pid == 0) {
        struct creds c = {.authid = "relay@example.com", .token = secret};
        const char *out = NULL, *mech = NULL;
        unsigned outlen = 0;
        sasl_conn_t *conn;
        close(fds[0]);
        plugin_dir = dir;
        setenv("SASL_OAUTH_CONF", conf, 1);
        t_client_init();
        conn = t_client_new(&c);
        r.rc = sasl_client_start(conn, mechlist, NULL, &out, &outlen, &mech);
        if (mech) snprintf(r.mech, sizeof r.mech, "%s", mech);
        if (out && outlen < sizeof r.out) {
            memcpy(r.out, out, outlen);
            for (unsigned i = 0; i < outlen; i++) /* PLAIN's NULs, OAUTHBEARER's ^A */
                if ((unsigned char)r.out[i] < ' ') r.out[i] = ' ';
        }
        if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r) _exit(3);
        _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], &r, sizeof r) != (ssize_t)sizeof r) {
        r.rc = -999;
        snprintf(r.mech, sizeof r.mech, "(child died)");
    }
    close(fds[0]);
    waitpid(pid, &status, 0);
    return r;
}

static int is(const struct chosen *r, const char *mech)
{
    return !strcmp(r->mech, mech);
}

static void write_conf(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    char first[300], last[300], none[300], line[300], name[512];
    const char *orders[2][2];
    char *token;

    t_init(argc, argv);
    token = t_token("rs256");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sasloauth-coexist-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    make_dirs(first, last, sizeof first);
    orders[0][0] = "ours loaded first";
    orders[0][1] = first;
    orders[1][0] = "ours loaded last";
    orders[1][1] = last;

    /* An explicit empty file: the machine's own client file plays no part. */
    snprintf(none, sizeof none, "%s/no-line.conf", tmpdir);
    write_conf(none, "# no mechanisms line\nrefresh_window: 300\n");
    snprintf(line, sizeof line, "%s/line.conf", tmpdir);
    write_conf(line, "mechanisms: OAUTHBEARER XOAUTH2\n");

    for (int o = 0; o < 2; o++) {
        const char *order = orders[o][0], *dir = orders[o][1];
        struct chosen r;

        /* No line: a password client picks a password mechanism. */
        r = start(dir, none, PASSWORD, SERVER_OFFERS);
        snprintf(name, sizeof name, "%s, no mechanisms line: the password goes by PLAIN or LOGIN",
                 order);
        t_check(r.rc == SASL_OK || r.rc == SASL_CONTINUE, name, "rc=%d mech=%s", r.rc, r.mech);
        t_check(is(&r, "PLAIN") || is(&r, "LOGIN"), name, "chose %s", r.mech);
        snprintf(name, sizeof name, "%s, no mechanisms line: no bearer message carries the password",
                 order);
        t_check(!strstr(r.out, "Bearer") && !strstr(r.out, "auth="), name, "first message: %s",
                r.out);

        /* No line: our mechanisms are not registered at all. */
        r = start(dir, none, token, "XOAUTH2 OAUTHBEARER");
        snprintf(name, sizeof name, "%s, no mechanisms line: no client OAuth mechanism", order);
        t_check(r.rc == SASL_NOMECH, name, "rc=%d mech=%s", r.rc, r.mech);

        /* The line, and a server offering only XOAUTH2 (or an application
         * naming it, as a mechanism filter does). */
        r = start(dir, line, token, "XOAUTH2");
        snprintf(name, sizeof name, "%s, mechanisms line: XOAUTH2 chosen with the token", order);
        t_check(r.rc == SASL_OK || r.rc == SASL_CONTINUE, name, "rc=%d mech=%s", r.rc, r.mech);
        t_check(is(&r, "XOAUTH2") && strstr(r.out, "auth=Bearer ") && strstr(r.out, token), name,
                "chose %s", r.mech);

        /* An application naming OAUTHBEARER (imtest -m, a mechanism filter). */
        r = start(dir, line, token, "OAUTHBEARER");
        snprintf(name, sizeof name, "%s, mechanisms line: OAUTHBEARER named, chosen with the token",
                 order);
        t_check(is(&r, "OAUTHBEARER") && strstr(r.out, "auth=Bearer ") && strstr(r.out, token),
                name, "rc=%d chose %s", r.rc, r.mech);

        /* The whole list: the tie with PLAIN and LOGIN goes by load order
         * (measured: readdir's first wins), so only with ours listed first
         * is an OAuth mechanism chosen unasked. */
        r = start(dir, line, token, SERVER_OFFERS);
        snprintf(name, sizeof name, "%s, mechanisms line, server offers " SERVER_OFFERS ": %s",
                 order, o == 0 ? "OAUTHBEARER" : "PLAIN");
        t_check(is(&r, o == 0 ? "OAUTHBEARER" : "PLAIN"), name, "rc=%d chose %s", r.rc, r.mech);

        /* The line names OAUTHBEARER and XOAUTH2 only. */
        r = start(dir, line, token, "OAUTH10A OAUTH");
        snprintf(name, sizeof name, "%s, mechanisms line: OAUTH10A and OAUTH stay unregistered",
                 order);
        t_check(r.rc == SASL_NOMECH, name, "rc=%d mech=%s", r.rc, r.mech);
    }

    free(token);
    snprintf(name, sizeof name, "rm -rf '%s'", tmpdir);
    if (system(name) != 0) printf("# could not remove %s\n", tmpdir);
    return t_summary();
}
