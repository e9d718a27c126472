import Foundation
import Compression
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
    /// Activation quantization to insert before the weights are compressed (coremltools' order:
    /// `linear_quantize_activations`, then the weight passes); it raises the program to iOS17.
    var activations: ActivationQuantizationPlan? = nil

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
    /// target when that is newer than the model's (to iOS17 at least for activation quantization).
    private func openForTarget(_ bytes: UnsafeRawBufferPointer) throws -> (MLPackageArchive, MLProgramModel, MILOpset) {
        let (archive, read, opset) = try opened.map { try $0.packages.open(bytes, id: $0.modelID) } ?? Self.open(bytes)
        let wanted = [minimumDeploymentTarget, activations == nil ? nil : MILOpset.iOS17].compactMap { $0 }.max()
        guard let target = wanted, target > opset else { return (archive, read, opset) }
        var model = read
        do { try model.raiseOpset(to: target) } catch {
            throw Problem.invalidConfig(error.description, field: minimumDeploymentTarget == target ? "minimum_deployment_target" : "activation_config")
        }
        return (archive, model, model.opset ?? target)
    }

    /// Refuses, before a job is queued, a config the model's opset (after the deployment target
    /// raised it) cannot express or that coremltools rejects, naming the weight and the field.
    func preflight(_ bytes: UnsafeRawBufferPointer) throws {
        let (_, model, opset) = try openForTarget(bytes)
        let compressor = WeightCompressor(pipeline: pipeline)
        for w in model.weights {
            let candidate = Self.candidate(w)
            let ops = compressor.stages(for: candidate)
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
            }
            do { try compressor.preflight(candidate) } catch {
                throw Problem(error)
            }
        }
    }

    /// What the core needs to know of a weight const.
    static func candidate(_ w: MLProgramWeight) -> WeightCandidate {
        WeightCandidate(name: w.name, shape: w.shape, type: w.dataType == .float16 ? .float16 : .float32,
                        opType: w.consumerTypes.first, outputAxis: w.outputAxis,
                        ineligibility: w.consumerTypes.isEmpty ? .noConsumer : w.feedsConstexpr ? .alreadyDecompressed : nil,
                        convolutionGroups: w.convolutionGroups)
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
        var activationSummary: ActivationQuantizationSummary?
        if let activations {
            do { activationSummary = try model.quantizeActivations(activations.config, ranges: activations.ranges) } catch {
                throw Problem.invalidConfig(error.description, field: "activation_config")
            }
        }

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
                                  readSeconds: readSeconds, encodeSeconds: encodeSeconds, graph: model.opGraph,
                                  forms: results.map(\.form), artifactExtension: ".mlpackage.zip",
                                  activationQuantization: activationSummary)
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
        var form: CompressedForm
    }

    /// Compresses the weights through the core on all cores (in `EncodeOrder`: file order
    /// while files inflate), reporting the share of weight elements done (compressing is most
    /// of a job; writing the rest).
    private func encodeAll(_ weights: [MLProgramWeight], sources: [String: WeightFileSource], opset: MILOpset,
                           progress: (Double) -> Void, isCancelled: () -> Bool) throws -> [WeightResult] {
        let files = Array(sources.values)
        let compressor = WeightCompressor(pipeline: pipeline)
        var doneElements = 0
        let totalElements = Double(max(1, weights.reduce(0) { $0 + $1.elementCount }))
        return try ParallelWeights.map(sizes: weights.map(\.elementCount), allInMemory: { files.allSatisfy(\.isInMemory) },
                                       isCancelled: isCancelled, finished: { index in
            doneElements += weights[index].elementCount
            progress(0.9 * Double(doneElements) / totalElements)
        }) { index in
            let weight = weights[index]
            let candidate = Self.candidate(weight)
            let compressed = try compressor.skip(candidate)
                ?? compressor.compress(candidate, try sources[weight.fileName]!.blob(for: weight).1)
            return try Self.result(compressed, weightType: weight.dataType, opset: opset)
        }
    }

    /// The constexpr ops that rebuild a weight in the core's form (none when unchanged).
    static func chain(_ form: CompressedForm, weightType: MILBlobDataType, opset: MILOpset) throws(ConstexprEncodingError) -> [ConstexprOp] {
        switch form {
        case .unchanged:
            return []
        case .linear(let q):
            return [try ConstexprEncoding.linear(q, weightType: weightType, opset: opset)]
        case .palettized(let p, let lut):
            guard let lut else { return try ConstexprEncoding.palettizedWithChannelScale(p, weightType: weightType, opset: opset) }
            return try ConstexprEncoding.palettizedWithQuantizedLUT(p, lut: lut, weightType: weightType, opset: opset)
        case .pruned(let p, _):
            return [ConstexprEncoding.pruned(p, weightType: weightType, opset: opset)]
        case .prunedLinear(let q, _):
            return try ConstexprEncoding.prunedLinear(q, weightType: weightType, opset: opset)
        case .prunedPalettized(let pruned, let p, _):
            return try ConstexprEncoding.prunedPalettized(pruned, p, weightType: weightType, opset: opset)
        case .matMulNBits:
            preconditionFailure("the core writes MatMulNBits only for a format that asks for it (ONNX)")
        }
    }

    /// The weight's constexpr ops and its report line.
    static func result(_ w: CompressedWeight, weightType: MILBlobDataType, opset: MILOpset) throws -> WeightResult {
        let chain: [ConstexprOp]
        do { chain = try Self.chain(w.form, weightType: weightType, opset: opset) } catch {
            throw Problem.invalidConfig("weight '\(w.candidate.name)': \(error)", field: "config")
        }
        let after = chain.flatMap(\.parameters.values).reduce(0) { total, tensor in
            if case .blob(let bytes) = tensor.storage { return total + bytes.count }
            return total
        }
        return WeightResult(chain: chain, report: .init(w, bytesAfter: after, modePrefix: chain.map(\.type).joined(separator: " → ")),
                            warnings: w.warnings, form: w.form)
    }
}
