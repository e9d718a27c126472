import ModelFormats
import Testing
@testable import Estimation

@Suite("Latency model")
struct LatencyModelTests {
    let catalog: DeviceCatalog
    let model: LatencyModel

    init() throws {
        catalog = try RepositoryCatalog.load()
        model = LatencyModel(parameters: catalog.latency)
    }

    func cost(bits: Int, perBlock: Bool = false) -> GraphCost {
        let stored = 64 * 147 * bits / 8 + 64 * 2
        return GraphCost(graph: GraphFixtures.smallNetwork(convForm: StoredWeightForm(kind: .linear, bits: bits, perBlock: perBlock), convBytes: stored))
    }

    @Test("fewer stored bits never estimate more bytes or more time, on every device and unit")
    func fewerBitsNeverCostMore() {
        for device in catalog.devices {
            for units in ComputeUnits.allCases {
                var previous = (bytes: Int.max, ms: Double.infinity)
                for bits in [16, 8, 6, 4, 2] {
                    let c = cost(bits: bits)
                    let ms = model.estimate(c, on: device, units: units, precision: .compressed).milliseconds
                    #expect(c.weightBytes <= previous.bytes)
                    #expect(ms <= previous.ms * (1 + 1e-12), "\(device.name) \(units) \(bits)-bit")
                    previous = (c.weightBytes, ms)
                }
            }
        }
    }

    @Test("W8A8 on the A17 Pro's Neural Engine is never slower than on the A16's")
    func int8ActivationsGainMoreOnA17Pro() throws {
        let a16 = try #require(catalog.device(named: "A16")), a17 = try #require(catalog.device(named: "A17 Pro"))
        let stored = 64 * 147 + 64 * 2
        for graph in [GraphFixtures.smallNetwork(convForm: StoredWeightForm(kind: .linear, bits: 8), convBytes: stored), GraphFixtures.smallNetwork()] {
            let c = GraphCost(graph: graph, assumingInt8Activations: true)
            let onA16 = model.estimate(c, on: a16, units: .cpuAndNeuralEngine, precision: .compressed).milliseconds
            let onA17 = model.estimate(c, on: a17, units: .cpuAndNeuralEngine, precision: .compressed).milliseconds
            #expect(onA17 <= onA16)
            let gainA16 = model.estimate(c, on: a16, units: .cpuAndNeuralEngine, precision: .float16).milliseconds / onA16
            let gainA17 = model.estimate(c, on: a17, units: .cpuAndNeuralEngine, precision: .float16).milliseconds / onA17
            #expect(gainA17 >= gainA16)
        }
    }

    @Test("a W8A8 graph is estimated from its own quantize/dequantize ops, as the same op selection assumed on its float graph is: int8 convs on the Neural Engine, the float16 baseline without the pairs")
    func int8RegionsAreReadFromTheGraph() throws {
        let device = try #require(catalog.device(named: "A17 Pro"))
        let quantized = GraphCost(graph: GraphFixtures.quantizedNetwork())
        let plain = GraphCost(graph: GraphFixtures.quantizedNetwork(quantized: false))
        let asStored = model.estimate(quantized, on: device, units: .cpuAndNeuralEngine, precision: .compressed).milliseconds
        let weightsOnly = model.estimate(plain, on: device, units: .cpuAndNeuralEngine, precision: .compressed).milliseconds
        let assumed = model.estimate(GraphCost(graph: GraphFixtures.quantizedNetwork(quantized: false), assumingInt8Activations: true),
                                     on: device, units: .cpuAndNeuralEngine, precision: .compressed).milliseconds
        #expect(asStored < weightsOnly)
        // The written pairs and the assumed selection put the same ops in int8 with the same
        // transitions at the input and before the softmax.
        #expect(abs(asStored - assumed) / asStored < 1e-9)
        #expect(model.estimate(quantized, on: device, units: .cpuAndNeuralEngine, precision: .float16).milliseconds
                == model.estimate(plain, on: device, units: .cpuAndNeuralEngine, precision: .float16).milliseconds)
    }

    @Test("int8 activations slow the CPU, which dequantizes them")
    func int8ActivationsSlowTheCPU() throws {
        let device = try #require(catalog.device(named: "M1"))
        let graph = GraphFixtures.smallNetwork(convForm: StoredWeightForm(kind: .linear, bits: 8), convBytes: 64 * 147 + 64 * 2)
        let w8 = model.estimate(GraphCost(graph: graph), on: device, units: .cpuOnly, precision: .compressed).milliseconds
        let w8a8 = model.estimate(GraphCost(graph: graph, assumingInt8Activations: true), on: device, units: .cpuOnly, precision: .compressed).milliseconds
        #expect(w8a8 > w8)
    }

    @Test("per-block weights leave the Neural Engine under 'all' and 'cpuAndNeuralEngine', and stay on the GPU")
    func perBlockFallsBack() throws {
        let device = try #require(catalog.device(named: "iPhone 16 Pro"))
        let c = cost(bits: 4, perBlock: true)
        let all = model.estimate(c, on: device, units: .all, precision: .compressed)
        #expect(all.fallbackOps == 1)
        #expect(all.processors == [.neuralEngine, .gpu])
        #expect(model.estimate(c, on: device, units: .cpuAndNeuralEngine, precision: .compressed).processors == [.neuralEngine, .cpu])
        #expect(model.estimate(c, on: device, units: .cpuAndGPU, precision: .compressed).fallbackOps == 0)
        // The float16 baseline has no per-block weights to move.
        #expect(model.estimate(c, on: device, units: .all, precision: .float16).fallbackOps == 0)
    }

    @Test("the float16 baseline ignores how weights are stored")
    func baselineIgnoresForms() throws {
        let device = try #require(catalog.device(named: "M4"))
        for units in ComputeUnits.allCases {
            #expect(model.estimate(cost(bits: 4), on: device, units: units, precision: .float16)
                    == model.estimate(GraphCost(graph: GraphFixtures.smallNetwork()), on: device, units: units, precision: .float16))
        }
    }

    @Test("a faster Neural Engine and more bandwidth never estimate slower")
    func fasterHardwareIsNotSlower() throws {
        var device = try #require(catalog.device(named: "A16"))
        let c = GraphCost(graph: GraphFixtures.smallNetwork())
        let before = model.estimate(c, on: device, units: .all, precision: .float16).milliseconds
        device.neuralEngine.fp16TFLOPS.value *= 2
        device.memoryGBps.value *= 2
        #expect(model.estimate(c, on: device, units: .all, precision: .float16).milliseconds < before)
    }

    @Test("at 75% sparsity or more the Neural Engine skips the pruned products; the GPU does not")
    func sparsitySkipsWorkOnTheNeuralEngine() throws {
        let device = try #require(catalog.device(named: "A17 Pro"))
        // A compute-bound 3×3 conv: 256 → 256 channels at 56×56.
        func graph(_ form: StoredWeightForm, bytes: Int) -> GraphCost {
            GraphCost(graph: OpGraph(operations: [GraphFixtures.op("conv", "c", [
                ("x", .activation(GraphFixtures.tensor("x", [1, 256, 56, 56]))),
                ("weight", GraphFixtures.weight("w", [256, 256, 3, 3], form: form, storedBytes: bytes))], output: [1, 256, 56, 56])], inputs: []))
        }
        let elements = 256 * 256 * 9
        let dense = graph(.dense(bits: 16), bytes: elements * 2)
        let sparse80 = graph(StoredWeightForm(kind: .dense, bits: 16, density: 0.2), bytes: elements / 8 + elements / 5 * 2)
        let sparse50 = graph(StoredWeightForm(kind: .dense, bits: 16, density: 0.5), bytes: elements / 8 + elements / 2 * 2)
        func ms(_ c: GraphCost, _ units: ComputeUnits) -> Double { model.estimate(c, on: device, units: units, precision: .compressed).milliseconds }
        #expect(ms(sparse80, .cpuAndNeuralEngine) < 0.5 * ms(dense, .cpuAndNeuralEngine))
        #expect(ms(sparse50, .cpuAndNeuralEngine) == ms(dense, .cpuAndNeuralEngine))
        #expect(ms(sparse80, .cpuAndGPU) == ms(dense, .cpuAndGPU))
    }

    /// A weight-bound layer: one token through a 4096 × 4096 linear (32 MiB of float16 weights).
    func weightBound(_ form: StoredWeightForm) -> GraphCost {
        let elements = 4096 * 4096
        return GraphCost(graph: OpGraph(operations: [GraphFixtures.op("linear", "fc", [
            ("x", .activation(GraphFixtures.tensor("x", [1, 4096]))),
            ("weight", GraphFixtures.weight("w", [4096, 4096], form: form, storedBytes: elements * form.bits / 8 + 16 * 2))],
            output: [1, 4096])], inputs: []))
    }

    @Test("iOS 18 turns 4-bit palettization of a weight-bound layer into a Neural Engine speed-up that iOS 17 does not give")
    func iOS18StreamsCompressedWeights() throws {
        let device = try #require(catalog.device(named: "A17 Pro"))
        let lut4 = weightBound(StoredWeightForm(kind: .palettized, bits: 4))
        func speedup(_ os: OSRelease) -> Double {
            model.estimate(lut4, on: device, units: .cpuAndNeuralEngine, precision: .float16, os: os).milliseconds
                / model.estimate(lut4, on: device, units: .cpuAndNeuralEngine, precision: .compressed, os: os).milliseconds
        }
        #expect(speedup(.iOS17) <= 1)
        #expect(speedup(.iOS18) > 2)
        // The GPU expands palettized weights at load on either release.
        #expect(model.estimate(lut4, on: device, units: .cpuAndGPU, precision: .compressed, os: .iOS18).milliseconds
                == model.estimate(lut4, on: device, units: .cpuAndGPU, precision: .compressed, os: .iOS17).milliseconds)
    }

    @Test("an op running in int8 reads its int8 weights as stored, even on iOS 17")
    func int8OpsReadInt8Weights() throws {
        let device = try #require(catalog.device(named: "A17 Pro"))
        let int8 = weightBound(StoredWeightForm(kind: .linear, bits: 8))
        let w8 = GraphCost(graph: OpGraph(operations: [GraphFixtures.op("linear", "fc", [
            ("x", .activation(GraphFixtures.tensor("x", [1, 4096]))),
            ("weight", GraphFixtures.weight("w", [4096, 4096], form: StoredWeightForm(kind: .linear, bits: 8), storedBytes: 4096 * 4096 + 4096 * 2))],
            output: [1, 4096])], inputs: [GraphFixtures.tensor("x", [1, 4096])]), assumingInt8Activations: true)
        let weightOnly = model.estimate(int8, on: device, units: .cpuAndNeuralEngine, precision: .compressed, os: .iOS17).milliseconds
        let w8a8 = model.estimate(w8, on: device, units: .cpuAndNeuralEngine, precision: .compressed, os: .iOS17).milliseconds
        #expect(w8a8 < 0.75 * weightOnly)
    }
}
