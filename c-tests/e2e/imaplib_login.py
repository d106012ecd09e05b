"""Log in to an IMAP server with Python's imaplib and OAUTHBEARER or XOAUTH2.

Usage: imaplib_login.py MECH PORT USER TOKEN_FILE

Connects to 127.0.0.1:PORT, authenticates with the token read from TOKEN_FILE,
prints the protocol exchange (imaplib debug, tokens shortened), any error
challenge decoded, and the result. Exit status 0 when logged in, 1 when the
server said NO/BAD, 2 on any other error.
"""
import imaplib
import re
import sys

mech, port, user, token_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
token = open(token_file, "rb").read().strip()

if mech == "XOAUTH2":
    first = b"user=" + user.encode() + b"\x01auth=Bearer " + token + b"\x01\x01"
    after_error = b""  # XOAUTH2: an empty response ends a failed exchange
elif mech == "OAUTHBEARER":
    # imapclient's form: no host/port keys
    first = b"n,a=" + user.encode() + b",\x01auth=Bearer " + token + b"\x01\x01"
    after_error = b"\x01"  # RFC 7628 §3.2.3: a lone ^A after an error challenge
else:
    sys.exit("unknown mechanism " + mech)

calls = 0


def respond(challenge):
    global calls
    calls += 1
    if calls == 1:
        return first
    print("# challenge: " + challenge.decode("utf-8", "replace"), flush=True)
    return after_error


class Shortened(imaplib.IMAP4):
    """imaplib's debug output, with base64 blobs (the token) shortened."""

    def _mesg(self, s, secs=None):
        s = re.sub(r"[A-Za-z0-9+/=]{60,}", lambda m: m.group(0)[:20] + "...", s)
        print("  " + s, flush=True)


imaplib.Debug = 4  # before connecting, to show the greeting too
try:
    imap = Shortened("127.0.0.1", port, timeout=20)
    print("capabilities: " + " ".join(imap.capabilities), flush=True)
    typ, data = imap.authenticate(mech, respond)
    print("result: %s %s" % (typ, data), flush=True)
    imap.logout()
    sys.exit(0)
except imaplib.IMAP4.error as e:
    print("refused: %s" % e, flush=True)
    sys.exit(1)
except Exception as e:  # noqa: BLE001 - any other failure is a broken test set-up
    print("error: %r" % e, flush=True)
    sys.exit(2)
