//! `switchboard key set|delete|list`: provider keys in the OS keychain (service `switchboard`).
//!
//! Keychain calls block, which is fine here: these commands run without an async runtime.
//! Every failure is reported as one `error: …` line on stderr with exit status 1; key values are
//! never printed.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use secrecy::{ExposeSecret as _, SecretString};
use switchboard_core::secrets::{
    KEYCHAIN_SERVICE, Keychain, SecretError, SecretRefError, validate_key_name,
};

/// `switchboard key …`
#[derive(clap::Subcommand, Debug)]
pub enum KeyCommand {
    /// Store a provider key in the OS keychain (read from stdin when piped, else prompted without echo)
    Set {
        /// Key name: letters, digits, `.`, `_` and `-`; the config refers to it as `keyring:NAME`
        name: String,
    },
    /// Remove a key from the OS keychain
    Delete {
        /// Name of the stored key
        name: String,
    },
    /// List stored key names (never values)
    List,
}

/// Runs one `key` subcommand. Errors are printed here (one line on stderr) and turned into
/// exit status 1, so the caller only has to return the exit code.
pub fn run(cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    let outcome = match cmd {
        KeyCommand::Set { name } => set(&name),
        KeyCommand::Delete { name } => delete(&name),
        KeyCommand::List => list(),
    };
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            // `{:#}` keeps anyhow's context chain on one line.
            eprintln!("error: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn set(name: &str) -> anyhow::Result<()> {
    check_name(name)?;
    let secret = read_key(name)?;
    Keychain::set(name, &secret)?;
    say(&format!(
        "stored key `{name}` in the OS keychain; reference it as api_key = \"keyring:{name}\""
    ))
}

fn delete(name: &str) -> anyhow::Result<()> {
    check_name(name)?;
    match Keychain::delete(name) {
        Ok(()) => say(&format!("deleted key `{name}` from the OS keychain")),
        // The library's hint ("store it with `key set`") does not fit a delete.
        Err(SecretError::KeychainMissing { .. }) => bail!(
            "no key `{name}` in the OS keychain (service `{KEYCHAIN_SERVICE}`); \
             `switchboard key list` shows the stored names"
        ),
        Err(e) => Err(e.into()),
    }
}

fn list() -> anyhow::Result<()> {
    let names = Keychain::list()?;
    if names.is_empty() {
        // On stderr, so that scripts reading the names see an empty list.
        eprintln!(
            "no keys stored in the OS keychain (service `{KEYCHAIN_SERVICE}`); add one with \
             `switchboard key set NAME`"
        );
        return Ok(());
    }
    let mut text = names.join("\n");
    text.push('\n');
    write_stdout(&text)
}

fn check_name(name: &str) -> anyhow::Result<()> {
    match validate_key_name(name) {
        Ok(()) => Ok(()),
        Err(SecretRefError::Malformed { reason }) => bail!("{reason}"),
        Err(e @ SecretRefError::Literal) => Err(e.into()),
    }
}

/// Reads the key from stdin when it is piped, else prompts on the terminal without echo.
fn read_key(name: &str) -> anyhow::Result<SecretString> {
    let stdin = std::io::stdin();
    let (raw, source) = if stdin.is_terminal() {
        let typed = rpassword::prompt_password(format!("API key for `{name}` (input hidden): "))
            .context("could not read the key from the terminal")?;
        (SecretString::from(typed), "the prompt")
    } else {
        let mut piped = String::new();
        stdin
            .lock()
            .read_to_string(&mut piped)
            .context("could not read the key from stdin (it must be UTF-8 text)")?;
        (SecretString::from(piped), "stdin")
    };
    // Provider keys never contain whitespace; a trailing newline from `echo` or a pasted space
    // would only make the upstream reject the key later.
    let key = raw.expose_secret().trim();
    if key.is_empty() {
        bail!(
            "no key given on {source}; pipe it in (`printf '%s' \"$KEY\" | switchboard key set \
             {name}`) or run the command in a terminal to be prompted"
        );
    }
    if key.contains(['\n', '\r']) {
        bail!("the key read from {source} spans several lines; give exactly one key");
    }
    Ok(SecretString::from(key.to_owned()))
}

fn say(line: &str) -> anyhow::Result<()> {
    write_stdout(&format!("{line}\n"))
}

/// Writes to stdout without panicking on a closed pipe (`println!` would).
fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("could not write to stdout")
}
