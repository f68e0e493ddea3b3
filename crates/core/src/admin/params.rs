//! Admin API query parameters: parsing with messages that name the parameter.

use std::collections::HashMap;

/// A 400 naming the parameter at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(pub String);

pub struct Params(HashMap<String, String>);

impl Params {
    pub fn new(map: HashMap<String, String>) -> Params {
        Params(map)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// One of the listed values.
    pub fn choice<'a>(
        &self,
        name: &str,
        allowed: &[&'a str],
    ) -> Result<Option<&'a str>, ParamError> {
        let Some(value) = self.text(name) else {
            return Ok(None);
        };
        allowed
            .iter()
            .find(|a| **a == value)
            .copied()
            .map(Some)
            .ok_or_else(|| {
                let list: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
                ParamError(format!(
                    "`{name}` must be one of {}, not `{value}`",
                    list.join(", ")
                ))
            })
    }

    pub fn limit(&self, default: u32, max: u32) -> Result<u32, ParamError> {
        match self.text("limit") {
            None => Ok(default),
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ParamError(format!(
                    "`limit` must be a whole number from 1 to {max}, not `{raw}`"
                ))),
            },
        }
    }

    /// A time as unix milliseconds, or a UTC date / date-time (`2026-11-21`, `2026-11-21T10:30:00Z`).
    pub fn time(&self, name: &str) -> Result<Option<i64>, ParamError> {
        let Some(raw) = self.text(name) else {
            return Ok(None);
        };
        parse_time(raw).map(Some).ok_or_else(|| {
            ParamError(format!(
                "`{name}` must be unix milliseconds or a UTC date like 2026-11-21 or 2026-11-21T10:30:00Z, not `{raw}`"
            ))
        })
    }
}

fn parse_time(raw: &str) -> Option<i64> {
    if let Ok(ms) = raw.parse::<i64>() {
        return Some(ms);
    }
    let raw = raw.strip_suffix('Z').unwrap_or(raw);
    let (date, time) = raw.split_once('T').unwrap_or((raw, "00:00:00"));
    let mut d = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut t = time.splitn(3, ':');
    let hour: i64 = t.next()?.parse().ok()?;
    let minute: i64 = t.next().unwrap_or("0").parse().ok()?;
    let second: f64 = t.next().unwrap_or("0").parse().ok()?;
    if !(0..24).contains(&hour) || !(0..60).contains(&minute) || !(0.0..61.0).contains(&second) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + (second * 1000.0) as i64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn times_and_errors_name_the_parameter() {
        let p = params(&[
            ("since", "2026-11-21"),
            ("until", "2026-11-21T10:30:00Z"),
            ("bad", "yesterday"),
        ]);
        assert_eq!(p.time("since").unwrap(), Some(1_795_219_200_000));
        assert_eq!(
            p.time("until").unwrap(),
            Some(1_795_219_200_000 + (10 * 60 + 30) * 60_000)
        );
        assert_eq!(
            params(&[("since", "1700000000000")]).time("since").unwrap(),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            p.time("bad").unwrap_err().to_string(),
            "`bad` must be unix milliseconds or a UTC date like 2026-11-21 or 2026-11-21T10:30:00Z, not `yesterday`"
        );
        assert_eq!(p.time("missing").unwrap(), None);
    }

    #[test]
    fn choices_and_limits() {
        let p = params(&[("group_by", "modle"), ("limit", "0")]);
        assert_eq!(
            p.choice("group_by", &["model", "provider"])
                .unwrap_err()
                .to_string(),
            "`group_by` must be one of `model`, `provider`, not `modle`"
        );
        assert_eq!(
            p.limit(50, 500).unwrap_err().to_string(),
            "`limit` must be a whole number from 1 to 500, not `0`"
        );
        assert_eq!(params(&[]).limit(50, 500).unwrap(), 50);
    }
}
