//! Config parsing and validation: any text is a config or a `ConfigError`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cxpulse::fuzzing::config(data);
});
