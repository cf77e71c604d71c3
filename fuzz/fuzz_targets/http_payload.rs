//! `sieve::fuzzing::http_payload` under libFuzzer (what it asserts: its documentation, and
//! docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sieve::fuzzing::http_payload(data));
