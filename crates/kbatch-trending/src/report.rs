//! The report, competition ranking, and the three renderings (table, CSV; JSON via serde).

use std::collections::BTreeMap;

use kbatch_engine::PartitionStats;

/// The trending job's result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Data records in range (valid + invalid).
    pub records: u64,
    /// Records that were not valid events.
    pub invalid: u64,
    /// Per partition, in the run's order.
    pub partitions: Vec<PartitionReport>,
    /// Rows with rank ≤ top, ordered by category, rank, product.
    pub top: Vec<TopRow>,
    /// The lowest invalid offsets of each partition, with reasons.
    pub invalid_samples: Vec<InvalidSample>,
}

/// One partition's figures: the engine's counts, and the invalid records among them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionReport {
    /// Range and counts (`records + aborted + control + compaction gaps = end − start`).
    #[serde(flatten)]
    pub counts: PartitionStats,
    /// Invalid records among `counts.records`.
    pub invalid: u64,
}

/// One ranked product.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopRow {
    /// Category (unescaped).
    pub category: String,
    /// Product (unescaped).
    pub product: String,
    /// Views counted.
    pub views: u64,
    /// Competition rank in the category: 1 + products with strictly more views.
    pub rank: u64,
}

/// One invalid record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InvalidSample {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Reason code.
    pub reason: &'static str,
}

/// Rank `(category, product, views)` triples per category by competition rank and keep those
/// with rank ≤ `top`, ordered by category, rank, product (byte-wise on the unescaped UTF-8).
pub fn rank<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8], u64)>, top: u64) -> Vec<TopRow> {
    let mut by_cat: BTreeMap<&[u8], Vec<(u64, &[u8])>> = BTreeMap::new();
    for (c, p, n) in pairs {
        by_cat.entry(c).or_default().push((n, p));
    }
    let mut rows = Vec::new();
    for (c, mut products) in by_cat {
        // Most views first; ties by product bytes.
        products.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let mut rank = 0u64;
        let mut prev = None;
        for (i, &(n, p)) in products.iter().enumerate() {
            if prev != Some(n) {
                rank = i as u64 + 1;
                prev = Some(n);
            }
            if rank > top {
                break;
            }
            rows.push(TopRow {
                category: String::from_utf8_lossy(c).into_owned(),
                product: String::from_utf8_lossy(p).into_owned(),
                views: n,
                rank,
            });
        }
    }
    rows
}

impl Report {
    /// Trending's report from the report of trending's question run as `top`
    /// ([`crate::TopJob::trending`], how registry-framed values are counted): the same
    /// figures, rows, order and samples; `top`'s `filtered` is always 0 there (no filter).
    pub fn from_top(r: crate::TopReport) -> Report {
        Report {
            records: r.records,
            invalid: r.invalid,
            partitions: r
                .partitions
                .into_iter()
                .map(|p| PartitionReport {
                    counts: p.counts,
                    invalid: p.invalid,
                })
                .collect(),
            top: r
                .top
                .into_iter()
                .map(|row| TopRow {
                    category: row.group.into_iter().next().unwrap_or_default(),
                    product: row.item,
                    views: match row.value {
                        crate::MetricValue::Count(n) => n,
                        // Trending's question counts; a sum never reaches here.
                        crate::MetricValue::Sum(d) => u64::try_from(d.units).unwrap_or(0),
                    },
                    rank: row.rank,
                })
                .collect(),
            invalid_samples: r.invalid_samples,
        }
    }
}

/// A bordered table like Spark's `show()`: cells right-aligned, nothing truncated.
pub fn render_table(report: &Report) -> String {
    let header = ["category", "product", "views", "rank"].map(String::from);
    let cells: Vec<[String; 4]> = report
        .top
        .iter()
        .map(|r| {
            [
                r.category.clone(),
                r.product.clone(),
                r.views.to_string(),
                r.rank.to_string(),
            ]
        })
        .collect();
    show_table(&header, &cells)
}

/// Spark's `show()` layout for any rows: a border, the header, a border, the rows, a border;
/// every cell right-aligned to its column's widest (in characters), nothing truncated.
pub(crate) fn show_table<R: AsRef<[String]>>(header: &[String], rows: &[R]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row.as_ref()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let border: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(*w)))
        .collect::<String>()
        + "+\n";
    let line = |row: &[String]| -> String {
        let mut s = String::new();
        for (w, c) in widths.iter().zip(row) {
            s.push('|');
            s.push_str(&" ".repeat(w - c.chars().count()));
            s.push_str(c);
        }
        s.push_str("|\n");
        s
    };
    let mut out = border.clone();
    out.push_str(&line(header));
    out.push_str(&border);
    for row in rows {
        out.push_str(&line(row.as_ref()));
    }
    out.push_str(&border);
    out
}

/// One CSV field, quoted as RFC 4180 asks when it holds a comma, quote or line end.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `category,product,views,rank` with RFC 4180 quoting and CRLF line ends.
pub fn render_csv(report: &Report) -> String {
    let mut out = String::from("category,product,views,rank\r\n");
    for r in &report.top {
        out.push_str(&format!(
            "{},{},{},{}\r\n",
            csv_field(&r.category),
            csv_field(&r.product),
            r.views,
            r.rank
        ));
    }
    out
}
