//! The `selectors` source: the first lines are the selectors (and date format), the rest HTML.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cxpulse::fuzzing::selectors(data);
});
