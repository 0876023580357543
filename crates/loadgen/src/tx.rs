//! Hand-built legacy Solana transactions of the shape the default policy
//! signs at once: a SOL transfer between two wallets of the same user.

/// Size of an Ed25519 public key / Solana address.
pub const KEY_LEN: usize = 32;

/// Length of the message built by [`transfer_message`] (150 bytes).
pub const MESSAGE_LEN: usize = 3 + 1 + 3 * KEY_LEN + 32 + 1 + 5 + 12;

/// The message of a legacy System Program transfer of `lamports` from `from`
/// to `to`. `blockhash` may be any 32 bytes: the signer does not check it.
pub fn transfer_message(
    from: &[u8; KEY_LEN],
    to: &[u8; KEY_LEN],
    blockhash: &[u8; 32],
    lamports: u64,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(MESSAGE_LEN);
    // Header: 1 required signature, 0 read-only signed, 1 read-only unsigned.
    m.extend_from_slice(&[1, 0, 1]);
    // Three account keys: from (signer, writable), to (writable), system program.
    m.push(3);
    m.extend_from_slice(from);
    m.extend_from_slice(to);
    m.extend_from_slice(&[0u8; KEY_LEN]);
    m.extend_from_slice(blockhash);
    // One instruction: program index 2, accounts [0, 1], 12 bytes of data.
    m.push(1);
    m.extend_from_slice(&[2, 2, 0, 1, 12]);
    // SystemInstruction::Transfer (index 2, u32 LE) + lamports (u64 LE).
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&lamports.to_le_bytes());
    debug_assert_eq!(m.len(), MESSAGE_LEN);
    m
}

/// The unsigned wire transaction (one zeroed signature slot) around
/// [`transfer_message`]: 215 bytes.
pub fn transfer_transaction(
    from: &[u8; KEY_LEN],
    to: &[u8; KEY_LEN],
    blockhash: &[u8; 32],
    lamports: u64,
) -> Vec<u8> {
    let mut tx = Vec::with_capacity(1 + 64 + MESSAGE_LEN);
    tx.push(1);
    tx.extend_from_slice(&[0u8; 64]);
    tx.extend_from_slice(&transfer_message(from, to, blockhash, lamports));
    tx
}

/// Decodes a base58 Solana address.
pub fn decode_pubkey(s: &str) -> Result<[u8; KEY_LEN], String> {
    let mut out = [0u8; KEY_LEN];
    match bs58::decode(s).onto(&mut out) {
        Ok(KEY_LEN) => Ok(out),
        _ => Err(format!("server returned a malformed wallet address '{s}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_lengths() {
        let tx = transfer_transaction(&[1; 32], &[2; 32], &[3; 32], 42);
        assert_eq!(tx.len(), 215);
        assert_eq!(tx[0], 1);
        assert_eq!(&tx[65..68], &[1, 0, 1]);
        assert_eq!(&tx[tx.len() - 8..], &42u64.to_le_bytes());
    }
}
