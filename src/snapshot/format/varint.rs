//! LEB128 varints: seven bits per byte, low bits first, one encoding per value.

/// The longest LEB128 encoding of a `u64`.
pub(super) const VARINT_MAX: u64 = 10;

/// Appends `v` as a LEB128 varint: seven bits per byte, low bits first, the high
/// bit set on every byte but the last.
#[inline(always)]
pub(crate) fn put_varint(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; VARINT_MAX as usize];
    let n = varint_into(&mut buf, 0, v);
    // A fixed-size copy the compiler inlines (a variable one calls memmove),
    // then cut to length.
    let at = out.len();
    out.extend_from_slice(&buf);
    out.truncate(at + n);
}

/// Writes `v`'s varint at `buf[at..]`, which has room for ten bytes; returns its
/// length.
#[inline(always)]
pub(super) fn varint_into(buf: &mut [u8], at: usize, v: u64) -> usize {
    if let Some((x, len)) = spread(v) {
        buf[at..at + 8].copy_from_slice(&x.to_le_bytes());
        return len;
    }
    let mut v = v;
    let mut n = 0;
    while v >= 0x80 {
        buf[at + n] = v as u8 | 0x80;
        v >>= 7;
        n += 1;
    }
    buf[at + n] = v as u8;
    n + 1
}

/// `v`'s varint as the low bytes of a word, and its length, if it takes at most
/// eight bytes (`v` below 2^56). The 7-bit groups spread into bytes by three
/// mask-and-shift steps (the reverse of `get_long_varint`), with continuation
/// bits on all but the last: no loop, no branch per byte.
#[inline(always)]
pub(super) fn spread(v: u64) -> Option<(u64, usize)> {
    // The number of 7-bit groups (at least one, for 0).
    let len = (64 - (v | 1).leading_zeros()).div_ceil(7) as usize;
    if len > 8 {
        return None;
    }
    let mut x = (v & 0x0FFF_FFFF) | (v & 0x00FF_FFFF_F000_0000) << 4;
    x = (x & 0x0000_3FFF_0000_3FFF) | (x & 0x0FFF_C000_0FFF_C000) << 2;
    x = (x & 0x007F_007F_007F_007F) | (x & 0x3F80_3F80_3F80_3F80) << 1;
    x |= 0x8080_8080_8080_8080 & ((1u64 << (8 * (len - 1))) - 1);
    Some((x, len))
}

/// The varint at `*at`, advancing `*at` past it. `None` if the bytes run out, the
/// value needs more than 64 bits, or the encoding is longer than needed (a final
/// zero byte): each value has exactly one encoding.
#[inline(always)]
pub(crate) fn get_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    // Most varints of a file are one byte (slot gaps): no loop for them.
    let first = *b.get(*at)?;
    if first < 0x80 {
        *at += 1;
        return Some(u64::from(first));
    }
    get_long_varint(b, at)
}

#[inline]
pub(super) fn get_long_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    if let Some(word) = b.get(*at..*at + 8) {
        // Up to eight bytes at once: the first byte without the continuation bit
        // ends the varint, and the 7-bit groups are packed together by three
        // mask-and-shift steps (no loop, no branch per byte).
        let x = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        let stops = !x & 0x8080_8080_8080_8080;
        if stops != 0 {
            let len = (stops.trailing_zeros() as usize + 1) / 8;
            let last = (x >> (8 * (len - 1))) as u8;
            if last == 0 {
                // Longer than needed (`len` > 1 here: one-byte varints never get here).
                return None;
            }
            let mut v = x & (u64::MAX >> (64 - 8 * len)) & 0x7F7F_7F7F_7F7F_7F7F;
            v = (v & 0x007F_007F_007F_007F) | (v & 0x7F00_7F00_7F00_7F00) >> 1;
            v = (v & 0x0000_3FFF_0000_3FFF) | (v & 0x3FFF_0000_3FFF_0000) >> 2;
            v = (v & 0x0000_0000_0FFF_FFFF) | (v & 0x0FFF_FFFF_0000_0000) >> 4;
            *at += len;
            return Some(v);
        }
    }
    let mut v = 0;
    for i in 0..VARINT_MAX as usize {
        let byte = *b.get(*at + i)?;
        if i == 9 && byte > 1 {
            return None;
        }
        v |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return None;
            }
            *at += i + 1;
            return Some(v);
        }
    }
    None
}
