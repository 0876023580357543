//! Registration and approval against a software authenticator (passkey-rs), including
//! every refusal: wrong origin, missing user verification, replay, another binding,
//! tampering, another user's credential, malformed input.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{passkeys, Device};
use custos_passkey::{
    ApprovalBinding, AuthenticationState, PasskeyError, Passkeys, RegistrationState, StoredPasskey,
    Uuid,
};
use serde_json::Value;

fn binding(confirmation: u8, transaction: u8) -> ApprovalBinding {
    ApprovalBinding {
        confirmation_id: [confirmation; 16],
        transaction_hash: [transaction; 32],
    }
}

fn register(p: &Passkeys, dev: &mut Device, user: &str) -> StoredPasskey {
    let (options, state) = p.begin_registration(user, Uuid::new_v4(), &[]).unwrap();
    let response = dev.register(&options).unwrap();
    p.finish_registration(state, &response).unwrap()
}

/// Edits a JSON document.
fn edit(json: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(json).unwrap();
    f(&mut v);
    serde_json::to_string(&v).unwrap()
}

/// Edits a base64url field of a response (`response.<field>`) as bytes.
fn edit_bytes(json: &str, field: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    edit(json, |v| {
        let slot = &mut v["response"][field];
        let mut bytes = URL_SAFE_NO_PAD.decode(slot.as_str().unwrap()).unwrap();
        f(&mut bytes);
        *slot = Value::String(URL_SAFE_NO_PAD.encode(bytes));
    })
}

#[test]
fn register_then_approve() {
    let p = passkeys();
    let mut dev = Device::new();
    let (options, state) = p.begin_registration("alice", Uuid::new_v4(), &[]).unwrap();
    let o: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(
        o["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(o["publicKey"]["rp"]["id"], "localhost");
    // The state survives a round trip through bytes.
    let state = RegistrationState::from_bytes(&state.to_bytes()).unwrap();
    let response = dev.register(&options).unwrap();
    let stored = p.finish_registration(state, &response).unwrap();
    let mut stored = StoredPasskey::from_bytes(&stored.to_bytes()).unwrap();

    let b = binding(1, 2);
    let (options, state) = p.begin_approval(std::slice::from_ref(&stored), &b).unwrap();
    let o: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(o["publicKey"]["userVerification"], "required");
    // The challenge sent to the browser is the one derived from the binding.
    assert_eq!(
        o["publicKey"]["challenge"],
        URL_SAFE_NO_PAD.encode(state.challenge())
    );
    assert_eq!(state.binding(), b);
    let state = AuthenticationState::from_bytes(&state.to_bytes()).unwrap();
    let response = dev.approve(&options).unwrap();
    let approved = p.finish_approval(state, &b, &response).unwrap();
    assert_eq!(approved.credential_id, stored.credential_id());
    assert_eq!(approved.counter, 0);
    assert!(!stored.record_approval(&approved).unwrap());

    // The same passkey approves a second request.
    let b2 = binding(3, 4);
    let (options, state) = p
        .begin_approval(std::slice::from_ref(&stored), &b2)
        .unwrap();
    let response = dev.approve(&options).unwrap();
    assert!(p.finish_approval(state, &b2, &response).is_ok());
}

#[test]
fn wrong_origin() {
    let p = passkeys();
    let mut good = Device::new();
    let stored = register(&p, &mut good, "alice");

    for origin in ["https://localhost:9443", "https://evil.localhost:8443"] {
        // Registration from another origin.
        let mut dev = Device::new();
        dev.origin = origin.parse().unwrap();
        let (options, state) = p.begin_registration("bob", Uuid::new_v4(), &[]).unwrap();
        let response = dev.register(&options).unwrap();
        assert!(
            matches!(
                p.finish_registration(state, &response),
                Err(PasskeyError::WrongOrigin)
            ),
            "{origin}"
        );

        // Approval with a real passkey, from another origin.
        let mut phished = good.clone_with(true);
        phished.origin = origin.parse().unwrap();
        let b = binding(1, 1);
        let (options, state) = p.begin_approval(std::slice::from_ref(&stored), &b).unwrap();
        let response = phished.approve(&options).unwrap();
        assert!(
            matches!(
                p.finish_approval(state, &b, &response),
                Err(PasskeyError::WrongOrigin)
            ),
            "{origin}"
        );
    }
}

#[test]
fn missing_user_verification() {
    let p = passkeys();

    // An authenticator that cannot verify its user cannot answer a request that
    // requires it...
    let mut weak = Device::with(None, false, false);
    let (options, state) = p.begin_registration("alice", Uuid::new_v4(), &[]).unwrap();
    assert!(weak.register(&options).is_err());
    // ...and when the request is downgraded on the way (page or client tampered with),
    // its registration without UV is refused.
    let downgraded = edit(&options, |v| {
        v["publicKey"]["authenticatorSelection"]["userVerification"] = "discouraged".into()
    });
    let response = weak.register(&downgraded).unwrap();
    assert!(matches!(
        p.finish_registration(state, &response),
        Err(PasskeyError::UserNotVerified)
    ));

    // A registered passkey, then an approval request downgraded to `discouraged`: the
    // authenticator honours the request and skips verification; refused.
    let mut dev = Device::new();
    let stored = register(&p, &mut dev, "alice");
    let b = binding(1, 2);
    for can_verify in [true, false] {
        let mut d = dev.clone_with(can_verify);
        let (options, state) = p.begin_approval(std::slice::from_ref(&stored), &b).unwrap();
        if !can_verify {
            assert!(d.approve(&options).is_err());
        }
        let downgraded = edit(&options, |v| {
            v["publicKey"]["userVerification"] = "discouraged".into()
        });
        let response = d.approve(&downgraded).unwrap();
        assert!(
            matches!(
                p.finish_approval(state, &b, &response),
                Err(PasskeyError::UserNotVerified)
            ),
            "can_verify={can_verify}"
        );
    }
}

#[test]
fn replayed_assertion() {
    let p = passkeys();
    let mut dev = Device::new();
    let stored = register(&p, &mut dev, "alice");
    let b = binding(7, 8);
    let (options, state) = p.begin_approval(std::slice::from_ref(&stored), &b).unwrap();
    let copy = state.to_bytes();
    let response = dev.approve(&options).unwrap();
    assert!(p.finish_approval(state, &b, &response).is_ok());

    // The same response with a copy of the same state: refused.
    let again = AuthenticationState::from_bytes(&copy).unwrap();
    assert!(matches!(
        p.finish_approval(again, &b, &response),
        Err(PasskeyError::Replayed)
    ));
    // The same response with a fresh state for the same binding: another nonce, so
    // another challenge.
    let (_, fresh) = p.begin_approval(std::slice::from_ref(&stored), &b).unwrap();
    assert!(matches!(
        p.finish_approval(fresh, &b, &response),
        Err(PasskeyError::ChallengeMismatch)
    ));
}

#[test]
fn replayed_registration() {
    let p = passkeys();
    let mut dev = Device::new();
    let (options, state) = p.begin_registration("alice", Uuid::new_v4(), &[]).unwrap();
    let copy = state.to_bytes();
    let response = dev.register(&options).unwrap();
    assert!(p.finish_registration(state, &response).is_ok());
    let again = RegistrationState::from_bytes(&copy).unwrap();
    assert!(matches!(
        p.finish_registration(again, &response),
        Err(PasskeyError::Replayed)
    ));
}

#[test]
fn assertion_for_another_confirmation_or_transaction() {
    let p = passkeys();
    let mut dev = Device::new();
    let stored = register(&p, &mut dev, "alice");
    let approved = binding(1, 1);
    let others = [binding(2, 1), binding(1, 2)]; // another confirmation, another transaction

    for other in others {
        // The assertion was made for `approved`...
        let (options, state) = p
            .begin_approval(std::slice::from_ref(&stored), &approved)
            .unwrap();
        let response = dev.approve(&options).unwrap();

        // ...presented for `other` with its own state: the challenge differs.
        let (_, other_state) = p
            .begin_approval(std::slice::from_ref(&stored), &other)
            .unwrap();
        assert!(matches!(
            p.finish_approval(other_state, &other, &response),
            Err(PasskeyError::ChallengeMismatch)
        ));
        // ...presented for `other` with the state of `approved`: the binding differs.
        let copy = AuthenticationState::from_bytes(&state.to_bytes()).unwrap();
        assert!(matches!(
            p.finish_approval(copy, &other, &response),
            Err(PasskeyError::BindingMismatch)
        ));
        // ...and a state edited to claim `other` (binding rewritten, challenge kept).
        let forged = edit(&String::from_utf8(state.to_bytes()).unwrap(), |v| {
            v["confirmation_id"] = serde_json::to_value(other.confirmation_id).unwrap();
            v["transaction_hash"] = serde_json::to_value(other.transaction_hash).unwrap();
        });
        let forged = AuthenticationState::from_bytes(forged.as_bytes()).unwrap();
        assert!(matches!(
            p.finish_approval(forged, &other, &response),
            Err(PasskeyError::MalformedState)
        ));
        // The genuine pair still works.
        assert!(p.finish_approval(state, &approved, &response).is_ok());
    }
}

#[test]
fn tampered_response() {
    let p = passkeys();
    let mut dev = Device::new();
    let stored = register(&p, &mut dev, "alice");
    let b = binding(5, 6);
    let (options, state) = p.begin_approval(std::slice::from_ref(&stored), &b).unwrap();
    let response = dev.approve(&options).unwrap();
    let bytes = state.to_bytes();
    let fresh = || AuthenticationState::from_bytes(&bytes).unwrap();

    // clientDataJSON altered but still valid JSON with the same fields.
    let t = edit_bytes(&response, "clientDataJSON", |c| {
        let end = c.len() - 1;
        c.insert(end, b' ');
    });
    assert!(matches!(
        p.finish_approval(fresh(), &b, &t),
        Err(PasskeyError::InvalidSignature)
    ));
    // clientDataJSON rewritten to name another challenge (that of another approval).
    let (_, other) = p
        .begin_approval(std::slice::from_ref(&stored), &binding(9, 9))
        .unwrap();
    let other_challenge = URL_SAFE_NO_PAD.encode(other.challenge());
    let t = edit_bytes(&response, "clientDataJSON", |c| {
        let mut j: Value = serde_json::from_slice(c).unwrap();
        j["challenge"] = other_challenge.clone().into();
        *c = serde_json::to_vec(&j).unwrap();
    });
    assert!(matches!(
        p.finish_approval(other, &binding(9, 9), &t),
        Err(PasskeyError::InvalidSignature)
    ));
    // Signature altered (last byte of the DER-encoded ECDSA signature).
    let t = edit_bytes(&response, "signature", |s| *s.last_mut().unwrap() ^= 1);
    assert!(matches!(
        p.finish_approval(fresh(), &b, &t),
        Err(PasskeyError::InvalidSignature)
    ));
    // Authenticator data altered: the signature counter.
    let t = edit_bytes(&response, "authenticatorData", |a| a[36] ^= 1);
    assert!(matches!(
        p.finish_approval(fresh(), &b, &t),
        Err(PasskeyError::InvalidSignature)
    ));
    // Nothing was recorded: the genuine response still goes through once.
    assert!(p.finish_approval(fresh(), &b, &response).is_ok());
}

#[test]
fn credential_from_another_registration() {
    let p = passkeys();
    let mut alice = Device::new();
    let alice_key = register(&p, &mut alice, "alice");
    let mut mallory = Device::new();
    let mallory_key = register(&p, &mut mallory, "mallory");

    let b = binding(1, 1);
    let (options, state) = p
        .begin_approval(std::slice::from_ref(&alice_key), &b)
        .unwrap();
    // Mallory's authenticator has none of Alice's credentials.
    assert!(mallory.approve(&options).is_err());
    // Mallory answers Alice's challenge with her own (validly registered) credential.
    let mallory_id = URL_SAFE_NO_PAD.encode(mallory_key.credential_id());
    let rewritten = edit(&options, |v| {
        v["publicKey"]["allowCredentials"][0]["id"] = mallory_id.into()
    });
    let response = mallory.approve(&rewritten).unwrap();
    assert!(matches!(
        p.finish_approval(state, &b, &response),
        Err(PasskeyError::UnknownCredential)
    ));

    // A passkey registered by another relying party (another RP id) is unknown here too.
    let other_rp = Passkeys::new(custos_passkey::PasskeyConfig {
        rp_id: "other.localhost".into(),
        rp_origin: "https://other.localhost:8443".parse().unwrap(),
        rp_name: "Other".into(),
    })
    .unwrap();
    let mut dev = Device::new();
    dev.origin = "https://other.localhost:8443".parse().unwrap();
    let other_key = register(&other_rp, &mut dev, "alice");
    let (options, state) = p
        .begin_approval(std::slice::from_ref(&alice_key), &b)
        .unwrap();
    let other_id = URL_SAFE_NO_PAD.encode(other_key.credential_id());
    let rewritten = edit(&options, |v| {
        v["publicKey"]["allowCredentials"][0]["id"] = other_id.into();
        v["publicKey"]["rpId"] = "other.localhost".into();
    });
    let response = dev.approve(&rewritten).unwrap();
    let r = p.finish_approval(state, &b, &response);
    assert!(matches!(r, Err(PasskeyError::UnknownCredential)), "{r:?}");
}

#[test]
fn cloned_authenticator_counter_goes_backwards() {
    let p = passkeys();
    let mut dev = Device::with(None, true, true);
    let mut stored = register(&p, &mut dev, "alice");
    let mut clone = dev.clone_with(true);

    let b = binding(1, 1);
    let (options, state) = p.begin_approval(std::slice::from_ref(&stored), &b).unwrap();
    let approved = p
        .finish_approval(state, &b, &dev.approve(&options).unwrap())
        .unwrap();
    assert_eq!(approved.counter, 1);
    assert!(stored.record_approval(&approved).unwrap());

    let b = binding(2, 2);
    let (options, state) = p.begin_approval(std::slice::from_ref(&stored), &b).unwrap();
    let response = clone.approve(&options).unwrap();
    assert!(matches!(
        p.finish_approval(state, &b, &response),
        Err(PasskeyError::CounterRegressed)
    ));
}

#[test]
fn malformed_input() {
    let p = passkeys();
    let mut dev = Device::new();
    let (options, state) = p.begin_registration("alice", Uuid::new_v4(), &[]).unwrap();
    let registration = dev.register(&options).unwrap();
    let reg_state_bytes = state.to_bytes();
    for junk in ["", "not json", "{}", "[1,2]", r#"{"id":"AA","rawId":"AA"}"#] {
        let s = RegistrationState::from_bytes(&reg_state_bytes).unwrap();
        assert!(
            matches!(
                p.finish_registration(s, junk),
                Err(PasskeyError::MalformedResponse(_))
            ),
            "{junk:?}"
        );
    }
    let stored = p
        .finish_registration(
            RegistrationState::from_bytes(&reg_state_bytes).unwrap(),
            &registration,
        )
        .unwrap();

    let b = binding(1, 1);
    let (options, state) = p.begin_approval(std::slice::from_ref(&stored), &b).unwrap();
    let bytes = state.to_bytes();
    // A registration response where an assertion is expected, and junk.
    for junk in ["", "null", "{}", registration.as_str()] {
        let s = AuthenticationState::from_bytes(&bytes).unwrap();
        assert!(
            matches!(
                p.finish_approval(s, &b, junk),
                Err(PasskeyError::MalformedResponse(_))
            ),
            "{junk:?}"
        );
    }
    // Garbage inside a well-formed envelope: authenticator data too short.
    let response = dev.approve(&options).unwrap();
    let t = edit_bytes(&response, "authenticatorData", |a| a.truncate(10));
    let s = AuthenticationState::from_bytes(&bytes).unwrap();
    assert!(matches!(
        p.finish_approval(s, &b, &t),
        Err(PasskeyError::Webauthn(_) | PasskeyError::MalformedResponse(_))
    ));

    // States and passkeys: junk, the wrong kind, another version.
    assert!(matches!(
        AuthenticationState::from_bytes(b"junk"),
        Err(PasskeyError::MalformedState)
    ));
    assert!(matches!(
        AuthenticationState::from_bytes(&reg_state_bytes),
        Err(PasskeyError::MalformedState)
    ));
    assert!(matches!(
        RegistrationState::from_bytes(&bytes),
        Err(PasskeyError::MalformedState)
    ));
    let v2 = edit(&String::from_utf8(bytes.clone()).unwrap(), |v| {
        v["approval_v"] = 2.into()
    });
    assert!(matches!(
        AuthenticationState::from_bytes(v2.as_bytes()),
        Err(PasskeyError::MalformedState)
    ));
    assert!(matches!(
        StoredPasskey::from_bytes(b"{}"),
        Err(PasskeyError::MalformedPasskey)
    ));
    assert!(matches!(
        StoredPasskey::from_bytes(&bytes),
        Err(PasskeyError::MalformedPasskey)
    ));

    // The genuine response is still accepted: nothing was consumed by the failures.
    let s = AuthenticationState::from_bytes(&bytes).unwrap();
    assert!(p.finish_approval(s, &b, &response).is_ok());
}

#[test]
fn record_approval_refuses_another_passkey() {
    let p = passkeys();
    let mut a = Device::new();
    let key_a = register(&p, &mut a, "alice");
    let mut b_dev = Device::new();
    let mut key_b = register(&p, &mut b_dev, "alice");
    let b = binding(1, 1);
    let (options, state) = p
        .begin_approval(&[key_a.clone(), key_b.clone()], &b)
        .unwrap();
    let approved = p
        .finish_approval(state, &b, &a.approve(&options).unwrap())
        .unwrap();
    assert_eq!(approved.credential_id, key_a.credential_id());
    assert!(matches!(
        key_b.record_approval(&approved),
        Err(PasskeyError::OtherCredential)
    ));
}

#[test]
fn registration_excludes_existing_passkeys() {
    let p = passkeys();
    let mut dev = Device::new();
    let stored = register(&p, &mut dev, "alice");
    let (options, _state) = p
        .begin_registration("alice", Uuid::new_v4(), std::slice::from_ref(&stored))
        .unwrap();
    let o: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(
        o["publicKey"]["excludeCredentials"][0]["id"],
        URL_SAFE_NO_PAD.encode(stored.credential_id())
    );
}
