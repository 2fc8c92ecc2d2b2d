//! TLS configuration: build a rustls server config from PEM, a client
//! config that trusts given certificates, and a self-signed certificate for
//! demos and tests.
//!
//! All configs use the `ring` crypto provider explicitly, so nothing depends on
//! a process-wide default provider having been installed.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate PEM holds no certificate.
    #[error("no certificate found in PEM input")]
    NoCertificate,
    /// The key PEM holds no private key.
    #[error("no private key found in PEM input")]
    NoPrivateKey,
    /// The PEM input is malformed.
    #[error("malformed PEM: {0}")]
    Pem(#[from] rustls::pki_types::pem::Error),
    /// rustls refused the certificates or key.
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    /// A trusted certificate could not be added to the root store.
    #[error("certificate not usable as a trust anchor: {0}")]
    TrustAnchor(rustls::Error),
    /// Generating a self-signed certificate failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
}

/// Builds a TLS server configuration from a PEM certificate chain (leaf first)
/// and a PEM private key (PKCS#8, PKCS#1 or SEC1). Clients are not asked for
/// certificates.
pub fn tls_server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = certificates(cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey,
        other => TlsError::Pem(other),
    })?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// Builds a TLS client configuration whose only trust anchors are the
/// certificates in `ca_or_cert_pem`: a CA, or a peer's self-signed certificate.
pub fn tls_client_config_trusting(
    ca_or_cert_pem: &[u8],
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(ca_or_cert_pem)? {
        roots.add(cert).map_err(TlsError::TrustAnchor)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Generates a self-signed certificate for `host_names` (DNS names, or IP
/// addresses, which become IP subject alternative names) and returns
/// `(certificate PEM, private key PEM)`.
pub fn self_signed(host_names: &[String]) -> Result<(String, String), TlsError> {
    let certified = rcgen::generate_simple_self_signed(host_names.to_vec())?;
    Ok((certified.cert.pem(), certified.signing_key.serialize_pem()))
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(chain)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificate_builds_both_configs() {
        let (cert, key) =
            self_signed(&["127.0.0.1".to_string(), "sip.example".to_string()]).expect("generate");
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(key.contains("PRIVATE KEY-----"));
        tls_server_config(cert.as_bytes(), key.as_bytes()).expect("server config");
        tls_client_config_trusting(cert.as_bytes()).expect("client config");
    }

    #[test]
    fn missing_pem_items_are_typed_errors() {
        let (cert, key) = self_signed(&["localhost".to_string()]).expect("generate");
        assert!(matches!(
            tls_server_config(b"", key.as_bytes()),
            Err(TlsError::NoCertificate)
        ));
        assert!(matches!(
            tls_server_config(cert.as_bytes(), b"junk"),
            Err(TlsError::NoPrivateKey)
        ));
        assert!(matches!(
            tls_client_config_trusting(b"nothing here"),
            Err(TlsError::NoCertificate)
        ));
    }
}
