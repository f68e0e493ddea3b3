//! The admin token: created at random on first run and kept in the data dir, readable by the
//! owner only. The UI gets it from the shell (or the URL the headless server prints), never
//! from a response.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

pub const TOKEN_FILE: &str = "admin-token";

#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    #[error("cannot read the admin token `{}`: {io}", path.display())]
    Read { path: PathBuf, io: std::io::Error },
    #[error("cannot write the admin token `{}`: {io}", path.display())]
    Write { path: PathBuf, io: std::io::Error },
    #[error("cannot generate the admin token: {0}")]
    Random(String),
}

/// Loads `<data_dir>/admin-token`, creating it (mode 0600) on first run.
pub fn load_or_create(data_dir: &Path) -> Result<SecretString, AdminTokenError> {
    let path = data_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            return Ok(SecretString::from(text.trim().to_owned()));
        }
        Ok(_) => {}
        Err(io) if io.kind() == std::io::ErrorKind::NotFound => {}
        Err(io) => return Err(AdminTokenError::Read { path, io }),
    }
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| AdminTokenError::Random(e.to_string()))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &token).map_err(|io| AdminTokenError::Write {
        path: path.clone(),
        io,
    })?;
    Ok(SecretString::from(token))
}

fn write_private(path: &Path, token: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// Constant-time comparison of a presented token with the admin token.
pub fn matches(expected: &SecretString, presented: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(
        expected
            .expose_secret()
            .as_bytes()
            .ct_eq(presented.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        assert_eq!(first.expose_secret().len(), 48);
        let second = load_or_create(dir.path()).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches(&first, first.expose_secret()));
        assert!(!matches(&first, "wrong"));
    }
}
