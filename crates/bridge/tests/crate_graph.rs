//! Nothing network-facing links key material. The bridge (the API) and the pool
//! (Telegram, the Custos page, the RPC endpoint) talk to the outside world; the crates
//! that hold, derive or use keys (the signer, the record crypto, the passkey ceremonies,
//! HPKE) must not be in their dependency graphs, so a bug in either cannot reach a key
//! by calling a function. This reads the real graph, as cargo resolves it for each
//! package alone (dev-dependencies excluded: tests may use them).

use std::process::Command;

/// Crates that hold or use wallet key material. (The pool does link an AEAD: the
/// sealed signer-pool channel in `custos-ipc`, keyed per start from the view key, which
/// opens no wallet.)
const KEY_MATERIAL: &[&str] = &[
    "custos-signer",
    "custos-crypto",
    "custos-passkey",
    "webauthn-rs",
    "webauthn-rs-core",
    "hpke",
    "ed25519-dalek",
];

fn normal_graph(package: &str) -> std::collections::BTreeSet<String> {
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
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn assert_no_key_material(package: &str, expected: &str) {
    let names = normal_graph(package);
    // The graph was really read: the package and a known dependency are in it.
    assert!(
        names.contains(package) && names.contains(expected),
        "{names:?}"
    );
    let found: Vec<&&str> = KEY_MATERIAL
        .iter()
        .filter(|k| names.contains(**k))
        .collect();
    assert!(found.is_empty(), "{package} links key material: {found:?}");
}

#[test]
fn the_bridge_links_no_key_material() {
    assert_no_key_material("custos-bridge", "tonic");
}

#[test]
fn the_pool_links_no_key_material() {
    assert_no_key_material("custos-pool", "hyper");
}
