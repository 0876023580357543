//! The variable store reader and the PCR 7 prediction on arbitrary bytes: errors, never
//! panics. The first 64 bytes are taken as the "certificate" to look up in db.
#![no_main]

use custos_measure::pcr7::pcr7_events;
use custos_measure::VarStore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cert, file) = data.split_at(data.len().min(64));
    if let Ok(store) = VarStore::parse(file) {
        let _ = pcr7_events(&store, cert);
    }
});
