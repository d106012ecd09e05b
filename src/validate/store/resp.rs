//! RESP2, the Redis (and Valkey) wire protocol: commands as arrays of bulk
//! strings, replies parsed from a buffer. Pure and bounded: a reply larger
//! than the limits below is an error, never an allocation on the server's word.

/// Largest bulk string accepted (entries are a few hundred bytes).
const MAX_BULK: usize = 1 << 20;
/// Largest array accepted (SCAN and SMEMBERS replies).
const MAX_ARRAY: usize = 100_000;
const MAX_DEPTH: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    /// None: the nil bulk string ($-1).
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Value>>),
}

/// A command as RESP: `*N\r\n` then `$len\r\narg\r\n` per argument.
pub fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One reply from the front of `buf`: Ok(None) when more bytes are needed,
/// else the value and how many bytes it took.
pub fn parse(buf: &[u8]) -> Result<Option<(Value, usize)>, String> {
    parse_at(buf, 0, 0)
}

fn line(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, String> {
    let rest = &buf[at..];
    match rest.windows(2).position(|w| w == b"\r\n") {
        Some(i) => Ok(Some((&rest[..i], at + i + 2))),
        None if rest.len() > 64 * 1024 => Err("reply line too long".into()),
        None => Ok(None),
    }
}

fn int(text: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| "bad number in reply".to_string())
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Value, usize)>, String> {
    if depth > MAX_DEPTH {
        return Err("reply nested too deeply".into());
    }
    let Some(&kind) = buf.get(at) else {
        return Ok(None);
    };
    let Some((text, next)) = line(buf, at + 1)? else {
        return Ok(None);
    };
    let text_string = || String::from_utf8_lossy(text).into_owned();
    match kind {
        b'+' => Ok(Some((Value::Simple(text_string()), next))),
        b'-' => Ok(Some((Value::Error(text_string()), next))),
        b':' => Ok(Some((Value::Int(int(text)?), next))),
        b'$' => {
            let n = int(text)?;
            if n == -1 {
                return Ok(Some((Value::Bulk(None), next)));
            }
            let n = usize::try_from(n).map_err(|_| "bad bulk length")?;
            if n > MAX_BULK {
                return Err("bulk reply too large".into());
            }
            if buf.len() < next + n + 2 {
                return Ok(None);
            }
            if &buf[next + n..next + n + 2] != b"\r\n" {
                return Err("bulk reply not terminated".into());
            }
            Ok(Some((
                Value::Bulk(Some(buf[next..next + n].to_vec())),
                next + n + 2,
            )))
        }
        b'*' => {
            let n = int(text)?;
            if n == -1 {
                return Ok(Some((Value::Array(None), next)));
            }
            let n = usize::try_from(n).map_err(|_| "bad array length")?;
            if n > MAX_ARRAY {
                return Err("array reply too large".into());
            }
            let mut items = Vec::with_capacity(n.min(1024));
            let mut pos = next;
            for _ in 0..n {
                match parse_at(buf, pos, depth + 1)? {
                    Some((v, p)) => {
                        items.push(v);
                        pos = p;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Value::Array(Some(items)), pos)))
        }
        other => Err(format!("unknown reply type {:?}", other as char)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        assert_eq!(
            command(&[b"SET", b"k", b"v\r\n"]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n".to_vec()
        );
    }

    #[test]
    fn replies() {
        assert_eq!(parse(b"+OK\r\n"), Ok(Some((Value::Simple("OK".into()), 5))));
        assert_eq!(
            parse(b"-ERR no\r\nrest"),
            Ok(Some((Value::Error("ERR no".into()), 9)))
        );
        assert_eq!(parse(b":42\r\n"), Ok(Some((Value::Int(42), 5))));
        assert_eq!(parse(b"$-1\r\n"), Ok(Some((Value::Bulk(None), 5))));
        assert_eq!(
            parse(b"$3\r\na\r\n\r\n"),
            Ok(Some((Value::Bulk(Some(b"a\r\n".to_vec())), 9)))
        );
        assert_eq!(
            parse(b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n"),
            Ok(Some((
                Value::Array(Some(vec![
                    Value::Bulk(Some(b"0".to_vec())),
                    Value::Array(Some(vec![Value::Bulk(Some(b"k".to_vec()))]))
                ])),
                22
            )))
        );
    }

    #[test]
    fn partial_replies_ask_for_more() {
        let whole = b"*2\r\n$3\r\nabc\r\n:1\r\n";
        for n in 0..whole.len() {
            assert_eq!(parse(&whole[..n]), Ok(None), "{n}");
        }
        assert!(parse(whole).unwrap().is_some());
    }

    #[test]
    fn hostile_replies_are_errors() {
        assert!(parse(b"$99999999999\r\n").is_err());
        assert!(parse(b"*99999999\r\n").is_err());
        assert!(parse(b"$3\r\nabcXY").is_err());
        assert!(parse(b":x\r\n").is_err());
        assert!(parse(b"?\r\n").is_err());
        assert!(parse(b"$-2\r\n").is_err());
        assert!(parse(&[b'+'; 70_000]).is_err());
        assert!(parse(b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n").is_err());
    }
}
