//! Process groups: every one the harness starts is recorded for `.ci/run`, and watched so it
//! never outlives the test process.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{io, TestkitError};

/// Marks JVMs started by the harness, so a person can find them (`pgrep -f`). `.ci/run` does
/// not kill by this name (another job's brokers carry it too): it reaps the process groups
/// listed by [`record_process_group`].
pub const BROKER_MARK: &str = "-Dkbatch-testkit-broker=1";

/// The environment variable naming the file where every process group the harness starts is
/// listed, one id a line (set by `.ci/run`, which stops exactly those groups when it ends).
pub const RUN_PGIDS_ENV: &str = "KBATCH_RUN_PGIDS";

/// Append `pgid` to the file named by [`RUN_PGIDS_ENV`], if it is set. Best effort by design:
/// the list is the CI run's last line of defence; watchdogs are the first.
pub fn record_process_group(pgid: u32) {
    let Some(path) = std::env::var_os(RUN_PGIDS_ENV) else {
        return;
    };
    let line = format!("{pgid}\n");
    // One short O_APPEND write a line, so concurrent test processes do not interleave.
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("kbatch-testkit: cannot record process group {pgid} in {path:?}: {e}");
    }
}

/// Kill `broker_pgid`'s group (and remove `dir`) once `watched` is gone. The watchdog is a
/// tiny shell loop in its own session, so neither a panic, nor `exit`, nor SIGKILL of the
/// test process leaves a broker behind.
pub(crate) fn watchdog(watched: u32, broker_pgid: u32, dir: &Path) -> Result<u32, TestkitError> {
    // A cluster node's folder sits in the cluster's: the last node's watchdog removes that too.
    let cluster = dir
        .parent()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("kbatch-cluster-"))
        })
        .map(|p| format!("; rmdir '{}' 2>/dev/null", p.display()))
        .unwrap_or_default();
    let script = format!(
        "while kill -0 {watched} 2>/dev/null; do sleep 1; done; kill -9 -{broker_pgid} 2>/dev/null; rm -rf '{}'{cluster}",
        dir.display()
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(io("starting the broker watchdog"))?;
    record_process_group(child.id());
    Ok(child.id())
}

/// Stop a broker started with [`crate::Broker::start_detached`].
pub fn stop_detached(dir: &Path) -> Result<(), TestkitError> {
    if let Ok(pid) = std::fs::read_to_string(dir.join("pid")) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            // SAFETY: signalling the broker's own process group.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
