//! Measures a receiver process from the outside: CPU time from `/proc/PID/stat`, memory from
//! `/proc/PID/status`, and bytes on disk of its data directory (what `du` reports).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, bail};

/// Clock ticks per second assumed when `getconf CLK_TCK` cannot be run (Linux' usual value).
const DEFAULT_CLOCK_TICKS_PER_SEC: u64 = 100;

/// Upper bound on directory entries visited by [`disk_usage`], so a wrong path cannot walk a whole
/// file system forever.
const MAX_DIR_ENTRIES: usize = 10_000_000;

/// One reading of a process's CPU time and memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcSnapshot {
    /// User plus system CPU time spent by the process so far, in seconds.
    pub(crate) cpu_seconds: f64,
    /// Resident set size now (`VmRSS`), in bytes.
    pub(crate) rss_bytes: u64,
    /// Peak resident set size since the process started (`VmHWM`), in bytes.
    pub(crate) hwm_bytes: u64,
}

/// Reads the CPU time and memory of process `pid`.
pub(crate) fn read_proc(pid: u32, ticks_per_sec: u64) -> anyhow::Result<ProcSnapshot> {
    let stat_path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&stat_path).with_context(|| format!("reading {stat_path}"))?;
    let ticks = parse_stat_cpu_ticks(&stat).with_context(|| format!("parsing {stat_path}"))?;
    let status_path = format!("/proc/{pid}/status");
    let status =
        fs::read_to_string(&status_path).with_context(|| format!("reading {status_path}"))?;
    let rss_bytes = parse_status_kib(&status, "VmRSS:")
        .with_context(|| format!("no VmRSS in {status_path}"))?
        * 1024;
    let hwm_bytes = parse_status_kib(&status, "VmHWM:")
        .with_context(|| format!("no VmHWM in {status_path}"))?
        * 1024;
    Ok(ProcSnapshot {
        cpu_seconds: ticks as f64 / ticks_per_sec.max(1) as f64,
        rss_bytes,
        hwm_bytes,
    })
}

/// Returns the kernel's clock ticks per second (`getconf CLK_TCK`), or 100 when unknown.
pub(crate) fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&t| t > 0)
        .unwrap_or(DEFAULT_CLOCK_TICKS_PER_SEC)
}

/// Returns `utime + stime` (fields 14 and 15, in clock ticks) from the text of `/proc/PID/stat`.
///
/// The command name (field 2) is in parentheses and may itself contain spaces or parentheses, so
/// fields are counted from the last `)`.
fn parse_stat_cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let Some(close) = stat.rfind(')') else {
        bail!("no ')' after the command name");
    };
    // After ")" come field 3 (state), 4, ...; utime is field 14, i.e. index 11 here.
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let field = |i: usize| -> anyhow::Result<u64> {
        let s = fields
            .get(i)
            .with_context(|| format!("missing field {}", i + 3))?;
        s.parse::<u64>()
            .with_context(|| format!("field {} is not a number: {s:?}", i + 3))
    };
    Ok(field(11)? + field(12)?)
}

/// Returns the value in KiB of a `Name:   123 kB` line of `/proc/PID/status`.
fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
}

/// Bytes a directory tree occupies on disk, counted two ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct DiskUsage {
    /// Allocated bytes (512-byte blocks × 512), as `du -s -B1` reports; hard links counted once.
    pub(crate) allocated_bytes: u64,
    /// Sum of file lengths, as `du -s -b --apparent-size` reports.
    pub(crate) apparent_bytes: u64,
}

/// Measures the bytes on disk under `dir`, following no symbolic links and counting each hard-linked
/// file once. Files that vanish during the walk (a compaction removing them) are skipped.
pub(crate) fn disk_usage(dir: &Path) -> anyhow::Result<DiskUsage> {
    let meta = fs::symlink_metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut usage = DiskUsage::default();
    let mut seen_inodes = std::collections::HashSet::new();
    let mut stack = vec![(dir.to_path_buf(), meta)];
    let mut visited = 0usize;
    while let Some((path, meta)) = stack.pop() {
        visited += 1;
        if visited > MAX_DIR_ENTRIES {
            bail!(
                "more than {MAX_DIR_ENTRIES} entries under {}",
                dir.display()
            );
        }
        if meta.nlink() > 1 && !meta.is_dir() && !seen_inodes.insert((meta.dev(), meta.ino())) {
            continue;
        }
        usage.allocated_bytes += meta.blocks() * 512;
        if meta.is_file() {
            usage.apparent_bytes += meta.len();
        }
        if !meta.is_dir() {
            continue;
        }
        let entries = match fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("listing {}", path.display())),
        };
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let child = entry.path();
            match fs::symlink_metadata(&child) {
                Ok(m) => stack.push((child, m)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("reading {}", child.display())),
            }
        }
    }
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_ticks_after_a_command_name_with_spaces_and_parens() {
        let stat = "1234 (my (weird) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 8 0 12345 1000000 500 18446744073709551615";
        assert_eq!(parse_stat_cpu_ticks(stat).unwrap(), 325);
    }

    #[test]
    fn rejects_a_truncated_stat_line() {
        assert!(parse_stat_cpu_ticks("1 (x) S 1 2 3").is_err());
        assert!(parse_stat_cpu_ticks("garbage").is_err());
    }

    #[test]
    fn parses_kib_fields_of_status() {
        let status = "Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t3\n";
        assert_eq!(parse_status_kib(status, "VmRSS:"), Some(10240));
        assert_eq!(parse_status_kib(status, "VmHWM:"), Some(20480));
        assert_eq!(parse_status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_its_own_process() {
        let snap = read_proc(std::process::id(), clock_ticks_per_sec()).unwrap();
        assert!(snap.rss_bytes > 0);
        assert!(snap.hwm_bytes >= snap.rss_bytes);
        assert!(snap.cpu_seconds >= 0.0);
    }

    #[test]
    fn counts_file_bytes_and_hard_links_once() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        fs::create_dir_all(&sub).unwrap();
        fs::write(sub.join("f"), vec![7u8; 10_000]).unwrap();
        fs::write(dir.path().join("g"), vec![1u8; 5]).unwrap();
        fs::hard_link(sub.join("f"), dir.path().join("f-link")).unwrap();
        let usage = disk_usage(dir.path()).unwrap();
        assert_eq!(usage.apparent_bytes, 10_005);
        assert!(usage.allocated_bytes >= 10_000);
        assert!(disk_usage(&dir.path().join("missing")).is_err());
    }
}
