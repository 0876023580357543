//! `custos-image`: builds the Custos boot image.
//!
//! ```text
//! custos-image fetch-kernel --cache DIR [--package linux-image-6.1.0-NN-cloud-amd64]
//! custos-image keys --out DIR
//! custos-image ovmf-vars --keys DIR --out VARS.fd
//! custos-image build --custos BIN --kernel-cache DIR --config image.toml --out DIR \
//!     [--db-key K --db-cert C] [--cmdline "console=ttyS0 ..."] [--ovmf-vars VARS.fd]
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use custos_image::build::{BuildOptions, Signer, DEFAULT_CMDLINE};
use custos_image::{kernel, keys::KeySet, vars};

/// Builds the Custos boot image (signed UKI with `custos` as /init).
#[derive(Debug, Parser)]
#[command(name = "custos-image", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Downloads (or reuses) a Debian cloud kernel package and extracts vmlinuz and the
    /// virtio modules into the cache; selects it for `build`.
    FetchKernel {
        /// The cache directory.
        #[arg(long)]
        cache: PathBuf,
        /// The package (default: the newest linux-image-6.1.0-N-cloud-amd64 apt knows).
        #[arg(long)]
        package: Option<String>,
    },
    /// Generates the operator's Secure Boot keys (PK, KEK, db) into a new directory.
    Keys {
        /// The key directory (must not hold keys yet).
        #[arg(long)]
        out: PathBuf,
    },
    /// Enrolls the keys into a copy of OVMF's empty variable store (Secure Boot on).
    OvmfVars {
        /// The key directory from `keys`.
        #[arg(long)]
        keys: PathBuf,
        /// The variable store to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Builds the initramfs, the UKI, its signature and release.json.
    Build {
        /// The static custos binary (x86_64-unknown-linux-musl), installed as /init.
        #[arg(long)]
        custos: PathBuf,
        /// The kernel cache filled by `fetch-kernel`.
        #[arg(long)]
        kernel_cache: PathBuf,
        /// The image configuration (needs an integer `version`).
        #[arg(long)]
        config: PathBuf,
        /// The output directory.
        #[arg(long)]
        out: PathBuf,
        /// The db private key (PEM) to sign with.
        #[arg(long, requires = "db_cert")]
        db_key: Option<PathBuf>,
        /// The db certificate (PEM) to sign with.
        #[arg(long, requires = "db_key")]
        db_cert: Option<PathBuf>,
        /// The kernel command line.
        #[arg(long, default_value = DEFAULT_CMDLINE)]
        cmdline: String,
        /// The enrolled variable store, for the PCR 7 prediction.
        #[arg(long)]
        ovmf_vars: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("custos-image: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Cmd::FetchKernel { cache, package } => {
            let k = kernel::fetch(&cache, package.as_deref())?;
            println!("{} {} ({})", k.package, k.version, k.release);
        }
        Cmd::Keys { out } => {
            let set = KeySet::generate(&out, "Custos")?;
            println!("keys in {}", set.dir().display());
        }
        Cmd::OvmfVars { keys, out } => {
            vars::enroll(
                &KeySet::new(keys),
                Path::new(vars::OVMF_VARS_TEMPLATE),
                &out,
            )?;
            println!("{}", out.display());
        }
        Cmd::Build {
            custos,
            kernel_cache,
            config,
            out,
            db_key,
            db_cert,
            cmdline,
            ovmf_vars,
        } => {
            let signer = db_key.zip(db_cert).map(|(key, cert)| Signer { key, cert });
            let opts = BuildOptions {
                custos,
                kernel: kernel::load(&kernel_cache)?,
                config,
                cmdline,
                signer,
                ovmf_vars,
            };
            let release = custos_image::build(&opts, &out)?;
            println!("{}", serde_json::to_string_pretty(&release)?);
        }
    }
    Ok(())
}
