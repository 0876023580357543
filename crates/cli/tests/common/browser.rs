//! The real-browser driver (`tests/browser/driver.mjs`: headless Chromium through
//! Playwright, with a CDP WebAuthn virtual authenticator) as a blocking child process.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const HINT: &str = "run scripts/test.sh, which installs chromium, nodejs and npm and runs \
     `npm ci` in tests/browser";

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Where screenshots go: `$CARGO_TARGET_DIR/browser-artifacts` (or `target/`).
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let dir = target.join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The driver script; fails (never skips) when Chromium, node or the driver's packages
/// are missing.
pub fn require_tools() -> PathBuf {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "this test needs Chromium at {chromium} (or $CHROMIUM): {HINT}"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "this test needs node: {HINT}"
    );
    let driver = workspace_root().join("tests/browser");
    assert!(
        driver.join("node_modules/playwright-core").is_dir(),
        "this test needs tests/browser/node_modules: {HINT}"
    );
    driver.join("driver.mjs")
}

/// A running driver.
pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Browser {
    /// Starts Chromium trusting the certificate whose SPKI SHA-256 (base64) is `spki`.
    pub fn start(spki: &str) -> Browser {
        let script = require_tools();
        let mut child = Command::new("node")
            .arg(script)
            .arg("--spki")
            .arg(spki)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("node could not be started ({e}): {HINT}"));
        let stdin = child.stdin.take().unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut b = Browser {
            child,
            stdin,
            lines: rx,
        };
        let ready = b.read();
        assert_eq!(ready["ready"], true, "the driver did not start: {ready}");
        b
    }

    fn read(&mut self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(90))
            .expect("the browser driver did not answer in 90 s (or exited)");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("driver said: {line}"))
    }

    /// Sends one command and returns the answer (asserting the driver itself did not
    /// fail).
    pub fn send(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        let answer = self.read();
        assert_eq!(answer["ok"], true, "driver command {cmd} failed: {answer}");
        answer
    }

    /// Opens `url`, fills the code if given, presses the page's main button and waits
    /// for the outcome; screenshots go to the artifacts directory as `<name>-*.png`.
    pub fn run(&mut self, url: &str, totp: Option<&str>, name: &str) -> Value {
        let shots = artifacts_dir().join(name);
        let mut cmd = json!({"cmd": "run", "url": url, "shots": shots.to_str().unwrap()});
        if let Some(code) = totp {
            cmd["totp"] = json!(code);
        }
        let answer = self.send(cmd);
        for shot in answer["shots"].as_array().into_iter().flatten() {
            let path = shot.as_str().unwrap();
            assert!(Path::new(path).is_file(), "no screenshot at {path}");
            println!("screenshot: {path}");
        }
        answer
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"cmd": "quit"}));
        let _ = self.stdin.flush();
        std::thread::sleep(Duration::from_millis(200));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
