//! ComputeBudget program (`ComputeBudget111111111111111111111111111111`): u8 tag 1-4.

use super::{Data, InstructionError};
use crate::effects::{ComputeBudgetSetting, Effect};

/// Decodes one ComputeBudget instruction.
pub(crate) fn decode(data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let mut d = Data::new(data);
    let tag = d.u8().map_err(|_| InstructionError::EmptyData)?;
    let setting = match tag {
        0 => return Err(InstructionError::Deprecated),
        1 => ComputeBudgetSetting::HeapFrame(d.u32()?),
        2 => ComputeBudgetSetting::UnitLimit(d.u32()?),
        3 => ComputeBudgetSetting::UnitPrice(d.u64()?),
        4 => ComputeBudgetSetting::LoadedAccountsDataSizeLimit(d.u32()?),
        other => return Err(InstructionError::UnsupportedTag(u32::from(other))),
    };
    d.finish()?;
    Ok(vec![Effect::ComputeBudget { setting }])
}
