//! A memory scanner for secrets: every readable region of a live process (through
//! `/proc/PID/mem`, as root) or every byte of a core file, searched in one pass for every
//! encoding of every secret.
//!
//! Secrets hide in more shapes than their raw bytes: a key read from a file, printed, put
//! in JSON or handed to a wallet app leaves its hex, base64, base58 or JSON-array form
//! behind. [`Needles`] holds all of them for each secret; a [`Hit`] names the secret, the
//! encoding and where it was found, never the bytes.

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use zeroize::Zeroizing;

/// How much is read at once. Consecutive chunks overlap by the longest needle, so a
/// secret straddling a chunk boundary is still found (and reported once).
const CHUNK: usize = 4 << 20;
const PAGE: u64 = 4096;

/// The encodings searched for. Unpadded base64 is a prefix of padded base64, so both
/// hit where a padded form is present; each (secret, encoding) needle is distinct.
pub const ENCODINGS: &[&str] = &[
    "raw",
    "hex",
    "HEX",
    "base64",
    "base64-nopad",
    "base64url",
    "base64url-nopad",
    "base58",
    "json-array",
    "json-array-spaced",
];

/// Halves searched for too, of 32-byte secrets only (the second half of a keypair is its
/// public key): freeing a small heap block overwrites its first 16 bytes with the
/// allocator's list pointers, so a seed left in freed memory shows only its tail.
pub const HALVES: &[&str] = &["raw-head16", "raw-tail16", "hex-head16", "hex-tail16"];

/// Every encoding of `bytes`: those of [`ENCODINGS`] and, for 32 bytes, [`HALVES`].
pub fn encodings(bytes: &[u8]) -> Vec<(&'static str, Zeroizing<Vec<u8>>)> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let list = |sep: &str| {
        let items: Vec<String> = bytes.iter().map(u8::to_string).collect();
        format!("[{}]", items.join(sep)).into_bytes()
    };
    let forms: [Vec<u8>; 10] = [
        bytes.to_vec(),
        hex::encode(bytes).into_bytes(),
        hex::encode_upper(bytes).into_bytes(),
        STANDARD.encode(bytes).into_bytes(),
        STANDARD_NO_PAD.encode(bytes).into_bytes(),
        URL_SAFE.encode(bytes).into_bytes(),
        URL_SAFE_NO_PAD.encode(bytes).into_bytes(),
        bs58::encode(bytes).into_string().into_bytes(),
        list(","),
        list(", "),
    ];
    let mut out: Vec<_> = ENCODINGS
        .iter()
        .copied()
        .zip(forms.into_iter().map(Zeroizing::new))
        .collect();
    if bytes.len() == 32 {
        let (head, tail) = bytes.split_at(16);
        let halves = [
            head.to_vec(),
            tail.to_vec(),
            hex::encode(head).into_bytes(),
            hex::encode(tail).into_bytes(),
        ];
        out.extend(
            HALVES
                .iter()
                .copied()
                .zip(halves.into_iter().map(Zeroizing::new)),
        );
    }
    out
}

/// One secret to look for.
pub struct Secret {
    /// What it is ("master key", "wallet 17 keypair", ...): the only thing a hit shows.
    pub label: String,
    /// Its bytes.
    pub bytes: Zeroizing<Vec<u8>>,
}

impl Secret {
    /// A secret named `label`.
    pub fn new(label: impl Into<String>, bytes: &[u8]) -> Self {
        Self {
            label: label.into(),
            bytes: Zeroizing::new(bytes.to_vec()),
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({}, {} bytes)", self.label, self.bytes.len())
    }
}

/// All encodings of a set of secrets, compiled into one automaton.
pub struct Needles {
    automaton: AhoCorasick,
    /// Per pattern: (index into `labels`, encoding).
    meta: Vec<(usize, &'static str)>,
    labels: Vec<String>,
    longest: usize,
}

impl Needles {
    /// Compiles every encoding of every secret.
    pub fn new(secrets: &[Secret]) -> Self {
        let mut patterns: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut meta = Vec::new();
        let mut labels = Vec::new();
        for (i, s) in secrets.iter().enumerate() {
            assert!(s.bytes.len() >= 16, "{}: too short to search for", s.label);
            labels.push(s.label.clone());
            for (encoding, needle) in encodings(&s.bytes) {
                assert!(needle.iter().any(|&b| b != 0), "{}: all zeros", s.label);
                patterns.push(needle);
                meta.push((i, encoding));
            }
        }
        let longest = patterns.iter().map(|p| p.len()).max().unwrap_or(1);
        assert!(
            2 * longest < PAGE as usize,
            "needles longer than half a page"
        );
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(patterns.iter().map(|p| p.as_slice()))
            .expect("needles compile");
        Self {
            automaton,
            meta,
            labels,
            longest,
        }
    }

    /// Number of needles (secrets times encodings).
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// Searches `hay`, which starts at `base` of a region; reports matches that start
    /// before `limit` (the rest belong to the next, overlapping chunk).
    ///
    /// Pages of zeros (most of an address space: reserved, untouched memory) cannot hold
    /// a needle - none is all zeros - but one may run into or out of them, so each run of
    /// other pages is searched widened by the longest needle on both sides. Comparing a
    /// page with zeros is a `memcmp`, far faster than the automaton.
    fn search(&self, hay: &[u8], limit: usize, base: u64, at: &Place, hits: &mut Vec<Hit>) {
        static ZEROS: [u8; PAGE as usize] = [0; PAGE as usize];
        let page = PAGE as usize;
        let zero = |p: usize| {
            let bytes = &hay[p * page..((p + 1) * page).min(hay.len())];
            bytes == &ZEROS[..bytes.len()]
        };
        let pages = hay.len().div_ceil(page);
        let mut p = 0;
        while p < pages {
            if zero(p) {
                p += 1;
                continue;
            }
            let first = p;
            while p < pages && !zero(p) {
                p += 1;
            }
            // Windows of runs split by a zero page never overlap: a page is longer than
            // two needles (checked in `new`), so no match is reported twice.
            let from = (first * page).saturating_sub(self.longest);
            let to = (p * page + self.longest).min(hay.len());
            self.search_window(&hay[from..to], from, limit, base, at, hits);
        }
    }

    fn search_window(
        &self,
        window: &[u8],
        from: usize,
        limit: usize,
        base: u64,
        at: &Place,
        hits: &mut Vec<Hit>,
    ) {
        for m in self.automaton.find_overlapping_iter(window) {
            let start = from + m.start();
            if start >= limit {
                continue;
            }
            let (secret, encoding) = self.meta[m.pattern().as_usize()];
            hits.push(Hit {
                secret: self.labels[secret].clone(),
                encoding,
                pid: at.pid,
                process: at.process.clone(),
                region: at.region.clone(),
                offset: base + start as u64,
            });
        }
    }
}

/// Where a search is reading.
struct Place {
    pid: Option<i32>,
    process: String,
    region: String,
}

/// One needle found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The secret's label.
    pub secret: String,
    /// The encoding it was found in.
    pub encoding: &'static str,
    /// The process (None for a file).
    pub pid: Option<i32>,
    /// The process's name, or the file's.
    pub process: String,
    /// The mapping (its path or `[heap]`, `[stack]`, `[anon]`, with its start address).
    pub region: String,
    /// The address (process) or file offset of the match.
    pub offset: u64,
}

impl std::fmt::Display for Hit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) in {} pid {} region {} at {:#x}",
            self.secret,
            self.encoding,
            self.process,
            self.pid.map_or_else(|| "-".into(), |p| p.to_string()),
            self.region,
            self.offset
        )
    }
}

/// What one scan read and found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Everything found.
    pub hits: Vec<Hit>,
    /// Bytes searched.
    pub bytes: u64,
    /// Regions (or files) searched, at least in part.
    pub regions: usize,
    /// Bytes that could not be read (such as `[vvar]` and `[vsyscall]`).
    pub unreadable: u64,
}

impl Scan {
    /// Adds another scan's results.
    pub fn merge(&mut self, other: Scan) {
        self.hits.extend(other.hits);
        self.bytes += other.bytes;
        self.regions += other.regions;
        self.unreadable += other.unreadable;
    }
}

/// A readable mapping of a process, from `/proc/PID/maps`.
#[derive(Debug, Clone)]
pub struct Region {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// `rwxp` flags.
    pub perms: String,
    /// The mapped path or pseudo-name, `[anon]` when there is none.
    pub name: String,
}

/// The mappings of `pid`. All of them, not only those marked readable: root reads a
/// no-access page through /proc/PID/mem as easily as any other, and so does the scan.
pub fn regions(pid: i32) -> Vec<Region> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/maps: {e}"));
    maps.lines()
        .map(|line| {
            let mut fields = line.splitn(6, ' ');
            let range = fields.next().unwrap();
            let perms = fields.next().unwrap().to_owned();
            let name = fields.nth(3).map(str::trim).unwrap_or("");
            let (start, end) = range.split_once('-').unwrap();
            Region {
                start: u64::from_str_radix(start, 16).unwrap(),
                end: u64::from_str_radix(end, 16).unwrap(),
                perms,
                name: if name.is_empty() {
                    "[anon]".into()
                } else {
                    name.into()
                },
            }
        })
        .collect()
}

/// The process name (`comm`) of `pid`.
pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}

/// Reads `len` bytes at `offset` into `buf`; None if the range cannot be read in full.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> Option<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) | Err(_) => return None,
            Ok(n) => done += n,
        }
    }
    Some(())
}

/// Scans every mapping of a live process through `/proc/PID/mem`.
pub fn scan_pid(pid: i32, needles: &Needles) -> Scan {
    let mem = File::open(format!("/proc/{pid}/mem"))
        .unwrap_or_else(|e| panic!("open /proc/{pid}/mem (needs root): {e}"));
    let process = comm(pid);
    let mut scan = Scan::default();
    let mut buf = Zeroizing::new(vec![0u8; CHUNK + needles.longest]);
    for region in regions(pid) {
        // Offsets above i64::MAX ([vsyscall]) cannot be given to pread.
        if region.start > i64::MAX as u64 {
            scan.unreadable += region.end - region.start;
            continue;
        }
        let at = Place {
            pid: Some(pid),
            process: process.clone(),
            region: format!("{} {:#x} {}", region.name, region.start, region.perms),
        };
        let mut read_any = false;
        let mut addr = region.start;
        while addr < region.end {
            let step = (CHUNK as u64).min(region.end - addr);
            let len = (step + needles.longest as u64).min(region.end - addr) as usize;
            if read_exact_at(&mem, &mut buf[..len], addr).is_some() {
                needles.search(&buf[..len], step as usize, addr, &at, &mut scan.hits);
                scan.bytes += step;
                read_any = true;
                addr += step;
                continue;
            }
            // Some page in the chunk is unreadable: go page by page (a needle across an
            // unreadable page cannot be there anyway).
            let end = addr + step;
            while addr < end {
                let page = PAGE.min(end - addr) as usize;
                if read_exact_at(&mem, &mut buf[..page], addr).is_some() {
                    needles.search(&buf[..page], page, addr, &at, &mut scan.hits);
                    scan.bytes += page as u64;
                    read_any = true;
                } else {
                    scan.unreadable += page as u64;
                }
                addr += page as u64;
            }
        }
        if read_any {
            scan.regions += 1;
        }
    }
    scan
}

/// Scans every byte of a file (a core dump holds each dumped mapping in a PT_LOAD
/// segment; scanning the whole file covers those and the notes, which hold registers).
pub fn scan_file(path: &Path, needles: &Needles) -> Scan {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let size = file.metadata().unwrap().len();
    let at = Place {
        pid: None,
        process: path.file_name().unwrap().to_string_lossy().into_owned(),
        region: "file".into(),
    };
    let mut scan = Scan {
        regions: 1,
        ..Scan::default()
    };
    let mut buf = Zeroizing::new(vec![0u8; CHUNK + needles.longest]);
    let mut offset = 0;
    while offset < size {
        let step = (CHUNK as u64).min(size - offset);
        let len = (step + needles.longest as u64).min(size - offset) as usize;
        read_exact_at(&file, &mut buf[..len], offset)
            .unwrap_or_else(|| panic!("read {} at {offset}", path.display()));
        needles.search(&buf[..len], step as usize, offset, &at, &mut scan.hits);
        scan.bytes += step;
        offset += step;
    }
    scan
}

/// `root` and all its descendants, from /proc (parent links in `/proc/PID/stat`).
pub fn process_tree(root: i32) -> Vec<i32> {
    let parents = super::parent_links();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    tree
}

/// HKDF-SHA256 (RFC 5869) of 32 bytes, written here from SHA-256 alone so the test's
/// ground truth does not come from the code under test.
pub fn hkdf_sha256_32(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let prk = hmac_sha256(salt, ikm);
    let mut t1 = Zeroizing::new(info.to_vec());
    t1.push(1);
    hmac_sha256(prk.as_slice(), &t1)
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Zeroizing<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut block = Zeroizing::new([0u8; 64]);
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| {
        let mut p = Zeroizing::new([0u8; 64]);
        for (o, k) in p.iter_mut().zip(block.iter()) {
            *o = k ^ byte;
        }
        p
    };
    let inner = Sha256::new()
        .chain_update(pad(0x36).as_slice())
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c).as_slice())
        .chain_update(inner)
        .finalize();
    Zeroizing::new(outer.into())
}
