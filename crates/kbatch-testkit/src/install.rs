//! Installing Apache Kafka's jars (through Maven, once, into a git-ignored cache) and running
//! its Java tools and the harness's own Java programs (`java/src`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{io, TestkitError};

/// The Apache Kafka version the harness installs and runs.
pub const KAFKA_VERSION: &str = "4.3.1";

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

pub(crate) fn cache_dir() -> PathBuf {
    workspace_root().join(".cache")
}

/// Hold an exclusive `flock` on `path` while `f` runs (several test binaries may install at once).
pub(crate) fn locked<T>(
    path: &Path,
    f: impl FnOnce() -> Result<T, TestkitError>,
) -> Result<T, TestkitError> {
    std::fs::create_dir_all(path.parent().unwrap()).map_err(io("creating the cache dir"))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io(format!("opening {}", path.display())))?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own; released when `file` is dropped.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    let r = f();
    drop(file);
    r
}

/// The folder holding the Kafka jars: `$KBATCH_KAFKA_LIBS`, else `.cache/kafka-<v>/libs`,
/// installed through Maven (`java/pom.xml`) on first use.
pub fn kafka_libs() -> Result<PathBuf, TestkitError> {
    let dir = std::env::var_os("KBATCH_KAFKA_LIBS")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(format!("kafka-{KAFKA_VERSION}/libs")));
    let marker = dir.join(".complete");
    if marker.exists() {
        return Ok(dir);
    }
    locked(&cache_dir().join("kafka.lock"), || {
        if marker.exists() {
            return Ok(dir.clone());
        }
        let pom = workspace_root().join("crates/kbatch-testkit/java/pom.xml");
        let out = Command::new("mvn")
            .args(["-q", "-B", "-f"])
            .arg(&pom)
            .arg("dependency:copy-dependencies")
            .arg("-DincludeScope=runtime")
            .arg(format!("-DoutputDirectory={}", dir.display()))
            .output()
            .map_err(io("running mvn (is Maven installed?)"))?;
        succeeded(&out, "mvn dependency:copy-dependencies")?;
        std::fs::write(&marker, KAFKA_VERSION).map_err(io("writing the install marker"))?;
        Ok(dir.clone())
    })
}

/// Compiled Java helpers (`Produce`, `Admin`), rebuilt when a source is newer.
pub(crate) fn classes() -> Result<PathBuf, TestkitError> {
    let libs = kafka_libs()?;
    let src = workspace_root().join("crates/kbatch-testkit/java/src");
    let sources = ["Produce.java", "Admin.java"].map(|f| src.join(f));
    // One folder per version of the sources: worktrees sharing one `.cache` (through a
    // symlink) with different helpers never overwrite each other's classes.
    let digest = sources.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, s| {
        std::fs::read(s)
            .unwrap_or_default()
            .iter()
            .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    });
    // Content-addressed and complete or absent: javac writes into a private folder that is
    // renamed into place with a marker, so no JVM ever loads a half-written class (a checkout
    // elsewhere with the same sources but newer file times must not recompile in place while
    // another test run loads these).
    let out = cache_dir().join(format!("testkit-java-{digest:016x}"));
    let done = |out: &Path| out.join(".complete").exists();
    if done(&out) {
        return Ok(out);
    }
    locked(&cache_dir().join("javac.lock"), || {
        if done(&out) {
            return Ok(out.clone());
        }
        let tmp = cache_dir().join(format!(
            "testkit-java-{digest:016x}.tmp-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(io("creating the classes dir"))?;
        let status = Command::new("javac")
            .arg("-nowarn")
            .arg("-cp")
            .arg(format!("{}/*", libs.display()))
            .arg("-d")
            .arg(&tmp)
            .args(&sources)
            .output()
            .map_err(io("running javac (is a JDK installed?)"))?;
        if !status.status.success() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(TestkitError::Command {
                what: "javac".into(),
                detail: String::from_utf8_lossy(&status.stderr).into_owned(),
            });
        }
        std::fs::write(tmp.join(".complete"), b"").map_err(io("marking the classes complete"))?;
        std::fs::rename(&tmp, &out).map_err(io("moving the classes into place"))?;
        Ok(out.clone())
    })
}

/// Compile the Java helpers and make sure the jars are there.
pub fn install() -> Result<(), TestkitError> {
    classes().map(|_| ())
}

pub(crate) fn java_tool(
    main: &str,
    args: &[String],
    fast_start: bool,
) -> Result<Command, TestkitError> {
    let libs = kafka_libs()?;
    let classes = classes()?;
    let mut cmd = Command::new("java");
    if fast_start {
        cmd.arg("-XX:TieredStopAtLevel=1");
    }
    cmd.arg("-Xmx512m")
        .arg("-Dlog4j2.level=error")
        .arg("-cp")
        .arg(format!("{}/*:{}", libs.display(), classes.display()))
        .arg(main)
        .args(args);
    Ok(cmd)
}

pub(crate) fn run_tool(main: &str, args: &[String]) -> Result<String, TestkitError> {
    let out = java_tool(main, args, true)?
        .stdin(Stdio::null())
        .output()
        .map_err(io(format!("running {main}")))?;
    if !out.status.success() {
        return Err(TestkitError::Command {
            what: format!("{main} {}", args.join(" ")),
            detail: tail(&String::from_utf8_lossy(&out.stderr), 20),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A finished command's failure, with everything it printed.
pub(crate) fn succeeded(out: &std::process::Output, what: &str) -> Result<(), TestkitError> {
    if out.status.success() {
        return Ok(());
    }
    Err(TestkitError::Command {
        what: what.into(),
        detail: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
    })
}

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
