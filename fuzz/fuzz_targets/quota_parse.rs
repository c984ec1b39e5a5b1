//! Any text: parsing never panics, and a quota that parses prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ratecell::Quota;

fuzz_target!(|s: &str| {
    if let Ok(q) = s.parse::<Quota>() {
        let printed = q.to_string();
        assert_eq!(
            printed.parse::<Quota>(),
            Ok(q),
            "{s:?} printed as {printed:?}"
        );
    }
});
