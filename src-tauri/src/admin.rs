//! The window's read-only view of the running gateway's admin API (`/admin/api/status`,
//! `/admin/api/requests`). The shell holds the admin token and forwards these few GETs, so the
//! page needs neither the token nor cross-origin access to the gateway; the JSON is passed on as
//! the gateway wrote it.

use std::time::Duration;

use secrecy::ExposeSecret as _;
use serde_json::Value;

use crate::error::CommandError;
use crate::supervisor::Access;

/// The most requests the window lists.
pub const MAX_RECENT: u32 = 100;

/// One HTTP client for every admin call (loopback only, never through a proxy).
pub struct AdminClient {
    http: reqwest::Client,
}

impl AdminClient {
    pub fn new() -> Result<AdminClient, CommandError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| CommandError::internal(format!("cannot create the HTTP client: {e}")))?;
        Ok(AdminClient { http })
    }

    /// `GET /admin/api/status`: version, uptime, providers, models, requests today.
    pub async fn status(&self, access: &Access) -> Result<Value, CommandError> {
        self.get(access, "/admin/api/status").await
    }

    /// `GET /admin/api/requests?limit=N`: the latest requests, newest first.
    pub async fn recent_requests(
        &self,
        access: &Access,
        limit: u32,
    ) -> Result<Value, CommandError> {
        let limit = limit.clamp(1, MAX_RECENT);
        self.get(access, &format!("/admin/api/requests?limit={limit}"))
            .await
    }

    async fn get(&self, access: &Access, path: &str) -> Result<Value, CommandError> {
        let Some(token) = &access.admin_token else {
            return Err(CommandError::new(
                "admin_unavailable",
                "the gateway has no data dir, so it keeps no request history",
            ));
        };
        let response = self
            .http
            .get(format!("{}{path}", access.base_url))
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|e| CommandError::new("admin_unreachable", format!("{path}: {e}")))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CommandError::new("admin_unreachable", format!("{path}: {e}")))?;
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|e| CommandError::new("admin_error", format!("{path}: not JSON: {e}")))?;
        if !status.is_success() {
            let message = body["error"]["message"]
                .as_str()
                .map_or_else(|| status.to_string(), str::to_owned);
            return Err(CommandError::new(
                "admin_error",
                format!("{path}: {message}"),
            ));
        }
        Ok(body)
    }
}
