import Foundation
import ModelFormats
import Compression
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

    /// Files at least this large give back each tensor's pages once it is done with, so that a
    /// job of a model near the size of memory holds little more than the tensors at hand.
    /// Smaller ones keep their mapping: each give-back is a TLB shootdown on every core, which
    /// costs a model of many small tensors more than its mapped pages (at most its size) do
    /// (README, Benchmarks).
    static let pageReleaseThreshold = 1 << 30


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
                  progress: (Double) -> Void, isCancelled: () -> Bool) throws -> CompressionOutcome {
        let started = ContinuousClock.now
        var (encoded, warnings) = try encodeAll(file, progress: progress, isCancelled: isCancelled)
        let encodeSeconds = CompressionOutcome.seconds(ContinuousClock.now - started)

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
                if file.byteCount >= Self.pageReleaseThreshold { file.releasePages(of: info) }
            }
            written += encoded[i].parts[k].byteCount
            progress(0.8 + 0.2 * Double(written) / artifactBytes)
        }
        return CompressionOutcome(tensors: encoded.map(\.report), warnings: warnings, artifactBytes: writer.fileSize,
                                  encodeSeconds: encodeSeconds, forms: encoded.map(\.form), artifactExtension: ".safetensors")
    }

    /// What the core needs to know of a tensor: safetensors has no graph, so rank stands
    /// for the op type and the output axis is 0.
    static func candidate(_ t: SafetensorsTensorInfo) -> WeightCandidate {
        WeightCandidate(name: t.name, shape: t.shape, type: t.dtype, opType: opType(rank: t.shape.count))
    }

    /// Compresses every tensor through the core, one per core at a time, largest first.
    /// Results and warnings keep file order.
    private func encodeAll(_ file: SafetensorsFile, progress: (Double) -> Void,
                           isCancelled: () -> Bool) throws -> ([EncodedTensor], [String]) {
        let tensors = file.tensors
        let compressor = WeightCompressor(pipeline: pipeline)
        let totalBytes = Double(max(1, tensors.reduce(0) { $0 + $1.byteCount }))
        var doneBytes = 0
        let weights = try ParallelWeights.map(sizes: tensors.map(\.byteCount), isCancelled: isCancelled, finished: { index in
            doneBytes += tensors[index].byteCount
            // Compressing is most of the work; writing (and the gzip behind it) the rest.
            progress(0.8 * Double(doneBytes) / totalBytes)
        }) { index in
            let t = tensors[index]
            let candidate = Self.candidate(t)
            defer { if file.byteCount >= Self.pageReleaseThreshold { file.releasePages(of: t) } }
            if let skipped = compressor.skip(candidate) { return skipped }
            file.populatePages(of: t)
            return try file.withTensorBytes(t) { try compressor.compress(candidate, $0) }
        }
        return (try zip(tensors, weights).map { try EncodedTensor.encode($0, $1) }, weights.flatMap(\.warnings))
    }
}
