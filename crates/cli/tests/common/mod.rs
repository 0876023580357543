//! Test support: a real `custos serve` process tree, the CLI, and the litesvm harness.
#![allow(dead_code)]

pub mod browser;
pub mod flow;
pub mod memscan;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const CUSTOS: &str = env!("CARGO_BIN_EXE_custos");

/// A running `custos serve` in its own process group.
pub struct Server {
    pub dir: PathBuf,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    /// Starts `custos serve` with extra arguments (e.g. `--rpc-url`).
    pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
        use std::os::unix::process::CommandExt;
        std::fs::create_dir_all(dir).unwrap();
        let log = dir.with_extension("log");
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let _ = std::fs::remove_file(dir.join("run/api.addr"));
        let child = Command::new(CUSTOS)
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logf)
            .process_group(0)
            .spawn()
            .expect("spawn custos serve");
        let server = Server {
            dir: dir.to_owned(),
            child: Some(child),
            log,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.dir.join("run/api.addr").exists() {
                let out = self.cli(&["health"]);
                if out.status.success() {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "custos serve did not become ready; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        cli(&self.dir, args)
    }

    /// Runs the CLI, expects success and JSON on stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "custos {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).expect("JSON output")
    }

    pub fn create_wallet(&self, user: &str) -> String {
        let v = self.json(&["wallet", "create", "--user", user, "--format", "json"]);
        v["wallet"].as_str().unwrap().to_owned()
    }

    /// SIGKILL to the whole process group, as a power cut would.
    pub fn kill_tree(&mut self) {
        let pgid = self.pid();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status();
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    /// Children of the supervisor as (pid, comm).
    pub fn children(&self) -> Vec<(i32, String)> {
        let me = self.pid();
        parent_links()
            .into_iter()
            .filter(|&(_, ppid)| ppid == me)
            .map(|(pid, _)| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                (pid, comm)
            })
            .collect()
    }
}

/// Every process's (pid, parent pid), from `/proc/PID/stat`.
pub fn parent_links() -> Vec<(i32, i32)> {
    let mut links = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces and parentheses.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let ppid = stat[close + 2..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<i32>().ok());
        if let Some(ppid) = ppid {
            links.push((pid, ppid));
        }
    }
    links
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.kill_tree();
        }
    }
}

/// Panics with the command's output unless it succeeded; returns its stdout.
pub fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies a directory tree (files and directories).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `custos attest verify` of saved evidence against a release, with the nonce it was
/// fetched with.
pub fn attest_verify(dir: &Path, release: &Path, evidence: &Path, nonce: &str) -> Output {
    cli(
        dir,
        &[
            "attest",
            "verify",
            "--release",
            release.to_str().unwrap(),
            "--evidence",
            evidence.to_str().unwrap(),
            "--nonce",
            nonce,
        ],
    )
}

pub fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(CUSTOS)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run custos")
}

/// Shortvec (compact-u16) length prefix.
fn shortvec(n: usize, out: &mut Vec<u8>) {
    let mut n = n as u16;
    loop {
        let mut b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        b |= 0x80;
        out.push(b);
    }
}

pub fn b58(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    assert_eq!(bs58::decode(s).onto(&mut out).unwrap(), 32);
    out
}

/// An unsigned legacy wire transaction: System transfer `from` -> `to`.
pub fn transfer_tx(from: &[u8; 32], to: &[u8; 32], lamports: u64, blockhash: &[u8; 32]) -> Vec<u8> {
    let mut msg = vec![1u8, 0, 1];
    shortvec(3, &mut msg);
    msg.extend_from_slice(from);
    msg.extend_from_slice(to);
    msg.extend_from_slice(&[0u8; 32]); // System program
    msg.extend_from_slice(blockhash);
    shortvec(1, &mut msg);
    msg.push(2);
    shortvec(2, &mut msg);
    msg.extend_from_slice(&[0, 1]);
    let mut data = vec![2u8, 0, 0, 0];
    data.extend_from_slice(&lamports.to_le_bytes());
    shortvec(data.len(), &mut msg);
    msg.extend_from_slice(&data);
    let mut tx = Vec::new();
    shortvec(1, &mut tx);
    tx.extend_from_slice(&[0u8; 64]);
    tx.extend_from_slice(&msg);
    tx
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// The litesvm runtime harness (tools/svm-harness), a separate process.
pub struct Svm {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

pub fn svm_harness_path() -> PathBuf {
    if let Ok(p) = std::env::var("CUSTOS_SVM_HARNESS") {
        return PathBuf::from(p);
    }
    // Built by `cargo build --manifest-path tools/svm-harness/Cargo.toml`, which puts it
    // under CARGO_TARGET_DIR when that is set, else under the harness's own target/.
    let targets = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/svm-harness/target")]);
    let candidates: Vec<PathBuf> = targets
        .flat_map(|t| [t.join("debug/svm-harness"), t.join("release/svm-harness")])
        .collect();
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .unwrap_or_else(|| candidates.last().cloned().unwrap_or_default())
}

impl Svm {
    pub fn start() -> Svm {
        let path = svm_harness_path();
        assert!(
            path.exists(),
            "the litesvm harness is not built: run `cargo build --locked --manifest-path tools/svm-harness/Cargo.toml` \
             (the README's test command does) or set CUSTOS_SVM_HARNESS; looked for {}",
            path.display()
        );
        let mut child = Command::new(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn svm-harness");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Svm {
            child,
            stdin,
            stdout,
        }
    }

    pub fn call(&mut self, req: serde_json::Value) -> serde_json::Value {
        writeln!(self.stdin, "{req}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).expect("harness JSON")
    }

    pub fn blockhash(&mut self) -> [u8; 32] {
        let v = self.call(serde_json::json!({"op": "blockhash"}));
        b58(v["blockhash"].as_str().unwrap())
    }

    pub fn airdrop(&mut self, to: &str, lamports: u64) {
        let v = self.call(serde_json::json!({"op": "airdrop", "to": to, "lamports": lamports}));
        assert_eq!(v["ok"], true, "{v}");
    }

    pub fn balance(&mut self, of: &str) -> u64 {
        self.call(serde_json::json!({"op": "balance", "of": of}))["lamports"]
            .as_u64()
            .unwrap()
    }

    pub fn send(&mut self, tx_b64: &str) -> serde_json::Value {
        self.call(serde_json::json!({"op": "send", "tx": tx_b64}))
    }
}

impl Drop for Svm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `confirm` verdict from a server without a Telegram bot: refused, saying why
/// (there is nobody to ask), and nothing signed. A policy `reject` never says this.
pub fn needs_user(v: &serde_json::Value) -> bool {
    v["status"] == "rejected"
        && v.get("transaction").is_none()
        && v["reasons"].as_array().is_some_and(|r| {
            r.iter().any(|x| {
                x.as_str()
                    .is_some_and(|x| x.contains("no Telegram bot is set up"))
            })
        })
}
