import Execution
import QuantCore

/// A sample dataset on disk, memory-mapped and checked: a NumPy `.npz` (`np.savez`, stored, or
/// `np.savez_compressed`, deflated) or a safetensors file, one array per model input with the
/// samples along every array's first axis.
public struct DatasetFile: Sendable {
    public enum Format: String, Sendable, Equatable {
        case npz, safetensors
    }

    private enum Contents: Sendable {
        case npz(NPZArchive, MemoryMappedFile)
        case safetensors(SafetensorsFile)
    }

    public let format: Format
    public let signature: DatasetSignature
    private let contents: Contents

    /// Opens the file and checks its structure (format, dtypes, shapes, equal sample counts).
    /// The values are checked by `checkFinite()`, which reads them all.
    public init(path: String) throws(DatasetFileError) {
        let mapping: MemoryMappedFile
        do { mapping = try MemoryMappedFile(path: path) } catch {
            throw .unsupportedFormat(detected: "an unreadable file (\(error))")
        }
        let sniffed = mapping.withBytes { ModelFormat(sniffing: $0.prefix(ModelFormat.sniffByteCount), fileSize: $0.count) }
        switch sniffed {
        case .zip:
            let archive = try mapping.withBytes { (bytes) throws(DatasetFileError) -> NPZArchive in
                do throws(NumPyError) { return try NPZArchive(parsing: bytes) } catch { throw .numpy(error) }
            }
            format = .npz
            contents = .npz(archive, mapping)
            signature = try Self.checked(archive.arrays.map { array in
                DatasetSignature.ArrayInfo(name: array.name, elementType: array.elementType, shape: array.shape)
            })
        case .safetensors:
            let file: SafetensorsFile
            do { file = try SafetensorsFile(path: path) } catch let error as SafetensorsError {
                throw .safetensors(error)
            } catch {
                throw .unsupportedFormat(detected: "an unreadable file (\(error))")
            }
            var arrays: [DatasetSignature.ArrayInfo] = []
            for tensor in file.tensors {
                guard let type = Self.elementType(tensor.dtype) else {
                    throw .unsupportedElementType(array: tensor.name, dtype: tensor.dtype.rawValue)
                }
                arrays.append(DatasetSignature.ArrayInfo(name: tensor.name, elementType: type, shape: tensor.shape))
            }
            format = .safetensors
            contents = .safetensors(file)
            signature = try Self.checked(arrays)
        default:
            let isNPY = mapping.withBytes { $0.starts(with: NPYArray.magic) }
            throw .unsupportedFormat(detected: isNPY ? "a single .npy array; save it with np.savez instead" : sniffed.description)
        }
    }

    /// The named array, every sample, widened to what the executor computes in: floats to
    /// float32, integers to int64, in row-major order.
    public func array(named name: String) -> ConstantTensor? {
        guard let info = signature.array(named: name) else { return nil }
        switch contents {
        case .npz(let archive, let mapping):
            guard let array = archive.arrays.first(where: { $0.name == name }) else { return nil }
            return mapping.withBytes { archive.tensor(of: array, in: $0) }
        case .safetensors(let file):
            guard let tensor = file.tensor(named: name) else { return nil }
            return file.withTensorBytes(tensor) { LittleEndianArray.widen($0, info.elementType, shape: info.shape) }
        }
    }

    /// The arrays `binding` feeds from, by name, widened as `array(named:)` gives them: what
    /// `DatasetBatches` cuts into runs.
    public func arrays(feeding binding: DatasetBinding) -> [String: ConstantTensor] {
        var arrays: [String: ConstantTensor] = [:]
        for feed in binding.feeds where arrays[feed.array.name] == nil {
            arrays[feed.array.name] = array(named: feed.array.name)
        }
        return arrays
    }

    /// Refuses NaN and infinities in float arrays, naming the first sample that holds one.
    public func checkFinite() throws(DatasetFileError) {
        for info in signature.arrays where info.elementType.isFloat {
            guard let array = array(named: info.name), case .float32(let values) = array.elements else { continue }
            let perSample = info.shape.dropFirst().reduce(1, *)
            if perSample > 0, let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw .nonFinite(array: info.name, sample: bad / perSample)
            }
        }
    }

    private static func checked(_ arrays: [DatasetSignature.ArrayInfo]) throws(DatasetFileError) -> DatasetSignature {
        guard let first = arrays.first else { throw .noArrays }
        for array in arrays {
            guard let samples = array.shape.first else { throw .scalarArray(array: array.name) }
            guard samples > 0 else { throw .noSamples(array: array.name) }
            if samples != first.shape[0] {
                throw .unequalSampleCounts(array: array.name, samples: samples, otherArray: first.name, otherSamples: first.shape[0])
            }
        }
        return DatasetSignature(arrays: arrays)
    }

    private static func elementType(_ type: ScalarType) -> DatasetElementType? {
        switch type {
        case .bool: .bool
        case .int8: .int8
        case .int16: .int16
        case .int32: .int32
        case .int64: .int64
        case .uint8: .uint8
        case .uint16: .uint16
        case .uint32: .uint32
        case .uint64: .uint64
        case .float16: .float16
        case .float32: .float32
        case .float64: .float64
        case .bfloat16, .float8E4M3, .float8E5M2: nil
        }
    }
}
