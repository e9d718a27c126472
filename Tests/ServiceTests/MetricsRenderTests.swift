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
}
