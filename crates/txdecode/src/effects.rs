//! What a transaction does, as a list of effects (value moved, accounts created or closed,
//! authorities changed, ...). Decoders produce effects; the policy judges them.

use crate::Pubkey;
use serde::{Serialize, Serializer};

/// An account address as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// A concrete address (static key, or resolved through a provided lookup table).
    Known(Pubkey),
    /// An account loaded from an address lookup table whose contents were not provided.
    Unresolved {
        /// The lookup table address.
        table: Pubkey,
        /// Index inside the table.
        index: u8,
    },
}

impl Addr {
    /// The address, if known.
    pub fn known(&self) -> Option<&Pubkey> {
        match self {
            Addr::Known(k) => Some(k),
            Addr::Unresolved { .. } => None,
        }
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Known(k) => write!(f, "{k}"),
            Addr::Unresolved { table, index } => write!(f, "lookup:{table}#{index}"),
        }
    }
}

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An account together with whether it is provably the user's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Party {
    /// The account.
    pub address: Addr,
    /// True when the address is the signer, one of the user's wallets, or an associated
    /// token account of one of them for a mint named in the transaction.
    pub own: bool,
}

impl Party {
    /// A party whose ownership has not been established yet (`own = false`).
    pub fn new(address: Addr) -> Self {
        Self {
            address,
            own: false,
        }
    }
}

/// Which token program an instruction targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenProgram {
    /// SPL Token (`Tokenkeg...`).
    Token,
    /// Token-2022 (`TokenzQd...`).
    Token2022,
}

/// Durable-nonce operations of the System program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NonceAction {
    /// AdvanceNonceAccount (tag 4).
    Advance,
    /// WithdrawNonceAccount (tag 5).
    Withdraw,
    /// InitializeNonceAccount (tag 6).
    Initialize,
    /// AuthorizeNonceAccount (tag 7).
    Authorize,
    /// UpgradeNonceAccount (tag 12).
    Upgrade,
}

/// Address Lookup Table program operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LookupTableAction {
    /// CreateLookupTable (tag 0): the payer funds the new table's rent.
    Create,
    /// FreezeLookupTable (tag 1): the table becomes immutable and can never be closed.
    Freeze,
    /// ExtendLookupTable (tag 2): addresses are appended; the payer tops up the rent.
    Extend,
    /// DeactivateLookupTable (tag 3): first step towards closing the table.
    Deactivate,
    /// CloseLookupTable (tag 4): the table's lamports go to the recipient.
    Close,
}

/// Which authority of a stake account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StakeRole {
    /// The stake authority (delegates, deactivates, splits, merges).
    Staker,
    /// The withdraw authority (withdraws the lamports, changes the lockup).
    Withdrawer,
}

/// Stake operations that keep the lamports under the same authorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StakeAction {
    /// Deactivate (tag 5).
    Deactivate,
    /// Split (tag 3): the new account gets the source's authorities and lockup.
    Split,
    /// Merge (tag 7): both accounts must have the same authorities and lockup.
    Merge,
    /// DeactivateDelinquent (tag 14).
    DeactivateDelinquent,
    /// MoveStake (tag 16): both accounts must have the same authorities and lockup.
    MoveStake,
    /// MoveLamports (tag 17): both accounts must have the same authorities and lockup.
    MoveLamports,
}

/// A ComputeBudget program setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "setting", content = "value")]
pub enum ComputeBudgetSetting {
    /// RequestHeapFrame (bytes).
    HeapFrame(u32),
    /// SetComputeUnitLimit (compute units).
    UnitLimit(u32),
    /// SetComputeUnitPrice (micro-lamports per compute unit).
    UnitPrice(u64),
    /// SetLoadedAccountsDataSizeLimit (bytes).
    LoadedAccountsDataSizeLimit(u32),
}

/// One side of a swap: how much leaves or arrives, as far as the instruction bounds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "bound", content = "amount")]
pub enum SwapAmount {
    /// Exactly this many base units.
    Exact(u64),
    /// At most this many base units (exact-out input bound).
    AtMost(u64),
    /// At least this many base units (minimum output after slippage).
    AtLeast(u64),
    /// Not stated in the instruction: Jupiter's token-ledger routes swap the balance
    /// change recorded earlier in a token ledger account.
    FromTokenLedger,
}

impl SwapAmount {
    /// The bound in base units, when the instruction states one.
    pub fn amount(&self) -> Option<u64> {
        match self {
            SwapAmount::Exact(a) | SwapAmount::AtMost(a) | SwapAmount::AtLeast(a) => Some(*a),
            SwapAmount::FromTokenLedger => None,
        }
    }
}

/// An aggregator's quote: what the route was built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SwapQuote {
    /// Quoted output for exact-in routes, quoted input for exact-out routes (base units).
    pub quoted_amount: u64,
    /// Slippage tolerance in basis points, applied to the quote.
    pub slippage_bps: u16,
}

/// How a token configuration instruction bears on the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenConfigKind {
    /// Sets up a new mint, token account or multisig before first use; needs no
    /// existing authority.
    Initialize,
    /// Changes an existing mint's or account's configuration with its authority.
    Update,
    /// Turns on a protection of a token account (required memos, CPI guard).
    EnableProtection,
    /// Turns off a protection of a token account.
    DisableProtection,
}

/// One effect of one instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// Lamports move from `from` to `to`; `authority` is who signs for the debit
    /// (System Transfer, TransferWithSeed, WithdrawNonceAccount).
    SolTransfer {
        /// Debited account.
        from: Party,
        /// Credited account.
        to: Party,
        /// Signer authorising the debit.
        authority: Party,
        /// Amount in lamports.
        lamports: u64,
    },
    /// A new account is created and funded (CreateAccount, CreateAccountWithSeed,
    /// CreateAccountAllowPrefund).
    CreateAccount {
        /// Who pays (absent for an unfunded CreateAccountAllowPrefund).
        payer: Option<Party>,
        /// The new account.
        account: Party,
        /// Lamports moved into it.
        lamports: u64,
        /// Bytes allocated.
        space: u64,
        /// Program that will own it.
        owner_program: Addr,
    },
    /// System Assign / AssignWithSeed: the account's owning program changes.
    Assign {
        /// The reassigned account.
        account: Party,
        /// The new owning program.
        owner_program: Addr,
    },
    /// System Allocate / AllocateWithSeed.
    Allocate {
        /// The account given data space.
        account: Party,
        /// Bytes allocated.
        space: u64,
    },
    /// A durable-nonce instruction.
    Nonce {
        /// Which nonce operation.
        action: NonceAction,
        /// The nonce account.
        nonce_account: Party,
    },
    /// Tokens move between token accounts (Transfer, TransferChecked, TransferCheckedWithFee).
    TokenTransfer {
        /// Token program.
        program: TokenProgram,
        /// Debited token account.
        source: Party,
        /// Credited token account.
        destination: Party,
        /// Owner or delegate signing for the source.
        authority: Party,
        /// Mint, when the instruction names it.
        mint: Option<Addr>,
        /// Amount in base units.
        amount: u64,
        /// Decimals, when the instruction states them.
        decimals: Option<u8>,
        /// Transfer fee (Token-2022 TransferCheckedWithFee), in base units.
        fee: Option<u64>,
        /// Accounts passed beyond the instruction's own: multisig signers, or (Token-2022)
        /// the accounts of the mint's transfer hook program, which the transfer invokes.
        extra_accounts: Vec<Addr>,
    },
    /// Approve / ApproveChecked: `delegate` may spend up to `amount` from `source`.
    TokenApprove {
        /// Token program.
        program: TokenProgram,
        /// The token account.
        source: Party,
        /// The new delegate.
        delegate: Party,
        /// The account owner signing.
        owner: Party,
        /// Mint, when named.
        mint: Option<Addr>,
        /// Allowance in base units.
        amount: u64,
        /// Decimals, when stated.
        decimals: Option<u8>,
    },
    /// Revoke: the delegate of `source` is removed.
    TokenRevoke {
        /// Token program.
        program: TokenProgram,
        /// The token account.
        source: Party,
        /// Its owner.
        owner: Party,
    },
    /// SetAuthority on a mint or token account.
    SetAuthority {
        /// Token program.
        program: TokenProgram,
        /// Mint or token account.
        account: Party,
        /// Current authority (signer).
        current_authority: Party,
        /// Authority type code (0 MintTokens, 1 FreezeAccount, 2 AccountOwner, 3 CloseAccount, ...).
        authority_type: u8,
        /// Name of the authority type.
        authority_name: &'static str,
        /// New authority, `None` to remove it.
        new_authority: Option<Party>,
    },
    /// MintTo / MintToChecked.
    TokenMint {
        /// Token program.
        program: TokenProgram,
        /// The mint.
        mint: Addr,
        /// Credited token account.
        destination: Party,
        /// Mint authority.
        authority: Party,
        /// Amount in base units.
        amount: u64,
        /// Decimals, when stated.
        decimals: Option<u8>,
    },
    /// Burn / BurnChecked.
    TokenBurn {
        /// Token program.
        program: TokenProgram,
        /// Debited token account.
        account: Party,
        /// The mint.
        mint: Addr,
        /// Owner or delegate.
        authority: Party,
        /// Amount in base units.
        amount: u64,
        /// Decimals, when stated.
        decimals: Option<u8>,
    },
    /// CloseAccount: the token account is closed, its lamports go to `destination`.
    CloseAccount {
        /// Token program.
        program: TokenProgram,
        /// Closed account.
        account: Party,
        /// Receives the lamports.
        destination: Party,
        /// Close authority.
        authority: Party,
    },
    /// FreezeAccount / ThawAccount.
    FreezeThaw {
        /// Token program.
        program: TokenProgram,
        /// The token account.
        account: Party,
        /// Its mint.
        mint: Addr,
        /// Freeze authority.
        authority: Party,
        /// True for freeze, false for thaw.
        freeze: bool,
    },
    /// InitializeAccount / 2 / 3.
    InitializeTokenAccount {
        /// Token program.
        program: TokenProgram,
        /// The token account.
        account: Party,
        /// Its mint.
        mint: Addr,
        /// Its owner.
        owner: Party,
    },
    /// InitializeImmutableOwner.
    InitializeImmutableOwner {
        /// Token program.
        program: TokenProgram,
        /// The token account.
        account: Party,
    },
    /// SyncNative (wrapped SOL balance update).
    SyncNative {
        /// Token program.
        program: TokenProgram,
        /// The wrapped-SOL account.
        account: Party,
    },
    /// UnwrapLamports: lamports leave a wrapped-SOL account to `destination` (a SOL
    /// movement: judged by whether `destination` is the user's).
    UnwrapLamports {
        /// Token program.
        program: TokenProgram,
        /// The wrapped-SOL account.
        source: Party,
        /// Receives the lamports.
        destination: Party,
        /// Owner or delegate.
        authority: Party,
        /// Lamports, `None` for the whole balance.
        lamports: Option<u64>,
    },
    /// WithdrawExcessLamports: lamports above rent exemption go to `destination` (a SOL
    /// movement: judged by whether `destination` is the user's).
    WithdrawExcessLamports {
        /// Token program.
        program: TokenProgram,
        /// The account.
        source: Party,
        /// Receives the lamports.
        destination: Party,
        /// Its authority.
        authority: Party,
    },
    /// Read-only token helpers (GetAccountDataSize, AmountToUiAmount, UiAmountToAmount).
    TokenQuery {
        /// Token program.
        program: TokenProgram,
        /// Instruction name.
        name: &'static str,
    },
    /// A token configuration instruction that moves no value: mint and multisig
    /// initialisation, Token-2022 extension set-up and updates, account protections.
    TokenConfigure {
        /// Token program.
        program: TokenProgram,
        /// Instruction name, e.g. `"TransferHook Update"`.
        name: &'static str,
        /// What it bears on.
        kind: TokenConfigKind,
        /// The mint or token account configured.
        account: Party,
        /// The authority signing for it (absent for initialisation).
        authority: Option<Party>,
    },
    /// Token-2022 WithdrawWithheldTokensFromMint / FromAccounts: transfer fees withheld
    /// in a mint or its accounts go to `destination`.
    WithdrawWithheld {
        /// The mint.
        mint: Addr,
        /// Receives the withheld tokens.
        destination: Party,
        /// The mint's withdraw-withheld authority (signer).
        authority: Party,
    },
    /// Associated Token Account Create / CreateIdempotent.
    CreateAssociatedTokenAccount {
        /// Pays the rent.
        payer: Party,
        /// The associated token account.
        account: Party,
        /// Its wallet (owner).
        wallet: Party,
        /// Its mint.
        mint: Addr,
        /// Token program named by the instruction.
        token_program: Addr,
        /// CreateIdempotent rather than Create.
        idempotent: bool,
    },
    /// Associated Token Account RecoverNested.
    RecoverNested {
        /// The nested account being emptied and closed.
        nested: Party,
        /// Receives the tokens.
        destination: Party,
        /// The wallet (signer) receiving the lamports.
        wallet: Party,
        /// Mint of the nested account.
        mint: Addr,
    },
    /// A swap: tokens leave `source` and the output arrives in `destination`. Produced by
    /// aggregator routes (Jupiter v6, whose route steps run other DEX programs by CPI and
    /// are not decoded: only the outer instruction's amounts and accounts are) and by the
    /// direct DEX decoders (Raydium, Pump.fun, PumpSwap, Orca, Meteora).
    Swap {
        /// Instruction name, e.g. `"jupiter route"` or `"raydium cpmm swap_base_input"`.
        instruction: &'static str,
        /// Signer authorising the debit of `source`.
        authority: Party,
        /// Debited account: a token account, or the wallet itself when the program takes
        /// native SOL (Pump.fun buy).
        source: Party,
        /// Token account (or wallet, for native SOL output) receiving the output.
        destination: Party,
        /// Input mint, when the instruction names it.
        source_mint: Option<Addr>,
        /// Output mint, when the instruction names it.
        destination_mint: Option<Addr>,
        /// Mints the instruction names without saying which side they are on (a pool's
        /// two mints). They count towards proving the user's associated token accounts.
        pool_mints: Vec<Addr>,
        /// What leaves `source`, in base units of the input mint.
        amount_in: SwapAmount,
        /// What arrives in `destination`, in base units of the output mint.
        amount_out: SwapAmount,
        /// The aggregator's quote, when the instruction carries one.
        quote: Option<SwapQuote>,
        /// Platform (integrator) fee in basis points (0 when the program has none).
        platform_fee_bps: u16,
        /// Account receiving the platform fee, when the instruction names one.
        platform_fee_account: Option<Party>,
    },
    /// An Address Lookup Table instruction. A table holds addresses, not value: its only
    /// asset is its rent deposit, which the table's authority can recover by closing it.
    LookupTable {
        /// Which operation.
        action: LookupTableAction,
        /// The lookup table account.
        table: Party,
        /// The table's authority (signer).
        authority: Party,
        /// Who pays rent (Create; Extend when a payer account is given).
        payer: Option<Party>,
        /// Who receives the table's lamports (Close).
        recipient: Option<Party>,
        /// Addresses appended (Extend; 0 otherwise).
        new_addresses: u64,
    },
    /// Stake Initialize / InitializeChecked: sets the authorities and lockup of a new stake
    /// account.
    StakeInitialize {
        /// The stake account.
        stake_account: Party,
        /// Its stake authority.
        staker: Party,
        /// Its withdraw authority.
        withdrawer: Party,
        /// Lockup end (Unix time, 0 for none).
        lockup_unix_timestamp: i64,
        /// Lockup end (epoch, 0 for none).
        lockup_epoch: u64,
        /// Lockup custodian (may lift the lockup).
        custodian: Party,
    },
    /// Stake Authorize / AuthorizeWithSeed / AuthorizeChecked / AuthorizeCheckedWithSeed.
    StakeAuthorize {
        /// The stake account.
        stake_account: Party,
        /// Which authority changes.
        role: StakeRole,
        /// Current authority signing (the base key for the `WithSeed` forms).
        authority: Party,
        /// The new authority.
        new_authority: Party,
    },
    /// Stake DelegateStake: the stake is delegated to a validator's vote account.
    StakeDelegate {
        /// The stake account.
        stake_account: Party,
        /// The validator vote account.
        vote_account: Addr,
        /// Stake authority.
        authority: Party,
    },
    /// Stake SetLockup / SetLockupChecked.
    StakeSetLockup {
        /// The stake account.
        stake_account: Party,
        /// Signing lockup custodian or withdraw authority.
        authority: Party,
        /// New lockup end (Unix time), if changed.
        unix_timestamp: Option<i64>,
        /// New lockup end (epoch), if changed.
        epoch: Option<u64>,
        /// New custodian, if changed.
        custodian: Option<Party>,
    },
    /// Other stake operations, which keep the lamports under the same authorities
    /// (Deactivate, Split, Merge, MoveStake, MoveLamports, ...). Stake Withdraw is a
    /// [`Effect::SolTransfer`].
    StakeOperation {
        /// Which operation.
        action: StakeAction,
        /// The (source) stake account.
        stake_account: Party,
        /// The destination stake account (Split, Merge source, MoveStake, MoveLamports).
        other_account: Option<Party>,
        /// Stake authority, when the operation names one.
        authority: Option<Party>,
        /// Lamports, when stated.
        lamports: Option<u64>,
    },
    /// A ComputeBudget setting.
    ComputeBudget {
        /// The setting.
        setting: ComputeBudgetSetting,
    },
    /// A memo.
    Memo {
        /// Memo text (valid UTF-8).
        text: String,
    },
    /// A signature-verification precompile (Ed25519, secp256k1, secp256r1): checks
    /// signatures inside the instruction data, moves nothing.
    SignatureCheck {
        /// Which precompile.
        precompile: &'static str,
        /// Signatures checked.
        signatures: u8,
    },
    /// An instruction of the BPF upgradeable loader (deploy, upgrade, set authority, close).
    ProgramUpgrade {
        /// Instruction index.
        instruction_index: usize,
    },
    /// An instruction of a program this crate does not decode.
    UnknownProgram {
        /// Instruction index.
        instruction_index: usize,
        /// The program.
        program: Addr,
    },
    /// An instruction of a known program whose data or accounts do not decode.
    Malformed {
        /// Instruction index.
        instruction_index: usize,
        /// The program.
        program: Addr,
        /// What is wrong.
        error: String,
        /// True when the data is well-formed as far as read but names an instruction this
        /// decoder does not support (unknown tag or discriminator): as opaque as an
        /// unknown program. False for data that is plainly broken.
        unsupported: bool,
    },
}

impl Effect {
    /// Every party of the effect, for ownership annotation.
    pub(crate) fn parties_mut(&mut self) -> Vec<&mut Party> {
        match self {
            Effect::SolTransfer {
                from,
                to,
                authority,
                ..
            } => vec![from, to, authority],
            Effect::CreateAccount { payer, account, .. } => {
                let mut v = vec![account];
                if let Some(p) = payer {
                    v.push(p);
                }
                v
            }
            Effect::Assign { account, .. }
            | Effect::Allocate { account, .. }
            | Effect::InitializeImmutableOwner { account, .. }
            | Effect::SyncNative { account, .. } => vec![account],
            Effect::Nonce { nonce_account, .. } => vec![nonce_account],
            Effect::TokenTransfer {
                source,
                destination,
                authority,
                ..
            }
            | Effect::UnwrapLamports {
                source,
                destination,
                authority,
                ..
            }
            | Effect::WithdrawExcessLamports {
                source,
                destination,
                authority,
                ..
            } => vec![source, destination, authority],
            Effect::TokenApprove {
                source,
                delegate,
                owner,
                ..
            } => vec![source, delegate, owner],
            Effect::TokenRevoke { source, owner, .. } => vec![source, owner],
            Effect::SetAuthority {
                account,
                current_authority,
                new_authority,
                ..
            } => {
                let mut v = vec![account, current_authority];
                if let Some(n) = new_authority {
                    v.push(n);
                }
                v
            }
            Effect::TokenMint {
                destination,
                authority,
                ..
            } => vec![destination, authority],
            Effect::TokenBurn {
                account, authority, ..
            }
            | Effect::FreezeThaw {
                account, authority, ..
            } => vec![account, authority],
            Effect::CloseAccount {
                account,
                destination,
                authority,
                ..
            } => vec![account, destination, authority],
            Effect::InitializeTokenAccount { account, owner, .. } => vec![account, owner],
            Effect::CreateAssociatedTokenAccount {
                payer,
                account,
                wallet,
                ..
            } => vec![payer, account, wallet],
            Effect::RecoverNested {
                nested,
                destination,
                wallet,
                ..
            } => vec![nested, destination, wallet],
            Effect::Swap {
                authority,
                source,
                destination,
                platform_fee_account,
                ..
            } => {
                let mut v = vec![authority, source, destination];
                if let Some(p) = platform_fee_account {
                    v.push(p);
                }
                v
            }
            Effect::LookupTable {
                table,
                authority,
                payer,
                recipient,
                ..
            } => {
                let mut v = vec![table, authority];
                v.extend(payer.as_mut());
                v.extend(recipient.as_mut());
                v
            }
            Effect::StakeInitialize {
                stake_account,
                staker,
                withdrawer,
                custodian,
                ..
            } => vec![stake_account, staker, withdrawer, custodian],
            Effect::StakeAuthorize {
                stake_account,
                authority,
                new_authority,
                ..
            } => vec![stake_account, authority, new_authority],
            Effect::StakeDelegate {
                stake_account,
                authority,
                ..
            } => vec![stake_account, authority],
            Effect::StakeSetLockup {
                stake_account,
                authority,
                custodian,
                ..
            } => {
                let mut v = vec![stake_account, authority];
                v.extend(custodian.as_mut());
                v
            }
            Effect::StakeOperation {
                stake_account,
                other_account,
                authority,
                ..
            } => {
                let mut v = vec![stake_account];
                v.extend(other_account.as_mut());
                v.extend(authority.as_mut());
                v
            }
            Effect::TokenConfigure {
                account, authority, ..
            } => {
                let mut v = vec![account];
                v.extend(authority.as_mut());
                v
            }
            Effect::WithdrawWithheld {
                destination,
                authority,
                ..
            } => vec![destination, authority],
            Effect::TokenQuery { .. }
            | Effect::SignatureCheck { .. }
            | Effect::ComputeBudget { .. }
            | Effect::Memo { .. }
            | Effect::ProgramUpgrade { .. }
            | Effect::UnknownProgram { .. }
            | Effect::Malformed { .. } => Vec::new(),
        }
    }

    /// Mints the effect names (used to derive the user's associated token accounts).
    pub(crate) fn mints(&self) -> Vec<&Pubkey> {
        let addrs: Vec<&Addr> = match self {
            Effect::TokenTransfer { mint, .. } | Effect::TokenApprove { mint, .. } => {
                mint.iter().collect()
            }
            Effect::TokenMint { mint, .. }
            | Effect::TokenBurn { mint, .. }
            | Effect::FreezeThaw { mint, .. }
            | Effect::InitializeTokenAccount { mint, .. }
            | Effect::CreateAssociatedTokenAccount { mint, .. }
            | Effect::RecoverNested { mint, .. }
            | Effect::WithdrawWithheld { mint, .. } => vec![mint],
            Effect::Swap {
                source_mint,
                destination_mint,
                pool_mints,
                ..
            } => source_mint
                .iter()
                .chain(destination_mint.iter())
                .chain(pool_mints.iter())
                .collect(),
            _ => Vec::new(),
        };
        addrs.into_iter().filter_map(Addr::known).collect()
    }
}
