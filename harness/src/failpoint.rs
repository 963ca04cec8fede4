//! Named kill points for crash tests. `BATON_FAILPOINT=name:n` makes the process SIGKILL
//! itself the n-th time it passes `failpoint("name")` — a real `kill -9` at an exact spot
//! (during a model call, mid tool call, between frames, inside a git commit), which timing
//! alone cannot hit reliably. Unset, a failpoint costs one atomic load.

use crate::env_vars;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

struct Armed {
    name: String,
    remaining: AtomicU32,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = env_vars::get(env_vars::FAILPOINT)?;
            let (name, count) = spec.split_once(':').unwrap_or((spec.as_str(), "1"));
            Some(Armed {
                name: name.to_owned(),
                remaining: AtomicU32::new(count.parse().unwrap_or(1).max(1)),
            })
        })
        .as_ref()
}

/// Kills this process with SIGKILL when the armed failpoint is reached for the n-th time.
pub fn failpoint(name: &str) {
    let Some(armed) = armed() else { return };
    if armed.name != name {
        return;
    }
    if armed.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
    }
}
