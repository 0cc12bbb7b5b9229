//! Embedding kbatch: a job of your own on the same engine — views per customer (the record key)
//! over the last hour. Usage: views_per_customer [BOOTSTRAP] [TOPIC] [FROM, default -1h]
use std::collections::HashMap;

use kbatch_reader::{Bound, Config, Job, JobError, PartitionStats, Position, ReadSpec, Record};

/// Counts records per key. One `HashMap` per decode worker; merged once at the end.
pub struct ViewsPerCustomer;

impl Job for ViewsPerCustomer {
    type Partial = HashMap<Vec<u8>, u64>;
    type Output = Vec<(String, u64)>;

    fn partial(&self) -> Self::Partial {
        HashMap::new()
    }

    fn update(&self, p: &mut Self::Partial, _: usize, r: &Record<'_>) -> Result<(), JobError> {
        let key = r.key.unwrap_or(b"(no key)");
        match p.get_mut(key) {
            Some(n) => *n += 1,
            None => drop(p.insert(key.to_vec(), 1)),
        }
        Ok(())
    }

    fn merge(&self, into: &mut Self::Partial, other: Self::Partial) {
        other
            .into_iter()
            .for_each(|(k, n)| *into.entry(k).or_default() += n);
    }

    fn finish(&self, p: Self::Partial, _: &[PartitionStats]) -> Self::Output {
        let mut rows: Vec<_> = p
            .into_iter()
            .map(|(k, n)| (String::from_utf8_lossy(&k).into_owned(), n))
            .collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        rows
    }
}

/// Views per customer in `topic` from `from` (a SPEC such as `-1h`) to now, most first.
pub fn views(
    bootstrap: &str,
    topic: &str,
    from: &str,
) -> Result<Vec<(String, u64)>, Box<dyn std::error::Error>> {
    let config = Config {
        bootstrap: vec![bootstrap.to_string()],
        ..Config::default()
    };
    let spec = ReadSpec {
        from: Bound::parse(from, Position::Earliest)?,
        ..ReadSpec::topics([topic])
    };
    Ok(kbatch_reader::read(config, &spec, &ViewsPerCustomer)?.output)
}

#[allow(dead_code)] // the end-to-end test includes this file and calls `views` directly
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "localhost:9092".into());
    let topic = args.next().unwrap_or_else(|| "web_stream".into());
    let from = args.next().unwrap_or_else(|| "-1h".into());
    for (customer, n) in views(&bootstrap, &topic, &from)? {
        println!("{customer}\t{n}");
    }
    Ok(())
}
