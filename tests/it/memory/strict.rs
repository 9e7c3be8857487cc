//! `memory import` is strict: unknown fields, path-like ids, NUL, oversized lines and dates out of
//! range are each reported with their line number; the good lines are imported; exit 1.

use super::*;

#[test]
fn hostile_import_lines_are_named_and_skipped_and_the_rest_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), "");
    let file = tmp.path().join("hostile.jsonl");
    let docs = corpus();
    let good = |i: usize| serde_json::to_value(&docs[i]).unwrap();
    let with = |i: usize, k: &str, v: serde_json::Value| {
        let mut d = good(i);
        d[k] = v;
        d.to_string()
    };
    let lines = [
        good(0).to_string(),
        with(1, "severity", "high".into()),
        with(2, "id", "../../../etc/cron.d/x".into()),
        with(3, "id", "a\u{0}b".into()),
        with(4, "summary", "s".repeat(100_000).into()),
        with(5, "date", "2999-01-01T00:00:00Z".into()),
        format!("{{\"pad\": \"{}\"}}", "x".repeat(1_000_000)),
        good(6).to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap(), "memory", "import"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let f = file.display();
    for expected in [
        format!("{f}:2: skipped: not a valid post-mortem: unknown field `severity`"),
        format!("{f}:3: skipped: `id` \"../../../etc/cron.d/x\" has '/'"),
        format!("{f}:4: skipped: `id` \"a\\0b\" has '\\0'"),
        format!("{f}:5: skipped: the line is longer than 64 KiB"),
        format!("{f}:6: skipped: `date` \"2999-01-01T00:00:00Z\" is in the future"),
        format!("{f}:7: skipped: the line is longer than 64 KiB"),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(stdout.contains("imported 2 post-mortems"), "{stdout}");
    assert!(stdout.contains("6 bad lines skipped"), "{stdout}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = EmbeddedStore::open(&tmp.path().join("state"), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(store.count().await.unwrap(), 2);
    });
}
