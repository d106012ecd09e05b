//! `cmd:…`: an external token manager prints the token. Only when the client
//! configuration says `allow_cmd: yes`, since the secret field would
//! otherwise become a way to run commands.
//!
//! The command runs in its own process group; its output is read while it
//! runs (at most `MAX_OUTPUT` kept, the rest drained so it never blocks on a
//! full pipe), and at the timeout the whole group is killed. Errors name the
//! command only by where it came from: the command line may hold a secret.

use super::TokenSource;
use crate::error::{Error, ErrorKind};
use crate::secret::Secret;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Output kept from a command; the token is its first line.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// How the errors name the command.
const SHOWN: &str = "cmd: (command from the SASL password)";

pub struct CommandSource {
    /// The command line may hold a secret: wiped when dropped.
    command: Secret,
    timeout: Duration,
}

impl CommandSource {
    pub fn new(command: String, timeout: Duration) -> Self {
        CommandSource {
            command: Secret::new(command),
            timeout,
        }
    }
}

fn unavailable(what: String) -> Error {
    Error::new(ErrorKind::Unavailable, format!("{SHOWN} {what}"))
}

/// Reads everything from `r`, keeping the first `MAX_OUTPUT` bytes.
fn drain(mut r: impl Read) -> Zeroizing<Vec<u8>> {
    let mut kept = Zeroizing::new(Vec::with_capacity(MAX_OUTPUT));
    let mut chunk = Zeroizing::new([0u8; 8192]);
    loop {
        match r.read(&mut chunk[..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT - kept.len();
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    kept
}

/// Kills the command and everything it started (its process group).
fn kill_group(child: &mut Child) {
    let pgid = rustix::process::Pid::from_child(child);
    let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    let _ = child.kill();
    let _ = child.wait();
}

impl TokenSource for CommandSource {
    fn token(&mut self, _now: i64) -> Result<Secret, Error> {
        let mut child = Command::new("/bin/sh")
            .args(["-c", self.command.expose()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| unavailable(format!("could not start: {e}")))?;
        let deadline = Instant::now() + self.timeout;
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            // Reading while the command runs: a full pipe must not stall it.
            std::thread::spawn(move || {
                let _ = tx.send(drain(stdout));
            });
        }
        let timed_out = || {
            unavailable(format!(
                "took longer than {} ms: killed",
                self.timeout.as_millis()
            ))
        };
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    kill_group(&mut child);
                    return Err(timed_out());
                }
            }
        };
        // The output ends when every process holding the pipe is gone.
        let left = deadline.saturating_duration_since(Instant::now());
        let out = match rx.recv_timeout(left) {
            Ok(out) => out,
            Err(_) => {
                kill_group(&mut child);
                return Err(timed_out());
            }
        };
        if !status.success() {
            return Err(unavailable(format!("failed ({status})")));
        }
        let first = out.split(|b| *b == b'\n').next().unwrap_or_default();
        let line = std::str::from_utf8(first).map(str::trim).unwrap_or("");
        if line.is_empty() {
            return Err(unavailable(format!("printed no token ({status})")));
        }
        Ok(Secret::from(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cmd: &str) -> Result<Secret, Error> {
        CommandSource::new(cmd.into(), Duration::from_secs(2)).token(0)
    }

    #[test]
    fn first_line_is_the_token() {
        assert_eq!(
            run("printf 'tok123\\nsecond\\n'").unwrap().expose(),
            "tok123"
        );
    }

    #[test]
    fn failure_empty_output_and_timeout() {
        assert!(run("exit 3").unwrap_err().reason.contains("failed"));
        assert!(run("true").unwrap_err().reason.contains("no token"));
        let e = CommandSource::new("sleep 5".into(), Duration::from_millis(200))
            .token(0)
            .unwrap_err();
        assert!(e.reason.contains("longer"));
    }

    #[test]
    fn a_command_printing_more_than_a_pipe_buffer_finishes_fast() {
        let start = Instant::now();
        let cmd = "printf 'tok-first\\n'; yes 0123456789abcdef | head -c 1048576";
        let t = CommandSource::new(cmd.into(), Duration::from_secs(5))
            .token(0)
            .unwrap();
        assert_eq!(t.expose(), "tok-first");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    /// Whether `pid` is still a live (not zombie) process.
    fn alive(pid: &str) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => false,
            Ok(stat) => {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                !state.starts_with('Z') && !state.starts_with('X')
            }
        }
    }

    #[test]
    fn the_whole_process_group_is_killed_at_the_timeout() {
        let dir = std::env::temp_dir().join(format!("sasl-oauth-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pidfile = dir.join("child.pid");
        let _ = std::fs::remove_file(&pidfile);
        let cmd = format!("sleep 30 & echo $! > {}; sleep 30", pidfile.display());
        let start = Instant::now();
        let e = CommandSource::new(cmd, Duration::from_millis(300))
            .token(0)
            .unwrap_err();
        assert!(e.reason.contains("longer"), "{}", e.reason);
        assert!(start.elapsed() < Duration::from_secs(5));
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let pid = pid.trim();
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !alive(pid)
        });
        assert!(gone, "the forked child {pid} outlived the timeout");
    }

    #[test]
    fn errors_never_show_the_command_line() {
        let marker = "hunter2-secret-in-the-command";
        let cases = [
            (
                format!("exit 3 # {marker}"),
                Duration::from_secs(2),
                "exit status: 3",
            ),
            (format!("true {marker}"), Duration::from_secs(2), "no token"),
            (
                format!("sleep 5 # {marker}"),
                Duration::from_millis(200),
                "longer",
            ),
        ];
        for (cmd, timeout, want) in cases {
            let e = CommandSource::new(cmd, timeout).token(0).unwrap_err();
            assert!(!e.reason.contains(marker), "{}", e.reason);
            assert!(
                e.reason
                    .starts_with("cmd: (command from the SASL password)"),
                "{}",
                e.reason
            );
            assert!(e.reason.contains(want), "{}", e.reason);
            assert!(e.log_text().find(marker).is_none());
        }
    }
}
