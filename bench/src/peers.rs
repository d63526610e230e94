//! Unit codecs measured by the benchmark: this project's software path and its peers.
//!
//! Every codec compresses one unit into one independent stream and decompresses it again,
//! with all state allocated once in `new()`, as a storage engine would use it.

pub mod isal;
pub mod libdeflate;
pub mod ours;
pub mod pool;
pub mod zlib;
pub mod zstd;

/// Errors of the peer wrappers.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// A codec could not allocate or initialise its state.
    #[error("{codec}: initialisation failed: {detail}")]
    Init {
        /// Codec name.
        codec: &'static str,
        /// What the library said.
        detail: String,
    },
    /// Compression failed (for example the output buffer was too small).
    #[error("{codec}: compression failed: {detail}")]
    Compress {
        /// Codec name.
        codec: &'static str,
        /// What the library said.
        detail: String,
    },
    /// Decompression failed (corrupt input or output buffer too small).
    #[error("{codec}: decompression failed: {detail}")]
    Decompress {
        /// Codec name.
        codec: &'static str,
        /// What the library said.
        detail: String,
    },
}

/// What one compression call produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compressed {
    /// `n` bytes of compressed stream were written to `dst`.
    Bytes(usize),
    /// The codec reports that the unit does not shrink; the caller stores it raw.
    Incompressible,
}

/// One codec at one setting, used unit by unit.
pub trait UnitCodec {
    /// Short display name, e.g. `libdeflate-1`.
    fn name(&self) -> &str;
    /// Whether this row is this project's own software path (the others are peers).
    fn is_ours(&self) -> bool {
        false
    }
    /// A `dst` length for which `compress` never fails for lack of space.
    fn max_compressed_len(&mut self, src_len: usize) -> usize;
    /// Called before the passes at each unit size (outside the timing): a codec whose state
    /// is sized for the largest unit (ours: `max_unit_size`) re-creates it for `unit_size`,
    /// as a user would configure it. The default does nothing.
    fn set_unit_size(&mut self, unit_size: usize) -> Result<(), PeerError> {
        let _ = unit_size;
        Ok(())
    }
    /// Compresses `src` into `dst` as one independent stream.
    fn compress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<Compressed, PeerError>;
    /// Decompresses one stream into `dst`, returning the number of bytes written.
    fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, PeerError>;

    /// Compresses unit `srcs[i]` into `slots[i * slot ..][.. slot]`, its outcome into
    /// `out[i]`. The default calls [`UnitCodec::compress`] per unit; batch APIs override it.
    /// `Err((i, e))` names the failed unit.
    fn compress_many(
        &mut self,
        srcs: &[&[u8]],
        slots: &mut [u8],
        slot: usize,
        out: &mut [Compressed],
    ) -> Result<(), (usize, PeerError)> {
        for (i, ((src, dst), o)) in srcs
            .iter()
            .zip(slots.chunks_mut(slot))
            .zip(out.iter_mut())
            .enumerate()
        {
            *o = self.compress(src, dst).map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// Decompresses stream `srcs[i]` into `dsts[i]`, the bytes written into `lens[i]`.
    /// The default calls [`UnitCodec::decompress`] per unit.
    fn decompress_many(
        &mut self,
        srcs: &[&[u8]],
        dsts: &mut [&mut [u8]],
        lens: &mut [usize],
    ) -> Result<(), (usize, PeerError)> {
        for (i, ((src, dst), l)) in srcs
            .iter()
            .zip(dsts.iter_mut())
            .zip(lens.iter_mut())
            .enumerate()
        {
            *l = self.decompress(src, dst).map_err(|e| (i, e))?;
        }
        Ok(())
    }
}

/// Whether this build contains the ISA-L peer (feature `isal`).
pub fn isal_available() -> bool {
    cfg!(feature = "isal")
}

/// All codecs of one benchmark run: ours first (fast, better, the Pool), then the peers.
pub fn all_codecs() -> Result<Vec<Box<dyn UnitCodec>>, PeerError> {
    #[allow(unused_mut)]
    let mut v: Vec<Box<dyn UnitCodec>> = vec![
        Box::new(ours::Ours::new(ours::OursLevel::Fast)),
        Box::new(ours::Ours::new(ours::OursLevel::Better)),
        Box::new(pool::PoolSoftware::new(iaa::SoftwareEncoder::Native)?),
        Box::new(libdeflate::Libdeflate::new(1)?),
        Box::new(zlib::Zlib::new(1)?),
        Box::new(zlib::Zlib::with_window(1, 12)?),
        Box::new(zstd::Zstd::new(1)?),
    ];
    // With `isal`, the Pool's default encoder at level fast is ISA-L: its own row, after
    // the other rows of ours.
    #[cfg(feature = "isal")]
    v.insert(
        3,
        Box::new(pool::PoolSoftware::new(iaa::SoftwareEncoder::Isal)?),
    );
    #[cfg(feature = "isal")]
    v.push(Box::new(isal::Isal::new(1, 12)?));
    Ok(v)
}
