//! The OAuth 2.0 grant types (`grant_type` of a token request): the ones the
//! diagnosis reasons about by name, and any other a server or client logs.
//!
//! Invariant: a value round-trips unchanged. [`GrantType::from_name`] reads
//! any text, [`GrantType::as_str`] gives the same text back, so an unknown or
//! oddly spelled grant (`Authorization_Code`, a vendor's own URN) is kept as
//! logged in the store and the JSON, and a known one is always its variant,
//! never an [`GrantType::Other`] (that type's field is private so that only
//! `from_name` builds it).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A token request's grant type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// `authorization_code` (RFC 6749 §4.1).
    AuthorizationCode,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials,
    /// `password`, the resource owner's credentials (RFC 6749 §4.3).
    Password,
    /// `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628).
    DeviceCode,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523).
    JwtBearer,
    /// `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693).
    TokenExchange,
    /// `urn:ietf:params:oauth:grant-type:saml2-bearer` (RFC 7522).
    Saml2Bearer,
    /// Any other value, exactly as logged.
    Other(OtherGrant),
}

/// A grant type none of the named variants is, kept as logged. Only
/// [`GrantType::from_name`] builds one, so it never holds a known name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OtherGrant(Box<str>);

impl OtherGrant {
    /// The text as logged.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Every named grant type.
pub const KNOWN_GRANTS: [GrantType; 8] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::Password,
    GrantType::DeviceCode,
    GrantType::JwtBearer,
    GrantType::TokenExchange,
    GrantType::Saml2Bearer,
];

impl GrantType {
    /// The wire name of a named grant type; `None` for [`GrantType::Other`].
    /// The one table of the names.
    pub fn known_name(&self) -> Option<&'static str> {
        Some(match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::Password => "password",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            GrantType::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            GrantType::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
            GrantType::Saml2Bearer => "urn:ietf:params:oauth:grant-type:saml2-bearer",
            GrantType::Other(_) => return None,
        })
    }

    /// The value as it is sent and stored ([`GrantType::from_name`]'s
    /// inverse).
    pub fn as_str(&self) -> &str {
        match self {
            GrantType::Other(other) => other.as_str(),
            known => known.known_name().unwrap_or_default(),
        }
    }

    /// Reads a logged value: a named grant type when it is exactly one's
    /// name, else [`GrantType::Other`] holding the text unchanged.
    pub fn from_name(name: &str) -> GrantType {
        KNOWN_GRANTS
            .into_iter()
            .find(|g| g.known_name() == Some(name))
            .unwrap_or_else(|| GrantType::Other(OtherGrant(name.into())))
    }
}

impl std::fmt::Display for GrantType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Written as the logged value, the same string a `String` field wrote.
impl Serialize for GrantType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for GrantType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(GrantType::from_name(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_unchanged() {
        for name in [
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
            "Authorization_Code",
            "http://auth0.com/oauth/grant-type/mfa-otp",
            "",
        ] {
            let grant = GrantType::from_name(name);
            assert_eq!(grant.as_str(), name);
            let json = serde_json::to_string(&grant).unwrap();
            assert_eq!(json, serde_json::to_string(name).unwrap());
            assert_eq!(serde_json::from_str::<GrantType>(&json).unwrap(), grant);
        }
    }

    #[test]
    fn a_known_name_is_its_variant_and_nothing_else_is() {
        for g in KNOWN_GRANTS {
            assert_eq!(GrantType::from_name(g.as_str()), g);
        }
        assert_eq!(
            GrantType::from_name("refresh_token"),
            GrantType::RefreshToken
        );
        assert!(matches!(
            GrantType::from_name("refresh_token "),
            GrantType::Other(_)
        ));
        assert!(matches!(
            GrantType::from_name("Refresh_Token"),
            GrantType::Other(_)
        ));
    }
}
