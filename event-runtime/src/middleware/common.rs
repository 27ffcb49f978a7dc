//! What both layers share: their configuration ([`Common`]) and the builder methods that set
//! it.

use std::sync::Arc;

use uuid::Uuid;

use super::client::TrustedProxies;
use super::hooks::{IdentityFromExtensions, IdentityHook};
use super::mask::Masker;
use super::request::RequestInfo;
use crate::producer::Producer;

/// The builder methods both layers have, each setting a field of their [`Common`].
macro_rules! common_builders {
    () => {
        /// The `service` field of every event.
        pub fn service_name(self, name: impl Into<String>) -> Self {
            let name = name.into();
            self.with_common(|c| c.service = name)
        }

        /// How to read the caller's identity from the request as it reaches this layer (by
        /// default the [`Identity`](super::Identity) in its extensions). One attached inside the
        /// layer ([`Identity::attach`](super::Identity::attach)) takes precedence.
        pub fn identity(self, hook: impl IdentityHook) -> Self {
            let hook = Arc::new(hook);
            self.with_common(|c| c.identity = hook)
        }

        /// Leaves requests to this exact path out (e.g. `/health`).
        pub fn skip_path(self, path: impl Into<String>) -> Self {
            let path = path.into();
            self.with_common(|c| c.skip_paths.push(path))
        }

        /// Leaves out requests for which `skip` returns true.
        pub fn skip_if(
            self,
            skip: impl Fn(&RequestInfo<'_>) -> bool + Send + Sync + 'static,
        ) -> Self {
            let skip = Arc::new(skip);
            self.with_common(|c| c.skip_if = Some(skip))
        }

        /// Which proxies may say who the client is (see [`TrustedProxies`]; none by default:
        /// the client is the peer address).
        pub fn trusted_proxies(self, proxies: TrustedProxies) -> Self {
            self.with_common(|c| c.proxies = proxies)
        }

        /// The product the service bills (`product_id` of usage events).
        pub fn product_id(self, id: uuid::Uuid) -> Self {
            self.with_common(|c| c.product_id = Some(id))
        }

        /// The memory the service is billed for, in MiB (`memory_mb` of usage events).
        pub fn memory_mb(self, memory_mb: i16) -> Self {
            self.with_common(|c| c.memory_mb = memory_mb)
        }
    };
}

/// A predicate on requests to leave out.
pub(crate) type SkipIf = dyn Fn(&RequestInfo<'_>) -> bool + Send + Sync;

/// The configuration both layers share: where events go, the service, identity, which requests
/// to leave out, proxies, sensitive names, and the usage event's billing fields.
#[derive(Clone)]
pub(crate) struct Common {
    pub producer: Arc<dyn Producer>,
    pub service: String,
    pub identity: Arc<dyn IdentityHook>,
    pub skip_paths: Vec<String>,
    pub skip_if: Option<Arc<SkipIf>>,
    pub proxies: TrustedProxies,
    pub masker: Masker,
    pub product_id: Option<Uuid>,
    pub memory_mb: i16,
}

impl Common {
    pub fn new(producer: Arc<dyn Producer>) -> Self {
        Common {
            producer,
            service: String::new(),
            identity: Arc::new(IdentityFromExtensions),
            skip_paths: Vec::new(),
            skip_if: None,
            proxies: TrustedProxies::none(),
            masker: Masker::default(),
            product_id: None,
            memory_mb: 0,
        }
    }

    pub fn skips(&self, request: &RequestInfo<'_>) -> bool {
        self.skip_paths.iter().any(|p| p == request.uri.path())
            || self.skip_if.as_ref().is_some_and(|skip| skip(request))
    }
}
