// Topic administration for kbatch's tests, through Kafka's own Admin client (one JVM start
// instead of one per kafka-topics call).
//
// Usage: java -cp 'LIBS/*:CLASSES' Admin BOOTSTRAP create TOPIC PARTITIONS [key=value configs...]
//        (kbatch.replication.factor=N sets the replication factor, default 1)
//        java -cp 'LIBS/*:CLASSES' Admin BOOTSTRAP delete-records TOPIC PARTITION BEFORE_OFFSET
//        java -cp 'LIBS/*:CLASSES' Admin BOOTSTRAP wait-ready
// For the fault tests on a 3-node cluster:
//        Admin BOOTSTRAP leaders TOPIC      one line per partition: "P<TAB>LEADER<TAB>REPLICAS<TAB>ISR"
//                                           (leader -1 when none; lists comma-separated)
//        Admin BOOTSTRAP wait-leader-not TOPIC NODE SECS   until no partition is led by NODE
//                                           (and every partition has a leader)
//        Admin BOOTSTRAP wait-isr TOPIC SIZE SECS          until every partition has SIZE in-sync
//                                           replicas and a leader
//        Admin BOOTSTRAP elect-preferred TOPIC             preferred leader election (no-op
//                                           partitions are not errors)
//        Admin BOOTSTRAP reassign TOPIC P=R1,R2[,R3]...    reassign and wait until it completes
//        Admin BOOTSTRAP delete-topic TOPIC                delete and wait until it is gone
//        Admin BOOTSTRAP set-quota KEY VALUE|-             a client quota (e.g. consumer_byte_rate)
//                                           on the default client-id entity; "-" removes it
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.NewPartitionReassignment;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.quota.ClientQuotaAlteration;
import org.apache.kafka.common.quota.ClientQuotaEntity;

public class Admin {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        // Short enough that a paused (SIGSTOPped) node costs a retry on another node, not the run.
        props.put("request.timeout.ms", "8000");
        props.put("default.api.timeout.ms", "30000");
        try (AdminClient admin = AdminClient.create(props)) {
            switch (args[1]) {
                case "wait-ready":
                    admin.describeCluster().nodes().get(30, TimeUnit.SECONDS);
                    admin.listTopics().names().get(30, TimeUnit.SECONDS);
                    break;
                case "create": {
                    String topic = args[2];
                    int partitions = Integer.parseInt(args[3]);
                    Map<String, String> configs = new HashMap<>();
                    short rf = 1;
                    for (int i = 4; i < args.length; i++) {
                        int eq = args[i].indexOf('=');
                        String k = args[i].substring(0, eq);
                        String v = args[i].substring(eq + 1);
                        // Not a topic config: the replication factor (3-node clusters).
                        if (k.equals("kbatch.replication.factor")) rf = Short.parseShort(v);
                        else configs.put(k, v);
                    }
                    NewTopic t = new NewTopic(topic, partitions, rf).configs(configs);
                    admin.createTopics(Collections.singleton(t)).all().get(30, TimeUnit.SECONDS);
                    // Wait until every partition has a leader.
                    for (int i = 0; i < 300; i++) {
                        TopicDescription d;
                        try {
                            d = admin.describeTopics(Collections.singleton(topic)).allTopicNames()
                                    .get(30, TimeUnit.SECONDS).get(topic);
                        } catch (java.util.concurrent.ExecutionException e) {
                            // Metadata may lag the creation by a moment.
                            Thread.sleep(100);
                            continue;
                        }
                        if (d.partitions().size() == partitions
                                && d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty())) {
                            return;
                        }
                        Thread.sleep(100);
                    }
                    throw new IllegalStateException("partitions of " + topic + " have no leader");
                }
                case "delete-records": {
                    TopicPartition tp = new TopicPartition(args[2], Integer.parseInt(args[3]));
                    admin.deleteRecords(Collections.singletonMap(tp, RecordsToDelete.beforeOffset(Long.parseLong(args[4]))))
                            .all().get(30, TimeUnit.SECONDS);
                    break;
                }
                case "leaders": {
                    for (TopicPartitionInfo p : describe(admin, args[2])) {
                        System.out.println(p.partition() + "\t" + id(p.leader()) + "\t" + ids(p.replicas()) + "\t" + ids(p.isr()));
                    }
                    break;
                }
                case "wait-leader-not": {
                    int node = Integer.parseInt(args[3]);
                    waitFor(admin, args[2], Integer.parseInt(args[4]), "a leader other than node " + node,
                            p -> p.leader() != null && !p.leader().isEmpty() && p.leader().id() != node);
                    break;
                }
                case "wait-isr": {
                    int size = Integer.parseInt(args[3]);
                    waitFor(admin, args[2], Integer.parseInt(args[4]), size + " in-sync replicas",
                            p -> p.leader() != null && !p.leader().isEmpty() && p.isr().size() >= size);
                    break;
                }
                case "elect-preferred": {
                    Set<TopicPartition> tps = new HashSet<>();
                    for (TopicPartitionInfo p : describe(admin, args[2])) tps.add(new TopicPartition(args[2], p.partition()));
                    Map<TopicPartition, Optional<Throwable>> r =
                            admin.electLeaders(ElectionType.PREFERRED, tps).partitions().get(30, TimeUnit.SECONDS);
                    for (Map.Entry<TopicPartition, Optional<Throwable>> e : r.entrySet()) {
                        if (e.getValue().isPresent()
                                && !(e.getValue().get() instanceof org.apache.kafka.common.errors.ElectionNotNeededException)) {
                            throw new IllegalStateException(e.getKey() + ": " + e.getValue().get());
                        }
                    }
                    break;
                }
                case "reassign": {
                    Map<TopicPartition, Optional<NewPartitionReassignment>> m = new HashMap<>();
                    for (int i = 3; i < args.length; i++) {
                        int eq = args[i].indexOf('=');
                        List<Integer> replicas = new ArrayList<>();
                        for (String r : args[i].substring(eq + 1).split(",")) replicas.add(Integer.parseInt(r));
                        m.put(new TopicPartition(args[2], Integer.parseInt(args[i].substring(0, eq))),
                                Optional.of(new NewPartitionReassignment(replicas)));
                    }
                    admin.alterPartitionReassignments(m).all().get(30, TimeUnit.SECONDS);
                    for (int i = 0; i < 600; i++) {
                        if (admin.listPartitionReassignments(m.keySet()).reassignments().get(30, TimeUnit.SECONDS).isEmpty()) return;
                        Thread.sleep(100);
                    }
                    throw new IllegalStateException("reassignment of " + args[2] + " did not complete");
                }
                case "delete-topic": {
                    admin.deleteTopics(Collections.singleton(args[2])).all().get(30, TimeUnit.SECONDS);
                    for (int i = 0; i < 600; i++) {
                        if (!admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(args[2])) return;
                        Thread.sleep(100);
                    }
                    throw new IllegalStateException(args[2] + " still listed after deletion");
                }
                case "set-quota": {
                    Map<String, String> entity = new HashMap<>();
                    entity.put(ClientQuotaEntity.CLIENT_ID, null); // the default client-id
                    Double value = args[3].equals("-") ? null : Double.parseDouble(args[3]);
                    ClientQuotaAlteration a = new ClientQuotaAlteration(new ClientQuotaEntity(entity),
                            Collections.singleton(new ClientQuotaAlteration.Op(args[2], value)));
                    admin.alterClientQuotas(Collections.singleton(a)).all().get(30, TimeUnit.SECONDS);
                    break;
                }
                default:
                    throw new IllegalArgumentException("unknown command " + args[1]);
            }
        }
    }

    static List<TopicPartitionInfo> describe(AdminClient admin, String topic) throws Exception {
        return admin.describeTopics(Collections.singleton(topic)).allTopicNames()
                .get(30, TimeUnit.SECONDS).get(topic).partitions();
    }

    static int id(Node n) {
        return n == null || n.isEmpty() ? -1 : n.id();
    }

    static String ids(List<Node> nodes) {
        return nodes.stream().map(n -> Integer.toString(n.id())).collect(Collectors.joining(","));
    }

    // Poll the topic's partitions until every one satisfies `ok`, for at most `secs` seconds.
    static void waitFor(AdminClient admin, String topic, int secs, String what,
                        java.util.function.Predicate<TopicPartitionInfo> ok) throws Exception {
        long deadline = System.currentTimeMillis() + secs * 1000L;
        String last = "";
        while (System.currentTimeMillis() < deadline) {
            try {
                List<TopicPartitionInfo> ps = describe(admin, topic);
                if (ps.stream().allMatch(ok)) return;
                last = ps.stream().map(p -> p.partition() + ":leader=" + id(p.leader()) + ",isr=" + ids(p.isr()))
                        .collect(Collectors.joining(" "));
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                last = e.toString();
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException(topic + ": no " + what + " within " + secs + " s; last seen " + last);
    }
}
