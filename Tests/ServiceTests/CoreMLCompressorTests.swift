import Foundation
import QuantCore
import Testing
@testable import ModelFormats
@testable import Service

@Suite struct CoreMLCompressorTests {
    static let int8 = try! CompressionPipeline(value: ["config_type": "OpLinearQuantizerConfig", "global_config": ["dtype": "int8"]])
    static let int4PerBlock = try! CompressionPipeline(value: [
        "config_type": "OpLinearQuantizerConfig",
        "global_config": ["dtype": "int4", "granularity": "per_block", "block_size": 32],
    ])

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

    /// A per-tensor k-means weight's error is summed over its distinct values, not element by
    /// element: the report still gives what comparing the dense reconstruction gives.
    @Test func aPalettizedWeightsErrorIsTheDenseComparisons() throws {
        let package = PackageFixture.linearProgram(weights: [96, 160], seed: 11)
        let kmeans = try CompressionPipeline(value: ["config_type": "OpPalettizerConfig", "global_config": ["mode": "kmeans", "nbits": 4]])
        let (_, outcome, _) = try Self.compress(package, CoreMLCompressor(pipeline: kmeans))
        let weightFile = try package.withUnsafeBytes { bytes in
            try MLPackageArchive(bytes: bytes).contents(of: "net.mlpackage/Data/com.apple.CoreML/weights/weight.bin", in: bytes)
        }
        try weightFile.withUnsafeBytes { file in
            let blobs = try MILBlobStorage(parsing: file).blobs
            try #require(blobs.count == 2 && outcome.tensors.count == 2)
            for (blob, (report, channels)) in zip(blobs, zip(outcome.tensors, [96, 160])) {
                let bytes = UnsafeRawBufferPointer(rebasing: file[blob.dataRange])
                let palette = try Palettizer(PalettizationConfig(nbits: 4)).palettize(bytes, type: .float16, shape: [channels, 64])
                let dense = palette.dequantized().withUnsafeBufferPointer {
                    QuantizationErrorMetrics(original: bytes, type: .float16, reconstructed: $0)
                }
                #expect(report.action == "compressed")
                #expect(abs((report.sqnrDB ?? 0) - dense.sqnrDB) < 1e-9, "\(report.name)")
                #expect(abs((report.cosine ?? 0) - dense.cosine) < 1e-12, "\(report.name)")
                #expect(report.maxAbsError == dense.maxAbsError, "\(report.name)")
                #expect(report.sparsity == dense.sparsity, "\(report.name)")
            }
        }
    }

    /// A `zip -r` upload's weight file is inflated on its own thread while weights are
    /// compressed as their bytes arrive: the artifact is the one the stored zip gives.
    @Test func aDeflatedPackageGivesTheSameArtifactAsAStoredOne() throws {
        // Over 256 KiB of weights, so readers wait on partial output, not only on the end.
        let stored = PackageFixture.linearProgram(weights: [512, 1024, 768, 256], seed: 3)
        let (fromStored, storedOutcome, _) = try Self.compress(stored, CoreMLCompressor(pipeline: Self.int8))
        let (fromDeflated, deflatedOutcome, _) = try Self.compress(try PackageFixture.deflated(stored), CoreMLCompressor(pipeline: Self.int8))
        #expect(fromDeflated == fromStored)
        #expect(deflatedOutcome.tensors == storedOutcome.tensors)
    }

    /// A weight file large enough to be inflated in parts (over 4 MiB deflated per core: two
    /// parts on a 2-core machine), each weight compressed as its part arrives: the artifact is
    /// still the stored zip's, byte for byte.
    @Test func aDeflatedWeightFileInflatedInPartsGivesTheSameArtifact() throws {
        let stored = PackageFixture.linearProgram(weights: [32768, 32768, 16384, 4096], seed: 5)
        let deflated = try PackageFixture.deflated(stored)
        #expect(deflated.count > 2 * DeflateDecoder.minimumPartInput)
        let (fromStored, storedOutcome, _) = try Self.compress(stored, CoreMLCompressor(pipeline: Self.int8))
        let (fromDeflated, deflatedOutcome, _) = try Self.compress(deflated, CoreMLCompressor(pipeline: Self.int8))
        #expect(fromDeflated == fromStored)
        #expect(deflatedOutcome.tensors == storedOutcome.tensors)
    }

    @Test func aDeflatedWeightFileWithAWrongChecksumIsRefusedAsInvalid() throws {
        let package = try PackageFixture.deflated(PackageFixture.linearProgram(weights: [512, 1024], seed: 4), crcOf: "weight.bin", crc: 0x1234_5678)
        #expect {
            _ = try Self.compress(package, CoreMLCompressor(pipeline: Self.int8))
        } throws: { error in
            guard let problem = error as? Problem else { return false }
            return problem.status == 422 && problem.detail.contains("the weight file") && problem.detail.contains("CRC")
        }
    }

    @Test func anIOS18EncodingOnAnIOS16ModelNeedsTheTarget() throws {
        let package = PackageFixture.linearProgram(weights: [64, 128])
        #expect {
            try package.withUnsafeBytes { try CoreMLCompressor(pipeline: Self.int4PerBlock).preflight($0) }
        } throws: { error in
            guard let problem = error as? Problem else { return false }
            return problem.status == 422 && problem.detail.contains("minimum_deployment_target to iOS18")
        }
        for target in [MILOpset.iOS16, .iOS17] {
            #expect(throws: Problem.self) {
                try package.withUnsafeBytes { try CoreMLCompressor(pipeline: Self.int4PerBlock, minimumDeploymentTarget: target).preflight($0) }
            }
        }
    }

    @Test func aNewerTargetRaisesTheModelAndWritesItsEncodings() throws {
        let package = PackageFixture.linearProgram(weights: [64, 128])
        let (output, outcome, _) = try Self.compress(package, CoreMLCompressor(pipeline: Self.int4PerBlock, minimumDeploymentTarget: .iOS18))
        let model = try PackageFixture.model(output)
        #expect(model.opset == .iOS18)
        #expect(model.specificationVersion == 9)
        #expect(try PackageFixture.operationTypes(output) == ["constexpr_blockwise_shift_scale", "linear", "constexpr_blockwise_shift_scale", "linear"])
        #expect(outcome.tensors.allSatisfy { $0.action == "compressed" && $0.mode?.hasSuffix("int4 per_block") == true })
    }

    @Test func anOlderOrEqualTargetChangesNothing() throws {
        let package = PackageFixture.linearProgram(weights: [64], opset: "CoreML7", specificationVersion: 8)
        let (plain, _, _) = try Self.compress(package, CoreMLCompressor(pipeline: Self.int8))
        for target in [MILOpset.iOS15, .iOS16, .iOS17] {
            let (output, _, _) = try Self.compress(package, CoreMLCompressor(pipeline: Self.int8, minimumDeploymentTarget: target))
            #expect(output == plain, "\(target)")
        }
        let model = try PackageFixture.model(plain)
        #expect(model.opset == .iOS17 && model.specificationVersion == 8)
        #expect(try PackageFixture.operationTypes(plain) == ["constexpr_affine_dequantize", "linear"])
    }

    @Test func readsDeploymentTargetNamesAndRefusesOthersListingThem() throws {
        #expect(try CoreMLCompressor.deploymentTarget(named: "macOS15") == .iOS18)
        for value: Any in ["iOS19", "iOS14", 18, "ios18"] {
            #expect {
                try CoreMLCompressor.deploymentTarget(named: value)
            } throws: { error in
                guard let problem = error as? Problem else { return false }
                return problem.status == 422 && problem.extensions["field"] == "minimum_deployment_target"
                    && problem.detail.contains("iOS15, macOS12, tvOS15, watchOS8, iOS16") && problem.detail.contains("watchOS11")
            }
        }
    }
}
