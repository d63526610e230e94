//! `iaa selftest` as an administrator runs it: on the device model it passes with a verdict per
//! WQ and exit status 0; with the model's injected `bytes_completed` disagreement it exits 1
//! and the report names the field, the values and the fallback; `--json` parses; without a
//! device it exits 2 with the reason.

mod common;

#[test]
fn model_passes_and_the_json_parses() {
    let out = common::iaa()
        .args(["selftest", "--json"])
        .env("IAA_DEVICE", "model")
        .env_remove("IAA_MODEL_QUIRK")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let checks = v["checks"].as_array().unwrap();
    assert!(checks.len() > 10);
    for c in checks {
        assert!(c["wq"].is_string() && c["op"].is_string(), "{c}");
        assert!(
            ["pass", "skipped"].contains(&c["status"].as_str().unwrap()),
            "{c}"
        );
    }
    assert_eq!(v["verdicts"][0]["verdict"], "hardware path OK");
    // The table form says the same.
    let out = common::iaa()
        .arg("selftest")
        .env("IAA_DEVICE", "model")
        .env_remove("IAA_MODEL_QUIRK")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("verdict model/wq0: hardware path OK"),
        "{text}"
    );
}

#[test]
fn an_injected_disagreement_is_named_and_fails_the_run() {
    let out = common::iaa()
        .args(["selftest", "--device", "model"])
        .env("IAA_MODEL_QUIRK", "bytes_completed")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("field bytes_completed: seen"), "{text}");
    assert!(text.contains("OK with fallbacks"), "{text}");
    assert!(
        text.contains("(undecodable)") && text.contains("(verify_mismatch)"),
        "{text}"
    );
}

#[test]
fn no_device_exits_2_with_the_reason() {
    let out = common::iaa()
        .args(["selftest", "--device", "vfio:0000:ff:1f.7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("0000:ff:1f.7"));
}
