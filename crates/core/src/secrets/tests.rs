//! Unit tests for secret references, env resolution and the keychain (on the in-memory store).

use std::error::Error;
use std::ffi::OsString;

use secrecy::{ExposeSecret as _, SecretString};

use super::keychain::{INDEX_USER, map_error};
use super::{
    KEYCHAIN_SERVICE, Keychain, MAX_KEY_NAME_LEN, SecretError, SecretRef, SecretRefError,
    memory_store, resolve, secret_from_env,
};

type TestResult = Result<(), Box<dyn Error>>;

/// The error of `r`, or a test failure naming what unexpectedly succeeded.
fn expect_err<T, E>(what: &str, r: Result<T, E>) -> Result<E, Box<dyn Error>> {
    match r {
        Ok(_) => Err(format!("{what}: expected an error, got Ok").into()),
        Err(e) => Ok(e),
    }
}

fn malformed_reason(input: &str) -> Result<String, Box<dyn Error>> {
    match expect_err(input, SecretRef::parse(input))? {
        SecretRefError::Malformed { reason } => Ok(reason),
        SecretRefError::Literal => Err(format!("{input:?}: got Literal, want Malformed").into()),
    }
}

#[test]
fn parses_references() -> TestResult {
    let cases = [
        ("keyring:openai", SecretRef::Keyring("openai".into())),
        (
            "keyring:My.key_1-b",
            SecretRef::Keyring("My.key_1-b".into()),
        ),
        (
            "env:OPENAI_API_KEY",
            SecretRef::Env("OPENAI_API_KEY".into()),
        ),
        ("env:_x9", SecretRef::Env("_x9".into())),
        ("${NVIDIA_API_KEY}", SecretRef::Env("NVIDIA_API_KEY".into())),
    ];
    for (input, want) in cases {
        assert_eq!(SecretRef::parse(input)?, want, "{input}");
    }
    Ok(())
}

#[test]
fn displays_references_by_name() -> TestResult {
    assert_eq!(
        SecretRef::parse("keyring:groq")?.to_string(),
        "keyring:groq"
    );
    assert_eq!(SecretRef::parse("env:GROQ")?.to_string(), "env:GROQ");
    assert_eq!(SecretRef::parse("${GROQ}")?.to_string(), "env:GROQ");
    Ok(())
}

#[test]
fn refuses_literals_without_echoing_them() -> TestResult {
    for input in [
        "sk-proj-abc123",
        "nvapi-Zx9",
        "gsk_live_secret",
        "keyringsk-1",
    ] {
        let err = expect_err(input, SecretRef::parse(input))?;
        assert!(matches!(err, SecretRefError::Literal), "{input}: {err:?}");
        assert!(!err.to_string().contains(input));
        assert!(!format!("{err:?}").contains(input));
    }
    assert_eq!(
        SecretRefError::Literal.to_string(),
        "literal keys are not allowed in the config; store the key with \
         `switchboard key set NAME` and write `keyring:NAME`, or put it in an environment \
         variable and write `env:VAR`"
    );
    Ok(())
}

#[test]
fn explains_malformed_references() -> TestResult {
    let cases = [
        (
            "keyring:",
            "`keyring:` needs a key name after the colon, e.g. `keyring:openai`",
        ),
        (
            "keyring:my key",
            "key name `my key` may only contain letters, digits, `.`, `_` and `-`",
        ),
        (
            "keyring:a/b",
            "key name `a/b` may only contain letters, digits, `.`, `_` and `-`",
        ),
        (
            "env:",
            "an environment reference needs a variable name, e.g. `env:OPENAI_API_KEY`",
        ),
        (
            "env:1ABC",
            "environment variable name `1ABC` must start with a letter or `_` and contain only \
             letters, digits and `_`",
        ),
        (
            "${A-B}",
            "environment variable name `A-B` must start with a letter or `_` and contain only \
             letters, digits and `_`",
        ),
        (
            "${}",
            "an environment reference needs a variable name, e.g. `env:OPENAI_API_KEY`",
        ),
        (
            "${OPENAI",
            "`${` starts a variable reference but the value does not end with `}`; write the \
             whole value as `${VAR}`",
        ),
        (
            "Bearer ${OPENAI}",
            "`${VAR}` must be the whole value; it cannot be combined with other text",
        ),
        (
            "",
            "the value is empty; write `keyring:NAME` (a key stored with `switchboard key set \
             NAME`) or `env:VAR`",
        ),
        (" keyring:x ", "remove the spaces around the reference"),
        ("ENV:OPENAI", "write the prefix `env:` in lower case"),
    ];
    for (input, want) in cases {
        assert_eq!(malformed_reason(input)?, want, "{input:?}");
    }
    // A key pasted where a name belongs is refused without being repeated.
    let pasted = [
        "keyring:sk-proj-AbC123",
        "env:sk-proj-AbC123",
        "${nvapi-Xyz987}",
        "env:gsk_Q1w2e3",
        "keyring:AIzaSyExample",
    ];
    let long_name = format!("keyring:{}", "a".repeat(MAX_KEY_NAME_LEN + 1));
    for input in pasted.iter().copied().chain([long_name.as_str()]) {
        let reason = malformed_reason(input)?;
        assert!(
            reason.starts_with("the name looks like a key itself"),
            "{input}: {reason}"
        );
        let secret_part = &input[input.len() - 6..];
        assert!(!reason.contains(secret_part), "{input}: {reason}");
    }
    assert!(SecretRef::parse(&format!("keyring:{}", "a".repeat(MAX_KEY_NAME_LEN))).is_ok());
    assert!(SecretRef::parse(&format!("env:{}", "A".repeat(100))).is_ok());

    let err = expect_err("mixed case", SecretRef::parse("Keyring:sk-live-123"))?;
    assert_eq!(
        err.to_string(),
        "malformed secret reference: write the prefix `keyring:` in lower case"
    );
    Ok(())
}

#[test]
fn resolves_env_references() -> TestResult {
    // Reading a variable every test process has avoids mutating the environment (unsafe and racy).
    let path = std::env::var("PATH")?;
    let secret = resolve(&SecretRef::parse("${PATH}")?)?;
    assert_eq!(secret.expose_secret(), path);

    let unset = "SWITCHBOARD_SECRETS_TEST_SURELY_UNSET_5F1C";
    let err = expect_err(unset, resolve(&SecretRef::Env(unset.into())))?;
    assert!(matches!(&err, SecretError::EnvMissing { var } if var == unset));
    assert_eq!(
        err.to_string(),
        "environment variable `SWITCHBOARD_SECRETS_TEST_SURELY_UNSET_5F1C` is not set; export it \
         before starting Switchboard, or store the key with `switchboard key set NAME` and write \
         `keyring:NAME`"
    );
    Ok(())
}

#[test]
fn refuses_empty_env_values() -> TestResult {
    for value in ["", "  \n"] {
        let err = expect_err(
            value,
            secret_from_env("EMPTY_KEY", Some(OsString::from(value))),
        )?;
        assert_eq!(
            err.to_string(),
            "environment variable `EMPTY_KEY` is empty (or only whitespace); set it to the \
             provider key"
        );
    }
    let ok = secret_from_env("KEY", Some(OsString::from("sk-1")))?;
    assert_eq!(ok.expose_secret(), "sk-1");
    Ok(())
}

#[cfg(unix)]
#[test]
fn refuses_non_utf8_env_values() -> TestResult {
    use std::os::unix::ffi::OsStringExt as _;
    let value = OsString::from_vec(vec![b's', b'k', 0xff]);
    let err = expect_err("non-UTF-8", secret_from_env("BAD_KEY", Some(value)))?;
    assert_eq!(
        err.to_string(),
        "environment variable `BAD_KEY` is not valid UTF-8; set it to the provider key"
    );
    Ok(())
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s)
}

#[test]
fn keychain_round_trip_and_index() -> TestResult {
    let store = memory_store::install();
    let name = "unit-round-trip";
    Keychain::set(name, &secret("sk-first"))?;
    Keychain::set(name, &secret("sk-second"))?;
    assert_eq!(Keychain::get(name)?.expose_secret(), "sk-second");
    assert_eq!(
        resolve(&SecretRef::Keyring(name.into()))?.expose_secret(),
        "sk-second"
    );

    let listed = Keychain::list()?;
    assert!(listed.iter().any(|n| n == name), "{listed:?}");
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "sorted: {listed:?}");
    let index = store.raw(KEYCHAIN_SERVICE, INDEX_USER).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&index).contains("sk-"),
        "index holds names only"
    );

    Keychain::delete(name)?;
    assert!(!Keychain::list()?.iter().any(|n| n == name));
    let err = expect_err("get after delete", Keychain::get(name))?;
    assert!(matches!(&err, SecretError::KeychainMissing { name: n } if n == name));
    assert_eq!(
        err.to_string(),
        "no key `unit-round-trip` in the OS keychain (service `switchboard`); store it with \
         `switchboard key set unit-round-trip`"
    );
    let err = expect_err("second delete", Keychain::delete(name))?;
    assert!(matches!(err, SecretError::KeychainMissing { .. }));
    Ok(())
}

#[test]
fn keychain_refuses_bad_names_and_empty_keys() -> TestResult {
    memory_store::install();
    let err = expect_err("bad name", Keychain::set("a b", &secret("sk-1")))?;
    assert_eq!(
        err.to_string(),
        "invalid key name: key name `a b` may only contain letters, digits, `.`, `_` and `-`"
    );
    let err = expect_err("pasted key", Keychain::set("sk-proj-Abc9", &secret("sk-1")))?;
    assert!(!err.to_string().contains("Abc9"), "{err}");
    let err = expect_err("index name", Keychain::get(INDEX_USER))?;
    assert!(matches!(err, SecretError::InvalidKeyName { .. }), "{err:?}");
    let err = expect_err("empty key", Keychain::set("unit-empty", &secret(" ")))?;
    assert_eq!(
        err.to_string(),
        "OS keychain error for key `unit-empty`: refusing to store an empty key"
    );
    assert!(!Keychain::list()?.iter().any(|n| n == "unit-empty"));
    Ok(())
}

#[test]
fn keychain_delete_drops_stale_index_names() -> TestResult {
    memory_store::install();
    // Index a name whose key was removed behind our back (e.g. with a keychain GUI).
    Keychain::set("unit-stale", &secret("sk-1"))?;
    let bypass = keyring::Entry::new(KEYCHAIN_SERVICE, "unit-stale")?;
    bypass.delete_credential()?;
    assert!(Keychain::list()?.iter().any(|n| n == "unit-stale"));

    let err = expect_err("delete stale", Keychain::delete("unit-stale"))?;
    assert!(matches!(err, SecretError::KeychainMissing { .. }));
    assert!(!Keychain::list()?.iter().any(|n| n == "unit-stale"));
    Ok(())
}

#[test]
fn keychain_never_shows_undecodable_bytes() -> TestResult {
    let store = memory_store::install();
    store.put_raw(KEYCHAIN_SERVICE, "unit-binary", b"sk-\xffhidden");
    let err = expect_err("binary", Keychain::get("unit-binary"))?;
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("hidden") && !shown.contains("255"),
        "{shown}"
    );
    assert_eq!(
        err.to_string(),
        "OS keychain error for key `unit-binary`: the stored value is not valid UTF-8; store the \
         key again with `switchboard key set unit-binary`"
    );
    Ok(())
}

#[test]
fn keychain_index_survives_concurrent_writers() -> TestResult {
    memory_store::install();
    let names: Vec<String> = (0..8).map(|i| format!("unit-concurrent-{i}")).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| scope.spawn(move || Keychain::set(name, &secret("sk-c"))))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| "writer thread panicked")?
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<()>, _>>()
    })?;
    let listed = Keychain::list()?;
    for name in &names {
        assert!(listed.contains(name), "{name} missing from {listed:?}");
        Keychain::delete(name)?;
    }
    Ok(())
}

fn boxed(msg: &str) -> Box<dyn Error + Send + Sync> {
    Box::new(std::io::Error::other(msg.to_owned()))
}

#[test]
fn maps_platform_errors() {
    let no_bus = map_error(
        "k",
        keyring::Error::PlatformFailure(boxed(
            "DBus error: Unable to autolaunch a dbus-daemon without a $DISPLAY for X11",
        )),
    );
    assert!(matches!(no_bus, SecretError::KeychainUnavailable { .. }));
    #[cfg(target_os = "linux")]
    assert_eq!(
        no_bus.to_string(),
        "the OS keychain is not reachable (no D-Bus session / Secret Service is locked): DBus \
         error: Unable to autolaunch a dbus-daemon without a $DISPLAY for X11; use `env:VAR` \
         references instead"
    );

    let locked = map_error(
        "k",
        keyring::Error::NoStorageAccess(boxed("Secret Service: object\nlocked")),
    );
    assert!(
        matches!(&locked, SecretError::KeychainUnavailable { detail } if detail == "Secret Service: object locked"),
        "{locked:?}"
    );

    let other = map_error(
        "k",
        keyring::Error::PlatformFailure(boxed("Crypto error: bad pad")),
    );
    assert_eq!(
        other.to_string(),
        "OS keychain error for key `k`: Crypto error: bad pad"
    );

    let ambiguous = map_error("k", keyring::Error::Ambiguous(Vec::new()));
    assert_eq!(
        ambiguous.to_string(),
        "OS keychain error for key `k`: 0 keychain items match service `switchboard` and name \
         `k`; delete the duplicates with your keychain manager"
    );
    assert!(matches!(
        map_error("k", keyring::Error::NoEntry),
        SecretError::KeychainMissing { .. }
    ));
}
