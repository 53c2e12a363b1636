//! The service catalog: every service opsbot may touch, looked up by name or alias.
//!
//! The catalog is built once from configuration and is immutable afterwards. Lookups of
//! unknown names answer with the closest known names so a typo in chat is easy to fix.

mod cost_source;
mod health_check;
mod names;
mod service;
mod target;

pub use cost_source::{Budget, CostSource, Money};
pub use health_check::{Comparison, HealthCheck, HttpCheck, JsonExpectation, PrometheusCheck};
pub use names::{Environment, NameError, ServiceName};
pub use service::{Channels, Service};
pub use target::Target;

use std::collections::{BTreeSet, HashMap};

/// An immutable, validated set of services.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    services: Vec<Service>,
    by_name: HashMap<String, usize>,
}

/// The catalog could not be built: two services (or aliases) claim the same name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("service name or alias `{name}` is used by both `{first}` and `{second}`")]
pub struct DuplicateServiceName {
    pub name: String,
    pub first: String,
    pub second: String,
}

/// A name that matches no service, with the closest known names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct UnknownService {
    pub name: String,
    pub suggestions: Vec<String>,
    pub known: Vec<String>,
}

impl UnknownService {
    fn describe(&self) -> String {
        if self.suggestions.is_empty() {
            format!(
                "unknown service `{}`; known services: {}",
                self.name,
                self.known.join(", ")
            )
        } else {
            format!(
                "unknown service `{}`; did you mean {}?",
                self.name,
                self.suggestions
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        }
    }
}

impl Catalog {
    /// Builds the catalog, refusing duplicate names and aliases.
    pub fn new(services: Vec<Service>) -> Result<Self, DuplicateServiceName> {
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (index, service) in services.iter().enumerate() {
            let names = std::iter::once(&service.name).chain(service.aliases.iter());
            for name in names {
                if let Some(&other) = by_name.get(name.as_str()) {
                    return Err(DuplicateServiceName {
                        name: name.to_string(),
                        first: services[other].name.to_string(),
                        second: service.name.to_string(),
                    });
                }
                by_name.insert(name.to_string(), index);
            }
        }
        Ok(Self { services, by_name })
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// The service whose name or alias is `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Service> {
        let index = match self.by_name.get(name) {
            Some(index) => *index,
            None => *self.by_name.get(name.to_ascii_lowercase().as_str())?,
        };
        Some(&self.services[index])
    }

    /// Like [`Catalog::get`], but an unknown name yields the closest matches.
    pub fn resolve(&self, name: &str) -> Result<&Service, UnknownService> {
        self.get(name).ok_or_else(|| self.unknown(name))
    }

    fn unknown(&self, name: &str) -> UnknownService {
        let wanted = name.to_ascii_lowercase();
        let mut scored: Vec<(f64, &str)> = self
            .by_name
            .iter()
            .map(|(candidate, &index)| {
                let mut score = strsim::jaro_winkler(&wanted, candidate);
                if candidate.contains(&wanted) || wanted.contains(candidate.as_str()) {
                    score = score.max(0.9);
                }
                (score, self.services[index].name.as_str())
            })
            .filter(|(score, _)| *score >= 0.8)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let mut suggestions: Vec<String> = Vec::new();
        for (_, service) in scored {
            if !suggestions.iter().any(|s| s == service) {
                suggestions.push(service.to_string());
            }
            if suggestions.len() == 3 {
                break;
            }
        }
        UnknownService {
            name: name.to_string(),
            suggestions,
            known: self.services.iter().map(|s| s.name.to_string()).collect(),
        }
    }

    /// Every environment named by at least one service, sorted.
    pub fn environments(&self) -> BTreeSet<&Environment> {
        self.services.iter().map(|s| &s.environment).collect()
    }

    /// The services of one environment, in catalog order.
    pub fn in_environment<'a>(
        &'a self,
        environment: &'a Environment,
    ) -> impl Iterator<Item = &'a Service> + 'a {
        self.services
            .iter()
            .filter(move |s| &s.environment == environment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, aliases: &[&str]) -> Service {
        Service::new(name.parse().unwrap(), "prod".parse().unwrap())
            .with_aliases(aliases.iter().map(|a| a.parse().unwrap()).collect())
    }

    #[test]
    fn resolves_names_and_aliases_case_insensitively() {
        let catalog = Catalog::new(vec![
            service("wrkhrs-gateway", &["gateway"]),
            service("ollama", &[]),
        ])
        .unwrap();
        assert_eq!(
            catalog.resolve("gateway").unwrap().name.as_str(),
            "wrkhrs-gateway"
        );
        assert_eq!(catalog.resolve("OLLAMA").unwrap().name.as_str(), "ollama");
    }

    #[test]
    fn unknown_names_list_close_matches() {
        let catalog = Catalog::new(vec![
            service("wrkhrs-gateway", &[]),
            service("wrkhrs-rag", &[]),
            service("ollama", &[]),
        ])
        .unwrap();
        let err = catalog.resolve("wrkhrs-gatway").unwrap_err();
        assert_eq!(
            err.suggestions.first().map(String::as_str),
            Some("wrkhrs-gateway")
        );
        assert!(err.to_string().contains("did you mean `wrkhrs-gateway`"));
        let err = catalog.resolve("zzz").unwrap_err();
        assert!(err.suggestions.is_empty());
        assert!(
            err.to_string()
                .contains("known services: wrkhrs-gateway, wrkhrs-rag, ollama")
        );
    }

    #[test]
    fn duplicate_names_and_aliases_are_refused() {
        let err = Catalog::new(vec![service("a", &["x"]), service("b", &["x"])]).unwrap_err();
        assert_eq!(err.name, "x");
        assert_eq!((err.first.as_str(), err.second.as_str()), ("a", "b"));
    }
}
