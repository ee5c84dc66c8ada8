//! schema.org reviews in JSON-LD and microdata, from any HTML.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cxpulse::fuzzing::jsonld(data);
});
