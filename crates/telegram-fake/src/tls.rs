//! The fake server's test PKI: a CA generated at start (or supplied), the
//! server certificate it signs, and TLS configurations built from them.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// Why TLS material could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen could not generate a key or certificate.
    #[error("generating test certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM input could not be parsed.
    #[error("parsing PEM: {0}")]
    Pem(String),
    /// rustls refused the material.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// Certificates can only be issued when the fake generated its own CA.
    #[error("this fake server was given its certificates and holds no CA key")]
    NoCaKey,
}

/// Where the server's certificates come from.
#[derive(Clone, Debug, Default)]
pub enum TlsSource {
    /// Generate a fresh test CA and a server certificate at start (default).
    #[default]
    Generate,
    /// Use the given PEM material: the CA that clients should trust, the
    /// server certificate chain and its private key.
    Provided {
        /// CA certificate (PEM) that signed `cert_pem`.
        ca_pem: String,
        /// Server certificate chain (PEM).
        cert_pem: String,
        /// Server private key (PEM).
        key_pem: String,
    },
}

/// A certificate and key issued by the fake's CA (for example for a test's
/// webhook receiver).
#[derive(Clone, Debug)]
pub struct IssuedCert {
    /// Certificate (PEM).
    pub cert_pem: String,
    /// Private key (PEM, PKCS#8).
    pub key_pem: String,
}

pub(crate) struct Pki {
    pub ca_pem: String,
    issuer: Option<CertifiedIssuer<'static, KeyPair>>,
    pub server: IssuedCert,
}

impl Pki {
    pub fn new(source: &TlsSource, names: &[String]) -> Result<Self, TlsError> {
        match source {
            TlsSource::Provided {
                ca_pem,
                cert_pem,
                key_pem,
            } => Ok(Self {
                ca_pem: ca_pem.clone(),
                issuer: None,
                server: IssuedCert {
                    cert_pem: cert_pem.clone(),
                    key_pem: key_pem.clone(),
                },
            }),
            TlsSource::Generate => {
                let mut params = CertificateParams::new(Vec::<String>::new())?;
                params
                    .distinguished_name
                    .push(DnType::CommonName, "Custos fake Telegram test CA");
                params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
                params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
                let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
                let ca_pem = issuer.pem();
                let server = issue(&issuer, names)?;
                Ok(Self {
                    ca_pem,
                    issuer: Some(issuer),
                    server,
                })
            }
        }
    }

    /// Issues a server certificate for `names` (DNS names or IP addresses).
    pub fn issue(&self, names: &[String]) -> Result<IssuedCert, TlsError> {
        match &self.issuer {
            Some(issuer) => issue(issuer, names),
            None => Err(TlsError::NoCaKey),
        }
    }

    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        server_config(&self.server.cert_pem, &self.server.key_pem)
    }
}

fn issue(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    names: &[String],
) -> Result<IssuedCert, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, "custos-fake-telegram");
    for name in names {
        let san = match name.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                name.clone()
                    .try_into()
                    .map_err(|e: rcgen::Error| TlsError::Generate(e))?,
            ),
        };
        params.subject_alt_names.push(san);
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok(IssuedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server configuration from PEM material (HTTP/1.1 only).
pub fn server_config(cert_pem: &str, key_pem: &str) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A rustls client configuration trusting exactly the CAs in `ca_pems`.
pub fn client_config(ca_pems: &[&str]) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for pem in ca_pems {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| TlsError::Pem(e.to_string()))?;
            roots.add(cert)?;
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
