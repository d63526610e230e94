//! CPU-specific variants of the encoder, chosen once per process at run time (as libdeflate
//! does): the portable code, and the same code compiled for AVX2 (with BMI1/BMI2/LZCNT) or
//! AVX-512 (F, BW, VL, with the AVX2 set) on x86-64 CPUs that have them. The portable variant
//! is the reference; every variant writes the same bytes (tested).
//!
//! Each non-portable variant lives in a file of its own (`avx2.rs`, `avx512.rs`) and holds
//! the only `unsafe` of the encoder: the call of its `#[target_feature]` entry point, made
//! after the CPU was checked to have those features.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;

use std::sync::OnceLock;

/// One variant of the encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Plain Rust for any target: the reference.
    Portable,
    /// x86-64 with AVX2, BMI1, BMI2 and LZCNT.
    Avx2,
    /// x86-64 with AVX-512 F/BW/VL and the AVX2 set.
    Avx512,
}

impl Variant {
    /// Every variant, the portable one first.
    pub const ALL: [Variant; 3] = [Variant::Portable, Variant::Avx2, Variant::Avx512];

    /// Short name (`portable`, `avx2`, `avx512`).
    pub fn name(self) -> &'static str {
        match self {
            Variant::Portable => "portable",
            Variant::Avx2 => "avx2",
            Variant::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the variant.
    pub fn is_supported(self) -> bool {
        match self {
            Variant::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Variant::Avx2 => avx2::available(),
            #[cfg(target_arch = "x86_64")]
            Variant::Avx512 => avx512::available(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The variants this CPU can run, the portable one first.
    pub fn supported() -> Vec<Variant> {
        Variant::ALL
            .into_iter()
            .filter(|v| v.is_supported())
            .collect()
    }

    /// The variant new compressors run: the environment variable `IAA_FALLBACK_VARIANT`
    /// (`portable`, `avx2`, `avx512`) if set to one this CPU supports (CI runs the portable
    /// variant this way), else the widest one the CPU supports. Decided once per process.
    pub fn selected() -> Variant {
        static CHOICE: OnceLock<Variant> = OnceLock::new();
        *CHOICE.get_or_init(|| {
            let forced = std::env::var("IAA_FALLBACK_VARIANT").ok();
            if let Some(v) = Variant::ALL
                .into_iter()
                .find(|v| Some(v.name()) == forced.as_deref())
            {
                if v.is_supported() {
                    return v;
                }
            }
            Variant::supported()
                .last()
                .copied()
                .unwrap_or(Variant::Portable)
        })
    }
}
