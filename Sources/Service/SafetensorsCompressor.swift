import Foundation
import ModelFormats
import QuantCore
import Synchronization

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
    /// Smaller ones keep their mapping: each give-back is a TLB shootdown on every core, and
    /// measured on ResNet50's 54 tensors the best encode went from 28–30 ms to 25 ms without
    /// them, while the mapped pages are at most the model's size.
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
                       encodeSeconds: encodeSeconds)
    }

    /// Compresses every tensor, one per core at a time: each tensor's own kernels are parallel
    /// too, but a model of many small tensors (ResNet's 54) leaves cores idle between and
    /// inside them. Tensors are taken largest first, so that the last ones to finish are small
    /// and no core waits long on another (file order ends ResNet with its largest tensors).
    /// Results keep file order; so do the warnings.
    private func encodeAll(_ file: SafetensorsFile, progress: (Double) -> Void,
                           isCancelled: () -> Bool) throws -> ([EncodedTensor], [String]) {
        let tensors = file.tensors
        let totalBytes = Double(max(1, tensors.reduce(0) { $0 + $1.byteCount }))
        let order = tensors.indices.sorted { (tensors[$0].byteCount, $1) > (tensors[$1].byteCount, $0) }
        let results = UnsafeMutableBufferPointer<(Result<EncodedTensor, any Error>, [String])?>.allocate(capacity: tensors.count)
        results.initialize(repeating: nil)
        defer {
            results.deinitialize()
            results.deallocate()
        }
        // Hands out tensor indices and serialises progress and cancellation callbacks, which
        // are the caller's and not thread-safe.
        let state = Mutex((next: 0, doneBytes: 0, failed: false))
        nonisolated(unsafe) let (slots, report, cancelled) = (results, progress, isCancelled)
        let lanes = min(ProcessInfo.processInfo.activeProcessorCount, max(1, tensors.count))
        DispatchQueue.concurrentPerform(iterations: lanes) { _ in
            while true {
                let index: Int? = state.withLock { s in
                    guard !s.failed, s.next < tensors.count, !cancelled() else { return nil }
                    defer { s.next += 1 }
                    return order[s.next]
                }
                guard let index else { return }
                let t = tensors[index]
                var notes: [String] = []
                let result = Result { try encode(t, in: file, warnings: &notes) }
                if file.byteCount >= Self.pageReleaseThreshold { file.releasePages(of: t) }
                slots[index] = (result, notes)
                state.withLock { s in
                    if case .failure = result { s.failed = true }
                    s.doneBytes += t.byteCount
                    // Compressing is most of the work; writing (and the gzip behind it) the rest.
                    report(0.8 * Double(s.doneBytes) / totalBytes)
                }
            }
        }
        // A failure anywhere wins over the tensors it stopped; missing ones mean cancelled.
        for slot in results {
            if let (result, _) = slot, case .failure(let error) = result { throw error }
        }
        var encoded: [EncodedTensor] = []
        var warnings: [String] = []
        for slot in results {
            guard let (result, notes) = slot else { throw CancellationError() }
            encoded.append(try result.get())
            warnings += notes
        }
        return (encoded, warnings)
    }

    private func encode(_ t: SafetensorsTensorInfo, in file: SafetensorsFile, warnings: inout [String]) throws -> EncodedTensor {
        let ops = pipeline.ops(opName: t.name, opType: Self.opType(rank: t.shape.count))
        guard !ops.isEmpty else { return .unchanged(t, reason: "excluded by the config") }
        guard t.dtype.isFloatingPoint else { return .unchanged(t, reason: "\(t.dtype.rawValue) is not a floating-point type") }
        var notes: [String] = []
        defer { warnings += notes }
        file.populatePages(of: t)
        return try file.withTensorBytes(t) { bytes in
            do {
                return try encode(t, bytes, ops[...], warnings: &notes)
            } catch let error as QuantCoreError where error.leavesWeightUnchanged {
                notes.append("\(t.name): \(error); left unchanged")
                return .unchanged(t, reason: error.description)
            } catch let error as QuantCoreError {
                throw Problem.invalidModel("tensor '\(t.name)' cannot be compressed: \(error)")
            }
        }
    }

    /// Applies the stages in order; a stage that skips the weight (as coremltools would) hands
    /// it on to the next one alone.
    private func encode(_ t: SafetensorsTensorInfo, _ bytes: UnsafeRawBufferPointer,
                        _ ops: ArraySlice<OptimizationConfig.OpConfig>, warnings: inout [String]) throws -> EncodedTensor {
        switch ops.first! {
        case .linearQuantization(let c):
            if let reason = Self.linearSkipReason(t, c, warnings: &warnings) { return .unchanged(t, reason: reason) }
            let (q, metrics) = try LinearQuantizer(c).quantizeMeasured(bytes, type: t.dtype, shape: t.shape)
            return try LinearEncoding.encode(t, q, metrics: metrics)
        case .pruning(let p):
            let pruned: PrunedTensor
            switch try Pruner(p).outcome(bytes, type: t.dtype, shape: t.shape) {
            case .skipped(let reason):
                if ops.count > 1 { return try encode(t, bytes, ops.dropFirst(), warnings: &warnings) }
                return .unchanged(t, reason: reason.description)
            case .pruned(let tensor):
                pruned = tensor
            }
            guard let next = ops.dropFirst().first else {
                return try SparseEncoding.pruned(t, pruned, config: p,
                                                 metrics: QuantizationErrorMetrics(original: bytes, type: t.dtype, pruned: pruned))
            }
            switch next {
            case .palettization(let pc):
                if let reason = Self.paletteSkipReason(t, pc, warnings: &warnings) ?? (pc.clusterDim > 1 ? "vector palettization (cluster_dim > 1) cannot follow pruning: the mask is per element" : nil) {
                    warnings.append("\(t.name): pruned but not palettized (\(reason))")
                    return try SparseEncoding.pruned(t, pruned, config: p,
                                                     metrics: QuantizationErrorMetrics(original: bytes, type: t.dtype, pruned: pruned))
                }
                // As coremltools: cluster the dense pruned weight (zeros included), store the
                // indices of kept elements only; pruned elements decode to 0 through the mask.
                let palette = try pruned.denseBytes().withUnsafeBytes { dense in
                    try Palettizer(pc).palettize(dense, type: t.dtype, shape: t.shape)
                }
                var reconstructed = palette.dequantized()
                for i in reconstructed.indices where !pruned.isKept(i) { reconstructed[i] = 0 }
                let metrics = reconstructed.withUnsafeBufferPointer { QuantizationErrorMetrics(original: bytes, type: t.dtype, reconstructed: $0) }
                return try SparseEncoding.prunedPalettized(t, pruned, palette, pruning: p, metrics: metrics)
            case .linearQuantization(let c):
                if let reason = Self.linearSkipReason(t, c, warnings: &warnings) {
                    warnings.append("\(t.name): pruned but not quantized (\(reason))")
                    return try SparseEncoding.pruned(t, pruned, config: p,
                                                     metrics: QuantizationErrorMetrics(original: bytes, type: t.dtype, pruned: pruned))
                }
                let q = try LinearQuantizer(c).quantize(pruned)
                let dense = q.dequantized()
                let metrics = dense.withUnsafeBufferPointer { QuantizationErrorMetrics(original: bytes, type: t.dtype, reconstructed: $0) }
                return try SparseEncoding.prunedQuantized(t, q, pruning: p, metrics: metrics)
            case .pruning:
                preconditionFailure("CompressionPipeline admits no pruning after pruning")
            }
        case .palettization(let pc):
            if let reason = Self.paletteSkipReason(t, pc, warnings: &warnings) { return .unchanged(t, reason: reason) }
            let palette = try Palettizer(pc).palettize(bytes, type: t.dtype, shape: t.shape)
            var quantizedLUT: LinearQuantizedTensor?
            var final = palette
            if case .linearQuantization(let c)? = ops.dropFirst().first {
                quantizedLUT = try palette.quantizingLUT(with: c)
                if let q = quantizedLUT {
                    final = palette.replacingLUT(q.dequantized())
                } else {
                    warnings.append("\(t.name): the LUT has \(palette.lut.count) entries, not more than weight_threshold \(c.weightThreshold) (or fewer than 10); left in float as coremltools does")
                }
            }
            let metrics = QuantizationErrorMetrics(original: bytes, type: t.dtype, palettized: final)
            return try PaletteEncoding.encode(t, palette, lut: quantizedLUT, metrics: metrics)
        }
    }

    /// Why palettization leaves this weight alone, as coremltools would; nil to palettize.
    /// (Group sizes that do not divide are refused before the job runs: `ConfigPreflight`.)
    static func paletteSkipReason(_ t: SafetensorsTensorInfo, _ c: PalettizationConfig, warnings: inout [String]) -> String? {
        guard c.applies(toShape: t.shape) else { return belowThreshold(t, c.weightThreshold) }
        do { _ = try c.resolvedGroupSize(shape: t.shape) } catch {
            return "\(error)"
        }
        return nil
    }

    /// Why linear quantization leaves this weight alone, as coremltools would; nil to quantize.
    static func linearSkipReason(_ t: SafetensorsTensorInfo, _ c: LinearQuantizationConfig, warnings: inout [String]) -> String? {
        guard c.applies(toShape: t.shape) else { return belowThreshold(t, c.weightThreshold) }
        do {
            for (dim, block) in zip(t.shape, try c.blockSizes(for: t.shape)) where block > 0 && dim % block != 0 {
                warnings.append("\(t.name): block size \(block) does not divide dimension \(dim); left unchanged")
                return "block size \(block) does not divide dimension \(dim)"
            }
        } catch {
            warnings.append("\(t.name): \(error); left unchanged")
            return "\(error)"
        }
        return nil
    }

    static func belowThreshold(_ t: SafetensorsTensorInfo, _ threshold: Int) -> String {
        t.shape.count < 2 ? "rank \(t.shape.count) < 2" : "\(t.elementCount) elements ≤ weight_threshold \(threshold)"
    }
}
