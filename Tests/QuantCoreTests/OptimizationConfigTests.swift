import Foundation
import Testing
@testable import QuantCore

@Suite struct OptimizationConfigTests {
    static func parse(_ json: String) throws(OptimizationConfig.Invalid) -> OptimizationConfig {
        let object = try! JSONSerialization.jsonObject(with: Data(json.utf8))
        return try OptimizationConfig(dictionary: object)
    }

    @Test func priorityIsNameThenTypeThenGlobal() throws {
        let c = try Self.parse("""
            {"config_type": "OpLinearQuantizerConfig",
             "global_config": {"dtype": "int8"},
             "op_type_configs": {"conv": {"dtype": "uint8"}, "linear": null},
             "op_name_configs": {"head": null, "special": {"granularity": "per_tensor"}}}
            """)
        func dtype(_ name: String, _ type: String?) -> LinearQuantizationConfig.DType? {
            guard case .linearQuantization(let l)? = c.config(opName: name, opType: type) else { return nil }
            return l.dtype
        }
        #expect(dtype("a", "conv") == .uint8)
        #expect(dtype("a", nil) == .int8)
        #expect(c.config(opName: "a", opType: "linear") == nil)
        #expect(c.config(opName: "head", opType: "conv") == nil)
        guard case .linearQuantization(let s)? = c.config(opName: "special", opType: "linear") else {
            Issue.record("op name config must win over a null op type config")
            return
        }
        #expect(s.granularity == .perTensor)
    }

    @Test func missingKeysTakeCoremltoolsDefaults() throws {
        let c = try Self.parse(#"{"global_config": {}}"#)
        #expect(c.global == .linearQuantization(LinearQuantizationConfig()))
        guard case .linearQuantization(let l)? = c.global else { return }
        #expect(l.mode == .linearSymmetric && l.dtype == .int8 && l.granularity == .perChannel && l.weightThreshold == 2048)
    }

    @Test func blockSizeTakesAnIntOrAList() throws {
        let a = try Self.parse(#"{"global_config": {"granularity": "per_block", "block_size": 16}}"#)
        let b = try Self.parse(#"{"global_config": {"granularity": "per_block", "block_size": [1, 8]}}"#)
        guard case .linearQuantization(let la)? = a.global, case .linearQuantization(let lb)? = b.global else {
            Issue.record("expected linear configs")
            return
        }
        #expect(la.blockSize == .alongInputAxis(16))
        #expect(lb.blockSize == .perAxis([1, 8]))
    }

    @Test(arguments: [
        (#"[]"#, "config"),
        (#"{}"#, "config"),
        (#"{"global_config": {}, "extra": 1}"#, "config.extra"),
        (#"{"config_type": "OpPalettizerConfigX", "global_config": {}}"#, "config.config_type"),
        (#"{"global_config": {"dtype": "int3"}}"#, "config.global_config.dtype"),
        (#"{"global_config": {"mode": "cubic"}}"#, "config.global_config.mode"),
        (#"{"global_config": {"granularity": "per_row"}}"#, "config.global_config.granularity"),
        (#"{"global_config": {"weight_threshold": -1}}"#, "config.global_config.weight_threshold"),
        (#"{"global_config": {"weight_threshold": 1.5}}"#, "config.global_config.weight_threshold"),
        (#"{"global_config": {"block_size": "big"}}"#, "config.global_config.block_size"),
        (#"{"global_config": {"granularity": "per_block", "block_size": 0}}"#, "config.global_config.block_size"),
        (#"{"global_config": {"nbits": 4}}"#, "config.global_config.nbits"),
        (#"{"op_name_configs": {"w": {"dtype": 8}}}"#, "config.op_name_configs.w.dtype"),
        (#"{"op_type_configs": []}"#, "config.op_type_configs"),
        (#"{"global_config": null}"#, "config.global_config"),
    ])
    func invalidConfigsNameTheField(json: String, field: String) {
        do {
            _ = try Self.parse(json)
            Issue.record("\(json) should be rejected")
        } catch {
            #expect(error.field == field)
            #expect(!error.message.isEmpty)
        }
    }

    @Test func dictionaryRoundTrips() throws {
        let c = try Self.parse("""
            {"global_config": {"mode": "linear", "dtype": "uint8", "granularity": "per_block", "block_size": 32},
             "op_name_configs": {"skip": null}}
            """)
        let again = try OptimizationConfig(dictionary: c.dictionary)
        #expect(again == c)
    }
}

extension OptimizationConfigTests {
    @Test func booleansAreNotIntegers() {
        #expect(throws: OptimizationConfig.Invalid.self) {
            try Self.parse(#"{"global_config": {"weight_threshold": true}}"#)
        }
    }
}
