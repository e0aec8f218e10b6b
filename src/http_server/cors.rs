//! CORS only where it applies. tower-http's CORS service builds and merges a header map for
//! every response, about a fifth of the instructions of a `GET /` (`docs/performance.md`, "Where
//! the instructions go"), also for same-origin and server-to-server calls, which send no
//! `Origin`. [`CrossOriginOnly`] sends cross-origin requests and preflights through it and gives
//! every other request the two headers it adds to such a request with credentials allowed (a
//! `Vary` on the request headers CORS reads, and `Access-Control-Allow-Credentials: true`), set
//! directly, so the answers do not change. Whether the layer adds exactly those is checked once,
//! by asking it; a layer that adds anything else gets every request.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::response::Response;
use futures_util::future::{Either, FutureExt, Map};
use tower::{Layer, Service, ServiceExt};
use tower_http::cors::{Cors, CorsLayer, ResponseFuture};

/// The `Vary` tower-http's CORS service adds to every answer.
const VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);
const TRUE: HeaderValue = HeaderValue::from_static("true");

/// A [`CorsLayer`] applied to cross-origin requests and preflights only.
#[derive(Clone)]
pub struct CrossOriginOnly {
    cors: CorsLayer,
    /// Whether `cors` adds exactly [`same_origin`]'s headers to a request without `Origin`.
    bypass: bool,
}

impl CrossOriginOnly {
    /// Wraps `cors`, after checking what it adds to a request without `Origin`.
    pub fn new(cors: CorsLayer) -> Self {
        let probe = cors.layer(tower::service_fn(|_: Request| async {
            Ok::<_, Infallible>(Response::new(Body::empty()))
        }));
        let added = probe
            .oneshot(Request::new(Body::empty()))
            .now_or_never()
            .and_then(Result::ok)
            .map(|response| response.into_parts().0.headers);
        let expected = same_origin(Ok(Response::new(Body::empty())))
            .map(|response| response.into_parts().0.headers)
            .ok();
        Self {
            bypass: added.is_some() && added == expected,
            cors,
        }
    }
}

impl<S: Clone> Layer<S> for CrossOriginOnly {
    type Service = CrossOrigin<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CrossOrigin {
            cors: self.cors.layer(inner.clone()),
            inner,
            bypass: self.bypass,
        }
    }
}

/// The service of [`CrossOriginOnly`].
#[derive(Clone)]
pub struct CrossOrigin<S> {
    cors: Cors<S>,
    inner: S,
    bypass: bool,
}

type Answer = Result<Response, Infallible>;

impl<S> Service<Request> for CrossOrigin<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<ResponseFuture<S::Future>, Map<S::Future, fn(Answer) -> Answer>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        match self.cors.poll_ready(cx) {
            Poll::Ready(Ok(())) => self.inner.poll_ready(cx),
            other => other,
        }
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let cross_origin =
            request.method() == Method::OPTIONS || request.headers().contains_key(header::ORIGIN);
        if cross_origin || !self.bypass {
            return Either::Left(self.cors.call(request));
        }
        Either::Right(
            self.inner
                .call(request)
                .map(same_origin as fn(Answer) -> Answer),
        )
    }
}

/// The answer to a request without `Origin` with what tower-http adds to it: `Vary` appended to
/// the route's, `Allow-Credentials` replacing it.
fn same_origin(answer: Answer) -> Answer {
    answer.map(|mut response| {
        let headers = response.headers_mut();
        headers.append(header::VARY, VARY);
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        response
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;
    use axum::routing::get;
    use axum::Router;
    use tower_http::cors::{AllowHeaders, AllowOrigin};

    fn layer() -> CorsLayer {
        CorsLayer::new()
            .allow_origin(AllowOrigin::mirror_request())
            .allow_credentials(true)
            .allow_headers(AllowHeaders::mirror_request())
    }

    async fn answer(router: Router, request: Request) -> HeaderMap {
        router
            .oneshot(request)
            .await
            .unwrap()
            .into_parts()
            .0
            .headers
    }

    #[tokio::test]
    async fn every_request_is_answered_as_tower_http_answers_it() {
        let route = || {
            Router::new().route(
                "/",
                get(|| async { ([(header::VARY, "accept-encoding")], "ok") }).post(|| async {}),
            )
        };
        let ours = CrossOriginOnly::new(layer());
        assert!(ours.bypass, "the usual layer takes the short path");
        let requests = || {
            let with = |method: &str, origin: Option<&str>| {
                let mut request = Request::builder().method(method).uri("/");
                if let Some(origin) = origin {
                    request = request.header(header::ORIGIN, origin);
                }
                request.body(Body::empty()).unwrap()
            };
            [
                with("GET", None),
                with("POST", None),
                with("GET", Some("http://localhost:5173")),
                with("OPTIONS", Some("http://localhost:5173")),
                with("OPTIONS", None),
            ]
        };
        for (a, b) in requests().into_iter().zip(requests()) {
            let label = format!("{} {:?}", a.method(), a.headers().get(header::ORIGIN));
            let theirs = answer(route().layer(layer()), a).await;
            let mine = answer(route().layer(ours.clone()), b).await;
            assert_eq!(mine, theirs, "{label}");
        }
    }

    #[test]
    fn a_layer_that_adds_other_headers_gets_every_request() {
        let without_credentials = CorsLayer::new().allow_origin(AllowOrigin::mirror_request());
        assert!(!CrossOriginOnly::new(without_credentials).bypass);
    }
}
