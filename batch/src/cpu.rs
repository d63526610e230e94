//! CPU numbering: how many contexts to create, and which one the calling thread should use.

/// Parse a kernel CPU list such as `0-7,16-23` and return the highest CPU id + 1 (so that every
/// listed id indexes a context). `None` for an empty or malformed list.
pub(crate) fn parse_cpu_list(s: &str) -> Option<usize> {
    let mut max: Option<usize> = None;
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    for part in s.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ),
            None => {
                let v = part.parse::<usize>().ok()?;
                (v, v)
            }
        };
        if lo > hi {
            return None;
        }
        max = Some(max.map_or(hi, |m: usize| m.max(hi)));
    }
    // A CPU id beyond any plausible machine is a malformed file, not a reason to allocate.
    max.filter(|&m| m < 65_536).map(|m| m + 1)
}

/// Number of contexts to create: one per possible CPU id, else the available parallelism.
pub(crate) fn possible_cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| parse_cpu_list(&s))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The CPU the calling thread runs on, clamped to `n` contexts.
pub(crate) fn current_cpu(n: usize) -> usize {
    iaa_wq::cpu::current_cpu().map_or(0, |c| c % n.max(1))
}

#[cfg(test)]
mod tests {
    use super::parse_cpu_list;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-7,16-23\n"), Some(24));
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-1"), Some(2));
        assert_eq!(parse_cpu_list("3,1"), Some(4));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("a-b"), None);
        assert_eq!(parse_cpu_list("5-2"), None);
        assert_eq!(parse_cpu_list("0-99999999"), None);
    }
}
