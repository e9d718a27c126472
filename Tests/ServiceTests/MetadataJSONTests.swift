import Foundation
import Testing
@testable import Service

@Suite struct MetadataJSONTests {
    /// Every kind of value, keys sorted at every level; JSONSerialization reads it back.
    @Test func readsBackAsWrittenWithSortedKeys() throws {
        let object: [String: MetadataJSON.Value] = [
            "mode": "prune+linear", "nbits": 4, "shape": .ints([64, 3, 7, 7]), "zero_point": nil, "sparsity": 0.4375,
            "whole": 2.0, "tiny": 1e-7, "flag": true,
            "pruning": .object(["n_m_ratio": .ints([2, 4]), "target_sparsity": 0.5, "dim": 1]),
            "quoted": "a \"b\" \\ c\n\u{1}", "mixed": .array([1, "x", nil]),
        ]
        let text = try MetadataJSON.string(object)
        #expect(text == #"{"flag":true,"mixed":[1,"x",null],"mode":"prune+linear","nbits":4,"#
                + #""pruning":{"dim":1,"n_m_ratio":[2,4],"target_sparsity":0.5},"quoted":"a \"b\" \\ c\n\u0001","#
                + #""shape":[64,3,7,7],"sparsity":0.4375,"tiny":1e-07,"whole":2,"zero_point":null}"#)
        let read = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(read["quoted"] as? String == "a \"b\" \\ c\n\u{1}")
        #expect((read["tiny"] as? NSNumber)?.doubleValue == 1e-7 && (read["sparsity"] as? NSNumber)?.doubleValue == 0.4375)
    }

    /// QuantCore's pruning settings come as `[String: Any]`.
    @Test func convertsSettingsDictionaries() throws {
        let value = try MetadataJSON.Value(any: ["n_m_ratio": [2, 4], "dim": 1, "target_sparsity": 0.5, "none": NSNull()] as [String: Any])
        #expect(value == .object(["n_m_ratio": .ints([2, 4]), "dim": 1, "target_sparsity": 0.5, "none": nil]))
        #expect(throws: MetadataJSON.UnsupportedValue.self) { try MetadataJSON.Value(any: Date()) }
    }

    @Test func refusesNumbersJSONCannotHold() {
        #expect(throws: MetadataJSON.UnsupportedValue.self) { try MetadataJSON.string(["x": .double(.nan)]) }
        #expect(throws: MetadataJSON.UnsupportedValue.self) { try MetadataJSON.string(["x": .double(.infinity)]) }
    }
}
