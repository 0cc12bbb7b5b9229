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
