//! Settings of the diagnosis: code and token lifetimes and the time windows
//! the rules use, with the defaults the catalog gives per server.

use std::collections::BTreeMap;

/// Lifetimes and windows used by the diagnosis rules.
#[derive(Clone, Debug, PartialEq)]
pub struct DiagnoseSettings {
    /// Authorization code lifetime per server kind, in seconds.
    pub code_lifetime_s: BTreeMap<String, i64>,
    /// Code lifetime for a server not in the map.
    pub default_code_lifetime_s: i64,
    /// Two refreshes of one client closer than this are a race.
    pub refresh_race_ms: i64,
    /// Leeway a server grants on JWT times, in seconds.
    pub jwt_leeway_s: i64,
    /// Clock offsets below this are not called skew, in seconds.
    pub skew_threshold_s: i64,
    /// How far back a revoke call may explain a refresh failure, in seconds.
    pub revoke_window_s: i64,
    /// Keycloak's SSO Session Idle (the refresh token's idle lifetime), in
    /// seconds.
    pub keycloak_session_idle_s: i64,
}

impl Default for DiagnoseSettings {
    fn default() -> Self {
        // Catalog §11 and the servers' defaults: Doorkeeper
        // `authorization_code_expires_in` 600 s, Hydra 10 min, Keycloak access
        // code lifespan 60 s, node-oidc-provider 60 s, Duende 300 s, Spring
        // 5 min, Entra/Google/Okta/Auth0 about 10 min.
        let code_lifetime_s = [
            ("doorkeeper", 600),
            ("hydra", 600),
            ("keycloak", 60),
            ("node-oidc-provider", 60),
            ("identityserver", 300),
            ("spring", 300),
            ("azure", 600),
            ("google", 600),
            ("okta", 600),
            ("auth0", 600),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        DiagnoseSettings {
            code_lifetime_s,
            default_code_lifetime_s: 600,
            refresh_race_ms: 2_000,
            jwt_leeway_s: 60,
            skew_threshold_s: 60,
            revoke_window_s: 86_400,
            // Keycloak's realm default "SSO Session Idle" is 30 minutes.
            keycloak_session_idle_s: 1_800,
        }
    }
}

impl DiagnoseSettings {
    /// The code lifetime of `server` (or the default), in milliseconds.
    pub fn code_lifetime_ms(&self, server: Option<&str>) -> i64 {
        server
            .and_then(|s| self.code_lifetime_s.get(s))
            .copied()
            .unwrap_or(self.default_code_lifetime_s)
            * 1000
    }
}
