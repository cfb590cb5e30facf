//! A client and a server speaking HTTP/1.1 over a real socket (std only), each recording
//! its side with orion's helpers: the client sends the running trace's `traceparent`, the
//! server records the one it received.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

/// Serves one request: `200` for `/hello`, `404` otherwise.
fn serve(listener: TcpListener) {
    let (stream, _) = listener.accept().unwrap();
    let start = Instant::now();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut traceparent = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("traceparent") {
                traceparent = Some(value.trim().to_string());
            }
        }
    }
    let status = if path == "/hello" { 200 } else { 404 };
    write!(
        &stream,
        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    orion::http_server(
        &method,
        &path,
        status,
        start.elapsed(),
        traceparent.as_deref(),
    );
}

/// Sends `GET path` with the trace's `traceparent`; the response's status.
fn get(address: &str, path: &str) -> u16 {
    let start = Instant::now();
    let traceparent = orion::traceparent();
    let mut stream = TcpStream::connect(address).unwrap();
    let header = traceparent
        .as_deref()
        .map(|t| format!("traceparent: {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {address}\r\n{header}\r\n"
    )
    .unwrap();
    let mut status_line = String::new();
    BufReader::new(&stream).read_line(&mut status_line).unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let url = format!("http://user:hunter2@{address}{path}");
    orion::http_client(
        "GET",
        &url,
        Some(status),
        start.elapsed(),
        traceparent.as_deref(),
    );
    status
}

fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || serve(listener));
    println!(
        "{} {}",
        get(&address, "/hello"),
        orion::traceparent().unwrap_or_default()
    );
    server.join().unwrap();
}
