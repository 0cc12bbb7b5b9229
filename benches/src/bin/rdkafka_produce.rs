//! A librdkafka producer for fixtures: every line of stdin becomes one record value (no key)
//! in partition 0 of `--topic`, compressed with `--compression` (librdkafka writes snappy
//! without the Java xerial framing, which is why kbatch keeps a fixture from it).
//!
//! ```text
//! rdkafka_produce --bootstrap HOST:PORT --topic T [--compression snappy] < values.txt
//! ```
//! Prints the number of records acknowledged; exits non-zero if any delivery failed.
use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn main() -> ExitCode {
    match run() {
        Ok(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rdkafka_produce: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<u64, String> {
    let mut bootstrap = None;
    let mut topic = None;
    let mut compression = "snappy".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--bootstrap" => bootstrap = Some(value()?),
            "--topic" => topic = Some(value()?),
            "--compression" => compression = value()?,
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    let bootstrap = bootstrap.ok_or("--bootstrap is required")?;
    let topic = topic.ok_or("--topic is required")?;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("compression.codec", &compression)
        .set("linger.ms", "50")
        .set("enable.idempotence", "true")
        .create()
        .map_err(|e| format!("creating the producer: {e}"))?;
    let mut sent = 0u64;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        let mut record = BaseRecord::<(), [u8]>::to(&topic)
            .partition(0)
            .payload(line.as_bytes());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                // Local queue full: serve delivery reports, then retry the same record.
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
        sent += 1;
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(60))
        .map_err(|e| format!("flushing: {e}"))?;
    if producer.in_flight_count() != 0 {
        return Err(format!(
            "{} records not delivered",
            producer.in_flight_count()
        ));
    }
    Ok(sent)
}
