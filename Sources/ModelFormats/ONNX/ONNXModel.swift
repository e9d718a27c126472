import Foundation
import QuantCore
import SwiftProtobuf

/// An uploaded ONNX model — a bare `.onnx`, or a zip or tar of one with its external data
/// files — parsed from the upload's bytes, with its float weights listed and checked.
///
/// Fields quantd does not model travel through as unknown fields (see onnx_subset.proto), so
/// a rewrite leaves everything but the replaced weights as it was.
///
/// External data stays where the upload holds it: stored (tar, stored zip) files are read in
/// place, so the upload's bytes must stay valid while the model, or a rewrite made from it,
/// is used. Deflated zip entries are inflated once, here.
public struct ONNXModel: Sendable {
    public static let supportedIRVersions = 7...10
    public static let supportedOpsets = 13...21

    /// Nesting deeper than this is refused: a model is 6 messages deep at a tensor attribute
    /// and each subgraph adds 3, so this leaves room for about 20 nested control-flow levels,
    /// and a hostile file cannot exhaust the stack.
    static let messageDepthLimit = 64

    var proto: OnnxSubset_ModelProto
    /// External data files by `location`, resolved against the model's directory.
    let externalFiles: [String: EntryData]
    /// The model file's name in the archive, "model.onnx" for a bare upload.
    public let fileName: String
    /// Float initializers and Constant values of the main graph, in graph order.
    public let weights: [ONNXWeight]

    public init(archiveOrModel bytes: UnsafeRawBufferPointer, limits: ArchiveLimits = ArchiveLimits()) throws(ONNXError) {
        let upload = try ONNXUpload(bytes: bytes, limits: limits)
        fileName = upload.modelFileName ?? "model.onnx"
        let modelBytes = try upload.modelBytes(in: bytes)
        proto = try Self.parse(modelBytes.bytes)
        guard Self.supportedIRVersions.contains(Int(proto.irVersion)) else { throw .unsupportedIRVersion(Int(proto.irVersion)) }
        guard let opset = Self.opsetVersion(proto), Self.supportedOpsets.contains(opset) else {
            throw .unsupportedOpset(Self.opsetVersion(proto))
        }
        guard proto.hasGraph else { throw .noGraph }

        var files: [String: EntryData] = [:]
        try ONNXTensorWalk.update(&proto.graph) { (tensor: inout OnnxSubset_TensorProto) throws(ONNXError) in
            guard ONNXTensorPayload.isExternal(tensor) else { return }
            let location = try ONNXExternalData(tensor).location
            if files[location] == nil {
                guard let file = try upload.externalFile(location, in: bytes) else {
                    throw .externalFileMissing(tensor: tensor.name, location: location)
                }
                files[location] = file
            }
            try ONNXTensorPayload.validate(tensor, files: files)
        }
        externalFiles = files
        weights = try Self.weights(of: proto.graph, files: files)
    }

    public var irVersion: Int { Int(proto.irVersion) }

    /// The default-domain (ai.onnx) opset the model imports.
    public var opsetVersion: Int { Self.opsetVersion(proto)! }

    /// Whether some tensor keeps its data in a file beside the model.
    public var usesExternalData: Bool { !externalFiles.isEmpty }

    /// Calls `body` with the weight's little-endian bytes (`byteCount` of them): in place
    /// from `raw_data` or the upload's external data file, converted only when the model keeps
    /// F16/BF16 values one per `int32_data` entry.
    public func withBytes<R>(of weight: ONNXWeight, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try ONNXTensorPayload.withWeightBytes(tensor(of: weight), files: externalFiles, body)
    }

    func tensor(of weight: ONNXWeight) -> OnnxSubset_TensorProto {
        switch weight.source {
        case .initializer(let index):
            let tensor = proto.graph.initializer[index]
            precondition(tensor.name == weight.name, "weight '\(weight.name)' is not from this model")
            return tensor
        case .constant(let node):
            precondition(proto.graph.node[node].output.first == weight.name, "weight '\(weight.name)' is not from this model")
            return Self.constantValue(proto.graph.node[node])!
        }
    }

    static func opsetVersion(_ proto: OnnxSubset_ModelProto) -> Int? {
        proto.opsetImport.first { isDefaultDomain($0.domain) }.map { Int($0.version) }
    }

    static func isDefaultDomain(_ domain: String) -> Bool { domain.isEmpty || domain == "ai.onnx" }

    /// A `Constant` node's `value` tensor; nil for its other forms (sparse_value, value_float …).
    static func constantValue(_ node: OnnxSubset_NodeProto) -> OnnxSubset_TensorProto? {
        guard node.opType == "Constant", isDefaultDomain(node.domain), node.output.count == 1 else { return nil }
        return node.attribute.first { $0.name == "value" && $0.hasT }?.t
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer) throws(ONNXError) -> OnnxSubset_ModelProto {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = messageDepthLimit
        // Wrapped without a copy: only the fields that own their bytes (raw_data) copy them.
        let data = bytes.baseAddress.map { Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: $0), count: bytes.count, deallocator: .none) } ?? Data()
        do {
            return try OnnxSubset_ModelProto(serializedBytes: data, options: options)
        } catch BinaryDecodingError.messageDepthLimit {
            throw .nestedTooDeeply(limit: messageDepthLimit)
        } catch {
            throw .unreadable("\(error)")
        }
    }

    private static func weights(of graph: OnnxSubset_GraphProto, files: [String: EntryData]) throws(ONNXError) -> [ONNXWeight] {
        let consumers = ONNXConsumers(graph: graph)
        var found: [ONNXWeight] = []
        func add(_ tensor: OnnxSubset_TensorProto, name: String, source: ONNXWeight.Source) throws(ONNXError) {
            guard let type = ONNXDataType(rawValue: tensor.dataType)?.weightScalarType else { return }
            let shape = try ONNXTensorPayload.shape(of: tensor)
            try ONNXTensorPayload.validate(tensor, files: files)
            try ONNXTensorPayload.checkWeightFields(tensor, elementCount: shape.reduce(1, *))
            let uses = consumers.uses(of: name)
            let outputAxis = consumers.outputAxis(of: name, rank: shape.count, graph: graph)
            let kept = consumers.readInSubgraphs.contains(name) ? "it is read inside a subgraph (If, Loop or Scan body)" : nil
            found.append(ONNXWeight(
                name: name, shape: shape, scalarType: type,
                consumerTypes: uses.reduce(into: []) { types, use in if !types.contains(use.opType) { types.append(use.opType) } },
                outputAxis: outputAxis, inputAxis: ONNXConsumers.inputAxis(output: outputAxis, rank: shape.count),
                keptBecause: kept, convolutionGroups: consumers.convolutionGroups(of: name, graph: graph), source: source))
        }
        for (index, tensor) in graph.initializer.enumerated() {
            try add(tensor, name: tensor.name, source: .initializer(index))
        }
        for (index, node) in graph.node.enumerated() {
            guard let value = constantValue(node) else { continue }
            try add(value, name: node.output[0], source: .constant(node: index))
        }
        return found
    }
}
