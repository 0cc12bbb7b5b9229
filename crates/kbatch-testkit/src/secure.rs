//! A broker with every security protocol, for the TLS and SASL tests: one JVM, shared by the
//! tests of a process ([`shared_secure_broker`]), with these listeners on 127.0.0.1, all
//! advertised as `localhost` (the name in its certificate):
//!
//! | listener | protocol | what it is for |
//! | --- | --- | --- |
//! | PLAINTEXT | PLAINTEXT | the Java producer and admin (data is written here) |
//! | SSL | SSL | TLS with a CA file |
//! | MTLS | SSL, `ssl.client.auth=required` | mutual TLS |
//! | SASL_SSL | SASL_SSL: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 | SASL over TLS |
//! | SASL_PLAINTEXT | SASL_PLAINTEXT: the same + OAUTHBEARER (unsecured JWT validator) | SASL without TLS |
//! | EXPIRED | SSL with an expired certificate | refusing expired certificates |
//! | REAUTH | SASL_PLAINTEXT SCRAM-SHA-256, sessions of 3 s (KIP-368) | reads that outlive a session |
//! | OIDC | SASL_PLAINTEXT OAUTHBEARER, JWTs validated through [`crate::oidc`]'s JWKS | `sasl.oauthbearer.method=oidc` |
//!
//! Certificates are made by `scripts/certs.sh` with the `openssl` CLI; Kafka reads them as PEM
//! keystores. SCRAM users are written into the metadata at format time (`--add-scram`), PLAIN
//! users into the listeners' JAAS configuration.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::{
    cluster_id, format_storage, free_port, io, succeeded, workspace_root, Broker, TestkitError,
    Tie, STARTED,
};

/// The SASL user (PLAIN and both SCRAM mechanisms).
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "alice-Pa55-7f3e";
/// SCRAM and PLAIN sessions on the REAUTH listener last this long.
pub const REAUTH_MS: u64 = 3000;

/// Listener addresses (`localhost:PORT`) of a [`SecureBroker`].
#[derive(Debug, Clone)]
pub struct Listeners {
    /// SSL.
    pub ssl: String,
    /// SSL with client certificates required.
    pub mtls: String,
    /// SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
    pub sasl_ssl: String,
    /// SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER).
    pub sasl_plaintext: String,
    /// SSL with an expired certificate.
    pub expired: String,
    /// SASL_PLAINTEXT SCRAM-SHA-256 with short sessions.
    pub reauth: String,
    /// SASL_PLAINTEXT OAUTHBEARER validating [`SecureBroker::auth`]'s signed JWTs.
    pub oidc: String,
}

/// A running broker with secured listeners, and the certificates the tests use.
#[derive(Debug)]
pub struct SecureBroker {
    /// The broker (its `bootstrap` is the PLAINTEXT listener, for producing and topics).
    pub broker: Broker,
    /// The secured listeners.
    pub listeners: Listeners,
    /// The token endpoint and JWKS the OIDC listener trusts (alive while this process is).
    pub auth: crate::oidc::AuthServer,
    certs: PathBuf,
}

impl SecureBroker {
    /// A file made by `scripts/certs.sh`: `ca.pem`, `other-ca.pem`, `client-pkcs8.pem` +
    /// `client-pkcs8.key` (and `-pkcs1`, `-sec1`), `client-keystore.pem` (key + certificate).
    pub fn cert(&self, name: &str) -> PathBuf {
        self.certs.join(name)
    }

    /// Make certificates, format storage with SCRAM users, start the broker (tied to this
    /// process like [`Broker::start`]) and wait until it serves.
    pub fn start() -> Result<SecureBroker, TestkitError> {
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kbatch-secure-{}-{n}", std::process::id()));
        SecureBroker::start_in(&dir, Tie::ToThisProcess)
    }

    /// Like [`SecureBroker::start`], but the broker outlives this process (state in `dir`,
    /// stopped by [`crate::stop_detached`]): for `tests/static/run.sh`.
    pub fn start_detached(dir: &Path) -> Result<SecureBroker, TestkitError> {
        let mut b = SecureBroker::start_in(dir, Tie::Detached)?;
        std::fs::write(dir.join("pid"), b.broker.pid.to_string()).map_err(io("writing pid"))?;
        b.broker.owned = false;
        b.broker.child = None;
        Ok(b)
    }

    fn start_in(dir: &Path, tie: Tie) -> Result<SecureBroker, TestkitError> {
        let dir = dir.to_path_buf();
        let _ = std::fs::remove_dir_all(&dir);
        let certs = dir.join("certs");
        std::fs::create_dir_all(dir.join("data")).map_err(io("creating the broker dir"))?;
        std::fs::create_dir_all(&certs).map_err(io("creating the certs dir"))?;
        make_certs(&certs)?;
        let auth = crate::oidc::AuthServer::start(&certs.join("jwt-signing.key"))?;

        let [port, cport, ssl, mtls, sasl_ssl, sasl_plain, expired, reauth, oidc] =
            [(); 9].map(|_| free_port());
        let listeners = Listeners {
            ssl: format!("localhost:{ssl}"),
            mtls: format!("localhost:{mtls}"),
            sasl_ssl: format!("localhost:{sasl_ssl}"),
            sasl_plaintext: format!("localhost:{sasl_plain}"),
            expired: format!("localhost:{expired}"),
            reauth: format!("localhost:{reauth}"),
            oidc: format!("localhost:{oidc}"),
        };
        let config = dir.join("server.properties");
        std::fs::write(
            &config,
            properties(
                &dir,
                &certs,
                port,
                cport,
                [ssl, mtls, sasl_ssl, sasl_plain, expired, reauth, oidc],
                &auth.jwks_url(),
            ),
        )
        .map_err(io("writing server.properties"))?;

        format_storage(
            &config,
            &cluster_id(),
            &[
                "--add-scram".into(),
                format!("SCRAM-SHA-256=[name={USER},password={PASSWORD}]"),
                "--add-scram".into(),
                format!("SCRAM-SHA-512=[name={USER},password={PASSWORD}]"),
            ],
        )?;

        let mut broker = Broker {
            bootstrap: format!("127.0.0.1:{port}"),
            dir,
            child: None,
            pid: 0,
            owned: true,
            id: 1,
            port,
            tie,
            watchdog: None,
            state: crate::NodeState::Down,
            // The OIDC listener fetches its JWKS from the tests' own endpoint.
            jvm_props: vec![format!(
                "-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={}",
                auth.jwks_url()
            )],
        };
        broker.launch()?;
        broker.wait_ready(port)?;
        Ok(SecureBroker {
            broker,
            listeners,
            auth,
            certs,
        })
    }
}

fn make_certs(dir: &Path) -> Result<(), TestkitError> {
    let script = workspace_root().join("crates/kbatch-testkit/scripts/certs.sh");
    let out = Command::new("sh")
        .arg(&script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(io("running scripts/certs.sh (is openssl installed?)"))?;
    succeeded(&out, "scripts/certs.sh")
}

fn properties(
    dir: &Path,
    certs: &Path,
    port: u16,
    cport: u16,
    secured: [u16; 7],
    jwks: &str,
) -> String {
    let [ssl, mtls, sasl_ssl, sasl_plain, expired, reauth, oidc] = secured;
    let c = |f: &str| certs.join(f).display().to_string();
    let plain = format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required user_{USER}=\"{PASSWORD}\";"
    );
    let scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;";
    let oauth = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"broker\";";
    let mut p = format!(
        "process.roles=broker,controller\n\
         node.id=1\n\
         controller.quorum.voters=1@127.0.0.1:{cport}\n\
         listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport},SSL://127.0.0.1:{ssl},MTLS://127.0.0.1:{mtls},SASL_SSL://127.0.0.1:{sasl_ssl},SASL_PLAINTEXT://127.0.0.1:{sasl_plain},EXPIRED://127.0.0.1:{expired},REAUTH://127.0.0.1:{reauth},OIDC://127.0.0.1:{oidc}\n\
         advertised.listeners=PLAINTEXT://127.0.0.1:{port},SSL://localhost:{ssl},MTLS://localhost:{mtls},SASL_SSL://localhost:{sasl_ssl},SASL_PLAINTEXT://localhost:{sasl_plain},EXPIRED://localhost:{expired},REAUTH://localhost:{reauth},OIDC://localhost:{oidc}\n\
         listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,EXPIRED:SSL,REAUTH:SASL_PLAINTEXT,OIDC:SASL_PLAINTEXT\n\
         controller.listener.names=CONTROLLER\n\
         inter.broker.listener.name=PLAINTEXT\n\
         log.dirs={data}\n\
         num.partitions=1\n\
         auto.create.topics.enable=false\n\
         group.initial.rebalance.delay.ms=0\n\
         offsets.topic.replication.factor=1\n\
         offsets.topic.num.partitions=4\n\
         transaction.state.log.replication.factor=1\n\
         transaction.state.log.min.isr=1\n\
         transaction.state.log.num.partitions=4\n\
         share.coordinator.state.topic.replication.factor=1\n\
         share.coordinator.state.topic.min.isr=1\n\
         ssl.keystore.type=PEM\n\
         ssl.keystore.location={keystore}\n\
         ssl.truststore.type=PEM\n\
         ssl.truststore.location={ca}\n\
         ssl.client.auth=none\n\
         listener.name.mtls.ssl.client.auth=required\n\
         listener.name.expired.ssl.keystore.type=PEM\n\
         listener.name.expired.ssl.keystore.location={expired_ks}\n\
         sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512\n\
         listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512\n\
         listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER\n\
         listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config={oauth}\n\
         listener.name.reauth.sasl.enabled.mechanisms=SCRAM-SHA-256\n\
         listener.name.reauth.scram-sha-256.sasl.jaas.config={scram}\n\
         listener.name.reauth.scram-sha-256.connections.max.reauth.ms={REAUTH_MS}\n\
         listener.name.oidc.sasl.enabled.mechanisms=OAUTHBEARER\n\
         listener.name.oidc.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;\n\
         listener.name.oidc.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler\n\
         sasl.oauthbearer.jwks.endpoint.url={jwks}\n",
        data = dir.join("data").display(),
        keystore = c("broker-keystore.pem"),
        ca = c("ca.pem"),
        expired_ks = c("expired-keystore.pem"),
    );
    for listener in ["sasl_ssl", "sasl_plaintext"] {
        p.push_str(&format!(
            "listener.name.{listener}.plain.sasl.jaas.config={plain}\n\
             listener.name.{listener}.scram-sha-256.sasl.jaas.config={scram}\n\
             listener.name.{listener}.scram-sha-512.sasl.jaas.config={scram}\n"
        ));
    }
    p
}

/// One secured broker per test process, started on first use and killed by its watchdog when
/// the process exits. Panics (with the broker log) if it cannot start.
pub fn shared_secure_broker() -> &'static SecureBroker {
    static SHARED: OnceLock<SecureBroker> = OnceLock::new();
    SHARED.get_or_init(|| match SecureBroker::start() {
        Ok(b) => b,
        Err(e) => panic!("cannot start the secured test broker: {e}"),
    })
}
