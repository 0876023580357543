//! gzip with a fixed header, so identical input gives identical bytes.

use std::io::Write;

use flate2::{Compression, GzBuilder};

/// The header's OS byte: 3, Unix (as `gzip -n` on Linux writes it), instead of a value
/// that could depend on the build platform.
const OS_UNIX: u8 = 3;

/// Compresses `data` as a gzip member with no file name, no comment, modification time 0
/// and the best compression level.
///
/// The deflate stream is flate2's default backend (miniz_oxide); flate2 is pinned in the
/// workspace because another backend or version may give different (equally valid) bytes,
/// and the boot image's PCR 11 covers them.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(OS_UNIX)
        .write(Vec::new(), Compression::best());
    // Writing to a Vec cannot fail.
    encoder.write_all(data).expect("write to a Vec");
    encoder.finish().expect("write to a Vec")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_fixed_and_round_trips() {
        let gz = gzip(b"custos");
        // Magic, deflate, no flags (no name/comment), mtime 0, XFL 2 (best), OS 3.
        assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
        assert_eq!(out, b"custos");
        assert_eq!(gzip(b"custos"), gz);
    }
}
