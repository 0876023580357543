//! Which addresses provably belong to the user: the signer, the user's other wallets, and
//! the associated token accounts of those wallets (either token program) for mints named in
//! the transaction (plus the wrapped-SOL mint).

use crate::effects::Addr;
use crate::programs::{ATA_PROGRAM, NATIVE_MINT, TOKEN_2022_PROGRAM, TOKEN_PROGRAM};
use crate::Pubkey;
use std::cell::OnceCell;
use std::collections::BTreeSet;

/// Upper bound on ATA derivations per assessment (each is a few SHA-256 and a curve check).
/// Beyond it, further token accounts stay unproven (treated as foreign).
pub const MAX_ATA_DERIVATIONS: usize = 4096;

/// The associated token address of `wallet` for `mint` under `token_program`.
pub fn associated_token_address(
    wallet: &Pubkey,
    mint: &Pubkey,
    token_program: &Pubkey,
) -> Option<Pubkey> {
    Pubkey::try_find_program_address(
        &[wallet.as_ref(), token_program.as_ref(), mint.as_ref()],
        &ATA_PROGRAM,
    )
    .map(|(a, _)| a)
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
    atas: OnceCell<BTreeSet<Pubkey>>,
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
            atas: OnceCell::new(),
        }
    }

    fn atas(&self) -> &BTreeSet<Pubkey> {
        self.atas.get_or_init(|| {
            let mut atas = BTreeSet::new();
            let mut budget = MAX_ATA_DERIVATIONS;
            'outer: for mint in &self.mints {
                for wallet in &self.wallets {
                    for program in [&TOKEN_PROGRAM, &TOKEN_2022_PROGRAM] {
                        if budget == 0 {
                            break 'outer;
                        }
                        budget -= 1;
                        if let Some(ata) = associated_token_address(wallet, mint, program) {
                            atas.insert(ata);
                        }
                    }
                }
            }
            atas
        })
    }

    /// True when `addr` is known and provably the user's.
    pub(crate) fn is_own(&self, addr: &Addr) -> bool {
        addr.known()
            .is_some_and(|k| self.wallets.contains(k) || self.atas().contains(k))
    }
}
