//! UTF-16LE strings as UEFI writes them: variable names and systemd-stub's event data.

/// A UTF-16LE string with exactly one NUL, at its end; `None` for anything else.
pub(crate) fn decode_nul_terminated(bytes: &[u8]) -> Option<String> {
    if bytes.len() < 2 || !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let (last, text) = units.split_last()?;
    if *last != 0 || text.contains(&0) {
        return None;
    }
    String::from_utf16(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_nul_at_the_end() {
        assert_eq!(decode_nul_terminated(b"d\0b\0\0\0").as_deref(), Some("db"));
        assert_eq!(decode_nul_terminated(b"\0\0").as_deref(), Some(""));
        for bad in [
            &b""[..],
            b"d\0b\0",
            b"d\0\0\0b\0\0\0",
            b"d\0\0",
            b"\0\xd8\0\0",
        ] {
            assert_eq!(decode_nul_terminated(bad), None, "{bad:?}");
        }
    }
}
