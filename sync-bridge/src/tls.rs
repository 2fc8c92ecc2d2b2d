//! Mutual TLS for the bridge, anchored only on the operator's CA.
//!
//! Contract, for both [`ServerTls`] (cloud) and [`ClientTls`] (node):
//!
//! - TLS 1.3 only, ring crypto provider, ALPN [`ALPN`] required;
//! - the trust store holds only the given CA certificates: no system or
//!   public roots, so a certificate from any other CA is refused;
//! - the server demands a client certificate issued by the CA; the client
//!   checks the server's certificate against the CA and the name it dialled.
//!
//! The resulting rustls configurations work for QUIC as they are (see
//! [`crate::link`]).

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::pki::{self, PkiError};

/// The application protocol both sides insist on.
pub const ALPN: &[u8] = b"switchyard-bridge/1";

/// Building a TLS configuration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A CA certificate could not be added to the trust store.
    #[error("CA certificate not usable: {0}")]
    Anchor(rustls::Error),
    /// No CA certificate was given.
    #[error("no CA certificate given")]
    NoAnchor,
    /// The client verifier could not be built.
    #[error("client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// rustls refused the certificate, key or protocol settings.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// A file could not be read.
    #[error(transparent)]
    Pki(#[from] PkiError),
}

/// The cloud side's configuration.
#[derive(Clone, Debug)]
pub struct ServerTls(Arc<rustls::ServerConfig>);

/// The node side's configuration.
#[derive(Clone, Debug)]
pub struct ClientTls(Arc<rustls::ClientConfig>);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &[CertificateDer<'static>]) -> Result<Arc<RootCertStore>, TlsError> {
    if ca.is_empty() {
        return Err(TlsError::NoAnchor);
    }
    let mut store = RootCertStore::empty();
    for cert in ca {
        store.add(cert.clone()).map_err(TlsError::Anchor)?;
    }
    Ok(Arc::new(store))
}

impl ServerTls {
    /// A server presenting `chain` (leaf first) and `key`, accepting only
    /// clients with a certificate from `ca`.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] for an unusable CA, certificate or key.
    pub fn new(
        ca: &[CertificateDer<'static>],
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        let provider = provider();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider.clone()).build()?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(Self(Arc::new(config)))
    }

    /// [`ServerTls::new`] from PEM files.
    ///
    /// # Errors
    ///
    /// As [`ServerTls::new`], and [`TlsError::Pki`] for unreadable files.
    pub fn from_files(ca: &Path, cert: &Path, key: &Path) -> Result<Self, TlsError> {
        Self::new(
            &pki::load_certs(ca)?,
            pki::load_certs(cert)?,
            pki::load_key(key)?,
        )
    }

    /// [`ServerTls::new`] from PEM text (as [`pki::issue`] returns it).
    ///
    /// # Errors
    ///
    /// As [`ServerTls::new`], and [`TlsError::Pki`] for unparsable PEM.
    pub fn from_pem(ca: &str, cert: &str, key: &str) -> Result<Self, TlsError> {
        Self::new(
            &pki::parse_certs(ca)?,
            pki::parse_certs(cert)?,
            pki::parse_key(key)?,
        )
    }

    /// The rustls configuration.
    #[must_use]
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        self.0.clone()
    }
}

impl ClientTls {
    /// A client presenting `chain` (leaf first) and `key`, accepting only a
    /// server with a certificate from `ca`.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] for an unusable CA, certificate or key.
    pub fn new(
        ca: &[CertificateDer<'static>],
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots(ca)?)
            .with_client_auth_cert(chain, key)?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(Self(Arc::new(config)))
    }

    /// [`ClientTls::new`] from PEM files.
    ///
    /// # Errors
    ///
    /// As [`ClientTls::new`], and [`TlsError::Pki`] for unreadable files.
    pub fn from_files(ca: &Path, cert: &Path, key: &Path) -> Result<Self, TlsError> {
        Self::new(
            &pki::load_certs(ca)?,
            pki::load_certs(cert)?,
            pki::load_key(key)?,
        )
    }

    /// [`ClientTls::new`] from PEM text (as [`pki::issue`] returns it).
    ///
    /// # Errors
    ///
    /// As [`ClientTls::new`], and [`TlsError::Pki`] for unparsable PEM.
    pub fn from_pem(ca: &str, cert: &str, key: &str) -> Result<Self, TlsError> {
        Self::new(
            &pki::parse_certs(ca)?,
            pki::parse_certs(cert)?,
            pki::parse_key(key)?,
        )
    }

    /// The rustls configuration.
    #[must_use]
    pub fn config(&self) -> Arc<rustls::ClientConfig> {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests;
