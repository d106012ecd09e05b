//! `oauth_cache_url`: the fleet-wide store, a Redis or Valkey server. A small
//! synchronous client of our own (see resp): one connection per process,
//! opened on first use (never at init, never a thread), bounded by
//! `oauth_timeout` for connecting, each read and each write; a process that
//! finds its parent's connection (after a fork) opens its own. TLS
//! (`rediss://`) uses the trust anchors the provider's HTTPS uses, loaded at
//! init, so it works after a chroot.
//!
//! After a failure the process waits a second before it connects again: an
//! outage costs one timeout a second, not one per login.

use super::entry::TokenKey;
use super::resp::{self, Value};
use super::{hex, user_key, Store, StoreError};
use crate::secret::Secret;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ENTRY: &str = "sasloauth:e:";
const USER: &str = "sasloauth:u:";
const NONCE: &str = "sasloauth:n:";
/// Seconds a process waits after a failure before connecting again.
const RETRY_AFTER: i64 = 1;

/// Where `oauth_cache_url` points.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub db: u32,
    pub user: Option<String>,
    pub password: Option<Secret>,
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("bad %-escape in the user or password")?;
            out.push(h);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "user or password is not UTF-8".into())
}

impl RedisTarget {
    /// `redis://[[user]:password@]host[:port][/db]` or `rediss://…`.
    pub fn parse(text: &str) -> Result<RedisTarget, String> {
        let u = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
        let tls = match u.scheme() {
            "redis" => false,
            "rediss" => true,
            _ => return Err("must start with redis:// or rediss://".into()),
        };
        let host = match u.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => return Err("has no host".into()),
        };
        if u.query().is_some() || u.fragment().is_some() {
            return Err("takes no query or fragment".into());
        }
        let db = match u.path().trim_start_matches('/') {
            "" => 0,
            d => d
                .parse()
                .map_err(|_| format!("database {d:?} is not a number"))?,
        };
        let user = match u.username() {
            "" => None,
            n => Some(percent_decode(n)?),
        };
        let password = u
            .password()
            .map(percent_decode)
            .transpose()?
            .map(Secret::new);
        Ok(RedisTarget {
            tls,
            host,
            port: u.port().unwrap_or(6379),
            db,
            user,
            password,
        })
    }

    /// The URL without its password, for log lines.
    pub fn shown(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}/{}", self.port, self.db)
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(b),
            Stream::Tls(s) => s.read(b),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(b),
            Stream::Tls(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

struct Conn {
    pid: u32,
    stream: Stream,
    buf: Vec<u8>,
}

pub struct RedisStore {
    target: RedisTarget,
    describe: String,
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
    conn: Mutex<Option<Conn>>,
    /// No connection attempt before this time (Unix seconds) after a failure.
    retry_at: AtomicI64,
}

fn io(what: &str, e: std::io::Error) -> StoreError {
    StoreError(format!("{what}: {e}"))
}

impl RedisStore {
    /// Nothing is connected here: the first lookup connects.
    pub fn new(
        target: RedisTarget,
        timeout: Duration,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> RedisStore {
        RedisStore {
            describe: format!("oauth_cache_url {}", target.shown()),
            target,
            timeout,
            tls,
            conn: Mutex::new(None),
            retry_at: AtomicI64::new(i64::MIN),
        }
    }

    fn connect(&self) -> Result<Conn, StoreError> {
        let t = &self.target;
        let addrs = (t.host.as_str(), t.port)
            .to_socket_addrs()
            .map_err(|e| io("cannot resolve the host", e))?;
        let mut last = None;
        let mut tcp = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, self.timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = match (tcp, last) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(io("cannot connect", e)),
            (None, None) => return Err(StoreError("the host has no address".into())),
        };
        tcp.set_read_timeout(Some(self.timeout))
            .and_then(|_| tcp.set_write_timeout(Some(self.timeout)))
            .and_then(|_| tcp.set_nodelay(true))
            .map_err(|e| io("cannot set up the socket", e))?;
        let stream = match (&self.tls, t.tls) {
            (Some(config), true) => {
                let name = rustls::pki_types::ServerName::try_from(t.host.clone())
                    .map_err(|e| StoreError(format!("bad TLS server name: {e}")))?;
                let c = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(|e| StoreError(format!("TLS: {e}")))?;
                Stream::Tls(Box::new(rustls::StreamOwned::new(c, tcp)))
            }
            (None, true) => return Err(StoreError("TLS was not set up".into())),
            _ => Stream::Plain(tcp),
        };
        let mut conn = Conn {
            pid: std::process::id(),
            stream,
            buf: Vec::new(),
        };
        let mut hello: Vec<Vec<Vec<u8>>> = Vec::new();
        if let Some(p) = &t.password {
            let mut auth = vec![b"AUTH".to_vec()];
            if let Some(u) = &t.user {
                auth.push(u.as_bytes().to_vec());
            }
            auth.push(p.expose().as_bytes().to_vec());
            hello.push(auth);
        }
        if t.db != 0 {
            hello.push(vec![b"SELECT".to_vec(), t.db.to_string().into_bytes()]);
        }
        if !hello.is_empty() {
            for v in exchange(&mut conn, &hello)? {
                if let Value::Error(e) = v {
                    return Err(StoreError(format!("refused our set-up: {e}")));
                }
            }
        }
        Ok(conn)
    }

    /// Sends `commands` at once and reads one reply each. A failure closes
    /// the connection; the next call after RETRY_AFTER connects again.
    fn call(&self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<Value>, StoreError> {
        let now = super::super::unix_now();
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| StoreError("poisoned".into()))?;
        let pid = std::process::id();
        if guard.as_ref().is_some_and(|c| c.pid != pid) {
            // The parent's connection: leave it to the parent (closing our
            // copy of the descriptor does not end it there).
            *guard = None;
        }
        if guard.is_none() {
            if now < self.retry_at.load(Ordering::Relaxed) {
                return Err(StoreError(
                    "unreachable a moment ago; retrying shortly".into(),
                ));
            }
            match self.connect() {
                Ok(c) => *guard = Some(c),
                Err(e) => {
                    self.retry_at.store(now + RETRY_AFTER, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        let conn = guard
            .as_mut()
            .ok_or_else(|| StoreError("no connection".into()))?;
        match exchange(conn, commands) {
            Ok(v) => Ok(v),
            Err(e) => {
                *guard = None;
                self.retry_at.store(now + RETRY_AFTER, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    fn one(&self, command: Vec<Vec<u8>>) -> Result<Value, StoreError> {
        let v = self.call(&[command])?.pop();
        match v {
            Some(Value::Error(e)) => Err(StoreError(format!("error reply: {e}"))),
            Some(v) => Ok(v),
            None => Err(StoreError("no reply".into())),
        }
    }
}

fn exchange(conn: &mut Conn, commands: &[Vec<Vec<u8>>]) -> Result<Vec<Value>, StoreError> {
    let mut out = Vec::new();
    for c in commands {
        let args: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
        out.extend_from_slice(&resp::command(&args));
    }
    conn.stream
        .write_all(&out)
        .and_then(|_| conn.stream.flush())
        .map_err(|e| io("cannot send", e))?;
    let mut replies = Vec::with_capacity(commands.len());
    let mut chunk = [0u8; 4096];
    while replies.len() < commands.len() {
        match resp::parse(&conn.buf).map_err(|e| StoreError(format!("bad reply: {e}")))? {
            Some((v, used)) => {
                conn.buf.drain(..used);
                replies.push(v);
            }
            None => {
                let n = conn
                    .stream
                    .read(&mut chunk)
                    .map_err(|e| io("no reply", e))?;
                if n == 0 {
                    return Err(StoreError("the server closed the connection".into()));
                }
                conn.buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
    Ok(replies)
}

fn args(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn ok(v: &Value) -> Result<(), StoreError> {
    match v {
        Value::Error(e) => Err(StoreError(format!("error reply: {e}"))),
        _ => Ok(()),
    }
}

impl Store for RedisStore {
    fn describe(&self) -> &str {
        &self.describe
    }

    fn get(&self, key: &TokenKey) -> Result<Option<Vec<u8>>, StoreError> {
        match self.one(args(&[b"GET", format!("{ENTRY}{}", hex(key)).as_bytes()]))? {
            Value::Bulk(v) => Ok(v),
            other => Err(StoreError(format!("unexpected reply to GET: {other:?}"))),
        }
    }

    fn put(
        &self,
        key: &TokenKey,
        value: &[u8],
        authid: &str,
        valid_until: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let secs = valid_until.saturating_sub(now).max(1).to_string();
        let entry = format!("{ENTRY}{}", hex(key));
        let user = format!("{USER}{}", hex(&user_key(authid)));
        let hex_key = hex(key);
        let replies = self.call(&[
            args(&[b"SET", entry.as_bytes(), value, b"EX", secs.as_bytes()]),
            args(&[b"SADD", user.as_bytes(), hex_key.as_bytes()]),
            // The index lives as long as its longest entry.
            args(&[b"EXPIRE", user.as_bytes(), secs.as_bytes(), b"NX"]),
            args(&[b"EXPIRE", user.as_bytes(), secs.as_bytes(), b"GT"]),
        ])?;
        replies.iter().try_for_each(ok)
    }

    fn insert_nonce(&self, key: &TokenKey, lifetime: i64, _now: i64) -> Result<bool, StoreError> {
        let k = format!("{NONCE}{}", hex(key));
        let secs = lifetime.max(1).to_string();
        match self.one(args(&[
            b"SET",
            k.as_bytes(),
            b"1",
            b"NX",
            b"EX",
            secs.as_bytes(),
        ]))? {
            Value::Simple(s) if s == "OK" => Ok(true),
            Value::Bulk(None) => Ok(false),
            other => Err(StoreError(format!("unexpected reply to SET NX: {other:?}"))),
        }
    }

    fn purge_user(&self, authid: &str) -> Result<usize, StoreError> {
        let user = format!("{USER}{}", hex(&user_key(authid)));
        let members = match self.one(args(&[b"SMEMBERS", user.as_bytes()]))? {
            Value::Array(Some(m)) => m,
            other => return Err(StoreError(format!("unexpected reply: {other:?}"))),
        };
        let mut del = vec![b"DEL".to_vec()];
        for m in members {
            if let Value::Bulk(Some(k)) = m {
                del.push([ENTRY.as_bytes(), &k].concat());
            }
        }
        let n = if del.len() > 1 {
            match self.one(del)? {
                Value::Int(n) => n as usize,
                _ => 0,
            }
        } else {
            0
        };
        self.one(args(&[b"DEL", user.as_bytes()]))?;
        Ok(n)
    }

    fn purge_all(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
        for pattern in [format!("{ENTRY}*"), format!("{USER}*")] {
            let mut cursor = b"0".to_vec();
            loop {
                let reply = self.one(args(&[
                    b"SCAN",
                    &cursor,
                    b"MATCH",
                    pattern.as_bytes(),
                    b"COUNT",
                    b"1000",
                ]))?;
                let Value::Array(Some(mut parts)) = reply else {
                    return Err(StoreError("unexpected reply to SCAN".into()));
                };
                let (Some(Value::Array(Some(keys))), Some(Value::Bulk(Some(next)))) =
                    (parts.pop(), parts.pop())
                else {
                    return Err(StoreError("unexpected reply to SCAN".into()));
                };
                let mut del = vec![b"DEL".to_vec()];
                del.extend(keys.into_iter().filter_map(|k| match k {
                    Value::Bulk(Some(k)) => Some(k),
                    _ => None,
                }));
                if del.len() > 1 {
                    if let Value::Int(n) = self.one(del)? {
                        if pattern.starts_with(ENTRY) {
                            removed += n as usize;
                        }
                    }
                }
                if next == b"0" {
                    break;
                }
                cursor = next;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = RedisTarget::parse("redis://127.0.0.1:6390/2").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.db),
            (false, "127.0.0.1", 6390, 2)
        );
        assert!(t.password.is_none());
        let t = RedisTarget::parse("rediss://u:p%40ss@cache.example:6380").unwrap();
        assert_eq!((t.tls, t.port, t.db), (true, 6380, 0));
        assert_eq!(t.user.as_deref(), Some("u"));
        assert_eq!(t.password.as_ref().unwrap().expose(), "p@ss");
        assert_eq!(t.shown(), "rediss://cache.example:6380/0");
        let t = RedisTarget::parse("redis://:secret@[::1]").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 6379));
        assert!(!t.shown().contains("secret"));
        for bad in [
            "http://h",
            "redis://",
            "redis://h/x",
            "redis://h/1?a=b",
            "h:6379",
        ] {
            assert!(RedisTarget::parse(bad).is_err(), "{bad}");
        }
    }

    /// A redis-server of this test's own (Debian's, from scripts/deps.sh).
    struct Server {
        child: std::process::Child,
        port: u16,
    }
    impl Server {
        fn start(port: u16) -> Server {
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--dir", "/tmp"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server (scripts/deps.sh test installs it)");
            for _ in 0..100 {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Server { child, port }
        }
    }
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn against_a_real_redis_server() {
        let server = Server::start(free_port());
        let t = RedisTarget::parse(&format!("redis://127.0.0.1:{}/5", server.port)).unwrap();
        let s = RedisStore::new(t, Duration::from_millis(2000), None);
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        assert_eq!(s.get(&a).unwrap(), None);
        s.put(&a, b"entry-a\r\n\0", "alice", 1000, 100).unwrap();
        s.put(&b, b"entry-b", "alice", 1000, 100).unwrap();
        s.put(&c, b"entry-c", "bob", 1000, 100).unwrap();
        assert_eq!(s.get(&a).unwrap().as_deref(), Some(&b"entry-a\r\n\0"[..]));
        assert_eq!(s.purge_user("alice").unwrap(), 2);
        assert_eq!(s.get(&a).unwrap(), None);
        assert!(s.get(&c).unwrap().is_some());
        assert_eq!(s.purge_all().unwrap(), 1);
        assert_eq!(s.get(&c).unwrap(), None);
        assert!(s.insert_nonce(&a, 60, 0).unwrap());
        assert!(!s.insert_nonce(&a, 60, 0).unwrap(), "SET NX: a replay");
        // Killed: an error, not a hang; back: used again after RETRY_AFTER.
        let port = server.port;
        drop(server);
        assert!(s.get(&c).is_err());
        let _again = Server::start(port);
        std::thread::sleep(Duration::from_millis(1100 * RETRY_AFTER as u64));
        assert_eq!(s.get(&c).unwrap(), None);
    }

    /// rediss:// with the trust anchors of oauth_ca_file: a redis-server
    /// with a certificate from a CA of this test's own (openssl) is reached;
    /// without that CA (web and system roots only) the handshake fails.
    #[test]
    fn tls_with_the_configured_trust_anchors() {
        let d = std::env::temp_dir().join(format!("sasl-oauth-redis-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let sh = |script: &str| {
            let ok = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .current_dir(&d)
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
                .success();
            assert!(ok, "{script}");
        };
        sh(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
            -out ca.pem -days 2 -subj /CN=test-ca",
        );
        sh(
            "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key \
            -out srv.csr -subj /CN=127.0.0.1",
        );
        sh(
            "printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext && \
            openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -out srv.pem -days 2 -extfile ext",
        );
        let port = free_port();
        let mut child = std::process::Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args(["--tls-cert-file", "srv.pem", "--tls-key-file", "srv.key"])
            .args(["--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(&d)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let url = format!("rediss://127.0.0.1:{port}");
        let ours = crate::http::tls_config(Some(&d.join("ca.pem"))).unwrap();
        let s = RedisStore::new(
            RedisTarget::parse(&url).unwrap(),
            Duration::from_secs(2),
            Some(ours),
        );
        let r1 = s.put(&[9; 32], b"v", "alice", 1000, 100);
        let r2 = s.get(&[9; 32]);
        let web_only = crate::http::tls_config(None).unwrap();
        let t = RedisStore::new(
            RedisTarget::parse(&url).unwrap(),
            Duration::from_secs(2),
            Some(web_only),
        );
        let r3 = t.get(&[9; 32]);
        let _ = child.kill();
        let _ = child.wait();
        r1.unwrap();
        assert_eq!(r2.unwrap().as_deref(), Some(&b"v"[..]));
        assert!(
            r3.is_err(),
            "a server certificate from an unknown CA was accepted"
        );
    }

    /// A server that is not there: errors, and no second connection attempt
    /// within RETRY_AFTER.
    #[test]
    fn an_unreachable_server_is_an_error_and_is_not_hammered() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = RedisTarget::parse(&format!("redis://127.0.0.1:{port}")).unwrap();
        let s = RedisStore::new(t, Duration::from_millis(300), None);
        assert!(s.get(&[0; 32]).unwrap_err().0.contains("connect"));
        assert!(s.get(&[0; 32]).unwrap_err().0.contains("retrying"));
    }
}
