//! The RTP header extension (RFC 3550 §5.3.1), kept as raw bytes, with a reader for the
//! RFC 8285 one-byte and two-byte element formats.

/// A header extension as carried in the packet: the 16-bit profile word and the data
/// (a whole number of 32-bit words), borrowed from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The "defined by profile" word: `0xBEDE` for RFC 8285 one-byte elements,
    /// `0x100X` for two-byte elements.
    pub profile: u16,
    /// The extension data after the 4-byte extension header, padding included.
    pub data: &'a [u8],
}

/// Which element format an extension's profile word announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionProfile {
    /// RFC 8285 §4.2 one-byte elements (profile `0xBEDE`).
    OneByte,
    /// RFC 8285 §4.3 two-byte elements (profile `0x100X`); the low 4 bits are
    /// application bits.
    TwoByte {
        /// The 4 "appbits" of the profile word.
        app_bits: u8,
    },
    /// Any other profile: the data is opaque.
    Other(u16),
}

/// One RFC 8285 element: its local identifier and its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionElement<'a> {
    /// The local identifier (1–14 for one-byte, 1–255 for two-byte elements).
    pub id: u8,
    /// The element's data.
    pub data: &'a [u8],
}

const ONE_BYTE_PROFILE: u16 = 0xBEDE;
const TWO_BYTE_PROFILE_MASK: u16 = 0xFFF0;
const TWO_BYTE_PROFILE: u16 = 0x1000;

impl<'a> Extension<'a> {
    /// The element format the profile word announces.
    #[must_use]
    pub fn kind(&self) -> ExtensionProfile {
        if self.profile == ONE_BYTE_PROFILE {
            ExtensionProfile::OneByte
        } else if self.profile & TWO_BYTE_PROFILE_MASK == TWO_BYTE_PROFILE {
            // Masked to the low 4 bits, so the truncation keeps them all.
            ExtensionProfile::TwoByte {
                app_bits: (self.profile & 0x000F) as u8,
            }
        } else {
            ExtensionProfile::Other(self.profile)
        }
    }

    /// The RFC 8285 elements, in order, skipping padding bytes. The iteration ends at
    /// the end of the data, at a one-byte element with ID 15, or at the first element that
    /// would run past the data (a malformed tail is ignored, as RFC 8285 §4.2 allows).
    /// Yields nothing for [`ExtensionProfile::Other`].
    #[must_use]
    pub fn elements(&self) -> ExtensionElements<'a> {
        ExtensionElements {
            data: self.data,
            pos: 0,
            kind: self.kind(),
        }
    }
}

/// Iterator over an extension's RFC 8285 elements; see [`Extension::elements`].
#[derive(Clone, Debug)]
pub struct ExtensionElements<'a> {
    data: &'a [u8],
    pos: usize,
    kind: ExtensionProfile,
}

impl<'a> ExtensionElements<'a> {
    fn one_byte(&mut self) -> Option<ExtensionElement<'a>> {
        loop {
            let byte = *self.data.get(self.pos)?;
            if byte == 0 {
                self.pos += 1;
                continue;
            }
            let id = byte >> 4;
            let len = usize::from(byte & 0x0F) + 1;
            let start = self.pos + 1;
            let element = match self.data.get(start..start + len) {
                Some(data) if id != 0 && id != 15 => ExtensionElement { id, data },
                _ => return self.stop(),
            };
            self.pos = start + len;
            return Some(element);
        }
    }

    fn two_byte(&mut self) -> Option<ExtensionElement<'a>> {
        loop {
            let id = *self.data.get(self.pos)?;
            if id == 0 {
                self.pos += 1;
                continue;
            }
            let Some(&len) = self.data.get(self.pos + 1) else {
                return self.stop();
            };
            let start = self.pos + 2;
            let end = start + usize::from(len);
            let Some(data) = self.data.get(start..end) else {
                return self.stop();
            };
            self.pos = end;
            return Some(ExtensionElement { id, data });
        }
    }

    fn stop(&mut self) -> Option<ExtensionElement<'a>> {
        self.pos = self.data.len();
        None
    }
}

impl<'a> Iterator for ExtensionElements<'a> {
    type Item = ExtensionElement<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.kind {
            ExtensionProfile::OneByte => self.one_byte(),
            ExtensionProfile::TwoByte { .. } => self.two_byte(),
            ExtensionProfile::Other(_) => None,
        }
    }
}

impl std::iter::FusedIterator for ExtensionElements<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids_and_data(ext: Extension<'_>) -> Vec<(u8, Vec<u8>)> {
        ext.elements().map(|e| (e.id, e.data.to_vec())).collect()
    }

    #[test]
    fn one_byte_elements_with_padding_between() {
        // ID 1 len 1 (audio level), a padding byte, ID 3 len 3, then padding to 8 bytes.
        let data = [0x10, 0x85, 0x00, 0x32, 0xAA, 0xBB, 0xCC, 0x00];
        let ext = Extension {
            profile: 0xBEDE,
            data: &data,
        };
        assert_eq!(ext.kind(), ExtensionProfile::OneByte);
        assert_eq!(
            ids_and_data(ext),
            vec![(1, vec![0x85]), (3, vec![0xAA, 0xBB, 0xCC])]
        );
    }

    #[test]
    fn one_byte_stops_at_id_15_and_overruns() {
        let stop = [0x10, 0x01, 0xF0, 0x20, 0x02, 0x00, 0x00, 0x00];
        let ext = Extension {
            profile: 0xBEDE,
            data: &stop,
        };
        assert_eq!(ids_and_data(ext), vec![(1, vec![0x01])]);
        // ID 2 claims 4 bytes of data but only 3 follow.
        let overrun = [0x23, 0x01, 0x02, 0x03];
        let ext = Extension {
            profile: 0xBEDE,
            data: &overrun,
        };
        assert!(ids_and_data(ext).is_empty());
    }

    #[test]
    fn two_byte_elements_allow_empty_data() {
        let data = [0x05, 0x00, 0x00, 0x07, 0x02, 0x11, 0x22, 0x00];
        let ext = Extension {
            profile: 0x1003,
            data: &data,
        };
        assert_eq!(ext.kind(), ExtensionProfile::TwoByte { app_bits: 3 });
        assert_eq!(ids_and_data(ext), vec![(5, vec![]), (7, vec![0x11, 0x22])]);
    }

    #[test]
    fn other_profiles_are_opaque() {
        let data = [1, 2, 3, 4];
        let ext = Extension {
            profile: 0xABAC,
            data: &data,
        };
        assert_eq!(ext.kind(), ExtensionProfile::Other(0xABAC));
        assert_eq!(ext.elements().count(), 0);
    }
}
