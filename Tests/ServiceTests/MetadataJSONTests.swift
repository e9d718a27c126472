import Foundation
import Testing
@testable import Service

@Suite struct MetadataJSONTests {
    /// Every kind of value the encodings write reads back as JSONSerialization reads it, with
    /// keys in sorted order at every level.
    @Test func readsBackAsWrittenWithSortedKeys() throws {
        let object: [String: Any] = [
            "mode": "prune+linear", "nbits": 4, "shape": [64, 3, 7, 7], "zero_point": NSNull(), "sparsity": 0.4375,
            "whole": 2.0, "tiny": 1e-7, "flag": true,
            "pruning": ["n_m_ratio": [2, 4], "target_sparsity": 0.5, "dim": 1] as [String: Any],
            "quoted": "a \"b\" \\ c\n\u{1}", "mixed": [1, "x", NSNull()] as [Any],
        ]
        let text = try MetadataJSON.string(object)
        let read = try JSONSerialization.jsonObject(with: Data(text.utf8))
        // Both through one writer, which makes equal values equal text.
        #expect(try JSONSerialization.data(withJSONObject: read, options: .sortedKeys)
                == JSONSerialization.data(withJSONObject: object, options: .sortedKeys))
        #expect(text.hasPrefix(#"{"flag":true,"mixed":[1,"x",null],"mode":"prune+linear","nbits":4,"pruning":{"dim":1,"n_m_ratio":[2,4],"#))
        #expect(text.contains(#""whole":2,"#) && text.contains(#""quoted":"a \"b\" \\ c\n\u0001""#))
    }

    @Test func refusesWhatJSONCannotHold() {
        #expect(throws: MetadataJSON.UnsupportedValue.self) { try MetadataJSON.string(["x": Double.nan]) }
        #expect(throws: MetadataJSON.UnsupportedValue.self) { try MetadataJSON.string(["x": Date()]) }
    }
}
