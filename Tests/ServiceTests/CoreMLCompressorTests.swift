import Foundation
import QuantCore
import Testing
@testable import Service

@Suite struct CoreMLCompressorTests {
    static let int8 = try! CompressionPipeline(value: ["config_type": "OpLinearQuantizerConfig", "global_config": ["dtype": "int8"]])

    /// Compresses `package`, returning the output package, the outcome and every progress report.
    static func compress(_ package: [UInt8], _ compressor: CoreMLCompressor) throws -> ([UInt8], CompressionOutcome, [Double]) {
        final class Output { var bytes: [UInt8] = [] }
        let output = Output()
        var reports: [Double] = []
        let outcome = try package.withUnsafeBytes { bytes in
            try compressor.preflight(bytes)
            return try compressor.compress(bytes, to: { output.bytes += $0 }, progress: { reports.append($0) }, isCancelled: { false })
        }
        return (output.bytes, outcome, reports)
    }

    @Test func reportsEachWeightsShareOfTheElementsOnceAsItIsDone() throws {
        // Distinct sizes, so each step names the weight it was for; 32 × 64 stays under
        // weight_threshold and still counts: it was looked at.
        let channels = [32, 48, 96, 160]
        let (_, outcome, reports) = try Self.compress(PackageFixture.linearProgram(weights: channels),
                                                      CoreMLCompressor(pipeline: Self.int8))
        #expect(outcome.tensors.map(\.action) == ["unchanged", "compressed", "compressed", "compressed"])
        try #require(reports.count == channels.count, "\(reports)")
        #expect(zip(reports, reports.dropFirst()).allSatisfy { $0 <= $1 }, "\(reports)")
        let total = Double(channels.reduce(0, +))
        let steps = zip(reports, [0] + reports.dropLast()).map { $0 - $1 }.sorted()
        let shares = channels.map { 0.9 * Double($0) / total }.sorted()
        for (step, share) in zip(steps, shares) { #expect(abs(step - share) < 1e-12, "\(steps) vs \(shares)") }
        // Encoding is nine tenths of a job; writing the package is the rest.
        #expect(abs(reports.last! - 0.9) < 1e-12)
    }
}
