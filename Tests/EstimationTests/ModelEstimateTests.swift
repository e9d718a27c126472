import Foundation
import ModelFormats
import Testing
@testable import Estimation

@Suite("Model estimate")
struct ModelEstimateTests {
    @Test("a report stored before estimates named their runtime and their fit's range still reads: iOS 17, nothing outside")
    func storedReportsStillDecode() throws {
        let entry = #"{"device":"iPhone 15 Pro","chip":"A17 Pro","compute_units":"all","float16_ms":1.4,"compressed_ms":1.3,"speedup":1.08,"band_percent":21,"basis":"calibrated","float16_memory_bytes":10,"compressed_memory_bytes":5,"fallback_ops":0}"#
        let decoded = try JSONDecoder().decode(ModelEstimate.Entry.self, from: Data(entry.utf8))
        #expect(decoded.os == .iOS17 && decoded.tokensPerSecond == nil && decoded.compressedMilliseconds == 1.3)
        let accuracy = #"{"top1_change":-0.5,"band":0.2,"largest_contributors":["fc"],"basis":"data-free"}"#
        let read = try JSONDecoder().decode(ModelEstimate.Accuracy.self, from: Data(accuracy.utf8))
        #expect(read.outsideFit.isEmpty && read.measured == nil && read.topOneChange == -0.5)
        // What is written now reads back the same.
        var current = decoded
        current.os = .iOS18
        #expect(try JSONDecoder().decode(ModelEstimate.Entry.self, from: JSONEncoder().encode(current)) == current)
    }

    @Test("int8_activations on a float model does not claim the model's own activation quantization is measured elsewhere")
    func assumedActivationQuantizationBasis() throws {
        let catalog = try RepositoryCatalog.load()
        let graph = GraphFixtures.quantizedNetwork(quantized: false)
        let assumed = Estimator(catalog: catalog).estimate(graph: graph, sqnrByWeight: ["w1": 30], int8Activations: true)
        let basis = try #require(assumed.accuracy?.basis)
        #expect(basis.contains("needs calibration data") && !basis.contains("its evaluation measures it"))
        let own = Estimator(catalog: catalog).estimate(graph: GraphFixtures.quantizedNetwork(), sqnrByWeight: ["w1": 30])
        #expect(own.accuracy?.basis.contains("its evaluation measures it") == true)
    }
}
