fn main() {
    if let Err(e) = sieve_trainer::cli::main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
