import Synchronization

/// Runs an `ExecutionGraph` on the CPU. `init` checks the graph, folds every node whose operands
/// are all constants (dequantized weights, decompressed look-up tables, shape arithmetic) and
/// plans when each value can be dropped; `run` then executes the remaining nodes on a batch.
///
/// Safe to share between threads: concurrent runs each get their own activation memory (the
/// executor keeps one arena for reuse between runs, and a run that finds it taken makes its own).
public final class Executor: Sendable {
    /// The graph as given, without its constants (the executor holds its own copy of those, and
    /// a model's weights are not kept twice): its inputs are what `run` checks.
    public let graph: ExecutionGraph
    /// Nodes left to run after folding, in order: every one, for runs with an observer.
    private let steps: [Step]
    /// The same with convolutions and the per-channel nodes after them merged
    /// (`ConvolutionFusion`), for runs without an observer.
    private let fusedSteps: [Step]
    /// The values every run starts with: constants and folded results, by slot.
    private let constants: [(slot: Int, value: Value)]
    private let slotCount: Int
    private let inputSlots: [Int]
    private let outputSlots: [Int]
    private let threads: Int
    private let arena: Mutex<Arena?>
    private let lastPeak = Atomic<Int>(0)

    /// One node to run: the operation that computes it (the node's own, or a cheaper one
    /// prepared at init), where its operands are and where its results go, by slot, the clamp
    /// a merged activation leaves it, and which slots hold values nothing reads after it.
    private struct Step {
        let node: Node
        let operation: Operation
        let operands: [Int?]
        let results: [Int]
        let clamp: Clamp?
        let releases: [Int]
    }

    public init(_ graph: ExecutionGraph, threads: Int) throws(ExecutionError) {
        self.graph = ExecutionGraph(inputs: graph.inputs, outputs: graph.outputs, constants: [:], nodes: graph.nodes)
        self.threads = max(threads, 1)
        self.arena = Mutex(Arena(pooling: true))

        var slots: [String: Int] = [:]
        func slot(_ name: String) -> Int {
            if let existing = slots[name] { return existing }
            slots[name] = slots.count
            return slots.count - 1
        }
        var known = Set<String>()
        var inputSlots: [Int] = []
        for input in graph.inputs {
            guard known.insert(input.name).inserted else { throw .malformedGraph("input '\(input.name)' is declared twice") }
            inputSlots.append(slot(input.name))
        }
        let permanent = Arena(pooling: false)
        var constantValues: [Int: Value] = [:]
        for (name, constant) in graph.constants where !known.contains(name) {
            guard constant.shape.allSatisfy({ $0 >= 0 }), Tensor.elementCount(constant.elements) == constant.shape.reduce(1, *) else {
                throw .malformedGraph("constant '\(name)' holds \(Tensor.elementCount(constant.elements)) elements for its shape \(constant.shape)")
            }
            known.insert(name)
            constantValues[slot(name)] = Value(constant, arena: permanent)
        }

        // Fold constant nodes in graph order; the rest become steps.
        var pending: [ConvolutionFusion.PlannedStep] = []
        for node in graph.nodes {
            var operands: [Int?] = []
            for name in node.inputs {
                guard let name else { operands.append(nil); continue }
                guard known.contains(name) else {
                    throw .malformedGraph("op '\(node.name)' reads '\(name)', which is not an input, a constant or the result of an earlier op")
                }
                operands.append(slot(name))
            }
            for name in node.outputs {
                guard known.insert(name).inserted else { throw .malformedGraph("'\(name)' is produced twice (by op '\(node.name)')") }
            }
            let results = node.outputs.map(slot)
            if operands.allSatisfy({ $0 == nil || constantValues[$0!] != nil }) {
                let context = KernelContext(arena: permanent, threads: self.threads, nodeName: node.name, sourceType: node.sourceType)
                let values = try OperationDispatch.execute(node, operands.map { $0.flatMap { constantValues[$0] } }, context)
                for (slot, value) in zip(results, values) { constantValues[slot] = value }
            } else if case .matMulNBits(let k, let n, let bits, let blockSize) = node.operation, operands.count >= 3,
                      operands.dropFirst().allSatisfy({ $0 == nil || constantValues[$0!] != nil }) {
                // Constant packed weights are unpacked once, and each run is a plain linear layer.
                let context = KernelContext(arena: permanent, threads: self.threads, nodeName: node.name, sourceType: node.sourceType)
                let constant = operands.map { $0.flatMap { constantValues[$0] } }
                let weight = try QuantizationKernels.unpackNBits(packed: try context.operand(constant, 1, "packed weights"),
                                                                 scales: try context.floatOperand(constant, 2, "scales"),
                                                                 zeroPoints: constant.count > 3 ? constant[3] : nil,
                                                                 k: k, n: n, bits: bits, blockSize: blockSize, context)
                let weightSlot = slot("\(node.name)#unpacked weight")
                constantValues[weightSlot] = weight
                pending.append(.init(node: node, operation: .linear, operands: [operands[0], weightSlot], results: results))
            } else {
                pending.append(.init(node: node, operation: node.operation, operands: operands, results: results))
            }
        }
        for output in graph.outputs where !known.contains(output) {
            throw .malformedGraph("output '\(output)' is not produced by any op, input or constant")
        }
        let outputSlots = graph.outputs.map(slot)

        let fused = ConvolutionFusion.fuse(pending, constants: &constantValues, kept: Set(outputSlots), newSlot: slot, arena: permanent)
        self.steps = Self.plan(pending, constants: constantValues, inputs: inputSlots, outputs: outputSlots)
        self.fusedSteps = Self.plan(fused, constants: constantValues, inputs: inputSlots, outputs: outputSlots)
        // Only constants something still reads are kept.
        var read = Set(outputSlots)
        for step in pending + fused { read.formUnion(step.operands.compactMap { $0 }) }
        self.constants = constantValues.filter { read.contains($0.key) }.map { (slot: $0.key, value: $0.value) }
        self.slotCount = slots.count
        self.inputSlots = inputSlots
        self.outputSlots = outputSlots
    }

    /// Each computed value is dropped after the last step that reads it; graph outputs stay.
    private static func plan(_ planned: [ConvolutionFusion.PlannedStep], constants: [Int: Value], inputs: [Int], outputs: [Int]) -> [Step] {
        var lastUse: [Int: Int] = [:]
        for (index, step) in planned.enumerated() {
            for result in step.results { lastUse[result] = index }
            for case let operand? in step.operands where constants[operand] == nil { lastUse[operand] = index }
        }
        for input in inputs where lastUse[input] == nil { lastUse[input] = 0 }
        let kept = Set(outputs)
        var releases = [[Int]](repeating: [], count: planned.count)
        for (slot, index) in lastUse where !kept.contains(slot) && index < planned.count { releases[index].append(slot) }
        return planned.enumerated().map { index, step in
            Step(node: step.node, operation: step.operation, operands: step.operands, results: step.results, clamp: step.clamp,
                 releases: releases[index])
        }
    }

    /// How many nodes `run` executes after constant folding (with an observer: every node).
    public var executedNodeCount: Int { steps.count }

    /// Bytes of activation memory (the arena's blocks, free or in use) at its fullest during the
    /// last run.
    public var peakActivationBytes: Int { lastPeak.load(ordering: .relaxed) }

    /// Runs the graph on one batch (each input's first axis, whatever its size).
    ///
    /// `observe` is called after each executed node with copies of its results, which stay
    /// valid after the call; folded nodes are not executed and so not observed. Errors it throws
    /// end the run and are rethrown.
    public func run(_ inputs: [String: Tensor], observe: ((Node, [Tensor]) throws -> Void)? = nil) throws -> [String: Tensor] {
        let arena = self.arena.withLock { $0.take() } ?? Arena(pooling: true)
        defer {
            lastPeak.store(arena.peakHeldBytes, ordering: .relaxed)
            self.arena.withLock { if $0 == nil { $0 = arena } }
        }
        GEMM.useCallingThreadOnly()
        arena.startRun()
        return try execute(inputs, arena: arena, observe: observe)
    }

    private func execute(_ inputs: [String: Tensor], arena: Arena, observe: ((Node, [Tensor]) throws -> Void)?) throws -> [String: Tensor] {
        var values = [Value?](repeating: nil, count: slotCount)
        for (slot, value) in constants { values[slot] = value }
        for (declared, slot) in zip(graph.inputs, inputSlots) {
            guard let tensor = inputs[declared.name] else {
                throw ExecutionError.invalidInput(name: declared.name, reason: "missing; the model expects \(Self.describe(declared))")
            }
            try Self.check(tensor, against: declared)
            values[slot] = Value(tensor, arena: arena)
        }
        for step in observe == nil ? fusedSteps : steps {
            let context = KernelContext(arena: arena, threads: threads, nodeName: step.node.name, sourceType: step.node.sourceType)
            let results = try OperationDispatch.execute(step.operation, outputs: step.results.count,
                                                        step.operands.map { $0.flatMap { values[$0] } }, clamp: step.clamp, context)
            for (slot, value) in zip(step.results, results) { values[slot] = value }
            if let observe { try observe(step.node, results.map(\.tensor)) }
            for slot in step.releases { values[slot] = nil }
        }
        var outputs: [String: Tensor] = [:]
        for (name, slot) in zip(graph.outputs, outputSlots) { outputs[name] = values[slot]?.tensor }
        return outputs
    }

    private static func check(_ tensor: Tensor, against input: GraphInput) throws(ExecutionError) {
        guard tensor.elementType == input.elementType else {
            throw .invalidInput(name: input.name, reason: "\(tensor.elementType) elements given; the model expects \(describe(input))")
        }
        guard tensor.shape.count == input.shape.count else {
            throw .invalidInput(name: input.name, reason: "rank \(tensor.shape.count) given (shape \(tensor.shape)); the model expects \(describe(input))")
        }
        for (axis, (given, expected)) in zip(tensor.shape, input.shape).enumerated() {
            if let expected, given != expected, !(axis == 0 && input.shape.count > 1) {
                throw .invalidInput(name: input.name, reason: "dimension \(axis) is \(given); the model expects \(describe(input))")
            }
        }
    }

    private static func describe(_ input: GraphInput) -> String {
        let dimensions = input.shape.map { $0.map(String.init) ?? "?" }.joined(separator: ", ")
        return "\(input.elementType) of shape [\(dimensions)]"
    }
}
