//! One node of a running cluster under a test's control: graceful stop (SIGTERM, Kafka's
//! controlled shutdown), crash (SIGKILL), freeze (SIGSTOP/SIGCONT) and restart on the same
//! ports and data (no reformat), as operators and failures do to real clusters.

use std::time::{Duration, Instant};

use crate::{Broker, TestkitError};

/// What a node's JVM is doing, as far as the harness made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Running (started, resumed or restarted).
    Running,
    /// Frozen by SIGSTOP: its sockets accept connections but nothing answers.
    Paused,
    /// Not running (stopped, killed, or never started).
    Down,
}

impl Broker {
    /// The node's `node.id` (1 for a single broker; 1..=n in a cluster).
    pub fn node_id(&self) -> u32 {
        self.id
    }

    /// What the harness last did to this node.
    pub fn state(&self) -> NodeState {
        self.state
    }

    fn signal(&self, sig: i32) {
        // SAFETY: signalling the broker's own process group (the JVM, started with
        // process_group(0)).
        unsafe { libc::kill(-(self.pid as i32), sig) };
    }

    /// Wait up to `limit` for the JVM to exit; whether it did.
    fn reap(&mut self, limit: Duration) -> bool {
        let Some(child) = self.child.as_mut() else {
            return true;
        };
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop the node gracefully: SIGTERM starts Kafka's controlled shutdown (leadership moves
    /// away before the process exits); waits for the exit. Data and config are kept for
    /// [`Broker::restart`]. If the JVM is still alive after 60 s it is killed and this fails.
    pub fn terminate(&mut self) -> Result<(), TestkitError> {
        if self.state == NodeState::Paused {
            self.signal(libc::SIGCONT);
        }
        self.signal(libc::SIGTERM);
        let exited = self.reap(Duration::from_secs(60));
        self.state = NodeState::Down;
        if exited {
            return Ok(());
        }
        self.signal(libc::SIGKILL);
        self.reap(Duration::from_secs(10));
        Err(TestkitError::Command {
            what: format!("graceful stop of node {}", self.id),
            detail: format!("still running 60 s after SIGTERM\n{}", self.log_tail(20)),
        })
    }

    /// Crash the node: SIGKILL, as `kill -9` or a power cut; waits for the exit. Data and
    /// config are kept for [`Broker::restart`].
    pub fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        self.reap(Duration::from_secs(30));
        self.state = NodeState::Down;
    }

    /// Freeze the node (SIGSTOP): connections stay open and new ones are accepted by the
    /// kernel, but nothing is answered, and its heartbeats stop so the controller fences it.
    pub fn pause(&mut self) {
        self.signal(libc::SIGSTOP);
        self.state = NodeState::Paused;
    }

    /// Unfreeze a paused node (SIGCONT).
    pub fn resume(&mut self) {
        self.signal(libc::SIGCONT);
        if self.state == NodeState::Paused {
            self.state = NodeState::Running;
        }
    }

    /// Start a stopped or killed node again on the same ports, config and data directory
    /// (no reformat), and wait until it answers. A running node is left alone.
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        match self.state {
            NodeState::Running => return Ok(()),
            NodeState::Paused => {
                self.resume();
                return Ok(());
            }
            NodeState::Down => {}
        }
        // A node that was stop()ped had its directory removed: nothing to restart from.
        if !self.dir.join("server.properties").exists() {
            return Err(TestkitError::Command {
                what: format!("restart of node {}", self.id),
                detail: "its directory is gone (stopped for good)".into(),
            });
        }
        self.launch()?;
        let port = self.port;
        self.wait_ready(port)
    }
}
