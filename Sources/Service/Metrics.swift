import Foundation
import Synchronization

/// The service's own counters, rendered in the Prometheus text format at /metrics.
public final class Metrics: Sendable {
    private struct RequestKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    private let requests = Mutex<[RequestKey: Int]>([:])
    private static let durationBuckets: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]
    private let durations = Mutex<(buckets: [Int], count: Int, sum: Double)>(([Int](repeating: 0, count: 13), 0, 0))

    /// This node's `cluster.node_id`, the `node` label of the per-node series.
    let node: String
    private let cluster = Mutex(ClusterCounters())

    private struct ClusterCounters {
        var claims = 0
        var claimWaitSeconds = 0.0
        var leaseRenewals = 0
        var leasesLost = 0
        var requeued = 0
        var exhausted = 0
    }

    public init(node: String = "") { self.node = node }

    /// A worker here claimed a job that had waited `waited` seconds in the queue.
    func recordClaim(waited: Double) {
        cluster.withLock { $0.claims += 1; $0.claimWaitSeconds += waited }
    }

    func recordLeaseRenewals(_ n: Int) { cluster.withLock { $0.leaseRenewals += n } }
    func recordLeaseLost() { cluster.withLock { $0.leasesLost += 1 } }
    /// This node requeued `n` jobs of nodes that stopped renewing, and ended `exhausted` more.
    func recordRequeued(_ n: Int, exhausted: Int) {
        cluster.withLock { $0.requeued += n; $0.exhausted += exhausted }
    }

    func recordRequest(route: String, method: String, status: Int) {
        requests.withLock { $0[RequestKey(route: route, method: method, status: status), default: 0] += 1 }
    }

    func recordJobDuration(_ seconds: Double) {
        durations.withLock { d in
            for (i, le) in Self.durationBuckets.enumerated() where seconds <= le { d.buckets[i] += 1 }
            d.count += 1
            d.sum += seconds
        }
    }

    struct Snapshot {
        var jobsByStatus: [JobStatus: Int]
        var queueDepth: Int
        var runningJobs: Int
        var bytesIn: Int
        var bytesOut: Int
        var openConnections: Int
        var acceptedConnections: Int
        var refusedConnections: Int
        var evictedConnections: Int
        /// `sqlite` or `postgres`.
        var store: String = "sqlite"
    }

    /// A label value in the text format: backslash, quote and newline escaped.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    func render(_ s: Snapshot) -> String {
        var out = ""
        out += "# HELP quantd_http_requests_total HTTP requests answered, by route template, method and status.\n"
        out += "# TYPE quantd_http_requests_total counter\n"
        for (k, v) in requests.withLock({ $0 }).sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            out += "quantd_http_requests_total{route=\"\(k.route)\",method=\"\(k.method)\",status=\"\(k.status)\"} \(v)\n"
        }
        out += "# HELP quantd_http_received_bytes_total Request body bytes received.\n# TYPE quantd_http_received_bytes_total counter\n"
        out += "quantd_http_received_bytes_total \(s.bytesIn)\n"
        out += "# HELP quantd_http_sent_bytes_total Response body bytes sent.\n# TYPE quantd_http_sent_bytes_total counter\n"
        out += "quantd_http_sent_bytes_total \(s.bytesOut)\n"
        out += "# HELP quantd_http_open_connections Connections open now.\n# TYPE quantd_http_open_connections gauge\n"
        out += "quantd_http_open_connections \(s.openConnections)\n"
        out += "# HELP quantd_http_accepted_connections_total Connections accepted.\n# TYPE quantd_http_accepted_connections_total counter\n"
        out += "quantd_http_accepted_connections_total \(s.acceptedConnections)\n"
        out += "# HELP quantd_http_refused_connections_total Connections refused with 503 at a connection cap, every connection being busy.\n# TYPE quantd_http_refused_connections_total counter\n"
        out += "quantd_http_refused_connections_total \(s.refusedConnections)\n"
        out += "# HELP quantd_http_evicted_connections_total Connections closed at a connection cap because they had waited longest for a request head.\n# TYPE quantd_http_evicted_connections_total counter\n"
        out += "quantd_http_evicted_connections_total \(s.evictedConnections)\n"
        out += "# HELP quantd_jobs Jobs by state.\n# TYPE quantd_jobs gauge\n"
        for status in JobStatus.allCases {
            out += "quantd_jobs{state=\"\(status.rawValue)\"} \(s.jobsByStatus[status] ?? 0)\n"
        }
        out += "# HELP quantd_queue_depth Jobs waiting for a worker.\n# TYPE quantd_queue_depth gauge\n"
        out += "quantd_queue_depth \(s.queueDepth)\n"
        out += "# HELP quantd_running_jobs Jobs a worker is running now.\n# TYPE quantd_running_jobs gauge\n"
        out += "quantd_running_jobs \(s.runningJobs)\n"
        let d = durations.withLock { $0 }
        out += "# HELP quantd_job_duration_seconds Wall time of finished jobs.\n# TYPE quantd_job_duration_seconds histogram\n"
        for (i, le) in Self.durationBuckets.enumerated() {
            out += "quantd_job_duration_seconds_bucket{le=\"\(le)\"} \(d.buckets[i])\n"
        }
        out += "quantd_job_duration_seconds_bucket{le=\"+Inf\"} \(d.count)\n"
        out += "quantd_job_duration_seconds_sum \(d.sum)\n"
        out += "quantd_job_duration_seconds_count \(d.count)\n"
        let c = cluster.withLock { $0 }
        let node = "node=\"\(Self.escape(self.node))\""
        out += "# HELP quantd_node_info The node answering, and which job store it uses.\n# TYPE quantd_node_info gauge\n"
        out += "quantd_node_info{\(node),store=\"\(s.store)\"} 1\n"
        out += "# HELP quantd_node_running_jobs Jobs this node runs now.\n# TYPE quantd_node_running_jobs gauge\n"
        out += "quantd_node_running_jobs{\(node)} \(s.runningJobs)\n"
        out += "# HELP quantd_job_claims_total Jobs this node's workers claimed from the shared queue.\n# TYPE quantd_job_claims_total counter\n"
        out += "quantd_job_claims_total{\(node)} \(c.claims)\n"
        out += "# HELP quantd_job_claim_wait_seconds_total Seconds the claimed jobs had waited in the queue.\n# TYPE quantd_job_claim_wait_seconds_total counter\n"
        out += "quantd_job_claim_wait_seconds_total{\(node)} \(c.claimWaitSeconds)\n"
        out += "# HELP quantd_job_lease_renewals_total Leases this node's heartbeat renewed.\n# TYPE quantd_job_lease_renewals_total counter\n"
        out += "quantd_job_lease_renewals_total{\(node)} \(c.leaseRenewals)\n"
        out += "# HELP quantd_job_leases_lost_total Jobs this node stopped because another node requeued them after their lease ran out.\n# TYPE quantd_job_leases_lost_total counter\n"
        out += "quantd_job_leases_lost_total{\(node)} \(c.leasesLost)\n"
        out += "# HELP quantd_jobs_requeued_total Jobs of stopped nodes this node put back in the queue.\n# TYPE quantd_jobs_requeued_total counter\n"
        out += "quantd_jobs_requeued_total{\(node),reason=\"lease_expired\"} \(c.requeued)\n"
        out += "# HELP quantd_jobs_abandoned_total Jobs of stopped nodes this node ended instead: out of attempts, or cancelled.\n# TYPE quantd_jobs_abandoned_total counter\n"
        out += "quantd_jobs_abandoned_total{\(node)} \(c.exhausted)\n"
        return out
    }
}
