import Execution
import Foundation
import QuantCore

/// A constant of an ML Program decoded to the executor's element types: what a `const` op, an
/// op's inline argument or a constexpr op stands for. Floats are widened to Float (exactly: every
/// stored float type is a subset of it), integer types of any width to Int64, sub-byte codes
/// unpacked.
struct MILConstant: Sendable {
    enum Elements: Sendable {
        case floats([Float])
        case integers([Int64])
        case bools([Bool])
        case strings([String])
    }

    var shape: [Int]
    /// The type the model declares, which decides how constexpr arithmetic rounds (float16
    /// results are rounded back to float16, as Core ML and coremltools compute them).
    var dataType: CoreML_Specification_MILSpec_DataType
    var elements: Elements

    var elementCount: Int { shape.reduce(1, *) }

    /// Floats as they are, integers and bools converted; nil for strings.
    var floats: [Float]? {
        switch elements {
        case .floats(let values): values
        case .integers(let values): values.map { Float($0) }
        case .bools(let values): values.map { $0 ? 1 : 0 }
        case .strings: nil
        }
    }

    var integers: [Int]? {
        switch elements {
        case .integers(let values): values.map { Int($0) }
        case .bools(let values): values.map { $0 ? 1 : 0 }
        case .floats, .strings: nil
        }
    }

    var bools: [Bool]? {
        switch elements {
        case .bools(let values): values
        case .integers(let values): values.map { $0 != 0 }
        case .floats, .strings: nil
        }
    }

    var string: String? {
        guard case .strings(let values) = elements, values.count == 1 else { return nil }
        return values[0]
    }

    /// As the executor holds it; nil for strings, which no kernel reads.
    var tensor: ConstantTensor? {
        switch elements {
        case .floats(let values): ConstantTensor(shape: shape, elements: .float32(values))
        case .integers(let values): ConstantTensor(shape: shape, elements: .int64(values))
        case .bools(let values): ConstantTensor(shape: shape, elements: .bool(values))
        case .strings: nil
        }
    }

    var isFloat16: Bool { dataType == .float16 }

    /// `values` rounded to the declared float type, as Core ML stores a float16 result.
    func rounded(_ values: [Float]) -> [Float] {
        isFloat16 ? values.map { FloatConversion.float(float16Bits: FloatConversion.float16Bits($0)) } : values
    }
}

extension MILConstant {
    typealias Blob = (_ fileName: String, _ offset: UInt64) throws(MLProgramError) -> (MILBlob, UnsafeRawBufferPointer)

    /// Decodes a MIL value: an immediate (written inline) or a blob of the weight file.
    init(_ value: CoreML_Specification_MILSpec_Value, blob: Blob) throws(ExecutionError) {
        guard case .tensorType(let type)? = value.type.type else {
            throw .malformedGraph("a constant that is not a tensor (a list, tuple or dictionary)")
        }
        guard let shape = MLProgramModel.shape(type) else {
            throw .malformedGraph("a constant without a fixed shape")
        }
        self.shape = shape
        dataType = type.dataType
        switch value.value {
        case .blobFileValue(let file)?:
            let stored: (MILBlob, UnsafeRawBufferPointer)
            do { stored = try blob(file.fileName, file.offset) } catch { throw .malformedGraph(error.description) }
            guard MILBlobDataType(type.dataType) == stored.0.dataType else {
                throw .malformedGraph("the blob at offset \(file.offset) of '\(file.fileName)' holds \(stored.0.dataType), but the model declares \(type.dataType)")
            }
            elements = try Self.decode(stored.1, type: type.dataType, count: shape.reduce(1, *))
        case .immediateValue(let immediate)?:
            guard case .tensor(let tensor)? = immediate.value else {
                throw .malformedGraph("an immediate constant that is not a tensor")
            }
            switch tensor.value {
            case .floats(let v)?: elements = .floats(v.values)
            case .doubles(let v)?: elements = .floats(v.values.map { Float($0) })
            case .ints(let v)?: elements = .integers(v.values.map { Int64($0) })
            case .longInts(let v)?: elements = .integers(v.values)
            case .bools(let v)?: elements = .bools(v.values)
            case .strings(let v)?: elements = .strings(v.values)
            // coremltools writes 8- and 16-bit types, float16 and uint32 as their little-endian bytes.
            case .bytes(let v)?:
                elements = try [UInt8](v.values).withUnsafeBytes { bytes in
                    Result { () throws(ExecutionError) in try Self.decode(bytes, type: type.dataType, count: shape.reduce(1, *)) }
                }.get()
            case nil: elements = .floats([])
            }
        case nil:
            throw .malformedGraph("a constant without a value")
        }
        let count: Int
        switch elements {
        case .floats(let v): count = v.count
        case .integers(let v): count = v.count
        case .bools(let v): count = v.count
        case .strings(let v): count = v.count
        }
        guard count == shape.reduce(1, *) else {
            throw .malformedGraph("a constant of shape \(shape) holds \(count) elements")
        }
    }

    /// `count` little-endian elements of `type`; sub-byte ones packed LSB-first.
    private static func decode(_ bytes: UnsafeRawBufferPointer, type: CoreML_Specification_MILSpec_DataType,
                               count: Int) throws(ExecutionError) -> Elements {
        func need(_ width: Int) throws(ExecutionError) {
            guard bytes.count >= BitPacking.packedByteCount(count: count, bits: width) else {
                throw .malformedGraph("a \(type) constant of \(count) elements is stored in \(bytes.count) bytes")
            }
        }
        func floats(_ scalar: ScalarType) throws(ExecutionError) -> Elements {
            try need(scalar.byteWidth * 8)
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBufferPointer { values in
                // The size was checked above and the type is a float type.
                try? FloatConversion.decode(UnsafeRawBufferPointer(rebasing: bytes.prefix(count * scalar.byteWidth)), from: scalar, into: values)
            }
            return .floats(values)
        }
        func integers<T: FixedWidthInteger>(_: T.Type) throws(ExecutionError) -> Elements {
            try need(T.bitWidth)
            return .integers((0..<count).map { Int64(T(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self))) })
        }
        switch type {
        case .float32: return try floats(.float32)
        case .float16: return try floats(.float16)
        case .bfloat16: return try floats(.bfloat16)
        case .float64: return try floats(.float64)
        case .int8: return try integers(Int8.self)
        case .uint8: return try integers(UInt8.self)
        case .int16: return try integers(Int16.self)
        case .uint16: return try integers(UInt16.self)
        case .int32: return try integers(Int32.self)
        case .uint32: return try integers(UInt32.self)
        case .int64: return try integers(Int64.self)
        case .bool:
            try need(8)
            return .bools((0..<count).map { bytes[$0] != 0 })
        case .uint1, .uint2, .uint3, .uint4, .uint6, .int4:
            let bits = MILBlobDataType(type)!.bitWidth
            try need(bits)
            let codes = BitPacking.unpack(bytes, count: count, bits: bits)
            // int4 is two's complement in its four bits.
            return .integers(codes.map { type == .int4 && $0 >= 8 ? Int64($0) - 16 : Int64($0) })
        default:
            throw .malformedGraph("a constant of type \(type), which quantd's executor does not read")
        }
    }
}
