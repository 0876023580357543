//! Red-team transactions: what a compromised bot backend could build to get value moved
//! away from the user signed without asking. Each test states the attack; tests of
//! attacks that turned out to be blocked keep the (correct) verdict as a regression, with
//! the reason it is sound.

mod common;

use common::*;
use custos_txdecode::policy::JITO_TIP_ACCOUNTS;
use custos_txdecode::programs::{
    ADDRESS_LOOKUP_TABLE_PROGRAM, ATA_PROGRAM, NATIVE_MINT, STAKE_PROGRAM, SYSTEM_PROGRAM,
    TOKEN_2022_PROGRAM, TOKEN_PROGRAM,
};
use custos_txdecode::{Assessment, Pubkey, Verdict};
use solana_message::{AccountMeta, Instruction};

fn system(tag: u32, rest: &[u8], accounts: Vec<AccountMeta>) -> Instruction {
    let mut data = tag.to_le_bytes().to_vec();
    data.extend_from_slice(rest);
    Instruction::new_with_bytes(SYSTEM_PROGRAM, &data, accounts)
}

fn stake(tag: u32, rest: &[u8], accounts: Vec<AccountMeta>) -> Instruction {
    let mut data = tag.to_le_bytes().to_vec();
    data.extend_from_slice(rest);
    Instruction::new_with_bytes(STAKE_PROGRAM, &data, accounts)
}

/// `lamports, space, owner` as the System program encodes them.
fn create_args(lamports: u64, space: u64, owner: &Pubkey) -> Vec<u8> {
    let mut rest = lamports.to_le_bytes().to_vec();
    rest.extend_from_slice(&space.to_le_bytes());
    rest.extend_from_slice(owner.as_ref());
    rest
}

/// System CreateAccount of `new`, funded by `payer`.
fn create_account(
    payer: &Pubkey,
    new: &Pubkey,
    lamports: u64,
    space: u64,
    owner: &Pubkey,
) -> Instruction {
    system(
        0,
        &create_args(lamports, space, owner),
        vec![signer(*payer), signer(*new)],
    )
}

/// Token InitializeAccount3 of `account` for `mint`, owned by `owner`.
fn initialize_account3(account: &Pubkey, mint: &Pubkey, owner: &Pubkey) -> Instruction {
    let mut data = vec![18];
    data.extend_from_slice(owner.as_ref());
    Instruction::new_with_bytes(TOKEN_PROGRAM, &data, vec![rw(*account), ro(*mint)])
}

/// Token SetAuthority of `account` (type `kind`) from `current` to `new`.
fn set_authority(account: &Pubkey, current: &Pubkey, kind: u8, new: &Pubkey) -> Instruction {
    let mut data = vec![6, kind, 1];
    data.extend_from_slice(new.as_ref());
    Instruction::new_with_bytes(
        TOKEN_PROGRAM,
        &data,
        vec![rw(*account), ro_signer(*current)],
    )
}

fn verdict(a: &Assessment) -> Verdict {
    a.verdict
}

fn stranger() -> Pubkey {
    key(0xEE)
}

fn attacker_mint() -> Pubkey {
    key(0xAA)
}

// ---------------------------------------------------------------------------------------
// Wallet bricking.

/// CreateAccountAllowPrefund (SIMD-0312) works on an account that already holds lamports:
/// that is its point. Aimed at the user's wallet (which signs anyway) with the System
/// program as owner, it gives the wallet data, and a System account with data can neither
/// pay fees nor send a System Transfer: every lamport in it is locked for good. The owner
/// stays the System program, so the "turns your wallet into an account of program ..."
/// rule did not fire.
#[test]
fn prefunded_create_account_with_data_on_the_wallet_is_refused() {
    let me = key(1);
    let ix = system(13, &create_args(0, 10, &SYSTEM_PROGRAM), vec![signer(me)]);
    let a = judge(&[ix], &me);
    assert_eq!(verdict(&a), Verdict::Reject, "{a:?}");
    // Funded by the wallet itself too.
    let ix = system(
        13,
        &create_args(1, 10, &SYSTEM_PROGRAM),
        vec![signer(me), signer(me)],
    );
    let a = judge(&[ix], &me);
    assert_eq!(verdict(&a), Verdict::Reject, "{a:?}");
}

/// The same against the user's other (empty) wallet with plain CreateAccount: the other
/// wallet becomes a System account with data, so whatever is sent to it later is stuck.
/// (The backend would need that wallet's signature too: a second sign request.)
#[test]
fn create_account_with_data_on_another_own_wallet_is_refused() {
    let (me, other) = (key(1), key(2));
    let ix = create_account(&me, &other, 1_000_000, 10, &SYSTEM_PROGRAM);
    let a = judge_own(&[ix], &me, &[other]);
    assert_eq!(verdict(&a), Verdict::Reject, "{a:?}");
}

/// Sound: a prefunded create of a fresh account (not a wallet) with no data is plain
/// bookkeeping, and funding the user's other wallet with no data is a transfer between
/// own wallets.
#[test]
fn create_account_without_data_for_an_own_wallet_is_auto() {
    let (me, other) = (key(1), key(2));
    let ix = create_account(&me, &other, 1_000_000, 0, &SYSTEM_PROGRAM);
    assert_eq!(judge_own(&[ix], &me, &[other]).verdict, Verdict::Auto);
}

// ---------------------------------------------------------------------------------------
// Authority handed to an address that is "the user's" but has no key.

/// An associated token account counts as the user's for receiving tokens, but nobody can
/// sign for it (the ATA program signs only inside RecoverNested, for nested ATAs). Making
/// it the owner of the user's token account locks the tokens for good.
#[test]
fn token_owner_handed_to_an_own_ata_is_refused() {
    let me = key(1);
    let usdc_ata = ata(&me, &USDC);
    let wsol_ata = ata(&me, &NATIVE_MINT);
    // AccountOwner (2) and CloseAccount (3) authorities.
    for kind in [2, 3] {
        let a = judge(&[set_authority(&usdc_ata, &me, kind, &wsol_ata)], &me);
        assert_eq!(verdict(&a), Verdict::Reject, "kind {kind}: {a:?}");
    }
    // Still fine to another wallet of the user's.
    let other = key(2);
    let a = judge_own(&[set_authority(&usdc_ata, &me, 2, &other)], &me, &[other]);
    assert_eq!(verdict(&a), Verdict::Auto, "{a:?}");
}

/// The withdraw authority of a stake account handed to the user's ATA: the stake can
/// never be withdrawn again.
#[test]
fn stake_authority_handed_to_an_own_ata_is_refused() {
    let me = key(1);
    let target = ata(&me, &USDC);
    for role in [0u32, 1] {
        let mut rest = target.to_bytes().to_vec();
        rest.extend_from_slice(&role.to_le_bytes());
        let ix = stake(1, &rest, vec![rw(key(40)), ro(key(80)), ro_signer(me)]);
        // Name USDC so the ATA is provably the user's.
        let a = judge(&[create_own_ata(&me, &USDC, &TOKEN_PROGRAM), ix], &me);
        assert_eq!(verdict(&a), Verdict::Reject, "role {role}: {a:?}");
    }
}

/// A delegate that cannot sign spends nothing, but an approval to anything but a wallet
/// is not what a trading bot does: refused like any other delegate.
#[test]
fn delegate_to_an_own_ata_is_not_auto() {
    let me = key(1);
    let mut data = vec![4];
    data.extend_from_slice(&5u64.to_le_bytes());
    let ix = Instruction::new_with_bytes(
        TOKEN_PROGRAM,
        &data,
        vec![
            rw(ata(&me, &USDC)),
            ro(ata(&me, &NATIVE_MINT)),
            ro_signer(me),
        ],
    );
    let a = judge(&[create_own_ata(&me, &USDC, &TOKEN_PROGRAM), ix], &me);
    assert_ne!(verdict(&a), Verdict::Auto, "{a:?}");
}

/// CreateLookupTable no longer needs the authority's signature. A table whose authority
/// is the user's ATA can never be extended, deactivated or closed: the rent the user pays
/// for it is gone.
#[test]
fn lookup_table_with_a_keyless_authority_is_not_auto() {
    let me = key(1);
    let mut rest = 123_456u64.to_le_bytes().to_vec();
    rest.push(254);
    let ix = Instruction::new_with_bytes(
        ADDRESS_LOOKUP_TABLE_PROGRAM,
        &{
            let mut d = 0u32.to_le_bytes().to_vec();
            d.extend_from_slice(&rest);
            d
        },
        vec![
            rw(key(50)),
            ro(ata(&me, &NATIVE_MINT)),
            signer(me),
            ro(SYSTEM_PROGRAM),
        ],
    );
    let a = judge(&[ix], &me);
    assert_ne!(verdict(&a), Verdict::Auto, "{a:?}");
}

// ---------------------------------------------------------------------------------------
// SOL sent into addresses that are "the user's" but not wallets.

/// The user's Token-2022 "associated token account" for USDC (an SPL Token mint) can
/// never be created: the ATA program refuses it. It still counts as the user's, so SOL
/// sent there looked like a transfer between own accounts, and is lost for good.
#[test]
fn sol_into_an_ata_that_can_never_exist_is_not_auto() {
    let me = key(1);
    let sink = ata_2022(&me, &USDC);
    let ixs = [
        create_own_ata(&me, &USDC, &TOKEN_PROGRAM),
        sol_transfer(&me, &sink, 5_000_000_000),
    ];
    let a = judge(&ixs, &me);
    assert_ne!(verdict(&a), Verdict::Auto, "{a:?}");
    // Closing the user's token account into it.
    let ixs = [
        create_own_ata(&me, &USDC, &TOKEN_PROGRAM),
        close_token_account(&ata(&me, &USDC), &sink, &me),
    ];
    let a = judge(&ixs, &me);
    assert_ne!(verdict(&a), Verdict::Auto, "{a:?}");
}

/// SOL into the user's token account of a mint the attacker controls: the attacker mints
/// one token into it and freezes it, and the account can no longer be emptied or closed,
/// so its lamports are held hostage.
#[test]
fn sol_into_an_own_token_account_of_a_foreign_mint_is_not_auto() {
    let me = key(1);
    let hostage = ata(&me, &attacker_mint());
    let ixs = [
        create_own_ata(&me, &attacker_mint(), &TOKEN_PROGRAM),
        sol_transfer(&me, &hostage, 5_000_000_000),
    ];
    let a = judge(&ixs, &me);
    assert_ne!(verdict(&a), Verdict::Auto, "{a:?}");
}

/// The same through CreateAccount: a token account initialised for the user but funded
/// with far more than its rent.
#[test]
fn overfunded_token_account_of_a_foreign_mint_is_not_auto() {
    let (me, x) = (key(1), key(60));
    let ixs = [
        create_account(&me, &x, 100_000_000_000, 165, &TOKEN_PROGRAM),
        initialize_account3(&x, &attacker_mint(), &me),
    ];
    let a = judge(&ixs, &me);
    assert_ne!(verdict(&a), Verdict::Auto, "{a:?}");
}

/// Sound: wrapping SOL into the user's wSOL ATA, or a temporary wSOL account the
/// transaction creates and initialises for the user (the usual swap set-up), keeps the
/// SOL with the user: the native mint has no freeze authority, and closing returns it.
/// A token account of another mint funded with its rent only is fine too.
#[test]
fn wrapping_sol_and_rent_funded_token_accounts_stay_auto() {
    let (me, x) = (key(1), key(60));
    let wsol = ata(&me, &NATIVE_MINT);
    let ixs = [
        create_own_ata(&me, &NATIVE_MINT, &TOKEN_PROGRAM),
        sol_transfer(&me, &wsol, 5_000_000_000),
        sync_native(&TOKEN_PROGRAM, &wsol),
    ];
    assert_eq!(judge(&ixs, &me).verdict, Verdict::Auto);
    let ixs = [
        create_account(&me, &x, 5_002_039_280, 165, &TOKEN_PROGRAM),
        initialize_account3(&x, &NATIVE_MINT, &me),
        close_token_account(&x, &me, &me),
    ];
    assert_eq!(judge(&ixs, &me).verdict, Verdict::Auto);
    let ixs = [
        create_account(&me, &x, 2_039_280, 165, &TOKEN_PROGRAM),
        initialize_account3(&x, &USDC, &me),
    ];
    assert_eq!(judge(&ixs, &me).verdict, Verdict::Auto);
}

// ---------------------------------------------------------------------------------------
// Ownership granted by account creation and initialisation.

/// An "associated token account" derived with a token program that is not one of the two
/// token programs. The ATA program itself refuses other token programs (its CPIs go
/// through spl-token-2022's instruction builders, which check the program id), but the
/// ownership proof must not rest on that: such an address is not the user's.
#[test]
fn ata_created_under_a_foreign_token_program_is_not_own() {
    let me = key(1);
    let evil = key(0x77);
    let (addr, _) = Pubkey::find_program_address(
        &[me.as_ref(), evil.as_ref(), attacker_mint().as_ref()],
        &ATA_PROGRAM,
    );
    let create = Instruction::new_with_bytes(
        ATA_PROGRAM,
        &[1],
        vec![
            signer(me),
            rw(addr),
            ro(me),
            ro(attacker_mint()),
            ro(SYSTEM_PROGRAM),
            ro(evil),
        ],
    );
    let a = judge(&[create, sol_transfer(&me, &addr, 1_000_000_000)], &me);
    assert_ne!(verdict(&a), Verdict::Auto, "{a:?}");
}

/// Sound: an account the transaction initialises for the user and then closes to a
/// stranger: the close is judged like any close of the user's account.
#[test]
fn initialise_then_close_to_a_stranger_confirms() {
    let (me, x) = (key(1), key(60));
    let ixs = [
        create_account(&me, &x, 2_039_280, 165, &TOKEN_PROGRAM),
        initialize_account3(&x, &NATIVE_MINT, &me),
        close_token_account(&x, &stranger(), &me),
    ];
    assert_eq!(judge(&ixs, &me).verdict, Verdict::Confirm);
}

/// Sound: initialised for the user, then its close authority handed to a stranger: a
/// hand-over of the user's account, refused.
#[test]
fn initialise_then_hand_close_authority_over_rejects() {
    let (me, x) = (key(1), key(60));
    let ixs = [
        create_account(&me, &x, 2_039_280, 165, &TOKEN_PROGRAM),
        initialize_account3(&x, &USDC, &me),
        set_authority(&x, &me, 3, &stranger()),
    ];
    assert_eq!(judge(&ixs, &me).verdict, Verdict::Reject);
}

/// Sound: a token account initialised for a stranger is the stranger's; funding it and
/// sending tokens into it both need the user.
#[test]
fn account_initialised_for_a_stranger_is_foreign() {
    let (me, x) = (key(1), key(60));
    let ixs = [
        create_account(&me, &x, 2_039_280, 165, &TOKEN_PROGRAM),
        initialize_account3(&x, &USDC, &stranger()),
    ];
    assert_eq!(judge(&ixs, &me).verdict, Verdict::Confirm);
    let ixs = [
        initialize_account3(&x, &USDC, &stranger()),
        transfer_checked(&TOKEN_PROGRAM, &ata(&me, &USDC), &USDC, &x, &me, 1, 6),
    ];
    assert_eq!(judge(&ixs, &me).verdict, Verdict::Confirm);
}

// ---------------------------------------------------------------------------------------
// System instructions with seeds.

/// Sound: a seed-derived account based on the user is not provably the user's; moving
/// SOL out of it to a stranger, or reassigning it, needs the user.
#[test]
fn seed_instructions_based_on_the_user_are_not_auto() {
    let me = key(1);
    let derived = key(61);
    let seed = |s: &str| {
        let mut v = (s.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v
    };
    // TransferWithSeed { lamports, from_seed, from_owner }: [from, base, to]
    let mut rest = 1_000_000u64.to_le_bytes().to_vec();
    rest.extend_from_slice(&seed("s"));
    rest.extend_from_slice(SYSTEM_PROGRAM.as_ref());
    let ix = system(11, &rest, vec![rw(derived), ro_signer(me), rw(stranger())]);
    assert_eq!(judge(&[ix], &me).verdict, Verdict::Confirm);
    // AssignWithSeed { base, seed, owner }: [account, base]
    let mut rest = me.to_bytes().to_vec();
    rest.extend_from_slice(&seed("s"));
    rest.extend_from_slice(key(0x77).as_ref());
    let ix = system(10, &rest, vec![rw(derived), ro_signer(me)]);
    assert_ne!(judge(&[ix], &me).verdict, Verdict::Auto);
    // AllocateWithSeed { base, seed, space, owner }: [account, base] (allocates and assigns)
    let mut rest = me.to_bytes().to_vec();
    rest.extend_from_slice(&seed("s"));
    rest.extend_from_slice(&10u64.to_le_bytes());
    rest.extend_from_slice(SYSTEM_PROGRAM.as_ref());
    let ix = system(9, &rest, vec![rw(derived), ro_signer(me)]);
    assert_ne!(judge(&[ix], &me).verdict, Verdict::Auto);
}

// ---------------------------------------------------------------------------------------
// Stake.

/// Sound: Split gives the new stake account the source's authorities and lockup (stake
/// program `split`: the destination must be Uninitialized and receives the source's
/// `Meta`), so the split lamports stay under the user's authorities whoever created the
/// destination.
#[test]
fn stake_split_into_a_stranger_created_account_stays_auto() {
    let me = key(1);
    let ix = stake(
        3,
        &1_000_000_000u64.to_le_bytes(),
        vec![rw(key(40)), rw(key(41)), ro_signer(me)],
    );
    assert_eq!(judge(&[ix], &me).verdict, Verdict::Auto);
}

/// Sound: a stake Withdraw to a stranger is a SOL transfer out.
#[test]
fn stake_withdraw_to_a_stranger_confirms() {
    let me = key(1);
    let ix = stake(
        4,
        &1_000_000_000u64.to_le_bytes(),
        vec![
            rw(key(40)),
            rw(stranger()),
            ro(key(80)),
            ro(key(81)),
            ro_signer(me),
        ],
    );
    assert_eq!(judge(&[ix], &me).verdict, Verdict::Confirm);
}

// ---------------------------------------------------------------------------------------
// Tips.

/// Sound: tips are added up over every instruction before the cap is applied.
#[test]
fn tips_split_over_instructions_are_summed() {
    let me = key(1);
    let tip = JITO_TIP_ACCOUNTS[0];
    let ixs: Vec<Instruction> = (0..3).map(|_| sol_transfer(&me, &tip, 4_000_000)).collect();
    let a = judge(&ixs, &me);
    assert_eq!(a.verdict, Verdict::Confirm, "{a:?}");
    assert_eq!(a.fee.tip_lamports, 12_000_000);
}

/// Sound: tokens sent to a tip account are not a tip, just a transfer to a stranger.
#[test]
fn tokens_to_a_tip_account_are_a_transfer() {
    let me = key(1);
    let tip = JITO_TIP_ACCOUNTS[0];
    let ix = transfer_checked(
        &TOKEN_PROGRAM,
        &ata(&me, &USDC),
        &USDC,
        &ata(&tip, &USDC),
        &me,
        1_000,
        6,
    );
    assert_eq!(judge(&[ix], &me).verdict, Verdict::Confirm);
}

/// Sound: a Token-2022 account of the user's is as much the user's as an SPL one, and a
/// Batch carrying a transfer to a stranger is judged entry by entry.
#[test]
fn batch_entry_to_a_stranger_confirms() {
    let me = key(1);
    let mut data = vec![255];
    let mut entry = vec![12];
    entry.extend_from_slice(&7u64.to_le_bytes());
    entry.push(6);
    data.push(4);
    data.push(entry.len() as u8);
    data.extend_from_slice(&entry);
    let ix = Instruction::new_with_bytes(
        TOKEN_2022_PROGRAM,
        &data,
        vec![
            rw(ata_2022(&me, &USDC)),
            ro(USDC),
            rw(ata_2022(&stranger(), &USDC)),
            ro_signer(me),
        ],
    );
    assert_eq!(judge(&[ix], &me).verdict, Verdict::Confirm);
}
