//! The `iaa` command (filled by the software-path issue).
fn main() {
    eprintln!("iaa: no subcommands are implemented yet");
    std::process::exit(2);
}
