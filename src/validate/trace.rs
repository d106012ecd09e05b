//! What `sasl-oauth check` prints: one line per check passed. Off on the
//! handshake path, where nothing is formatted.

#[derive(Debug, Default)]
pub struct Trace(Option<Vec<String>>);

impl Trace {
    pub fn on() -> Self {
        Trace(Some(Vec::new()))
    }
    pub fn off() -> Self {
        Trace(None)
    }
    /// Records a line; `line` runs only when the trace is on.
    pub fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(lines) = &mut self.0 {
            lines.push(line());
        }
    }
    pub fn lines(&self) -> &[String] {
        self.0.as_deref().unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_formats_nothing() {
        let mut t = Trace::off();
        t.note(|| panic!("must not run"));
        assert!(t.lines().is_empty());
    }

    #[test]
    fn on_keeps_lines_in_order() {
        let mut t = Trace::on();
        t.note(|| "a".into());
        t.note(|| "b".into());
        assert_eq!(t.lines(), ["a", "b"]);
    }
}
