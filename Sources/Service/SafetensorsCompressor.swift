import Foundation
import ModelFormats
import QuantCore

/// Compresses a safetensors model into a safetensors artifact: each tensor is compressed
/// (or left alone, with the reason), then the artifact is written header first and streamed
/// out tensor by tensor, each one's memory released once written. A job thus holds the input
/// mapping plus the compressed model — less than the input for every mode.
///
/// The layout of each compressed form is defined next to its encoder (`LinearEncoding`, …)
/// and documented in the README; the input's own metadata is kept.
struct SafetensorsCompressor {
    let pipeline: CompressionPipeline

    struct Outcome {
        var tensors: [CompressionReport.Tensor]
        var warnings: [String]
        var artifactBytes: Int
    }

    /// The op type a safetensors weight stands for, for `op_type_configs`: safetensors has no
    /// graph, so rank decides (2 → linear, 3–5 → conv).
    static func opType(rank: Int) -> String? {
        switch rank {
        case 2: "linear"
        case 3...5: "conv"
        default: nil
        }
    }

    /// Writes the artifact to `output` in order, in pieces of any size. `progress` runs 0…1.
    func compress(_ file: SafetensorsFile, to output: (UnsafeRawBufferPointer) throws -> Void,
                  progress: (Double) -> Void, isCancelled: () -> Bool) throws -> Outcome {
        var warnings: [String] = []
        var encoded: [EncodedTensor] = []
        let totalBytes = Double(max(1, file.tensors.reduce(0) { $0 + $1.byteCount }))
        var doneBytes = 0
        for t in file.tensors {
            if isCancelled() { throw CancellationError() }
            encoded.append(try encode(t, in: file, warnings: &warnings))
            file.releasePages(of: t)
            doneBytes += t.byteCount
            // Compressing is most of the work; writing (and the gzip behind it) the rest.
            progress(0.8 * Double(doneBytes) / totalBytes)
        }

        var metadata = file.metadata
        for e in encoded { if let m = e.metadata { metadata["quantd:" + e.report.name] = m } }
        metadata["quantd.format_version"] = "1"
        let locations = encoded.indices.flatMap { i in encoded[i].parts.indices.map { (i, $0) } }
        let writer = try SafetensorsWriter(
            entries: locations.map { let p = encoded[$0.0].parts[$0.1]; return .init(name: p.name, dtype: p.dtype, shape: p.shape) },
            metadata: metadata)
        var next = 0
        let artifactBytes = Double(max(1, writer.fileSize))
        var written = writer.dataStart
        try writer.write(to: output) { _, emit in
            if isCancelled() { throw CancellationError() }
            let (i, k) = locations[next]
            next += 1
            switch encoded[i].parts[k].bytes {
            case .owned(let bytes):
                try bytes.withUnsafeBytes { try emit($0) }
                encoded[i].parts[k].bytes = .owned([])
            case .input(let info):
                try file.withTensorBytes(info) { try emit($0) }
                file.releasePages(of: info)
            }
            written += encoded[i].parts[k].byteCount
            progress(0.8 + 0.2 * Double(written) / artifactBytes)
        }
        return Outcome(tensors: encoded.map(\.report), warnings: warnings, artifactBytes: writer.fileSize)
    }

    private func encode(_ t: SafetensorsTensorInfo, in file: SafetensorsFile, warnings: inout [String]) throws -> EncodedTensor {
        let ops = pipeline.ops(opName: t.name, opType: Self.opType(rank: t.shape.count))
        guard !ops.isEmpty else { return .unchanged(t, reason: "excluded by the config") }
        guard t.dtype.isFloatingPoint else { return .unchanged(t, reason: "\(t.dtype.rawValue) is not a floating-point type") }
        switch ops[0] {
        case .linearQuantization(let c):
            guard c.applies(toShape: t.shape) else { return .unchanged(t, reason: Self.belowThreshold(t, c.weightThreshold)) }
            do {
                let blocks = try c.blockSizes(for: t.shape)
                for (dim, block) in zip(t.shape, blocks) where block > 0 && dim % block != 0 {
                    warnings.append("\(t.name): block size \(block) does not divide dimension \(dim); left unchanged")
                    return .unchanged(t, reason: "block size \(block) does not divide dimension \(dim)")
                }
            } catch {
                warnings.append("\(t.name): \(error); left unchanged")
                return .unchanged(t, reason: "\(error)")
            }
            return try file.withTensorBytes(t) { bytes in
                let q: LinearQuantizedTensor
                do { q = try LinearQuantizer(c).quantize(bytes, type: t.dtype, shape: t.shape) } catch {
                    throw Problem.invalidModel("tensor '\(t.name)' cannot be quantized: \(error)")
                }
                return try LinearEncoding.encode(t, q, metrics: QuantizationErrorMetrics(original: bytes, type: t.dtype, quantized: q))
            }
        }
    }

    static func belowThreshold(_ t: SafetensorsTensorInfo, _ threshold: Int) -> String {
        t.shape.count < 2 ? "rank \(t.shape.count) < 2" : "\(t.elementCount) elements ≤ weight_threshold \(threshold)"
    }
}
