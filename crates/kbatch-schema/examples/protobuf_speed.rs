//! Protobuf decoding speed: ~100k realistic nested messages (~400 bytes) decoded to an Arrow
//! struct column by `ProtoDecoder`, next to prost-reflect's `DynamicMessage::decode` alone on
//! the same bytes, and to natural JSON.
//!
//! Run: `cargo run --release -p kbatch-schema --example protobuf_speed`

use std::hint::black_box;
use std::time::Instant;

use kbatch_schema::protobuf::{NaturalJson, ProtoDecoder, ProtoSchema};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MapKey, MessageDescriptor, Value};

const FIXTURE: &str = include_str!("../../../fixtures/schema/protobuf.json");
const ROWS: usize = 100_000;
const BATCH: usize = 8192;

/// A small LCG: the same messages every run.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn order(order: &MessageDescriptor, rng: &mut Lcg, i: usize) -> DynamicMessage {
    let pool = order.parent_pool();
    let line = pool.get_message_by_name("shop.Order.Line").unwrap();
    let money = pool.get_message_by_name("shop.common.Money").unwrap();
    let ts = pool
        .get_message_by_name("google.protobuf.Timestamp")
        .unwrap();
    let mut m = DynamicMessage::new(order.clone());
    m.set_field_by_name(
        "id",
        Value::String(format!("order-{i:08}-{:x}", rng.next())),
    );
    m.set_field_by_name("customer_id", Value::I64(rng.next() as i64));
    m.set_field_by_name("big", Value::U64(rng.next()));
    m.set_field_by_name("delta", Value::I64(rng.below(2000) as i64 - 1000));
    m.set_field_by_name("status", Value::EnumNumber(rng.below(3) as i32));
    let lines = (0..1 + rng.below(4))
        .map(|j| {
            let mut l = DynamicMessage::new(line.clone());
            l.set_field_by_name(
                "sku",
                Value::String(format!("SKU-{:06}-{j}", rng.below(1_000_000))),
            );
            l.set_field_by_name("qty", Value::I32(1 + rng.below(9) as i32));
            let mut p = DynamicMessage::new(money.clone());
            p.set_field_by_name("units", Value::I64(rng.below(500) as i64));
            p.set_field_by_name("nanos", Value::I32(rng.below(1_000_000_000) as i32));
            p.set_field_by_name("currency", Value::String("EUR".into()));
            l.set_field_by_name("price", Value::Message(p));
            Value::Message(l)
        })
        .collect();
    m.set_field_by_name("lines", Value::List(lines));
    let counters = ["views", "clicks", "carts", "wishlist"]
        .iter()
        .map(|k| {
            (
                MapKey::String((*k).into()),
                Value::I64(rng.below(10_000) as i64),
            )
        })
        .collect();
    m.set_field_by_name("counters", Value::Map(counters));
    m.set_field_by_name(
        "blob",
        Value::Bytes(rng.next().to_le_bytes().repeat(4).into()),
    );
    if rng.below(2) == 0 {
        m.set_field_by_name(
            "note",
            Value::String("leave the parcel at the back door".into()),
        );
    }
    let tags = ["gift", "express", "b2b", "returning-customer"];
    let n = rng.below(4) as usize;
    m.set_field_by_name(
        "tags",
        Value::List(
            tags[..n]
                .iter()
                .map(|t| Value::String((*t).into()))
                .collect(),
        ),
    );
    m.set_field_by_name("score", Value::F64(rng.below(1000) as f64 / 7.0));
    m.set_field_by_name("ratio", Value::F32(rng.below(100) as f32 / 3.0));
    m.set_field_by_name("gift", Value::Bool(rng.below(2) == 0));
    let mut t = DynamicMessage::new(ts);
    t.set_field_by_name(
        "seconds",
        Value::I64(1_700_000_000 + rng.below(10_000_000) as i64),
    );
    t.set_field_by_name("nanos", Value::I32(rng.below(1_000_000_000) as i32));
    m.set_field_by_name("placed_at", Value::Message(t));
    m.set_field_by_name(
        "card",
        Value::String(format!("{:016}", rng.below(10u64.pow(16)))),
    );
    m.set_field_by_name("u32", Value::U32(rng.next() as u32));
    m.set_field_by_name(
        "packed_ints",
        Value::List(
            (0..rng.below(8))
                .map(|_| Value::I32(rng.next() as i32))
                .collect(),
        ),
    );
    m
}

/// Rates per second of this thread's CPU time (the machine may be shared; wall time is shown
/// beside it).
fn report(what: &str, (cpu, wall): (f64, f64), bytes: usize) {
    println!(
        "{what:<44} {:>9.0} rows/s {:>7.1} MB/s per CPU second (CPU {:.0} ms, wall {:.0} ms)",
        ROWS as f64 / cpu,
        bytes as f64 / cpu / 1e6,
        cpu * 1e3,
        wall * 1e3
    );
}

/// This thread's user + system CPU time in seconds (Linux: /proc/thread-self/stat, in clock
/// ticks of 10 ms).
fn thread_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// The best of 5 runs by CPU time.
fn best_of<F: FnMut()>(mut f: F) -> (f64, f64) {
    (0..5)
        .map(|_| {
            let (cpu, wall) = (thread_cpu(), Instant::now());
            f();
            (thread_cpu() - cpu, wall.elapsed().as_secs_f64())
        })
        .fold((f64::INFINITY, f64::INFINITY), |a, b| {
            if b.0 < a.0 {
                b
            } else {
                a
            }
        })
}

fn main() {
    let doc: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
    let refs: Vec<(String, String)> = doc["references_text"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().into(),
                r["schema"].as_str().unwrap().into(),
            )
        })
        .collect();
    let schema = ProtoSchema::parse(doc["schema_text"].as_str().unwrap(), refs).unwrap();
    let descriptor = schema.message_by_name("shop.Order").unwrap();
    let mut rng = Lcg(7);
    let payloads: Vec<Vec<u8>> = (0..ROWS)
        .map(|i| order(&descriptor, &mut rng, i).encode_to_vec())
        .collect();
    let bytes: usize = payloads.iter().map(Vec::len).sum();
    println!(
        "{ROWS} shop.Order messages, {:.0} bytes each on average, {:.1} MB",
        bytes as f64 / ROWS as f64,
        bytes as f64 / 1e6
    );

    let t = best_of(|| {
        for p in &payloads {
            black_box(DynamicMessage::decode(descriptor.clone(), p.as_slice()).unwrap());
        }
    });
    report("prost-reflect DynamicMessage::decode alone", t, bytes);

    let mut decoder = ProtoDecoder::new(descriptor.clone()).unwrap();
    let t = best_of(|| {
        for chunk in payloads.chunks(BATCH) {
            for p in chunk {
                decoder.append(p).unwrap();
            }
            black_box(decoder.finish());
        }
    });
    report("ProtoDecoder to Arrow (batches of 8192)", t, bytes);

    let mut out = Vec::with_capacity(1 << 20);
    let t = best_of(|| {
        for p in &payloads {
            out.clear();
            let m = DynamicMessage::decode(descriptor.clone(), p.as_slice()).unwrap();
            serde_json::to_writer(&mut out, &NaturalJson(&m)).unwrap();
            black_box(&out);
        }
    });
    report("decode + NaturalJson (dump)", t, bytes);
}
