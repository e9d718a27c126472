import Foundation
import QuantCore
import Testing

/// Checks an uncompressed w8 artifact against the model it came from, independently of the
/// server's code: every quantizable tensor `N` is I8 codes plus `N::scale` (one per output
/// channel) and `quantd:N` metadata, and dequantizes to within half a step of the original;
/// every other tensor is byte-identical.
enum W8ArtifactVerification {
    /// w8's rule: floating point, rank ≥ 2 and more than 2048 elements.
    static func isQuantized(_ t: SafetensorsFixture.Tensor) -> Bool {
        t.shape.count >= 2 && t.shape.reduce(1, *) > 2048
    }

    static func verify(_ artifact: ParsedSafetensors, against fixture: SafetensorsFixture,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        var expectedNames = Set<String>()
        for t in fixture.tensors {
            expectedNames.insert(t.name)
            guard let info = artifact.info(t.name) else {
                Issue.record("artifact lacks tensor \(t.name)", sourceLocation: sourceLocation)
                continue
            }
            #expect(info.shape == t.shape, "\(t.name) keeps its shape", sourceLocation: sourceLocation)
            guard isQuantized(t) else {
                #expect(info.dtype == t.dtype, "\(t.name) keeps its dtype", sourceLocation: sourceLocation)
                #expect(artifact.rawBytes(t.name) == SafetensorsFixture.encode(t),
                        "\(t.name) is copied byte for byte", sourceLocation: sourceLocation)
                continue
            }
            expectedNames.insert(t.name + "::scale")
            #expect(info.dtype == .int8, "\(t.name) is stored as I8 codes", sourceLocation: sourceLocation)
            #expect(artifact.info(t.name + "::zero_point") == nil, "symmetric int8 has no zero point", sourceLocation: sourceLocation)
            verifyMetadata(artifact.metadata["quantd:" + t.name], tensor: t, sourceLocation: sourceLocation)
            guard let scaleInfo = artifact.info(t.name + "::scale") else {
                Issue.record("artifact lacks \(t.name)::scale", sourceLocation: sourceLocation)
                continue
            }
            let rows = t.shape[0]
            #expect(scaleInfo.shape == [rows] + Array(repeating: 1, count: t.shape.count - 1),
                    "\(t.name)::scale has one scale per output channel", sourceLocation: sourceLocation)
            #expect(scaleInfo.dtype == (t.dtype == .float16 ? .float16 : .float32),
                    "scales are stored in the weight's float type", sourceLocation: sourceLocation)
            guard let codes = artifact.values(t.name), let scales = artifact.values(t.name + "::scale"),
                  codes.count == t.values.count, scales.count == rows else {
                Issue.record("\(t.name): codes or scales have the wrong size", sourceLocation: sourceLocation)
                continue
            }
            verifyDequantization(t, codes: codes, scales: scales, sourceLocation: sourceLocation)
        }
        #expect(artifact.names == expectedNames, "the artifact holds exactly the weights and their scales",
                sourceLocation: sourceLocation)
        #expect(artifact.metadata["quantd.format_version"] == "1", sourceLocation: sourceLocation)
    }

    private static func verifyMetadata(_ text: String?, tensor t: SafetensorsFixture.Tensor, sourceLocation: SourceLocation) {
        guard let text, let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            Issue.record("metadata quantd:\(t.name) is missing or not JSON: \(String(describing: text))", sourceLocation: sourceLocation)
            return
        }
        #expect(object["mode"] as? String == "linear_symmetric", sourceLocation: sourceLocation)
        #expect(object["dtype"] as? String == "int8", sourceLocation: sourceLocation)
        #expect(object["granularity"] as? String == "per_channel", sourceLocation: sourceLocation)
        #expect(object["original_dtype"] as? String == t.dtype.rawValue, sourceLocation: sourceLocation)
        #expect(object["output_axis"] as? Int == 0, sourceLocation: sourceLocation)
        #expect(object["scale"] as? String == "::scale", sourceLocation: sourceLocation)
    }

    /// ŵ = q · scale[row]. Half a step is the rounding bound; 1/32 of a step more covers the
    /// quotient w/scale being rounded to fp16 (ulp 1/16 at |q| ≥ 64) before it is rounded to
    /// an integer. Each scale must also be max|w|/127 of its row, so the bound is not loose.
    private static func verifyDequantization(_ t: SafetensorsFixture.Tensor, codes: [Float], scales: [Float],
                                             sourceLocation: SourceLocation) {
        let perRow = t.values.count / t.shape[0]
        var worstRatio: Float = 0
        var badScales: [Int] = []
        for row in 0..<t.shape[0] {
            let scale = scales[row]
            let slice = t.values[(row * perRow)..<((row + 1) * perRow)]
            let maxAbs = slice.map(abs).max() ?? 0
            if abs(scale - maxAbs / 127) > maxAbs / 127 * 0.002 + 1e-12 { badScales.append(row) }
            for i in slice.indices {
                let q = codes[i]
                let error = abs(t.values[i] - q * scale)
                worstRatio = max(worstRatio, error / (scale * (0.5 + 1.0 / 32) + 1e-7))
                if q < -127 || q > 127 { badScales.append(row) }
            }
        }
        #expect(badScales.count == 0, "\(t.name): rows whose scale is not max|w|/127 or whose codes leave ±127: \(badScales.prefix(5))",
                sourceLocation: sourceLocation)
        #expect(worstRatio <= 1, "\(t.name): |w − q·scale| exceeds scale/2 (worst at \(worstRatio) of the bound)",
                sourceLocation: sourceLocation)
    }
}
