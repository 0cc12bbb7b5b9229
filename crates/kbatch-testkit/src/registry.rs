//! A real Schema Registry for the tests of registry-framed values: Apicurio Registry
//! (in-memory storage) on Java 17, on 127.0.0.1 and a free port, in its own process group
//! that a watchdog kills when the test process is gone (as the brokers), and on drop. Its
//! Confluent-compatible API is [`Registry::url`] (`…/apis/ccompat/v7`), which confluent-kafka's
//! `SchemaRegistryClient` and serializers talk to.
//!
//! The distribution (`io.apicurio:apicurio-registry-app:<v>:tar.gz:all`, a runnable
//! `*-runner.jar` and its `lib/`) is unpacked into the git-ignored `.cache/` by `make registry`,
//! or here on first use, through Maven's default settings.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{io, TestkitError};

/// The Apicurio Registry version the harness runs (3.x needs Java 21).
pub const REGISTRY_VERSION: &str = "2.6.13.Final";

/// The Java 17 the registry runs on when `KBATCH_REGISTRY_JAVA` is not set (the default
/// `java` may be a newer one, which this version of the registry does not support).
const JAVA17: &str = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java";

/// Marks registry JVMs started by the harness, so a person can find them (`pgrep -f`).
pub const REGISTRY_MARK: &str = "-Dkbatch-testkit-registry=1";

/// How long the registry may take to answer (it starts in about 5 s on an idle machine).
const START_SECS: u64 = 120;

/// The unpacked distribution: `$KBATCH_REGISTRY_HOME`, else `.cache/apicurio-registry-<v>`,
/// installed through Maven on first use.
pub fn registry_home() -> Result<PathBuf, TestkitError> {
    let dir = std::env::var_os("KBATCH_REGISTRY_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            crate::cache_dir().join(format!("apicurio-registry-{REGISTRY_VERSION}"))
        });
    let marker = dir.join(".complete");
    if marker.exists() {
        return Ok(dir);
    }
    crate::locked(&crate::cache_dir().join("registry.lock"), || {
        if marker.exists() {
            return Ok(dir.clone());
        }
        let artifact = format!("io.apicurio:apicurio-registry-app:{REGISTRY_VERSION}:tar.gz:all");
        let download = dir.with_extension("download");
        let out = Command::new("mvn")
            .args(["-q", "-B", "dependency:copy"])
            .arg(format!("-Dartifact={artifact}"))
            .arg(format!("-DoutputDirectory={}", download.display()))
            .output()
            .map_err(io("running mvn (is Maven installed?)"))?;
        crate::succeeded(&out, "mvn dependency:copy (Apicurio Registry)")?;
        let tarball = download.join(format!(
            "apicurio-registry-app-{REGISTRY_VERSION}-all.tar.gz"
        ));
        std::fs::create_dir_all(&dir).map_err(io("creating the registry folder"))?;
        let out = Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&dir)
            .output()
            .map_err(io("running tar"))?;
        crate::succeeded(&out, "unpacking the registry")?;
        let _ = std::fs::remove_dir_all(&download);
        std::fs::write(&marker, REGISTRY_VERSION).map_err(io("writing the install marker"))?;
        Ok(dir.clone())
    })
}

fn java() -> PathBuf {
    if let Some(j) = std::env::var_os("KBATCH_REGISTRY_JAVA") {
        return PathBuf::from(j);
    }
    if Path::new(JAVA17).exists() {
        return PathBuf::from(JAVA17);
    }
    PathBuf::from("java")
}

/// A running registry.
#[derive(Debug)]
pub struct Registry {
    /// The Confluent-compatible API: `http://127.0.0.1:PORT/apis/ccompat/v7`.
    pub url: String,
    port: u16,
    child: Option<Child>,
    pid: u32,
    dir: PathBuf,
    watchdog: Option<u32>,
}

impl Registry {
    /// Start a registry tied to this process (a watchdog kills it within about a second of
    /// this process exiting) and wait until it answers.
    pub fn start() -> Result<Registry, TestkitError> {
        let port = crate::free_port();
        let dir =
            std::env::temp_dir().join(format!("kbatch-registry-{}-{port}", std::process::id()));
        let mut r = Registry::spawn(&dir, port)?;
        r.watchdog = Some(crate::watchdog(std::process::id(), r.pid, &dir)?);
        r.wait_ready()?;
        Ok(r)
    }

    /// Start a registry that outlives this process, with its log and `pid` in `dir`; stop it
    /// with [`crate::stop_detached`] (`kbatch-testkit stop --dir DIR`).
    pub fn start_detached(dir: &Path) -> Result<Registry, TestkitError> {
        let port = crate::free_port();
        let mut r = Registry::spawn(dir, port)?;
        std::fs::write(dir.join("pid"), r.pid.to_string()).map_err(io("writing pid"))?;
        if let Err(e) = r.wait_ready() {
            let _ = crate::stop_detached(dir);
            return Err(e);
        }
        r.child = None;
        Ok(r)
    }

    fn spawn(dir: &Path, port: u16) -> Result<Registry, TestkitError> {
        let home = registry_home()?;
        let jar = home.join(format!(
            "apicurio-registry-app-{REGISTRY_VERSION}-runner.jar"
        ));
        std::fs::create_dir_all(dir).map_err(io("creating the registry's folder"))?;
        let log =
            std::fs::File::create(dir.join("registry.log")).map_err(io("creating registry.log"))?;
        let child = Command::new(java())
            .args(["-Xmx512m", "-XX:TieredStopAtLevel=1", REGISTRY_MARK])
            .arg("-Dquarkus.http.host=127.0.0.1")
            .arg(format!("-Dquarkus.http.port={port}"))
            .arg("-jar")
            .arg(&jar)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("registry.log"))?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(io("starting the registry JVM"))?;
        let pid = child.id();
        crate::record_process_group(pid);
        Ok(Registry {
            url: format!("http://127.0.0.1:{port}/apis/ccompat/v7"),
            port,
            child: Some(child),
            pid,
            dir: dir.to_path_buf(),
            watchdog: None,
        })
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
        crate::tail(&text, 40)
    }

    /// Ready when `GET /subjects` answers `[]` (a fresh in-memory registry has none).
    fn wait_ready(&mut self) -> Result<(), TestkitError> {
        let deadline = Instant::now() + Duration::from_secs(START_SECS);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(TestkitError::Start {
                        secs: 0,
                        log: format!("the registry exited ({status})\n{}", self.log_tail()),
                    });
                }
            }
            if let Ok((200, body)) = self.get("/subjects") {
                if body.trim() == "[]" {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(TestkitError::Start {
                    secs: START_SECS,
                    log: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `GET {url}{path}`: (status, body). A plain HTTP/1.0 request.
    pub fn get(&self, path: &str) -> Result<(u16, String), TestkitError> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))
            .map_err(io("connecting to the registry"))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(io("registry socket"))?;
        let head = format!(
            "GET /apis/ccompat/v7{path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nAccept: application/json\r\n\r\n",
            self.port
        );
        s.write_all(head.as_bytes())
            .map_err(io("writing to the registry"))?;
        let mut out = Vec::new();
        s.read_to_end(&mut out)
            .map_err(io("reading from the registry"))?;
        let text = String::from_utf8_lossy(&out);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Ok((status, body.to_string()))
    }

    /// The registry JVM's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            // Detached: it lives until `stop_detached`.
            return;
        };
        // SAFETY: signalling the registry's own process group, then its watchdog's.
        unsafe {
            libc::kill(-(self.pid as i32), libc::SIGKILL);
            if let Some(w) = self.watchdog {
                libc::kill(-(w as i32), libc::SIGKILL);
            }
        }
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One registry per test process, started on first use and killed by its watchdog when the
/// process exits. Panics (with the registry log) if it cannot start: a missing registry fails
/// tests, it never skips them.
pub fn shared_registry() -> &'static Registry {
    static SHARED: OnceLock<Registry> = OnceLock::new();
    SHARED.get_or_init(|| match Registry::start() {
        Ok(r) => r,
        Err(e) => panic!(
            "cannot start the test Schema Registry (Apicurio {REGISTRY_VERSION}; needs Java 17 and mvn, or run `make registry` first): {e}"
        ),
    })
}

/// A front that asks for HTTP basic authentication before the registry (Apicurio 2.x checks
/// credentials only through an OpenID Connect server, which the tests do not run): a request
/// without `Authorization: Basic base64(user:password)` of the configured pair gets `401`,
/// one with it is forwarded to the registry unchanged (but for `Connection: close`) and the
/// answer copied back. Every `Authorization` header seen is kept, so a test can check what
/// the client sent. One thread per connection; dropping the front stops accepting.
#[derive(Debug)]
pub struct BasicAuthFront {
    addr: std::net::SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>,
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BasicAuthFront {
    /// Listen on a free loopback port in front of `registry`, accepting `user:password`.
    pub fn start(registry: &Registry, user_info: &str) -> Result<BasicAuthFront, TestkitError> {
        use base64::Engine as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(io("binding the basic-auth front"))?;
        let addr = listener
            .local_addr()
            .map_err(io("basic-auth front address"))?;
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_info)
        );
        let upstream = ("127.0.0.1", registry.port);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen2, closed2) = (seen.clone(), closed.clone());
        std::thread::Builder::new()
            .name("registry-basic-auth".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if closed2.load(std::sync::atomic::Ordering::SeqCst) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    let (want, seen) = (want.clone(), seen2.clone());
                    std::thread::spawn(move || {
                        let _ = front_one(client, upstream, &want, &seen);
                    });
                }
            })
            .map_err(io("starting the basic-auth front"))?;
        Ok(BasicAuthFront { addr, seen, closed })
    }

    /// The registry URL behind the front (`http://127.0.0.1:PORT/apis/ccompat/v7`).
    pub fn url(&self) -> String {
        format!("http://{}/apis/ccompat/v7", self.addr)
    }

    /// Every request's `Authorization` header (`None`: absent), in arrival order.
    pub fn seen(&self) -> Vec<Option<String>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Drop for BasicAuthFront {
    fn drop(&mut self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees `closed`.
        let _ = TcpStream::connect(self.addr);
    }
}

/// One connection through the front: requests are answered one at a time until the client
/// closes (each forwarded request on its own registry connection).
fn front_one(
    mut client: TcpStream,
    upstream: (&str, u16),
    want: &str,
    seen: &std::sync::Mutex<Vec<Option<String>>>,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut buf = Vec::new();
    loop {
        // The request head (GETs only: no body).
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = client.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head: Vec<u8> = buf.drain(..end).collect();
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
        let request_line = lines.next().unwrap_or_default().to_string();
        let headers: Vec<&str> = lines.collect();
        let auth = headers.iter().find_map(|h| {
            let (name, value) = h.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("authorization")
                .then(|| value.trim().to_string())
        });
        seen.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(auth.clone());
        if auth.as_deref() != Some(want) {
            let body = r#"{"error_code":401,"message":"Unauthorized"}"#;
            let answer = format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"registry\"\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            client.write_all(answer.as_bytes())?;
            continue;
        }
        let mut forwarded = format!("{request_line}\r\n");
        for h in headers {
            if !h.to_ascii_lowercase().starts_with("connection:") {
                forwarded.push_str(h);
                forwarded.push_str("\r\n");
            }
        }
        forwarded.push_str("Connection: close\r\n\r\n");
        let mut server = TcpStream::connect(upstream)?;
        server.write_all(forwarded.as_bytes())?;
        let mut answer = Vec::new();
        server.read_to_end(&mut answer)?;
        client.write_all(&answer)?;
        // The registry closed after its answer; so does the front (the client reconnects).
        return Ok(());
    }
}
