//! Session descriptions shaped like what common endpoints send. Written with
//! LF; [`crlf`] gives the wire form.

/// A desk phone (Yealink/Polycom style): G.722 first, G.729 with annexb=no,
/// telephone-event after the direction attribute.
pub(super) const DESK_PHONE: &str = "\
v=0
o=- 20038 20038 IN IP4 192.0.2.10
s=SDP data
c=IN IP4 192.0.2.10
t=0 0
m=audio 11780 RTP/AVP 9 0 8 18 101
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=ptime:20
a=sendrecv
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
";

/// A baresip softphone: session-level tool attribute, Opus on a dynamic
/// payload type, bandwidth, RTCP attributes.
pub(super) const BARESIP: &str = "\
v=0
o=- 1977862531 2218524443 IN IP4 192.0.2.20
s=-
c=IN IP4 192.0.2.20
t=0 0
a=tool:baresip 3.10.1
m=audio 10734 RTP/AVP 96 97 9 0 8 101
b=AS:77
a=rtpmap:96 opus/48000/2
a=fmtp:96 stereo=1;sprop-stereo=1
a=rtpmap:97 G7221/32000
a=fmtp:97 bitrate=48000
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=rtcp:10735
a=rtcp-rsize
a=sendrecv
a=label:1
a=ptime:20
";

/// SIPp's built-in `uac` scenario body.
pub(super) const SIPP_UAC: &str = "\
v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
";

/// A browser-style offer: Opus over UDP/TLS/RTP/SAVPF with ICE, DTLS and
/// session-level grouping.
pub(super) const WEBRTC: &str = "\
v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=extmap-allow-mixed
a=msid-semantic: WMS stream1
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:1 1 udp 2122260223 192.0.2.30 54400 typ host generation 0
a=ice-ufrag:Wd2q
a=ice-pwd:qP7hYk3G0sXr8m4tQ1zVbN6c
a=ice-options:trickle
a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=sendrecv
a=msid:stream1 track1
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:1001 cname:x2bQz
";

/// A softphone offering Opus over plain RTP/AVP, with PCMA as fallback.
pub(super) const OPUS_AVP: &str = "\
v=0
o=alice 2890844526 2890844526 IN IP4 192.0.2.40
s=-
c=IN IP4 192.0.2.40
t=0 0
m=audio 49170 RTP/AVP 107 8 100
a=rtpmap:107 opus/48000/2
a=fmtp:107 maxplaybackrate=16000;useinbandfec=1
a=rtpmap:8 PCMA/8000
a=rtpmap:100 telephone-event/8000
a=fmtp:100 0-15,66,70
a=maxptime:40
";

/// An IPv6 offer in the shape of RFC 5118 §4.3 (`ipv6-in-sdp`).
pub(super) const IPV6: &str = "\
v=0
o=bob 280744730 28977631 IN IP6 2001:db8::1
s= 
c=IN IP6 2001:db8::1
t=0 0
m=audio 22334 RTP/AVP 0
a=rtpmap:0 PCMU/8000
";

/// An offer with audio plus video, and a second audio stream; SRTP keys on
/// the first.
pub(super) const MULTI_STREAM: &str = "\
v=0
o=carol 1 1 IN IP4 198.51.100.7
s=call
c=IN IP4 198.51.100.7
t=0 0
m=audio 30000 RTP/AVP 18
a=rtpmap:18 G729/8000
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32 UNENCRYPTED_SRTCP
m=video 30002 RTP/AVP 96
a=rtpmap:96 H264/90000
m=audio 30004 RTP/AVP 0 8
c=IN IP4 198.51.100.8
";

/// `text` with every LF replaced by CRLF.
pub(super) fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}
