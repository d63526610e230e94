//! The replay mode ([`crate::ModelConfig::replay`]): IAA compress and decompress results
//! remembered per job, so that a job seen before costs a hash and a copy instead of the
//! model's LZ77 or inflate (tens of µs per 4 KiB unit on the host), and a latency benchmark
//! measures the driver and the latency model rather than the model's host CPU.
//!
//! A job is recognised by a 128-bit hash of its descriptor with every address cleared (opcode,
//! flags, sizes), its source bytes and, when it reads one, its AECS bytes. No copy of the
//! source or AECS is kept to compare against: that compare read 5.5 KiB of cold memory per
//! 4 KiB unit, about as much host time as the driver itself. A replayed result is what
//! computing it gave unless two different jobs share all 128 bits (not cryptographic: the
//! inputs of a benchmark are not chosen to collide). Only jobs whose result depends on nothing
//! else are remembered: IAA compress/decompress without an AECS write, no injected fault,
//! completing with success, an analytics error or an output overflow.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use iaa_descriptors::IaaDescriptor;

use super::deflate::Scratch;
use super::exec::{self, st, Done};
use super::{dma, ModelConfig, ModelWqConfig, Replay};

/// One remembered job (found by the 128-bit hash of its key, source and AECS).
struct Entry {
    output: Box<[u8]>,
    rec: [u8; 64],
    write: bool,
}

/// Remembered jobs and counters.
pub(crate) struct ReplayCache {
    cfg: Replay,
    state: Mutex<State>,
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
}

struct State {
    map: HashMap<u128, Entry>,
    bytes: usize,
}

/// 128-bit hash of byte strings (not cryptographic). Four independent multiply lanes over
/// 32-byte steps (each step a bijection of its lane's state, so inputs that differ in one word
/// never collide before the fold), folded into two 64-bit halves; a 4 KiB source hashes in a
/// few hundred nanoseconds.
fn hash(parts: &[&[u8]]) -> u128 {
    const K: [u64; 4] = [
        0x9E37_79B9_7F4A_7C15,
        0xC2B2_AE3D_27D4_EB4F,
        0x1656_67B1_9E37_79F9,
        0x27D4_EB2F_1656_67C5,
    ];
    let mut h = [
        0x243F_6A88_85A3_08D3u64,
        0x1319_8A2E_0370_7344,
        0xA409_3822_299F_31D0,
        0x082E_FA98_EC4E_6C89,
    ];
    let word = |c: &[u8]| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        u64::from_le_bytes(w)
    };
    for p in parts {
        let mut blocks = p.chunks_exact(32);
        for b in &mut blocks {
            for (l, hl) in h.iter_mut().enumerate() {
                *hl = (*hl ^ word(&b[l * 8..l * 8 + 8]))
                    .wrapping_mul(K[l])
                    .rotate_left(31);
            }
        }
        for (i, c) in blocks.remainder().chunks(8).enumerate() {
            h[i] = (h[i] ^ word(c)).wrapping_mul(K[i]).rotate_left(31);
        }
        h[0] = (h[0] ^ p.len() as u64).wrapping_mul(K[0]);
        h[1] = (h[1] ^ p.len() as u64).wrapping_mul(K[1]);
    }
    let mix = |mut x: u64, k: u64| {
        x = (x ^ (x >> 29)).wrapping_mul(k);
        x = (x ^ (x >> 32)).wrapping_mul(K[0]);
        x ^ (x >> 29)
    };
    let lo = mix(h[0] ^ h[1].rotate_left(17) ^ h[2].rotate_left(34), K[1]);
    let hi = mix(h[3] ^ h[2].rotate_left(23) ^ h[1].rotate_left(46), K[2]);
    (u128::from(hi) << 64) | u128::from(lo)
}

impl ReplayCache {
    pub(crate) fn new(cfg: Replay) -> Self {
        ReplayCache {
            cfg,
            state: Mutex::new(State {
                map: HashMap::new(),
                bytes: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Execute `desc` (no injected fault), replaying a remembered result when there is one.
    pub(crate) fn execute(
        &self,
        cfg: &ModelConfig,
        wq: &ModelWqConfig,
        desc: &[u8; 64],
        s: &mut Scratch,
    ) -> Done {
        let d = IaaDescriptor::from_bytes(desc);
        let flags = d.op_flags().0;
        let (rd, wr) = ((flags >> 16) & 3, (flags >> 18) & 3);
        let codec = matches!(d.opcode(), 0x42 | 0x43);
        if cfg.kind != super::DeviceKind::Iaa || !codec || wr != 0 {
            return exec::execute(cfg, wq, desc, None, s);
        }
        // SAFETY: DMA contract of `WorkQueue::submit`: the source (and the AECS the job
        // reads) are valid for the device while the job runs; only read here.
        let input = unsafe { dma::src(d.src1_addr, d.src1_size as usize) };
        let aecs: Result<&[u8], _> = if rd == 1 {
            let at = d.src2_addr
                + if flags & iaa_descriptors::OpFlags::AECS_RW_TGLS.0 != 0 {
                    d.src2_size as u64
                } else {
                    0
                };
            // SAFETY: as above.
            unsafe { dma::src(at, d.src2_size as usize) }
        } else {
            Ok(&[])
        };
        let (Ok(input), Ok(aecs)) = (input, aecs) else {
            return exec::execute(cfg, wq, desc, None, s);
        };
        let mut key = *desc;
        key[8..16].fill(0); // completion record
        key[16..24].fill(0); // src1
        key[24..32].fill(0); // dst
        key[40..48].fill(0); // src2
        let h = hash(&[&key, input, aecs]);
        {
            let st = super::lock(&self.state);
            if let Some(e) = st.map.get(&h) {
                // SAFETY: DMA contract: the destination is valid for the device.
                let ok = e.output.is_empty()
                    || match unsafe { dma::dst(d.dst_addr, e.output.len()) } {
                        Ok(dst) => {
                            dst.copy_from_slice(&e.output);
                            true
                        }
                        Err(_) => false,
                    };
                if ok {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Done {
                        addr: d.completion_addr,
                        rec: e.rec,
                        len: 64,
                        write: e.write,
                    };
                }
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let done = exec::execute(cfg, wq, desc, None, s);
        let status = done.rec[0];
        if !matches!(status, st::SUCCESS | st::ANALYTICS | st::OUTBUF_OVERFLOW) {
            return done;
        }
        let suppress = d.opcode() == 0x42 && d.op_flags16 & 0x0200 != 0;
        let out_len = if suppress {
            0
        } else {
            u32::from_le_bytes([done.rec[24], done.rec[25], done.rec[26], done.rec[27]]) as usize
        };
        // SAFETY: DMA contract; the device wrote these bytes of the destination just now.
        let Ok(output) = (unsafe { dma::src(d.dst_addr, out_len) }) else {
            return done;
        };
        let cost = output.len() + 128;
        let mut st = super::lock(&self.state);
        if st.bytes + cost <= self.cfg.max_bytes && !st.map.contains_key(&h) {
            st.bytes += cost;
            st.map.insert(
                h,
                Entry {
                    output: output.into(),
                    rec: done.rec,
                    write: done.write,
                },
            );
        }
        done
    }
}
