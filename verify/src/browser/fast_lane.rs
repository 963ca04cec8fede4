//! A second DevTools connection to one tab for the calls made most (evaluations, navigation,
//! input) and for the tab's events (console, lifecycle, dialogs). headless_chrome's transport
//! holds its socket lock through a 100 ms blocking read, so each call it makes waits up to
//! 100 ms for its turn; here a reader thread owns the read half and writers use a cloned
//! stream, so a round trip costs what Chromium takes to answer, and an event reaches its
//! handler as soon as Chromium sends it.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use serde_json::{Value, json};
use tungstenite::WebSocket;
use tungstenite::protocol::{Message, Role};

type Pending = Arc<Mutex<HashMap<u64, mpsc::SyncSender<Value>>>>;
type Writer = Arc<Mutex<WebSocket<TcpStream>>>;

/// Handles one event of the attached tab (`method`, `params`); what it returns is sent
/// back on the tab's session without waiting for an answer (a dialog's dismissal).
pub(crate) type EventHandler = Box<dyn Fn(&str, &Value) -> Option<(&'static str, Value)> + Send>;

/// An answer still to come: see `FastLane::begin`.
pub(crate) struct Call {
    id: u64,
    method: String,
    receiver: mpsc::Receiver<Value>,
}

pub(crate) struct FastLane {
    writer: Writer,
    pending: Pending,
    next_id: AtomicU64,
    session_id: String,
}

impl FastLane {
    /// Connect to the browser endpoint and attach to `target_id` as a flat session whose
    /// events go to `on_event`.
    pub(crate) fn attach(
        browser_ws_url: &str,
        target_id: &str,
        timeout: Duration,
        on_event: EventHandler,
    ) -> Result<Self, String> {
        let mut lane = Self::connect(browser_ws_url, timeout, on_event)?;
        let attached = lane.call_browser(
            "Target.attachToTarget",
            &json!({ "targetId": target_id, "flatten": true }),
            timeout,
        )?;
        attached["sessionId"]
            .as_str()
            .ok_or_else(|| format!("attachToTarget answered {attached}"))?
            .clone_into(&mut lane.session_id);
        Ok(lane)
    }

    /// Connect to the browser endpoint with no tab attached: only `call_browser` is of use.
    pub(crate) fn connect(
        browser_ws_url: &str,
        timeout: Duration,
        on_event: EventHandler,
    ) -> Result<Self, String> {
        let address = browser_ws_url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| format!("unexpected DevTools URL {browser_ws_url}"))?;
        let stream =
            TcpStream::connect(address).map_err(|error| format!("DevTools connect: {error}"))?;
        stream
            .set_nodelay(true)
            .map_err(|error| error.to_string())?;
        // Bound the handshake; afterwards the reader blocks until the socket closes.
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|error| error.to_string())?;
        let (reader, _) = tungstenite::client(browser_ws_url, stream)
            .map_err(|error| format!("DevTools handshake: {error}"))?;
        reader
            .get_ref()
            .set_read_timeout(None)
            .map_err(|error| error.to_string())?;
        let write_half = reader
            .get_ref()
            .try_clone()
            .map_err(|error| error.to_string())?;
        let writer: Writer = Arc::new(Mutex::new(WebSocket::from_raw_socket(
            write_half,
            Role::Client,
            None,
        )));
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let sink = Arc::clone(&pending);
        let replies = Arc::clone(&writer);
        std::thread::Builder::new()
            .name("baton-verify-devtools".to_owned())
            .spawn(move || read_loop(reader, &sink, &replies, &on_event))
            .map_err(|error| error.to_string())?;
        Ok(Self {
            writer,
            pending,
            next_id: AtomicU64::new(1),
            session_id: String::new(),
        })
    }

    /// Call a method on the attached tab and return its `result`.
    pub(crate) fn call(
        &self,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> Result<Value, String> {
        self.send(Some(&self.session_id), method, params, timeout)
    }

    /// Call a browser-level method (`Target.*`) and return its `result`.
    pub(crate) fn call_browser(
        &self,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> Result<Value, String> {
        self.send(None, method, params, timeout)
    }

    /// Send a browser-level call whose answer nobody waits for.
    pub(crate) fn notify_browser(&self, method: &str, params: &Value) -> Result<(), String> {
        // The reader drops the answer: its receiver is gone with the `Call`.
        self.start(None, method, params).map(drop)
    }

    /// Send a call on the attached tab without waiting: several calls in flight share one
    /// round trip (Chromium runs them in order). `finish` collects the answer.
    pub(crate) fn begin(&self, method: &str, params: &Value) -> Result<Call, String> {
        self.start(Some(&self.session_id), method, params)
    }

    /// Wait for the answer to a call sent by `begin`.
    pub(crate) fn finish(&self, call: Call, timeout: Duration) -> Result<Value, String> {
        let Call {
            id,
            method,
            receiver,
        } = call;
        let answer = receiver.recv_timeout(timeout).map_err(|error| {
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
            match error {
                mpsc::RecvTimeoutError::Timeout => {
                    format!("{method} did not finish within {} ms", timeout.as_millis())
                }
                mpsc::RecvTimeoutError::Disconnected => {
                    format!("{method}: the DevTools connection closed")
                }
            }
        })?;
        match answer.get("error") {
            Some(error) => Err(format!(
                "{method}: {}",
                error["message"].as_str().unwrap_or("error")
            )),
            None => Ok(answer["result"].clone()),
        }
    }

    fn send(
        &self,
        session: Option<&str>,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> Result<Value, String> {
        let call = self.start(session, method, params)?;
        self.finish(call, timeout)
    }

    fn start(&self, session: Option<&str>, method: &str, params: &Value) -> Result<Call, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = mpsc::sync_channel(1);
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, sender);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = Value::from(session);
        }
        let written = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(Message::text(message.to_string()));
        if let Err(error) = written {
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
            return Err(format!("DevTools write: {error}"));
        }
        Ok(Call {
            id,
            method: method.to_owned(),
            receiver,
        })
    }
}

impl Drop for FastLane {
    fn drop(&mut self) {
        // Closing the write half ends the reader's blocking read too.
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writer.get_ref().shutdown(std::net::Shutdown::Both);
    }
}

fn read_loop(
    mut reader: WebSocket<TcpStream>,
    pending: &Pending,
    writer: &Writer,
    on_event: &EventHandler,
) {
    // Replies take ids from the top of the range so they never meet a caller's id.
    let mut reply_id = u64::MAX;
    while let Ok(message) = reader.read() {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if let Some(id) = value.get("id").and_then(Value::as_u64)
            && let Some(sender) = pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id)
        {
            let _ = sender.send(value);
        } else if let Some(method) = value.get("method").and_then(Value::as_str)
            && let Some((reply, params)) = on_event(method, &value["params"])
        {
            let mut message = json!({ "id": reply_id, "method": reply, "params": params });
            if let Some(session) = value.get("sessionId") {
                message["sessionId"] = session.clone();
            }
            reply_id -= 1;
            let _ = writer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .send(Message::text(message.to_string()));
        }
    }
    // Dropping the senders wakes every waiting caller with an error.
    pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}
