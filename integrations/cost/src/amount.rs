//! Amounts as the APIs write them, into exact decimals: JSON numbers (OpenAI, OpenCost),
//! Prometheus sample strings, and Anthropic's decimal strings in cents.

use std::str::FromStr;

use rust_decimal::Decimal;

use crate::CostError;

/// A JSON number as the decimal it was written as. serde_json reads numbers as `f64`;
/// Rust prints an `f64` as the shortest text that reads back as the same `f64`, which for
/// the amounts these APIs send (at most 17 significant digits) is the text the server
/// wrote, so `0.06` stays exactly `0.06` rather than `0.0599999999999999977…`.
pub fn from_json_number(value: f64) -> Result<Decimal, CostError> {
    if !value.is_finite() {
        return Err(CostError::Malformed(format!(
            "amount {value} is not a number"
        )));
    }
    parse_decimal(&format!("{value}"))
}

/// A decimal written as text (`"12.5"`, `"1e-3"`).
pub fn parse_decimal(text: &str) -> Result<Decimal, CostError> {
    let text = text.trim();
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| CostError::Malformed(format!("amount `{text}` is not a decimal number")))
}

/// Anthropic's cost report writes amounts "in lowest currency units (e.g. cents) as a
/// decimal string": `"123.45"` USD is $1.2345. Exact: the decimal point moves, nothing is
/// rounded.
pub fn from_cents(text: &str) -> Result<Decimal, CostError> {
    let cents = parse_decimal(text)?;
    cents
        .checked_div(Decimal::ONE_HUNDRED)
        .ok_or_else(|| CostError::Malformed(format!("amount `{text}` is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn json_numbers_keep_their_written_digits() {
        assert_eq!(from_json_number(0.06).unwrap(), dec("0.06"));
        assert_eq!(
            from_json_number(0.1).unwrap() + from_json_number(0.2).unwrap(),
            dec("0.3")
        );
        assert_eq!(from_json_number(1234.5678).unwrap(), dec("1234.5678"));
        assert_eq!(from_json_number(0.0).unwrap(), Decimal::ZERO);
        assert_eq!(from_json_number(1e-7).unwrap(), dec("0.0000001"));
        assert!(from_json_number(f64::NAN).is_err());
    }

    #[test]
    fn cents_strings_become_exact_dollars() {
        assert_eq!(from_cents("123.45").unwrap(), dec("1.2345"));
        assert_eq!(from_cents("0.005").unwrap(), dec("0.00005"));
        assert_eq!(from_cents("100").unwrap(), dec("1"));
        assert_eq!(from_cents(" 7 ").unwrap(), dec("0.07"));
        // Summing many tiny cent amounts loses nothing.
        let total: Decimal = (0..1000).map(|_| from_cents("0.001").unwrap()).sum();
        assert_eq!(total, dec("0.01"));
        assert!(matches!(from_cents("12,50"), Err(CostError::Malformed(_))));
        assert!(from_cents("").is_err());
    }

    #[test]
    fn prometheus_sample_strings_parse() {
        assert_eq!(parse_decimal("8.25").unwrap(), dec("8.25"));
        assert_eq!(parse_decimal("1e2").unwrap(), dec("100"));
        assert!(parse_decimal("NaN").is_err());
    }
}
