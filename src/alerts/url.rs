//! The alert receivers' addresses: plain `http://host:port/path` URLs (the
//! deliverer speaks HTTP/1.1 over a bare socket). Checked when the config is
//! read (`alerts::check`), used by `deliver.rs`; a leaf both read.

/// An `http://host:port/path` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) path: String,
}

impl Url {
    /// Parses a plain-HTTP URL.
    pub fn parse(text: &str) -> Result<Url, String> {
        let rest = text
            .strip_prefix("http://")
            .ok_or_else(|| format!("{text}: only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| format!("{text}: bad port {p:?}"))?),
            None => (authority, 80),
        };
        if host.is_empty() {
            return Err(format!("{text}: no host"));
        }
        Ok(Url {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    /// The same host with another path.
    pub(super) fn with_path(&self, path: &str) -> Url {
        Url {
            path: path.to_owned(),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_plain_http_with_a_port_and_path() {
        assert_eq!(
            Url::parse("http://127.0.0.1:9093"),
            Ok(Url {
                host: "127.0.0.1".into(),
                port: 9093,
                path: "/".into()
            })
        );
        assert_eq!(
            Url::parse("http://relay.local/hooks/a").map(|u| (u.port, u.path)),
            Ok((80, "/hooks/a".to_owned()))
        );
        assert!(Url::parse("https://x").is_err());
        assert!(Url::parse("http://:80/").is_err());
        assert!(Url::parse("http://h:port/").is_err());
    }
}
