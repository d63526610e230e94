//! Length-limited Huffman code construction (no allocation).

/// Build code lengths (<= `limit`) for `freq` into `lens` (same length as `freq`).
/// At least two symbols always get a code, so every code is complete (zlib rejects
/// incomplete literal/length codes). `scratch` must hold `freq.len()` entries.
pub(crate) fn build_lengths(freq: &[u32], limit: u32, lens: &mut [u8], scratch: &mut [u32]) {
    debug_assert!(freq.len() <= 288 && lens.len() == freq.len() && scratch.len() >= freq.len());
    lens.fill(0);
    // Keys `freq << 9 | symbol` of the used symbols only, compacted without branches
    // (frequencies are < 2^23: a block has at most 64 Ki symbols).
    let mut n = 0;
    for (sym, &f) in freq.iter().enumerate() {
        scratch[n] = (f.min((1 << 23) - 1) << 9) | sym as u32;
        n += (f != 0) as usize;
    }
    if n < 2 {
        let s0 = freq.iter().position(|&f| f > 0).unwrap_or(0);
        lens[s0] = 1;
        lens[if s0 == 0 { 1 } else { 0 }] = 1;
        return;
    }
    // Counting sort by frequency (stable in symbol order); frequencies >= n share the last
    // bucket, which is then sorted by full key (libdeflate's idea).
    let mut bucket = [0u16; 288];
    for &k in &scratch[..n] {
        bucket[((k >> 9) as usize).min(n - 1)] += 1;
    }
    let mut sum = 0u16;
    for b in bucket[..n].iter_mut() {
        let c = *b;
        *b = sum;
        sum += c;
    }
    let last_start = bucket[n - 1] as usize;
    let mut sorted_buf = [0u32; 288];
    for &k in &scratch[..n] {
        let b = &mut bucket[((k >> 9) as usize).min(n - 1)];
        sorted_buf[*b as usize] = k;
        *b += 1;
    }
    let sorted = &mut sorted_buf[..n];
    sorted[last_start..].sort_unstable();
    let a = &mut scratch[..n];
    for (d, &p) in a.iter_mut().zip(sorted.iter()) {
        *d = p >> 9;
    }
    moffat(a);
    // a[i] = code length of sorted[i]; a[0] is the longest.
    let mut count = [0u32; 64];
    for &d in a.iter() {
        count[(d as usize).min(63)] += 1;
    }
    limit_lengths(&mut count, limit);
    let mut i = 0;
    for len in (1..=limit as usize).rev() {
        for _ in 0..count[len] {
            lens[(sorted[i] & 511) as usize] = len as u8;
            i += 1;
        }
    }
}

/// In-place minimum-redundancy code lengths (Moffat & Katajainen) for ascending weights `a`
/// (n >= 2). On return `a[i]` is the code length of the i-th weight.
fn moffat(a: &mut [u32]) {
    let n = a.len();
    a[0] += a[1];
    let mut root = 0usize;
    let mut leaf = 2usize;
    for next in 1..n - 1 {
        if leaf >= n || a[root] < a[leaf] {
            a[next] = a[root];
            a[root] = next as u32;
            root += 1;
        } else {
            a[next] = a[leaf];
            leaf += 1;
        }
        if leaf >= n || (root < next && a[root] < a[leaf]) {
            a[next] += a[root];
            a[root] = next as u32;
            root += 1;
        } else {
            a[next] += a[leaf];
            leaf += 1;
        }
    }
    a[n - 2] = 0;
    for next in (0..n - 2).rev() {
        a[next] = a[a[next] as usize] + 1;
    }
    let mut avbl: i64 = 1;
    let mut used: i64 = 0;
    let mut dpth = 0u32;
    let mut root = n as isize - 2;
    let mut next = n as isize - 1;
    while avbl > 0 {
        while root >= 0 && a[root as usize] == dpth {
            used += 1;
            root -= 1;
        }
        while avbl > used {
            a[next as usize] = dpth;
            next -= 1;
            avbl -= 1;
        }
        avbl = 2 * used;
        dpth += 1;
        used = 0;
    }
}

/// Make the length histogram `count` obey `limit` while keeping the Kraft sum exactly 1.
fn limit_lengths(count: &mut [u32; 64], limit: u32) {
    let limit = limit as usize;
    let mut over = 0;
    for c in count.iter_mut().skip(limit + 1) {
        over += *c;
        *c = 0;
    }
    if over == 0 {
        return;
    }
    count[limit] += over;
    // Kraft sum in units of 2^-limit.
    let cap: u64 = 1 << limit;
    let mut k: u64 = (1..=limit).map(|l| (count[l] as u64) << (limit - l)).sum();
    while k > cap {
        // Lengthen one code of the longest length below the limit.
        let mut l = limit - 1;
        while count[l] == 0 {
            l -= 1;
        }
        count[l] -= 1;
        count[l + 1] += 1;
        k -= 1 << (limit - l - 1);
    }
    while k < cap {
        // Overshot: shorten a code whose gain fits.
        let mut l = limit;
        while count[l] == 0 || (1u64 << (limit - l)) > cap - k {
            l -= 1;
        }
        count[l] -= 1;
        count[l - 1] += 1;
        k += 1 << (limit - l);
    }
}

const fn make_rev8() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).reverse_bits();
        i += 1;
    }
    t
}

/// Bit-reversed bytes.
static REV8: [u8; 256] = make_rev8();

/// Canonical codes, bit-reversed for LSB-first output, from code lengths.
///
/// The symbols are handled as four contiguous quarters, each with its own counters: a
/// counter bumped for consecutive symbols is a store-to-load chain, and four chains overlap.
pub(crate) fn assign_codes(lens: &[u8], codes: &mut [u16]) {
    debug_assert_eq!(lens.len(), codes.len());
    let q = lens.len().div_ceil(4).max(1);
    let (l0, rest) = lens.split_at(q.min(lens.len()));
    let (l1, rest) = rest.split_at(q.min(rest.len()));
    let (l2, l3) = rest.split_at(q.min(rest.len()));
    let mut count = [[0u16; 16]; 4];
    for i in 0..q {
        // Quarters 0..2 have exactly q symbols; only the last may be shorter.
        count[0][(l0.get(i).unwrap_or(&0) & 15) as usize] += 1;
        count[1][(l1.get(i).unwrap_or(&0) & 15) as usize] += 1;
        count[2][(l2.get(i).unwrap_or(&0) & 15) as usize] += 1;
        count[3][(l3.get(i).unwrap_or(&0) & 15) as usize] += 1;
    }
    // next[j][l]: the next code of length l in quarter j.
    let mut next = [[0u16; 16]; 4];
    let mut code = 0u16;
    for l in 1..16 {
        let prev = count[0][l - 1] + count[1][l - 1] + count[2][l - 1] + count[3][l - 1];
        code = (code + if l == 1 { 0 } else { prev }) << 1;
        next[0][l] = code;
        next[1][l] = next[0][l] + count[0][l];
        next[2][l] = next[1][l] + count[1][l];
        next[3][l] = next[2][l] + count[2][l];
    }
    let (c0, rest) = codes.split_at_mut(l0.len());
    let (c1, rest) = rest.split_at_mut(l1.len());
    let (c2, c3) = rest.split_at_mut(l2.len());
    // Unused symbols (length 0) take `next[j][0]` (never read) and get code 0.
    let one = |next: &mut [u16; 16], l: u8| -> u16 {
        let l = (l & 15) as usize;
        let c = next[l];
        next[l] = c.wrapping_add(1);
        let r = (REV8[(c & 0xFF) as usize] as u32) << 8 | REV8[(c >> 8) as usize] as u32;
        (r >> (16 - l)) as u16
    };
    let [n0, n1, n2, n3] = &mut next;
    for i in 0..q {
        if let (Some(&a), Some(o)) = (l0.get(i), c0.get_mut(i)) {
            *o = one(n0, a);
        }
        if let (Some(&a), Some(o)) = (l1.get(i), c1.get_mut(i)) {
            *o = one(n1, a);
        }
        if let (Some(&a), Some(o)) = (l2.get(i), c2.get_mut(i)) {
            *o = one(n2, a);
        }
        if let (Some(&a), Some(o)) = (l3.get(i), c3.get_mut(i)) {
            *o = one(n3, a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kraft(lens: &[u8], limit: u32) -> u64 {
        lens.iter()
            .filter(|&&l| l > 0)
            .map(|&l| 1u64 << (limit - l as u32))
            .sum()
    }

    #[test]
    fn complete_and_limited() {
        // Fibonacci weights force long codes.
        let mut freq = [0u32; 40];
        let (mut a, mut b) = (1u32, 1u32);
        for f in freq.iter_mut() {
            *f = a;
            let c = a.saturating_add(b).min(1 << 22);
            a = b;
            b = c;
        }
        for limit in [7u32, 9, 15] {
            let mut lens = [0u8; 40];
            let mut scratch = [0u32; 40];
            build_lengths(&freq, limit, &mut lens, &mut scratch);
            assert!(lens.iter().all(|&l| l >= 1 && l as u32 <= limit));
            assert_eq!(kraft(&lens, limit), 1 << limit);
        }
        let mut lens = [0u8; 4];
        let mut scratch = [0u32; 4];
        build_lengths(&[0, 0, 5, 0], 15, &mut lens, &mut scratch);
        assert_eq!(lens, [1, 0, 1, 0]);
        build_lengths(&[3, 1, 1, 1], 15, &mut lens, &mut scratch);
        assert_eq!(kraft(&lens, 15), 1 << 15);
        assert_eq!(lens[0], 1);
    }
}
