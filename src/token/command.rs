//! `cmd:…`: an external token manager prints the token. Only when the client
//! configuration says `allow_cmd: yes`, since the secret field would
//! otherwise become a way to run commands.

use super::TokenSource;
use crate::error::{printable, Error, ErrorKind};
use crate::secret::Secret;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct CommandSource {
    command: String,
    timeout: Duration,
}

impl CommandSource {
    pub fn new(command: String, timeout: Duration) -> Self {
        CommandSource { command, timeout }
    }
}

impl TokenSource for CommandSource {
    fn token(&mut self, _now: i64) -> Result<Secret, Error> {
        let shown = printable(&self.command, 80);
        let mut child = Command::new("/bin/sh")
            .args(["-c", &self.command])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("cannot run token command '{shown}': {e}"),
                )
            })?;
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() < self.timeout => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!(
                            "token command '{shown}' took longer than {:?}",
                            self.timeout
                        ),
                    ));
                }
            }
        };
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.by_ref().take(64 * 1024).read_to_string(&mut out);
        }
        let out = Secret::new(out);
        if !status.success() {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!("token command '{shown}' failed ({status})"),
            ));
        }
        let line = out.expose().lines().next().unwrap_or("").trim();
        if line.is_empty() {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!("token command '{shown}' printed no token"),
            ));
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
}
