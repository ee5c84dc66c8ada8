//! Text clean-up (HTML, entities, Markdown), Telegram previews and time parsing.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cxpulse::fuzzing::text(data);
});
