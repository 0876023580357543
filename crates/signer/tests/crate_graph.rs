//! The signer's trust argument depends on what it links: no networking, no
//! async runtime, no TLS, no database. This test reads the real dependency
//! graph (as cargo resolves it for one package alone) and fails if any such
//! crate creeps in. It also checks `custos-passkey`, which the signer depends on
//! for passkeys, so that it cannot bring one in. The reverse (nothing network-facing
//! links key material) is `crates/bridge/tests/crate_graph.rs`.

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

/// Checks the normal-dependency graph of `package`; `expected` must be in it, to
/// show the graph was really read.
fn assert_graph_is_clean(package: &str, expected: &str) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            package,
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
        names.contains(package) && names.contains(expected),
        "{names:?}"
    );
    let found: Vec<&&str> = FORBIDDEN.iter().filter(|f| names.contains(**f)).collect();
    assert!(found.is_empty(), "{package} links {found:?}");
}

#[test]
fn signer_graph_has_no_network_async_or_database_crates() {
    assert_graph_is_clean("custos-signer", "ed25519-dalek");
}

#[test]
fn passkey_graph_has_no_network_async_or_database_crates() {
    assert_graph_is_clean("custos-passkey", "webauthn-rs");
}
