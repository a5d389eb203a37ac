//! The companion's own HTTP endpoint: `/healthz`, `/readyz`, `/metrics`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// The default listen address.
pub const DEFAULT_ADDR: &str = "0.0.0.0:8080";

/// What the endpoints report.
pub struct State {
    /// `/readyz`: a follower is ready; the leader once its watch has synced.
    pub ready: AtomicBool,
    pub metrics: Arc<Metrics>,
}

impl State {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        State { ready: AtomicBool::new(false), metrics }
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

/// Answers one request.
pub fn respond(state: &State, method: &Method, path: &str) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: String, content_type: &'static str| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
        response
    };
    const PLAIN: &str = "text/plain; charset=utf-8";
    if method != Method::GET && method != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n".into(), PLAIN);
    }
    match path {
        "/healthz" | "/livez" => text(StatusCode::OK, "ok\n".into(), PLAIN),
        "/readyz" if state.ready.load(Ordering::SeqCst) => text(StatusCode::OK, "ok\n".into(), PLAIN),
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n".into(), PLAIN),
        "/metrics" => text(StatusCode::OK, state.metrics.render(), "text/plain; version=0.0.4; charset=utf-8"),
        _ => text(StatusCode::NOT_FOUND, "not found\n".into(), PLAIN),
    }
}

/// Serves on `listener` until the process ends.
pub async fn serve(listener: TcpListener, state: Arc<State>) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving /healthz, /readyz and /metrics");
    }
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let response = respond(&state, request.method(), request.uri().path());
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            // Scrapers are small: a connection lives at most a minute.
            if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(60), connection).await {
                tracing::debug!(error = %e, "http connection ended");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(r: Response<Full<Bytes>>) -> String {
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn endpoints() {
        let state = State::new(Arc::new(Metrics::default()));
        assert_eq!(respond(&state, &Method::GET, "/healthz").status(), StatusCode::OK);
        assert_eq!(respond(&state, &Method::GET, "/readyz").status(), StatusCode::SERVICE_UNAVAILABLE);
        state.set_ready(true);
        assert_eq!(respond(&state, &Method::GET, "/readyz").status(), StatusCode::OK);
        let metrics = respond(&state, &Method::GET, "/metrics");
        assert_eq!(metrics.status(), StatusCode::OK);
        assert!(body(metrics).await.contains("# TYPE tcpc_reconcile_total counter"));
        assert_eq!(respond(&state, &Method::GET, "/nope").status(), StatusCode::NOT_FOUND);
        assert_eq!(respond(&state, &Method::POST, "/healthz").status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn serves_over_tcp() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let state = Arc::new(State::new(Arc::new(Metrics::default())));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, state.clone()));
        let mut stream = None;
        for _ in 0..50 {
            if let Ok(s) = tokio::net::TcpStream::connect(addr).await {
                stream = Some(s);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut stream = stream.expect("server up");
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut response = String::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response)).await.unwrap().unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.ends_with("ok\n"));
        server.abort();
    }
}
