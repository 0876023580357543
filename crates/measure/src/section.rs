//! The PE sections of a unified kernel image that systemd-stub knows, and their contents.

/// A UKI PE section systemd-stub 252 knows, in the order of its `unified_sections[]` table.
///
/// The order of the variants is the order systemd-stub measures them into PCR 11 (see
/// [`UkiSection::MEASURED`]); it must never be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UkiSection {
    /// `.linux`: the kernel image.
    Linux,
    /// `.osrel`: the os-release file of the image.
    Osrel,
    /// `.cmdline`: the kernel command line.
    Cmdline,
    /// `.initrd`: the initramfs.
    Initrd,
    /// `.splash`: a boot splash bitmap.
    Splash,
    /// `.dtb`: a devicetree blob.
    Dtb,
    /// `.pcrsig`: signatures of expected PCR 11 values. Never measured: it signs the result
    /// of the measurement, so it cannot be an input to it.
    Pcrsig,
    /// `.pcrpkey`: the public key that verifies `.pcrsig`.
    Pcrpkey,
}

impl UkiSection {
    /// Every section systemd-stub 252 knows, in table order.
    pub const ALL: [UkiSection; 8] = [
        Self::Linux,
        Self::Osrel,
        Self::Cmdline,
        Self::Initrd,
        Self::Splash,
        Self::Dtb,
        Self::Pcrsig,
        Self::Pcrpkey,
    ];

    /// The sections systemd-stub 252 measures into PCR 11, in the order it measures them
    /// (table order, without `.pcrsig`). `.uname` and `.sbat` are not in systemd 252's table.
    pub const MEASURED: [UkiSection; 7] = [
        Self::Linux,
        Self::Osrel,
        Self::Cmdline,
        Self::Initrd,
        Self::Splash,
        Self::Dtb,
        Self::Pcrpkey,
    ];

    /// The PE section name, e.g. `".linux"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Linux => ".linux",
            Self::Osrel => ".osrel",
            Self::Cmdline => ".cmdline",
            Self::Initrd => ".initrd",
            Self::Splash => ".splash",
            Self::Dtb => ".dtb",
            Self::Pcrsig => ".pcrsig",
            Self::Pcrpkey => ".pcrpkey",
        }
    }

    /// Whether systemd-stub measures this section into PCR 11 (all but `.pcrsig`).
    pub fn is_measured(self) -> bool {
        self != Self::Pcrsig
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for UkiSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The contents of a UKI's known sections, as systemd-stub sees them in memory.
///
/// A section is either absent or holds its bytes. A present but empty section is treated
/// like an absent one by the prediction, as systemd-stub does (it skips sections whose
/// size is 0, and `systemd-measure` skips empty files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UkiSections {
    contents: [Option<Vec<u8>>; 8],
}

impl UkiSections {
    /// No sections.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `section`'s contents, replacing any previous ones; returns `self` for chaining.
    pub fn with(mut self, section: UkiSection, contents: impl Into<Vec<u8>>) -> Self {
        self.set(section, contents);
        self
    }

    /// Sets `section`'s contents, replacing any previous ones.
    pub fn set(&mut self, section: UkiSection, contents: impl Into<Vec<u8>>) {
        self.contents[section.index()] = Some(contents.into());
    }

    /// Removes `section`, returning its contents if it was present.
    pub fn remove(&mut self, section: UkiSection) -> Option<Vec<u8>> {
        self.contents[section.index()].take()
    }

    /// `section`'s contents, if present.
    pub fn get(&self, section: UkiSection) -> Option<&[u8]> {
        self.contents[section.index()].as_deref()
    }

    /// The present sections and their contents, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (UkiSection, &[u8])> {
        UkiSection::ALL
            .into_iter()
            .filter_map(|s| self.get(s).map(|c| (s, c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_order_and_names() {
        let names: Vec<_> = UkiSection::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".pcrsig", ".pcrpkey"]
        );
        let measured: Vec<_> = UkiSection::ALL
            .into_iter()
            .filter(|s| s.is_measured())
            .collect();
        assert_eq!(measured, UkiSection::MEASURED);
        for (i, s) in UkiSection::ALL.into_iter().enumerate() {
            assert_eq!(s.index(), i);
        }
    }

    #[test]
    fn set_get_remove_iter() {
        let mut s = UkiSections::new()
            .with(UkiSection::Initrd, b"i".to_vec())
            .with(UkiSection::Linux, b"k".to_vec());
        assert_eq!(s.get(UkiSection::Linux), Some(&b"k"[..]));
        assert_eq!(s.get(UkiSection::Osrel), None);
        let order: Vec<_> = s.iter().map(|(sec, _)| sec).collect();
        assert_eq!(order, [UkiSection::Linux, UkiSection::Initrd]);
        assert_eq!(s.remove(UkiSection::Initrd), Some(b"i".to_vec()));
        assert_eq!(s.get(UkiSection::Initrd), None);
    }
}
