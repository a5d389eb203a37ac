# shellcheck shell=bash
# DataStores for tests/e2e/tenants.sh (sourced). kine: a database server on the host, a tenant on
# it, and what must hold — the setup Job creates the tenant's database and user, the control
# plane comes up on kine, objects survive the Deployment being deleted and re-applied, and the
# tenant's database user can reach its own database only.
#
# Servers listen on 127.0.0.1 of the host; pods reach them at $E2E_ADVERTISE_IP through the
# cluster's forwarder (tools/e2e/cluster.sh: E2E_PG_PORT, E2E_MYSQL_PORT, E2E_NATS_PORT).
#
#   scenario kine-postgresql s_kine_postgresql
#   scenario kine-nats       s_kine_nats
#   scenario kine-mysql      s_kine_mysql
#   scenario etcd-isolation  s_etcd_isolation
#   scenario dedicated-etcd  s_dedicated_etcd
#
# etcd: a third etcd with auth on and two tenants on it; the setup Jobs give each tenant's client
# certificate read/write on its own prefix only, and each tenant's certificate is refused the
# other's keys.
#
# Dedicated etcd: a tenant with its own etcd StatefulSet (on a hostPath PersistentVolume the test
# provides; pods find its members through the harness's cluster DNS, tools/e2e/go/svcdns).

KINE_ADDR=${KINE_ADDR:-10.213.0.13}   # externalIP of the PostgreSQL tenant (like trusting's)
NATS_ADDR=${NATS_ADDR:-10.213.0.14}

# pg_bin: the newest PostgreSQL server binaries of the Debian packages.
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# pg_up [tls]: a fresh PostgreSQL cluster, superuser `postgres` with a password, scram-sha-256
# only. `tls`: TLS only, and every connection must also present a client certificate its CA
# signed (`clientcert=verify-ca`), as a PostgreSQL behind Kamaji's "gold" DataStore; the CA, the
# server pair and one client pair are in $PG_TLS (ca.crt, tls.crt, tls.key).
PG_TLS=""
pg_up() {
  local d=$DIR/pg bin; bin=$(pg_bin)
  [[ -x $bin/initdb ]] || die "no PostgreSQL server binaries (Debian postgresql; tools/peers.sh debian)"
  rm -rf "$d"; mkdir -p "$d"
  chmod 755 "$DIR"   # the server runs as `postgres` and must reach its directory
  head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$d/admin-password"
  local ssl=""
  PG_TLS=""
  if [[ ${1:-} == tls ]]; then
    PG_TLS=$DIR/pg-tls; rm -rf "$PG_TLS"; mkdir -p "$PG_TLS"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PG_TLS/ca.key" -out "$PG_TLS/ca.crt" \
      -days 2 -subj /CN=tcpc-e2e-postgres-ca 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/server.key" -subj /CN=postgres 2>/dev/null |
      openssl x509 -req -CA "$PG_TLS/ca.crt" -CAkey "$PG_TLS/ca.key" -CAcreateserial -days 2 -out "$d/server.crt" \
        -extfile <(printf 'subjectAltName=IP:127.0.0.1,IP:%s\nextendedKeyUsage=serverAuth\n' "$E2E_ADVERTISE_IP") 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PG_TLS/tls.key" -subj /CN=kamaji 2>/dev/null |
      openssl x509 -req -CA "$PG_TLS/ca.crt" -CAkey "$PG_TLS/ca.key" -CAcreateserial -days 2 -out "$PG_TLS/tls.crt" \
        -extfile <(printf 'extendedKeyUsage=clientAuth\n') 2>/dev/null
    cp "$PG_TLS/ca.crt" "$d/client-ca.crt"; chmod 600 "$d/server.key" "$PG_TLS/tls.key"
    ssl="-c ssl=on -c ssl_cert_file=$d/server.crt -c ssl_key_file=$d/server.key -c ssl_ca_file=$d/client-ca.crt"
  fi
  chown -R postgres: "$d"; chmod 700 "$d"
  runuser -u postgres -- "$bin/initdb" -D "$d/data" -U postgres --pwfile="$d/admin-password" \
    --auth=scram-sha-256 > "$d/initdb.log" 2>&1 || { cat "$d/initdb.log" >&2; return 1; }
  if [[ -n $PG_TLS ]]; then
    printf '%s\n' 'local all all scram-sha-256' 'hostssl all all 0.0.0.0/0 scram-sha-256 clientcert=verify-ca' \
      'hostssl all all ::/0 scram-sha-256 clientcert=verify-ca' > "$d/data/pg_hba.conf"
  fi
  runuser -u postgres -- "$bin/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -c port=$E2E_PG_PORT -c unix_socket_directories=$d -c fsync=off $ssl" start >/dev/null ||
    { cat "$d/server.log" >&2; return 1; }
}
# kine_servers_down: stop every database server a scenario started (cleanup, teardown).
kine_servers_down() { pg_down; nats_down; mysql_down; locked_etcd_down; }
pg_down() {
  [[ -d $DIR/pg/data ]] || return 0
  runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$DIR/pg/data" -m immediate stop >/dev/null 2>&1 || true
}
# psql_as USER PASSWORD DB SQL: one statement over TCP (as the pods connect), output unaligned;
# with TLS on, verifying the server and presenting the client certificate.
psql_as() {
  local tls=()
  [[ -n $PG_TLS ]] && tls=(PGSSLMODE=verify-full PGSSLROOTCERT="$PG_TLS/ca.crt" PGSSLCERT="$PG_TLS/tls.crt" PGSSLKEY="$PG_TLS/tls.key")
  env "${tls[@]}" PGPASSWORD="$2" PGCONNECT_TIMEOUT=5 "$(pg_bin)/psql" -X -q -At -h 127.0.0.1 -p "$E2E_PG_PORT" -U "$1" -d "$3" -v ON_ERROR_STOP=1 -c "$4"
}

# sql_isolated CLIENT REFUSAL TENANT USER PASSWORD DB: the tenant's USER is refused `other_db` and
# `other_tenant` (password other-pw, made by the caller) is refused DB, both with REFUSAL.
sql_isolated() {
  local client=$1 refusal=$2 tenant=$3 user=$4 pw=$5 db=$6 out
  if out=$("$client" "$user" "$pw" other_db 'SELECT 1' 2>&1); then
    log "$user reads another tenant's database"; return 1
  fi
  [[ $out == *"$refusal"* ]] || { log "$out"; return 1; }
  if out=$("$client" other_tenant other-pw "$db" 'SELECT count(*) FROM kine' 2>&1); then
    log "another tenant's user reads $db"; return 1
  fi
  [[ $out == *"$refusal"* ]] || { log "$out"; return 1; }
  log "$tenant: other users are refused its database, and it is refused theirs"
}

# kine_images_config: tcpc.yaml's images for kine and the setup Job (the harness's own builds).
kine_images_config() {
  local repo=$1 kver
  kver=$(source "$repo_root/tools/peers/versions.env" && printf '%s' "$KINE_VERSION")
  grep -q '^images:' "$repo/tcpc.yaml" && return 0
  cat >> "$repo/tcpc.yaml" <<YAML
images:
  kine: localhost/tcpc-e2e/kine:$kver
  datastoreSetup:
    postgresql: localhost/tcpc-e2e/psql:v1
    mysql: localhost/tcpc-e2e/mariadb:v1
    etcd: localhost/tcpc-e2e/etcdctl:v1
  etcd: localhost/tcpc-e2e/etcd:v1
dedicatedEtcd:
  storageClassName: tcpc-e2e-local
YAML
}

# kine_tenant NS NAME DATASTORE [ADDRESS]: a TenantControlPlane (replicas 1, ClusterIP) on
# DATASTORE; `-`: on its own etcd (tcpc.dev/dedicated-etcd). ADDRESS: also reachable at that
# externalIP on port 6443.
kine_tenant() {
  local ds="  dataStore: $3" meta="" net=""
  [[ $3 == - ]] && { ds=""; meta=$'  annotations:\n    tcpc.dev/dedicated-etcd: "true"'; }
  [[ -n ${4:-} ]] && net=$'  networkProfile:\n    address: '"$4"$'\n    allowAddressAsExternalIP: true\n    port: 6443'
  cat <<YAML
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: $2
  namespace: $1
${meta}
spec:
${ds}
  controlPlane:
    deployment:
      replicas: 1
    service:
      serviceType: ClusterIP
  kubernetes:
    version: $E2E_K8S_VERSION
    kubelet:
      cgroupfs: cgroupfs
${net}
YAML
}

# kine_datastore NAME DRIVER HOST:PORT [TLS]: a DataStore whose basicAuth is in a Secret (imported).
# TLS: in the shape of Kamaji's "gold" samples, its CA and a client certificate in Secrets too.
kine_datastore() {
  cat <<YAML
apiVersion: kamaji.clastix.io/v1alpha1
kind: DataStore
metadata:
  name: $1
spec:
  driver: $2
  endpoints:
  - $3
  basicAuth:
    username:
      secretReference: {name: $1-admin, namespace: kamaji-system, keyPath: username}
    password:
      secretReference: {name: $1-admin, namespace: kamaji-system, keyPath: password}
YAML
  [[ -n ${4:-} ]] || return 0
  cat <<YAML
  tlsConfig:
    certificateAuthority:
      certificate:
        secretReference: {name: $1-ca, namespace: kamaji-system, keyPath: ca.crt}
    clientCertificate:
      certificate:
        secretReference: {name: $1-root-cert, namespace: kamaji-system, keyPath: tls.crt}
      privateKey:
        secretReference: {name: $1-root-cert, namespace: kamaji-system, keyPath: tls.key}
YAML
}

# admin_secret NAME USER PASSWORD_FILE: the DataStore's admin Secret in kamaji-system, as a
# platform team keeps it (the setup Job reads it there; tcpc never sees the password).
admin_secret() {
  kubectl get namespace kamaji-system >/dev/null 2>&1 || kubectl create namespace kamaji-system >/dev/null
  kubectl -n kamaji-system create secret generic "$1-admin" --from-literal=username="$2" --from-file=password="$3" \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
}

# sql_tenant_up NS TCP DATASTORE DRIVER PORT ADDRESS ADMIN_USER ADMIN_PASSWORD_FILE [TLS_DIR]: a
# SQL DataStore whose admin Secret is in kamaji-system (never in Git: checked), a tenant on it,
# rendered and applied; waits for /readyz and the setup Job, then sets DB_USER, DB_NAME and DB_PW
# to what the tenant's config Secret holds. TLS_DIR (ca.crt, tls.crt, tls.key): the DataStore's CA
# and client certificate are Secrets in kamaji-system too, and imported into the repository (the
# key age-encrypted: checked absent from Git in plaintext).
sql_tenant_up() {
  local ns=$1 tcp=$2 ds=$3 driver=$4 port=$5 addr=$6 admin=$7 pw_file=$8 tls=${9:-}
  mkdir -p "$REPO/datastores" "$REPO/tenants"
  kine_datastore "$ds" "$driver" "$E2E_ADVERTISE_IP:$port" "$tls" > "$REPO/datastores/$ds.yaml"
  kine_tenant "$ns" "$tcp" "$ds" "$addr" > "$REPO/tenants/$tcp.yaml"
  kine_images_config "$REPO"
  admin_secret "$ds" "$admin" "$pw_file"
  if [[ -n $tls ]]; then
    kubectl -n kamaji-system create secret generic "$ds-ca" --from-file=ca.crt="$tls/ca.crt" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
    kubectl -n kamaji-system create secret tls "$ds-root-cert" --cert="$tls/tls.crt" --key="$tls/tls.key" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
    "$TCPC_BIN" import datastore-ca "$ds" --dir "$REPO" --cert "$tls/ca.crt"
    "$TCPC_BIN" import datastore-client-certificate "$ds" --dir "$REPO" --cert "$tls/tls.crt" --key "$tls/tls.key"
  fi
  render_repo "$REPO" 2> "$WORK/render-kine.log" || { cat "$WORK/render-kine.log" >&2; return 1; }
  ! grep -rqF -- "$(cat "$pw_file")" "$REPO" || { log "the $driver admin password is in the repository"; return 1; }
  if [[ -n $tls ]]; then
    ! grep -rqF -- "$(sed -n 2p "$tls/tls.key")" "$REPO" "$OUT" || { log "the $driver client key is in the repository"; return 1; }
  fi
  kine_up "$ns" "$tcp"
  local job; job=$(setup_job "$tcp")
  kubectl -n kamaji-system wait "$job" --for=condition=Complete --timeout=60s >/dev/null
  kubectl -n kamaji-system logs "$job" | has 'are set up'
  local key
  for key in DB_USER DB_SCHEMA DB_PASSWORD; do
    kubectl -n "$ns" get secret "$tcp-datastore-config" -o jsonpath="{.data.$key}" | base64 -d > "$WORK/$tcp-$key"
  done
  DB_USER=$(cat "$WORK/$tcp-DB_USER"); DB_NAME=$(cat "$WORK/$tcp-DB_SCHEMA"); DB_PW=$(cat "$WORK/$tcp-DB_PASSWORD")
  log "$ns/$tcp: database $DB_NAME, user $DB_USER"
}

# setup_job TCP: the setup Job of a SQL tenant (in the DataStore's namespace).
setup_job() { kubectl -n kamaji-system get jobs -l "kamaji.clastix.io/name=$1,kamaji.clastix.io/component=datastore-setup" -o name; }

# kine_up NS TCP ADDRESS: apply the management bundle; wait for /readyz through the Service.
# Prints nothing; records apply_to_readyz_<tcp>.
kine_up() {
  local ns=$1 tcp=$2 t0; t0=$(now)
  kubectl get namespace "$ns" >/dev/null 2>&1 || create_namespace "$ns"
  kubectl apply -k "$OUT/$ns/$tcp/management" > "$WORK/apply-$tcp.log"
  local deadline=$(( $(date +%s) + 180 ))
  until [[ -s $WORK/$tcp-ca.crt ]] && readyz_via_clusterip "$ns" "$tcp" "$WORK/$tcp-ca.crt" 2>/dev/null; do
    [[ -s $WORK/$tcp-ca.crt ]] || tenant_ca "$ns" "$tcp" "$WORK/$tcp-ca.crt" 2>/dev/null || true
    (( $(date +%s) < deadline )) || { log "$ns/$tcp: no /readyz within 180 s"; kubectl -n "$ns" get pods,jobs >&2; return 1; }
    sleep 0.2
  done
  timing "apply_to_readyz_$tcp" "$(elapsed "$t0")"
}

# kine_objects_survive NS TCP: create a ConfigMap through the tenant API, delete and re-apply the
# Deployment (a new pod, a new kine), and read it back.
kine_objects_survive() {
  local ns=$1 tcp=$2 kc=$WORK/$2-super-admin.conf
  "$TCPC_BIN" kubeconfig "$ns/$tcp" --user super-admin --dir "$REPO" --identity "$REPO/../age-identity.txt" -o "$kc"
  kubectl --kubeconfig "$kc" --request-timeout=10s -n default create configmap e2e-kine-probe --from-literal=stored=in-"$tcp" >/dev/null
  kubectl --kubeconfig "$kc" --request-timeout=10s -n default get configmap e2e-kine-probe -o jsonpath='{.data.stored}' | has -x "in-$tcp"
  # the pods go at once (grace period 1 s): what is tested is that the data outlives them
  kubectl -n "$ns" delete deployment "$tcp" --wait=true --timeout=60s --grace-period=1 >/dev/null
  kubectl -n "$ns" delete pods -l "kamaji.clastix.io/name=$tcp,kamaji.clastix.io/component=deployment" --grace-period=1 --wait=false >/dev/null 2>&1 || true
  wait_for "pods of $ns/$tcp gone" 60 bash -c "[[ -z \$(kubectl -n $ns get pods -l kamaji.clastix.io/name=$tcp,kamaji.clastix.io/component=deployment -o name) ]]"
  kine_up "$ns" "$tcp"
  kubectl --kubeconfig "$kc" --request-timeout=10s -n default get configmap e2e-kine-probe -o jsonpath='{.data.stored}' | has -x "in-$tcp" ||
    { log "$ns/$tcp: the ConfigMap did not survive the Deployment"; return 1; }
  log "$ns/$tcp: objects survive deleting and re-applying the Deployment"
}

s_kine_postgresql() {
  local ns=e2e-sql tcp=pg
  E2E_PG_PORT=${E2E_PG_PORT:?E2E_PG_PORT (tools/e2e/cluster.sh env)}
  # TLS with client certificates required, the DataStore in the shape of Kamaji's gold sample
  pg_up tls
  printf '%s' "$(cat "$DIR/pg/admin-password")" > "$WORK/pg-admin-password"
  sql_tenant_up "$ns" "$tcp" postgres PostgreSQL "$E2E_PG_PORT" "$KINE_ADDR" postgres "$WORK/pg-admin-password" "$PG_TLS"
  # the tenant's own user and database, created by the Job
  local user=$DB_USER db=$DB_NAME pw=$DB_PW job; job=$(setup_job "$tcp")
  [[ $user == "${ns}_$tcp" && $db == "${ns}_$tcp" ]]
  local rows; rows=$(psql_as "$user" "$pw" "$db" 'SELECT count(*) FROM kine')
  log "$ns/$tcp: kine table holds $rows rows"
  (( rows > 100 ))
  # the server really requires the client certificate kine and the setup Job present
  local out
  if out=$(PGSSLMODE=verify-full PGSSLROOTCERT="$PG_TLS/ca.crt" PGSSLCERT="$WORK/no-client.crt" PGSSLKEY="$WORK/no-client.key" PGPASSWORD="$pw" \
      PGCONNECT_TIMEOUT=5 "$(pg_bin)/psql" -X -At -h 127.0.0.1 -p "$E2E_PG_PORT" -U "$user" -d "$db" -c 'SELECT 1' 2>&1); then
    log "PostgreSQL accepts $user without a client certificate"; return 1
  fi
  [[ $out == *"requires a valid client certificate"* ]] || { log "$out"; return 1; }
  kubectl -n "$ns" get deployment "$tcp" -o jsonpath='{.spec.template.spec.containers[?(@.name=="kine")].args}' | has -- '--cert-file=/certs/server.crt'
  log "$ns/$tcp: PostgreSQL refuses connections without the client certificate; kine presents it"
  # kine talks to kube-apiserver over a socket of the pod, never a TCP port: nothing else in the
  # management cluster (the host here, as any pod of another namespace: no policy is enforced)
  # reaches the tenant's datastore through the tenant's pod, while its API server port answers
  local pod_ip; pod_ip=$(kubectl -n "$ns" get pods -l "kamaji.clastix.io/name=$tcp" --field-selector=status.phase=Running -o jsonpath='{.items[0].status.podIP}')
  timeout 3 bash -c "echo > /dev/tcp/$pod_ip/6443" 2>/dev/null || { log "$ns/$tcp: its API server port $pod_ip:6443 does not answer: the check is void"; return 1; }
  if timeout 3 bash -c "echo > /dev/tcp/$pod_ip/2379" 2>/dev/null; then
    log "$ns/$tcp: something answers on the etcd client port of its pod ($pod_ip:2379)"; return 1
  fi
  log "$ns/$tcp: the etcd client port of its pod ($pod_ip:2379) is closed to the cluster; kine serves kube-apiserver through a socket"
  [[ $(psql_as postgres "$(cat "$DIR/pg/admin-password")" postgres \
    "SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname = '$user'") == f ]] ||
    { log "the tenant's user has more than login rights"; return 1; }

  # isolation: another tenant's database refuses this user, and this one refuses the other's
  local stmt
  for stmt in "CREATE ROLE other_tenant LOGIN PASSWORD 'other-pw'" "CREATE DATABASE other_db OWNER other_tenant" \
    "REVOKE ALL ON DATABASE other_db FROM PUBLIC"; do
    psql_as postgres "$(cat "$DIR/pg/admin-password")" postgres "$stmt" >/dev/null
  done
  sql_isolated psql_as 'permission denied for database' "$ns/$tcp" "$user" "$pw" "$db"

  # the Job is idempotent: deleted and applied again, it runs again, succeeds and changes nothing
  kubectl -n kamaji-system delete "$job" --wait=true --timeout=60s >/dev/null
  kubectl apply -k "$OUT/$ns/$tcp/management" >> "$WORK/apply-$tcp.log"
  kubectl -n kamaji-system wait "$job" --for=condition=Complete --timeout=60s >/dev/null
  (( $(psql_as "$user" "$pw" "$db" 'SELECT count(*) FROM kine') >= rows ))

  kine_objects_survive "$ns" "$tcp"
  local uid; uid=$(kubectl -n "$ns" get pods -l kamaji.clastix.io/name=$tcp,kamaji.clastix.io/component=deployment -o jsonpath='{.items[0].metadata.uid}')
  timing "rss_mb_kine_pod_$tcp" "$(pod_rss_mb "$uid")"
  sql_teardown "$ns" "$tcp" "$user" "$db"
}

# sql_teardown NS TCP USER DB: the tenant removed with a Tombstone while `teardown.datastore` is
# on: its bundle holds only the teardown Job, which (applied as a GitOps tool would, the control
# plane pruned) drops the tenant's database and user, and leaves the other tenant's alone.
sql_teardown() {
  local ns=$1 tcp=$2 user=$3 db=$4 admin; admin=$(cat "$DIR/pg/admin-password")
  grep -q '^teardown:' "$REPO/tcpc.yaml" || printf 'teardown:\n  datastore: true\n' >> "$REPO/tcpc.yaml"
  printf 'apiVersion: tcpc.dev/v1alpha1\nkind: Tombstone\nmetadata:\n  namespace: %s\n  name: %s\n' "$ns" "$tcp" > "$REPO/tenants/$tcp.yaml"
  render_repo "$REPO" 2> "$WORK/render-teardown.log" || { cat "$WORK/render-teardown.log" >&2; return 1; }
  local files; files=$(ls "$OUT/$ns/$tcp/management" | grep -v '^kustomization.yaml$')
  [[ $files == job-$tcp-datastore-teardown-*.yaml ]] || { log "the removed tenant's bundle holds: $files"; return 1; }
  kubectl -n "$ns" delete deployment "$tcp" --wait=true --timeout=60s >/dev/null
  kubectl apply -k "$OUT/$ns/$tcp/management" >> "$WORK/apply-$tcp.log"
  local job; job=$(kubectl -n kamaji-system get jobs -l "kamaji.clastix.io/name=$tcp,kamaji.clastix.io/component=datastore-teardown" -o name)
  kubectl -n kamaji-system wait "$job" --for=condition=Complete --timeout=60s >/dev/null ||
    { kubectl -n kamaji-system logs "$job" >&2; return 1; }
  kubectl -n kamaji-system logs "$job" | has 'are dropped'
  [[ $(psql_as postgres "$admin" postgres "SELECT count(*) FROM pg_database WHERE datname = '$db'") == 0 ]] ||
    { log "$db is still there"; return 1; }
  [[ $(psql_as postgres "$admin" postgres "SELECT count(*) FROM pg_roles WHERE rolname = '$user'") == 0 ]] ||
    { log "$user is still there"; return 1; }
  [[ $(psql_as postgres "$admin" postgres "SELECT count(*) FROM pg_database WHERE datname = 'other_db'") == 1 ]] ||
    { log "the teardown dropped another tenant's database"; return 1; }
  log "$ns/$tcp: removed with a Tombstone, its teardown Job dropped database $db and user $user, nothing else"
  # The Tombstone deleted: the Job leaves the output and the lock; the scenarios after this one
  # render a repository without teardown.
  rm "$REPO/tenants/$tcp.yaml"
  sed -i '/^teardown:$/,/^  datastore: true$/d' "$REPO/tcpc.yaml"
  render_repo "$REPO" 2> "$WORK/render-teardown.log" || { cat "$WORK/render-teardown.log" >&2; return 1; }
  [[ ! -e $OUT/$ns/$tcp ]] || { log "$OUT/$ns/$tcp outlived its Tombstone"; return 1; }
  kubectl -n kamaji-system delete "$job" --wait=false >/dev/null
}

# nats_up: a NATS server with JetStream (built by tools/peers.sh nats), one user with a password.
nats_up() {
  local d=$DIR/nats bin; bin=$(peers_bin_dir)/nats-server
  [[ -x $bin ]] || die "no $bin (tools/peers.sh nats)"
  rm -rf "$d"; mkdir -p "$d/store"; chmod 700 "$d"
  head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$d/admin-password"
  # the password goes in a config file, not on the command line
  printf 'listen: "127.0.0.1:%s"\njetstream { store_dir: "%s" }\nauthorization { user: kine, password: "%s" }\n' \
    "$E2E_NATS_PORT" "$d/store" "$(cat "$d/admin-password")" > "$d/nats.conf"
  "$bin" -c "$d/nats.conf" > "$d/server.log" 2>&1 &
  echo $! > "$d/pid"
  wait_for "nats-server" 20 bash -c "echo > /dev/tcp/127.0.0.1/$E2E_NATS_PORT" || { cat "$d/server.log" >&2; return 1; }
}
nats_down() {
  [[ -f $DIR/nats/pid ]] || return 0
  kill "$(cat "$DIR/nats/pid")" 2>/dev/null || true
  rm -f "$DIR/nats/pid"
}

s_kine_nats() {
  local ns=e2e-nats tcp=nt
  E2E_NATS_PORT=${E2E_NATS_PORT:?E2E_NATS_PORT (tools/e2e/cluster.sh env)}
  nats_up
  kine_datastore nats NATS "$E2E_ADVERTISE_IP:$E2E_NATS_PORT" > "$REPO/datastores/nats.yaml"
  kine_tenant "$ns" "$tcp" nats "$NATS_ADDR" > "$REPO/tenants/nt.yaml"
  kine_images_config "$REPO"
  "$TCPC_BIN" import datastore-credentials nats --dir "$REPO" --username kine \
    --password-file "$DIR/nats/admin-password" 2>> "$WORK/import.log"
  render_repo "$REPO" 2> "$WORK/render-kine.log" || { cat "$WORK/render-kine.log" >&2; return 1; }
  ! grep -rqF -- "$(cat "$DIR/nats/admin-password")" "$REPO" || { log "the NATS password is in the repository"; return 1; }
  # NATS: no setup Job, a bucket per tenant
  [[ -z $(find "$OUT/$ns/$tcp/management" -name 'job-*') ]] || { log "a NATS tenant has a setup Job"; return 1; }
  kine_up "$ns" "$tcp"
  [[ $(kubectl -n "$ns" get secret "$tcp-datastore-config" -o jsonpath='{.data.DB_SCHEMA}' | base64 -d) == "${ns}_$tcp" ]]
  grep -q "bucket=${ns}_$tcp\|KV_${ns}_$tcp" "$DIR/nats/server.log" ||
    [[ -d $DIR/nats/store/jetstream/\$G/streams/KV_${ns}_$tcp ]] || { ls -R "$DIR/nats/store" | sed -n 1,20p >&2; log "no JetStream bucket ${ns}_$tcp"; return 1; }
  kine_objects_survive "$ns" "$tcp"
  local uid; uid=$(kubectl -n "$ns" get pods -l kamaji.clastix.io/name=$tcp,kamaji.clastix.io/component=deployment -o jsonpath='{.items[0].metadata.uid}')
  timing "rss_mb_kine_pod_$tcp" "$(pod_rss_mb "$uid")"
}

MYSQL_ADDR=${MYSQL_ADDR:-10.213.0.15}

# mysql_up: a fresh MariaDB (Debian mariadb-server), admin `kamaji`@`%` with a password.
mysql_up() {
  local d=$DIR/mysql
  command -v mariadbd >/dev/null || PATH=$PATH:/usr/sbin
  command -v mariadbd >/dev/null || die "no mariadbd (Debian mariadb-server; tools/peers.sh debian)"
  rm -rf "$d"; mkdir -p "$d/data"; chmod 755 "$DIR"
  head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$d/admin-password"
  chown -R mysql: "$d"
  mariadb-install-db --no-defaults --datadir="$d/data" --user=mysql --skip-test-db > "$d/install.log" 2>&1 ||
    { cat "$d/install.log" >&2; return 1; }
  mariadbd --no-defaults --datadir="$d/data" --user=mysql --bind-address=127.0.0.1 --port="$E2E_MYSQL_PORT" \
    --socket="$d/mysqld.sock" --pid-file="$d/mysqld.pid" --skip-name-resolve --innodb-flush-log-at-trx-commit=0 \
    --log-error="$d/server.log" &
  wait_for "mariadbd" 30 mariadb --no-defaults -S "$d/mysqld.sock" -u root -e 'SELECT 1' || { cat "$d/server.log" >&2; return 1; }
  mariadb --no-defaults -S "$d/mysqld.sock" -u root <<SQL
CREATE USER 'kamaji'@'%' IDENTIFIED BY '$(cat "$d/admin-password")';
GRANT ALL PRIVILEGES ON *.* TO 'kamaji'@'%' WITH GRANT OPTION;
SQL
}
mysql_down() {
  [[ -f $DIR/mysql/mysqld.pid ]] || return 0
  kill "$(cat "$DIR/mysql/mysqld.pid")" 2>/dev/null || true
  rm -f "$DIR/mysql/mysqld.pid"
}
# mysql_as USER PASSWORD DB SQL: one statement over TCP, as the pods connect.
mysql_as() {
  MYSQL_PWD=$2 mariadb --no-defaults -h 127.0.0.1 -P "$E2E_MYSQL_PORT" -u "$1" -N -B -e "$4" ${3:+"$3"}
}

s_kine_mysql() {
  local ns=e2e-mysql tcp=my
  E2E_MYSQL_PORT=${E2E_MYSQL_PORT:?E2E_MYSQL_PORT (tools/e2e/cluster.sh env)}
  mysql_up
  sql_tenant_up "$ns" "$tcp" mysql MySQL "$E2E_MYSQL_PORT" "$MYSQL_ADDR" kamaji "$DIR/mysql/admin-password"
  local user=$DB_USER db=$DB_NAME pw=$DB_PW admin_pw; admin_pw=$(cat "$DIR/mysql/admin-password")
  local rows; rows=$(mysql_as "$user" "$pw" "$db" 'SELECT count(*) FROM kine')
  log "$ns/$tcp: kine table holds $rows rows"
  (( rows > 100 ))
  # the user's grants: its own database only
  mysql_as kamaji "$admin_pw" "" "SHOW GRANTS FOR '$user'@'%'" > "$WORK/mysql-grants.log"
  grep -q "ON \`$db\`\\.\\*" "$WORK/mysql-grants.log" && ! grep -q 'ON \*\.\*.*PRIVILEGES\|GRANT ALL PRIVILEGES ON \*\.\*' "$WORK/mysql-grants.log" ||
    { cat "$WORK/mysql-grants.log" >&2; return 1; }
  # isolation: another tenant's database refuses this user, and this one refuses the other's
  mysql_as kamaji "$admin_pw" "" "CREATE DATABASE other_db; CREATE USER 'other_tenant'@'%' IDENTIFIED BY 'other-pw'; GRANT ALL ON other_db.* TO 'other_tenant'@'%'"
  sql_isolated mysql_as 'Access denied' "$ns/$tcp" "$user" "$pw" "$db"

  kine_objects_survive "$ns" "$tcp"
}

LOCK_A_ADDR=${LOCK_A_ADDR:-10.213.0.16}
LOCK_B_ADDR=${LOCK_B_ADDR:-10.213.0.17}

# locked_etcd_up: an etcd on 127.0.0.1:$E2E_AUTH_ETCD_PORT with client-certificate auth and etcd
# auth on; its root user is the CN of $DIR/locked-etcd/root.crt (signed by the harness etcd CA).
locked_etcd_up() {
  local d=$DIR/locked-etcd
  test_etcd locked-etcd "$E2E_AUTH_ETCD_PORT" 2580
  printf 'extendedKeyUsage=clientAuth\n' > "$d/client.cnf"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/root.key" -subj /CN=root 2>/dev/null |
    openssl x509 -req -CA "$E2E_ETCD_CA" -CAkey "$E2E_ETCD_CA_KEY" -CAcreateserial -days 2 -extfile "$d/client.cnf" -out "$d/root.crt" 2>/dev/null
  wait_for "locked etcd" 30 locked_etcdctl "$d/root.crt" "$d/root.key" endpoint health || { cat "$d/etcd.log" >&2; return 1; }
  locked_etcdctl "$d/root.crt" "$d/root.key" user add root --no-password >/dev/null
  locked_etcdctl "$d/root.crt" "$d/root.key" user grant-role root root >/dev/null
  locked_etcdctl "$d/root.crt" "$d/root.key" auth enable >/dev/null
}
locked_etcd_down() {
  [[ -f $DIR/locked-etcd/pid ]] || return 0
  kill "$(cat "$DIR/locked-etcd/pid")" 2>/dev/null || true
  rm -f "$DIR/locked-etcd/pid"
}
# locked_etcdctl CERT KEY ARGS...: etcdctl against the locked etcd as the certificate's CN.
locked_etcdctl() {
  local cert=$1 key=$2; shift 2
  ETCDCTL_API=3 etcdctl --endpoints "https://127.0.0.1:$E2E_AUTH_ETCD_PORT" --cacert "$E2E_ETCD_CA" \
    --cert "$cert" --key "$key" --dial-timeout 5s --command-timeout 10s "$@"
}

s_etcd_isolation() {
  local ns=e2e-lock d=$DIR/locked-etcd
  E2E_AUTH_ETCD_PORT=${E2E_AUTH_ETCD_PORT:?E2E_AUTH_ETCD_PORT (tools/e2e/cluster.sh env)}
  locked_etcd_up
  # the root client certificate as a platform team keeps it: a Secret beside the DataStore
  kubectl get namespace kamaji-system >/dev/null 2>&1 || kubectl create namespace kamaji-system >/dev/null
  kubectl -n kamaji-system create secret generic locked-etcd-root --from-file=tls.crt="$d/root.crt" \
    --from-file=tls.key="$d/root.key" --from-file=ca.crt="$E2E_ETCD_CA" >/dev/null
  cat > "$REPO/datastores/locked.yaml" <<YAML
apiVersion: kamaji.clastix.io/v1alpha1
kind: DataStore
metadata:
  name: locked
spec:
  driver: etcd
  endpoints:
  - $E2E_ADVERTISE_IP:$E2E_AUTH_ETCD_PORT
  tlsConfig:
    certificateAuthority:
      certificate:
        secretReference: {name: locked-etcd-root, namespace: kamaji-system, keyPath: ca.crt}
    clientCertificate:
      certificate:
        secretReference: {name: locked-etcd-root, namespace: kamaji-system, keyPath: tls.crt}
      privateKey:
        secretReference: {name: locked-etcd-root, namespace: kamaji-system, keyPath: tls.key}
YAML
  "$TCPC_BIN" import datastore-ca locked --dir "$REPO" --cert "$E2E_ETCD_CA" --key "$E2E_ETCD_CA_KEY" 2>> "$WORK/import.log"
  kine_tenant "$ns" lock-a locked "$LOCK_A_ADDR" > "$REPO/tenants/lock-a.yaml"
  kine_tenant "$ns" lock-b locked "$LOCK_B_ADDR" > "$REPO/tenants/lock-b.yaml"
  kine_images_config "$REPO"
  render_repo "$REPO" 2> "$WORK/render-lock.log" || { cat "$WORK/render-lock.log" >&2; return 1; }
  # both come up on the locked etcd (their Jobs gave them their roles)
  kubectl get namespace "$ns" >/dev/null 2>&1 || create_namespace "$ns"
  kine_up "$ns" lock-a & local pa=$!
  kine_up "$ns" lock-b & local pb=$!
  wait "$pa"; wait "$pb"
  local t
  for t in lock-a lock-b; do
    kubectl -n kamaji-system wait "$(setup_job "$t")" --for=condition=Complete --timeout=60s >/dev/null
    kubectl -n "$ns" get secret "$t-datastore-certificate" -o jsonpath='{.data.server\.crt}' | base64 -d > "$WORK/$t-etcd.crt"
    kubectl -n "$ns" get secret "$t-datastore-certificate" -o jsonpath='{.data.server\.key}' | base64 -d > "$WORK/$t-etcd.key"
  done
  # each certificate reads and writes its own prefix ...
  local own; own=$(locked_etcdctl "$WORK/lock-a-etcd.crt" "$WORK/lock-a-etcd.key" get --prefix "/${ns}_lock-a/" --keys-only | grep -c . || true)
  log "lock-a's certificate reads $own keys under /${ns}_lock-a/"
  (( own > 50 ))
  locked_etcdctl "$WORK/lock-a-etcd.crt" "$WORK/lock-a-etcd.key" put "/${ns}_lock-a/e2e-probe" mine >/dev/null
  # ... and is refused the other tenant's, for reads and writes, and everything outside its prefix
  local out
  for args in "get --prefix /${ns}_lock-b/ --keys-only" "put /${ns}_lock-b/e2e-probe theirs" "get --prefix / --keys-only"; do
    # shellcheck disable=SC2086 # args is a word list
    if out=$(locked_etcdctl "$WORK/lock-a-etcd.crt" "$WORK/lock-a-etcd.key" $args 2>&1); then
      log "lock-a's certificate was allowed: etcdctl $args"; return 1
    fi
    [[ $out == *"permission denied"* ]] || { log "etcdctl $args: $out"; return 1; }
  done
  if out=$(locked_etcdctl "$WORK/lock-b-etcd.crt" "$WORK/lock-b-etcd.key" get "/${ns}_lock-a/e2e-probe" 2>&1); then
    log "lock-b's certificate reads lock-a's keys"; return 1
  fi
  [[ $out == *"permission denied"* ]]
  log "each tenant's etcd certificate is refused the other's keys and everything outside its prefix"
  etcd_teardown "$ns" lock-a lock-b
}

# etcd_teardown NS TCP OTHER: TCP removed with a Tombstone while `teardown.datastore` is on; its
# teardown Job deletes its keys, its role and its user on the locked etcd, and OTHER keeps its own.
etcd_teardown() {
  local ns=$1 tcp=$2 other=$3 d=$DIR/locked-etcd
  grep -q '^teardown:' "$REPO/tcpc.yaml" || printf 'teardown:\n  datastore: true\n' >> "$REPO/tcpc.yaml"
  printf 'apiVersion: tcpc.dev/v1alpha1\nkind: Tombstone\nmetadata:\n  namespace: %s\n  name: %s\n' "$ns" "$tcp" > "$REPO/tenants/$tcp.yaml"
  render_repo "$REPO" 2> "$WORK/render-teardown.log" || { cat "$WORK/render-teardown.log" >&2; return 1; }
  kubectl -n "$ns" delete deployment "$tcp" --wait=true --timeout=60s >/dev/null
  kubectl apply -k "$OUT/$ns/$tcp/management" >> "$WORK/apply-$tcp.log"
  local job; job=$(kubectl -n kamaji-system get jobs -l "kamaji.clastix.io/name=$tcp,kamaji.clastix.io/component=datastore-teardown" -o name)
  kubectl -n kamaji-system wait "$job" --for=condition=Complete --timeout=60s >/dev/null ||
    { kubectl -n kamaji-system logs "$job" >&2; return 1; }
  local user=${ns}_$tcp left
  left=$(locked_etcdctl "$d/root.crt" "$d/root.key" get --prefix "/$user/" --keys-only | grep -c . || true)
  (( left == 0 )) || { log "$left keys of $tcp are left"; return 1; }
  ! locked_etcdctl "$d/root.crt" "$d/root.key" user get "$user" >/dev/null 2>&1 || { log "etcd user $user is left"; return 1; }
  ! locked_etcdctl "$d/root.crt" "$d/root.key" role get "$user" >/dev/null 2>&1 || { log "etcd role $user is left"; return 1; }
  left=$(locked_etcdctl "$d/root.crt" "$d/root.key" get --prefix "/${ns}_$other/" --keys-only | grep -c . || true)
  (( left > 50 )) || { log "the teardown of $tcp took $other's keys ($left left)"; return 1; }
  locked_etcdctl "$d/root.crt" "$d/root.key" user get "${ns}_$other" >/dev/null
  log "$ns/$tcp: removed with a Tombstone, its teardown Job deleted its keys, role and user; $other keeps its $left keys"
  rm "$REPO/tenants/$tcp.yaml"
  sed -i '/^teardown:$/,/^  datastore: true$/d' "$REPO/tcpc.yaml"
  render_repo "$REPO" 2> "$WORK/render-teardown.log" || { cat "$WORK/render-teardown.log" >&2; return 1; }
  kubectl -n kamaji-system delete "$job" --wait=false >/dev/null
}

SOLO_ADDR=${SOLO_ADDR:-10.213.0.18}

# local_pv NAME NS CLAIM: a hostPath PersistentVolume bound ahead to that claim (class
# tcpc-e2e-local), its directory owned by the control plane's UID as an fsGroup would make it.
local_pv() {
  local d=$DIR/pv/$1
  rm -rf "$d"; mkdir -p "$d"; chown 65532:65532 "$d"; chmod 700 "$d"
  kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $1
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: tcpc-e2e-local
  persistentVolumeReclaimPolicy: Delete
  hostPath: {path: $d, type: Directory}
  claimRef: {namespace: $2, name: $3}
YAML
}

# prefix_range PREFIX: the etcd JSON gateway's range request for every key under PREFIX.
prefix_range() {
  printf '{"key":"%s","range_end":"%s","count_only":true}' "$(printf %s "$1" | base64 -w0)" \
    "$(printf '%s' "${1%/}0" | base64 -w0)"
}

# dedicated_count NS TCP CERT KEY: how many keys under the tenant's prefix its etcd member 0
# holds, asked from the host with CERT (by pod IP: the host does not use the cluster DNS; the
# member's name is still what curl verifies). Fails when the member refuses CERT.
dedicated_count() {
  local ns=$1 tcp=$2 ip host=$2-etcd-0.$2-etcd.$1.svc.cluster.local
  ip=$(kubectl -n "$ns" get pod "$tcp-etcd-0" -o jsonpath='{.status.podIP}')
  curl -sS --fail --max-time 10 --resolve "$host:2379:$ip" --cacert "$WORK/$tcp-etcd-ca.crt" --cert "$3" --key "$4" \
    -d "$(prefix_range "/${ns}_$tcp/")" "https://$host:2379/v3/kv/range" | jq -r '.count // "0"'
}

s_dedicated_etcd() {
  local ns=e2e-solo tcp=solo
  mkdir -p "$REPO/tenants"
  kine_tenant "$ns" "$tcp" - "$SOLO_ADDR" > "$REPO/tenants/$tcp.yaml"
  kine_images_config "$REPO"
  render_repo "$REPO" 2> "$WORK/render-solo.log" || { cat "$WORK/render-solo.log" >&2; return 1; }
  kubectl get namespace "$ns" >/dev/null 2>&1 || create_namespace "$ns"
  local_pv "e2e-$tcp-etcd-0" "$ns" "data-$tcp-etcd-0"
  kine_up "$ns" "$tcp"
  kubectl -n "$ns" get statefulset "$tcp-etcd" >/dev/null

  # nothing shared: the tenant's etcd trusts its own CA only
  local secret
  for secret in "$tcp-etcd-certs" "$tcp-datastore-certificate"; do
    kubectl -n "$ns" get secret "$secret" -o jsonpath='{.data.ca\.crt}' | base64 -d > "$WORK/$secret-ca.crt"
  done
  cmp -s "$WORK/$tcp-etcd-certs-ca.crt" "$WORK/$tcp-datastore-certificate-ca.crt" ||
    { log "kube-apiserver does not verify its etcd with the etcd's own CA"; return 1; }
  cp "$WORK/$tcp-etcd-certs-ca.crt" "$WORK/$tcp-etcd-ca.crt"
  ! cmp -s "$WORK/$tcp-etcd-ca.crt" "$E2E_ETCD_CA" || { log "the dedicated etcd has the shared etcd's CA"; return 1; }
  kubectl -n "$ns" get secret "$tcp-datastore-certificate" -o jsonpath='{.data.server\.crt}' | base64 -d > "$WORK/$tcp-client.crt"
  kubectl -n "$ns" get secret "$tcp-datastore-certificate" -o jsonpath='{.data.server\.key}' | base64 -d > "$WORK/$tcp-client.key"
  chmod 600 "$WORK/$tcp-client.key"
  openssl verify -CAfile "$WORK/$tcp-etcd-ca.crt" "$WORK/$tcp-client.crt" >/dev/null
  ! openssl verify -CAfile "$E2E_ETCD_CA" "$WORK/$tcp-client.crt" >/dev/null 2>&1 ||
    { log "the shared etcd's CA signed the tenant's client certificate"; return 1; }
  local keys; keys=$(dedicated_count "$ns" "$tcp" "$WORK/$tcp-client.crt" "$WORK/$tcp-client.key")
  log "$ns/$tcp: its etcd holds $keys keys under /${ns}_$tcp/"
  (( keys > 100 ))
  local out
  if out=$(dedicated_count "$ns" "$tcp" "$E2E_DIR/pki/apiserver-etcd-client.crt" "$E2E_DIR/pki/apiserver-etcd-client.key" 2>&1); then
    log "the dedicated etcd accepts the shared etcd's client certificate: $out"; return 1
  fi
  log "$ns/$tcp: a certificate of the shared etcd's CA is refused ($out)"
  # shellcheck disable=SC2046
  (( $(curl -sS --fail $(etcd_client) "$E2E_ETCD_URL/v3/kv/range" -d "$(prefix_range "/${ns}_$tcp/")" | jq -r '.count // "0"') == 0 )) ||
    { log "the tenant wrote to the shared etcd"; return 1; }

  # the data outlives the control plane's pod and the etcd member's pod
  kine_objects_survive "$ns" "$tcp"
  local old; old=$(kubectl -n "$ns" get pod "$tcp-etcd-0" -o jsonpath='{.metadata.uid}')
  kubectl -n "$ns" delete pod "$tcp-etcd-0" --wait=true --timeout=60s --grace-period=1 >/dev/null
  # the StatefulSet controller recreates it a moment later: wait for the new pod, then for Ready
  wait_for "a new $tcp-etcd-0" 60 bash -c "uid=\$(kubectl -n $ns get pod $tcp-etcd-0 -o jsonpath='{.metadata.uid}') && [[ -n \$uid && \$uid != $old ]]"
  kubectl -n "$ns" wait pod "$tcp-etcd-0" --for=condition=Ready --timeout=120s >/dev/null
  local kc=$WORK/$tcp-super-admin.conf
  wait_for "$ns/$tcp answers again" 60 kubectl --kubeconfig "$kc" --request-timeout=5s -n default get configmap e2e-kine-probe
  kubectl --kubeconfig "$kc" --request-timeout=10s -n default get configmap e2e-kine-probe -o jsonpath='{.data.stored}' | has -x "in-$tcp" ||
    { log "$ns/$tcp: the ConfigMap did not survive its etcd member's restart"; return 1; }
  log "$ns/$tcp: objects survive its etcd member's restart"

  # its etcd's NetworkPolicy (<tcp>-etcd), enforced by kube-router: a pod of another namespace
  # connects to the members' client port before, to neither port after, while the tenant, whose
  # control-plane pods the policy admits, keeps reading and writing
  kubectl -n "$ns" get networkpolicy "$tcp-etcd" -o name >/dev/null || { log "$ns/$tcp: no NetworkPolicy $tcp-etcd"; return 1; }
  local etcd_ip; etcd_ip=$(kubectl -n "$ns" get pod "$tcp-etcd-0" -o jsonpath='{.status.podIP}')
  kubectl create namespace e2e-np-etcd >/dev/null
  kubectl -n e2e-np-etcd run np-probe --image=localhost/tcpc-e2e/probe:v1 --image-pull-policy=Never --restart=Never \
    --command -- /usr/local/bin/probe -sleep 0 >/dev/null
  kubectl -n e2e-np-etcd wait --for=condition=Ready pod/np-probe --timeout=60s >/dev/null
  np_dial() { kubectl -n e2e-np-etcd exec np-probe -- /usr/local/bin/probe -timeout 3s -dial "$1" >/dev/null 2>&1; }
  np_dial "$etcd_ip:2379" || { log "$ns/$tcp: its etcd's client port is unreachable without an enforcer: the check is void"; return 1; }
  kube_router_up
  wait_for "kube-router to close $tcp-etcd's client port" 60 eval '! np_dial "$etcd_ip:2379"' ||
    { tail -n 30 "$DIR/kube-router.log" >&2; kube_router_gone; return 1; }
  if np_dial "$etcd_ip:2380"; then log "$ns/$tcp: its etcd's peer port is open to other pods"; kube_router_gone; return 1; fi
  kubectl --kubeconfig "$kc" --request-timeout=10s -n default create configmap e2e-np-etcd-write >/dev/null ||
    { log "$ns/$tcp: cannot write under its etcd's NetworkPolicy"; kube_router_gone; return 1; }
  kubectl --kubeconfig "$kc" --request-timeout=10s -n default get configmap e2e-kine-probe >/dev/null
  log "$ns/$tcp: with kube-router enforcing, another namespace's pod reaches neither port of its etcd; the tenant reads and writes"
  kubectl delete namespace e2e-np-etcd --wait=false >/dev/null
  kube_router_gone
  local uid; uid=$(kubectl -n "$ns" get pod "$tcp-etcd-0" -o jsonpath='{.metadata.uid}')
  timing "rss_mb_dedicated_etcd_$tcp" "$(pod_rss_mb "$uid")"
}
