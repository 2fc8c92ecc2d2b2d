//! [`SrtpContext`]: protect and unprotect RTP and RTCP packets in place.

use std::fmt;

use super::keys::{SRTCP_LABELS, SRTP_LABELS, SessionKeys};
use super::replay::{ReplayWindow, estimate_index};
use super::streams::Streams;
use super::{MasterKey, SrtpError, SrtpSuite};

/// Bytes of the fixed RTP header.
const RTP_HEADER_LEN: usize = 12;
/// Bytes of RTCP left in clear: the first header and the sender's SSRC (§3.4).
const RTCP_CLEAR_LEN: usize = 8;
/// Bytes of the SRTCP `E || index` word.
const SRTCP_INDEX_LEN: usize = 4;
/// The highest SRTP packet index (48 bits).
const MAX_SRTP_INDEX: u64 = (1 << 48) - 1;
/// The highest SRTCP index (31 bits).
const MAX_SRTCP_INDEX: u32 = 0x7FFF_FFFF;
/// The E bit of the SRTCP index word: the packet's payload is encrypted.
const ENCRYPTED: u32 = 0x8000_0000;

/// The SRTP/SRTCP state of one master key: session keys and per-SSRC counters.
///
/// See the [module documentation](super) for the call order and the checks made.
#[derive(Clone)]
pub struct SrtpContext {
    suite: SrtpSuite,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    /// Per SSRC we send: the indices protected so far (never one index twice).
    rtp_sent: Streams<ReplayWindow>,
    /// Per SSRC we receive: rollover counter and replay window.
    rtp_received: Streams<ReplayWindow>,
    /// Per SSRC we send: the next SRTCP index.
    rtcp_sent: Streams<u32>,
    /// Per SSRC we receive: the SRTCP replay window.
    rtcp_received: Streams<ReplayWindow>,
}

impl SrtpContext {
    /// A context for `suite` keyed by a master key and salt (as an `a=crypto` line gives
    /// them); derives the SRTP and SRTCP session keys.
    #[must_use]
    pub fn new(
        suite: SrtpSuite,
        master_key: &[u8; MasterKey::KEY_LEN],
        master_salt: &[u8; MasterKey::SALT_LEN],
    ) -> Self {
        Self::from_master_key(suite, &MasterKey::new(*master_key, *master_salt))
    }

    /// A context for `suite` keyed by `master`.
    #[must_use]
    pub fn from_master_key(suite: SrtpSuite, master: &MasterKey) -> Self {
        Self {
            suite,
            rtp: SessionKeys::derive(master, SRTP_LABELS),
            rtcp: SessionKeys::derive(master, SRTCP_LABELS),
            rtp_sent: Streams::new(),
            rtp_received: Streams::new(),
            rtcp_sent: Streams::new(),
            rtcp_received: Streams::new(),
        }
    }

    /// The context's crypto suite.
    #[must_use]
    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// Turns an RTP packet into SRTP: encrypts the payload (everything after the header,
    /// CSRCs and extension) and appends the authentication tag.
    ///
    /// Protecting the same sequence number of an SSRC twice, or one more than the replay
    /// window behind, is refused ([`SrtpError::Replayed`], [`SrtpError::TooOld`]): it
    /// would reuse keystream.
    pub fn protect(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        let header = RtpHeader::parse(packet, 0)?;
        let mut window = self
            .rtp_sent
            .state(header.ssrc)
            .unwrap_or_else(|| ReplayWindow::starting_at(u64::from(header.seq)));
        let (index, roc) = srtp_index(&window, header.seq)?;
        window.check(index)?;
        self.rtp
            .apply_keystream(header.ssrc, index, &mut packet[header.len..]);
        let tag = self.rtp.tag(packet, &roc.to_be_bytes());
        packet.extend_from_slice(&tag[..self.suite.rtp_tag_len()]);
        window.accept(index);
        self.rtp_sent.store(header.ssrc, window);
        Ok(())
    }

    /// Turns an SRTP packet back into RTP: checks the tag, then the replay window,
    /// then decrypts and strips the tag. On error the packet is unchanged.
    pub fn unprotect(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        let len = self.unprotect_in_place(packet)?;
        packet.truncate(len);
        Ok(())
    }

    /// [`Self::unprotect`] on a borrowed buffer holding exactly the SRTP packet: decrypts
    /// in place and returns the length of the RTP packet (the tag's bytes at the end are
    /// left as they were). On error the buffer is unchanged.
    pub fn unprotect_in_place(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let tag_len = self.suite.rtp_tag_len();
        let header = RtpHeader::parse(packet, tag_len)?;
        let body_len = packet.len() - tag_len;
        let mut window = self
            .rtp_received
            .state(header.ssrc)
            .unwrap_or_else(|| ReplayWindow::starting_at(u64::from(header.seq)));
        let (index, roc) = srtp_index(&window, header.seq)?;
        let (body, tag) = packet.split_at(body_len);
        if !self.rtp.verify(body, &roc.to_be_bytes(), tag) {
            return Err(SrtpError::Authentication);
        }
        window.check(index)?;
        self.rtp
            .apply_keystream(header.ssrc, index, &mut packet[header.len..body_len]);
        window.accept(index);
        self.rtp_received.store(header.ssrc, window);
        Ok(body_len)
    }

    /// Turns an RTCP (compound) packet into SRTCP: encrypts everything after the first
    /// 8 bytes, appends `E || SRTCP index` and the 80-bit tag.
    pub fn protect_rtcp(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        let ssrc = rtcp_ssrc(packet, 0)?;
        let index = self.rtcp_sent.state(ssrc).unwrap_or(0);
        if index > MAX_SRTCP_INDEX {
            return Err(SrtpError::KeyExhausted);
        }
        let tag_len = self.suite.rtcp_tag_len();
        packet.reserve(SRTCP_INDEX_LEN + tag_len);
        self.rtcp
            .apply_keystream(ssrc, u64::from(index), &mut packet[RTCP_CLEAR_LEN..]);
        packet.extend_from_slice(&(index | ENCRYPTED).to_be_bytes());
        let tag = self.rtcp.tag(packet, &[]);
        packet.extend_from_slice(&tag[..tag_len]);
        self.rtcp_sent.store(ssrc, index + 1);
        Ok(())
    }

    /// Turns an SRTCP packet back into RTCP: checks the tag, then the replay window,
    /// then decrypts (when the E bit says the sender encrypted) and strips the trailer.
    /// On error the packet is unchanged.
    pub fn unprotect_rtcp(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        let len = self.unprotect_rtcp_in_place(packet)?;
        packet.truncate(len);
        Ok(())
    }

    /// [`Self::unprotect_rtcp`] on a borrowed buffer holding exactly the SRTCP packet:
    /// decrypts in place and returns the length of the RTCP packet. On error the buffer
    /// is unchanged.
    pub fn unprotect_rtcp_in_place(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let tag_len = self.suite.rtcp_tag_len();
        let ssrc = rtcp_ssrc(packet, SRTCP_INDEX_LEN + tag_len)?;
        let body_len = packet.len() - tag_len;
        let (body, tag) = packet.split_at(body_len);
        if !self.rtcp.verify(body, &[], tag) {
            return Err(SrtpError::Authentication);
        }
        let clear_len = body_len - SRTCP_INDEX_LEN;
        let word = be_u32(&packet[clear_len..body_len]);
        let index = u64::from(word & MAX_SRTCP_INDEX);
        let mut window = self
            .rtcp_received
            .state(ssrc)
            .unwrap_or_else(|| ReplayWindow::starting_at(index));
        window.check(index)?;
        if word & ENCRYPTED != 0 {
            self.rtcp
                .apply_keystream(ssrc, index, &mut packet[RTCP_CLEAR_LEN..clear_len]);
        }
        window.accept(index);
        self.rtcp_received.store(ssrc, window);
        Ok(clear_len)
    }

    /// How many SSRCs the context tracks, sending and receiving, SRTP and SRTCP.
    #[must_use]
    pub fn stream_count(&self) -> usize {
        self.rtp_sent.len()
            + self.rtp_received.len()
            + self.rtcp_sent.len()
            + self.rtcp_received.len()
    }
}

impl fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .field("streams", &self.stream_count())
            .finish_non_exhaustive()
    }
}

/// The index of a packet with sequence number `seq` in the stream `window` tracks, and
/// its rollover counter; [`SrtpError::KeyExhausted`] past 2^48 packets.
fn srtp_index(window: &ReplayWindow, seq: u16) -> Result<(u64, u32), SrtpError> {
    let index = estimate_index(window.highest(), seq);
    if index > MAX_SRTP_INDEX {
        return Err(SrtpError::KeyExhausted);
    }
    let roc = u32::try_from(index >> 16).map_err(|_| SrtpError::KeyExhausted)?;
    Ok((index, roc))
}

/// What SRTP needs of an RTP header.
#[derive(Debug, Clone, Copy)]
struct RtpHeader {
    /// Bytes of fixed header, CSRCs and extension: where the payload starts.
    len: usize,
    seq: u16,
    ssrc: u32,
}

impl RtpHeader {
    /// Reads the header of `packet`, which must also hold `trailer` bytes after it.
    fn parse(packet: &[u8], trailer: usize) -> Result<Self, SrtpError> {
        let short = |needed: usize| SrtpError::Truncated {
            len: packet.len(),
            needed: needed + trailer,
        };
        if packet.len() < RTP_HEADER_LEN + trailer {
            return Err(short(RTP_HEADER_LEN));
        }
        check_version(packet[0])?;
        let mut len = RTP_HEADER_LEN + 4 * usize::from(packet[0] & 0x0F);
        if packet[0] & 0x10 != 0 {
            if packet.len() < len + 4 + trailer {
                return Err(short(len + 4));
            }
            let words = u16::from_be_bytes([packet[len + 2], packet[len + 3]]);
            len += 4 + 4 * usize::from(words);
        }
        if packet.len() < len + trailer {
            return Err(short(len));
        }
        Ok(Self {
            len,
            seq: u16::from_be_bytes([packet[2], packet[3]]),
            ssrc: be_u32(&packet[8..12]),
        })
    }
}

/// The sender SSRC of an RTCP packet that must also hold `trailer` bytes after the
/// clear part.
fn rtcp_ssrc(packet: &[u8], trailer: usize) -> Result<u32, SrtpError> {
    let needed = RTCP_CLEAR_LEN + trailer;
    if packet.len() < needed {
        return Err(SrtpError::Truncated {
            len: packet.len(),
            needed,
        });
    }
    check_version(packet[0])?;
    Ok(be_u32(&packet[4..8]))
}

fn check_version(first: u8) -> Result<(), SrtpError> {
    match first >> 6 {
        2 => Ok(()),
        version => Err(SrtpError::Version(version)),
    }
}

/// The big-endian `u32` in the first four bytes of `bytes` (callers pass four).
fn be_u32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .fold(0, |value, &byte| (value << 8) | u32::from(byte))
}
