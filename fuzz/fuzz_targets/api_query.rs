//! The HTTP API with hostile paths and query strings: a real daemon (tiny test model, empty
//! store) on 127.0.0.1; no request may be answered with a 5xx.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cxpulse::fuzzing::api_query(data);
});
