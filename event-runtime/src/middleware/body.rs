//! [`CaptureBody`]: passes a body through unchanged while copying its first bytes aside.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Buf;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// Up to `limit` bytes of a body; past that only the fact that it was larger.
pub(crate) struct Captured {
    pub bytes: Vec<u8>,
    pub limit: usize,
    pub truncated: bool,
}

impl Captured {
    pub fn shared(limit: usize) -> Arc<Mutex<Captured>> {
        Arc::new(Mutex::new(Captured::new(limit)))
    }

    pub fn new(limit: usize) -> Captured {
        Captured {
            bytes: Vec::new(),
            limit,
            truncated: false,
        }
    }

    /// Copies a frame's data, which may come in several pieces.
    pub fn push_buf(&mut self, data: &impl Buf) {
        let mut slices = [IoSlice::new(&[]); 64];
        let n = data.chunks_vectored(&mut slices);
        if slices[..n].iter().map(|s| s.len()).sum::<usize>() != data.remaining() {
            // More pieces than we look at: record it as too large rather than guess.
            self.truncated = true;
            self.bytes = Vec::new();
            return;
        }
        for slice in &slices[..n] {
            self.push(slice);
        }
    }

    fn push(&mut self, data: &[u8]) {
        if self.truncated {
            return;
        }
        if self.bytes.len() + data.len() > self.limit {
            self.truncated = true;
            self.bytes = Vec::new();
        } else {
            self.bytes.extend_from_slice(data);
        }
    }
}

type OnEnd = Box<dyn FnOnce() + Send>;

pin_project! {
    /// The response body as the audit layer returns it: every frame passes through unchanged;
    /// for a 4xx/5xx JSON response the data is also copied aside (up to the payload cap); the
    /// audit entry is emitted when the body ends or is dropped. Once the body has ended it is
    /// not polled again.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use std::time::Duration;
    /// use http_body_util::BodyExt;
    /// use kafka_events::middleware::{AuditLayer, CaptureBody};
    /// use kafka_events::{AuditEntry, MemoryProducer};
    /// use tower::{Layer, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let producer = MemoryProducer::new();
    /// let service = AuditLayer::new(producer.clone()).layer(tower::service_fn(
    ///     |_request: http::Request<_>| async {
    ///         let body = r#"{"error":"unknown sku","token":"t-1"}"#.to_owned();
    ///         let response = http::Response::builder().status(422);
    ///         Ok::<_, Infallible>(response.header("content-type", "application/json").body(body).unwrap())
    ///     },
    /// ));
    /// let request = http::Request::get("/orders/x").body(String::new())?;
    /// let response: http::Response<CaptureBody<String>> = service.oneshot(request).await?;
    /// let body = response.into_body().collect().await?.to_bytes();
    /// assert_eq!(body, r#"{"error":"unknown sku","token":"t-1"}"#); // the client's copy, unchanged
    ///
    /// producer.wait_for(1, Duration::from_secs(5)).await?;
    /// let entry = &producer.events::<AuditEntry>()?[0];
    /// let recorded = serde_json::json!({"error": "unknown sku", "token": "***"});
    /// assert_eq!(entry.response_payload.as_ref().unwrap(), &recorded);
    /// # Ok(())
    /// # }
    /// ```
    pub struct CaptureBody<B> {
        #[pin]
        inner: B,
        captured: Option<Arc<Mutex<Captured>>>,
        on_end: Option<OnEnd>,
        ended: bool,
    }

    impl<B> PinnedDrop for CaptureBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(on_end) = this.project().on_end.take() {
                on_end();
            }
        }
    }
}

impl<B> CaptureBody<B> {
    pub(crate) fn passthrough(inner: B) -> Self {
        CaptureBody {
            inner,
            captured: None,
            on_end: None,
            ended: false,
        }
    }

    pub(crate) fn new(
        inner: B,
        captured: Option<Arc<Mutex<Captured>>>,
        on_end: Option<OnEnd>,
    ) -> Self {
        CaptureBody {
            inner,
            captured,
            on_end,
            ended: false,
        }
    }
}

impl<B> Body for CaptureBody<B>
where
    B: Body,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(captured), Some(data)) = (this.captured.as_ref(), frame.data_ref()) {
                    captured
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push_buf(data);
                }
            }
            Poll::Ready(None) => {
                *this.ended = true;
                if let Some(on_end) = this.on_end.take() {
                    on_end();
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.ended {
            return SizeHint::with_exact(0);
        }
        self.inner.size_hint()
    }
}

/// The request body as the audit layer hands it to your service: the frames it read ahead (to
/// record the payload) followed by the rest of the original body, so your handler receives the
/// same bytes, frames and trailers, in the same order, whatever they contain. Once the original
/// body has ended it is not polled again.
///
/// ```
/// use std::convert::Infallible;
/// use bytes::Bytes;
/// use http_body_util::{BodyExt, Full};
/// use kafka_events::MemoryProducer;
/// use kafka_events::middleware::{AuditBody, AuditLayer};
/// use tower::{Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Behind the layer, the handler's request body is an `AuditBody` of the original one.
/// let echo = tower::service_fn(|request: http::Request<AuditBody<Full<Bytes>>>| async move {
///     let bytes = request.into_body().collect().await?.to_bytes();
///     Ok::<_, Infallible>(http::Response::new(Full::new(bytes)))
/// });
/// let service = AuditLayer::new(MemoryProducer::new()).layer(echo);
/// let request = http::Request::post("/orders").header("content-type", "application/json");
/// let response = service.oneshot(request.body(Full::from(r#"{"sku":"A-1"}"#))?).await?;
/// // Read ahead for the entry, and still handed on whole.
/// assert_eq!(response.into_body().collect().await?.to_bytes(), r#"{"sku":"A-1"}"#);
/// # Ok(())
/// # }
/// ```
pub struct AuditBody<B: Body> {
    /// The frames read ahead, in order: the first here (a body most often comes in one frame,
    /// so most requests make no queue), the others after it.
    first: Option<Frame<B::Data>>,
    read_ahead: VecDeque<Frame<B::Data>>,
    error: Option<B::Error>,
    rest: Pin<Box<B>>,
    /// The original body returned its end.
    ended: bool,
}

impl<B: Body> AuditBody<B> {
    pub(crate) fn new(body: Pin<Box<B>>) -> Self {
        AuditBody {
            first: None,
            read_ahead: VecDeque::new(),
            error: None,
            rest: body,
            ended: false,
        }
    }
}

impl<B: Body> Unpin for AuditBody<B> {}

/// What polling a body for its next frame gives.
type Polled<B> = Poll<Option<Result<Frame<<B as Body>::Data>, <B as Body>::Error>>>;

impl<B: Body> AuditBody<B> {
    /// The original body's next frame; never polled again after its end.
    fn poll_rest(&mut self, cx: &mut Context<'_>) -> Polled<B> {
        if self.ended {
            return Poll::Ready(None);
        }
        let polled = self.rest.as_mut().poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.ended = true;
        }
        polled
    }
}

impl<B: Body> Body for AuditBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(frame) = this.first.take().or_else(|| this.read_ahead.pop_front()) {
            return Poll::Ready(Some(Ok(frame)));
        }
        if let Some(error) = this.error.take() {
            return Poll::Ready(Some(Err(error)));
        }
        this.poll_rest(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none()
            && self.read_ahead.is_empty()
            && self.error.is_none()
            && (self.ended || self.rest.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if self.is_end_stream() {
            return SizeHint::with_exact(0);
        }
        let ahead: u64 = (self.first.iter().chain(&self.read_ahead))
            .filter_map(|f| f.data_ref())
            .map(|d| d.remaining() as u64)
            .sum();
        if self.ended && self.error.is_none() {
            // Nothing more comes from the original body: what was read ahead is all.
            return SizeHint::with_exact(ahead);
        }
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + ahead);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + ahead);
        }
        hint
    }
}

/// Reads `body` ahead until more than `captured.limit` bytes or its end, keeping every frame
/// (for [`AuditBody`]) and a copy of the data (in `captured`).
pub(crate) fn poll_read_ahead<B: Body>(
    body: &mut AuditBody<B>,
    captured: &mut Captured,
    cx: &mut Context<'_>,
) -> Poll<()> {
    loop {
        if captured.truncated || body.error.is_some() || body.ended {
            return Poll::Ready(());
        }
        match body.poll_rest(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(()),
            Poll::Ready(Some(Err(error))) => body.error = Some(error),
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    captured.push_buf(data);
                }
                if body.first.is_none() && body.read_ahead.is_empty() {
                    body.first = Some(frame);
                } else {
                    body.read_ahead.push_back(frame);
                }
            }
        }
    }
}

/// Whether a request or response body is JSON (and so captured).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    // Compared without case and without a copy: this runs for every request.
    let essence = value
        .as_bytes()
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default();
    let essence = essence.trim_ascii();
    let starts = |prefix: &[u8]| {
        essence
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    let ends = |suffix: &[u8]| {
        essence.len() >= suffix.len()
            && essence[essence.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    essence.eq_ignore_ascii_case(b"application/json") || (starts(b"application/") && ends(b"+json"))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use http::HeaderMap;
    use http::header::{CONTENT_TYPE, HeaderValue};
    use http_body::{Body, Frame};
    use http_body_util::BodyExt;

    use super::{AuditBody, Captured, poll_read_ahead};

    /// A body of the given frames (and errors), in order.
    struct Frames(VecDeque<Result<Frame<Bytes>, &'static str>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = &'static str;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front())
        }
    }

    fn data(text: &'static str) -> Frame<Bytes> {
        Frame::data(Bytes::from_static(text.as_bytes()))
    }

    /// `body` read ahead with a cap of `limit` bytes.
    fn read_ahead(frames: Frames, limit: usize) -> AuditBody<Frames> {
        let mut body = AuditBody::new(Box::pin(frames));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let ready = poll_read_ahead(&mut body, &mut Captured::new(limit), &mut cx);
        assert!(ready.is_ready());
        body
    }

    /// The body's next frame (its data or trailers as text) or error.
    fn next(body: &mut AuditBody<Frames>) -> Option<Result<String, &'static str>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let Poll::Ready(polled) = Pin::new(body).poll_frame(&mut cx) else {
            panic!("pending")
        };
        polled.map(|frame| {
            frame.map(|frame| match frame.into_data() {
                Ok(data) => String::from_utf8(data.to_vec()).unwrap(),
                Err(frame) => format!("{:?}", frame.into_trailers().ok()),
            })
        })
    }

    #[tokio::test]
    async fn frames_read_ahead_go_on_in_their_order_with_those_after_them() {
        let trailers = HeaderMap::from_iter([(CONTENT_TYPE, HeaderValue::from_static("x/y"))]);
        let frames = || {
            Frames(VecDeque::from([
                Ok(data("{\"a\":")),
                Ok(data("1,")),
                Ok(data("\"b\":2}")),
                Ok(Frame::trailers(trailers.clone())),
            ]))
        };
        // The cap decides how many are read ahead (and their bytes): one, two, or every frame.
        for (limit, ahead, bytes) in [(0, 1, 5), (6, 2, 7), (1024, 4, 13)] {
            let body = read_ahead(frames(), limit);
            let read = body.first.iter().count() + body.read_ahead.len();
            assert_eq!(read, ahead, "limit {limit}");
            // The original body says nothing of its size: at least what was read ahead.
            assert_eq!(body.size_hint().lower(), bytes, "limit {limit}");
            let collected = body.collect().await.unwrap();
            assert_eq!(collected.trailers(), Some(&trailers), "limit {limit}");
            assert_eq!(collected.to_bytes(), r#"{"a":1,"b":2}"#, "limit {limit}");
        }
    }

    #[test]
    fn an_error_read_ahead_comes_after_the_frames_before_it() {
        let frames = Frames(VecDeque::from([
            Ok(data("a")),
            Ok(data("b")),
            Err("broken"),
        ]));
        let mut body = read_ahead(frames, 1024);
        for expected in [Some(Ok("a")), Some(Ok("b")), Some(Err("broken")), None] {
            assert!(!body.is_end_stream() || expected.is_none());
            assert_eq!(next(&mut body), expected.map(|e| e.map(str::to_owned)));
        }
    }

    #[test]
    fn a_body_read_whole_ends_after_its_one_frame() {
        let mut body = read_ahead(Frames(VecDeque::from([Ok(data("x"))])), 1024);
        // The original body has ended; its frame has not been handed on yet.
        assert!(body.ended);
        assert!(!body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(1));
        assert_eq!(next(&mut body), Some(Ok("x".to_owned())));
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert_eq!(next(&mut body), None);
    }

    #[test]
    fn json_media_types_without_case_and_parameters() {
        let is_json = |value: &[u8]| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_bytes(value).unwrap());
            super::is_json(&headers)
        };
        let cases: [(&[u8], bool); 13] = [
            (b"application/json", true),
            (b"Application/JSON; charset=utf-8", true),
            (b" application/json ;q=1", true),
            (b"application/vnd.api+json", true),
            (b"APPLICATION/PROBLEM+JSON", true),
            (b"text/json", false),
            (b"application/jsonx", false),
            (b"application/json-seq", false),
            (b"text/plain; a=application/json", false),
            (b"+json", false),
            (b"application/", false),
            (b"", false),
            (b"application/\xff+json", false),
        ];
        for (value, json) in cases {
            assert_eq!(is_json(value), json, "{}", String::from_utf8_lossy(value));
        }
        assert!(!super::is_json(&HeaderMap::new()));
    }
}
