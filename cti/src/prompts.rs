//! The node's prompts: every WAV file of the prompts directory, decoded once at load and
//! shared by every call that plays it.
//!
//! A prompt's name is its path below the directory without `.wav`: `en/welcome`,
//! `en/digits/4` — the names IVR flows use. Files are converted at load to 8 kHz (the
//! rate of G.711 legs); a leg in Opus gets a 48 kHz version made on first use and kept.
//! A file that does not decode is skipped with a warning naming it, so one bad file
//! does not take the others down.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use media::codec::SampleRate;
use media::wav::Prompt;

/// How deep the loader descends below the prompts directory.
const MAX_DEPTH: usize = 8;

/// Decoded prompts by name. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prompts {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    narrow: HashMap<String, Prompt>,
    /// Versions at other rates, made on first use.
    converted: Mutex<HashMap<(String, SampleRate), Prompt>>,
}

impl Prompts {
    /// Loads every `*.wav` below `dir`. A missing directory gives an empty set.
    ///
    /// # Errors
    ///
    /// A directory that exists but cannot be read.
    pub(crate) fn load(dir: &Path) -> std::io::Result<Self> {
        let mut narrow = HashMap::new();
        if dir.exists() {
            walk(dir, "", 0, &mut narrow)?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                narrow,
                converted: Mutex::default(),
            }),
        })
    }

    /// How many prompts were loaded.
    #[must_use]
    pub(crate) fn len(&self) -> usize {
        self.inner.narrow.len()
    }

    /// The prompt `name` at `rate`.
    #[must_use]
    pub(crate) fn get(&self, name: &str, rate: SampleRate) -> Option<Prompt> {
        let narrow = self.inner.narrow.get(name)?;
        if rate == narrow.sample_rate() {
            return Some(narrow.clone());
        }
        let key = (name.to_owned(), rate);
        let mut converted = self
            .inner
            .converted
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let prompt = converted
            .entry(key)
            .or_insert_with(|| narrow.converted_to(rate));
        Some(prompt.clone())
    }
}

fn walk(
    dir: &Path,
    prefix: &str,
    depth: usize,
    out: &mut HashMap<String, Prompt>,
) -> std::io::Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let name = if prefix.is_empty() {
            stem.to_owned()
        } else {
            format!("{prefix}/{stem}")
        };
        if path.is_dir() {
            let Some(dir_name) = path.file_name().and_then(|s| s.to_str()) else {
                continue;
            };
            let sub = if prefix.is_empty() {
                dir_name.to_owned()
            } else {
                format!("{prefix}/{dir_name}")
            };
            walk(&path, &sub, depth + 1, out)?;
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
        {
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    Prompt::from_wav(&bytes, SampleRate::Hz8000).map_err(|e| e.to_string())
                }) {
                Ok(prompt) => {
                    out.insert(name, prompt);
                }
                Err(error) => tracing::warn!(path = %path.display(), %error, "prompt skipped"),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use media::wav::{Channels, SampleEncoding, WavFormat, encode};

    fn wav(rate: SampleRate, samples: &[i16]) -> Vec<u8> {
        let format = WavFormat {
            channels: Channels::Mono,
            sample_rate: rate,
            encoding: SampleEncoding::Signed16,
        };
        encode(format, samples).expect("valid format")
    }

    #[test]
    fn prompts_are_named_by_their_path_and_served_at_each_rate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let en = dir.path().join("en");
        std::fs::create_dir_all(en.join("digits")).expect("mkdir");
        std::fs::write(
            en.join("welcome.wav"),
            wav(SampleRate::Hz16000, &[100; 3200]),
        )
        .expect("write");
        std::fs::write(en.join("digits/4.wav"), wav(SampleRate::Hz8000, &[0; 800])).expect("write");
        std::fs::write(en.join("broken.wav"), b"RIFF????").expect("write");
        std::fs::write(en.join("notes.txt"), b"not a prompt").expect("write");
        let prompts = Prompts::load(dir.path()).expect("readable");
        assert_eq!(
            prompts.len(),
            2,
            "the broken file and the text file are skipped"
        );
        let welcome = prompts
            .get("en/welcome", SampleRate::Hz8000)
            .expect("loaded");
        assert_eq!(welcome.duration(), std::time::Duration::from_millis(200));
        let wide = prompts
            .get("en/welcome", SampleRate::Hz48000)
            .expect("converted");
        assert_eq!(wide.sample_rate(), SampleRate::Hz48000);
        assert_eq!(wide.duration(), welcome.duration());
        assert!(prompts.get("en/digits/4", SampleRate::Hz8000).is_some());
        assert!(prompts.get("en/missing", SampleRate::Hz8000).is_none());
    }

    #[test]
    fn the_shipped_demo_prompts_all_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/prompts");
        let prompts = Prompts::load(&dir).expect("readable");
        let files = walkdir_count(&dir);
        assert_eq!(prompts.len(), files, "every shipped WAV decodes");
        let welcome = prompts
            .get("en/welcome", SampleRate::Hz8000)
            .expect("en/welcome");
        assert!(welcome.duration() > std::time::Duration::from_millis(500));
        assert!(prompts.get("es/numbers/21", SampleRate::Hz8000).is_some());
    }

    fn walkdir_count(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .expect("readable")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .map(|p| {
                if p.is_dir() {
                    walkdir_count(&p)
                } else {
                    usize::from(p.extension().is_some_and(|e| e == "wav"))
                }
            })
            .sum()
    }

    #[test]
    fn a_missing_directory_is_an_empty_set() {
        let prompts = Prompts::load(Path::new("/nonexistent/prompts")).expect("no error");
        assert_eq!(prompts.len(), 0);
    }
}
