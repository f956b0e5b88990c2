//! The fuzz targets: one binary, the target chosen by `REHEARSE_FUZZ_TARGET`, each
//! feeding one input to one reader or parser of rehearse. Every target must end in a
//! value or an error for any input: a panic (or abort) is a finding. Built with AFL++'s
//! coverage instrumentation for `afl-fuzz` (libAFLDriver's persistent loop calls
//! `LLVMFuzzerTestOneInput`), or without the `afl` feature as a plain program that runs
//! each file named on the command line (`rehearse-fuzz TARGET FILE...`), to replay a
//! finding. The targets themselves are in `targets.rs`.

#![cfg_attr(feature = "afl", no_main)]

mod targets;

use std::sync::OnceLock;

use targets::run;

fn target() -> &'static str {
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| std::env::var("REHEARSE_FUZZ_TARGET").unwrap_or_else(|_| "csv".into()))
}

/// The entry point libAFLDriver calls for every input.
#[cfg(feature = "afl")]
#[unsafe(no_mangle)]
pub extern "C" fn LLVMFuzzerTestOneInput(data: *const u8, size: usize) -> i32 {
    let bytes = if size == 0 {
        &[][..]
    } else {
        // SAFETY: the driver passes a valid buffer of `size` bytes.
        unsafe { std::slice::from_raw_parts(data, size) }
    };
    run(target(), bytes);
    0
}

/// Without AFL: runs every file named on the command line (`TARGET FILE...`).
#[cfg(not(feature = "afl"))]
fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| target().to_string());
    for f in args {
        let data = std::fs::read(&f).expect("reads the input");
        run(&target, &data);
    }
}
