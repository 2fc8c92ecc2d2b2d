//! Session keys (RFC 3711 §4.3, key derivation rate 0) and the AES-CM and HMAC-SHA1
//! transforms (§4.1.1, §4.2.1) that use them.

use aes::Aes128;
use aes::cipher::{InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::MasterKey;

/// Bytes of session (and master) encryption key.
const CIPHER_KEY_LEN: usize = 16;
/// Bytes of session (and master) salt.
pub(super) const SALT_LEN: usize = 14;
/// Bytes of session authentication key for HMAC-SHA1 (RFC 3711 §8.2).
const AUTH_KEY_LEN: usize = 20;

/// AES-128 in counter mode with a 128-bit big-endian counter, as RFC 3711 §4.1.1 uses it.
type AesCtrCore = ctr::CtrCore<Aes128, ctr::flavors::Ctr128BE>;

/// The key-derivation labels of one protocol (RFC 3711 §4.3.1, §4.3.2).
#[derive(Debug, Clone, Copy)]
pub(super) struct Labels {
    cipher: u8,
    auth: u8,
    salt: u8,
}

/// Labels for SRTP.
pub(super) const SRTP_LABELS: Labels = Labels {
    cipher: 0x00,
    auth: 0x01,
    salt: 0x02,
};

/// Labels for SRTCP.
pub(super) const SRTCP_LABELS: Labels = Labels {
    cipher: 0x03,
    auth: 0x04,
    salt: 0x05,
};

/// The session keys of one protocol (SRTP or SRTCP), ready to use: the AES key schedule
/// and the keyed HMAC state are computed once.
#[derive(Clone)]
pub(super) struct SessionKeys {
    cipher: Aes128,
    salt: [u8; SALT_LEN],
    auth: Hmac<Sha1>,
}

impl SessionKeys {
    /// Derives the session keys for `labels` from the master key (RFC 3711 §4.3.1 with
    /// r = 0, as key derivation rate 0 gives).
    pub(super) fn derive(master: &MasterKey, labels: Labels) -> Self {
        let mut cipher_key = [0; CIPHER_KEY_LEN];
        let mut salt = [0; SALT_LEN];
        let mut auth_key = [0; AUTH_KEY_LEN];
        derive_key(master, labels.cipher, &mut cipher_key);
        derive_key(master, labels.salt, &mut salt);
        derive_key(master, labels.auth, &mut auth_key);
        Self::from_session_keys(&cipher_key, salt, &auth_key)
    }

    /// Session keys given directly (the RFC 3711 §B.2 test gives them so).
    pub(super) fn from_session_keys(
        cipher_key: &[u8; CIPHER_KEY_LEN],
        salt: [u8; SALT_LEN],
        auth_key: &[u8],
    ) -> Self {
        let cipher = Aes128::new(cipher_key.into());
        let auth = <Hmac<Sha1> as KeyInit>::new_from_slice(auth_key)
            // HMAC accepts keys of any length.
            .expect("HMAC takes a key of any length");
        Self { cipher, salt, auth }
    }

    /// XORs `data` with the AES-CM keystream for packet `index` of `ssrc` (§4.1.1):
    /// encrypts or decrypts.
    pub(super) fn apply_keystream(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        keystream_xor(&self.cipher, packet_iv(&self.salt, ssrc, index), data);
    }

    /// HMAC-SHA1 over `authenticated` followed by `trailer` (the ROC for SRTP, nothing
    /// for SRTCP), all 20 bytes.
    pub(super) fn tag(&self, authenticated: &[u8], trailer: &[u8]) -> [u8; 20] {
        let mut mac = self.auth.clone();
        mac.update(authenticated);
        mac.update(trailer);
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is the leftmost bytes of the HMAC over `authenticated || trailer`,
    /// compared in constant time.
    pub(super) fn verify(&self, authenticated: &[u8], trailer: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.auth.clone();
        mac.update(authenticated);
        mac.update(trailer);
        mac.verify_truncated_left(tag).is_ok()
    }
}

/// The RFC 3711 §4.3.1 key derivation with r = 0: the AES-CM keystream under the master
/// key, starting at `(master_salt XOR label << 48) << 16`.
pub(super) fn derive_key(master: &MasterKey, label: u8, out: &mut [u8]) {
    let cipher = Aes128::new(master.key().into());
    let mut iv = [0; 16];
    iv[..SALT_LEN].copy_from_slice(master.salt());
    // The label sits right above the 48-bit `index DIV kdr` (zero here).
    iv[7] ^= label;
    out.fill(0);
    keystream_xor(&cipher, iv, out);
}

/// The AES-CM initial counter of §4.1.1: `(salt << 16) XOR (ssrc << 64) XOR (index << 16)`.
pub(super) fn packet_iv(salt: &[u8; SALT_LEN], ssrc: u32, index: u64) -> [u8; 16] {
    let mut iv = [0; 16];
    iv[..SALT_LEN].copy_from_slice(salt);
    for (byte, ssrc_byte) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
        *byte ^= ssrc_byte;
    }
    // The index is 48 bits: the low six of its eight big-endian bytes.
    for (byte, index_byte) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
        *byte ^= index_byte;
    }
    iv
}

/// XORs `data` with the AES counter-mode keystream that starts at counter `iv`.
pub(super) fn keystream_xor(cipher: &Aes128, iv: [u8; 16], data: &mut [u8]) {
    // Reuses the key schedule: only the counter is set per call.
    let core = AesCtrCore::inner_iv_init(cipher.clone(), &iv.into());
    let mut ctr = StreamCipherCoreWrapper::from_core(core);
    ctr.apply_keystream(data);
}
