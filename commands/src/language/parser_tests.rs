//! Parsing every kind of argument, and every way to get it wrong.

use std::time::Duration;

use crate::{
    Catalog, Environment, Registry, Service, ServiceName,
    language::{ParseError, Value, parse},
};

fn catalog() -> Catalog {
    let prod: Environment = "prod".parse().unwrap();
    Catalog::new(vec![
        Service::new("wrkhrs-gateway".parse().unwrap(), prod.clone())
            .with_aliases(vec!["gateway".parse().unwrap()]),
        Service::new("wrkhrs-rag".parse().unwrap(), prod.clone()),
        Service::new("ollama".parse().unwrap(), prod),
    ])
    .unwrap()
}

#[test]
fn commands_with_services_args_and_flags() {
    let (registry, catalog) = (Registry::new(crate::builtin::COMMANDS), catalog());
    let call = parse("restart gateway", &registry, &catalog, None).unwrap();
    assert_eq!(call.name(), "restart");
    assert_eq!(call.service.unwrap().name.as_str(), "wrkhrs-gateway");
    assert_eq!(call.canonical_text(), "restart wrkhrs-gateway");

    let call = parse("/scale wrkhrs-rag 3", &registry, &catalog, None).unwrap();
    assert_eq!(call.integer("replicas"), Some(3));

    let call = parse("rollback ollama --to=4", &registry, &catalog, None).unwrap();
    assert_eq!(call.flag("to"), Some(&Value::Integer(4)));
    assert_eq!(call.canonical_text(), "rollback ollama --to 4");

    let call = parse(
        "audit --since 24h --limit 5 --decision DENIED",
        &registry,
        &catalog,
        None,
    )
    .unwrap();
    assert_eq!(call.duration("since"), Some(Duration::from_secs(86400)));
    assert_eq!(call.integer("limit"), Some(5));
    assert_eq!(call.text("decision"), Some("denied"));

    let call = parse("HELP restart", &registry, &catalog, None).unwrap();
    assert_eq!(call.text("command"), Some("restart"));
}

#[test]
fn thread_service_fills_a_missing_service() {
    let (registry, catalog) = (Registry::new(crate::builtin::COMMANDS), catalog());
    let thread: ServiceName = "ollama".parse().unwrap();
    let call = parse("restart", &registry, &catalog, Some(&thread)).unwrap();
    assert_eq!(call.service.unwrap().name.as_str(), "ollama");
    let call = parse("scale 2", &registry, &catalog, Some(&thread)).unwrap();
    assert_eq!(call.service.unwrap().name.as_str(), "ollama");
    assert_eq!(call.integer("replicas"), Some(2));
    // Naming a service explicitly wins over the thread's.
    let call = parse("scale wrkhrs-rag 2", &registry, &catalog, Some(&thread)).unwrap();
    assert_eq!(call.service.unwrap().name.as_str(), "wrkhrs-rag");
}

fn error(text: &str) -> String {
    parse(
        text,
        &Registry::new(crate::builtin::COMMANDS),
        &catalog(),
        None,
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn mistakes_get_usage_and_suggestions() {
    assert!(matches!(
        parse(
            "   ",
            &Registry::new(crate::builtin::COMMANDS),
            &catalog(),
            None
        ),
        Err(ParseError::Empty)
    ));
    assert_eq!(
        error("restrat gateway"),
        "unknown command `restrat`; did you mean `restart`?"
    );
    assert!(error("frobnicate").contains("say `help`"));
    let e = error("restart");
    assert!(
        e.contains("which service?") && e.contains("usage: `restart SERVICE`"),
        "{e}"
    );
    let e = error("restart wrkhrs-gatewy");
    assert!(e.contains("did you mean `wrkhrs-gateway`"), "{e}");
    let e = error("restart nothing-like-it");
    assert!(
        e.contains("known services: wrkhrs-gateway, wrkhrs-rag, ollama"),
        "{e}"
    );
    let e = error("scale ollama many");
    assert!(
        e.contains("replicas must be a whole number from 0 to 1000, not `many`"),
        "{e}"
    );
    assert!(e.contains("usage: `scale SERVICE REPLICAS`"), "{e}");
    let e = error("scale ollama");
    assert!(e.contains("missing REPLICAS"), "{e}");
    let e = error("restart ollama now");
    assert!(e.contains("unexpected `now`"), "{e}");
    let e = error("audit --everything");
    assert!(
        e.contains("unknown option `--everything`; options: --actor"),
        "{e}"
    );
    let e = error("audit --limit");
    assert!(e.contains("`--limit` needs a value"), "{e}");
    let e = error("audit --limit 5 --limit 6");
    assert!(e.contains("given twice"), "{e}");
    let e = error("audit --since soon");
    assert!(e.contains("since: `soon` is not a duration"), "{e}");
    let e = error("audit --decision maybe");
    assert!(e.contains("decision must be one of allowed, denied"), "{e}");
    let e = error("whoami --verbose");
    assert!(e.contains("`whoami` takes no options"), "{e}");
    let e = error("restart \"ollama");
    assert!(
        e.contains("unterminated \" quote") && e.contains("usage: `restart SERVICE`"),
        "{e}"
    );
    let e = error("\"unterminated");
    assert!(e.contains("unterminated"), "{e}");
}

#[test]
fn every_spec_has_a_usage_that_parses_its_examples() {
    let registry = Registry::new(crate::builtin::COMMANDS);
    let catalog = Catalog::new(vec![
        Service::new("ai-orchestration".parse().unwrap(), "prod".parse().unwrap()),
        Service::new("wrkhrs-gateway".parse().unwrap(), "prod".parse().unwrap()),
        Service::new("ollama".parse().unwrap(), "prod".parse().unwrap()),
    ])
    .unwrap();
    for command in registry.commands() {
        assert!(command.usage().starts_with(command.name));
        for example in command.examples {
            parse(example, &registry, &catalog, None)
                .unwrap_or_else(|e| panic!("example `{example}` of {} fails: {e}", command.name));
        }
    }
}
