//! `SIGNALR_UPSTREAM_IDENTITY_*` and `WEBPUBSUB_EVENTS_IDENTITY_*`: the managed identity of the
//! service that calls the app's webhooks, one set per service (each service resource has its own
//! identity), checked by [`crate::app::identity::ServiceBearer`] (`docs/upstream.md`, "Managed
//! identity").

use super::value::{err, list, nonempty, SettingsError};
use crate::app::identity::{OidcSettings, ServiceIdentitySettings};

/// Raw settings, as text (see [`super::ServeArgs`]).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ServiceIdentityArgs {
    /// Entra tenant id (or domain) of SignalR Service's managed identity: `/api/upstream` then
    /// requires its bearer token (issuer `https://sts.windows.net/<tenant>/` or the tenant's v2
    /// issuer). An `https://` issuer URL instead names another OIDC issuer.
    #[arg(long, env = "SIGNALR_UPSTREAM_IDENTITY_TENANT")]
    pub upstream_identity_tenant: Option<String>,
    /// The upstream's managed-identity resource: accepted `aud` values, comma-separated (app ID
    /// URI and/or client id). Required with the tenant.
    #[arg(long, env = "SIGNALR_UPSTREAM_IDENTITY_RESOURCE")]
    pub upstream_identity_resource: Option<String>,
    /// Object ids or client ids of SignalR Service's managed identity, comma-separated; the
    /// token's `oid`, `appid` or `azp` must be one. Required with the tenant.
    #[arg(long, env = "SIGNALR_UPSTREAM_IDENTITY_ALLOWED_CALLERS")]
    pub upstream_identity_allowed_callers: Option<String>,
    /// As SIGNALR_UPSTREAM_IDENTITY_TENANT, for Web PubSub's calls to `/api/webpubsub/events`.
    #[arg(long, env = "WEBPUBSUB_EVENTS_IDENTITY_TENANT")]
    pub webpubsub_events_identity_tenant: Option<String>,
    /// As SIGNALR_UPSTREAM_IDENTITY_RESOURCE, for the Web PubSub event handler's resource.
    #[arg(long, env = "WEBPUBSUB_EVENTS_IDENTITY_RESOURCE")]
    pub webpubsub_events_identity_resource: Option<String>,
    /// As SIGNALR_UPSTREAM_IDENTITY_ALLOWED_CALLERS, for Web PubSub's managed identity.
    #[arg(long, env = "WEBPUBSUB_EVENTS_IDENTITY_ALLOWED_CALLERS")]
    pub webpubsub_events_identity_allowed_callers: Option<String>,
}

/// The identities the webhooks require; `None` = the route checks the access-key signature only.
#[derive(Debug, Clone, Default)]
pub struct ServiceIdentities {
    /// SignalR Service's identity on `/api/upstream`.
    pub upstream: Option<ServiceIdentitySettings>,
    /// Web PubSub's identity on `/api/webpubsub/events`.
    pub webpubsub_events: Option<ServiceIdentitySettings>,
}

impl ServiceIdentityArgs {
    /// Validates both sets.
    pub fn parse(&self) -> Result<ServiceIdentities, SettingsError> {
        Ok(ServiceIdentities {
            upstream: one(
                "SIGNALR_UPSTREAM_IDENTITY",
                [
                    (
                        "SIGNALR_UPSTREAM_IDENTITY_TENANT",
                        &self.upstream_identity_tenant,
                    ),
                    (
                        "SIGNALR_UPSTREAM_IDENTITY_RESOURCE",
                        &self.upstream_identity_resource,
                    ),
                    (
                        "SIGNALR_UPSTREAM_IDENTITY_ALLOWED_CALLERS",
                        &self.upstream_identity_allowed_callers,
                    ),
                ],
            )?,
            webpubsub_events: one(
                "WEBPUBSUB_EVENTS_IDENTITY",
                [
                    (
                        "WEBPUBSUB_EVENTS_IDENTITY_TENANT",
                        &self.webpubsub_events_identity_tenant,
                    ),
                    (
                        "WEBPUBSUB_EVENTS_IDENTITY_RESOURCE",
                        &self.webpubsub_events_identity_resource,
                    ),
                    (
                        "WEBPUBSUB_EVENTS_IDENTITY_ALLOWED_CALLERS",
                        &self.webpubsub_events_identity_allowed_callers,
                    ),
                ],
            )?,
        })
    }
}

/// One service's set: all three settings, or none.
fn one(
    prefix: &'static str,
    [(tenant_name, tenant), (resource_name, resource), (callers_name, callers)]: [(&'static str, &Option<String>);
        3],
) -> Result<Option<ServiceIdentitySettings>, SettingsError> {
    let tenant = nonempty(tenant.clone());
    let audiences = list(resource.clone());
    let allowed_callers = list(callers.clone());
    if tenant.is_none() && audiences.is_empty() && allowed_callers.is_empty() {
        return Ok(None);
    }
    let Some(tenant) = tenant else {
        return Err(err(
            tenant_name,
            format!("is required with {resource_name} and {callers_name}: the Entra tenant id of the service's managed identity"),
        ));
    };
    if audiences.is_empty() {
        return Err(err(
            resource_name,
            format!("is required with {tenant_name}: the resource the service asks its token for (it becomes the token's aud), e.g. api://<app client id>"),
        ));
    }
    if allowed_callers.is_empty() {
        return Err(err(
            callers_name,
            format!("is required with {tenant_name}: the object id or client id of the service's managed identity (without it, any app of the tenant could call)"),
        ));
    }
    let issuers = if tenant.contains("://") {
        vec![OidcSettings::new(tenant, audiences)]
    } else if tenant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        ServiceIdentitySettings::entra_issuers(&tenant, &audiences)
    } else {
        return Err(err(
            tenant_name,
            "must be a tenant id (GUID), a tenant domain, or an issuer URL",
        ));
    };
    for issuer in &issuers {
        issuer
            .check()
            .map_err(|e| err(tenant_name, e.to_string()))?;
    }
    Ok(Some(ServiceIdentitySettings {
        issuers,
        allowed_callers,
        setting: prefix,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_or_none() {
        let none = ServiceIdentityArgs::default().parse().unwrap();
        assert!(none.upstream.is_none() && none.webpubsub_events.is_none());
        let args = ServiceIdentityArgs {
            upstream_identity_tenant: Some("72f988bf-86f1-41af-91ab-2d7cd011db47".into()),
            upstream_identity_resource: Some("api://app, 1111".into()),
            upstream_identity_allowed_callers: Some("mi-oid".into()),
            ..Default::default()
        };
        let set = args.parse().unwrap().upstream.unwrap();
        assert_eq!(
            set.issuers[0].issuer,
            "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"
        );
        assert_eq!(set.issuers[0].audiences, ["api://app", "1111"]);
        assert_eq!(set.allowed_callers, ["mi-oid"]);
        let missing = ServiceIdentityArgs {
            upstream_identity_allowed_callers: None,
            ..args.clone()
        };
        let e = missing.parse().unwrap_err();
        assert_eq!(e.setting, "SIGNALR_UPSTREAM_IDENTITY_ALLOWED_CALLERS");
        let http = ServiceIdentityArgs {
            webpubsub_events_identity_tenant: Some("http://evil.example/".into()),
            webpubsub_events_identity_resource: Some("api://app".into()),
            webpubsub_events_identity_allowed_callers: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(
            http.parse().unwrap_err().setting,
            "WEBPUBSUB_EVENTS_IDENTITY_TENANT"
        );
    }
}
