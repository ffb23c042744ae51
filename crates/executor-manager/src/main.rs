//! The executor manager (being built): leases runs, runs executors, relays events.
fn main() {
    eprintln!("executor-manager: not implemented yet");
    std::process::exit(1);
}
