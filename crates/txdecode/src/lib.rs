//! Custos transaction decoder.
//!
//! The signer uses this crate to understand each Solana transaction before signing it. It
//! holds no key material and does no I/O. Layers, one job each:
//!
//! - [`wire`]: strict parsing of legacy, v0 and V1 transactions and bare messages;
//! - [`lookup`]: caller-supplied address lookup tables and account resolution;
//! - [`programs`]: one decoder per program (System, Token / Token-2022, Associated Token,
//!   ComputeBudget, Memo, Address Lookup Table, Stake, Jupiter v6 routes), producing [`Effect`]s;
//! - [`policy`]: ownership and verdicts ([`assess`]);
//! - [`describe`]: human-readable text.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod describe;
pub mod effects;
pub mod error;
pub mod intent;
pub mod lookup;
pub mod ownership;
pub mod policy;
pub mod programs;
pub mod text;
pub mod tokens;
pub mod wire;

/// A Solana address.
pub type Pubkey = solana_address::Address;

pub use effects::{
    Addr, ComputeBudgetSetting, Effect, LookupTableAction, NonceAction, Party, StakeAction,
    StakeRole, SwapAmount, SwapQuote, TokenConfigKind, TokenProgram,
};
pub use error::{DecodeError, LookupError};
pub use intent::Intent;
pub use lookup::LookupTables;
pub use ownership::associated_token_address;
pub use policy::{
    assess, assess_with_intent, Assessment, Context, FeeSummary, PolicyConfig, UnknownPrograms,
    Verdict,
};
pub use wire::{ParsedTransaction, TxVersion};
