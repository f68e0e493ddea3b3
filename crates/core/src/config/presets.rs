//! Built-in provider presets: the wire API, base URL and auth style of well-known providers, so a
//! config only names the preset and the key.

use super::{Api, AuthStyle};

#[derive(Debug)]
pub struct Preset {
    pub name: &'static str,
    pub display_name: &'static str,
    pub api: Api,
    pub base_url: &'static str,
    pub auth: AuthStyle,
    /// Where the key usually lives, used in the default config and hints.
    pub key_env: Option<&'static str>,
}

const fn openai_compatible(
    name: &'static str,
    display_name: &'static str,
    base_url: &'static str,
    key_env: Option<&'static str>,
) -> Preset {
    Preset {
        name,
        display_name,
        api: Api::OpenAi,
        base_url,
        auth: if key_env.is_some() {
            AuthStyle::Bearer
        } else {
            AuthStyle::None
        },
        key_env,
    }
}

/// A provider that speaks its own API (not OpenAI-compatible) and needs a key.
const fn native(
    name: &'static str,
    display_name: &'static str,
    api: Api,
    base_url: &'static str,
    key_env: &'static str,
) -> Preset {
    Preset {
        name,
        display_name,
        api,
        base_url,
        auth: api.auth(),
        key_env: Some(key_env),
    }
}

pub const PRESETS: &[Preset] = &[
    openai_compatible(
        "openai",
        "OpenAI",
        "https://api.openai.com/v1",
        Some("OPENAI_API_KEY"),
    ),
    // Anthropic-API base URLs are what the Anthropic SDK calls its base URL: `/v1/messages` is
    // appended. Gemini's include the API version: `/models/<id>:generateContent` is appended.
    native(
        "anthropic",
        "Anthropic",
        Api::Anthropic,
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
    ),
    native(
        "gemini",
        "Google Gemini",
        Api::Gemini,
        "https://generativelanguage.googleapis.com/v1beta",
        "GEMINI_API_KEY",
    ),
    openai_compatible(
        "nvidia",
        "NVIDIA NIM",
        "https://integrate.api.nvidia.com/v1",
        Some("NVIDIA_API_KEY"),
    ),
    openai_compatible(
        "groq",
        "Groq",
        "https://api.groq.com/openai/v1",
        Some("GROQ_API_KEY"),
    ),
    openai_compatible(
        "siliconflow",
        "SiliconFlow",
        "https://api.siliconflow.com/v1",
        Some("SILICONFLOW_API_KEY"),
    ),
    openai_compatible(
        "mistral",
        "Mistral",
        "https://api.mistral.ai/v1",
        Some("MISTRAL_API_KEY"),
    ),
    openai_compatible(
        "openrouter",
        "OpenRouter",
        "https://openrouter.ai/api/v1",
        Some("OPENROUTER_API_KEY"),
    ),
    openai_compatible(
        "deepseek",
        "DeepSeek",
        "https://api.deepseek.com/v1",
        Some("DEEPSEEK_API_KEY"),
    ),
    openai_compatible(
        "moonshot",
        "Moonshot (Kimi)",
        "https://api.moonshot.ai/v1",
        Some("MOONSHOT_API_KEY"),
    ),
    native(
        "moonshot-anthropic",
        "Moonshot (Kimi), Anthropic-compatible endpoint",
        Api::Anthropic,
        "https://api.moonshot.ai/anthropic",
        "MOONSHOT_API_KEY",
    ),
    openai_compatible(
        "together",
        "Together AI",
        "https://api.together.xyz/v1",
        Some("TOGETHER_API_KEY"),
    ),
    openai_compatible("ollama", "Ollama", "http://localhost:11434/v1", None),
    openai_compatible("lmstudio", "LM Studio", "http://localhost:1234/v1", None),
];

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|p| p.name)
}
