//! Typed REST client for the service data-plane API (api-version 2022-06-01).
