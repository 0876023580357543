//! `SealedMasterKey::from_bytes` on arbitrary bytes: errors, never panics; whatever it
//! accepts re-encodes to the input and parses back equal.
#![no_main]

use custos_tpm::seal::SealedMasterKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sealed) = SealedMasterKey::from_bytes(data) else {
        return;
    };
    let bytes = sealed.to_bytes();
    assert_eq!(bytes, data);
    assert_eq!(SealedMasterKey::from_bytes(&bytes).as_ref(), Ok(&sealed));
    // The parts are what the canonical layout puts where.
    assert_eq!(&data[18..83], &sealed.policy_key().to_sec1()[..]);
    assert_eq!(data[83..87], sealed.counter().handle().to_be_bytes());
});
