//! Disk images for the VM: the EFI system partition (FAT, made with `mkfs.vfat` and
//! mtools) holding the UKI at `\EFI\BOOT\BOOTX64.EFI`, and the ext4 data disk (made with
//! `mkfs.ext4 -d`, read back with `debugfs` after the VM stops, no mounting needed).

use std::path::Path;
use std::process::Command;

use super::VmError;
use crate::tool::run;

/// Slack on the ESP beyond the UKI (FAT tables, directories), in KiB.
const ESP_SLACK_KIB: u64 = 4096;

/// Makes a FAT image at `image` (must not exist) holding `uki` as the removable-media
/// boot loader `\EFI\BOOT\BOOTX64.EFI`, which OVMF boots without any boot entry.
pub fn make_esp(image: &Path, uki: &Path) -> Result<(), VmError> {
    let len = std::fs::metadata(uki)
        .map_err(VmError::io(format!("stat {}", uki.display())))?
        .len();
    let kib = (len.div_ceil(1024) + ESP_SLACK_KIB).div_ceil(1024) * 1024;
    run(
        Command::new("mkfs.vfat")
            .args(["-C", "-n", "ESP"])
            .arg(image)
            .arg(kib.to_string()),
        "Debian package dosfstools",
    )?;
    let image_arg = image.as_os_str();
    run(
        Command::new("mmd")
            .env("MTOOLS_SKIP_CHECK", "1")
            .arg("-i")
            .arg(image_arg)
            .args(["::/EFI", "::/EFI/BOOT"]),
        "Debian package mtools",
    )?;
    run(
        Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .arg("-i")
            .arg(image_arg)
            .arg(uki)
            .arg("::/EFI/BOOT/BOOTX64.EFI"),
        "Debian package mtools",
    )?;
    Ok(())
}

/// Makes an ext4 image of `size_mib` MiB at `image` (replaced if present) holding a copy
/// of the directory `contents`, owned by root, labelled `custos-data`.
pub fn make_ext4(image: &Path, contents: &Path, size_mib: u32) -> Result<(), VmError> {
    if image.exists() {
        std::fs::remove_file(image).map_err(VmError::io(format!("remove {}", image.display())))?;
    }
    run(
        Command::new("mkfs.ext4")
            .args([
                "-q",
                "-F",
                "-L",
                "custos-data",
                "-E",
                "root_owner=0:0",
                "-d",
            ])
            .arg(contents)
            .arg(image)
            .arg(format!("{size_mib}M")),
        "Debian package e2fsprogs",
    )?;
    Ok(())
}

/// Reads the file at `path` (absolute inside the file system) out of the ext4 `image`
/// with `debugfs`. The image must not be in use by a running VM.
pub fn read_ext4_file(image: &Path, path: &str) -> Result<Vec<u8>, VmError> {
    if !path.starts_with('/') || path.contains(['"', '\n']) {
        return Err(VmError::BadPath(path.to_owned()));
    }
    let scratch = tempfile::tempdir().map_err(VmError::io("create a scratch directory"))?;
    let out = scratch.path().join("file");
    // debugfs exits 0 even when the file is missing; it then writes nothing.
    let output = run(
        Command::new("debugfs")
            .arg("-R")
            .arg(format!("dump \"{path}\" {}", out.display()))
            .arg(image),
        "Debian package e2fsprogs",
    )?;
    match std::fs::read(&out) {
        Ok(bytes) => Ok(bytes),
        Err(_) => Err(VmError::NotInImage {
            path: path.to_owned(),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        }),
    }
}
