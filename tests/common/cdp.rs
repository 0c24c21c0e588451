//! A minimal Chrome DevTools Protocol client over `--remote-debugging-pipe`
//! (commands on the browser's fd 3, replies and events on its fd 4, each
//! message ending in a NUL byte): enough to open a page headless, record
//! its console, errors and requests, run script in it and take a
//! screenshot, with no WebSocket stack to build.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium with one page attached.
pub struct Browser {
    child: Child,
    commands: File,
    replies: BufReader<File>,
    next_id: u64,
    session: Option<String>,
    /// Every event received, in order.
    pub events: Vec<Value>,
    done: Arc<AtomicBool>,
}

fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // Close-on-exec: the browser gets only the two ends dup'ed to 3 and 4.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    (fds[0], fds[1])
}

impl Browser {
    /// Starts Chromium with a fresh profile in `profile`, and kills it
    /// after `limit` whatever happens (a hung browser fails the test).
    pub fn launch(profile: &Path, limit: Duration) -> Browser {
        let (browser_reads, we_write) = pipe();
        let (we_read, browser_writes) = pipe();
        let mut command = Command::new(CHROMIUM);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-features=MediaRouter,OptimizationHints,Translate",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        unsafe {
            command.pre_exec(move || {
                // Out of the way first, in case an end is already 3 or 4.
                let r = libc::fcntl(browser_reads, libc::F_DUPFD, 10);
                let w = libc::fcntl(browser_writes, libc::F_DUPFD, 10);
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("chromium starts");
        unsafe {
            libc::close(browser_reads);
            libc::close(browser_writes);
        }
        let done = Arc::new(AtomicBool::new(false));
        let pid = child.id() as libc::pid_t;
        let watched = Arc::clone(&done);
        std::thread::spawn(move || {
            let step = Duration::from_millis(200);
            let mut waited = Duration::ZERO;
            while waited < limit {
                if watched.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(step);
                waited += step;
            }
            if !watched.load(Ordering::SeqCst) {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        });
        Browser {
            child,
            commands: unsafe { File::from_raw_fd(we_write) },
            replies: BufReader::new(unsafe { File::from_raw_fd(we_read) }),
            next_id: 1,
            session: None,
            events: Vec::new(),
            done,
        }
    }

    /// Sends a command (to the attached page, once there is one) and
    /// returns its result; events that arrive meanwhile are kept.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .expect("chromium takes commands");
        loop {
            let reply = self.read();
            if reply.get("id") == Some(&json!(id)) {
                if let Some(error) = reply.get("error") {
                    panic!("{method}: {error}");
                }
                return reply["result"].clone();
            }
            self.events.push(reply);
        }
    }

    fn read(&mut self) -> Value {
        let mut buf = Vec::new();
        let n = self
            .replies
            .read_until(0, &mut buf)
            .expect("chromium answers");
        assert!(n > 0, "chromium closed the pipe (crashed or timed out)");
        buf.pop();
        serde_json::from_slice(&buf).expect("a CDP message")
    }

    /// Opens a page target, attaches to it and enables the domains whose
    /// events the tests check.
    pub fn open_page(&mut self, width: u32, height: u32) {
        let target = self.call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = self.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        self.session = Some(attached["sessionId"].as_str().unwrap().to_string());
        for domain in ["Runtime", "Log", "Network", "Page"] {
            self.call(&format!("{domain}.enable"), json!({}));
        }
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
    }

    /// Navigates and waits for the load event.
    pub fn navigate(&mut self, url: &str) {
        let seen = self.events.len();
        self.call("Page.navigate", json!({"url": url}));
        if self.events[seen..]
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            return;
        }
        loop {
            let event = self.read();
            let loaded = event["method"] == "Page.loadEventFired";
            self.events.push(event);
            if loaded {
                return;
            }
        }
    }

    /// Evaluates `expression` in the page and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression}: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// A PNG of the viewport.
    pub fn screenshot(&mut self) -> Vec<u8> {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        base64_decode(shot["data"].as_str().expect("screenshot data"))
    }

    /// Console errors, uncaught exceptions, log errors (a CSP violation is
    /// one) and dialogs opened, as lines.
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| {
                let p = &e["params"];
                match e["method"].as_str().unwrap_or("") {
                    "Runtime.exceptionThrown" => true,
                    "Runtime.consoleAPICalled" => {
                        matches!(p["type"].as_str(), Some("error" | "assert" | "warning"))
                    }
                    "Log.entryAdded" => {
                        matches!(p["entry"]["level"].as_str(), Some("error" | "warning"))
                    }
                    "Page.javascriptDialogOpening" => true,
                    _ => false,
                }
            })
            .map(|e| e.to_string())
            .collect()
    }

    /// The URL of every request the page made.
    pub fn requests(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .map(|e| {
                e["params"]["request"]["url"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    fn value(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a') as u32 + 26,
            b'0'..=b'9' => (c - b'0') as u32 + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    }
    let clean: Vec<u8> = text.bytes().filter(|c| *c != b'=' && *c != b'\n').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= value(*c) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_round_trips_a_known_text() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
