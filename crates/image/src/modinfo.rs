//! Kernel module metadata: the `depends=` list from a `.ko` file's `.modinfo` ELF section,
//! and a load order in which every module comes after the modules it depends on.
//!
//! Debian's `kmod` (`modinfo`) is not needed: the section is a list of NUL-terminated
//! `key=value` strings, read here with a minimal ELF64 little-endian section walk.

use std::collections::{BTreeMap, BTreeSet};

/// Why a module's metadata could not be read or ordered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModinfoError {
    /// The file is not a 64-bit little-endian ELF object (a compressed `.ko.xz` is not).
    #[error("not a 64-bit little-endian ELF object")]
    NotElf64,
    /// A header or section lies outside the file.
    #[error("truncated or malformed ELF: {0}")]
    Malformed(&'static str),
    /// The object has no `.modinfo` section: not a kernel module.
    #[error("no .modinfo section")]
    NoModinfo,
    /// A module depends on one that is not in the set.
    #[error("module {module} depends on {missing}, which is not included")]
    MissingDependency {
        /// The module.
        module: String,
        /// The dependency not in the set.
        missing: String,
    },
    /// The dependencies form a cycle (the kernel would refuse them too).
    #[error("dependency cycle among {0:?}")]
    Cycle(Vec<String>),
}

fn slice(file: &[u8], offset: u64, len: u64) -> Result<&[u8], ModinfoError> {
    let start = usize::try_from(offset).map_err(|_| ModinfoError::Malformed("offset"))?;
    let len = usize::try_from(len).map_err(|_| ModinfoError::Malformed("length"))?;
    let end = start
        .checked_add(len)
        .ok_or(ModinfoError::Malformed("range"))?;
    file.get(start..end)
        .ok_or(ModinfoError::Malformed("range beyond the file"))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The raw `.modinfo` section of an ELF64 little-endian object.
pub fn modinfo_section(file: &[u8]) -> Result<&[u8], ModinfoError> {
    let ehdr = file.get(..64).ok_or(ModinfoError::NotElf64)?;
    if &ehdr[..4] != b"\x7fELF" || ehdr[4] != 2 || ehdr[5] != 1 {
        return Err(ModinfoError::NotElf64);
    }
    let shoff = u64_at(ehdr, 0x28);
    let shentsize = u64::from(u16_at(ehdr, 0x3a));
    let shnum = u64::from(u16_at(ehdr, 0x3c));
    let shstrndx = u64::from(u16_at(ehdr, 0x3e));
    if shentsize < 64 || shstrndx >= shnum {
        return Err(ModinfoError::Malformed("section header table"));
    }
    let header = |i: u64| slice(file, shoff + i * shentsize, 64);
    let strtab_hdr = header(shstrndx)?;
    let strtab = slice(file, u64_at(strtab_hdr, 24), u64_at(strtab_hdr, 32))?;
    for i in 0..shnum {
        let sh = header(i)?;
        let name_at =
            usize::try_from(u32_at(sh, 0)).map_err(|_| ModinfoError::Malformed("name"))?;
        let name = strtab
            .get(name_at..)
            .and_then(|s| s.split(|&b| b == 0).next())
            .ok_or(ModinfoError::Malformed("section name"))?;
        if name == b".modinfo" {
            return slice(file, u64_at(sh, 24), u64_at(sh, 32));
        }
    }
    Err(ModinfoError::NoModinfo)
}

/// The module names a `.ko` file's `depends=` field lists (empty when it has none).
pub fn depends(file: &[u8]) -> Result<Vec<String>, ModinfoError> {
    let section = modinfo_section(file)?;
    Ok(section
        .split(|&b| b == 0)
        .filter_map(|entry| entry.strip_prefix(b"depends="))
        .flat_map(|list| list.split(|&b| b == b','))
        .filter(|name| !name.is_empty())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect())
}

/// Orders modules so each follows everything it depends on; ties are broken by name, so
/// the order is deterministic. `deps` maps each module to its dependencies, which must all
/// be keys of `deps`.
pub fn load_order(deps: &BTreeMap<String, Vec<String>>) -> Result<Vec<String>, ModinfoError> {
    for (module, list) in deps {
        if let Some(missing) = list.iter().find(|d| !deps.contains_key(*d)) {
            return Err(ModinfoError::MissingDependency {
                module: module.clone(),
                missing: missing.clone(),
            });
        }
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::with_capacity(deps.len());
    while order.len() < deps.len() {
        // The first (by name) module whose dependencies are all loaded.
        let next = deps
            .iter()
            .find(|(m, list)| {
                !done.contains(m.as_str()) && list.iter().all(|d| done.contains(d.as_str()))
            })
            .map(|(m, _)| m.as_str());
        match next {
            Some(m) => {
                done.insert(m);
                order.push(m.to_owned());
            }
            None => {
                let rest = deps
                    .keys()
                    .filter(|m| !done.contains(m.as_str()))
                    .cloned()
                    .collect();
                return Err(ModinfoError::Cycle(rest));
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        entries
            .iter()
            .map(|(m, d)| (m.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn dependencies_come_first() {
        let deps = map(&[
            ("virtio_net", &["virtio_ring", "virtio", "net_failover"]),
            ("net_failover", &["failover"]),
            ("failover", &[]),
            ("virtio", &[]),
            ("virtio_ring", &[]),
        ]);
        assert_eq!(
            load_order(&deps).unwrap(),
            [
                "failover",
                "net_failover",
                "virtio",
                "virtio_ring",
                "virtio_net"
            ]
        );
    }

    #[test]
    fn missing_and_cyclic_dependencies_are_refused() {
        let missing = map(&[("a", &["b"])]);
        assert!(matches!(
            load_order(&missing),
            Err(ModinfoError::MissingDependency { .. })
        ));
        let cycle = map(&[("a", &["b"]), ("b", &["a"]), ("c", &[])]);
        assert_eq!(
            load_order(&cycle),
            Err(ModinfoError::Cycle(vec!["a".into(), "b".into()]))
        );
    }

    #[test]
    fn non_elf_is_refused() {
        assert_eq!(
            depends(b"\xfd7zXZ\0 compressed"),
            Err(ModinfoError::NotElf64)
        );
        assert_eq!(depends(&[0u8; 10]), Err(ModinfoError::NotElf64));
    }
}
