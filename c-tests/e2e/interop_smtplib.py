"""Log in to an SMTP server with Python's smtplib and OAUTHBEARER or XOAUTH2,
then optionally send a message.

Usage: interop_smtplib.py MECH PORT USER TOKEN_FILE [--no-ir] [--send FROM TO SUBJECT]

smtplib's SMTP.auth(mechanism, authobject) sends the first message as an
initial response ("AUTH MECH <b64>") unless initial_response_ok is False
(--no-ir), then answers every 334 challenge with authobject(challenge). The
authobject here builds imapclient's forms (OAUTHBEARER with a=, no host and
port; XOAUTH2 user=…), and answers an error challenge as RFC 7628 says
(OAUTHBEARER: ^A) or as Google documents (XOAUTH2: an empty response).

Prints the exchange (smtplib debug, the base64 shortened), each challenge
decoded ("# challenge: …"), "auth: CODE TEXT", and "sent" once the message
is accepted. Exit status 0 when logged in (and sent), 1 when the server
refused, 2 on any other error.
"""
import argparse
import re
import smtplib
import sys

ap = argparse.ArgumentParser()
ap.add_argument("mech")
ap.add_argument("port", type=int)
ap.add_argument("user")
ap.add_argument("token_file")
ap.add_argument("--no-ir", action="store_true")
ap.add_argument("--send", nargs=3, metavar=("FROM", "TO", "SUBJECT"))
a = ap.parse_args()
token = open(a.token_file, encoding="ascii").read().strip()

if a.mech == "XOAUTH2":
    first = "user=%s\x01auth=Bearer %s\x01\x01" % (a.user, token)
    after_error = ""
elif a.mech == "OAUTHBEARER":
    first = "n,a=%s,\x01auth=Bearer %s\x01\x01" % (a.user, token)
    after_error = "\x01"
else:
    sys.exit("unknown mechanism " + a.mech)


def authobject(challenge=None):
    # smtplib calls it without a challenge for the initial response, then with
    # each 334 challenge (decoded); the first 334 of a no-IR exchange is empty.
    if challenge is None or challenge == b"":
        return first
    print("# challenge: " + challenge.decode("utf-8", "replace"), flush=True)
    return after_error


class Shortened(smtplib.SMTP):
    def _print_debug(self, *args):
        text = " ".join(str(x) for x in args)
        print("  " + re.sub(r"[A-Za-z0-9+/=]{60,}", lambda m: m.group(0)[:20] + "...", text), flush=True)


try:
    s = Shortened("127.0.0.1", a.port, timeout=20)
    s.set_debuglevel(1)
    s.ehlo("smtplib.e2e.invalid")
    try:
        code, text = s.auth(a.mech, authobject, initial_response_ok=not a.no_ir)
    except smtplib.SMTPAuthenticationError as e:
        print("auth: %d %s" % (e.smtp_code, e.smtp_error.decode("utf-8", "replace")), flush=True)
        print("refused", flush=True)
        s.quit()
        sys.exit(1)
    print("auth: %d %s" % (code, text.decode("utf-8", "replace")), flush=True)
    if a.send:
        frm, to, subject = a.send
        body = "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nsent by Python smtplib with %s\r\n" % (
            frm, to, subject, a.mech)
        s.sendmail(frm, [to], body)
        print("sent", flush=True)
    s.quit()
    sys.exit(0)
except smtplib.SMTPException as e:
    print("refused: %r" % e, flush=True)
    sys.exit(1)
except Exception as e:  # noqa: BLE001 - a broken set-up
    print("error: %r" % e, flush=True)
    sys.exit(2)
