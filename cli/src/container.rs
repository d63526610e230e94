//! The `iaa` container: a header, a per-unit table, then the unit payloads.
//! The byte layout is specified in `docs/FORMAT.md`; this module is its reference
//! implementation (writer and checked reader).

use std::io::{self, Read, Seek, SeekFrom, Write};

/// The four magic bytes at offset 0.
pub const MAGIC: [u8; 4] = *b"IAAZ";
/// The format version this code writes and reads.
pub const VERSION: u16 = 1;
/// Bytes in the header.
pub const HEADER_LEN: usize = 32;
/// Bytes in one unit-table entry.
pub const ENTRY_LEN: usize = 12;
/// Largest accepted unit size (16 MiB).
pub const MAX_UNIT_SIZE: usize = 16 << 20;
/// Largest accepted unit table (header fields describing a bigger one are refused).
pub const MAX_TABLE_BYTES: u64 = 1 << 30;
/// Header flag: the units were compressed at the "better" level (informational).
pub const FLAG_LEVEL_BETTER: u8 = 1;
/// Entry kind: the payload is a compressed stream of the header's codec.
pub const KIND_COMPRESSED: u8 = 0;
/// Entry kind: the payload is the unit's bytes, stored raw.
pub const KIND_RAW: u8 = 1;

/// Errors of reading or writing a container. Every malformed input maps to one of these.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The input ended early.
    #[error("container is truncated: input ends inside the {0}")]
    Truncated(String),
    /// Not an `iaa` container.
    #[error("not an iaa container (bad magic {0:02x?}, expected \"IAAZ\")")]
    BadMagic([u8; 4]),
    /// A version this build cannot read.
    #[error("unsupported container version {0} (this build reads version {VERSION})")]
    UnsupportedVersion(u16),
    /// The header's CRC does not match its bytes.
    #[error(
        "header CRC mismatch (stored {stored:#010x}, computed {computed:#010x}): header is corrupt"
    )]
    HeaderCrc {
        /// CRC in the file.
        stored: u32,
        /// CRC of the header bytes.
        computed: u32,
    },
    /// Unknown codec byte.
    #[error("unknown codec id {0} in header")]
    UnknownCodec(u8),
    /// Unknown flag bits.
    #[error("unknown header flags {0:#04x}")]
    UnknownFlags(u8),
    /// A unit size of 0 or above [`MAX_UNIT_SIZE`].
    #[error("unit size {0} is out of range (1..={MAX_UNIT_SIZE} bytes)")]
    BadUnitSize(u64),
    /// The unit count does not follow from the original length and unit size.
    #[error("header says {stored} units, but {original_len} bytes in units of {unit_size} make {expected}")]
    UnitCountMismatch {
        /// Count in the header.
        stored: u64,
        /// Count implied by the lengths.
        expected: u64,
        /// Original length in the header.
        original_len: u64,
        /// Unit size in the header.
        unit_size: u64,
    },
    /// The unit table would be unreasonably large.
    #[error(
        "unit table of {0} bytes is too large (limit {MAX_TABLE_BYTES}); use a larger unit size"
    )]
    TableTooLarge(u64),
    /// The unit table's CRC does not match.
    #[error("unit table CRC mismatch (stored {stored:#010x}, computed {computed:#010x}): table is corrupt")]
    TableCrc {
        /// CRC in the file.
        stored: u32,
        /// CRC of the table bytes.
        computed: u32,
    },
    /// A table entry is impossible.
    #[error("unit {index}: invalid table entry: {reason}")]
    BadEntry {
        /// Unit index.
        index: u64,
        /// What is wrong.
        reason: String,
    },
    /// The payload lengths do not add up to the input's size.
    #[error("payload size mismatch: the table describes {described} payload bytes, the input holds {actual}")]
    PayloadSize {
        /// Bytes the table describes.
        described: u64,
        /// Bytes present.
        actual: u64,
    },
    /// Bytes after the last payload.
    #[error("trailing data after the last unit payload")]
    TrailingData,
    /// A unit failed to decompress.
    #[error("unit {index}: decompression failed: {detail}")]
    UnitDecode {
        /// Unit index.
        index: u64,
        /// The codec's message.
        detail: String,
    },
    /// A unit decompressed to the wrong length.
    #[error("unit {index}: decompressed to {got} bytes, expected {expected}")]
    UnitLength {
        /// Unit index.
        index: u64,
        /// Bytes produced.
        got: usize,
        /// Unit length.
        expected: usize,
    },
    /// A unit's data does not match its CRC.
    #[error("unit {index}: CRC mismatch (stored {stored:#010x}, computed {computed:#010x}): data is corrupt")]
    UnitCrc {
        /// Unit index.
        index: u64,
        /// CRC in the table.
        stored: u32,
        /// CRC of the decompressed data.
        computed: u32,
    },
    /// A unit failed to compress.
    #[error("unit {index}: compression failed: {detail}")]
    UnitEncode {
        /// Unit index.
        index: u64,
        /// The codec's message.
        detail: String,
    },
    /// The codec (pool) could not be set up.
    #[error("cannot set up the codec: {0}")]
    CodecSetup(String),
    /// The input's length changed while it was read.
    #[error("input changed size while being read (expected {expected} bytes)")]
    InputChanged {
        /// Length announced before reading.
        expected: u64,
    },
}

/// Codec of the unit payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Raw deflate (RFC 1951), back-references of at most 4 KiB: IAA, zlib (windowBits -15)
    /// and any raw inflater decode it.
    Deflate,
    /// One zstd frame per unit (software only).
    Zstd,
}

impl Codec {
    /// The byte stored in the header.
    pub fn id(self) -> u8 {
        match self {
            Codec::Deflate => 1,
            Codec::Zstd => 2,
        }
    }
    /// The codec for a header byte.
    pub fn from_id(id: u8) -> Result<Codec, ContainerError> {
        match id {
            1 => Ok(Codec::Deflate),
            2 => Ok(Codec::Zstd),
            other => Err(ContainerError::UnknownCodec(other)),
        }
    }
}

/// The decoded, validated header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Payload codec.
    pub codec: Codec,
    /// Flag bits ([`FLAG_LEVEL_BETTER`]).
    pub flags: u8,
    /// Unit size in bytes (1..=[`MAX_UNIT_SIZE`]).
    pub unit_size: u32,
    /// Length of the original data.
    pub original_len: u64,
    /// Number of units: `ceil(original_len / unit_size)`.
    pub unit_count: u64,
}

/// CRC-32 as zlib's `crc32()` and gzip compute it (ISO-HDLC, reflected 0x04C11DB7).
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// Units needed for `original_len` bytes at `unit_size` (`unit_size` > 0).
pub fn unit_count_for(original_len: u64, unit_size: u64) -> u64 {
    original_len.div_ceil(unit_size)
}

/// Checks a unit size requested for compression.
pub fn check_unit_size(unit_size: usize) -> Result<(), ContainerError> {
    if unit_size == 0 || unit_size > MAX_UNIT_SIZE {
        return Err(ContainerError::BadUnitSize(unit_size as u64));
    }
    Ok(())
}

fn table_bytes(unit_count: u64) -> Result<u64, ContainerError> {
    let t = unit_count
        .checked_mul(ENTRY_LEN as u64)
        .and_then(|t| t.checked_add(4))
        .unwrap_or(u64::MAX);
    if t > MAX_TABLE_BYTES {
        return Err(ContainerError::TableTooLarge(t));
    }
    Ok(t)
}

impl Header {
    /// A header for `original_len` bytes; checks the unit size and table size.
    pub fn new(
        codec: Codec,
        flags: u8,
        unit_size: usize,
        original_len: u64,
    ) -> Result<Header, ContainerError> {
        check_unit_size(unit_size)?;
        let unit_count = unit_count_for(original_len, unit_size as u64);
        table_bytes(unit_count)?;
        Ok(Header {
            codec,
            flags,
            unit_size: unit_size as u32,
            original_len,
            unit_count,
        })
    }

    /// Length of unit `index` (the last one may be short).
    pub fn unit_len(&self, index: u64) -> usize {
        let start = index * u64::from(self.unit_size);
        (self.original_len - start).min(u64::from(self.unit_size)) as usize
    }

    /// Bytes of the unit table including its CRC.
    pub fn table_len(&self) -> u64 {
        self.unit_count * ENTRY_LEN as u64 + 4
    }

    /// The 32 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC);
        h[4..6].copy_from_slice(&VERSION.to_le_bytes());
        h[6] = self.codec.id();
        h[7] = self.flags;
        h[8..12].copy_from_slice(&self.unit_size.to_le_bytes());
        h[12..20].copy_from_slice(&self.original_len.to_le_bytes());
        h[20..28].copy_from_slice(&self.unit_count.to_le_bytes());
        let crc = crc32(&h[..28]);
        h[28..32].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Decodes and validates 32 header bytes.
    pub fn decode(h: &[u8; HEADER_LEN]) -> Result<Header, ContainerError> {
        let magic: [u8; 4] = [h[0], h[1], h[2], h[3]];
        if magic != MAGIC {
            return Err(ContainerError::BadMagic(magic));
        }
        let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let u64_at = |o: usize| u64::from(u32_at(o)) | (u64::from(u32_at(o + 4)) << 32);
        let version = u16::from_le_bytes([h[4], h[5]]);
        if version != VERSION {
            return Err(ContainerError::UnsupportedVersion(version));
        }
        let stored = u32_at(28);
        let computed = crc32(&h[..28]);
        if stored != computed {
            return Err(ContainerError::HeaderCrc { stored, computed });
        }
        let codec = Codec::from_id(h[6])?;
        let flags = h[7];
        if flags & !FLAG_LEVEL_BETTER != 0 {
            return Err(ContainerError::UnknownFlags(flags));
        }
        let unit_size = u32_at(8);
        if unit_size == 0 || unit_size as usize > MAX_UNIT_SIZE {
            return Err(ContainerError::BadUnitSize(u64::from(unit_size)));
        }
        let original_len = u64_at(12);
        let unit_count = u64_at(20);
        let expected = unit_count_for(original_len, u64::from(unit_size));
        if unit_count != expected {
            return Err(ContainerError::UnitCountMismatch {
                stored: unit_count,
                expected,
                original_len,
                unit_size: u64::from(unit_size),
            });
        }
        table_bytes(unit_count)?;
        Ok(Header {
            codec,
            flags,
            unit_size,
            original_len,
            unit_count,
        })
    }
}

/// One entry of the unit table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitEntry {
    /// Bytes of this unit's payload.
    pub stored_len: u32,
    /// [`KIND_COMPRESSED`] or [`KIND_RAW`].
    pub kind: u8,
    /// CRC-32 ([`crc32`]) of the uncompressed unit.
    pub crc: u32,
}

impl UnitEntry {
    /// The 12 entry bytes.
    pub fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut e = [0u8; ENTRY_LEN];
        e[0..4].copy_from_slice(&self.stored_len.to_le_bytes());
        e[4] = self.kind;
        e[8..12].copy_from_slice(&self.crc.to_le_bytes());
        e
    }

    /// Decodes and checks entry `index` against the header.
    pub fn decode(e: &[u8], index: u64, header: &Header) -> Result<UnitEntry, ContainerError> {
        let stored_len = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        let entry = UnitEntry {
            stored_len,
            kind: e[4],
            crc: u32::from_le_bytes([e[8], e[9], e[10], e[11]]),
        };
        let bad = |reason: String| ContainerError::BadEntry { index, reason };
        if e[5..8] != [0, 0, 0] {
            return Err(bad("reserved bytes are not zero".into()));
        }
        let unit_len = header.unit_len(index);
        match entry.kind {
            KIND_RAW if stored_len as usize != unit_len => Err(bad(format!(
                "raw unit of {stored_len} bytes, unit length is {unit_len}"
            ))),
            KIND_COMPRESSED if stored_len == 0 || stored_len as usize >= unit_len => Err(bad(
                format!("compressed payload of {stored_len} bytes for a unit of {unit_len} bytes"),
            )),
            KIND_RAW | KIND_COMPRESSED => Ok(entry),
            k => Err(bad(format!("unknown kind {k}"))),
        }
    }
}

/// What compression made of one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnitOutcome {
    /// Not processed (an implementation must never leave a unit like this).
    #[default]
    Pending,
    /// An independent stream of this many bytes (fewer than the unit's) is in the unit's slot.
    Compressed(usize),
    /// The unit does not shrink: store it raw.
    Incompressible,
}

/// Compresses and decompresses a chunk of units for the container, as one batch.
pub trait UnitCodec {
    /// Compresses the units of `src` (units of `unit_size` bytes, the last may be shorter):
    /// unit `i` into `slots[i * unit_size ..][.. unit_size]`, its outcome into `out[i]`.
    /// `Err((i, message))` names a failed unit.
    fn compress_chunk(
        &mut self,
        src: &[u8],
        unit_size: usize,
        slots: &mut [u8],
        out: &mut [UnitOutcome],
    ) -> Result<(), (usize, String)>;

    /// Decompresses stream `i` of `inputs` into `outputs[i]`, which has exactly the unit's
    /// length; `lens[i]` receives the bytes written. `Err((i, message))` names a failed unit.
    fn decompress_chunk(
        &mut self,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
        lens: &mut [usize],
    ) -> Result<(), (usize, String)>;
}

/// Counts of a finished compression or decompression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Uncompressed bytes.
    pub original_len: u64,
    /// Container bytes.
    pub container_len: u64,
    /// Units in the container.
    pub units: u64,
    /// Units stored raw.
    pub raw_units: u64,
}

/// Target bytes of uncompressed data processed per chunk (bounds memory use).
pub const CHUNK_BYTES: usize = 8 << 20;

fn units_per_chunk(unit_size: usize) -> usize {
    (CHUNK_BYTES / unit_size).max(1)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What [`compress`] writes into the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Payload codec (must match the [`UnitCodec`] passed along).
    pub codec: Codec,
    /// Header flags.
    pub flags: u8,
    /// Unit size in bytes.
    pub unit_size: usize,
}

/// Writes a container for exactly `original_len` bytes read from `input`.
/// `out` must be seekable: the unit table is written after the payloads are known.
/// `progress` is called with the uncompressed bytes done so far.
pub fn compress<R: Read, W: Write + Seek>(
    mut input: R,
    original_len: u64,
    out: &mut W,
    params: Params,
    codec: &mut dyn UnitCodec,
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, ContainerError> {
    let unit_size = params.unit_size;
    let header = Header::new(params.codec, params.flags, unit_size, original_len)?;
    let start = out.stream_position()?;
    out.write_all(&header.encode())?;
    // Placeholder table, rewritten at the end.
    let table_len = header.table_len();
    io::copy(&mut io::repeat(0).take(table_len), out)?;

    let per_chunk = units_per_chunk(unit_size);
    let chunk_cap = per_chunk.min(header.unit_count.max(1) as usize) * unit_size;
    let mut inbuf = vec![0u8; chunk_cap];
    let mut slots = vec![0u8; chunk_cap];
    let mut outcomes = vec![UnitOutcome::Pending; per_chunk];
    let mut table = Vec::with_capacity(table_len as usize);
    let mut summary = Summary {
        original_len,
        units: header.unit_count,
        ..Summary::default()
    };
    let mut index = 0u64;
    let mut done = 0u64;
    while index < header.unit_count {
        let n_units = (header.unit_count - index).min(per_chunk as u64) as usize;
        let chunk_len: usize = (0..n_units as u64)
            .map(|k| header.unit_len(index + k))
            .sum();
        let got = read_full(&mut input, &mut inbuf[..chunk_len])?;
        if got != chunk_len {
            return Err(ContainerError::InputChanged {
                expected: original_len,
            });
        }
        let outcomes = &mut outcomes[..n_units];
        outcomes.fill(UnitOutcome::Pending);
        codec
            .compress_chunk(&inbuf[..chunk_len], unit_size, &mut slots, outcomes)
            .map_err(|(k, detail)| ContainerError::UnitEncode {
                index: index + k as u64,
                detail,
            })?;
        for (k, outcome) in outcomes.iter().enumerate() {
            let len = header.unit_len(index);
            let unit = &inbuf[k * unit_size..k * unit_size + len];
            let crc = crc32(unit);
            let (kind, payload) = match *outcome {
                UnitOutcome::Compressed(n) if n > 0 && n < len => {
                    (KIND_COMPRESSED, &slots[k * unit_size..k * unit_size + n])
                }
                UnitOutcome::Compressed(_) | UnitOutcome::Incompressible => {
                    summary.raw_units += 1;
                    (KIND_RAW, unit)
                }
                UnitOutcome::Pending => {
                    return Err(ContainerError::UnitEncode {
                        index,
                        detail: "the codec left the unit unprocessed".into(),
                    })
                }
            };
            out.write_all(payload)?;
            let e = UnitEntry {
                stored_len: payload.len() as u32,
                kind,
                crc,
            };
            table.extend_from_slice(&e.encode());
            index += 1;
        }
        done += chunk_len as u64;
        progress(done);
    }
    let mut extra = [0u8; 1];
    if read_full(&mut input, &mut extra)? != 0 {
        return Err(ContainerError::InputChanged {
            expected: original_len,
        });
    }
    let table_crc = crc32(&table);
    table.extend_from_slice(&table_crc.to_le_bytes());
    let end = out.stream_position()?;
    out.seek(SeekFrom::Start(start + HEADER_LEN as u64))?;
    out.write_all(&table)?;
    out.seek(SeekFrom::Start(end))?;
    out.flush()?;
    summary.container_len = end - start;
    Ok(summary)
}

fn eof_as_truncated(e: io::Error, what: impl Into<String>) -> ContainerError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        ContainerError::Truncated(what.into())
    } else {
        ContainerError::Io(e)
    }
}

/// Reads and validates the header and unit table.
/// `input_len`, when known (a regular file), lets size errors be found before any payload.
pub fn read_index<R: Read>(
    input: &mut R,
    input_len: Option<u64>,
) -> Result<(Header, Vec<UnitEntry>), ContainerError> {
    let mut h = [0u8; HEADER_LEN];
    input
        .read_exact(&mut h)
        .map_err(|e| eof_as_truncated(e, "header"))?;
    let header = Header::decode(&h)?;
    let table_len = header.table_len();
    if let Some(total) = input_len {
        if (HEADER_LEN as u64) + table_len > total {
            return Err(ContainerError::Truncated("unit table".into()));
        }
    }
    // Grows as data arrives: a lying header on a short stream cannot force a huge allocation.
    let mut raw = Vec::new();
    input.by_ref().take(table_len).read_to_end(&mut raw)?;
    if raw.len() as u64 != table_len {
        return Err(ContainerError::Truncated("unit table".into()));
    }
    let (body, crc) = raw.split_at(raw.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = crc32(body);
    if stored != computed {
        return Err(ContainerError::TableCrc { stored, computed });
    }
    let entries = body
        .chunks_exact(ENTRY_LEN)
        .enumerate()
        .map(|(i, e)| UnitEntry::decode(e, i as u64, &header))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(total) = input_len {
        let described: u64 = entries.iter().map(|e| u64::from(e.stored_len)).sum();
        let actual = total - HEADER_LEN as u64 - table_len;
        if described != actual {
            return Err(ContainerError::PayloadSize { described, actual });
        }
    }
    Ok((header, entries))
}

/// Decompresses a whole container from `input` to `out`, checking every unit's CRC.
/// `input_len` is the container's size when known. Nothing is written for a unit that fails.
/// `codec_for` makes the unit codec for the (validated) header.
pub fn decompress<R: Read, W: Write>(
    mut input: R,
    input_len: Option<u64>,
    out: &mut W,
    codec_for: impl FnOnce(&Header) -> Result<Box<dyn UnitCodec>, String>,
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, ContainerError> {
    let (header, entries) = read_index(&mut input, input_len)?;
    let mut codec = codec_for(&header).map_err(ContainerError::CodecSetup)?;
    let unit_size = header.unit_size as usize;
    let per_chunk = units_per_chunk(unit_size);
    let mut payload = Vec::new();
    let mut outbuf = vec![0u8; per_chunk.min(entries.len().max(1)) * unit_size];
    let mut lens = vec![0usize; per_chunk];
    let mut summary = Summary {
        original_len: header.original_len,
        units: header.unit_count,
        container_len: HEADER_LEN as u64 + header.table_len(),
        ..Summary::default()
    };
    let mut done = 0u64;
    for (c, chunk) in entries.chunks(per_chunk).enumerate() {
        let first = (c * per_chunk) as u64;
        let payload_len: usize = chunk.iter().map(|e| e.stored_len as usize).sum();
        payload.resize(payload_len, 0);
        input
            .read_exact(&mut payload)
            .map_err(|e| eof_as_truncated(e, format!("payloads of units {first}..")))?;
        // Cut the payload and the output buffer into per-unit pieces; raw units are copied
        // here, compressed ones go to the codec as one batch.
        let mut inputs: Vec<&[u8]> = Vec::with_capacity(chunk.len());
        let mut outputs: Vec<&mut [u8]> = Vec::with_capacity(chunk.len());
        let mut batch_index: Vec<u64> = Vec::with_capacity(chunk.len());
        let mut rest_in = payload.as_slice();
        let mut rest_out = outbuf.as_mut_slice();
        let mut chunk_out_len = 0;
        for (k, e) in chunk.iter().enumerate() {
            let index = first + k as u64;
            let len = header.unit_len(index);
            let (src, ri) = rest_in.split_at(e.stored_len as usize);
            let (dst, ro) = std::mem::take(&mut rest_out).split_at_mut(len);
            rest_in = ri;
            rest_out = ro;
            chunk_out_len += len;
            if e.kind == KIND_RAW {
                dst.copy_from_slice(src);
                summary.raw_units += 1;
            } else {
                inputs.push(src);
                outputs.push(dst);
                batch_index.push(index);
            }
        }
        let lens = &mut lens[..inputs.len()];
        codec
            .decompress_chunk(&inputs, &mut outputs, lens)
            .map_err(|(k, detail)| ContainerError::UnitDecode {
                index: batch_index.get(k).copied().unwrap_or(first),
                detail,
            })?;
        for ((&index, &got), dst) in batch_index.iter().zip(lens.iter()).zip(&outputs) {
            if got != dst.len() {
                return Err(ContainerError::UnitLength {
                    index,
                    got,
                    expected: dst.len(),
                });
            }
        }
        drop(outputs);
        let mut off = 0;
        for (k, e) in chunk.iter().enumerate() {
            let index = first + k as u64;
            let len = header.unit_len(index);
            let computed = crc32(&outbuf[off..off + len]);
            if computed != e.crc {
                return Err(ContainerError::UnitCrc {
                    index,
                    stored: e.crc,
                    computed,
                });
            }
            off += len;
        }
        out.write_all(&outbuf[..chunk_out_len])?;
        summary.container_len += payload_len as u64;
        done += chunk_out_len as u64;
        progress(done);
    }
    let mut extra = [0u8; 1];
    if read_full(&mut input, &mut extra)? != 0 {
        return Err(ContainerError::TrailingData);
    }
    out.flush()?;
    Ok(summary)
}
