import Execution
import Foundation
import QuantCore

extension ONNXTensorPayload {
    /// A tensor's elements copied out of the upload, widened to the type the executor computes
    /// in: the executor's graph owns them, so it outlives the model and its upload.
    static func constant(_ tensor: OnnxSubset_TensorProto, files: [String: EntryData]) throws(ExecutionError) -> ConstantTensor {
        let shape: [Int]
        do {
            try validate(tensor, files: files)
            shape = try self.shape(of: tensor)
        } catch {
            throw .malformedGraph(error.description)
        }
        let count = shape.reduce(1, *)
        guard let type = ONNXDataType(rawValue: tensor.dataType), let elementType = type.executionElementType else {
            throw .malformedGraph("tensor '\(tensor.name)' has ONNX element type \(tensor.dataType), which quantd's executor does not compute in")
        }
        let elements: ConstantTensor.Elements
        switch elementType {
        case .float32: elements = .float32(try floats(tensor, type: type, count: count, files: files))
        case .int64: elements = .int64(try integers(tensor, type: type, count: count, files: files))
        case .bool: elements = .bool(try integers(tensor, type: .uint8, count: count, files: files).map { $0 != 0 })
        }
        return ConstantTensor(shape: shape, elements: elements)
    }

    /// A sparse tensor made dense: zero (false) except at its indices, which are either `[NNZ]`
    /// row-major positions or `[NNZ, rank]` coordinates.
    static func constant(_ sparse: OnnxSubset_SparseTensorProto, files: [String: EntryData]) throws(ExecutionError) -> ConstantTensor {
        let name = sparse.values.name
        let values = try constant(sparse.values, files: files)
        let indices = try constant(sparse.indices, files: files)
        guard case .int64(let positions) = indices.elements, sparse.dims.allSatisfy({ $0 >= 0 }) else {
            throw .malformedGraph("sparse tensor '\(name)' has indices that are not integers, or negative dimensions")
        }
        let shape = sparse.dims.map { Int($0) }
        let count = shape.reduce(1, *)
        let kept = values.shape.reduce(1, *)
        let linear: [Int]
        if indices.shape == [kept] {
            linear = positions.map { Int($0) }
        } else if indices.shape == [kept, shape.count] {
            linear = (0..<kept).map { row in
                (0..<shape.count).reduce(0) { $0 * shape[$1] + Int(positions[row * shape.count + $1]) }
            }
        } else {
            throw .malformedGraph("sparse tensor '\(name)' has indices of shape \(indices.shape) for \(kept) values of rank \(shape.count)")
        }
        guard linear.allSatisfy({ (0..<count).contains($0) }) else {
            throw .malformedGraph("sparse tensor '\(name)' has an index outside its shape \(shape)")
        }
        func scatter<T>(_ stored: [T], zero: T) -> [T] {
            var dense = [T](repeating: zero, count: count)
            for (value, position) in zip(stored, linear) { dense[position] = value }
            return dense
        }
        switch values.elements {
        case .float32(let stored): return ConstantTensor(shape: shape, elements: .float32(scatter(stored, zero: 0)))
        case .int64(let stored): return ConstantTensor(shape: shape, elements: .int64(scatter(stored, zero: 0)))
        case .bool(let stored): return ConstantTensor(shape: shape, elements: .bool(scatter(stored, zero: false)))
        }
    }

    private static func floats(_ tensor: OnnxSubset_TensorProto, type: ONNXDataType, count: Int,
                               files: [String: EntryData]) throws(ExecutionError) -> [Float] {
        let scalar = type.floatScalarType!
        func decode(_ bytes: UnsafeRawBufferPointer) throws(QuantCoreError) -> [Float] {
            var values = [Float](repeating: 0, count: count)
            try values.withUnsafeMutableBufferPointer { out throws(QuantCoreError) in try FloatConversion.decode(bytes, from: scalar, into: out) }
            return values
        }
        do {
            if type.weightScalarType != nil {
                // F32, F16 and BF16 follow the weights' rules, typed fields included.
                try checkWeightFields(tensor, elementCount: count)
                return try withWeightBytes(tensor, files: files) { bytes in try decode(bytes) }
            }
            if let stored = try withStoredBytes(tensor, files: files, { bytes in try decode(bytes) }) { return stored }
        } catch let error as ONNXError {
            throw .malformedGraph(error.description)
        } catch {
            throw .malformedGraph("tensor '\(tensor.name)': \(error)")
        }
        if type == .double, tensor.doubleData.count == count {
            return tensor.doubleData.map { Float($0) }
        }
        if type != .double, tensor.int32Data.count == count {
            // float8 bit patterns, one per int32_data entry.
            let bytes = tensor.int32Data.map { UInt8(truncatingIfNeeded: $0) }
            do { return try bytes.withUnsafeBytes { bytes throws(QuantCoreError) in try decode(bytes) } } catch {
                throw .malformedGraph("tensor '\(tensor.name)': \(error)")
            }
        }
        throw .malformedGraph("tensor '\(tensor.name)' does not hold \(count) values of its type")
    }

    /// Integers (and bools, as 0/1 bytes) from raw bytes or the typed field ONNX keeps them in.
    private static func integers(_ tensor: OnnxSubset_TensorProto, type: ONNXDataType, count: Int,
                                 files: [String: EntryData]) throws(ExecutionError) -> [Int64] {
        let stored = withStoredBytes(tensor, files: files) { bytes in littleEndianIntegers(bytes, type: type, count: count) }
        if let stored { return stored }
        let typed: [Int64]
        switch type {
        case .int64: typed = tensor.int64Data
        case .uint32, .uint64: typed = tensor.uint64Data.map { Int64(bitPattern: $0) }
        case .int4, .uint4:
            throw .malformedGraph("tensor '\(tensor.name)' keeps 4-bit integers in int32_data, which quantd reads only from raw_data or external data")
        default: typed = tensor.int32Data.map { Int64($0) }
        }
        guard typed.count == count else {
            throw .malformedGraph("tensor '\(tensor.name)' does not hold \(count) values of its type")
        }
        return typed
    }

    /// `bytes` is exactly `count` elements long: `validate` checked its size.
    private static func littleEndianIntegers(_ bytes: UnsafeRawBufferPointer, type: ONNXDataType, count: Int) -> [Int64] {
        func load<T: FixedWidthInteger>(_: T.Type) -> [Int64] {
            (0..<count).map { Int64(truncatingIfNeeded: T(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * T.bitWidth / 8, as: T.self))) }
        }
        switch type {
        case .int8: return load(Int8.self)
        case .uint8, .bool: return load(UInt8.self)
        case .int16: return load(Int16.self)
        case .uint16: return load(UInt16.self)
        case .int32: return load(Int32.self)
        case .uint32: return load(UInt32.self)
        case .int64: return load(Int64.self)
        case .uint64: return load(UInt64.self)
        case .int4, .uint4:
            // Two per byte, low nibble first; int4 sign-extends from bit 3.
            return (0..<count).map { index in
                let nibble = Int64((bytes[index / 2] >> (index % 2 == 0 ? 0 : 4)) & 0x0F)
                return type == .int4 && nibble >= 8 ? nibble - 16 : nibble
            }
        default: preconditionFailure("\(type) is not an integer type")
        }
    }
}
