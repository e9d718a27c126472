import Foundation
import SwiftProtobuf
@testable import ModelFormats

/// Small ONNX models built from the generated proto types, so no binary fixture is committed.
enum ONNXTestModels {
    static func floats(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }

    static func tensor(_ name: String, _ type: ONNXDataType = .float, dims: [Int64], raw: [UInt8]) -> OnnxSubset_TensorProto {
        var tensor = OnnxSubset_TensorProto()
        tensor.name = name
        tensor.dataType = type.rawValue
        tensor.dims = dims
        tensor.rawData = Data(raw)
        return tensor
    }

    /// F32 values 0, 1, 2 … (scaled) in `raw_data`.
    static func weight(_ name: String, dims: [Int64], scale: Float = 0.25) -> OnnxSubset_TensorProto {
        let count = Int(dims.reduce(1, *))
        return tensor(name, dims: dims, raw: floats((0..<count).map { Float($0) * scale - 1 }))
    }

    static func external(_ name: String, dims: [Int64], location: String, offset: Int? = nil, length: Int? = nil,
                         type: ONNXDataType = .float) -> OnnxSubset_TensorProto {
        var tensor = OnnxSubset_TensorProto()
        tensor.name = name
        tensor.dataType = type.rawValue
        tensor.dims = dims
        tensor.dataLocation = .external
        var entries = [("location", location)]
        if let offset { entries.append(("offset", "\(offset)")) }
        if let length { entries.append(("length", "\(length)")) }
        tensor.externalData = entries.map { key, value in
            var entry = OnnxSubset_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        return tensor
    }

    static func node(_ opType: String, _ inputs: [String], _ outputs: [String], domain: String = "",
                     ints: [String: Int64] = [:]) -> OnnxSubset_NodeProto {
        var node = OnnxSubset_NodeProto()
        node.opType = opType
        node.domain = domain
        node.input = inputs
        node.output = outputs
        node.name = outputs.first.map { "\(opType)_\($0)" } ?? opType
        node.attribute = ints.sorted { $0.key < $1.key }.map { name, value in
            var attribute = OnnxSubset_AttributeProto()
            attribute.name = name
            attribute.type = .int
            attribute.i = value
            return attribute
        }
        return node
    }

    static func constant(_ output: String, _ value: OnnxSubset_TensorProto) -> OnnxSubset_NodeProto {
        var node = node("Constant", [], [output])
        var attribute = OnnxSubset_AttributeProto()
        attribute.name = "value"
        attribute.type = .tensor
        attribute.t = value
        node.attribute = [attribute]
        return node
    }

    /// An `opType` node (If, Loop …) whose body reads `name` from the outer graph.
    static func readingInSubgraph(_ name: String, opType: String = "If") -> OnnxSubset_NodeProto {
        var body = OnnxSubset_GraphProto()
        body.node = [node("Identity", [name], ["inner_\(name)"])]
        var attribute = OnnxSubset_AttributeProto()
        attribute.name = "body"
        attribute.type = .graph
        attribute.g = body
        var outer = node(opType, ["cond"], ["\(opType)_out"])
        outer.attribute = [attribute]
        return outer
    }

    static func valueInfo(_ name: String, _ type: ONNXDataType = .float, dims: [Int64]) -> OnnxSubset_ValueInfoProto {
        var info = OnnxSubset_ValueInfoProto()
        info.name = name
        var tensorType = OnnxSubset_TypeProto.Tensor()
        tensorType.elemType = type.rawValue
        tensorType.shape.dim = dims.map { size in
            var dim = OnnxSubset_TensorShapeProto.Dimension()
            dim.dimValue = size
            return dim
        }
        info.type.tensorType = tensorType
        return info
    }

    static func model(nodes: [OnnxSubset_NodeProto], initializers: [OnnxSubset_TensorProto] = [],
                      inputs: [OnnxSubset_ValueInfoProto] = [], outputs: [OnnxSubset_ValueInfoProto] = [],
                      opset: Int64 = 17, irVersion: Int64 = 8) -> OnnxSubset_ModelProto {
        var model = OnnxSubset_ModelProto()
        model.irVersion = irVersion
        model.producerName = "quantd tests"
        var onnx = OnnxSubset_OperatorSetIdProto()
        onnx.version = opset
        model.opsetImport = [onnx]
        model.graph.name = "test"
        model.graph.node = nodes
        model.graph.initializer = initializers
        model.graph.input = inputs
        model.graph.output = outputs
        return model
    }

    static func bytes(_ model: OnnxSubset_ModelProto) -> [UInt8] {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return try! model.serializedBytes(options: options)
    }

    /// x [1, 4] → MatMul(W [4, 3]) → Add(bias [3]) → y [1, 3]: one weight, one bias.
    static var matMul: OnnxSubset_ModelProto {
        model(nodes: [node("MatMul", ["x", "W"], ["h"]), node("Add", ["h", "bias"], ["y"])],
              initializers: [weight("W", dims: [4, 3]), weight("bias", dims: [3])],
              inputs: [valueInfo("x", dims: [1, 4])], outputs: [valueInfo("y", dims: [1, 3])])
    }

    static func parse(_ bytes: [UInt8]) throws(ONNXError) -> ONNXModel {
        // The model borrows external data from the upload, so the upload outlives it here.
        let upload = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        upload.copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: bytes.count))
        return try ONNXModel(archiveOrModel: UnsafeRawBufferPointer(rebasing: upload[0..<bytes.count]))
    }

    static func parse(_ model: OnnxSubset_ModelProto) throws(ONNXError) -> ONNXModel {
        try parse(bytes(model))
    }

    static func written(_ rewrite: ONNXRewrite) throws -> (ONNXArtifactKind, [UInt8]) {
        var out: [UInt8] = []
        let kind = try rewrite.write { out += $0 }
        return (kind, out)
    }
}
