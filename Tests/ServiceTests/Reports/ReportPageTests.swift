@testable import Estimation
import Foundation
import Testing
@testable import Service

@Suite struct ReportPageTests {
    private func report() -> CompressionReport {
        let tensors = [
            CompressionReport.Tensor(name: "conv<1>", shape: [8, 3, 3, 3], dtype: "float16", action: "compressed", reason: nil, mode: "int8",
                                     bytesBefore: 432, bytesAfter: 232, bitsPerWeight: 8.6, sqnrDB: 41.5, maxAbsError: 0.01, cosine: 0.99,
                                     sparsity: nil, uniqueValues: nil),
            CompressionReport.Tensor(name: "bias", shape: [8], dtype: "float16", action: "skipped", reason: "too small", mode: nil,
                                     bytesBefore: 16, bytesAfter: 16, bitsPerWeight: 16, sqnrDB: nil, maxAbsError: nil, cosine: nil,
                                     sparsity: nil, uniqueValues: nil),
        ]
        return CompressionReport(
            jobID: "job_1", modelID: "abc", format: "mlpackage", tensors: tensors,
            totals: .init(tensors: 2, quantizedTensors: 1, parameters: 224, quantizedParameters: 216, uploadBytes: 5000, float16Bytes: 448,
                          artifactBytes: 248, gzipBytes: 200, compressionRatioVsFloat16: 1.8, compressionRatioVsUpload: 20, meanSQNRDB: 41.5),
            warnings: ["a <warning>"], timings: .init(compressSeconds: 0.1, readSeconds: 0.01, encodeSeconds: 0.02, totalSeconds: 0.2))
    }

    @Test func thePageIsSelfContainedAndEscapesWhatTheModelNames() {
        let html = ReportPage(report: report()).html
        #expect(html.hasPrefix("<!doctype html>"))
        // Nothing fetched from elsewhere: no scripts, no external stylesheets, fonts or images.
        for forbidden in ["<script", "src=", "@import", "url(", "href=\"http", "href=\"/"] { #expect(!html.contains(forbidden), "\(forbidden)") }
        #expect(html.contains("conv&lt;1&gt;") && !html.contains("conv<1>"))
        #expect(html.contains("a &lt;warning&gt;"))
        #expect(html.contains(#"id="sqnr-chart""#) && html.contains(#"id="bytes-chart""#) && html.contains(#"id="tensor-table""#))
        // Without estimates or an evaluation, those sections are absent rather than empty.
        #expect(!html.contains(#"id="latency-chart""#) && !html.contains(#"id="evaluation-outputs""#))
    }

    @Test("the accuracy section says where the estimate reaches beyond its fit, and the latency section names the runtime")
    func accuracyBeyondTheFitAndRuntime() {
        let accuracy = ModelEstimate.Accuracy(topOneChange: -2.5, band: 3.5, largestContributors: ["q_proj"],
                                              outsideFit: ["attention projections, which no fitted model has"], basis: "data-free")
        let html = ReportPage.accuracySection(accuracy)
        #expect(html.contains(#"id="accuracy-outside-fit""#) && html.contains("attention projections, which no fitted model has"))
        var inside = accuracy
        inside.outsideFit = []
        #expect(!ReportPage.accuracySection(inside).contains("accuracy-outside-fit"))
        let entry = ModelEstimate.Entry(device: "iPhone 15 Pro", chip: "A17 Pro", computeUnits: .all, os: .iOS17, float16Milliseconds: 1.4,
                                        compressedMilliseconds: 1.4, speedup: 1, bandPercent: 18, basis: "calibrated", float16MemoryBytes: 10,
                                        compressedMemoryBytes: 5, fallbackOps: 0)
        let estimates = ModelEstimate(totals: .init(parameters: 1, macs: 1, weightBytes: 1, float16WeightBytes: 2, peakActivationBytes: 1),
                                      accuracy: nil, entries: [entry], warnings: [], basis: "")
        #expect(ReportPage.latencySection(estimates).contains("iOS17 runtime (macOS14 on a Mac)"))
    }
}
