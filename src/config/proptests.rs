//! Property tests: any text, and configs assembled from the schema's own keys with hostile values,
//! parse without panic; what is accepted keeps every bound; errors grow at most linearly.

use super::bounds;
use super::raw::schema;
use super::*;
use proptest::prelude::*;
use std::path::Path;

const PATH: &str = "/etc/akashic/akashic.toml";

/// Values a hostile or careless user might write for any key.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"1ns\"".to_string()),
        Just("\"0s\"".to_string()),
        Just("\"10ms\"".to_string()),
        Just("\"1s\"".to_string()),
        Just("\"10m\"".to_string()),
        Just("\"500years\"".to_string()),
        Just("\"18446744073709551615s\"".to_string()),
        Just("\"child\"".to_string()),
        Just("\"command\"".to_string()),
        Just("\"log_stale\"".to_string()),
        Just("\"artifact\"".to_string()),
        Just("\"http://127.0.0.1:1/x\"".to_string()),
        Just("[\"sh\", \"-c\", \"true\"]".to_string()),
        Just("[]".to_string()),
        Just("{ max = 0, within = \"1h\" }".to_string()),
        Just("{}".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-z0-9_/.~-]{0,300}".prop_map(|s| format!("{s:?}")),
        ".{0,40}".prop_map(|s| format!("{s:?}")),
    ]
}

/// A key of the given table, or a misspelt one.
fn key(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(keys).prop_map(str::to_string),
        1 => "[a-z_]{1,12}",
    ]
}

/// A table with working `defaults`, some of them replaced or joined by random keys and values.
fn table(
    header: &'static str,
    keys: &'static [&'static str],
    defaults: &'static [(&'static str, &'static str)],
) -> impl Strategy<Value = String> {
    proptest::collection::btree_map(key(keys), value(), 0..4).prop_map(move |m| {
        let mut all: std::collections::BTreeMap<String, String> = defaults
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.extend(m);
        let mut s = format!("{header}\n");
        for (k, v) in all {
            s.push_str(&format!("{k} = {v}\n"));
        }
        s
    })
}

/// A config built from the schema: daemon, a few services with restart and checks.
fn configish() -> impl Strategy<Value = String> {
    let service = (
        table("[[service]]", schema::SERVICE, &[("name", "\"svc\"")]),
        proptest::option::of(table(
            "[service.restart]",
            schema::RESTART,
            &[("kind", "\"command\""), ("run", "[\"true\"]")],
        )),
        proptest::collection::vec(
            table(
                "[[service.check]]",
                schema::CHECK,
                &[
                    ("kind", "\"log_stale\""),
                    ("path", "\"x.log\""),
                    ("max_age", "\"1m\""),
                ],
            ),
            0..3,
        ),
    )
        .prop_map(|(s, r, c)| format!("{s}{}{}", r.unwrap_or_default(), c.concat()));
    (
        proptest::option::of(table("[daemon]", schema::DAEMON, &[])),
        proptest::option::of(table(
            "[llm]",
            schema::LLM,
            &[
                ("base_url", "\"http://127.0.0.1:1/v1\""),
                ("model", "\"m\""),
            ],
        )),
        proptest::collection::vec(service, 0..2),
    )
        .prop_map(|(d, l, s)| {
            format!(
                "{}{}{}",
                d.unwrap_or_default(),
                l.unwrap_or_default(),
                s.concat()
            )
        })
}

fn within(d: std::time::Duration, b: &bounds::DurationBound) -> bool {
    b.min <= d && d <= b.max
}

/// Every bound holds in an accepted config.
fn keeps_bounds(c: &Config) -> Result<(), TestCaseError> {
    prop_assert!(within(c.daemon.tick, &bounds::TICK));
    prop_assert!(within(c.daemon.forensics_budget, &bounds::FORENSICS_BUDGET));
    if let Some(l) = &c.llm {
        prop_assert!(within(l.timeout, &bounds::LLM_TIMEOUT));
    }
    for s in &c.services {
        prop_assert!(!s.name.is_empty() && s.name.len() <= bounds::NAME_MAX);
        prop_assert!(within(s.grace, &bounds::GRACE));
        prop_assert!(within(s.recovery_window, &bounds::RECOVERY_WINDOW));
        prop_assert!(s.restart_budget.max >= 1);
        prop_assert!(within(s.restart_budget.within, &bounds::BUDGET_WITHIN));
        if s.restart.is_some() {
            prop_assert!(s.recovery_window > s.grace);
        }
        for ch in &s.checks {
            prop_assert!(within(ch.interval, &bounds::CHECK_INTERVAL));
            prop_assert!(ch.failures >= 1);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_parses_or_fails_without_panic(text in ".{0,500}") {
        if let Err(e) = parse(&text, Path::new(PATH)) {
            prop_assert!(e.to_string().len() <= 200 + 64 * text.len());
        }
    }

    #[test]
    fn configs_from_the_schema_parse_without_panic_and_keep_every_bound(text in configish()) {
        match parse(&text, Path::new(PATH)) {
            Ok(c) => keeps_bounds(&c)?,
            Err(e) => {
                let e = e.to_string();
                prop_assert!(e.starts_with("invalid config /etc/akashic/akashic.toml ("), "{}", e);
                prop_assert!(e.len() <= 200 + 64 * text.len());
            }
        }
    }
}

#[test]
fn the_schema_generator_reaches_accepted_configs() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = configish();
    let accepted = (0..512)
        .filter(|_| {
            let text = strategy.new_tree(&mut runner).unwrap().current();
            parse(&text, Path::new(PATH)).is_ok()
        })
        .count();
    assert!(
        accepted >= 50,
        "only {accepted} of 512 generated configs were valid: the bound property is barely exercised"
    );
}
