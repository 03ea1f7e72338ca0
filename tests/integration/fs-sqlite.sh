#!/usr/bin/env bash
# SQLite in WAL mode in the mount's files/ (the -shm file is a shared writable
# mmap): thousands of inserts in transactions, updates and deletes, PRAGMA
# integrity_check = ok, a checkpoint; a second connection reads while the first
# writes; after a daemon restart the database reopens with the same content
# (row counts and a hash of every row) and integrity_check = ok again, then
# takes more writes.
# FS_NATIVE=1 runs the same checks on a native directory.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/mount-lib.bash"
command -v sqlite3 >/dev/null || fail "sqlite3 is missing: run make deps"
$ANYA init >/dev/null
anyad_start
mkdir "$M/files/db"
DB="$M/files/db/test.db"
q() { sqlite3 -batch -bail "$DB" "$@"; }
# summary: row count, total blob bytes and a SHA3 of the whole table's content.
summary() { q "SELECT count(*), sum(length(payload)) FROM t;" ".sha3sum t"; }

step "WAL mode, 6000 inserts in 12 transactions, updates, deletes"
[ "$(q 'PRAGMA journal_mode=WAL;')" = wal ] || fail "journal_mode is not wal"
q "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, payload BLOB, n INTEGER);" "CREATE INDEX t_n ON t(n);"
for tx in $(seq 0 11); do
  {
    echo "BEGIN;"
    echo "WITH RECURSIVE s(i) AS (SELECT $((tx * 500 + 1)) UNION ALL SELECT i + 1 FROM s WHERE i < $((tx * 500 + 500)))"
    echo "INSERT INTO t (k, payload, n) SELECT 'key-' || i, randomblob(100 + i % 900), i % 97 FROM s;"
    echo "COMMIT;"
  } | q || fail "transaction $tx"
done
q "BEGIN; UPDATE t SET payload = randomblob(2000) WHERE n = 5; DELETE FROM t WHERE n = 7; COMMIT;" || fail "update/delete"
# one insert per transaction as well: each commit appends to the WAL and syncs
for i in $(seq 1 200); do echo "INSERT INTO t (k, payload, n) VALUES ('single-$i', randomblob($i), $i);"; done | q || fail "single inserts"
[ "$(q 'SELECT count(*) FROM t;')" = $((6000 - 6000 / 97 - 1 + 200)) ] || fail "row count $(q 'SELECT count(*) FROM t;')"
[ "$(q 'PRAGMA integrity_check;')" = ok ] || fail "integrity_check: $(q 'PRAGMA integrity_check;' | head)"

step "a reader while a writer holds the database"
{ echo "BEGIN IMMEDIATE;"; echo "INSERT INTO t (k, payload, n) VALUES ('held', randomblob(10), 0);"; sleep 2; echo "COMMIT;"; } | q &
writer=$!; PIDS+=("$writer")
sleep 0.5
[ -e "$DB-wal" ] && [ -e "$DB-shm" ] || fail "no -wal and -shm beside the database while it is open"
before=$(q 'SELECT count(*) FROM t;')
wait "$writer" || fail "the writer's transaction failed"
[ "$(q 'SELECT count(*) FROM t;')" = $((before + 1)) ] || fail "the reader saw the uncommitted row, or the commit was lost"

step "checkpoint"
q "PRAGMA wal_checkpoint(TRUNCATE);" | grep -q '^0|0|0$' || fail "wal_checkpoint(TRUNCATE) did not complete"
[ "$(q 'PRAGMA integrity_check;')" = ok ] || fail "integrity_check after the checkpoint"
q "INSERT INTO t (k, payload, n) VALUES ('after-checkpoint', randomblob(5000), 1);" || fail "insert after the checkpoint"
summary >"$T/before" || fail "summary"

step "after a daemon restart"
anyad_stop
anyad_start
summary >"$T/after" || fail "reopening the database after a restart"
diff "$T/before" "$T/after" || fail "the database's content changed over a restart"
[ "$(q 'PRAGMA integrity_check;')" = ok ] || fail "integrity_check after a restart"
q "PRAGMA journal_mode;" | grep -q wal || fail "not in WAL mode after a restart"
q "INSERT INTO t (k, payload, n) VALUES ('after-restart', randomblob(300), 2);" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null || fail "writing after a restart"
[ "$(q 'PRAGMA integrity_check;')" = ok ] || fail "integrity_check after writes following a restart"
rows=$(q 'SELECT count(*) FROM t;')
anyad_stop
echo "sqlite passed ($rows rows)"
