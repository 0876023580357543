//! A minimal `/init` on top of [`custos_init::run_init`], for booting the steps in a VM
//! without the rest of Custos: as PID 1 it runs the steps and then itself with `child`,
//! which writes a probe file to the data disk, prints the network state and exits 0.

use std::path::Path;
use std::process::Command;

use custos_init::{is_pid1, log, run_init, IMAGE_CONFIG_PATH};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        child(Path::new(&args[2]));
        return;
    }
    if !is_pid1() {
        eprintln!("pid1: run me as /init (PID 1)");
        std::process::exit(2);
    }
    run_init(Path::new(IMAGE_CONFIG_PATH), |config| {
        let mut cmd = Command::new("/init");
        cmd.arg("child").arg(&config.data_mount);
        cmd
    })
}

fn child(data: &Path) {
    let probe = data.join("pid1-probe");
    std::fs::write(&probe, b"written by the pid1 example\n").expect("write probe");
    log(&format!("child: wrote {}", probe.display()));
    for file in ["/proc/net/route", "/proc/net/fib_trie"] {
        let text = std::fs::read_to_string(file).expect("read /proc/net");
        log(&format!("child: {file}:\n{text}"));
    }
}
