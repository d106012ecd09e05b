# shellcheck shell=bash
# Shared pieces of the interoperability matrix (c-tests/e2e/interop*.sh).
# Source it after lib.sh (and idp_lib.sh) and e2e_init.
#
#   cell_begin CLIENT SERVER MECH   start one cell of the matrix
#   cell_end                        close it: pass when every check since
#                                   cell_begin passed (and there was one)
#   cells_from FILE                 replay "ok"/"not ok"/"cell" lines written by
#                                   interop_forms.py (counts them, records cells)
#   errdetail_shim                  build (once) an LD_PRELOAD shim that prints
#                                   sasl_errdetail() after every sasl_client_step
#   tok KIND [OPTIONS...]           a token from the test provider in TOKEN
#   decode_smtp_challenges          "# challenge: …" lines for curl -v's "< 334 …"
#
# Cells go to $INTEROP_CELLS (set by interop.sh) as tab-separated lines
# "client server mechanism pass|fail"; run alone, a script keeps them in its
# private directory. Client and server keys are those of interop.sh's matrix.

CELL_KEY=""

interop_cells_file() {
    if [ -n "${INTEROP_CELLS:-}" ]; then echo "$INTEROP_CELLS"; else echo "$E2E_TMP/cells.tsv"; fi
}

cell_begin() {
    [ -z "$CELL_KEY" ] || cell_end
    CELL_KEY="$1	$2	$3"
    CELL_FAILED0=$E2E_FAILED
    CELL_PASSED0=$E2E_PASSED
    echo "# ---- cell: $1 -> $2 ($3)"
}

cell_end() {
    [ -n "$CELL_KEY" ] || return 0
    local result=fail
    if [ "$E2E_FAILED" -eq "$CELL_FAILED0" ] && [ "$E2E_PASSED" -gt "$CELL_PASSED0" ]; then
        result=pass
    fi
    printf '%s\t%s\n' "$CELL_KEY" "$result" >> "$(interop_cells_file)"
    CELL_KEY=""
}

# cells_from FILE: the output of interop_forms.py, re-reported through lib.sh's
# ok/not_ok (so that the summary counts them) and its cells recorded.
cells_from() {
    local line
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in
            "ok - "*) ok "${line#ok - }" ;;
            "not ok - "*) not_ok "${line#not ok - }" ;;
            "cell	"*) printf '%s\n' "${line#cell	}" >> "$(interop_cells_file)" ;;
            *) printf '%s\n' "$line" ;;
        esac
    done < "$1"
}

# errdetail_shim: prints the path of a small LD_PRELOAD library that wraps
# libsasl2's sasl_client_step and prints "# sasl_client_step: RC, errdetail:
# TEXT" on stderr after each call. Cyrus' test clients (imtest, pop3test,
# smtptest) never show sasl_errdetail(); this makes what the client plugin put
# there visible without changing the client. Built with cc against the
# installed <sasl/sasl.h>.
errdetail_shim() {
    local so="$E2E_TMP/errdetail-shim.so" src="$E2E_TMP/errdetail-shim.c"
    if [ ! -f "$so" ]; then
        cat > "$src" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <sasl/sasl.h>

typedef int (*step_fn)(sasl_conn_t *, const char *, unsigned, sasl_interact_t **,
                       const char **, unsigned *);

int sasl_client_step(sasl_conn_t *conn, const char *in, unsigned inlen,
                     sasl_interact_t **prompt, const char **out, unsigned *outlen)
{
    static step_fn real;
    if (!real)
        real = (step_fn)dlsym(RTLD_NEXT, "sasl_client_step");
    int rc = real(conn, in, inlen, prompt, out, outlen);
    const char *detail = sasl_errdetail(conn);
    fprintf(stderr, "# sasl_client_step: %d, errdetail: %s\n", rc, detail ? detail : "");
    fflush(stderr);
    return rc;
}
EOF
        cc -shared -fPIC -O1 -o "$so" "$src" -ldl >&2 || return 1
    fi
    echo "$so"
}

# decode_smtp_challenges: after `run curl … smtp://…`, curl -v shows the
# server's SASL challenges as "< 334 base64"; append them decoded.
decode_smtp_challenges() {
    python3 -c '
import base64, re, sys
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"^< 334 ([A-Za-z0-9+/=]+)\s*$", line)
    if m:
        try:
            print("# challenge: " + base64.b64decode(m.group(1)).decode("utf-8", "replace"))
        except Exception as e:
            print("# challenge (undecodable): %s" % e)
' "$RUN_LOG" >> "$RUN_LOG"
}

# server_alive NAME HOST PORT GREETING_ERE: a fresh connection gets a greeting.
server_alive() {
    run python3 - "$2" "$3" <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(s.makefile("rb").readline().decode("utf-8", "replace").rstrip())
EOF
    expect "$1" 0 "$4"
}
