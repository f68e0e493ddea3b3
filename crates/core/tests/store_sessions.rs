//! The store's sessions through its public API: which session a request joins, idle closing by
//! the writer, closing and deleting by the user, and cleanup that keeps the daily totals.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod store_support;

use std::time::{Duration, SystemTime};

use store_support::{config, outcome, start, unix_ms, unrouted, usage};
use switchboard_core::store::{
    CleanupReport, CommandReply, GroupBy, LiveEvent, RequestQuery, SessionQuery, SessionStatus,
    StoreError, WriterCommand,
};

const CLAUDE: &str = "claude-cli/2.1.197";
const AIDER: &str = "aider/0.86.2";

async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<LiveEvent>,
    want: impl Fn(&LiveEvent) -> bool,
) -> LiveEvent {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = events.recv().await.unwrap();
            if want(&event) {
                return event;
            }
        }
    })
    .await
    .expect("the event arrives")
}

#[tokio::test]
async fn store_requests_join_their_clients_session_for_that_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = start(dir.path(), config());
    let now = SystemTime::now();
    let tx = run.writer.outcomes();
    for i in 0..3 {
        let at = now + Duration::from_secs(i);
        tx.try_send(outcome(CLAUDE, "gpt-4o-mini", at, usage(100, 10)))
            .unwrap();
    }
    tx.try_send(outcome(CLAUDE, "mystery", now, usage(50, 5)))
        .unwrap();
    tx.try_send(outcome(AIDER, "gpt-4o-mini", now, usage(10, 1)))
        .unwrap();
    tx.try_send(unrouted(now)).unwrap();
    run.writer.flush().await.unwrap();

    let reader = run.store.reader().unwrap();
    let sessions = reader.sessions(&SessionQuery::default()).unwrap().items;
    let mut keys: Vec<_> = sessions
        .iter()
        .map(|s| (s.client.as_str(), s.client_model.as_str(), s.request_count))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            (AIDER, "gpt-4o-mini", 1),
            (CLAUDE, "gpt-4o-mini", 3),
            (CLAUDE, "mystery", 1)
        ]
    );
    let claude = sessions
        .iter()
        .find(|s| s.client == CLAUDE && s.client_model == "gpt-4o-mini")
        .unwrap();
    assert_eq!(claude.status, SessionStatus::Active);
    assert_eq!(claude.usage, usage(300, 30));
    assert_eq!(claude.provider, "openai");
    assert_eq!(claude.last_input_tokens, 100);
    assert_eq!(claude.context_limit, Some(128_000));
    assert_eq!(claude.unpriced_requests, 0);
    assert!(claude.cost_usd > 0.0);

    let mystery = sessions
        .iter()
        .find(|s| s.client_model == "mystery")
        .unwrap();
    // The config's context size; no price for a model nobody knows.
    assert_eq!(
        (
            mystery.context_limit,
            mystery.context_fill,
            mystery.cost_usd,
            mystery.unpriced_requests
        ),
        (Some(1000), Some(0.05), 0.0, 1)
    );

    // The unrouted request is stored, without a session.
    let all = reader.requests(&RequestQuery::default()).unwrap().items;
    assert_eq!(all.len(), 6);
    let orphan = all.iter().find(|r| r.client_model.is_none()).unwrap();
    assert_eq!(orphan.session_id, None);
    assert_eq!(orphan.client, "unknown");
    assert_eq!(orphan.usage_source, "none");
    assert_eq!(orphan.cost_usd, Some(0.0));

    // Events: three sessions opened, six requests finished, each session opened before its
    // first request is announced.
    let mut seen = Vec::new();
    while let Ok(event) = run.events.try_recv() {
        seen.push(event);
    }
    let opened = seen
        .iter()
        .filter(|e| matches!(e, LiveEvent::SessionOpened(_)))
        .count();
    let finished: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            LiveEvent::RequestFinished(row) => Some(row),
            _ => None,
        })
        .collect();
    assert_eq!((opened, finished.len()), (3, 6));
    let first_opened = seen
        .iter()
        .position(|e| matches!(e, LiveEvent::SessionOpened(s) if s.id == claude.id))
        .unwrap();
    let first_request = seen
        .iter()
        .position(|e| matches!(e, LiveEvent::RequestFinished(r) if r.session_id.as_deref() == Some(claude.id.as_str())))
        .unwrap();
    assert!(first_opened < first_request);
    run.stop().await;
}

#[tokio::test]
async fn store_the_writer_closes_idle_sessions_and_the_next_request_opens_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.sessions.idle_timeout = Duration::from_millis(300);
    let mut run = start(dir.path(), config);
    let tx = run.writer.outcomes();
    // Finished at once: started 500 ms ago, lasted 500 ms.
    let started = SystemTime::now() - Duration::from_millis(500);
    tx.try_send(outcome(CLAUDE, "gpt-4o-mini", started, usage(1, 1)))
        .unwrap();
    let opened = next_event(&mut run.events, |e| {
        matches!(e, LiveEvent::SessionOpened(_))
    })
    .await;
    let LiveEvent::SessionOpened(first) = opened else {
        unreachable!()
    };
    let closed = next_event(&mut run.events, |e| {
        matches!(e, LiveEvent::SessionClosed(_))
    })
    .await;
    let LiveEvent::SessionClosed(closed) = closed else {
        unreachable!()
    };
    assert_eq!(closed.id, first.id);
    assert_eq!(closed.status, SessionStatus::IdleClosed);
    assert!(closed.closed_at.is_some());

    tx.try_send(outcome(
        CLAUDE,
        "gpt-4o-mini",
        SystemTime::now(),
        usage(1, 1),
    ))
    .unwrap();
    run.writer.flush().await.unwrap();
    let reader = run.store.reader().unwrap();
    let sessions = reader.sessions(&SessionQuery::default()).unwrap().items;
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0].status, SessionStatus::Active);
    assert_ne!(sessions[0].id, first.id);
    assert_eq!(sessions[1].status, SessionStatus::IdleClosed);
    let idle_only = SessionQuery {
        status: Some(SessionStatus::IdleClosed),
        ..SessionQuery::default()
    };
    assert_eq!(reader.sessions(&idle_only).unwrap().items.len(), 1);
    run.stop().await;
}

#[tokio::test]
async fn store_a_request_after_the_idle_timeout_starts_a_new_session_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), config()); // idle_timeout: 30 minutes
    let tx = run.writer.outcomes();
    let now = SystemTime::now();
    let hours_ago = |h: u64| now - Duration::from_secs(h * 3600);
    tx.try_send(outcome(CLAUDE, "gpt-4o-mini", hours_ago(3), usage(1, 1)))
        .unwrap();
    tx.try_send(outcome(CLAUDE, "gpt-4o-mini", hours_ago(1), usage(1, 1)))
        .unwrap();
    run.writer.flush().await.unwrap();
    let reader = run.store.reader().unwrap();
    let sessions = reader.sessions(&SessionQuery::default()).unwrap().items;
    let statuses: Vec<_> = sessions.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        vec![SessionStatus::Active, SessionStatus::IdleClosed]
    );
    run.stop().await;
}

#[tokio::test]
async fn store_users_close_and_delete_sessions_and_the_daily_totals_stay() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = start(dir.path(), config());
    let tx = run.writer.outcomes();
    let now = SystemTime::now();
    for _ in 0..4 {
        tx.try_send(outcome(CLAUDE, "gpt-4o-mini", now, usage(10, 2)))
            .unwrap();
    }
    tx.try_send(outcome(AIDER, "mystery", now, usage(7, 7)))
        .unwrap();
    run.writer.flush().await.unwrap();
    let reader = run.store.reader().unwrap();
    let sessions = reader.sessions(&SessionQuery::default()).unwrap().items;
    let claude = sessions
        .iter()
        .find(|s| s.client == CLAUDE)
        .unwrap()
        .clone();
    let before = reader.usage(GroupBy::Model, None, None).unwrap();

    let reply = run
        .writer
        .command(WriterCommand::CloseSession(claude.id.clone()))
        .await
        .unwrap();
    let CommandReply::SessionClosed(closed) = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(closed.status, SessionStatus::ClosedByUser);
    let event = next_event(&mut run.events, |e| {
        matches!(e, LiveEvent::SessionClosed(_))
    })
    .await;
    assert!(matches!(event, LiveEvent::SessionClosed(s) if s.id == claude.id));
    // Closing again changes nothing.
    let again = run
        .writer
        .command(WriterCommand::CloseSession(claude.id.clone()))
        .await
        .unwrap();
    assert_eq!(again, CommandReply::SessionClosed(closed.clone()));

    let unknown = run
        .writer
        .command(WriterCommand::CloseSession("nope".into()))
        .await
        .unwrap_err();
    assert!(matches!(unknown, StoreError::SessionNotFound(_)));
    assert_eq!(unknown.to_string(), "unknown session `nope`");

    let deleted = run
        .writer
        .command(WriterCommand::DeleteSession(claude.id.clone()))
        .await
        .unwrap();
    assert_eq!(
        deleted,
        CommandReply::SessionDeleted {
            deleted_requests: 4
        }
    );
    assert!(reader.session(&claude.id).unwrap().is_none());
    let left = reader.requests(&RequestQuery::default()).unwrap().items;
    assert_eq!(left.len(), 1);
    assert_eq!(reader.usage(GroupBy::Model, None, None).unwrap(), before);
    let err = run
        .writer
        .command(WriterCommand::DeleteSession(claude.id.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SessionNotFound(_)));

    // A new request from the same client opens a new session.
    tx.try_send(outcome(
        CLAUDE,
        "gpt-4o-mini",
        SystemTime::now(),
        usage(1, 1),
    ))
    .unwrap();
    run.writer.flush().await.unwrap();
    let sessions = reader.sessions(&SessionQuery::default()).unwrap().items;
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s.id != claude.id));
    run.stop().await;
}

#[tokio::test]
async fn store_cleanup_deletes_old_history_and_keeps_the_daily_totals() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), config());
    let tx = run.writer.outcomes();
    let now = SystemTime::now();
    let days_ago = |d: u64| now - Duration::from_secs(d * 86_400);
    for client in [CLAUDE, AIDER] {
        for _ in 0..3 {
            tx.try_send(outcome(client, "gpt-4o-mini", days_ago(10), usage(100, 50)))
                .unwrap();
        }
    }
    tx.try_send(unrouted(days_ago(10))).unwrap();
    tx.try_send(outcome(CLAUDE, "mystery", now, usage(5, 5)))
        .unwrap();
    tx.try_send(unrouted(now)).unwrap();
    run.writer.flush().await.unwrap();
    let reader = run.store.reader().unwrap();
    let by_day = reader.usage(GroupBy::Day, None, None).unwrap();
    let by_model = reader.usage(GroupBy::Model, None, None).unwrap();
    assert_eq!(by_day.iter().map(|r| r.requests).sum::<u64>(), 9);

    let close = WriterCommand::Cleanup {
        close_idle: true,
        delete_closed_older_than_days: None,
    };
    let report = run.writer.command(close).await.unwrap();
    assert_eq!(
        report,
        CommandReply::Cleanup(CleanupReport {
            closed_sessions: 2,
            deleted_sessions: 0,
            deleted_requests: 0
        })
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    // "Older than 0 days": every session closed before now, and every request without one.
    let delete = |days| WriterCommand::Cleanup {
        close_idle: false,
        delete_closed_older_than_days: Some(days),
    };
    let report = run.writer.command(delete(0)).await.unwrap();
    assert_eq!(
        report,
        CommandReply::Cleanup(CleanupReport {
            closed_sessions: 0,
            deleted_sessions: 2,
            deleted_requests: 8
        })
    );
    let left = reader.requests(&RequestQuery::default()).unwrap().items;
    assert_eq!(left.len(), 1, "the active session's request stays");
    let sessions = reader.sessions(&SessionQuery::default()).unwrap().items;
    assert_eq!(sessions.len(), 1, "the active session stays");
    assert_eq!(reader.usage(GroupBy::Day, None, None).unwrap(), by_day);
    assert_eq!(reader.usage(GroupBy::Model, None, None).unwrap(), by_model);
    let report = run.writer.command(delete(0)).await.unwrap();
    assert_eq!(report, CommandReply::Cleanup(CleanupReport::default()));
    let since = Some(unix_ms(days_ago(11)));
    let until = Some(unix_ms(days_ago(9)));
    // The rows are gone, so partial days at the edges of a range have nothing left to add.
    let edge = reader.usage(GroupBy::Day, since, until).unwrap();
    // The day ten days ago lies wholly inside the range: the rollup still has all of it.
    assert_eq!(edge.iter().map(|r| r.requests).sum::<u64>(), 7);
    assert_eq!(
        reader.usage(GroupBy::Session, since, until).unwrap(),
        vec![]
    );
    run.stop().await;
}

#[tokio::test]
async fn store_a_client_provided_session_id_groups_requests_and_reopens_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), config());
    let tx = run.writer.outcomes();
    let now = SystemTime::now();
    let hinted = |model: &str, at: SystemTime| {
        let mut o = outcome(CLAUDE, model, at, usage(10, 1));
        o.session_hint = Some("cc-7f3a".into());
        o
    };
    tx.try_send(hinted("gpt-4o-mini", now)).unwrap();
    tx.try_send(hinted("mystery", now)).unwrap();
    run.writer.flush().await.unwrap();
    let reply = run
        .writer
        .command(WriterCommand::CloseSession("cc-7f3a".into()))
        .await
        .unwrap();
    assert!(matches!(reply, CommandReply::SessionClosed(s) if s.request_count == 2));
    // Hours later, the client resumes the same conversation.
    tx.try_send(hinted("gpt-4o-mini", now + Duration::from_secs(7200)))
        .unwrap();
    run.writer.flush().await.unwrap();
    let reader = run.store.reader().unwrap();
    let sessions = reader.sessions(&SessionQuery::default()).unwrap().items;
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!(
        (
            session.id.as_str(),
            session.status,
            session.closed_at,
            session.request_count
        ),
        ("cc-7f3a", SessionStatus::Active, None, 3)
    );
    run.stop().await;
}

#[tokio::test]
async fn store_usage_the_provider_never_reported_is_estimated_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(dir.path(), config());
    let mut o = outcome(CLAUDE, "gpt-4o-mini", SystemTime::now(), usage(0, 0));
    o.usage = None;
    o.status = switchboard_core::OutcomeStatus::ClientDisconnected;
    o.capture = Some(switchboard_core::outcome::Capture::new(
        bytes::Bytes::from_static(
            br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Write a haiku about SQLite."}]}"#,
        ),
        switchboard_core::accounting::estimate::ResponseCapture::StreamEvents(
            b"{\"choices\":[{\"delta\":{\"content\":\"Pages in a B-tree\"}}]}\n".to_vec(),
        ),
    ));
    run.writer.outcomes().try_send(o).unwrap();
    run.writer.flush().await.unwrap();
    let reader = run.store.reader().unwrap();
    let row = reader
        .requests(&RequestQuery::default())
        .unwrap()
        .items
        .remove(0);
    assert_eq!(row.usage_source, "estimated:o200k_base");
    assert!(row.usage.input_tokens > 0 && row.usage.output_tokens > 0);
    assert!(row.cost_usd.is_some_and(|c| c > 0.0));
    let session = reader
        .session(row.session_id.as_deref().unwrap())
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(session.usage, row.usage);
    assert_eq!(session.unpriced_requests, 0);
    run.stop().await;
}
