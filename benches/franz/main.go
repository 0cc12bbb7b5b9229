// Command franz_trending is the Go comparison reader of bench_e2e: the trending job
// done with franz-go (pkg/kgo) and fastjson, the way a careful Go engineer would
// write it, with the same arguments, termination and output as rdkafka_trending
// (benches/src/bin/rdkafka_trending.rs), so the harness compares the three readers
// every round.
//
//   - The range of every partition is fixed at start, as rdkafka_trending's
//     `fetch_watermarks` fixes it: `[log start offset, end)`, where end is what
//     ListOffsets answers for "latest" under read_committed, the last stable offset
//     (librdkafka sends its `isolation.level` in that request; kadm's
//     ListCommittedOffsets does the same). Partitions with an empty range are not
//     read.
//   - Every partition with records is consumed directly (kgo.ConsumePartitions, no
//     group, nothing committed) from its exact start offset, read_committed, and is
//     done when the record at end-1 was seen. kgo.KeepControlRecords makes a range
//     that ends in a transaction marker end on that marker (kcat #33); control
//     records are not counted. An offset out of range is an error, as rdkafka's
//     `auto.offset.reset=error`. A run that makes no progress for --stall-secs fails,
//     naming the partitions and where they stopped (kgo does not expose a direct
//     consumer's position, so a range whose last offsets were compacted away ends
//     there, where rdkafka's partition EOF would end it).
//   - Values are judged by [extractor] exactly as count_serde judges them and counted
//     in a map keyed by category and product without allocating on a hit.
//   - Competition rank per category (1 + products with strictly more views), rank <=
//     --top, sorted by category, rank, product (byte-wise). Prints
//     {"records","invalid","top"} as `kbatch trending --format json` does.
//
// Fetch settings mirror rdkafka_trending's: 32 MiB per fetch response
// (fetch.max.bytes), 1 MiB per partition (max.partition.fetch.bytes), 100 ms
// broker wait (fetch.wait.max.ms). kgo keeps one fetch response buffered per broker
// and sends the next request as soon as that one is polled, so it needs no local
// queue settings like librdkafka's. -X fetch.max.bytes=N (and the other three names
// below) overrides them for tuning experiments.
//
// Usage: franz_trending --bootstrap HOST:PORT --topic T [--top N] [--stall-secs S]
//
//	[-X fetch.max.bytes|max.partition.fetch.bytes|fetch.wait.max.ms|fetch.min.bytes=N]...
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type args struct {
	bootstrap string
	topic     string
	top       uint64
	stall     time.Duration
	// Fetch settings, named as librdkafka names them.
	fetchMaxBytes, partitionMaxBytes, fetchMinBytes int32
	fetchWait                                       time.Duration
}

func parseArgs(argv []string) (*args, error) {
	a := &args{
		bootstrap:         "localhost:9092",
		top:               1,
		stall:             60 * time.Second,
		fetchMaxBytes:     32 << 20,
		partitionMaxBytes: 1 << 20,
		fetchMinBytes:     1,
		fetchWait:         100 * time.Millisecond,
	}
	for len(argv) > 0 {
		flag := argv[0]
		if len(argv) < 2 {
			return nil, fmt.Errorf("%s needs a value", flag)
		}
		value := argv[1]
		argv = argv[2:]
		switch flag {
		case "--bootstrap":
			a.bootstrap = value
		case "--topic":
			a.topic = value
		case "--top":
			n, err := strconv.ParseUint(value, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--top %q: not a number", value)
			}
			a.top = n
		case "--stall-secs":
			n, err := strconv.ParseUint(value, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--stall-secs %q: not a number", value)
			}
			a.stall = time.Duration(n) * time.Second
		case "-X":
			k, v, ok := strings.Cut(value, "=")
			n, err := strconv.ParseInt(v, 10, 32)
			if !ok || err != nil {
				return nil, fmt.Errorf("-X %q: expected property=integer", value)
			}
			switch k {
			case "fetch.max.bytes":
				a.fetchMaxBytes = int32(n)
			case "max.partition.fetch.bytes":
				a.partitionMaxBytes = int32(n)
			case "fetch.min.bytes":
				a.fetchMinBytes = int32(n)
			case "fetch.wait.max.ms":
				a.fetchWait = time.Duration(n) * time.Millisecond
			default:
				return nil, fmt.Errorf("-X %q: franz_trending knows fetch.max.bytes, max.partition.fetch.bytes, fetch.min.bytes, fetch.wait.max.ms", k)
			}
		default:
			return nil, fmt.Errorf("unknown flag %q", flag)
		}
	}
	if a.topic == "" {
		return nil, errors.New("--topic is required")
	}
	return a, nil
}

func main() {
	a, err := parseArgs(os.Args[1:])
	if err == nil {
		err = run(a)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "franz_trending: %v\n", err)
		fmt.Fprintln(os.Stderr, "usage: franz_trending --bootstrap HOST:PORT --topic T [--top N] [--stall-secs S] [-X fetch.property=N]...")
		os.Exit(1)
	}
}

// ranges returns, per partition with records, its start offset and its end
// (exclusive): the log start offset and the last stable offset.
func ranges(a *args) (map[int32]int64, map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.bootstrap))
	if err != nil {
		return nil, nil, fmt.Errorf("creating the admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	starts, err := adm.ListStartOffsets(ctx, a.topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("start offsets of %s from %s: %w", a.topic, a.bootstrap, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, a.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("end offsets of %s from %s: %w", a.topic, a.bootstrap, err)
	}
	if len(starts[a.topic]) == 0 {
		return nil, nil, fmt.Errorf("no partitions of %s at %s", a.topic, a.bootstrap)
	}
	from := make(map[int32]int64)
	until := make(map[int32]int64)
	for p, s := range starts[a.topic] {
		e, ok := ends.Lookup(a.topic, p)
		if !ok {
			return nil, nil, fmt.Errorf("no end offset for %s/%d", a.topic, p)
		}
		if e.Offset > s.Offset {
			from[p] = s.Offset
			until[p] = e.Offset
		}
	}
	return from, until, nil
}

// counts are the views per (category, product), keyed by category + 0xFF + product
// (0xFF never occurs in UTF-8, so the key is unambiguous); m[string(b)] looks a key
// up without allocating, so only a new pair allocates.
type counts struct {
	idx  map[string]int
	rows []row
	key  []byte
}

type row struct {
	category, product string
	views             uint64
}

func (c *counts) add(cat, prod []byte) {
	c.key = append(append(append(c.key[:0], cat...), 0xFF), prod...)
	if i, ok := c.idx[string(c.key)]; ok {
		c.rows[i].views++
		return
	}
	c.idx[string(c.key)] = len(c.rows)
	c.rows = append(c.rows, row{string(cat), string(prod), 1})
}

func run(a *args) error {
	from, until, err := ranges(a)
	if err != nil {
		return err
	}
	var x extractor
	c := counts{idx: make(map[string]int)}
	var records, invalid uint64
	if len(from) > 0 {
		if records, invalid, err = consume(a, from, until, &x, &c); err != nil {
			return err
		}
	}
	return report(os.Stdout, a.top, records, invalid, c.rows)
}

func consume(a *args, from, until map[int32]int64, x *extractor, c *counts) (records, invalid uint64, err error) {
	at := make(map[int32]kgo.Offset, len(from))
	for p, o := range from {
		at[p] = kgo.NewOffset().At(o)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(a.bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{a.topic: at}),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(a.fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(a.partitionMaxBytes),
		kgo.FetchMinBytes(a.fetchMinBytes),
		kgo.FetchMaxWait(a.fetchWait),
	)
	if err != nil {
		return 0, 0, fmt.Errorf("creating the consumer: %w", err)
	}
	defer cl.Close()

	// Partitions still pending, and the last offset seen in each (for the stall message).
	pending := len(until)
	seen := make(map[int32]int64, len(until))
	lastProgress := time.Now()
	for pending > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		fetches := cl.PollFetches(ctx)
		cancel()
		for _, f := range fetches {
			for _, t := range f.Topics {
				for i := range t.Partitions {
					p := &t.Partitions[i]
					if p.Err != nil {
						if errors.Is(p.Err, context.DeadlineExceeded) {
							continue // idle poll
						}
						return 0, 0, fmt.Errorf("consuming %s/%d: %w", a.topic, p.Partition, p.Err)
					}
					end, ok := until[p.Partition]
					if !ok || len(p.Records) == 0 {
						continue // a partition already done: records past its end
					}
					lastProgress = time.Now()
					for _, r := range p.Records {
						if r.Offset >= end {
							break
						}
						if !r.Attrs.IsControl() {
							records++
							if cat, prod, ok := x.event(r.Value); ok {
								c.add(cat, prod)
							} else {
								invalid++
							}
						}
						if r.Offset+1 >= end {
							break
						}
					}
					last := p.Records[len(p.Records)-1].Offset
					seen[p.Partition] = last
					if last+1 >= end {
						delete(until, p.Partition)
						pending--
					}
				}
			}
		}
		if pending > 0 && time.Since(lastProgress) > a.stall {
			var at []string
			for p, end := range until {
				o, ok := seen[p]
				if !ok {
					o = from[p] - 1
				}
				at = append(at, fmt.Sprintf("%d: last offset %d, end %d", p, o, end))
			}
			slices.Sort(at)
			return 0, 0, fmt.Errorf("no progress on %s for %v; unfinished partitions: %s", a.topic, a.stall, strings.Join(at, "; "))
		}
	}
	return records, invalid, nil
}

type topRow struct {
	Category string `json:"category"`
	Product  string `json:"product"`
	Views    uint64 `json:"views"`
	Rank     uint64 `json:"rank"`
}

// report prints the result as `kbatch trending --format json` does: competition rank
// per category, rank <= top, ordered by category, rank, product (byte-wise, as
// Rust's str ordering).
func report(out *os.File, top, records, invalid uint64, rows []row) error {
	slices.SortFunc(rows, func(x, y row) int {
		if c := strings.Compare(x.category, y.category); c != 0 {
			return c
		}
		if x.views != y.views {
			if x.views > y.views {
				return -1
			}
			return 1
		}
		return strings.Compare(x.product, y.product)
	})
	topRows := []topRow{}
	for start := 0; start < len(rows); {
		end := start
		for end < len(rows) && rows[end].category == rows[start].category {
			end++
		}
		// Competition rank: 1 + the number of the category's products with more views.
		var rank uint64
		for i := start; i < end; i++ {
			if i == start || rows[i].views != rows[i-1].views {
				rank = uint64(i-start) + 1
			}
			if rank > top {
				break
			}
			topRows = append(topRows, topRow{rows[i].category, rows[i].product, rows[i].views, rank})
		}
		start = end
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Records uint64   `json:"records"`
		Invalid uint64   `json:"invalid"`
		Top     []topRow `json:"top"`
	}{records, invalid, topRows}); err != nil {
		return err
	}
	_, err := out.Write(b.Bytes())
	return err
}
