//! Where the app's files are: the config file and the data dir, chosen exactly as the headless
//! `switchboard serve` chooses them (`SWITCHBOARD_CONFIG`, `SWITCHBOARD_DATA_DIR`, else the OS
//! defaults), and their preparation on first run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use switchboard_core::{Config, ConfigError};

pub const CONFIG_ENV: &str = "SWITCHBOARD_CONFIG";
pub const DATA_DIR_ENV: &str = "SWITCHBOARD_DATA_DIR";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub config: PathBuf,
    /// Whether `config` is the OS default (only then is a default config written on first run).
    pub config_is_default: bool,
    pub data_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("cannot find the OS config directory; set {CONFIG_ENV} to the config file's path")]
    NoConfigDir,
    #[error("cannot find the OS data directory; set {DATA_DIR_ENV} to a writable directory")]
    NoDataDir,
    #[error(transparent)]
    WriteDefault(#[from] ConfigError),
    #[error("cannot create the data dir `{}`: {io}", path.display())]
    DataDir { path: PathBuf, io: std::io::Error },
}

impl Paths {
    /// Resolves the paths from the environment (`env` looks a variable up; empty means unset).
    pub fn from_env(env: impl Fn(&str) -> Option<OsString>) -> Result<Paths, PathsError> {
        let var = |name| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let (config, config_is_default) = match var(CONFIG_ENV) {
            Some(path) => (path, false),
            None => (Config::default_path().ok_or(PathsError::NoConfigDir)?, true),
        };
        let data_dir = match var(DATA_DIR_ENV) {
            Some(dir) => dir,
            None => Config::default_data_dir().ok_or(PathsError::NoDataDir)?,
        };
        Ok(Paths {
            config,
            config_is_default,
            data_dir,
        })
    }

    /// First run: writes the commented default config (at the default path only, like the CLI)
    /// and creates the data dir. Returns whether a default config was written.
    pub fn prepare(&self) -> Result<bool, PathsError> {
        let wrote = self.config_is_default && Config::write_default_if_missing(&self.config)?;
        create_dir(&self.data_dir)?;
        Ok(wrote)
    }
}

fn create_dir(path: &Path) -> Result<(), PathsError> {
    std::fs::create_dir_all(path).map_err(|io| PathsError::DataDir {
        path: path.to_owned(),
        io,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_environment_wins_over_the_os_defaults() {
        let paths = Paths::from_env(env(&[
            (CONFIG_ENV, "/tmp/c.toml"),
            (DATA_DIR_ENV, "/tmp/d"),
        ]))
        .unwrap();
        assert_eq!(
            paths,
            Paths {
                config: "/tmp/c.toml".into(),
                config_is_default: false,
                data_dir: "/tmp/d".into(),
            }
        );
    }

    #[test]
    fn unset_or_empty_variables_mean_the_os_defaults() {
        let paths = Paths::from_env(env(&[(CONFIG_ENV, "")])).unwrap();
        assert!(paths.config_is_default);
        assert_eq!(Some(paths.config), Config::default_path());
        assert_eq!(Some(paths.data_dir), Config::default_data_dir());
    }

    #[test]
    fn prepare_writes_the_default_config_only_at_the_default_path() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Paths {
            config: dir.path().join("conf/config.toml"),
            config_is_default: false,
            data_dir: dir.path().join("data/nested"),
        };
        assert!(!paths.prepare().unwrap());
        assert!(!paths.config.exists());
        assert!(paths.data_dir.is_dir());
        paths.config_is_default = true;
        assert!(paths.prepare().unwrap());
        let text = std::fs::read_to_string(&paths.config).unwrap();
        let no_secrets = switchboard_core::LoadOptions {
            resolve_secrets: false,
        };
        assert!(Config::from_toml(&text, "default", no_secrets).is_ok());
        // An existing file is never overwritten.
        std::fs::write(&paths.config, "# mine\n").unwrap();
        assert!(!paths.prepare().unwrap());
        assert_eq!(std::fs::read_to_string(&paths.config).unwrap(), "# mine\n");
    }
}
