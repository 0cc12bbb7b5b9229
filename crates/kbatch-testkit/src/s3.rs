//! A real S3-compatible server for export tests: moto's `moto_server` from the project
//! virtualenv (`make venv`), on 127.0.0.1 and a free port, in its own process group that a
//! watchdog kills when the test process is gone (as the brokers), and on drop.
//!
//! Requests from here are plain HTTP/1.0 with a dummy signature (moto does not check them): create a
//! bucket, list keys, get an object, list unfinished multipart uploads. kbatch itself talks
//! to it through `object_store` with credentials from [`S3Server::env`].

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{io, workspace_root, TestkitError};

/// moto does not verify signatures, but it treats a request without credentials as
/// anonymous, which private objects refuse: this names the test access key.
const AUTH: &str = "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0\r\n";

/// A running `moto_server`.
#[derive(Debug)]
pub struct S3Server {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
    child: Child,
    dir: PathBuf,
    watchdog: u32,
}

/// A program of the project virtualenv (`make venv`): `$KBATCH_VENV/bin/NAME`, else the
/// checkout's `.venv/bin/NAME`.
pub fn venv_bin(name: &str) -> PathBuf {
    let venv = std::env::var_os("KBATCH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv"));
    venv.join("bin").join(name)
}

impl S3Server {
    /// Start a server and wait until it answers (at most 30 s).
    pub fn start() -> Result<S3Server, TestkitError> {
        let bin = venv_bin("moto_server");
        if !bin.exists() {
            return Err(TestkitError::Command {
                what: "starting the S3 test server".into(),
                detail: format!("{} is missing: run `make venv`", bin.display()),
            });
        }
        let port = crate::free_port();
        let dir = std::env::temp_dir().join(format!("kbatch-s3-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(io("creating the S3 server's folder"))?;
        let log = std::fs::File::create(dir.join("moto.log")).map_err(io("creating moto.log"))?;
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("moto.log"))?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(io(format!("starting {}", bin.display())))?;
        crate::record_process_group(child.id());
        let watchdog = crate::watchdog(std::process::id(), child.id(), &dir)?;
        let server = S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            child,
            dir,
            watchdog,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((status, _)) = server.request("GET", "/", &[]) {
                if status == 200 {
                    return Ok(server);
                }
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(server.dir.join("moto.log")).unwrap_or_default();
                return Err(TestkitError::Start { secs: 30, log });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The environment kbatch needs to use this server (fixed test credentials).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// One unsigned HTTP/1.0 request; (status, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), TestkitError> {
        let mut s =
            TcpStream::connect(("127.0.0.1", self.port)).map_err(io("connecting to moto"))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(io("moto socket"))?;
        let head = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n{AUTH}\r\n",
            self.port,
            body.len()
        );
        s.write_all(head.as_bytes())
            .and_then(|()| s.write_all(body))
            .map_err(io("writing to moto"))?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).map_err(io("reading from moto"))?;
        let split = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| TestkitError::Command {
                what: format!("{method} {path}"),
                detail: "no HTTP head in the answer".into(),
            })?;
        let head = String::from_utf8_lossy(&out[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Ok((status, out[split + 4..].to_vec()))
    }

    fn ok(&self, method: &str, path: &str) -> Result<Vec<u8>, TestkitError> {
        let (status, body) = self.request(method, path, &[])?;
        if status != 200 {
            return Err(TestkitError::Command {
                what: format!("{method} {path}"),
                detail: format!("HTTP {status}: {}", String::from_utf8_lossy(&body)),
            });
        }
        Ok(body)
    }

    /// Create a bucket.
    pub fn create_bucket(&self, bucket: &str) -> Result<(), TestkitError> {
        self.ok("PUT", &format!("/{bucket}")).map(|_| ())
    }

    /// Keys under `prefix` with their sizes, in key order.
    pub fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>, TestkitError> {
        let body = self.ok("GET", &format!("/{bucket}?list-type=2&prefix={prefix}"))?;
        let xml = String::from_utf8_lossy(&body);
        let keys = tags(&xml, "Key");
        let sizes = tags(&xml, "Size");
        Ok(keys
            .into_iter()
            .zip(sizes.iter().map(|s| s.parse().unwrap_or(0)))
            .collect())
    }

    /// An object's bytes.
    pub fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, TestkitError> {
        self.ok("GET", &format!("/{bucket}/{key}"))
    }

    /// Keys of multipart uploads started and neither completed nor aborted.
    pub fn unfinished_uploads(&self, bucket: &str) -> Result<Vec<String>, TestkitError> {
        let body = self.ok("GET", &format!("/{bucket}?uploads"))?;
        Ok(tags(&String::from_utf8_lossy(&body), "Key"))
    }
}

/// The texts of every `<tag>…</tag>` (enough for S3's flat listings).
fn tags(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        rest = &rest[i + open.len()..];
        let Some(j) = rest.find(&close) else { break };
        out.push(rest[..j].to_string());
        rest = &rest[j + close.len()..];
    }
    out
}

impl Drop for S3Server {
    fn drop(&mut self) {
        // SAFETY: signalling the server's own process group, then its watchdog's.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
            libc::kill(-(self.watchdog as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags_are_found_in_order() {
        let xml = "<a><Key>x</Key><Size>3</Size><Key>y/z</Key><Size>10</Size></a>";
        assert_eq!(super::tags(xml, "Key"), vec!["x", "y/z"]);
        assert_eq!(super::tags(xml, "Size"), vec!["3", "10"]);
        assert!(super::tags(xml, "Nope").is_empty());
    }
}
