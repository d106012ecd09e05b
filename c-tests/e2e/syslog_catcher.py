"""A minimal syslog receiver for the e2e scripts: Cyrus imapd and libsasl2 log
only to syslog, and no syslog daemon runs here. Binds a Unix datagram socket
(the server's private /dev/log points at it) and appends one line per message,
without the <priority> prefix, to a file.

Usage: syslog_catcher.py SOCKET_PATH OUTPUT_FILE
"""
import os
import re
import signal
import socket
import sys

sock_path, out_path = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
os.chmod(sock_path, 0o666)  # imapd writes to it as the Cyrus user

with open(out_path, "ab", buffering=0) as out:
    while True:
        msg = s.recv(65536).rstrip(b"\0\r\n")
        msg = re.sub(rb"^<\d+>", b"", msg)
        out.write(msg.replace(b"\n", b" ") + b"\n")
