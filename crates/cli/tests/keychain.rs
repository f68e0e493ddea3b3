//! `switchboard key …` end to end: the real binary against the real Secret Service.
//!
//! These tests need a private, unlocked gnome-keyring on a private D-Bus session; run them with
//! `scripts/with-keychain.sh cargo test -p switchboard-cli --test keychain`, which sets
//! `SWITCHBOARD_KEYCHAIN_TESTS=1`. Without it they skip (and say so): they must never touch the
//! keychain of whoever runs `cargo test`. Tests run in parallel, so each uses its own key names.

use std::error::Error;
use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::sync::Once;

type TestResult = Result<(), Box<dyn Error>>;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// Whether the keychain tests should run; if not, says why once, on the real stderr (the test
/// harness captures only the print macros).
fn keychain_tests_enabled() -> bool {
    if std::env::var_os("SWITCHBOARD_KEYCHAIN_TESTS").is_some_and(|v| v == "1") {
        return true;
    }
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "skipped the keychain tests: SWITCHBOARD_KEYCHAIN_TESTS=1 is not set (they need a \
             private unlocked keyring); run `scripts/with-keychain.sh cargo test -p \
             switchboard-cli --test keychain`"
        );
    });
    false
}

/// A key name unique to this test and process.
fn key_name(test: &str) -> String {
    format!("it-{}-{test}", std::process::id())
}

/// Runs `switchboard ARGS`, feeding `stdin` (piped, so never a terminal).
fn switchboard(args: &[&str], stdin: &str) -> Result<Output, Box<dyn Error>> {
    run_with(Command::new(BIN).args(args), stdin)
}

fn run_with(cmd: &mut Command, stdin: &str) -> Result<Output, Box<dyn Error>> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        // A command that fails before reading stdin (e.g. a bad key name) closes the pipe.
        match input.write_all(stdin.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
            _ => {}
        }
    }
    Ok(child.wait_with_output()?)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks exit status and exact stdout/stderr, with everything in the failure message.
fn check(out: &Output, code: i32, stdout: &str, stderr: &str) {
    let (got_out, got_err) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        (out.status.code(), got_out.as_str(), got_err.as_str()),
        (Some(code), stdout, stderr),
        "exit status, stdout, stderr"
    );
}

fn listed(name: &str) -> Result<bool, Box<dyn Error>> {
    let out = switchboard(&["key", "list"], "")?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    Ok(text(&out.stdout).lines().any(|line| line == name))
}

/// The secret as the Secret Service itself holds it (keyring 3 stores items with attributes
/// `service`, `username` and `target`), read with libsecret's `secret-tool`.
fn secret_tool_lookup(name: &str) -> Result<Option<String>, Box<dyn Error>> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "switchboard", "username", name])
        .output()
        .map_err(|e| {
            format!(
                "cannot run `secret-tool` ({e}); install it with `apt-get install libsecret-tools`"
            )
        })?;
    Ok(out
        .status
        .success()
        .then(|| text(&out.stdout).trim_end_matches('\n').to_owned()))
}

#[test]
fn set_list_delete_round_trip_through_secret_service() -> TestResult {
    if !keychain_tests_enabled() {
        return Ok(());
    }
    let name = key_name("lifecycle");
    let value = format!("sk-test-{}-lifecycle", std::process::id());

    // A trailing newline (as from `echo`) is not part of the key.
    let out = switchboard(&["key", "set", &name], &format!("{value}\n"))?;
    check(
        &out,
        0,
        &format!(
            "stored key `{name}` in the OS keychain; reference it as api_key = \"keyring:{name}\"\n"
        ),
        "",
    );
    assert!(listed(&name)?, "`key list` should show `{name}`");
    assert_eq!(secret_tool_lookup(&name)?, Some(value.clone()));

    let out = switchboard(&["key", "delete", &name], "")?;
    check(
        &out,
        0,
        &format!("deleted key `{name}` from the OS keychain\n"),
        "",
    );
    assert!(!listed(&name)?, "`key list` should no longer show `{name}`");
    assert_eq!(secret_tool_lookup(&name)?, None);

    let out = switchboard(&["key", "delete", &name], "")?;
    check(
        &out,
        1,
        "",
        &format!(
            "error: no key `{name}` in the OS keychain (service `switchboard`); \
             `switchboard key list` shows the stored names\n"
        ),
    );
    Ok(())
}

#[test]
fn set_replaces_an_existing_key() -> TestResult {
    if !keychain_tests_enabled() {
        return Ok(());
    }
    let name = key_name("replace");
    for value in ["sk-old", "sk-new"] {
        let out = switchboard(&["key", "set", &name], value)?;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(!text(&out.stdout).contains(value) && !text(&out.stderr).contains(value));
    }
    assert_eq!(secret_tool_lookup(&name)?.as_deref(), Some("sk-new"));
    let names = text(&switchboard(&["key", "list"], "")?.stdout);
    assert_eq!(names.lines().filter(|line| *line == name).count(), 1);
    check(
        &switchboard(&["key", "delete", &name], "")?,
        0,
        &format!("deleted key `{name}` from the OS keychain\n"),
        "",
    );
    Ok(())
}

#[test]
fn set_refuses_empty_input_and_bad_names() -> TestResult {
    if !keychain_tests_enabled() {
        return Ok(());
    }
    let name = key_name("empty");
    let out = switchboard(&["key", "set", &name], " \n")?;
    check(
        &out,
        1,
        "",
        &format!(
            "error: no key given on stdin; pipe it in (`printf '%s' \"$KEY\" | switchboard key \
             set {name}`) or run the command in a terminal to be prompted\n"
        ),
    );
    assert_eq!(secret_tool_lookup(&name)?, None);
    assert!(!listed(&name)?);

    let out = switchboard(&["key", "set", "my key"], "sk-1")?;
    check(
        &out,
        1,
        "",
        "error: key name `my key` may only contain letters, digits, `.`, `_` and `-`\n",
    );
    // A key pasted where the name belongs is refused and not repeated.
    let out = switchboard(&["key", "set", "sk-proj-Pasted123"], "sk-1")?;
    check(
        &out,
        1,
        "",
        "error: the name looks like a key itself, so it is not repeated here; \
         store the key with `switchboard key set NAME` and write `keyring:NAME`, or put it in an \
         environment variable and write `env:VAR`\n",
    );
    let out = switchboard(&["key", "set", &name], "sk-1\nsk-2\n")?;
    check(
        &out,
        1,
        "",
        "error: the key read from stdin spans several lines; give exactly one key\n",
    );
    assert_eq!(secret_tool_lookup(&name)?, None);
    Ok(())
}

#[test]
fn concurrent_sets_keep_every_name_listed() -> TestResult {
    if !keychain_tests_enabled() {
        return Ok(());
    }
    // Each `key set` rewrites the shared index of names; parallel processes must not lose updates.
    let names: Vec<String> = (0..6)
        .map(|i| key_name(&format!("concurrent-{i}")))
        .collect();
    let children = names
        .iter()
        .map(|name| {
            Command::new(BIN)
                .args(["key", "set", name])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map(|mut child| {
                    // Dropping stdin closes it: the key is the bytes written so far.
                    if let Some(mut input) = child.stdin.take() {
                        let _ = input.write_all(b"sk-concurrent");
                    }
                    child
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for child in children {
        let out = child.wait_with_output()?;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let listed = text(&switchboard(&["key", "list"], "")?.stdout);
    for name in &names {
        assert!(
            listed.lines().any(|line| line == name),
            "`{name}` missing from:\n{listed}"
        );
        assert_eq!(secret_tool_lookup(name)?.as_deref(), Some("sk-concurrent"));
        let out = switchboard(&["key", "delete", name], "")?;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    Ok(())
}

#[cfg(target_os = "linux")]
#[test]
fn without_a_session_bus_the_keychain_is_reported_unreachable() -> TestResult {
    if !keychain_tests_enabled() {
        return Ok(());
    }
    // libdbus finds a session bus through DBUS_SESSION_BUS_ADDRESS, then $XDG_RUNTIME_DIR/bus,
    // then X11 autolaunch; take all three away.
    let empty_runtime_dir = tempfile::tempdir()?;
    let out = run_with(
        Command::new(BIN)
            .args(["key", "list"])
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("DISPLAY")
            .env("XDG_RUNTIME_DIR", empty_runtime_dir.path()),
        "",
    )?;
    check(
        &out,
        1,
        "",
        "error: the OS keychain is not reachable (no D-Bus session / Secret Service is locked): \
         DBus error: Unable to autolaunch a dbus-daemon without a $DISPLAY for X11; use \
         `env:VAR` references instead\n",
    );
    Ok(())
}
