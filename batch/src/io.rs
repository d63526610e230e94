//! The shapes a batch takes: [`Inputs`] (N units to read) and [`Outputs`] (N slots to write),
//! and the operation on them.
//!
//! Both come in a "list of slices" form and a "flat buffer + stride" form, so a C ABI can pass
//! either an array of buffers or one contiguous region without building Rust slices per call.

use crate::error::Error;

/// The operation of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Compress,
    Decompress,
}

impl Op {
    /// The operation as the WQ chooser's socket policy names it.
    pub(crate) fn choice_op(self) -> iaa_driver::choice::Op {
        match self {
            Op::Compress => iaa_driver::choice::Op::Compress,
            Op::Decompress => iaa_driver::choice::Op::Decompress,
        }
    }
}

/// The N input units of a call.
#[derive(Debug, Clone, Copy)]
pub enum Inputs<'a> {
    /// `src` cut into units of `unit_size` bytes; the last unit may be shorter. An empty `src`
    /// has no units.
    Units {
        /// The whole source.
        src: &'a [u8],
        /// Bytes per unit (at least 1).
        unit_size: usize,
    },
    /// One slice per unit.
    Slices(&'a [&'a [u8]]),
    /// Unit `i` is `buf[i * stride .. i * stride + lens[i]]`; there are `lens.len()` units.
    Flat {
        /// The buffer holding every unit.
        buf: &'a [u8],
        /// Distance between the starts of two units (at least 1).
        stride: usize,
        /// Length of each unit (each at most `stride`).
        lens: &'a [usize],
    },
}

impl<'a> Inputs<'a> {
    /// `src` cut into units of `unit_size` bytes.
    pub fn units(src: &'a [u8], unit_size: usize) -> Self {
        Inputs::Units { src, unit_size }
    }

    /// Number of units.
    pub fn count(&self) -> usize {
        match *self {
            Inputs::Units { src, unit_size } => {
                if unit_size == 0 {
                    0
                } else {
                    src.len().div_ceil(unit_size)
                }
            }
            Inputs::Slices(s) => s.len(),
            Inputs::Flat { lens, .. } => lens.len(),
        }
    }

    /// Check that every unit lies inside its buffer (the accessors below then never panic).
    pub(crate) fn validate(&self) -> Result<(), Error> {
        match *self {
            Inputs::Units { unit_size, .. } => {
                if unit_size == 0 {
                    return Err(Error::ZeroUnitSize);
                }
            }
            Inputs::Slices(_) => {}
            Inputs::Flat { buf, stride, lens } => {
                if stride == 0 {
                    return Err(Error::ZeroStride);
                }
                for (i, &l) in lens.iter().enumerate() {
                    let start = i.checked_mul(stride);
                    let end = start.and_then(|s| s.checked_add(l));
                    if l > stride || end.is_none_or(|e| e > buf.len()) {
                        return Err(Error::BadInputLayout { unit: i });
                    }
                }
            }
        }
        for i in 0..self.count() {
            let len = self.len_of(i);
            if len > u32::MAX as usize {
                return Err(Error::UnitTooLarge { len });
            }
        }
        Ok(())
    }

    /// Length of unit `i` (`i < count()`, after `validate`).
    pub(crate) fn len_of(&self, i: usize) -> usize {
        self.unit(i).len()
    }

    /// Unit `i` (`i < count()`, after `validate`).
    pub(crate) fn unit(&self, i: usize) -> &'a [u8] {
        match *self {
            Inputs::Units { src, unit_size } => {
                let start = i * unit_size;
                let end = (start + unit_size).min(src.len());
                &src[start..end]
            }
            Inputs::Slices(s) => s[i],
            Inputs::Flat { buf, stride, lens } => &buf[i * stride..i * stride + lens[i]],
        }
    }

    /// Units `[0, mid)` and `[mid, count)` as two inputs of the same form.
    pub(crate) fn split_at(&self, mid: usize) -> (Inputs<'a>, Inputs<'a>) {
        match *self {
            Inputs::Units { src, unit_size } => {
                let cut = mid.saturating_mul(unit_size).min(src.len());
                let (a, b) = src.split_at(cut);
                (
                    Inputs::Units { src: a, unit_size },
                    Inputs::Units { src: b, unit_size },
                )
            }
            Inputs::Slices(s) => {
                let (a, b) = s.split_at(mid.min(s.len()));
                (Inputs::Slices(a), Inputs::Slices(b))
            }
            Inputs::Flat { buf, stride, lens } => {
                let mid = mid.min(lens.len());
                let cut = (mid * stride).min(buf.len());
                let (ba, bb) = buf.split_at(cut);
                let (la, lb) = lens.split_at(mid);
                (
                    Inputs::Flat {
                        buf: ba,
                        stride,
                        lens: la,
                    },
                    Inputs::Flat {
                        buf: bb,
                        stride,
                        lens: lb,
                    },
                )
            }
        }
    }
}

impl<'a> From<&'a [&'a [u8]]> for Inputs<'a> {
    fn from(s: &'a [&'a [u8]]) -> Self {
        Inputs::Slices(s)
    }
}

impl<'a> From<&'a Vec<&'a [u8]>> for Inputs<'a> {
    fn from(s: &'a Vec<&'a [u8]>) -> Self {
        Inputs::Slices(s.as_slice())
    }
}

impl<'a, const N: usize> From<&'a [&'a [u8]; N]> for Inputs<'a> {
    fn from(s: &'a [&'a [u8]; N]) -> Self {
        Inputs::Slices(s.as_slice())
    }
}

/// The output slots of a call: slot `i` receives unit `i`'s result bytes. A slot's length is its
/// capacity; the result says how many bytes were written at its front.
#[derive(Debug)]
pub enum Outputs<'a, 'b> {
    /// One mutable slice per slot.
    Slices(&'a mut [&'b mut [u8]]),
    /// Slot `i` is `buf[i * stride .. (i + 1) * stride]`; there are `buf.len() / stride` slots.
    Flat {
        /// The buffer holding every slot.
        buf: &'a mut [u8],
        /// Bytes per slot (at least 1).
        stride: usize,
    },
}

impl<'a, 'b> Outputs<'a, 'b> {
    /// A flat buffer cut into slots of `stride` bytes.
    pub fn flat(buf: &'a mut [u8], stride: usize) -> Self {
        Outputs::Flat { buf, stride }
    }

    /// Number of slots.
    pub fn count(&self) -> usize {
        match self {
            Outputs::Slices(s) => s.len(),
            Outputs::Flat { buf, stride } => {
                if *stride == 0 {
                    0
                } else {
                    buf.len() / stride
                }
            }
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if let Outputs::Flat { stride: 0, .. } = self {
            return Err(Error::ZeroStride);
        }
        Ok(())
    }

    /// Capacity of slot `i` (`i < count()`).
    pub(crate) fn slot_len(&self, i: usize) -> usize {
        match self {
            Outputs::Slices(s) => s[i].len(),
            Outputs::Flat { stride, .. } => *stride,
        }
    }

    /// Slot `i` (`i < count()`).
    pub(crate) fn slot(&mut self, i: usize) -> &mut [u8] {
        match self {
            Outputs::Slices(s) => &mut *s[i],
            Outputs::Flat { buf, stride } => &mut buf[i * *stride..(i + 1) * *stride],
        }
    }

    /// Slots `[0, mid)` and `[mid, count)`, consuming the view.
    pub(crate) fn into_split(self, mid: usize) -> (Outputs<'a, 'b>, Outputs<'a, 'b>) {
        match self {
            Outputs::Slices(s) => {
                let m = mid.min(s.len());
                let (a, b) = s.split_at_mut(m);
                (Outputs::Slices(a), Outputs::Slices(b))
            }
            Outputs::Flat { buf, stride } => {
                let cut = mid.saturating_mul(stride).min(buf.len());
                let (a, b) = buf.split_at_mut(cut);
                (
                    Outputs::Flat { buf: a, stride },
                    Outputs::Flat { buf: b, stride },
                )
            }
        }
    }

    /// A shorter-lived view of the same slots.
    pub(crate) fn reborrow(&mut self) -> Outputs<'_, 'b> {
        match self {
            Outputs::Slices(s) => Outputs::Slices(s),
            Outputs::Flat { buf, stride } => Outputs::Flat {
                buf,
                stride: *stride,
            },
        }
    }
}

impl<'b> Outputs<'_, 'b> {
    /// Every slot at once, in order (disjoint borrows).
    pub(crate) fn slots_mut(&mut self) -> SlotsMut<'_, 'b> {
        match self {
            Outputs::Slices(s) => SlotsMut::Slices(s.iter_mut()),
            Outputs::Flat { buf, stride } => SlotsMut::Flat(buf.chunks_exact_mut(*stride)),
        }
    }
}

/// The iterator of [`Outputs::slots_mut`].
pub(crate) enum SlotsMut<'s, 'b> {
    Slices(std::slice::IterMut<'s, &'b mut [u8]>),
    Flat(std::slice::ChunksExactMut<'s, u8>),
}

impl<'s> Iterator for SlotsMut<'s, '_> {
    type Item = &'s mut [u8];
    fn next(&mut self) -> Option<&'s mut [u8]> {
        match self {
            SlotsMut::Slices(i) => i.next().map(|s| &mut **s),
            SlotsMut::Flat(i) => i.next(),
        }
    }
}

impl<'a, 'b> From<&'a mut [&'b mut [u8]]> for Outputs<'a, 'b> {
    fn from(s: &'a mut [&'b mut [u8]]) -> Self {
        Outputs::Slices(s)
    }
}

impl<'a, 'b> From<&'a mut Vec<&'b mut [u8]>> for Outputs<'a, 'b> {
    fn from(s: &'a mut Vec<&'b mut [u8]>) -> Self {
        Outputs::Slices(s.as_mut_slice())
    }
}

impl<'a, 'b, const N: usize> From<&'a mut [&'b mut [u8]; N]> for Outputs<'a, 'b> {
    fn from(s: &'a mut [&'b mut [u8]; N]) -> Self {
        Outputs::Slices(s.as_mut_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_count_and_last_short() {
        let src = [0u8; 10];
        let i = Inputs::units(&src, 4);
        assert_eq!(i.count(), 3);
        assert_eq!(i.unit(2).len(), 2);
        assert_eq!(Inputs::units(&[], 4).count(), 0);
        let (a, b) = i.split_at(2);
        assert_eq!((a.count(), b.count()), (2, 1));
    }

    #[test]
    fn flat_inputs_validated() {
        let buf = [0u8; 8];
        assert!(Inputs::Flat {
            buf: &buf,
            stride: 4,
            lens: &[4, 4]
        }
        .validate()
        .is_ok());
        assert_eq!(
            Inputs::Flat {
                buf: &buf,
                stride: 4,
                lens: &[4, 5]
            }
            .validate(),
            Err(Error::BadInputLayout { unit: 1 })
        );
        assert_eq!(
            Inputs::Flat {
                buf: &buf,
                stride: 4,
                lens: &[4, 4, 1]
            }
            .validate(),
            Err(Error::BadInputLayout { unit: 2 })
        );
        assert_eq!(
            Inputs::Flat {
                buf: &buf,
                stride: 0,
                lens: &[]
            }
            .validate(),
            Err(Error::ZeroStride)
        );
    }

    #[test]
    fn flat_outputs_split() {
        let mut buf = [0u8; 10];
        let mut o = Outputs::flat(&mut buf, 4);
        assert_eq!(o.count(), 2);
        let (mut a, b) = o.reborrow().into_split(1);
        assert_eq!((a.count(), b.count()), (1, 1));
        a.slot(0)[0] = 7;
        assert_eq!(buf[0], 7);
    }
}
