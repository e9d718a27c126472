import Foundation
import Testing

/// /metrics in the Prometheus text format counts what the server did.
@Suite("metrics")
struct MetricsTests {
    /// The value of one sample line, e.g. `name{labels} 3`.
    static func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test("request counts by route template, job states, queue depth and job durations")
    func metricsReflectTraffic() throws {
        let server = try TestServer()
        defer { server.stop() }
        let (_, jobID) = try server.succeededJob(SafetensorsFixture.standard(seed: 37).bytes)
        let polls = 7
        for _ in 0..<polls { #expect(try server.get("/v1/jobs/\(jobID)").status == 200) }
        #expect(try server.get("/v1/jobs/job_missing").status == 404)

        let response = try server.get("/metrics")
        #expect(response.status == 200)
        #expect(response.header("Content-Type")?.hasPrefix("text/plain") == true)
        let text = response.text
        let gets = try #require(Self.sample(text, #"quantd_http_requests_total{route="/v1/jobs/{id}",method="GET",status="200"}"#),
                                "no job GET counter in:\n\(text)")
        #expect(gets >= Double(polls), "counted \(gets) of at least \(polls) job GETs")
        #expect(Self.sample(text, #"quantd_http_requests_total{route="/v1/jobs/{id}",method="GET",status="404"}"#) == 1,
                "the 404 is counted under the template, not the raw path")
        #expect(!text.contains("job_missing"), "raw ids never become labels")
        #expect(Self.sample(text, #"quantd_http_requests_total{route="/v1/models",method="POST",status="201"}"#) == 1)
        #expect(Self.sample(text, #"quantd_jobs{state="succeeded"}"#) == 1)
        #expect(Self.sample(text, "quantd_queue_depth") == 0)
        #expect(Self.sample(text, "quantd_job_duration_seconds_count") == 1)
    }
}
