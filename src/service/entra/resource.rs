//! Which Azure service an Entra token is for. Each service has its own resource id: the
//! authority takes it as an OAuth scope (`<resource>/.default`), the managed-identity endpoints
//! as a `resource` (the id itself), and the service checks it as the token's `aud`
//! (`docs/protocol.md` §7, `docs/webpubsub.md` §6).

/// An Azure resource Entra tokens are requested for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    id: &'static str,
    scope: &'static str,
}

impl Resource {
    /// Azure SignalR Service.
    pub const SIGNALR: Self = Self {
        id: super::SIGNALR_RESOURCE,
        scope: super::SIGNALR_SCOPE,
    };
    /// Azure Web PubSub.
    pub const WEBPUBSUB: Self = Self {
        id: super::WEBPUBSUB_RESOURCE,
        scope: super::WEBPUBSUB_SCOPE,
    };

    /// The resource id, as a managed-identity `resource` and a token's `aud`.
    pub fn id(self) -> &'static str {
        self.id
    }

    /// The OAuth scope the authority is asked for: the id with `/.default`.
    pub fn scope(self) -> &'static str {
        self.scope
    }
}

impl Default for Resource {
    /// SignalR Service, the crate's first product.
    fn default() -> Self {
        Self::SIGNALR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_the_ids_with_default() {
        for resource in [Resource::SIGNALR, Resource::WEBPUBSUB] {
            assert_eq!(resource.scope(), format!("{}/.default", resource.id()));
        }
        assert_eq!(Resource::WEBPUBSUB.id(), "https://webpubsub.azure.com");
    }
}
