//! Secret references in the config (`keyring:NAME`, `env:VAR`, `${VAR}`) and their resolution.
//!
//! The config never holds a provider key itself, only a [`SecretRef`] naming where the key lives.
//! [`resolve`] turns a reference into a [`SecretString`]; the OS keychain side lives in
//! [`keychain`]. Nothing in this module ever puts a secret value into a `Display`, `Debug`,
//! log line or error message.

mod keychain;
#[cfg(test)]
pub(crate) mod memory_store;

use std::ffi::OsString;
use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};

pub use keychain::Keychain;

/// The service name under which every Switchboard key is stored in the OS keychain.
pub const KEYCHAIN_SERVICE: &str = "switchboard";

/// Where a secret lives. Holds names only, never a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretRef {
    /// A key stored in the OS keychain under service [`KEYCHAIN_SERVICE`] and this name.
    Keyring(String),
    /// An environment variable, read when the config is loaded.
    Env(String),
}

impl SecretRef {
    /// Parses `keyring:NAME`, `env:VAR` and `${VAR}`.
    ///
    /// Anything that is not shaped like a reference is taken to be a literal key pasted into the
    /// config and refused with [`SecretRefError::Literal`]; reference-shaped strings with a bad
    /// name are [`SecretRefError::Malformed`].
    pub fn parse(s: &str) -> Result<SecretRef, SecretRefError> {
        if let Some(name) = s.strip_prefix("keyring:") {
            if name.is_empty() {
                return Err(malformed(
                    "`keyring:` needs a key name after the colon, e.g. `keyring:openai`",
                ));
            }
            validate_key_name(name)?;
            return Ok(SecretRef::Keyring(name.to_owned()));
        }
        if let Some(var) = s.strip_prefix("env:") {
            validate_env_var(var)?;
            return Ok(SecretRef::Env(var.to_owned()));
        }
        if let Some(rest) = s.strip_prefix("${") {
            let Some(var) = rest.strip_suffix('}') else {
                return Err(malformed(
                    "`${` starts a variable reference but the value does not end with `}`; \
                     write the whole value as `${VAR}`",
                ));
            };
            validate_env_var(var)?;
            return Ok(SecretRef::Env(var.to_owned()));
        }
        Err(classify_non_reference(s))
    }
}

/// Explains why a string that did not parse as a reference was refused, without echoing it.
fn classify_non_reference(s: &str) -> SecretRefError {
    if s.is_empty() {
        return malformed(
            "the value is empty; write `keyring:NAME` (a key stored with `switchboard key set NAME`) \
             or `env:VAR`",
        );
    }
    let trimmed = s.trim();
    if trimmed != s && SecretRef::parse(trimmed).is_ok() {
        return malformed("remove the spaces around the reference");
    }
    // Only the prefix is named, never the rest: a misspelt prefix may be followed by a real key.
    for prefix in ["keyring:", "env:"] {
        if s.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        {
            return malformed(format!("write the prefix `{prefix}` in lower case"));
        }
    }
    if s.contains("${") {
        return malformed(
            "`${VAR}` must be the whole value; it cannot be combined with other text",
        );
    }
    SecretRefError::Literal
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Keyring(name) => write!(f, "keyring:{name}"),
            SecretRef::Env(var) => write!(f, "env:{var}"),
        }
    }
}

/// Why a config value is not a usable secret reference. Never contains the value itself.
#[derive(Debug, thiserror::Error)]
pub enum SecretRefError {
    /// The value looks like a key pasted into the config.
    #[error(
        "literal keys are not allowed in the config; store the key with \
         `switchboard key set NAME` and write `keyring:NAME`, or put it in an environment \
         variable and write `env:VAR`"
    )]
    Literal,
    /// The value is shaped like a reference but the name in it is unusable.
    #[error("malformed secret reference: {reason}")]
    Malformed {
        /// What is wrong and how to write it instead.
        reason: String,
    },
}

fn malformed(reason: impl Into<String>) -> SecretRefError {
    SecretRefError::Malformed {
        reason: reason.into(),
    }
}

/// Longest accepted key name. Names are short labels (`openai`, `nvidia-prod`); anything longer
/// is far more likely a key pasted where its name belongs.
pub const MAX_KEY_NAME_LEN: usize = 64;

/// Prefixes of common provider keys (OpenAI/Anthropic/DeepSeek `sk-`, NVIDIA `nvapi-`, Groq
/// `gsk_`, xAI `xai-`, Google `AIza`, Hugging Face `hf_`): a "name" starting with one of these
/// is a key, and must not be echoed in an error or used as a name.
const KEY_PREFIXES: [&str; 7] = ["sk-", "sk_", "nvapi-", "gsk_", "xai-", "AIza", "hf_"];

fn looks_like_a_key(name: &str) -> bool {
    name.len() > MAX_KEY_NAME_LEN || KEY_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn pasted_key() -> SecretRefError {
    malformed(
        "the name looks like a key itself, so it is not repeated here; store the \
         key with `switchboard key set NAME` and write `keyring:NAME`, or put it in an \
         environment variable and write `env:VAR`",
    )
}

/// Checks a keychain key name: 1 to [`MAX_KEY_NAME_LEN`] of `[A-Za-z0-9._-]`, not shaped like a
/// provider key.
///
/// Shared by [`SecretRef::parse`], [`Keychain`] and `switchboard key …` so that every name that
/// can be stored can also be referenced.
pub fn validate_key_name(name: &str) -> Result<(), SecretRefError> {
    if name.is_empty() {
        return Err(malformed(
            "the key name is empty; key names use letters, digits, `.`, `_` and `-`, \
             e.g. `openai`",
        ));
    }
    if looks_like_a_key(name) {
        return Err(pasted_key());
    }
    let valid = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid {
        return Err(malformed(format!(
            "key name `{}` may only contain letters, digits, `.`, `_` and `-`",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Checks an environment variable name: `[A-Za-z_][A-Za-z0-9_]*`, not shaped like a provider
/// key (a long but valid name is fine; it is just not echoed when invalid).
fn validate_env_var(var: &str) -> Result<(), SecretRefError> {
    let mut bytes = var.bytes();
    let Some(first) = bytes.next() else {
        return Err(malformed(
            "an environment reference needs a variable name, e.g. `env:OPENAI_API_KEY`",
        ));
    };
    let valid = (first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if KEY_PREFIXES.iter().any(|p| var.starts_with(p)) || (!valid && looks_like_a_key(var)) {
        return Err(pasted_key());
    }
    if !valid {
        return Err(malformed(format!(
            "environment variable name `{}` must start with a letter or `_` and contain only \
             letters, digits and `_`",
            var.escape_debug()
        )));
    }
    Ok(())
}

/// Why a reference could not be turned into a secret. Never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `env:VAR` / `${VAR}` names a variable that is not set.
    #[error(
        "environment variable `{var}` is not set; export it before starting Switchboard, or store \
         the key with `switchboard key set NAME` and write `keyring:NAME`"
    )]
    EnvMissing {
        /// The variable name.
        var: String,
    },
    /// The variable is set but cannot be a key (empty, or not UTF-8).
    #[error("environment variable `{var}` {reason}; set it to the provider key")]
    EnvInvalid {
        /// The variable name.
        var: String,
        /// What is wrong with its value (never the value).
        reason: String,
    },
    /// The keychain is reachable but holds no key under this name.
    #[error(
        "no key `{name}` in the OS keychain (service `{service}`); store it with \
         `switchboard key set {name}`",
        service = KEYCHAIN_SERVICE
    )]
    KeychainMissing {
        /// The key name.
        name: String,
    },
    /// The keychain itself cannot be used: no D-Bus session, no Secret Service, or it is locked.
    #[error(
        "the OS keychain is not reachable ({why}): {detail}; use `env:VAR` references instead",
        why = keychain::UNAVAILABLE_WHY
    )]
    KeychainUnavailable {
        /// The platform's own description of the failure.
        detail: String,
    },
    /// A name given to [`Keychain`] that no `keyring:NAME` reference could hold.
    #[error("invalid key name: {reason}")]
    InvalidKeyName {
        /// What is wrong with the name (the name is left out when it looks like a key).
        reason: String,
    },
    /// Any other keychain failure.
    #[error("OS keychain error for key `{name}`: {detail}")]
    Keychain {
        /// The key name.
        name: String,
        /// What went wrong (never the value).
        detail: String,
    },
}

/// Looks up the secret a reference points to.
///
/// Blocking: keychain calls talk to the OS synchronously, so async callers use
/// `tokio::task::spawn_blocking`.
pub fn resolve(r: &SecretRef) -> Result<SecretString, SecretError> {
    match r {
        SecretRef::Keyring(name) => Keychain::get(name),
        SecretRef::Env(var) => resolve_env(var),
    }
}

fn resolve_env(var: &str) -> Result<SecretString, SecretError> {
    secret_from_env(var, std::env::var_os(var))
}

/// Checks the value of `var` (`None`: unset). Split from [`resolve_env`] so tests need not
/// mutate the process environment.
fn secret_from_env(var: &str, value: Option<OsString>) -> Result<SecretString, SecretError> {
    let Some(value) = value else {
        return Err(SecretError::EnvMissing {
            var: var.to_owned(),
        });
    };
    let invalid = |reason: &str| SecretError::EnvInvalid {
        var: var.to_owned(),
        reason: reason.to_owned(),
    };
    let secret = SecretString::from(
        value
            .into_string()
            .map_err(|_| invalid("is not valid UTF-8"))?,
    );
    if secret.expose_secret().trim().is_empty() {
        return Err(invalid("is empty (or only whitespace)"));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests;
