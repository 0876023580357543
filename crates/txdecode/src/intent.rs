//! Intents: what the backend says a transaction is for. An intent can only make a verdict
//! stricter: a transaction whose effects do not match its intent exactly is refused, and
//! one that matches is judged by the policy as usual (a matching transfer still needs
//! the user's confirmation).
//!
//! The match is on effects, not on instructions, so it holds for any decoder:
//! - a swap intent needs exactly one swap of the user's, from the stated input mint to
//!   the stated output mint, landing in the user's own account, taking at most the
//!   stated input and promising at least the stated output; nothing else in the
//!   transaction may move value away (tips and operator fees within the policy's caps
//!   excepted);
//! - a transfer intent needs exactly one transfer of the stated amount and mint to the
//!   stated recipient, and nothing else that moves value away.

use crate::effects::{Addr, Effect, SwapAmount};
use crate::ownership::associated_token_address;
use crate::policy::Verdict;
use crate::programs::{NATIVE_MINT, TOKEN_2022_PROGRAM, TOKEN_PROGRAM};
use crate::Pubkey;
use std::collections::BTreeMap;

/// What a signature request is meant to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Swap at most `max_amount_in` of `input_mint` for at least `min_amount_out` of
    /// `output_mint` (native SOL is the wrapped-SOL mint), into the user's account.
    Swap {
        /// Mint given up.
        input_mint: Pubkey,
        /// Mint received.
        output_mint: Pubkey,
        /// Most that may leave, in base units.
        max_amount_in: u64,
        /// Least that must arrive, in base units.
        min_amount_out: u64,
    },
    /// Send exactly `amount` of `mint` (`None`: SOL) to `destination` (a wallet; for
    /// tokens its associated token account, or a token account named directly).
    Transfer {
        /// Recipient.
        destination: Pubkey,
        /// Token mint, or `None` for SOL.
        mint: Option<Pubkey>,
        /// Amount in base units (lamports for SOL).
        amount: u64,
    },
}

/// Checks `effects` (already annotated with ownership) against `intent`.
/// `by_effect` holds the policy's most severe finding per effect; `other` the most
/// severe finding not tied to an effect. Returns why they do not match.
pub(crate) fn check(
    intent: &Intent,
    effects: &[Effect],
    by_effect: &BTreeMap<usize, Verdict>,
    other: Verdict,
) -> Result<(), String> {
    let matched = match intent {
        Intent::Swap {
            input_mint,
            output_mint,
            max_amount_in,
            min_amount_out,
        } => match_swap(
            effects,
            input_mint,
            output_mint,
            *max_amount_in,
            *min_amount_out,
        )?,
        Intent::Transfer {
            destination,
            mint,
            amount,
        } => match_transfer(effects, destination, mint.as_ref(), *amount)?,
    };
    // Nothing besides the matched effect may need the user or be refused.
    let extra = by_effect
        .iter()
        .find(|(i, v)| **i != matched && **v > Verdict::Auto);
    if let Some((i, _)) = extra {
        return Err(format!(
            "instruction effect {} goes beyond the intent",
            i.saturating_add(1)
        ));
    }
    if other > Verdict::Auto {
        return Err("the fees or payouts go beyond the intent".to_owned());
    }
    Ok(())
}

fn is_users_swap(e: &Effect) -> bool {
    matches!(e, Effect::Swap { authority, source, .. } if authority.own || source.own)
}

fn known(a: Option<&Addr>) -> Option<&Pubkey> {
    a.and_then(Addr::known)
}

/// Finds the one swap of the user's and checks it; returns its effect index.
fn match_swap(
    effects: &[Effect],
    input_mint: &Pubkey,
    output_mint: &Pubkey,
    max_amount_in: u64,
    min_amount_out: u64,
) -> Result<usize, String> {
    let mut swaps = effects.iter().enumerate().filter(|(_, e)| is_users_swap(e));
    let Some((index, swap)) = swaps.next() else {
        return Err("the intent is a swap, but the transaction has none".to_owned());
    };
    if swaps.next().is_some() {
        return Err("the intent is one swap, but the transaction has several".to_owned());
    }
    let Effect::Swap {
        destination,
        source_mint,
        destination_mint,
        amount_in,
        amount_out,
        ..
    } = swap
    else {
        return Err("internal: not a swap".to_owned());
    };
    if known(source_mint.as_ref()) != Some(input_mint) {
        return Err(format!(
            "the swap's input mint is {}, not {input_mint}",
            mint_text(source_mint.as_ref())
        ));
    }
    if known(destination_mint.as_ref()) != Some(output_mint) {
        return Err(format!(
            "the swap's output mint is {}, not {output_mint}",
            mint_text(destination_mint.as_ref())
        ));
    }
    if !destination.own {
        return Err("the swap's output does not land in your own account".to_owned());
    }
    match amount_in {
        SwapAmount::Exact(a) | SwapAmount::AtMost(a) if *a <= max_amount_in => {}
        SwapAmount::Exact(a) | SwapAmount::AtMost(a) => {
            return Err(format!(
                "the swap may take {a} base units, more than the intended {max_amount_in}"
            ))
        }
        SwapAmount::AtLeast(_) | SwapAmount::FromTokenLedger => {
            return Err("the swap's input amount is not bounded".to_owned())
        }
    }
    match amount_out {
        SwapAmount::Exact(b) | SwapAmount::AtLeast(b) if *b >= min_amount_out => Ok(index),
        SwapAmount::Exact(b) | SwapAmount::AtLeast(b) => Err(format!(
            "the swap promises at least {b} base units, less than the intended {min_amount_out}"
        )),
        SwapAmount::AtMost(_) | SwapAmount::FromTokenLedger => {
            Err("the swap's output has no minimum".to_owned())
        }
    }
}

fn mint_text(m: Option<&Addr>) -> String {
    m.map(ToString::to_string)
        .unwrap_or_else(|| "not stated".to_owned())
}

/// Finds the one transfer that leaves the user and checks it; returns its effect index.
fn match_transfer(
    effects: &[Effect],
    destination: &Pubkey,
    mint: Option<&Pubkey>,
    amount: u64,
) -> Result<usize, String> {
    let leaving: Vec<(usize, &Effect)> = effects
        .iter()
        .enumerate()
        .filter(|(_, e)| match e {
            Effect::SolTransfer {
                from,
                to,
                authority,
                lamports,
            } => *lamports > 0 && !to.own && (from.own || authority.own),
            Effect::TokenTransfer {
                source,
                destination,
                authority,
                amount,
                ..
            } => *amount > 0 && !destination.own && (source.own || authority.own),
            _ => false,
        })
        .collect();
    let [(index, transfer)] = leaving.as_slice() else {
        return Err(format!(
            "the intent is one transfer, but {} transfers leave your accounts",
            leaving.len()
        ));
    };
    match (transfer, mint) {
        (Effect::SolTransfer { to, lamports, .. }, None) => {
            if to.address.known() != Some(destination) {
                return Err(format!("the SOL goes to {}, not {destination}", to.address));
            }
            if *lamports != amount {
                return Err(format!(
                    "the transfer is {lamports} lamports, not the intended {amount}"
                ));
            }
            Ok(*index)
        }
        (
            Effect::TokenTransfer {
                destination: to,
                mint: got_mint,
                amount: got,
                ..
            },
            Some(mint),
        ) => {
            if known(got_mint.as_ref()) != Some(mint) {
                return Err(format!(
                    "the transfer's mint is {}, not {mint}",
                    mint_text(got_mint.as_ref())
                ));
            }
            let to_key = to.address.known();
            let recipient_ok = to_key == Some(destination)
                || [TOKEN_PROGRAM, TOKEN_2022_PROGRAM].iter().any(|p| {
                    to_key.is_some()
                        && associated_token_address(destination, mint, p).as_ref() == to_key
                });
            if !recipient_ok {
                return Err(format!(
                    "the tokens go to {}, which is not {destination} or its token account",
                    to.address
                ));
            }
            if *got != amount {
                return Err(format!(
                    "the transfer is {got} base units, not the intended {amount}"
                ));
            }
            Ok(*index)
        }
        (Effect::SolTransfer { .. }, Some(m)) if *m == NATIVE_MINT => Err(
            "the intent names wrapped SOL, but the transfer moves native SOL; state no mint for SOL"
                .to_owned(),
        ),
        (Effect::SolTransfer { .. }, Some(_)) => {
            Err("the intent is a token transfer, but SOL leaves".to_owned())
        }
        _ => Err("the intent is a SOL transfer, but tokens leave".to_owned()),
    }
}

/// The JSON form of an intent, for the command line:
/// `{"swap": {"input_mint": "<b58>", "output_mint": "<b58>", "max_amount_in": N,
/// "min_amount_out": N}}` or `{"transfer": {"destination": "<b58>", "mint": "<b58>" | null,
/// "amount": N}}`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum IntentJson {
    Swap {
        input_mint: String,
        output_mint: String,
        max_amount_in: u64,
        min_amount_out: u64,
    },
    Transfer {
        destination: String,
        #[serde(default)]
        mint: Option<String>,
        amount: u64,
    },
}

impl Intent {
    /// Parses the JSON form (see [`Intent`]); errors name the bad field.
    pub fn from_json(s: &str) -> Result<Self, String> {
        let raw: IntentJson = serde_json::from_str(s).map_err(|e| format!("intent: {e}"))?;
        let key = |field: &str, v: &str| -> Result<Pubkey, String> {
            v.parse()
                .map_err(|_| format!("intent: {field} {v:?} is not a base58 address"))
        };
        Ok(match raw {
            IntentJson::Swap {
                input_mint,
                output_mint,
                max_amount_in,
                min_amount_out,
            } => Intent::Swap {
                input_mint: key("input_mint", &input_mint)?,
                output_mint: key("output_mint", &output_mint)?,
                max_amount_in,
                min_amount_out,
            },
            IntentJson::Transfer {
                destination,
                mint,
                amount,
            } => Intent::Transfer {
                destination: key("destination", &destination)?,
                mint: mint.map(|m| key("mint", &m)).transpose()?,
                amount,
            },
        })
    }
}
