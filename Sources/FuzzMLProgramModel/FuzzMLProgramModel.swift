import FuzzReplay
import ModelFormats

/// Fuzzes `MLProgramModel` on a `model.mlmodel` protobuf, then everything the service reads
/// from an uploaded model before any weight is touched: its opset, weights and op graph, the
/// opset raised to the newest one, and its serialized form, which must read back the same.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard var model = try? MLProgramModel(serialized: UnsafeRawBufferPointer(start: data, count: size)) else { return 0 }
    let weights = model.weights
    let graph = model.opGraph
    for operation in graph.operations {
        for tensor in operation.outputs + operation.inputs.flatMap({ $0.values.map(\.tensor) }) { _ = tensor.elementCount }
    }
    let serialized = try! model.serialized()
    let reread = try! serialized.withUnsafeBytes { try MLProgramModel(serialized: $0) }
    precondition(reread.weights == weights, "the weights change in a round trip through serialized()")
    precondition(try! reread.serialized() == serialized, "serialized() is not stable")
    if let opset = model.opset, opset < .iOS18, (try? model.raiseOpset(to: .iOS18)) != nil {
        precondition(model.opset == .iOS18)
        _ = (model.weights, model.opGraph, try! model.serialized())
    }
    return 0
}

// Built for fuzzing, libFuzzer's main calls `fuzz`.
#if !FUZZING
@main enum ReplayMain {
    static func main() { replayInputs(through: fuzz) }
}
#endif
