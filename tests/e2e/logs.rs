//! Captures every log line of the process, so tests can look for secrets in them.
//!
//! One capture for the whole test binary, shared by the tests running in
//! parallel: "something was logged" proves nothing about one test, so a test
//! asserts on the lines of its own runs and tenants ([`Captured::lines_with`]).

use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The lines that mention `needle` (a run's or a tenant's id: roles log
    /// them as fields), whichever test's they are.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The process-wide capture (installed once, at debug level for our crates).
pub fn captured() -> Captured {
    static CAPTURE: OnceLock<Captured> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Captured::default();
            let _ = tracing_subscriber::fmt()
                .with_env_filter("debug,sqlx=warn,lapin=info,amq_protocol=info,hyper=info,h2=info")
                .with_writer(capture.clone())
                .with_ansi(false)
                .try_init();
            capture
        })
        .clone()
}
