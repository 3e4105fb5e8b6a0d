//! Unit tests of the generator: names, ranges, the facts format, and the two freshness checks.

use super::*;
use std::io::Write as _;

#[test]
fn snake_case_names() {
    assert_eq!(emit::snake("ThrottleTimeMs"), "throttle_time_ms");
    assert_eq!(emit::snake("ApiKeys"), "api_keys");
    assert_eq!(emit::snake("IsrNodes"), "isr_nodes");
    assert_eq!(emit::snake("ZkMigrationReady"), "zk_migration_ready");
    assert_eq!(emit::snake("Type"), "r#type");
}

#[test]
fn version_ranges() {
    let v = schema::Versions::parse("3+").unwrap();
    assert!(v.contains(3) && v.contains(i16::MAX) && !v.contains(2));
    assert!(schema::Versions::parse("none").unwrap().is_empty());
    assert_eq!(
        schema::Versions::parse("0-7").unwrap(),
        schema::Versions { min: 0, max: 7 }
    );
}

#[test]
fn comments_are_stripped_outside_strings() {
    let s = schema::strip_comments("{ \"a\": \"x//y\" // c\n}");
    assert_eq!(s, "{ \"a\": \"x//y\" \n}");
}

const SAMPLE: &str = "# a comment\n\
    message DemoRequest request key=7 valid=0-3 flexible=2+ deprecated=0 latest-unstable=true listeners=broker,controller\n\
    struct DemoRequest\n  field Name string 0+ nullable=1+ entity=topicName map-key\n\
    \x20 field Note string 2+ tag=0 tagged=2+ default=\"say \\\"hi\\\" \\\\ \" ignorable\n\
    \x20 field Items []Item 0+\n\
    struct Item\n  field Data bytes 0+ zero-copy flexible=none default=\"\"\n\
    common Shared 0+\n  field Id int32 0+ default=\"-1\"\n";

#[test]
fn facts_read_back_what_they_wrote() {
    let m = facts::parse(SAMPLE).unwrap();
    assert_eq!(m.api_key, Some(7));
    assert_eq!(m.listeners, ["broker", "controller"]);
    assert_eq!(m.structs.len(), 3);
    let note = &m.structs[0].fields[1];
    assert_eq!(note.default.as_deref(), Some("say \"hi\" \\ "));
    assert_eq!(note.tag, Some((0, schema::Versions::parse("2+").unwrap())));
    assert_eq!(m.structs[1].fields[0].default.as_deref(), Some(""));
    assert_eq!(
        m.structs[2].common,
        Some(schema::Versions::parse("0+").unwrap())
    );
    let again = facts::parse(&facts::write(&m, "Demo.json").unwrap()).unwrap();
    assert_eq!(again, m);
}

#[test]
fn facts_refuse_what_they_do_not_know() {
    for bad in [
        "message A request valid=0 flexible=none colour=red\nstruct A\n",
        "message A request valid=0 flexible=none\nstruct A\n  field X int32 0+ sparkly\n",
        "message A request valid=0 flexible=none\nstruct A\n  field X int32 0+ tag=1\n",
        "message A request valid=0\nstruct A\n",
        "struct A\nmessage A request valid=0 flexible=none\n",
        "message A request valid=0 flexible=none\nstruct B\n",
        "message A request valid=0 flexible=none\nstruct A\n  field X string 0+ default=\"open\n",
    ] {
        assert!(facts::parse(bad).is_err(), "accepted {bad:?}");
    }
}

/// Every committed facts file reads back and writes out to the same text.
#[test]
fn committed_facts_are_canonical() {
    let dir = default_facts();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != facts::EXTENSION) {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let m = facts::parse(&text).unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
        let source = format!("{}.json", m.name);
        assert_eq!(facts::write(&m, &source).unwrap(), text, "{}", p.display());
        n += 1;
    }
    assert!(n >= 104, "only {n} facts files in {}", dir.display());
}

/// Regenerates from the committed facts into a temporary directory and fails if the committed
/// output differs in any file. It never skips: the facts are in the repository.
#[test]
fn committed_output_is_fresh() {
    let stale = generate::differences(&default_facts(), &default_out()).unwrap();
    assert!(
        stale.is_empty(),
        "generated code is stale (run `cargo run -p weir-codegen`): {stale:?}"
    );
}

/// Checks the committed facts against the schemas. Runs only where the schema directory
/// (`../shared/kafka-protocol/schemas` or `WEIR_KAFKA_SCHEMAS`) exists; otherwise it says so on
/// stderr, past the test harness's capture, and passes.
#[test]
fn committed_facts_match_the_schemas_where_present() {
    let schemas = default_schemas();
    if !schemas.is_dir() {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** weir-codegen: NOT CHECKED: the facts against the schemas: {} is absent \
             (set {SCHEMAS_ENV} or run `cargo run -p weir-codegen -- facts --check` where it exists) ***\n",
            schemas.display()
        );
        return;
    }
    let facts = facts::from_schemas(&schemas).unwrap();
    let stale = facts::differences(&facts, &default_facts()).unwrap();
    assert!(
        stale.is_empty(),
        "facts are stale against {} (run `cargo run -p weir-codegen -- facts`): {stale:?}",
        schemas.display()
    );
}
