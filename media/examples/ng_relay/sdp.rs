//! Just enough SDP for a relay's control plane: where a peer wants its audio
//! ([`audio_endpoint`]), and the same body pointed at the relay instead ([`rewrite`]).
//!
//! Line-based on purpose: only `c=`, `m=` and `a=rtcp:` lines are read or changed, every
//! other line passes through as it came. The first `m=audio` section is the one relayed;
//! its media-level `c=` wins over the session-level one.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Why no audio endpoint could be read from an SDP body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SdpError {
    /// No `m=audio` line.
    NoAudio,
    /// The `m=audio` line's port is not a number.
    BadPort,
    /// No `c=` line applies to the audio section, or its address is not an IP.
    NoConnection,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAudio => write!(f, "no m=audio line"),
            Self::BadPort => write!(f, "bad m=audio port"),
            Self::NoConnection => write!(f, "no usable c= line for audio"),
        }
    }
}

impl std::error::Error for SdpError {}

/// The address the body asks audio to be sent to.
pub(crate) fn audio_endpoint(sdp: &str) -> Result<SocketAddr, SdpError> {
    let mut session_ip = None;
    let mut audio: Option<(u16, Option<IpAddr>)> = None;
    let mut seen_media = false;
    for line in lines(sdp) {
        if let Some(media) = line.strip_prefix("m=") {
            if audio.is_some() {
                break;
            }
            seen_media = true;
            if media.starts_with("audio ") {
                let port = media.split(' ').nth(1).unwrap_or_default();
                let port = port.split('/').next().unwrap_or_default();
                audio = Some((port.parse().map_err(|_| SdpError::BadPort)?, None));
            }
        } else if let Some(connection) = line.strip_prefix("c=") {
            let ip = connection_ip(connection);
            match &mut audio {
                Some((_, media_ip)) => *media_ip = ip,
                None if !seen_media => session_ip = ip,
                None => {}
            }
        }
    }
    let (port, media_ip) = audio.ok_or(SdpError::NoAudio)?;
    let ip = media_ip.or(session_ip).ok_or(SdpError::NoConnection)?;
    Ok(SocketAddr::new(ip, port))
}

/// `sdp` with every `c=` line naming `to`'s IP, the first `m=audio` port set to `to`'s
/// port, other media sections refused (port 0), and `a=rtcp:` lines dropped (RTCP is on
/// the RTP port + 1). Line endings are kept as the body used them.
pub(crate) fn rewrite(sdp: &str, to: SocketAddr) -> String {
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    let family = if to.is_ipv4() { "IP4" } else { "IP6" };
    let mut out = String::with_capacity(sdp.len() + 16);
    let mut audio_done = false;
    for line in lines(sdp) {
        if line.starts_with("a=rtcp:") {
            continue;
        }
        if line.starts_with("c=") {
            out.push_str(&format!("c=IN {family} {}", to.ip()));
        } else if let Some(media) = line.strip_prefix("m=") {
            let mut fields = media.splitn(3, ' ');
            let kind = fields.next().unwrap_or_default();
            let _port = fields.next();
            let rest = fields.next().unwrap_or_default();
            let port = if kind == "audio" && !audio_done {
                audio_done = true;
                to.port()
            } else {
                0
            };
            out.push_str(&format!("m={kind} {port} {rest}"));
        } else {
            out.push_str(line);
        }
        out.push_str(eol);
    }
    out
}

/// The body's lines without their endings (CRLF or LF), skipping the empty tail.
fn lines(sdp: &str) -> impl Iterator<Item = &str> {
    sdp.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty())
}

/// The IP of a `c=` value (`IN IP4 192.0.2.1`, optionally `/ttl`).
fn connection_ip(value: &str) -> Option<IpAddr> {
    let address = value.split(' ').nth(2)?;
    address.split('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\n\
        t=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtcp:4001\r\na=rtpmap:0 PCMU/8000\r\n\
        m=video 4002 RTP/AVP 96\r\n";

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn reads_the_audio_endpoint() {
        assert_eq!(audio_endpoint(OFFER), Ok(addr("10.0.0.9:4000")));
        let media_level = "v=0\nc=IN IP4 10.0.0.1\nm=audio 5000 RTP/AVP 0\nc=IN IP4 10.0.0.2\n";
        assert_eq!(audio_endpoint(media_level), Ok(addr("10.0.0.2:5000")));
        let video_first = "c=IN IP4 10.0.0.1\nm=video 1 RTP/AVP 96\nc=IN IP4 10.0.0.7\n\
            m=audio 5002 RTP/AVP 0\n";
        assert_eq!(audio_endpoint(video_first), Ok(addr("10.0.0.1:5002")));
        let v6 = "v=0\nm=audio 6000/2 RTP/AVP 8\nc=IN IP6 ::1\n";
        assert_eq!(audio_endpoint(v6), Ok(addr("[::1]:6000")));
    }

    #[test]
    fn says_what_is_missing() {
        assert_eq!(audio_endpoint("v=0\r\n"), Err(SdpError::NoAudio));
        assert_eq!(
            audio_endpoint("m=audio x RTP/AVP 0\nc=IN IP4 1.2.3.4\n"),
            Err(SdpError::BadPort)
        );
        assert_eq!(
            audio_endpoint("m=audio 1 RTP/AVP 0\nc=IN IP4 host.example\n"),
            Err(SdpError::NoConnection)
        );
        assert_eq!(
            audio_endpoint("m=audio 70000 RTP/AVP 0"),
            Err(SdpError::BadPort)
        );
    }

    #[test]
    fn rewrites_audio_to_the_relay_and_refuses_the_rest() {
        let out = rewrite(OFFER, addr("127.0.0.1:30000"));
        assert_eq!(
            out,
            "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\nm=video 0 RTP/AVP 96\r\n"
        );
        assert_eq!(audio_endpoint(&out), Ok(addr("127.0.0.1:30000")));
    }

    #[test]
    fn odd_bodies_do_not_panic() {
        for body in [
            "m=",
            "m=audio",
            "c=",
            "c=IN",
            "\n\n\r\n",
            "m=audio 1",
            "é\u{0}",
        ] {
            let _ = audio_endpoint(body);
            let _ = rewrite(body, addr("127.0.0.1:1"));
        }
    }
}
