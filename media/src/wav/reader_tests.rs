use proptest::prelude::*;

use super::*;
use crate::wav::encode;

/// A RIFF/WAVE file of `chunks`, each padded to even length as the spec says.
fn riff(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    for (id, data) in chunks {
        body.extend_from_slice(*id);
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend_from_slice(&body);
    file
}

fn fmt_chunk(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let align = channels * bits / 8;
    let mut f = Vec::new();
    f.extend_from_slice(&tag.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&rate.to_le_bytes());
    f.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
    f.extend_from_slice(&align.to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    f
}

fn extensible_fmt(subformat: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let mut f = fmt_chunk(WAVE_FORMAT_EXTENSIBLE, channels, rate, bits);
    f.extend_from_slice(&22u16.to_le_bytes()); // cbSize
    f.extend_from_slice(&bits.to_le_bytes()); // valid bits
    f.extend_from_slice(&0u32.to_le_bytes()); // channel mask
    f.extend_from_slice(&subformat.to_le_bytes());
    f.extend_from_slice(&SUBTYPE_GUID_TAIL);
    f
}

fn pcm16(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

fn mono(rate: SampleRate) -> WavFormat {
    WavFormat {
        channels: Channels::Mono,
        sample_rate: rate,
        encoding: SampleEncoding::Signed16,
    }
}

#[test]
fn reads_what_encode_writes_mono_and_stereo() {
    let samples: Vec<i16> = (0..320).map(|i| (i * 97 - 15_000) as i16).collect();
    for channels in [Channels::Mono, Channels::Stereo] {
        let format = WavFormat {
            channels,
            ..mono(SampleRate::Hz16000)
        };
        let file = encode(format, &samples).expect("small file");
        let wav = WavReader::parse(&file).expect("valid file");
        assert_eq!(wav.format(), format);
        assert_eq!(wav.samples().collect::<Vec<_>>(), samples);
        assert_eq!(wav.frame_count(), 320 / channels.count() as usize);
    }
}

#[test]
fn skips_list_and_fact_chunks_and_odd_padding() {
    let file = riff(&[
        (b"LIST", b"INFOx".to_vec()), // odd: a pad byte follows
        (b"fmt ", fmt_chunk(1, 1, 8_000, 16)),
        (b"fact", 3u32.to_le_bytes().to_vec()),
        (b"junk", vec![0xAB; 7]),
        (b"data", pcm16(&[1, -2, 3])),
        (b"LIST", b"trailing".to_vec()),
    ]);
    let wav = WavReader::parse(&file).expect("extra chunks are skipped");
    assert_eq!(wav.samples().collect::<Vec<_>>(), vec![1, -2, 3]);
    assert_eq!(wav.duration(), Duration::from_micros(375));
}

#[test]
fn data_before_fmt_is_found() {
    let file = riff(&[
        (b"data", pcm16(&[7, 8])),
        (b"fmt ", fmt_chunk(1, 1, 48_000, 16)),
    ]);
    let wav = WavReader::parse(&file).expect("order does not matter");
    assert_eq!(wav.samples().collect::<Vec<_>>(), vec![7, 8]);
}

#[test]
fn eight_bit_is_converted_to_sixteen() {
    let file = riff(&[
        (b"fmt ", fmt_chunk(1, 1, 8_000, 8)),
        (b"data", vec![0, 128, 255]),
    ]);
    let wav = WavReader::parse(&file).expect("8-bit PCM is played");
    assert_eq!(wav.format().encoding, SampleEncoding::Unsigned8);
    assert_eq!(wav.samples().collect::<Vec<_>>(), vec![-32_768, 0, 32_512]);
}

#[test]
fn extensible_pcm_is_accepted_and_extensible_float_is_not() {
    let pcm = riff(&[
        (b"fmt ", extensible_fmt(1, 2, 48_000, 16)),
        (b"data", pcm16(&[1, 2, 3, 4])),
    ]);
    let wav = WavReader::parse(&pcm).expect("extensible PCM");
    assert_eq!(wav.format().channels, Channels::Stereo);
    assert_eq!(wav.to_mono(), vec![1, 3]);

    let float = riff(&[
        (b"fmt ", extensible_fmt(3, 1, 8_000, 32)),
        (b"data", vec![0; 8]),
    ]);
    assert_eq!(
        WavReader::parse(&float).err(),
        Some(WavError::UnsupportedEncoding { format_tag: 3 })
    );
}

#[test]
fn rejects_what_it_cannot_play() {
    let case =
        |fmt: Vec<u8>| WavReader::parse(&riff(&[(b"fmt ", fmt), (b"data", vec![0; 12])])).err();
    assert_eq!(
        case(fmt_chunk(0x11, 1, 8_000, 4)),
        Some(WavError::UnsupportedEncoding { format_tag: 0x11 })
    );
    assert_eq!(
        case(fmt_chunk(1, 1, 8_000, 24)),
        Some(WavError::UnsupportedBitDepth(24))
    );
    assert_eq!(
        case(fmt_chunk(1, 1, 8_000, 32)),
        Some(WavError::UnsupportedBitDepth(32))
    );
    assert_eq!(
        case(fmt_chunk(1, 6, 8_000, 16)),
        Some(WavError::UnsupportedChannels(6))
    );
    assert_eq!(
        case(fmt_chunk(1, 1, 12_345, 16)),
        Some(WavError::UnsupportedSampleRate(12_345))
    );
    let mut bad_align = fmt_chunk(1, 2, 8_000, 16);
    bad_align[12] = 2;
    assert!(matches!(
        case(bad_align),
        Some(WavError::MalformedFormat(_))
    ));
    assert!(matches!(
        case(vec![1, 0, 1, 0]),
        Some(WavError::MalformedFormat(_))
    ));
}

#[test]
fn rejects_missing_chunks_and_foreign_containers() {
    let no_fmt = riff(&[(b"data", vec![0; 4])]);
    assert_eq!(
        WavReader::parse(&no_fmt).err(),
        Some(WavError::MissingFormat)
    );
    let no_data = riff(&[(b"fmt ", fmt_chunk(1, 1, 8_000, 16))]);
    assert_eq!(
        WavReader::parse(&no_data).err(),
        Some(WavError::MissingData)
    );
    let mut rifx = encode(mono(SampleRate::Hz8000), &[0; 4]).expect("small");
    rifx[3] = b'X';
    assert_eq!(WavReader::parse(&rifx).err(), Some(WavError::NotRiffWave));
    assert_eq!(WavReader::parse(b"RIFF").err(), Some(WavError::NotRiffWave));
}

#[test]
fn truncated_data_is_read_as_far_as_whole_frames_go() {
    let format = WavFormat {
        channels: Channels::Stereo,
        ..mono(SampleRate::Hz8000)
    };
    let file = encode(format, &[1, 2, 3, 4, 5, 6]).expect("small");
    // Cut inside the third sample frame: two frames remain.
    let wav = WavReader::parse(&file[..file.len() - 3]).expect("truncated but playable");
    assert_eq!(wav.samples().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
}

#[test]
fn riff_size_field_is_not_trusted() {
    let mut file = encode(mono(SampleRate::Hz8000), &[5, 6, 7]).expect("small");
    file[4..8].copy_from_slice(&0u32.to_le_bytes()); // as streaming writers leave it
    let wav = WavReader::parse(&file).expect("size field ignored");
    assert_eq!(wav.frame_count(), 3);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(wav) = WavReader::parse(&bytes) {
            let n = wav.samples().count();
            prop_assert_eq!(n, wav.frame_count() * wav.format().channels.count() as usize);
        }
    }

    #[test]
    fn mutated_valid_files_never_panic(
        samples in proptest::collection::vec(any::<i16>(), 0..64),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in any::<usize>(),
    ) {
        let mut file = riff(&[
            (b"LIST", b"INFOabc".to_vec()),
            (b"fmt ", fmt_chunk(1, 2, 16_000, 16)),
            (b"data", pcm16(&samples)),
        ]);
        for (at, byte) in edits {
            let at = at % file.len();
            file[at] = byte;
        }
        file.truncate(cut % (file.len() + 1));
        if let Ok(wav) = WavReader::parse(&file) {
            let _ = wav.to_mono();
            prop_assert!(wav.samples().len() <= file.len());
        }
    }

    #[test]
    fn round_trip_preserves_samples(samples in proptest::collection::vec(any::<i16>(), 0..512)) {
        let file = encode(mono(SampleRate::Hz48000), &samples).expect("small");
        let wav = WavReader::parse(&file).expect("valid");
        prop_assert_eq!(wav.samples().collect::<Vec<_>>(), samples);
    }
}

#[test]
fn g711_files_decode_through_the_tables() {
    for (encoding, encode_one) in [
        (
            SampleEncoding::MuLaw,
            crate::codec::g711::ulaw_encode as fn(i16) -> u8,
        ),
        (SampleEncoding::ALaw, crate::codec::g711::alaw_encode),
    ] {
        let format = WavFormat {
            channels: Channels::Mono,
            sample_rate: SampleRate::Hz8000,
            encoding,
        };
        let pcm: Vec<i16> = (0..160).map(|i| (i * 200 - 16_000) as i16).collect();
        let data: Vec<u8> = pcm.iter().map(|&s| encode_one(s)).collect();
        let mut file = crate::wav::header(format, data.len() as u64)
            .expect("small")
            .to_vec();
        file.extend_from_slice(&data);
        let wav = WavReader::parse(&file).expect("G.711 WAV parses");
        assert_eq!(wav.format(), format);
        let decoded: Vec<i16> = wav.samples().collect();
        assert_eq!(decoded.len(), 160);
        for (d, s) in decoded.iter().zip(&pcm) {
            assert!(
                (d - s).abs() <= (s.abs() / 16).max(16),
                "{encoding:?}: {s} came back as {d}"
            );
        }
    }
}

#[test]
fn g711_files_must_be_8_bit() {
    let format = WavFormat {
        channels: Channels::Mono,
        sample_rate: SampleRate::Hz8000,
        encoding: SampleEncoding::MuLaw,
    };
    let mut file = crate::wav::header(format, 4).expect("small").to_vec();
    file[34] = 16; // bits per sample
    file[32] = 2; // block align to match
    file.extend_from_slice(&[0; 4]);
    assert_eq!(
        WavReader::parse(&file).map(|_| ()),
        Err(WavError::UnsupportedBitDepth(16))
    );
}
