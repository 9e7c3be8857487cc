//! The `akashic` binary: everything lives in the library.

fn main() {
    std::process::exit(akashic::cli::main());
}
