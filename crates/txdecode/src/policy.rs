//! Policy: judges the effects of a transaction against the user's wallets and the policy
//! configuration, and produces an [`Assessment`]. Reject beats confirm beats auto.

use crate::describe::{
    bps, describe_effect, party, program_label, short_pubkey, sol, token_amount,
};
use crate::effects::{
    Addr, ComputeBudgetSetting, Effect, LookupTableAction, NonceAction, Party, StakeRole,
    SwapAmount, TokenConfigKind, TokenProgram,
};
use crate::intent::Intent;
use crate::lookup::{resolve_accounts, LookupTables};
use crate::ownership::associated_token_address;
use crate::ownership::Ownership;
use crate::programs::{decode_instruction, COMPUTE_BUDGET_PROGRAM, SYSTEM_PROGRAM};
use crate::programs::{NATIVE_MINT, TOKEN_2022_PROGRAM, TOKEN_PROGRAM};
use crate::tokens::{Base58Address, TokenEntry, Tokens};
use crate::wire::{ParsedTransaction, TxVersion};
use crate::Pubkey;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Base fee per signature, in lamports.
pub const LAMPORTS_PER_SIGNATURE: u64 = 5_000;
/// Compute units assumed per non-ComputeBudget instruction without SetComputeUnitLimit.
pub const DEFAULT_INSTRUCTION_COMPUTE_UNITS: u64 = 200_000;
/// Largest compute unit limit of a transaction.
pub const MAX_COMPUTE_UNIT_LIMIT: u64 = 1_400_000;

/// What to do with a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Sign without asking: every effect keeps value with the user.
    Auto,
    /// Ask the user first: value leaves the user.
    Confirm,
    /// Refuse to sign.
    Reject,
}

/// What to do with an instruction Custos cannot decode (an unknown program, or an
/// instruction of a known program that no decoder supports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownPrograms {
    /// Refuse to sign (default).
    #[default]
    Reject,
    /// Ask the user, with a blind-signing warning first in the message.
    Confirm,
}

/// Policy knobs, serde (TOML-friendly) with documented defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Largest priority fee (lamports) signed at all; above it the transaction is rejected.
    /// Default 10_000_000 (0.01 SOL).
    pub max_priority_fee_lamports: u64,
    /// When true (default), a fee payer that is not the user's is only a confirm; when
    /// false it is rejected.
    pub allow_foreign_fee_payer: bool,
    /// Largest swap platform (integrator) fee, in basis points, accepted without asking
    /// when the fee account is not provably the user's. Default 100 (1 %).
    pub max_platform_fee_bps: u16,
    /// Largest swap slippage tolerance, in basis points, signed without asking. A route's
    /// minimum output is what protects the user, and the route steps are not decoded.
    /// Default 300 (3 %).
    pub max_slippage_bps: u16,
    /// Instructions Custos cannot decode: `"reject"` (default) or `"confirm"` (blind
    /// signing with a warning).
    pub unknown_programs: UnknownPrograms,
    /// Extra token names and decimals for descriptions (`[[tokens]]` with `mint`,
    /// `symbol`, `decimals`); they override the built-in list (SOL, USDC, USDT, JUP,
    /// BONK, JitoSOL, mSOL).
    pub tokens: Vec<TokenEntry>,
    /// Accounts that receive tips for block inclusion (default: Jito's eight tip
    /// accounts and Nozomi's seventeen). SOL sent to them counts against `max_tip_lamports` instead of being a
    /// withdrawal.
    pub tip_accounts: Vec<Base58Address>,
    /// Largest total tip (lamports) signed without asking. Default 10_000_000 (0.01 SOL);
    /// above it the user is asked.
    pub max_tip_lamports: u64,
    /// The operator's fee accounts: wallets (SOL fees, and token fees to their
    /// associated token accounts) or token accounts. Empty by default.
    pub operator_fee_accounts: Vec<Base58Address>,
    /// Largest operator fee, per mint, as a share of what the same transaction swaps in
    /// that mint, in basis points. Default 100 (1 %). A fee with no swap to measure it
    /// against is put to the user.
    pub max_operator_fee_bps: u16,
}

/// Jito's tip accounts: the eight `TIP_ACCOUNT_<n>` PDAs of the tip payment program
/// `T1pyyaTNZsKv2WcRAB8oVnk93mLJw2XzjtVYqCsaHqt` (checked by a test).
pub const JITO_TIP_ACCOUNTS: [Pubkey; 8] = [
    Pubkey::from_str_const("96gYZGLnJYVFmbjzopPSU6QiEV5fGqZNyN9nmNhvrZU5"),
    Pubkey::from_str_const("HFqU5x63VTqvQss8hp11i4wVV8bD44PvwucfZ2bU7gRe"),
    Pubkey::from_str_const("Cw8CFyM9FkoMi7K7Crf6HNQqf4uEMzpKw6QNghXLvLkY"),
    Pubkey::from_str_const("ADaUMid9yfUytqMBgopwjb2DTLSokTSzL1zt6iGPaS49"),
    Pubkey::from_str_const("DfXygSm4jCyNCybVYYK6DwvWqjKee8pbDmJGcLWNDXjh"),
    Pubkey::from_str_const("ADuUkR4vqLUMWXxW9gh6D6L8pMSawimctcNZ5pGwDcEt"),
    Pubkey::from_str_const("DttWaMuVvTiduZRnguLF7jNxTgiMBZ1hyAumKUiL2KRL"),
    Pubkey::from_str_const("3AVi9Tg9Uo68tJfuvoKvqKNWKkC5wPdSSdeBnizKZ6jT"),
];

/// Nozomi's (Temporal's) tip accounts, as listed in its documentation
/// (<https://use.temporal.xyz/nozomi/tipping-and-faq>, read 2026-11-24).
pub const NOZOMI_TIP_ACCOUNTS: [Pubkey; 17] = [
    Pubkey::from_str_const("TEMPaMeCRFAS9EKF53Jd6KpHxgL47uWLcpFArU1Fanq"),
    Pubkey::from_str_const("noz3jAjPiHuBPqiSPkkugaJDkJscPuRhYnSpbi8UvC4"),
    Pubkey::from_str_const("noz3str9KXfpKknefHji8L1mPgimezaiUyCHYMDv1GE"),
    Pubkey::from_str_const("noz6uoYCDijhu1V7cutCpwxNiSovEwLdRHPwmgCGDNo"),
    Pubkey::from_str_const("noz9EPNcT7WH6Sou3sr3GGjHQYVkN3DNirpbvDkv9YJ"),
    Pubkey::from_str_const("nozc5yT15LazbLTFVZzoNZCwjh3yUtW86LoUyqsBu4L"),
    Pubkey::from_str_const("nozFrhfnNGoyqwVuwPAW4aaGqempx4PU6g6D9CJMv7Z"),
    Pubkey::from_str_const("nozievPk7HyK1Rqy1MPJwVQ7qQg2QoJGyP71oeDwbsu"),
    Pubkey::from_str_const("noznbgwYnBLDHu8wcQVCEw6kDrXkPdKkydGJGNXGvL7"),
    Pubkey::from_str_const("nozNVWs5N8mgzuD3qigrCG2UoKxZttxzZ85pvAQVrbP"),
    Pubkey::from_str_const("nozpEGbwx4BcGp6pvEdAh1JoC2CQGZdU6HbNP1v2p6P"),
    Pubkey::from_str_const("nozrhjhkCr3zXT3BiT4WCodYCUFeQvcdUkM7MqhKqge"),
    Pubkey::from_str_const("nozrwQtWhEdrA6W8dkbt9gnUaMs52PdAv5byipnadq3"),
    Pubkey::from_str_const("nozUacTVWub3cL4mJmGCYjKZTnE9RbdY5AP46iQgbPJ"),
    Pubkey::from_str_const("nozWCyTPppJjRuw2fpzDhhWbW355fzosWSzrrMYB1Qk"),
    Pubkey::from_str_const("nozWNju6dY353eMkMqURqwQEoM3SFgEKC6psLCSfUne"),
    Pubkey::from_str_const("nozxNBgWohjR75vdspfxR5H9ceC7XXH99xpxhVGt3Bb"),
];

impl PolicyConfig {
    /// True when `account` is one of the operator's fee accounts, or (for a token
    /// transfer of `mint`) an associated token account of one of them.
    fn is_operator_account(&self, account: &Pubkey, mint: Option<&Pubkey>) -> bool {
        self.operator_fee_accounts.iter().any(|o| {
            o.0 == *account
                || mint.is_some_and(|m| {
                    [TOKEN_PROGRAM, TOKEN_2022_PROGRAM]
                        .iter()
                        .any(|p| associated_token_address(&o.0, m, p).as_ref() == Some(account))
                })
        })
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            max_priority_fee_lamports: 10_000_000,
            allow_foreign_fee_payer: true,
            max_platform_fee_bps: 100,
            max_slippage_bps: 300,
            unknown_programs: UnknownPrograms::Reject,
            tokens: Vec::new(),
            tip_accounts: JITO_TIP_ACCOUNTS
                .iter()
                .chain(NOZOMI_TIP_ACCOUNTS.iter())
                .copied()
                .map(Base58Address)
                .collect(),
            max_tip_lamports: 10_000_000,
            operator_fee_accounts: Vec::new(),
            max_operator_fee_bps: 100,
        }
    }
}

/// Who is asking, and what they own.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The wallet asked to sign.
    pub signer: Pubkey,
    /// The same user's other wallets (already authenticated by the caller).
    pub own_wallets: &'a [Pubkey],
    /// Lookup table contents known to the caller.
    pub lookup_tables: &'a LookupTables,
    /// Policy knobs.
    pub config: &'a PolicyConfig,
}

/// Transaction fee breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeeSummary {
    /// Who pays (first account key).
    pub fee_payer: Party,
    /// Required signatures.
    pub signatures: u64,
    /// 5000 lamports per signature.
    pub base_fee_lamports: u64,
    /// Priority fee in lamports (ceil(price x limit / 1e6), or the V1 header value).
    pub priority_fee_lamports: u64,
    /// Compute unit limit used for the priority fee.
    pub compute_unit_limit: u64,
    /// SetComputeUnitPrice value, if any (micro-lamports per compute unit).
    pub compute_unit_price_micro_lamports: Option<u64>,
    /// Base plus priority fee.
    pub total_lamports: u64,
    /// Tips to known tip accounts (paid by transfer, on top of the fee).
    pub tip_lamports: u64,
}

/// The result of judging a transaction. Its JSON form adds `descriptions` (one line
/// per effect, see [`Assessment::descriptions`]), rendered when serialised: the
/// signer's hot path never pays for text it does not show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// What to do.
    pub verdict: Verdict,
    /// One line, e.g. "Transfer 0.5 SOL to 7xKX…gAsU (not yours)".
    pub summary: String,
    /// Why this verdict (for reject/confirm: what needs the user, or what is refused).
    pub reasons: Vec<String>,
    /// Things worth knowing that do not change the verdict.
    pub warnings: Vec<String>,
    /// Everything the transaction does, in instruction order.
    pub effects: Vec<Effect>,
    /// Fees and who pays them.
    pub fee: FeeSummary,
    /// The token names the policy configured, for rendering descriptions.
    pub tokens: Vec<TokenEntry>,
}

impl Assessment {
    /// One line per effect, same order, as shown to the user.
    pub fn descriptions(&self) -> Vec<String> {
        let tokens = Tokens::new(&self.tokens);
        self.effects
            .iter()
            .map(|e| describe_effect(e, &tokens))
            .collect()
    }
}

impl Serialize for Assessment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            verdict: Verdict,
            summary: &'a str,
            reasons: &'a [String],
            warnings: &'a [String],
            effects: &'a [Effect],
            descriptions: Vec<String>,
            fee: &'a FeeSummary,
        }
        View {
            verdict: self.verdict,
            summary: &self.summary,
            reasons: &self.reasons,
            warnings: &self.warnings,
            effects: &self.effects,
            descriptions: self.descriptions(),
            fee: &self.fee,
        }
        .serialize(s)
    }
}

struct Findings {
    items: Vec<(Verdict, String)>,
    /// Notes that do not change the verdict.
    warnings: Vec<String>,
    /// Index of the effect being judged, and the most severe effect finding so far.
    current: Option<usize>,
    worst_effect: Option<(Verdict, usize)>,
    /// Most severe finding per effect index (for matching an intent).
    by_effect: BTreeMap<usize, Verdict>,
    /// Most severe finding not tied to one effect (fees, payouts, signer).
    other: Verdict,
    /// Tips and operator fees seen so far, judged together at the end.
    payouts: Payouts,
}

/// SOL tips to known tip accounts and fees to the operator's accounts.
#[derive(Default)]
struct Payouts {
    /// Lamports tipped, and to which accounts.
    tips: u64,
    tip_accounts: BTreeSet<Pubkey>,
    /// Operator fees by mint (native SOL as the wrapped-SOL mint), with their accounts.
    fees: BTreeMap<Pubkey, u64>,
    fee_accounts: BTreeSet<Pubkey>,
}

impl Findings {
    fn add(&mut self, v: Verdict, reason: String) {
        if let Some(i) = self.current {
            if self.worst_effect.is_none_or(|(w, _)| v > w) {
                self.worst_effect = Some((v, i));
            }
            let slot = self.by_effect.entry(i).or_insert(Verdict::Auto);
            *slot = (*slot).max(v);
        } else {
            self.other = self.other.max(v);
        }
        self.items.push((v, reason));
    }
    fn confirm(&mut self, reason: String) {
        self.add(Verdict::Confirm, reason);
    }
    fn reject(&mut self, reason: String) {
        self.add(Verdict::Reject, reason);
    }
    fn warn(&mut self, warning: String) {
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }
}

/// Judges a swap. Someone else's swap (neither authority nor source is the user's) moves
/// none of the user's value and is neutral. The user's own swap keeps value with the user
/// only when the output lands in the user's account, with bounded slippage and fee.
fn judge_swap(e: &Effect, config: &PolicyConfig, f: &mut Findings) {
    let Effect::Swap {
        authority,
        source,
        destination,
        destination_mint,
        amount_out,
        quote,
        platform_fee_bps,
        platform_fee_account,
        ..
    } = e
    else {
        return;
    };
    if !(authority.own || source.own) {
        return;
    }
    if !destination.own {
        let unproven = if matches!(destination.address, Addr::Unresolved { .. }) {
            " (cannot be proven yours: it is in a lookup table whose contents are not known)"
        } else {
            ""
        };
        f.confirm(format!(
            "Swap output goes to {}{unproven}",
            party(destination)
        ));
    }
    if let Some(q) = quote {
        if q.slippage_bps > config.max_slippage_bps {
            f.confirm(format!(
                "Swap accepts {} slippage (minimum output {}), above the {} limit",
                bps(q.slippage_bps),
                amount_out
                    .amount()
                    .map(|a| format!("{a} base units"))
                    .unwrap_or_else(|| "unknown".to_owned()),
                bps(config.max_slippage_bps)
            ));
        }
    } else if matches!(amount_out, SwapAmount::AtLeast(0)) {
        f.warn("Swap sets no minimum output amount: only a price limit, if any, bounds what you receive".to_owned());
    }
    let fee_is_own = platform_fee_account.as_ref().is_some_and(|p| p.own);
    let operator_fee_ok = *platform_fee_bps <= config.max_operator_fee_bps
        && platform_fee_account
            .as_ref()
            .and_then(|p| p.address.known())
            .is_some_and(|k| {
                config.is_operator_account(k, None)
                    || destination_mint
                        .as_ref()
                        .and_then(Addr::known)
                        .is_some_and(|m| config.is_operator_account(k, Some(m)))
            });
    if *platform_fee_bps > config.max_platform_fee_bps && !fee_is_own && !operator_fee_ok {
        let to = platform_fee_account
            .as_ref()
            .map(|p| format!(" to {}", party(p)))
            .unwrap_or_default();
        f.confirm(format!(
            "Swap pays a {} platform fee{to}, above the {} limit",
            bps(*platform_fee_bps),
            bps(config.max_platform_fee_bps)
        ));
    }
}

/// Judges an Address Lookup Table instruction.
///
/// A lookup table holds addresses, never tokens or spendable SOL: its only value is its
/// rent deposit, which whoever is the table's authority can recover by deactivating and
/// closing it. The program has no instruction that hands the authority to someone else;
/// freezing removes it for good. So:
/// - Create / Extend paid by the user for a table whose authority is one of the user's
///   wallets keeps the deposit with the user (auto); for someone else's table the user
///   funds a deposit that someone else can recover, and for a table whose authority is an
///   address of the user's without a key (a token account) a deposit nobody can recover
///   (confirm).
/// - Close sends the deposit to `recipient`: the user's (auto) or not (confirm, when the
///   table is the user's).
/// - Freeze of the user's table locks its deposit forever (confirm).
/// - Deactivate only makes the table unusable before closing (auto).
///
/// Writing addresses into a table cannot move value: the signer is shown resolved
/// addresses from caller-supplied table contents, not from what a table will hold later.
fn judge_lookup_table(
    e: &Effect,
    is_wallet: &dyn Fn(&Addr) -> bool,
    holds_sol: &dyn Fn(&Addr) -> bool,
    f: &mut Findings,
) {
    let Effect::LookupTable {
        action,
        table,
        authority,
        payer,
        recipient,
        ..
    } = e
    else {
        return;
    };
    match action {
        LookupTableAction::Create | LookupTableAction::Extend => {
            if payer.as_ref().is_some_and(|p| p.own) && !is_wallet(&authority.address) {
                f.confirm(format!(
                    "Pays the rent of lookup table {}, controlled by {}",
                    party(table),
                    holder(authority, is_wallet)
                ));
            }
        }
        LookupTableAction::Close => {
            if let Some(r) = recipient {
                if (!r.own || keyless_sink(r, holds_sol)) && (authority.own || table.own) {
                    f.confirm(format!(
                        "Closes lookup table {} and sends its SOL to {}",
                        party(table),
                        sol_destination(r, holds_sol)
                    ));
                }
            }
        }
        LookupTableAction::Freeze => {
            if authority.own {
                f.confirm(format!(
                    "Freezes lookup table {} for good: its rent deposit can never be recovered",
                    party(table)
                ));
            }
        }
        LookupTableAction::Deactivate => {}
    }
}

/// Who receives an authority, for messages: an address of the user's that is not a wallet
/// (an associated or other token account) is said to have no key.
fn holder(p: &Party, is_wallet: &dyn Fn(&Addr) -> bool) -> String {
    if p.own && !is_wallet(&p.address) {
        format!(
            "{}, an account of yours that has no key to sign with",
            party(p)
        )
    } else {
        party(p)
    }
}

fn role_name(role: StakeRole) -> &'static str {
    match role {
        StakeRole::Staker => "stake",
        StakeRole::Withdrawer => "withdraw",
    }
}

/// Judges the Stake program effects (Withdraw is a [`Effect::SolTransfer`], judged as one).
///
/// Stake accounts are never provably the user's by address; what makes one the user's is
/// that the user holds its authorities. Authorities, delegates and custodians count as the
/// user's only when they are one of the user's wallets: an associated token account is the
/// user's for receiving, but nobody can sign for it. So:
/// - Authorize (any form) handing the stake or withdraw authority of a stake account the
///   user controls (signing authority is the user's) to someone else: reject, as token
///   SetAuthority. The stake authority alone cannot withdraw, but can split, merge and
///   re-delegate, and a hand-over is the pattern of stake-account drains.
/// - Initialize with a stake or withdraw authority that is not the user's: confirm (the
///   lamports deposited become someone else's, like a transfer); a lockup: confirm (the
///   lamports cannot be withdrawn before it ends).
/// - DelegateStake: confirm. The stake stays in the user's account and validators cannot
///   take it (no slashing today), but the validator's commission decides the rewards and
///   the decoder cannot see it, so the user picks the validator knowingly.
/// - SetLockup: a new custodian that is not the user's is rejected (the custodian can
///   move the lockup at will while it is in force); a new lockup date or epoch is a
///   confirm (it can lock the lamports for years).
/// - Deactivate, Split, Merge, MoveStake, MoveLamports, DeactivateDelinquent: auto. The
///   stake program gives a split account the source's authorities and lockup, and refuses
///   Merge / MoveStake / MoveLamports between accounts whose authorities or lockups differ,
///   so the lamports stay under the same authorities.
fn judge_stake(e: &Effect, is_wallet: &dyn Fn(&Addr) -> bool, f: &mut Findings) {
    match e {
        Effect::StakeAuthorize {
            stake_account,
            role,
            authority,
            new_authority,
        } => {
            let role = role_name(*role);
            if is_wallet(&new_authority.address) {
            } else if authority.own || stake_account.own {
                f.reject(format!(
                    "Hands the {role} authority of stake account {} to {}",
                    party(stake_account),
                    holder(new_authority, is_wallet)
                ));
            } else {
                f.confirm(format!(
                    "Changes the {role} authority of stake account {} to {}",
                    party(stake_account),
                    party(new_authority)
                ));
            }
        }
        Effect::StakeInitialize {
            stake_account,
            staker,
            withdrawer,
            lockup_unix_timestamp,
            lockup_epoch,
            ..
        } => {
            for (who, role) in [(staker, "stake"), (withdrawer, "withdraw")] {
                if !is_wallet(&who.address) {
                    f.confirm(format!(
                        "Stake account {} gets {} as {role} authority",
                        party(stake_account),
                        holder(who, is_wallet)
                    ));
                }
            }
            if *lockup_unix_timestamp != 0 || *lockup_epoch != 0 {
                f.confirm(format!(
                    "Locks stake account {} up (until Unix time {lockup_unix_timestamp} / epoch {lockup_epoch})",
                    party(stake_account)
                ));
            }
        }
        Effect::StakeDelegate {
            stake_account,
            vote_account,
            ..
        } => f.confirm(format!(
            "Delegates stake account {} to validator vote account {}",
            party(stake_account),
            program_label(vote_account)
        )),
        Effect::StakeSetLockup {
            stake_account,
            unix_timestamp,
            epoch,
            custodian,
            ..
        } => {
            if let Some(c) = custodian.as_ref().filter(|c| !is_wallet(&c.address)) {
                f.reject(format!(
                    "Makes {} the lockup custodian of stake account {}",
                    holder(c, is_wallet),
                    party(stake_account)
                ));
            }
            if unix_timestamp.is_some() || epoch.is_some() {
                f.confirm(format!(
                    "Changes the lockup of stake account {}",
                    party(stake_account)
                ));
            }
        }
        _ => {}
    }
}

/// Rent-exempt minimum of an account of `space` bytes at the rent in force since genesis
/// (3480 lamports per byte-year, two years, 128 bytes of overhead). Rent can only have
/// gone down, so this is an upper bound.
fn rent_exempt_minimum(space: u64) -> u64 {
    space.saturating_add(128).saturating_mul(3_480 * 2)
}

/// Where SOL is credited: `p` is an address of the user's that cannot hold SOL safely (a
/// token account of a mint other than wrapped SOL, or an address that may never exist).
fn keyless_sink(p: &Party, holds_sol: &dyn Fn(&Addr) -> bool) -> bool {
    p.own && !holds_sol(&p.address)
}

/// [`party`] of a SOL destination, saying why an own one that is not a wallet or a
/// wrapped-SOL account is a problem.
fn sol_destination(p: &Party, holds_sol: &dyn Fn(&Addr) -> bool) -> String {
    if keyless_sink(p, holds_sol) {
        format!(
            "{}, a token account of yours that is not wrapped SOL (SOL there can be frozen in or lost)",
            party(p)
        )
    } else {
        party(p)
    }
}

/// Judges one effect. `is_wallet` tells the user's wallet addresses (not their token
/// accounts); `holds_sol` the wallets and wrapped-SOL accounts of the user's, where SOL
/// stays spendable.
fn judge(
    e: &Effect,
    is_wallet: &dyn Fn(&Addr) -> bool,
    holds_sol: &dyn Fn(&Addr) -> bool,
    config: &PolicyConfig,
    f: &mut Findings,
) {
    match e {
        Effect::SolTransfer {
            from,
            to,
            authority,
            lamports,
        } => {
            if *lamports > 0 && keyless_sink(to, holds_sol) && (from.own || authority.own) {
                f.confirm(format!(
                    "Sends {} into {}",
                    sol(*lamports),
                    sol_destination(to, holds_sol)
                ));
            } else if *lamports > 0 && !to.own && (from.own || authority.own) {
                let to_key = to.address.known();
                if let Some(k) = to_key.filter(|k| config.tip_accounts.iter().any(|t| t.0 == **k)) {
                    f.payouts.tips = f.payouts.tips.saturating_add(*lamports);
                    f.payouts.tip_accounts.insert(*k);
                } else if let Some(k) = to_key.filter(|k| config.is_operator_account(k, None)) {
                    let fee = f.payouts.fees.entry(NATIVE_MINT).or_insert(0);
                    *fee = fee.saturating_add(*lamports);
                    f.payouts.fee_accounts.insert(*k);
                } else {
                    f.confirm(format!("Sends {} to {}", sol(*lamports), party(to)));
                }
            }
        }
        Effect::CreateAccount {
            payer,
            account,
            lamports,
            space,
            owner_program,
        } => {
            if is_wallet(&account.address) && owner_program.known() != Some(&SYSTEM_PROGRAM) {
                f.reject(format!(
                    "Would turn your wallet {} into an account of program {}",
                    party(account),
                    program_label(owner_program)
                ));
            } else if is_wallet(&account.address) && *space > 0 {
                // CreateAccountAllowPrefund works on an account that already holds
                // lamports: a System account with data can neither pay fees nor send a
                // System Transfer, so everything in the wallet would be locked for good.
                f.reject(format!(
                    "Allocates data in your wallet {}, which would lock its SOL for good",
                    party(account)
                ));
            } else if let Some(p) = payer {
                if p.own && !account.own && *lamports > 0 {
                    f.confirm(format!(
                        "Pays {} to fund new account {}",
                        sol(*lamports),
                        party(account)
                    ));
                } else if p.own
                    && keyless_sink(account, holds_sol)
                    && *lamports > rent_exempt_minimum(*space)
                {
                    f.confirm(format!(
                        "Pays {} to fund new account {}, more than its rent",
                        sol(*lamports),
                        sol_destination(account, holds_sol)
                    ));
                }
            }
        }
        Effect::Assign {
            account,
            owner_program,
        } => {
            if account.own {
                f.reject(format!(
                    "Hands your wallet {} to program {}",
                    party(account),
                    program_label(owner_program)
                ));
            } else {
                f.confirm(format!(
                    "Assigns account {} to program {}",
                    party(account),
                    program_label(owner_program)
                ));
            }
        }
        Effect::Allocate { account, .. } => {
            if account.own {
                f.reject(format!(
                    "Allocates data in your wallet {}, which would make it unusable",
                    party(account)
                ));
            }
        }
        Effect::Nonce { action, .. } => {
            let what = match action {
                NonceAction::Advance => "uses a durable nonce (it never expires)",
                _ => "contains a durable nonce instruction",
            };
            f.reject(format!("Transaction {what}: refused"));
        }
        Effect::TokenTransfer {
            program,
            source,
            destination,
            authority,
            mint,
            amount,
            decimals,
            extra_accounts,
            ..
        } => {
            if *program == TokenProgram::Token2022 && !extra_accounts.is_empty() {
                f.warn(format!(
                    "A Token-2022 transfer passes {} extra account(s): the mint may run a transfer hook program (hooks cannot spend from your accounts)",
                    extra_accounts.len()
                ));
            }
            let operator_mint = mint.as_ref().and_then(Addr::known);
            let to_operator = destination
                .address
                .known()
                .zip(operator_mint)
                .filter(|(d, m)| config.is_operator_account(d, Some(m)));
            if *amount > 0 && !destination.own && (source.own || authority.own) {
                if let Some((d, m)) = to_operator {
                    let fee = f.payouts.fees.entry(*m).or_insert(0);
                    *fee = fee.saturating_add(*amount);
                    f.payouts.fee_accounts.insert(*d);
                    return;
                }
                let unproven = if mint.is_none() {
                    " (destination cannot be proven yours without the mint)"
                } else {
                    ""
                };
                f.confirm(format!(
                    "Sends {} to {}{unproven}",
                    token_amount(
                        *amount,
                        *decimals,
                        mint.as_ref(),
                        &Tokens::new(&config.tokens)
                    ),
                    party(destination)
                ));
            }
        }
        Effect::TokenApprove {
            source,
            delegate,
            owner,
            ..
        } => {
            if is_wallet(&delegate.address) {
            } else if source.own || owner.own {
                f.reject(format!(
                    "Gives {} spending rights over your token account {}",
                    holder(delegate, is_wallet),
                    party(source)
                ));
            } else {
                f.confirm(format!("Approves delegate {}", party(delegate)));
            }
        }
        Effect::TokenRevoke { .. }
        | Effect::InitializeTokenAccount { .. }
        | Effect::InitializeImmutableOwner { .. }
        | Effect::SyncNative { .. }
        | Effect::TokenQuery { .. }
        | Effect::ComputeBudget { .. }
        | Effect::Memo { .. } => {}
        Effect::SetAuthority {
            account,
            current_authority,
            authority_name,
            new_authority,
            ..
        } => match new_authority {
            // Only a wallet can sign: an authority handed to one of the user's token
            // accounts (which count as the user's for receiving) is lost for good.
            Some(n) if is_wallet(&n.address) => {}
            Some(n) if account.own || current_authority.own => f.reject(format!(
                "Hands {authority_name} authority of {} to {}",
                party(account),
                holder(n, is_wallet)
            )),
            Some(n) => f.confirm(format!(
                "Changes {authority_name} authority of {} to {}",
                party(account),
                party(n)
            )),
            None => f.confirm(format!(
                "Removes {authority_name} authority of {} for good",
                party(account)
            )),
        },
        Effect::TokenMint {
            destination,
            authority,
            mint,
            amount,
            decimals,
            ..
        } => {
            if authority.own && !destination.own && *amount > 0 {
                f.confirm(format!(
                    "Mints {} to {}",
                    token_amount(*amount, *decimals, Some(mint), &Tokens::new(&config.tokens)),
                    party(destination)
                ));
            }
        }
        Effect::TokenBurn {
            account,
            mint,
            amount,
            decimals,
            ..
        } => f.confirm(format!(
            "Burns {} from {}",
            token_amount(*amount, *decimals, Some(mint), &Tokens::new(&config.tokens)),
            party(account)
        )),
        Effect::CloseAccount {
            account,
            destination,
            authority,
            ..
        } => {
            if (!destination.own || keyless_sink(destination, holds_sol))
                && (account.own || authority.own)
            {
                f.confirm(format!(
                    "Closes {} and sends its SOL to {}",
                    party(account),
                    sol_destination(destination, holds_sol)
                ));
            }
        }
        Effect::FreezeThaw {
            account, freeze, ..
        } => f.confirm(format!(
            "{} token account {}",
            if *freeze { "Freezes" } else { "Thaws" },
            party(account)
        )),
        Effect::UnwrapLamports {
            source,
            destination,
            authority,
            lamports,
            ..
        } => {
            let moves = lamports.is_none_or(|l| l > 0);
            if moves
                && (!destination.own || keyless_sink(destination, holds_sol))
                && (source.own || authority.own)
            {
                f.confirm(format!(
                    "Unwraps {} from {} to {}",
                    lamports.map(sol).unwrap_or_else(|| "all SOL".to_owned()),
                    party(source),
                    sol_destination(destination, holds_sol)
                ));
            }
        }
        Effect::WithdrawExcessLamports {
            source,
            destination,
            authority,
            ..
        } => {
            if (!destination.own || keyless_sink(destination, holds_sol))
                && (source.own || authority.own)
            {
                f.confirm(format!(
                    "Withdraws excess SOL from {} to {}",
                    party(source),
                    sol_destination(destination, holds_sol)
                ));
            }
        }
        Effect::CreateAssociatedTokenAccount { payer, wallet, .. } => {
            if payer.own && !wallet.own {
                f.confirm(format!(
                    "Pays rent for a token account of {}",
                    party(wallet)
                ));
            }
        }
        Effect::RecoverNested {
            wallet,
            destination,
            ..
        } => {
            if !wallet.own {
                f.confirm(format!(
                    "Recovers a nested token account into {}",
                    party(destination)
                ));
            }
        }
        Effect::Swap { .. } => judge_swap(e, config, f),
        Effect::SignatureCheck { .. } => {}
        Effect::TokenConfigure {
            name,
            kind,
            account,
            authority,
            ..
        } => {
            let by_user = authority.as_ref().is_some_and(|a| a.own) || account.own;
            match kind {
                TokenConfigKind::Initialize | TokenConfigKind::EnableProtection => {}
                TokenConfigKind::Update if by_user => f.confirm(format!(
                    "Changes the {name} configuration of {}",
                    party(account)
                )),
                TokenConfigKind::DisableProtection if by_user => f.confirm(format!(
                    "Turns off a protection of your token account {} ({name})",
                    party(account)
                )),
                TokenConfigKind::Update | TokenConfigKind::DisableProtection => {}
            }
        }
        Effect::WithdrawWithheld {
            destination,
            authority,
            ..
        } => {
            if authority.own && !destination.own {
                f.confirm(format!(
                    "Withdraws withheld transfer fees to {}",
                    party(destination)
                ));
            }
        }
        Effect::LookupTable { .. } => judge_lookup_table(e, is_wallet, holds_sol, f),
        Effect::StakeInitialize { .. }
        | Effect::StakeAuthorize { .. }
        | Effect::StakeDelegate { .. }
        | Effect::StakeSetLockup { .. }
        | Effect::StakeOperation { .. } => judge_stake(e, is_wallet, f),
        Effect::ProgramUpgrade { .. } => f.reject(
            "BPF upgradeable loader instruction (program deploy/upgrade): refused".to_owned(),
        ),
        Effect::UnknownProgram { program, .. } => opaque(
            config,
            f,
            format!("unknown program {}", program_label(program)),
        ),
        Effect::Malformed {
            instruction_index,
            program,
            error,
            unsupported: true,
        } => opaque(
            config,
            f,
            format!(
                "instruction {instruction_index} for {} is not one Custos decodes ({error})",
                program_label(program)
            ),
        ),
        Effect::Malformed {
            instruction_index,
            program,
            error,
            unsupported: false,
        } => f.reject(format!(
            "instruction {instruction_index} for {} is malformed ({error})",
            program_label(program)
        )),
    }
}

/// An instruction Custos cannot read: refused, or (when the operator allows blind signing)
/// put to the user with a warning that its effects are unknown.
fn opaque(config: &PolicyConfig, f: &mut Findings, what: String) {
    match config.unknown_programs {
        UnknownPrograms::Reject => f.reject(format!("{what}: blind signing refused")),
        UnknownPrograms::Confirm => {
            f.warn(format!(
                "BLIND SIGNING: {what}; Custos cannot tell what it does"
            ));
            f.confirm(format!("{what}: its effects are unknown"));
        }
    }
}

/// Effects worth naming in the summary line (not bookkeeping).
fn is_primary(e: &Effect) -> bool {
    !matches!(
        e,
        Effect::ComputeBudget { .. }
            | Effect::Memo { .. }
            | Effect::SyncNative { .. }
            | Effect::InitializeImmutableOwner { .. }
            | Effect::InitializeTokenAccount { .. }
            | Effect::TokenQuery { .. }
            | Effect::SignatureCheck { .. }
    )
}

fn summary(effects: &[Effect], worst: Option<usize>, t: &Tokens<'_>) -> String {
    // A swap is what a swap transaction is about; its account set-up is bookkeeping.
    let first = worst
        .and_then(|i| effects.get(i))
        .or_else(|| effects.iter().find(|e| matches!(e, Effect::Swap { .. })))
        .or_else(|| effects.iter().find(|e| is_primary(e)))
        .or_else(|| effects.first());
    match first {
        None => "No instructions (fee only)".to_owned(),
        Some(e) => {
            let others = effects.len().saturating_sub(1);
            if others == 0 {
                describe_effect(e, t)
            } else {
                format!(
                    "{} (+{others} more action{})",
                    describe_effect(e, t),
                    if others == 1 { "" } else { "s" }
                )
            }
        }
    }
}

/// Computes the fee and adds fee findings.
fn fees(
    tx: &ParsedTransaction,
    effects: &[Effect],
    non_budget_instructions: u64,
    fee_payer: Party,
    ctx: &Context<'_>,
    f: &mut Findings,
    warnings: &mut Vec<String>,
) -> FeeSummary {
    let mut limit: Option<u64> = None;
    let mut price: Option<u64> = None;
    let mut seen = [false; 4];
    for e in effects {
        if let Effect::ComputeBudget { setting } = e {
            let slot = match setting {
                ComputeBudgetSetting::HeapFrame(_) => 0,
                ComputeBudgetSetting::UnitLimit(u) => {
                    limit = Some(u64::from(*u));
                    1
                }
                ComputeBudgetSetting::UnitPrice(p) => {
                    price = Some(*p);
                    2
                }
                ComputeBudgetSetting::LoadedAccountsDataSizeLimit(_) => 3,
            };
            if let Some(s) = seen.get_mut(slot) {
                if *s {
                    f.reject(
                        "duplicate ComputeBudget instruction (the runtime refuses it)".to_owned(),
                    );
                }
                *s = true;
            }
        }
    }
    let v1_config = match tx.message() {
        solana_message::VersionedMessage::V1(m) => Some(m.config),
        _ => None,
    };
    if let Some(cfg) = &v1_config {
        if let Some(l) = cfg.compute_unit_limit {
            limit = Some(u64::from(l));
        }
        if seen.iter().any(|s| *s) {
            warnings.push(
                "V1 transaction also carries ComputeBudget instructions; fees counted from both"
                    .to_owned(),
            );
        }
    }
    let limit = limit
        .unwrap_or_else(|| {
            non_budget_instructions.saturating_mul(DEFAULT_INSTRUCTION_COMPUTE_UNITS)
        })
        .min(MAX_COMPUTE_UNIT_LIMIT);
    let from_price = price
        .map(|p| {
            let micro = u128::from(p).saturating_mul(u128::from(limit));
            let lamports = micro.div_ceil(1_000_000);
            u64::try_from(lamports).unwrap_or(u64::MAX)
        })
        .unwrap_or(0);
    let header_fee = v1_config.and_then(|c| c.priority_fee).unwrap_or(0);
    let priority = from_price.saturating_add(header_fee);
    let signatures = u64::try_from(tx.required_signers().len()).unwrap_or(u64::MAX);
    let base = signatures.saturating_mul(LAMPORTS_PER_SIGNATURE);
    if priority > ctx.config.max_priority_fee_lamports {
        f.reject(format!(
            "priority fee {} is above the {} limit",
            sol(priority),
            sol(ctx.config.max_priority_fee_lamports)
        ));
    }
    if !fee_payer.own {
        let reason = format!("fee is paid by {}", party(&fee_payer));
        if ctx.config.allow_foreign_fee_payer {
            f.confirm(reason);
        } else {
            f.reject(reason);
        }
    }
    FeeSummary {
        fee_payer,
        signatures,
        base_fee_lamports: base,
        priority_fee_lamports: priority,
        compute_unit_limit: limit,
        compute_unit_price_micro_lamports: price,
        total_lamports: base.saturating_add(priority),
        tip_lamports: f.payouts.tips,
    }
}

/// Judges tips and operator fees together: tips within the cap and fees within the
/// configured share of what the transaction swaps in the same mint are signed; anything
/// above is put to the user.
fn judge_payouts(effects: &[Effect], config: &PolicyConfig, f: &mut Findings) {
    let list = |set: &BTreeSet<Pubkey>| set.iter().map(short_pubkey).collect::<Vec<_>>().join(", ");
    let tips = f.payouts.tips;
    if tips > config.max_tip_lamports {
        let to = list(&f.payouts.tip_accounts);
        f.confirm(format!(
            "Tips {} to {to}, above the {} limit",
            sol(tips),
            sol(config.max_tip_lamports)
        ));
    } else if tips > 0 {
        f.warn(format!("Pays a {} tip for block inclusion", sol(tips)));
    }
    if f.payouts.fees.is_empty() {
        return;
    }
    // What the user's swaps move, per mint: the largest stated bound on either side.
    let mut basis: BTreeMap<Pubkey, u64> = BTreeMap::new();
    for e in effects {
        if let Effect::Swap {
            authority,
            source,
            source_mint,
            destination_mint,
            amount_in,
            amount_out,
            ..
        } = e
        {
            if !(authority.own || source.own) {
                continue;
            }
            for (mint, amount) in [(source_mint, amount_in), (destination_mint, amount_out)] {
                if let (Some(m), Some(a)) = (mint.as_ref().and_then(Addr::known), amount.amount()) {
                    let b = basis.entry(*m).or_insert(0);
                    *b = (*b).max(a);
                }
            }
        }
    }
    let tokens = Tokens::new(&config.tokens);
    let to = list(&f.payouts.fee_accounts);
    let fees: Vec<(Pubkey, u64)> = f.payouts.fees.iter().map(|(m, a)| (*m, *a)).collect();
    for (mint, fee) in fees {
        let cap = basis
            .get(&mint)
            .map(|b| u128::from(*b) * u128::from(config.max_operator_fee_bps) / 10_000)
            .unwrap_or(0);
        let shown = token_amount(fee, None, Some(&Addr::Known(mint)), &tokens);
        if u128::from(fee) > cap {
            f.confirm(format!(
                "Pays an operator fee of {shown} to {to}, above {} of the swap",
                bps(config.max_operator_fee_bps)
            ));
        } else {
            f.warn(format!("Pays an operator fee of {shown} to {to}"));
        }
    }
}

/// Fills in mints an instruction does not name but the accounts prove: a swap side or a
/// transfer whose account is the user's associated token account (or one this
/// transaction initialised) has that account's mint; the other side of a pool with two
/// named mints then has the other one.
fn infer_mints(e: &mut Effect, ownership: &Ownership) {
    let known = |m: Option<Pubkey>| m.map(Addr::Known);
    match e {
        Effect::Swap {
            source,
            destination,
            source_mint,
            destination_mint,
            pool_mints,
            ..
        } => {
            if source_mint.is_none() {
                *source_mint = known(ownership.token_account_mint(&source.address));
            }
            if destination_mint.is_none() {
                *destination_mint = known(ownership.token_account_mint(&destination.address));
            }
            if let [a, b] = pool_mints.as_slice() {
                let other = |m: &Addr| {
                    if m == a {
                        Some(b.clone())
                    } else if m == b {
                        Some(a.clone())
                    } else {
                        None
                    }
                };
                match (source_mint.as_ref(), destination_mint.as_ref()) {
                    (Some(s), None) => *destination_mint = other(s),
                    (None, Some(d)) => *source_mint = other(d),
                    _ => {}
                }
            }
        }
        Effect::TokenTransfer {
            source,
            destination,
            mint,
            ..
        } if mint.is_none() => {
            *mint = known(
                ownership
                    .token_account_mint(&source.address)
                    .or_else(|| ownership.token_account_mint(&destination.address)),
            );
        }
        _ => {}
    }
}

/// Decodes every instruction and judges the transaction for `ctx.signer`.
pub fn assess(tx: &ParsedTransaction, ctx: &Context) -> Assessment {
    assess_with_intent(tx, ctx, None)
}

/// [`assess`], then refuses the transaction unless its effects match `intent` exactly.
pub fn assess_with_intent(
    tx: &ParsedTransaction,
    ctx: &Context,
    intent: Option<&Intent>,
) -> Assessment {
    let accounts = resolve_accounts(tx, ctx.lookup_tables);
    let mut warnings = Vec::new();
    let mut f = Findings {
        items: Vec::new(),
        warnings: Vec::new(),
        current: None,
        worst_effect: None,
        by_effect: BTreeMap::new(),
        other: Verdict::Auto,
        payouts: Payouts::default(),
    };

    let unresolved = accounts
        .iter()
        .filter(|a| matches!(a, Addr::Unresolved { .. }))
        .count();
    if unresolved > 0 {
        warnings.push(format!(
            "{unresolved} account(s) come from address lookup tables that were not provided; they are treated as not yours"
        ));
    }
    if tx.is_bare_message() {
        warnings.push("Bare message: no signatures attached yet".to_owned());
    }
    if tx.version() == TxVersion::V1 {
        warnings.push("V1 transaction format".to_owned());
    }

    let mut effects = Vec::new();
    let mut non_budget: u64 = 0;
    for (i, ix) in tx.message().instructions().iter().enumerate() {
        let program = tx
            .static_account_keys()
            .get(usize::from(ix.program_id_index))
            .cloned()
            .map(Addr::Known);
        let Some(program) = program else {
            effects.push(Effect::Malformed {
                instruction_index: i,
                program: Addr::Known(Pubkey::default()),
                error: "program index out of range".to_owned(),
                unsupported: false,
            });
            non_budget = non_budget.saturating_add(1);
            continue;
        };
        if program.known() != Some(&COMPUTE_BUDGET_PROGRAM) {
            non_budget = non_budget.saturating_add(1);
        }
        let ix_accounts: Option<Vec<Addr>> = ix
            .accounts
            .iter()
            .map(|&k| accounts.get(usize::from(k)).cloned())
            .collect();
        match ix_accounts {
            Some(list) => effects.extend(decode_instruction(i, &program, &list, &ix.data)),
            None => effects.push(Effect::Malformed {
                instruction_index: i,
                program,
                error: "account index out of range".to_owned(),
                unsupported: false,
            }),
        }
    }

    // Ownership: wallets, their ATAs for every mint the transaction names, and token
    // accounts the transaction initialises for them.
    let mut ownership = Ownership::new(
        &ctx.signer,
        ctx.own_wallets,
        effects.iter().flat_map(Effect::mints).collect::<Vec<_>>(),
    );
    for e in &effects {
        match e {
            Effect::InitializeTokenAccount {
                account,
                mint,
                owner,
                ..
            } => ownership.add_initialised(&account.address, &owner.address, mint),
            // The associated token program refuses an account that is not the derived
            // address of (wallet, token program, mint), so this proves ownership even
            // when the mint sits in a lookup table nobody resolved. Only for the two token
            // programs: the account belongs to the token program named, and the proof
            // does not rest on the ATA program refusing any other.
            Effect::CreateAssociatedTokenAccount {
                account,
                wallet,
                mint,
                token_program,
                ..
            } if token_program
                .known()
                .is_some_and(|p| *p == TOKEN_PROGRAM || *p == TOKEN_2022_PROGRAM) =>
            {
                ownership.add_initialised(&account.address, &wallet.address, mint)
            }
            _ => {}
        }
    }
    for e in &mut effects {
        for p in e.parties_mut() {
            p.own = ownership.is_own(&p.address);
        }
        infer_mints(e, &ownership);
    }

    if tx.signer_position(&ctx.signer).is_none() {
        f.reject(format!(
            "wallet {} is not a required signer of this transaction",
            short_pubkey(&ctx.signer)
        ));
    }

    let is_wallet = |a: &Addr| {
        a.known()
            .is_some_and(|k| *k == ctx.signer || ctx.own_wallets.contains(k))
    };
    let holds_sol = |a: &Addr| ownership.holds_sol(a);
    for (i, e) in effects.iter().enumerate() {
        f.current = Some(i);
        judge(e, &is_wallet, &holds_sol, ctx.config, &mut f);
    }
    f.current = None;
    judge_payouts(&effects, ctx.config, &mut f);
    let worst = f.worst_effect.map(|(_, i)| i);

    let payer_addr = tx
        .fee_payer()
        .cloned()
        .map(Addr::Known)
        .unwrap_or(Addr::Known(Pubkey::default()));
    let payer = Party {
        own: ownership.is_own(&payer_addr),
        address: payer_addr,
    };
    let fee = fees(tx, &effects, non_budget, payer, ctx, &mut f, &mut warnings);
    if let Some(intent) = intent {
        if let Err(why) = crate::intent::check(intent, &effects, &f.by_effect, f.other) {
            f.reject(format!("Does not match the stated intent: {why}"));
        }
    }

    let verdict = f
        .items
        .iter()
        .map(|(v, _)| *v)
        .max()
        .unwrap_or(Verdict::Auto);
    let tokens = Tokens::new(&ctx.config.tokens);
    // Findings about what the transaction does come before notes about its form.
    f.warnings.append(&mut warnings);
    let warnings = f.warnings;
    let mut items = f.items;
    items.sort_by_key(|b| std::cmp::Reverse(b.0));
    let mut reasons: Vec<String> = Vec::new();
    for (_, r) in items {
        if !reasons.contains(&r) {
            reasons.push(r);
        }
    }
    if verdict == Verdict::Auto {
        reasons.push("Every effect keeps value with your own accounts".to_owned());
    }
    Assessment {
        verdict,
        summary: summary(&effects, worst, &tokens),
        tokens: ctx.config.tokens.clone(),
        reasons,
        warnings,
        effects,
        fee,
    }
}
