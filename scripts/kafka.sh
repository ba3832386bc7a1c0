#!/usr/bin/env bash
# A real Apache Kafka 4.x broker for development and tests: one combined
# KRaft broker/controller on 127.0.0.1. Kafka's jars come from Maven Central
# through Maven into a cache outside the repository (nothing is vendored), so
# the first start downloads and later starts only launch the JVM.
#
#   bash scripts/kafka.sh start|stop|status|reset      (also: npm run kafka -- start)
#
# Environment:
#   TIDEMARK_CACHE          cache root (default ~/.cache/tidemark)
#   TIDEMARK_KAFKA_VERSION  pin a version (default: newest cached 4.x, else newest 4.x on Central)
#   TIDEMARK_KAFKA_HEAP     JVM heap (default 512m)
#   TIDEMARK_KAFKA_RUN      state directory (default $TIDEMARK_CACHE/kafka-run); a second
#                           directory runs a second, independent broker (the restart test does)
#
# State lives in $TIDEMARK_CACHE/kafka-run: `broker` holds host:port once the
# broker answers (tests read it), `pid`, `kafka.log` (broker log), `data/`.
# The ports are kept between starts so a restarted broker is found at the
# same address with its data; `reset` wipes the data.
set -euo pipefail

CACHE="${TIDEMARK_CACHE:-$HOME/.cache/tidemark}"
RUN="${TIDEMARK_KAFKA_RUN:-$CACHE/kafka-run}"
HEAP="${TIDEMARK_KAFKA_HEAP:-512m}"
HOST=127.0.0.1
# Exit codes the test helper relies on: 3 = already running, 4 = not running.
EXIT_RUNNING=3
EXIT_STOPPED=4

say() { printf 'kafka: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

running_pid() {
  [[ -f "$RUN/pid" ]] || return 1
  local pid
  pid="$(cat "$RUN/pid")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid belonging to something else.
  grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# Newest 4.x: a version range in a generated pom makes Maven itself read
# Central's metadata, so no scraping of repository pages.
resolve_version() {
  if [[ -n "${TIDEMARK_KAFKA_VERSION:-}" ]]; then echo "$TIDEMARK_KAFKA_VERSION"; return; fi
  local cached
  cached="$(ls -d "$CACHE"/kafka-4.* 2>/dev/null | while read -r d; do [[ -f "$d/.complete" ]] && basename "$d"; done | sed 's/^kafka-//' | sort -V | tail -1 || true)"
  if [[ -n "$cached" ]]; then echo "$cached"; return; fi
  local tmp
  tmp="$(mktemp -d)"
  write_pom "$tmp" '[4.0.0,5.0.0)'
  (cd "$tmp" && mvn -B -q -Dstyle.color=never dependency:copy-dependencies -DincludeArtifactIds=kafka_2.13 -DexcludeTransitive=true -DoutputDirectory="$tmp/out" 2>&1 | strip_colors >&2; exit "${PIPESTATUS[0]}") ||
    { rm -rf "$tmp"; die "cannot resolve org.apache.kafka:kafka_2.13 [4.0.0,5.0.0) from Maven Central"; }
  local jar
  jar="$(ls "$tmp/out" | grep -E '^kafka_2\.13-4\.[0-9.]+\.jar$' | head -1)"
  rm -rf "$tmp"
  [[ -n "$jar" ]] || die "Maven resolved no kafka_2.13 4.x jar"
  jar="${jar#kafka_2.13-}"
  echo "${jar%.jar}"
}

write_pom() {
  cat >"$1/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>tidemark</groupId><artifactId>kafka-fetch</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$2</version></dependency>
  </dependencies>
</project>
EOF
}

fetch() {
  local version="$1" home="$CACHE/kafka-$1"
  [[ -f "$home/.complete" ]] && return
  say "fetching Apache Kafka $version from Maven Central into $home"
  rm -rf "$home" && mkdir -p "$home/libs"
  write_pom "$home" "$version"
  (cd "$home" && mvn -B -q -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$home/libs" 2>&1 | strip_colors >&2; exit "${PIPESTATUS[0]}") ||
    die "Maven could not fetch kafka_2.13:$version (see output above)"
  # kafka_2.13's pom brings slf4j and log4j-core but no binding between them
  # (the distribution adds it), so without this the broker logs nothing.
  local log4j
  log4j="$(ls "$home/libs" | sed -n 's/^log4j-api-\(.*\)\.jar$/\1/p' | head -1)"
  if [[ -n "$log4j" ]]; then
    (cd "$home" && mvn -B -q -Dstyle.color=never dependency:copy -Dartifact="org.apache.logging.log4j:log4j-slf4j-impl:$log4j" -DoutputDirectory="$home/libs" 2>&1 | strip_colors >&2; exit "${PIPESTATUS[0]}") ||
      say "warning: no log4j-slf4j-impl $log4j; the broker log will be empty"
  fi
  touch "$home/.complete"
}

# Maven 3.8 prints colour codes even in batch mode when quiet.
strip_colors() { sed 's/\x1b\[[0-9;]*m//g'; }

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'$HOST',()=>{console.log(s.address().port);s.close()})"
}

port_free() {
  node -e "const s=require('net').createServer();s.once('error',()=>process.exit(1));s.listen($1,'$HOST',()=>s.close(()=>process.exit(0)))"
}

# A real Kafka request (ApiVersions v0), not just a TCP accept: the broker
# answers only once its socket server and request handlers are up.
answers() {
  node -e "
    const net=require('net');const c=net.connect($2,'$1');
    const id=Buffer.from('probe');const b=Buffer.alloc(4+2+2+4+2+id.length);
    b.writeInt32BE(b.length-4,0);b.writeInt16BE(18,4);b.writeInt16BE(0,6);b.writeInt32BE(7,8);b.writeInt16BE(id.length,12);id.copy(b,14);
    let got=Buffer.alloc(0);c.setTimeout(2000,()=>process.exit(1));c.on('error',()=>process.exit(1));
    c.on('connect',()=>c.write(b));
    c.on('data',d=>{got=Buffer.concat([got,d]);if(got.length>=10){process.exit(got.readInt32BE(4)===7&&got.readInt16BE(8)===0?0:1)}});
  " 2>/dev/null
}

start() {
  mkdir -p "$RUN"
  exec 9>"$RUN/lock"
  # Serialises concurrent starts (two vitest workers may ask at once).
  flock -w 300 9 || die "another start holds $RUN/lock"
  local pid
  if pid="$(running_pid)"; then
    say "already running (pid $pid) at $(cat "$RUN/broker" 2>/dev/null || echo '?'); stop it first with: npm run kafka -- stop"
    exit $EXIT_RUNNING
  fi
  command -v java >/dev/null || die "java not found (Kafka 4 needs Java 17+)"
  command -v mvn >/dev/null || die "mvn not found (used to fetch Kafka from Maven Central)"
  local t0 version home
  t0="$(date +%s%N)"
  version="$(resolve_version)"
  fetch "$version"
  home="$CACHE/kafka-$version"

  local port cport
  port="$(cat "$RUN/port" 2>/dev/null || true)"
  cport="$(cat "$RUN/controller-port" 2>/dev/null || true)"
  if [[ -z "$port" || -z "$cport" ]] || ! port_free "$port" || ! port_free "$cport"; then
    port="$(free_port)"
    cport="$(free_port)"
    while [[ "$cport" == "$port" ]]; do cport="$(free_port)"; done
    # The stored metadata names the old controller endpoint: start clean on new ports.
    rm -rf "$RUN/data"
  fi
  echo "$port" >"$RUN/port"
  echo "$cport" >"$RUN/controller-port"
  rm -f "$RUN/broker"

  cat >"$RUN/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$cport
listeners=PLAINTEXT://$HOST:$port,CONTROLLER://$HOST:$cport
advertised.listeners=PLAINTEXT://$HOST:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$RUN/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests run consumer groups with short sessions so rebalances stay quick.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
log.retention.hours=24
log.segment.bytes=67108864
EOF
  cat >"$RUN/log4j2.properties" <<EOF
status=warn
appender.file.type=File
appender.file.name=file
appender.file.fileName=$RUN/kafka.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.request.name=kafka.request.logger
logger.request.level=WARN
EOF

  if [[ ! -f "$RUN/data/meta.properties" ]]; then
    rm -rf "$RUN/data"
    local cluster
    cluster="$(java -cp "$home/libs/*" kafka.tools.StorageTool random-uuid 2>>"$RUN/stdout.log" | tail -1)"
    java -Dlog4j2.configurationFile="$RUN/log4j2.properties" -cp "$home/libs/*" kafka.tools.StorageTool format \
      -t "$cluster" -c "$RUN/server.properties" >>"$RUN/stdout.log" 2>&1 || die "formatting $RUN/data failed; see $RUN/stdout.log"
  fi

  # setsid: the broker outlives the shell (and a test worker) that started it.
  setsid java -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$RUN/log4j2.properties" -cp "$home/libs/*" \
    kafka.Kafka "$RUN/server.properties" >>"$RUN/stdout.log" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$RUN/pid"
  local deadline=$((SECONDS + 120))
  until answers "$HOST" "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -20 "$RUN/stdout.log" >&2 || true
      die "the broker exited during start; see $RUN/kafka.log and $RUN/stdout.log"
    fi
    ((SECONDS < deadline)) || { kill "$pid" 2>/dev/null || true; die "the broker did not answer on $HOST:$port within 120 s; see $RUN/kafka.log"; }
    sleep 0.3
  done
  echo "$HOST:$port" >"$RUN/broker"
  say "Apache Kafka $version up at $HOST:$port (pid $pid) in $(( ($(date +%s%N) - t0) / 1000000 )) ms; log $RUN/kafka.log"
  echo "$HOST:$port"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    say "not running"
    rm -f "$RUN/broker" "$RUN/pid"
    exit $EXIT_STOPPED
  fi
  kill -TERM "$pid"
  # A clean shutdown flushes logs and writes the clean-shutdown marker, so the next start skips recovery.
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "no clean shutdown in 30 s; killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/broker" "$RUN/pid"
  say "stopped (pid $pid)"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    local addr
    addr="$(cat "$RUN/broker" 2>/dev/null || true)"
    if [[ -n "$addr" ]] && answers "${addr%:*}" "${addr#*:}"; then
      say "running (pid $pid) at $addr"
      echo "$addr"
      return 0
    fi
    say "process $pid is up but the broker does not answer yet"
    exit $EXIT_STOPPED
  fi
  say "not running"
  exit $EXIT_STOPPED
}

reset() {
  if running_pid >/dev/null; then die "running; stop it before reset"; fi
  rm -rf "$RUN/data" "$RUN/port" "$RUN/controller-port"
  say "data wiped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) reset ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
