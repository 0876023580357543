//! PumpSwap AMM: swap instructions (not decoded yet: every instruction is unsupported).

use super::{Accounts, InstructionError};
use crate::effects::Effect;

/// Decodes one PumpSwap AMM instruction.
pub(crate) fn decode(_a: &Accounts<'_>, data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let (d, _args) = super::anchor(data)?;
    Err(super::unsupported_discriminator(d))
}
