//! The operator's private PKI for the bridge: one CA, one node (client)
//! certificate, one cloud (server) certificate, and the node's pseudonym key.
//!
//! Contract:
//!
//! - [`issue`] makes everything in memory (ECDSA P-256 keys). The CA is valid
//!   for [`CA_VALIDITY`], the two leaf certificates for [`LEAF_VALIDITY`],
//!   both from an hour before `now` (clock skew). The node certificate may
//!   only authenticate a client, the cloud certificate only a server, named
//!   by the caller's DNS names and IP addresses.
//! - [`init`] writes them as PEM into a directory under the names in
//!   [`files`]; private keys are created with mode 0600, and nothing is
//!   overwritten: if any of the files exists, nothing is written.
//! - `load_*` read those files back for the configuration paths.
//!
//! The CA key is written next to the certificates so that more certificates
//! can be issued later; an operator may move it offline after `init`.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::classify::{KEY_LEN, PseudonymKey};

/// How long the CA certificate is valid (10 years).
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long the node and cloud certificates are valid (5 years).
pub const LEAF_VALIDITY: Duration = Duration::from_secs(5 * 365 * 24 * 3600);

/// The file names [`init`] writes.
pub mod files {
    /// The CA certificate: the trust anchor on both sides.
    pub const CA_CERT: &str = "ca.pem";
    /// The CA's private key.
    pub const CA_KEY: &str = "ca.key";
    /// The node's (client) certificate.
    pub const NODE_CERT: &str = "node.pem";
    /// The node's private key.
    pub const NODE_KEY: &str = "node.key";
    /// The cloud's (server) certificate.
    pub const CLOUD_CERT: &str = "cloud.pem";
    /// The cloud's private key.
    pub const CLOUD_KEY: &str = "cloud.key";
    /// The node's pseudonym key (64 hex digits); it stays on the node.
    pub const PSEUDONYM_KEY: &str = "pseudonym.key";
    /// The replica key (64 hex digits) that seals what the node replicates to
    /// its disaster-recovery standby; the node and the standby hold it, an
    /// analytics cloud does not.
    pub const REPLICA_KEY: &str = "replica.key";
}

/// Everything [`issue`] makes, as PEM text.
#[derive(Clone)]
pub struct Bundle {
    /// The CA certificate.
    pub ca_cert: String,
    /// The CA key.
    pub ca_key: String,
    /// The node certificate.
    pub node_cert: String,
    /// The node key.
    pub node_key: String,
    /// The cloud certificate.
    pub cloud_cert: String,
    /// The cloud key.
    pub cloud_key: String,
    /// The pseudonym key.
    pub pseudonym_key: [u8; KEY_LEN],
    /// The replica key.
    pub replica_key: [u8; KEY_LEN],
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bundle(..)")
    }
}

/// The paths [`init`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// [`files::CA_CERT`].
    pub ca_cert: PathBuf,
    /// [`files::CA_KEY`].
    pub ca_key: PathBuf,
    /// [`files::NODE_CERT`].
    pub node_cert: PathBuf,
    /// [`files::NODE_KEY`].
    pub node_key: PathBuf,
    /// [`files::CLOUD_CERT`].
    pub cloud_cert: PathBuf,
    /// [`files::CLOUD_KEY`].
    pub cloud_key: PathBuf,
    /// [`files::PSEUDONYM_KEY`].
    pub pseudonym_key: PathBuf,
    /// [`files::REPLICA_KEY`].
    pub replica_key: PathBuf,
}

/// Issuing, writing or reading the PKI failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// No name was given for the cloud certificate.
    #[error("the cloud certificate needs at least one DNS name or IP address")]
    NoCloudNames,
    /// A cloud name is neither a DNS name nor an IP address.
    #[error("{0:?} is neither a DNS name nor an IP address")]
    BadName(String),
    /// Certificate generation failed.
    #[error("cannot issue certificate: {0}")]
    Issue(#[from] rcgen::Error),
    /// `init` would overwrite this file.
    #[error("{} already exists; remove it or choose another directory", .0.display())]
    Exists(PathBuf),
    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A file does not hold what it should.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// PEM text given in memory does not hold what it should.
    #[error("PEM: {0}")]
    Pem(String),
    /// The system random generator failed.
    #[error("random generator failed")]
    Random,
}

/// Issues a CA, a node and a cloud certificate (named `cloud_names`) and a
/// pseudonym key, valid from an hour before `now`.
///
/// # Errors
///
/// [`PkiError::NoCloudNames`], [`PkiError::BadName`], [`PkiError::Issue`],
/// [`PkiError::Random`].
pub fn issue(cloud_names: &[String], now: SystemTime) -> Result<Bundle, PkiError> {
    if cloud_names.is_empty() {
        return Err(PkiError::NoCloudNames);
    }
    if let Some(bad) = cloud_names.iter().find(|n| !is_host_name(n)) {
        return Err(PkiError::BadName(bad.clone()));
    }
    // A CA name of its own, so that a certificate from another operator's CA
    // is refused as from an unknown issuer.
    let mut tag = [0; 6];
    random(&mut tag)?;
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    let not_before = now.checked_sub(Duration::from_secs(3600)).unwrap_or(now);
    let ca_key = KeyPair::generate()?;
    let ca_params = ca_params(&format!("Switchyard bridge CA {tag}"), not_before)?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let node = leaf_params(
        vec!["switchyard-node".to_owned()],
        "switchyard node",
        ExtendedKeyUsagePurpose::ClientAuth,
        not_before,
    )?;
    let (node_cert, node_key) = sign(&node, &issuer)?;
    let cloud = leaf_params(
        cloud_names.to_vec(),
        &cloud_names[0],
        ExtendedKeyUsagePurpose::ServerAuth,
        not_before,
    )?;
    let (cloud_cert, cloud_key) = sign(&cloud, &issuer)?;
    let mut pseudonym_key = [0; KEY_LEN];
    random(&mut pseudonym_key)?;
    let mut replica_key = [0; KEY_LEN];
    random(&mut replica_key)?;
    Ok(Bundle {
        ca_cert: ca_cert.pem(),
        ca_key: ca_key.serialize_pem(),
        node_cert,
        node_key,
        cloud_cert,
        cloud_key,
        pseudonym_key,
        replica_key,
    })
}

pub(crate) fn random(buf: &mut [u8]) -> Result<(), PkiError> {
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(buf)
        .map_err(|_| PkiError::Random)
}

/// A fresh key and its certificate from `issuer`, both as PEM.
fn sign(
    params: &CertificateParams,
    issuer: &Issuer<'_, &KeyPair>,
) -> Result<(String, String), PkiError> {
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A DNS name or an IP address, as TLS clients will dial it.
fn is_host_name(name: &str) -> bool {
    name.parse::<std::net::IpAddr>().is_ok() || rustls::pki_types::DnsName::try_from(name).is_ok()
}

fn ca_params(common_name: &str, not_before: SystemTime) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = not_before.into();
    params.not_after = (not_before + CA_VALIDITY).into();
    Ok(params)
}

fn leaf_params(
    names: Vec<String>,
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
    not_before: SystemTime,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before.into();
    params.not_after = (not_before + LEAF_VALIDITY).into();
    Ok(params)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "Switchyard");
    dn
}

/// Issues everything (see [`issue`], with the system clock) and writes it
/// into `dir`, creating the directory if needed.
///
/// # Errors
///
/// [`PkiError::Exists`] if any target file exists (nothing is written), the
/// errors of [`issue`], [`PkiError::Io`].
pub fn init(dir: &Path, cloud_names: &[String]) -> Result<Issued, PkiError> {
    init_at(dir, cloud_names, SystemTime::now())
}

/// [`init`] with the issuing time given.
///
/// # Errors
///
/// As [`init`].
pub fn init_at(dir: &Path, cloud_names: &[String], now: SystemTime) -> Result<Issued, PkiError> {
    let issued = Issued {
        ca_cert: dir.join(files::CA_CERT),
        ca_key: dir.join(files::CA_KEY),
        node_cert: dir.join(files::NODE_CERT),
        node_key: dir.join(files::NODE_KEY),
        cloud_cert: dir.join(files::CLOUD_CERT),
        cloud_key: dir.join(files::CLOUD_KEY),
        pseudonym_key: dir.join(files::PSEUDONYM_KEY),
        replica_key: dir.join(files::REPLICA_KEY),
    };
    let bundle = issue(cloud_names, now)?;
    let key_hex = hex(&bundle.pseudonym_key);
    let replica_hex = hex(&bundle.replica_key);
    let writes = [
        (&issued.ca_cert, bundle.ca_cert.as_str(), false),
        (&issued.ca_key, bundle.ca_key.as_str(), true),
        (&issued.node_cert, bundle.node_cert.as_str(), false),
        (&issued.node_key, bundle.node_key.as_str(), true),
        (&issued.cloud_cert, bundle.cloud_cert.as_str(), false),
        (&issued.cloud_key, bundle.cloud_key.as_str(), true),
        (&issued.pseudonym_key, key_hex.as_str(), true),
        (&issued.replica_key, replica_hex.as_str(), true),
    ];
    if let Some((path, _, _)) = writes.iter().find(|(p, _, _)| p.exists()) {
        return Err(PkiError::Exists((*path).clone()));
    }
    std::fs::create_dir_all(dir).map_err(|source| PkiError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for (path, text, secret) in writes {
        write_new(path, text, secret)?;
    }
    Ok(issued)
}

fn write_new(path: &Path, text: &str, secret: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// The certificates in a PEM file, in order (leaf first for a chain).
///
/// # Errors
///
/// [`PkiError::Io`], or [`PkiError::Invalid`] when the file holds none.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let invalid = |reason: String| PkiError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid("no CERTIFICATE block".to_owned()));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, SEC1 or PKCS#1).
///
/// # Errors
///
/// [`PkiError::Io`], or [`PkiError::Invalid`] when the file holds no key.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, e))
}

/// The pseudonym key written by [`init`] (64 hex digits).
///
/// # Errors
///
/// [`PkiError::Io`], or [`PkiError::Invalid`] when the file holds anything
/// else.
pub fn load_pseudonym_key(path: &Path) -> Result<PseudonymKey, PkiError> {
    let bytes = load_hex_key(path)?;
    PseudonymKey::from_bytes(&bytes).map_err(|_| PkiError::Invalid {
        path: path.to_owned(),
        reason: format!("expected {} hex digits", KEY_LEN * 2),
    })
}

/// Reads the replica key ([`files::REPLICA_KEY`]: 64 hex digits).
///
/// # Errors
///
/// [`PkiError::Io`], or [`PkiError::Invalid`] when the file holds anything
/// else.
pub fn load_replica_key(path: &Path) -> Result<crate::replica::ReplicaKey, PkiError> {
    load_hex_key(path).map(crate::replica::ReplicaKey::from_bytes)
}

/// A file of exactly [`KEY_LEN`] bytes as hex digits (surrounding white
/// space allowed).
fn load_hex_key(path: &Path) -> Result<[u8; KEY_LEN], PkiError> {
    let text = std::fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_owned(),
        source,
    })?;
    let invalid = || PkiError::Invalid {
        path: path.to_owned(),
        reason: format!("expected {} hex digits", KEY_LEN * 2),
    };
    let hex = text.trim();
    if hex.len() != KEY_LEN * 2 || !hex.is_ascii() {
        return Err(invalid());
    }
    let mut key = [0; KEY_LEN];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| invalid())?;
    }
    Ok(key)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The certificates in PEM text, in order.
///
/// # Errors
///
/// [`PkiError::Pem`] when the text holds none or a broken one.
pub fn parse_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(PkiError::Pem("no CERTIFICATE block".to_owned()));
    }
    Ok(certs)
}

/// The private key in PEM text.
///
/// # Errors
///
/// [`PkiError::Pem`] when the text holds no key.
pub fn parse_key(pem: &str) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| PkiError::Pem(e.to_string()))
}

fn pem_error(path: &Path, e: rustls::pki_types::pem::Error) -> PkiError {
    match e {
        rustls::pki_types::pem::Error::Io(source) => PkiError::Io {
            path: path.to_owned(),
            source,
        },
        other => PkiError::Invalid {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
