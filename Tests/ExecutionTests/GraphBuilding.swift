@testable import Execution

/// Small graphs for kernel tests: one node over named inputs and constants.
enum GraphBuilding {
    static func node(_ operation: Operation, _ inputs: [String?], outputs: [String] = ["y"], name: String = "op") -> Node {
        Node(name: name, sourceType: "\(operation)".prefix { $0 != "(" }.description, operation: operation, inputs: inputs, outputs: outputs)
    }

    /// Runs `operation` once on `inputs` given as tensors; every operand becomes a graph input so
    /// nothing is folded, unless listed in `constants`.
    static func run(_ operation: Operation, _ operands: [Tensor?], constants: Set<Int> = [], outputs: Int = 1,
                    threads: Int = 2) throws -> [Tensor] {
        var inputs: [GraphInput] = []
        var feeds: [String: Tensor] = [:]
        var constantTensors: [String: ConstantTensor] = [:]
        var names: [String?] = []
        for (index, operand) in operands.enumerated() {
            guard let operand else { names.append(nil); continue }
            let name = "x\(index)"
            names.append(name)
            if constants.contains(index) {
                constantTensors[name] = ConstantTensor(shape: operand.shape, elements: operand.elements)
            } else {
                inputs.append(GraphInput(name: name, elementType: operand.elementType, shape: operand.shape.map { $0 }))
                feeds[name] = operand
            }
        }
        let outputNames = (0..<outputs).map { "y\($0)" }
        let graph = ExecutionGraph(inputs: inputs, outputs: outputNames, constants: constantTensors,
                                   nodes: [node(operation, names, outputs: outputNames)])
        let result = try Executor(graph, threads: threads).run(feeds)
        return outputNames.map { result[$0]! }
    }

    static func run(_ operation: Operation, _ operands: [Tensor?], constants: Set<Int> = []) throws -> Tensor {
        try run(operation, operands, constants: constants, outputs: 1)[0]
    }
}

func floats(_ shape: [Int], _ values: [Float]) -> Tensor { Tensor(shape: shape, floats: values) }
func int64s(_ shape: [Int], _ values: [Int64]) -> Tensor { Tensor(shape: shape, int64s: values) }
func bools(_ shape: [Int], _ values: [Bool]) -> Tensor { Tensor(shape: shape, bools: values) }
/// 0, 1, 2, … as floats.
func iota(_ shape: [Int]) -> Tensor { Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map(Float.init)) }

/// Element-wise closeness with a tolerance scaled to the values.
func close(_ a: [Float], _ b: [Float], tolerance: Float = 1e-4) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { x, y in
        (x.isNaN && y.isNaN) || Swift.abs(x - y) <= tolerance * Swift.max(1, Swift.abs(y))
    }
}
