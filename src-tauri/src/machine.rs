//! The proxy's lifecycle as a pure state machine: what the user asked for (start, stop, restart)
//! and what the gateway reported (started, failed, stopped, crashed) go in; the next state and the
//! one effect to perform come out. No I/O, no Tauri, no tokio: the supervisor performs the effects
//! and the tray and window only render [`ProxyState`].
//!
//! Requests that arrive while a transition is under way are remembered (one at a time, the latest
//! wins) and applied when it ends, so a Stop clicked during start-up is never lost and a Start
//! clicked while the old gateway is still draining its streams waits for the port to be free.

use std::net::SocketAddr;

use serde::Serialize;

/// What the proxy is doing, as shown in the tray and the window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum ProxyState {
    #[default]
    Stopped,
    Starting,
    Running {
        addr: SocketAddr,
    },
    /// Not accepting connections any more; requests in flight are being drained.
    Stopping,
    /// Could not start, or stopped unexpectedly. `reason` is the user-facing message.
    Error {
        reason: String,
    },
}

impl ProxyState {
    /// A settled state is one no effect is pending for.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            ProxyState::Stopped | ProxyState::Running { .. } | ProxyState::Error { .. }
        )
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        match self {
            ProxyState::Running { addr } => Some(*addr),
            _ => None,
        }
    }

    /// The tray's status line: `Running on 127.0.0.1:4141`, `Stopped`, `Error: …`.
    pub fn status_line(&self) -> String {
        match self {
            ProxyState::Stopped => "Stopped".to_owned(),
            ProxyState::Starting => "Starting…".to_owned(),
            ProxyState::Running { addr } => format!("Running on {addr}"),
            ProxyState::Stopping => "Stopping…".to_owned(),
            ProxyState::Error { reason } => format!("Error: {}", first_line(reason, 80)),
        }
    }

    /// Which of the three tray icons shows this state.
    pub fn icon(&self) -> TrayIconKind {
        match self {
            ProxyState::Running { .. } => TrayIconKind::Running,
            ProxyState::Error { .. } => TrayIconKind::Error,
            ProxyState::Stopped | ProxyState::Starting | ProxyState::Stopping => {
                TrayIconKind::Stopped
            }
        }
    }

    /// The tray icon's tooltip.
    pub fn tooltip(&self) -> String {
        format!("Switchboard — {}", self.status_line())
    }

    /// Whether "Start proxy" makes sense now (also offered during a stop: it is queued).
    pub fn can_start(&self) -> bool {
        matches!(
            self,
            ProxyState::Stopped | ProxyState::Error { .. } | ProxyState::Stopping
        )
    }

    /// Whether "Stop proxy" makes sense now (also offered during start-up: it is queued).
    pub fn can_stop(&self) -> bool {
        matches!(self, ProxyState::Running { .. } | ProxyState::Starting)
    }
}

/// The address to listen on for `configured` (`server.listen`). A port the OS picked (`:0`) is
/// kept across stop and start, so clients pointed at it keep working; the supervisor falls back
/// to `configured` if that port has been taken meanwhile.
pub fn sticky_listen(configured: SocketAddr, last: Option<SocketAddr>) -> SocketAddr {
    match last {
        Some(last) if configured.port() == 0 && last.ip() == configured.ip() => last,
        _ => configured,
    }
}

/// The first line of `text`, shortened to about `max` characters for a menu or a tooltip.
pub fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let mut short: String = line.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrayIconKind {
    Running,
    Stopped,
    Error,
}

/// What someone asked for: the tray, the window, a config change, or quitting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    Start,
    Stop,
    /// Stop if running, then start again (e.g. `server.listen` changed).
    Restart,
}

/// What the gateway task reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Started {
        addr: SocketAddr,
    },
    StartFailed {
        reason: String,
    },
    /// The gateway finished its shutdown: the port is closed and the streams drained.
    Stopped,
    /// The server ended without being asked to.
    Crashed {
        reason: String,
    },
}

/// The one thing the supervisor must do after a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Load the config and start a gateway.
    Launch,
    /// Stop the running gateway (stop accepting, drain, then report `Stopped`).
    Shutdown,
}

/// The lifecycle state plus the request queued behind the transition under way.
#[derive(Debug, Default)]
pub struct Machine {
    state: ProxyState,
    /// Applied when the current transition ends; a newer request replaces an older one.
    queued: Option<Queued>,
    /// The address the last gateway listened on; see [`sticky_listen`].
    last_addr: Option<SocketAddr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queued {
    Start,
    Stop,
    /// Stop once started, then start again.
    Restart,
}

impl Machine {
    pub fn new() -> Machine {
        Machine::default()
    }

    pub fn state(&self) -> &ProxyState {
        &self.state
    }

    /// The address the last gateway listened on, for [`sticky_listen`].
    pub fn last_addr(&self) -> Option<SocketAddr> {
        self.last_addr
    }

    pub fn on_intent(&mut self, intent: Intent) -> Effect {
        use ProxyState as S;
        match (&self.state, intent) {
            (S::Stopped | S::Error { .. }, Intent::Start | Intent::Restart) => {
                self.state = S::Starting;
                Effect::Launch
            }
            // Stopping clears a previous error: the user has seen it and chosen "stopped".
            (S::Error { .. }, Intent::Stop) => {
                self.state = S::Stopped;
                Effect::None
            }
            (S::Stopped, Intent::Stop) | (S::Running { .. }, Intent::Start) => Effect::None,
            (S::Running { .. }, Intent::Stop) => {
                self.state = S::Stopping;
                self.queued = None;
                Effect::Shutdown
            }
            (S::Running { .. }, Intent::Restart) => {
                self.state = S::Stopping;
                self.queued = Some(Queued::Start);
                Effect::Shutdown
            }
            (S::Starting, Intent::Start) => {
                self.queued = None;
                Effect::None
            }
            (S::Starting, Intent::Stop) => {
                self.queued = Some(Queued::Stop);
                Effect::None
            }
            (S::Starting, Intent::Restart) => {
                self.queued = Some(Queued::Restart);
                Effect::None
            }
            (S::Stopping, Intent::Start | Intent::Restart) => {
                self.queued = Some(Queued::Start);
                Effect::None
            }
            (S::Stopping, Intent::Stop) => {
                self.queued = None;
                Effect::None
            }
        }
    }

    pub fn on_outcome(&mut self, outcome: Outcome) -> Effect {
        use ProxyState as S;
        match (&self.state, outcome) {
            (S::Starting, Outcome::Started { addr }) => {
                self.last_addr = Some(addr);
                self.state = S::Running { addr };
                match self.queued.take() {
                    Some(Queued::Stop) => {
                        self.state = S::Stopping;
                        Effect::Shutdown
                    }
                    Some(Queued::Restart) => {
                        self.state = S::Stopping;
                        self.queued = Some(Queued::Start);
                        Effect::Shutdown
                    }
                    Some(Queued::Start) | None => Effect::None,
                }
            }
            (S::Starting, Outcome::StartFailed { reason }) => {
                // A queued restart would only fail the same way; the user retries from the error.
                self.queued = None;
                self.state = S::Error { reason };
                Effect::None
            }
            (S::Stopping, Outcome::Stopped) => {
                self.state = S::Stopped;
                match self.queued.take() {
                    Some(Queued::Start | Queued::Restart) => {
                        self.state = S::Starting;
                        Effect::Launch
                    }
                    Some(Queued::Stop) | None => Effect::None,
                }
            }
            // The server died while we were stopping it: it is stopped all the same.
            (S::Stopping, Outcome::Crashed { .. }) => self.on_outcome(Outcome::Stopped),
            (S::Running { .. }, Outcome::Crashed { reason }) => {
                self.state = S::Error { reason };
                Effect::None
            }
            (S::Running { .. }, Outcome::Stopped) => {
                self.state = S::Error {
                    reason: "the gateway stopped unexpectedly".to_owned(),
                };
                Effect::None
            }
            // Reports that do not fit the current state are stale (e.g. a second Stopped) and
            // change nothing.
            (_, _) => Effect::None,
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
