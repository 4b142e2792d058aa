//! Delivering alerts: to Alertmanager (`POST /api/v2/alerts`: every firing
//! alert at each evaluation with `endsAt` three intervals ahead, so that a
//! stopped grantwatch resolves by itself; a resolved one once with `endsAt`
//! now) and to a webhook (one JSON POST when an alert fires and one when it
//! resolves, with a `text` field Slack and Mattermost show).
//!
//! Invariants:
//! - Deduplicated: the webhook hears of each transition once; Alertmanager
//!   dedupes repeated alerts by their labels.
//! - Retried: each POST is tried up to [`TRIES`] times with a backoff
//!   doubling from [`FIRST_BACKOFF`]; what still failed (a webhook
//!   transition, an Alertmanager resolve) waits in an outbox for the next
//!   evaluation (at most [`OUTBOX`] kept, the oldest dropped first).
//! - Rate-limited: at most `max_per_minute` webhook posts a minute; the
//!   rest wait in the outbox.
//! - Plain `http://` only (no TLS client is built in): Alertmanager and a
//!   relay usually sit on the same host or network.

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::url::Url;
use super::{AlertConfig, Firing};
use crate::time::format_ts;

/// Attempts per POST.
pub const TRIES: u32 = 3;
/// The wait after a first failed attempt.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Undelivered posts kept for the next evaluation.
pub const OUTBOX: usize = 1000;
/// Connect, write and read timeout of one attempt.
const TIMEOUT: Duration = Duration::from_secs(5);

/// POSTs `body` as JSON to `url` once; Ok when the answer is 2xx.
fn post_once(url: &Url, body: &str) -> Result<(), String> {
    use std::net::ToSocketAddrs as _;
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    // One write: a receiver that reads once gets the whole request.
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        url.path,
        url.host,
        url.port,
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head).map_err(|e| e.to_string())?;
    let status = String::from_utf8_lossy(&head[..n]);
    match status.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(()),
        Some(code) => Err(format!("answered {code}")),
        None => Err("no answer".into()),
    }
}

/// POSTs with [`TRIES`] attempts and backoff, waking early on `stop`.
fn post(url: &Url, body: &str, stop: &AtomicBool) -> Result<(), String> {
    let mut wait = FIRST_BACKOFF;
    let mut last = String::new();
    for attempt in 0..TRIES {
        if attempt > 0 {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(wait);
            wait *= 2;
        }
        match post_once(url, body) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// One alert as Alertmanager's API v2 takes it.
fn alertmanager_json(f: &Firing, starts: i64, ends: i64) -> serde_json::Value {
    let labels: BTreeMap<&str, &str> = f
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    serde_json::json!({
        "labels": labels,
        "annotations": {"summary": f.summary},
        "startsAt": format_ts(starts),
        "endsAt": format_ts(ends),
    })
}

/// A webhook post waiting to go.
struct Pending {
    body: String,
}

/// What the deliverer remembers between evaluations.
pub struct Deliverer {
    alertmanager: Option<Url>,
    webhook: Option<Url>,
    interval: Duration,
    max_per_minute: usize,
    /// Firing alerts and when each started (ms).
    firing: BTreeMap<Vec<(String, String)>, (Firing, i64)>,
    /// Resolves Alertmanager has not taken yet.
    resolves: VecDeque<serde_json::Value>,
    outbox: VecDeque<Pending>,
    sent: VecDeque<Instant>,
}

impl Deliverer {
    /// A deliverer for `config` (its URLs checked by [`super::check`]).
    pub fn new(config: &AlertConfig) -> Result<Deliverer, String> {
        Ok(Deliverer {
            alertmanager: config
                .alertmanager
                .as_deref()
                .map(Url::parse)
                .transpose()?
                .map(|u| u.with_path(&format!("{}/api/v2/alerts", u.path.trim_end_matches('/')))),
            webhook: config.webhook.as_deref().map(Url::parse).transpose()?,
            interval: Duration::from_millis(config.interval_ms.unwrap_or(15_000).max(100)),
            max_per_minute: config.max_per_minute.unwrap_or(20).max(1) as usize,
            firing: BTreeMap::new(),
            resolves: VecDeque::new(),
            outbox: VecDeque::new(),
            sent: VecDeque::new(),
        })
    }

    fn queue(&mut self, status: &str, f: &Firing, now: i64) {
        let text = match status {
            "firing" => format!("🔥 {}", f.summary),
            _ => format!("✅ resolved: {}", f.summary),
        };
        let labels: BTreeMap<&str, &str> = f
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = serde_json::json!({
            "status": status,
            "labels": labels,
            "summary": f.summary,
            "text": text,
            "at": format_ts(now),
        })
        .to_string();
        if self.outbox.len() >= OUTBOX {
            self.outbox.pop_front();
        }
        self.outbox.push_back(Pending { body });
    }

    /// Takes the alerts firing at `now` (ms): notes what started and what
    /// ended, and delivers.
    pub fn step(&mut self, now_firing: Vec<Firing>, now: i64, stop: &AtomicBool) {
        let mut next = BTreeMap::new();
        for f in now_firing {
            let starts = match self.firing.remove(&f.labels) {
                Some((_, starts)) => starts,
                None => {
                    self.queue("firing", &f, now);
                    now
                }
            };
            next.insert(f.labels.clone(), (f, starts));
        }
        for (_, (f, starts)) in std::mem::take(&mut self.firing) {
            self.queue("resolved", &f, now);
            self.resolves.push_back(alertmanager_json(&f, starts, now));
            if self.resolves.len() > OUTBOX {
                self.resolves.pop_front();
            }
        }
        self.firing = next;
        if let Some(url) = &self.alertmanager {
            let ends = now + 3 * self.interval.as_millis() as i64;
            let mut batch: Vec<serde_json::Value> = self
                .firing
                .values()
                .map(|(f, starts)| alertmanager_json(f, *starts, ends))
                .collect();
            batch.extend(self.resolves.iter().cloned());
            if !batch.is_empty() {
                let body = serde_json::Value::Array(batch).to_string();
                match post(url, &body, stop) {
                    Ok(()) => self.resolves.clear(),
                    Err(e) => eprintln!("grantwatch: alertmanager: {e}; retrying next round"),
                }
            }
        }
        if let Some(url) = self.webhook.clone() {
            let minute = Instant::now();
            while self
                .sent
                .front()
                .is_some_and(|t| minute.duration_since(*t) >= Duration::from_secs(60))
            {
                self.sent.pop_front();
            }
            while self.sent.len() < self.max_per_minute {
                let Some(p) = self.outbox.pop_front() else {
                    break;
                };
                match post(&url, &p.body, stop) {
                    Ok(()) => self.sent.push_back(Instant::now()),
                    Err(e) => {
                        eprintln!("grantwatch: webhook: {e}; retrying next round");
                        self.outbox.push_front(p);
                        break;
                    }
                }
            }
        } else {
            self.outbox.clear();
        }
    }
}

/// Evaluates `config`'s rules over the database at `db` every interval and
/// delivers, until `stop`. A store error skips a round (said once).
pub fn run(db: &Path, config: &AlertConfig, stop: &AtomicBool) -> Result<(), String> {
    let mut deliverer = Deliverer::new(config)?;
    let mut told = false;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let now = chrono::Utc::now().timestamp_millis();
        let firing = crate::store::Store::open_read_only(db)
            .and_then(|store| super::evaluate(&store, &config.rules, now));
        match firing {
            Ok(firing) => {
                told = false;
                deliverer.step(firing, now, stop);
            }
            Err(e) if !told => {
                eprintln!("grantwatch: alerts: {e}; trying again next round");
                told = true;
            }
            Err(_) => {}
        }
        while !stop.load(Ordering::Relaxed) && started.elapsed() < deliverer.interval {
            std::thread::sleep(Duration::from_millis(20).min(deliverer.interval));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn firing(n: usize) -> Firing {
        Firing {
            labels: vec![("alertname".into(), format!("a{n}"))],
            summary: format!("alert {n}"),
        }
    }

    #[test]
    fn the_webhook_hears_each_transition_once_within_its_rate() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let posts = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let seen = std::sync::Arc::clone(&posts);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                // Until the head and its Content-Length of body are in.
                loop {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).into_owned();
                    let complete = text.split_once("\r\n\r\n").is_some_and(|(head, body)| {
                        head.lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .is_some_and(|len| body.len() >= len)
                    });
                    if n == 0 || complete {
                        break;
                    }
                }
                seen.lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&got).into_owned());
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
            }
        });
        let config = AlertConfig {
            alertmanager: None,
            webhook: Some(format!("http://{addr}/hook")),
            interval_ms: Some(100),
            max_per_minute: Some(2),
            rules: Vec::new(),
        };
        let stop = AtomicBool::new(false);
        let mut d = Deliverer::new(&config).expect("deliverer");
        d.step((0..3).map(firing).collect(), 1_000, &stop);
        // Two of three "firing" posts this minute; the third waits.
        assert_eq!(posts.lock().expect("lock").len(), 2);
        assert_eq!(d.outbox.len(), 1);
        // Still firing: nothing new to tell, and the rate still holds.
        d.step((0..3).map(firing).collect(), 2_000, &stop);
        assert_eq!(posts.lock().expect("lock").len(), 2);
        // A minute later the waiting one goes, then alert 0's resolve.
        d.sent
            .iter_mut()
            .for_each(|t| *t -= Duration::from_secs(61));
        d.step((1..3).map(firing).collect(), 3_000, &stop);
        let got = posts.lock().expect("lock").clone();
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got[2].contains("\"status\":\"firing\"") && got[2].contains("alert 2"));
        assert!(got[3].contains("\"status\":\"resolved\"") && got[3].contains("alert 0"));
        assert!(got[3].contains("POST /hook HTTP/1.1"));
    }
}
