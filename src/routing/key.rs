//! Table keys: a name's lowercased wire form (`\x03www\x07example\x03com\x00`). The
//! UDP fast path reads it straight from the packet without allocating, parents are
//! suffixes (no copy), and byte equality is the RFC 4343 case-insensitive comparison.

use hickory_proto::rr::Name;

/// Room for the longest name on the wire (255 octets, RFC 1035 §3.1).
pub type KeyBuf = [u8; 256];

pub const fn new_buf() -> KeyBuf {
    [0; 256]
}

/// The key of `name` (treated as fully qualified) in `buf`. `None` for a name too long to
/// be on the wire, which no table holds.
pub fn of<'b>(name: &Name, buf: &'b mut KeyBuf) -> Option<&'b [u8]> {
    let mut len = 0;
    for label in name.iter() {
        let end = len + 1 + label.len();
        if label.len() > 63 || end >= 255 {
            return None;
        }
        buf[len] = label.len() as u8;
        for (dst, src) in buf[len + 1..end].iter_mut().zip(label) {
            *dst = src.to_ascii_lowercase();
        }
        len = end;
    }
    buf[len] = 0;
    Some(&buf[..len + 1])
}

/// An owned key, for building tables.
pub fn owned(name: &Name) -> Box<[u8]> {
    let mut buf = new_buf();
    of(name, &mut buf).unwrap_or(&[0]).into()
}

/// The parent of `key` (its first label removed); the root is its own parent.
#[inline]
pub fn parent(key: &[u8]) -> &[u8] {
    match key.first() {
        Some(&n) if n > 0 => &key[1 + n as usize..],
        _ => key,
    }
}

/// Whether `key` lies at or below `origin`: a suffix that starts on a label boundary.
pub fn within(key: &[u8], origin: &[u8]) -> bool {
    let mut k = key;
    while k.len() > origin.len() {
        k = parent(k);
    }
    k == origin
}

/// `*.` followed by `parent`, in `buf`.
pub fn wildcard_of<'b>(parent: &[u8], buf: &'b mut KeyBuf) -> Option<&'b [u8]> {
    let len = parent.len() + 2;
    if len > 255 {
        return None;
    }
    buf[0] = 1;
    buf[1] = b'*';
    buf[2..len].copy_from_slice(parent);
    Some(&buf[..len])
}

/// Number of labels, the root not counted.
pub fn labels(key: &[u8]) -> usize {
    let mut n = 0;
    let mut k = key;
    while k.len() > 1 {
        k = parent(k);
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn keys_are_lowercase_wire_names() {
        let mut buf = new_buf();
        let k = of(&name("WwW.Example.COM."), &mut buf).unwrap().to_vec();
        assert_eq!(k, b"\x03www\x07example\x03com\x00");
        assert_eq!(parent(&k), b"\x07example\x03com\x00");
        assert_eq!(parent(parent(parent(&k))), b"\x00");
        assert_eq!(parent(b"\x00"), b"\x00");
        assert_eq!(labels(&k), 3);
        assert_eq!(&*owned(&Name::root()), b"\x00");
    }

    #[test]
    fn within_respects_label_boundaries() {
        let origin = owned(&name("example.com."));
        assert!(within(&owned(&name("a.b.example.com.")), &origin));
        assert!(within(&origin, &origin));
        assert!(!within(&owned(&name("xexample.com.")), &origin));
        assert!(!within(&owned(&name("com.")), &origin));
        // A label that happens to end with the origin's bytes is not a boundary.
        let tricky = b"\x05a\x03com\x00";
        assert!(tricky.ends_with(b"\x03com\x00"));
        assert!(!within(tricky, b"\x03com\x00"));
    }

    #[test]
    fn wildcard_replaces_the_first_label() {
        let mut buf = new_buf();
        let w = wildcard_of(b"\x04wild\x04test\x00", &mut buf).unwrap();
        assert_eq!(w, b"\x01*\x04wild\x04test\x00");
    }
}
