//! What `sasl-oauth check` prints: one line per check passed, collected from
//! the validators through their trace sink.

use sasloauth::validate::Trace;

#[derive(Debug, Default)]
pub struct Lines(Vec<String>);

impl Lines {
    pub fn lines(&self) -> &[String] {
        &self.0
    }
}

impl Trace for Lines {
    fn push(&mut self, line: String) {
        self.0.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sasloauth::validate::NoTrace;

    #[test]
    fn off_formats_nothing() {
        let t: &mut dyn Trace = &mut NoTrace;
        t.note(|| panic!("must not run"));
    }

    #[test]
    fn on_keeps_lines_in_order() {
        let mut lines = Lines::default();
        let t: &mut dyn Trace = &mut lines;
        t.note(|| "a".into());
        t.note(|| "b".into());
        assert_eq!(lines.lines(), ["a", "b"]);
    }
}
