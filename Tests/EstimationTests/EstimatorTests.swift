import ModelFormats
import Testing
@testable import Estimation

@Suite("Estimator")
struct EstimatorTests {
    let catalog: DeviceCatalog

    init() throws { catalog = try RepositoryCatalog.load() }

    @Test("entries cover every device and compute-unit choice, with the basis their figures have")
    func entriesAndBasis() throws {
        let estimate = Estimator(catalog: catalog).estimate(graph: GraphFixtures.smallNetwork(), sqnrByWeight: [:])
        #expect(estimate.entries.count == catalog.devices.count * ComputeUnits.allCases.count)
        func entry(_ chip: String, _ units: ComputeUnits) -> ModelEstimate.Entry? {
            estimate.entries.first { $0.chip == chip && $0.computeUnits == units }
        }
        #expect(entry("A16", .cpuAndNeuralEngine)?.basis == "calibrated")
        #expect(entry("A16", .cpuAndNeuralEngine)?.bandPercent == catalog.bands.calibratedPercent)
        #expect(entry("M2", .cpuAndNeuralEngine)?.basis == "scaled")
        #expect(entry("M2", .cpuAndGPU)?.basis == "uncalibrated")
        #expect(entry("A16", .cpuOnly)?.bandPercent == catalog.bands.uncalibratedPercent)
        // An uncompressed graph: no accuracy estimate, and compressed equals float16.
        #expect(estimate.accuracy == nil)
        #expect(estimate.entries.allSatisfy { $0.speedup == 1 })
    }

    @Test("memory: the Neural Engine keeps weights compressed; the GPU only per-block ones")
    func residentMemory() throws {
        let estimator = Estimator(catalog: catalog)
        let device = try #require(catalog.device(named: "M4"))
        let perChannel = GraphFixtures.smallNetwork(convForm: StoredWeightForm(kind: .linear, bits: 8), convBytes: 64 * 147 + 128)
        let perBlock = GraphFixtures.smallNetwork(convForm: StoredWeightForm(kind: .linear, bits: 4, perBlock: true), convBytes: 64 * 147 / 2 + 64 * 5 * 2)
        let dense = GraphCost(graph: GraphFixtures.smallNetwork())
        #expect(estimator.residentWeightBytes(GraphCost(graph: perChannel), device: device, units: .cpuAndNeuralEngine) < dense.weightBytes)
        #expect(estimator.residentWeightBytes(GraphCost(graph: perChannel), device: device, units: .cpuAndGPU) == dense.weightBytes)
        #expect(estimator.residentWeightBytes(GraphCost(graph: perBlock), device: device, units: .cpuAndGPU) < dense.weightBytes)
    }

    @Test("warnings name per-block fallback, and W8A8 on a chip without fast int8")
    func warnings() throws {
        let perBlock = GraphFixtures.smallNetwork(convForm: StoredWeightForm(kind: .linear, bits: 4, perBlock: true), convBytes: 5000)
        let estimate = Estimator(catalog: catalog).estimate(graph: perBlock, sqnrByWeight: ["conv1_w": 30], devices: [try #require(catalog.device(named: "A16"))],
                                                            int8Activations: true)
        #expect(estimate.warnings.contains { $0.contains("fall back from the Neural Engine") && $0.contains("per_channel") })
        #expect(estimate.warnings.contains { $0.contains("W8A8 gains little on iPhone 14 Pro") })
        #expect(estimate.accuracy != nil)
    }

    @Test("decode estimates for a weight-only model: time per token follows the resident bytes")
    func decode() throws {
        let weights = (0..<4).map { i in
            Estimator.Weight(name: "layers.\(i).q_proj.weight", elements: 4096 * 4096, storedBytes: 4096 * 4096 / 2 + 4096 * 128 * 2,
                             form: StoredWeightForm(kind: .linear, bits: 4, perBlock: true), sqnrDB: 25)
        }
        let device = try #require(catalog.device(named: "M1 Max"))
        let estimate = Estimator(catalog: catalog).estimateDecode(weights, devices: [device], units: [.cpuAndGPU, .cpuOnly])
        let gpu = try #require(estimate.entries.first { $0.computeUnits == .cpuAndGPU })
        let cpu = try #require(estimate.entries.first { $0.computeUnits == .cpuOnly })
        let stored = weights.reduce(0) { $0 + $1.storedBytes }
        #expect(gpu.compressedMemoryBytes == stored)
        #expect(gpu.speedup > 3)
        let expectedMs = Double(stored) / (device.memoryGBps.value * 1e9 * catalog.latency.decodeBandwidthEfficiency.value) * 1e3
        #expect(abs(gpu.compressedMilliseconds - expectedMs) < 1e-9)
        #expect(abs((gpu.tokensPerSecond ?? 0) - 1e3 / expectedMs) < 1e-6)
        #expect(cpu.compressedMemoryBytes == stored)
        #expect(estimate.accuracy.map { $0.topOneChange < 0 } == true)
    }
}
