//! Event keys: [`EventKey`], the types that can key a record (UUIDs, integers, strings), and
//! [`Key`], their bytes in the canonical form the Go services send.

use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use uuid::Uuid;

/// The bytes of an event key, borrowed from the event or formatted into an inline buffer (UUIDs
/// and integers), so that taking a key does not allocate.
///
/// ```
/// use kafka_events::{AuditEntry, EventKey, KafkaEvent, Key};
///
/// let entry = AuditEntry::new();
/// // An event's key is its key field in canonical form: here, the hyphenated UUID.
/// assert_eq!(entry.key(), entry.id.to_key());
/// assert_eq!(entry.key().as_bytes(), entry.id.to_string().as_bytes());
///
/// let key = Key::borrowed(b"tenant-7");
/// assert_eq!(key.as_bytes(), b"tenant-7");
/// assert_eq!(format!("{:?}", 42u64.to_key()), r#"Key("42")"#);
/// ```
#[derive(Clone)]
pub struct Key<'a>(Repr<'a>);

#[derive(Clone)]
enum Repr<'a> {
    Borrowed(&'a [u8]),
    Inline { buf: [u8; Key::INLINE], len: u8 },
}

impl<'a> Key<'a> {
    /// Long enough for a hyphenated UUID (36) and any `i128` (40).
    const INLINE: usize = 40;

    /// A key made of these bytes.
    pub fn borrowed(bytes: &'a [u8]) -> Self {
        Key(Repr::Borrowed(bytes))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Borrowed(bytes) => bytes,
            Repr::Inline { buf, len } => &buf[..usize::from(*len)],
        }
    }

    fn inline(bytes: &[u8]) -> Key<'static> {
        let mut buf = [0u8; Key::INLINE];
        buf[..bytes.len()].copy_from_slice(bytes);
        Key(Repr::Inline {
            buf,
            len: bytes.len() as u8,
        })
    }
}

impl AsRef<[u8]> for Key<'_> {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key<'_> {}

impl fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.as_bytes()) {
            Ok(text) => write!(f, "Key({text:?})"),
            Err(_) => write!(f, "Key({:?})", self.as_bytes()),
        }
    }
}

/// A type that can key a Kafka record. Key bytes are the canonical string form the Go services
/// send: a hyphenated lower-case UUID, a decimal integer, a string as it is.
///
/// Implement it for your own id newtypes by delegating to the inner value.
///
/// ```
/// use kafka_events::{EventKey, KafkaEvent, Key};
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct TenantId(uuid::Uuid);
///
/// impl EventKey for TenantId {
///     fn to_key(&self) -> Key<'_> {
///         self.0.to_key()
///     }
/// }
///
/// #[derive(Serialize, KafkaEvent)]
/// #[event(topic = "tenants", key = "tenant_id", type = "tenant.created")]
/// struct TenantCreated {
///     tenant_id: TenantId,
///     name: String,
/// }
///
/// let id = uuid::Uuid::new_v4();
/// let created = TenantCreated { tenant_id: TenantId(id), name: "acme".into() };
/// assert_eq!(created.key().as_bytes(), id.to_string().as_bytes());
/// assert_eq!((-7i64).to_key().as_bytes(), b"-7");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a Kafka event key",
    label = "not a key type",
    note = "a key field must be a `Uuid`, `String`, `&str`, `Cow<str>` or an integer (or implement `EventKey`)",
    note = "an `Option` is never a key: a Kafka event key is never absent"
)]
pub trait EventKey {
    /// The key bytes.
    fn to_key(&self) -> Key<'_>;
}

impl EventKey for Uuid {
    fn to_key(&self) -> Key<'_> {
        Key::uuid(*self)
    }
}

impl Key<'_> {
    /// A UUID's key, hyphenated and lower-case (an envelope's id).
    pub(crate) fn uuid(id: Uuid) -> Key<'static> {
        let mut buf = Uuid::encode_buffer();
        Key::inline(id.hyphenated().encode_lower(&mut buf).as_bytes())
    }
}

impl EventKey for str {
    fn to_key(&self) -> Key<'_> {
        Key::borrowed(self.as_bytes())
    }
}

macro_rules! string_keys {
    ($($ty:ty),*) => {$(
        impl EventKey for $ty {
            fn to_key(&self) -> Key<'_> {
                Key::borrowed(AsRef::<str>::as_ref(self).as_bytes())
            }
        }
    )*};
}

string_keys!(String, Cow<'_, str>, Box<str>, Arc<str>, Rc<str>);

macro_rules! integer_keys {
    ($($ty:ty),*) => {$(
        impl EventKey for $ty {
            fn to_key(&self) -> Key<'_> {
                Key::inline(itoa::Buffer::new().format(*self).as_bytes())
            }
        }
    )*};
}

integer_keys!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

impl<T: EventKey + ?Sized> EventKey for &T {
    fn to_key(&self) -> Key<'_> {
        (**self).to_key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_key_bytes() {
        let id = Uuid::parse_str("6F9619FF-8B86-D011-B42D-00C04FC964FF").unwrap();
        assert_eq!(
            id.to_key().as_bytes(),
            b"6f9619ff-8b86-d011-b42d-00c04fc964ff"
        );
        assert_eq!(
            i128::MIN.to_key().as_bytes(),
            i128::MIN.to_string().as_bytes()
        );
        assert_eq!(
            u128::MAX.to_key().as_bytes(),
            u128::MAX.to_string().as_bytes()
        );
        assert_eq!((-7i32).to_key().as_bytes(), b"-7");
        assert_eq!("tenant-1".to_key().as_bytes(), b"tenant-1");
        assert_eq!(String::from("x").to_key().as_bytes(), b"x");
        assert_eq!(Cow::Borrowed("y").to_key().as_bytes(), b"y");
        assert_eq!(format!("{:?}", 5u8.to_key()), "Key(\"5\")");
    }
}
