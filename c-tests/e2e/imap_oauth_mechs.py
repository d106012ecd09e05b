"""Log in to an IMAP server with the draft mechanisms OAUTH and OAUTH10A,
speaking IMAP over a plain socket so that every byte sent is the test's own.

Usage:
  imap_oauth_mechs.py PORT slides [--ir]
      AUTHENTICATE OAUTH with the KITTEN slides' example, base64 exactly as on
      the wire (as a continuation response, or with --ir as SASL-IR).
  imap_oauth_mechs.py PORT discovery [--then-slides]
      AUTHENTICATE OAUTH with a discovery request (no Authorization header):
      prints the server's challenge (the HTTP 401) decoded, then answers with
      an empty response, or with --then-slides with the slides' request.
  imap_oauth_mechs.py PORT oauth10a CREDS_JSON [--method HMAC-SHA256|HMAC-SHA1]
        [--host H] [--age SECONDS] [--save FILE] [--replay FILE] [--hold SECONDS]
      AUTHENTICATE OAUTH10A with an OAuth 1.0a signature computed here (hmac,
      hashlib) over host (default 127.0.0.1: the address the server is reached
      at) and PORT. CREDS_JSON: {"consumer_key", "consumer_secret", "token",
      "token_secret"}. --age signs a timestamp that many seconds old. --save
      writes the message sent to FILE; --replay sends FILE's bytes instead of
      signing. --hold keeps the connection open that long after the result.

Prints the exchange ("C:"/"S:" lines, the long base64 shortened), each server
challenge decoded ("# challenge: ..."), and "result: OK|NO|BAD <text>". Exit
status 0 when logged in, 1 when the server said NO or BAD, 2 on any other
error.
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import time

# The deck's example, base64 exactly as on the wire.
SLIDES_B64 = (
    b"R0VUIC8gSFRUUC8xLjENClVzZXI6IHNjb290ZXJAYWx0YXZpc3RhLmNvbQ0KSG9zdDogaW1hcC55YWhvby5jb20NCkF1"
    b"dGhvcml6YXRpb246IFRva2VuIHRva2VuPSJ2RjlkZnQ0cW1UYzJOdmIzUmxja0JoYkhSaGRtbHpkR0V1WTI5dENnPT0i"
    b"DQoNCg=="
)


def shorten(line):
    text = line.decode("utf-8", "replace").rstrip("\r\n")
    words = [w if len(w) <= 60 else w[:24] + "...(%d chars)" % len(w) for w in text.split(" ")]
    return " ".join(words)


class Imap:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.file = self.sock.makefile("rb")
        self.tag = 0
        greeting = self.readline()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError("no IMAP greeting: %r" % greeting)
        self.capabilities = []
        if b"[CAPABILITY " in greeting:
            caps = greeting.split(b"[CAPABILITY ", 1)[1].split(b"]", 1)[0]
            self.capabilities = caps.decode().split()

    def readline(self):
        line = self.file.readline()
        if not line:
            raise RuntimeError("the server closed the connection")
        print("S: " + shorten(line), flush=True)
        return line

    def send(self, data):
        print("C: " + shorten(data), flush=True)
        self.sock.sendall(data)

    def authenticate(self, mech, responses, initial=None):
        """responses(challenge_bytes) -> bytes to answer. Returns (status, text)."""
        self.tag += 1
        tag = b"a%d" % self.tag
        line = tag + b" AUTHENTICATE " + mech.encode()
        if initial is not None:  # SASL-IR: "=" is an empty initial response
            line += b" " + (base64.b64encode(initial) or b"=")
        self.send(line + b"\r\n")
        while True:
            reply = self.readline()
            if reply.startswith(b"+"):
                data = reply[1:].strip()
                challenge = base64.b64decode(data) if data else b""
                shown = challenge.decode("utf-8", "replace").replace("\r", "\\r").replace("\n", "\\n")
                print("# challenge: " + shown, flush=True)
                self.send(base64.b64encode(responses(challenge)) + b"\r\n")
            elif reply.startswith(tag + b" "):
                status, _, text = reply[len(tag) + 1:].decode("utf-8", "replace").partition(" ")
                return status, text.strip()

    def authenticate_raw(self, mech, b64_lines):
        """Sends the given base64 lines as the continuation responses, verbatim."""
        self.tag += 1
        tag = b"a%d" % self.tag
        self.send(tag + b" AUTHENTICATE " + mech.encode() + b"\r\n")
        lines = list(b64_lines)
        while True:
            reply = self.readline()
            if reply.startswith(b"+"):
                data = reply[1:].strip()
                if data:
                    print("# challenge: " + base64.b64decode(data).decode("utf-8", "replace"), flush=True)
                line = lines.pop(0) if lines else b"*"
                print("# sent verbatim: " + line.decode(), flush=True)
                self.send(line + b"\r\n")
            elif reply.startswith(tag + b" "):
                status, _, text = reply[len(tag) + 1:].decode("utf-8", "replace").partition(" ")
                return status, text.strip()

    def logout(self):
        try:
            self.tag += 1
            self.send(b"a%d LOGOUT\r\n" % self.tag)
            while not self.readline().startswith(b"a%d " % self.tag):
                pass
        except Exception:  # noqa: BLE001 - the result is already known
            pass
        self.sock.close()


# ---------------------------------------------------------------- OAuth 1.0a

def enc(s):
    """RFC 5849 §3.6: percent-encode all but ALPHA, DIGIT, '-', '.', '_', '~'."""
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        out.append(c if c.isascii() and (c.isalnum() or c in "-._~") else "%%%02X" % b)
    return "".join(out)


def oauth10a_message(creds, host, port, method, age):
    params = {
        "oauth_consumer_key": creds["consumer_key"],
        "oauth_token": creds["token"],
        "oauth_signature_method": method,
        "oauth_timestamp": str(int(time.time()) - age),
        "oauth_nonce": os.urandom(12).hex(),
        "oauth_version": "1.0",
    }
    # RFC 7628 §3.3: the virtual request POST http://host:port/ (the port left
    # out only when it is 80); RFC 5849 §3.4.1: the base string.
    uri = "http://%s%s/" % (host.lower(), "" if port == 80 else ":%d" % port)
    normalized = "&".join("%s=%s" % kv for kv in sorted((enc(k), enc(v)) for k, v in params.items()))
    base = "&".join(["POST", enc(uri), enc(normalized)])
    key = (enc(creds["consumer_secret"]) + "&" + enc(creds["token_secret"])).encode()
    digest = hashlib.sha256 if method == "HMAC-SHA256" else hashlib.sha1
    params["oauth_signature"] = base64.b64encode(hmac.new(key, base.encode(), digest).digest()).decode()
    print("# base string: " + base, flush=True)
    header = ",".join('%s="%s"' % (enc(k), enc(v)) for k, v in params.items())
    return ("n,,\x01host=%s\x01port=%d\x01auth=OAuth realm=\"\",%s\x01\x01" % (host, port, header)).encode()


# ---------------------------------------------------------------- main

def main(argv):
    port, action, rest = int(argv[1]), argv[2], argv[3:]
    imap = Imap(port)
    print("capabilities: " + " ".join(imap.capabilities), flush=True)
    hold = 0
    if action == "slides":
        if "--ir" in rest:
            status, text = imap.authenticate("OAUTH", lambda c: b"", initial=base64.b64decode(SLIDES_B64))
        else:
            status, text = imap.authenticate_raw("OAUTH", [SLIDES_B64])
    elif action == "discovery":
        then = base64.b64decode(SLIDES_B64) if "--then-slides" in rest else b""
        request = b"GET / HTTP/1.1\r\nUser: scooter@altavista.com\r\nHost: imap.yahoo.com\r\n\r\n"
        sent = []

        def respond(challenge):
            sent.append(challenge)
            return request if len(sent) == 1 else then

        # no initial response: the server's empty "+ " asks for the request
        status, text = imap.authenticate("OAUTH", respond)
    elif action == "oauth10a":
        creds = json.load(open(rest[0]))
        opts = dict(zip(rest[1::2], rest[2::2]))
        hold = float(opts.get("--hold", "0"))
        if "--replay" in opts:
            message = open(opts["--replay"], "rb").read()
        else:
            message = oauth10a_message(creds, opts.get("--host", "127.0.0.1"), port,
                                       opts.get("--method", "HMAC-SHA256"), int(opts.get("--age", "0")))
        if "--save" in opts:
            open(opts["--save"], "wb").write(message)
        answers = [message]

        def respond(challenge):
            # first the signed message; after an error challenge RFC 7628's lone ^A
            return answers.pop(0) if answers else b"\x01"

        status, text = imap.authenticate("OAUTH10A", respond)
    else:
        raise SystemExit("unknown action " + action)
    print("result: %s %s" % (status, text), flush=True)
    if hold:
        print("# holding the connection for %g s" % hold, flush=True)
        time.sleep(hold)
    imap.logout()
    return 0 if status == "OK" else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - a broken set-up, not a refusal
        print("error: %r" % e, flush=True)
        sys.exit(2)
