//! Unit tests of the proxy state machine: start, stop, error, restart, and requests queued behind
//! a transition. No display, no runtime.

use super::*;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn running(port: u16) -> Machine {
    let mut m = Machine::new();
    assert_eq!(m.on_intent(Intent::Start), Effect::Launch);
    assert_eq!(
        m.on_outcome(Outcome::Started { addr: addr(port) }),
        Effect::None
    );
    m
}

#[test]
fn starts_and_stops() {
    let mut m = Machine::new();
    assert_eq!(m.state(), &ProxyState::Stopped);
    assert_eq!(m.on_intent(Intent::Start), Effect::Launch);
    assert_eq!(m.state(), &ProxyState::Starting);
    assert_eq!(
        m.on_outcome(Outcome::Started { addr: addr(4141) }),
        Effect::None
    );
    assert_eq!(m.state(), &ProxyState::Running { addr: addr(4141) });
    assert_eq!(m.on_intent(Intent::Stop), Effect::Shutdown);
    assert_eq!(m.state(), &ProxyState::Stopping);
    assert_eq!(m.on_outcome(Outcome::Stopped), Effect::None);
    assert_eq!(m.state(), &ProxyState::Stopped);
}

#[test]
fn repeated_requests_are_no_ops() {
    let mut m = Machine::new();
    assert_eq!(m.on_intent(Intent::Stop), Effect::None);
    assert_eq!(m.state(), &ProxyState::Stopped);
    let mut m = running(4141);
    assert_eq!(m.on_intent(Intent::Start), Effect::None);
    assert_eq!(m.state(), &ProxyState::Running { addr: addr(4141) });
    assert_eq!(m.on_intent(Intent::Stop), Effect::Shutdown);
    assert_eq!(m.on_intent(Intent::Stop), Effect::None);
    assert_eq!(m.on_outcome(Outcome::Stopped), Effect::None);
    assert_eq!(m.state(), &ProxyState::Stopped);
}

#[test]
fn a_failed_start_is_an_error_and_start_retries() {
    let mut m = Machine::new();
    m.on_intent(Intent::Start);
    let reason = "cannot listen on 127.0.0.1:4141: the port is already in use".to_owned();
    assert_eq!(
        m.on_outcome(Outcome::StartFailed {
            reason: reason.clone()
        }),
        Effect::None
    );
    assert_eq!(m.state(), &ProxyState::Error { reason });
    assert_eq!(m.state().icon(), TrayIconKind::Error);
    assert!(m.state().can_start() && !m.state().can_stop());
    assert_eq!(m.on_intent(Intent::Start), Effect::Launch);
    assert_eq!(m.state(), &ProxyState::Starting);
}

#[test]
fn stop_clears_an_error() {
    let mut m = Machine::new();
    m.on_intent(Intent::Start);
    m.on_outcome(Outcome::StartFailed {
        reason: "bad config".into(),
    });
    assert_eq!(m.on_intent(Intent::Stop), Effect::None);
    assert_eq!(m.state(), &ProxyState::Stopped);
}

#[test]
fn a_crash_is_an_error() {
    let mut m = running(4141);
    assert_eq!(
        m.on_outcome(Outcome::Crashed {
            reason: "accept failed".into()
        }),
        Effect::None
    );
    assert_eq!(
        m.state(),
        &ProxyState::Error {
            reason: "accept failed".into()
        }
    );
    // An unexpected clean end is an error too: nobody asked for it.
    let mut m = running(4141);
    m.on_outcome(Outcome::Stopped);
    assert!(matches!(m.state(), ProxyState::Error { .. }));
}

#[test]
fn restart_stops_then_starts() {
    let mut m = running(4141);
    assert_eq!(m.on_intent(Intent::Restart), Effect::Shutdown);
    assert_eq!(m.state(), &ProxyState::Stopping);
    assert_eq!(m.on_outcome(Outcome::Stopped), Effect::Launch);
    assert_eq!(m.state(), &ProxyState::Starting);
    assert_eq!(
        m.on_outcome(Outcome::Started { addr: addr(5000) }),
        Effect::None
    );
    assert_eq!(m.state(), &ProxyState::Running { addr: addr(5000) });
}

#[test]
fn restart_from_stopped_or_error_just_starts() {
    let mut m = Machine::new();
    assert_eq!(m.on_intent(Intent::Restart), Effect::Launch);
    let mut m = Machine::new();
    m.on_intent(Intent::Start);
    m.on_outcome(Outcome::StartFailed { reason: "x".into() });
    assert_eq!(m.on_intent(Intent::Restart), Effect::Launch);
}

#[test]
fn stop_during_start_up_is_applied_once_started() {
    let mut m = Machine::new();
    m.on_intent(Intent::Start);
    assert_eq!(m.on_intent(Intent::Stop), Effect::None);
    assert_eq!(m.state(), &ProxyState::Starting);
    assert_eq!(
        m.on_outcome(Outcome::Started { addr: addr(4141) }),
        Effect::Shutdown
    );
    assert_eq!(m.state(), &ProxyState::Stopping);
    assert_eq!(m.on_outcome(Outcome::Stopped), Effect::None);
    assert_eq!(m.state(), &ProxyState::Stopped);
}

#[test]
fn start_after_stop_during_start_up_cancels_the_stop() {
    let mut m = Machine::new();
    m.on_intent(Intent::Start);
    m.on_intent(Intent::Stop);
    m.on_intent(Intent::Start);
    assert_eq!(
        m.on_outcome(Outcome::Started { addr: addr(4141) }),
        Effect::None
    );
    assert_eq!(m.state(), &ProxyState::Running { addr: addr(4141) });
}

#[test]
fn restart_during_start_up_restarts_once_started() {
    let mut m = Machine::new();
    m.on_intent(Intent::Start);
    m.on_intent(Intent::Restart);
    assert_eq!(
        m.on_outcome(Outcome::Started { addr: addr(4141) }),
        Effect::Shutdown
    );
    assert_eq!(m.on_outcome(Outcome::Stopped), Effect::Launch);
    assert_eq!(m.state(), &ProxyState::Starting);
}

#[test]
fn start_during_stop_waits_for_the_port_to_be_free() {
    let mut m = running(4141);
    m.on_intent(Intent::Stop);
    assert_eq!(m.on_intent(Intent::Start), Effect::None);
    assert_eq!(m.state(), &ProxyState::Stopping);
    assert_eq!(m.on_outcome(Outcome::Stopped), Effect::Launch);
    assert_eq!(m.state(), &ProxyState::Starting);
    // ...and a Stop after that Start cancels it again.
    let mut m = running(4141);
    m.on_intent(Intent::Stop);
    m.on_intent(Intent::Start);
    m.on_intent(Intent::Stop);
    assert_eq!(m.on_outcome(Outcome::Stopped), Effect::None);
    assert_eq!(m.state(), &ProxyState::Stopped);
}

#[test]
fn a_failed_start_drops_a_queued_restart() {
    let mut m = Machine::new();
    m.on_intent(Intent::Start);
    m.on_intent(Intent::Restart);
    m.on_outcome(Outcome::StartFailed { reason: "x".into() });
    assert!(matches!(m.state(), ProxyState::Error { .. }));
    // Nothing is pending: a late Stopped report changes nothing.
    assert_eq!(m.on_outcome(Outcome::Stopped), Effect::None);
    assert!(matches!(m.state(), ProxyState::Error { .. }));
}

#[test]
fn a_crash_while_stopping_counts_as_stopped() {
    let mut m = running(4141);
    m.on_intent(Intent::Restart);
    assert_eq!(
        m.on_outcome(Outcome::Crashed { reason: "x".into() }),
        Effect::Launch
    );
}

#[test]
fn stale_reports_change_nothing() {
    let mut m = Machine::new();
    assert_eq!(
        m.on_outcome(Outcome::Started { addr: addr(1) }),
        Effect::None
    );
    assert_eq!(m.on_outcome(Outcome::Stopped), Effect::None);
    assert_eq!(m.state(), &ProxyState::Stopped);
    let mut m = running(4141);
    assert_eq!(
        m.on_outcome(Outcome::StartFailed { reason: "x".into() }),
        Effect::None
    );
    assert_eq!(m.state(), &ProxyState::Running { addr: addr(4141) });
}

#[test]
fn a_port_picked_by_the_os_is_kept_across_restarts() {
    let any = addr(0);
    let mut m = Machine::new();
    assert_eq!(sticky_listen(any, m.last_addr()), any);
    m.on_intent(Intent::Start);
    m.on_outcome(Outcome::Started { addr: addr(38123) });
    m.on_intent(Intent::Stop);
    m.on_outcome(Outcome::Stopped);
    assert_eq!(sticky_listen(any, m.last_addr()), addr(38123));
    // An explicit port always wins, and so does another interface.
    assert_eq!(sticky_listen(addr(4141), m.last_addr()), addr(4141));
    let other = SocketAddr::from(([127, 0, 0, 2], 0));
    assert_eq!(sticky_listen(other, m.last_addr()), other);
}

#[test]
fn tray_rendering_follows_the_state() {
    let stopped = ProxyState::Stopped;
    assert_eq!(stopped.status_line(), "Stopped");
    assert_eq!(stopped.icon(), TrayIconKind::Stopped);
    assert!(stopped.can_start() && !stopped.can_stop());

    let running = ProxyState::Running { addr: addr(4141) };
    assert_eq!(running.status_line(), "Running on 127.0.0.1:4141");
    assert_eq!(running.tooltip(), "Switchboard — Running on 127.0.0.1:4141");
    assert_eq!(running.icon(), TrayIconKind::Running);
    assert!(!running.can_start() && running.can_stop());

    let error = ProxyState::Error {
        reason: "config `c.toml` has 1 problem:\n  server.listen (line 2): invalid".into(),
    };
    assert_eq!(error.status_line(), "Error: config `c.toml` has 1 problem:");
    assert!(ProxyState::Starting.can_stop() && ProxyState::Stopping.can_start());
    assert!(!ProxyState::Starting.is_settled() && running.is_settled());
}

#[test]
fn long_reasons_are_shortened_for_the_menu() {
    let long = "x".repeat(200);
    let line = ProxyState::Error { reason: long }.status_line();
    assert_eq!(line.chars().count(), "Error: ".len() + 80);
    assert!(line.ends_with('…'));
}

#[test]
fn state_serializes_for_the_window() {
    let json = serde_json::to_value(ProxyState::Running { addr: addr(4141) }).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"state": "running", "addr": "127.0.0.1:4141"})
    );
    let json = serde_json::to_value(ProxyState::Error { reason: "r".into() }).unwrap();
    assert_eq!(json, serde_json::json!({"state": "error", "reason": "r"}));
}
