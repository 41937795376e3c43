//! Thin binary: parse the command line, run the library, map the outcome to an exit code.

fn main() -> std::process::ExitCode {
    imagegate::cli::main()
}
