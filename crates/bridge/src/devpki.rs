//! Development PKI: a local CA, a server certificate and a client certificate.
//!
//! `custos serve` in development mode creates them in `<data-dir>/tls/` on
//! first start. The CA's private key is not kept: it signs the two
//! certificates and is dropped, so nothing on disk can mint more client
//! certificates. Production deployments supply their own files in the same
//! place.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub use custos_api::client::{CA_CERT, CLIENT_CERT, CLIENT_KEY, TLS_DIR};

/// Server certificate.
pub const SERVER_CERT: &str = "server.pem";
/// Server private key.
pub const SERVER_KEY: &str = "server.key";

/// Why TLS material could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Generating a certificate failed.
    #[error("generating development certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates the development CA and certificates unless they all exist.
/// Returns true when new material was written.
pub fn ensure(data_dir: &Path) -> Result<bool, PkiError> {
    let dir = data_dir.join(TLS_DIR);
    let names = [CA_CERT, SERVER_CERT, SERVER_KEY, CLIENT_CERT, CLIENT_KEY];
    if names.iter().all(|n| dir.join(n).exists()) {
        return Ok(false);
    }
    fs::create_dir_all(&dir).map_err(io(&dir))?;

    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Custos development CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

    let mut server = CertificateParams::new(vec![custos_api::client::SERVER_NAME.to_string()])?;
    server
        .distinguished_name
        .push(DnType::CommonName, "custos-bridge");
    server
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    server
        .subject_alt_names
        .push(SanType::IpAddress("::1".parse().expect("ip")));
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate()?;
    let server_cert = server.signed_by(&server_key, &ca)?;

    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(DnType::CommonName, "custos-dev-client");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate()?;
    let client_cert = client.signed_by(&client_key, &ca)?;

    write(&dir.join(CA_CERT), ca.pem().as_bytes(), 0o644)?;
    write(&dir.join(SERVER_CERT), server_cert.pem().as_bytes(), 0o644)?;
    write(
        &dir.join(SERVER_KEY),
        server_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    write(&dir.join(CLIENT_CERT), client_cert.pem().as_bytes(), 0o644)?;
    write(
        &dir.join(CLIENT_KEY),
        client_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    Ok(true)
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

fn read(path: &Path) -> Result<Vec<u8>, PkiError> {
    fs::read(path).map_err(io(path))
}

/// TLS material for the API server.
pub struct ServerTls {
    /// CA that client certificates must chain to.
    pub ca: Vec<u8>,
    /// Server certificate chain (PEM).
    pub cert: Vec<u8>,
    /// Server key (PEM).
    pub key: Vec<u8>,
}

impl ServerTls {
    /// Loads the server's TLS files from the data dir.
    pub fn load(data_dir: &Path) -> Result<Self, PkiError> {
        let dir = data_dir.join(TLS_DIR);
        Ok(Self {
            ca: read(&dir.join(CA_CERT))?,
            cert: read(&dir.join(SERVER_CERT))?,
            key: read(&dir.join(SERVER_KEY))?,
        })
    }
}
