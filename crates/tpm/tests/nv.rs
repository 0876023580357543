//! The rollback counter against a real TPM (swtpm): define, increment, read, restart.

mod common;

use common::Swtpm;
use custos_tpm::{CounterSpec, Error, NvIndex, NvPublic, Rc};

const INDEX: u32 = 0x0150_0C05;
const SPEC: CounterSpec = CounterSpec { policy: None };

#[test]
fn a_new_counter_reads_nothing_until_incremented_then_only_grows() {
    let (_sw, mut tpm) = Swtpm::started();
    let index = NvIndex::new(INDEX).unwrap();
    tpm.nv_define_counter(index, &SPEC).unwrap();
    let public = tpm.nv_read_public(index).unwrap();
    public.check_counter(&SPEC).unwrap();
    assert!(!public.written());
    // TPM_RC_NV_UNINITIALIZED before the first increment.
    assert_eq!(tpm.nv_read_counter(index, &SPEC).unwrap(), None);

    tpm.nv_increment(index, &SPEC).unwrap();
    assert!(tpm.nv_read_public(index).unwrap().written());
    let first = tpm.nv_read_counter(index, &SPEC).unwrap().unwrap();
    tpm.nv_increment(index, &SPEC).unwrap();
    tpm.nv_increment(index, &SPEC).unwrap();
    assert_eq!(tpm.nv_read_counter(index, &SPEC).unwrap(), Some(first + 2));

    // Defining it twice is refused.
    let err = tpm.nv_define_counter(index, &SPEC).unwrap_err();
    assert!(
        matches!(err, Error::Tpm(rc) if rc.rc() == Rc::NvDefined),
        "{err}"
    );

    // A redefined counter does not start over: its first increment lands at or above
    // the highest value seen, so deleting it cannot roll the version back.
    tpm.nv_undefine(index).unwrap();
    tpm.nv_define_counter(index, &SPEC).unwrap();
    tpm.nv_increment(index, &SPEC).unwrap();
    assert!(tpm.nv_read_counter(index, &SPEC).unwrap().unwrap() >= first + 2);
}

#[test]
fn the_counter_survives_a_tpm_restart() {
    let (sw, mut tpm) = Swtpm::started();
    let index = NvIndex::new(INDEX).unwrap();
    tpm.nv_define_counter(index, &SPEC).unwrap();
    for _ in 0..3 {
        tpm.nv_increment(index, &SPEC).unwrap();
    }
    let before = tpm.nv_read_counter(index, &SPEC).unwrap().unwrap();
    drop(tpm);

    let sw = sw.restart();
    let mut tpm = sw.connect();
    tpm.startup_clear().unwrap();
    assert_eq!(tpm.nv_read_counter(index, &SPEC).unwrap(), Some(before));
    tpm.nv_increment(index, &SPEC).unwrap();
    assert_eq!(tpm.nv_read_counter(index, &SPEC).unwrap(), Some(before + 1));
}

#[test]
fn an_index_that_is_not_custos_counter_is_refused() {
    let (_sw, mut tpm) = Swtpm::started();
    let index = NvIndex::new(INDEX).unwrap();
    // A counter with another definition (here: with a policy) at the same handle.
    let other = CounterSpec {
        policy: Some([7; 32]),
    };
    tpm.nv_define_counter(index, &other).unwrap();
    let err = tpm.nv_increment(index, &SPEC).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NvPublicMismatch {
                index: INDEX,
                what: "attributes",
                ..
            }
        ),
        "{err}"
    );
    let err = tpm.nv_read_counter(index, &SPEC).unwrap_err();
    assert!(matches!(err, Error::NvPublicMismatch { .. }), "{err}");
    assert!(err.to_string().contains("0x01500c05"), "{err}");
    tpm.nv_undefine(index).unwrap();

    // An ordinary (non-counter) index at the same handle: TPM_NT_ORDINARY, 8 bytes.
    tpm.nv_define_space(&NvPublic {
        index: INDEX,
        name_alg: 0x000B,
        attributes: (1 << 2) | (1 << 18), // AUTHWRITE | AUTHREAD, TPM_NT_ORDINARY
        auth_policy: vec![],
        data_size: 8,
    })
    .unwrap();
    let err = tpm.nv_read_counter(index, &SPEC).unwrap_err();
    assert!(matches!(err, Error::NotACounter { index: INDEX }), "{err}");
    let err = tpm.nv_increment(index, &SPEC).unwrap_err();
    assert!(matches!(err, Error::NotACounter { .. }), "{err}");
}
