//! IVR engine (in progress).
