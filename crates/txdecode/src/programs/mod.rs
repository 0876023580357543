//! One decoder per program, keyed on program id (then on the instruction tag inside each
//! decoder). Decoders are pure: bytes and account addresses in, effects out.

pub mod ata;
pub mod compute_budget;
pub mod jupiter;
pub mod lookup_table;
pub mod memo;
pub mod meteora_damm_v1;
pub mod meteora_damm_v2;
pub mod meteora_dbc;
pub mod meteora_dlmm;
pub mod orca_whirlpool;
pub mod precompile;
pub mod pump_fun;
pub mod pump_swap;
pub mod raydium_amm_v4;
pub mod raydium_clmm;
pub mod raydium_cpmm;
pub mod raydium_launchpad;
pub mod stake;
pub mod system;
pub mod token;

use crate::effects::{Addr, Effect, Party, SwapAmount, TokenProgram};
use crate::Pubkey;

/// System program.
pub const SYSTEM_PROGRAM: Pubkey = Pubkey::from_str_const("11111111111111111111111111111111");
/// SPL Token program.
pub const TOKEN_PROGRAM: Pubkey =
    Pubkey::from_str_const("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
/// Token-2022 program.
pub const TOKEN_2022_PROGRAM: Pubkey =
    Pubkey::from_str_const("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");
/// Associated Token Account program.
pub const ATA_PROGRAM: Pubkey =
    Pubkey::from_str_const("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");
/// ComputeBudget program.
pub const COMPUTE_BUDGET_PROGRAM: Pubkey =
    Pubkey::from_str_const("ComputeBudget111111111111111111111111111111");
/// Memo program v2.
pub const MEMO_PROGRAM: Pubkey =
    Pubkey::from_str_const("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");
/// Memo program v1.
pub const MEMO_V1_PROGRAM: Pubkey =
    Pubkey::from_str_const("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo");
/// BPF upgradeable loader.
pub const BPF_UPGRADEABLE_LOADER: Pubkey =
    Pubkey::from_str_const("BPFLoaderUpgradeab1e11111111111111111111111");
/// Address Lookup Table program.
pub const ADDRESS_LOOKUP_TABLE_PROGRAM: Pubkey =
    Pubkey::from_str_const("AddressLookupTab1e1111111111111111111111111");
/// Stake program.
pub const STAKE_PROGRAM: Pubkey =
    Pubkey::from_str_const("Stake11111111111111111111111111111111111111");
/// Jupiter aggregator v6.
pub const JUPITER_V6_PROGRAM: Pubkey =
    Pubkey::from_str_const("JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4");
/// Raydium AMM v4 (legacy OpenBook-backed AMM).
pub const RAYDIUM_AMM_V4_PROGRAM: Pubkey =
    Pubkey::from_str_const("675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8");
/// Raydium CPMM (constant product, Token-2022 aware).
pub const RAYDIUM_CPMM_PROGRAM: Pubkey =
    Pubkey::from_str_const("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C");
/// Raydium CLMM (concentrated liquidity).
pub const RAYDIUM_CLMM_PROGRAM: Pubkey =
    Pubkey::from_str_const("CAMMCzo5YL8w4VFF8KVHrK22GGUsp5VTaW7grrKgrWqK");
/// Raydium Launchpad (LaunchLab bonding curves).
pub const RAYDIUM_LAUNCHPAD_PROGRAM: Pubkey =
    Pubkey::from_str_const("LanMV9sAd7wArD4vJFi2qDdfnVhFxYSUg6eADduJ3uj");
/// Pump.fun bonding curve.
pub const PUMP_FUN_PROGRAM: Pubkey =
    Pubkey::from_str_const("6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P");
/// PumpSwap AMM.
pub const PUMP_SWAP_PROGRAM: Pubkey =
    Pubkey::from_str_const("pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA");
/// Orca Whirlpool.
pub const ORCA_WHIRLPOOL_PROGRAM: Pubkey =
    Pubkey::from_str_const("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc");
/// Meteora DLMM.
pub const METEORA_DLMM_PROGRAM: Pubkey =
    Pubkey::from_str_const("LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo");
/// Meteora DAMM v1 (dynamic AMM pools).
pub const METEORA_DAMM_V1_PROGRAM: Pubkey =
    Pubkey::from_str_const("Eo7WjKq67rjJQSZxS6z3YkapzY3eMj6Xy8X5EQVn5UaB");
/// Meteora DAMM v2 (CP-AMM).
pub const METEORA_DAMM_V2_PROGRAM: Pubkey =
    Pubkey::from_str_const("cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG");
/// Meteora Dynamic Bonding Curve.
pub const METEORA_DBC_PROGRAM: Pubkey =
    Pubkey::from_str_const("dbcij3LWUppWqq96dh6gJWwBifmcGfLSB5D4DuSMaqN");
/// Ed25519 signature-verification precompile.
pub const ED25519_PRECOMPILE: Pubkey =
    Pubkey::from_str_const("Ed25519SigVerify111111111111111111111111111");
/// secp256k1 (Ethereum-style) signature-verification precompile.
pub const SECP256K1_PRECOMPILE: Pubkey =
    Pubkey::from_str_const("KeccakSecp256k11111111111111111111111111111");
/// secp256r1 (P-256) signature-verification precompile.
pub const SECP256R1_PRECOMPILE: Pubkey =
    Pubkey::from_str_const("Secp256r1SigVerify1111111111111111111111111");
/// Wrapped SOL mint.
pub const NATIVE_MINT: Pubkey =
    Pubkey::from_str_const("So11111111111111111111111111111111111111112");

/// Why an instruction of a known program does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstructionError {
    /// The instruction data is shorter than its layout.
    #[error("instruction data too short")]
    DataTooShort,
    /// The instruction data is longer than its layout.
    #[error("unexpected trailing instruction data")]
    TrailingData,
    /// Empty instruction data where a tag is needed.
    #[error("empty instruction data")]
    EmptyData,
    /// A tag this decoder does not know or support.
    #[error("unsupported instruction tag {0}")]
    UnsupportedTag(u32),
    /// Fewer accounts than the instruction needs.
    #[error("instruction needs {needed} accounts, has {got}")]
    NotEnoughAccounts {
        /// Accounts required.
        needed: usize,
        /// Accounts present.
        got: usize,
    },
    /// An account index points outside the transaction's accounts.
    #[error("account index {0} out of range")]
    AccountIndexOutOfRange(u8),
    /// An Anchor instruction whose 8-byte discriminator this decoder does not support
    /// (shown in byte order, hex).
    #[error("unsupported instruction discriminator {0:016x}")]
    UnsupportedDiscriminator(u64),
    /// An option tag other than 0 or 1.
    #[error("invalid option tag {0}")]
    InvalidOption(u8),
    /// A seed or memo that is not valid UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A seed longer than 32 bytes.
    #[error("seed longer than 32 bytes")]
    SeedTooLong,
    /// The deprecated ComputeBudget RequestUnits (tag 0), refused by the runtime.
    #[error("deprecated instruction")]
    Deprecated,
    /// A length prefix outside the allowed range (e.g. an empty or oversized address list).
    #[error("invalid length {0}")]
    InvalidLength(u64),
    /// An enum value outside its range (e.g. a StakeAuthorize other than 0 or 1).
    #[error("invalid enum value {0}")]
    InvalidEnum(u32),
    /// A token Batch with no entries.
    #[error("empty token batch")]
    EmptyBatch,
    /// A token Batch inside a token Batch (the token program refuses it).
    #[error("token batch nested inside a batch")]
    NestedBatch,
    /// An entry of a token Batch does not decode.
    #[error("batch entry {entry}: {error}")]
    BatchEntry {
        /// Position of the entry inside the batch (from 0).
        entry: usize,
        /// Why it does not decode.
        error: Box<InstructionError>,
    },
}

/// Little-endian reader over instruction data with bounds checks.
pub(crate) struct Data<'a> {
    rest: &'a [u8],
}

impl<'a> Data<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    pub(crate) fn bytes<const N: usize>(&mut self) -> Result<[u8; N], InstructionError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(InstructionError::DataTooShort)?;
        self.rest = tail;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, InstructionError> {
        Ok(self.bytes::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, InstructionError> {
        Ok(u32::from_le_bytes(self.bytes::<4>()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, InstructionError> {
        Ok(u64::from_le_bytes(self.bytes::<8>()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, InstructionError> {
        Ok(i64::from_le_bytes(self.bytes::<8>()?))
    }

    /// A bincode `Option<T>`: a 0/1 tag, then the value when 1.
    pub(crate) fn option<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, InstructionError>,
    ) -> Result<Option<T>, InstructionError> {
        match self.u8()? {
            0 => Ok(None),
            1 => read(self).map(Some),
            other => Err(InstructionError::InvalidOption(other)),
        }
    }

    pub(crate) fn pubkey(&mut self) -> Result<Pubkey, InstructionError> {
        Ok(Pubkey::new_from_array(self.bytes::<32>()?))
    }

    /// A byte slice of `len` bytes.
    pub(crate) fn slice(&mut self, len: usize) -> Result<&'a [u8], InstructionError> {
        if len > self.rest.len() {
            return Err(InstructionError::DataTooShort);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub(crate) fn u16(&mut self) -> Result<u16, InstructionError> {
        Ok(u16::from_le_bytes(self.bytes::<2>()?))
    }

    /// A borsh `bool`: 0 or 1, anything else is refused (as Anchor's deserializer does).
    pub(crate) fn bool(&mut self) -> Result<bool, InstructionError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(InstructionError::InvalidEnum(u32::from(other))),
        }
    }

    /// Requires that all data was consumed.
    pub(crate) fn finish(self) -> Result<(), InstructionError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(InstructionError::TrailingData)
        }
    }
}

/// The accounts of one instruction, resolved to addresses.
pub(crate) struct Accounts<'a> {
    list: &'a [Addr],
}

impl<'a> Accounts<'a> {
    pub(crate) fn new(list: &'a [Addr]) -> Self {
        Self { list }
    }

    /// The accounts from position `start` on (empty when there are fewer).
    pub(crate) fn rest(&self, start: usize) -> Vec<Addr> {
        self.list
            .get(start..)
            .map(<[Addr]>::to_vec)
            .unwrap_or_default()
    }

    /// Number of accounts.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Fails unless at least `n` accounts are present.
    pub(crate) fn require(&self, n: usize) -> Result<(), InstructionError> {
        if self.list.len() < n {
            Err(InstructionError::NotEnoughAccounts {
                needed: n,
                got: self.list.len(),
            })
        } else {
            Ok(())
        }
    }

    pub(crate) fn addr(&self, i: usize) -> Result<Addr, InstructionError> {
        self.list
            .get(i)
            .cloned()
            .ok_or(InstructionError::NotEnoughAccounts {
                needed: i.saturating_add(1),
                got: self.list.len(),
            })
    }

    /// The `len` accounts starting at `start`, as the accounts of an inner instruction.
    pub(crate) fn range(&self, start: usize, len: usize) -> Result<Accounts<'a>, InstructionError> {
        let end = start.saturating_add(len);
        self.list
            .get(start..end)
            .map(Accounts::new)
            .ok_or(InstructionError::NotEnoughAccounts {
                needed: end,
                got: self.list.len(),
            })
    }

    pub(crate) fn party(&self, i: usize) -> Result<Party, InstructionError> {
        self.addr(i).map(Party::new)
    }

    /// An Anchor optional account: `None` when the slot holds `program` itself (Anchor's
    /// placeholder for an absent optional account).
    pub(crate) fn optional(
        &self,
        i: usize,
        program: &Pubkey,
    ) -> Result<Option<Addr>, InstructionError> {
        let a = self.addr(i)?;
        Ok((a.known() != Some(program)).then_some(a))
    }
}

/// The programs this crate knows by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// System program.
    System,
    /// SPL Token or Token-2022.
    Token(TokenProgram),
    /// Associated Token Account program.
    AssociatedToken,
    /// ComputeBudget program.
    ComputeBudget,
    /// Memo v1 or v2.
    Memo,
    /// BPF upgradeable loader (always refused).
    UpgradeableLoader,
    /// Jupiter aggregator v6 (route instructions only).
    JupiterV6,
    /// Address Lookup Table program.
    AddressLookupTable,
    /// Stake program.
    Stake,
    /// Raydium AMM v4.
    RaydiumAmmV4,
    /// Raydium CPMM.
    RaydiumCpmm,
    /// Raydium CLMM.
    RaydiumClmm,
    /// Raydium Launchpad.
    RaydiumLaunchpad,
    /// Pump.fun bonding curve.
    PumpFun,
    /// PumpSwap AMM.
    PumpSwap,
    /// Orca Whirlpool.
    OrcaWhirlpool,
    /// Meteora DLMM.
    MeteoraDlmm,
    /// Meteora DAMM v1.
    MeteoraDammV1,
    /// Meteora DAMM v2.
    MeteoraDammV2,
    /// Meteora Dynamic Bonding Curve.
    MeteoraDbc,
    /// A signature-verification precompile.
    Precompile(precompile::Kind),
}

impl Program {
    /// Looks a program id up.
    pub fn from_id(id: &Pubkey) -> Option<Self> {
        if *id == SYSTEM_PROGRAM {
            Some(Program::System)
        } else if *id == TOKEN_PROGRAM {
            Some(Program::Token(TokenProgram::Token))
        } else if *id == TOKEN_2022_PROGRAM {
            Some(Program::Token(TokenProgram::Token2022))
        } else if *id == ATA_PROGRAM {
            Some(Program::AssociatedToken)
        } else if *id == COMPUTE_BUDGET_PROGRAM {
            Some(Program::ComputeBudget)
        } else if *id == MEMO_PROGRAM || *id == MEMO_V1_PROGRAM {
            Some(Program::Memo)
        } else if *id == BPF_UPGRADEABLE_LOADER {
            Some(Program::UpgradeableLoader)
        } else if *id == JUPITER_V6_PROGRAM {
            Some(Program::JupiterV6)
        } else if *id == ADDRESS_LOOKUP_TABLE_PROGRAM {
            Some(Program::AddressLookupTable)
        } else if *id == STAKE_PROGRAM {
            Some(Program::Stake)
        } else if *id == ED25519_PRECOMPILE {
            Some(Program::Precompile(precompile::Kind::Ed25519))
        } else if *id == SECP256K1_PRECOMPILE {
            Some(Program::Precompile(precompile::Kind::Secp256k1))
        } else if *id == SECP256R1_PRECOMPILE {
            Some(Program::Precompile(precompile::Kind::Secp256r1))
        } else {
            Self::dex_from_id(id)
        }
    }

    fn dex_from_id(id: &Pubkey) -> Option<Self> {
        const DEXES: [(Pubkey, Program); 11] = [
            (RAYDIUM_AMM_V4_PROGRAM, Program::RaydiumAmmV4),
            (RAYDIUM_CPMM_PROGRAM, Program::RaydiumCpmm),
            (RAYDIUM_CLMM_PROGRAM, Program::RaydiumClmm),
            (RAYDIUM_LAUNCHPAD_PROGRAM, Program::RaydiumLaunchpad),
            (PUMP_FUN_PROGRAM, Program::PumpFun),
            (PUMP_SWAP_PROGRAM, Program::PumpSwap),
            (ORCA_WHIRLPOOL_PROGRAM, Program::OrcaWhirlpool),
            (METEORA_DLMM_PROGRAM, Program::MeteoraDlmm),
            (METEORA_DAMM_V1_PROGRAM, Program::MeteoraDammV1),
            (METEORA_DAMM_V2_PROGRAM, Program::MeteoraDammV2),
            (METEORA_DBC_PROGRAM, Program::MeteoraDbc),
        ];
        DEXES.iter().find(|(k, _)| k == id).map(|(_, p)| *p)
    }
}

/// Splits Anchor instruction data into its 8-byte discriminator
/// (`sha256("global:<name>")[..8]`) and the arguments that follow.
pub(crate) fn anchor(data: &[u8]) -> Result<([u8; 8], &[u8]), InstructionError> {
    data.split_first_chunk::<8>()
        .map(|(d, rest)| (*d, rest))
        .ok_or(InstructionError::DataTooShort)
}

/// The error for an Anchor discriminator no decoder supports.
pub(crate) fn unsupported_discriminator(d: [u8; 8]) -> InstructionError {
    InstructionError::UnsupportedDiscriminator(u64::from_be_bytes(d))
}

/// A direct DEX swap as the per-program decoders see it; [`DexSwap::effect`] turns it into
/// an [`Effect::Swap`] with no aggregator quote and no platform fee.
#[allow(dead_code)] // used by the DEX decoders as they land
pub(crate) struct DexSwap {
    /// Instruction name, e.g. `"raydium cpmm swap_base_input"`.
    pub instruction: &'static str,
    /// The user's signer authorising the debit.
    pub authority: Addr,
    /// Debited account (token account, or the wallet for native SOL).
    pub source: Addr,
    /// Credited account (token account, or the wallet for native SOL).
    pub destination: Addr,
    /// Input mint, when the instruction names it (the native mint for SOL).
    pub source_mint: Option<Addr>,
    /// Output mint, when the instruction names it (the native mint for SOL).
    pub destination_mint: Option<Addr>,
    /// Mints named without a side (the pool's two mints).
    pub pool_mints: Vec<Addr>,
    /// What may leave `source`.
    pub amount_in: SwapAmount,
    /// What must arrive in `destination`.
    pub amount_out: SwapAmount,
}

#[allow(dead_code)]
impl DexSwap {
    /// The swap as an effect.
    pub(crate) fn effect(self) -> Effect {
        Effect::Swap {
            instruction: self.instruction,
            authority: Party::new(self.authority),
            source: Party::new(self.source),
            destination: Party::new(self.destination),
            source_mint: self.source_mint,
            destination_mint: self.destination_mint,
            pool_mints: self.pool_mints,
            amount_in: self.amount_in,
            amount_out: self.amount_out,
            quote: None,
            platform_fee_bps: 0,
            platform_fee_account: None,
        }
    }
}

/// Arguments that are exactly two `u64`s, as most swap instructions take.
pub(crate) fn two_u64(args: &[u8]) -> Result<(u64, u64), InstructionError> {
    let mut d = Data::new(args);
    let first = d.u64()?;
    let second = d.u64()?;
    d.finish()?;
    Ok((first, second))
}

/// Input and output bounds of a swap that fixes one side: exactly `input` for at least
/// `output` when `exact_in`, otherwise at most `input` for exactly `output`.
pub(crate) fn one_side_exact(exact_in: bool, input: u64, output: u64) -> (SwapAmount, SwapAmount) {
    if exact_in {
        (SwapAmount::Exact(input), SwapAmount::AtLeast(output))
    } else {
        (SwapAmount::AtMost(input), SwapAmount::Exact(output))
    }
}

/// Meteora's `SwapMode` (the `swap2` argument of DAMM v2 and the Dynamic Bonding Curve):
/// `ExactIn`, `PartialFill`, `ExactOut`.
pub(crate) const METEORA_EXACT_IN: u8 = 0;
const METEORA_PARTIAL_FILL: u8 = 1;
const METEORA_EXACT_OUT: u8 = 2;

/// Input and output bounds of a Meteora swap by its `SwapMode`: exactly `amount_0` in for
/// at least `amount_1` out; at most `amount_0` in (a partial fill) for at least `amount_1`
/// out; at most `amount_1` in for exactly `amount_0` out.
pub(crate) fn meteora_swap_mode_bounds(
    amount_0: u64,
    amount_1: u64,
    mode: u8,
) -> Result<(SwapAmount, SwapAmount), InstructionError> {
    match mode {
        METEORA_EXACT_IN => Ok(one_side_exact(true, amount_0, amount_1)),
        METEORA_PARTIAL_FILL => Ok((SwapAmount::AtMost(amount_0), SwapAmount::AtLeast(amount_1))),
        METEORA_EXACT_OUT => Ok(one_side_exact(false, amount_1, amount_0)),
        other => Err(InstructionError::InvalidEnum(u32::from(other))),
    }
}

/// Decodes one instruction into effects. Never fails: undecodable instructions become
/// [`Effect::Malformed`], unknown programs [`Effect::UnknownProgram`].
pub(crate) fn decode_instruction(
    instruction_index: usize,
    program: &Addr,
    accounts: &[Addr],
    data: &[u8],
) -> Vec<Effect> {
    let Some(kind) = program.known().and_then(Program::from_id) else {
        return vec![Effect::UnknownProgram {
            instruction_index,
            program: program.clone(),
        }];
    };
    let accounts = Accounts::new(accounts);
    let result = match kind {
        Program::System => system::decode(&accounts, data),
        Program::Token(p) => token::decode(p, &accounts, data),
        Program::AssociatedToken => ata::decode(&accounts, data),
        Program::ComputeBudget => compute_budget::decode(data),
        Program::Memo => memo::decode(data),
        Program::UpgradeableLoader => Ok(vec![Effect::ProgramUpgrade { instruction_index }]),
        Program::JupiterV6 => jupiter::decode(&accounts, data),
        Program::AddressLookupTable => lookup_table::decode(&accounts, data),
        Program::Stake => stake::decode(&accounts, data),
        Program::RaydiumAmmV4 => raydium_amm_v4::decode(&accounts, data),
        Program::RaydiumCpmm => raydium_cpmm::decode(&accounts, data),
        Program::RaydiumClmm => raydium_clmm::decode(&accounts, data),
        Program::RaydiumLaunchpad => raydium_launchpad::decode(&accounts, data),
        Program::PumpFun => pump_fun::decode(&accounts, data),
        Program::PumpSwap => pump_swap::decode(&accounts, data),
        Program::OrcaWhirlpool => orca_whirlpool::decode(&accounts, data),
        Program::MeteoraDlmm => meteora_dlmm::decode(&accounts, data),
        Program::MeteoraDammV1 => meteora_damm_v1::decode(&accounts, data),
        Program::MeteoraDammV2 => meteora_damm_v2::decode(&accounts, data),
        Program::MeteoraDbc => meteora_dbc::decode(&accounts, data),
        Program::Precompile(kind) => precompile::decode(kind, data),
    };
    result.unwrap_or_else(|e| {
        vec![Effect::Malformed {
            instruction_index,
            program: program.clone(),
            unsupported: matches!(
                e,
                InstructionError::UnsupportedTag(_) | InstructionError::UnsupportedDiscriminator(_)
            ),
            error: e.to_string(),
        }]
    })
}

/// A short, human name for well-known program ids (for messages only).
pub fn program_name(id: &Pubkey) -> Option<&'static str> {
    const NAMES: &[(&str, &str)] = &[
        ("11111111111111111111111111111111", "System"),
        ("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", "Token"),
        ("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb", "Token-2022"),
        (
            "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",
            "Associated Token",
        ),
        (
            "ComputeBudget111111111111111111111111111111",
            "ComputeBudget",
        ),
        ("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr", "Memo"),
        ("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo", "Memo v1"),
        (
            "BPFLoaderUpgradeab1e11111111111111111111111",
            "BPF upgradeable loader",
        ),
        (
            "AddressLookupTab1e1111111111111111111111111",
            "Address Lookup Table",
        ),
        ("Stake11111111111111111111111111111111111111", "Stake"),
        (
            "Ed25519SigVerify111111111111111111111111111",
            "Ed25519 precompile",
        ),
        (
            "KeccakSecp256k11111111111111111111111111111",
            "secp256k1 precompile",
        ),
        (
            "Secp256r1SigVerify1111111111111111111111111",
            "secp256r1 precompile",
        ),
        ("Vote111111111111111111111111111111111111111", "Vote"),
        ("JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4", "Jupiter v6"),
        (
            "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8",
            "Raydium AMM v4",
        ),
        (
            "CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C",
            "Raydium CPMM",
        ),
        (
            "CAMMCzo5YL8w4VFF8KVHrK22GGUsp5VTaW7grrKgrWqK",
            "Raydium CLMM",
        ),
        ("6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P", "Pump.fun"),
        (
            "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA",
            "PumpSwap AMM",
        ),
        (
            "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc",
            "Orca Whirlpool",
        ),
        (
            "LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo",
            "Meteora DLMM",
        ),
        (
            "cpamdpZCGKUy5JxQXB4dcpGPiikHawvSWAd6mEn1sGG",
            "Meteora DAMM v2",
        ),
        ("SPoo1Ku8WFXoNDMHPsrGSTSG1Y47rzgn41SLUNakuHy", "Stake Pool"),
        (
            "LanMV9sAd7wArD4vJFi2qDdfnVhFxYSUg6eADduJ3uj",
            "Raydium Launchpad",
        ),
        (
            "Eo7WjKq67rjJQSZxS6z3YkapzY3eMj6Xy8X5EQVn5UaB",
            "Meteora DAMM v1",
        ),
        ("dbcij3LWUppWqq96dh6gJWwBifmcGfLSB5D4DuSMaqN", "Meteora DBC"),
    ];
    let s = id.to_string();
    NAMES.iter().find(|(k, _)| *k == s).map(|(_, n)| *n)
}
