//! Human-readable descriptions: amounts, shortened addresses, one line per effect, and the
//! HTML text sent to Telegram.

use crate::effects::{
    Addr, ComputeBudgetSetting, Effect, LookupTableAction, NonceAction, Party, StakeAction,
    StakeRole, SwapAmount,
};
use crate::policy::{Assessment, Verdict};
use crate::programs::program_name;
use crate::tokens::Tokens;
use crate::Pubkey;

/// Most effect lines listed in a description.
pub const MAX_LISTED_EFFECTS: usize = 16;

/// Most full addresses listed at the end of a description.
pub const MAX_LISTED_ADDRESSES: usize = 12;

/// Longest memo text quoted in a description (characters).
const MEMO_PREVIEW_CHARS: usize = 80;

/// First 4 + "…" + last 4 characters of a base58 address.
pub fn short_pubkey(k: &Pubkey) -> String {
    let s = k.to_string();
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 9 {
        return s;
    }
    let head: String = chars.iter().take(4).collect();
    let tail: String = chars.iter().skip(chars.len().saturating_sub(4)).collect();
    format!("{head}…{tail}")
}

/// A shortened address; accounts from unprovided lookup tables are marked as such.
pub fn short_addr(a: &Addr) -> String {
    match a {
        Addr::Known(k) => short_pubkey(k),
        Addr::Unresolved { table, index } => {
            format!("lookup-table {}#{index} (unresolved)", short_pubkey(table))
        }
    }
}

/// Shortened address plus "(yours)" / "(not yours)".
pub fn party(p: &Party) -> String {
    format!(
        "{} ({})",
        short_addr(&p.address),
        if p.own { "yours" } else { "not yours" }
    )
}

/// Program label: name when well known, plus the shortened id.
pub fn program_label(a: &Addr) -> String {
    match a.known().and_then(program_name) {
        Some(name) => format!("{} ({name})", short_addr(a)),
        None => short_addr(a),
    }
}

/// `amount` base units with `decimals` decimals, without trailing zeros ("1.5", "0.000001").
pub fn format_units(amount: u64, decimals: u8) -> String {
    let digits = amount.to_string();
    let d = usize::from(decimals);
    if d == 0 {
        return digits;
    }
    let padded = if digits.len() <= d {
        format!(
            "{}{digits}",
            "0".repeat(d.saturating_sub(digits.len()).saturating_add(1))
        )
    } else {
        digits
    };
    let split = padded.len().saturating_sub(d);
    let (int, frac) = padded.split_at(split);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    }
}

/// Lamports as SOL ("0.5 SOL").
pub fn sol(lamports: u64) -> String {
    format!("{} SOL", format_units(lamports, 9))
}

/// How a mint is named: its symbol when known, else "mint <short address>".
fn mint_label(mint: Option<&Addr>, t: &Tokens<'_>) -> (String, Option<u8>) {
    match mint {
        Some(m) => match m.known().and_then(|k| t.get(k)) {
            Some((symbol, decimals)) => (symbol.to_owned(), Some(decimals)),
            None => (format!("mint {}", short_addr(m)), None),
        },
        None => ("an unnamed mint".to_owned(), None),
    }
}

/// A token amount: in token units when decimals are known (from the instruction or the
/// token list), else clearly marked base units.
pub fn token_amount(
    amount: u64,
    decimals: Option<u8>,
    mint: Option<&Addr>,
    t: &Tokens<'_>,
) -> String {
    let (label, listed) = mint_label(mint, t);
    let named = mint
        .and_then(Addr::known)
        .is_some_and(|k| t.get(k).is_some());
    match decimals.or(listed) {
        Some(d) if named => format!("{} {label}", format_units(amount, d)),
        Some(d) => format!("{} tokens of {label}", format_units(amount, d)),
        None => format!("{amount} base units (decimals unknown) of {label}"),
    }
}

/// Basis points as a percentage with the raw value ("0.5 % (50 bps)").
pub fn bps(bps: u16) -> String {
    format!("{} % ({bps} bps)", format_units(u64::from(bps), 2))
}

/// One side of a swap ("exactly 0.002 SOL", "at least 1542899 base units (decimals
/// unknown) of mint Dz9m…bonk").
pub fn swap_amount(amount: &SwapAmount, mint: Option<&Addr>, t: &Tokens<'_>) -> String {
    match amount {
        SwapAmount::Exact(a) => format!("exactly {}", token_amount(*a, None, mint, t)),
        SwapAmount::AtMost(a) => format!("up to {}", token_amount(*a, None, mint, t)),
        SwapAmount::AtLeast(a) => format!("at least {}", token_amount(*a, None, mint, t)),
        SwapAmount::FromTokenLedger => {
            format!("the token-ledger amount of {}", mint_label(mint, t).0)
        }
    }
}

/// Where a swap's output goes: "to your account X" or "to X (not yours)".
fn swap_destination(p: &Party) -> String {
    if p.own {
        format!("to your account {}", short_addr(&p.address))
    } else {
        format!("to {}", party(p))
    }
}

fn nonce_name(a: NonceAction) -> &'static str {
    match a {
        NonceAction::Advance => "Advance",
        NonceAction::Withdraw => "Withdraw",
        NonceAction::Initialize => "Initialize",
        NonceAction::Authorize => "Authorize",
        NonceAction::Upgrade => "Upgrade",
    }
}

/// One line describing an Address Lookup Table instruction.
fn describe_lookup_table(
    action: LookupTableAction,
    table: &Party,
    authority: &Party,
    payer: Option<&Party>,
    recipient: Option<&Party>,
    new_addresses: u64,
) -> String {
    let paid = payer
        .map(|p| format!(", rent paid by {}", party(p)))
        .unwrap_or_default();
    match action {
        LookupTableAction::Create => format!(
            "Create lookup table {} with authority {}{paid}",
            party(table),
            party(authority)
        ),
        LookupTableAction::Freeze => format!("Freeze lookup table {}", party(table)),
        LookupTableAction::Extend => format!(
            "Add {new_addresses} address(es) to lookup table {}{paid}",
            party(table)
        ),
        LookupTableAction::Deactivate => format!("Deactivate lookup table {}", party(table)),
        LookupTableAction::Close => format!(
            "Close lookup table {}, its SOL goes to {}",
            party(table),
            recipient.map(party).unwrap_or_default()
        ),
    }
}

/// One line describing a stake operation that keeps the lamports under the same authorities.
fn describe_stake_operation(
    action: StakeAction,
    stake_account: &Party,
    other: Option<&Party>,
    lamports: Option<u64>,
) -> String {
    let amount = lamports.map(sol).unwrap_or_default();
    let other = other.map(party).unwrap_or_default();
    let account = party(stake_account);
    match action {
        StakeAction::Deactivate => format!("Deactivate stake account {account}"),
        StakeAction::DeactivateDelinquent => {
            format!("Deactivate delinquent stake account {account}")
        }
        StakeAction::Split => format!("Split {amount} from stake account {account} into {other}"),
        StakeAction::Merge => format!("Merge stake account {other} into {account}"),
        StakeAction::MoveStake => {
            format!("Move {amount} of active stake from {account} to {other}")
        }
        StakeAction::MoveLamports => {
            format!("Move {amount} from stake account {account} to {other}")
        }
    }
}

/// One line describing an effect (plain text, not escaped).
pub fn describe_effect(e: &Effect, t: &Tokens<'_>) -> String {
    match e {
        Effect::SolTransfer {
            from, to, lamports, ..
        } => format!(
            "Transfer {} from {} to {}",
            sol(*lamports),
            party(from),
            party(to)
        ),
        Effect::CreateAccount {
            payer,
            account,
            lamports,
            space,
            owner_program,
        } => format!(
            "Create account {} ({space} bytes, owner {}) funded with {}{}",
            party(account),
            program_label(owner_program),
            sol(*lamports),
            payer
                .as_ref()
                .map(|p| format!(" by {}", party(p)))
                .unwrap_or_default()
        ),
        Effect::Assign {
            account,
            owner_program,
        } => format!(
            "Assign account {} to program {}",
            party(account),
            program_label(owner_program)
        ),
        Effect::Allocate { account, space } => {
            format!("Allocate {space} bytes in account {}", party(account))
        }
        Effect::Nonce {
            action,
            nonce_account,
        } => format!(
            "Durable nonce: {} nonce account {}",
            nonce_name(*action),
            party(nonce_account)
        ),
        Effect::TokenTransfer {
            source,
            destination,
            mint,
            amount,
            decimals,
            fee,
            ..
        } => {
            let fee = fee
                .map(|f| {
                    format!(
                        " (transfer fee {})",
                        token_amount(f, *decimals, mint.as_ref(), t)
                    )
                })
                .unwrap_or_default();
            format!(
                "Transfer {} from {} to {}{fee}",
                token_amount(*amount, *decimals, mint.as_ref(), t),
                party(source),
                party(destination)
            )
        }
        Effect::TokenApprove {
            source,
            delegate,
            mint,
            amount,
            decimals,
            ..
        } => format!(
            "Approve delegate {} to spend up to {} from {}",
            party(delegate),
            token_amount(*amount, *decimals, mint.as_ref(), t),
            party(source)
        ),
        Effect::TokenRevoke { source, .. } => {
            format!("Revoke the delegate of token account {}", party(source))
        }
        Effect::SetAuthority {
            account,
            authority_name,
            authority_type,
            new_authority,
            ..
        } => match new_authority {
            Some(n) => format!(
                "Set {authority_name} ({authority_type}) authority of {} to {}",
                party(account),
                party(n)
            ),
            None => format!(
                "Remove {authority_name} ({authority_type}) authority of {} (irreversible)",
                party(account)
            ),
        },
        Effect::TokenMint {
            mint,
            destination,
            amount,
            decimals,
            ..
        } => format!(
            "Mint {} to {}",
            token_amount(*amount, *decimals, Some(mint), t),
            party(destination)
        ),
        Effect::TokenBurn {
            account,
            mint,
            amount,
            decimals,
            ..
        } => format!(
            "Burn {} from {}",
            token_amount(*amount, *decimals, Some(mint), t),
            party(account)
        ),
        Effect::CloseAccount {
            account,
            destination,
            ..
        } => format!(
            "Close token account {}, its SOL goes to {}",
            party(account),
            party(destination)
        ),
        Effect::FreezeThaw {
            account, freeze, ..
        } => format!(
            "{} token account {}",
            if *freeze { "Freeze" } else { "Thaw" },
            party(account)
        ),
        Effect::InitializeTokenAccount {
            account,
            mint,
            owner,
            ..
        } => format!(
            "Initialize token account {} for mint {} owned by {}",
            party(account),
            short_addr(mint),
            party(owner)
        ),
        Effect::InitializeImmutableOwner { account, .. } => {
            format!(
                "Make the owner of token account {} immutable",
                party(account)
            )
        }
        Effect::SyncNative { account, .. } => {
            format!("Sync wrapped SOL balance of {}", party(account))
        }
        Effect::UnwrapLamports {
            source,
            destination,
            lamports,
            ..
        } => format!(
            "Unwrap {} from {} to {}",
            lamports.map(sol).unwrap_or_else(|| "all SOL".to_owned()),
            party(source),
            party(destination)
        ),
        Effect::WithdrawExcessLamports {
            source,
            destination,
            ..
        } => format!(
            "Withdraw excess SOL from {} to {}",
            party(source),
            party(destination)
        ),
        Effect::LookupTable {
            action,
            table,
            authority,
            payer,
            recipient,
            new_addresses,
        } => describe_lookup_table(
            *action,
            table,
            authority,
            payer.as_ref(),
            recipient.as_ref(),
            *new_addresses,
        ),
        Effect::StakeInitialize {
            stake_account,
            staker,
            withdrawer,
            ..
        } => format!(
            "Initialize stake account {} (stake authority {}, withdraw authority {})",
            party(stake_account),
            party(staker),
            party(withdrawer)
        ),
        Effect::StakeAuthorize {
            stake_account,
            role,
            new_authority,
            ..
        } => format!(
            "Set the {} authority of stake account {} to {}",
            match role {
                StakeRole::Staker => "stake",
                StakeRole::Withdrawer => "withdraw",
            },
            party(stake_account),
            party(new_authority)
        ),
        Effect::StakeDelegate {
            stake_account,
            vote_account,
            ..
        } => format!(
            "Delegate stake account {} to vote account {}",
            party(stake_account),
            program_label(vote_account)
        ),
        Effect::StakeSetLockup { stake_account, .. } => {
            format!(
                "Change the lockup of stake account {}",
                party(stake_account)
            )
        }
        Effect::StakeOperation {
            action,
            stake_account,
            other_account,
            lamports,
            ..
        } => describe_stake_operation(*action, stake_account, other_account.as_ref(), *lamports),
        Effect::SignatureCheck {
            precompile,
            signatures,
        } => format!("Check {signatures} {precompile} signature(s) (moves nothing)"),
        Effect::TokenConfigure {
            name,
            account,
            authority,
            ..
        } => match authority {
            Some(a) => format!(
                "Token configuration {name} on {} (authority {})",
                party(account),
                party(a)
            ),
            None => format!("Token configuration {name} on {}", party(account)),
        },
        Effect::WithdrawWithheld {
            mint, destination, ..
        } => format!(
            "Withdraw transfer fees withheld for mint {} to {}",
            short_addr(mint),
            party(destination)
        ),
        Effect::TokenQuery { name, .. } => format!("Token query {name} (read only)"),
        Effect::CreateAssociatedTokenAccount {
            payer,
            account,
            wallet,
            mint,
            idempotent,
            ..
        } => format!(
            "Create{} token account {} of wallet {} for mint {}, rent paid by {}",
            if *idempotent { " (if missing)" } else { "" },
            party(account),
            party(wallet),
            short_addr(mint),
            party(payer)
        ),
        Effect::RecoverNested {
            nested,
            destination,
            ..
        } => format!(
            "Recover nested token account {} into {}",
            party(nested),
            party(destination)
        ),
        Effect::Swap {
            destination,
            source_mint,
            destination_mint,
            amount_in,
            amount_out,
            platform_fee_bps,
            ..
        } => {
            let fee = if *platform_fee_bps > 0 {
                format!(", platform fee {}", bps(*platform_fee_bps))
            } else {
                String::new()
            };
            format!(
                "Swap {} for {}, {}{fee}",
                swap_amount(amount_in, source_mint.as_ref(), t),
                swap_amount(amount_out, destination_mint.as_ref(), t),
                swap_destination(destination)
            )
        }
        Effect::ComputeBudget { setting } => match setting {
            ComputeBudgetSetting::HeapFrame(b) => format!("Request heap frame of {b} bytes"),
            ComputeBudgetSetting::UnitLimit(u) => format!("Set compute unit limit to {u}"),
            ComputeBudgetSetting::UnitPrice(p) => {
                format!("Set compute unit price to {p} micro-lamports")
            }
            ComputeBudgetSetting::LoadedAccountsDataSizeLimit(b) => {
                format!("Limit loaded account data to {b} bytes")
            }
        },
        Effect::Memo { text } => {
            let preview: String = text.chars().take(MEMO_PREVIEW_CHARS).collect();
            let more = if text.chars().count() > MEMO_PREVIEW_CHARS {
                "…"
            } else {
                ""
            };
            format!("Memo: \"{preview}{more}\"")
        }
        Effect::ProgramUpgrade { instruction_index } => format!(
            "Instruction {instruction_index}: BPF upgradeable loader (program deploy/upgrade)"
        ),
        Effect::UnknownProgram {
            instruction_index,
            program,
        } => format!(
            "Instruction {instruction_index}: call to unknown program {}",
            program_label(program)
        ),
        Effect::Malformed {
            instruction_index,
            program,
            error,
            unsupported: true,
        } => format!(
            "Instruction {instruction_index}: {} instruction Custos does not decode ({error})",
            program_label(program)
        ),
        Effect::Malformed {
            instruction_index,
            program,
            error,
            unsupported: false,
        } => format!(
            "Instruction {instruction_index}: malformed {} instruction ({error})",
            program_label(program)
        ),
    }
}

/// Escapes text for Telegram's HTML parse mode.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn verdict_title(v: Verdict) -> &'static str {
    match v {
        Verdict::Auto => "Safe to sign automatically",
        Verdict::Confirm => "Needs your confirmation",
        Verdict::Reject => "Refused",
    }
}

impl Assessment {
    /// Human-readable text for a Telegram message: HTML-escaped, warnings first, amounts in
    /// SOL / token units (decimals from TransferChecked etc.; base units clearly marked when
    /// unknown), addresses shortened (first 4 + … + last 4).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for w in &self.warnings {
            out.push_str("⚠️ ");
            out.push_str(&html_escape(w));
            out.push('\n');
        }
        if !self.warnings.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "<b>{}</b>\n{}\n",
            verdict_title(self.verdict),
            html_escape(&self.summary)
        ));
        if !self.reasons.is_empty() {
            out.push_str("\n<b>Why</b>\n");
            for r in &self.reasons {
                out.push_str("• ");
                out.push_str(&html_escape(r));
                out.push('\n');
            }
        }
        let descriptions = self.descriptions();
        if !descriptions.is_empty() {
            out.push_str("\n<b>What it does</b>\n");
            for d in descriptions.iter().take(MAX_LISTED_EFFECTS) {
                out.push_str("• ");
                out.push_str(&html_escape(d));
                out.push('\n');
            }
            if descriptions.len() > MAX_LISTED_EFFECTS {
                // Keeps a message within Telegram's 4096 characters; the reasons above
                // already name everything that needs the user.
                out.push_str(&format!(
                    "• … and {} more actions\n",
                    descriptions.len() - MAX_LISTED_EFFECTS
                ));
            }
        }
        let f = &self.fee;
        let tip = if f.tip_lamports > 0 {
            format!(", plus a {} tip", html_escape(&sol(f.tip_lamports)))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "\n<b>Fee</b>: {} ({} base for {} signature{} + {} priority), paid by {}{tip}\n",
            html_escape(&sol(f.total_lamports)),
            html_escape(&sol(f.base_fee_lamports)),
            f.signatures,
            if f.signatures == 1 { "" } else { "s" },
            html_escape(&sol(f.priority_fee_lamports)),
            html_escape(&party(&f.fee_payer)),
        ));
        let foreign = self.foreign_addresses();
        if !foreign.is_empty() {
            out.push_str("\n<b>Addresses not yours</b>\n");
            for k in foreign.iter().take(MAX_LISTED_ADDRESSES) {
                out.push_str(&format!("• <code>{k}</code>\n"));
            }
            if foreign.len() > MAX_LISTED_ADDRESSES {
                out.push_str(&format!(
                    "• … and {} more\n",
                    foreign.len() - MAX_LISTED_ADDRESSES
                ));
            }
        }
        out
    }

    /// Full forms of the addresses the effects name that are not the user's, in first
    /// appearance order (the text shows them shortened).
    pub fn foreign_addresses(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for e in &self.effects {
            let mut e = e.clone();
            for p in e.parties_mut() {
                if !p.own {
                    let full = p.address.to_string();
                    if !seen.contains(&full) {
                        seen.push(full);
                    }
                }
            }
        }
        seen
    }
}
