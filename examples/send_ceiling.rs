//! The send path's measured ceiling, for `benches/load.py`: an HTTP server that forwards every
//! request's body to one fixed URL, with one fixed bearer token, through a pooled hyper client,
//! and answers with the status it got. It does nothing else: no routing, no JSON, no checks, no
//! token minting, no retry or timeout. `POST /api/messages` through it, against the same REST
//! call made directly, is the most any app hop can reach on the machine and topology the
//! benchmark runs on (docs/performance.md, "The send path's ceiling").
//!
//! ```text
//! send_ceiling PORT TARGET_URL BEARER_TOKEN
//! ```

use std::convert::Infallible;

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// Where every request goes and how it is authorised.
#[derive(Clone)]
struct Target {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    authorization: HeaderValue,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: send_ceiling PORT TARGET_URL BEARER_TOKEN";
    let (Some(port), Some(url), Some(token)) = (args.next(), args.next(), args.next()) else {
        return Err(usage.into());
    };
    let target = Target {
        client: Client::builder(TokioExecutor::new()).build_http(),
        uri: url.parse()?,
        authorization: HeaderValue::from_str(&format!("Bearer {token}"))?,
    };
    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>()?)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let target = target.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| forward(target.clone(), request));
            // A connection the load generator drops at the end of a run is not an error here.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Sends `request`'s body to the target and answers with the target's status (502 when the
/// target cannot be reached).
async fn forward(
    target: Target,
    request: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let status = match relay(&target, request).await {
        Ok(status) => status,
        Err(_) => StatusCode::BAD_GATEWAY,
    };
    let mut response = Response::new(Empty::new());
    *response.status_mut() = status;
    Ok(response)
}

async fn relay(
    target: &Target,
    request: Request<Incoming>,
) -> Result<StatusCode, Box<dyn std::error::Error + Send + Sync>> {
    let body = request.into_body().collect().await?.to_bytes();
    let outgoing = Request::builder()
        .method(Method::POST)
        .uri(target.uri.clone())
        .header(CONTENT_TYPE, "application/json")
        .header(AUTHORIZATION, target.authorization.clone())
        .body(Full::new(body))?;
    let response = target.client.request(outgoing).await?;
    let status = response.status();
    response.into_body().collect().await?;
    Ok(status)
}
