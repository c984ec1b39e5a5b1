//! The scripts' exact arithmetic (`lua/num.lua`) against Rust's u128, on random
//! numbers of every size from one digit to 2^64 and on the edges of its digits
//! and of a double's exact range.

use super::server;
use std::string::{String, ToString};
use std::vec::Vec;

const SCRIPT: &str = concat!(
    include_str!("../lua/num.lua"),
    r#"
local out = {}
for i = 1, #ARGV, 2 do
  local a, b = D(ARGV[i]), D(ARGV[i + 1])
  local q, r = divmod(a, b)
  out[#out + 1] = S(add(a, b))
  out[#out + 1] = S(sub(a, b))
  out[#out + 1] = S(mul(a, b))
  out[#out + 1] = S(q)
  out[#out + 1] = S(r)
  out[#out + 1] = tostring(cmp(a, b))
  out[#out + 1] = S(divmod(mul(a, b), b))
end
return out
"#
);

fn edges() -> Vec<u64> {
    let mut v = std::vec![0u64, 1, 2, 9, 10, 9_999_999, 10_000_000, 10_000_001];
    for p in [7u32, 14, 18, 19] {
        let x = 10u64.pow(p);
        v.extend([x - 1, x, x + 1]);
    }
    for b in [24u32, 26, 52, 53, 54, 62, 63] {
        let x = 1u64 << b;
        v.extend([x - 1, x, x + 1]);
    }
    v.extend([u64::MAX - 1, u64::MAX, 1_764_936_000_123_456_789]);
    v
}

#[tokio::test]
async fn redis_script_arithmetic_is_exact() {
    let Some(mut conn) = server().await else {
        return;
    };
    let script = redis::Script::new(SCRIPT);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    let e = edges();
    for &a in &e {
        for &b in &e {
            pairs.push((a, b.max(1)));
        }
    }
    for _ in 0..3000 {
        let (a, b) = (next() >> (next() % 64), next() >> (next() % 64));
        pairs.push((a, b.max(1)));
    }
    for chunk in pairs.chunks(200) {
        let mut inv = script.prepare_invoke();
        for (a, b) in chunk {
            inv.arg(a.to_string()).arg(b.to_string());
        }
        let got: Vec<String> = inv.invoke_async(&mut conn).await.unwrap();
        for (i, &(a, b)) in chunk.iter().enumerate() {
            let (a, b) = (u128::from(a), u128::from(b));
            let want = [
                (a + b).to_string(),
                a.saturating_sub(b).to_string(),
                (a * b).to_string(),
                (a / b).to_string(),
                (a % b).to_string(),
                (a.cmp(&b) as i8).to_string(),
                a.to_string(),
            ];
            assert_eq!(got[i * 7..i * 7 + 7], want, "a = {a}, b = {b}");
        }
    }
}

const TIME_SCRIPT: &str = concat!(
    include_str!("../lua/num.lua"),
    r#"
local out = {}
for i = 1, #ARGV, 3 do
  local s, us, p = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), ARGV[i + 2]
  out[#out + 1] = S(NANOS(s, us))
  local k, e = WINDOW(p, s, us * 1000)
  if k then out[#out + 1] = string.format('%d %d', k, e) else out[#out + 1] = '-' end
  out[#out + 1] = MS_UP(us * 1000 + s % 1000)
end
return out
"#
);

/// The fast paths' helpers: the server's time as nanoseconds, the window number and
/// the time into it, and milliseconds rounded up.
#[tokio::test]
async fn redis_script_time_helpers_are_exact() {
    let Some(mut conn) = server().await else {
        return;
    };
    let script = redis::Script::new(TIME_SCRIPT);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let periods: [u64; 9] = [
        1,
        7,
        100_000_000,
        1_000_000_000,
        60_000_000_000,
        86_400_000_000_000,
        999_983,
        3_000_000_007,
        1 << 55,
    ];
    let mut cases = Vec::new();
    for i in 0..2000u64 {
        let s = match i % 3 {
            0 => 1_764_936_000 + next() % 100_000,
            1 => next() % 9_000_000_000,
            _ => next() % 1000,
        };
        let us = [0, 999_999, next() % 1_000_000][(i % 3) as usize];
        cases.push((s, us, periods[(next() % 9) as usize]));
    }
    for chunk in cases.chunks(300) {
        let mut inv = script.prepare_invoke();
        for (s, us, p) in chunk {
            inv.arg(s.to_string())
                .arg(us.to_string())
                .arg(p.to_string());
        }
        let got: Vec<String> = inv.invoke_async(&mut conn).await.unwrap();
        for (i, &(s, us, p)) in chunk.iter().enumerate() {
            let now = u128::from(s) * 1_000_000_000 + u128::from(us) * 1000;
            assert_eq!(got[i * 3], now.to_string());
            // Whole seconds or a divisor of one, and a window number a double holds.
            let fast = p.to_string().len() <= 15
                && (p % 1_000_000_000 == 0 || 1_000_000_000 % p == 0)
                && now / u128::from(p) < 1 << 53;
            let window = if fast {
                let p = u128::from(p);
                std::format!("{} {}", now / p, now % p)
            } else {
                String::from("-")
            };
            assert_eq!(got[i * 3 + 1], window, "s {s} us {us} p {p}");
            let ns = u128::from(us) * 1000 + u128::from(s % 1000);
            assert_eq!(got[i * 3 + 2], ns.div_ceil(1_000_000).max(1).to_string());
        }
    }
}
