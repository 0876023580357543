//! `predict_pcr11` against the reference, `systemd-measure calculate` (systemd 252).

mod common;

use common::{bytes, systemd_measure, write_sections};
use custos_measure::{
    measurement_events, predict_pcr11, predict_pcr11_at_phase, replay, UkiSection, UkiSections,
};

/// Checks the prediction against systemd-measure at phase `:` (none), the value Custos
/// sees as /init.
fn check(sections: &UkiSections) {
    let dir = tempfile::tempdir().unwrap();
    let files = write_sections(dir.path(), sections);
    let expected = systemd_measure(&files, ":");
    assert_eq!(
        predict_pcr11(sections),
        expected,
        "sections: {:?}",
        sections
            .iter()
            .map(|(s, c)| (s, c.len()))
            .collect::<Vec<_>>()
    );
    assert_eq!(replay(&measurement_events(sections)), expected);
}

#[test]
fn typical_uki_sections_of_many_sizes() {
    for (i, size) in [
        1,
        2,
        55,
        56,
        63,
        64,
        65,
        4095,
        4096,
        4097,
        100_003,
        (1 << 20) + 3,
    ]
    .into_iter()
    .enumerate()
    {
        let seed = i as u64 * 16;
        check(
            &UkiSections::new()
                .with(UkiSection::Linux, bytes(seed, size))
                .with(UkiSection::Osrel, bytes(seed + 1, size / 3 + 1))
                .with(UkiSection::Cmdline, b"console=ttyS0 panic=-1\0".to_vec())
                .with(UkiSection::Initrd, bytes(seed + 2, size * 2)),
        );
    }
}

#[test]
fn empty_cmdline_and_no_initrd() {
    let base = UkiSections::new()
        .with(UkiSection::Linux, bytes(1, 5000))
        .with(UkiSection::Osrel, b"ID=custos\n".to_vec());
    check(&base);
    // An empty section is skipped, by the tool and by the stub alike.
    let empty_cmdline = base.clone().with(UkiSection::Cmdline, Vec::new());
    check(&empty_cmdline);
    assert_eq!(predict_pcr11(&empty_cmdline), predict_pcr11(&base));
    check(&base.clone().with(UkiSection::Initrd, bytes(2, 70_000)));
}

#[test]
fn each_section_with_linux_and_all_together() {
    // systemd-measure insists on --linux; every other section is optional.
    let linux = UkiSections::new().with(UkiSection::Linux, bytes(99, 777));
    let mut all = linux.clone();
    for (i, section) in UkiSection::ALL.into_iter().enumerate() {
        let contents = bytes(100 + i as u64, 1000 + 37 * i);
        check(&linux.clone().with(section, contents.clone()));
        all.set(section, contents);
    }
    // .pcrsig is never measured: the tool has no option for it, and the prediction ignores it.
    check(&all);
    let mut without_sig = all.clone();
    without_sig.remove(UkiSection::Pcrsig);
    assert_eq!(predict_pcr11(&all), predict_pcr11(&without_sig));
    assert_eq!(measurement_events(&all).len(), 14);
}

#[test]
fn one_changed_byte_changes_the_value() {
    let a = UkiSections::new()
        .with(UkiSection::Linux, bytes(7, 3000))
        .with(UkiSection::Initrd, bytes(8, 3000));
    let mut initrd = bytes(8, 3000);
    initrd[1234] ^= 1;
    let b = a.clone().with(UkiSection::Initrd, initrd);
    check(&b);
    assert_ne!(predict_pcr11(&a), predict_pcr11(&b));
}

#[test]
fn boot_phases_match() {
    let sections = UkiSections::new()
        .with(UkiSection::Linux, bytes(9, 2048))
        .with(UkiSection::Cmdline, b"quiet".to_vec())
        .with(UkiSection::Initrd, bytes(10, 4096));
    let dir = tempfile::tempdir().unwrap();
    let files = write_sections(dir.path(), &sections);
    for phase in [
        "enter-initrd",
        "enter-initrd:leave-initrd",
        "enter-initrd:leave-initrd:sysinit:ready",
        "::enter-initrd::",
    ] {
        assert_eq!(
            predict_pcr11_at_phase(&sections, phase),
            systemd_measure(&files, phase),
            "phase {phase}"
        );
    }
    assert_eq!(
        predict_pcr11_at_phase(&sections, ":"),
        predict_pcr11(&sections)
    );
}
