//! Strict parsing of address lookup table accounts.
//!
//! The layout is that of `solana-address-lookup-table-interface` (`state.rs`): the
//! account data starts with the bincode/wincode encoding of
//! `ProgramState::LookupTable(LookupTableMeta)`, zero-padded to
//! `LOOKUP_TABLE_META_SIZE` = 56 bytes, followed by the addresses, 32 bytes each:
//!
//! ```text
//! offset  size  field
//!      0     4  u32 LE discriminator: 0 = Uninitialized, 1 = LookupTable
//!      4     8  u64 LE deactivation_slot (u64::MAX while active)
//!     12     8  u64 LE last_extended_slot
//!     20     1  u8 last_extended_slot_start_index
//!     21     1  Option tag of the authority: 0 = None (frozen), 1 = Some
//!     22    32  authority, only when the tag is 1
//!  22/54     2  u16 padding
//!      .     .  zeros up to offset 56
//!     56  32*n  addresses
//! ```
//!
//! A frozen table (no authority) encodes to 24 bytes and the rest of the meta area
//! stays zero, so the addresses always start at offset 56.

use custos_ipc::signer::PublicKey;

/// The Address Lookup Table program, `AddressLookupTab1e1111111111111111111111111`.
pub const PROGRAM_ID: PublicKey = [
    2, 119, 166, 175, 151, 51, 155, 122, 200, 141, 24, 146, 201, 4, 70, 245, 0, 2, 48, 146, 102,
    246, 46, 83, 193, 24, 36, 73, 130, 0, 0, 0,
];
/// Size of the metadata area before the first address.
pub const META_SIZE: usize = 56;
/// Most addresses a table can hold.
pub const MAX_ADDRESSES: usize = 256;
/// Largest valid account: metadata plus 256 addresses.
pub const MAX_ACCOUNT_SIZE: usize = META_SIZE + MAX_ADDRESSES * 32;

/// Discriminator of `ProgramState::LookupTable`.
const LOOKUP_TABLE: u32 = 1;
/// Discriminator of `ProgramState::Uninitialized`.
const UNINITIALIZED: u32 = 0;

/// Why account data is not a usable lookup table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AltError {
    /// The account is not owned by the Address Lookup Table program.
    #[error("account is owned by {0}, not by the Address Lookup Table program")]
    WrongOwner(String),
    /// Shorter than the metadata area.
    #[error("account data is {0} bytes, shorter than the {META_SIZE}-byte lookup table header")]
    Truncated(usize),
    /// Longer than a table can be.
    #[error("account data is {0} bytes, more than a lookup table of {MAX_ADDRESSES} addresses")]
    TooLarge(usize),
    /// The table account was created but never initialised.
    #[error("lookup table account is uninitialized")]
    Uninitialized,
    /// Neither `Uninitialized` nor `LookupTable`.
    #[error("unknown lookup table account discriminator {0}")]
    BadDiscriminator(u32),
    /// The authority's Option tag is neither 0 nor 1.
    #[error("invalid authority tag {0} in lookup table header")]
    BadAuthorityTag(u8),
    /// The address area is not a whole number of addresses.
    #[error("lookup table address area of {0} bytes is not a multiple of 32")]
    Misaligned(usize),
}

/// Returns the addresses of a lookup table account, in table order, after checking
/// the owner and the layout. Deactivated tables are returned too: their contents do
/// not change, and a transaction using one fails on chain anyway.
pub fn parse(owner: &PublicKey, data: &[u8]) -> Result<Vec<PublicKey>, AltError> {
    if *owner != PROGRAM_ID {
        return Err(AltError::WrongOwner(bs58::encode(owner).into_string()));
    }
    if data.len() > MAX_ACCOUNT_SIZE {
        return Err(AltError::TooLarge(data.len()));
    }
    let (meta, tail) = match (data.get(..META_SIZE), data.get(META_SIZE..)) {
        (Some(meta), Some(tail)) => (meta, tail),
        _ => return Err(AltError::Truncated(data.len())),
    };
    let mut discriminator = [0u8; 4];
    discriminator.copy_from_slice(&meta[..4]);
    match u32::from_le_bytes(discriminator) {
        LOOKUP_TABLE => {}
        UNINITIALIZED => return Err(AltError::Uninitialized),
        other => return Err(AltError::BadDiscriminator(other)),
    }
    match meta[21] {
        0 | 1 => {}
        tag => return Err(AltError::BadAuthorityTag(tag)),
    }
    if tail.len() % 32 != 0 {
        return Err(AltError::Misaligned(tail.len()));
    }
    Ok(tail
        .chunks_exact(32)
        .map(|c| {
            let mut a = [0u8; 32];
            a.copy_from_slice(c);
            a
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Account data as the program writes it.
    pub(crate) fn table_data(authority: Option<PublicKey>, addresses: &[PublicKey]) -> Vec<u8> {
        let mut d = Vec::with_capacity(META_SIZE + 32 * addresses.len());
        d.extend_from_slice(&LOOKUP_TABLE.to_le_bytes());
        d.extend_from_slice(&u64::MAX.to_le_bytes());
        d.extend_from_slice(&123u64.to_le_bytes());
        d.push(0);
        match authority {
            Some(a) => {
                d.push(1);
                d.extend_from_slice(&a);
            }
            None => d.push(0),
        }
        d.extend_from_slice(&[0, 0]);
        d.resize(META_SIZE, 0);
        for a in addresses {
            d.extend_from_slice(a);
        }
        d
    }

    #[test]
    fn program_id_is_the_address_lookup_table_program() {
        assert_eq!(
            bs58::encode(PROGRAM_ID).into_string(),
            "AddressLookupTab1e1111111111111111111111111"
        );
    }

    #[test]
    fn parses_tables_with_and_without_authority() {
        let addrs = [[1u8; 32], [2; 32], [3; 32]];
        for authority in [Some([9u8; 32]), None] {
            let data = table_data(authority, &addrs);
            assert_eq!(parse(&PROGRAM_ID, &data).unwrap(), addrs.to_vec());
        }
        let empty = table_data(None, &[]);
        assert_eq!(parse(&PROGRAM_ID, &empty).unwrap(), Vec::<PublicKey>::new());
        let full = table_data(Some([9; 32]), &[[7; 32]; MAX_ADDRESSES]);
        assert_eq!(parse(&PROGRAM_ID, &full).unwrap().len(), MAX_ADDRESSES);
    }

    #[test]
    fn wrong_owner_is_refused() {
        let data = table_data(None, &[[1; 32]]);
        let err = parse(&[0u8; 32], &data).unwrap_err();
        assert_eq!(
            err,
            AltError::WrongOwner("11111111111111111111111111111111".into())
        );
    }

    #[test]
    fn truncated_data_is_refused() {
        let data = table_data(Some([9; 32]), &[]);
        for len in [0, 1, 4, 21, 55] {
            assert_eq!(
                parse(&PROGRAM_ID, &data[..len]),
                Err(AltError::Truncated(len))
            );
        }
    }

    #[test]
    fn wrong_discriminator_is_refused() {
        let mut data = table_data(None, &[[1; 32]]);
        data[..4].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(parse(&PROGRAM_ID, &data), Err(AltError::Uninitialized));
        data[..4].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(
            parse(&PROGRAM_ID, &data),
            Err(AltError::BadDiscriminator(2))
        );
        data[..4].copy_from_slice(&0x0100_0000u32.to_le_bytes());
        assert_eq!(
            parse(&PROGRAM_ID, &data),
            Err(AltError::BadDiscriminator(0x0100_0000))
        );
    }

    #[test]
    fn bad_authority_tag_is_refused() {
        let mut data = table_data(None, &[[1; 32]]);
        data[21] = 2;
        assert_eq!(parse(&PROGRAM_ID, &data), Err(AltError::BadAuthorityTag(2)));
    }

    #[test]
    fn address_area_must_be_whole_addresses() {
        let data = table_data(None, &[[1; 32], [2; 32]]);
        for cut in [1, 31, 33] {
            let len = data.len() - cut;
            assert_eq!(
                parse(&PROGRAM_ID, &data[..len]),
                Err(AltError::Misaligned(len - META_SIZE))
            );
        }
    }

    #[test]
    fn oversized_data_is_refused() {
        let mut data = table_data(None, &[[1; 32]; MAX_ADDRESSES]);
        data.extend_from_slice(&[1; 32]);
        assert_eq!(
            parse(&PROGRAM_ID, &data),
            Err(AltError::TooLarge(MAX_ACCOUNT_SIZE + 32))
        );
    }

    #[test]
    fn arbitrary_data_never_panics() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 0..600 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = parse(&PROGRAM_ID, &data);
        }
    }
}
