//! `SignedPolicy::from_bytes` on arbitrary bytes: errors, never panics; whatever it
//! accepts re-encodes to the input; under the fixed policy key only the one policy that
//! key signed verifies, and every accepted policy re-signed by it verifies again.
#![no_main]

use custos_tpm::policy::{sign_policy, PolicyPublicKey, PolicySigningKey, SignedPolicy};
use custos_tpm_fuzz::{policy_key, reference_policy};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Fixed {
    key: PolicySigningKey,
    public: PolicyPublicKey,
    reference: SignedPolicy,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let key = policy_key();
        let reference = reference_policy(&key);
        Fixed {
            public: key.public_key(),
            key,
            reference,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixed();
    let Ok(policy) = SignedPolicy::from_bytes(data) else {
        return;
    };
    assert_eq!(policy.to_bytes(), data);
    if policy.is_signed_by(&f.public) {
        // Only the reference is signed; ECDSA lets (r, n - s) stand for (r, s), so the
        // signature may differ in s alone.
        assert_eq!(policy.policy(), f.reference.policy());
        assert_eq!(policy.counter(), f.reference.counter());
        assert_eq!(policy.signature()[..32], f.reference.signature()[..32]);
    }
    let resigned = sign_policy(policy.policy(), policy.counter(), &f.key);
    assert!(resigned.is_signed_by(&f.public));
    assert_eq!(
        SignedPolicy::from_bytes(&resigned.to_bytes()).as_ref(),
        Ok(&resigned)
    );
});
