//! Dropping what must not be dropped where it is held: librdkafka's callbacks run on a
//! client's own polling thread, and dropping the last reference to the producers there would
//! join that very thread (std panics: "failed to join thread: Resource deadlock avoided").
//! A callback that upgrades a weak reference to them hands the strong one to this thread.

use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};

type Parcel = Box<dyn Send>;

/// Drops `value` on the reaper thread (started on first use). If that thread can't be
/// started, `value` is dropped here, as before.
pub(super) fn drop_elsewhere<T: Send + 'static>(value: T) {
    static REAPER: OnceLock<Option<std::sync::Mutex<Sender<Parcel>>>> = OnceLock::new();
    let reaper = REAPER.get_or_init(|| {
        let (tx, rx) = channel::<Parcel>();
        std::thread::Builder::new()
            .name("kafka-events-reaper".into())
            .spawn(move || {
                // Each parcel is dropped as it arrives; the thread lives as long as the process.
                for parcel in rx {
                    drop(parcel);
                }
            })
            .ok()
            .map(|_| std::sync::Mutex::new(tx))
    });
    let parcel: Parcel = Box::new(value);
    if let Some(sender) = reaper {
        let sender = sender.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(returned) = sender.send(parcel) {
            drop(sender);
            drop(returned.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    /// Dropped on another thread: the last reference's drop runs there.
    #[test]
    fn the_last_reference_is_dropped_on_the_reaper_thread() {
        struct Where(std::sync::mpsc::Sender<String>);
        impl Drop for Where {
            fn drop(&mut self) {
                let name = std::thread::current().name().unwrap_or("").to_owned();
                let _ = self.0.send(name);
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let last = Arc::new(Where(tx));
        super::drop_elsewhere(last);
        let dropped_on = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(dropped_on, "kafka-events-reaper");
    }
}
