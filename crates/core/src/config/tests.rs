use super::*;

fn load(toml: &str) -> Result<Config, ConfigError> {
    Config::from_toml(toml, "test.toml", LoadOptions::default())
}

fn issues(toml: &str) -> Vec<String> {
    match load(toml) {
        Ok(_) => Vec::new(),
        Err(err) => err.issues().iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_default_config_is_valid_and_needs_no_keys() {
    let config = load(&default_config_text()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.server.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(config.server.default_provider.as_deref(), Some("ollama"));
    let ollama = &config.providers["ollama"];
    assert_eq!(ollama.base_url, "http://localhost:11434/v1");
    assert_eq!(ollama.auth, AuthStyle::None);
    assert_eq!(
        config.providers["lmstudio"].base_url,
        "http://localhost:1234/v1"
    );
    // Every cloud preset is shown, commented out.
    for preset in PRESETS.iter().filter(|p| p.key_env.is_some()) {
        assert!(
            default_config_text().contains(&format!("# [providers.{}]", preset.name)),
            "{}",
            preset.name
        );
    }
}

#[test]
fn empty_config_gets_defaults() {
    let config = load("").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:4141");
    assert_eq!(config.timeouts, Timeouts::default());
    assert_eq!(config.server.max_request_bytes, DEFAULT_MAX_REQUEST_BYTES);
    assert!(config.providers.is_empty());
}

#[test]
fn presets_fill_api_and_url_and_explicit_keys_override() {
    // `env:PATH` stands in for a key: setting variables is unsafe in edition 2024.
    let toml = r#"
[providers.nvidia]
preset = "nvidia"
api_key = "env:PATH"
model_prefix = "nvidia/"
headers = { "X-Title" = "Switchboard" }

[providers.proxy]
preset = "openai"
base_url = "http://127.0.0.1:9/v1/"
api_key = "env:PATH"

[models."nvidia/kimi-k2-thinking"]
provider = "nvidia"
model = "moonshotai/kimi-k2-thinking"
max_context_size = 262144
"#;
    let config = load(toml).unwrap_or_else(|e| panic!("{e}"));
    let nvidia = &config.providers["nvidia"];
    assert_eq!(nvidia.api, Api::OpenAi);
    assert_eq!(nvidia.base_url, "https://integrate.api.nvidia.com/v1");
    assert_eq!(nvidia.auth, AuthStyle::Bearer);
    assert!(nvidia.api_key.is_some());
    assert_eq!(
        nvidia.headers,
        vec![("X-Title".to_string(), "Switchboard".to_string())]
    );
    assert_eq!(config.providers["proxy"].base_url, "http://127.0.0.1:9/v1");
    assert_eq!(
        config.models["nvidia/kimi-k2-thinking"],
        ModelConfig {
            provider: "nvidia".into(),
            model: "moonshotai/kimi-k2-thinking".into(),
            max_context_size: Some(262144),
            price: None,
        }
    );
}

#[test]
fn secrets_are_not_looked_up_when_not_asked() {
    let toml = r#"
[providers.nvidia]
preset = "nvidia"
api_key = "keyring:surely-not-stored-anywhere"
"#;
    let config = Config::from_toml(
        toml,
        "t",
        LoadOptions {
            resolve_secrets: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(config.providers["nvidia"].api_key.is_none());
    assert!(config.providers["nvidia"].api_key_ref.is_some());
}

#[test]
fn every_problem_is_reported_at_once_with_lines() {
    let toml = r#"[server]
listen = "localhost"
colour = "blue"

[providers.a]
base_url = "ftp://x"

[providers.b]
preset = "nvidai"

[models.m1]
provider = "zzz"

[models.m2]
provider = "a"
"#;
    assert_eq!(
        issues(toml),
        vec![
            "server (line 3): unknown field `colour`, expected one of `listen`, `client_token`, `allowed_hosts`, `allowed_origins`, `default_provider`, `max_request_bytes`",
            "providers.`a`.base_url (line 6): `ftp://x` is not an http(s) URL; write e.g. \"https://api.example.com/v1\"",
            "providers.`b` (line 8): missing `base_url`",
            "providers.`b`.preset (line 9): unknown preset `nvidai`; known: `openai`, `anthropic`, `gemini`, `nvidia`, `groq`, `siliconflow`, `mistral`, `openrouter`, `deepseek`, `moonshot`, `moonshot-anthropic`, `together`, `ollama`, `lmstudio`",
            "models.`m1`.provider (line 12): unknown provider `zzz`; known: `a`, `b`",
        ]
    );
}

#[test]
fn exposed_listen_needs_a_client_token() {
    assert_eq!(
        issues("[server]\nlisten = \"0.0.0.0:4141\"\n"),
        vec![
            "server.listen (line 2): `0.0.0.0:4141` is reachable from other machines; set `server.client_token` so only your clients can use it, or listen on 127.0.0.1"
        ]
    );
    assert!(
        issues("[server]\nlisten = \"0.0.0.0:4141\"\nclient_token = \"env:PATH\"\n").is_empty()
    );
}

#[test]
fn literal_keys_are_refused_without_echoing_them() {
    let found =
        issues("[providers.groq]\npreset = \"groq\"\napi_key = \"gsk_live_abcdef123456\"\n");
    assert_eq!(found.len(), 1);
    assert!(
        found[0].contains("switchboard key set groq"),
        "{}",
        found[0]
    );
    assert!(!found[0].contains("gsk_live"), "{}", found[0]);
}

#[test]
fn default_file_is_written_once() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("nested").join("config.toml");
    assert!(Config::write_default_if_missing(&path).unwrap_or_else(|e| panic!("{e}")));
    std::fs::write(&path, "# mine\n").unwrap_or_else(|e| panic!("{e}"));
    assert!(!Config::write_default_if_missing(&path).unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap_or_default(),
        "# mine\n"
    );
}

#[test]
fn sessions_settings_take_minutes_or_durations() {
    let config = load("[sessions]\nidle_timeout = 45\nretention_days = 7\n").unwrap();
    assert_eq!(config.sessions.idle_timeout, Duration::from_secs(45 * 60));
    assert_eq!(config.sessions.retention_days, 7);
    let config = load("[sessions]\nidle_timeout = \"2h\"\n").unwrap();
    assert_eq!(config.sessions.idle_timeout, Duration::from_secs(7200));
    assert_eq!(config.sessions.retention_days, 90);
    assert_eq!(load("").unwrap().sessions, SessionsConfig::default());
    assert_eq!(
        issues("[sessions]\nidle_timeout = \"soon\"\nretention_days = 0\n"),
        vec![
            "sessions.idle_timeout (line 2): must be a positive number of minutes, or a duration like \"30m\", \"2h\" or \"90s\"",
            "sessions.retention_days (line 3): must be a whole number of days, 1 or more",
        ]
    );
}

#[test]
fn model_prices_override_the_table() {
    let base = "[providers.local]\nbase_url = \"http://127.0.0.1:1/v1\"\n[models.m]\nprovider = \"local\"\n";
    let config = load(&format!(
        "{base}price = {{ input = 0.6, output = 2.5, cached_input = 0.06 }}\n"
    ))
    .unwrap();
    let price = config.models["m"].price.unwrap();
    assert_eq!(
        (price.input, price.output, price.cached_input),
        (0.6, 2.5, Some(0.06))
    );
    assert_eq!(
        issues(&format!("{base}price = {{ input = -1, output = 2 }}\n")),
        vec![
            "models.`m`.price (line 5): prices are USD per million tokens and must be numbers of 0 or more"
        ]
    );
    let unknown_field = issues(&format!(
        "{base}price = {{ input = 1, output = 2, outptu = 3 }}\n"
    ));
    assert_eq!(unknown_field.len(), 1);
    assert!(
        unknown_field[0].contains("unknown field `outptu`"),
        "{}",
        unknown_field[0]
    );
}
