#!/usr/bin/env bash
# Starts one Apache Kafka 4.x node in KRaft mode (no ZooKeeper) from a folder of jars.
#
# The same script runs inside the aurora-kafka image (jars in /opt/kafka/libs) and on a
# developer's machine or in the test suite (jars resolved by Maven into .cache/kafka/<version>).
# It writes server.properties from the environment, formats the storage on first start (a
# data directory with meta.properties is never formatted again) and execs the JVM, so the
# broker receives SIGTERM directly and shuts down cleanly.
#
# Environment (defaults in brackets):
#   KAFKA_LIBS_DIR             folder of the broker's jars                     [/opt/kafka/libs]
#   KAFKA_DATA_DIR             log and metadata directory                      [/var/lib/kafka/data]
#   KAFKA_CONFIG_DIR           where server.properties is written              [$KAFKA_DATA_DIR/../config]
#   KAFKA_NODE_ID              node id; "from-hostname" takes the StatefulSet ordinal (kafka-2 -> 2) [1]
#   KAFKA_PROCESS_ROLES        broker,controller | broker | controller          [broker,controller]
#   KAFKA_LISTEN_HOST          interface to bind                               [0.0.0.0]
#   KAFKA_PORT                 client listener port                            [9092]
#   KAFKA_CONTROLLER_PORT      controller listener port                        [9093]
#   KAFKA_ADVERTISED_HOST      host name clients are told to use               [$(hostname -f)]
#   KAFKA_CONTROLLER_QUORUM_VOTERS  id@host:port,...                           [this node alone]
#   KAFKA_CLUSTER_ID           cluster id used when formatting                 [kept in $KAFKA_DATA_DIR/../cluster-id, else generated]
#   KAFKA_NUM_PARTITIONS, KAFKA_DEFAULT_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS   [1, 1, 1]
#   KAFKA_HEAP_OPTS            JVM heap                                        [-Xms256m -Xmx512m]
#   KAFKA_JVM_OPTS             extra JVM options
#   KAFKA_LOG_LEVEL            broker log level                                [INFO]
#   KAFKA_LOG4J_CONFIG         log4j2 configuration                            [log4j2.properties next to this script]
#   KAFKA_EXTRA_PROPERTIES     more server properties, one key=value per line (appended last, so they win)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

libs="${KAFKA_LIBS_DIR:-/opt/kafka/libs}"
data_dir="${KAFKA_DATA_DIR:-/var/lib/kafka/data}"
config_dir="${KAFKA_CONFIG_DIR:-$(dirname "$data_dir")/config}"
roles="${KAFKA_PROCESS_ROLES:-broker,controller}"
listen_host="${KAFKA_LISTEN_HOST:-0.0.0.0}"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-9093}"
advertised_host="${KAFKA_ADVERTISED_HOST:-$(hostname -f 2>/dev/null || hostname)}"
log4j_config="${KAFKA_LOG4J_CONFIG:-$here/log4j2.properties}"

node_id="${KAFKA_NODE_ID:-1}"
if [ "$node_id" = "from-hostname" ]; then
  ordinal="$(hostname)"
  ordinal="${ordinal##*-}"
  case "$ordinal" in
    ''|*[!0-9]*) echo "start-kafka: cannot take a node id from hostname '$(hostname)'" >&2; exit 64 ;;
  esac
  node_id="$ordinal"
fi

if ! compgen -G "$libs/kafka_2.13-*.jar" > /dev/null; then
  echo "start-kafka: no Kafka jars in $libs (run 'make setup' or set KAFKA_LIBS_DIR)" >&2
  exit 66
fi
command -v java > /dev/null || { echo "start-kafka: java not found (Kafka 4 needs Java 17+)" >&2; exit 69; }

voters="${KAFKA_CONTROLLER_QUORUM_VOTERS:-${node_id}@${advertised_host}:${controller_port}}"

mkdir -p "$data_dir" "$config_dir"
properties="$config_dir/server.properties"
{
  echo "# Written by start-kafka.sh at $(date -u +%Y-%m-%dT%H:%M:%SZ); edits are overwritten."
  echo "process.roles=$roles"
  echo "node.id=$node_id"
  echo "controller.quorum.voters=$voters"
  echo "controller.listener.names=CONTROLLER"
  echo "inter.broker.listener.name=PLAINTEXT"
  echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  case "$roles" in
    *broker*controller*|*controller*broker*)
      echo "listeners=PLAINTEXT://${listen_host}:${port},CONTROLLER://${listen_host}:${controller_port}"
      echo "advertised.listeners=PLAINTEXT://${advertised_host}:${port}" ;;
    *controller*)
      echo "listeners=CONTROLLER://${listen_host}:${controller_port}" ;;
    *)
      echo "listeners=PLAINTEXT://${listen_host}:${port}"
      echo "advertised.listeners=PLAINTEXT://${advertised_host}:${port}" ;;
  esac
  echo "log.dirs=$data_dir"
  echo "num.partitions=${KAFKA_NUM_PARTITIONS:-1}"
  echo "default.replication.factor=${KAFKA_DEFAULT_REPLICATION_FACTOR:-1}"
  echo "min.insync.replicas=${KAFKA_MIN_INSYNC_REPLICAS:-1}"
  echo "offsets.topic.replication.factor=${KAFKA_DEFAULT_REPLICATION_FACTOR:-1}"
  echo "transaction.state.log.replication.factor=${KAFKA_DEFAULT_REPLICATION_FACTOR:-1}"
  echo "transaction.state.log.min.isr=${KAFKA_MIN_INSYNC_REPLICAS:-1}"
  # Topics are created on purpose by the services (with their partition count), never by a typo.
  echo "auto.create.topics.enable=false"
  echo "unclean.leader.election.enable=false"
  echo "log.retention.hours=168"
  if [ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]; then
    printf '%s\n' "$KAFKA_EXTRA_PROPERTIES"
  fi
} > "$properties"

classpath="$libs/*"
tool() { java -Xmx256m -Dlog4j2.configurationFile="$log4j_config" -cp "$classpath" kafka.tools.StorageTool "$@"; }

if [ ! -f "$data_dir/meta.properties" ]; then
  cluster_file="$(dirname "$data_dir")/cluster-id"
  cluster_id="${KAFKA_CLUSTER_ID:-}"
  if [ -z "$cluster_id" ] && [ -f "$cluster_file" ]; then
    cluster_id="$(cat "$cluster_file")"
  fi
  if [ -z "$cluster_id" ]; then
    cluster_id="$(tool random-uuid | tail -n 1)"
  fi
  echo "$cluster_id" > "$cluster_file"
  echo "start-kafka: formatting $data_dir for cluster $cluster_id (node $node_id)"
  tool format --ignore-formatted -t "$cluster_id" -c "$properties"
fi

# shellcheck disable=SC2086  # the option variables hold several words on purpose
exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} \
  -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
  -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$log4j_config" \
  ${KAFKA_JVM_OPTS:-} \
  -cp "$classpath" kafka.Kafka "$properties"
