/// A sparse initializer a rewrite adds: the graph sees a dense tensor named `values.name` of
/// shape `dims`, zero except at `indices` (1-D, row-major linear positions, ascending).
public struct ONNXSparseTensor: Sendable, Equatable {
    public var values: ONNXTensor
    public var indices: ONNXTensor
    public var dims: [Int]

    public init(values: ONNXTensor, indices: ONNXTensor, dims: [Int]) {
        self.values = values
        self.indices = indices
        self.dims = dims
    }

    var proto: OnnxSubset_SparseTensorProto {
        var sparse = OnnxSubset_SparseTensorProto()
        sparse.values = values.proto
        sparse.indices = indices.proto
        sparse.dims = dims.map(Int64.init)
        return sparse
    }
}
