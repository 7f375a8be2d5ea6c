//! Log output: timestamped lines on stderr, `info` and up unless `RUST_LOG`
//! says otherwise, coloured only on a terminal (not in log files).

/// Installs the subscriber. Only the first call in a process takes effect
/// (tests may have installed one already).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
