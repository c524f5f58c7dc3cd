//! Arbitrary bytes as a Messenger webhook body: parsing may fail, but must never panic, and
//! signature checking of the same bytes must not either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_channels::messenger::{parse_webhook, verify_signature};

fuzz_target!(|data: &[u8]| {
    let _ = parse_webhook(data, "1029384756");
    let header = std::str::from_utf8(data).ok();
    let _ = verify_signature(b"fuzz-secret", data, header);
});
