//! The VM harness's parts without a VM: the ext4 data disk round trip through
//! `mkfs.ext4 -d` and `debugfs`, the ESP, and swtpm in its TCP modes on one state
//! directory, answering a real TPM client, stopped on drop.

use std::net::TcpStream;
use std::time::Duration;

use custos_image::vm::{make_esp, make_ext4, read_ext4_file, Swtpm, TcpPower};
use custos_image::VmError;
use custos_tpm::{swtpm_power_on, PcrSelection, SwtpmTransport, Tpm};

#[test]
fn ext4_data_disk_round_trips_files() {
    let dir = tempfile::tempdir().unwrap();
    let contents = dir.path().join("contents");
    std::fs::create_dir_all(contents.join("policies")).unwrap();
    std::fs::write(contents.join("attest-nonce"), b"nonce-1").unwrap();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(contents.join("policies/5.policy"), &big).unwrap();
    let image = dir.path().join("data.img");
    make_ext4(&image, &contents, 16).unwrap();
    assert_eq!(read_ext4_file(&image, "/attest-nonce").unwrap(), b"nonce-1");
    assert_eq!(read_ext4_file(&image, "/policies/5.policy").unwrap(), big);
    assert!(matches!(
        read_ext4_file(&image, "/missing"),
        Err(VmError::NotInImage { .. })
    ));
    assert!(matches!(
        read_ext4_file(&image, "relative"),
        Err(VmError::BadPath(_))
    ));
    // Remaking replaces the image.
    std::fs::remove_file(contents.join("attest-nonce")).unwrap();
    make_ext4(&image, &contents, 16).unwrap();
    assert!(read_ext4_file(&image, "/attest-nonce").is_err());
}

#[test]
fn esp_holds_the_loader_at_the_removable_media_path() {
    let dir = tempfile::tempdir().unwrap();
    let uki = dir.path().join("x.efi");
    std::fs::write(&uki, vec![0x5a; 3 << 20]).unwrap();
    let esp = dir.path().join("esp.img");
    make_esp(&esp, &uki).unwrap();
    let copy = dir.path().join("back.efi");
    let out = std::process::Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(&esp)
        .arg("::/EFI/BOOT/BOOTX64.EFI")
        .arg(&copy)
        .output()
        .expect("mtools (Debian package mtools)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(copy).unwrap(), std::fs::read(uki).unwrap());
}

#[test]
fn swtpm_tcp_modes_share_a_state_dir_and_stop_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tpm");

    // Powered off: the client powers it on and starts it up.
    let data = {
        let swtpm = Swtpm::tcp(&state, TcpPower::Off).unwrap();
        let (data, ctrl) = swtpm.tcp_addrs().unwrap();
        swtpm_power_on(ctrl).unwrap();
        let mut tpm = Tpm::new(SwtpmTransport::connect(data).unwrap());
        tpm.startup_clear().unwrap();
        assert_eq!(tpm.get_random(16).unwrap().len(), 16);
        data
    };
    // Dropped: the port is closed.
    std::thread::sleep(Duration::from_millis(100));
    assert!(TcpStream::connect_timeout(&data, Duration::from_millis(500)).is_err());
    assert!(state.join("tpm2-00.permall").is_file());

    // Started up by swtpm, on the same state: commands work at once.
    let swtpm = Swtpm::tcp(&state, TcpPower::StartedUp).unwrap();
    let (data, _) = swtpm.tcp_addrs().unwrap();
    let mut tpm = Tpm::new(SwtpmTransport::connect(data).unwrap());
    let pcrs = tpm
        .pcr_read(&PcrSelection::sha256(&[7, 11]).unwrap())
        .unwrap();
    assert_eq!(pcrs, vec![[0u8; 32]; 2]);
    drop(tpm);
    drop(swtpm);

    // qemu mode on the same state: the control socket appears, and goes with the process.
    let swtpm = Swtpm::for_qemu(&state).unwrap();
    let sock = swtpm.ctrl_socket().unwrap().to_owned();
    assert!(sock.exists());
    drop(swtpm);
    assert!(!sock.exists());
}
