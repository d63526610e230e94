//! The model's executor on its own: one IAA descriptor at a time, built here from buffers the
//! caller passes as slices, executed by the same code the queued device runs
//! ([`crate::ModelDevice`]), the completion record returned. No threads, queues or latency:
//! for measurements of what the device would write (ratios per compression mode) and tests.

use iaa_descriptors::{
    CompressAecs, HeaderGen, IaaCompletionRecord, IaaCompress, IaaCompressStats, IaaDecompress,
    HISTOGRAM_BYTES,
};

use super::deflate::Scratch;
use super::exec::{self, st};
use super::{ModelConfig, ModelWqConfig};

/// A completion record slot (the device checks its 64-byte alignment; nothing is written
/// there, the record is returned).
#[repr(C, align(64))]
struct RecordSlot([u8; 64]);

/// Executes IAA descriptors on caller buffers. See the module docs.
pub struct Executor {
    cfg: ModelConfig,
    wq: ModelWqConfig,
    scratch: Scratch,
    /// The AECS the compress descriptors read (two copies: read and write halves).
    aecs: Box<[CompressAecs; 2]>,
    slot: Box<RecordSlot>,
}

impl Executor {
    /// An executor of the device `cfg` describes (its kind should be IAA; its IAACAP decides
    /// whether header generation is accepted; engines, WQs, latency and replay are not used).
    pub fn new(cfg: ModelConfig) -> Self {
        let wq = ModelWqConfig {
            max_transfer: u32::MAX,
            ..ModelWqConfig::dedicated(1)
        };
        Executor {
            cfg,
            wq,
            scratch: Scratch::new(),
            aecs: Box::new([CompressAecs::zeroed(); 2]),
            slot: Box::new(RecordSlot([0; 64])),
        }
    }

    /// The device configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    fn run(&mut self, d: iaa_descriptors::IaaDescriptor) -> IaaCompletionRecord {
        let mut bytes = [0u8; 64];
        bytes.copy_from_slice(d.as_bytes());
        let done = exec::execute(&self.cfg, &self.wq, &bytes, None, &mut self.scratch);
        bytemuck::pod_read_unaligned(&done.rec[..64])
    }

    fn too_big() -> IaaCompletionRecord {
        let mut r: IaaCompletionRecord = bytemuck::Zeroable::zeroed();
        r.status = st::XFER_SIZE;
        r
    }

    /// Compress `src` into `dst` with the code and header in `aecs` (fixed mode:
    /// [`CompressAecs::fixed`]; dynamic or trained: an AECS written by
    /// `iaa_descriptors::DeviceCode::write_aecs`): the descriptor Linux `iaa_crypto` submits
    /// (op flags `0x01010C`, compression flags `0x0006`, AECS read, 1568 bytes).
    pub fn compress(
        &mut self,
        src: &[u8],
        dst: &mut [u8],
        aecs: &CompressAecs,
    ) -> IaaCompletionRecord {
        let (Ok(sl), Ok(dl)) = (u32::try_from(src.len()), u32::try_from(dst.len())) else {
            return Self::too_big();
        };
        self.aecs[0] = *aecs;
        let d = IaaCompress::new(
            src.as_ptr() as u64,
            sl,
            dst.as_mut_ptr() as u64,
            dl,
            self.aecs.as_ptr() as u64,
            self.slot.0.as_ptr() as u64,
        )
        .build();
        self.run(d)
    }

    /// IAA 2.0 one-pass header generation (compression flags `0x3006`, no AECS): the device
    /// builds the code from `src` and writes a final dynamic block. A device whose IAACAP lacks
    /// header generation completes with 0x30.
    pub fn compress_header_gen(&mut self, src: &[u8], dst: &mut [u8]) -> IaaCompletionRecord {
        let (Ok(sl), Ok(dl)) = (u32::try_from(src.len()), u32::try_from(dst.len())) else {
            return Self::too_big();
        };
        let d = IaaCompress::new(
            src.as_ptr() as u64,
            sl,
            dst.as_mut_ptr() as u64,
            dl,
            0,
            self.slot.0.as_ptr() as u64,
        )
        .header_gen(HeaderGen::OnePass { bfinal: true })
        .build();
        self.run(d)
    }

    /// Statistics pass: the histogram of the tokens compressing `src` codes, 1280 bytes into
    /// `hist` (read it with `iaa_descriptors::Histogram::from_bytes`).
    pub fn statistics(
        &mut self,
        src: &[u8],
        hist: &mut [u8; HISTOGRAM_BYTES],
    ) -> IaaCompletionRecord {
        let Ok(sl) = u32::try_from(src.len()) else {
            return Self::too_big();
        };
        let d = IaaCompressStats::new(
            src.as_ptr() as u64,
            sl,
            hist.as_mut_ptr() as u64,
            self.slot.0.as_ptr() as u64,
        )
        .build();
        self.run(d)
    }

    /// Decompress the raw-DEFLATE stream `src` into `dst` (the builder's defaults: stop and
    /// check at the final block's EOB).
    pub fn decompress(&mut self, src: &[u8], dst: &mut [u8]) -> IaaCompletionRecord {
        let (Ok(sl), Ok(dl)) = (u32::try_from(src.len()), u32::try_from(dst.len())) else {
            return Self::too_big();
        };
        let d = IaaDecompress::new(
            src.as_ptr() as u64,
            sl,
            dst.as_mut_ptr() as u64,
            dl,
            self.slot.0.as_ptr() as u64,
        )
        .build();
        self.run(d)
    }

    /// Modelled device time of one descriptor reading `src_len` bytes (the latency model of
    /// the configuration, nanoseconds).
    pub fn device_ns(&self, src_len: usize) -> u64 {
        let l = self.cfg.latency;
        l.fixed_ns + l.ns_per_kib.saturating_mul(src_len as u64) / 1024
    }
}
