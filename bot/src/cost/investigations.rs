//! The investigations' spend as a cost source of each service: what the model's tokens
//! cost (at the `[investigator]` prices, when the endpoint reported usage), summed per
//! UTC day of the investigations of the service's incidents.

use std::collections::BTreeMap;

use opsbot_commands::{
    Service,
    catalog::Money,
    context::{SourceSpend, SpendQuery, SpendRow},
};

use crate::store::Store;

/// The source's name in `cost` replies.
pub const SOURCE: &str = "investigations";

/// The service's investigations' spend per day in the query's period.
pub async fn spend(store: &Store, service: &Service, query: &SpendQuery) -> SourceSpend {
    let utc = jiff::tz::TimeZone::UTC;
    let bounds = query
        .from
        .to_zoned(utc.clone())
        .and_then(|from| Ok((from, query.to.to_zoned(utc.clone())?)));
    let result = match bounds {
        Ok((from, to)) => crate::investigator::repo::spend(
            store,
            Some(service.name.as_str()),
            from.timestamp().as_microsecond(),
            to.timestamp().as_microsecond(),
        )
        .await
        .map_err(|error| format!("the store is unavailable ({error})"))
        .map(|rows| {
            let mut days: BTreeMap<jiff::civil::Date, Money> = BTreeMap::new();
            for (at_us, cost) in rows {
                if let Ok(at) = jiff::Timestamp::from_microsecond(at_us) {
                    *days.entry(at.to_zoned(utc.clone()).date()).or_default() += cost;
                }
            }
            days.into_iter()
                .map(|(day, amount)| SpendRow {
                    day,
                    amount,
                    item: Some("model tokens".to_string()),
                })
                .collect()
        }),
        Err(error) => Err(format!("bad period: {error}")),
    };
    SourceSpend {
        source: SOURCE.to_string(),
        result,
    }
}
