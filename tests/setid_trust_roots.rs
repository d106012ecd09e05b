//! In a setuid/setgid process SSL_CERT_FILE and SSL_CERT_DIR belong to the
//! unprivileged caller: a CA they name must not become a trust anchor. Its own
//! test binary (own process), since it sets those variables.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use sasloauth::http::system_roots;

/// A self-signed CA that no system bundle holds.
const HOSTILE_CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBojCCAUegAwIBAgIUN6OD1ruL9b2zqkAPFqZOa/3nNBgwCgYIKoZIzj0EAwIw\nJTEjMCEGA1UEAwwac2FzbC1vYXV0aCBob3N0aWxlIHRlc3QgQ0EwIBcNMjYxMjAx\nMjE0MzAwWhgPMjEyNjExMDcyMTQzMDBaMCUxIzAhBgNVBAMMGnNhc2wtb2F1dGgg\naG9zdGlsZSB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPzUl6QT2\nedIr7RgbrIJLBu36r3FhEzQNose9Irr0b771pv8hWV4E+MiWAivhf5zebr1VBrT2\nhPdQdIo7zlZVNKNTMFEwHQYDVR0OBBYEFAuTOXHrIw9ofnCj+3d/M6QDe9j5MB8G\nA1UdIwQYMBaAFAuTOXHrIw9ofnCj+3d/M6QDe9j5MA8GA1UdEwEB/wQFMAMBAf8w\nCgYIKoZIzj0EAwIDSQAwRgIhALuKReeSMRk68ZcR5GZ3SZi+hJ9beJl644DQn7HZ\nJphWAiEAjvbwycvnSDyoZjOyWNBmRUzf+zBl3pS2oCFFR7FO3y4=\n-----END CERTIFICATE-----";

#[test]
fn a_set_id_process_ignores_ssl_cert_file_and_dir() {
    let dir = std::env::temp_dir().join(format!("sasl-oauth-setid-roots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("hostile.pem");
    std::fs::write(&pem, HOSTILE_CA).unwrap();
    let hostile = CertificateDer::from_pem_slice(HOSTILE_CA.as_bytes()).unwrap();
    std::env::set_var("SSL_CERT_FILE", &pem);
    std::env::set_var("SSL_CERT_DIR", &dir);

    // Not set-id: the variables are honoured (so this test can fail).
    assert!(system_roots(false).contains(&hostile));

    let roots = system_roots(true);
    assert!(
        !roots.contains(&hostile),
        "a CA named by SSL_CERT_FILE was trusted"
    );
    let notes = sasloauth::secure_env::take_notes();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("SSL_CERT_FILE") && n.contains("setuid")),
        "{notes:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
