//! Memo program (v1 `Memo1UhkJ...` and v2 `MemoSq4gq...`): the data is UTF-8 text.

use super::InstructionError;
use crate::effects::Effect;

/// Decodes one Memo instruction.
pub(crate) fn decode(data: &[u8]) -> Result<Vec<Effect>, InstructionError> {
    let text = std::str::from_utf8(data).map_err(|_| InstructionError::InvalidUtf8)?;
    Ok(vec![Effect::Memo {
        text: text.to_owned(),
    }])
}
