import Postgres

/// The PostgreSQL tables, as numbered migrations applied at start. Every node runs `migrate`
/// when it starts; a transaction-scoped advisory lock makes concurrent starts apply each
/// migration once, the others waiting and then finding it applied.
///
/// Version 1 holds what the SQLite file's migrations v1–v9 add up to; later changes append
/// here and to `SQLiteJobStore.migrator` together.
enum PostgresSchema {
    static let migrations: [(version: Int, name: String, sql: String)] = [
        (1, "jobs, models, datasets, leases, idempotency keys", """
            CREATE TABLE models (
                id text PRIMARY KEY, format text NOT NULL, bytes bigint NOT NULL, tensor_count integer NOT NULL,
                parameter_count bigint NOT NULL, created_at timestamptz NOT NULL, last_used_at timestamptz NOT NULL);
            CREATE TABLE model_owners (
                model_id text NOT NULL REFERENCES models(id) ON DELETE CASCADE, tenant text NOT NULL,
                PRIMARY KEY (model_id, tenant));
            CREATE TABLE jobs (
                id text PRIMARY KEY, tenant text NOT NULL, model_id text NOT NULL, status text NOT NULL,
                progress double precision NOT NULL, config text NOT NULL, preset text,
                minimum_deployment_target text, onnx_format text, evaluation_dataset_id text,
                activation_config text, calibration text, created_at timestamptz NOT NULL,
                started_at timestamptz, finished_at timestamptz, error text, artifact_bytes bigint,
                artifact_name text, artifact_encoding text, attempts integer NOT NULL, expired boolean NOT NULL,
                revision integer NOT NULL, node text, lease_expires_at timestamptz,
                cancel_requested boolean NOT NULL DEFAULT false);
            CREATE INDEX jobs_model_id ON jobs (model_id);
            CREATE INDEX jobs_tenant_status ON jobs (tenant, status);
            CREATE INDEX jobs_queued ON jobs (id) WHERE status = 'queued';
            CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE status = 'running';
            CREATE TABLE datasets (
                id text PRIMARY KEY, format text NOT NULL, bytes bigint NOT NULL, sample_count integer NOT NULL,
                arrays text NOT NULL);
            CREATE TABLE dataset_owners (
                seq bigserial PRIMARY KEY, dataset_id text NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
                tenant text NOT NULL, created_at timestamptz NOT NULL, last_used_at timestamptz NOT NULL,
                UNIQUE (dataset_id, tenant));
            CREATE INDEX dataset_owners_tenant ON dataset_owners (tenant, seq);
            CREATE INDEX dataset_owners_last_used ON dataset_owners (last_used_at);
            CREATE TABLE idempotency_keys (
                tenant text NOT NULL, operation text NOT NULL, key text NOT NULL, fingerprint text NOT NULL,
                resource_id text NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (tenant, operation, key));
            CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
            """),
    ]

    /// The advisory-lock key migrations run under (any constant no other lock of quantd uses).
    static let migrationLock: Int64 = 0x71756e74_0001
    /// The advisory-lock key retention sweeps hold, so one node sweeps at a time.
    static let retentionLock: Int64 = 0x71756e74_0002

    /// Applies the migrations this database lacks; returns the versions it applied.
    @discardableResult
    static func migrate(_ pool: PostgresPool) throws -> [Int] {
        try pool.transaction { conn in
            try conn.execute("SELECT pg_advisory_xact_lock($1::bigint)", [String(migrationLock)])
            try conn.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let applied = Set(try conn.execute("SELECT version FROM schema_migrations").rows.compactMap { $0[0].flatMap(Int.init) })
            var ran: [Int] = []
            for migration in migrations where !applied.contains(migration.version) {
                // Simple-protocol text: several statements in one call.
                try conn.execute(migration.sql)
                try conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1::integer, $2)",
                                 [String(migration.version), migration.name])
                ran.append(migration.version)
            }
            return ran
        }
    }
}
