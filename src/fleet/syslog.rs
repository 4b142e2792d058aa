//! `--syslog ADDR`: syslog over TCP (RFC 6587: newline-terminated frames,
//! and octet-counted ones, `LEN SP MSG`, told apart per frame by a leading
//! digit, since a syslog message starts with `<`) and UDP (one message per
//! datagram), RFC 3164 or 5424 inside: the envelope layer's syslog parser
//! reads the header, here to name the stream (host and app), and again in
//! the stream's parser, as for a syslog file.
//!
//! Invariants: TCP is read only as fast as batches are committed (a
//! connection's next read waits for its batch's charge on the in-flight
//! budget and its answer, and a busy writer is waited out, never answered
//! by dropping), so a flood backs up into the sender's socket, not into
//! memory; at most [`MAX_TCP`] connections are read at once (past that,
//! new ones wait in the kernel's backlog, and the senders queue on their
//! side), each with a buffer of at most [`READ`] bytes plus one partial
//! frame, so memory does not grow with the number of senders; a frame
//! longer than `max_bytes` or [`MAX_FRAME`], whichever is less, is cut
//! there. Syslog batches are not deduplicated: the transport has no
//! retried request to recognise, and two equal lines are two lines.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use grantwatch_parsers::Context;
use grantwatch_parsers::envelope::peel;
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::metrics::Receiver;
use super::{Fleet, RETRY_AFTER_S, Record, Refused};

/// Messages handed to the writer in one batch at most.
const BATCH: usize = 2000;

/// TCP connections read at once at most. Syslog senders are relays
/// (rsyslog, syslog-ng, a journald forwarder), one connection each; 256
/// leaves room for many while 500 flooding connections used to take a
/// 128 KiB buffer pair each, whatever their number.
pub const MAX_TCP: usize = 256;

/// Bytes read from a connection at once (its buffer's base size).
pub const READ: usize = 16 * 1024;

/// The longest syslog frame kept whole: syslog-ng's default
/// `log-msg-size` (rsyslog's `maxMessageSize` is 8 KiB), so one partial
/// frame per connection stays small.
pub const MAX_FRAME: usize = 64 * 1024;

/// Binds `addr` for TCP and UDP and serves both until the runtime ends.
/// Returns the TCP address bound (the UDP socket takes the same port).
pub async fn start(fleet: Arc<Fleet>, addr: &str) -> std::io::Result<SocketAddr> {
    let tcp = TcpListener::bind(addr).await?;
    let local = tcp.local_addr()?;
    let udp = UdpSocket::bind(local).await?;
    let f = Arc::clone(&fleet);
    let places = Arc::new(Semaphore::new(MAX_TCP));
    tokio::spawn(async move {
        loop {
            // A place before the accept: without one, new connections
            // wait in the backlog. The semaphore is never closed.
            let Ok(place) = Arc::clone(&places).acquire_owned().await else {
                return;
            };
            match tcp.accept().await {
                Ok((conn, _)) => {
                    tokio::spawn(serve_tcp(Arc::clone(&f), conn, place));
                }
                Err(e) => {
                    eprintln!("grantwatch: syslog accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    tokio::spawn(serve_udp(fleet, udp));
    Ok(local)
}

/// The stream of one syslog message: `syslog:` and its host and app.
pub fn stream_of(message: &str, ctx: &Context) -> String {
    let mut pieces = grantwatch_parsers::envelope::Pieces::new();
    peel(message, None, ctx, &mut pieces);
    let meta = pieces.first().map(|p| &p.meta);
    let parts: Vec<&str> = meta
        .into_iter()
        .flat_map(|m| [m.host.as_deref(), m.unit.as_deref()])
        .flatten()
        .collect();
    if parts.is_empty() {
        "syslog".into()
    } else {
        format!("syslog:{}", parts.join("/"))
    }
}

fn record(message: &[u8], ctx: &Context) -> Option<Record> {
    let text = String::from_utf8_lossy(message);
    let text = text.trim_end_matches(['\r', '\n']);
    if text.is_empty() {
        return None;
    }
    Some(Record {
        stream: stream_of(text, ctx),
        time: String::new(),
        body: text.to_owned(),
    })
}

/// Hands a batch over, waiting out a busy or failing writer: its charge on
/// the in-flight budget is waited for (back-pressure into the socket).
async fn deliver(fleet: &Fleet, records: Vec<Record>) {
    let mut told = false;
    let cost = super::budget::records_cost(&records);
    fleet
        .counters
        .received(Receiver::Syslog, records.len() as u64);
    loop {
        let charge = fleet.budget().charge(cost).await;
        match fleet.submit_undeduplicated(records.clone(), charge).await {
            Ok(a) => {
                fleet.counters.stored(Receiver::Syslog, a.records, 0, 0);
                return;
            }
            Err(Refused::Busy | Refused::Crowded) => {}
            Err(Refused::Down(why)) => {
                if !told {
                    eprintln!("grantwatch: syslog batch waits: {why}");
                    told = true;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(RETRY_AFTER_S)).await;
    }
}

/// Splits complete frames off the front of `buf`; what is left is an
/// incomplete frame. A frame over `max` is cut at `max`.
pub fn frames(buf: &mut Vec<u8>, max: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        if rest.is_empty() {
            break;
        }
        if rest[0] == b'\n' || rest[0] == b'\r' {
            at += 1;
            continue;
        }
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && rest.get(digits) == Some(&b' ') {
            let Some(len) = std::str::from_utf8(&rest[..digits])
                .ok()
                .and_then(|d| d.parse::<usize>().ok())
            else {
                break;
            };
            let start = digits + 1;
            if rest.len() < start + len.min(max) {
                break;
            }
            if len > max {
                // Cut at the limit; the rest of the frame is skipped as it
                // arrives (counted against the next frames' framing).
                out.push(rest[start..start + max].to_vec());
                at += start + max;
                continue;
            }
            out.push(rest[start..start + len].to_vec());
            at += start + len;
            continue;
        }
        match memchr::memchr(b'\n', rest) {
            Some(end) if end > max => {
                out.push(rest[..max].to_vec());
                at += max;
            }
            Some(end) => {
                out.push(rest[..end].to_vec());
                at += end + 1;
            }
            None if rest.len() >= max => {
                out.push(rest[..max].to_vec());
                at += max;
            }
            None => break,
        }
    }
    buf.drain(..at);
    out
}

async fn serve_tcp(fleet: Arc<Fleet>, mut conn: TcpStream, _place: OwnedSemaphorePermit) {
    let max = fleet.options().max_bytes.min(MAX_FRAME);
    let ctx = fleet.options().context.clone();
    let mut buf = Vec::new();
    loop {
        // Read into the buffer itself: READ bytes past what it holds (a
        // partial frame), given back once the frames are taken.
        buf.reserve_exact(READ);
        let n = match conn.read_buf(&mut buf).await {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        if n == 0 {
            // The peer closed: a last frame without its newline is whole.
            if !buf.is_empty() {
                buf.push(b'\n');
                let last: Vec<Record> = frames(&mut buf, max)
                    .iter()
                    .filter_map(|m| record(m, &ctx))
                    .collect();
                if !last.is_empty() {
                    deliver(&fleet, last).await;
                }
            }
            return;
        }
        let messages = frames(&mut buf, max);
        if buf.capacity() > buf.len() + 2 * READ {
            buf.shrink_to(buf.len() + READ);
        }
        let records: Vec<Record> = messages.iter().filter_map(|m| record(m, &ctx)).collect();
        for batch in records.chunks(BATCH) {
            deliver(&fleet, batch.to_vec()).await;
        }
    }
}

async fn serve_udp(fleet: Arc<Fleet>, socket: UdpSocket) {
    let ctx = fleet.options().context.clone();
    let mut datagram = vec![0u8; 65_536];
    loop {
        let mut records = Vec::new();
        match socket.recv_from(&mut datagram).await {
            Ok((n, _)) => records.extend(record(&datagram[..n], &ctx)),
            Err(e) => {
                eprintln!("grantwatch: syslog UDP receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        }
        // What else already arrived joins the batch.
        while records.len() < BATCH {
            match socket.try_recv_from(&mut datagram) {
                Ok((n, _)) => records.extend(record(&datagram[..n], &ctx)),
                Err(_) => break,
            }
        }
        if !records.is_empty() {
            deliver(&fleet, records).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newline_and_octet_counted_frames_mix_and_a_partial_frame_waits() {
        let mut buf =
            b"<34>Oct 11 22:14:15 h app: one\n19 <34>1 - h a - - - x<13>two\r\n30 <13>1 - h"
                .to_vec();
        let f = frames(&mut buf, 1024);
        assert_eq!(
            f,
            vec![
                b"<34>Oct 11 22:14:15 h app: one".to_vec(),
                b"<34>1 - h a - - - x".to_vec(),
                b"<13>two\r".to_vec(),
            ]
        );
        // The octet-counted frame waits for its 30 bytes, newlines and all.
        assert_eq!(buf, b"30 <13>1 - h".to_vec());
        buf.extend_from_slice(b" - - - in\nside 0123");
        assert!(frames(&mut buf, 1024).is_empty());
        buf.extend_from_slice(b"45");
        assert_eq!(
            frames(&mut buf, 1024),
            vec![b"<13>1 - h - - - in\nside 012345".to_vec()]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn a_frame_over_the_limit_is_cut_at_it() {
        let mut buf = b"abcdefghij\nxy\n".to_vec();
        assert_eq!(
            frames(&mut buf, 4),
            vec![
                b"abcd".to_vec(),
                b"efgh".to_vec(),
                b"ij".to_vec(),
                b"xy".to_vec()
            ]
        );
    }

    #[test]
    fn the_stream_is_the_sender_host_and_app() {
        let ctx = Context::default();
        assert_eq!(
            stream_of(
                "<165>1 2025-04-14T10:00:00Z web-1 rails 12 - - Started POST",
                &ctx
            ),
            "syslog:web-1/rails"
        );
        assert_eq!(
            stream_of("<34>Oct 11 22:14:15 kc-0 keycloak[7]: WARN x", &ctx),
            "syslog:kc-0/keycloak"
        );
        assert_eq!(stream_of("no header at all", &ctx), "syslog");
    }
}
