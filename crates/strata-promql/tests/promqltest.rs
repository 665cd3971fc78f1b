//! Runs every eval of every Prometheus promqltest script and compares per-file passes with the
//! committed baseline (`tests/promqltest-baseline.txt`): fewer passes than the baseline fail.
//!
//! Scripts come from `$STRATA_PROMQLTEST_DIR`, else `~/.cache/strata-peers/promqltest`; when
//! that directory is missing, `scripts/fetch-peers` is run to fetch them. Set
//! `STRATA_PROMQLTEST_VERBOSE=1` to print every failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use strata_promql::promqltest::run_script;

fn scripts_dir() -> PathBuf {
    if let Ok(d) = std::env::var("STRATA_PROMQLTEST_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    PathBuf::from(home).join(".cache/strata-peers/promqltest")
}

fn ensure_scripts(dir: &Path) {
    let has_tests = |d: &Path| {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .any(|e| e.path().extension().is_some_and(|x| x == "test"))
            })
            .unwrap_or(false)
    };
    if has_tests(dir) {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-peers");
    eprintln!(
        "promqltest scripts missing in {}; running {}",
        dir.display(),
        script.display()
    );
    let status = Command::new(&script).status();
    assert!(
        matches!(status, Ok(s) if s.success()),
        "scripts/fetch-peers failed ({status:?}); cannot run the promqltest conformance suite"
    );
    assert!(
        has_tests(dir),
        "no .test files in {} after scripts/fetch-peers",
        dir.display()
    );
}

fn baseline() -> BTreeMap<String, usize> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/promqltest-baseline.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let (f, n) = l.split_once(':')?;
            Some((f.trim().to_string(), n.trim().parse().ok()?))
        })
        .collect()
}

fn main() {
    let dir = scripts_dir();
    ensure_scripts(&dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "test"));
    files.sort();
    let filter = std::env::var("STRATA_PROMQLTEST_FILTER").ok();
    let verbose = std::env::var("STRATA_PROMQLTEST_VERBOSE").is_ok();
    let base = baseline();
    let (mut passed, mut total) = (0, 0);
    let mut regressions = Vec::new();
    println!("{:<28} {:>9}", "file", "passed");
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if filter.as_ref().is_some_and(|x| !name.contains(x.as_str())) {
            continue;
        }
        let content = std::fs::read_to_string(f).unwrap_or_default();
        let rep = run_script(&content);
        println!(
            "{:<28} {:>4}/{:<4}",
            format!("{name}:"),
            rep.passed,
            rep.total
        );
        if verbose {
            for fl in &rep.failures {
                println!("    FAIL {fl}");
            }
        }
        if let Some(min) = base.get(&name)
            && rep.passed < *min
        {
            regressions.push(format!("{name}: {} passed < baseline {min}", rep.passed));
        }
        passed += rep.passed;
        total += rep.total;
    }
    println!("overall: {passed}/{total}");
    if !regressions.is_empty() {
        eprintln!("regressions against tests/promqltest-baseline.txt:");
        for r in &regressions {
            eprintln!("  {r}");
        }
        std::process::exit(1);
    }
}
