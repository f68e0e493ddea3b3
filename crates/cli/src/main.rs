//! `switchboard`: the headless gateway. `serve` runs it; `config check`, `models` and `key`
//! manage what it runs with. Errors are one clear line (or one block for config problems) and a
//! non-zero exit.

mod key;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchboard_core::config::{Config, ConfigError, LoadOptions};

/// mimalloc instead of glibc's malloc: the request path allocates and frees many small,
/// short-lived buffers, where glibc's malloc took about a tenth of the gateway's CPU (built
/// without transparent huge pages, `no_thp`, which would otherwise add ~11 MiB of idle RSS).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "switchboard",
    version,
    about = "Local LLM gateway: one endpoint for every provider"
)]
struct Cli {
    /// Config file [default: the OS config dir, e.g. ~/.config/switchboard/config.toml]
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Run the gateway in the foreground
    Serve(serve::ServeArgs),
    /// Check the config file
    Config {
        #[command(subcommand)]
        cmd: ConfigCommand,
    },
    /// Print the routing table: each client model id with its provider and upstream id
    Models,
    /// Manage provider keys in the OS keychain
    Key {
        #[command(subcommand)]
        cmd: key::KeyCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Report every problem in the config (exit status 1 if there is any)
    Check,
    /// Print the config file's path
    Path,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Serve(args) => serve::run(cli.config, args),
        Commands::Config {
            cmd: ConfigCommand::Check,
        } => config_check(cli.config),
        Commands::Config {
            cmd: ConfigCommand::Path,
        } => config_path(cli.config).map(|path| {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }),
        Commands::Models => models(cli.config),
        Commands::Key { cmd } => key::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The config path: `--config`, `SWITCHBOARD_CONFIG`, or the OS default.
fn config_path(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match given {
        Some(path) => Ok(path),
        None => Config::default_path().ok_or_else(|| {
            anyhow::anyhow!("cannot find the OS config directory; pass `--config PATH`")
        }),
    }
}

fn config_check(given: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let path = config_path(given)?;
    match Config::load(&path, LoadOptions::default()) {
        Ok(config) => {
            println!(
                "config `{}` is valid: {} provider(s), {} model mapping(s)",
                path.display(),
                config.providers.len(),
                config.models.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => config_failure(err),
    }
}

/// A config that cannot be used: its problems are printed as a block; other failures (an
/// unreadable file) are one `error:` line like every other error.
fn config_failure(err: ConfigError) -> anyhow::Result<ExitCode> {
    match err {
        ConfigError::Invalid { .. } => {
            eprintln!("{err}");
            Ok(ExitCode::FAILURE)
        }
        other => Err(other.into()),
    }
}

fn models(given: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let path = config_path(given)?;
    let config = match Config::load(
        &path,
        LoadOptions {
            resolve_secrets: false,
        },
    ) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut rows: Vec<[String; 3]> = vec![[
        "CLIENT MODEL ID".into(),
        "PROVIDER".into(),
        "UPSTREAM MODEL ID".into(),
    ]];
    for (id, model) in &config.models {
        rows.push([id.clone(), model.provider.clone(), model.model.clone()]);
    }
    for provider in config.providers.values() {
        if let Some(prefix) = &provider.model_prefix {
            rows.push([format!("{prefix}*"), provider.name.clone(), "*".into()]);
        }
    }
    for provider in config.providers.values() {
        let by_name = format!("{}/", provider.name);
        if provider.model_prefix.as_deref() != Some(by_name.as_str()) {
            rows.push([format!("{by_name}*"), provider.name.clone(), "*".into()]);
        }
    }
    if let Some(default) = &config.server.default_provider {
        rows.push([
            "(anything else)".into(),
            default.clone(),
            "(unchanged)".into(),
        ]);
    }
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1) = (width(0), width(1));
    for row in &rows {
        println!("{:<w0$}  {:<w1$}  {}", row[0], row[1], row[2]);
    }
    Ok(ExitCode::SUCCESS)
}
