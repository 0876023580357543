//! `parse_quote` and `verify_quote` on arbitrary bytes, under a fixed software AK, nonce
//! and PCR values. The first byte chooses how the rest is read:
//!
//! - even: `attest || signature (64 bytes)` as given. Only the one attestation the AK
//!   signed (the reference) may verify.
//! - odd: `attest`, signed here by the AK so the fuzzer gets past the signature. Then
//!   verification must follow from `parse_quote` exactly (nonce, selection, PCR digest),
//!   and fail with `BadSignature` after one bit of the attestation or the signature
//!   flips (the first byte picks which).
#![no_main]

use custos_tpm::{parse_quote, verify_quote, PcrSelection, Quote, VerifyError};
use custos_tpm_fuzz::{ak_sec1, expected_pcrs, reference_attest, selection, sign, NONCE};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

struct Fixed {
    ak: Vec<u8>,
    selection: PcrSelection,
    pcrs: [[u8; 32]; 2],
    pcr_digest: [u8; 32],
    reference: Quote,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let pcrs = expected_pcrs();
        let mut h = Sha256::new();
        pcrs.iter().for_each(|v| h.update(v));
        let attest = reference_attest();
        Fixed {
            ak: ak_sec1(),
            selection: selection(),
            pcrs,
            pcr_digest: h.finalize().into(),
            reference: Quote {
                signature: sign(&attest),
                attest,
            },
        }
    })
}

fn verify(f: &Fixed, quote: &Quote) -> Result<custos_tpm::QuoteInfo, VerifyError> {
    verify_quote(&f.ak, quote, &NONCE, &f.selection, &f.pcrs)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixed();
    let parsed = parse_quote(rest);
    if mode % 2 == 0 {
        let Some(split) = rest.len().checked_sub(64) else {
            return;
        };
        let quote = Quote {
            attest: rest[..split].to_vec(),
            signature: rest[split..].try_into().expect("64 bytes"),
        };
        if let Ok(info) = verify(f, &quote) {
            // ECDSA lets (r, n - s) stand for (r, s): s may differ, nothing else.
            assert_eq!(quote.attest, f.reference.attest);
            assert_eq!(quote.signature[..32], f.reference.signature[..32]);
            assert_eq!(Ok(info), parse_quote(&quote.attest));
        }
        return;
    }
    let quote = Quote {
        attest: rest.to_vec(),
        signature: sign(rest),
    };
    let got = verify(f, &quote);
    let want = parsed.and_then(|info| {
        if info.extra_data != NONCE {
            Err(VerifyError::WrongNonce)
        } else if info.pcr_select != f.selection {
            Err(VerifyError::SelectionMismatch)
        } else if info.pcr_digest != f.pcr_digest {
            Err(VerifyError::PcrMismatch)
        } else {
            Ok(info)
        }
    });
    assert_eq!(got, want);

    // One flip per input (ECDSA verification dominates the run time): bit 1 of the
    // first byte picks the attestation or the signature, the rest picks the bit.
    let bit = usize::from(mode >> 2);
    let mut bad = quote;
    if mode & 2 == 0 && !bad.attest.is_empty() {
        let at = bit % (bad.attest.len() * 8);
        bad.attest[at / 8] ^= 1 << (at % 8);
    } else {
        // bit < 64: one bit in each of the 64 bytes of r || s.
        bad.signature[bit] ^= 1 << (bit % 8);
    }
    assert_eq!(verify(f, &bad), Err(VerifyError::BadSignature));
});
