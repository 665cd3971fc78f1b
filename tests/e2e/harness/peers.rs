//! Real peer programs (Prometheus, node_exporter, promtool) fetched by `scripts/fetch-peers`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Returns the folder holding the peer binaries, fetching them once if needed. Panics (failing
/// the test) when they cannot be had: a missing peer never skips a test.
pub fn bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new(root.join("scripts/fetch-peers"))
            .output()
            .expect("run scripts/fetch-peers");
        assert!(
            out.status.success(),
            "scripts/fetch-peers failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout
            .lines()
            .last()
            .expect("fetch-peers prints the bin dir");
        PathBuf::from(last.trim())
    })
    .clone()
}

/// Returns the path of peer program `name`.
pub fn program(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(p.exists(), "peer program {} missing", p.display());
    p
}
