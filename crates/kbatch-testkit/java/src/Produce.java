// Test producer for kbatch: Kafka's own Java client, driven by ops on stdin, so kbatch's
// decoder is checked against what a real producer writes.
//
// Usage: java -cp 'LIBS/*:CLASSES' Produce [--count-only] BOOTSTRAP TOPIC [key=value producer properties...]
// With --count-only (bulk loads of millions of records) nothing is kept per record: it prints
// "count <acknowledged records>" at the end, and fails if any send failed.
// Ops, one per line, tab separated:
//   R <partition> <timestamp|-> <key b64|-> <value b64|-> [<header key b64>:<value b64|->]...
//   V <partition> <value as UTF-8 text>          (null key; bulk loading)
//   K <partition> <key text> <value text>          (bulk loading with a key)
//   B | C | A | F                                (begin, commit, abort transaction; flush)
//   X                                            (flush, report, and exit *without* closing:
//                                                 an open transaction stays open)
// Prints "<partition>\t<offset>" per record, in op order, once everything is acknowledged.
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class Produce {
    static byte[] b64(String s) {
        return s.equals("-") ? null : Base64.getDecoder().decode(s);
    }

    public static void main(String[] argv) throws Exception {
        boolean countOnly = argv.length > 0 && argv[0].equals("--count-only");
        String[] args = countOnly ? java.util.Arrays.copyOfRange(argv, 1, argv.length) : argv;
        java.util.concurrent.atomic.AtomicLong acked = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicReference<Exception> failed = new java.util.concurrent.atomic.AtomicReference<>();
        org.apache.kafka.clients.producer.Callback onAck = (m, e) -> {
            if (e != null) failed.compareAndSet(null, e); else acked.incrementAndGet();
        };
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("key.serializer", ByteArraySerializer.class.getName());
        props.put("value.serializer", ByteArraySerializer.class.getName());
        props.put("linger.ms", "5");
        props.put("batch.size", "65536");
        props.put("acks", "all");
        for (int i = 2; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        String topic = args[1];
        boolean txn = props.containsKey("transactional.id");
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            if (txn) {
                producer.initTransactions();
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16);
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isEmpty()) continue;
                char op = line.charAt(0);
                switch (op) {
                    case 'B': producer.beginTransaction(); break;
                    case 'C': producer.commitTransaction(); break;
                    case 'A':
                        // Flush first: batches still unsent at abort time are failed, never written.
                        producer.flush();
                        producer.abortTransaction();
                        break;
                    case 'F': producer.flush(); break;
                    case 'X':
                        producer.flush();
                        report(sent);
                        Runtime.getRuntime().halt(0);
                        break;
                    case 'V': {
                        int t1 = line.indexOf('\t');
                        int t2 = line.indexOf('\t', t1 + 1);
                        int partition = Integer.parseInt(line.substring(t1 + 1, t2));
                        byte[] value = line.substring(t2 + 1).getBytes(StandardCharsets.UTF_8);
                        ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, partition, null, value);
                        if (countOnly) producer.send(r, onAck); else sent.add(producer.send(r));
                        break;
                    }
                    case 'K': {
                        int t1 = line.indexOf('\t');
                        int t2 = line.indexOf('\t', t1 + 1);
                        int t3 = line.indexOf('\t', t2 + 1);
                        int partition = Integer.parseInt(line.substring(t1 + 1, t2));
                        byte[] key = line.substring(t2 + 1, t3).getBytes(StandardCharsets.UTF_8);
                        byte[] value = line.substring(t3 + 1).getBytes(StandardCharsets.UTF_8);
                        ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, partition, key, value);
                        if (countOnly) producer.send(r, onAck); else sent.add(producer.send(r));
                        break;
                    }
                    case 'R': {
                        String[] f = line.split("\t", -1);
                        int partition = Integer.parseInt(f[1]);
                        Long ts = f[2].equals("-") ? null : Long.parseLong(f[2]);
                        RecordHeaders headers = new RecordHeaders();
                        for (int i = 5; i < f.length; i++) {
                            int eq = f[i].indexOf(':');
                            String hk = new String(Base64.getDecoder().decode(f[i].substring(0, eq)), StandardCharsets.UTF_8);
                            headers.add(hk, b64(f[i].substring(eq + 1)));
                        }
                        ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, partition, ts, b64(f[3]), b64(f[4]), headers);
                        if (countOnly) producer.send(r, onAck); else sent.add(producer.send(r));
                        break;
                    }
                    default: throw new IllegalArgumentException("unknown op: " + line);
                }
            }
            producer.flush();
        }
        if (countOnly) {
            if (failed.get() != null) throw failed.get();
            System.out.println("count " + acked.get());
            return;
        }
        report(sent);
    }

    static void report(List<Future<RecordMetadata>> sent) throws Exception {
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16);
        for (Future<RecordMetadata> f : sent) {
            RecordMetadata m = f.get();
            out.write(m.partition() + "\t" + m.offset() + "\n");
        }
        out.flush();
    }
}
