import Foundation
import Synchronization
import ModelFormats
import QuantCore

/// Compresses a zipped or tarred `.mlpackage` into a zipped `.mlpackage`: each eligible weight
/// const becomes the constexpr op coremltools writes for the model's opset (raised first to a
/// newer minimum deployment target, if one is asked for), the weight file is rebuilt with
/// exactly the blobs still referenced, and every other file is copied as is.
///
/// Which weights are eligible follows coremltools: float16/float32 consts in a weight file,
/// rank ≥ 2, more elements than `weight_threshold`, read by at least one op and not already
/// feeding a constexpr op. `op_type_configs` match the consuming op's MIL type,
/// `op_name_configs` the const's name.
struct CoreMLCompressor {
    let pipeline: CompressionPipeline
    /// The job's `minimum_deployment_target`: a model written for an older one is raised to it,
    /// as coremltools converts with `minimum_deployment_target`; a newer model stays as it is.
    var minimumDeploymentTarget: MILOpset? = nil
    /// Where to find the package already opened, and the model's id there.
    var opened: (packages: OpenedPackages, modelID: String)? = nil

    /// The weight file every compressed package refers to, relative to the model.
    static let weightFileName = "@model_path/weights/weight.bin"

    /// The package's layout and its model specification, validated; what an upload is
    /// checked with and a job starts from.
    static func open(_ bytes: UnsafeRawBufferPointer) throws -> (MLPackageArchive, MLProgramModel, MILOpset) {
        let archive: MLPackageArchive
        do { archive = try MLPackageArchive(bytes: bytes) } catch { throw Problem.invalidModel(error.description) }
        let model: MLProgramModel
        do {
            let specification = try archive.contents(of: archive.package.rootModelPath, in: bytes)
            model = try specification.withUnsafeBytes { spec throws(MLProgramError) in try MLProgramModel(serialized: spec) }
        } catch let error as MLPackageArchiveError {
            throw Problem.invalidModel(error.description)
        } catch let error as MLProgramError {
            throw Problem.invalidModel(error.description)
        }
        guard let opset = model.opset else {
            throw Problem.invalidModel("the ML Program's opset is not one quantd knows (CoreML5 to CoreML8)")
        }
        return (archive, model, opset)
    }

    /// The opset a `minimum_deployment_target` names, as `ct.target` spells it.
    static func deploymentTarget(named value: Any) throws -> MILOpset {
        guard let name = value as? String, let opset = MILOpset(target: name) else {
            let names = MILOpset.allCases.flatMap(\.targetNames).joined(separator: ", ")
            throw Problem.invalidConfig("minimum_deployment_target must be one of \(names): ML Programs start at iOS15, and quantd writes opsets up to CoreML8 (iOS18)",
                                        field: "minimum_deployment_target")
        }
        return opset
    }

    /// The package as `open` reads it, with the program raised to the minimum deployment
    /// target when that is newer than the model's.
    private func openForTarget(_ bytes: UnsafeRawBufferPointer) throws -> (MLPackageArchive, MLProgramModel, MILOpset) {
        let (archive, read, opset) = try opened.map { try $0.packages.open(bytes, id: $0.modelID) } ?? Self.open(bytes)
        guard let target = minimumDeploymentTarget, target > opset else { return (archive, read, opset) }
        var model = read
        do { try model.raiseOpset(to: target) } catch {
            throw Problem.invalidConfig(error.description, field: "minimum_deployment_target")
        }
        return (archive, model, model.opset ?? target)
    }

    /// Refuses, before a job is queued, a config the model's opset (after the deployment target
    /// raised it) cannot express or that coremltools rejects, naming the weight and the field.
    func preflight(_ bytes: UnsafeRawBufferPointer) throws {
        let (_, model, opset) = try openForTarget(bytes)
        for w in model.weights {
            let ops = pipeline.ops(opName: w.name, opType: w.consumerTypes.first)
            guard let stage = ops.first else { continue }
            if ops.count > 1 {
                if case .palettization = stage, case .linearQuantization(let c) = ops[1], c.granularity != .perTensor {
                    throw Problem.invalidConfig("weight '\(w.name)': quantize the LUT per_tensor: its axes are not the weight's (coremltools refuses the same)",
                                                field: "config[1].global_config.granularity")
                }
                if opset < .iOS18 {
                    throw Problem.invalidConfig("weight '\(w.name)': \(ConstexprEncodingError.needsIOS18("joint compression", opset))", field: "config")
                }
            }
            for op in ops {
                if let feature = Self.iOS18Feature(op, shape: w.shape), opset < .iOS18 {
                    throw Problem.invalidConfig("weight '\(w.name)': \(ConstexprEncodingError.needsIOS18(feature, opset))", field: "config")
                }
                guard case .palettization(var c) = op, c.applies(toShape: w.shape), let axis = w.outputAxis else { continue }
                if c.channelAxis == nil { c.channelAxis = axis }
                do { _ = try c.resolvedGroupSize(shape: w.shape) } catch {
                    throw Problem.invalidConfig("weight '\(w.name)' (shape \(w.shape)): \(error); choose a group_size and cluster_dim that divide its channels, or exclude it with op_name_configs",
                                                field: c.clusterDim > 1 ? "cluster_dim" : "group_size")
                }
            }
        }
    }

    /// What in a stage only the iOS18 opset can write, or nil.
    private static func iOS18Feature(_ op: OptimizationConfig.OpConfig, shape: [Int]) -> String? {
        switch op {
        case .linearQuantization(let c) where c.applies(toShape: shape):
            c.dtype.bitWidth < 8 ? "\(c.dtype.rawValue) weights" : c.granularity == .perBlock ? "per_block quantization" : nil
        case .palettization(let c) where c.applies(toShape: shape):
            c.enablePerChannelScale ? "enable_per_channel_scale"
                : c.granularity == .perGroupedChannel ? "per_grouped_channel palettization"
                : c.clusterDim > 1 ? "vector palettization (cluster_dim > 1)" : c.nbits == 3 ? "3-bit palettization" : nil
        default: nil
        }
    }

    func compress(_ bytes: UnsafeRawBufferPointer, to output: @escaping (UnsafeRawBufferPointer) throws -> Void,
                  progress: (Double) -> Void, isCancelled: () -> Bool) throws -> CompressionOutcome {
        let opening = ContinuousClock.now
        let (archive, opened, opset) = try openForTarget(bytes)
        var model = opened
        let package = archive.package

        // Every weight file the model refers to: stored ones read in place and validated now,
        // deflated ones inflating on their own threads while the weights are compressed.
        var sources: [String: WeightFileSource] = [:]
        let weights = model.weights
        defer { sources.values.forEach { $0.waitUntilDone() } }
        for fileName in Set(weights.map(\.fileName)).sorted() {
            do {
                let (path, _) = try package.resolve(fileName)
                if let entry = try archive.inflating(path, in: bytes) {
                    sources[fileName] = .inflating(entry)
                } else {
                    let contents = try archive.data(of: path, in: bytes)
                    sources[fileName] = .ready(WeightFile(path: path, data: contents, storage: try MILBlobStorage(parsing: contents.bytes)))
                }
            } catch let error as MLPackageError {
                throw Problem.invalidModel("the archive is not a valid .mlpackage: \(error)")
            } catch {
                throw Problem.invalidModel("the weight file '\(fileName)' is invalid: \(error)")
            }
        }
        /// Each file whole and validated; a file that is invalid is the error to report, before
        /// any a weight in it met.
        func finishedFiles() throws -> [String: WeightFile] {
            try sources.reduce(into: [:]) { files, source in files[source.key] = try source.value.finish(fileName: source.key, weights: weights) }
        }

        let started = ContinuousClock.now
        let results: [WeightResult]
        let weightFiles: [String: WeightFile]
        do {
            results = try encodeAll(weights, sources: sources, opset: opset, progress: progress, isCancelled: isCancelled)
            weightFiles = try finishedFiles()
        } catch {
            _ = try finishedFiles()
            throw error
        }
        let encodeSeconds = CompressionOutcome.seconds(ContinuousClock.now - started)
        // Inflating overlaps compressing; what it adds is in the encode time.
        let readSeconds = CompressionOutcome.seconds(started - opening)
        var replacements: [String: [ConstexprOp]] = [:]
        for (weight, result) in zip(weights, results) where !result.chain.isEmpty { replacements[weight.outputName] = result.chain }

        let newWeights: MILBlobStorageWriter
        do {
            newWeights = try model.rewrite(replacing: replacements, weightFileName: Self.weightFileName) { fileName, offset throws(MLProgramError) in
                guard let file = weightFiles[fileName] ?? Self.resolveExtra(fileName, package, archive, bytes),
                      let blob = file.storage.blob(atMetadataOffset: offset) else {
                    throw .missingBlob(fileName: fileName, offset: offset)
                }
                return (blob, UnsafeRawBufferPointer(rebasing: file.data.bytes[blob.dataRange]))
            }
        } catch {
            throw Problem.invalidModel(error.description)
        }
        // Serializing the specification (~15 ms for ResNet50's, on one core) runs while the
        // weight file is written and gzipped, and the model entry goes in after it: a zip's
        // entries may come in any order.
        nonisolated(unsafe) var serialized: Result<[UInt8], any Error> = .success([])
        let serializing = DispatchGroup()
        let finalModel = model
        DispatchQueue.global().async(group: serializing) { serialized = Result { try finalModel.serialized() } }
        defer { serializing.wait() }

        // The package again, zipped: the new model and weight file in place of the old ones.
        let weightPath = package.modelDirectory + "weights/weight.bin"
        let replacedWeightFiles = Set(weightFiles.values.map(\.path))
        var written = 0
        var writer = ZipWriter { piece in
            written += piece.count
            try output(piece)
        }
        var wroteWeights = false
        for path in archive.filePaths where path != package.rootModelPath {
            if isCancelled() { throw CancellationError() }
            if path == weightPath || replacedWeightFiles.contains(path) {
                guard !wroteWeights else { continue }
                wroteWeights = true
                try writer.addFile(weightPath, pieces: newWeights.pieces)
            } else {
                try archive.contents(of: path, in: bytes).withUnsafeBytes { try writer.addFile(path, contents: $0) }
            }
        }
        if !wroteWeights, !newWeights.blobs.isEmpty {
            try writer.addFile(weightPath, pieces: newWeights.pieces)
        }
        serializing.wait()
        try serialized.get().withUnsafeBytes { try writer.addFile(package.rootModelPath, contents: $0) }
        try writer.finish()
        return CompressionOutcome(tensors: results.map(\.report), warnings: results.flatMap(\.warnings), artifactBytes: written,
                                  readSeconds: readSeconds, encodeSeconds: encodeSeconds, graph: model.opGraph)
    }

    /// A weight file of the package, read (in place where the archive stores it) and validated.
    struct WeightFile {
        let path: String
        let data: EntryData
        let storage: MILBlobStorage
    }

    /// A blob file that holds no weights but other consts (rare): read on demand.
    private static func resolveExtra(_ fileName: String, _ package: MLPackage<String>, _ archive: MLPackageArchive,
                                     _ bytes: UnsafeRawBufferPointer) -> WeightFile? {
        guard let (path, _) = try? package.resolve(fileName), let contents = try? archive.data(of: path, in: bytes),
              let storage = try? MILBlobStorage(parsing: contents.bytes) else { return nil }
        return WeightFile(path: path, data: contents, storage: storage)
    }

    struct WeightResult {
        /// The ops that rebuild the weight; empty when it stays as it is.
        var chain: [ConstexprOp]
        var report: CompressionReport.Tensor
        var warnings: [String] = []
    }

    /// Compresses the weights on all cores, one weight per core at a time (in `EncodeOrder`),
    /// reporting the share of weight elements done (compressing is most of a job; writing the
    /// rest).
    private func encodeAll(_ weights: [MLProgramWeight], sources: [String: WeightFileSource], opset: MILOpset,
                           progress: (Double) -> Void, isCancelled: () -> Bool) throws -> [WeightResult] {
        let slots = UnsafeMutableBufferPointer<Result<WeightResult, any Error>?>.allocate(capacity: weights.count)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize(); slots.deallocate() }
        let order = Mutex(EncodeOrder(sizes: weights.map(\.elementCount)))
        let files = Array(sources.values)
        let doneElements = Mutex(0)
        let totalElements = Double(max(1, weights.reduce(0) { $0 + $1.elementCount }))
        nonisolated(unsafe) let (output, cancelled, report) = (slots, isCancelled, progress)
        DispatchQueue.concurrentPerform(iterations: min(ProcessInfo.processInfo.activeProcessorCount, max(1, weights.count))) { _ in
            while true {
                let allInMemory = files.allSatisfy(\.isInMemory)
                let index: Int? = order.withLock { order in
                    guard !cancelled() else { return nil }
                    return order.next(allInMemory: allInMemory)
                }
                guard let index else { return }
                let weight = weights[index]
                output[index] = Result {
                    try encode(weight, try sources[weight.fileName]!.blob(for: weight).1, opset: opset)
                }
                // Reported under the lock: the callback need not be thread-safe.
                doneElements.withLock { done in
                    done += weight.elementCount
                    report(0.9 * Double(done) / totalElements)
                }
            }
        }
        return try slots.map { slot in
            guard let slot else { throw CancellationError() }
            return try slot.get()
        }
    }

    private func encode(_ w: MLProgramWeight, _ bytes: UnsafeRawBufferPointer, opset: MILOpset) throws -> WeightResult {
        let type: ScalarType = w.dataType == .float16 ? .float16 : .float32
        func unchanged(_ reason: String) -> WeightResult {
            WeightResult(chain: [], report: .init(
                name: w.name, shape: w.shape, dtype: type.rawValue, action: "unchanged", reason: reason, mode: nil,
                bytesBefore: bytes.count, bytesAfter: bytes.count, bitsPerWeight: Double(type.byteWidth * 8),
                sqnrDB: nil, maxAbsError: nil, cosine: nil, sparsity: nil, uniqueValues: nil))
        }
        let ops = pipeline.ops(opName: w.name, opType: w.consumerTypes.first)
        guard let stage = ops.first else { return unchanged("excluded by the config") }
        guard w.shape.count >= 2 else { return unchanged("rank \(w.shape.count) < 2") }
        guard !w.consumerTypes.isEmpty else { return unchanged("no op reads it") }
        guard !w.feedsConstexpr else { return unchanged("already feeds a constexpr op") }
        guard let outputAxis = w.outputAxis else { return unchanged("its consumers need different output axes") }

        do {
            switch stage {
            case .linearQuantization(var c):
                guard c.applies(toShape: w.shape) else { return unchanged("\(w.elementCount) elements ≤ weight_threshold \(c.weightThreshold)") }
                c.outputAxis = outputAxis
                c.inputAxis = Self.inputAxis(output: outputAxis, rank: w.shape.count)
                if let reason = Self.blockMismatch(w, c) {
                    var result = unchanged(reason)
                    result.warnings.append("\(w.name): \(reason); left unchanged")
                    return result
                }
                let (q, metrics) = try LinearQuantizer(c).quantizeMeasured(bytes, type: type, shape: w.shape)
                let op = try ConstexprEncoding.linear(q, weightType: w.dataType, opset: opset)
                return compressed(w, type, [op], mode: "linear \(c.mode.rawValue) \(c.dtype.rawValue) \(c.granularity.rawValue)",
                                  metrics: metrics, unique: q.distinctCodes)
            case .palettization(var pc):
                guard pc.applies(toShape: w.shape) else { return unchanged("\(w.elementCount) elements ≤ weight_threshold \(pc.weightThreshold)") }
                if pc.channelAxis == nil { pc.channelAxis = outputAxis }
                let palette = try Palettizer(pc).palettize(bytes, type: type, shape: w.shape)
                let mode = "palettize \(pc.mode.rawValue) \(palette.nbits)-bit \(pc.granularity.rawValue)"
                if case .linearQuantization(let c)? = ops.dropFirst().first {
                    if let lut = try palette.quantizingLUT(with: c) {
                        let chain = try ConstexprEncoding.palettizedWithQuantizedLUT(palette, lut: lut, weightType: w.dataType, opset: opset)
                        let metrics = QuantizationErrorMetrics(original: bytes, type: type, palettized: palette.replacingLUT(lut.dequantized()))
                        return compressed(w, type, chain, mode: mode + " + LUT linear \(c.mode.rawValue) \(c.dtype.rawValue)",
                                          metrics: metrics, unique: palette.lut.count / max(1, palette.clusterDim))
                    }
                    var result = try palettizedAlone(w, type, palette, bytes, opset: opset, mode: mode)
                    result.warnings.append("\(w.name): the LUT has \(palette.lut.count) entries, not more than weight_threshold \(c.weightThreshold) (or fewer than 10); left in float as coremltools does")
                    return result
                }
                return try palettizedAlone(w, type, palette, bytes, opset: opset, mode: mode)
            case .pruning(let p):
                switch try Pruner(p).outcome(bytes, type: type, shape: w.shape) {
                case .skipped(let reason):
                    return unchanged(reason.description)
                case .pruned(let pruned):
                    let prunedMetrics = { QuantizationErrorMetrics(original: bytes, type: type, pruned: pruned) }
                    switch ops.dropFirst().first {
                    case nil, .pruning?:
                        return compressed(w, type, [ConstexprEncoding.pruned(pruned, weightType: w.dataType, opset: opset)],
                                          mode: "prune", metrics: prunedMetrics(), unique: nil)
                    case .linearQuantization(var c)?:
                        c.outputAxis = outputAxis
                        c.inputAxis = Self.inputAxis(output: outputAxis, rank: w.shape.count)
                        if let reason = Self.blockMismatch(w, c) {
                            var result = compressed(w, type, [ConstexprEncoding.pruned(pruned, weightType: w.dataType, opset: opset)],
                                                    mode: "prune", metrics: prunedMetrics(), unique: nil)
                            result.warnings.append("\(w.name): pruned but not quantized (\(reason))")
                            return result
                        }
                        // As coremltools: quantize the dense pruned weight, keep the kept codes.
                        let q = try LinearQuantizer(c).quantize(pruned)
                        let chain = try ConstexprEncoding.prunedLinear(q, weightType: w.dataType, opset: opset)
                        let dense = q.dequantized()
                        let metrics = dense.withUnsafeBufferPointer { QuantizationErrorMetrics(original: bytes, type: type, reconstructed: $0) }
                        return compressed(w, type, chain, mode: "prune + linear \(c.mode.rawValue) \(c.dtype.rawValue) \(c.granularity.rawValue)",
                                          metrics: metrics, unique: nil)
                    case .palettization(var pc)?:
                        if pc.channelAxis == nil { pc.channelAxis = outputAxis }
                        // As coremltools: cluster the dense pruned weight (zeros included),
                        // store the indices of kept elements only.
                        let palette = try pruned.denseBytes().withUnsafeBytes { dense in
                            try Palettizer(pc).palettize(dense, type: type, shape: w.shape)
                        }
                        let chain = try ConstexprEncoding.prunedPalettized(pruned, palette, weightType: w.dataType, opset: opset)
                        var reconstructed = palette.dequantized()
                        for i in reconstructed.indices where !pruned.isKept(i) { reconstructed[i] = 0 }
                        let metrics = reconstructed.withUnsafeBufferPointer { QuantizationErrorMetrics(original: bytes, type: type, reconstructed: $0) }
                        return compressed(w, type, chain, mode: "prune + palettize \(pc.mode.rawValue) \(palette.nbits)-bit",
                                          metrics: metrics, unique: nil)
                    }
                }
            }
        } catch let error as ConstexprEncodingError {
            throw Problem.invalidConfig("weight '\(w.name)': \(error)", field: "config")
        } catch let error as QuantCoreError where error.leavesWeightUnchanged {
            var result = unchanged(error.description)
            result.warnings.append("\(w.name): \(error); left unchanged")
            return result
        } catch let error as QuantCoreError {
            throw Problem.invalidModel("weight '\(w.name)' cannot be compressed: \(error)")
        }
    }

    private func palettizedAlone(_ w: MLProgramWeight, _ type: ScalarType, _ palette: PalettizedTensor,
                                 _ bytes: UnsafeRawBufferPointer, opset: MILOpset, mode: String) throws -> WeightResult {
        let chain = try ConstexprEncoding.palettizedWithChannelScale(palette, weightType: w.dataType, opset: opset)
        let metrics = QuantizationErrorMetrics(original: bytes, type: type, palettized: palette)
        return compressed(w, type, chain, mode: mode, metrics: metrics, unique: palette.lut.count / max(1, palette.clusterDim))
    }

    private func compressed(_ w: MLProgramWeight, _ type: ScalarType, _ chain: [ConstexprOp], mode: String,
                            metrics: QuantizationErrorMetrics, unique: Int?) -> WeightResult {
        let after = chain.flatMap(\.parameters.values).reduce(0) { total, tensor in
            if case .blob(let bytes) = tensor.storage { return total + bytes.count }
            return total
        }
        return WeightResult(chain: chain, report: .init(
            name: w.name, shape: w.shape, dtype: type.rawValue, action: "compressed", reason: nil,
            mode: "\(chain.map(\.type).joined(separator: " → ")): \(mode)",
            bytesBefore: w.elementCount * type.byteWidth, bytesAfter: after,
            bitsPerWeight: Double(after * 8) / Double(max(1, w.elementCount)),
            sqnrDB: metrics.sqnrDB.isFinite ? metrics.sqnrDB : nil, maxAbsError: metrics.maxAbsError, cosine: metrics.cosine,
            sparsity: metrics.sparsity, uniqueValues: unique))
    }

    /// Why per-block quantization cannot apply (a block size that does not divide its axis:
    /// coremltools skips the weight with a warning), or nil.
    static func blockMismatch(_ w: MLProgramWeight, _ c: LinearQuantizationConfig) -> String? {
        guard let sizes = try? c.blockSizes(for: w.shape) else { return "block sizes do not match rank \(w.shape.count)" }
        for (dim, block) in zip(w.shape, sizes) where block > 0 && dim % block != 0 {
            return "block size \(block) does not divide dimension \(dim)"
        }
        return nil
    }

    /// coremltools' input axis for an output axis: the neighbouring one of the pair it picks.
    static func inputAxis(output: Int, rank: Int) -> Int {
        if output == 0 { return 1 }
        if output == rank - 1 { return rank - 2 }
        if output == rank - 2 { return rank - 1 }
        return 0
    }
}
