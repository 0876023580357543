//! Writes every fixture in `fixtures/solana/*.json` as raw bytes into a libFuzzer corpus
//! directory, one file per entry, named `<file>-<index>-<entry name>`.
//!
//! Usage: `seed_corpus <fixtures dir> <corpus dir>` (see `../seed-corpus.sh`).
//!
//! `enc` is hex, base64 (`b64`), base58 or `auto`: for `auto` hex is tried when every
//! character is a hex digit, then base64, then base58, keeping the first candidate that
//! `ParsedTransaction::parse_any` accepts (else the first that decodes at all).

use custos_txdecode::ParsedTransaction;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Fixture data by its `enc` (see `custos_txdecode::text::decode_named`).
fn decode(enc: &str, data: &str) -> Option<Vec<u8>> {
    custos_txdecode::text::decode_named(enc, data)
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.chars().take(80).collect()
}

fn run(fixtures: &Path, out: &Path) -> Result<(usize, usize), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures)
        .map_err(|e| format!("{}: {e}", fixtures.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut written, mut parsed) = (0, 0);
    for path in files {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let entries: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("fixture")
            .to_owned();
        for (i, e) in entries.iter().enumerate() {
            let name = e["name"].as_str().unwrap_or("entry");
            let enc = e["enc"].as_str().unwrap_or("auto");
            // Ordinary entries carry `data`; signing vectors carry `updated_tx` / `signed_tx`.
            for field in ["data", "updated_tx", "signed_tx"] {
                let Some(data) = e[field].as_str() else {
                    continue;
                };
                let Some(bytes) = decode(enc, data).filter(|b| !b.is_empty()) else {
                    continue;
                };
                let suffix = if field == "data" {
                    String::new()
                } else {
                    format!("-{field}")
                };
                let file = out.join(format!("{stem}-{i:03}-{}{suffix}", sanitize(name)));
                std::fs::write(&file, &bytes).map_err(|e| format!("{}: {e}", file.display()))?;
                written += 1;
                parsed += usize::from(ParsedTransaction::parse_any(&bytes).is_ok());
            }
        }
    }
    Ok((written, parsed))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(fixtures), Some(out)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: seed_corpus <fixtures dir> <corpus dir>");
        return ExitCode::from(2);
    };
    match run(Path::new(fixtures), Path::new(out)) {
        Ok((written, parsed)) => {
            println!("wrote {written} corpus files ({parsed} parse) to {out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed_corpus: {e}");
            ExitCode::FAILURE
        }
    }
}
