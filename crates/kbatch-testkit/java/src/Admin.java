// Topic administration for kbatch's tests, through Kafka's own Admin client (one JVM start
// instead of one per kafka-topics call).
//
// Usage: java -cp 'LIBS/*:CLASSES' Admin BOOTSTRAP create TOPIC PARTITIONS [key=value configs...]
//        (kbatch.replication.factor=N sets the replication factor, default 1)
//        java -cp 'LIBS/*:CLASSES' Admin BOOTSTRAP delete-records TOPIC PARTITION BEFORE_OFFSET
//        java -cp 'LIBS/*:CLASSES' Admin BOOTSTRAP wait-ready
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartition;

public class Admin {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("request.timeout.ms", "20000");
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
                default:
                    throw new IllegalArgumentException("unknown command " + args[1]);
            }
        }
    }
}
