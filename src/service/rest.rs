//! Placeholder REST client (being built on the rest branch).
#![allow(missing_docs, unused_variables)]
use crate::service::ConnectionString;
use std::time::Duration;
#[derive(Clone, Debug, Default)]
pub struct RestOptions {
    pub timeout: Duration,
    pub max_retries: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}
#[derive(Clone, Debug, serde::Serialize)]
pub struct Payload {
    pub target: String,
    pub arguments: Vec<serde_json::Value>,
}
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("{0}")]
    InvalidName(#[from] crate::service::names::NameError),
    #[error("{0}")]
    Token(#[from] crate::service::token::TokenError),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{operation}: {status} {message}")]
    Service {
        operation: &'static str,
        status: u16,
        code: Option<String>,
        message: String,
    },
    #[error("timeout")]
    Timeout { operation: &'static str },
    #[error("unreachable")]
    Unreachable {
        operation: &'static str,
        detail: String,
    },
}
#[derive(Clone, Debug)]
pub struct RestClient;
impl RestClient {
    pub fn new(connection: &ConnectionString, options: RestOptions) -> Result<Self, RestError> {
        Ok(Self)
    }
    pub async fn send_to_all(
        &self,
        hub: &str,
        payload: &Payload,
        excluded: &[String],
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn send_to_user(
        &self,
        hub: &str,
        user: &str,
        payload: &Payload,
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn send_to_group(
        &self,
        hub: &str,
        group: &str,
        payload: &Payload,
        excluded: &[String],
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn send_to_connection(
        &self,
        hub: &str,
        connection_id: &str,
        payload: &Payload,
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn add_user_to_group(
        &self,
        hub: &str,
        group: &str,
        user: &str,
        ttl: Option<u32>,
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn remove_user_from_group(
        &self,
        hub: &str,
        group: &str,
        user: &str,
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn remove_user_from_all_groups(
        &self,
        hub: &str,
        user: &str,
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn add_connection_to_group(
        &self,
        hub: &str,
        group: &str,
        connection_id: &str,
    ) -> Result<bool, RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn remove_connection_from_group(
        &self,
        hub: &str,
        group: &str,
        connection_id: &str,
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn remove_connection_from_all_groups(
        &self,
        hub: &str,
        connection_id: &str,
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn user_exists(&self, hub: &str, user: &str) -> Result<bool, RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn group_exists(&self, hub: &str, group: &str) -> Result<bool, RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn connection_exists(
        &self,
        hub: &str,
        connection_id: &str,
    ) -> Result<bool, RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn user_in_group(
        &self,
        hub: &str,
        group: &str,
        user: &str,
    ) -> Result<bool, RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn close_connection(
        &self,
        hub: &str,
        connection_id: &str,
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn close_all(
        &self,
        hub: &str,
        excluded: &[String],
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn close_group(
        &self,
        hub: &str,
        group: &str,
        excluded: &[String],
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn close_user(
        &self,
        hub: &str,
        user: &str,
        excluded: &[String],
        reason: Option<&str>,
    ) -> Result<(), RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
    pub async fn health(&self) -> Result<bool, RestError> {
        Err(RestError::Unreachable {
            operation: "stub",
            detail: String::new(),
        })
    }
}
