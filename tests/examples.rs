//! The example configurations shipped in the package (examples/) are what
//! `sasl-oauth doctor` accepts line by line: every key known, on its side,
//! with a value of the right kind. (The files they name, key sets and
//! secrets, are the administrator's: their absence is not checked here.)

use std::path::Path;
use std::process::Command;

fn doctor(args: &[&str], client: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_sasl-oauth"))
        .arg("doctor")
        .args(args)
        .args(["--plugin-dir", "/nonexistent", "--json"])
        .env("SASL_OAUTH_CONF", client)
        .env_remove("SASL_PATH")
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn failed(report: &serde_json::Value, check: &str) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == check && c["ok"] == false)
        .map(|c| c["detail"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn every_example_is_a_valid_configuration() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let client = dir.join("sasl-oauth.conf");
    for (flag, file) in [
        ("--config", "postfix-smtpd.conf"),
        ("--config", "slapd.conf"),
        ("--imapd-conf", "cyrus-imapd.conf"),
    ] {
        let path = dir.join(file);
        let report = doctor(&[flag, path.to_str().unwrap()], &client);
        assert_eq!(
            failed(&report, "configuration line"),
            Vec::<String>::new(),
            "{file}"
        );
        assert_eq!(
            failed(&report, "client configuration"),
            Vec::<String>::new()
        );
        let checks = report["checks"].as_array().unwrap();
        assert!(
            checks
                .iter()
                .any(|c| c["check"] == "client mechanisms" && c["ok"] == true),
            "the client example names its mechanisms: {report:#}"
        );
    }
}
