//! Errors of the RTP/RTCP wire layer, split by who is at fault: [`RtpError`] and
//! [`RtcpError`] for what a peer sent, [`WriteError`] for what the local side asked to
//! serialise.

/// Why received bytes are not a valid RTP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    /// The packet ends before the header, CSRC list or extension it announces.
    #[error("RTP packet of {len} bytes is truncated: its header needs {needed}")]
    Truncated {
        /// Bytes the header (fixed part, CSRCs, extension) needs.
        needed: usize,
        /// Bytes present.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    /// The padding bit is set but the padding count is zero or longer than what follows
    /// the header.
    #[error("RTP padding count {count} does not fit the {available} bytes after the header")]
    BadPadding {
        /// The count in the packet's last byte.
        count: u8,
        /// Bytes between the end of the header and the end of the packet.
        available: usize,
    },
}

/// Why received bytes are not a valid RTCP packet or compound packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    /// Fewer than the 4 bytes of a common header are left.
    #[error("RTCP header truncated: {len} bytes left, 4 needed")]
    TruncatedHeader {
        /// Bytes left.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTCP version {0}, expected 2")]
    BadVersion(u8),
    /// The length field announces more bytes than the datagram holds.
    #[error("RTCP packet type {pt} declares {declared} bytes, {available} left")]
    BadLength {
        /// The packet type.
        pt: u8,
        /// Bytes the length field announces (header included).
        declared: usize,
        /// Bytes left in the datagram.
        available: usize,
    },
    /// The padding count is zero, longer than the packet body, or padding appears on a
    /// packet that is not the last of the compound.
    #[error("RTCP packet type {pt} has invalid padding")]
    BadPadding {
        /// The packet type.
        pt: u8,
    },
    /// The body is shorter than its count field (reports, chunks, sources) requires.
    #[error("RTCP packet type {pt} body of {len} bytes is too short: {needed} needed")]
    TruncatedBody {
        /// The packet type.
        pt: u8,
        /// Bytes the counted items need.
        needed: usize,
        /// Bytes in the body.
        len: usize,
    },
    /// An SDES chunk's items run past the end of the packet or lack their terminator.
    #[error("RTCP SDES chunk is malformed")]
    BadSdesChunk,
    /// The datagram holds no RTCP packet at all.
    #[error("empty RTCP datagram")]
    Empty,
    /// A compound packet does not start with a sender or receiver report.
    #[error("RTCP compound packet starts with packet type {pt}, not SR or RR")]
    FirstNotReport {
        /// The first packet's type.
        pt: u8,
    },
}

/// Why a packet could not be serialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The output buffer is shorter than the encoded packet.
    #[error("output buffer of {available} bytes, {needed} needed")]
    BufferTooSmall {
        /// Bytes the encoding needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// An RTP header extension's data is not a whole number of 32-bit words, or is longer
    /// than 65 535 words.
    #[error("RTP header extension of {len} bytes is not 0–65535 whole 32-bit words")]
    BadExtensionLength {
        /// The data's length in bytes.
        len: usize,
    },
    /// More than 31 report blocks, SDES chunks or BYE sources in one RTCP packet, or a
    /// raw packet's count beyond 31.
    #[error("{count} items in one RTCP packet, at most 31 fit its count field")]
    TooManyItems {
        /// The number of items asked for.
        count: usize,
    },
    /// An SDES item or BYE reason longer than 255 bytes.
    #[error("RTCP text of {len} bytes, at most 255 fit")]
    TextTooLong {
        /// The text's length in bytes.
        len: usize,
    },
    /// A raw RTCP body that is not a whole number of 32-bit words, or an RTCP packet
    /// longer than its 16-bit length field can describe.
    #[error("RTCP body of {len} bytes is not a whole number of words within 65535 words")]
    BadBodyLength {
        /// The body's length in bytes.
        len: usize,
    },
}
