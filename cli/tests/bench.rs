//! `iaa bench --quick --json` runs and its report parses and is complete.

mod common;

use common::*;
use std::ffi::OsStr;

#[test]
fn bench_quick_json_parses() {
    let out = run(&[
        OsStr::new("bench"),
        OsStr::new("--quick"),
        OsStr::new("--json"),
        OsStr::new("--runs"),
        OsStr::new("2"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let rows = v["rows"].as_array().expect("rows");
    for unit in [4096u64, 16384, 65536] {
        let at: Vec<_> = rows.iter().filter(|r| r["unit_size"] == unit).collect();
        let names: Vec<&str> = at.iter().map(|r| r["codec"].as_str().unwrap()).collect();
        for want in [
            "ours iaa::Pool fast (batch)",
            "ours iaa-fallback fast",
            "ours iaa-fallback better",
            "libdeflate-1",
            "zlib-1",
            "zstd-1",
        ] {
            assert!(names.contains(&want), "{want} missing at {unit}: {names:?}");
        }
        for r in &at {
            let ratio = r["ratio"].as_f64().unwrap();
            assert!(ratio > 1.2 && ratio < 20.0, "{r}");
            assert!(r["compress_mb_s"].as_f64().unwrap() > 0.0);
            assert!(r["decompress_mb_s"].as_f64().unwrap() > 0.0);
            assert_eq!(r["compress_secs"].as_array().unwrap().len(), 2);
            if r["ours"] == true {
                assert!(r["compress_vs_ref"].as_f64().unwrap() > 0.0);
                assert!(r["decompress_vs_ref"].as_f64().unwrap() > 0.0);
            }
        }
    }
    if corpus_dir().is_some() {
        assert_eq!(v["generated_corpus"], false);
        assert!(v["corpus"].as_str().unwrap().contains("dickens"));
    }
}

#[test]
fn bench_table_and_bad_corpus_dir() {
    let out = run(&[
        OsStr::new("bench"),
        OsStr::new("--quick"),
        OsStr::new("--runs"),
        OsStr::new("1"),
        OsStr::new("--unit-sizes"),
        OsStr::new("4096"),
    ]);
    assert!(out.status.success());
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.contains("| 4 KiB  | ours iaa-fallback fast"), "{t}");
    assert!(t.contains("median of 1 runs"));

    let out = run(&[
        OsStr::new("bench"),
        OsStr::new("--corpus"),
        OsStr::new("/nonexistent-dir"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading /nonexistent-dir"));
}

/// `iaa bench FILE...` and `--corpus DIR` measure any files, and the output names them.
#[test]
fn bench_any_files_and_dir() {
    let dir = scratch("bench-any");
    let text: Vec<u8> = (0..40_000u32)
        .flat_map(|i| format!("line {} of a log, status {}\n", i, i % 7).into_bytes())
        .collect();
    std::fs::write(dir.join("app.log"), &text).unwrap();
    std::fs::write(dir.join("pages.db"), noise(50_000, 3)).unwrap();
    std::fs::write(dir.join(".hidden"), b"not measured").unwrap();
    let quick = ["--quick", "--runs", "1", "--unit-sizes", "4096"];

    let log = dir.join("app.log");
    let mut args = vec![OsStr::new("bench"), log.as_os_str()];
    args.extend(quick.iter().map(OsStr::new));
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.contains("files given: 1 files"), "{t}");
    assert!(t.contains("app.log (262144)"), "{t}");
    assert!(!t.contains("pages.db"), "{t}");

    let mut args = vec![OsStr::new("bench"), OsStr::new("--corpus"), dir.as_os_str()];
    args.extend(quick.iter().map(OsStr::new));
    args.push(OsStr::new("--json"));
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let files: Vec<(String, u64)> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f[0].as_str().unwrap().to_string(), f[1].as_u64().unwrap()))
        .collect();
    assert_eq!(
        files,
        vec![
            ("app.log".to_string(), 262_144),
            ("pages.db".to_string(), 50_000)
        ]
    );
    assert_eq!(v["generated_corpus"], false);
    let _ = std::fs::remove_dir_all(&dir);
}
