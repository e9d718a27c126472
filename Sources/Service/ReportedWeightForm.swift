import Estimation
import ModelFormats

/// The stored form of a weight-only model's tensor, read back from its report entry (the
/// safetensors artifact has no graph to read it from).
enum ReportedWeightForm {
    static func form(of tensor: CompressionReport.Tensor) -> StoredWeightForm {
        let dense = StoredWeightForm.dense(bits: tensor.dtype.contains("32") ? 32 : 16)
        guard tensor.action == "compressed", let mode = tensor.mode else { return dense }
        let words = mode.split(whereSeparator: { $0 == " " || $0 == "+" })
        let density = mode.hasPrefix("prune") ? 1 - (tensor.sparsity ?? 0) : 1
        if let index = words.firstIndex(of: "palettize") {
            let bits = words[index...].lazy.compactMap { $0.hasSuffix("-bit") ? Int($0.dropLast(4)) : nil }.first ?? 8
            return StoredWeightForm(kind: .palettized, bits: bits, grouped: mode.contains("per_grouped_channel"), density: density)
        }
        if let code = words.first(where: { $0.hasPrefix("int") || $0.hasPrefix("uint") }), let bits = Int(code.drop { !$0.isNumber }) {
            return StoredWeightForm(kind: .linear, bits: bits, perBlock: mode.contains("per_block"), density: density)
        }
        return StoredWeightForm(kind: .dense, bits: dense.bits, density: density)
    }

    static func weights(_ tensors: [CompressionReport.Tensor]) -> [Estimator.Weight] {
        tensors.map { t in
            Estimator.Weight(name: t.name, elements: t.shape.reduce(1, *), storedBytes: t.bytesAfter, form: form(of: t),
                             sqnrDB: t.action == "compressed" ? t.sqnrDB : nil)
        }
    }
}
