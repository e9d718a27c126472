import Foundation
import QuantCore
import Testing
@testable import ModelFormats
@testable import Service

/// The compression core serves every format: moving Core ML and safetensors onto it changed
/// no byte of their artifacts. The digests below were recorded with the compressors as they
/// were before the core existed (commit 2262a64); each config here is one coremltools
/// accepts and both old compressors agreed on.
@Suite struct ArtifactIdentityTests {
    static let configs: [(String, String)] = [
        ("int8 per channel", #"{"config_type": "OpLinearQuantizerConfig", "global_config": {"dtype": "int8"}}"#),
        ("uint8 linear per tensor", #"{"config_type": "OpLinearQuantizerConfig", "global_config": {"dtype": "uint8", "mode": "linear", "granularity": "per_tensor"}}"#),
        ("int4 per block", #"{"config_type": "OpLinearQuantizerConfig", "global_config": {"dtype": "int4", "granularity": "per_block", "block_size": 32}}"#),
        ("kmeans 4-bit", #"{"config_type": "OpPalettizerConfig", "global_config": {"mode": "kmeans", "nbits": 4}}"#),
        ("uniform 2-bit grouped", #"{"config_type": "OpPalettizerConfig", "global_config": {"mode": "uniform", "nbits": 2, "granularity": "per_grouped_channel", "group_size": 16}}"#),
        ("kmeans 3-bit per-channel scale", #"{"config_type": "OpPalettizerConfig", "global_config": {"mode": "kmeans", "nbits": 3, "enable_per_channel_scale": true}}"#),
        ("kmeans 4-bit cluster_dim 2", #"{"config_type": "OpPalettizerConfig", "global_config": {"mode": "kmeans", "nbits": 4, "cluster_dim": 2}}"#),
        ("magnitude 50%", #"{"config_type": "OpMagnitudePrunerConfig", "global_config": {"target_sparsity": 0.5}}"#),
        ("2:4", #"{"config_type": "OpMagnitudePrunerConfig", "global_config": {"n_m_ratio": [2, 4]}}"#),
        ("prune then int8", #"[{"config_type": "OpMagnitudePrunerConfig", "global_config": {"target_sparsity": 0.5}}, {"config_type": "OpLinearQuantizerConfig", "global_config": {"dtype": "int8"}}]"#),
        ("prune then int4 per block", #"[{"config_type": "OpMagnitudePrunerConfig", "global_config": {"target_sparsity": 0.5}}, {"config_type": "OpLinearQuantizerConfig", "global_config": {"dtype": "int4", "granularity": "per_block", "block_size": 16}}]"#),
        ("prune then kmeans", #"[{"config_type": "OpMagnitudePrunerConfig", "global_config": {"target_sparsity": 0.75}}, {"config_type": "OpPalettizerConfig", "global_config": {"mode": "kmeans", "nbits": 2}}]"#),
        ("kmeans then int8 LUT", #"[{"config_type": "OpPalettizerConfig", "global_config": {"mode": "kmeans", "nbits": 6}}, {"config_type": "OpLinearQuantizerConfig", "global_config": {"dtype": "int8", "granularity": "per_tensor"}}]"#),
        ("by name and type", #"{"config_type": "OpLinearQuantizerConfig", "global_config": {"dtype": "int8"}, "op_type_configs": {"linear": {"dtype": "int4", "granularity": "per_block", "block_size": 16}}, "op_name_configs": {"w1": null, "big": {"mode": "linear", "dtype": "uint8"}}}"#),
    ]

    /// A package of three linear weights ([48, 64], [96, 64], [160, 64], float16) on the
    /// iOS18 opset, which writes every form.
    static let package = PackageFixture.linearProgram(weights: [48, 96, 160], opset: "CoreML8", specificationVersion: 9, seed: 5)

    /// Float32 and float16 tensors of every rank the formats treat differently, seeded.
    static func safetensors() throws -> [UInt8] {
        var state: UInt64 = 17
        func values(_ count: Int) -> [Float] {
            (0..<count).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int64(bitPattern: state >> 11) % 2000 - 1000) / 4096
            }
        }
        let tensors: [(String, ScalarType, [Int])] = [
            ("big", .float32, [96, 64]), ("w1", .float16, [160, 64]), ("conv", .float32, [32, 16, 3, 3]),
            ("bias", .float32, [64]), ("ids", .int32, [8, 8]),
        ]
        let data: [[UInt8]] = try tensors.map { _, type, shape in
            let count = shape.reduce(1, *)
            if type == .int32 { return (0..<count * 4).map { UInt8(truncatingIfNeeded: $0) } }
            var bytes = [UInt8](repeating: 0, count: count * type.byteWidth)
            try values(count).withUnsafeBufferPointer { v in try bytes.withUnsafeMutableBytes { try FloatConversion.encode(v, to: type, into: $0) } }
            return bytes
        }
        let writer = try SafetensorsWriter(entries: tensors.map { .init(name: $0.0, dtype: $0.1, shape: $0.2) }, metadata: ["source": "test"])
        var file: [UInt8] = []
        var next = 0
        try writer.write(to: { file += $0 }) { _, emit in
            defer { next += 1 }
            try data[next].withUnsafeBytes { try emit($0) }
        }
        return file
    }

    /// The SHA-256 of the artifact `quantd compress` writes for `input` under `config`.
    static func artifactDigest(_ input: [UInt8], suffix: String, config: String) throws -> String {
        let dir = try makeTemporaryDirectory("quantd-identity")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let inPath = dir + "/model" + suffix, outPath = dir + "/out" + suffix
        try Data(input).write(to: URL(fileURLWithPath: inPath))
        _ = try LocalCompression.run(input: inPath, output: outPath, preset: nil, configJSON: config, minimumDeploymentTarget: nil)
        let hasher = SHA256Hasher()
        try Data(contentsOf: URL(fileURLWithPath: outPath)).withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }

    static let expected: [String: (coreML: String, safetensors: String)] = [
        "int8 per channel": ("315f14b798b2f6159595019bd0659eacfd0424981559651f8bfb5710ffdfe7e7",
                            "fa0bfe3f8e15a2c1797917fc3c9641c75c4cc535126a6ed908c5401a38d71d8e"),
        "uint8 linear per tensor": ("592224cd5b487f5c39e036eedd237a2e31f6ecaa96b6af57eab9e8e026782d7f",
                                   "32610fbc2f6d6cd97b52cd27ac55ab92b443223dbc965cd523a870d78d02ca62"),
        "int4 per block": ("25dac4d3a0105a498edf534cad935aecfa7f799258f858847868095169cea06e",
                          "017ef1a936b3fdcc3cee8276c7488369ed99c5f71d76e277a9a183312b03afb5"),
        "kmeans 4-bit": ("f1a20bc3aedc2d6fa2ba5dc2fcf5aa020bd19b572178ee013af84a662e8ca473",
                        "8f2b4ffb2a2956ac9dfe8933b8bda57c2b7542886f028927f27839f0a150b72e"),
        "uniform 2-bit grouped": ("0ce9e64bdca090ca240388d848018cc3caa7465dec21c34f255f6cfc1e4771f0",
                                 "24ad2300438457824f42d8b960a0e9d5e773bd06c39e5740bf5cb15188ce63ee"),
        "kmeans 3-bit per-channel scale": ("230b250fb133e444f58dc5f3b334b9a38917944a8807d7a67d9318b3c14b7a07",
                                          "824f03a8e9ad49027fd65853daac1550074c908833f4c06f89e51fb5a189df23"),
        "kmeans 4-bit cluster_dim 2": ("95f8c48ea2819da234c85f66959af14f08f2e0983c53a23ef4b4b250c6a8fac7",
                                      "a4e4bea263245f01a2daa9b51ca0cc776fa15c6d55561b2d5ea1b5df5e213ee2"),
        "magnitude 50%": ("101204f2bdac7995d2d51f2e908ed919d0067b5b6f05fbf94818f88e903198eb",
                         "61b8b086ec068c0b5bab851679b918e95f2fb3bc4b2e97520aad1ed785fe988f"),
        "2:4": ("436c3056ed7a0fd66dda3ca5c8ba43beabb17ed04b9496043fee15bd0474f40d",
               "97ad8a0a61c0005046683aadaf057cd47dd6c016dcdb82998532d110975bb730"),
        "prune then int8": ("80e1aa52025a6b2b309c31292a6ffad4b74daa218c11109495e72b1bb52c63f1",
                           "2130126af247747587540fbba00505e94815a480bd2a9304bc2c5839b38a50c8"),
        "prune then int4 per block": ("d97fe9245141d114f9e5b7c76ee69f3d96a47edbd044eb531d4cb46d312c6c69",
                                     "d01bb4c0dd967a6cf942b920ab3650376e9b9a061dbdf7dad2675d43877b9a6b"),
        "prune then kmeans": ("3873fa31853f2c998978c1f1989b1bb80f52616268b6dae17a97df1a98b3fe0d",
                             "d7c4801956f1002dbee79d15cbc5054c089f7cf673a10631ecaf2c5aa0b76727"),
        "kmeans then int8 LUT": ("35e8c43c8aff9f3d2b57b9c839d69faabe936acc6df309bc687a6738f230f6a4",
                                "b5c9bff6aaf38d239b18b6e091ad810df106ebf6ac369adeee67ef95f098e8de"),
        "by name and type": ("1251011b1a4008248ad889467ef75fa94607f2a58eac91103df78a597ab020b9",
                            "48837a026cf085847f38b181212ed397af0494fa3d36f2a856427b29d24dfa41"),
    ]

    @Test(arguments: configs.map(\.0))
    func artifactsAreByteIdenticalToThoseBeforeTheCore(_ name: String) throws {
        let config = Self.configs.first { $0.0 == name }!.1
        let coreML = try Self.artifactDigest(Self.package, suffix: ".mlpackage.zip", config: config)
        let safetensors = try Self.artifactDigest(try Self.safetensors(), suffix: ".safetensors", config: config)
        #expect(Self.expected[name]?.coreML == coreML, "Core ML artifact of \(name) changed")
        #expect(Self.expected[name]?.safetensors == safetensors)
    }
}
