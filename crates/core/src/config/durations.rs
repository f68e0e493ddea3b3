//! `[timeouts]` and `[sessions]`: durations and limits, checked and with their defaults.

use std::time::Duration;

use super::raw::{RawDuration, RawSessions, RawTimeouts};
use super::resolve::Checker;
use super::{SessionsConfig, Timeouts};

pub(super) fn resolve_timeouts(checker: &mut Checker<'_>, raw: &RawTimeouts) -> Timeouts {
    let defaults = Timeouts::default();
    let mut pick = |name: &str, value: Option<f64>, default: Duration| match value {
        None => default,
        Some(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Duration::from_secs_f64(secs),
        Some(secs) => {
            checker.push(
                None,
                format!("timeouts.{name}"),
                format!("`{secs}` is not a positive number of seconds"),
            );
            default
        }
    };
    Timeouts {
        connect: pick("connect", raw.connect, defaults.connect),
        first_byte: pick("first_byte", raw.first_byte, defaults.first_byte),
        idle: pick("idle", raw.idle, defaults.idle),
        total: pick("total", raw.total, defaults.total),
        keepalive: pick("keepalive", raw.keepalive, defaults.keepalive),
    }
}

pub(super) fn resolve_sessions(checker: &mut Checker<'_>, raw: &RawSessions) -> SessionsConfig {
    let defaults = SessionsConfig::default();
    let idle_timeout = match &raw.idle_timeout {
        None => defaults.idle_timeout,
        Some(value) => match parse_duration(value.get_ref()) {
            Some(d) if !d.is_zero() => d,
            _ => {
                checker.push(
                    Some(value.span()),
                    "sessions.idle_timeout",
                    "must be a positive number of minutes, or a duration like \"30m\", \"2h\" or \"90s\"",
                );
                defaults.idle_timeout
            }
        },
    };
    let retention_days = match &raw.retention_days {
        None => defaults.retention_days,
        Some(days) => match u32::try_from(*days.get_ref()) {
            Ok(d) if d > 0 => d,
            _ => {
                checker.push(
                    Some(days.span()),
                    "sessions.retention_days",
                    "must be a whole number of days, 1 or more",
                );
                defaults.retention_days
            }
        },
    };
    SessionsConfig {
        idle_timeout,
        retention_days,
    }
}

/// Minutes as a number, or text with a unit: `90s`, `30m`, `2h`, `1d`.
fn parse_duration(raw: &RawDuration) -> Option<Duration> {
    let secs = match raw {
        RawDuration::Minutes(minutes) => minutes * 60.0,
        RawDuration::Text(text) => {
            let text = text.trim();
            let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
            let (number, unit) = text.split_at(split);
            let number: f64 = number.parse().ok()?;
            let unit_secs = match unit.trim() {
                "s" | "sec" | "secs" => 1.0,
                "m" | "min" | "mins" => 60.0,
                "h" | "hour" | "hours" => 3600.0,
                "d" | "day" | "days" => 86400.0,
                _ => return None,
            };
            number * unit_secs
        }
    };
    (0.0..1e10)
        .contains(&secs)
        .then(|| Duration::from_secs_f64(secs))
}
