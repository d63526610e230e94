//! `iaa compress --hw-mode dynamic|trained` on the device model: every unit on the device, a
//! smaller container than `--hw-mode fixed`, and it decompresses to the input.

mod common;

/// 192 KiB of the corpus' first file, or generated log-like text without the corpus.
fn text() -> Vec<u8> {
    match common::corpus(192 << 10) {
        Some(files) => files[0].1.clone(),
        None => b"granule 42 key=value compact level0 sst\n".repeat(5000),
    }
}

#[test]
fn dynamic_mode_writes_a_smaller_container_that_reads_back() {
    let dir = common::scratch("hw-mode");
    let input = dir.join("in");
    let data = text();
    std::fs::write(&input, &data).unwrap();
    let mut sizes = Vec::new();
    for mode in ["fixed", "dynamic", "trained"] {
        let out = dir.join(format!("out.{mode}"));
        let o = common::iaa()
            .args([
                "compress",
                "-v",
                "--no-hybrid",
                "--completion-timeout-ms",
                "60000",
            ])
            .args(["--unit-size", "16384", "--hw-mode", mode])
            .arg(&input)
            .arg(&out)
            .env("IAA_DEVICE", "model")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{mode}: {err}");
        assert!(err.contains("in software: 0 compress"), "{mode}: {err}");
        if mode == "dynamic" {
            assert!(err.contains("dynamic Huffman codes"), "{err}");
        }
        sizes.push(std::fs::metadata(&out).unwrap().len());
        let back = dir.join(format!("back.{mode}"));
        let o = common::iaa()
            .arg("decompress")
            .arg(&out)
            .arg(&back)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        assert_eq!(
            std::fs::read(&back).unwrap(),
            std::fs::read(&input).unwrap()
        );
    }
    eprintln!(
        "fixed {} B, dynamic {} B, trained {} B",
        sizes[0], sizes[1], sizes[2]
    );
    assert!(sizes[2] < sizes[0], "{sizes:?}");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(sizes[1] < sizes[0], "{sizes:?}");
}

#[test]
fn trained_mode_from_stdin_learns_from_the_first_units() {
    use std::io::Write;
    let dir = common::scratch("hw-mode-stdin");
    let out = dir.join("out");
    let text = text();
    // More than the 256 KiB the pool learns from, of one kind.
    let data: Vec<u8> = text.iter().copied().cycle().take(512 << 10).collect();
    let mut child = common::iaa()
        .args([
            "compress",
            "-v",
            "--no-hybrid",
            "--completion-timeout-ms",
            "60000",
        ])
        .args(["--hw-mode", "trained", "-"])
        .arg(&out)
        .env("IAA_DEVICE", "model")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("in software: 0 compress"), "{err}");
    let back = dir.join("back");
    let o = common::iaa()
        .arg("decompress")
        .arg(&out)
        .arg(&back)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(std::fs::read(&back).unwrap(), data);
    let _ = std::fs::remove_dir_all(&dir);
}
