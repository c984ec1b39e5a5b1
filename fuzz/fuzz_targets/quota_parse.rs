//! Any text: parsing never panics, and a quota that parses prints back to itself;
//! a stack that parses prints back (joined by "; ") to the same stack.
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
    if let Ok(stack) = Quota::parse_stack(s) {
        assert!(!stack.is_empty(), "{s:?} parsed to no quota");
        let printed: Vec<String> = stack.iter().map(|q| q.to_string()).collect();
        let printed = printed.join("; ");
        assert_eq!(
            Quota::parse_stack(&printed),
            Ok(stack),
            "{s:?} printed as {printed:?}"
        );
    }
});
