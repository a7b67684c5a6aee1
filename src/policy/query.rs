//! One query's view of the client while a policy tree is walked: the address that
//! stands for the client, its location (looked up at most once, only if a node needs
//! it), and the ECS scope accumulated from every client-dependent decision.

use std::net::IpAddr;

use super::Client;
use crate::geo::{bits, mask, max_len, Location, Locator};

pub(crate) struct Query<'q> {
    /// The ECS address when the client sent one with a non-zero source prefix (RFC 7871
    /// §7.1.2: prefix 0 asks us not to use it), else the resolver's own address.
    ip: IpAddr,
    /// How many bits of `ip` we were given: the source prefix, or the full length.
    given: u8,
    /// Whether an ECS option with a non-zero source prefix came with the query.
    ecs: bool,
    locator: Option<&'q Locator>,
    located: Option<Location>,
    /// The longest prefix any decision so far depended on.
    scope: u8,
}

impl<'q> Query<'q> {
    pub(crate) fn new(client: &Client, locator: Option<&'q Locator>) -> Self {
        let (ip, given, ecs) = match client.subnet {
            Some((addr, prefix)) if prefix > 0 => (addr, prefix.min(max_len(addr)), true),
            _ => (client.addr, max_len(client.addr), false),
        };
        Query {
            ip,
            given,
            ecs,
            locator,
            located: None,
            scope: 0,
        }
    }

    /// The client's location; marks the answer as depending on the network that
    /// decided it.
    pub(crate) fn location(&mut self) -> Location {
        if let Some(l) = self.located {
            return l;
        }
        let (l, prefix) = match self.locator {
            Some(locator) => locator.locate(self.ip),
            None => (Location::default(), 0),
        };
        self.scope = self.scope.max(prefix);
        self.located = Some(l);
        l
    }

    /// A key for the client's subnet, `v4`/`v6` bits long (or as many as we were
    /// given); marks the answer as depending on that subnet.
    pub(crate) fn subnet_key(&mut self, v4: u8, v6: u8) -> u64 {
        let want = if self.ip.is_ipv4() { v4 } else { v6 };
        let prefix = want.min(self.given);
        self.scope = self.scope.max(prefix);
        let b = bits(mask(self.ip, prefix));
        // The family and prefix go into the key so 10.0.0.0/8 and 10.0.0.0/24 differ.
        let tag = (u64::from(self.ip.is_ipv4()) << 8) | u64::from(prefix);
        super::rng::mix((b >> 64) as u64 ^ super::rng::mix(b as u64 ^ tag))
    }

    /// The ECS scope to echo: the longest prefix a decision depended on, and 0 when no
    /// usable subnet was sent. It may be longer than the source prefix: the database
    /// splits the client's network there, and RFC 7871 §7.2.1 has a longer scope say
    /// exactly that ("not specific enough"), where capping it would claim the whole
    /// source network shares this answer.
    pub(crate) fn scope(&self) -> u8 {
        if self.ecs {
            self.scope
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(addr: &str, subnet: Option<(&str, u8)>) -> Client {
        Client {
            addr: addr.parse().unwrap(),
            subnet: subnet.map(|(a, p)| (a.parse().unwrap(), p)),
        }
    }

    #[test]
    fn subnet_keys_depend_on_the_subnet_only_and_set_the_scope() {
        let c1 = client("127.0.0.1", Some(("192.0.2.0", 24)));
        let c2 = client("127.0.0.9", Some(("192.0.2.0", 24)));
        let c3 = client("127.0.0.1", Some(("192.0.3.0", 24)));
        let k = |c: &Client| {
            let mut q = Query::new(c, None);
            (q.subnet_key(24, 56), q.scope())
        };
        assert_eq!(k(&c1), k(&c2));
        assert_ne!(k(&c1).0, k(&c3).0);
        assert_eq!(k(&c1).1, 24);
        // A /16 from the client: we hash the /16 and say so.
        let wide = client("127.0.0.1", Some(("192.0.0.0", 16)));
        assert_eq!(k(&wide).1, 16);
        // Without ECS (or with source prefix 0) the scope is 0 whatever was used.
        assert_eq!(k(&client("192.0.2.1", None)).1, 0);
        assert_eq!(k(&client("192.0.2.1", Some(("0.0.0.0", 0)))).1, 0);
        assert_eq!(
            k(&client("192.0.2.1", Some(("0.0.0.0", 0)))).0,
            k(&client("192.0.2.200", None)).0
        );
    }
}
