import Foundation
import ModelFormats
import QuantCore

/// Compresses a safetensors model into a safetensors artifact, one tensor at a time, so the
/// memory a job needs is the input mapping plus one tensor's output.
///
/// Artifact layout, per quantized tensor `N` (documented in the README):
/// - `N`: the integer codes (I8 or U8), original shape;
/// - `N::scale`: one scale per block, in the weight's float type, same rank as `N`;
/// - `N::zero_point`: present for `linear` mode and unsigned dtypes, shape of the scale;
/// - `__metadata__["quantd:N"]`: JSON saying how to rebuild the float tensor:
///   `w = (q − zero_point) · scale`, each scale repeated over its block.
/// Unchanged tensors are copied byte for byte; the input's own metadata is kept.
struct SafetensorsCompressor {
    let config: OptimizationConfig

    struct Outcome {
        var tensors: [CompressionReport.Tensor]
        var warnings: [String]
        var artifactBytes: Int
    }

    /// What will happen to one input tensor, decided before anything is written so the
    /// header (which needs every size) can go first.
    private enum Plan {
        case copy(SafetensorsTensorInfo, reason: String)
        case linear(SafetensorsTensorInfo, LinearQuantizationConfig, scaleShape: [Int], zeroPoints: Bool)
    }

    static let scaleSuffix = "::scale"
    static let zeroPointSuffix = "::zero_point"

    /// The op type a safetensors weight stands for, for `op_type_configs`: safetensors has no
    /// graph, so rank decides (2 → linear, 3–5 → conv).
    static func opType(rank: Int) -> String? {
        switch rank {
        case 2: "linear"
        case 3...5: "conv"
        default: nil
        }
    }

    /// Writes the artifact to `output` in order, in pieces of any size.
    func compress(_ file: SafetensorsFile, to output: (UnsafeRawBufferPointer) throws -> Void,
                  progress: (Double) -> Void, isCancelled: () -> Bool) throws -> Outcome {
        var warnings: [String] = []
        let plans = file.tensors.map { plan(for: $0, warnings: &warnings) }
        var entries: [SafetensorsWriter.Entry] = []
        var metadata = file.metadata
        for p in plans {
            switch p {
            case .copy(let t, _):
                entries.append(.init(name: t.name, dtype: t.dtype, shape: t.shape))
            case .linear(let t, let c, let scaleShape, let zp):
                let codeType: ScalarType = c.dtype.isSigned ? .int8 : .uint8
                let scaleType = LinearQuantizer.scaleType(for: t.dtype)
                entries.append(.init(name: t.name, dtype: codeType, shape: t.shape))
                entries.append(.init(name: t.name + Self.scaleSuffix, dtype: scaleType, shape: scaleShape))
                if zp { entries.append(.init(name: t.name + Self.zeroPointSuffix, dtype: codeType, shape: scaleShape)) }
                metadata["quantd:" + t.name] = Self.tensorMetadata(c, original: t.dtype, zeroPoints: zp)
            }
        }
        metadata["quantd.format_version"] = "1"
        let writer = try SafetensorsWriter(entries: entries, metadata: metadata)
        let totalBytes = max(1, file.tensors.reduce(0) { $0 + $1.byteCount })
        var doneBytes = 0
        var reports: [CompressionReport.Tensor] = []
        // Quantized tensors whose scale (and zero-point) entries are still to be written.
        var pending: [String: (tensor: LinearQuantizedTensor, zeroPoints: Bool)] = [:]
        var index = 0

        try writer.write(to: output) { info, emit in
            if isCancelled() { throw CancellationError() }
            // Entries come in plan order; scale and zero-point entries follow their weight.
            if let base = Self.baseName(info.name), let (q, zp) = pending[base] {
                if info.name.hasSuffix(Self.scaleSuffix) {
                    try Self.encode(q.scales, as: q.scaleType).withUnsafeBytes { try emit($0) }
                    if !zp { pending[base] = nil }
                } else {
                    try (q.zeroPoints ?? []).withUnsafeBytes { try emit($0) }
                    pending[base] = nil
                }
                return
            }
            let p = plans[index]
            index += 1
            switch p {
            case .copy(let t, let reason):
                try file.withTensorBytes(t) { try emit($0) }
                reports.append(.init(name: t.name, shape: t.shape, dtype: t.dtype.rawValue, action: "unchanged",
                                     reason: reason, mode: nil, bytesBefore: t.byteCount, bytesAfter: t.byteCount,
                                     bitsPerWeight: Double(t.dtype.byteWidth * 8), sqnrDB: nil, maxAbsError: nil, cosine: nil))
                doneBytes += t.byteCount
            case .linear(let t, let c, _, let zp):
                let (q, error) = try file.withTensorBytes(t) { bytes in
                    let q = try LinearQuantizer(c).quantize(bytes, type: t.dtype, shape: t.shape)
                    return (q, QuantizationErrorMetrics(original: bytes, type: t.dtype, quantized: q))
                }
                try q.codes.withUnsafeBytes { try emit($0) }
                pending[t.name] = (q, zp)
                let count = max(1, t.elementCount)
                let after = q.codes.count + q.scales.count * q.scaleType.byteWidth + (zp ? q.scales.count : 0)
                reports.append(.init(name: t.name, shape: t.shape, dtype: t.dtype.rawValue, action: "quantized", reason: nil,
                                     mode: "\(c.mode.rawValue) \(c.dtype.rawValue) \(c.granularity.rawValue)",
                                     bytesBefore: t.byteCount, bytesAfter: after,
                                     bitsPerWeight: Double(after * 8) / Double(count),
                                     sqnrDB: error.sqnrDB.isFinite ? error.sqnrDB : nil,
                                     maxAbsError: error.maxAbsError, cosine: error.cosine))
                doneBytes += t.byteCount
            }
            progress(Double(doneBytes) / Double(totalBytes))
        }
        return Outcome(tensors: reports, warnings: warnings, artifactBytes: writer.fileSize)
    }

    static func encode(_ values: [Float], as type: ScalarType) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * type.byteWidth)
        try values.withUnsafeBufferPointer { v in
            try bytes.withUnsafeMutableBytes { try FloatConversion.encode(v, to: type, into: $0) }
        }
        return bytes
    }

    private static func baseName(_ name: String) -> String? {
        for suffix in [scaleSuffix, zeroPointSuffix] where name.hasSuffix(suffix) {
            return String(name.dropLast(suffix.count))
        }
        return nil
    }

    private func plan(for t: SafetensorsTensorInfo, warnings: inout [String]) -> Plan {
        guard let op = config.config(opName: t.name, opType: Self.opType(rank: t.shape.count)) else {
            return .copy(t, reason: "excluded by the config")
        }
        switch op {
        case .linearQuantization(let c):
            guard t.dtype.isFloatingPoint else { return .copy(t, reason: "\(t.dtype.rawValue) is not a floating-point type") }
            guard c.applies(toShape: t.shape) else {
                return .copy(t, reason: t.shape.count < 2
                    ? "rank \(t.shape.count) < 2"
                    : "\(t.elementCount) elements ≤ weight_threshold \(c.weightThreshold)")
            }
            let blocks: [Int]
            do { blocks = try c.blockSizes(for: t.shape) } catch {
                warnings.append("\(t.name): \(error); left unchanged")
                return .copy(t, reason: "\(error)")
            }
            var scaleShape: [Int] = []
            for (dim, block) in zip(t.shape, blocks) {
                if block == 0 { scaleShape.append(1); continue }
                guard dim % block == 0 else {
                    warnings.append("\(t.name): block size \(block) does not divide dimension \(dim); left unchanged")
                    return .copy(t, reason: "block size \(block) does not divide dimension \(dim)")
                }
                scaleShape.append(dim / block)
            }
            return .linear(t, c, scaleShape: scaleShape, zeroPoints: c.mode == .linear || !c.dtype.isSigned)
        }
    }

    static func tensorMetadata(_ c: LinearQuantizationConfig, original: ScalarType, zeroPoints: Bool) -> String {
        var object: [String: Any] = [
            "mode": c.mode.rawValue, "dtype": c.dtype.rawValue, "granularity": c.granularity.rawValue,
            "original_dtype": original.rawValue, "output_axis": c.outputAxis,
            "scale": "::scale", "zero_point": zeroPoints ? "::zero_point" : NSNull(),
        ]
        if c.granularity == .perBlock {
            switch c.blockSize {
            case .alongInputAxis(let n): object["block_size"] = n
            case .perAxis(let sizes): object["block_size"] = sizes
            }
        }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
