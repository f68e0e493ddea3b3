//! `GET /admin/api/events`: live events as Server-Sent Events, one `event:` per kind, with
//! keep-alive comments and a `lagged` event when a slow reader missed some (refetch then).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::AdminError;
use crate::server::AppState;
use crate::store::LiveEvent;

fn event_name(event: &LiveEvent) -> &'static str {
    match event {
        LiveEvent::RequestStarted(_) => "request.started",
        LiveEvent::RequestFinished(_) => "request.finished",
        LiveEvent::SessionOpened(_) => "session.opened",
        LiveEvent::SessionClosed(_) => "session.closed",
    }
}

pub(super) async fn events(State(state): State<Arc<AppState>>) -> Result<Response, AdminError> {
    let Some(accounting) = state.accounting.as_ref() else {
        return Err(AdminError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "no_data_dir",
            "no usage database",
        ));
    };
    let receiver = accounting.events.subscribe();
    Ok(Sse::new(stream(receiver, state.stopping.clone()))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// Ends when the gateway stops, so an open dashboard never holds a shutdown up.
fn stream(
    mut receiver: tokio::sync::broadcast::Receiver<LiveEvent>,
    stopping: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        yield Ok(Event::default().event("ready").data("{}"));
        loop {
            let received = tokio::select! {
                () = stopping.cancelled() => break,
                received = receiver.recv() => received,
            };
            match received {
                Ok(event) => {
                    let name = event_name(&event);
                    match Event::default().event(name).json_data(&event) {
                        Ok(sse) => yield Ok(sse),
                        Err(err) => tracing::warn!(error = %err, "cannot encode a live event"),
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    yield Ok(Event::default().event("lagged").data(format!("{{\"missed\":{missed}}}")));
                }
                Err(RecvError::Closed) => break,
            }
        }
    }
}
