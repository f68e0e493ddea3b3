//! The one error shape every Tauri command returns: `{code, message}`, serializable, with a
//! stable machine-readable `code` for the window and a message written for the user.

use serde::Serialize;
use switchboard_core::secrets::SecretError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
}

impl CommandError {
    pub fn new(code: &'static str, message: impl Into<String>) -> CommandError {
        CommandError {
            code,
            message: message.into(),
        }
    }

    pub fn not_running() -> CommandError {
        CommandError::new(
            "not_running",
            "the proxy is not running; start it from the tray or the window",
        )
    }

    pub fn internal(message: impl Into<String>) -> CommandError {
        CommandError::new("internal", message)
    }
}

impl From<SecretError> for CommandError {
    fn from(err: SecretError) -> Self {
        let code = match &err {
            SecretError::KeychainUnavailable { .. } => "keychain_unavailable",
            SecretError::InvalidKeyName { .. } => "invalid_key_name",
            SecretError::KeychainMissing { .. } => "key_missing",
            SecretError::Keychain { .. } => "keychain",
            SecretError::EnvMissing { .. } | SecretError::EnvInvalid { .. } => "env",
        };
        CommandError::new(code, err.to_string())
    }
}

impl From<tauri::Error> for CommandError {
    fn from(err: tauri::Error) -> Self {
        CommandError::internal(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_code_and_message() {
        let json = serde_json::to_value(CommandError::not_running()).unwrap();
        assert_eq!(json["code"], "not_running");
        assert!(json["message"].as_str().unwrap().contains("not running"));
    }

    #[test]
    fn keychain_errors_keep_their_kind() {
        let err = CommandError::from(SecretError::KeychainUnavailable {
            detail: "no bus".into(),
        });
        assert_eq!(err.code, "keychain_unavailable");
        assert!(err.message.contains("no bus"));
    }
}
