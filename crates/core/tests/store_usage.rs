//! The store's usage totals and lists through its public API: totals from the daily rollup plus
//! the partial days at a range's edges equal a brute-force sum over the stored rows, for every
//! grouping; paging; the writer drains its queue on shutdown; the live events' JSON shape.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod store_support;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use store_support::{at_ms, config, outcome, start, unix_ms, unrouted, usage};
use switchboard_core::store::{
    GroupBy, LiveEvent, RequestQuery, RequestRow, RequestStarted, RequestStatus, SessionQuery,
    StoreError, StoreReader, UsageRow,
};
use switchboard_core::{OutcomeStatus, RequestOutcome, Usage};

const DAY: i64 = 86_400_000;
const CLIENTS: [&str; 3] = ["claude-cli/2.1.197", "aider/0.86.2", "curl/8.5.0"];
const MODELS: [&str; 2] = ["gpt-4o-mini", "mystery"];

/// `YYYY-MM-DD` of a Unix time in ms (UTC), by Howard Hinnant's civil-from-days.
fn utc_day(ms: i64) -> String {
    let z = ms.div_euclid(DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// 400 requests over four days from `base` (a UTC midnight), every kind mixed in.
fn history(base: i64) -> Vec<RequestOutcome> {
    (0..400i64)
        .map(|i| {
            let at = at_ms(base + i * (4 * DAY / 400) + (i * 7919) % 60_000);
            if i % 11 == 0 {
                return unrouted(at);
            }
            let client = CLIENTS[(i % 3) as usize];
            let model = MODELS[(i % 2) as usize];
            let mut o = outcome(client, model, at, usage(0, 0));
            o.usage = Some(Usage {
                input_tokens: (i * 37) as u64 % 3000 + 10,
                output_tokens: (i * 13) as u64 % 500,
                cached_input_tokens: (i % 5) as u64,
                cache_write_tokens: (i % 3) as u64,
                reasoning_tokens: (i % 4) as u64,
            });
            if i % 7 == 0 {
                // The client left before the provider said anything: no usage, cost unknown.
                o.usage = None;
                o.status = OutcomeStatus::ClientDisconnected;
                o.http_status = 499;
            } else if i % 13 == 0 {
                o.status = OutcomeStatus::UpstreamError;
                o.error = Some("stream cut".into());
            }
            o
        })
        .collect()
}

fn all_requests(reader: &StoreReader) -> Vec<RequestRow> {
    let mut rows = Vec::new();
    let mut query = RequestQuery {
        limit: 37,
        ..RequestQuery::default()
    };
    loop {
        let page = reader.requests(&query).unwrap();
        rows.extend(page.items);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return rows,
        }
    }
}

fn brute_force(
    rows: &[RequestRow],
    group_by: GroupBy,
    since: Option<i64>,
    until: Option<i64>,
) -> BTreeMap<String, UsageRow> {
    let mut out: BTreeMap<String, UsageRow> = BTreeMap::new();
    for row in rows {
        if since.is_some_and(|s| row.started_at < s) || until.is_some_and(|u| row.started_at >= u) {
            continue;
        }
        let key = match group_by {
            GroupBy::Model => row.client_model.clone().unwrap_or_default(),
            GroupBy::Provider => row.provider.clone().unwrap_or_default(),
            GroupBy::Day => utc_day(row.started_at),
            GroupBy::Session => match &row.session_id {
                Some(id) => id.clone(),
                None => continue,
            },
        };
        let total = out.entry(key.clone()).or_insert_with(|| UsageRow {
            key,
            ..UsageRow::default()
        });
        total.requests += 1;
        total.errors += u64::from(row.status != RequestStatus::Ok);
        total.input_tokens += row.usage.input_tokens;
        total.output_tokens += row.usage.output_tokens;
        total.cached_input_tokens += row.usage.cached_input_tokens;
        total.cache_write_tokens += row.usage.cache_write_tokens;
        total.reasoning_tokens += row.usage.reasoning_tokens;
        match row.cost_usd {
            Some(cost) => total.cost_usd += cost,
            None => total.unpriced_requests += 1,
        }
    }
    out
}

fn assert_same(got: Vec<UsageRow>, want: BTreeMap<String, UsageRow>, what: &str) {
    let got: BTreeMap<String, UsageRow> = got.into_iter().map(|r| (r.key.clone(), r)).collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}"
    );
    for (key, want) in want {
        let got = &got[&key];
        let cost_diff = (got.cost_usd - want.cost_usd).abs();
        assert!(
            cost_diff <= 1e-12 * want.cost_usd.max(1.0),
            "{what} {key}: {got:?} vs {want:?}"
        );
        let exact = |r: &UsageRow| UsageRow {
            cost_usd: 0.0,
            ..r.clone()
        };
        assert_eq!(exact(got), exact(&want), "{what} {key}");
    }
}

#[tokio::test]
async fn store_usage_totals_are_exact_for_every_grouping_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), config());
    let now = SystemTime::now();
    let base = (unix_ms(now) / DAY - 10) * DAY;
    let tx = run.writer.outcomes();
    for o in history(base) {
        tx.send(o).await.unwrap();
    }
    for client in CLIENTS {
        tx.send(outcome(client, "gpt-4o-mini", now, usage(1, 1)))
            .await
            .unwrap();
    }
    run.writer.flush().await.unwrap();

    let reader = run.store.reader().unwrap();
    let rows = all_requests(&reader);
    assert_eq!(rows.len(), 403);
    assert_eq!(
        rows.iter().map(|r| &r.id).collect::<HashSet<_>>().len(),
        403,
        "pages neither repeat nor skip rows"
    );
    assert!(rows.windows(2).all(|w| w[0].started_at >= w[1].started_at));
    assert_eq!(reader.requests_today().unwrap(), 3);
    let sources: HashSet<_> = rows.iter().map(|r| r.usage_source.as_str()).collect();
    assert_eq!(sources, HashSet::from(["reported", "none"]));
    assert!(rows.iter().any(|r| r.cost_usd.is_none()));

    let ranges = [
        (None, None),
        (Some(base + DAY / 2), None),
        (None, Some(base + 3 * DAY + DAY / 3)),
        (Some(base + DAY / 2), Some(base + 2 * DAY + 5)),
        (Some(base + DAY + 100), Some(base + DAY + 40_000_000)),
        (Some(base + DAY), Some(base + 3 * DAY)),
        (Some(base - 5 * DAY), Some(base + 20 * DAY)),
        (Some(base + 2 * DAY), Some(base + 2 * DAY)),
    ];
    for group_by in [
        GroupBy::Model,
        GroupBy::Provider,
        GroupBy::Day,
        GroupBy::Session,
    ] {
        for (since, until) in ranges {
            let got = reader.usage(group_by, since, until).unwrap();
            let want = brute_force(&rows, group_by, since, until);
            assert_same(got, want, &format!("{group_by:?} {since:?}..{until:?}"));
        }
    }
    // Sessions hold the same totals as their requests.
    let sessions = reader
        .sessions(&SessionQuery {
            limit: 500,
            ..SessionQuery::default()
        })
        .unwrap()
        .items;
    let by_session = brute_force(&rows, GroupBy::Session, None, None);
    assert_eq!(sessions.len(), by_session.len());
    for session in &sessions {
        let want = &by_session[&session.id];
        assert_eq!(session.request_count, want.requests);
        assert_eq!(session.error_count, want.errors);
        assert_eq!(session.usage.input_tokens, want.input_tokens);
        assert_eq!(session.unpriced_requests, want.unpriced_requests);
    }
    run.stop().await;
}

#[tokio::test]
async fn store_lists_filter_and_page() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), config());
    let base = (unix_ms(SystemTime::now()) / DAY - 10) * DAY;
    let tx = run.writer.outcomes();
    for o in history(base) {
        tx.send(o).await.unwrap();
    }
    run.writer.flush().await.unwrap();
    let reader = run.store.reader().unwrap();
    let rows = all_requests(&reader);

    let only = |query: RequestQuery| {
        let page = reader
            .requests(&RequestQuery {
                limit: 500,
                ..query
            })
            .unwrap();
        assert_eq!(page.next_cursor, None);
        page.items
    };
    let mystery = only(RequestQuery {
        model: Some("mystery".into()),
        ..RequestQuery::default()
    });
    assert_eq!(
        mystery.len(),
        rows.iter()
            .filter(|r| r.client_model.as_deref() == Some("mystery"))
            .count()
    );
    let failed = only(RequestQuery {
        status: Some(RequestStatus::UpstreamError),
        ..RequestQuery::default()
    });
    assert!(!failed.is_empty());
    assert!(
        failed
            .iter()
            .all(|r| r.status == RequestStatus::UpstreamError)
    );
    let since = base + 3 * DAY;
    let recent = only(RequestQuery {
        since: Some(since),
        ..RequestQuery::default()
    });
    assert_eq!(
        recent.len(),
        rows.iter().filter(|r| r.started_at >= since).count()
    );

    let first = reader
        .sessions(&SessionQuery {
            limit: 2,
            ..SessionQuery::default()
        })
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let session_id = first.items[0].id.clone();
    let second = reader
        .sessions(&SessionQuery {
            limit: 2,
            cursor: first.next_cursor.clone(),
            ..SessionQuery::default()
        })
        .unwrap();
    assert!(second.items.iter().all(|s| !first.items.contains(s)));
    assert!(first.items[1].last_active_at >= second.items[0].last_active_at);

    let (session, requests) = reader.session(&session_id).unwrap().unwrap();
    assert_eq!(requests.len() as u64, session.request_count);
    assert!(
        requests
            .windows(2)
            .all(|w| w[0].started_at <= w[1].started_at)
    );
    let in_session = only(RequestQuery {
        session: Some(session_id.clone()),
        ..RequestQuery::default()
    });
    assert_eq!(in_session.len(), requests.len());
    assert!(reader.session("nope").unwrap().is_none());

    let bad = reader
        .requests(&RequestQuery {
            cursor: Some("garbage".into()),
            ..RequestQuery::default()
        })
        .unwrap_err();
    assert!(matches!(bad, StoreError::InvalidCursor(_)));
    assert_eq!(reader.integrity_check().unwrap(), vec!["ok"]);
    run.stop().await;
}

#[tokio::test]
async fn store_the_writer_drains_its_queue_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), config());
    let tx = run.writer.outcomes();
    let now = SystemTime::now();
    for i in 0..4000u64 {
        let at = now + Duration::from_millis(i);
        tx.try_send(outcome(
            CLIENTS[(i % 3) as usize],
            "gpt-4o-mini",
            at,
            usage(i, 1),
        ))
        .unwrap();
    }
    let store = run.stop().await;
    assert!(tx.try_send(unrouted(now)).is_err(), "the queue is closed");
    let reader = store.reader().unwrap();
    let total: u64 = reader
        .usage(GroupBy::Model, None, None)
        .unwrap()
        .iter()
        .map(|r| r.requests)
        .sum();
    assert_eq!(total, 4000);
    let input: u64 = reader
        .usage(GroupBy::Session, None, None)
        .unwrap()
        .iter()
        .map(|r| r.input_tokens)
        .sum();
    assert_eq!(input, (0..4000).sum::<u64>());
}

#[tokio::test]
async fn store_events_serialize_with_their_type() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = start(dir.path(), config());
    let started = LiveEvent::RequestStarted(Box::new(RequestStarted {
        id: "req_1".into(),
        time: 1_700_000_000_000,
        client: "claude-cli/2.1.197".into(),
        client_model: Some("gpt-4o-mini".into()),
        endpoint: "/v1/chat/completions".into(),
        stream: true,
    }));
    assert_eq!(
        serde_json::to_value(&started).unwrap(),
        serde_json::json!({
            "type": "request.started", "id": "req_1", "time": 1_700_000_000_000i64,
            "client": "claude-cli/2.1.197", "client_model": "gpt-4o-mini",
            "endpoint": "/v1/chat/completions", "stream": true
        })
    );
    let at = at_ms(1_700_000_000_000);
    run.writer
        .outcomes()
        .try_send(outcome(
            "claude-cli/2.1.197",
            "gpt-4o-mini",
            at,
            usage(12, 3),
        ))
        .unwrap();
    run.writer.flush().await.unwrap();
    let mut json = Vec::new();
    while let Ok(event) = run.events.try_recv() {
        json.push(serde_json::to_value(&event).unwrap());
    }
    assert_eq!(json.len(), 2);
    assert_eq!(json[0]["type"], "session.opened");
    assert_eq!(json[0]["status"], "active");
    assert_eq!(json[0]["request_count"], 1);
    assert_eq!(json[1]["type"], "request.finished");
    assert_eq!(json[1]["session_id"], json[0]["id"]);
    assert_eq!(json[1]["started_at"], 1_700_000_000_000i64);
    assert_eq!(json[1]["usage"]["input_tokens"], 12);
    assert_eq!(json[1]["usage_source"], "reported");
    assert_eq!(json[1]["status"], "ok");
    assert!(json[1]["cost_usd"].as_f64().unwrap() > 0.0);
    run.stop().await;
}
