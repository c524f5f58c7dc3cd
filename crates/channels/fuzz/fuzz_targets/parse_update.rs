//! Arbitrary bytes as a Telegram webhook body: parsing may fail, but must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_channels::telegram::parse_update;

fuzz_target!(|data: &[u8]| {
    let _ = parse_update(data);
});
