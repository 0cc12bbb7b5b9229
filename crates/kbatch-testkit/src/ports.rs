//! Listener ports for brokers, registries and proxies.

use std::net::TcpListener;

/// A free port on 127.0.0.1, never one this process was given before. The kernel may hand a
/// just-released port out again at once, and two listeners of one broker (or two nodes of one
/// cluster) on one port keep the broker from starting: a clean-clone CI run saw the secured
/// broker's SSL and MTLS listeners draw the same port.
pub(crate) fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("binding a free port on 127.0.0.1");
        if given.insert(port) {
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::free_port;

    /// Ports drawn in one process are all different, although the kernel hands a released
    /// port out again now and then (8 repeats in 500 draws when this test was written).
    #[test]
    fn free_ports_are_never_given_twice() {
        let mut seen = std::collections::HashSet::new();
        for draw in 0..500 {
            let port = free_port();
            assert!(seen.insert(port), "draw {draw}: port {port} again");
        }
    }
}
