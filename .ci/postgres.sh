# Sourced by .ci/run: start a throwaway PostgreSQL server on 127.0.0.1 for the review store's tests, and
# export MNIST_TEST_POSTGRES_URL (tests/test_review_store.py runs its PostgreSQL cases against it).
# Installs Debian's postgresql if missing; runs the server as the `postgres` user when CI runs as root;
# stops it when CI exits. Already set MNIST_TEST_POSTGRES_URL: that server is used instead.
if [ -z "${MNIST_TEST_POSTGRES_URL:-}" ]; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PG_DIR=$(mktemp -d /tmp/mnist-ci-pg.XXXXXX)
  PG_PORT=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if [ "$(id -u)" = 0 ]; then  # the server refuses to run as root
    chown postgres "$PG_DIR"
    as_pg() { runuser -u postgres -- "$@"; }
  else
    as_pg() { "$@"; }
  fi
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR" start >/dev/null
  trap 'as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null; rm -rf "$PG_DIR"' EXIT
  as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres mnist_review_test
  export MNIST_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PG_PORT/mnist_review_test"
  echo "PostgreSQL for the tests: $MNIST_TEST_POSTGRES_URL"
fi
