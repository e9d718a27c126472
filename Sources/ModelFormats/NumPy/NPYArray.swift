import Execution

/// One `.npy` array: its header parsed, its data located (format versions 1–3, as
/// `numpy.lib.format` writes them). Data is read on demand, widened to what the executor
/// computes in.
public struct NPYArray: Sendable, Equatable {
    public let name: String
    public let elementType: DatasetElementType
    public let shape: [Int]
    let bigEndian: Bool
    let fortranOrder: Bool
    /// Where the data starts in the bytes the header was parsed from.
    let dataOffset: Int

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { elementCount * elementType.byteCount }

    /// Parses the header of the array in `bytes` and checks that its data is all there.
    public init(name: String, parsing bytes: UnsafeRawBufferPointer) throws(NumPyError) {
        self.name = name
        guard bytes.count >= 10, bytes.prefix(6).elementsEqual(Self.magic) else {
            throw .notNPY(array: name, reason: "it does not start with the \\x93NUMPY magic")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw .notNPY(array: name, reason: "the header is cut short") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw .notNPY(array: name, reason: "format version \(major) is not one numpy writes (1, 2 or 3)")
        }
        guard headerLength <= bytes.count - headerStart else {
            throw .notNPY(array: name, reason: "the header runs past the end of the file")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[headerStart..<(headerStart + headerLength)])
        let header = try NPYHeader(parsing: String(decoding: headerBytes, as: UTF8.self), array: name)
        guard let (type, bigEndian) = DatasetElementType.parse(descr: header.descr) else {
            throw .unsupportedDType(array: name, descr: header.descr)
        }
        elementType = type
        self.bigEndian = bigEndian
        fortranOrder = header.fortranOrder
        shape = header.shape
        dataOffset = headerStart + headerLength
        var count = type.byteCount
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw .notNPY(array: name, reason: "its shape \(shape) is too large to exist") }
            count = product
        }
        guard bytes.count - dataOffset >= count else {
            throw .truncated(array: name, expected: count, actual: bytes.count - dataOffset)
        }
    }

    /// The elements in row-major order, widened: floats to float32, integers to int64.
    /// `bytes` is what the header was parsed from.
    public func tensor(in bytes: UnsafeRawBufferPointer) -> ConstantTensor {
        let data = UnsafeRawBufferPointer(rebasing: bytes[dataOffset..<(dataOffset + byteCount)])
        let elements: ConstantTensor.Elements
        switch elementType {
        case .bool: elements = .bool(rowMajor(data.map { $0 != 0 }))
        case .int8: elements = .int64(rowMajor(read(data, Int8.self).map(Int64.init)))
        case .int16: elements = .int64(rowMajor(read(data, Int16.self).map(Int64.init)))
        case .int32: elements = .int64(rowMajor(read(data, Int32.self).map(Int64.init)))
        case .int64: elements = .int64(rowMajor(read(data, Int64.self)))
        case .uint8: elements = .int64(rowMajor(data.map(Int64.init)))
        case .uint16: elements = .int64(rowMajor(read(data, UInt16.self).map(Int64.init)))
        case .uint32: elements = .int64(rowMajor(read(data, UInt32.self).map(Int64.init)))
        // Values past Int64.max wrap: no index or shape a model reads gets there.
        case .uint64: elements = .int64(rowMajor(read(data, UInt64.self).map { Int64(bitPattern: $0) }))
        case .float16: elements = .float32(rowMajor(read(data, UInt16.self).map { Float(Float16(bitPattern: $0)) }))
        case .float32: elements = .float32(rowMajor(read(data, UInt32.self).map { Float(bitPattern: $0) }))
        case .float64: elements = .float32(rowMajor(read(data, UInt64.self).map { Float(Double(bitPattern: $0)) }))
        }
        return ConstantTensor(shape: shape, elements: elements)
    }

    private func read<T: FixedWidthInteger>(_ data: UnsafeRawBufferPointer, _: T.Type) -> [T] {
        let count = data.count / MemoryLayout<T>.size
        return (0..<count).map { index in
            let raw = data.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self)
            return bigEndian ? T(bigEndian: raw) : T(littleEndian: raw)
        }
    }

    /// Fortran-ordered data (np.asfortranarray) reordered to row-major.
    private func rowMajor<T>(_ values: [T]) -> [T] {
        guard fortranOrder, shape.count > 1, !values.isEmpty else { return values }
        var result = values
        var columnStrides = [Int](repeating: 1, count: shape.count)
        for axis in 1..<shape.count { columnStrides[axis] = columnStrides[axis - 1] * shape[axis - 1] }
        var index = [Int](repeating: 0, count: shape.count)
        for position in 0..<values.count {
            var source = 0
            for axis in 0..<shape.count { source += index[axis] * columnStrides[axis] }
            result[position] = values[source]
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < shape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}
