//! Findings: one line each, with the exact commands or main.cf lines that
//! fix it. The verdict is "a relay would work" when nothing failed.

use sasloauth::error::printable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Works, but should change (a secret readable by others, no TLS).
    Warn,
    /// The relay would not work.
    Fail,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub verdict: Verdict,
    pub topic: String,
    pub detail: String,
    pub fixes: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn add(
        &mut self,
        verdict: Verdict,
        topic: &str,
        detail: impl Into<String>,
    ) -> &mut Finding {
        self.findings.push(Finding {
            verdict,
            topic: topic.to_owned(),
            detail: detail.into(),
            fixes: Vec::new(),
        });
        self.findings.last_mut().expect("just pushed")
    }

    pub fn ok(&mut self, topic: &str, detail: impl Into<String>) {
        self.add(Verdict::Ok, topic, detail);
    }

    pub fn info(&mut self, topic: &str, detail: impl Into<String>) {
        self.add(Verdict::Info, topic, detail);
    }

    pub fn fail(&mut self, topic: &str, detail: impl Into<String>, fixes: Vec<String>) {
        self.add(Verdict::Fail, topic, detail).fixes = fixes;
    }

    pub fn warn(&mut self, topic: &str, detail: impl Into<String>, fixes: Vec<String>) {
        self.add(Verdict::Warn, topic, detail).fixes = fixes;
    }

    pub fn failed(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.verdict == Verdict::Fail)
            .count()
    }

    pub fn print(&self) {
        for f in &self.findings {
            let mark = match f.verdict {
                Verdict::Ok => "ok  ",
                Verdict::Warn => "warn",
                Verdict::Fail => "FAIL",
                Verdict::Info => "    ",
            };
            // Details quote files and configuration: filtered for the terminal.
            println!("{mark} {:<22}{}", f.topic, printable(&f.detail, 1000));
            for fix in &f.fixes {
                println!("       fix: {}", printable(fix, 1000));
            }
        }
        match self.failed() {
            0 => println!("a relay through this set-up would work"),
            n => println!("{n} problem(s) stop the relay: see FAIL above"),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        let list: Vec<serde_json::Value> = self
            .findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "verdict": format!("{:?}", f.verdict).to_lowercase(),
                    "topic": f.topic, "detail": f.detail, "fixes": f.fixes,
                })
            })
            .collect();
        serde_json::json!({"ok": self.failed() == 0, "findings": list})
    }
}
