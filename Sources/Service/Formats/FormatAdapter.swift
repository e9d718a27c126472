import Compression
import Execution
import ModelFormats
import QuantCore

/// What a job asks of a model's format: the compression and the format's own options.
struct CompressionRequest: Sendable {
    var pipeline: CompressionPipeline
    /// Core ML only: raise the model's opset to this deployment target first.
    var minimumDeploymentTarget: MILOpset? = nil
    /// ONNX only: how MatMul weights are stored.
    var onnxWeightForm: ONNXWeightForm? = nil
    /// Activation quantization with its calibrated ranges (Core ML and ONNX).
    var activations: ActivationQuantizationPlan? = nil

    /// Refuses the options `format` has no use for, naming the field.
    func check(for format: StoredModelFormat) throws {
        if minimumDeploymentTarget != nil && format != .mlpackage {
            throw Problem.invalidConfig("minimum_deployment_target applies to Core ML models only; a \(format.rawValue) model has no deployment target",
                                        field: "minimum_deployment_target")
        }
        if activations != nil && format == .safetensors {
            throw Problem.invalidConfig("activation quantization needs the model's graph, which a safetensors file does not hold; upload the model as ONNX or as a Core ML package",
                                        field: "activation_config")
        }
        if onnxWeightForm != nil && format != .onnx {
            throw Problem.invalidConfig("onnx_format applies to ONNX models only, not to a \(format.rawValue) model", field: "onnx_format")
        }
    }
}

/// One model format behind the four things the service does with a model: count what an
/// upload holds, check a config before a job is queued, and compress it into an artifact.
/// Formats read weights and write the core's forms; the decision is `WeightCompressor`'s.
protocol FormatAdapter {
    /// Tensors and parameters, reading (and so validating) the whole model.
    func inventory() throws -> (tensors: Int, parameters: Int64)
    /// Refuses, as a 422 before anything is queued, a request this model cannot take.
    func preflight(_ request: CompressionRequest) throws
    /// Writes the artifact to `output` in pieces; `progress` runs 0…1.
    func compress(_ request: CompressionRequest, to output: @escaping (UnsafeRawBufferPointer) throws -> Void,
                  progress: (Double) -> Void, isCancelled: () -> Bool) throws -> CompressionOutcome
    /// The model's main function lowered onto the executor's operations; a 422 when the format
    /// holds no graph or the graph uses an op the executor does not have.
    func executionGraph() throws -> ExecutionGraph
}

struct SafetensorsAdapter: FormatAdapter {
    let file: SafetensorsFile

    init(path: String) throws {
        do { file = try SafetensorsFile(path: path, accessPattern: .willNeed) } catch let error as SafetensorsError {
            throw Problem.invalidModel("the safetensors file is invalid: \(error)")
        }
    }

    func inventory() throws -> (tensors: Int, parameters: Int64) {
        (file.tensors.count, Int64(file.tensors.reduce(0) { $0 + $1.elementCount }))
    }

    func preflight(_ request: CompressionRequest) throws {
        try request.check(for: .safetensors)
        try ConfigPreflight.check(request.pipeline, against: file)
    }

    func compress(_ request: CompressionRequest, to output: @escaping (UnsafeRawBufferPointer) throws -> Void,
                  progress: (Double) -> Void, isCancelled: () -> Bool) throws -> CompressionOutcome {
        try SafetensorsCompressor(pipeline: request.pipeline).compress(file, to: output, progress: progress, isCancelled: isCancelled)
    }

    func executionGraph() throws -> ExecutionGraph {
        throw Problem.notRunnable("a safetensors file holds weights only, no graph to run; upload the model as ONNX or as a Core ML package to evaluate it")
    }
}

struct CoreMLAdapter: FormatAdapter {
    let mapping: MemoryMappedFile
    /// The service's cache of opened packages and this model's id there, when it has one.
    let opened: (OpenedPackages, String)?

    init(path: String, opened: (OpenedPackages, String)?) throws {
        // The whole file is about to be read: start reading it in now, in large requests.
        mapping = try MemoryMappedFile(path: path, accessPattern: .willNeed)
        self.opened = opened
    }

    private func compressor(_ request: CompressionRequest) -> CoreMLCompressor {
        CoreMLCompressor(pipeline: request.pipeline, minimumDeploymentTarget: request.minimumDeploymentTarget,
                         opened: opened.map { (packages: $0.0, modelID: $0.1) }, activations: request.activations)
    }

    func inventory() throws -> (tensors: Int, parameters: Int64) {
        let weights = try mapping.withBytes { bytes in
            try opened.map { try $0.0.open(bytes, id: $0.1).model.weights } ?? CoreMLCompressor.open(bytes).1.weights
        }
        return (weights.count, Int64(weights.reduce(0) { $0 + $1.elementCount }))
    }

    func preflight(_ request: CompressionRequest) throws {
        try request.check(for: .mlpackage)
        try mapping.withBytes { try compressor(request).preflight($0) }
    }

    func compress(_ request: CompressionRequest, to output: @escaping (UnsafeRawBufferPointer) throws -> Void,
                  progress: (Double) -> Void, isCancelled: () -> Bool) throws -> CompressionOutcome {
        try mapping.withBytes { try compressor(request).compress($0, to: output, progress: progress, isCancelled: isCancelled) }
    }

    func executionGraph() throws -> ExecutionGraph {
        try mapping.withBytes { bytes in
            let (archive, model, _) = try opened.map { try $0.0.open(bytes, id: $0.1) } ?? CoreMLCompressor.open(bytes)
            do { return try archive.executionGraph(of: model, in: bytes) } catch let error as ExecutionError { throw Problem(error) }
        }
    }
}

struct ONNXAdapter: FormatAdapter {
    let mapping: MemoryMappedFile

    init(path: String) throws {
        mapping = try MemoryMappedFile(path: path, accessPattern: .willNeed)
    }

    private func compressor(_ request: CompressionRequest) -> ONNXCompressor {
        ONNXCompressor(pipeline: request.pipeline, weightForm: request.onnxWeightForm ?? .qdq, activations: request.activations)
    }

    func inventory() throws -> (tensors: Int, parameters: Int64) {
        let weights = try mapping.withBytes { try ONNXCompressor.open($0).weights }
        return (weights.count, Int64(weights.reduce(0) { $0 + $1.elementCount }))
    }

    func preflight(_ request: CompressionRequest) throws {
        try request.check(for: .onnx)
        try mapping.withBytes { try compressor(request).preflight($0) }
    }

    func compress(_ request: CompressionRequest, to output: @escaping (UnsafeRawBufferPointer) throws -> Void,
                  progress: (Double) -> Void, isCancelled: () -> Bool) throws -> CompressionOutcome {
        try mapping.withBytes { try compressor(request).compress($0, to: output, progress: progress, isCancelled: isCancelled) }
    }

    func executionGraph() throws -> ExecutionGraph {
        try mapping.withBytes { bytes in
            do { return try ONNXCompressor.open(bytes).executionGraph() } catch let error as ExecutionError { throw Problem(error) }
        }
    }
}
