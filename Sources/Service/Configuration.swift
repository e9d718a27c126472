import Foundation
import HTTP

/// Every setting of the service with its default. Loaded from `config/quantd.json`, then
/// overridden by `QUANTD_*` environment variables, then by command-line flags; each layer is
/// a flat map of the same dotted keys (`server.port`, `jobs.workers`…).
public struct Configuration: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var dataDirectory = "./data"
    /// 0 = one per core.
    public var eventLoops = 0
    public var maxConnections = 1024
    /// 0 = no per-address limit.
    public var maxConnectionsPerAddress = 0
    /// PEM certificate chain and private key; both set = HTTPS on `port`.
    public var tlsCertificatePath = ""
    public var tlsPrivateKeyPath = ""
    public var maxUploadBytes: UInt64 = 8 << 30
    public var maxJSONBytes = 1 << 20
    public var headerReadTimeout = 10.0
    public var idleTimeout = 60.0
    public var minUploadBytesPerSecond = 16 * 1024
    public var uploadRateWindow = 20.0
    public var shutdownGracePeriod = 30.0
    /// 0 = one per core.
    public var workers = 0
    public var queueCapacity = 64
    /// How many times a job may start before a node dying under it fails it for good.
    public var maxAttempts = 3
    /// A running job's lease on a shared store: its node renews it every third of this; another
    /// node requeues the job once it runs out.
    public var leaseSeconds = 30.0
    /// `postgres://…` = the job store is that PostgreSQL database, shared by every node given
    /// the same URL and data directory; empty = the embedded SQLite file in the data dir.
    public var databaseURL = ""
    /// Connections this node keeps to the database.
    public var databasePoolSize = 8
    /// This node's name in a cluster: its tmp/ folder, the jobs it holds, its metrics label.
    /// Empty = the host name.
    public var nodeID = ""
    /// Finished jobs' artifacts and reports, and models no job needs, are removed after this
    /// many hours; 0 keeps them forever.
    public var retentionHours = 168.0
    public var retentionSweepSeconds = 600.0
    /// Bearer tokens accepted on /v1 routes, all of tenant `default`; empty (and no tokens
    /// file) = no authentication.
    public var apiTokens: [String] = []
    /// `<tenant> <sha256-of-token>` lines (`quantd token add`); empty = none.
    public var tokensPath = ""
    /// Whether /metrics needs a token too (when any token is configured).
    public var metricsRequireToken = false
    /// Queued jobs one tenant may have; 0 = no limit besides `jobs.queue_capacity`.
    public var tenantMaxQueuedJobs = 0
    /// Bytes of models, datasets and artifacts one tenant may keep; 0 = no limit.
    public var tenantMaxStoredBytes: Int64 = 0
    /// Largest sample dataset upload (413 above).
    public var datasetMaxBytes: UInt64 = 1 << 30
    /// Most samples a dataset may hold (422 above): evaluation runs the model once per sample.
    public var datasetMaxSamples = 10_000
    /// A tenant's dataset it has not uploaded or used for this many hours is removed; 0 keeps
    /// datasets forever.
    public var datasetRetentionHours = 168.0
    /// Bytes per independently deflated chunk of an artifact's one gzip member; chunks
    /// compress in parallel.
    public var gzipChunkBytes = 4 << 20
    /// zlib level (1–9).
    public var gzipLevel = 1
    /// gzip strategy: `huffman` (default: quantd's own Huffman-only encoder, ~3× zlib's speed
    /// on quantized weights at the same ratio), or zlib's `rle` or `standard`.
    public var gzipStrategy = ParallelGzip.Strategy.huffmanOnly
    public var logLevel = "info"
    public var openapiPath = ""
    /// devices.json for the estimators; empty = search config/, beside the binary, /etc/quantd.
    public var devicesPath = ""

    public init() {}

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(String)
        case invalidJSON(String, String)
        case unknownKey(String, source: String)
        case badValue(String, String, source: String)

        public var description: String {
            switch self {
            case .unreadable(let p): "cannot read config file \(p)"
            case .invalidJSON(let p, let why): "config file \(p) is not valid JSON: \(why)"
            case .unknownKey(let k, let s): "unknown setting '\(k)' in \(s)"
            case .badValue(let k, let v, let s): "setting '\(k)' in \(s) has an invalid value '\(v)'"
            }
        }
    }

    /// The settings as dotted keys, with the environment variable each maps to
    /// (`server.port` ↔ `QUANTD_SERVER_PORT`).
    public static let keys: [(key: String, doc: String)] = [
        ("server.host", "address to listen on"),
        ("server.port", "TCP port (0 = ephemeral)"),
        ("server.event_loops", "I/O threads, 0 = one per core"),
        ("server.max_connections", "open connections; at the cap the one waiting longest for a request head is closed, or a newcomer gets 503"),
        ("server.max_connections_per_address", "open connections from one client address, likewise; 0 = no limit"),
        ("server.max_upload_bytes", "largest model upload (413 above)"),
        ("server.max_json_bytes", "largest JSON request body (413 above)"),
        ("server.header_read_timeout_seconds", "time allowed for a request head (408)"),
        ("server.idle_timeout_seconds", "idle keep-alive connections are closed after this"),
        ("server.min_upload_bytes_per_second", "uploads slower than this over the window get 408"),
        ("server.upload_rate_window_seconds", "the window the upload rate is measured over"),
        ("server.shutdown_grace_seconds", "in-flight requests get this long on SIGTERM"),
        ("server.tls_certificate_path", "PEM certificate (chain) for HTTPS; with tls_private_key_path, the port speaks TLS 1.2/1.3 only"),
        ("server.tls_private_key_path", "PEM private key of that certificate; both reloaded on SIGHUP"),
        ("server.api_tokens", "comma-separated bearer tokens for /v1, tenant 'default'; empty (and no auth.tokens_path) = open"),
        ("auth.tokens_path", "file of '<tenant> <sha256-of-token>' lines (quantd token add); re-read when it changes"),
        ("auth.metrics_requires_token", "true: /metrics needs a token as /v1 does"),
        ("tenants.max_queued_jobs", "queued jobs per tenant before 429; 0 = no limit"),
        ("tenants.max_stored_bytes", "bytes of models, datasets and artifacts per tenant before 413; 0 = no limit"),
        ("datasets.max_bytes", "largest sample dataset upload (413 above)"),
        ("datasets.max_samples", "most samples in one dataset (422 above)"),
        ("datasets.retention_hours", "remove a tenant's dataset unused for this long; 0 = keep"),
        ("storage.data_dir", "SQLite database, models, artifacts, tmp; with a database_url, shared by every node"),
        ("storage.database_url", "postgres://user:pass@host:port/db?sslmode=… = PostgreSQL job store shared by several nodes; empty = embedded SQLite"),
        ("storage.database_pool_size", "connections to the database per node"),
        ("cluster.node_id", "this node's name (tmp/<node>, job leases, metrics label); empty = the host name"),
        ("storage.retention_hours", "remove artifacts and unused models older than this; 0 = keep"),
        ("storage.retention_sweep_seconds", "how often retention runs"),
        ("jobs.workers", "compression workers, 0 = one per core"),
        ("jobs.queue_capacity", "queued jobs before POST /v1/jobs gets 429 (on a shared database: across all nodes)"),
        ("jobs.max_attempts", "starts a job gets before a node dying under it fails it for good"),
        ("jobs.lease_seconds", "a running job's lease on a shared database; renewed every third of it, requeued by another node when it runs out"),
        ("gzip.chunk_bytes", "bytes per independently deflated chunk of an artifact's gzip member"),
        ("gzip.level", "zlib level (1–9)"),
        ("gzip.strategy", "huffman (quantd's encoder, fastest at the same ratio), rle or standard (zlib, LZ77)"),
        ("log.level", "trace, debug, info, notice, warning, error, critical"),
        ("openapi.path", "path of openapi.yaml served at /openapi.yaml; empty = search"),
        ("estimation.devices_path", "device catalog for latency/accuracy estimates; empty = search config/devices.json"),
    ]

    public static func environmentName(_ key: String) -> String {
        "QUANTD_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// Applies one setting given as text (from the environment or a flag) or JSON value.
    public mutating func set(_ key: String, _ raw: Any, source: String) throws {
        let text: String = if let s = raw as? String { s } else if let n = raw as? NSNumber { n.stringValue } else if let a = raw as? [Any] { a.map { "\($0)" }.joined(separator: ",") } else { "\(raw)" }
        func int() throws -> Int {
            guard let v = Int(text), v >= 0 else { throw LoadError.badValue(key, text, source: source) }
            return v
        }
        func double() throws -> Double {
            guard let v = Double(text), v >= 0, v.isFinite else { throw LoadError.badValue(key, text, source: source) }
            return v
        }
        /// A count or duration that must be at least 1.
        func atLeastOne<T: Comparable & ExpressibleByIntegerLiteral>(_ read: () throws -> T) throws -> T {
            let v = try read()
            guard v >= 1 else { throw LoadError.badValue(key, text, source: source) }
            return v
        }
        switch key {
        case "server.host": host = text
        case "server.port":
            let p = try int()
            guard p <= 65535 else { throw LoadError.badValue(key, text, source: source) }
            port = p
        case "server.event_loops": eventLoops = try int()
        case "server.max_connections": maxConnections = try int()
        case "server.max_connections_per_address": maxConnectionsPerAddress = try int()
        case "server.tls_certificate_path": tlsCertificatePath = text
        case "server.tls_private_key_path": tlsPrivateKeyPath = text
        case "server.max_upload_bytes": maxUploadBytes = UInt64(try int())
        case "server.max_json_bytes": maxJSONBytes = try int()
        case "server.header_read_timeout_seconds": headerReadTimeout = try double()
        case "server.idle_timeout_seconds": idleTimeout = try double()
        case "server.min_upload_bytes_per_second": minUploadBytesPerSecond = try int()
        case "server.upload_rate_window_seconds":
            uploadRateWindow = try atLeastOne(double)
        case "server.shutdown_grace_seconds": shutdownGracePeriod = try double()
        case "server.api_tokens": apiTokens = text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case "auth.tokens_path": tokensPath = text
        case "auth.metrics_requires_token":
            // JSON's true/false arrive as the numbers 1/0.
            switch text.lowercased() {
            case "true", "1": metricsRequireToken = true
            case "false", "0": metricsRequireToken = false
            default: throw LoadError.badValue(key, text, source: source)
            }
        case "tenants.max_queued_jobs": tenantMaxQueuedJobs = try int()
        case "tenants.max_stored_bytes": tenantMaxStoredBytes = Int64(try int())
        case "datasets.max_bytes": datasetMaxBytes = UInt64(try int())
        case "datasets.max_samples":
            datasetMaxSamples = try atLeastOne(int)
        case "datasets.retention_hours": datasetRetentionHours = try double()
        case "storage.data_dir": dataDirectory = text
        case "storage.retention_hours": retentionHours = try double()
        case "storage.retention_sweep_seconds": retentionSweepSeconds = try double()
        case "jobs.workers": workers = try int()
        case "jobs.queue_capacity": queueCapacity = try int()
        case "jobs.max_attempts":
            maxAttempts = try atLeastOne(int)
        case "jobs.lease_seconds":
            leaseSeconds = try atLeastOne(double)
        case "storage.database_url":
            guard text.isEmpty || text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else {
                throw LoadError.badValue(key, "a URL that is not postgres://… or postgresql://…", source: source)
            }
            databaseURL = text
        case "storage.database_pool_size":
            databasePoolSize = try atLeastOne(int)
        case "cluster.node_id":
            guard text.isEmpty || (text.count <= 64 && text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
                                   && text != "." && text != "..") else {
                throw LoadError.badValue(key, text, source: source)
            }
            nodeID = text
        // member_bytes is the setting's name from before artifacts were one member.
        case "gzip.chunk_bytes", "gzip.member_bytes":
            let v = try int()
            guard v >= 64 * 1024 else { throw LoadError.badValue(key, text, source: source) }
            gzipChunkBytes = v
        case "gzip.level":
            let v = try int()
            guard (1...9).contains(v) else { throw LoadError.badValue(key, text, source: source) }
            gzipLevel = v
        case "gzip.strategy":
            guard let strategy = ParallelGzip.Strategy(rawValue: text) else { throw LoadError.badValue(key, text, source: source) }
            gzipStrategy = strategy
        case "log.level": logLevel = text
        case "openapi.path": openapiPath = text
        case "estimation.devices_path": devicesPath = text
        default: throw LoadError.unknownKey(key, source: source)
        }
    }

    /// Defaults, then the file (if any), then the environment, then `overrides` (flags).
    public static func load(file: String?, environment: [String: String], overrides: [String: String]) throws -> Configuration {
        var config = Configuration()
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else { throw LoadError.unreadable(file) }
            let object: Any
            do { object = try JSONSerialization.jsonObject(with: data) } catch { throw LoadError.invalidJSON(file, "\(error.localizedDescription)") }
            guard let sections = object as? [String: Any] else { throw LoadError.invalidJSON(file, "top level must be an object") }
            for (section, value) in sections {
                guard let settings = value as? [String: Any] else { throw LoadError.unknownKey(section, source: file) }
                for (name, v) in settings { try config.set("\(section).\(name)", v, source: file) }
            }
        }
        for (key, _) in keys {
            if let v = environment[environmentName(key)] { try config.set(key, v, source: environmentName(key)) }
        }
        for (key, v) in overrides.sorted(by: { $0.key < $1.key }) { try config.set(key, v, source: "--\(key)") }
        return config
    }

    var gzip: ParallelGzip { ParallelGzip(chunkBytes: gzipChunkBytes, level: Int32(gzipLevel), strategy: gzipStrategy) }

    /// `cluster.node_id`, else the host name (a pod's name in Kubernetes: unique per node).
    var resolvedNodeID: String {
        if !nodeID.isEmpty { return nodeID }
        let host = ProcessInfo.processInfo.hostName.prefix(64).map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) ? $0 : "-" }
        return host.isEmpty ? "node" : String(host)
    }

    /// The job store this configuration asks for.
    var storeKind: StoreKind { databaseURL.isEmpty ? .sqlite : .postgres(url: databaseURL) }

    var resolvedWorkers: Int { workers > 0 ? workers : ProcessInfo.processInfo.activeProcessorCount }

    var httpConfiguration: HTTPServerConfiguration {
        var c = HTTPServerConfiguration()
        c.host = host
        c.port = port
        c.eventLoops = eventLoops > 0 ? eventLoops : ProcessInfo.processInfo.activeProcessorCount
        c.maxConnections = maxConnections
        c.maxConnectionsPerAddress = maxConnectionsPerAddress
        c.maxBodyBytes = maxUploadBytes
        c.headerReadTimeout = headerReadTimeout
        c.idleTimeout = idleTimeout
        c.minUploadBytesPerSecond = minUploadBytesPerSecond
        c.uploadRateWindow = uploadRateWindow
        return c
    }
}
