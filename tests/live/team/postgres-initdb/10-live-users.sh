# Sourced by the postgres image's entrypoint on a new data directory (as postgres, with the
# temporary server up): the monitoring user the stack names (pg_monitor, as the collector's
# postgresql receiver needs) and the application's user, whose statements are logged so that
# the test traffic writes log lines with known contents.
psql -v ON_ERROR_STOP=1 -q -d postgres <<SQL
CREATE ROLE "${LIVE_MONITOR_USER:-otel_monitor}" LOGIN PASSWORD '${LIVE_MONITOR_PASSWORD}' IN ROLE pg_monitor;
CREATE ROLE dkp_app LOGIN PASSWORD '${LIVE_APP_PASSWORD}';
ALTER ROLE dkp_app SET log_statement = 'all';
GRANT ALL ON DATABASE "${POSTGRES_DB:-postgres}" TO dkp_app;
SQL
