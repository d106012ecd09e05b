#!/usr/bin/env python3
"""Replay, byte for byte, the OAUTHBEARER and XOAUTH2 messages that real OAuth
mail clients send (docs/protocol.md §2.1.5), over IMAP (Cyrus imapd) and SMTP (Postfix
smtpd) with our server plugin, on a plain socket so that every byte is the
client's form and nothing else.

Usage:
  interop_forms.py --server KEY (--imap PORT | --smtp PORT) --user NAME
                   --jwt FILE --opaque FILE --bad FILE [--host 127.0.0.1]

For each client form that speaks the protocol: a good token must log in; a
refused token must bring the server's error challenge, then the client's own
way of ending the exchange (it differs: ^A, an empty line, the whole message
again, a raw byte, or hanging up) must end in a refusal, never a login, and
the server must still answer a new connection.

Prints "ok - …" / "not ok - …" per check, "# …" details, and one line
"cell<TAB>client<TAB>server<TAB>mechanisms<TAB>pass|fail" per client, read by
interop_lib.sh's cells_from. Exit status 0 when every check passed.

Where each form comes from (the client's source, read at the version named):

curl 7.88.1 (Debian 12) -- lib/vauth/oauth2.c Curl_auth_create_oauth_bearer_message:
    "n,a=%s,\\1host=%s\\1port=%ld\\1auth=Bearer %s\\1\\1" (port left out when 0 or 80),
    Curl_auth_create_xoauth_bearer_message: "user=%s\\1auth=Bearer %s\\1\\1".
    lib/imap.c passes imapc->ir_supported (server has SASL-IR) as force_ir to
    Curl_sasl_start; lib/smtp.c passes FALSE: SMTP waits for "334 " first.
    lib/curl_sasl.c SASL_OAUTH2_RESP answers an OAUTHBEARER error challenge
    with "\\x01"; for XOAUTH2 the state is SASL_FINAL and a 334/+ is
    CURLE_LOGIN_DENIED: nothing is answered and the connection is dropped.
mutt 2.0 to 2.4.1 (git 15c4579) -- imap/auth_oauth.c imap_auth_oauth(): only with SASL-IR,
    "AUTHENTICATE OAUTHBEARER|XOAUTH2 <b64>"; on failure writes "AQ==\\r\\n"
    (RFC 7628 3.2.3) for both mechanisms. account.c mutt_account_getoauthbearer:
    "n,a=%s,\\001host=%s\\001port=%d\\001auth=Bearer %s\\001\\001" and
    "user=%s\\001auth=Bearer %s\\001\\001". smtp.c smtp_auth_oauth(): OAUTHBEARER
    with an initial response, XOAUTH2 as "AUTH XOAUTH2", "334", then the
    message; on failure "AQ==\\r\\n".
NeoMutt 20251211 (git ed494b0) -- conn/connaccount.c: the same two messages as
    mutt, refusing OAUTHBEARER tokens over 512 bytes (so: an opaque token
    here). imap/auth_oauth.c: SASL-IR only; on failure mutt_socket_send(conn,
    "\\001"): one raw byte 0x01, no base64, no CRLF, then imap_exec(adata, NULL)
    finds no command and the connection is treated as fatal (closed).
    send/smtp.c smtp_auth_oauth_xoauth2(): "AUTH <MECH> <b64>" for both; a 334
    is a failure and nothing more is sent.
msmtp 1.8.33 (git 933d35b) -- src/smtp.c smtp_auth_oauthbearer(): "AUTH OAUTHBEARER <b64>" of
    "n,a=%s,\\001host=%s\\001port=%d\\001auth=Bearer %s\\001\\001";
    smtp_auth_xoauth2(): "AUTH XOAUTH2", "334", then "user=%s\\001auth=Bearer
    %s\\001\\001". After a 334 error challenge both send an empty line.
imapclient 3.1.0 (git 248f09a) -- imapclient/imapclient.py oauthbearer_login():
    "n,a=<identity with = and , escaped>,\\1auth=Bearer %s\\1\\1" (no host, no
    port); oauth2_login(): "user=%s\\1auth=Bearer %s\\1" [+ "vendor=%s\\1"
    (Yahoo)] + "\\1". Both through imaplib's authenticate (no SASL-IR), whose
    callback (lambda x: auth_string) answers every challenge, the error
    challenge too, with the whole message again.
Roundcube 1.7-beta (git 28b4441) -- program/lib/Roundcube/rcube_imap_generic.php authenticate():
    always "AUTHENTICATE <TYPE> <b64>" (no SASL-IR check) of
    "user={$user}\\1auth={$pass}\\1\\1" or "n,a={$user},\\1auth={$pass}\\1\\1"
    where $pass is "Bearer <token>" (program/include/rcmail_oauth.php); on a
    "+" it sends an empty line.
Apache Kafka clients -- clients/src/main/java/org/apache/kafka/common/security/
    oauthbearer/internals/OAuthBearerClientInitialResponse.java toBytes():
    "n,%s,%sauth=Bearer %s%s%s%s" = "n,," (no authzid) "\\x01auth=Bearer <token>"
    then "\\x01key=value" SASL extensions, "\\x01\\x01"; OAuthBearerSaslClient
    answers the error challenge with 0x01. Kafka speaks neither IMAP nor SMTP:
    its message is carried here as an initial response.
"""
import argparse
import base64
import json
import socket
import sys
import time

TIMEOUT = 15


# ---------------------------------------------------------------- the forms

def oauthbearer_hostport(user, host, port, token):
    return b"n,a=%s,\x01host=%s\x01port=%d\x01auth=Bearer %s\x01\x01" % (
        user.encode(), host.encode(), port, token)


def xoauth2(user, host, port, token):
    return b"user=%s\x01auth=Bearer %s\x01\x01" % (user.encode(), token)


def imapclient_oauthbearer(user, host, port, token):
    ident = user.replace("=", "=3D").replace(",", "=2C")
    return b"n,a=%s,\x01auth=Bearer %s\x01\x01" % (ident.encode(), token)


def imapclient_xoauth2_vendor(user, host, port, token):
    return b"user=%s\x01auth=Bearer %s\x01vendor=%s\x01\x01" % (user.encode(), token, b"yahoo-mail")


def roundcube_oauthbearer(user, host, port, token):
    return b"n,a=%s,\x01auth=%s\x01\x01" % (user.encode(), b"Bearer " + token)


def roundcube_xoauth2(user, host, port, token):
    return b"user=%s\x01auth=%s\x01\x01" % (user.encode(), b"Bearer " + token)


def kafka(user, host, port, token):
    ext = b"logicalCluster=lkc-e2e01\x01identityPoolId=pool-e2e01"
    return b"n,,\x01auth=Bearer %s\x01%s\x01\x01" % (token, ext)


# After the server's error challenge: what the client sends next.
B64_CTRL_A = ("b64", b"\x01")      # "AQ==": RFC 7628 3.2.3
EMPTY = ("b64", b"")               # an empty line
RESEND = ("resend", None)          # the whole first message again
HANG_UP = ("close", None)          # nothing: the client drops the connection
RAW_CTRL_A = ("raw", b"\x01")      # the byte 0x01 itself, no base64, no CRLF; then closed

# (client, mechanism, builder, token kind, imap mode, smtp mode, after error)
# mode: "ir" initial response, "cont" waits for the server's empty challenge,
# "ir-if-offered" uses SASL-IR only when the server announces it, None: not spoken.
FORMS = [
    ("curl", "OAUTHBEARER", oauthbearer_hostport, "jwt", "ir-if-offered", "cont", B64_CTRL_A),
    ("curl", "XOAUTH2", xoauth2, "jwt", "ir-if-offered", "cont", HANG_UP),
    ("mutt", "OAUTHBEARER", oauthbearer_hostport, "jwt", "ir", "ir", B64_CTRL_A),
    ("mutt", "XOAUTH2", xoauth2, "jwt", "ir", "cont", B64_CTRL_A),
    ("neomutt", "OAUTHBEARER", oauthbearer_hostport, "opaque", "ir", "ir", {"imap": RAW_CTRL_A, "smtp": HANG_UP}),
    ("neomutt", "XOAUTH2", xoauth2, "jwt", "ir", "ir", {"imap": RAW_CTRL_A, "smtp": HANG_UP}),
    ("msmtp", "OAUTHBEARER", oauthbearer_hostport, "jwt", None, "ir", EMPTY),
    ("msmtp", "XOAUTH2", xoauth2, "jwt", None, "cont", EMPTY),
    ("imapclient", "OAUTHBEARER", imapclient_oauthbearer, "jwt", "cont", None, RESEND),
    ("imapclient", "XOAUTH2", xoauth2, "jwt", "cont", None, RESEND),
    ("imapclient", "XOAUTH2+vendor", imapclient_xoauth2_vendor, "jwt", "cont", None, RESEND),
    ("roundcube", "OAUTHBEARER", roundcube_oauthbearer, "jwt", "ir", None, EMPTY),
    ("roundcube", "XOAUTH2", roundcube_xoauth2, "jwt", "ir", None, EMPTY),
    ("kafka", "OAUTHBEARER", kafka, "jwt", "ir", "ir", B64_CTRL_A),
]


# ---------------------------------------------------------------- transport

def short(b):
    text = b.decode("utf-8", "replace").rstrip("\r\n")
    return " ".join(w if len(w) <= 60 else w[:24] + "...(%d chars)" % len(w) for w in text.split(" "))


class Conn:
    def __init__(self, host, port, log):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.f = self.sock.makefile("rb")
        self.log = log

    def line(self):
        data = self.f.readline()
        if not data:
            raise EOFError("the server closed the connection")
        self.log.append("S: " + short(data))
        return data.decode("utf-8", "replace").rstrip("\r\n")

    def send(self, data, show=None):
        self.sock.sendall(data)
        self.log.append("C: " + (show if show is not None else short(data)))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def b64(data):
    return base64.b64encode(data)


def decode_challenge(text):
    """JSON of a base64 challenge, or None."""
    try:
        raw = base64.b64decode(text, validate=True)
        return json.loads(raw.decode("utf-8"))
    except Exception:  # noqa: BLE001 - not a JSON challenge
        return None


class Imap:
    greeting_re = "* OK"

    def __init__(self, host, port, log):
        self.c = Conn(host, port, log)
        if not self.c.line().startswith("* OK"):
            raise RuntimeError("no IMAP greeting")
        self.c.send(b"a1 CAPABILITY\r\n")
        caps = ""
        while True:
            line = self.c.line()
            if line.startswith("* CAPABILITY"):
                caps = line.upper()
            if line.startswith("a1 "):
                break
        self.caps = caps.split()

    def offers(self, mech):
        return "AUTH=" + mech in self.caps

    def start(self, mech, message, mode):
        """Returns ("ok"|"no"|"challenge", text)."""
        ir = mode == "ir" or (mode == "ir-if-offered" and "SASL-IR" in self.caps)
        if ir:
            self.c.send(b"a2 AUTHENTICATE %s %s\r\n" % (mech.encode(), b64(message) or b"="))
        else:
            self.c.send(b"a2 AUTHENTICATE %s\r\n" % mech.encode())
            kind, text = self.result()
            if kind != "challenge" or text != "":
                return "protocol", "expected an empty continuation, got %r" % text
            self.c.send(b64(message) + b"\r\n")
        return self.result()

    def result(self):
        while True:
            line = self.c.line()
            if line.startswith("+"):
                return "challenge", line[1:].strip()
            if line.startswith("a2 OK"):
                return "ok", line
            if line.startswith("a2 NO") or line.startswith("a2 BAD"):
                return "no", line
            if line.startswith("* BYE"):
                return "no", line

    def quit(self):
        self.c.send(b"a9 LOGOUT\r\n")
        self.c.close()


class Smtp:
    def __init__(self, host, port, log):
        self.c = Conn(host, port, log)
        if not self.c.line().startswith("220"):
            raise RuntimeError("no SMTP greeting")
        self.c.send(b"EHLO forms.e2e.invalid\r\n")
        self.mechs = []
        while True:
            line = self.c.line()
            if line[4:].upper().startswith("AUTH"):
                self.mechs = line[4:].upper().replace("=", " ").split()[1:]
            if line[3:4] != "-":
                break

    def offers(self, mech):
        return mech in self.mechs

    def start(self, mech, message, mode):
        if mode == "ir":
            self.c.send(b"AUTH %s %s\r\n" % (mech.encode(), b64(message) or b"="))
        else:
            self.c.send(b"AUTH %s\r\n" % mech.encode())
            kind, text = self.result()
            if kind != "challenge" or text != "":
                return "protocol", "expected '334 ', got %r" % text
            self.c.send(b64(message) + b"\r\n")
        return self.result()

    def result(self):
        while True:
            line = self.c.line()
            if line.startswith("334"):
                return "challenge", line[4:].strip()
            if line[3:4] == "-":
                continue
            if line.startswith("235"):
                return "ok", line
            return "no", line

    def quit(self):
        self.c.send(b"QUIT\r\n")
        self.c.close()


# ---------------------------------------------------------------- checks

class Report:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def check(self, name, good, log=()):
        if good:
            self.passed += 1
            print("ok - " + name)
        else:
            self.failed += 1
            print("not ok - " + name)
            for line in log:
                print("#     " + line)
        sys.stdout.flush()
        return good


def run_form(proto, cls, host, port, server, user, tokens, form, rep):
    client, mech, build, kind, imap_mode, smtp_mode, after = form
    mode = imap_mode if proto == "imap" else smtp_mode
    if isinstance(after, dict):
        after = after[proto]
    wire_mech = mech.split("+")[0]
    label = "%s form, %s over %s to %s" % (client, mech, proto.upper(), server)
    results = []

    # A good token logs in.
    log = []
    try:
        s = cls(host, port, log)
        if not s.offers(wire_mech):
            results.append(rep.check(label + ": the server offers " + wire_mech, False, log))
            return results
        message = build(user, host, port, tokens[kind])
        kind_, text = s.start(wire_mech, message, mode)
        results.append(rep.check(label + ": logs in with a valid token", kind_ == "ok", log))
        s.quit()
    except Exception as e:  # noqa: BLE001
        log.append("error: %r" % e)
        results.append(rep.check(label + ": logs in with a valid token", False, log))

    # A refused token: error challenge, the client's own ending, a refusal.
    log = []
    try:
        s = cls(host, port, log)
        message = build(user, host, port, tokens["bad"])
        kind_, text = s.start(wire_mech, message, mode)
        challenge = decode_challenge(text) if kind_ == "challenge" else None
        if challenge is not None:
            log.append("# challenge: " + json.dumps(challenge))
        want = "invalid_token" if wire_mech == "OAUTHBEARER" else "401"
        got_challenge = challenge is not None and challenge.get("status") == want
        action, data = after
        end = None
        if got_challenge:
            if action == "b64":
                s.c.send(b64(data) + b"\r\n")
                end = s.result()
            elif action == "resend":
                s.c.send(b64(message) + b"\r\n")
                end = s.result()
                # imaplib would answer a further challenge the same way.
                while end[0] == "challenge":
                    s.c.send(b64(message) + b"\r\n")
                    end = s.result()
            elif action == "raw":
                s.c.send(data, show="(raw byte 0x01, no CRLF; then the client hangs up)")
                end = ("closed", "")
            else:
                end = ("closed", "")
        how = {"b64": "answered %r" % data, "resend": "answered with the whole message again",
               "raw": "answered with a raw 0x01 and hung up", "close": "hung up"}[action]
        good = got_challenge and end is not None and end[0] in ("no", "closed")
        results.append(rep.check(
            "%s: a refused token gets the error challenge (status %s), then %s: refused, not logged in"
            % (label, want, how), good, log))
        s.c.close()
    except Exception as e:  # noqa: BLE001
        log.append("error: %r" % e)
        results.append(rep.check(label + ": a refused token is refused cleanly", False, log))

    # The server still serves.
    log = []
    try:
        time.sleep(0.05)
        s = cls(host, port, log)
        s.quit()
        results.append(rep.check(label + ": the server still answers a new connection", True))
    except Exception as e:  # noqa: BLE001
        log.append("error: %r" % e)
        results.append(rep.check(label + ": the server still answers a new connection", False, log))
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--imap", type=int)
    ap.add_argument("--smtp", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--user", required=True)
    ap.add_argument("--jwt", required=True)
    ap.add_argument("--opaque", required=True)
    ap.add_argument("--bad", required=True)
    a = ap.parse_args()
    tokens = {k: open(getattr(a, k), "rb").read().strip() for k in ("jwt", "opaque", "bad")}
    proto, cls, port = ("imap", Imap, a.imap) if a.imap else ("smtp", Smtp, a.smtp)
    rep = Report()
    per_client = {}
    for form in FORMS:
        mode = form[4] if proto == "imap" else form[5]
        if mode is None:
            continue
        results = run_form(proto, cls, a.host, port, a.server, a.user, tokens, form, rep)
        entry = per_client.setdefault(form[0], {"mechs": [], "ok": True})
        if form[1] not in entry["mechs"]:
            entry["mechs"].append(form[1])
        entry["ok"] = entry["ok"] and all(results)
    for client, entry in per_client.items():
        print("cell\tform-%s\t%s\t%s\t%s" % (client, a.server, " ".join(entry["mechs"]),
                                             "pass" if entry["ok"] else "fail"))
    sys.exit(1 if rep.failed else 0)


if __name__ == "__main__":
    main()
