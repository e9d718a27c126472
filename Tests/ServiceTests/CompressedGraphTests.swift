import Estimation
import ModelFormats
import Testing
@testable import Service

/// The op graph of what quantd writes tells each weight's stored form and size, whichever
/// opset wrote it: iOS16 constexpr ops carry parameters as attributes, iOS18 ones as inline
/// input values.
@Suite("compressed graph")
struct CompressedGraphTests {
    static func graph(_ preset: String, opset: String, version: Int32) throws -> (GraphCost, CompressionOutcome) {
        let package = PackageFixture.linearProgram(weights: [256, 512], opset: opset, specificationVersion: version)
        let (_, outcome, _) = try CoreMLCompressorTests.compress(package, CoreMLCompressor(pipeline: try APIResponder.preset(preset).config))
        return (GraphCost(graph: try #require(outcome.graph)), outcome)
    }

    @Test("each preset's form is read back, and stored bytes are what the report says the weights take", arguments: [
        ("w8", "CoreML6", Int32(7), StoredWeightForm(kind: .linear, bits: 8)),
        ("palettize-4", "CoreML6", 7, StoredWeightForm(kind: .palettized, bits: 4)),
        ("w8", "CoreML8", 9, StoredWeightForm(kind: .linear, bits: 8)),
        ("w4-block32", "CoreML8", 9, StoredWeightForm(kind: .linear, bits: 4, perBlock: true)),
        ("palettize-4-gs16", "CoreML8", 9, StoredWeightForm(kind: .palettized, bits: 4, grouped: true)),
    ])
    func formsAndBytes(preset: String, opset: String, version: Int32, form: StoredWeightForm) throws {
        let (cost, outcome) = try Self.graph(preset, opset: opset, version: version)
        let linears = cost.operations.filter { $0.type == "linear" }
        #expect(linears.count == 2)
        #expect(linears.allSatisfy { $0.weightForm == form }, "\(linears.map { $0.weightForm?.description ?? "-" })")
        #expect(cost.weightBytes == outcome.tensors.reduce(0) { $0 + $1.bytesAfter }, "\(preset) on \(opset)")
        #expect(cost.float16WeightBytes == (256 + 512) * 64 * 2)
        #expect(linears.map(\.weightName) == ["linear_0_weight", "linear_1_weight"])
    }

    @Test("bytes per form, by hand: int8 codes + a float16 scale and an int8 zero point per channel; 4-bit indices + a 16-entry float16 table")
    func bytesByHand() throws {
        let channels = 256 + 512
        #expect(try Self.graph("w8", opset: "CoreML6", version: 7).0.weightBytes == channels * 64 + channels * 2 + channels)
        #expect(try Self.graph("palettize-4", opset: "CoreML6", version: 7).0.weightBytes == channels * 64 / 2 + 2 * 16 * 2)
    }

    @Test("pruning stores a mask and the kept values: density is read back")
    func sparsity() throws {
        let (cost, _) = try Self.graph("prune-50", opset: "CoreML8", version: 9)
        let densities = cost.operations.filter { $0.type == "linear" }.compactMap { $0.weightForm?.density }
        #expect(densities.count == 2)
        #expect(densities.allSatisfy { abs($0 - 0.5) < 0.01 }, "\(densities)")
    }
}
