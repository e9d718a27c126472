import Foundation
import Testing
@testable import QuantCore

@Suite struct ActivationQuantizationConfigTests {
    @Test func aCoremltoolsConfigParsesWithItsWeightKeysIgnored() throws {
        let config = try ActivationQuantizationConfig(dictionary: [
            "config_type": "OpLinearQuantizerConfig",
            "global_config": ["mode": "linear", "dtype": "uint8", "granularity": "per_channel", "weight_threshold": 2048],
            "op_type_configs": ["add": NSNull()],
            "op_name_configs": ["conv_1": ["mode": "linear_symmetric", "dtype": "int8"]],
        ] as [String: Any])
        #expect(config.global == .init(dtype: .uint8, mode: .linear))
        #expect(config.config(opName: "x", opType: "add") == nil)
        #expect(config.config(opName: "conv_1", opType: "conv") == .init(dtype: .int8, mode: .linearSymmetric))
        #expect(config.config(opName: "conv_2", opType: "conv") == .init(dtype: .uint8, mode: .linear))
    }

    @Test func defaultsAreCoremltoolsInt8Symmetric() throws {
        let config = try ActivationQuantizationConfig(dictionary: ["global_config": [String: Any]()] as [String: Any])
        #expect(config.global == .init(dtype: .int8, mode: .linearSymmetric))
        let again = try ActivationQuantizationConfig(dictionary: config.dictionary)
        #expect(again == config)
    }

    /// Each case as JSON (arguments must be Sendable) and the field its error must name.
    @Test(arguments: [
        (#"{"global_config": {"dtype": "int4"}}"#, "activation_config.global_config.dtype"),
        (#"{"global_config": {"mode": "log"}}"#, "activation_config.global_config.mode"),
        (#"{"config_type": "OpPalettizerConfig", "global_config": {"nbits": 4}}"#, "activation_config.config_type"),
        (#"{"global_config": null}"#, "activation_config.global_config"),
        (#"{"global": {"dtype": "int8"}}"#, "activation_config.global"),
        (#"{"op_type_configs": {"conv": {"dtype": "uint4"}}}"#, "activation_config.op_type_configs.conv.dtype"),
    ])
    func unusableConfigsNameTheirField(json: String, field: String) throws {
        let value = try JSONSerialization.jsonObject(with: Data(json.utf8))
        #expect(throws: OptimizationConfig.Invalid.self) { try ActivationQuantizationConfig(dictionary: value) }
        do { _ = try ActivationQuantizationConfig(dictionary: value) } catch { #expect(error.field == field) }
    }
}
