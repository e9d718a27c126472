import Foundation

/// A tensor a rewrite adds to the graph: an initializer, or a sparse initializer's values or
/// indices. `bytes` is the `raw_data` (little-endian; 4-bit types two per byte, low nibble
/// first, the last high nibble 0 when the count is odd).
public struct ONNXTensor: Sendable, Equatable {
    public var name: String
    public var dataType: ONNXDataType
    public var dims: [Int]
    public var bytes: [UInt8]

    public init(name: String, dataType: ONNXDataType, dims: [Int], bytes: [UInt8]) {
        self.name = name
        self.dataType = dataType
        self.dims = dims
        self.bytes = bytes
    }

    public var elementCount: Int { dims.reduce(1, *) }

    /// Little-endian 32-bit integers, for Reshape shapes and Gather offsets.
    static func int32(_ name: String, dims: [Int], _ values: [Int32]) -> ONNXTensor {
        ONNXTensor(name: name, dataType: .int32, dims: dims, bytes: values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } })
    }

    static func int64(_ name: String, dims: [Int], _ values: [Int64]) -> ONNXTensor {
        ONNXTensor(name: name, dataType: .int64, dims: dims, bytes: values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } })
    }

    var proto: OnnxSubset_TensorProto {
        var tensor = OnnxSubset_TensorProto()
        tensor.name = name
        tensor.dataType = dataType.rawValue
        tensor.dims = dims.map(Int64.init)
        tensor.rawData = Data(bytes)
        return tensor
    }
}
