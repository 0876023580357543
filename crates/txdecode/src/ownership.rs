//! Which addresses provably belong to the user: the signer, the user's other wallets, and
//! the associated token accounts of those wallets (either token program) for mints named in
//! the transaction (plus the wrapped-SOL mint).

use crate::effects::Addr;
use crate::programs::{ATA_PROGRAM, NATIVE_MINT, TOKEN_2022_PROGRAM, TOKEN_PROGRAM};
use crate::Pubkey;
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

/// Upper bound on ATA derivations per assessment (each is a few SHA-256 and a curve check).
/// Beyond it, further token accounts stay unproven (treated as foreign).
pub const MAX_ATA_DERIVATIONS: usize = 4096;

/// Most derivations remembered by [`associated_token_address`]; the memo is
/// emptied when full (about 15 MiB at most).
pub const ATA_MEMO_CAPACITY: usize = 65_536;

/// (wallet, token program, mint) -> its associated token address.
type AtaMemo = HashMap<[Pubkey; 3], Option<Pubkey>>;

static ATA_MEMO: Mutex<Option<AtaMemo>> = Mutex::new(None);

/// The associated token address of `wallet` for `mint` under `token_program`.
///
/// A derivation costs several SHA-256 rounds and curve checks (about 9 µs), and
/// a trading user names the same few mints again and again, so results are
/// memoised process-wide. The function is pure: the memo changes only speed.
pub fn associated_token_address(
    wallet: &Pubkey,
    mint: &Pubkey,
    token_program: &Pubkey,
) -> Option<Pubkey> {
    let key = [*wallet, *token_program, *mint];
    if let Some(hit) = ATA_MEMO
        .lock()
        .ok()
        .and_then(|m| m.as_ref().and_then(|m| m.get(&key).copied()))
    {
        return hit;
    }
    let derived = Pubkey::try_find_program_address(
        &[wallet.as_ref(), token_program.as_ref(), mint.as_ref()],
        &ATA_PROGRAM,
    )
    .map(|(a, _)| a);
    if let Ok(mut memo) = ATA_MEMO.lock() {
        let memo = memo.get_or_insert_with(HashMap::new);
        if memo.len() >= ATA_MEMO_CAPACITY {
            memo.clear();
        }
        memo.insert(key, derived);
    }
    derived
}

/// The set of addresses known to be the user's.
///
/// Associated token addresses are derived lazily, on the first question about
/// an address that is not one of the wallets themselves: each derivation
/// costs several SHA-256 rounds and curve checks, and the hot path (a
/// transfer between the user's own wallets) never needs them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ownership {
    wallets: BTreeSet<Pubkey>,
    mints: BTreeSet<Pubkey>,
    /// Token accounts this transaction itself initialises with one of the wallets as
    /// owner, or creates as one of the wallets' associated token accounts, with their
    /// mint when known. Initialisation fails on an account that is already a token
    /// account, and the associated token program checks the address derivation, so if
    /// the transaction lands, these are the user's.
    initialised: BTreeMap<Pubkey, Option<Pubkey>>,
    /// Associated token address -> its mint.
    atas: OnceCell<BTreeMap<Pubkey, Pubkey>>,
}

impl Ownership {
    /// Builds the set from the wallets and the mints the transaction names.
    pub(crate) fn new<'a>(
        signer: &Pubkey,
        own_wallets: &[Pubkey],
        mints: impl IntoIterator<Item = &'a Pubkey>,
    ) -> Self {
        let mut wallets: BTreeSet<Pubkey> = own_wallets.iter().cloned().collect();
        wallets.insert(*signer);
        let mut mints: BTreeSet<Pubkey> = mints.into_iter().cloned().collect();
        mints.insert(NATIVE_MINT);
        Self {
            wallets,
            mints,
            initialised: BTreeMap::new(),
            atas: OnceCell::new(),
        }
    }

    /// Records a token account the transaction initialises for `owner`; it counts as the
    /// user's when `owner` is one of the wallets.
    pub(crate) fn add_initialised(&mut self, account: &Addr, owner: &Addr, mint: &Addr) {
        if let (Some(account), Some(owner)) = (account.known(), owner.known()) {
            if self.wallets.contains(owner) {
                self.initialised.insert(*account, mint.known().copied());
            }
        }
    }

    fn atas(&self) -> &BTreeMap<Pubkey, Pubkey> {
        self.atas.get_or_init(|| {
            let mut atas = BTreeMap::new();
            let mut budget = MAX_ATA_DERIVATIONS;
            'outer: for mint in &self.mints {
                for wallet in &self.wallets {
                    for program in [&TOKEN_PROGRAM, &TOKEN_2022_PROGRAM] {
                        if budget == 0 {
                            break 'outer;
                        }
                        budget -= 1;
                        if let Some(ata) = associated_token_address(wallet, mint, program) {
                            atas.insert(ata, *mint);
                        }
                    }
                }
            }
            atas
        })
    }

    /// True when `addr` is known and provably the user's.
    pub(crate) fn is_own(&self, addr: &Addr) -> bool {
        addr.known().is_some_and(|k| {
            self.wallets.contains(k)
                || self.initialised.contains_key(k)
                || self.atas().contains_key(k)
        })
    }

    /// True when SOL credited to `addr` stays spendable by the user: `addr` is one of the
    /// wallets, or one of their wrapped-SOL token accounts (the Token program's associated
    /// account for the native mint, or one this transaction initialises with it). Any
    /// other token account of the user's can be frozen by its mint's freeze authority with
    /// a balance in it (so it can no longer be closed), and an associated address that can
    /// never be created (Token-2022 for an SPL Token mint, a mint that does not exist)
    /// keeps whatever is sent to it for good. The native mint has no freeze authority.
    pub(crate) fn holds_sol(&self, addr: &Addr) -> bool {
        addr.known().is_some_and(|k| {
            self.wallets.contains(k)
                || self.initialised.get(k) == Some(&Some(NATIVE_MINT))
                || self.wallets.iter().any(|w| {
                    associated_token_address(w, &NATIVE_MINT, &TOKEN_PROGRAM).as_ref() == Some(k)
                })
        })
    }

    /// The mint of a token account proven to be the user's (an associated token account
    /// or one initialised by this transaction).
    pub(crate) fn token_account_mint(&self, addr: &Addr) -> Option<Pubkey> {
        let k = addr.known()?;
        match self.initialised.get(k) {
            Some(Some(mint)) => Some(*mint),
            _ => self.atas().get(k).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memoised_derivation_equals_a_fresh_one() {
        let wallet = Pubkey::new_from_array([9; 32]);
        for program in [&TOKEN_PROGRAM, &TOKEN_2022_PROGRAM] {
            let fresh = Pubkey::try_find_program_address(
                &[wallet.as_ref(), program.as_ref(), NATIVE_MINT.as_ref()],
                &ATA_PROGRAM,
            )
            .map(|(a, _)| a);
            assert_eq!(
                associated_token_address(&wallet, &NATIVE_MINT, program),
                fresh
            );
            assert_eq!(
                associated_token_address(&wallet, &NATIVE_MINT, program),
                fresh
            );
        }
        assert_ne!(
            associated_token_address(&wallet, &NATIVE_MINT, &TOKEN_PROGRAM),
            associated_token_address(&wallet, &NATIVE_MINT, &TOKEN_2022_PROGRAM)
        );
    }
}
