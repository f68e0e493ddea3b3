//! Keys entered in the app's window land in the real OS keychain: the code behind the `set_key`,
//! `list_keys` and `delete_key` commands, against a real Secret Service.
//!
//! Needs a private, unlocked gnome-keyring on a private D-Bus session: run under
//! `scripts/with-keychain.sh` (as `scripts/test.sh` does), which sets
//! `SWITCHBOARD_KEYCHAIN_TESTS=1`. Without it the tests skip and say so: they must never touch
//! the keychain of whoever runs `cargo test`.

use std::io::Write as _;
use std::process::Command;

use secrecy::{ExposeSecret as _, SecretString};
use switchboard_app::keys;
use switchboard_core::secrets::Keychain;

fn enabled() -> bool {
    if std::env::var_os("SWITCHBOARD_KEYCHAIN_TESTS").is_some_and(|v| v == "1") {
        return true;
    }
    let _ = writeln!(
        std::io::stderr(),
        "skipped: SWITCHBOARD_KEYCHAIN_TESTS=1 is not set; run `scripts/with-keychain.sh cargo \
         test -p switchboard-app --test keychain`"
    );
    false
}

#[tokio::test]
async fn a_key_saved_in_the_app_is_in_the_os_keychain() {
    if !enabled() {
        return;
    }
    let name = format!("app-it-{}", std::process::id());
    let names = keys::store(name.clone(), SecretString::from("nv-test-value-1"))
        .await
        .unwrap();
    assert!(names.contains(&name), "{names:?}");

    // The Secret Service itself has it, under service `switchboard`, as `secret-tool` sees it.
    let lookup = Command::new("secret-tool")
        .args(["lookup", "service", "switchboard", "username", &name])
        .output()
        .unwrap();
    assert!(lookup.status.success(), "{lookup:?}");
    assert_eq!(String::from_utf8_lossy(&lookup.stdout), "nv-test-value-1");
    // ...and the core (what `keyring:NAME` in the config resolves through) reads it back.
    assert_eq!(
        Keychain::get(&name).unwrap().expose_secret(),
        "nv-test-value-1"
    );
    assert!(keys::names().await.unwrap().contains(&name));

    let names = keys::remove(name.clone()).await.unwrap();
    assert!(!names.contains(&name));
    assert!(Keychain::get(&name).is_err());
}

#[tokio::test]
async fn bad_names_and_empty_keys_are_refused_with_a_code() {
    if !enabled() {
        return;
    }
    let err = keys::store("sk-abc123".into(), SecretString::from("v"))
        .await
        .unwrap_err();
    assert_eq!(err.code, "invalid_key_name");
    assert!(
        !err.message.contains("abc123"),
        "a key-shaped name is not echoed"
    );
    let err = keys::store(
        format!("app-empty-{}", std::process::id()),
        SecretString::from("  "),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "keychain");
    assert!(err.message.contains("empty"), "{}", err.message);
}
