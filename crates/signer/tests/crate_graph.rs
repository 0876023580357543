//! The signer's trust argument depends on what it links: no networking, no
//! async runtime, no TLS, no database. This test reads the real dependency
//! graph (as cargo resolves it for one package alone) and fails if any such
//! crate creeps in. It also checks `custos-passkey`, which the signer depends on
//! for passkeys, so that it cannot bring one in.
//!
//! And the other way round: nothing network-facing links key material. The bridge
//! (the API) and the pool (Telegram, the Custos page, the RPC endpoint) must not have
//! the crates that hold, derive or use wallet keys in their graphs, so a bug in either
//! cannot reach a key by calling a function.

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
    // (nix is linked, through custos-sys only: the signer's confinement and its locked key
    // pages are system calls. What it may call at run time is the seccomp allow-list's job.)
    "custos-bridge",
    "custos-store",
    "custos-pool",
    "custos-api",
    "custos-supervisor",
];

/// Crates that hold or use wallet key material. (The pool does link an AEAD: the sealed
/// signer-pool channel in `custos-ipc`, keyed per start from the view key, which opens
/// no wallet.)
const KEY_MATERIAL: &[&str] = &[
    "custos-signer",
    "custos-crypto",
    "custos-passkey",
    "webauthn-rs",
    "webauthn-rs-core",
    "hpke",
    "ed25519-dalek",
    // The TPM client: in the authorized image, whoever can send TPM commands can satisfy
    // the seal's policy and unseal the master key.
    "custos-tpm",
];

/// The names in the normal-dependency graph of `package`; `expected` must be in it,
/// to show the graph was really read.
fn normal_graph(package: &str, expected: &str) -> std::collections::BTreeSet<String> {
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
    let names: std::collections::BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    assert!(
        names.contains(package) && names.contains(expected),
        "{names:?}"
    );
    names
}

fn assert_graph_excludes(package: &str, expected: &str, forbidden: &[&str]) {
    let names = normal_graph(package, expected);
    let found: Vec<&&str> = forbidden.iter().filter(|f| names.contains(**f)).collect();
    assert!(found.is_empty(), "{package} links {found:?}");
}

fn assert_graph_is_clean(package: &str, expected: &str) {
    assert_graph_excludes(package, expected, FORBIDDEN);
}

#[test]
fn signer_graph_has_no_network_async_or_database_crates() {
    assert_graph_is_clean("custos-signer", "ed25519-dalek");
}

#[test]
fn passkey_graph_has_no_network_async_or_database_crates() {
    assert_graph_is_clean("custos-passkey", "webauthn-rs");
}

#[test]
fn tpm_and_measure_graphs_have_no_network_async_or_database_crates() {
    assert_graph_is_clean("custos-tpm", "p256");
    assert_graph_is_clean("custos-measure", "sha2");
}

#[test]
fn the_bridge_links_no_key_material() {
    assert_graph_excludes("custos-bridge", "tonic", KEY_MATERIAL);
}

#[test]
fn the_pool_links_no_key_material() {
    assert_graph_excludes("custos-pool", "hyper", KEY_MATERIAL);
}
