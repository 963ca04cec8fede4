//! The runner's observer seam: whoever watches a thread run hears each fact as the runner
//! records it, with the thread's state at that moment. The terminal's progress lines
//! (`display::ProgressLines`) are one observer; the control channel, which feeds the TUI and
//! the dashboard, hears the same events through `Steering::observe`.

use crate::events::Event;
use crate::state::ThreadState;

/// Hears every event the runner records, before it reaches the tape.
pub trait Observer: Send {
    fn recorded(&mut self, state: &ThreadState, event: &Event);
}
