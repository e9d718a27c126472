import Execution

/// A `.npz` file (`np.savez`, `np.savez_compressed`): a zip of `.npy` arrays, one per name.
/// Stored entries are read in place in the file's bytes; deflated ones are inflated once, here.
public struct NPZArchive: Sendable {
    enum Location: Sendable {
        case stored(Range<Int>)
        case inflated([UInt8])
    }

    /// In the archive's order.
    public let arrays: [NPYArray]
    let locations: [String: Location]

    public init(parsing bytes: UnsafeRawBufferPointer, limits: ArchiveLimits = ArchiveLimits()) throws(NumPyError) {
        let zip: ZipArchive
        do { zip = try ZipArchive(parsing: bytes, limits: limits) } catch {
            if case .notAnArchive = error { throw .notNPZ(reason: "it is not a zip archive") }
            throw .archive(error)
        }
        var arrays: [NPYArray] = []
        var locations: [String: Location] = [:]
        for entry in zip.entries where !entry.isDirectory {
            // numpy names each entry '<array>.npy'; anything else is not one of its arrays.
            guard entry.path.hasSuffix(".npy") else {
                throw .notNPZ(reason: "entry '\(entry.path)' is not a .npy array")
            }
            let name = String(entry.path.dropLast(4))
            guard locations[name] == nil else { throw .duplicateArray(name) }
            let location: Location
            do {
                switch entry.method {
                case .stored:
                    let data = try zip.storedBytes(of: entry, in: bytes)
                    let start = data.baseAddress.map { $0 - bytes.baseAddress! } ?? 0
                    location = .stored(start..<(start + data.count))
                case .deflated:
                    location = .inflated(try zip.contents(of: entry, in: bytes))
                }
            } catch {
                throw .archive(error)
            }
            arrays.append(try Self.withData(location, in: bytes) { data throws(NumPyError) in try NPYArray(name: name, parsing: data) })
            locations[name] = location
        }
        guard !arrays.isEmpty else { throw .notNPZ(reason: "it holds no arrays") }
        self.arrays = arrays
        self.locations = locations
    }

    /// The named array's elements, widened (see `NPYArray.tensor`). `bytes` is the parsed file.
    public func tensor(of array: NPYArray, in bytes: UnsafeRawBufferPointer) -> ConstantTensor {
        Self.withData(locations[array.name]!, in: bytes) { array.tensor(in: $0) }
    }

    private static func withData<R, E: Error>(_ location: Location, in bytes: UnsafeRawBufferPointer,
                                              _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        switch location {
        case .stored(let range):
            return try body(UnsafeRawBufferPointer(rebasing: bytes[range]))
        case .inflated(let data):
            // Array.withUnsafeBytes rethrows untyped errors; carry the typed one out in a Result.
            return try data.withUnsafeBytes { data in Result { () throws(E) -> R in try body(data) } }.get()
        }
    }
}
