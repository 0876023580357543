//! The cpio writer against GNU cpio and gzip: the real tools list and extract exactly what
//! was added, and the archive is byte-identical for identical input in any order.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use custos_image::Cpio;

/// Runs `tool` with `args` in `dir`, feeding `stdin`; panics (never skips) if it is missing.
fn run(tool: &str, args: &[&str], dir: &Path, stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {tool} ({e}): install it (Debian package {tool}; scripts/test.sh does)"
            )
        });
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The files of a small initramfs, in a scrambled order.
const FILES: &[(&str, u32, &[u8])] = &[
    ("etc/custos/policy.toml", 0o600, b"[withdrawals]\nmax = 5\n"),
    ("init", 0o755, b"\x7fELF not really"),
    (
        "etc/custos/config.toml",
        0o644,
        b"listen = \"vsock:1234\"\n",
    ),
    ("empty", 0o400, b""),
    ("bin/a", 0o4711, b"abc"),
];

fn archive(order: &[usize]) -> Cpio {
    let mut c = Cpio::new();
    for &i in order {
        let (path, mode, contents) = FILES[i];
        c.add_file(path, mode, contents).unwrap();
    }
    c.add_dir("dev", 0o755).unwrap();
    c.add_symlink("sbin", "bin").unwrap();
    c
}

#[test]
fn identical_in_any_insertion_order() {
    let a = archive(&[0, 1, 2, 3, 4]);
    let b = archive(&[4, 2, 0, 3, 1]);
    assert_eq!(a.to_bytes(), b.to_bytes());
    assert_eq!(a.to_gzip(), b.to_gzip());
    assert_eq!(a.to_gzip(), archive(&[0, 1, 2, 3, 4]).to_gzip());
}

#[test]
fn gnu_cpio_lists_and_extracts_exactly_the_entries() {
    let c = archive(&[0, 1, 2, 3, 4]);
    let dir = tempfile::tempdir().unwrap();
    let bytes = c.to_bytes();

    let list = run("cpio", &["-t", "--quiet"], dir.path(), &bytes);
    let mut want: Vec<&str> = vec![
        "bin",
        "bin/a",
        "dev",
        "empty",
        "etc",
        "etc/custos",
        "etc/custos/config.toml",
        "etc/custos/policy.toml",
        "init",
        "sbin",
    ];
    want.sort();
    assert_eq!(
        String::from_utf8(list).unwrap().lines().collect::<Vec<_>>(),
        want
    );

    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    run(
        "cpio",
        &["-i", "--quiet", "--no-absolute-filenames"],
        &root,
        &bytes,
    );
    for (path, mode, contents) in FILES {
        let p = root.join(path);
        assert_eq!(std::fs::read(&p).unwrap(), *contents, "{path}");
        let m = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(m, 0o100_000 | mode, "{path}: mode {m:o}");
    }
    for d in ["bin", "dev", "etc", "etc/custos"] {
        let m = std::fs::metadata(root.join(d)).unwrap();
        assert!(m.is_dir(), "{d}");
        assert_eq!(m.permissions().mode() & 0o7777, 0o755, "{d}");
    }
    assert_eq!(
        std::fs::read_link(root.join("sbin")).unwrap(),
        Path::new("bin")
    );
    // Nothing else was extracted.
    let mut found = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            found.push(
                e.path()
                    .strip_prefix(&root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned(),
            );
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    found.sort();
    assert_eq!(found, want);
}

#[test]
fn gzip_accepts_the_compressed_archive() {
    let c = archive(&[0, 1, 2, 3, 4]);
    let dir = tempfile::tempdir().unwrap();
    let gz = c.to_gzip();
    run("gzip", &["-t"], dir.path(), &gz);
    assert_eq!(run("gzip", &["-dc"], dir.path(), &gz), c.to_bytes());
}

#[test]
fn one_changed_byte_changes_the_archive() {
    let a = archive(&[0, 1, 2, 3, 4]);
    let mut b = Cpio::new();
    for (path, mode, contents) in FILES {
        let mut contents = contents.to_vec();
        if *path == "init" {
            contents[5] ^= 1;
        }
        b.add_file(path, *mode, contents).unwrap();
    }
    b.add_dir("dev", 0o755).unwrap();
    b.add_symlink("sbin", "bin").unwrap();
    assert_ne!(a.to_bytes(), b.to_bytes());
    assert_ne!(a.to_gzip(), b.to_gzip());
    assert_eq!(a.to_bytes().len(), b.to_bytes().len());
}

/// The exact bytes are pinned: a new flate2 version or deflate backend (e.g. another crate
/// turning on flate2's `zlib-rs` feature) would change every initramfs, and so PCR 11.
#[test]
fn compressed_bytes_are_pinned() {
    use sha2::{Digest, Sha256};
    let gz = archive(&[0, 1, 2, 3, 4]).to_gzip();
    assert_eq!(hex::encode(Sha256::digest(&gz)), GOLDEN);
}

const GOLDEN: &str = "6b067e23f51ce0556946f1870d94510af748cffc782f7a9b8f99d3b952311b4f";

#[test]
fn gnu_cpio_lists_a_char_device_with_its_numbers() {
    let mut c = Cpio::new();
    c.add_char_device("dev/console", 0o600, 5, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = run("cpio", &["-tv", "--quiet"], dir.path(), &c.to_bytes());
    let list = String::from_utf8(list).unwrap();
    let line = list
        .lines()
        .find(|l| l.ends_with("dev/console"))
        .unwrap_or_else(|| panic!("no dev/console in {list}"));
    assert!(line.starts_with("crw------- "), "{line}");
    let numbers: String = line.split_whitespace().skip(4).take(2).collect();
    assert_eq!(numbers, "5,1", "{line}");
}
