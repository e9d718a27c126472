import Foundation
import SwiftProtobuf

/// Edits an `ONNXModel`: replaces weights by the nodes that rebuild them from compressed
/// tensors, or MatMuls by `MatMulNBits`, and writes the result.
///
/// A replacement's last node outputs a value named like the weight, so every node reading it
/// stays byte for byte as it was. New nodes go before all others (they read only their own
/// initializers), in the order of the replacements. Everything else — metadata, value_info,
/// doc strings, fields quantd does not model — is written back unchanged.
public struct ONNXRewrite: Sendable {
    var proto: OnnxSubset_ModelProto
    let externalFiles: [String: EntryData]
    /// The name the written model takes (its data file adds ".data").
    public let fileName: String
    let usedExternalData: Bool
    /// Every value name of the main graph, so new names cannot capture existing ones.
    var names: Set<String>
    let readInSubgraphs: Set<String>
    /// The nodes replacements put ahead of the graph's own.
    private(set) var insertedNodeCount = 0

    /// Tensors of at least this many bytes go to the data file when external data is written;
    /// onnx's own `convert_model_to_external_data` uses the same threshold.
    static let externalThreshold = 1024
    /// Offsets in the data file are multiples of the page size, so runtimes can map tensors.
    static let externalAlignment = 4096
    /// A protobuf message cannot exceed 2 GiB; this leaves room for the graph around the data.
    static let inlineLimit = (2 << 30) - (64 << 20)

    public init(_ model: ONNXModel) {
        proto = model.proto
        externalFiles = model.externalFiles
        fileName = model.fileName
        usedExternalData = model.usesExternalData
        let graph = model.proto.graph
        readInSubgraphs = ONNXConsumers(graph: graph).readInSubgraphs
        names = Set(graph.input.map(\.name)).union(graph.initializer.map(\.name)).union(graph.sparseInitializer.map(\.values.name))
            .union(graph.node.flatMap(\.output))
    }

    public var opsetVersion: Int { ONNXModel.opsetVersion(proto)! }
    public var irVersion: Int { Int(proto.irVersion) }

    /// Replaces the float initializer or Constant named `weight` by `replacement`, raising the
    /// opset and IR version to what it needs.
    public mutating func replace(weight: String, with replacement: ONNXDequantization) throws(ONNXError) {
        try checkReplaceable(weight)
        try check(replacement, for: weight)
        try raise(opset: replacement.minimumOpset, irVersion: replacement.minimumIRVersion)
        try remove(weight)
        names.formUnion(replacement.definedNames)
        proto.graph.initializer += replacement.initializers.map(\.proto)
        proto.graph.sparseInitializer += replacement.sparseInitializers.map(\.proto)
        insert(replacement.nodes)
    }

    /// Replaces every MatMul reading `weight` as its B input by `MatMulNBits` on `form`'s
    /// tensors, and the weight by those tensors. Refused when anything else reads the weight.
    public mutating func replaceMatMuls(reading weight: String, with form: ONNXMatMulNBits) throws(ONNXError) {
        try checkReplaceable(weight)
        let uses = ONNXConsumers(graph: proto.graph).uses(of: weight)
        guard !uses.isEmpty, uses.allSatisfy({ $0.opType == "MatMul" && $0.input == 1 }) else {
            throw .notReplaceable(weight, reason: "MatMulNBits replaces MatMul nodes, but it is read by \(Set(uses.map(\.opType)).sorted()) and not only as a MatMul's B input")
        }
        for name in form.initializers.map(\.name) where names.contains(name) { throw .nameTaken(name) }
        try remove(weight)
        names.formUnion(form.initializers.map(\.name))
        proto.graph.initializer += form.initializers.map(\.proto)
        for use in uses {
            proto.graph.node[use.node] = form.node(replacing: proto.graph.node[use.node]).proto
        }
        if !proto.opsetImport.contains(where: { $0.domain == "com.microsoft" }) {
            var contrib = OnnxSubset_OperatorSetIdProto()
            contrib.domain = "com.microsoft"
            contrib.version = 1
            proto.opsetImport.append(contrib)
        }
    }

    private func checkReplaceable(_ weight: String) throws(ONNXError) {
        if readInSubgraphs.contains(weight) {
            throw .notReplaceable(weight, reason: "it is read inside a subgraph (If, Loop or Scan body)")
        }
    }

    /// Names must be new, except the weight's, which exactly one of the replacement's values
    /// takes; nodes read only the replacement's own values.
    private func check(_ replacement: ONNXDequantization, for weight: String) throws(ONNXError) {
        var defined = Set<String>()
        for name in replacement.definedNames {
            guard defined.insert(name).inserted else {
                throw .malformedReplacement(weight: weight, reason: "it defines '\(name)' twice")
            }
            if name != weight, names.contains(name) { throw .nameTaken(name) }
        }
        guard defined.contains(weight) else {
            throw .malformedReplacement(weight: weight, reason: "none of its values is named '\(weight)'")
        }
        var available = Set(replacement.initializers.map(\.name) + replacement.sparseInitializers.map(\.values.name))
        for node in replacement.nodes {
            for input in node.inputs where !input.isEmpty && !available.contains(input) {
                throw .malformedReplacement(weight: weight, reason: "node \(node.opType) reads '\(input)' before anything defines it")
            }
            available.formUnion(node.outputs)
        }
    }

    /// Never lowers either.
    private mutating func raise(opset: Int, irVersion: Int) throws(ONNXError) {
        let current = opsetVersion
        if opset > current {
            try ONNXOpsetRaise.check(proto.graph, from: current, to: opset)
            let index = proto.opsetImport.firstIndex { ONNXModel.isDefaultDomain($0.domain) }!
            proto.opsetImport[index].version = Int64(opset)
        }
        let ir = max(irVersion, ONNXOpsetRaise.irVersion(forOpset: opsetVersion))
        proto.irVersion = max(proto.irVersion, Int64(ir))
    }

    /// Removes the weight's initializer (and the graph input that may list it, which would
    /// otherwise be left without a value) or its Constant node.
    private mutating func remove(_ weight: String) throws(ONNXError) {
        if let index = proto.graph.initializer.firstIndex(where: { $0.name == weight }),
           ONNXDataType(rawValue: proto.graph.initializer[index].dataType)?.weightScalarType != nil {
            proto.graph.initializer.remove(at: index)
            proto.graph.input.removeAll { $0.name == weight }
        } else if let index = proto.graph.node.firstIndex(where: { $0.output.first == weight && ONNXModel.constantValue($0) != nil }) {
            proto.graph.node.remove(at: index)
        } else {
            throw .weightNotFound(weight)
        }
    }

    private mutating func insert(_ nodes: [ONNXNode]) {
        proto.graph.node.insert(contentsOf: nodes.map(\.proto), at: insertedNodeCount)
        insertedNodeCount += nodes.count
    }

    // MARK: - Writing

    /// Writes the model to `output` in pieces: a bare `.onnx` when it fits one protobuf
    /// message and the upload had no external data; otherwise a zip (`ZipWriter`) of the
    /// `.onnx` and one data file holding every tensor of at least `externalThreshold` bytes at
    /// page-aligned offsets.
    public func write(to output: (UnsafeRawBufferPointer) throws -> Void) throws -> ONNXArtifactKind {
        if !usedExternalData, storedByteCount < Self.inlineLimit {
            try serialized(proto).withUnsafeBytes(output)
            return .model
        }
        var model = proto
        let dataFileName = fileName + ".data"
        var pieces: [[UInt8]] = []
        var offset = 0
        try ONNXTensorWalk.update(&model.graph) { (tensor: inout OnnxSubset_TensorProto) throws(ONNXError) in
            let bytes = ONNXTensorPayload.withStoredBytes(tensor, files: externalFiles) { Array($0) }
            guard let bytes else { return }
            tensor.externalData = []
            tensor.clearDataLocation()
            guard bytes.count >= Self.externalThreshold else {
                tensor.rawData = Data(bytes)
                return
            }
            let padding = (Self.externalAlignment - offset % Self.externalAlignment) % Self.externalAlignment
            if padding > 0 { pieces.append([UInt8](repeating: 0, count: padding)) }
            offset += padding
            tensor.clearRawData()
            tensor.dataLocation = .external
            tensor.externalData = [("location", dataFileName), ("offset", "\(offset)"), ("length", "\(bytes.count)")].map { key, value in
                var entry = OnnxSubset_StringStringEntryProto()
                entry.key = key
                entry.value = value
                return entry
            }
            pieces.append(bytes)
            offset += bytes.count
        }
        let modelBytes = try serialized(model)
        try withoutActuallyEscaping(output) { output in
            var zip = ZipWriter(output: output)
            try modelBytes.withUnsafeBytes { try zip.addFile(fileName, contents: $0) }
            try zip.addFile(dataFileName, pieces: pieces)
            try zip.finish()
        }
        return .zip
    }

    /// Bytes of `raw_data` and external data across the model's tensors.
    private var storedByteCount: Int {
        var graph = proto.graph
        var total = 0
        try? ONNXTensorWalk.update(&graph) { (tensor: inout OnnxSubset_TensorProto) throws(ONNXError) in
            total += ONNXTensorPayload.withStoredBytes(tensor, files: externalFiles) { $0.count } ?? 0
        }
        return total
    }

    /// Map entries in key order, so the same model always gives the same bytes.
    private func serialized(_ model: OnnxSubset_ModelProto) throws(ONNXError) -> [UInt8] {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        do { return try model.serializedBytes(options: options) } catch { throw .tooLarge("\(error)") }
    }
}
