//! The release manifest parser on arbitrary text: errors, never panics, and whatever it
//! accepts serializes back to a manifest it accepts again unchanged.
#![no_main]

use custos_measure::Release;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(release) = Release::from_json(text) {
        assert_eq!(Release::from_json(&release.to_json()).unwrap(), release);
    }
});
