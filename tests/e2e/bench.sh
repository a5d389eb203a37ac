#!/usr/bin/env bash
# Measurements on the e2e harness (not a pass/fail test): rendered tenant control planes.
#
#   tests/e2e/bench.sh [DIR]     DIR defaults to a fresh /tmp/tcpc-e2e.XXXXXX
#
#   1. apply -> /readyz through the ClusterIP for one tenant (replicas 1), E2E_BENCH_RUNS times
#      (default 5; apply, wait, kubectl delete -k, wait until its pods are gone): median
#   2. E2E_BENCH_TENANTS (default 10) tenants applied at once: time until every /readyz answers,
#      RSS per control-plane pod, RSS of the whole cluster before and after; the companion
#      (installed first, every tenant with its RenderedControlPlane): time until it reports every
#      tenant Ready, its leader's RSS, CPU share, mean reconcile time and image size
#   E2E_BENCH_DATASTORE=etcd|postgresql|mysql|nats|dedicated (default etcd): the DataStore of every
#      bench tenant (tests/e2e/datastores.sh starts the server; dedicated: each tenant's own etcd on
#      a hostPath PersistentVolume); kine drivers also report the kine sidecar's RSS and the
#      server's load (connections, database sizes)
# Prints "TIMING name value" lines (also in DIR/timings). E2E_KEEP=1 keeps the cluster.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/tenants.sh
source "$here/tenants.sh"

RUNS=${E2E_BENCH_RUNS:-5}
N=${E2E_BENCH_TENANTS:-10}

tcp_bench() { kine_tenant "bench-$1" "b$1" "$DS"; }

cluster_rss_mb() {
  local pids
  pids=$(for c in /sys/fs/cgroup/pids/tcpc-e2e-*; do find "$c" -name cgroup.procs -exec cat {} +; done 2>/dev/null | sort -un)
  # shellcheck disable=SC2086
  echo $(( $(rss_of_pids_kb $pids) / 1024 ))
}

# wait_readyz NS TCP T0 NAME: poll /readyz via the ClusterIP; record NAME = seconds since T0.
wait_readyz() {
  local ns=$1 tcp=$2 t0=$3 name=$4 ca=$WORK/$2-ca.crt deadline=$(( $(date +%s) + 300 ))
  rm -f "$ca"
  until [[ -s $ca ]] && readyz_via_clusterip "$ns" "$tcp" "$ca" 2>/dev/null; do
    [[ -s $ca ]] || tenant_ca "$ns" "$tcp" "$ca" 2>/dev/null || true
    (( $(date +%s) < deadline )) || { log "$ns/$tcp: no /readyz within 300 s"; return 1; }
    sleep 0.2
  done
  timing "$name" "$(elapsed "$t0")"
}

bench_main() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  rm -rf "$WORK"; mkdir -p "$WORK"; : > "$DIR/timings"; : > "$WORK/notes"
  trap cleanup EXIT
  build_tcpc
  TOOLS=$("$repo_root/tools/e2e/images.sh" tools)
  cluster_up
  test_pki
  sealed_secrets_controller
  # repo: the three scenario tenants are replaced by N bench tenants
  E2E_COMPANION=1 make_repo "$REPO" "${E2E_ETCD_URL#https://}" "$E2E_ETCD_CA" "$E2E_ETCD_CA_KEY" \
    "$WORK/pki/sealed-secrets.crt" "$WORK/pki/internal-ca.crt" "$E2E_K8S_VERSION" 2> "$WORK/import.log"
  rm -f "$REPO"/tenants/*.yaml
  DS=default
  case ${E2E_BENCH_DATASTORE:-etcd} in
    etcd) ;;
    postgresql)
      pg_up; admin_secret postgres postgres "$DIR/pg/admin-password"
      kine_datastore postgres PostgreSQL "$E2E_ADVERTISE_IP:$E2E_PG_PORT" > "$REPO/datastores/postgres.yaml"; DS=postgres ;;
    mysql)
      mysql_up; admin_secret mysql kamaji "$DIR/mysql/admin-password"
      kine_datastore mysql MySQL "$E2E_ADVERTISE_IP:$E2E_MYSQL_PORT" > "$REPO/datastores/mysql.yaml"; DS=mysql ;;
    nats)
      nats_up
      kine_datastore nats NATS "$E2E_ADVERTISE_IP:$E2E_NATS_PORT" > "$REPO/datastores/nats.yaml"; DS=nats
      "$TCPC_BIN" import datastore-credentials nats --dir "$REPO" --username kine --password-file "$DIR/nats/admin-password" ;;
    dedicated) DS=- ;;
    *) die "E2E_BENCH_DATASTORE: etcd, postgresql, mysql, nats or dedicated" ;;
  esac
  kine_images_config "$REPO"
  local i
  for (( i = 0; i < N; i++ )); do tcp_bench "$i" > "$REPO/tenants/b$i.yaml"; done
  render_repo "$REPO" 2> "$WORK/render.log" || { cat "$WORK/render.log" >&2; die "render failed"; }
  for (( i = 0; i < N; i++ )); do create_namespace "bench-$i"; done
  if [[ $DS == - ]]; then
    for (( i = 0; i < N; i++ )); do local_pv "e2e-b$i-etcd-0" "bench-$i" "data-b$i-etcd-0"; done
  fi
  timing cluster_rss_mb_before "$(cluster_rss_mb)"
  companion_install
  kubectl -n "$COMPANION_NS" rollout status deployment/tcpc-companion --timeout=120s >/dev/null

  step "apply -> /readyz, one tenant, $RUNS runs"
  local t0 r
  for (( r = 1; r <= RUNS; r++ )); do
    t0=$(now)
    kubectl apply -k "$OUT/bench-0/b0/management" >/dev/null
    wait_readyz bench-0 b0 "$t0" "single_apply_to_readyz_run$r"
    kubectl -n bench-0 wait deployment/b0 --for=condition=Available --timeout=60s >/dev/null
    timing "single_apply_to_available_run$r" "$(elapsed "$t0")"
    kubectl delete -k "$OUT/bench-0/b0/management" --wait=true --timeout=120s >/dev/null
    wait_for "b0 pods gone" 120 bash -c "[[ -z \$(kubectl -n bench-0 get pods -l kamaji.clastix.io/name=b0,kamaji.clastix.io/component=deployment -o name) ]]"
  done
  local median
  median=$(grep -h '^TIMING single_apply_to_readyz_run' "$DIR/timings" | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
  timing single_apply_to_readyz_median "$median"

  step "$N tenants at once"
  t0=$(now)
  # (wait for these: a bare `wait` would also wait for a database server the DataStore started)
  local applies=()
  for (( i = 0; i < N; i++ )); do kubectl apply -k "$OUT/bench-$i/b$i/management" >/dev/null & applies+=($!); done
  wait "${applies[@]}"
  local pids=()
  for (( i = 0; i < N; i++ )); do wait_readyz "bench-$i" "b$i" "$t0" "many_apply_to_readyz_b$i" & pids+=($!); done
  local p bad=0
  for p in "${pids[@]}"; do wait "$p" || bad=1; done
  timing "many_${N}_apply_to_all_readyz" "$(elapsed "$t0")"
  for (( i = 0; i < N; i++ )); do wait_for "b$i Ready in its RenderedControlPlane" 60 rcp_phase_is "bench-$i" "b$i" Ready || bad=1; done
  timing "many_${N}_apply_to_all_companion_ready" "$(elapsed "$t0")"
  sleep 10   # let the control planes settle (informers synced, leader elected)
  timing "many_${N}_cluster_rss_mb_after" "$(cluster_rss_mb)"
  timing "many_${N}_companion_rss_mb" "$(companion_rss_mb)"
  companion_costs
  local name uid sum=0 v pss=0 anon=0
  for (( i = 0; i < N; i++ )); do
    while read -r name uid; do
      v=$(pod_rss_mb "$uid"); sum=$(( sum + v ))
      timing "many_rss_mb_$name" "$v"
      v=$(pod_smaps_mb "$uid" Pss); pss=$(( pss + v ))
      timing "many_pss_mb_$name" "$v"
      v=$(pod_smaps_mb "$uid" Pss_Anon); anon=$(( anon + v ))
    done < <(kubectl -n "bench-$i" get pods -l "kamaji.clastix.io/name=b$i" -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.uid}{"\n"}{end}')
  done
  timing "many_${N}_pods_rss_mb_total" "$sum"
  # RSS counts the shared binaries' pages in every pod; PSS shares them out (see pod_smaps_mb)
  timing "many_${N}_pods_pss_mb_total" "$pss"
  timing "many_${N}_pods_anon_mb_total" "$anon"
  if (( pss > 0 )); then
    timing "many_${N}_tenants_per_gb_by_pss" "$(awk -v n="$N" -v p="$pss" 'BEGIN { printf "%.2f", n * 1024 / p }')"
  fi
  if [[ $DS == - ]]; then
    for (( i = 0; i < N; i++ )); do
      timing "many_rss_mb_etcd_b$i" "$(pod_rss_mb "$(kubectl -n "bench-$i" get pod "b$i-etcd-0" -o jsonpath='{.metadata.uid}')")"
    done
  elif [[ $DS != default ]]; then
    local pod pid
    for (( i = 0; i < N; i++ )); do
      for pod in $(kubectl -n "bench-$i" get pods -l "kamaji.clastix.io/name=b$i,kamaji.clastix.io/component=deployment" -o name); do
        pid=$(container_pid "bench-$i" "${pod#pod/}" kine) && timing "many_rss_mb_kine_b$i" "$(( $(rss_of_pids_kb "$pid") / 1024 ))"
      done
    done
    case $DS in
      postgres)
        timing "many_${N}_pg_connections" "$(psql_as postgres "$(cat "$DIR/pg/admin-password")" postgres 'SELECT count(*) FROM pg_stat_activity WHERE usename LIKE $$bench-%$$')"
        timing "many_${N}_pg_mb_per_tenant_db" "$(psql_as postgres "$(cat "$DIR/pg/admin-password")" postgres 'SELECT round(avg(pg_database_size(datname)) / 1048576, 1) FROM pg_database WHERE datname LIKE $$bench-%$$')" ;;
      mysql)
        timing "many_${N}_mysql_connections" "$(mysql_as kamaji "$(cat "$DIR/mysql/admin-password")" "" "SELECT count(*) FROM information_schema.processlist WHERE user LIKE 'bench-%'")" ;;
    esac
  fi
  kubectl get pods -A --no-headers | awk '{print $4}' | sort | uniq -c >&2
  free -m >&2
  (( bad == 0 )) || die "some tenants never answered /readyz"
  grep '^TIMING' "$DIR/timings" >&2
}

bench_main
