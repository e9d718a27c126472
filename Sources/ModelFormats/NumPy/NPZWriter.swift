import Execution

/// Writes arrays as an uncompressed `.npz` (what `np.savez` writes and `np.load` reads):
/// float32 as '<f4', int64 as '<i8', bool as '|b1', format version 1.
public enum NPZWriter {
    public static func write(_ arrays: [(name: String, tensor: ConstantTensor)],
                             to output: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        var zip = ZipWriter(output: output)
        for (name, tensor) in arrays {
            try zip.addFile(name + ".npy", pieces: [header(for: tensor), data(of: tensor)])
        }
        try zip.finish()
    }

    /// The magic, version 1.0, a little-endian header length, and the dict literal padded with
    /// spaces to a 64-byte boundary and ended by a newline, as numpy.lib.format does.
    static func header(for tensor: ConstantTensor) -> [UInt8] {
        let descr = switch tensor.elements {
        case .float32: "<f4"
        case .int64: "<i8"
        case .bool: "|b1"
        }
        let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var dict = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }".utf8)
        let unpadded = NPYArray.magic.count + 4 + dict.count + 1
        dict += [UInt8](repeating: 0x20, count: (64 - unpadded % 64) % 64)
        dict.append(0x0A)
        return NPYArray.magic + [1, 0, UInt8(dict.count & 0xFF), UInt8(dict.count >> 8)] + dict
    }

    static func data(of tensor: ConstantTensor) -> [UInt8] {
        switch tensor.elements {
        case .float32(let values): values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        case .int64(let values): values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
        case .bool(let values): values.map { $0 ? 1 : 0 }
        }
    }
}
