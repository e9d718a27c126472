import Foundation
import Testing
@testable import QuantCore

@Suite struct CompressionPipelineTests {
    static func parse(_ json: String) throws(OptimizationConfig.Invalid) -> CompressionPipeline {
        try CompressionPipeline(value: try! JSONSerialization.jsonObject(with: Data(json.utf8)))
    }

    @Test func aDictionaryIsOneStage() throws {
        let p = try Self.parse(#"{"global_config": {"dtype": "int4", "granularity": "per_block", "block_size": 32}}"#)
        #expect(p.stages.count == 1)
        #expect(p.ops(opName: "w", opType: "linear").count == 1)
        #expect(try CompressionPipeline(value: p.value) == p)
    }

    @Test func aListIsStagesWithFieldsIndexed() {
        do {
            _ = try Self.parse(#"[{"global_config": {}}, {"global_config": {"dtype": "int3"}}]"#)
            Issue.record("expected an error")
        } catch {
            #expect(error.field == "config[1].global_config.dtype")
        }
    }

    @Test func moreThanTwoStagesOrAnEmptyListAreRefused() {
        for json in [#"[]"#, #"[{"global_config": {}}, {"global_config": {}}, {"global_config": {}}]"#] {
            #expect(throws: OptimizationConfig.Invalid.self) { try Self.parse(json) }
        }
    }

    @Test func twoQuantizationsInARowAreNotAJointCompression() {
        do {
            _ = try Self.parse(#"[{"global_config": {}}, {"global_config": {"dtype": "uint8"}}]"#)
            Issue.record("expected an error")
        } catch {
            #expect(error.field == "config[1].config_type")
        }
    }

    @Test func stagesThatSkipAWeightAreLeftOut() throws {
        let p = try Self.parse(#"{"global_config": {}, "op_name_configs": {"head": null}}"#)
        #expect(p.ops(opName: "head", opType: "linear").isEmpty)
        #expect(p.ops(opName: "body", opType: "linear").count == 1)
    }
}
