//! RSS 2.0 / Atom parsing: any bytes give items or an error, never a panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cxpulse::fuzzing::feed(data);
});
