//! Name resolution for calls between the parts of an SSO setup.
//!
//! `localhost` and every `*.localhost` name resolve to the loopback address, as RFC 6761 §6.3
//! asks of resolver libraries and as browsers do, so an embedded setup such as
//! `http://sso.localhost:8080` works even where the system resolver does not know these names.
//! Every other name goes to the system resolver.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A resolver for reqwest clients: `localhost` and `*.localhost` go to loopback, everything
/// else to the system resolver. Use it with `reqwest::ClientBuilder::dns_resolver`.
#[derive(Debug, Default)]
pub struct LocalhostResolver;

impl Resolve for LocalhostResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if is_localhost(&host) {
                let loopback = [
                    SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                    SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
                ];
                return Ok(Box::new(loopback.into_iter()) as Addrs);
            }
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Whether `host` is `localhost` or a name under it (RFC 6761 §6.3).
fn is_localhost(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_names_are_recognised() {
        for host in [
            "localhost",
            "sso.localhost",
            "APP1.LocalHost",
            "a.b.localhost.",
        ] {
            assert!(is_localhost(host), "{host}");
        }
        for host in [
            "localhost.example",
            "notlocalhost",
            "example.test",
            "localhostx",
        ] {
            assert!(!is_localhost(host), "{host}");
        }
    }

    #[tokio::test]
    async fn localhost_names_resolve_to_loopback_without_the_system_resolver() {
        let name: Name = "sso.localhost".parse().unwrap();
        let addrs: Vec<SocketAddr> = LocalhostResolver.resolve(name).await.unwrap().collect();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|addr| addr.ip().is_loopback()));
    }
}
