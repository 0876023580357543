//! The event log reader on arbitrary bytes: it must return an error or a log, never
//! panic, and a parsed log must replay and decode without panicking.
#![no_main]

use custos_measure::EventLog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(log) = EventLog::parse(data) {
        let replayed = log.replay();
        assert!(replayed.keys().all(|&pcr| pcr <= 16 || pcr == 23));
        let _ = log.stub_events();
    }
});
