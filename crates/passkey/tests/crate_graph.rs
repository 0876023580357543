//! The signer is to depend on this crate, so this crate must not link what the signer
//! may not (crates/signer/tests/crate_graph.rs): no networking, no async runtime, no
//! TLS, no database. This reads the dependency graph as cargo resolves it for this
//! package alone.

use std::process::Command;

/// Crates that would give the signer a network stack, a runtime or a database.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "mio",
    "socket2",
    "hyper",
    "h2",
    "http",
    "tonic",
    "tower",
    "axum",
    "reqwest",
    "rustls",
    "tokio-rustls",
    "native-tls",
    "openssl",
    "openssl-sys",
    "rusqlite",
    "libsqlite3-sys",
    "sqlx",
    "postgres",
    "tokio-postgres",
    "nix",
    "custos-bridge",
    "custos-store",
    "custos-pool",
    "custos-api",
    "custos-supervisor",
];

#[test]
fn passkey_graph_has_no_network_async_or_database_crates() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "custos-passkey",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
            "--locked",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let names: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.contains("custos-passkey") && names.contains("webauthn-rs"),
        "{names:?}"
    );
    let found: Vec<&&str> = FORBIDDEN.iter().filter(|f| names.contains(**f)).collect();
    assert!(found.is_empty(), "custos-passkey links {found:?}");
}
