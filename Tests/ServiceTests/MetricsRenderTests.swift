import Testing
@testable import Service

@Suite struct MetricsRenderTests {
    @Test func rendersCountersAndHistogram() {
        let m = Metrics()
        m.recordRequest(route: "/v1/jobs/{id}", method: "GET", status: 200)
        m.recordRequest(route: "/v1/jobs/{id}", method: "GET", status: 200)
        m.recordJobDuration(0.3)
        m.recordJobDuration(7)
        let text = m.render(.init(jobsByStatus: [.succeeded: 2], queueDepth: 1, runningJobs: 0, bytesIn: 10, bytesOut: 20,
                                  openConnections: 3, acceptedConnections: 4, refusedConnections: 0, evictedConnections: 0))
        #expect(text.contains(#"quantd_http_requests_total{route="/v1/jobs/{id}",method="GET",status="200"} 2"#))
        #expect(text.contains(#"quantd_jobs{state="succeeded"} 2"#))
        #expect(text.contains(#"quantd_jobs{state="failed"} 0"#))
        #expect(text.contains("quantd_queue_depth 1"))
        #expect(text.contains(#"quantd_job_duration_seconds_bucket{le="0.5"} 1"#))
        #expect(text.contains(#"quantd_job_duration_seconds_bucket{le="10.0"} 2"#))
        #expect(text.contains("quantd_job_duration_seconds_count 2"))
        #expect(text.contains("quantd_http_received_bytes_total 10"))
    }

    @Test func clusterSeriesCarryTheNodeLabel() {
        let m = Metrics(node: "node-\"1\"")
        m.recordClaim(waited: 0.25)
        m.recordClaim(waited: 0.5)
        m.recordLeaseRenewals(3)
        m.recordLeaseLost()
        m.recordRequeued(2, exhausted: 1)
        let text = m.render(.init(jobsByStatus: [:], queueDepth: 0, runningJobs: 4, bytesIn: 0, bytesOut: 0,
                                  openConnections: 0, acceptedConnections: 0, refusedConnections: 0, evictedConnections: 0,
                                  store: "postgres"))
        let node = #"node="node-\"1\"""#
        #expect(text.contains("quantd_node_info{\(node),store=\"postgres\"} 1"))
        #expect(text.contains("quantd_node_running_jobs{\(node)} 4"))
        #expect(text.contains("quantd_job_claims_total{\(node)} 2"))
        #expect(text.contains("quantd_job_claim_wait_seconds_total{\(node)} 0.75"))
        #expect(text.contains("quantd_job_lease_renewals_total{\(node)} 3"))
        #expect(text.contains("quantd_job_leases_lost_total{\(node)} 1"))
        #expect(text.contains("quantd_jobs_requeued_total{\(node),reason=\"lease_expired\"} 2"))
        #expect(text.contains("quantd_jobs_abandoned_total{\(node)} 1"))
    }
}
